//! The 管理 pages: accounts (search, filters, per-row changes that swap their own row) and
//! the audit log with its filters.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::service::{self, AuditQuery, Change, UserQuery};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::moderation::service as moderation;
use crate::users::model::Role;
use crate::web::auth::{ClientOrigin, PageUser};
use crate::web::render::{base_context, form_error, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(users_page))
        .route("/admin/audit", web::get().to(audit_page))
        .route("/admin/users/{uuid}/ban", web::post().to(ban))
        .route("/admin/users/{uuid}/unban", web::post().to(unban))
        .route("/admin/users/{uuid}/role", web::post().to(set_role))
        .route("/admin/users/{uuid}/quota", web::post().to(set_quota))
        .route("/admin/users/{uuid}/budget", web::post().to(set_budget))
        .route("/admin/moderation", web::get().to(moderation_page))
        .route("/admin/moderation/words", web::post().to(add_words))
        .route(
            "/admin/moderation/words/{id}/delete",
            web::post().to(delete_word),
        );
}

fn admin_context(req: &HttpRequest, user: &PageUser, tab: &str) -> tera::Context {
    let mut ctx = base_context(req, Some(&user.0));
    ctx.insert("nav", "admin");
    ctx.insert("tab", tab);
    ctx
}

async fn users_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<UserQuery>,
) -> AppResult<HttpResponse> {
    let query = q.into_inner();
    let page = service::list_users(&state, &user.0, query.clone()).await?;
    let mut ctx = admin_context(&req, &user, "users");
    ctx.insert("page", &page);
    ctx.insert("query", &query);
    // The next page keeps the filters.
    let mut more = Vec::new();
    for (key, value) in [
        ("q", &query.q),
        ("status", &query.status),
        ("role", &query.role),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            more.push(format!("{key}={}", crate::web::render::urlencode(v)));
        }
    }
    ctx.insert("filters", &more.join("&"));
    render(&state.templates, "admin/users.html", &ctx, StatusCode::OK)
}

/// Applies a change and answers with the account's row, fresh.
async fn change(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    change: Change,
) -> AppResult<HttpResponse> {
    let row = service::change_user(&state, &user.0, &uuid, change, &origin.0).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("row", &row);
    render(
        &state.templates,
        "admin/_user_row.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BanForm {
    reason: String,
}

async fn ban(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    form: Form<BanForm>,
) -> AppResult<HttpResponse> {
    let reason = form.into_inner().reason;
    change(req, state, user, origin, uuid, Change::Ban { reason }).await
}

async fn unban(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
) -> AppResult<HttpResponse> {
    change(req, state, user, origin, uuid, Change::Unban).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

async fn set_role(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    form: Form<RoleForm>,
) -> AppResult<HttpResponse> {
    let role =
        Role::parse(form.role.trim()).ok_or_else(|| AppError::invalid("role", "err.admin.role"))?;
    change(req, state, user, origin, uuid, Change::Role(role)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QuotaForm {
    /// Empty lifts the limit.
    daily_quota: String,
}

async fn set_quota(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    form: Form<QuotaForm>,
) -> AppResult<HttpResponse> {
    let text = form.daily_quota.trim();
    let quota = if text.is_empty() {
        None
    } else {
        Some(
            text.parse::<i32>()
                .map_err(|_| AppError::invalid("daily_quota", "err.admin.quota"))?,
        )
    };
    change(req, state, user, origin, uuid, Change::DailyQuota(quota)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BudgetForm {
    /// Empty lifts the limit.
    monthly_budget: String,
}

async fn set_budget(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    form: Form<BudgetForm>,
) -> AppResult<HttpResponse> {
    let text = form.monthly_budget.trim();
    let budget = if text.is_empty() {
        None
    } else {
        Some(
            text.parse::<f64>()
                .map_err(|_| AppError::invalid("monthly_budget", "catalogue.err.budget_value"))?,
        )
    };
    change(
        req,
        state,
        user,
        origin,
        uuid,
        Change::MonthlyBudget(budget),
    )
    .await
}

async fn audit_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let query = q.into_inner();
    let page = service::audit_log(&state, &user.0, query.clone()).await?;
    let mut ctx = admin_context(&req, &user, "audit");
    ctx.insert("page", &page);
    ctx.insert("query", &query);
    let mut more = Vec::new();
    for (key, value) in [
        ("action", &query.action),
        ("actor", &query.actor),
        ("user", &query.user),
        ("ip", &query.ip),
        ("from", &query.from),
        ("to", &query.to),
        ("kind", &query.kind),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            more.push(format!("{key}={}", crate::web::render::urlencode(v)));
        }
    }
    ctx.insert("filters", &more.join("&"));
    render(&state.templates, "admin/audit.html", &ctx, StatusCode::OK)
}

async fn moderation_page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
) -> AppResult<HttpResponse> {
    let lists = moderation::word_lists(&state, &user.0).await?;
    let mut ctx = admin_context(&req, &user, "moderation");
    ctx.insert("lists", &lists);
    render(
        &state.templates,
        "admin/moderation.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WordsForm {
    words: String,
    lang: String,
}

/// Adds terms; answers with the word section again (the form's message beside it).
async fn add_words(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    lang: Lang,
    form: Form<WordsForm>,
) -> AppResult<HttpResponse> {
    const PARTIAL: &str = "admin/_words.html";
    let result = moderation::add_words(&state, &user.0, &form.words, &form.lang, &origin.0).await;
    let mut ctx = admin_context(&req, &user, "moderation");
    ctx.insert("lists", &moderation::word_lists(&state, &user.0).await?);
    match result {
        Ok(added) => {
            ctx.insert("added", &added);
            render(&state.templates, PARTIAL, &ctx, StatusCode::OK)
        }
        Err(err) => {
            ctx.insert(
                "form",
                &serde_json::json!({ "words": form.words, "lang": form.lang }),
            );
            form_error(&state.templates, PARTIAL, ctx, lang, err)
        }
    }
}

/// Removes a term; htmx drops its row.
async fn delete_word(
    state: Data<AppState>,
    user: PageUser,
    origin: ClientOrigin,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    moderation::delete_word(&state, &user.0, &id, &origin.0).await?;
    Ok(HttpResponse::Ok().finish())
}
