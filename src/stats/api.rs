//! `/api/v1/admin/stats`: the usage statistics as JSON and as CSV (admins only).

use actix_web::web::{self, Data, Query};
use actix_web::HttpResponse;
use serde::Deserialize;
use utoipa::OpenApi;

use super::service::{self, StatsQuery, StatsReport, Table};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, AdminErrors};

#[derive(OpenApi)]
#[openapi(paths(stats, stats_csv))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_stats, stats);
    route(cfg, __path_stats_csv, stats_csv);
}

#[utoipa::path(
    get, path = "/api/v1/admin/stats", tag = "admin", operation_id = "admin_stats",
    summary = "API usage statistics (admins only)",
    description = "Provider calls and task outcomes over whole UTC days: per provider and model (calls, success rate, failure rate per reason, latency p50/p95 from log-scale histograms, images, video seconds, estimated cost from the model prices in the configuration), failures per reason, per account, and per hour or day. Read from rollups kept as calls complete, so it stays fast and outlives the pruning of raw call rows.",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<StatsReport>),
        (status = 400, description = "code 400: a bad date, `to` before `from`, more than 366 days, or `hour` over more than 31 days (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn stats(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<StatsQuery>,
) -> AppResult<Reply<StatsReport>> {
    let report = service::report(&state, &user.0, &q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", report))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    /// First day, `YYYY-MM-DD` (UTC); default: six days before `to`.
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\\s*$")]
    pub from: Option<String>,
    /// Last day, included; default: today.
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\\s*$")]
    pub to: Option<String>,
    /// `day` (default) or `hour` (at most 31 days).
    #[param(pattern = "^\\s*(day|hour)?\\s*$")]
    pub by: Option<String>,
    /// `models` (default), `failures`, `users` or `series`.
    #[param(pattern = "^\\s*(models|failures|users|series)?\\s*$")]
    pub table: Option<String>,
}

impl CsvQuery {
    pub fn split(self) -> AppResult<(StatsQuery, Table)> {
        let table = Table::parse(self.table.as_deref())?;
        let q = StatsQuery {
            from: self.from,
            to: self.to,
            by: self.by,
        };
        Ok((q, table))
    }
}

/// The CSV answer, as a download.
pub fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            crate::storage::names::content_disposition("attachment", name),
        ))
        .body(body)
}

#[utoipa::path(
    get, path = "/api/v1/admin/stats/csv", tag = "admin", operation_id = "admin_stats_csv",
    summary = "API usage statistics as CSV (admins only)",
    description = "One table of the statistics report (`table`), comma-separated with a header line, UTF-8, CRLF line ends; a field starting with = + - @ is prefixed with ' so spreadsheets do not run it.",
    security(("bearer" = [])),
    params(CsvQuery),
    responses(
        (status = 200, description = "The table", content_type = "text/csv", body = String),
        (status = 400, description = "code 400: a bad date, range, `by` or `table` (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn stats_csv(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<CsvQuery>,
) -> AppResult<HttpResponse> {
    // A non-admin hears 403 whatever the query.
    crate::admin::service::require_admin(&user.0)?;
    let (q, table) = q.into_inner().split()?;
    let (name, body) = service::csv(&state, &user.0, &q, table).await?;
    Ok(csv_response(&name, body))
}
