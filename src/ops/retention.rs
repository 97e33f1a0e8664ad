//! "定期清理敏感日志" (seed 6.1): raw `audit_log` and `api_calls` rows older than their
//! `[retention]` days are deleted in batches, one short statement each, so a long backlog
//! never holds the database's write lock for long.
//!
//! Statistics do not change: they are read from the rollups that the statistics area keeps
//! up as calls are recorded; only the raw per-call rows are pruned here, never a rollup.
//! Several instances may prune at once: each deletes rows by id, and a row another instance
//! deleted first is simply not there.

use chrono::{Duration, NaiveDateTime, Utc};
use serde::Serialize;

use super::store;
use crate::app::AppState;
use crate::error::AppResult;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pruned {
    pub audit_log: u64,
    pub api_calls: u64,
}

/// One pass over both tables at the configured retention.
pub async fn prune(state: &AppState) -> AppResult<Pruned> {
    prune_at(state, Utc::now().naive_utc()).await
}

/// [`prune`] as if it were `now`.
pub async fn prune_at(state: &AppState, now: NaiveDateTime) -> AppResult<Pruned> {
    let r = state.config.retention.clone();
    let mut pruned = Pruned::default();
    if r.audit_log_days > 0 {
        let cutoff = now - Duration::days(r.audit_log_days);
        pruned.audit_log = in_batches(state, r.batch_size, move |conn, batch| {
            store::prune_audit_log(conn, cutoff, batch)
        })
        .await?;
    }
    if r.api_calls_days > 0 {
        let cutoff = now - Duration::days(r.api_calls_days);
        pruned.api_calls = in_batches(state, r.batch_size, move |conn, batch| {
            store::prune_api_calls(conn, cutoff, batch)
        })
        .await?;
    }
    if pruned != Pruned::default() {
        tracing::info!(
            audit_log = pruned.audit_log,
            api_calls = pruned.api_calls,
            "old log rows pruned"
        );
    }
    Ok(pruned)
}

/// Runs `delete` (at most `batch` rows a call) until a call deletes fewer than `batch`.
async fn in_batches<F>(state: &AppState, batch: i64, delete: F) -> AppResult<u64>
where
    F: Fn(&mut crate::db::DbConn, i64) -> diesel::QueryResult<usize> + Clone + Send + 'static,
{
    let mut total = 0u64;
    loop {
        let delete = delete.clone();
        let n = state.db.run(move |conn| Ok(delete(conn, batch)?)).await?;
        total += n as u64;
        if (n as i64) < batch {
            return Ok(total);
        }
        // Let requests and the engine have the database between batches.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
