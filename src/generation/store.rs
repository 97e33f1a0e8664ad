//! SQL for tasks, uploads and provider calls. Written once for both backends, except the
//! queue claim and the quota lock, where SQLite and PostgreSQL must differ (see `claim`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::model::{Generation, NewGeneration, NewUpload, TaskStatus, Upload};
use crate::db::schema::{api_calls, generations, uploads, users};
use crate::db::DbConn;

pub fn insert(conn: &mut DbConn, row: &NewGeneration<'_>) -> QueryResult<Generation> {
    diesel::insert_into(generations::table)
        .values(row)
        .execute(conn)?;
    let g = generations::table
        .filter(generations::uuid.eq(row.uuid))
        .select(Generation::as_select())
        .first::<Generation>(conn)?;
    // The prompt goes into the owner's keyword index in the same transaction as the row.
    crate::search::index_result(conn, g.id, g.user_id, g.prompt.as_deref())?;
    Ok(g)
}

/// The tasks made by the same submit as `task` (one with `n` > 1 makes several at one instant),
/// deleted ones included, in the order they were made.
pub fn made_with(conn: &mut DbConn, task: &Generation) -> QueryResult<Vec<Generation>> {
    let query = generations::table
        .filter(generations::user_id.eq(task.user_id))
        .filter(generations::created_at.eq(task.created_at))
        .filter(generations::generation_type.eq(&task.generation_type))
        .filter(generations::provider.eq(&task.provider))
        .filter(generations::model.eq(&task.model))
        .order(generations::id)
        .select(Generation::as_select())
        .into_boxed();
    match &task.prompt {
        Some(prompt) => query.filter(generations::prompt.eq(prompt)).load(conn),
        None => query.filter(generations::prompt.is_null()).load(conn),
    }
}

/// (user, task, updated_at) of rows changed after `since`, oldest change first; deleted ones
/// too, so their cards go away.
pub fn changed_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    generations::table
        .filter(generations::updated_at.gt(since))
        .order(generations::updated_at)
        .limit(1000)
        .select((
            generations::user_id,
            generations::uuid,
            generations::updated_at,
        ))
        .load(conn)
}

/// Tasks the user started since `since` (the quota counts every submitted task).
pub fn count_since(conn: &mut DbConn, user_id: i64, since: NaiveDateTime) -> QueryResult<i64> {
    generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::created_at.ge(since))
        .count()
        .get_result(conn)
}

/// Runs `f` in a transaction under the user's lock: on PostgreSQL the user's row (`FOR NO KEY
/// UPDATE`, the lock an UPDATE of the row takes), on SQLite the database's write lock from the
/// start (SQLITE_BUSY_SNAPSHOT otherwise, see `write_transaction`). Either way two submits of
/// one user run one after the other, so both cannot pass the quota check.
pub fn with_user_lock<R>(
    conn: &mut DbConn,
    user_id: i64,
    f: impl FnOnce(&mut DbConn) -> Result<R, crate::error::AppError>,
) -> Result<R, crate::error::AppError> {
    crate::db::write_transaction(conn, |conn| {
        if let DbConn::Pg(pg) = conn {
            users::table
                .find(user_id)
                .select(users::id)
                .for_no_key_update()
                .execute(pg)?;
        }
        f(conn)
    })
}

/// Moves up to `limit` due tasks of `provider` from queued to processing under a lease held by
/// `owner`, and returns them, in one statement. Users take turns: a task's turn is its rank
/// among its user's tasks of the provider, those running first, so a user with fewer tasks
/// running goes first and one user's long batch does not starve the others (oldest first
/// within a user). The one place where the SQL differs by backend: PostgreSQL skips rows
/// other instances are claiming (`FOR UPDATE OF g SKIP LOCKED`; the window function sits in a
/// subquery because a locking SELECT cannot hold one); SQLite has a single writer, so its
/// `UPDATE ... RETURNING` is atomic as it stands.
///
/// On PostgreSQL the ranked candidates are computed once, as an array (the first 2 × `limit`
/// and 16 more in turn order, a margin for rows other instances hold), and the rows are then
/// read by primary key. Joined to the ranking instead, the planner (a queue table's statistics are
/// always stale) rescanned the window for every queued row: quadratic, 4 ms at 100 queued
/// tasks and seconds at 10,000.
pub fn claim(
    conn: &mut DbConn,
    provider: &str,
    owner: &str,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<Generation>> {
    const SQLITE: &str = "UPDATE generations SET status = 'processing', lease_owner = ?, \
        lease_expires_at = ?, started_at = COALESCE(started_at, ?), attempts = attempts + 1, updated_at = ? \
        WHERE id IN (SELECT g.id FROM generations g JOIN (SELECT id, ROW_NUMBER() OVER (\
        PARTITION BY user_id ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, next_attempt_at, id) AS turn \
        FROM generations WHERE provider = ? AND (status = 'processing' OR (status = 'queued' AND next_attempt_at <= ?))) r \
        ON r.id = g.id WHERE g.status = 'queued' ORDER BY r.turn, g.next_attempt_at, g.id LIMIT ?) RETURNING *";
    const POSTGRES: &str = "UPDATE generations SET status = 'processing', lease_owner = $1, \
        lease_expires_at = $2, started_at = COALESCE(started_at, $3), attempts = attempts + 1, updated_at = $4 \
        WHERE id IN (SELECT g.id FROM generations g, (SELECT ARRAY(SELECT r.id FROM (SELECT id, status, \
        next_attempt_at, ROW_NUMBER() OVER (\
        PARTITION BY user_id ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, next_attempt_at, id) AS turn \
        FROM generations WHERE provider = $5 AND (status = 'processing' OR (status = 'queued' AND next_attempt_at <= $6))) r \
        WHERE r.status = 'queued' ORDER BY r.turn, r.next_attempt_at, r.id LIMIT $7 * 2 + 16) AS ids) c \
        WHERE g.id = ANY(c.ids) AND g.status = 'queued' ORDER BY array_position(c.ids, g.id) LIMIT $7 \
        FOR UPDATE OF g SKIP LOCKED) RETURNING *";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(provider)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<Generation>($c)?
        };
    }
    let mut claimed = match conn {
        DbConn::Sqlite(c) => run!(c, SQLITE),
        DbConn::Pg(c) => run!(c, POSTGRES),
    };
    // RETURNING gives no order; run them oldest first.
    claimed.sort_by_key(|g| g.id);
    Ok(claimed)
}

/// Extends the leases of everything `owner` is working on.
pub fn heartbeat(conn: &mut DbConn, owner: &str, lease_until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        generations::table
            .filter(generations::status.eq(TaskStatus::Processing.as_str()))
            .filter(generations::lease_owner.eq(owner)),
    )
    .set(generations::lease_expires_at.eq(lease_until))
    .execute(conn)
}

/// Puts tasks whose worker vanished (lease expired) back in the queue. A task that already
/// has a remote task id resumes polling that id instead of being submitted again.
pub fn recover_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        generations::table
            .filter(generations::status.eq(TaskStatus::Processing.as_str()))
            .filter(generations::lease_expires_at.lt(now)),
    )
    .set((
        generations::status.eq(TaskStatus::Queued.as_str()),
        released(now),
        generations::next_attempt_at.eq(now),
    ))
    .execute(conn)
}

/// The row while `owner` still holds it (not canceled, not taken over after a lost lease).
macro_rules! held {
    ($id:expr, $owner:expr) => {
        generations::table
            .find($id)
            .filter(generations::status.eq(TaskStatus::Processing.as_str()))
            .filter(generations::lease_owner.eq($owner))
            .filter(generations::deleted_at.is_null())
    };
}

/// Remembers the provider's task id before any polling, so a restart never pays twice.
pub fn set_remote_id(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    remote: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            generations::remote_task_id.eq(remote),
            generations::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn set_progress(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    progress: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            generations::progress.eq(progress.clamp(0, 99)),
            generations::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// The stored result of a finished task, as the columns it fills.
#[derive(AsChangeset)]
#[diesel(table_name = generations)]
pub struct Stored<'a> {
    pub result_url: &'a str,
    pub physical_path: &'a str,
    pub result_mime: &'a str,
    pub result_bytes: i64,
    pub result_sha256: &'a str,
    pub width: i32,
    pub height: i32,
    pub thumb_path: &'a str,
}

/// The columns that let go of a task's lease.
type Released = (
    diesel::dsl::Eq<generations::lease_owner, Option<String>>,
    diesel::dsl::Eq<generations::lease_expires_at, Option<NaiveDateTime>>,
    diesel::dsl::Eq<generations::updated_at, NaiveDateTime>,
);

fn released(now: NaiveDateTime) -> Released {
    (
        generations::lease_owner.eq(None),
        generations::lease_expires_at.eq(None),
        generations::updated_at.eq(now),
    )
}

/// False when the task was canceled or lost meanwhile; the caller then deletes the files.
pub fn complete(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    r: &Stored<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    complete_as(conn, id, owner, r, TaskStatus::Completed, now)
}

/// [`complete`] with the result `Completed` or, held for review, `Flagged`.
pub fn complete_as(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    r: &Stored<'_>,
    status: TaskStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            r,
            released(now),
            generations::status.eq(status.as_str()),
            generations::progress.eq(100),
            generations::error_code.eq(None::<String>),
            generations::error_detail.eq(None::<String>),
            generations::completed_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// What the engine noted about a finished result (JSON, see `model::ResultNotes`).
pub fn set_result_meta(conn: &mut DbConn, id: i64, meta: &str) -> QueryResult<usize> {
    diesel::update(generations::table.find(id))
        .set(generations::result_meta.eq(meta))
        .execute(conn)
}

pub fn fail(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    code: &str,
    detail: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(held!(id, owner))
        .set((
            generations::status.eq(TaskStatus::Failed.as_str()),
            generations::error_code.eq(code),
            generations::error_detail.eq(detail),
            released(now),
            generations::completed_at.eq(now),
        ))
        .execute(conn)?;
    // A failed task's charge goes back at once (`catalogue::store::refund_ended` catches up
    // with any other path).
    if n == 1 {
        crate::catalogue::service::refund(conn, id, now)?;
    }
    Ok(n == 1)
}

/// Back to the queue after a transient error, due again at `at`.
pub fn retry_later(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    code: &str,
    detail: &str,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            generations::status.eq(TaskStatus::Queued.as_str()),
            generations::error_code.eq(code),
            generations::error_detail.eq(detail),
            released(now),
            generations::next_attempt_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Generation>> {
    generations::table
        .find(id)
        .select(Generation::as_select())
        .first(conn)
        .optional()
}

/// A task of this user that is not deleted; another user's id reads as missing.
pub fn find_owned(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<Generation>> {
    generations::table
        .filter(generations::uuid.eq(uuid))
        .filter(generations::user_id.eq(user_id))
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .first(conn)
        .optional()
}

/// A task of this user, deleted or not (a deleted one still tells its page to drop it).
pub fn find_owned_any(
    conn: &mut DbConn,
    user_id: i64,
    uuid: &str,
) -> QueryResult<Option<Generation>> {
    generations::table
        .filter(generations::uuid.eq(uuid))
        .filter(generations::user_id.eq(user_id))
        .select(Generation::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<Generation>> {
    generations::table
        .filter(generations::uuid.eq(uuid))
        .filter(generations::deleted_at.is_null())
        .select(Generation::as_select())
        .first(conn)
        .optional()
}

/// The user's tasks, newest first, older than the task `before` if given (keyset pagination).
pub fn list_for_user(
    conn: &mut DbConn,
    user_id: i64,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Generation>> {
    let mut query = generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::deleted_at.is_null())
        .order(generations::id.desc())
        .limit(limit)
        .select(Generation::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(generations::id.lt(before));
    }
    query.load(conn)
}

/// Queued tasks of the same provider that will run before this one, in the order `claim`
/// takes them: by turn within their user (running tasks first), then by age.
pub fn queue_position(conn: &mut DbConn, task: &Generation) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Ahead {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // The same ranking as `claim`; only the placeholders differ by backend.
    const RANKED: &str = "WITH r AS (SELECT id, status, next_attempt_at, ROW_NUMBER() OVER (\
        PARTITION BY user_id ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, next_attempt_at, id) AS turn \
        FROM generations WHERE provider = $1 AND status IN ('queued', 'processing')) \
        SELECT COUNT(*) AS n FROM r, r AS me WHERE me.id = $2 AND r.status = 'queued' \
        AND (r.turn < me.turn OR (r.turn = me.turn AND (r.next_attempt_at < me.next_attempt_at \
        OR (r.next_attempt_at = me.next_attempt_at AND r.id < me.id))))";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(&task.provider)
                .bind::<BigInt, _>(task.id)
                .get_result::<Ahead>($c)
        };
    }
    let ahead = match conn {
        DbConn::Sqlite(c) => run!(c, RANKED.replace("$1", "?").replace("$2", "?")),
        DbConn::Pg(c) => run!(c, RANKED),
    }?;
    Ok(ahead.n)
}

/// Cancels a task that has not finished; false if it already had.
pub fn cancel(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(generations::table.find(id).filter(
        generations::status.eq_any([TaskStatus::Queued.as_str(), TaskStatus::Processing.as_str()]),
    ))
    .set((
        generations::status.eq(TaskStatus::Canceled.as_str()),
        released(now),
        generations::completed_at.eq(now),
    ))
    .execute(conn)?;
    // Only the cancel that moved the task refunds; the refund itself is once-only too.
    if n == 1 {
        crate::catalogue::service::refund(conn, id, now)?;
    }
    Ok(n == 1)
}

/// Cancels the tasks among `ids` that have not finished, each as [`cancel`] does (refund
/// included), in one transaction; answers how many it did.
pub fn cancel_all(conn: &mut DbConn, ids: &[i64], now: NaiveDateTime) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let mut canceled = 0;
        for id in ids {
            if cancel(conn, *id, now)? {
                canceled += 1;
            }
        }
        Ok(canceled)
    })
}

pub fn status_of(conn: &mut DbConn, id: i64) -> QueryResult<Option<String>> {
    generations::table
        .find(id)
        .select(generations::status)
        .first(conn)
        .optional()
}

#[derive(Insertable)]
#[diesel(table_name = api_calls)]
struct NewApiCall<'a> {
    provider: &'a str,
    model: &'a str,
    generation_id: Option<i64>,
    operation: &'a str,
    outcome: &'a str,
    http_status: Option<i32>,
    latency_ms: i64,
    created_at: NaiveDateTime,
    reason: Option<&'a str>,
}

/// One provider call as the engine timed it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub operation: &'static str,
    pub outcome: &'static str,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub at: NaiveDateTime,
    /// Why it failed (see `stats::call_reason`); None when it worked.
    pub reason: Option<String>,
}

/// Writes the calls made for a task: the rows behind the per-model statistics.
pub fn record_calls(
    conn: &mut DbConn,
    provider: &str,
    model: &str,
    generation_id: i64,
    calls: &[CallRecord],
) -> QueryResult<()> {
    for c in calls {
        diesel::insert_into(api_calls::table)
            .values(NewApiCall {
                provider,
                model,
                generation_id: Some(generation_id),
                operation: c.operation,
                outcome: c.outcome,
                http_status: c.http_status,
                latency_ms: c.latency_ms,
                created_at: c.at,
                reason: c.reason.as_deref(),
            })
            .execute(conn)?;
    }
    Ok(())
}

/// (operation, outcome) of the calls made for one task, oldest first.
pub fn calls_of(conn: &mut DbConn, generation_id: i64) -> QueryResult<Vec<(String, String)>> {
    api_calls::table
        .filter(api_calls::generation_id.eq(generation_id))
        .order(api_calls::id)
        .select((api_calls::operation, api_calls::outcome))
        .load(conn)
}

pub fn insert_upload(conn: &mut DbConn, row: &NewUpload<'_>) -> QueryResult<Upload> {
    diesel::insert_into(uploads::table)
        .values(row)
        .execute(conn)?;
    uploads::table
        .filter(uploads::uuid.eq(row.uuid))
        .select(Upload::as_select())
        .first(conn)
}

/// The user's own uploads among `uuids`, in the order asked; others' ids are simply absent.
pub fn uploads_owned(
    conn: &mut DbConn,
    user_id: i64,
    uuids: &[String],
) -> QueryResult<Vec<Upload>> {
    let found: Vec<Upload> = uploads::table
        .filter(uploads::user_id.eq(user_id))
        .filter(uploads::uuid.eq_any(uuids))
        .select(Upload::as_select())
        .load(conn)?;
    Ok(uuids
        .iter()
        .filter_map(|u| found.iter().find(|f| &f.uuid == u).cloned())
        .collect())
}

pub fn find_upload(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<Upload>> {
    uploads::table
        .filter(uploads::uuid.eq(uuid))
        .select(Upload::as_select())
        .first(conn)
        .optional()
}
