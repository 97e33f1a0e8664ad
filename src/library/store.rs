//! SQL for the library: filtered result lists, folders, file nodes and tags.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};

use super::model::{NewNode, NewShare, Node, Share, FILE, FOLDER};
use crate::db::schema::{collections, generation_tags, generations, shares};
use crate::db::DbConn;
use crate::generation::model::Generation;
use crate::search;
use crate::users::store::lower;

/// The filters after validation: plain values the SQL can use.
#[derive(Debug, Default)]
pub struct Filter {
    pub keyword: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Some(Some(id)): in that folder; Some(None): unfiled; None: anywhere.
    pub folder: Option<Option<i64>>,
    pub favorite: Option<bool>,
    pub tag: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub oldest_first: bool,
    /// The keyset: (created_at, id) of the previous page's last row.
    pub after: Option<(NaiveDateTime, i64)>,
}

/// `%` and `_` typed by people are literal characters, not wildcards.
pub fn like_pattern(keyword: &str) -> String {
    let escaped = keyword
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn list(
    conn: &mut DbConn,
    user_id: i64,
    f: &Filter,
    limit: i64,
) -> QueryResult<Vec<Generation>> {
    let mut query = generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(k) = &f.keyword {
        query = query.filter(
            lower(generations::prompt.assume_not_null())
                .like(like_pattern(k))
                .escape('\\'),
        );
        // The owner's entries of the index narrow, the LIKE above decides (see `search`).
        if let Some(q) = search::Query::parse(k, Some(user_id)) {
            query = match search::narrow(conn, search::Index::Results, &q)? {
                search::Narrow::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
                search::Narrow::Ids(ids) => query.filter(generations::id.eq_any(ids)),
                search::Narrow::Dense => query,
            };
        }
    }
    if let Some(kind) = &f.kind {
        query = query.filter(generations::generation_type.eq(kind.clone()));
    }
    if let Some(status) = &f.status {
        query = query.filter(generations::status.eq(status.clone()));
    }
    if let Some(provider) = &f.provider {
        query = query.filter(generations::provider.eq(provider.clone()));
    }
    if let Some(model) = &f.model {
        query = query.filter(generations::model.eq(model.clone()));
    }
    if let Some(fav) = f.favorite {
        query = query.filter(generations::favorite.eq(i32::from(fav)));
    }
    if let Some(from) = f.from {
        query = query.filter(generations::created_at.ge(from));
    }
    if let Some(until) = f.until {
        query = query.filter(generations::created_at.lt(until));
    }
    // Subqueries rather than id lists: a folder or tag may hold more results than SQLite
    // accepts bound values (32,766), and the database can use its indexes.
    match f.folder {
        Some(Some(folder)) => {
            query = query.filter(
                sql::<Bool>("generations.id IN (SELECT generation_id FROM collections WHERE node_type = 'file' AND parent_id = ")
                    .bind::<BigInt, _>(folder)
                    .sql(")"),
            );
        }
        Some(None) => {
            query = query.filter(sql::<Bool>(
                "NOT EXISTS (SELECT 1 FROM collections WHERE collections.generation_id = generations.id)",
            ));
        }
        None => {}
    }
    if let Some(tag) = &f.tag {
        query = query.filter(
            sql::<Bool>(
                "generations.id IN (SELECT generation_id FROM generation_tags WHERE user_id = ",
            )
            .bind::<BigInt, _>(user_id)
            .sql(" AND tag = ")
            .bind::<Text, _>(tag.clone())
            .sql(")"),
        );
    }
    let (at, id) = (generations::created_at, generations::id);
    // A date window usually lies in the past. Ordered by (created_at, id), the
    // (user_id, created_at, id) index hands the page out in order instead of first reading
    // every newer row. created_at rises with id, so the pages are the same as by id.
    let by_date = f.from.is_some() || f.until.is_some();
    // Rows past the keyset as a row-value comparison: written as `created_at <= ? AND
    // (created_at < ? OR id < ?)`, SQLite 3.50 sometimes skip-scans every user's rows in the
    // window and sorts them.
    let keyset_after = |op: &'static str, t: NaiveDateTime, last: i64| {
        sql::<Bool>("(generations.created_at, generations.id) ")
            .sql(op)
            .sql(" (")
            .bind::<Timestamp, _>(t)
            .sql(", ")
            .bind::<BigInt, _>(last)
            .sql(")")
    };
    query = match (by_date, f.oldest_first, f.after) {
        (false, false, None) => query.order(id.desc()),
        (false, true, None) => query.order(id.asc()),
        (false, false, Some((_, last))) => query.filter(id.lt(last)).order(id.desc()),
        (false, true, Some((_, last))) => query.filter(id.gt(last)).order(id.asc()),
        (true, false, None) => query.order((at.desc(), id.desc())),
        (true, true, None) => query.order((at.asc(), id.asc())),
        (true, false, Some((t, last))) => query
            .filter(keyset_after("<", t, last))
            .order((at.desc(), id.desc())),
        (true, true, Some((t, last))) => query
            .filter(keyset_after(">", t, last))
            .order((at.asc(), id.asc())),
    };
    query.load(conn)
}

/// The user's live results among `uuids` (others' and deleted ones are simply absent).
pub fn owned_results(
    conn: &mut DbConn,
    user_id: i64,
    uuids: &[String],
) -> QueryResult<Vec<Generation>> {
    generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::uuid.eq_any(uuids))
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .load(conn)
}

/// Marks results deleted and removes every trace of them in folders and tags.
pub fn delete_results(conn: &mut DbConn, ids: &[i64], now: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(collections::table.filter(collections::generation_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(generation_tags::table.filter(generation_tags::generation_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(shares::table.filter(shares::generation_id.eq_any(ids))).execute(conn)?;
    diesel::update(generations::table.filter(generations::id.eq_any(ids)))
        .set((
            generations::deleted_at.eq(now),
            generations::physical_path.eq(None::<String>),
            generations::thumb_path.eq(None::<String>),
            generations::result_url.eq(None::<String>),
            generations::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_favorite(conn: &mut DbConn, id: i64, favorite: bool) -> QueryResult<()> {
    diesel::update(generations::table.find(id))
        .set(generations::favorite.eq(i32::from(favorite)))
        .execute(conn)
        .map(drop)
}

pub fn set_tags(conn: &mut DbConn, user_id: i64, id: i64, tags: &[String]) -> QueryResult<()> {
    diesel::delete(generation_tags::table.filter(generation_tags::generation_id.eq(id)))
        .execute(conn)?;
    if tags.is_empty() {
        return Ok(());
    }
    // One statement per row: batch inserts do not compile through the multi-backend connection.
    for t in tags {
        diesel::insert_into(generation_tags::table)
            .values((
                generation_tags::generation_id.eq(id),
                generation_tags::user_id.eq(user_id),
                generation_tags::tag.eq(t),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Tags of each of `ids`.
pub fn tags_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    generation_tags::table
        .filter(generation_tags::generation_id.eq_any(ids))
        .order((generation_tags::generation_id, generation_tags::tag))
        .select((generation_tags::generation_id, generation_tags::tag))
        .load(conn)
}

/// The user's tags, for the filter menu.
pub fn all_tags(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<String>> {
    generation_tags::table
        .filter(generation_tags::user_id.eq(user_id))
        .select(generation_tags::tag)
        .distinct()
        .order(generation_tags::tag)
        .load(conn)
}

/// (generation id, folder id) of the file nodes of `ids`.
pub fn folders_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    collections::table
        .filter(collections::generation_id.eq_any(ids))
        .filter(collections::parent_id.is_not_null())
        .select((
            collections::generation_id.assume_not_null(),
            collections::parent_id.assume_not_null(),
        ))
        .load(conn)
}

/// The folders with these ids: (id, public id, name). A page names the folders of its ≤ 40
/// results this way instead of loading all of the user's folders.
pub fn folder_names(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String, String)>> {
    collections::table
        .filter(collections::id.eq_any(ids))
        .filter(collections::node_type.eq(FOLDER))
        .select((collections::id, collections::uuid, collections::name))
        .load(conn)
}

pub fn folders(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<Node>> {
    collections::table
        .filter(collections::user_id.eq(user_id))
        .filter(collections::node_type.eq(FOLDER))
        .order((collections::parent_key, collections::name))
        .select(Node::as_select())
        .load(conn)
}

/// How many results each folder of the user holds directly: (folder id, count).
pub fn folder_counts(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(i64, i64)>> {
    // Deleting a result deletes its file node, so every node counts.
    collections::table
        .filter(collections::user_id.eq(user_id))
        .filter(collections::node_type.eq(FILE))
        .group_by(collections::parent_key)
        .select((collections::parent_key, diesel::dsl::count_star()))
        .load(conn)
}

pub fn folder_by_uuid(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<Node>> {
    collections::table
        .filter(collections::user_id.eq(user_id))
        .filter(collections::uuid.eq(uuid))
        .filter(collections::node_type.eq(FOLDER))
        .select(Node::as_select())
        .first(conn)
        .optional()
}

pub fn sibling_named(
    conn: &mut DbConn,
    user_id: i64,
    parent: Option<i64>,
    name: &str,
) -> QueryResult<Option<Node>> {
    collections::table
        .filter(collections::user_id.eq(user_id))
        .filter(collections::parent_key.eq(parent.unwrap_or(0)))
        .filter(collections::node_type.eq(FOLDER))
        .filter(collections::name.eq(name))
        .select(Node::as_select())
        .first(conn)
        .optional()
}

pub fn insert_node(conn: &mut DbConn, node: &NewNode<'_>) -> QueryResult<Node> {
    diesel::insert_into(collections::table)
        .values(node)
        .execute(conn)?;
    collections::table
        .filter(collections::uuid.eq(node.uuid))
        .select(Node::as_select())
        .first(conn)
}

pub fn update_folder(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    parent: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(collections::table.find(id))
        .set((
            collections::name.eq(name),
            collections::parent_id.eq(parent),
            collections::parent_key.eq(parent.unwrap_or(0)),
            collections::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes a folder; the foreign keys take its subfolders and file nodes with it, so its
/// results become unfiled (seed 3.5.3.3 C).
pub fn delete_folder(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(collections::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Puts results in `folder`, or takes them out of any folder with `None`.
pub fn file_results(
    conn: &mut DbConn,
    user_id: i64,
    ids: &[i64],
    folder: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(collections::table.filter(collections::generation_id.eq_any(ids)))
        .execute(conn)?;
    let Some(folder) = folder else { return Ok(()) };
    let uuids: Vec<String> = ids
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    for (id, uuid) in ids.iter().zip(&uuids) {
        let node = NewNode {
            uuid,
            user_id,
            parent_id: Some(folder),
            parent_key: folder,
            name: "",
            node_type: FILE,
            generation_id: Some(*id),
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(collections::table)
            .values(&node)
            .execute(conn)?;
    }
    Ok(())
}

/// Fills in the result of an imported task.
pub fn mark_imported(
    conn: &mut DbConn,
    id: i64,
    r: &crate::generation::store::Stored<'_>,
    completed_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(generations::table.find(id))
        .set((
            r,
            generations::started_at.eq(completed_at),
            generations::completed_at.eq(completed_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn insert_share(conn: &mut DbConn, row: &NewShare<'_>) -> QueryResult<Share> {
    diesel::insert_into(shares::table)
        .values(row)
        .execute(conn)?;
    shares::table
        .filter(shares::uuid.eq(row.uuid))
        .select(Share::as_select())
        .first(conn)
}

pub fn share_by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<Share>> {
    shares::table
        .filter(shares::token.eq(token))
        .select(Share::as_select())
        .first(conn)
        .optional()
}

pub fn shares_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<Share>> {
    shares::table
        .filter(shares::user_id.eq(user_id))
        .filter(shares::revoked_at.is_null())
        .order(shares::id.desc())
        .select(Share::as_select())
        .load(conn)
}

/// How many of the user's live share links wrong passwords keep locked at `now`.
pub fn locked_shares(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<i64> {
    shares::table
        .filter(shares::user_id.eq(user_id))
        .filter(shares::revoked_at.is_null())
        .filter(shares::locked_until.gt(now))
        .count()
        .get_result(conn)
}

pub fn revoke_share(
    conn: &mut DbConn,
    user_id: i64,
    uuid: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        shares::table
            .filter(shares::user_id.eq(user_id))
            .filter(shares::uuid.eq(uuid))
            .filter(shares::revoked_at.is_null()),
    )
    .set(shares::revoked_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Counts a wrong password; the `max`th locks the share until `lock_until` and starts the
/// count again. True when this failure locked it.
pub fn count_share_failure(
    conn: &mut DbConn,
    id: i64,
    max: i32,
    lock_until: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(shares::table.find(id))
        .set(shares::failed_attempts.eq(shares::failed_attempts + 1))
        .execute(conn)?;
    let locked = diesel::update(
        shares::table
            .find(id)
            .filter(shares::failed_attempts.ge(max)),
    )
    .set((
        shares::failed_attempts.eq(0),
        shares::locked_until.eq(Some(lock_until)),
    ))
    .execute(conn)?;
    Ok(locked == 1)
}

pub fn clear_share_failures(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(shares::table.find(id))
        .set(shares::failed_attempts.eq(0))
        .execute(conn)
        .map(drop)
}

pub fn count_view(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(shares::table.find(id))
        .set(shares::views.eq(shares::views + 1))
        .execute(conn)
        .map(drop)
}

/// The live results directly in a folder, newest first.
pub fn results_in(conn: &mut DbConn, folder: i64, limit: i64) -> QueryResult<Vec<Generation>> {
    let inside: Vec<i64> = collections::table
        .filter(collections::parent_id.eq(folder))
        .filter(collections::node_type.eq(FILE))
        .select(collections::generation_id.assume_not_null())
        .load(conn)?;
    generations::table
        .filter(generations::id.eq_any(inside))
        .filter(generations::deleted_at.is_null())
        .filter(generations::status.eq("completed"))
        .order(generations::id.desc())
        .limit(limit)
        .select(Generation::as_select())
        .load(conn)
}

pub fn folder_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Node>> {
    collections::table
        .find(id)
        .select(Node::as_select())
        .first(conn)
        .optional()
}

pub fn result_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Generation>> {
    generations::table
        .find(id)
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_typed_by_people_are_literal() {
        assert_eq!(like_pattern("100%_Cat"), "%100\\%\\_cat%");
        assert_eq!(like_pattern("狐狸"), "%狐狸%");
    }
}
