//! JSON endpoints of seed 5.3 ①–⑥ (plus `GET /api/v1/user/me` and the code request of the
//! two-step email change). Thin: extract, call the service, answer in the envelope.

use actix_web::web::{self, Data, Json};
use serde::{Deserialize, Serialize};

use super::model::{SessionView, UserView};
use super::service::{self, LoggedIn, Registered, Registration};
use crate::app::AppState;
use crate::error::{AppResult, Reply};
use crate::i18n::Lang;
use crate::web::auth::{bearer, ApiUser, ClientOrigin};

/// Plain routes, not a `/api/v1` scope: an actix scope would swallow other areas' paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/auth/register", web::post().to(register))
        .route("/api/v1/auth/login", web::post().to(login))
        .route(
            "/api/v1/auth/forgot-password",
            web::post().to(forgot_password),
        )
        .route(
            "/api/v1/auth/reset-password",
            web::post().to(reset_password),
        )
        .route("/api/v1/auth/logout", web::post().to(logout))
        .route("/api/v1/user/me", web::get().to(me))
        .route("/api/v1/user/sessions", web::get().to(sessions))
        .route(
            "/api/v1/user/sessions/revoke-all",
            web::post().to(revoke_all_sessions),
        )
        .route(
            "/api/v1/user/reset-password",
            web::post().to(change_password),
        )
        .route("/api/v1/user/reset-email/code", web::post().to(email_code))
        .route("/api/v1/user/reset-email", web::post().to(change_email));
}

// Missing fields arrive as empty strings, so the service answers them with the field's own
// message instead of a generic parse error.
#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailRequest {
    email: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetRequest {
    email: String,
    verification_code: String,
    new_password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChangePasswordRequest {
    old_password: String,
    new_password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewEmailRequest {
    new_email: String,
    verification_code: String,
}

#[derive(Serialize)]
pub struct EmailView {
    email: String,
}

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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RegisterRequest {
    username: String,
    email: String,
    password: String,
}

async fn login(
    state: Data<AppState>,
    origin: ClientOrigin,
    body: Json<LoginRequest>,
) -> AppResult<Reply<LoggedIn>> {
    let session = service::login(&state, &body.username, &body.password, &origin.0).await?;
    Ok(Reply::ok("msg.logged_in", session))
}

async fn forgot_password(
    state: Data<AppState>,
    lang: Lang,
    body: Json<EmailRequest>,
) -> AppResult<Reply<()>> {
    service::forgot_password(&state, &body.email, lang).await?;
    Ok(Reply::message("msg.code_sent"))
}

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

async fn logout(
    req: actix_web::HttpRequest,
    state: Data<AppState>,
    _: ApiUser,
) -> AppResult<Reply<()>> {
    service::logout(&state, &bearer(&req).unwrap_or_default()).await?;
    Ok(Reply::message("msg.logged_out"))
}

#[derive(Serialize)]
pub struct Sessions {
    sessions: Vec<SessionView>,
}

async fn sessions(
    req: actix_web::HttpRequest,
    state: Data<AppState>,
    user: ApiUser,
) -> AppResult<Reply<Sessions>> {
    let current = service::session_of(&state, bearer(&req).as_deref());
    let sessions = service::sessions(&state, &user.0, current).await?;
    Ok(Reply::ok("msg.ok", Sessions { sessions }))
}

async fn revoke_all_sessions(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
) -> AppResult<Reply<()>> {
    service::revoke_all_sessions(&state, &user.0, &origin.0).await?;
    Ok(Reply::message("msg.signed_out_everywhere"))
}

async fn me(user: ApiUser) -> AppResult<Reply<UserView>> {
    Ok(Reply::ok("msg.ok", service::profile(&user.0)))
}

/// Answers with a fresh token: the one used for this call is revoked with all the others.
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

async fn email_code(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewEmailRequest>,
) -> AppResult<Reply<()>> {
    service::request_email_change(&state, &user.0, &body.new_email, lang).await?;
    Ok(Reply::message("msg.code_sent"))
}

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
