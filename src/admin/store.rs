//! SQL of the admin pages: the account search with per-account usage, and the last-admin
//! guard. Written once for both backends.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::{generations, uploads, users};
use crate::db::DbConn;
use crate::users::model::{Role, Status, User};

/// What the account list filters by.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Part of the name or the address, any case.
    pub q: Option<String>,
    pub status: Option<Status>,
    pub role: Option<Role>,
}

/// `%text%` for LIKE, with LIKE's own wildcards taken literally (escaped with `\`).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Accounts newest first, `limit` of them after the account `before` (a public id) if given.
pub fn search_users(
    conn: &mut DbConn,
    filter: &UserFilter,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .select(User::as_select())
        .order(users::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(uuid) = before {
        let anchor: Option<i64> = users::table
            .filter(users::uuid.eq(uuid))
            .select(users::id)
            .first(conn)
            .optional()?;
        let Some(anchor) = anchor else {
            return Ok(Vec::new());
        };
        query = query.filter(users::id.lt(anchor));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = contains_pattern(q);
        query = query.filter(
            crate::users::store::lower(users::username)
                .like(pattern.clone())
                .escape('\\')
                .or(users::email.like(pattern).escape('\\')),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(users::status.eq(status.as_str()));
    }
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    query.load(conn)
}

/// What one account has made and keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Finished results not deleted.
    pub results: i64,
    /// Tasks submitted since the start of the day (what the daily quota counts).
    pub tasks_today: i64,
    /// Bytes of kept results and uploads.
    pub storage_bytes: i64,
}

/// `SUM` as a BIGINT on both backends (PostgreSQL sums BIGINT into NUMERIC).
fn sum_bigint(column: &str) -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>(&format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

/// Usage of the accounts `ids`, in three grouped queries over the page's accounts only.
pub fn usage_of(
    conn: &mut DbConn,
    ids: &[i64],
    day_start: NaiveDateTime,
) -> QueryResult<HashMap<i64, Usage>> {
    let mut usage: HashMap<i64, Usage> = ids.iter().map(|id| (*id, Usage::default())).collect();
    let kept: Vec<(i64, i64, i64)> = generations::table
        .filter(generations::user_id.eq_any(ids))
        .filter(generations::deleted_at.is_null())
        .filter(generations::status.eq("completed"))
        .group_by(generations::user_id)
        .select((
            generations::user_id,
            sql::<BigInt>("COUNT(*)"),
            sum_bigint("generations.result_bytes"),
        ))
        .load(conn)?;
    for (id, results, bytes) in kept {
        let u = usage.entry(id).or_default();
        u.results = results;
        u.storage_bytes += bytes;
    }
    let today: Vec<(i64, i64)> = generations::table
        .filter(generations::user_id.eq_any(ids))
        .filter(generations::created_at.ge(day_start))
        .group_by(generations::user_id)
        .select((generations::user_id, sql::<BigInt>("COUNT(*)")))
        .load(conn)?;
    for (id, n) in today {
        usage.entry(id).or_default().tasks_today = n;
    }
    let uploaded: Vec<(i64, i64)> = uploads::table
        .filter(uploads::user_id.eq_any(ids))
        .group_by(uploads::user_id)
        .select((uploads::user_id, sum_bigint("uploads.bytes")))
        .load(conn)?;
    for (id, bytes) in uploaded {
        usage.entry(id).or_default().storage_bytes += bytes;
    }
    Ok(usage)
}

/// Locks every admin row on PostgreSQL (`FOR NO KEY UPDATE`, the lock an UPDATE of the rows
/// takes) before the last-admin check, so two admins demoting or banning each other at once run
/// one after the other and cannot leave nobody in charge. On SQLite the caller's
/// `write_transaction` already holds the database's write lock.
pub fn lock_admins(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .select(users::id)
            .for_no_key_update()
            .execute(pg)?;
    }
    Ok(())
}

/// Active admins other than `except`.
pub fn other_active_admins(conn: &mut DbConn, except: i64) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::status.eq(Status::Active.as_str()))
        .filter(users::id.ne(except))
        .count()
        .get_result(conn)
}

pub fn set_daily_quota(
    conn: &mut DbConn,
    id: i64,
    quota: Option<i32>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::daily_quota.eq(quota), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_in_a_search_are_literal() {
        assert_eq!(contains_pattern("Ann"), "%ann%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
