//! Admin rules: only admins act, nobody bans themselves, and every action is audited.

use super::super::users::model::{Status, User, UserView};
use crate::app::AppState;
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::users::store;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

fn require_admin(user: &User) -> AppResult<()> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("err.forbidden"))
    }
}

pub async fn list_users(
    state: &AppState,
    admin: &User,
    before: Option<String>,
) -> AppResult<UserPage> {
    require_admin(admin)?;
    let users = state
        .db
        .run(move |conn| Ok(store::list_users(conn, before.as_deref(), PAGE_SIZE + 1)?))
        .await?;
    let more = users.len() as i64 > PAGE_SIZE;
    let users: Vec<UserView> = users
        .iter()
        .take(PAGE_SIZE as usize)
        .map(User::view)
        .collect();
    let next = if more {
        users.last().map(|u| u.uuid.clone())
    } else {
        None
    };
    Ok(UserPage { users, next })
}

/// Bans or restores the account `uuid`; a ban ends its sessions at once.
pub async fn set_status(
    state: &AppState,
    admin: &User,
    uuid: &str,
    status: Status,
) -> AppResult<UserView> {
    require_admin(admin)?;
    if uuid == admin.uuid {
        return Err(AppError::bad_request("err.ban_self"));
    }
    let (uuid, admin_id) = (uuid.to_string(), admin.id());
    state
        .db
        .run(move |conn| {
            let target = store::find_by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            store::set_status(
                conn,
                target.id(),
                status.as_str(),
                chrono::Utc::now().naive_utc(),
            )?;
            let detail = format!("by admin #{}", admin_id.0);
            audit::record(
                conn,
                Some(target.id()),
                status.as_str(),
                Some(&detail),
                None,
            )?;
            let updated = store::find_by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            Ok(updated.view())
        })
        .await
}
