//! JSON endpoints of seed 5.3 ⑦–⑩ plus the task list, cancel, retry, models and signed files.

use actix_files::NamedFile;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use utoipa::{IntoParams, OpenApi};

use super::model::TaskView;
use super::providers::ModelInfo;
use super::service::{self, NewTask, TaskPage, Uploaded};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Envelope, ErrorData, Reply};
use crate::i18n::Lang;
use crate::json::Json;
use crate::storage::{names, Storage};
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, route_with, Binary, JsonBodyErrors, SignedInErrors};
use crate::web::upload::UploadedFile;

#[derive(OpenApi)]
#[openapi(paths(submit, list, get, cancel, retry, models, upload, file))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig, upload_limit: usize) {
    route(cfg, __path_submit, submit);
    route(cfg, __path_list, list);
    route(cfg, __path_get, get);
    route(cfg, __path_cancel, cancel);
    route(cfg, __path_retry, retry);
    route(cfg, __path_models, models);
    route_with(cfg, __path_upload, upload, move |resource| {
        resource.app_data(web::PayloadConfig::new(upload_limit))
    });
    route(cfg, __path_file, file);
}

/// The seed's ⑦ example answer, with the fields every task carries.
fn queued_example() -> serde_json::Value {
    serde_json::json!({"code": 200, "message": "生成任务已创建", "data": {
        "task_id": "0b6f2f7e-6a51-4c39-9d0e-2f1f9f3c5a10", "type": "i2i", "status": "queued",
        "prompt": "让上传的照片呈现出油画效果", "params": {"seed": 42}, "provider": "local",
        "model": "filters", "progress": 0, "queue_position": 0, "attempts": 0,
        "created_at": "2025-11-04T17:00:00Z"}})
}

/// The seed's ⑨ example answer, with the fields every task carries.
fn completed_example() -> serde_json::Value {
    serde_json::json!({"code": 200, "message": "任务完成", "data": {
        "task_id": "0b6f2f7e-6a51-4c39-9d0e-2f1f9f3c5a10", "type": "t2i", "status": "completed",
        "prompt": "一只在雪地里奔跑的狐狸", "params": {"size": "1024x1024", "seed": 42},
        "provider": "local", "model": "painter", "progress": 100, "attempts": 1,
        "result_url": "/api/v1/files/result/0b6f2f7e-6a51-4c39-9d0e-2f1f9f3c5a10?exp=1762275615&sig=3q2-7w",
        "thumbnail_url": "/api/v1/files/thumb/0b6f2f7e-6a51-4c39-9d0e-2f1f9f3c5a10?exp=1762275615&sig=3q2-7w",
        "mime": "image/png", "width": 1024, "height": 1024,
        "created_at": "2025-11-04T17:00:00Z", "started_at": "2025-11-04T17:00:01Z",
        "completed_at": "2025-11-04T17:00:15Z"}})
}

/// The seed's ⑦ request: its reference is our own upload's `file_url` (or id).
fn submit_example() -> serde_json::Value {
    serde_json::json!({"type": "i2i", "prompt": "让上传的照片呈现出油画效果",
        "images": ["/api/v1/files/upload/5d3c8f0e-2b7a-4d8e-9a61-0c3f4e5d6a7b.png"]})
}

fn uploaded_example() -> serde_json::Value {
    serde_json::json!({"code": 200, "message": "上传成功", "data": {
        "file_id": "5d3c8f0e-2b7a-4d8e-9a61-0c3f4e5d6a7b",
        "file_url": "/api/v1/files/upload/5d3c8f0e-2b7a-4d8e-9a61-0c3f4e5d6a7b?exp=1762275615&sig=3q2-7w",
        "mime": "image/png", "width": 1024, "height": 768}})
}

#[utoipa::path(
    post, path = "/api/v1/generation", tag = "generation", operation_id = "submit",
    summary = "Start a generation task (seed 5.3 ⑦)",
    description = "Queues the task (or `params.n` tasks with consecutive seeds, listed in `batch`) and answers at once; poll `GET /generation/{task_id}` or follow the links. A seed is always chosen. Counts against the daily quota.",
    security(("bearer" = [])),
    request_body(content = NewTask, example = json!(submit_example())),
    responses(
        (status = 200, description = "code 200: task created (queued)", body = Envelope<TaskView>,
            links(
                ("task" = (operation_id = "get_task", parameters(("task_id" = "$response.body#/data/task_id")))),
                ("cancel" = (operation_id = "cancel_task", parameters(("task_id" = "$response.body#/data/task_id")))),
                ("retry" = (operation_id = "retry_task", parameters(("task_id" = "$response.body#/data/task_id")))),
                ("result" = (operation_id = "get_result", parameters(("id" = "$response.body#/data/task_id")))),
                ("publish" = (operation_id = "publish_result", parameters(("id" = "$response.body#/data/task_id")))),
                ("publication" = (operation_id = "get_publication", parameters(("id" = "$response.body#/data/task_id")))),
            ),
            example = json!(queued_example())),
        (status = 400, description = "code 400: invalid parameters, or something the model cannot do (its `capabilities` in `GET /models`); `data.field` names the field", body = Envelope<ErrorData>),
        SignedInErrors,
        JsonBodyErrors,
        (status = 402, description = "code 402: the monthly budget cannot take the cost (`POST /models/estimate`)", body = Envelope<ErrorData>),
        (status = 422, description = "code 400: an image is not an upload of yours, or no such model for the type", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: daily quota used up", body = Envelope<ErrorData>),
    )
)]
async fn submit(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewTask>,
) -> AppResult<Reply<TaskView>> {
    let task = service::submit(&state, &user.0, body.into_inner(), lang).await?;
    Ok(Reply::ok("msg.task_created", task))
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next` of the previous page.
    pub before: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/generation", tag = "generation", operation_id = "list_tasks",
    summary = "My tasks, newest first",
    description = "30 a page; pass `next` as `before` for older ones.",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<TaskPage>),
        SignedInErrors,
    )
)]
async fn list(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    q: Query<ListQuery>,
) -> AppResult<Reply<TaskPage>> {
    Ok(Reply::ok(
        "msg.ok",
        service::list(&state, &user.0, q.into_inner().before, lang).await?,
    ))
}

/// The message says where the task stands, as seed 5.3 ⑨ shows ("任务完成").
fn status_key(task: &TaskView) -> &'static str {
    match task.status.as_str() {
        "completed" => "msg.task_completed",
        "failed" => "msg.task_failed",
        "canceled" => "msg.task_canceled",
        "processing" => "msg.task_processing",
        _ => "msg.task_queued",
    }
}

#[utoipa::path(
    get, path = "/api/v1/generation/{task_id}", tag = "generation", operation_id = "get_task",
    summary = "A task and its result (seed 5.3 ⑨)",
    description = "Status, progress, queue position, error reason, timings; once completed, signed expiring `result_url` and `thumbnail_url` (seed 5.3 ⑩).",
    security(("bearer" = [])),
    params(("task_id" = String, Path, description = "The task's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200; the message says where the task stands", body = Envelope<TaskView>,
            links(("file" = (operation_id = "get_file", description = "`result_url` and `thumbnail_url` are ready-signed links to this operation"))),
            example = json!(completed_example())),
        SignedInErrors,
        (status = 404, description = "code 404: no such task of yours", body = Envelope<ErrorData>),
    )
)]
async fn get(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<TaskView>> {
    let task = service::get(&state, &user.0, &id, lang).await?;
    Ok(Reply::ok(status_key(&task), task))
}

#[utoipa::path(
    post, path = "/api/v1/generation/{task_id}/cancel", tag = "generation", operation_id = "cancel_task",
    summary = "Cancel a queued or running task",
    security(("bearer" = [])),
    params(("task_id" = String, Path, description = "The task's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200: canceled", body = Envelope<TaskView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such task of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: already finished", body = Envelope<ErrorData>),
    )
)]
async fn cancel(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<TaskView>> {
    Ok(Reply::ok(
        "msg.task_canceled",
        service::cancel(&state, &user.0, &id, lang).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/generation/{task_id}/retry", tag = "generation", operation_id = "retry_task",
    summary = "Run a failed or canceled task again",
    description = "Makes a new task with the same request.",
    security(("bearer" = [])),
    params(("task_id" = String, Path, description = "The task's id", format = Uuid)),
    responses(
        (status = 200, description = "code 200: new task created", body = Envelope<TaskView>,
            links(("task" = (operation_id = "get_task", parameters(("task_id" = "$response.body#/data/task_id")))))),
        SignedInErrors,
        (status = 404, description = "code 404: no such task of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: only failed or canceled tasks", body = Envelope<ErrorData>),
        (status = 402, description = "code 402: the monthly budget cannot take the cost", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: daily quota used up", body = Envelope<ErrorData>),
    )
)]
async fn retry(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<TaskView>> {
    Ok(Reply::ok(
        "msg.task_created",
        service::retry(&state, &user.0, &id, lang).await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/models", tag = "generation", operation_id = "models",
    summary = "Configured models and what each can do",
    description = "Each model's `kinds`, its `capabilities` (aspect ratios, sizes, video resolutions and lengths, references, results per submit, seed, negative prompt, strength, styles) and its `price`. A submit asking a model for anything else is refused with 400 and the field.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<ModelInfo>>),
        SignedInErrors,
    )
)]
async fn models(state: Data<AppState>, _: ApiUser) -> AppResult<Reply<Vec<ModelInfo>>> {
    Ok(Reply::ok("msg.ok", service::models(&state)))
}

/// Seed 5.3 ⑧: the body is the image itself (or a form with a `file` field).
#[utoipa::path(
    post, path = "/api/v1/upload", tag = "generation", operation_id = "upload",
    summary = "Upload a reference image (seed 5.3 ⑧)",
    description = "The body is the image (PNG, JPEG or WebP, recognised by its bytes), or a `multipart/form-data` form with a `file` field. At most 20 MiB and 40 megapixels by default. EXIF orientation is applied and all metadata (GPS included) removed.",
    security(("bearer" = [])),
    request_body(content(
        (Binary = "image/png"),
        (Binary = "image/jpeg"),
        (Binary = "image/webp"),
        (Binary = "application/octet-stream"),
    )),
    responses(
        (status = 200, description = "code 200: uploaded", body = Envelope<Uploaded>,
            links(("file" = (operation_id = "get_file", description = "`file_url` is a ready-signed link to this operation"))),
            example = json!(uploaded_example())),
        (status = 400, description = "code 400: empty or broken image, or a form without a file", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 413, description = "code 413: too large", body = Envelope<ErrorData>),
        (status = 415, description = "code 400: not PNG, JPEG or WebP", body = Envelope<ErrorData>),
    )
)]
async fn upload(
    state: Data<AppState>,
    user: ApiUser,
    file: UploadedFile,
) -> AppResult<Reply<Uploaded>> {
    Ok(Reply::ok(
        "msg.uploaded",
        service::upload(&state, &user.0, file.0).await?,
    ))
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct Signed {
    /// Expiry, Unix seconds.
    #[param(maximum = 9223372036854775807_i64)]
    exp: i64,
    /// Signature of the path and `exp`.
    sig: String,
}

/// Seed 5.3 ⑩ `result_url`: a signed, expiring link, so <img> and <video> can load it; served
/// with ETag, Last-Modified and Range (video seeking). Objects in S3 are streamed through,
/// so the bucket never has to be reachable from browsers.
#[utoipa::path(
    get, path = "/api/v1/files/{kind}/{uuid}", tag = "generation", operation_id = "get_file",
    summary = "A result, thumbnail or upload by signed link (seed 5.3 ⑩)",
    description = "Links come from task and upload answers and expire; no `Authorization` needed. ETag, Last-Modified and Range (video seeking) are supported. Stored images and videos carry the GB 45438-2025 implicit label (XMP `TC260:AIGC`).",
    params(
        ("kind" = String, Path, description = "result, thumb or upload", pattern = "^(result|thumb|upload)$"),
        ("uuid" = String, Path, description = "The task's or upload's id"),
        Signed,
    ),
    responses(
        (status = 200, description = "The file", content(
            (Binary = "image/png"), (Binary = "image/jpeg"), (Binary = "image/webp"), (Binary = "video/mp4"))),
        (status = 206, description = "Part of the file (Range)", content(
            (Binary = "image/png"), (Binary = "image/jpeg"), (Binary = "image/webp"), (Binary = "video/mp4"))),
        (status = 400, description = "code 400: `exp` is not a number", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: link expired or forged", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such file", body = Envelope<ErrorData>),
    )
)]
async fn file(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    q: Query<Signed>,
) -> AppResult<HttpResponse> {
    let (kind, uuid) = path.into_inner();
    let service::SignedFile { key, mime, name } =
        service::signed_file(&state, &kind, &uuid, q.exp, &q.sig).await?;
    let ttl = state.config.engine.result_url_ttl.max(0) as u32;
    let cache = CacheControl(vec![CacheDirective::Private, CacheDirective::MaxAge(ttl)]);
    let mut res = match &state.storage {
        Storage::Local { .. } => {
            let file = state
                .storage
                .path(&key)
                .map_err(|e| AppError::internal(e, "storage key"))?;
            let mime: actix_web::mime::Mime = mime
                .parse()
                .map_err(|e| AppError::internal(e, "stored mime"))?;
            let named = NamedFile::open_async(&file)
                .await
                .map_err(|_| AppError::not_found())?;
            named
                .set_content_type(mime)
                .use_etag(true)
                .use_last_modified(true)
                .into_response(&req)
        }
        Storage::S3(s3) => {
            let range = req
                .headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok());
            let upstream = s3
                .get(&key, range)
                .await
                .map_err(|e| AppError::internal(e, "S3 get"))?;
            let mut res = HttpResponse::build(
                StatusCode::from_u16(upstream.status().as_u16())
                    .map_err(|e| AppError::internal(e, "S3 status"))?,
            );
            res.content_type(mime)
                .insert_header((header::ACCEPT_RANGES, "bytes"));
            for name in ["content-length", "content-range", "etag", "last-modified"] {
                if let Some(value) = upstream.headers().get(name).and_then(|v| v.to_str().ok()) {
                    res.insert_header((name, value.to_string()));
                }
            }
            res.streaming(upstream.bytes_stream())
        }
    };
    if let Some(name) = name {
        // Inline, so the result still opens in a tab; a `download` link saves it under this name.
        res.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            names::content_disposition("inline", &name)
                .parse()
                .map_err(|e| AppError::internal(e, "header"))?,
        );
    }
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        cache
            .to_string()
            .parse()
            .map_err(|e| AppError::internal(e, "header"))?,
    );
    Ok(res)
}
