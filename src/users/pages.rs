//! The account pages of seed 5.1 ①②③⑥. Forms post with htmx; a failed post re-renders only
//! its form with the message beside the field.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Data, Form, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::service;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::i18n::{self, Lang, LANG_COOKIE};
use crate::web::auth::{
    clear_session_cookie, session, session_cookie, ClientOrigin, MaybeUser, PageUser,
};
use crate::web::render::{base_context, form_error, render, safe_next};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login_submit))
        .route("/register", web::get().to(register_page))
        .route("/register", web::post().to(register_submit))
        .route("/forgot-password", web::get().to(forgot_page))
        .route("/forgot-password/code", web::post().to(forgot_code))
        .route("/forgot-password", web::post().to(forgot_submit))
        .route("/profile", web::get().to(profile_page))
        .route("/profile/password", web::post().to(password_submit))
        .route("/profile/email/code", web::post().to(email_code))
        .route("/profile/email", web::post().to(email_submit))
        .route(
            "/profile/sessions/revoke-all",
            web::post().to(sessions_revoke_all),
        )
        .route(
            "/profile/sessions/{id}/revoke",
            web::post().to(session_revoke),
        )
        .route("/logout", web::post().to(logout))
        .route("/lang/{lang}", web::get().to(switch_language));
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// htmx follows `HX-Redirect` with a full page load.
fn hx_redirect(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header(("HX-Redirect", to.to_string()));
    res
}

fn mismatch(field: &'static str) -> AppError {
    AppError::invalid(field, "err.password_mismatch")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: Option<String>,
    registered: Option<String>,
    reset: Option<String>,
}

async fn login_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    q: Query<LoginQuery>,
    lang: Lang,
) -> AppResult<HttpResponse> {
    if user.0.is_some() {
        return Ok(redirect(&safe_next(q.next.as_deref())));
    }
    let mut ctx = base_context(&req, None);
    ctx.insert("next", &q.next);
    // A ban bounced this browser here: say so, with the admin's reason.
    if let Some(token) = session(&req) {
        if let Some(reason) = service::ban_notice(&state, &token).await? {
            let reason = (!reason.is_empty()).then_some(reason);
            ctx.insert("banned", &AppError::Banned { reason }.message(lang));
        }
    }
    if q.registered.is_some() {
        ctx.insert("notice", &i18n::text(lang, "msg.registered_login"));
    } else if q.reset.is_some() {
        ctx.insert("notice", &i18n::text(lang, "msg.password_reset"));
    }
    render(&state.templates, "users/login.html", &ctx, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login_submit(
    req: HttpRequest,
    state: Data<AppState>,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<LoginForm>,
) -> AppResult<HttpResponse> {
    match service::login(&state, &form.username, &form.password, &origin.0).await {
        Ok(session) => Ok(hx_redirect(&safe_next(form.next.as_deref()))
            .cookie(session_cookie(&state, session.token))
            .finish()),
        Err(err) => {
            let mut ctx = base_context(&req, None);
            ctx.insert("form", &json!({ "username": form.username }));
            ctx.insert("next", &form.next);
            form_error(&state.templates, "users/_login_form.html", ctx, lang, err)
        }
    }
}

async fn register_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
) -> AppResult<HttpResponse> {
    if user.0.is_some() {
        return Ok(redirect("/"));
    }
    render(
        &state.templates,
        "users/register.html",
        &base_context(&req, None),
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RegisterForm {
    username: String,
    email: String,
    password: String,
    password_confirm: String,
}

async fn register_submit(
    req: HttpRequest,
    state: Data<AppState>,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<RegisterForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let result = if form.password != form.password_confirm {
        Err(mismatch("password_confirm"))
    } else {
        let input = service::Registration {
            username: form.username.clone(),
            email: form.email.clone(),
            password: form.password.clone(),
        };
        service::register(&state, input, &origin.0).await.map(drop)
    };
    match result {
        Ok(()) => Ok(hx_redirect("/login?registered=1").finish()),
        Err(err) => {
            let mut ctx = base_context(&req, None);
            ctx.insert(
                "form",
                &json!({ "username": form.username, "email": form.email }),
            );
            form_error(
                &state.templates,
                "users/_register_form.html",
                ctx,
                lang,
                err,
            )
        }
    }
}

async fn forgot_page(req: HttpRequest, state: Data<AppState>) -> AppResult<HttpResponse> {
    render(
        &state.templates,
        "users/forgot_password.html",
        &base_context(&req, None),
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
    verification_code: String,
    new_password: String,
    new_password_confirm: String,
}

fn forgot_context(req: &HttpRequest, form: &ForgotForm) -> tera::Context {
    let mut ctx = base_context(req, None);
    ctx.insert(
        "form",
        &json!({ "email": form.email, "verification_code": form.verification_code }),
    );
    ctx
}

async fn forgot_code(
    req: HttpRequest,
    state: Data<AppState>,
    lang: Lang,
    form: Form<ForgotForm>,
) -> AppResult<HttpResponse> {
    let mut ctx = forgot_context(&req, &form);
    match service::forgot_password(&state, &form.email, lang).await {
        Ok(()) => {
            ctx.insert("code_sent", &true);
            ctx.insert("notice", &i18n::text(lang, "msg.code_sent"));
            render(
                &state.templates,
                "users/_forgot_form.html",
                &ctx,
                StatusCode::OK,
            )
        }
        Err(err) => form_error(&state.templates, "users/_forgot_form.html", ctx, lang, err),
    }
}

async fn forgot_submit(
    req: HttpRequest,
    state: Data<AppState>,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<ForgotForm>,
) -> AppResult<HttpResponse> {
    let result = if form.new_password != form.new_password_confirm {
        Err(mismatch("new_password_confirm"))
    } else {
        service::reset_password(
            &state,
            &form.email,
            &form.verification_code,
            &form.new_password,
            &origin.0,
        )
        .await
    };
    match result {
        Ok(()) => Ok(hx_redirect("/login?reset=1").finish()),
        Err(err) => {
            let mut ctx = forgot_context(&req, &form);
            ctx.insert("code_sent", &true);
            form_error(&state.templates, "users/_forgot_form.html", ctx, lang, err)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileQuery {
    tab: Option<String>,
}

fn profile_context(req: &HttpRequest, user: &super::model::User, tab: &str) -> tera::Context {
    let mut ctx = base_context(req, Some(user));
    ctx.insert("nav", "profile");
    ctx.insert("tab", tab);
    ctx
}

async fn profile_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<ProfileQuery>,
) -> AppResult<HttpResponse> {
    let tab = match q.tab.as_deref() {
        Some("email") => "email",
        Some("password") => "password",
        Some("sessions") => "sessions",
        _ => "info",
    };
    let mut ctx = profile_context(&req, &user.0, tab);
    if tab == "sessions" {
        let current = service::session_of(&state, session(&req).as_deref());
        ctx.insert(
            "sessions",
            &service::sessions(&state, &user.0, current).await?,
        );
    }
    render(&state.templates, "users/profile.html", &ctx, StatusCode::OK)
}

/// Signs one session out; the row leaves the list (htmx swaps it for nothing).
async fn session_revoke(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    service::revoke_session(&state, &user.0, &id).await?;
    let current = service::session_of(&state, session(&req).as_deref());
    if current.as_deref() == Some(id.as_str()) {
        return Ok(hx_redirect("/login")
            .cookie(clear_session_cookie())
            .finish());
    }
    Ok(HttpResponse::Ok().finish())
}

async fn sessions_revoke_all(
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
) -> AppResult<HttpResponse> {
    service::revoke_all_sessions(&state, &user.0, &origin.0).await?;
    Ok(hx_redirect("/login")
        .cookie(clear_session_cookie())
        .finish())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    old_password: String,
    new_password: String,
    new_password_confirm: String,
}

async fn password_submit(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<PasswordForm>,
) -> AppResult<HttpResponse> {
    const PARTIAL: &str = "users/_profile_password_form.html";
    let mut ctx = profile_context(&req, &user.0, "password");
    if form.new_password != form.new_password_confirm {
        return form_error(
            &state.templates,
            PARTIAL,
            ctx,
            lang,
            mismatch("new_password_confirm"),
        );
    }
    match service::change_password(
        &state,
        &user.0,
        &form.old_password,
        &form.new_password,
        &origin.0,
    )
    .await
    {
        Ok(session) => {
            ctx.insert("notice", &i18n::text(lang, "msg.password_changed"));
            let mut res = render(&state.templates, PARTIAL, &ctx, StatusCode::OK)?;
            // The old session token was revoked with the others; this browser gets the new one.
            res.add_cookie(&session_cookie(&state, session.token))
                .map_err(|e| AppError::internal(e, "cookie"))?;
            Ok(res)
        }
        Err(err) => form_error(&state.templates, PARTIAL, ctx, lang, err),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailForm {
    new_email: String,
    verification_code: String,
}

const EMAIL_PARTIAL: &str = "users/_profile_email_form.html";

async fn email_code(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    form: Form<EmailForm>,
) -> AppResult<HttpResponse> {
    let mut ctx = profile_context(&req, &user.0, "email");
    ctx.insert("form", &json!({ "new_email": form.new_email }));
    match service::request_email_change(&state, &user.0, &form.new_email, lang).await {
        Ok(()) => {
            ctx.insert("code_sent", &true);
            ctx.insert("notice", &i18n::text(lang, "msg.code_sent"));
            render(&state.templates, EMAIL_PARTIAL, &ctx, StatusCode::OK)
        }
        Err(err) => form_error(&state.templates, EMAIL_PARTIAL, ctx, lang, err),
    }
}

async fn email_submit(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<EmailForm>,
) -> AppResult<HttpResponse> {
    match service::change_email(
        &state,
        &user.0,
        &form.new_email,
        &form.verification_code,
        &origin.0,
    )
    .await
    {
        Ok(email) => {
            let mut changed = user.0.clone();
            changed.email = email;
            let mut ctx = profile_context(&req, &changed, "email");
            ctx.insert("notice", &i18n::text(lang, "msg.email_changed"));
            render(&state.templates, EMAIL_PARTIAL, &ctx, StatusCode::OK)
        }
        Err(err) => {
            let mut ctx = profile_context(&req, &user.0, "email");
            ctx.insert("form", &json!({ "new_email": form.new_email }));
            ctx.insert("code_sent", &true);
            form_error(&state.templates, EMAIL_PARTIAL, ctx, lang, err)
        }
    }
}

/// Ends this browser's session on the server too, not only its cookie.
async fn logout(req: HttpRequest, state: Data<AppState>) -> AppResult<HttpResponse> {
    if let Some(token) = session(&req) {
        service::logout(&state, &token).await?;
    }
    Ok(hx_redirect("/login")
        .cookie(clear_session_cookie())
        .finish())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: Option<String>,
}

async fn switch_language(path: web::Path<String>, q: Query<NextQuery>) -> AppResult<HttpResponse> {
    let lang = Lang::parse(&path).ok_or_else(AppError::not_found)?;
    let cookie = Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish();
    let mut res = redirect(&safe_next(q.next.as_deref()));
    res.add_cookie(&cookie)
        .map_err(|e| AppError::internal(e, "cookie"))?;
    Ok(res)
}
