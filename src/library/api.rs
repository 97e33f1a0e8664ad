//! JSON endpoints of the library under /api/v1/library.

use actix_web::web::{self, Data, Path, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::archive;
use super::model::{FolderView, ListQuery, ResultPage, ResultView, ShareView};
use super::service::{self, FolderChange, NewShareRequest};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Envelope, ErrorData, NoData, Reply};
use crate::i18n::Lang;
use crate::json::Json;
use crate::web::auth::ApiUser;
use crate::web::openapi::{
    route, text_matching, Binary, JsonBodyErrors, SignedInErrors, VISIBLE_LINE,
};

#[derive(OpenApi)]
#[openapi(
    components(schemas(
        super::model::Order,
        crate::generation::model::Kind,
        crate::generation::model::TaskStatus
    )),
    paths(
        list,
        delete_many,
        move_results,
        get,
        delete_one,
        favorite,
        tags,
        all_tags,
        tree,
        create_folder,
        change_folder,
        delete_folder,
        shares,
        create_share,
        revoke_share,
        export,
        import
    )
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_list, list);
    route(cfg, __path_delete_many, delete_many);
    route(cfg, __path_move_results, move_results);
    route(cfg, __path_get, get);
    route(cfg, __path_delete_one, delete_one);
    route(cfg, __path_favorite, favorite);
    route(cfg, __path_tags, tags);
    route(cfg, __path_all_tags, all_tags);
    route(cfg, __path_tree, tree);
    route(cfg, __path_create_folder, create_folder);
    route(cfg, __path_change_folder, change_folder);
    route(cfg, __path_delete_folder, delete_folder);
    route(cfg, __path_shares, shares);
    route(cfg, __path_create_share, create_share);
    route(cfg, __path_revoke_share, revoke_share);
    route(cfg, __path_export, export);
    route(cfg, __path_import, import);
}

fn ids_schema() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
        .min_items(Some(1))
        .max_items(Some(service::MAX_BATCH))
        .build()
}

/// A result's or a work's tags, as `library::service::clean_tags` checks them.
pub fn tags_schema() -> utoipa::openapi::Array {
    use super::model::{MAX_TAGS, MAX_TAG_CHARS};
    utoipa::openapi::ArrayBuilder::new()
        .items(text_matching(1, MAX_TAG_CHARS, VISIBLE_LINE))
        .max_items(Some(MAX_TAGS))
        .unique_items(true)
        .build()
}

/// Result ids; all or nothing: one that is not yours fails the request.
#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct Ids {
    #[schema(schema_with = ids_schema, required = true)]
    pub ids: Vec<String>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct MoveRequest {
    #[schema(schema_with = ids_schema, required = true)]
    pub ids: Vec<String>,
    /// The target folder's id; null or absent takes the results out of every folder.
    pub folder: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct FavoriteRequest {
    #[schema(required = true)]
    pub favorite: bool,
}

/// The result's tags, replacing the old ones; duplicates count once.
#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct TagsRequest {
    #[schema(schema_with = tags_schema, required = true)]
    pub tags: Vec<String>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct NewFolder {
    /// Unique among its siblings.
    #[schema(schema_with = service::folder_name_schema, required = true)]
    pub name: String,
    /// The parent folder's id; absent for the top level.
    pub parent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    pub count: usize,
}

#[utoipa::path(
    get, path = "/api/v1/library/results", tag = "library", operation_id = "list_results",
    summary = "生成记录: my results, filtered (seed 3.5)",
    description = "Newest first (or `order=oldest`), 40 a page; pass `next` as `before` for more. The keyword matches substrings of the prompt (Chinese included), case-insensitive.",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<ResultPage>),
        (status = 400, description = "code 400: a filter is invalid; `data.field` names it", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such folder of yours, or `before` is no result of yours", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    get, path = "/api/v1/library/results/{id}", tag = "library", operation_id = "get_result",
    summary = "One result with its folder, tags and favourite",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    responses(
        (status = 200, description = "code 200", body = Envelope<ResultView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/library/results/{id}", tag = "library", operation_id = "delete_result",
    summary = "Delete one result for good (seed 3.5.3.2)",
    description = "The stored files are removed; the result leaves every folder, tag and share.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<Count>),
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours", body = Envelope<ErrorData>),
    )
)]
async fn delete_one(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<Count>> {
    let count = service::delete(&state, &user.0, &[id.into_inner()]).await?;
    Ok(Reply::ok("msg.deleted", Count { count }))
}

#[utoipa::path(
    post, path = "/api/v1/library/results/delete", tag = "library", operation_id = "delete_results",
    summary = "Delete several results for good",
    description = "All or nothing: one id that is not yours fails the request.",
    security(("bearer" = [])),
    request_body = Ids,
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<Count>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: an id is not a result of yours", body = Envelope<ErrorData>),
    )
)]
async fn delete_many(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<Ids>,
) -> AppResult<Reply<Count>> {
    let count = service::delete(&state, &user.0, &body.ids).await?;
    Ok(Reply::ok("msg.deleted", Count { count }))
}

#[utoipa::path(
    post, path = "/api/v1/library/results/move", tag = "library", operation_id = "move_results",
    summary = "Move results into a folder, or out of folders (seed 3.5.3.3 B)",
    description = "`folder` null or absent takes them out of every folder.",
    security(("bearer" = [])),
    request_body = MoveRequest,
    responses(
        (status = 200, description = "code 200: moved", body = Envelope<Count>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: a result or the folder is not yours", body = Envelope<ErrorData>),
    )
)]
async fn move_results(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<MoveRequest>,
) -> AppResult<Reply<Count>> {
    let count = service::move_results(&state, &user.0, &body.ids, body.folder.as_deref()).await?;
    Ok(Reply::ok("msg.moved", Count { count }))
}

#[utoipa::path(
    put, path = "/api/v1/library/results/{id}/favorite", tag = "library", operation_id = "set_favorite",
    summary = "Favourite (收藏) or not",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    request_body = FavoriteRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<ResultView>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    put, path = "/api/v1/library/results/{id}/tags", tag = "library", operation_id = "set_tags",
    summary = "Replace a result's tags",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    request_body = TagsRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<ResultView>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    get, path = "/api/v1/library/tags", tag = "library", operation_id = "list_tags",
    summary = "My tags",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<String>>),
        SignedInErrors,
    )
)]
async fn all_tags(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<String>>> {
    Ok(Reply::ok("msg.ok", service::tags(&state, &user.0).await?))
}

#[utoipa::path(
    get, path = "/api/v1/library/folders", tag = "library", operation_id = "folder_tree",
    summary = "My folder tree with counts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<FolderView>>),
        SignedInErrors,
    )
)]
async fn tree(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<FolderView>>> {
    Ok(Reply::ok("msg.ok", service::tree(&state, &user.0).await?))
}

#[utoipa::path(
    post, path = "/api/v1/library/folders", tag = "library", operation_id = "create_folder",
    summary = "Create a folder (seed 3.5.3.3 A)",
    security(("bearer" = [])),
    request_body = NewFolder,
    responses(
        (status = 201, description = "code 201: created", body = Envelope<FolderView>,
            links(("folder" = (operation_id = "change_folder", parameters(("id" = "$response.body#/data/id")))))),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 422, description = "code 400: no such parent folder of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the name is taken there", body = Envelope<ErrorData>),
    )
)]
async fn create_folder(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<NewFolder>,
) -> AppResult<Reply<FolderView>> {
    let folder =
        service::create_folder(&state, &user.0, &body.name, body.parent.as_deref()).await?;
    Ok(Reply::created("msg.folder_created", folder))
}

#[utoipa::path(
    patch, path = "/api/v1/library/folders/{id}", tag = "library", operation_id = "change_folder",
    summary = "Rename and/or move a folder",
    description = "`parent`: a folder id, or \"\" / \"root\" for the top level; absent: stays. Never into itself or below itself.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The folder's id")),
    request_body = FolderChange,
    responses(
        (status = 200, description = "code 200: saved", body = Envelope<NoData>),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: no such folder of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the name is taken there", body = Envelope<ErrorData>),
        (status = 422, description = "code 400: no such parent folder of yours", body = Envelope<ErrorData>),
    )
)]
async fn change_folder(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<FolderChange>,
) -> AppResult<Reply<()>> {
    service::change_folder(&state, &user.0, &id, body.into_inner()).await?;
    Ok(Reply::message("msg.saved"))
}

#[utoipa::path(
    delete, path = "/api/v1/library/folders/{id}", tag = "library", operation_id = "delete_folder",
    summary = "Delete a folder (seed 3.5.3.3 C)",
    description = "Its subfolders go with it; the results in them are not deleted but return to unfiled.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The folder's id")),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<NoData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such folder of yours", body = Envelope<ErrorData>),
    )
)]
async fn delete_folder(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::delete_folder(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.folder_deleted"))
}

#[utoipa::path(
    get, path = "/api/v1/library/shares", tag = "library", operation_id = "list_shares",
    summary = "My live share links",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<ShareView>>),
        SignedInErrors,
    )
)]
async fn shares(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<Vec<ShareView>>> {
    Ok(Reply::ok("msg.ok", service::shares(&state, &user.0).await?))
}

#[utoipa::path(
    post, path = "/api/v1/library/shares", tag = "library", operation_id = "create_share",
    summary = "Share a result or a folder",
    description = "Anyone with the link opens `/s/{token}` without logging in and sees only what was shared; optional expiry and password; views are counted.",
    security(("bearer" = [])),
    request_body = NewShareRequest,
    responses(
        (status = 201, description = "code 201: created", body = Envelope<ShareView>,
            links(("revoke" = (operation_id = "revoke_share", parameters(("id" = "$response.body#/data/id")))))),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        JsonBodyErrors,
        SignedInErrors,
        (status = 404, description = "code 404: the result or folder is not yours", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: the server is busy hashing passwords; see Retry-After", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/library/shares/{id}", tag = "library", operation_id = "revoke_share",
    summary = "Revoke a share link",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The share's id")),
    responses(
        (status = 200, description = "code 200: revoked", body = Envelope<NoData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such share of yours", body = Envelope<ErrorData>),
    )
)]
async fn revoke_share(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::revoke_share(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.share_revoked"))
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
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
    let folder = q.folder.filter(|f| !f.is_empty());
    if folder.is_none() && (ids.is_empty() || ids.len() > service::MAX_BATCH) {
        return Err(AppError::invalid("ids", "err.library.ids"));
    }
    let items = archive::plan(&state, user, ids, folder).await?;
    Ok(zip_response(state, items))
}

/// Streams planned results as a ZIP download (the library's exports and a batch's).
pub fn zip_response(
    state: Data<AppState>,
    items: Vec<archive::ExportItem>,
) -> actix_web::HttpResponse {
    let name = format!(
        "PictureDeck_{}.zip",
        chrono::Utc::now().format("%Y%m%d-%H%M")
    );
    actix_web::HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "Content-Disposition",
            crate::storage::names::content_disposition("attachment", &name),
        ))
        .streaming(archive::stream(state.into_inner(), items))
}

#[utoipa::path(
    get, path = "/api/v1/library/export", tag = "library", operation_id = "export",
    summary = "Export results as a ZIP (streamed)",
    description = "The original files under files/ plus manifest.json (prompt, parameters, model, timestamps, sha256, folder path, tags).",
    security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip", body = Binary),
        (status = 400, description = "code 400: 1–500 ids, or a folder", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: a result or the folder is not yours", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    post, path = "/api/v1/library/import", tag = "library", operation_id = "import",
    summary = "Import a ZIP exported by PictureDeck",
    request_body(description = "The ZIP, as it came from export (any content type)", content((Binary = "application/octet-stream"))),
    description = "The body is the ZIP. Files whose sha256 does not match the manifest are skipped and listed; folders and tags are made again.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<archive::Imported>),
        (status = 400, description = "code 400: not a PictureDeck export", body = Envelope<ErrorData>),
        (status = 413, description = "code 413: larger than the import limit", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: an import of yours is still running", body = Envelope<ErrorData>),
        SignedInErrors,
    )
)]
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
