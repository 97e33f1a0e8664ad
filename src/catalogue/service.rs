//! The catalogue's rules: what a model refuses (before anything is queued or sent to a
//! vendor), what a request will cost, and the per-user monthly budget it is charged against.

use actix_web::http::StatusCode;
use chrono::{Datelike, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{parse_size, units, MICROS};
use super::store;
use crate::app::AppState;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::generation::model::{self, Kind, Params};
use crate::generation::providers::ModelInfo;
use crate::generation::service::{checked_params, NewTask, MAX_PROMPT_CHARS};
use crate::users::model::User;

/// Largest monthly budget an admin may set, in the currency.
pub const MAX_BUDGET: f64 = 1_000_000_000.0;

fn refuse(field: &'static str, key: &'static str) -> AppResult<()> {
    Err(AppError::invalid(field, key))
}

/// Refuses, with the field and a message, what `model` cannot do of the request as asked
/// (`images` references, `asked` before the server fills anything in).
pub fn check(model: &ModelInfo, kind: Kind, images: usize, asked: &Params) -> AppResult<()> {
    let caps = &model.capabilities;
    if images > caps.max_references as usize {
        return refuse("images", "catalogue.err.references");
    }
    if asked.n.is_some_and(|n| n > caps.max_n) {
        return refuse("params.n", "catalogue.err.n");
    }
    if asked.seed.is_some() && !caps.seed {
        return refuse("params.seed", "catalogue.err.seed");
    }
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if given(&asked.negative_prompt) && !caps.negative_prompt {
        return refuse("params.negative_prompt", "catalogue.err.negative_prompt");
    }
    if kind == Kind::I2i {
        if asked.strength.is_some() && !caps.strength {
            return refuse("params.strength", "catalogue.err.strength");
        }
        if let Some(style) = asked.style.as_deref().filter(|s| !s.trim().is_empty()) {
            if !caps.styles.iter().any(|s| s == style.trim()) {
                return refuse("params.style", "catalogue.err.style");
            }
        }
    }
    if let Some(size) = asked.size.as_deref() {
        let wanted = parse_size(size);
        if !caps.sizes.is_empty() && !caps.sizes.iter().any(|s| parse_size(s) == wanted) {
            return refuse("params.size", "catalogue.err.size");
        }
    }
    if let Some(aspect) = asked.aspect.as_deref() {
        let wanted = model::parse_aspect(aspect);
        if !caps.aspects.is_empty()
            && !caps
                .aspects
                .iter()
                .any(|a| model::parse_aspect(a) == wanted)
        {
            return refuse("params.aspect", "catalogue.err.aspect");
        }
    }
    if kind.is_video() {
        if let Some(r) = asked.resolution.as_deref() {
            if !caps
                .resolutions
                .iter()
                .any(|c| c.eq_ignore_ascii_case(r.trim()))
            {
                return refuse("params.resolution", "catalogue.err.resolution");
            }
        }
        if let Some(d) = asked.duration {
            if !caps.durations.contains(&d) {
                return refuse("params.duration", "catalogue.err.duration");
            }
        }
    }
    Ok(())
}

/// What the server fills in for the model once the request passed `check`: a video's default
/// length (so the task says how long it is and is charged for that), and no seed for a model
/// that takes none.
pub fn complete(model: &ModelInfo, kind: Kind, params: &mut Params) {
    let caps = &model.capabilities;
    if kind.is_video() && params.duration.is_none() {
        params.duration = caps.default_duration;
    }
    if !caps.seed {
        params.seed = None;
    }
}

/// What one task of the request costs in micros; None when the model has no price.
pub fn task_price(model: &ModelInfo, kind: Kind, params: &Params) -> Option<i64> {
    model.price.micros(kind, params.duration)
}

fn month_start(now: NaiveDateTime) -> NaiveDateTime {
    now.date()
        .with_day(1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(now)
}

/// Inside the submit's transaction, with the user's row locked: refunds what ended, refuses
/// (402) when the user's monthly budget cannot take `tasks` more charges of `price`, else
/// charges each task.
pub fn charge(
    conn: &mut DbConn,
    user_id: i64,
    tasks: &[i64],
    price: Option<i64>,
    currency: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let Some(price) = price.filter(|p| *p > 0) else {
        return Ok(());
    };
    store::refund_ended(conn, user_id, now)?;
    if let Some(limit) = store::budget(conn, user_id)? {
        let spent = store::spent_since(conn, user_id, month_start(now))?;
        if spent + price * tasks.len() as i64 > limit {
            return Err(AppError::client(
                StatusCode::PAYMENT_REQUIRED,
                402,
                "catalogue.err.budget",
            ));
        }
    }
    store::charge(conn, user_id, tasks, price, currency, now)?;
    Ok(())
}

/// Gives a failed or canceled task's charge back, once.
pub fn refund(conn: &mut DbConn, task: i64, now: NaiveDateTime) -> diesel::QueryResult<bool> {
    store::refund(conn, task, now)
}

/// The body of `POST /api/v1/models/estimate`: a generation request; `prompt` may be left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EstimateRequest {
    /// t2i | i2i | t2v | i2v.
    #[serde(rename = "type")]
    #[schema(value_type = Kind)]
    pub kind: String,
    /// `provider/model`; absent or null: the first model of the type.
    pub model: Option<String>,
    /// The references the task would carry (only their number matters).
    pub images: Vec<String>,
    /// Ignored: any prompt costs the same.
    #[schema(max_length = 2000)]
    pub prompt: Option<String>,
    #[serde(deserialize_with = "crate::json::object")]
    pub params: Option<Params>,
}

/// The form's request as an estimate's (the prompt does not change the price).
impl From<NewTask> for EstimateRequest {
    fn from(task: NewTask) -> Self {
        EstimateRequest {
            kind: task.kind,
            model: task.model,
            images: task.images,
            prompt: None,
            params: task.params,
        }
    }
}

/// A user's monthly budget and what is left of it this month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    /// The limit per calendar month (UTC).
    pub limit: f64,
    /// Charged this month, refunds taken off.
    pub spent: f64,
    pub left: f64,
}

/// What a request would cost before it is submitted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    /// `provider/model` the request would run on.
    pub model: String,
    /// Tasks the request makes (`params.n`).
    pub count: u32,
    /// Seconds of each video; null for pictures.
    pub duration: Option<u32>,
    /// One task's price; null when the model has none.
    pub per_task: Option<f64>,
    /// `per_task` × `count`; null when the model has no price.
    pub total: Option<f64>,
    /// `stats.currency`.
    pub currency: String,
    /// The caller's budget; null: no limit.
    pub budget: Option<BudgetView>,
    /// Whether the budget can take `total` now.
    pub within_budget: bool,
}

/// The cost of `req` for `user`, checked like a submit (type, model, capabilities), prompt
/// and references aside.
pub async fn estimate(state: &AppState, user: &User, req: EstimateRequest) -> AppResult<Estimate> {
    let kind =
        Kind::parse(req.kind.trim()).ok_or_else(|| AppError::invalid("type", "err.gen.type"))?;
    let model = state
        .providers
        .pick(req.model.as_deref(), kind)
        .ok_or_else(|| {
            AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 400, "err.gen.model")
                .on_field("model")
        })?;
    if req
        .prompt
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_PROMPT_CHARS)
    {
        return Err(AppError::invalid("prompt", "err.gen.prompt_long"));
    }
    let (mut params, count) = checked_params(kind, req.params.clone())?;
    check(
        &model,
        kind,
        req.images.len(),
        &req.params.unwrap_or_default(),
    )?;
    complete(&model, kind, &mut params);
    let per_task = task_price(&model, kind, &params);
    let total = per_task.map(|p| p * i64::from(count));
    let user_id = user.id;
    let budget = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            store::refund_ended(conn, user_id, now)?;
            Ok(match store::budget(conn, user_id)? {
                Some(limit) => Some((limit, store::spent_since(conn, user_id, month_start(now))?)),
                None => None,
            })
        })
        .await?;
    Ok(Estimate {
        model: model.id.clone(),
        count,
        duration: kind.is_video().then_some(params.duration).flatten(),
        per_task: per_task.map(units),
        total: total.map(units),
        currency: model.price.currency.clone(),
        within_budget: match (budget, total) {
            (Some((limit, spent)), Some(total)) => spent + total <= limit,
            _ => true,
        },
        budget: budget.map(|(limit, spent)| BudgetView {
            limit: units(limit),
            spent: units(spent),
            left: units((limit - spent).max(0)),
        }),
    })
}

/// A budget in the currency as micros, if it is one an admin may set.
pub fn budget_micros(amount: f64) -> AppResult<i64> {
    if !amount.is_finite() || !(0.0..=MAX_BUDGET).contains(&amount) {
        return Err(AppError::invalid(
            "monthly_budget",
            "catalogue.err.budget_value",
        ));
    }
    Ok((amount * MICROS).round() as i64)
}

/// Budgets and this month's spending of a page of accounts (admin list).
pub fn budgets_of(
    conn: &mut DbConn,
    users: &[i64],
) -> diesel::QueryResult<std::collections::HashMap<i64, (Option<i64>, i64)>> {
    store::budgets_of(conn, users, month_start(Utc::now().naive_utc()))
}
