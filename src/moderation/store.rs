//! SQL for the admins' moderation terms and the refusal count. Written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{audit_log, moderation_words, users};
use crate::db::DbConn;

/// The audit action of a prompt the check refused; the count of refusals reads it.
pub const REFUSED_ACTION: &str = "prompt_refused";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = moderation_words)]
pub struct Word {
    pub id: i64,
    pub uuid: String,
    pub word: String,
    pub norm: String,
    pub lang: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = moderation_words)]
pub struct NewWord<'a> {
    pub uuid: &'a str,
    pub word: &'a str,
    pub norm: &'a str,
    pub lang: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Every term with the name of who added it, newest first.
pub fn words(conn: &mut DbConn) -> QueryResult<Vec<(Word, Option<String>)>> {
    moderation_words::table
        .left_join(users::table.on(users::id.nullable().eq(moderation_words::created_by)))
        .order(moderation_words::id.desc())
        .select((Word::as_select(), users::username.nullable()))
        .load(conn)
}

/// What changes whenever a term is added or removed: the cached matcher is rebuilt then.
pub fn fingerprint(conn: &mut DbConn) -> QueryResult<(i64, Option<i64>)> {
    moderation_words::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(moderation_words::id),
        ))
        .first(conn)
}

/// Adds a term; false when its normalised form is listed already.
pub fn insert(conn: &mut DbConn, row: &NewWord<'_>) -> QueryResult<bool> {
    let exists: i64 = moderation_words::table
        .filter(moderation_words::norm.eq(row.norm))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    match diesel::insert_into(moderation_words::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        // Added by someone else a moment ago.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the term `uuid`; answers what it was.
pub fn delete(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<String>> {
    let word: Option<String> = moderation_words::table
        .filter(moderation_words::uuid.eq(uuid))
        .select(moderation_words::word)
        .first(conn)
        .optional()?;
    if word.is_some() {
        diesel::delete(moderation_words::table.filter(moderation_words::uuid.eq(uuid)))
            .execute(conn)?;
    }
    Ok(word)
}

/// Prompts refused since `since` (all of them when `None`).
pub fn refusals(conn: &mut DbConn, since: Option<NaiveDateTime>) -> QueryResult<i64> {
    let mut query = audit_log::table
        .filter(audit_log::action.eq(REFUSED_ACTION))
        .count()
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    query.get_result(conn)
}
