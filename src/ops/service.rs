//! What the monitoring page, the log centre and their API show (admins only), and the
//! `/metrics` token check.

use serde::Serialize;

use super::alerts::AlertView;
use super::logs::{self, LogEntry, LogQuery};
use super::sample::{self, Snapshot};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::users::model::User;

/// A reading and the open alerts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Monitoring {
    pub snapshot: Snapshot,
    pub alerts: Vec<AlertView>,
}

pub async fn monitoring(state: &AppState, viewer: &User) -> AppResult<Monitoring> {
    super::require_admin(viewer)?;
    Ok(Monitoring {
        snapshot: sample::take(state).await?,
        alerts: state.ops.open_alerts(),
    })
}

/// The log centre's answer: the newest matching entries first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Entries held now, and at most (`monitoring.log_buffer`).
    pub held: usize,
    pub capacity: usize,
    /// The targets held, for a filter.
    pub targets: Vec<String>,
}

pub fn logs(state: &AppState, viewer: &User, q: &LogQuery) -> AppResult<LogPage> {
    super::require_admin(viewer)?;
    if let Some(level) = q.level.as_deref().filter(|l| !l.is_empty()) {
        if level != "warn" && level != "error" {
            return Err(AppError::invalid("level", "err.bad_request"));
        }
    }
    if q.limit.is_some_and(|l| l == 0 || l > logs::MAX_LIMIT) {
        return Err(AppError::invalid("limit", "err.bad_request"));
    }
    let buffer = logs::buffer();
    Ok(LogPage {
        entries: buffer.query(q),
        held: buffer.len(),
        capacity: state.config.monitoring.log_buffer,
        targets: buffer.targets(),
    })
}

/// Why `/metrics` refuses a request.
#[derive(Debug, PartialEq, Eq)]
pub enum MetricsAccess {
    Allowed,
    /// No `monitoring.metrics_token`: the endpoint does not exist.
    Off,
    /// Missing or wrong bearer token.
    Unauthorized,
}

/// Compares the bearer token in constant time (a timing difference must not spell the token).
pub fn metrics_access(configured: &str, authorization: Option<&str>) -> MetricsAccess {
    if configured.is_empty() {
        return MetricsAccess::Off;
    }
    let Some(sent) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
        return MetricsAccess::Unauthorized;
    };
    let (a, b) = (configured.as_bytes(), sent.trim().as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        MetricsAccess::Allowed
    } else {
        MetricsAccess::Unauthorized
    }
}

/// The Prometheus text of the latest reading (database figures at most
/// `monitoring.sample_interval_seconds` old).
pub async fn metrics_text(state: &AppState) -> AppResult<String> {
    let snapshot = sample::latest(state).await?;
    super::prom::render(&snapshot, state.ops.open_alerts().len())
        .map_err(|e| AppError::internal(e, "metrics encoding"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_token_is_checked_exactly() {
        let token = "0123456789abcdef";
        assert_eq!(metrics_access("", Some("Bearer x")), MetricsAccess::Off);
        assert_eq!(metrics_access(token, None), MetricsAccess::Unauthorized);
        assert_eq!(
            metrics_access(token, Some("Bearer 0123456789abcdeX")),
            MetricsAccess::Unauthorized
        );
        assert_eq!(
            metrics_access(token, Some("Basic 0123456789abcdef")),
            MetricsAccess::Unauthorized
        );
        assert_eq!(
            metrics_access(token, Some("Bearer 0123456789abcdef")),
            MetricsAccess::Allowed
        );
    }
}
