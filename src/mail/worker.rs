//! The outbox worker: claims due mails, sends up to `smtp_pool_size` at once, and records the
//! outcome: sent; a temporary failure queued again with doubling delays; or failed for good
//! with the server's reply (and a line in the audit log, which admins read).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use rand::Rng;

use super::model::{Content, OutboxRow};
use super::smtp::Failure;
use super::{message, store};
use crate::app::AppState;
use crate::i18n::Lang;

/// The longest wait between retries, and between looks at the queue when nothing is due.
const MAX_DELAY: Duration = Duration::from_secs(3600);
const IDLE_LOOK: Duration = Duration::from_secs(30);

/// Runs until the future is dropped. A mail claimed by a worker that dies is taken up again
/// once its lease runs out (delivery is at least once; every try has the same Message-ID).
pub async fn run(state: Arc<AppState>) {
    let owner = format!("mail-{}", uuid::Uuid::new_v4().simple());
    let cfg = state.config.mail.clone();
    let lease = Duration::from_secs(cfg.smtp_timeout_seconds * 6 + 30);
    tracing::info!(%owner, "mail worker started");
    loop {
        let batch = claim(&state, &owner, i64::from(cfg.smtp_pool_size), lease).await;
        if !batch.is_empty() {
            let sends = batch.into_iter().map(|row| deliver(&state, &owner, row));
            futures_util::future::join_all(sends).await;
            continue;
        }
        let wait = until_due(&state).await;
        tokio::select! {
            _ = state.mailer.woken() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn claim(state: &AppState, owner: &str, limit: i64, lease: Duration) -> Vec<OutboxRow> {
    let owner = owner.to_string();
    let result = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
            Ok(store::claim(conn, &owner, limit, now, until)?)
        })
        .await;
    result.unwrap_or_else(|e| {
        tracing::warn!("outbox claim failed: {e}");
        Vec::new()
    })
}

/// How long until the next queued mail is due (at most `IDLE_LOOK`, which also picks up
/// mails of a vanished worker and mails other instances queued).
async fn until_due(state: &AppState) -> Duration {
    let next = state.db.run(|conn| Ok(store::next_due(conn)?)).await;
    match next {
        Ok(Some(at)) => (at - Utc::now().naive_utc())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(10), IDLE_LOOK),
        Ok(None) => IDLE_LOOK,
        Err(e) => {
            tracing::warn!("outbox look failed: {e}");
            IDLE_LOOK
        }
    }
}

/// Builds the message as of now (so a late code mail says it is late) and sends it.
pub async fn attempt(
    state: &AppState,
    row: &OutboxRow,
    log: &mut Vec<String>,
) -> Result<String, Failure> {
    let content: Content = serde_json::from_str(&row.payload)
        .map_err(|e| Failure::Permanent(format!("unreadable outbox row: {e}")))?;
    let lang = Lang::parse(&row.lang).unwrap_or(Lang::Zh);
    let words = message::render(&content, lang, Utc::now().naive_utc());
    let mailer = &state.mailer;
    let built = message::build(
        &mailer.from,
        &row.recipient,
        &message::message_id(&row.uuid, &mailer.domain),
        &words,
        SystemTime::now(),
        mailer.dkim.as_ref().map(|d| &d.config),
    )
    .map_err(|e| Failure::Permanent(format!("{e:#}")))?;
    mailer.deliver(&row.recipient, built, &words, log).await
}

async fn deliver(state: &AppState, owner: &str, row: OutboxRow) {
    let mut log = Vec::new();
    let outcome = attempt(state, &row, &mut log).await;
    let max = state.config.mail.max_attempts;
    let base = state.config.mail.retry_base_ms;
    let (id, owner_s, attempts, user) = (row.id, owner.to_string(), row.attempts, row.user_id);
    let label = format!("{} mail {} to {}", row.kind, row.uuid, row.recipient);
    let recorded = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            Ok(match &outcome {
                Ok(_) => store::mark_sent(conn, id, &owner_s, now)?,
                Err(Failure::Temporary(reason)) if attempts < max => {
                    let at = now + later(base, attempts);
                    store::retry_later(conn, id, &owner_s, reason, at, now)?
                }
                Err(failure) => {
                    let reason = match failure {
                        Failure::Temporary(r) => format!("gave up after {attempts} tries: {r}"),
                        Failure::Permanent(r) => r.clone(),
                    };
                    let done = store::fail(conn, id, &owner_s, &reason, now)?;
                    let detail = format!("{label}: {reason}");
                    crate::audit::record(
                        conn,
                        user.map(crate::users::model::UserId),
                        "mail_failed",
                        Some(&detail),
                        None,
                    )?;
                    done
                }
            })
            .map(|held| (held, outcome))
        })
        .await;
    match recorded {
        Ok((_, Ok(reply))) => {
            tracing::info!(mail = %row.uuid, kind = %row.kind, %reply, "mail sent")
        }
        Ok((_, Err(Failure::Temporary(reason)))) if row.attempts < max => {
            tracing::warn!(mail = %row.uuid, attempt = row.attempts, %reason, "mail not sent; will try again")
        }
        Ok((_, Err(failure))) => {
            tracing::error!(mail = %row.uuid, reason = %failure.reason(), "mail failed for good")
        }
        Err(e) => tracing::warn!(mail = %row.uuid, "could not record the mail's outcome: {e}"),
    }
}

/// Doubling delays from `base_ms`, capped at an hour, with ±20 % jitter.
fn later(base_ms: u64, attempt: i32) -> chrono::Duration {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.clamp(1, 30).saturating_sub(1))
        .min(MAX_DELAY.as_millis() as u64);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((exp as f64 * jitter) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_and_stop_at_an_hour() {
        let ms = |a| later(1000, a).num_milliseconds();
        assert!((800..=1200).contains(&ms(1)));
        assert!((1600..=2400).contains(&ms(2)));
        assert!((6400..=9600).contains(&ms(4)));
        assert!(ms(30) <= 3_600_000 * 12 / 10);
    }
}
