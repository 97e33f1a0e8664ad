//! JSON endpoints of the library under /api/v1/library.

use actix_web::web::{self, Data, Json, Path, Query};
use serde::{Deserialize, Serialize};

use super::archive;
use super::model::{FolderView, ListQuery, ResultPage, ResultView, ShareView};
use super::service::{self, FolderChange, NewShareRequest};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::i18n::Lang;
use crate::web::auth::ApiUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/library/results", web::get().to(list))
        .route(
            "/api/v1/library/results/delete",
            web::post().to(delete_many),
        )
        .route("/api/v1/library/results/move", web::post().to(move_results))
        .route("/api/v1/library/results/{id}", web::get().to(get))
        .route("/api/v1/library/results/{id}", web::delete().to(delete_one))
        .route(
            "/api/v1/library/results/{id}/favorite",
            web::put().to(favorite),
        )
        .route("/api/v1/library/results/{id}/tags", web::put().to(tags))
        .route("/api/v1/library/tags", web::get().to(all_tags))
        .route("/api/v1/library/folders", web::get().to(tree))
        .route("/api/v1/library/folders", web::post().to(create_folder))
        .route(
            "/api/v1/library/folders/{id}",
            web::patch().to(change_folder),
        )
        .route(
            "/api/v1/library/folders/{id}",
            web::delete().to(delete_folder),
        )
        .route("/api/v1/library/shares", web::get().to(shares))
        .route("/api/v1/library/shares", web::post().to(create_share))
        .route(
            "/api/v1/library/shares/{id}",
            web::delete().to(revoke_share),
        )
        .route("/api/v1/library/export", web::get().to(export))
        .route("/api/v1/library/import", web::post().to(import));
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Ids {
    pub ids: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MoveRequest {
    pub ids: Vec<String>,
    /// The target folder's id; null or absent takes the results out of every folder.
    pub folder: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FavoriteRequest {
    pub favorite: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TagsRequest {
    pub tags: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewFolder {
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Serialize)]
pub struct Count {
    pub count: usize,
}

async fn list(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    q: Query<ListQuery>,
) -> AppResult<Reply<ResultPage>> {
    Ok(Reply::ok(
        "msg.ok",
        service::list(&state, &user.0, &q, lang).await?,
    ))
}

async fn get(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<Reply<ResultView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::get(&state, &user.0, &id, lang).await?,
    ))
}

async fn delete_one(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<Count>> {
    let count = service::delete(&state, &user.0, &[id.into_inner()]).await?;
    Ok(Reply::ok("msg.deleted", Count { count }))
}

async fn delete_many(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<Ids>,
) -> AppResult<Reply<Count>> {
    let count = service::delete(&state, &user.0, &body.ids).await?;
    Ok(Reply::ok("msg.deleted", Count { count }))
}

async fn move_results(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<MoveRequest>,
) -> AppResult<Reply<Count>> {
    let count = service::move_results(&state, &user.0, &body.ids, body.folder.as_deref()).await?;
    Ok(Reply::ok("msg.moved", Count { count }))
}

async fn favorite(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
    body: Json<FavoriteRequest>,
) -> AppResult<Reply<ResultView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::set_favorite(&state, &user.0, &id, body.favorite, lang).await?,
    ))
}

async fn tags(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    id: Path<String>,
    body: Json<TagsRequest>,
) -> AppResult<Reply<ResultView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::set_tags(&state, &user.0, &id, body.into_inner().tags, lang).await?,
    ))
}

async fn all_tags(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<String>>> {
    Ok(Reply::ok("msg.ok", service::tags(&state, &user.0).await?))
}

async fn tree(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<FolderView>>> {
    Ok(Reply::ok("msg.ok", service::tree(&state, &user.0).await?))
}

async fn create_folder(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<NewFolder>,
) -> AppResult<Reply<FolderView>> {
    let folder =
        service::create_folder(&state, &user.0, &body.name, body.parent.as_deref()).await?;
    Ok(Reply::created("msg.folder_created", folder))
}

async fn change_folder(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<FolderChange>,
) -> AppResult<Reply<()>> {
    service::change_folder(&state, &user.0, &id, body.into_inner()).await?;
    Ok(Reply::message("msg.saved"))
}

async fn delete_folder(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::delete_folder(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.folder_deleted"))
}

async fn shares(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<ShareView>>> {
    Ok(Reply::ok("msg.ok", service::shares(&state, &user.0).await?))
}

async fn create_share(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<NewShareRequest>,
) -> AppResult<Reply<ShareView>> {
    Ok(Reply::created(
        "msg.share_created",
        service::create_share(&state, &user.0, body.into_inner()).await?,
    ))
}

async fn revoke_share(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::revoke_share(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.share_revoked"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExportQuery {
    /// Comma-separated result ids, or
    pub ids: String,
    /// a folder id (with its subfolders).
    pub folder: Option<String>,
}

/// Streams the ZIP; shared by the API and the page (which differ only in how people log in).
pub async fn export_response(
    state: Data<AppState>,
    user: &crate::users::model::User,
    q: ExportQuery,
) -> AppResult<actix_web::HttpResponse> {
    let ids: Vec<String> = q
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let items = archive::plan(&state, user, ids, q.folder.filter(|f| !f.is_empty())).await?;
    let name = format!(
        "PictureDeck_{}.zip",
        chrono::Utc::now().format("%Y%m%d-%H%M")
    );
    Ok(actix_web::HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "Content-Disposition",
            crate::storage::names::content_disposition("attachment", &name),
        ))
        .streaming(archive::stream(state.into_inner(), items)))
}

async fn export(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<ExportQuery>,
) -> AppResult<actix_web::HttpResponse> {
    export_response(state, &user.0, q.into_inner()).await
}

/// Writes the request body to a temporary file in the data dir, chunk by chunk. The file
/// deletes itself when the returned path drops, also when the client goes away mid-upload.
pub async fn save_body(state: &AppState, mut body: web::Payload) -> AppResult<tempfile::TempPath> {
    use futures_util::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let dir = archive::temp_dir(&state.config.data_dir());
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| AppError::internal(e, "tmp dir"))?;
    let (file, path) = tempfile::Builder::new()
        .prefix("import-")
        .suffix(".zip")
        .tempfile_in(&dir)
        .map_err(|e| AppError::internal(e, "tmp file"))?
        .into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let limit = state.config.limits.import_bytes;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| AppError::bad_request("err.bad_request"))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(archive::too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| AppError::internal(e, "tmp write"))?;
    }
    file.flush()
        .await
        .map_err(|e| AppError::internal(e, "tmp write"))?;
    Ok(path)
}

/// Imports the archive in the body; its temporary copy goes whatever happens.
pub async fn import_body(
    state: &AppState,
    user: &crate::users::model::User,
    body: web::Payload,
) -> AppResult<archive::Imported> {
    // Before a byte of the body is stored.
    let _slot = state
        .imports
        .take(user.id, state.config.limits.imports_per_user)?;
    let path = save_body(state, body).await?;
    archive::import(state, user, path.to_path_buf()).await
}

async fn import(
    state: Data<AppState>,
    user: ApiUser,
    body: web::Payload,
) -> AppResult<Reply<archive::Imported>> {
    Ok(Reply::ok(
        "msg.imported",
        import_body(&state, &user.0, body).await?,
    ))
}
