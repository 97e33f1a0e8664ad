//! The main page of seed 5.1 ④, which the generation engine fills.

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::error::AppResult;
use crate::web::auth::PageUser;
use crate::web::render::shell_page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
}

async fn index(req: HttpRequest, state: Data<AppState>, user: PageUser) -> AppResult<HttpResponse> {
    shell_page(
        &req,
        &state.templates,
        &user.0,
        "generate",
        "generation/index.html",
    )
}
