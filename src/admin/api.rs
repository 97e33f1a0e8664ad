//! Admin JSON endpoints under /api/v1/admin (admins only; others get 403).

use actix_web::web::{self, Data, Path, Query};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use super::service::{self, AdminUserView, AuditPage, AuditQuery, Change, UserPage, UserQuery};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Envelope, ErrorData, NoData, Reply};
use crate::json::Json;
use crate::moderation::service::{self as moderation, Added, WordLists};
use crate::users::model::Role;
use crate::web::auth::{ApiUser, ClientOrigin};
use crate::web::openapi::{route, AdminErrors, JsonBodyErrors};

#[derive(OpenApi)]
#[openapi(paths(
    list_users,
    ban,
    unban,
    set_role,
    set_quota,
    set_budget,
    audit,
    words,
    add_words,
    delete_word
))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_list_users, list_users);
    route(cfg, __path_ban, ban);
    route(cfg, __path_unban, unban);
    route(cfg, __path_set_role, set_role);
    route(cfg, __path_set_quota, set_quota);
    route(cfg, __path_set_budget, set_budget);
    route(cfg, __path_audit, audit);
    route(cfg, __path_words, words);
    route(cfg, __path_add_words, add_words);
    route(cfg, __path_delete_word, delete_word);
}

#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "admin", operation_id = "list_users",
    summary = "Search accounts (admins only)",
    description = "Newest first, 50 a page, each with its results, tasks today, daily quota, storage used and last login; pass `next` of one page as `before` for the following one (the filters stay the same).",
    security(("bearer" = [])),
    params(UserQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<UserPage>),
        (status = 400, description = "code 400: a bad filter (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn list_users(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<UserQuery>,
) -> AppResult<Reply<UserPage>> {
    let page = service::list_users(&state, &user.0, q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct BanRequest {
    /// Shown to the banned person when refused.
    #[schema(schema_with = reason_schema)]
    reason: String,
}

fn reason_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text(0, service::MAX_REASON_CHARS)
}

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/ban", tag = "admin", operation_id = "ban_user",
    summary = "Ban an account (admins only)",
    description = "The account cannot log in and every token it holds stops working at once; its owner is refused with 403 and the reason (`data.reason`). The last active admin cannot be banned.",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    request_body = BanRequest,
    responses(
        (status = 200, description = "code 200: banned", body = Envelope<AdminUserView>),
        (status = 400, description = "code 400: yourself, or a reason too long", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the last active admin", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
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

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/unban", tag = "admin", operation_id = "unban_user",
    summary = "Lift a ban (admins only)",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    responses(
        (status = 200, description = "code 200: active again", body = Envelope<AdminUserView>),
        AdminErrors,
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
    )
)]
async fn unban(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
) -> AppResult<Reply<AdminUserView>> {
    let row = service::change_user(&state, &user.0, &uuid, Change::Unban, &origin.0).await?;
    Ok(Reply::ok("msg.unbanned", row))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct RoleRequest {
    #[schema(schema_with = role_schema, required = true)]
    role: String,
}

fn role_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([Role::User.as_str(), Role::Admin.as_str()]))
        .build()
}

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/role", tag = "admin", operation_id = "set_role",
    summary = "Change an account's role (admins only)",
    description = "Not your own; the last active admin cannot be demoted.",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<AdminUserView>),
        (status = 400, description = "code 400: a bad role, or yourself", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the last active admin", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    /// Tasks per day; null: no limit.
    #[serde(deserialize_with = "crate::json::whole")]
    #[schema(schema_with = quota_schema, required = true)]
    daily_quota: Option<i64>,
}

fn quota_schema() -> utoipa::openapi::Object {
    crate::web::openapi::or_null(crate::web::openapi::integer(
        0,
        i64::from(service::MAX_DAILY_QUOTA),
    ))
}

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/quota", tag = "admin", operation_id = "set_quota",
    summary = "Set an account's daily task quota (admins only)",
    description = "`null` lifts the limit; it holds from the next submit.",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    request_body = QuotaRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<AdminUserView>),
        (status = 400, description = "code 400: not 0–100000 or null", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
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

/// `{"monthly_budget": 50}` sets the limit, `{"monthly_budget": null}` lifts it; any other
/// field is refused, so a misspelt one cannot lift a limit by accident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetRequest {
    /// Charges per calendar month (UTC) in `stats.currency`; null: no limit.
    #[schema(schema_with = budget_schema, required = true)]
    monthly_budget: Option<f64>,
}

fn budget_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    crate::web::openapi::or_null(
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0.0))
            .maximum(Some(crate::catalogue::service::MAX_BUDGET))
            .build(),
    )
}

#[utoipa::path(
    post, path = "/api/v1/admin/users/{uuid}/budget", tag = "admin", operation_id = "set_budget",
    summary = "Set an account's monthly budget (admins only)",
    description = "What the account's tasks may be charged per calendar month (UTC), in `stats.currency`, at the model prices of `GET /models`; failed and canceled tasks are refunded. `null` lifts the limit; it holds from the next submit, which is refused with 402 past it.",
    security(("bearer" = [])),
    params(("uuid" = String, Path, description = "The account's public id")),
    request_body = BudgetRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<AdminUserView>),
        (status = 400, description = "code 400: not 0–1000000000 or null", body = Envelope<ErrorData>),
        AdminErrors,
        (status = 404, description = "code 404: no such account", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn set_budget(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    uuid: Path<String>,
    body: Json<BudgetRequest>,
) -> AppResult<Reply<AdminUserView>> {
    let change = Change::MonthlyBudget(body.monthly_budget);
    let row = service::change_user(&state, &user.0, &uuid, change, &origin.0).await?;
    Ok(Reply::ok("msg.saved", row))
}

#[utoipa::path(
    get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "audit",
    summary = "Read the audit log (admins only)",
    description = "Newest first, 50 a page: who did what to which account or thing, when and from which address.",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<AuditPage>),
        (status = 400, description = "code 400: a bad date (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
    )
)]
async fn audit(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<AuditQuery>,
) -> AppResult<Reply<AuditPage>> {
    let page = service::audit_log(&state, &user.0, q.into_inner()).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[utoipa::path(
    get, path = "/api/v1/admin/moderation/words", tag = "admin", operation_id = "moderation_words",
    summary = "The moderation word lists (admins only)",
    description = "The shipped terms (when on), the configured ones, the admins' own, and how many prompts were refused today and in all.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<WordLists>),
        AdminErrors,
    )
)]
async fn words(state: Data<AppState>, user: ApiUser) -> AppResult<Reply<WordLists>> {
    Ok(Reply::ok(
        "msg.ok",
        moderation::word_lists(&state, &user.0).await?,
    ))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct NewWords {
    /// Terms to refuse, at most 200, each 1–50 characters with no separator (`,` `，` `、`).
    #[schema(required = true, max_items = 200)]
    words: Vec<String>,
    /// Which list they belong to.
    #[schema(schema_with = lang_schema, required = true)]
    lang: String,
}

fn lang_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["zh", "en"]))
        .build()
}

#[utoipa::path(
    post, path = "/api/v1/admin/moderation/words", tag = "admin", operation_id = "add_moderation_words",
    summary = "Add terms to refuse in prompts (admins only)",
    description = "Matched ignoring width, case, spaces and punctuation between characters, and traditional/simplified forms; a term listed already in another written form is skipped. Each added term is audited.",
    security(("bearer" = [])),
    request_body = NewWords,
    responses(
        (status = 200, description = "code 200", body = Envelope<Added>),
        (status = 400, description = "code 400: a bad lang, or a term empty, too long or with a separator (`data.field`)", body = Envelope<ErrorData>),
        AdminErrors,
        JsonBodyErrors,
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/admin/moderation/words/{id}", tag = "admin", operation_id = "delete_moderation_word",
    summary = "Remove one of the admins' terms (admins only)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The term's id")),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<NoData>),
        AdminErrors,
        (status = 404, description = "code 404: no such term", body = Envelope<ErrorData>),
    )
)]
async fn delete_word(
    state: Data<AppState>,
    user: ApiUser,
    origin: ClientOrigin,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    moderation::delete_word(&state, &user.0, &id, &origin.0).await?;
    Ok(Reply::message("msg.deleted"))
}
