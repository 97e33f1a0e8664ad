//! The outbox's rules: queue a mail in the caller's transaction, and what admins may see.

use chrono::{NaiveDateTime, Utc};
use diesel::QueryResult;
use serde::Serialize;

use super::model::{NewMail, NewOutboxRow, OutboxCounts, OutboxView, Status};
use super::store;
use crate::app::AppState;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::users::model::User;

/// Queues `mail` on `conn`, inside the caller's transaction, so the mail exists exactly when
/// what it is about does. Call `state.mailer.wake()` after the commit.
pub fn enqueue(conn: &mut DbConn, mail: &NewMail, now: NaiveDateTime) -> QueryResult<String> {
    let uuid = uuid::Uuid::new_v4().to_string();
    let payload = serde_json::to_string(&mail.content)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    store::insert(
        conn,
        &NewOutboxRow {
            uuid: &uuid,
            kind: mail.content.kind(),
            recipient: &mail.to,
            lang: mail.lang.code(),
            user_id: mail.user_id,
            payload: &payload,
            status: Status::Queued.as_str(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(uuid)
}

/// Queues one mail on its own and wakes the worker.
pub async fn send(state: &AppState, mail: NewMail) -> AppResult<String> {
    let uuid = state
        .db
        .run(move |conn| Ok(enqueue(conn, &mail, Utc::now().naive_utc())?))
        .await?;
    state.mailer.wake();
    Ok(uuid)
}

/// Mails waiting or being sent (tests wait for zero; admins see it).
pub async fn pending(state: &AppState) -> AppResult<i64> {
    let counts = state.db.run(|conn| Ok(store::counts(conn)?)).await?;
    Ok(counts.queued + counts.sending)
}

/// One page of the outbox for admins, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    pub counts: OutboxCounts,
    pub mails: Vec<OutboxView>,
    /// The `before` of the next page, if there is one.
    pub next: Option<String>,
}

const PAGE: i64 = 50;

pub async fn outbox(
    state: &AppState,
    viewer: &User,
    status: Option<&str>,
    before: Option<String>,
) -> AppResult<OutboxPage> {
    if !viewer.is_admin() {
        return Err(AppError::forbidden("err.forbidden"));
    }
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(Status::parse(s).ok_or_else(|| AppError::invalid("status", "err.bad_request"))?)
        }
    };
    state
        .db
        .run(move |conn| {
            let before = match before.filter(|b| !b.is_empty()) {
                None => None,
                Some(uuid) => Some(
                    store::find(conn, &uuid)?
                        .ok_or_else(|| AppError::invalid("before", "err.bad_request"))?
                        .id,
                ),
            };
            let rows = store::list(conn, status, before, PAGE + 1)?;
            let more = rows.len() as i64 > PAGE;
            let mails: Vec<OutboxView> = rows
                .into_iter()
                .take(PAGE as usize)
                .map(OutboxView::from)
                .collect();
            let next = more.then(|| mails.last().map(|m| m.id.clone())).flatten();
            Ok(OutboxPage {
                counts: store::counts(conn)?,
                mails,
                next,
            })
        })
        .await
}
