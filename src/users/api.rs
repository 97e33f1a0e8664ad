//! JSON endpoints of seed 5.3 ①–⑥ (plus `GET /api/v1/user/me`, sessions, and the code request
//! of the two-step email change). Thin: extract, call the service, answer in the envelope.

use actix_web::web::{self, Data};
use serde::{Deserialize, Serialize};
use utoipa::openapi::Object;
use utoipa::{OpenApi, ToSchema};

use super::model::{SessionView, UserView};
use super::service::{self, LoggedIn, Registered, Registration};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, NoData, Reply};
use crate::i18n::Lang;
use crate::json::Json;
use crate::web::auth::{bearer, ApiUser, ClientOrigin};
use crate::web::openapi::{route, text, text_matching, JsonBodyErrors, SignedInErrors};

#[derive(OpenApi)]
#[openapi(paths(
    register,
    login,
    forgot_password,
    reset_password,
    logout,
    me,
    sessions,
    revoke_all_sessions,
    change_password,
    email_code,
    change_email
))]
pub struct Doc;

/// Plain routes, not a `/api/v1` scope: an actix scope would swallow other areas' paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_register, register);
    route(cfg, __path_login, login);
    route(cfg, __path_forgot_password, forgot_password);
    route(cfg, __path_reset_password, reset_password);
    route(cfg, __path_logout, logout);
    route(cfg, __path_me, me);
    route(cfg, __path_sessions, sessions);
    route(cfg, __path_revoke_all_sessions, revoke_all_sessions);
    route(cfg, __path_change_password, change_password);
    route(cfg, __path_email_code, email_code);
    route(cfg, __path_change_email, change_email);
}

// The limits below are the services' own constants (`users::service`).
fn username() -> Object {
    text_matching(
        service::USERNAME_MIN,
        service::USERNAME_MAX,
        service::USERNAME_PATTERN,
    )
}

/// A login names an account by what it was registered with, so any non-blank name up to the limit.
fn login_name() -> Object {
    text_matching(1, service::USERNAME_MAX, r"\S")
}

fn email() -> Object {
    utoipa::openapi::ObjectBuilder::from(text(3, service::EMAIL_MAX))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Email,
        )))
        .build()
}

fn new_password() -> Object {
    text_matching(
        service::PASSWORD_MIN,
        service::PASSWORD_MAX,
        service::PASSWORD_PATTERN,
    )
}

fn any_password() -> Object {
    text(1, service::PASSWORD_ANY_MAX)
}

fn code() -> Object {
    text_matching(service::CODE_LEN, service::CODE_LEN, service::CODE_PATTERN)
}

// Missing fields arrive as empty strings, so the service answers them with the field's own
// message instead of a generic parse error.
#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct LoginRequest {
    #[schema(schema_with = login_name, required = true)]
    username: String,
    #[schema(schema_with = any_password, required = true)]
    password: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct EmailRequest {
    #[schema(schema_with = email, required = true)]
    email: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct ResetRequest {
    #[schema(schema_with = email, required = true)]
    email: String,
    /// The 6 digits mailed by `/auth/forgot-password`.
    #[schema(schema_with = code, required = true)]
    verification_code: String,
    #[schema(schema_with = new_password, required = true)]
    new_password: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct ChangePasswordRequest {
    #[schema(schema_with = any_password, required = true)]
    old_password: String,
    #[schema(schema_with = new_password, required = true)]
    new_password: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct NewEmailCodeRequest {
    #[schema(schema_with = email, required = true)]
    new_email: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct NewEmailRequest {
    #[schema(schema_with = email, required = true)]
    new_email: String,
    /// The 6 digits mailed to the new address by `/user/reset-email/code`.
    #[schema(schema_with = code, required = true)]
    verification_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailView {
    email: String,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct RegisterRequest {
    #[schema(schema_with = username, required = true)]
    username: String,
    /// Unique; used to reset a forgotten password.
    #[schema(schema_with = email, required = true)]
    email: String,
    /// Letters and digits.
    #[schema(schema_with = new_password, required = true)]
    password: String,
}

/// Seed 5.3 ①.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth", operation_id = "register",
    summary = "Register (seed 5.3 ①)",
    description = "The username is unique without regard to case or Unicode form; the email is unique.",
    request_body(content = RegisterRequest, example = json!({"username": "test_user", "email": "test@example.com", "password": "User@1234"})),
    responses(
        (status = 201, description = "code 201: registered", body = Envelope<Registered>,
            example = json!({"code": 201, "message": "注册成功", "data": {"username": "test_user", "email": "test@example.com", "created_at": "2025-10-30T14:10:00Z"}})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        (status = 409, description = "code 401: username taken; code 402: email taken", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 429, description = "code 429: too many registrations from this address, or the server is busy hashing; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn register(
    state: Data<AppState>,
    origin: ClientOrigin,
    body: Json<RegisterRequest>,
) -> AppResult<Reply<Registered>> {
    let b = body.into_inner();
    let input = Registration {
        username: b.username,
        email: b.email,
        password: b.password,
    };
    let user = service::register(&state, input, &origin.0).await?;
    Ok(Reply::created("msg.registered", user))
}

#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", operation_id = "login",
    summary = "Log in (seed 5.3 ②)",
    description = "Returns a token for `Authorization: Bearer`. Attempts are limited per client address, failures per account.",
    request_body(content = LoginRequest, example = json!({"username": "test_user", "password": "User@1234"})),
    responses(
        (status = 200, description = "code 200: logged in", body = Envelope<LoggedIn>, links(
            ("me" = (operation_id = "me", description = "The account the token belongs to")),
        ),
            example = json!({"code": 200, "message": "登录成功", "data": {"username": "test_user", "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...", "token_expire_at": "2025-11-30T14:30:00Z"}})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 401, description = "code 401: wrong username or password", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: too many attempts; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn login(
    state: Data<AppState>,
    origin: ClientOrigin,
    body: Json<LoginRequest>,
) -> AppResult<Reply<LoggedIn>> {
    let session = service::login(&state, &body.username, &body.password, &origin.0).await?;
    Ok(Reply::ok("msg.logged_in", session))
}

#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password", tag = "auth", operation_id = "forgot_password",
    summary = "Mail a password reset code (seed 5.3 ③)",
    description = "Sends a 6-digit code, valid for 10 minutes, single use, void after 5 wrong tries; at most one mail per address per 60 s.",
    request_body(content = EmailRequest, example = json!({"email": "test@example.com"})),
    responses(
        (status = 200, description = "code 200: mail sent", body = Envelope<NoData>,
            example = json!({"code": 200, "message": "邮件已发送"})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 404, description = "code 401: email not registered", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: a code was sent less than a minute ago; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn forgot_password(
    state: Data<AppState>,
    lang: Lang,
    body: Json<EmailRequest>,
) -> AppResult<Reply<()>> {
    service::forgot_password(&state, &body.email, lang).await?;
    Ok(Reply::message("msg.code_sent"))
}

#[utoipa::path(
    post, path = "/api/v1/auth/reset-password", tag = "auth", operation_id = "reset_password",
    summary = "Reset the password with the mailed code (seed 5.3 ④)",
    description = "Every token issued before stops working.",
    request_body(content = ResetRequest, example = json!({"email": "test@example.com", "verification_code": "123456", "new_password": "User@5678"})),
    responses(
        (status = 200, description = "code 200: password reset", body = Envelope<NoData>,
            example = json!({"code": 200, "message": "成功重置密码"})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 401: code wrong or expired", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: too many tries; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn reset_password(
    state: Data<AppState>,
    origin: ClientOrigin,
    body: Json<ResetRequest>,
) -> AppResult<Reply<()>> {
    service::reset_password(
        &state,
        &body.email,
        &body.verification_code,
        &body.new_password,
        &origin.0,
    )
    .await?;
    Ok(Reply::message("msg.password_reset"))
}

#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    summary = "Log out: the token of this call stops working",
    description = "Ends only this session; `/user/sessions/revoke-all` ends every one.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200: logged out", body = Envelope<NoData>),
        SignedInErrors,
    )
)]
async fn logout(
    req: actix_web::HttpRequest,
    state: Data<AppState>,
    _: ApiUser,
) -> AppResult<Reply<()>> {
    service::logout(&state, &bearer(&req).unwrap_or_default()).await?;
    Ok(Reply::message("msg.logged_out"))
}

#[derive(Serialize, ToSchema)]
pub struct Sessions {
    sessions: Vec<SessionView>,
}

#[utoipa::path(
    get, path = "/api/v1/user/sessions", tag = "user", operation_id = "sessions",
    summary = "Where the account is signed in",
    description = "Live sessions, most recently used first; `current` marks the one making the call.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Sessions>),
        SignedInErrors,
    )
)]
async fn sessions(
    req: actix_web::HttpRequest,
    state: Data<AppState>,
    user: ApiUser,
) -> AppResult<Reply<Sessions>> {
    let current = service::session_of(&state, bearer(&req).as_deref());
    let sessions = service::sessions(&state, &user.0, current).await?;
    Ok(Reply::ok("msg.ok", Sessions { sessions }))
}

#[utoipa::path(
    post, path = "/api/v1/user/sessions/revoke-all", tag = "user", operation_id = "revoke_all_sessions",
    summary = "Sign out everywhere",
    description = "Every token of the account stops working, this one included.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<NoData>),
        SignedInErrors,
    )
)]
async fn revoke_all_sessions(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
) -> AppResult<Reply<()>> {
    service::revoke_all_sessions(&state, &user.0, &origin.0).await?;
    Ok(Reply::message("msg.signed_out_everywhere"))
}

#[utoipa::path(
    get, path = "/api/v1/user/me", tag = "user", operation_id = "me",
    summary = "The signed-in account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<UserView>),
        SignedInErrors,
    )
)]
async fn me(user: ApiUser) -> AppResult<Reply<UserView>> {
    Ok(Reply::ok("msg.ok", service::profile(&user.0)))
}

/// Answers with a fresh token: the one used for this call is revoked with all the others.
#[utoipa::path(
    post, path = "/api/v1/user/reset-password", tag = "user", operation_id = "change_password",
    summary = "Change the password (seed 5.3 ⑤)",
    description = "Needs the old password. Revokes every token of the account, the one used included; the answer carries a fresh token.",
    security(("bearer" = [])),
    request_body(content = ChangePasswordRequest, example = json!({"old_password": "User@1234", "new_password": "User@5678"})),
    responses(
        (status = 200, description = "code 200: password changed", body = Envelope<LoggedIn>,
            example = json!({"code": 200, "message": "成功修改密码", "data": {"username": "test_user", "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...", "token_expire_at": "2025-11-30T14:30:00Z"}})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 422, description = "code 401: old password wrong", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: too many wrong passwords; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn change_password(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    body: Json<ChangePasswordRequest>,
) -> AppResult<Reply<LoggedIn>> {
    let session = service::change_password(
        &state,
        &user.0,
        &body.old_password,
        &body.new_password,
        &origin.0,
    )
    .await?;
    Ok(Reply::ok("msg.password_changed", session))
}

#[utoipa::path(
    post, path = "/api/v1/user/reset-email/code", tag = "user", operation_id = "email_code",
    summary = "Mail a code to the new address (step 1 of seed 5.3 ⑥)",
    description = "Seed 6.1: changing the email needs a code sent to the new address.",
    security(("bearer" = [])),
    request_body(content = NewEmailCodeRequest, example = json!({"new_email": "newtest@example.com"})),
    responses(
        (status = 200, description = "code 200: mail sent", body = Envelope<NoData>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 409, description = "code 401: email taken", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: a code was sent less than a minute ago; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn email_code(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewEmailCodeRequest>,
) -> AppResult<Reply<()>> {
    service::request_email_change(&state, &user.0, &body.new_email, lang).await?;
    Ok(Reply::message("msg.code_sent"))
}

#[utoipa::path(
    post, path = "/api/v1/user/reset-email", tag = "user", operation_id = "change_email",
    summary = "Change the email (seed 5.3 ⑥)",
    description = "With the code mailed by `/user/reset-email/code`.",
    security(("bearer" = [])),
    request_body(content = NewEmailRequest, example = json!({"new_email": "newtest@example.com", "verification_code": "123456"})),
    responses(
        (status = 200, description = "code 200: email changed", body = Envelope<EmailView>,
            example = json!({"code": 200, "message": "成功修改邮箱", "data": {"email": "newtest@example.com"}})),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 409, description = "code 401: email taken", body = Envelope<ErrorData>),
        (status = 422, description = "code 403: code wrong or expired", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: too many tries; see Retry-After", body = Envelope<ErrorData>),
    )
)]
async fn change_email(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    body: Json<NewEmailRequest>,
) -> AppResult<Reply<EmailView>> {
    let email = service::change_email(
        &state,
        &user.0,
        &body.new_email,
        &body.verification_code,
        &origin.0,
    )
    .await?;
    Ok(Reply::ok("msg.email_changed", EmailView { email }))
}
