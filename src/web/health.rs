//! Liveness and readiness for load balancers and the benchmark.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    cfg.route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the database answers within two seconds; 503 otherwise (server stopped, database
/// dropped, network gone), so a load balancer takes this instance out.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.db.answers(std::time::Duration::from_secs(2)).await {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}
