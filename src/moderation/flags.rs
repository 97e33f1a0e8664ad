//! SQL for `moderation_flags`: results a moderation service (or the model's vendor) flagged,
//! and what admins decided. Written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{generations, moderation_flags, users};
use crate::db::DbConn;
use crate::generation::model::Generation;

/// Who raised a flag.
pub const SOURCE_PROVIDER: &str = "provider";
pub const SOURCE_VENDOR: &str = "vendor";
pub const SOURCE_ADMIN: &str = "admin";

/// What became of it.
pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const HIDDEN: &str = "hidden";
pub const DELETED: &str = "deleted";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = moderation_flags)]
pub struct Flag {
    pub id: i64,
    pub uuid: String,
    pub generation_id: i64,
    pub user_id: i64,
    pub source: String,
    pub service: String,
    /// JSON array of category names.
    pub categories: String,
    /// JSON object of scores by category.
    pub scores: Option<String>,
    pub detail: Option<String>,
    pub decision: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = moderation_flags)]
pub struct NewFlag<'a> {
    pub uuid: &'a str,
    pub generation_id: i64,
    pub user_id: i64,
    pub source: &'a str,
    pub service: &'a str,
    pub categories: &'a str,
    pub scores: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub decision: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, flag: &NewFlag<'_>) -> QueryResult<()> {
    diesel::insert_into(moderation_flags::table)
        .values(flag)
        .execute(conn)
        .map(drop)
}

/// A flag as the queue shows it: the flag, its result and the owner's name.
pub type Row = (Flag, Generation, String);

/// Flags with `decision` (all when `None`), newest first, older than `before` (a flag id).
pub fn list(
    conn: &mut DbConn,
    decision: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let mut query = moderation_flags::table
        .inner_join(generations::table)
        .inner_join(users::table.on(users::id.eq(moderation_flags::user_id)))
        .select((Flag::as_select(), Generation::as_select(), users::username))
        .order(moderation_flags::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(d) = decision {
        query = query.filter(moderation_flags::decision.eq(d.to_string()));
    }
    if let Some(before) = before {
        query = query.filter(moderation_flags::id.lt(before));
    }
    query.load(conn)
}

pub fn by_uuids(conn: &mut DbConn, uuids: &[String]) -> QueryResult<Vec<(Flag, Generation)>> {
    moderation_flags::table
        .inner_join(generations::table)
        .filter(moderation_flags::uuid.eq_any(uuids))
        .select((Flag::as_select(), Generation::as_select()))
        .order(moderation_flags::id.asc())
        .load(conn)
}

pub fn id_of(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<i64>> {
    moderation_flags::table
        .filter(moderation_flags::uuid.eq(uuid))
        .select(moderation_flags::id)
        .first(conn)
        .optional()
}

pub fn decide(
    conn: &mut DbConn,
    id: i64,
    decision: &str,
    by: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(moderation_flags::table.find(id))
        .set((
            moderation_flags::decision.eq(decision),
            moderation_flags::decided_by.eq(Some(by)),
            moderation_flags::decided_at.eq(Some(now)),
        ))
        .execute(conn)
        .map(drop)
}

/// Counts by decision, for the queue's tabs.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    moderation_flags::table
        .group_by(moderation_flags::decision)
        .select((moderation_flags::decision, diesel::dsl::count_star()))
        .load(conn)
}

/// A flagged result is shown again: back to `completed`, if it is still `flagged`.
pub fn release(conn: &mut DbConn, generation_id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        generations::table
            .find(generation_id)
            .filter(generations::status.eq(crate::generation::model::TaskStatus::Flagged.as_str())),
    )
    .set((
        generations::status.eq(crate::generation::model::TaskStatus::Completed.as_str()),
        generations::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// A finished result is hidden: `completed` becomes `flagged`; false if it was not completed.
pub fn hide(conn: &mut DbConn, generation_id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    use crate::generation::model::TaskStatus;
    diesel::update(
        generations::table
            .find(generation_id)
            .filter(generations::status.eq(TaskStatus::Completed.as_str())),
    )
    .set((
        generations::status.eq(TaskStatus::Flagged.as_str()),
        generations::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn latest_of(conn: &mut DbConn, generation_id: i64) -> QueryResult<Option<Flag>> {
    moderation_flags::table
        .filter(moderation_flags::generation_id.eq(generation_id))
        .order(moderation_flags::id.desc())
        .select(Flag::as_select())
        .first(conn)
        .optional()
}

/// The result `uuid`, not deleted (for the reviewers' file links).
pub fn result_of(conn: &mut DbConn, task_uuid: &str) -> QueryResult<Option<Generation>> {
    let flagged: i64 = moderation_flags::table
        .inner_join(generations::table)
        .filter(generations::uuid.eq(task_uuid))
        .count()
        .get_result(conn)?;
    if flagged == 0 {
        return Ok(None);
    }
    generations::table
        .filter(generations::uuid.eq(task_uuid))
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .first(conn)
        .optional()
}
