//! Alert rules (`[alerts]` thresholds) checked against a [`Snapshot`]. A breach opens an
//! incident row and mails every admin once; when it clears, the row is resolved and a
//! "resolved" mail goes out once. The mails are queued in the same transaction as the row
//! change, and the row change is what instances race for (a unique `open_key`), so of several
//! instances checking the same rule, exactly one mails.

use chrono::{NaiveDateTime, Utc};
use diesel::Connection as _;
use serde::Serialize;

use super::sample::Snapshot;
use super::store::{self, IncidentRow, NewIncident};
use crate::app::AppState;
use crate::config::AlertsConfig;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::i18n::Lang;
use crate::mail::{Content, NewMail};

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    QueueAge,
    ErrorRate,
    DiskFree,
    Memory,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::QueueAge,
        Rule::ErrorRate,
        Rule::DiskFree,
        Rule::Memory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::QueueAge => "queue_age",
            Rule::ErrorRate => "error_rate",
            Rule::DiskFree => "disk_free",
            Rule::Memory => "memory",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn threshold(self, c: &AlertsConfig) -> i64 {
        match self {
            Rule::QueueAge => c.queue_age_seconds,
            Rule::ErrorRate => c.error_rate_percent,
            Rule::DiskFree => c.disk_free_mb,
            Rule::Memory => c.memory_mb,
        }
    }

    /// Whether an open incident of this rule about `subject` is for this instance to judge:
    /// the queue and the providers are shared by all instances, memory and disk are each
    /// instance's own (its name is the subject).
    fn judged_here(self, subject: &str, instance: &str) -> bool {
        match self {
            Rule::QueueAge | Rule::ErrorRate => true,
            Rule::DiskFree | Rule::Memory => subject == instance,
        }
    }
}

/// A rule that holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub rule: Rule,
    pub subject: String,
    pub value: i64,
    pub threshold: i64,
}

impl Breach {
    fn open_key(&self) -> String {
        open_key(self.rule, &self.subject)
    }
}

fn open_key(rule: Rule, subject: &str) -> String {
    format!("{}:{subject}", rule.as_str())
}

/// The rules that hold in `s` (a rule with threshold 0 is off).
pub fn breaches(c: &AlertsConfig, s: &Snapshot) -> Vec<Breach> {
    let mut out = Vec::new();
    let mut push = |rule: Rule, subject: &str, value: i64, holds: bool| {
        let threshold = rule.threshold(c);
        if threshold > 0 && holds {
            out.push(Breach {
                rule,
                subject: subject.to_string(),
                value,
                threshold,
            });
        }
    };
    push(
        Rule::QueueAge,
        "",
        s.oldest_queued_seconds,
        s.oldest_queued_seconds > c.queue_age_seconds,
    );
    for p in &s.providers {
        let rate = p.error_rate_percent.unwrap_or(0.0);
        push(
            Rule::ErrorRate,
            &p.provider,
            rate.round() as i64,
            p.calls >= c.error_rate_min_calls.max(1) && rate > c.error_rate_percent as f64,
        );
    }
    if let Some(free) = s.process.disk_free_bytes {
        let free_mb = (free / MIB) as i64;
        push(
            Rule::DiskFree,
            &s.instance,
            free_mb,
            free_mb < c.disk_free_mb,
        );
    }
    if let Some(rss) = s.process.memory_bytes {
        let rss_mb = (rss / MIB) as i64;
        push(Rule::Memory, &s.instance, rss_mb, rss_mb > c.memory_mb);
    }
    out
}

/// An incident as admins see it (banner, page, API).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    pub id: String,
    /// `queue_age` (seconds), `error_rate` (percent), `disk_free` (MiB) or `memory` (MiB).
    pub rule: String,
    /// The provider (`error_rate`), the instance (`disk_free`, `memory`) or empty (`queue_age`).
    pub subject: String,
    /// The latest value seen, in the rule's unit.
    pub value: i64,
    pub threshold: i64,
    pub open: bool,
    /// UTC, RFC 3339.
    pub opened_at: String,
    pub resolved_at: Option<String>,
}

fn rfc(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl From<IncidentRow> for AlertView {
    fn from(r: IncidentRow) -> Self {
        AlertView {
            id: r.uuid,
            rule: r.rule,
            subject: r.subject,
            value: r.value,
            threshold: r.threshold,
            open: r.open_key.is_some(),
            opened_at: rfc(r.opened_at),
            resolved_at: r.resolved_at.map(rfc),
        }
    }
}

/// What one check changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Incidents this call opened (and mailed).
    pub opened: Vec<String>,
    /// Incidents this call resolved (and mailed).
    pub resolved: Vec<String>,
}

/// Takes a reading and applies the rules to it; then refreshes the admins' banner.
pub async fn check(state: &AppState) -> AppResult<Outcome> {
    let snapshot = super::sample::take(state).await?;
    apply(state, &snapshot).await
}

/// Applies the rules to `snapshot`: opens incidents for new breaches, resolves the incidents
/// this instance judges that no longer hold, mails both, and refreshes the banner.
pub async fn apply(state: &AppState, snapshot: &Snapshot) -> AppResult<Outcome> {
    let found = breaches(&state.config.alerts, snapshot);
    let instance = state.ops.instance.clone();
    let (outcome, open) = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let mut outcome = Outcome::default();
            let open = store::open_incidents(conn)?;
            for b in &found {
                let key = b.open_key();
                if open
                    .iter()
                    .any(|o| o.open_key.as_deref() == Some(key.as_str()))
                {
                    store::still_open(conn, &key, b.value, now)?;
                } else if open_and_mail(conn, b, &key, now)? {
                    outcome.opened.push(key);
                }
            }
            for o in &open {
                let (Some(key), Some(rule)) = (o.open_key.as_deref(), Rule::parse(&o.rule)) else {
                    continue;
                };
                let holds = found.iter().any(|b| b.open_key() == key);
                if !holds
                    && rule.judged_here(&o.subject, &instance)
                    && resolve_and_mail(conn, key, now)?
                {
                    outcome.resolved.push(key.to_string());
                }
            }
            Ok((outcome, store::open_incidents(conn)?))
        })
        .await?;
    if !outcome.opened.is_empty() || !outcome.resolved.is_empty() {
        for key in &outcome.opened {
            tracing::warn!(alert = %key, "alert raised; admins are mailed");
        }
        for key in &outcome.resolved {
            tracing::info!(alert = %key, "alert resolved; admins are mailed");
        }
        state.mailer.wake();
    }
    state
        .ops
        .set_open_alerts(open.into_iter().map(AlertView::from).collect());
    Ok(outcome)
}

/// Opens the incident and queues its mails in one transaction; false when another instance
/// had opened it already.
fn open_and_mail(
    conn: &mut DbConn,
    b: &Breach,
    key: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    conn.transaction(|conn| {
        let uuid = uuid::Uuid::new_v4().to_string();
        let opened = store::open_incident(
            conn,
            &NewIncident {
                uuid: &uuid,
                rule: b.rule.as_str(),
                subject: &b.subject,
                open_key: key,
                value: b.value,
                threshold: b.threshold,
                now,
            },
        )?;
        if opened {
            mail_admins(
                conn,
                Content::Alert {
                    rule: b.rule.as_str().to_string(),
                    subject: b.subject.clone(),
                    value: b.value,
                    threshold: b.threshold,
                    opened_at: now,
                    resolved_at: None,
                },
                now,
            )?;
        }
        Ok(opened)
    })
}

/// Resolves the incident and queues its mails in one transaction; false when another
/// instance had resolved it already.
fn resolve_and_mail(conn: &mut DbConn, key: &str, now: NaiveDateTime) -> diesel::QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let Some(row) = store::resolve_incident(conn, key, now)? else {
            return Ok(false);
        };
        mail_admins(
            conn,
            Content::Alert {
                rule: row.rule,
                subject: row.subject,
                value: row.value,
                threshold: row.threshold,
                opened_at: row.opened_at,
                resolved_at: Some(now),
            },
            now,
        )?;
        Ok(true)
    })
}

fn mail_admins(conn: &mut DbConn, content: Content, now: NaiveDateTime) -> diesel::QueryResult<()> {
    for (id, email) in store::admin_recipients(conn)? {
        crate::mail::enqueue(
            conn,
            &NewMail {
                to: email,
                // Written in both languages whatever this says (see mail::message).
                lang: Lang::Zh,
                user_id: Some(id),
                content: content.clone(),
            },
            now,
        )?;
    }
    Ok(())
}

/// The latest incidents, open ones included, newest first (admins only).
pub async fn recent(
    state: &AppState,
    viewer: &crate::users::model::User,
) -> AppResult<Vec<AlertView>> {
    super::require_admin(viewer)?;
    let rows = state
        .db
        .run(|conn| Ok(store::recent_incidents(conn, 100)?))
        .await?;
    Ok(rows.into_iter().map(AlertView::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::sample::{ProcessStats, ProviderCalls};

    fn snapshot() -> Snapshot {
        Snapshot {
            instance: "box-1".into(),
            at: String::new(),
            queued: 3,
            processing: 1,
            oldest_queued_seconds: 1000,
            running_by_provider: Default::default(),
            providers: vec![
                ProviderCalls {
                    provider: "openai".into(),
                    calls: 20,
                    failed: 15,
                    error_rate_percent: Some(75.0),
                },
                ProviderCalls {
                    provider: "wan".into(),
                    calls: 2,
                    failed: 2,
                    error_rate_percent: Some(100.0),
                },
            ],
            engine_busy: 1,
            engine_slots: 2,
            db_in_use: 1,
            db_idle: 1,
            db_max: 4,
            process: ProcessStats {
                memory_bytes: Some(5000 * MIB),
                disk_free_bytes: Some(500 * MIB),
                ..Default::default()
            },
        }
    }

    #[test]
    fn each_rule_fires_past_its_threshold_and_not_when_off() {
        let c = AlertsConfig::default();
        let found = breaches(&c, &snapshot());
        let keys: Vec<String> = found.iter().map(Breach::open_key).collect();
        // wan has too few calls to judge; the rest hold.
        assert_eq!(
            keys,
            vec![
                "queue_age:",
                "error_rate:openai",
                "disk_free:box-1",
                "memory:box-1"
            ]
        );
        assert_eq!(found[1].value, 75);
        let off = AlertsConfig {
            queue_age_seconds: 0,
            error_rate_percent: 0,
            disk_free_mb: 0,
            memory_mb: 0,
            ..c
        };
        assert!(breaches(&off, &snapshot()).is_empty());
        let calm = AlertsConfig {
            queue_age_seconds: 1000,
            error_rate_percent: 80,
            disk_free_mb: 100,
            memory_mb: 6000,
            ..AlertsConfig::default()
        };
        assert!(breaches(&calm, &snapshot()).is_empty());
    }

    #[test]
    fn memory_and_disk_are_judged_by_their_own_instance_only() {
        assert!(Rule::Memory.judged_here("box-1", "box-1"));
        assert!(!Rule::Memory.judged_here("box-2", "box-1"));
        assert!(Rule::QueueAge.judged_here("", "box-1"));
    }
}
