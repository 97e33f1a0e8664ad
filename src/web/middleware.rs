//! Request ids and logging, CSRF for page forms, and the one place where errors become
//! an envelope (API) or a page (browser), in the request's language.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use rand::RngCore;
use tracing::Instrument;

use crate::app::AppState;
use crate::error::{AppError, Envelope, ErrorData};
use crate::i18n::{self, Lang};

#[derive(Clone)]
pub struct RequestId(pub String);

#[derive(Clone)]
pub struct CsrfToken(pub String);

/// The `Allow` of a 405, as actix built it from the method guards of the routes at the path
/// (see `app::no_route`); the API's own paths take theirs from the document instead.
pub struct AllowedMethods(pub header::HeaderValue);

pub const CSRF_COOKIE: &str = "pd_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Outermost: a request id (taken from `X-Request-Id` when sane) in a tracing span and the
/// response header, and one log line per request.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get("X-Request-Id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %loggable_path(req.path()));
    let started = Instant::now();
    async move {
        let mut res = next.call(req).await?;
        if let Ok(value) = header::HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("x-request-id"), value);
        }
        let status = res.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if res.request().path() != "/healthz" {
            tracing::info!(status, ms = (ms * 10.0).round() / 10.0, "handled");
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

/// Longest path written to the log; a hostile client must not fill the disk through it.
const MAX_LOGGED_PATH: usize = 200;

/// The path as the log shows it: share tokens are secrets (whoever reads the log could open
/// the share), and anything past `MAX_LOGGED_PATH` is cut.
pub fn loggable_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/s/") {
        let tail = rest.split_once('/').map_or("", |(_, t)| t);
        let mut shown = String::from("/s/***");
        if !tail.is_empty() {
            shown.push('/');
            shown.push_str(tail);
        }
        return cut(&shown);
    }
    cut(path)
}

fn cut(path: &str) -> String {
    match path.char_indices().nth(MAX_LOGGED_PATH) {
        Some((at, _)) => format!("{}…({} bytes)", &path[..at], path.len()),
        None => path.to_string(),
    }
}

/// Scripts and styles come from our own /static only (htmx and our scripts are vendored);
/// no inline script and no eval. Inline `style` attributes stay allowed: the progress bars
/// set their width that way, and CSS cannot run code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Headers every answer carries: the CSP, no framing, no MIME sniffing, a referrer policy
/// (none at all from share pages, whose token is in the URL), and HSTS when we speak TLS.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let share_page = req.path().starts_with("/s/");
    let tls = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.server.tls_cert.is_some());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(
            header::HeaderName::from_static(name),
            header::HeaderValue::from_static(value),
        );
    };
    set("content-security-policy", CONTENT_SECURITY_POLICY);
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set(
        "referrer-policy",
        if share_page {
            "no-referrer"
        } else {
            "strict-origin-when-cross-origin"
        },
    );
    if tls {
        set("strict-transport-security", "max-age=31536000");
    }
    Ok(res)
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

/// Errors as the envelope: for the API, and for page endpoints that scripts call asking for
/// JSON (uploads). Only for rendering; CSRF checks go by path alone.
fn wants_json(req: &HttpRequest) -> bool {
    is_api(req)
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// Page forms are posted by htmx with a CSRF token in a header. The token is an HMAC of the
/// browser's `pd_csrf` nonce and the signed-in account, so neither a cross-site page (which
/// cannot read it) nor someone who plants a cookie (who cannot compute it for another
/// account) can produce it. The JSON API takes only bearer tokens, which a browser never adds
/// by itself, so it needs no CSRF token.
pub async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if is_api(req.request()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let existing = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 64);
    let (nonce, fresh) = match existing {
        Some(nonce) => (nonce, false),
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            (
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                true,
            )
        }
    };
    let token = req
        .app_data::<web::Data<AppState>>()
        .map(|state| {
            let account = super::auth::session(req.request())
                .and_then(|t| state.tokens.verify(&t))
                .map(|claims| claims.sub)
                .unwrap_or_default();
            csrf_token(&state.secret, &nonce, &account)
        })
        .unwrap_or_default();
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let ok = !fresh
            && !token.is_empty()
            && sent.is_some_and(|sent| constant_eq(token.as_bytes(), sent.as_bytes()));
        if !ok {
            return Ok(req.error_response(AppError::forbidden("err.csrf")));
        }
    }
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.secure_cookies());
    let mut res = next.call(req).await?.map_into_boxed_body();
    if fresh {
        let cookie = Cookie::build(CSRF_COOKIE, nonce)
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .finish();
        res.response_mut().add_cookie(&cookie)?;
    }
    Ok(res)
}

/// The CSRF token of a browser nonce for an account (`""` before signing in).
fn csrf_token(secret: &[u8], nonce: &str, account: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"csrf\0");
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(account.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is left of an error once it must be shown.
struct Problem {
    status: StatusCode,
    code: u16,
    field: Option<&'static str>,
    retry_after: Option<u64>,
    /// The reason of a ban, for its owner.
    ban_reason: Option<Option<String>>,
    error: AppError,
}

impl Problem {
    fn of(err: &AppError) -> Self {
        Problem {
            status: err.status_code(),
            code: err.code(),
            field: err.field(),
            retry_after: match err {
                AppError::RateLimited { retry_after } => Some(*retry_after),
                _ => None,
            },
            ban_reason: match err {
                AppError::Banned { reason } => Some(reason.clone()),
                _ => None,
            },
            error: match err {
                AppError::Banned { reason } => AppError::Banned {
                    reason: reason.clone(),
                },
                AppError::Refused { terms, what } => AppError::Refused {
                    terms: terms.clone(),
                    what: *what,
                },
                other => AppError::client(other.status_code(), other.code(), other.key()),
            },
        }
    }
}

/// Turns any error response into the translated envelope or a friendly page.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The request must not be cloned before routing (actix needs it unshared then), so
    // errors are read from the response, where handlers and extractors leave them.
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(err) = res.response().error() else {
        return Ok(res);
    };
    let problem = match err.as_error::<AppError>() {
        Some(app) => {
            if let AppError::Internal { .. } = app {
                tracing::error!(cause = %app, "request failed");
            }
            Problem::of(app)
        }
        None => {
            let status = res.status();
            if status.is_server_error() {
                tracing::error!(cause = %err, "request failed");
            } else {
                tracing::debug!(cause = %err, "request rejected");
            }
            Problem::of(&AppError::from_status(status))
        }
    };
    let (http_req, _) = res.into_parts();
    let response = render_problem(&http_req, &problem);
    Ok(ServiceResponse::new(http_req, response))
}

fn render_problem(req: &HttpRequest, p: &Problem) -> HttpResponse {
    let lang = Lang::of(req);
    let message = p.error.message(lang);
    let mut builder = HttpResponse::build(p.status);
    if let Some(secs) = p.retry_after {
        builder.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    if p.status == StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110: a 405 lists what the path does take. The API's methods are its document's.
        let allow = super::openapi::allowed_methods(req.path());
        if !allow.is_empty() {
            builder.insert_header((header::ALLOW, allow.join(", ")));
        } else if let Some(AllowedMethods(methods)) = req.extensions().get::<AllowedMethods>() {
            builder.insert_header((header::ALLOW, methods.clone()));
        }
    }
    if wants_json(req) {
        // Retry-After is also in the body, for clients that only read the envelope.
        let data = match (p.field, p.retry_after, &p.ban_reason) {
            (Some(f), _, _) => Some(ErrorData {
                field: Some(f.to_string()),
                ..Default::default()
            }),
            (None, Some(secs), _) => Some(ErrorData {
                retry_after: Some(secs),
                ..Default::default()
            }),
            (None, None, Some(reason)) => Some(ErrorData {
                reason: reason.clone(),
                ..Default::default()
            }),
            (None, None, None) => None,
        };
        return builder.json(Envelope {
            code: p.code,
            message,
            data,
        });
    }
    // A banned account's page goes to the login page too, which shows the reason.
    if p.status == StatusCode::UNAUTHORIZED || p.ban_reason.is_some() {
        let next = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let target = format!("/login?next={}", super::render::urlencode(next));
        return if is_htmx(req) {
            HttpResponse::Ok()
                .insert_header(("HX-Redirect", target))
                .finish()
        } else {
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish()
        };
    }
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let mut ctx = tera::Context::new();
    ctx.insert("t", i18n::tree(lang));
    ctx.insert("lang", lang.code());
    ctx.insert("status", &p.status.as_u16());
    ctx.insert("message", &message);
    ctx.insert("request_id", &request_id);
    ctx.insert(
        "csrf",
        &req.extensions()
            .get::<CsrfToken>()
            .map(|c| c.0.clone())
            .unwrap_or_default(),
    );
    ctx.insert("user", &Option::<()>::None);
    ctx.insert("path", req.uri().path());
    let (template, htmx) = if is_htmx(req) {
        ("_error_fragment.html", true)
    } else {
        ("error.html", false)
    };
    let html = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.templates.render(template, &ctx).ok())
        .unwrap_or_else(|| {
            format!(
                "<!doctype html><title>{0}</title><p>{0}</p>",
                tera::escape_html(&message)
            )
        });
    if htmx {
        // Shown in the page's message area instead of replacing the form that was posted.
        builder
            .insert_header(("HX-Retarget", "#flash"))
            .insert_header(("HX-Reswap", "innerHTML"));
    }
    builder.content_type("text/html; charset=utf-8").body(html)
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn logged_paths_hide_share_tokens_and_stay_short() {
        assert_eq!(loggable_path("/s/abcDEF123"), "/s/***");
        assert_eq!(loggable_path("/library/x"), "/library/x");
        let long = format!("/{}", "a".repeat(100_000));
        let shown = loggable_path(&long);
        assert!(
            shown.len() < 300 && shown.ends_with("(100001 bytes)"),
            "{shown}"
        );
        assert!(!loggable_path(&format!("/s/{}", "t".repeat(5000))).contains("ttt"));
    }
}
