//! The generation form's cost line: the form's fields in, the estimate (or why the model
//! cannot take them) out, swapped in as the person changes model, type, count or length.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::model::{money, MICROS};
use super::service::{self, EstimateRequest};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::generation::pages::GenerateForm;
use crate::i18n::Lang;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/generate/estimate", web::get().to(estimate));
}

async fn estimate(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    form: Query<GenerateForm>,
) -> AppResult<HttpResponse> {
    let mut ctx = base_context(&req, Some(&user.0));
    let asked = form.into_inner().into_task().map(EstimateRequest::from);
    match asked {
        Ok(asked) => match service::estimate(&state, &user.0, asked).await {
            Ok(estimate) => {
                let shown = |v: f64| money((v * MICROS).round() as i64, &estimate.currency);
                ctx.insert("total", &estimate.total.map(shown));
                ctx.insert("per_task", &estimate.per_task.map(shown));
                ctx.insert(
                    "budget",
                    &estimate
                        .budget
                        .as_ref()
                        .map(|b| (shown(b.left), shown(b.limit))),
                );
                ctx.insert("estimate", &estimate);
            }
            Err(AppError::Internal { context, source }) => {
                return Err(AppError::Internal { context, source })
            }
            Err(refused) => ctx.insert("refused", &refused.message(lang)),
        },
        Err(refused) => ctx.insert("refused", &refused.message(lang)),
    }
    render(
        &state.templates,
        "catalogue/_estimate.html",
        &ctx,
        StatusCode::OK,
    )
}
