//! The 管理 page: accounts with ban / unban buttons that swap their own row.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::api::PageQuery;
use super::service;
use crate::app::AppState;
use crate::error::AppResult;
use crate::users::model::Status;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(users_page))
        .route("/admin/users/{uuid}/ban", web::post().to(ban))
        .route("/admin/users/{uuid}/unban", web::post().to(unban));
}

async fn users_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let page = service::list_users(&state, &user.0, q.into_inner().before).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("page", &page);
    render(&state.templates, "admin/users.html", &ctx, StatusCode::OK)
}

async fn change(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    uuid: Path<String>,
    status: Status,
) -> AppResult<HttpResponse> {
    let row = service::set_status(&state, &user.0, &uuid, status).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("row", &row);
    render(
        &state.templates,
        "admin/_user_row.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn ban(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    uuid: Path<String>,
) -> AppResult<HttpResponse> {
    change(req, state, user, uuid, Status::Banned).await
}

async fn unban(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    uuid: Path<String>,
) -> AppResult<HttpResponse> {
    change(req, state, user, uuid, Status::Active).await
}
