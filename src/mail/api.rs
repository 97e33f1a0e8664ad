//! `GET /api/v1/admin/mail`: the outbox for admins (newest first, `?status=failed` to see
//! the mails that did not go out, with the server's reply).

use actix_web::web::{self, Data, Query};
use serde::Deserialize;
use utoipa::OpenApi;

use super::model::Status;
use super::service::{self, OutboxPage};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, AdminErrors};

#[derive(OpenApi)]
#[openapi(paths(outbox))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_outbox, outbox);
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only the mails in this state; empty for all.
    #[param(schema_with = status_filter)]
    pub status: Option<String>,
    /// `next` of the previous page.
    pub before: Option<String>,
}

fn status_filter() -> utoipa::openapi::Object {
    let states = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Failed,
    ];
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(states.iter().map(|s| s.as_str()).chain([""])))
        .build()
}

#[utoipa::path(
    get, path = "/api/v1/admin/mail", tag = "admin", operation_id = "mail_outbox",
    summary = "The mail outbox (admins only)",
    description = "Newest first, 50 a page, with the counts per state; a failed mail carries the mail server's reply. Pass `next` as `before` for more.",
    security(("bearer" = [])),
    params(OutboxQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<OutboxPage>),
        (status = 400, description = "code 400: an unknown `status`, or `before` is no mail (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]

async fn outbox(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<OutboxQuery>,
) -> AppResult<Reply<OutboxPage>> {
    let q = q.into_inner();
    let page = service::outbox(&state, &user.0, q.status.as_deref(), q.before).await?;
    Ok(Reply::ok("msg.ok", page))
}
