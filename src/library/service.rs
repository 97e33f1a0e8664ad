//! Library rules (seed 3.5): only the owner sees or changes a result or folder (another
//! user's id answers as if it did not exist); folder names are unique among siblings; a
//! folder never moves into itself or below itself; deleting frees the stored files.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use chrono::{NaiveDate, Utc};
use diesel::Connection;
use serde::Deserialize;

use super::model::{
    FolderFilter, FolderRef, FolderView, ListQuery, NewNode, NewShare, Node, ResultPage,
    ResultView, Share, ShareEntry, ShareView, FOLDER, MAX_FOLDER_NAME, MAX_TAGS, MAX_TAG_CHARS,
};
use super::store::{self, Filter};
use crate::app::AppState;
use crate::catalogue::model::CostView;
use crate::error::{AppError, AppResult};
use crate::generation::model::{Generation, Kind};
use crate::generation::service::view;
use crate::generation::store::with_user_lock;
use crate::i18n::Lang;
use crate::users::model::User;

pub const PAGE_SIZE: i64 = 40;
/// Bulk operations take at most this many ids at once.
pub const MAX_BATCH: usize = 500;

fn bad(field: &'static str) -> AppError {
    AppError::invalid(field, "err.library.filter")
}

fn day(s: &str, field: &'static str) -> AppResult<chrono::NaiveDateTime> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| bad(field))
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Turns the query string into SQL filters, resolving public ids to our own rows.
async fn filter(state: &AppState, user: &User, q: &ListQuery) -> AppResult<Filter> {
    let mut f = Filter {
        favorite: q.favorite,
        ..Default::default()
    };
    if let Some(k) = blank(&q.q) {
        if k.chars().count() > 200 {
            return Err(bad("q"));
        }
        f.keyword = Some(k.to_string());
    }
    if let Some(kind) = blank(&q.kind) {
        f.kind = Some(
            Kind::parse(kind)
                .ok_or_else(|| bad("type"))?
                .as_str()
                .to_string(),
        );
    }
    if let Some(status) = blank(&q.status) {
        if !matches!(
            status,
            "queued" | "processing" | "completed" | "failed" | "canceled" | "flagged"
        ) {
            return Err(bad("status"));
        }
        f.status = Some(status.to_string());
    }
    if let Some(model) = blank(&q.model) {
        match model.split_once('/') {
            Some((provider, model)) => {
                f.provider = Some(provider.to_string());
                f.model = Some(model.to_string());
            }
            None => f.provider = Some(model.to_string()),
        }
    }
    if let Some(from) = blank(&q.from) {
        f.from = Some(day(from, "from")?);
    }
    if let Some(to) = blank(&q.to) {
        f.until = Some(day(to, "to")? + chrono::Duration::days(1));
    }
    f.oldest_first = match blank(&q.order) {
        None | Some("newest") => false,
        Some("oldest") => true,
        Some(_) => return Err(bad("order")),
    };
    f.tag = blank(&q.tag).map(str::to_string);
    let folder = match blank(&q.folder) {
        None => FolderFilter::Any,
        Some("unfiled") => FolderFilter::Unfiled,
        Some(id) => FolderFilter::In(id.to_string()),
    };
    let (user_id, before) = (user.id, blank(&q.before).map(str::to_string));
    let (folder, after) = state
        .db
        .run(move |conn| {
            let folder = match folder {
                FolderFilter::Any => None,
                FolderFilter::Unfiled => Some(None),
                FolderFilter::In(uuid) => Some(Some(
                    store::folder_by_uuid(conn, user_id, &uuid)?
                        .ok_or_else(AppError::not_found)?
                        .id,
                )),
            };
            let after = match before {
                Some(uuid) => Some(
                    store::owned_results(conn, user_id, &[uuid])?
                        .first()
                        .map(|g| (g.created_at, g.id))
                        // A cursor is a result of yours, like a folder filter is a folder.
                        .ok_or_else(AppError::not_found)?,
                ),
                None => None,
            };
            Ok((folder, after))
        })
        .await?;
    f.folder = folder;
    f.after = after;
    Ok(f)
}

/// Library views of tasks: tags and folder looked up for the whole page at once.
async fn views(state: &AppState, rows: Vec<Generation>, lang: Lang) -> AppResult<Vec<ResultView>> {
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let (tags, homes, folder_names, mut charges) = state
        .db
        .run(move |conn| {
            let homes = store::folders_of(conn, &ids)?;
            let folder_ids: Vec<i64> = homes.iter().map(|(_, f)| *f).collect();
            Ok((
                store::tags_of(conn, &ids)?,
                homes,
                store::folder_names(conn, &folder_ids)?,
                crate::catalogue::store::charges_of(conn, &ids)?,
            ))
        })
        .await?;
    let folder_names: HashMap<i64, FolderRef> = folder_names
        .into_iter()
        .map(|(id, uuid, name)| (id, FolderRef { id: uuid, name }))
        .collect();
    let labels: HashMap<String, String> = crate::generation::service::models(state)
        .into_iter()
        .map(|m| (m.id, m.label))
        .collect();
    let homes: HashMap<i64, i64> = homes.into_iter().collect();
    Ok(rows
        .iter()
        .map(|g| ResultView {
            task: view(state, g, None, lang),
            favorite: g.favorite != 0,
            tags: tags
                .iter()
                .filter(|(id, _)| *id == g.id)
                .map(|(_, t)| t.clone())
                .collect(),
            folder: homes.get(&g.id).and_then(|f| folder_names.get(f)).cloned(),
            model_label: {
                let id = format!("{}/{}", g.provider, g.model);
                labels.get(&id).cloned().unwrap_or(id)
            },
            cost: charges
                .remove(&g.id)
                .map(|(amount, currency, refunded)| CostView::of(amount, currency, refunded)),
        })
        .collect())
}

pub async fn list(
    state: &AppState,
    user: &User,
    q: &ListQuery,
    lang: Lang,
) -> AppResult<ResultPage> {
    let f = filter(state, user, q).await?;
    let user_id = user.id;
    let rows = state
        .db
        .run(move |conn| Ok(store::list(conn, user_id, &f, PAGE_SIZE + 1)?))
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let rows: Vec<Generation> = rows.into_iter().take(PAGE_SIZE as usize).collect();
    let results = views(state, rows, lang).await?;
    let next = if more {
        results.last().map(|r| r.task.task_id.clone())
    } else {
        None
    };
    Ok(ResultPage { results, next })
}

/// The results before and after `id` in the list `q` describes (its filters and order), for
/// 上一张/下一张 on the detail page: (previous, next).
pub async fn neighbours(
    state: &AppState,
    user: &User,
    id: &str,
    q: &ListQuery,
) -> AppResult<(Option<String>, Option<String>)> {
    let newest_first = !matches!(blank(&q.order), Some("oldest"));
    let mut ahead = q.clone();
    ahead.before = Some(id.to_string());
    let mut back = ahead.clone();
    back.order = Some(if newest_first { "oldest" } else { "newest" }.to_string());
    let (next, previous) = (
        filter(state, user, &ahead).await?,
        filter(state, user, &back).await?,
    );
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            let first = |conn: &mut crate::db::DbConn, f: &Filter| -> AppResult<Option<String>> {
                Ok(store::list(conn, user_id, f, 1)?
                    .into_iter()
                    .next()
                    .map(|g| g.uuid))
            };
            Ok((first(conn, &previous)?, first(conn, &next)?))
        })
        .await
}

async fn owned(state: &AppState, user: &User, ids: &[String]) -> AppResult<Vec<Generation>> {
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(AppError::invalid("ids", "err.library.ids"));
    }
    let (user_id, wanted) = (user.id, ids.to_vec());
    let found = state
        .db
        .run(move |conn| Ok(store::owned_results(conn, user_id, &wanted)?))
        .await?;
    // One missing id (deleted, or someone else's) fails the whole request: nothing half-done.
    if found.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
        return Err(AppError::not_found());
    }
    Ok(found)
}

pub async fn get(state: &AppState, user: &User, id: &str, lang: Lang) -> AppResult<ResultView> {
    let rows = owned(state, user, &[id.to_string()]).await?;
    views(state, rows, lang)
        .await?
        .into_iter()
        .next()
        .ok_or_else(AppError::not_found)
}

/// Deletes results for good (seed 3.5.3.2): rows marked deleted, files removed from storage.
pub async fn delete(state: &AppState, user: &User, ids: &[String]) -> AppResult<usize> {
    let rows = owned(state, user, ids).await?;
    let keys: Vec<String> = rows
        .iter()
        .flat_map(|g| [g.physical_path.clone(), g.thumb_path.clone()])
        .flatten()
        .collect();
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let count = ids.len();
    state
        .db
        .run(move |conn| {
            Ok(conn.transaction(|conn| store::delete_results(conn, &ids, Utc::now().naive_utc()))?)
        })
        .await?;
    // A deleted result's work leaves the gallery: visitors' stored pages go too.
    state.gallery_pages.changed();
    for key in keys {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::warn!(%key, "stored file of a deleted result not removed: {e:#}");
        }
    }
    Ok(count)
}

pub async fn set_favorite(
    state: &AppState,
    user: &User,
    id: &str,
    favorite: bool,
    lang: Lang,
) -> AppResult<ResultView> {
    let row = owned(state, user, &[id.to_string()]).await?.remove(0);
    let gid = row.id;
    state
        .db
        .run(move |conn| Ok(store::set_favorite(conn, gid, favorite)?))
        .await?;
    get(state, user, id, lang).await
}

/// Tags as people typed them: trimmed, without repeats, at most `MAX_TAGS` of
/// `MAX_TAG_CHARS` each (the gallery's tags follow the same rule).
pub fn clean_tags(tags: Vec<String>) -> AppResult<Vec<String>> {
    let mut clean: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_string();
        if tag.is_empty()
            || tag.chars().count() > MAX_TAG_CHARS
            || tag.chars().any(char::is_control)
        {
            return Err(AppError::invalid("tags", "err.library.tag"));
        }
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    if clean.len() > MAX_TAGS {
        return Err(AppError::invalid("tags", "err.library.tag"));
    }
    Ok(clean)
}

pub async fn set_tags(
    state: &AppState,
    user: &User,
    id: &str,
    tags: Vec<String>,
    lang: Lang,
) -> AppResult<ResultView> {
    let clean = clean_tags(tags)?;
    let row = owned(state, user, &[id.to_string()]).await?.remove(0);
    let (gid, user_id) = (row.id, user.id);
    state
        .db
        .run(move |conn| Ok(conn.transaction(|conn| store::set_tags(conn, user_id, gid, &clean))?))
        .await?;
    get(state, user, id, lang).await
}

pub async fn tags(state: &AppState, user: &User) -> AppResult<Vec<String>> {
    let user_id = user.id;
    state
        .db
        .run(move |conn| Ok(store::all_tags(conn, user_id)?))
        .await
}

/// Moves results into a folder, or out of every folder with `None` (seed 3.5.3.3 B).
pub async fn move_results(
    state: &AppState,
    user: &User,
    ids: &[String],
    folder: Option<&str>,
) -> AppResult<usize> {
    let rows = owned(state, user, ids).await?;
    let (user_id, folder) = (user.id, folder.map(str::to_string));
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let count = ids.len();
    state
        .db
        .run(move |conn| {
            with_user_lock(conn, user_id, |conn| {
                let target = match folder {
                    Some(uuid) => Some(
                        store::folder_by_uuid(conn, user_id, &uuid)?
                            .ok_or_else(AppError::not_found)?
                            .id,
                    ),
                    None => None,
                };
                store::file_results(conn, user_id, &ids, target, Utc::now().naive_utc())?;
                Ok(())
            })
        })
        .await?;
    Ok(count)
}

fn folder_name(name: &str) -> AppResult<String> {
    let name = name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_FOLDER_NAME
        || name.chars().any(char::is_control)
    {
        return Err(AppError::invalid("name", "err.library.folder_name"));
    }
    Ok(name)
}

/// The body names a parent folder the caller does not have: HTTP 422 (the path's own folder
/// missing is the 404), with the seed's code 400 for bad parameters.
fn no_parent() -> AppError {
    AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 400, "err.not_found").on_field("parent")
}

fn name_taken() -> AppError {
    AppError::client(StatusCode::CONFLICT, 409, "err.library.folder_taken").on_field("name")
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct FolderChange {
    #[schema(schema_with = new_folder_name_schema)]
    pub name: Option<String>,
    /// The new parent folder's id; "" or "root" for the top level; absent to stay.
    pub parent: Option<String>,
}

/// Seed 3.5.3.3 A: a new folder, its name not empty and unique among its siblings.
pub async fn create_folder(
    state: &AppState,
    user: &User,
    name: &str,
    parent: Option<&str>,
) -> AppResult<FolderView> {
    let name = folder_name(name)?;
    let (user_id, parent) = (
        user.id,
        parent
            .filter(|p| !p.is_empty() && *p != "root")
            .map(str::to_string),
    );
    let node = state
        .db
        .run(move |conn| {
            with_user_lock(conn, user_id, |conn| {
                let parent_id = match parent {
                    Some(uuid) => Some(
                        store::folder_by_uuid(conn, user_id, &uuid)?
                            .ok_or_else(no_parent)?
                            .id,
                    ),
                    None => None,
                };
                if store::sibling_named(conn, user_id, parent_id, &name)?.is_some() {
                    return Err(name_taken());
                }
                let now = Utc::now().naive_utc();
                let uuid = uuid::Uuid::new_v4().to_string();
                let row = NewNode {
                    uuid: &uuid,
                    user_id,
                    parent_id,
                    parent_key: parent_id.unwrap_or(0),
                    name: &name,
                    node_type: FOLDER,
                    generation_id: None,
                    created_at: now,
                    updated_at: now,
                };
                store::insert_node(conn, &row).map_err(|e| {
                    if is_unique_violation(&e) {
                        name_taken()
                    } else {
                        e.into()
                    }
                })
            })
        })
        .await?;
    let parent = match node.parent_id {
        Some(_) => folder_uuid_of(state, user, node.parent_id).await?,
        None => None,
    };
    Ok(FolderView {
        id: node.uuid,
        name: node.name,
        parent,
        count: 0,
        children: Vec::new(),
    })
}

async fn folder_uuid_of(
    state: &AppState,
    user: &User,
    id: Option<i64>,
) -> AppResult<Option<String>> {
    let user_id = user.id;
    let all = state
        .db
        .run(move |conn| Ok(store::folders(conn, user_id)?))
        .await?;
    Ok(id
        .and_then(|id| all.into_iter().find(|n| n.id == id))
        .map(|n| n.uuid))
}

/// Renames and/or moves a folder; never into itself or one of its descendants.
pub async fn change_folder(
    state: &AppState,
    user: &User,
    id: &str,
    change: FolderChange,
) -> AppResult<()> {
    let new_name = change.name.as_deref().map(folder_name).transpose()?;
    let (user_id, uuid) = (user.id, id.to_string());
    state
        .db
        .run(move |conn| {
            // The user's lock: on PostgreSQL two concurrent moves (A into B, B into A) would
            // each pass the cycle check on what they read and together make a cycle.
            with_user_lock(conn, user_id, |conn| {
                let folders = store::folders(conn, user_id)?;
                let node = folders
                    .iter()
                    .find(|n| n.uuid == uuid)
                    .ok_or_else(AppError::not_found)?;
                let parent = match change.parent.as_deref() {
                    None => node.parent_id,
                    Some("" | "root") => None,
                    Some(target) => {
                        let target = folders
                            .iter()
                            .find(|n| n.uuid == target)
                            .ok_or_else(no_parent)?;
                        // Walk up from the new parent: meeting the folder itself means a cycle.
                        let mut at = Some(target.id);
                        while let Some(id) = at {
                            if id == node.id {
                                return Err(AppError::invalid(
                                    "parent",
                                    "err.library.folder_cycle",
                                ));
                            }
                            at = folders
                                .iter()
                                .find(|n| n.id == id)
                                .and_then(|n| n.parent_id);
                        }
                        Some(target.id)
                    }
                };
                let name = new_name.unwrap_or_else(|| node.name.clone());
                if let Some(other) = store::sibling_named(conn, user_id, parent, &name)? {
                    if other.id != node.id {
                        return Err(name_taken());
                    }
                }
                store::update_folder(conn, node.id, &name, parent, Utc::now().naive_utc()).map_err(
                    |e| {
                        if is_unique_violation(&e) {
                            name_taken()
                        } else {
                            e.into()
                        }
                    },
                )
            })
        })
        .await
}

/// Seed 3.5.3.3 C: the folder and its subfolders go; their results return to unfiled.
pub async fn delete_folder(state: &AppState, user: &User, id: &str) -> AppResult<()> {
    let (user_id, uuid) = (user.id, id.to_string());
    state
        .db
        .run(move |conn| {
            with_user_lock(conn, user_id, |conn| {
                let node =
                    store::folder_by_uuid(conn, user_id, &uuid)?.ok_or_else(AppError::not_found)?;
                Ok(store::delete_folder(conn, node.id)?)
            })
        })
        .await
}

/// The user's folder tree with the number of results directly in each folder.
pub async fn tree(state: &AppState, user: &User) -> AppResult<Vec<FolderView>> {
    let user_id = user.id;
    let (nodes, counts) = state
        .db
        .run(move |conn| {
            Ok((
                store::folders(conn, user_id)?,
                store::folder_counts(conn, user_id)?,
            ))
        })
        .await?;
    let counts: HashMap<i64, i64> = counts.into_iter().collect();
    let by_id: HashMap<i64, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
    let mut children: HashMap<Option<i64>, Vec<&Node>> = HashMap::new();
    for n in &nodes {
        children.entry(n.parent_id).or_default().push(n);
    }
    fn build(
        parent: Option<i64>,
        children: &HashMap<Option<i64>, Vec<&Node>>,
        counts: &HashMap<i64, i64>,
        by_id: &HashMap<i64, &Node>,
    ) -> Vec<FolderView> {
        children
            .get(&parent)
            .map(|list| {
                list.iter()
                    .map(|n| FolderView {
                        id: n.uuid.clone(),
                        name: n.name.clone(),
                        parent: n
                            .parent_id
                            .and_then(|p| by_id.get(&p))
                            .map(|p| p.uuid.clone()),
                        count: counts.get(&n.id).copied().unwrap_or(0),
                        children: build(Some(n.id), children, counts, by_id),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    Ok(build(None, &children, &counts, &by_id))
}

// ---- share links ------------------------------------------------------------------------

/// Exactly one of `result` and `folder`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewShareRequest {
    /// A result's id, or
    pub result: Option<String>,
    /// a folder's id (its results are shared, not its subfolders).
    pub folder: Option<String>,
    /// Hours until the link stops working; absent: never.
    #[serde(deserialize_with = "crate::json::whole")]
    pub expires_in_hours: Option<i64>,
    /// Visitors must type it; absent or empty: no password.
    pub password: Option<String>,
}

/// The document's schema of a share request, with the limits `create_share` checks.
impl utoipa::PartialSchema for NewShareRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::web::openapi::or_null;
        use utoipa::openapi::schema::{AllOfBuilder, OneOfBuilder};
        use utoipa::openapi::{ObjectBuilder, Type};
        let id = |what: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(what))
        };
        let fields = ObjectBuilder::new()
            .property("result", id("A result's id, or"))
            .property(
                "folder",
                id("a folder's id (its results are shared, not its subfolders)"),
            )
            .property(
                "expires_in_hours",
                ObjectBuilder::from(or_null(share_hours_schema()))
                    .description(Some("Hours until the link stops working; absent or null: never")),
            )
            .property(
                "password",
                ObjectBuilder::from(or_null(share_password_schema()))
                    .description(Some("Visitors must type it; absent, null or empty: no password")),
            )
            .examples([serde_json::json!({"result": "0b6f2f7e-6a51-4c39-9d0e-2f1f9f3c5a10", "expires_in_hours": 72})]);
        let exactly_one = OneOfBuilder::new()
            .item(ObjectBuilder::new().required("result"))
            .item(ObjectBuilder::new().required("folder"));
        AllOfBuilder::new()
            .description(Some("Exactly one of `result` and `folder`."))
            .item(fields)
            .item(exactly_one)
            .into()
    }
}

impl utoipa::ToSchema for NewShareRequest {}

/// Longest a share link may live, in hours (a year).
pub const MAX_SHARE_HOURS: i64 = 24 * 365;

fn share_hours_schema() -> utoipa::openapi::Object {
    crate::web::openapi::integer(1, MAX_SHARE_HOURS)
}

fn share_password_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text(0, crate::users::service::PASSWORD_MAX)
}

fn new_folder_name_schema() -> utoipa::openapi::Object {
    crate::web::openapi::or_null(folder_name_schema())
}

pub fn folder_name_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text_matching(1, MAX_FOLDER_NAME, crate::web::openapi::VISIBLE_LINE)
}

fn share_view(share: &Share, target: String) -> ShareView {
    ShareView {
        id: share.uuid.clone(),
        url: format!("/s/{}", share.token),
        kind: if share.generation_id.is_some() {
            "result".into()
        } else {
            "folder".into()
        },
        target,
        has_password: share.password_hash.is_some(),
        expires_at: share.expires_at.map(crate::users::model::rfc3339),
        views: share.views,
        created_at: crate::users::model::rfc3339(share.created_at),
        failed_attempts: share.failed_attempts,
        locked_until: share
            .locked_until
            .filter(|until| *until > Utc::now().naive_utc())
            .map(crate::users::model::rfc3339),
    }
}

/// Share tokens are 24 random bytes in URL-safe base64: exactly 32 such characters.
pub fn is_share_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Wrong passwords (from any address) before a share locks, and for how long.
pub const SHARE_FAILURES_BEFORE_LOCK: i32 = 20;
pub const SHARE_LOCK_MINUTES: i64 = 15;
/// Password tries per client address per share per minute.
const SHARE_TRIES_PER_MINUTE: u32 = 10;

fn new_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn create_share(
    state: &AppState,
    user: &User,
    req: NewShareRequest,
) -> AppResult<ShareView> {
    let expires = match req.expires_in_hours {
        Some(h) if !(1..=MAX_SHARE_HOURS).contains(&h) => {
            return Err(AppError::invalid(
                "expires_in_hours",
                "err.library.share_expiry",
            ))
        }
        Some(h) => Some(Utc::now().naive_utc() + chrono::Duration::hours(h)),
        None => None,
    };
    let password = req.password.filter(|p| !p.is_empty());
    if password
        .as_ref()
        .is_some_and(|p| p.chars().count() > crate::users::service::PASSWORD_MAX)
    {
        return Err(AppError::invalid("password", "err.password_long"));
    }
    let hash = match password {
        Some(p) => Some(state.passwords.hash(&p).await?),
        None => None,
    };
    let user_id = user.id;
    let (result, folder) = (req.result, req.folder);
    state
        .db
        .run(move |conn| {
            let (generation_id, collection_id, target) = match (result, folder) {
                (Some(r), None) => {
                    let g = store::owned_results(conn, user_id, std::slice::from_ref(&r))?
                        .into_iter()
                        .next()
                        .ok_or_else(AppError::not_found)?;
                    (Some(g.id), None, r)
                }
                (None, Some(f)) => {
                    let n = store::folder_by_uuid(conn, user_id, &f)?
                        .ok_or_else(AppError::not_found)?;
                    (None, Some(n.id), f)
                }
                _ => return Err(AppError::invalid("result", "err.library.share_target")),
            };
            let (uuid, token) = (uuid::Uuid::new_v4().to_string(), new_token());
            let row = NewShare {
                uuid: &uuid,
                token: &token,
                user_id,
                generation_id,
                collection_id,
                password_hash: hash.as_deref(),
                expires_at: expires,
                views: 0,
                created_at: Utc::now().naive_utc(),
            };
            let share = store::insert_share(conn, &row)?;
            Ok(share_view(&share, target))
        })
        .await
}

pub async fn shares(state: &AppState, user: &User) -> AppResult<Vec<ShareView>> {
    Ok(share_entries(state, user)
        .await?
        .into_iter()
        .map(|e| e.share)
        .collect())
}

/// The owner's live share links, newest first, each with what it shares by name; for the
/// shares page, where a locked or expired link says so.
pub async fn share_entries(state: &AppState, user: &User) -> AppResult<Vec<ShareEntry>> {
    let user_id = user.id;
    let now = Utc::now().naive_utc();
    state
        .db
        .run(move |conn| {
            let list = store::shares_of(conn, user_id)?;
            let mut out = Vec::with_capacity(list.len());
            for s in list {
                let target = match (s.generation_id, s.collection_id) {
                    (Some(g), _) => store::result_by_id(conn, g)?.map(|g| {
                        let url = format!("/library/{}", g.uuid);
                        (g.uuid, g.prompt.unwrap_or_default(), url)
                    }),
                    (_, Some(c)) => store::folder_by_id(conn, c)?.map(|n| {
                        let url = format!("/library?folder={}", n.uuid);
                        (n.uuid, n.name, url)
                    }),
                    _ => None,
                };
                if let Some((uuid, label, target_url)) = target {
                    out.push(ShareEntry {
                        expired: s.expires_at.is_some_and(|e| e <= now),
                        share: share_view(&s, uuid),
                        label,
                        target_url,
                    });
                }
            }
            Ok(out)
        })
        .await
}

/// How many of the owner's share links are locked by wrong passwords now (the library says so).
pub async fn locked_shares(state: &AppState, user: &User) -> AppResult<i64> {
    let user_id = user.id;
    state
        .db
        .run(move |conn| Ok(store::locked_shares(conn, user_id, Utc::now().naive_utc())?))
        .await
}

pub async fn revoke_share(state: &AppState, user: &User, id: &str) -> AppResult<()> {
    let (user_id, id) = (user.id, id.to_string());
    let done = state
        .db
        .run(move |conn| {
            Ok(store::revoke_share(
                conn,
                user_id,
                &id,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
    if done {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// What a visitor of a share link may see.
pub enum Shared {
    /// The link needs its password first.
    Locked,
    Open {
        title: Option<String>,
        results: Vec<crate::generation::model::TaskView>,
    },
}

/// A live share by token: well-formed, not revoked, not expired, its owner not banned.
async fn live_share(state: &AppState, token: &str) -> AppResult<Share> {
    let gone = || AppError::client(StatusCode::NOT_FOUND, 404, "err.library.share_gone");
    // A token of the wrong shape costs no query and no limiter key.
    if !is_share_token(token) {
        return Err(gone());
    }
    let token = token.to_string();
    let share = state
        .db
        .run(move |conn| {
            let Some(share) = store::share_by_token(conn, &token)? else {
                return Ok(None);
            };
            // A ban hides the owner's links at once; lifting it brings them back.
            if crate::users::store::is_banned(conn, share.user_id)? {
                return Ok(None);
            }
            Ok(Some(share))
        })
        .await?
        .filter(|s| {
            s.revoked_at.is_none() && s.expires_at.is_none_or(|e| e > Utc::now().naive_utc())
        })
        .ok_or_else(gone)?;
    Ok(share)
}

/// Proof that this browser typed the password of this share.
pub fn unlock_proof(state: &AppState, token: &str) -> String {
    crate::storage::sign(&state.secret, &format!("share:{token}"), 0)
        .rsplit("sig=")
        .next()
        .unwrap_or_default()
        .to_string()
}

pub async fn open_share(
    state: &AppState,
    token: &str,
    proof: Option<&str>,
    lang: Lang,
) -> AppResult<Shared> {
    let share = live_share(state, token).await?;
    if share.password_hash.is_some() && proof != Some(unlock_proof(state, token).as_str()) {
        return Ok(Shared::Locked);
    }
    let s = share.clone();
    let (title, rows) = state
        .db
        .run(move |conn| {
            store::count_view(conn, s.id)?;
            Ok(match (s.generation_id, s.collection_id) {
                (Some(g), _) => (None, store::result_by_id(conn, g)?.into_iter().collect()),
                (_, Some(c)) => {
                    let folder = store::folder_by_id(conn, c)?.ok_or_else(|| {
                        AppError::client(StatusCode::NOT_FOUND, 404, "err.library.share_gone")
                    })?;
                    (Some(folder.name), store::results_in(conn, c, 500)?)
                }
                _ => (None, Vec::new()),
            })
        })
        .await?;
    let results = rows
        .iter()
        .filter(|g| g.status == "completed")
        .map(|g| view(state, g, None, lang))
        .collect::<Vec<_>>();
    if results.is_empty() && title.is_none() {
        return Err(AppError::client(
            StatusCode::NOT_FOUND,
            404,
            "err.library.share_gone",
        ));
    }
    Ok(Shared::Open { title, results })
}

/// Checks a share's password; Ok(proof) to keep in a cookie. Limited per client and share,
/// and wrong passwords from all clients together lock the share for a while.
pub async fn unlock_share(
    state: &AppState,
    token: &str,
    password: &str,
    ip: &str,
) -> AppResult<String> {
    let share = live_share(state, token).await?;
    state
        .limiter
        .hit(
            &format!("share:{}:{}", crate::ratelimit::ip_key(ip), share.id),
            SHARE_TRIES_PER_MINUTE,
            std::time::Duration::from_secs(60),
        )
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let Some(hash) = share.password_hash else {
        return Ok(unlock_proof(state, token));
    };
    let now = Utc::now().naive_utc();
    if let Some(until) = share.locked_until.filter(|u| *u > now) {
        return Err(AppError::RateLimited {
            retry_after: (until - now).num_seconds().max(1) as u64,
        });
    }
    let (id, owner, failed) = (share.id, share.user_id, share.failed_attempts);
    if state.passwords.verify(password, Some(hash)).await? {
        if failed > 0 {
            state
                .db
                .run(move |conn| Ok(store::clear_share_failures(conn, id)?))
                .await?;
        }
        return Ok(unlock_proof(state, token));
    }
    let (ip, uuid) = (ip.to_string(), share.uuid.clone());
    state
        .db
        .run(move |conn| {
            let until = now + chrono::Duration::minutes(SHARE_LOCK_MINUTES);
            if store::count_share_failure(conn, id, SHARE_FAILURES_BEFORE_LOCK, until)? {
                // The owner's audit trail says when and from where the guessing came.
                let owner = Some(crate::users::model::UserId(owner));
                crate::audit::record(conn, owner, "share_locked", Some(&uuid), Some(&ip))?;
            }
            Ok(())
        })
        .await?;
    Err(
        AppError::client(StatusCode::UNAUTHORIZED, 401, "err.library.share_password")
            .on_field("password"),
    )
}
