//! 管理 → 审核队列: flagged results with their thumbnails (admins may see them), one-click and
//! bulk decisions, and the reviewers' signed file links.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::review::{self, Decision, QueueQuery};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::auth::{ClientOrigin, PageUser};
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/moderation/queue", web::get().to(queue_page))
        .route("/admin/moderation/queue/decide", web::post().to(decide))
        .route("/admin/moderation/files/{kind}/{uuid}", web::get().to(file));
}

fn context(req: &HttpRequest, user: &PageUser) -> tera::Context {
    let mut ctx = base_context(req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", "queue");
    ctx
}

async fn queue_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<QueueQuery>,
) -> AppResult<HttpResponse> {
    let query = q.into_inner();
    let page = review::queue(&state, &user.0, query.clone()).await?;
    let mut ctx = context(&req, &user);
    ctx.insert("page", &page);
    ctx.insert(
        "decision",
        query
            .decision
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or("pending"),
    );
    render(&state.templates, "admin/queue.html", &ctx, StatusCode::OK)
}

/// Decides one flag (a card's buttons) or those ticked (the bulk bar); answers with the
/// queue as it is now. The form repeats `ids`, so it is read as pairs.
async fn decide(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    form: Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let ids: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "ids")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let decision = Decision::parse(&value("decision"))
        .ok_or_else(|| AppError::invalid("decision", "review.errors.decision"))?;
    let shown = value("view");
    let done = review::decide(&state, &user.0, ids, decision, &origin.0).await?;
    let query = QueueQuery {
        decision: Some(shown.clone()).filter(|s| !s.is_empty()),
        before: None,
    };
    let page = review::queue(&state, &user.0, query).await?;
    let mut ctx = context(&req, &user);
    ctx.insert("page", &page);
    ctx.insert(
        "decision",
        if shown.is_empty() { "pending" } else { &shown },
    );
    ctx.insert("decided", &done.flags.len());
    ctx.insert("decided_as", &value("decision"));
    render(&state.templates, "admin/_queue.html", &ctx, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct Signed {
    exp: i64,
    sig: String,
}

/// A flagged result's thumbnail or file, for the signed links the queue hands admins.
async fn file(
    state: Data<AppState>,
    path: Path<(String, String)>,
    q: Query<Signed>,
) -> AppResult<HttpResponse> {
    let (kind, uuid) = path.into_inner();
    let (key, mime) = review::signed_file(&state, &kind, &uuid, q.exp, &q.sig).await?;
    let bytes = state
        .storage
        .get(&key)
        .await
        .map_err(|_| AppError::not_found())?;
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header((header::CACHE_CONTROL, "private, max-age=600"))
        .body(bytes))
}
