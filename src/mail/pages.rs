//! `/admin/mail`: the outbox as a small admin page (counts, and failures with their reply).

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::api::OutboxQuery;
use super::service;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/mail", web::get().to(outbox_page));
}

async fn outbox_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let page = service::outbox(&state, &user.0, q.status.as_deref(), q.before).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", "mail");
    ctx.insert("page", &page);
    ctx.insert("status", &q.status.unwrap_or_default());
    render(&state.templates, "mail/outbox.html", &ctx, StatusCode::OK)
}
