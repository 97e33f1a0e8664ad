//! SQL for accounts and mailed codes; written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{CodePurpose, EmailCode, NewEmailCode, NewUserRow, User, UserId};
use crate::db::schema::{email_codes, users};
use crate::db::DbConn;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL; usernames compare without case.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn insert_user(conn: &mut DbConn, row: &NewUserRow<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)?;
    find_by_uuid(conn, row.uuid)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::uuid.eq(uuid))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn count_users(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Sets a new password hash; `revoke` also ends every token issued before.
pub fn set_password(
    conn: &mut DbConn,
    id: UserId,
    hash: &str,
    revoke: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let target = users::table.find(id.0);
    let bump = if revoke { 1 } else { 0 };
    diesel::update(target)
        .set((
            users::password_hash.eq(hash),
            users::token_version.eq(users::token_version + bump),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_email(
    conn: &mut DbConn,
    id: UserId,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((users::email.eq(email), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// Changes the account status; tokens held before stop working at once.
pub fn set_status(
    conn: &mut DbConn,
    id: UserId,
    status: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::status.eq(status),
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_role(conn: &mut DbConn, id: UserId, role: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn insert_code(conn: &mut DbConn, row: &NewEmailCode<'_>) -> QueryResult<()> {
    diesel::insert_into(email_codes::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// When the last code went to this address, whatever its purpose.
pub fn last_code_sent_at(conn: &mut DbConn, email: &str) -> QueryResult<Option<NaiveDateTime>> {
    email_codes::table
        .filter(email_codes::email.eq(email))
        .select(diesel::dsl::max(email_codes::created_at))
        .first(conn)
}

/// The newest code for this address and purpose that may still be tried.
pub fn live_code(
    conn: &mut DbConn,
    email: &str,
    purpose: CodePurpose,
    max_attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<EmailCode>> {
    email_codes::table
        .filter(email_codes::email.eq(email))
        .filter(email_codes::purpose.eq(purpose.as_str()))
        .filter(email_codes::consumed_at.is_null())
        .filter(email_codes::expires_at.gt(now))
        .filter(email_codes::attempts.lt(max_attempts))
        .order(email_codes::id.desc())
        .select(EmailCode::as_select())
        .first(conn)
        .optional()
}

pub fn count_failed_attempt(conn: &mut DbConn, code_id: i64) -> QueryResult<()> {
    diesel::update(email_codes::table.find(code_id))
        .set(email_codes::attempts.eq(email_codes::attempts + 1))
        .execute(conn)
        .map(drop)
}

/// Uses up every open code of this address and purpose; false if another request was first.
pub fn consume_codes(
    conn: &mut DbConn,
    email: &str,
    purpose: CodePurpose,
    code_id: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let won = diesel::update(
        email_codes::table
            .find(code_id)
            .filter(email_codes::consumed_at.is_null()),
    )
    .set(email_codes::consumed_at.eq(now))
    .execute(conn)?
        == 1;
    diesel::update(
        email_codes::table
            .filter(email_codes::email.eq(email))
            .filter(email_codes::purpose.eq(purpose.as_str()))
            .filter(email_codes::consumed_at.is_null()),
    )
    .set(email_codes::consumed_at.eq(now))
    .execute(conn)?;
    Ok(won)
}

/// Accounts newest first, `limit` after the account `before` (a public uuid) if given.
pub fn list_users(conn: &mut DbConn, before: Option<&str>, limit: i64) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .select(User::as_select())
        .order(users::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(uuid) = before {
        let Some(anchor) = find_by_uuid(conn, uuid)? else {
            return Ok(Vec::new());
        };
        query = query.filter(users::id.lt(anchor.id));
    }
    query.load(conn)
}
