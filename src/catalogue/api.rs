//! `POST /api/v1/models/estimate`: a request priced by the catalogue, which is `GET
//! /api/v1/models` (generation area); budgets are set where quotas are (admin area). Not under
//! `/generation/`, where `GET /generation/{task_id}` would take the path's other methods.

use actix_web::web::{self, Data};
use utoipa::OpenApi;

use super::service::{self, Estimate, EstimateRequest};
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, Reply};
use crate::json::Json;
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, JsonBodyErrors, SignedInErrors};

#[derive(OpenApi)]
#[openapi(paths(estimate))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_estimate, estimate);
}

fn estimate_example() -> serde_json::Value {
    serde_json::json!({"code": 200, "message": "成功", "data": {
        "model": "wan/wan2.5-t2v-preview", "count": 2, "duration": 5, "per_task": 2.5,
        "total": 5.0, "currency": "CNY",
        "budget": {"limit": 100.0, "spent": 12.5, "left": 87.5}, "within_budget": true}})
}

#[utoipa::path(
    post, path = "/api/v1/models/estimate", tag = "generation", operation_id = "estimate",
    summary = "What a generation request would cost",
    description = "Takes the body of `POST /generation` (the prompt may be left out) and answers with the price from the model catalogue (`GET /models`: `price`), per task and for `params.n` tasks, and the caller's monthly budget. Refuses what the model cannot do exactly as a submit would. Nothing is queued or charged.",
    security(("bearer" = [])),
    request_body(content = EstimateRequest, example = json!({"type": "t2v", "model": "wan/wan2.5-t2v-preview", "params": {"duration": 5, "n": 2}})),
    responses(
        (status = 200, description = "code 200", body = Envelope<Estimate>, example = json!(estimate_example())),
        (status = 400, description = "code 400: bad type or parameters, or something the model cannot do; `data.field` names it", body = Envelope<ErrorData>),
        SignedInErrors,
        JsonBodyErrors,
        (status = 422, description = "code 400: no such model for the type", body = Envelope<ErrorData>),
    )
)]
async fn estimate(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<EstimateRequest>,
) -> AppResult<Reply<Estimate>> {
    let estimate = service::estimate(&state, &user.0, body.into_inner()).await?;
    Ok(Reply::ok("msg.ok", estimate))
}
