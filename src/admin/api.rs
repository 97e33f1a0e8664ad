//! Admin JSON endpoints under /api/v1/admin (admins only; others get 403).

use actix_web::web::{self, Data, Json, Path, Query};
use serde::Deserialize;

use super::service::{self, AdminUserView, AuditPage, AuditQuery, Change, UserPage, UserQuery};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::moderation::service::{self as moderation, Added, WordLists};
use crate::users::model::Role;
use crate::web::auth::{ApiUser, ClientOrigin};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/admin")
            .route("/users", web::get().to(list_users))
            .route("/users/{uuid}/ban", web::post().to(ban))
            .route("/users/{uuid}/unban", web::post().to(unban))
            .route("/users/{uuid}/role", web::post().to(set_role))
            .route("/users/{uuid}/quota", web::post().to(set_quota))
            .route("/audit", web::get().to(audit))
            .route("/moderation/words", web::get().to(words))
            .route("/moderation/words", web::post().to(add_words))
            .route("/moderation/words/{id}", web::delete().to(delete_word)),
    );
}

async fn list_users(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<UserQuery>,
) -> AppResult<Reply<UserPage>> {
    let page = service::list_users(&state, &user.0, q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BanRequest {
    /// Shown to the banned person when refused; at most 500 characters.
    reason: String,
}

async fn ban(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    body: Json<BanRequest>,
) -> AppResult<Reply<AdminUserView>> {
    let change = Change::Ban {
        reason: body.into_inner().reason,
    };
    let row = service::change_user(&state, &user.0, &uuid, change, &origin.0).await?;
    Ok(Reply::ok("msg.banned", row))
}

async fn unban(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
) -> AppResult<Reply<AdminUserView>> {
    let row = service::change_user(&state, &user.0, &uuid, Change::Unban, &origin.0).await?;
    Ok(Reply::ok("msg.unbanned", row))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleRequest {
    /// `user` or `admin`.
    role: String,
}

async fn set_role(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    body: Json<RoleRequest>,
) -> AppResult<Reply<AdminUserView>> {
    let role =
        Role::parse(body.role.trim()).ok_or_else(|| AppError::invalid("role", "err.admin.role"))?;
    let row = service::change_user(&state, &user.0, &uuid, Change::Role(role), &origin.0).await?;
    Ok(Reply::ok("msg.saved", row))
}

/// `{"daily_quota": 20}` sets the limit, `{"daily_quota": null}` lifts it; any other field is
/// refused, so a misspelt one cannot lift a limit by accident.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    daily_quota: Option<i64>,
}

async fn set_quota(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    body: Json<QuotaRequest>,
) -> AppResult<Reply<AdminUserView>> {
    let quota = body
        .daily_quota
        .map(|q| i32::try_from(q).map_err(|_| AppError::invalid("daily_quota", "err.admin.quota")))
        .transpose()?;
    let row =
        service::change_user(&state, &user.0, &uuid, Change::DailyQuota(quota), &origin.0).await?;
    Ok(Reply::ok("msg.saved", row))
}

async fn audit(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<AuditQuery>,
) -> AppResult<Reply<AuditPage>> {
    let page = service::audit_log(&state, &user.0, q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", page))
}

async fn words(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<WordLists>> {
    Ok(Reply::ok(
        "msg.ok",
        moderation::word_lists(&state, &user.0).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewWords {
    /// Terms to refuse, at most 200, each at most 50 characters.
    words: Vec<String>,
    /// `zh` or `en`: which list they belong to.
    lang: String,
}

async fn add_words(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    body: Json<NewWords>,
) -> AppResult<Reply<Added>> {
    let body = body.into_inner();
    if body
        .words
        .iter()
        .any(|w| w.contains(['\n', ',', '，', '、']))
    {
        return Err(AppError::invalid("words", "err.moderation.term"));
    }
    let text = body.words.join("\n");
    let added = moderation::add_words(&state, &user.0, &text, &body.lang, &origin.0).await?;
    Ok(Reply::ok("msg.saved", added))
}

async fn delete_word(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    moderation::delete_word(&state, &user.0, &id, &origin.0).await?;
    Ok(Reply::message("msg.deleted"))
}
