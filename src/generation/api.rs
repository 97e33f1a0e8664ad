//! JSON endpoints of seed 5.3 ⑦–⑩ plus the task list, cancel, retry, models and signed files.

use actix_files::NamedFile;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::TaskView;
use super::providers::ModelInfo;
use super::service::{self, NewTask, TaskPage, Uploaded};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::i18n::Lang;
use crate::storage::{names, Storage};
use crate::web::auth::ApiUser;
use crate::web::upload::UploadedFile;

pub fn configure(cfg: &mut web::ServiceConfig, upload_limit: usize) {
    cfg.route("/api/v1/generation", web::post().to(submit))
        .route("/api/v1/generation", web::get().to(list))
        .route("/api/v1/generation/{task_id}", web::get().to(get))
        .route(
            "/api/v1/generation/{task_id}/cancel",
            web::post().to(cancel),
        )
        .route("/api/v1/generation/{task_id}/retry", web::post().to(retry))
        .route("/api/v1/models", web::get().to(models))
        .service(
            web::resource("/api/v1/upload")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(upload)),
        )
        .route("/api/v1/files/{kind}/{uuid}", web::get().to(file));
}

async fn submit(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    body: Json<NewTask>,
) -> AppResult<Reply<TaskView>> {
    let task = service::submit(&state, &user.0, body.into_inner(), lang).await?;
    Ok(Reply::ok("msg.task_created", task))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    pub before: Option<String>,
}

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

async fn get(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<TaskView>> {
    let task = service::get(&state, &user.0, &id, lang).await?;
    Ok(Reply::ok(status_key(&task), task))
}

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

async fn models(state: Data<AppState>) -> AppResult<Reply<Vec<ModelInfo>>> {
    Ok(Reply::ok("msg.ok", service::models(&state)))
}

/// Seed 5.3 ⑧: the body is the image itself (or a form with a `file` field).
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Signed {
    exp: i64,
    sig: String,
}

/// Seed 5.3 ⑩ `result_url`: a signed, expiring link, so <img> and <video> can load it; served
/// with ETag, Last-Modified and Range (video seeking). Objects in S3 are streamed through,
/// so the bucket never has to be reachable from browsers.
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
