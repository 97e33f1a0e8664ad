//! Admin rules: only admins act, nobody bans or demotes themselves, the last active admin
//! stays one, and every action is audited with who did it and from where.

use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, UserFilter};
use crate::app::AppState;
use crate::audit::{self, Action};
use crate::catalogue::model::units;
use crate::catalogue::service as catalogue;
use crate::error::{AppError, AppResult};
use crate::users::model::{rfc3339, Role, Status, User};
use crate::users::service::Origin;
use crate::users::store as users_store;

pub const PAGE_SIZE: i64 = 50;
/// Longest ban reason kept; it is shown to the banned person.
pub const MAX_REASON_CHARS: usize = 500;
/// Highest daily quota an admin may set (tasks per day).
pub const MAX_DAILY_QUOTA: i32 = 100_000;

pub fn require_admin(user: &User) -> AppResult<()> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("err.forbidden"))
    }
}

/// The account list's query: a search, two filters and the page cursor.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the username or email address, any case.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `active` or `banned`; blank: any.
    #[param(pattern = "^\\s*(active|banned)?\\s*$")]
    pub status: Option<String>,
    /// `user` or `admin`; blank: any.
    #[param(pattern = "^\\s*(user|admin)?\\s*$")]
    pub role: Option<String>,
    /// The `next` of the previous page.
    pub before: Option<String>,
}

impl UserQuery {
    fn filter(&self) -> AppResult<UserFilter> {
        fn blank(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let q = blank(&self.q).map(str::to_string);
        if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
            return Err(AppError::invalid("q", "err.admin.query_long"));
        }
        let status = match blank(&self.status) {
            Some(s) => Some(
                Status::parse(s).ok_or_else(|| AppError::invalid("status", "err.admin.status"))?,
            ),
            None => None,
        };
        let role = match blank(&self.role) {
            Some(r) => {
                Some(Role::parse(r).ok_or_else(|| AppError::invalid("role", "err.admin.role"))?)
            }
            None => None,
        };
        Ok(UserFilter { q, status, role })
    }
}

/// One account as the admin list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminUserView {
    pub uuid: String,
    pub username: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub ban_reason: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// Finished results the account keeps.
    pub results: i64,
    /// Tasks submitted today (UTC), what the daily quota counts.
    pub tasks_today: i64,
    /// Tasks per day; absent means no limit.
    pub daily_quota: Option<i32>,
    /// Charges per calendar month (UTC) in `stats.currency`; absent means no limit.
    pub monthly_budget: Option<f64>,
    /// Charged this month, refunds taken off.
    pub spent_this_month: f64,
    /// Bytes of kept results and uploads.
    pub storage_bytes: i64,
    /// The same, for people: `12.3 MiB`.
    pub storage: String,
}

/// Bytes in binary units with one decimal (`0 B`, `999 B`, `1.5 KiB`, `12.3 MiB`).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl AdminUserView {
    /// `budget`: the monthly budget and this month's charges, in micros.
    fn of(user: &User, usage: store::Usage, budget: (Option<i64>, i64)) -> Self {
        AdminUserView {
            uuid: user.uuid.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role.clone(),
            status: user.status.clone(),
            ban_reason: user.ban_reason.clone(),
            created_at: rfc3339(user.created_at),
            last_login_at: user.last_login_at.map(rfc3339),
            results: usage.results,
            tasks_today: usage.tasks_today,
            daily_quota: user.daily_quota,
            monthly_budget: budget.0.map(units),
            spent_this_month: units(budget.1),
            storage_bytes: usage.storage_bytes,
            storage: human_bytes(usage.storage_bytes),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub users: Vec<AdminUserView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

fn start_of_day(now: NaiveDateTime) -> NaiveDateTime {
    now.date().and_hms_opt(0, 0, 0).unwrap_or(now)
}

pub async fn list_users(state: &AppState, admin: &User, query: UserQuery) -> AppResult<UserPage> {
    require_admin(admin)?;
    let filter = query.filter()?;
    let before = query.before.filter(|b| !b.is_empty());
    let (users, usage, budgets) = state
        .db
        .run(move |conn| {
            let users = store::search_users(conn, &filter, before.as_deref(), PAGE_SIZE + 1)?;
            let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
            let usage = store::usage_of(conn, &ids, start_of_day(Utc::now().naive_utc()))?;
            let budgets = catalogue::budgets_of(conn, &ids)?;
            Ok((users, usage, budgets))
        })
        .await?;
    let more = users.len() as i64 > PAGE_SIZE;
    let users: Vec<AdminUserView> = users
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|u| {
            AdminUserView::of(
                u,
                usage.get(&u.id).copied().unwrap_or_default(),
                budgets.get(&u.id).copied().unwrap_or_default(),
            )
        })
        .collect();
    let next = if more {
        users.last().map(|u| u.uuid.clone())
    } else {
        None
    };
    Ok(UserPage { users, next })
}

/// One account's row, fresh (after a change).
async fn row(state: &AppState, uuid: String) -> AppResult<AdminUserView> {
    state
        .db
        .run(move |conn| {
            let user = users_store::find_by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            let usage = store::usage_of(conn, &[user.id], start_of_day(Utc::now().naive_utc()))?;
            let budget = catalogue::budgets_of(conn, &[user.id])?;
            Ok(AdminUserView::of(
                &user,
                usage.get(&user.id).copied().unwrap_or_default(),
                budget.get(&user.id).copied().unwrap_or_default(),
            ))
        })
        .await
}

/// A change to one account, as the pages and the API ask for it.
#[derive(Debug, Clone)]
pub enum Change {
    Ban {
        reason: String,
    },
    Unban,
    Role(Role),
    /// `None` lifts the limit.
    DailyQuota(Option<i32>),
    /// In the currency; `None` lifts the limit.
    MonthlyBudget(Option<f64>),
}

impl Change {
    fn action(&self) -> &'static str {
        match self {
            Change::Ban { .. } => "admin_ban",
            Change::Unban => "admin_unban",
            Change::Role(_) => "admin_role",
            Change::DailyQuota(_) => "admin_quota",
            Change::MonthlyBudget(_) => "admin_budget",
        }
    }

    /// Whether the change may take the account's admin powers away.
    fn removes_an_admin(&self) -> bool {
        matches!(self, Change::Ban { .. } | Change::Role(Role::User))
    }

    fn validate(self) -> AppResult<Self> {
        match self {
            Change::Ban { reason } => {
                let reason = reason.trim().to_string();
                if reason.chars().count() > MAX_REASON_CHARS {
                    return Err(AppError::invalid("reason", "err.admin.reason_long"));
                }
                Ok(Change::Ban { reason })
            }
            Change::DailyQuota(Some(q)) if !(0..=MAX_DAILY_QUOTA).contains(&q) => {
                Err(AppError::invalid("daily_quota", "err.admin.quota"))
            }
            Change::MonthlyBudget(Some(b)) => {
                catalogue::budget_micros(b)?;
                Ok(Change::MonthlyBudget(Some(b)))
            }
            other => Ok(other),
        }
    }
}

/// Applies `change` to the account `uuid` and records it; answers with the account's new row.
/// A ban also ends the account's sessions and live pages at once.
pub async fn change_user(
    state: &AppState,
    admin: &User,
    uuid: &str,
    change: Change,
    origin: &Origin,
) -> AppResult<AdminUserView> {
    require_admin(admin)?;
    let change = change.validate()?;
    if uuid == admin.uuid && !matches!(change, Change::DailyQuota(_) | Change::MonthlyBudget(_)) {
        return Err(AppError::bad_request("err.admin.self"));
    }
    let (target, admin_id, ip) = (uuid.to_string(), admin.id(), origin.ip.clone());
    let applied = change.clone();
    let user_id = state
        .db
        .run(move |conn| {
            // The write lock from the start and the admins' rows locked before the target is
            // read: the check below then sees every change to the admins that committed before
            // this one, and on SQLite a task finishing meanwhile makes this wait instead of
            // failing it (SQLITE_BUSY_SNAPSHOT).
            crate::db::write_transaction(conn, |conn| {
                store::lock_admins(conn)?;
                let user =
                    users_store::find_by_uuid(conn, &target)?.ok_or_else(AppError::not_found)?;
                if applied.removes_an_admin()
                    && user.is_admin()
                    && !user.is_banned()
                    && store::other_active_admins(conn, user.id)? == 0
                {
                    return Err(AppError::client(
                        actix_web::http::StatusCode::CONFLICT,
                        409,
                        "err.admin.last_admin",
                    ));
                }
                let now = Utc::now().naive_utc();
                let detail = apply(conn, &user, &applied, now)?;
                audit::record_by(
                    conn,
                    &Action {
                        actor: Some(admin_id),
                        user: Some(user.id()),
                        action: applied.action(),
                        target: None,
                        detail: detail.as_deref(),
                        ip: Some(&ip),
                    },
                )?;
                Ok(user.id)
            })
        })
        .await?;
    if matches!(change, Change::Ban { .. }) {
        state.live.sign_out(user_id);
    }
    row(state, uuid.to_string()).await
}

/// Writes the change; answers with what the audit entry says about it.
fn apply(
    conn: &mut crate::db::DbConn,
    user: &User,
    change: &Change,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    let id = user.id();
    Ok(match change {
        Change::Ban { reason } => {
            let reason = (!reason.is_empty()).then_some(reason.as_str());
            users_store::set_status(conn, id, Status::Banned.as_str(), reason, now)?;
            reason.map(str::to_string)
        }
        Change::Unban => {
            users_store::set_status(conn, id, Status::Active.as_str(), None, now)?;
            None
        }
        Change::Role(role) => {
            users_store::set_role(conn, id, role.as_str(), now)?;
            Some(format!("{} -> {}", user.role, role.as_str()))
        }
        Change::DailyQuota(quota) => {
            store::set_daily_quota(conn, id.0, *quota, now)?;
            let shown = |q: Option<i32>| q.map_or("unlimited".to_string(), |q| q.to_string());
            Some(format!("{} -> {}", shown(user.daily_quota), shown(*quota)))
        }
        Change::MonthlyBudget(budget) => {
            let micros = budget.map(catalogue::budget_micros).transpose()?;
            let before = crate::catalogue::store::budget(conn, id.0)?;
            crate::catalogue::store::set_budget(conn, id.0, micros, now)?;
            let shown =
                |b: Option<i64>| b.map_or("unlimited".to_string(), |b| units(b).to_string());
            Some(format!("{} -> {}", shown(before), shown(micros)))
        }
    })
}

// ---- the audit log ----------------------------------------------------------------------

/// The audit page's query; every part is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// One action, e.g. `admin_ban` or `login_failed`.
    pub action: Option<String>,
    /// Username of who did it.
    pub actor: Option<String>,
    /// Username of the account it was about.
    pub user: Option<String>,
    /// Client address, exactly.
    pub ip: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), included.
    pub to: Option<String>,
    /// `admin` for what admins did to others only.
    pub kind: Option<String>,
    /// The `next` of the previous page.
    pub before: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    pub action: String,
    /// Who did it: the admin, or the account itself.
    pub actor: Option<String>,
    /// The account it was about.
    pub user: Option<String>,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    pub next: Option<String>,
    /// Every action the log holds, for the filter.
    pub actions: Vec<String>,
}

fn day(field: &'static str, value: &str) -> AppResult<NaiveDateTime> {
    chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| AppError::invalid(field, "err.admin.date"))
}

pub async fn audit_log(state: &AppState, admin: &User, query: AuditQuery) -> AppResult<AuditPage> {
    require_admin(admin)?;
    let blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let since = blank(&query.from).map(|d| day("from", &d)).transpose()?;
    let until = blank(&query.to)
        .map(|d| day("to", &d).map(|t| t + chrono::Duration::days(1)))
        .transpose()?;
    let (action, actor, user, ip) = (
        blank(&query.action),
        blank(&query.actor),
        blank(&query.user),
        blank(&query.ip),
    );
    if [&action, &actor, &user, &ip]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.chars().count() > 100))
    {
        return Err(AppError::bad_request("err.admin.query_long"));
    }
    let admin_only = blank(&query.kind).as_deref() == Some("admin");
    let before = blank(&query.before);
    state
        .db
        .run(move |conn| {
            // An unknown name matches nothing rather than everything.
            let mut account = |name: Option<String>| -> AppResult<Option<Option<i64>>> {
                Ok(match name {
                    Some(n) => Some(users_store::find_by_username(conn, &n)?.map(|u| u.id)),
                    None => None,
                })
            };
            let (actor, user) = (account(actor)?, account(user)?);
            let actions = audit::actions(conn)?;
            if matches!(actor, Some(None)) || matches!(user, Some(None)) {
                return Ok(AuditPage {
                    entries: Vec::new(),
                    next: None,
                    actions,
                });
            }
            let filter = audit::Filter {
                action,
                actor: actor.flatten(),
                user: user.flatten(),
                admin_only,
                since,
                until,
                ip,
            };
            let rows = audit::search(conn, &filter, before.as_deref(), PAGE_SIZE + 1)?;
            let mut ids: Vec<i64> = rows
                .iter()
                .flat_map(|e| [e.user_id, e.actor_id])
                .flatten()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let names: std::collections::HashMap<i64, String> =
                audit::usernames(conn, &ids)?.into_iter().collect();
            let more = rows.len() as i64 > PAGE_SIZE;
            let entries: Vec<AuditEntryView> = rows
                .into_iter()
                .take(PAGE_SIZE as usize)
                .map(|e| AuditEntryView {
                    id: e.uuid.unwrap_or_default(),
                    actor: e
                        .actor_id
                        .or(e.user_id)
                        .and_then(|id| names.get(&id).cloned()),
                    user: e.user_id.and_then(|id| names.get(&id).cloned()),
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                    ip: e.ip,
                    created_at: rfc3339(e.created_at),
                })
                .collect();
            let next = if more {
                entries.last().map(|e| e.id.clone())
            } else {
                None
            };
            Ok(AuditPage {
                entries,
                next,
                actions,
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12 * 1024 * 1024 + 300 * 1024), "12.3 MiB");
    }

    #[test]
    fn bad_filters_and_changes_are_refused_with_their_field() {
        let q = UserQuery {
            status: Some("asleep".into()),
            ..Default::default()
        };
        assert_eq!(q.filter().unwrap_err().field(), Some("status"));
        let q = UserQuery {
            role: Some(" admin ".into()),
            q: Some("  ".into()),
            ..Default::default()
        };
        let f = q.filter().unwrap();
        assert_eq!((f.role, f.q), (Some(Role::Admin), None));
        let long = Change::Ban {
            reason: "x".repeat(MAX_REASON_CHARS + 1),
        };
        assert_eq!(long.validate().unwrap_err().field(), Some("reason"));
        assert!(Change::DailyQuota(Some(-1)).validate().is_err());
        assert!(Change::DailyQuota(None).validate().is_ok());
    }
}
