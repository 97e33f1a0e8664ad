//! SQL for accounts and mailed codes; written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    CodePurpose, EmailCode, NewEmailCode, NewSession, NewUserRow, Session, User, UserId,
};
use crate::db::schema::{email_codes, sessions, users};
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

/// The account whose name is `username` in any case or Unicode form.
pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    let found = users::table
        .filter(users::username_key.eq(super::model::username_key(username)))
        .select(User::as_select())
        .first(conn)
        .optional()?;
    if found.is_some() {
        return Ok(found);
    }
    // An account whose key could not be filled (its name collides with another's) is still
    // found by the rule it was created under.
    users::table
        .filter(users::username_key.is_null())
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Fills `username_key` of accounts made before it existed (done in Rust: SQL has no NFKC
/// on SQLite). Returns how many were filled and the names that collide with another
/// account's; those keep no key and are logged for the operator to rename.
pub fn fill_username_keys(conn: &mut DbConn) -> QueryResult<(usize, Vec<String>)> {
    let pending: Vec<(i64, String)> = users::table
        .filter(users::username_key.is_null())
        .order(users::id.asc())
        .select((users::id, users::username))
        .load(conn)?;
    let (mut filled, mut collisions) = (0, Vec::new());
    for (id, name) in pending {
        let key = super::model::username_key(&name);
        match diesel::update(users::table.find(id))
            .set(users::username_key.eq(&key))
            .execute(conn)
        {
            Ok(_) => filled += 1,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => collisions.push(name),
            Err(e) => return Err(e),
        }
    }
    Ok((filled, collisions))
}

/// Whether the account `id` is banned (its shares and files are hidden meanwhile).
pub fn is_banned(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    let status: Option<String> = users::table
        .find(id)
        .select(users::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref() == Some(super::model::Status::Banned.as_str()))
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
        .execute(conn)?;
    if revoke {
        revoke_all_sessions(conn, id, now)?;
    }
    Ok(())
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

/// Changes the account status (a ban keeps its reason, a lift clears it); tokens held before
/// stop working at once.
pub fn set_status(
    conn: &mut DbConn,
    id: UserId,
    status: &str,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::status.eq(status),
            users::ban_reason.eq(reason),
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    revoke_all_sessions(conn, id, now)
}

// ---- sessions ---------------------------------------------------------------------------

pub fn insert_session(conn: &mut DbConn, row: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The session `uuid` of `user_id` if it is neither revoked nor expired.
pub fn live_session(
    conn: &mut DbConn,
    uuid: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::uuid.eq(uuid))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

pub fn touch_session(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .map(drop)
}

/// Live sessions, most recently used first (at most `limit`).
pub fn sessions_of(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .limit(limit)
        .select(Session::as_select())
        .load(conn)
}

/// Ends one session of `user_id`; false when there was no such live session.
pub fn revoke_session(
    conn: &mut DbConn,
    user_id: i64,
    uuid: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::uuid.eq(uuid))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
    .map(|n| n > 0)
}

pub fn revoke_all_sessions(conn: &mut DbConn, id: UserId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(id.0))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
    .map(drop)
}

pub fn set_last_login(conn: &mut DbConn, id: UserId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set(users::last_login_at.eq(now))
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
