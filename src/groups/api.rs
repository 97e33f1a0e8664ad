//! JSON endpoints of batches and comparisons (issue 13 items 3, 4).

use actix_web::web::{self, Data, Path, Query};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::model::{GroupKind, GroupSummary, GroupView};
use super::service::{self, NewBatch, NewComparison, Pick};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, NoData, Reply};
use crate::i18n::Lang;
use crate::json::Json;
use crate::library::api::Count;
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, Binary, JsonBodyErrors, SignedInErrors};

#[derive(OpenApi)]
#[openapi(
    components(schemas(
        GroupKind,
        crate::generation::model::Kind,
        crate::generation::model::Params
    )),
    paths(
        create_batch,
        create_comparison,
        list,
        get,
        cancel,
        retry,
        pick,
        export,
        delete
    )
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_create_batch, create_batch);
    route(cfg, __path_create_comparison, create_comparison);
    route(cfg, __path_list, list);
    route(cfg, __path_get, get);
    route(cfg, __path_cancel, cancel);
    route(cfg, __path_retry, retry);
    route(cfg, __path_pick, pick);
    route(cfg, __path_export, export);
    route(cfg, __path_delete, delete);
}

#[utoipa::path(
    post, path = "/api/v1/batches", tag = "groups", operation_id = "create_batch",
    summary = "Start a batch: prompts × models × seeds",
    description = "Every combination of `prompts`, `models` (none: the type's first model) and `seeds` (none: one random seed each) becomes a task, at most 1000; each is checked, moderated and counted against the quota like a single submit, and either all are queued or none. Users take turns in the queue, so a large batch does not hold others up.",
    security(("bearer" = [])),
    request_body(content = NewBatch, example = json!({"type": "t2i", "prompts": ["雪山日出", "海边灯塔"], "seeds": [1, 2]})),
    responses(
        (status = 200, description = "code 200: the batch, queued", body = Envelope<GroupView>,
            links(("group" = (operation_id = "get_group", parameters(("group_id" = "$response.body#/data/group_id")))))),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        SignedInErrors,
        JsonBodyErrors,
        (status = 422, description = "code 400: an image is not an upload of yours, no such model for the type, or more than 1000 tasks in all", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: the daily quota cannot hold the batch", body = Envelope<ErrorData>),
    )
)]
async fn create_batch(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewBatch>,
) -> AppResult<Reply<GroupView>> {
    let group = service::create_batch(&state, &user.0, body.into_inner(), lang).await?;
    Ok(Reply::ok("group.msg.created", group))
}

#[utoipa::path(
    post, path = "/api/v1/comparisons", tag = "groups", operation_id = "create_comparison",
    summary = "Compare 2–6 models on one prompt (seed 3.4)",
    description = "One task per model, all with the same seed (chosen when absent). Follow it with `GET /groups/{group_id}`; it stays in the library's list of groups.",
    security(("bearer" = [])),
    request_body(content = NewComparison, example = json!({"type": "t2i", "prompt": "一只在雪地里奔跑的狐狸", "models": ["local/procedural", "openai/gpt-image-1"]})),
    responses(
        (status = 200, description = "code 200: the comparison, queued", body = Envelope<GroupView>,
            links(("group" = (operation_id = "get_group", parameters(("group_id" = "$response.body#/data/group_id")))))),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        SignedInErrors,
        JsonBodyErrors,
        (status = 422, description = "code 400: an image is not an upload of yours, or no such model for the type", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: the daily quota cannot hold the comparison", body = Envelope<ErrorData>),
    )
)]
async fn create_comparison(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewComparison>,
) -> AppResult<Reply<GroupView>> {
    let group = service::create_comparison(&state, &user.0, body.into_inner(), lang).await?;
    Ok(Reply::ok("group.msg.created", group))
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only batches or only comparisons.
    pub kind: Option<GroupKind>,
}

#[utoipa::path(
    get, path = "/api/v1/groups", tag = "groups", operation_id = "list_groups",
    summary = "My batches and comparisons, newest first (the latest 100)",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<GroupSummary>>),
        (status = 400, description = "code 400: unknown kind", body = Envelope<ErrorData>),
        SignedInErrors,
    )
)]
async fn list(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<ListQuery>,
) -> AppResult<Reply<Vec<GroupSummary>>> {
    Ok(Reply::ok(
        "msg.ok",
        service::list(&state, &user.0, q.into_inner().kind).await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/groups/{group_id}", tag = "groups", operation_id = "get_group",
    summary = "A batch or comparison with every item",
    description = "Overall progress, time and estimated cost; per item its task (as `GET /generation/{task_id}` shows it), its model, seconds taken and cost.",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200", body = Envelope<GroupView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such group of yours", body = Envelope<ErrorData>),
    )
)]
async fn get(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<GroupView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::get(&state, &user.0, &id, lang).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/groups/{group_id}/cancel", tag = "groups", operation_id = "cancel_group",
    summary = "Cancel every item that has not finished",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200: the group now", body = Envelope<GroupView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such group of yours", body = Envelope<ErrorData>),
    )
)]
async fn cancel(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<GroupView>> {
    Ok(Reply::ok(
        "group.msg.canceled",
        service::cancel(&state, &user.0, &id, lang).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/groups/{group_id}/retry", tag = "groups", operation_id = "retry_group",
    summary = "Run every failed or canceled item again",
    description = "Each becomes a new task with the same request (checked and counted like a submit); the item then shows the new task.",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200: the group now", body = Envelope<GroupView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such group of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: no failed or canceled item", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: daily quota used up", body = Envelope<ErrorData>),
    )
)]
async fn retry(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<GroupView>> {
    Ok(Reply::ok(
        "group.msg.retried",
        service::retry(&state, &user.0, &id, lang).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/groups/{group_id}/pick", tag = "groups", operation_id = "pick_group_results",
    summary = "File picked results of the group into a folder",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    request_body(content = Pick),
    responses(
        (status = 200, description = "code 200: how many were filed", body = Envelope<Count>),
        (status = 400, description = "code 400: no tasks", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such group or folder of yours", body = Envelope<ErrorData>),
        (status = 415, description = "code 415: not JSON", body = Envelope<ErrorData>),
        (status = 422, description = "code 400: a task is not an item of the group", body = Envelope<ErrorData>),
    )
)]
async fn pick(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<Pick>,
) -> AppResult<Reply<Count>> {
    let count = service::pick(&state, &user.0, &id, body.into_inner()).await?;
    Ok(Reply::ok("group.msg.picked", Count { count }))
}

#[utoipa::path(
    get, path = "/api/v1/groups/{group_id}/export", tag = "groups", operation_id = "export_group",
    summary = "The group's finished results as a ZIP (streamed)",
    description = "As the library's export: the files under files/ plus manifest.json.",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip", body = Binary),
        SignedInErrors,
        (status = 404, description = "code 404: no such group of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: no finished result yet", body = Envelope<ErrorData>),
    )
)]
async fn export(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<actix_web::HttpResponse> {
    export_response(state, &user.0, &id).await
}

/// Streams the group's ZIP; shared by the API and the page.
pub async fn export_response(
    state: Data<AppState>,
    user: &crate::users::model::User,
    group_id: &str,
) -> AppResult<actix_web::HttpResponse> {
    let ids = service::export_ids(&state, user, group_id).await?;
    let items = crate::library::archive::plan(&state, user, ids, None).await?;
    Ok(crate::library::api::zip_response(state, items))
}

#[utoipa::path(
    delete, path = "/api/v1/groups/{group_id}", tag = "groups", operation_id = "delete_group",
    summary = "Take a group off the list",
    description = "Its results stay in the library; running items go on (cancel them first to stop them).",
    security(("bearer" = [])),
    params(("group_id" = String, Path, description = "The group's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<NoData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such group of yours", body = Envelope<ErrorData>),
    )
)]
async fn delete(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<()>> {
    service::delete(&state, &user.0, &id).await?;
    Ok(Reply::message("group.msg.deleted"))
}
