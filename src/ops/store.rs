//! SQL of monitoring, alerts and retention. Written once for both backends, except where an
//! `INSERT ... ON CONFLICT` needs its placeholders spelt per backend (`open_incident`).

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::schema::{api_calls, audit_log, generations, ops_incidents, users};
use crate::db::DbConn;

/// Tasks waiting or running, by status (final tasks are history, not queue).
pub fn queue_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    generations::table
        .filter(generations::status.eq_any(["queued", "processing"]))
        .group_by(generations::status)
        .select((generations::status, count_star()))
        .load(conn)
}

/// When the longest-waiting queued task was made.
pub fn oldest_queued(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    generations::table
        .filter(generations::status.eq("queued"))
        .select(min(generations::created_at))
        .first(conn)
}

/// Running tasks per provider, across every instance.
pub fn running_by_provider(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    generations::table
        .filter(generations::status.eq("processing"))
        .group_by(generations::provider)
        .select((generations::provider, count_star()))
        .load(conn)
}

/// Per provider since `since`: (provider, calls, failed calls).
pub fn calls_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64, i64)>> {
    api_calls::table
        .filter(api_calls::created_at.ge(since))
        .group_by(api_calls::provider)
        .select((
            api_calls::provider,
            count_star(),
            sql::<BigInt>("SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END)"),
        ))
        .load(conn)
}

// ---- incidents ---------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ops_incidents)]
pub struct IncidentRow {
    pub id: i64,
    pub uuid: String,
    pub rule: String,
    pub subject: String,
    pub open_key: Option<String>,
    pub value: i64,
    pub threshold: i64,
    pub opened_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

pub struct NewIncident<'a> {
    pub uuid: &'a str,
    pub rule: &'a str,
    pub subject: &'a str,
    pub open_key: &'a str,
    pub value: i64,
    pub threshold: i64,
    pub now: NaiveDateTime,
}

/// Opens an incident unless one with the same key is open; true when this call opened it.
/// The unique index on `open_key` decides between instances racing for the same incident.
pub fn open_incident(conn: &mut DbConn, new: &NewIncident<'_>) -> QueryResult<bool> {
    const SQLITE: &str = "INSERT INTO ops_incidents (uuid, rule, subject, open_key, value, \
        threshold, opened_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
        ON CONFLICT (open_key) DO NOTHING";
    const POSTGRES: &str = "INSERT INTO ops_incidents (uuid, rule, subject, open_key, value, \
        threshold, opened_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (open_key) DO NOTHING";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(new.uuid)
                .bind::<Text, _>(new.rule)
                .bind::<Text, _>(new.subject)
                .bind::<Text, _>(new.open_key)
                .bind::<BigInt, _>(new.value)
                .bind::<BigInt, _>(new.threshold)
                .bind::<Timestamp, _>(new.now)
                .bind::<Timestamp, _>(new.now)
                .execute($c)?
        };
    }
    let inserted = match conn {
        DbConn::Sqlite(c) => run!(c, SQLITE),
        DbConn::Pg(c) => run!(c, POSTGRES),
    };
    Ok(inserted == 1)
}

/// Notes that an open incident still holds, with its latest value.
pub fn still_open(
    conn: &mut DbConn,
    open_key: &str,
    value: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(ops_incidents::table.filter(ops_incidents::open_key.eq(open_key)))
        .set((
            ops_incidents::value.eq(value),
            ops_incidents::last_seen_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Resolves the open incident of `open_key`; the row as it was when this call resolved it
/// (another instance's UPDATE of the same row then finds no open row and changes nothing).
/// Call it inside `db::write_transaction`: on SQLite the read below would otherwise hold a
/// snapshot that a second instance's resolve makes stale (SQLITE_BUSY_SNAPSHOT).
pub fn resolve_incident(
    conn: &mut DbConn,
    open_key: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<IncidentRow>> {
    let Some(row) = ops_incidents::table
        .filter(ops_incidents::open_key.eq(open_key))
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let changed = diesel::update(
        ops_incidents::table
            .find(row.id)
            .filter(ops_incidents::open_key.eq(open_key)),
    )
    .set((
        ops_incidents::open_key.eq(None::<String>),
        ops_incidents::resolved_at.eq(Some(now)),
        ops_incidents::last_seen_at.eq(now),
    ))
    .execute(conn)?;
    Ok((changed == 1).then_some(row))
}

/// Every open incident, oldest first.
pub fn open_incidents(conn: &mut DbConn) -> QueryResult<Vec<IncidentRow>> {
    ops_incidents::table
        .filter(ops_incidents::open_key.is_not_null())
        .order(ops_incidents::id)
        .select(IncidentRow::as_select())
        .load(conn)
}

/// The latest incidents, open or not, newest first.
pub fn recent_incidents(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<IncidentRow>> {
    ops_incidents::table
        .order(ops_incidents::id.desc())
        .limit(limit)
        .select(IncidentRow::as_select())
        .load(conn)
}

/// (id, email) of every active admin: who alert mails go to.
pub fn admin_recipients(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::role.eq("admin"))
        .filter(users::status.eq("active"))
        .order(users::id)
        .select((users::id, users::email))
        .load(conn)
}

// ---- retention ---------------------------------------------------------------------------

/// Deletes up to `batch` `audit_log` rows older than `cutoff`; how many went.
pub fn prune_audit_log(conn: &mut DbConn, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = audit_log::table
        .filter(audit_log::created_at.lt(cutoff))
        .order(audit_log::created_at)
        .limit(batch)
        .select(audit_log::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_log::table.filter(audit_log::id.eq_any(ids))).execute(conn)
}

/// Deletes up to `batch` raw `api_calls` rows older than `cutoff`; how many went. Only this
/// table: the statistics' rollups are separate rows, kept up as calls are recorded, and are
/// never touched here, so pruning raw rows does not change the statistics.
pub fn prune_api_calls(conn: &mut DbConn, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = api_calls::table
        .filter(api_calls::created_at.lt(cutoff))
        .order(api_calls::created_at)
        .limit(batch)
        .select(api_calls::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(api_calls::table.filter(api_calls::id.eq_any(ids))).execute(conn)
}
