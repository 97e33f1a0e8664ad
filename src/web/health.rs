//! Liveness and readiness for load balancers and the benchmark.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::app::AppState;
use crate::error::AppResult;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    cfg.route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the database answers.
async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let answered = state
        .db
        .run(|conn| Ok(conn.batch_execute("SELECT 1").is_ok()))
        .await?;
    Ok(if answered {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    })
}
