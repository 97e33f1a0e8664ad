//! The audit log: who did what to an account, and from where (seed 6.1 "关键操作进行日志记录").

use diesel::prelude::*;

use crate::db::schema::audit_log;
use crate::db::DbConn;
use crate::users::model::UserId;

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewEntry<'a> {
    user_id: Option<i64>,
    action: &'a str,
    detail: Option<&'a str>,
    ip: Option<&'a str>,
    created_at: chrono::NaiveDateTime,
}

pub fn record(
    conn: &mut DbConn,
    user: Option<UserId>,
    action: &str,
    detail: Option<&str>,
    ip: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry {
            user_id: user.map(|u| u.0),
            action,
            detail,
            ip,
            created_at: chrono::Utc::now().naive_utc(),
        })
        .execute(conn)
        .map(drop)
}

/// The actions of one account, newest first (for tests and the later admin pages).
pub fn actions_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<String>> {
    audit_log::table
        .filter(audit_log::user_id.eq(user.0))
        .order(audit_log::id.desc())
        .select(audit_log::action)
        .load(conn)
}
