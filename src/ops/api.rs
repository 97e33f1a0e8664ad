//! `/api/v1/admin/monitoring`, `/alerts`, `/logs` (admins only) and `/metrics` (Prometheus,
//! bearer token from the configuration; outside the OpenAPI document, like `/healthz`).

use actix_web::http::header;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use utoipa::OpenApi;

use super::alerts::{self, AlertView};
use super::logs::LogQuery;
use super::service::{self, LogPage, MetricsAccess, Monitoring};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, AdminErrors};

#[derive(OpenApi)]
#[openapi(paths(monitoring, alerts_list, logs))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_monitoring, monitoring);
    route(cfg, __path_alerts_list, alerts_list);
    route(cfg, __path_logs, logs);
    cfg.route("/metrics", web::get().to(metrics));
}

#[utoipa::path(
    get, path = "/api/v1/admin/monitoring", tag = "admin", operation_id = "monitoring",
    summary = "Queue, engine, database pool, process and provider readings (admins only)",
    description = "A fresh reading: tasks queued and running (all instances), the oldest queued task's wait, running tasks per provider, this instance's engine slots and database pool, CPU, memory and the data dir's free space (null where the OS does not tell), each provider's calls and error rate over the last 5 minutes; and the open alerts.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Monitoring>),
        AdminErrors,
    )
)]
async fn monitoring(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Monitoring>> {
    Ok(Reply::ok(
        "msg.ok",
        service::monitoring(&state, &user.0).await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/admin/alerts", tag = "admin", operation_id = "alerts",
    summary = "The latest 100 alert incidents, open and resolved (admins only)",
    description = "Newest first. An incident opens when a rule of `[alerts]` holds (mailed to every admin once) and resolves when it no longer does (mailed once more).",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<AlertView>>),
        AdminErrors,
    )
)]
async fn alerts_list(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<AlertView>>> {
    Ok(Reply::ok("msg.ok", alerts::recent(&state, &user.0).await?))
}

#[utoipa::path(
    get, path = "/api/v1/admin/logs", tag = "admin", operation_id = "logs",
    summary = "Recent warnings and errors of this instance (admins only)",
    description = "The log centre: the newest warnings and errors this instance logged (held in memory, at most `monitoring.log_buffer`), newest first, each with the request id of the request it happened in.",
    security(("bearer" = [])),
    params(LogQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<LogPage>),
        (status = 400, description = "code 400: a bad level or limit (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn logs(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<LogQuery>,
) -> AppResult<Reply<LogPage>> {
    Ok(Reply::ok(
        "msg.ok",
        service::logs(&state, &user.0, &q.into_inner())?,
    ))
}

/// Prometheus scrapes: 404 while no token is configured, 401 without the right one. Plain
/// answers, not the error pages (a scraper is no browser to send to the login page).
async fn metrics(req: HttpRequest, state: Data<AppState>) -> AppResult<HttpResponse> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match service::metrics_access(&state.config.monitoring.metrics_token, authorization) {
        MetricsAccess::Off => Ok(HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found\n")),
        MetricsAccess::Unauthorized => Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("unauthorized\n")),
        MetricsAccess::Allowed => Ok(HttpResponse::Ok()
            .content_type(super::prom::CONTENT_TYPE)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(service::metrics_text(&state).await?)),
    }
}
