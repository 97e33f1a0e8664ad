//! The audit log: who did what to which account or thing, when and from where (seed 6.1
//! "关键操作进行日志记录"). `user_id` is the account an entry is about; `actor_id` is set
//! when someone else (an admin) did it; `target` names a thing that is not an account.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{audit_log, users};
use crate::db::DbConn;
use crate::users::model::UserId;

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewEntry<'a> {
    uuid: &'a str,
    user_id: Option<i64>,
    actor_id: Option<i64>,
    action: &'a str,
    target: Option<&'a str>,
    detail: Option<&'a str>,
    ip: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// Something an account did to itself (or that happened to it: a failed login).
pub fn record(
    conn: &mut DbConn,
    user: Option<UserId>,
    action: &str,
    detail: Option<&str>,
    ip: Option<&str>,
) -> QueryResult<()> {
    record_by(
        conn,
        &Action {
            actor: None,
            user,
            action,
            target: None,
            detail,
            ip,
        },
    )
}

/// One entry of the log as the admin pages write it.
#[derive(Debug, Clone, Copy)]
pub struct Action<'a> {
    /// Who did it, when not the account itself.
    pub actor: Option<UserId>,
    /// The account it was done to.
    pub user: Option<UserId>,
    pub action: &'a str,
    /// What it was done to when that is not an account (a task id, a word list).
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
}

pub fn record_by(conn: &mut DbConn, a: &Action<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry {
            uuid: &uuid::Uuid::new_v4().to_string(),
            user_id: a.user.map(|u| u.0),
            actor_id: a.actor.map(|u| u.0),
            action: a.action,
            target: a.target,
            detail: a.detail,
            ip: a.ip,
            created_at: chrono::Utc::now().naive_utc(),
        })
        .execute(conn)
        .map(drop)
}

/// The actions of one account, newest first (for tests).
pub fn actions_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<String>> {
    audit_log::table
        .filter(audit_log::user_id.eq(user.0))
        .order(audit_log::id.desc())
        .select(audit_log::action)
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct Entry {
    pub id: i64,
    pub uuid: Option<String>,
    pub user_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
}

/// What the audit page filters by; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<String>,
    /// Entries done by this account (as actor, or to itself when no actor is named).
    pub actor: Option<i64>,
    /// Entries about this account.
    pub user: Option<i64>,
    /// Only what admins did to others.
    pub admin_only: bool,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub ip: Option<String>,
}

/// Entries newest first, `limit` of them after the entry `before` (a public id) if given.
pub fn search(
    conn: &mut DbConn,
    filter: &Filter,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut query = audit_log::table
        .select(Entry::as_select())
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(uuid) = before {
        let anchor: Option<i64> = audit_log::table
            .filter(audit_log::uuid.eq(uuid))
            .select(audit_log::id)
            .first(conn)
            .optional()?;
        let Some(anchor) = anchor else {
            return Ok(Vec::new());
        };
        query = query.filter(audit_log::id.lt(anchor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(actor) = filter.actor {
        query = query.filter(
            audit_log::actor_id.eq(actor).or(audit_log::actor_id
                .is_null()
                .and(audit_log::user_id.eq(actor))),
        );
    }
    if let Some(user) = filter.user {
        query = query.filter(audit_log::user_id.eq(user));
    }
    if filter.admin_only {
        query = query.filter(audit_log::actor_id.is_not_null());
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::created_at.lt(until));
    }
    if let Some(ip) = &filter.ip {
        query = query.filter(audit_log::ip.eq(ip.clone()));
    }
    query.load(conn)
}

/// The distinct actions the log holds, for the filter's choices.
pub fn actions(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action)
        .load(conn)
}

/// Names of the accounts `ids`, to show entries by name.
pub fn usernames(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load(conn)
}
