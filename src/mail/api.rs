//! `GET /api/v1/admin/mail`: the outbox for admins (newest first, `?status=failed` to see
//! the mails that did not go out, with the server's reply).

use actix_web::web::{self, Data, Query};
use serde::Deserialize;

use super::service::{self, OutboxPage};
use crate::app::AppState;
use crate::error::{AppResult, Reply};
use crate::web::auth::ApiUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/mail", web::get().to(outbox));
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OutboxQuery {
    pub status: Option<String>,
    pub before: Option<String>,
}

async fn outbox(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<OutboxQuery>,
) -> AppResult<Reply<OutboxPage>> {
    let q = q.into_inner();
    let page = service::outbox(&state, &user.0, q.status.as_deref(), q.before).await?;
    Ok(Reply::ok("msg.ok", page))
}
