//! Admin JSON endpoints under /api/v1/admin.

use actix_web::web::{self, Data, Path, Query};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::service::{self, UserPage};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::users::model::{Status, UserView};
use crate::web::auth::ApiUser;
use crate::web::openapi::route;

#[derive(OpenApi)]
#[openapi(paths(list_users, ban, unban))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_list_users, list_users);
    route(cfg, __path_ban, ban);
    route(cfg, __path_unban, unban);
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next` of the previous page.
    pub before: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "admin", operation_id = "list_users",
    summary = "List accounts (admins only)",
    description = "Newest first, 50 a page; pass `next` of one page as `before` for the following one.",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<UserPage>),
        (status = 400, description = "code 400: `before` is no account", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: not an admin, or the account is banned", body = Envelope<ErrorData>),
    )
)]
async fn list_users(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<PageQuery>,
) -> AppResult<Reply<UserPage>> {
    let page = service::list_users(&state, &user.0, q.into_inner().before).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/ban", tag = "admin", operation_id = "ban_user",
    summary = "Ban an account (admins only)",
    description = "The account cannot log in and every token it holds stops working at once.",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    responses(
        (status = 200, description = "code 200: banned", body = Envelope<UserView>),
        (status = 400, description = "code 400: an admin cannot ban themselves", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: not an admin, or the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/unban", tag = "admin", operation_id = "unban_user",
    summary = "Lift a ban (admins only)",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    responses(
        (status = 200, description = "code 200: active again", body = Envelope<UserView>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: not an admin, or the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
    )
)]
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
