//! The review queue's JSON endpoints under /api/v1/admin/moderation (admins only).

use actix_web::web::{self, Data, Query};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use super::review::{self, Decided, Decision, FlagView, QueuePage, QueueQuery};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::json::Json;
use crate::web::auth::{ApiUser, ClientOrigin};
use crate::web::openapi::{route, AdminErrors, JsonBodyErrors};

#[derive(OpenApi)]
#[openapi(paths(flags, decide, flag))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_flags, flags);
    route(cfg, __path_decide, decide);
    route(cfg, __path_flag, flag);
}

#[utoipa::path(
    get, path = "/api/v1/admin/moderation/flags", tag = "admin", operation_id = "moderation_flags",
    summary = "The review queue: flagged results (admins only)",
    description = "Results a moderation service flagged (`source` `provider`; held as `unchecked` when the service could not answer and `moderation.provider.on_error` is `hold`) or the model's vendor refused (`vendor`, no result). Newest first, 50 a page; `pending` unless `decision` says otherwise. A flagged result is hidden from its owner, share links and the gallery; `thumbnail_url` and `result_url` are signed links for admins.",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<QueuePage>),
        (status = 400, description = "code 400: a bad `decision` or `before` (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn flags(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<QueueQuery>,
) -> AppResult<Reply<QueuePage>> {
    let page = review::queue(&state, &user.0, q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[derive(Deserialize, ToSchema)]
pub struct DecideRequest {
    /// Flag ids (`id` in the queue), 1–200.
    #[schema(min_items = 1, max_items = 200)]
    ids: Vec<String>,
    decision: Decision,
}

#[utoipa::path(
    post, path = "/api/v1/admin/moderation/flags/decide", tag = "admin", operation_id = "decide_moderation_flags",
    summary = "Approve, keep hidden or delete flagged results (admins only)",
    description = "`approve` shows a result again at once (library, share links; it may be published), `hide` keeps it hidden and out of the pending queue, `delete` deletes it and frees its files. All or nothing; every flag's decision goes to the audit log.",
    security(("bearer" = [])),
    request_body = DecideRequest,
    responses(
        (status = 200, description = "code 200: the flags as they are now", body = Envelope<Decided>),
        (status = 400, description = "code 400: no ids, or more than 200 (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: an id is not a flag", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn decide(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    body: Json<DecideRequest>,
) -> AppResult<Reply<Decided>> {
    let body = body.into_inner();
    let done = review::decide(&state, &user.0, body.ids, body.decision, &origin.0).await?;
    Ok(Reply::ok("msg.saved", done))
}

#[derive(Deserialize, ToSchema)]
pub struct FlagRequest {
    /// The result's task id.
    task_id: String,
    /// Why, for the other reviewers (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    note: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/admin/moderation/flags", tag = "admin", operation_id = "flag_result",
    summary = "Hide a finished result for review (admins only)",
    description = "The result becomes `flagged` at once: its owner sees it under review, its share links, file links and gallery work stop showing it, and it waits in the queue (`source` `admin`) until approved or deleted. Audited.",
    security(("bearer" = [])),
    request_body = FlagRequest,
    responses(
        (status = 200, description = "code 200: the new flag", body = Envelope<FlagView>),
        (status = 400, description = "code 400: a note too long (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: no such result", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the result is not finished, or hidden already", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn flag(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    body: Json<FlagRequest>,
) -> AppResult<Reply<FlagView>> {
    let body = body.into_inner();
    let view = review::flag_result(&state, &user.0, &body.task_id, body.note, &origin.0).await?;
    Ok(Reply::ok("msg.saved", view))
}
