//! SQL of the outbox. Written once for both backends, except the claim (see `claim`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::model::{NewOutboxRow, OutboxCounts, OutboxRow, Status};
use crate::db::schema::mail_outbox;
use crate::db::DbConn;

pub fn insert(conn: &mut DbConn, row: &NewOutboxRow<'_>) -> QueryResult<()> {
    diesel::insert_into(mail_outbox::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Moves up to `limit` due mails to `sending` under a lease held by `owner` and returns them,
/// in one statement: queued mails whose time has come, and mails whose sender vanished (lease
/// run out). PostgreSQL skips rows another instance is claiming (`FOR UPDATE SKIP LOCKED`);
/// SQLite has a single writer, so its `UPDATE ... RETURNING` is atomic as it stands.
pub fn claim(
    conn: &mut DbConn,
    owner: &str,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<OutboxRow>> {
    const SQLITE: &str = "UPDATE mail_outbox SET status = 'sending', lease_owner = ?, \
        lease_expires_at = ?, attempts = attempts + 1, updated_at = ? \
        WHERE id IN (SELECT id FROM mail_outbox WHERE (status = 'queued' AND next_attempt_at <= ?) \
        OR (status = 'sending' AND lease_expires_at < ?) ORDER BY next_attempt_at, id LIMIT ?) \
        RETURNING *";
    const POSTGRES: &str = "UPDATE mail_outbox SET status = 'sending', lease_owner = $1, \
        lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
        WHERE id IN (SELECT id FROM mail_outbox WHERE (status = 'queued' AND next_attempt_at <= $4) \
        OR (status = 'sending' AND lease_expires_at < $5) ORDER BY next_attempt_at, id LIMIT $6 \
        FOR UPDATE SKIP LOCKED) RETURNING *";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<OutboxRow>($c)?
        };
    }
    let mut claimed = match conn {
        DbConn::Sqlite(c) => run!(c, SQLITE),
        DbConn::Pg(c) => run!(c, POSTGRES),
    };
    // RETURNING gives no order; send them oldest first.
    claimed.sort_by_key(|m| m.id);
    Ok(claimed)
}

/// The row while `owner` still holds it (not taken over after a lost lease).
macro_rules! held {
    ($id:expr, $owner:expr) => {
        mail_outbox::table
            .find($id)
            .filter(mail_outbox::status.eq(Status::Sending.as_str()))
            .filter(mail_outbox::lease_owner.eq($owner))
    };
}

/// Delivered: the payload (it holds the code) is emptied.
pub fn mark_sent(conn: &mut DbConn, id: i64, owner: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            mail_outbox::status.eq(Status::Sent.as_str()),
            mail_outbox::payload.eq(""),
            mail_outbox::last_error.eq(None::<String>),
            mail_outbox::lease_owner.eq(None::<String>),
            mail_outbox::lease_expires_at.eq(None::<NaiveDateTime>),
            mail_outbox::sent_at.eq(Some(now)),
            mail_outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// A temporary failure: queued again for `at`, with the reply kept for admins.
pub fn retry_later(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    error: &str,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            mail_outbox::status.eq(Status::Queued.as_str()),
            mail_outbox::last_error.eq(Some(error)),
            mail_outbox::next_attempt_at.eq(at),
            mail_outbox::lease_owner.eq(None::<String>),
            mail_outbox::lease_expires_at.eq(None::<NaiveDateTime>),
            mail_outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Given up for good, with the server's reply; the payload is emptied.
pub fn fail(
    conn: &mut DbConn,
    id: i64,
    owner: &str,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, owner))
        .set((
            mail_outbox::status.eq(Status::Failed.as_str()),
            mail_outbox::payload.eq(""),
            mail_outbox::last_error.eq(Some(error)),
            mail_outbox::lease_owner.eq(None::<String>),
            mail_outbox::lease_expires_at.eq(None::<NaiveDateTime>),
            mail_outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// When the next queued mail is due, if any.
pub fn next_due(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    mail_outbox::table
        .filter(mail_outbox::status.eq(Status::Queued.as_str()))
        .select(diesel::dsl::min(mail_outbox::next_attempt_at))
        .first(conn)
}

/// Newest first, optionally of one status; `before` is the id of the last row already seen.
pub fn list(
    conn: &mut DbConn,
    status: Option<Status>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = mail_outbox::table
        .order(mail_outbox::id.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(mail_outbox::status.eq(status.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(mail_outbox::id.lt(before));
    }
    query.load(conn)
}

pub fn find(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<OutboxRow>> {
    mail_outbox::table
        .filter(mail_outbox::uuid.eq(uuid))
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

pub fn counts(conn: &mut DbConn) -> QueryResult<OutboxCounts> {
    let rows: Vec<(String, i64)> = mail_outbox::table
        .group_by(mail_outbox::status)
        .select((mail_outbox::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts = OutboxCounts::default();
    for (status, n) in rows {
        match Status::parse(&status) {
            Some(Status::Queued) => counts.queued = n,
            Some(Status::Sending) => counts.sending = n,
            Some(Status::Sent) => counts.sent = n,
            Some(Status::Failed) => counts.failed = n,
            None => {}
        }
    }
    Ok(counts)
}
