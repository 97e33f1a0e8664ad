//! Admin JSON endpoints under /api/v1/admin.

use actix_web::web::{self, Data, Path, Query};
use serde::Deserialize;

use super::service::{self, UserPage};
use crate::app::AppState;
use crate::error::{AppResult, Reply};
use crate::users::model::{Status, UserView};
use crate::web::auth::ApiUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/admin")
            .route("/users", web::get().to(list_users))
            .route("/users/{uuid}/ban", web::post().to(ban))
            .route("/users/{uuid}/unban", web::post().to(unban)),
    );
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    pub before: Option<String>,
}

async fn list_users(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<PageQuery>,
) -> AppResult<Reply<UserPage>> {
    let page = service::list_users(&state, &user.0, q.into_inner().before).await?;
    Ok(Reply::ok("msg.ok", page))
}

async fn ban(
    state: Data<AppState>,
    user: ApiUser,
    uuid: Path<String>,
) -> AppResult<Reply<UserView>> {
    Ok(Reply::ok(
        "msg.banned",
        service::set_status(&state, &user.0, &uuid, Status::Banned).await?,
    ))
}

async fn unban(
    state: Data<AppState>,
    user: ApiUser,
    uuid: Path<String>,
) -> AppResult<Reply<UserView>> {
    Ok(Reply::ok(
        "msg.unbanned",
        service::set_status(&state, &user.0, &uuid, Status::Active).await?,
    ))
}
