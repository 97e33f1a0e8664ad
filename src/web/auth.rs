//! Who is asking: the API takes `Authorization: Bearer <JWT>`, pages the same JWT from an
//! HttpOnly cookie. Both end in `users::service::authenticate`.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::users::model::User;
use crate::users::service::{self, Origin};

pub const SESSION_COOKIE: &str = "pd_session";

fn state_of(req: &HttpRequest) -> AppResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing"), "app"))
}

/// The API's token, from `Authorization: Bearer`.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The page session's token, from its cookie.
pub fn session(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

fn authenticate_with(req: &HttpRequest, token: Option<String>) -> Fut<User> {
    let state = state_of(req);
    Box::pin(async move {
        let state = state?;
        let token = token.ok_or_else(AppError::unauthorized)?;
        service::authenticate(&state, &token).await
    })
}

/// The signed-in caller of a JSON endpoint.
pub struct ApiUser(pub User);

impl FromRequest for ApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate_with(req, bearer(req));
        Box::pin(async move { fut.await.map(ApiUser) })
    }
}

/// The caller of a JSON endpoint anyone may call (the public gallery): None without a
/// token; a token that does not authenticate is refused as on any other endpoint.
pub struct MaybeApiUser(pub Option<User>);

impl FromRequest for MaybeApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let has_token = token.is_some();
        let fut = authenticate_with(req, token);
        Box::pin(async move {
            if !has_token {
                return Ok(MaybeApiUser(None));
            }
            fut.await.map(|user| MaybeApiUser(Some(user)))
        })
    }
}

/// The signed-in person on a page; anonymous visitors are sent to the login page.
pub struct PageUser(pub User);

impl FromRequest for PageUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate_with(req, session(req));
        Box::pin(async move { fut.await.map(PageUser) })
    }
}

/// The person on a page if signed in, for pages anyone may open (login, register).
pub struct MaybeUser(pub Option<User>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = session(req);
        let has_token = token.is_some();
        let fut = authenticate_with(req, token);
        Box::pin(async move {
            if !has_token {
                return Ok(MaybeUser(None));
            }
            match fut.await {
                Ok(user) => Ok(MaybeUser(Some(user))),
                Err(AppError::Internal { context, source }) => {
                    Err(AppError::Internal { context, source })
                }
                Err(_) => Ok(MaybeUser(None)),
            }
        })
    }
}

/// The client address for rate limits and the audit log. Only the socket peer counts:
/// `X-Forwarded-For` is whatever the client wants it to be.
pub struct ClientOrigin(pub Origin);

impl FromRequest for ClientOrigin {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.server.trusted_proxies.as_slice())
            .unwrap_or_default();
        let forwarded = req
            .headers()
            .get("X-Forwarded-For")
            .and_then(|v| v.to_str().ok());
        let ip = req
            .peer_addr()
            .map(|a| super::proxy::client_ip(a.ip(), forwarded, trusted).to_string())
            .unwrap_or_else(|| "unknown".into());
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(service::MAX_USER_AGENT).collect());
        std::future::ready(Ok(ClientOrigin(Origin { ip, user_agent })))
    }
}

pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let ttl = state.tokens.ttl().num_seconds();
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(ttl))
        .finish()
}

pub fn clear_session_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .finish();
    cookie.make_removal();
    cookie
}
