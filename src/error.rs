//! The one error type. What a person sees (a seed `code` and a message key translated from
//! locales/*/messages.toml) is kept apart from the cause, which only goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use serde::Serialize;

use crate::i18n::Lang;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something the caller can fix or must know; `key` names the message.
    #[error("{key} (status {status}, code {code})")]
    Client {
        status: StatusCode,
        code: u16,
        key: &'static str,
        field: Option<&'static str>,
    },
    #[error("rate limited, retry after {retry_after}s")]
    RateLimited { retry_after: u64 },
    /// The account is banned; its owner is told why (403, `data.reason`).
    #[error("account banned")]
    Banned { reason: Option<String> },
    /// A prompt or comment holds terms of the moderation lists; they are named to the person
    /// (422).
    #[error("{what:?} refused by the word list")]
    Refused {
        terms: String,
        what: crate::moderation::service::Screened,
    },
    #[error("{context}: {source:#}")]
    Internal {
        context: &'static str,
        source: anyhow::Error,
    },
}

impl AppError {
    pub fn client(status: StatusCode, code: u16, key: &'static str) -> Self {
        AppError::Client {
            status,
            code,
            key,
            field: None,
        }
    }

    /// 400 with the message shown beside `field` on a form.
    pub fn invalid(field: &'static str, key: &'static str) -> Self {
        AppError::Client {
            status: StatusCode::BAD_REQUEST,
            code: 400,
            key,
            field: Some(field),
        }
    }

    pub fn bad_request(key: &'static str) -> Self {
        Self::client(StatusCode::BAD_REQUEST, 400, key)
    }

    pub fn unauthorized() -> Self {
        Self::client(StatusCode::UNAUTHORIZED, 401, "err.unauthorized")
    }

    pub fn forbidden(key: &'static str) -> Self {
        Self::client(StatusCode::FORBIDDEN, 403, key)
    }

    pub fn not_found() -> Self {
        Self::client(StatusCode::NOT_FOUND, 404, "err.not_found")
    }

    /// Attaches the form field a client error belongs to.
    pub fn on_field(self, name: &'static str) -> Self {
        match self {
            AppError::Client {
                status, code, key, ..
            } => AppError::Client {
                status,
                code,
                key,
                field: Some(name),
            },
            other => other,
        }
    }

    pub fn internal(source: impl Into<anyhow::Error>, context: &'static str) -> Self {
        AppError::Internal {
            context,
            source: source.into(),
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            AppError::Client { code, .. } => *code,
            AppError::RateLimited { .. } => 429,
            AppError::Banned { .. } => 403,
            AppError::Refused { .. } => 422,
            AppError::Internal { .. } => 500,
        }
    }

    pub fn key(&self) -> &'static str {
        match self {
            AppError::Client { key, .. } => key,
            AppError::RateLimited { .. } => "err.rate_limited",
            AppError::Banned { reason: None } => "err.banned",
            AppError::Banned { reason: Some(_) } => "err.banned_reason",
            AppError::Refused { what, .. } => what.message_key(),
            AppError::Internal { .. } => "err.internal",
        }
    }

    /// What a person reads, in `lang`: the message of `key`, with the ban reason filled in.
    pub fn message(&self, lang: Lang) -> String {
        let text = crate::i18n::text(lang, self.key());
        match self {
            AppError::Banned {
                reason: Some(reason),
            } => text.replace("{reason}", reason),
            AppError::Refused { terms, .. } => text.replace("{terms}", terms),
            _ => text,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Client { field, .. } => *field,
            AppError::Refused { what, .. } => Some(what.field()),
            _ => None,
        }
    }

    /// The closest error for a response actix produced itself (unknown route, bad JSON ...).
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            404 => Self::not_found(),
            405 => Self::client(status, 405, "err.method_not_allowed"),
            413 => Self::client(status, 413, "err.too_large"),
            415 => Self::client(status, 415, "err.unsupported_media"),
            401 => Self::unauthorized(),
            403 => Self::forbidden("err.forbidden"),
            s if s < 500 => Self::client(status, s, "err.bad_request"),
            _ => Self::internal(anyhow::anyhow!("HTTP {status}"), "framework"),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::internal(e, "database")
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Banned { .. } => StatusCode::FORBIDDEN,
            AppError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A plain envelope; `web::middleware::render_errors` replaces it with the translated
    /// envelope or page once the request's language and kind are known.
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let AppError::RateLimited { retry_after } = self {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        res.json(Envelope::<()> {
            code: self.code(),
            message: self.key().to_string(),
            data: None,
        })
    }
}

/// The seed's response body: `{code, message, data}`. The document states every answer as
/// this one generic schema with the operation's `data`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T: Serialize> {
    /// The seed's status code of the operation (see its responses); not always the HTTP status.
    pub code: u16,
    /// What happened, in the request's language (zh by default, `Accept-Language: en`).
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

/// `data` of an error envelope: the offending field of a 400, the wait of a 429, or the reason
/// of a ban.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ErrorData {
    /// The request field the message is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait, as in the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Why the account is banned, for its owner's refused requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `data` of an answer that carries only its message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoData {}

/// A successful answer whose message is translated for the request's language.
pub struct Reply<T: Serialize> {
    code: u16,
    key: &'static str,
    data: Option<T>,
}

impl<T: Serialize> Reply<T> {
    pub fn ok(key: &'static str, data: T) -> Self {
        Reply {
            code: 200,
            key,
            data: Some(data),
        }
    }

    pub fn created(key: &'static str, data: T) -> Self {
        Reply {
            code: 201,
            key,
            data: Some(data),
        }
    }
}

impl Reply<()> {
    pub fn message(key: &'static str) -> Self {
        Reply {
            code: 200,
            key,
            data: None,
        }
    }
}

impl<T: Serialize> Responder for Reply<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let message = crate::i18n::text(Lang::of(req), self.key);
        let status = if self.code == 201 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        HttpResponse::build(status).json(Envelope {
            code: self.code,
            message,
            data: self.data,
        })
    }
}
