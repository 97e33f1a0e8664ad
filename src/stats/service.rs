//! The statistics report: a range of whole UTC days read from the rollups, with success and
//! failure rates, latency percentiles from the merged histograms, and estimated cost from the
//! model prices in the configuration.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, Raw, SLOTS};
use crate::admin::service::require_admin;
use crate::app::AppState;
use crate::catalogue::model::Price;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::users::model::{rfc3339, User};

/// Longest range one report covers.
pub const MAX_DAYS: i64 = 366;
/// Longest range shown hour by hour.
pub const MAX_HOURLY_DAYS: i64 = 31;

/// The range picker: whole UTC days, both ends included, shown by day or by hour.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day, `YYYY-MM-DD` (UTC); default: six days before `to`.
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\\s*$")]
    pub from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (UTC); default: today.
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\\s*$")]
    pub to: Option<String>,
    /// `day` (default) or `hour` (ranges of at most 31 days).
    #[param(pattern = "^\\s*(day|hour)?\\s*$")]
    pub by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub hourly: bool,
}

impl Range {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// `[start, end)` as timestamps.
    pub fn bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        let start = self.from.and_time(chrono::NaiveTime::MIN);
        (start, start + Duration::days(self.days()))
    }
}

impl StatsQuery {
    pub fn range(&self, today: NaiveDate) -> AppResult<Range> {
        fn blank(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let day = |field: &'static str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field, "err.stats.date"))
        };
        let to = match blank(&self.to) {
            Some(s) => day("to", s)?,
            None => today,
        };
        let from = match blank(&self.from) {
            Some(s) => day("from", s)?,
            None => to - Duration::days(6),
        };
        if from > to {
            return Err(AppError::invalid("from", "err.stats.order"));
        }
        let hourly = match blank(&self.by) {
            None | Some("day") => false,
            Some("hour") => true,
            Some(_) => return Err(AppError::invalid("by", "err.stats.by")),
        };
        let range = Range { from, to, hourly };
        if range.days() > MAX_DAYS {
            return Err(AppError::invalid("from", "err.stats.range"));
        }
        if hourly && range.days() > MAX_HOURLY_DAYS {
            return Err(AppError::invalid("by", "err.stats.hourly_range"));
        }
        Ok(range)
    }
}

/// Totals over the range.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub calls: i64,
    pub failed_calls: i64,
    /// Share of calls that worked, 0–1; null without calls.
    pub success_rate: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
    pub images: i64,
    pub video_seconds: f64,
    /// Over the models that have prices; null when none has.
    pub cost: Option<f64>,
}

/// One provider and model over the range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelStats {
    pub provider: String,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub success_rate: Option<f64>,
    /// Share of calls that failed, per reason.
    pub failure_rates: BTreeMap<String, f64>,
    pub latency_mean_ms: Option<f64>,
    /// Estimated from log-scale histogram slots (within ±19 %).
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
    pub images: i64,
    pub video_seconds: f64,
    /// From the model's prices; null when it has none.
    pub cost: Option<f64>,
}

/// Failed calls and failed tasks of one provider and model for one reason.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailureStats {
    pub provider: String,
    pub model: String,
    /// `rate_limited`, `server_error`, `network`, `http_NNN`, or the engine's code (`auth`,
    /// `moderation`, `bad_request`, `gave_up` ...).
    pub reason: String,
    pub calls: i64,
    /// Share of the model's calls.
    pub call_rate: Option<f64>,
    pub tasks: i64,
}

/// One account over the range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserStats {
    /// Null when the account no longer exists.
    pub user: Option<String>,
    pub user_uuid: Option<String>,
    pub calls: i64,
    pub failed_calls: i64,
    pub success_rate: Option<f64>,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
    pub images: i64,
    pub video_seconds: f64,
    pub cost: Option<f64>,
}

/// One hour or day.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// Start of the hour or day, UTC.
    pub at: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
    pub images: i64,
    pub video_seconds: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatsReport {
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// `day` or `hour`.
    pub by: String,
    /// The currency of every cost (`stats.currency`).
    pub currency: String,
    pub totals: Totals,
    /// Most calls first.
    pub models: Vec<ModelStats>,
    /// Most failed calls first.
    pub failures: Vec<FailureStats>,
    /// Most calls first.
    pub users: Vec<UserStats>,
    /// Every hour or day of the range, oldest first, empty ones included.
    pub series: Vec<Point>,
}

pub async fn report(state: &AppState, admin: &User, q: &StatsQuery) -> AppResult<StatsReport> {
    require_admin(admin)?;
    let range = q.range(Utc::now().date_naive())?;
    let (start, end) = range.bounds();
    let raw = state
        .db
        .run(move |conn| Ok(store::load(conn, start, end)?))
        .await?;
    Ok(build(&state.config, range, raw))
}

/// Model prices of the catalogue, by (provider, model).
struct Prices(HashMap<(String, String), Price>);

impl Prices {
    fn of(config: &Config) -> Prices {
        let mut map = HashMap::new();
        for p in &config.providers {
            for m in &p.models {
                if let Some(price) = Price::of(m, &config.stats.currency) {
                    map.insert((p.name.clone(), m.name.clone()), price);
                }
            }
        }
        Prices(map)
    }

    fn cost(&self, provider: &str, model: &str, images: i64, video_ms: i64) -> Option<f64> {
        let price = self.0.get(&(provider.to_string(), model.to_string()))?;
        Some(price.of_output(images, video_ms))
    }
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn add_cost(total: &mut Option<f64>, part: Option<f64>) {
    if let Some(p) = part {
        *total = Some(total.unwrap_or(0.0) + p);
    }
}

/// The value below which `q` (0–1) of the calls fall, read from histogram slots: the slot
/// holding that rank, interpolated geometrically inside it.
pub fn percentile(hist: &[i64], q: f64) -> Option<f64> {
    let total: i64 = hist.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).max(1.0);
    let mut seen = 0i64;
    for (slot, &n) in hist.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let slot = slot as i32;
            if slot == 0 {
                return Some(1.0);
            }
            let (lo, hi) = (store::slot_floor(slot), store::slot_floor(slot + 1));
            let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
            return Some(lo * (hi / lo).powf(within));
        }
        seen += n;
    }
    None
}

fn build(config: &Config, range: Range, raw: Raw) -> StatsReport {
    let prices = Prices::of(config);
    let mut hists: HashMap<(String, String), Vec<i64>> = HashMap::new();
    let mut all = vec![0i64; SLOTS as usize];
    for row in &raw.latency {
        let slot = row.slot.clamp(0, SLOTS - 1) as usize;
        hists
            .entry((row.provider.clone(), row.model.clone()))
            .or_insert_with(|| vec![0; SLOTS as usize])[slot] += row.calls;
        all[slot] += row.calls;
    }
    let mut reasons: HashMap<(String, String), BTreeMap<String, i64>> = HashMap::new();
    for f in raw.failures.iter().filter(|f| f.calls > 0) {
        reasons
            .entry((f.provider.clone(), f.model.clone()))
            .or_default()
            .insert(f.reason.clone(), f.calls);
    }
    let mut totals = Totals::default();
    let mut model_calls = HashMap::new();
    let mut models: Vec<ModelStats> = raw
        .models
        .into_iter()
        .map(|r| {
            let key = (r.provider.clone(), r.model.clone());
            let hist = hists.get(&key);
            let cost = prices.cost(&r.provider, &r.model, r.images, r.video_ms);
            totals.calls += r.calls;
            totals.failed_calls += r.failed_calls;
            totals.tasks_completed += r.tasks_completed;
            totals.tasks_failed += r.tasks_failed;
            totals.images += r.images;
            totals.video_seconds += r.video_ms as f64 / 1000.0;
            add_cost(&mut totals.cost, cost);
            model_calls.insert(key.clone(), r.calls);
            ModelStats {
                failure_rates: reasons
                    .remove(&key)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(reason, n)| Some((reason, rate(n, r.calls)?)))
                    .collect(),
                success_rate: rate(r.calls - r.failed_calls, r.calls),
                latency_mean_ms: rate(r.latency_ms_sum, r.calls),
                latency_p50_ms: hist.and_then(|h| percentile(h, 0.5)),
                latency_p95_ms: hist.and_then(|h| percentile(h, 0.95)),
                provider: r.provider,
                model: r.model,
                calls: r.calls,
                failed_calls: r.failed_calls,
                tasks_completed: r.tasks_completed,
                tasks_failed: r.tasks_failed,
                images: r.images,
                video_seconds: r.video_ms as f64 / 1000.0,
                cost,
            }
        })
        .collect();
    models.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)))
    });
    totals.success_rate = rate(totals.calls - totals.failed_calls, totals.calls);
    totals.latency_p50_ms = percentile(&all, 0.5);
    totals.latency_p95_ms = percentile(&all, 0.95);

    let mut failures: Vec<FailureStats> = raw
        .failures
        .into_iter()
        .map(|f| FailureStats {
            call_rate: model_calls
                .get(&(f.provider.clone(), f.model.clone()))
                .and_then(|&n| rate(f.calls, n)),
            provider: f.provider,
            model: f.model,
            reason: f.reason,
            calls: f.calls,
            tasks: f.tasks,
        })
        .collect();
    failures.sort_by(|a, b| {
        (b.calls, b.tasks).cmp(&(a.calls, a.tasks)).then_with(|| {
            (&a.provider, &a.model, &a.reason).cmp(&(&b.provider, &b.model, &b.reason))
        })
    });

    let mut users: BTreeMap<i64, UserStats> = BTreeMap::new();
    for r in raw.users {
        let cost = prices.cost(&r.provider, &r.model, r.images, r.video_ms);
        let u = users.entry(r.user_id).or_insert_with(|| UserStats {
            user: r.username.clone(),
            user_uuid: r.uuid.clone(),
            calls: 0,
            failed_calls: 0,
            success_rate: None,
            tasks_completed: 0,
            tasks_failed: 0,
            images: 0,
            video_seconds: 0.0,
            cost: None,
        });
        u.calls += r.calls;
        u.failed_calls += r.failed_calls;
        u.tasks_completed += r.tasks_completed;
        u.tasks_failed += r.tasks_failed;
        u.images += r.images;
        u.video_seconds += r.video_ms as f64 / 1000.0;
        add_cost(&mut u.cost, cost);
    }
    let mut users: Vec<UserStats> = users
        .into_values()
        .map(|mut u| {
            u.success_rate = rate(u.calls - u.failed_calls, u.calls);
            u
        })
        .collect();
    users.sort_by(|a, b| {
        (b.calls, b.tasks_completed)
            .cmp(&(a.calls, a.tasks_completed))
            .then_with(|| a.user.cmp(&b.user))
    });

    StatsReport {
        from: range.from.to_string(),
        to: range.to.to_string(),
        by: if range.hourly { "hour" } else { "day" }.into(),
        currency: config.stats.currency.clone(),
        totals,
        models,
        failures,
        users,
        series: series(range, &raw.series),
    }
}

/// Every hour or day of the range with its sums (hourly rows folded into days).
fn series(range: Range, rows: &[store::SeriesRow]) -> Vec<Point> {
    let (start, end) = range.bounds();
    let step = if range.hourly {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    let mut points = Vec::new();
    let mut index = HashMap::new();
    let mut at = start;
    while at < end {
        index.insert(at, points.len());
        points.push((at, Point::default()));
        at += step;
    }
    for r in rows {
        let key = if range.hourly {
            store::hour_of(r.bucket_at)
        } else {
            store::day_of(r.bucket_at)
        };
        if let Some(&i) = index.get(&key) {
            let p = &mut points[i].1;
            p.calls += r.calls;
            p.failed_calls += r.failed_calls;
            p.tasks_completed += r.tasks_completed;
            p.tasks_failed += r.tasks_failed;
            p.images += r.images;
            p.video_seconds += r.video_ms as f64 / 1000.0;
        }
    }
    points
        .into_iter()
        .map(|(at, mut p)| {
            p.at = rfc3339(at);
            p
        })
        .collect()
}

/// Which table a CSV download holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Models,
    Failures,
    Users,
    Series,
}

impl Table {
    pub fn parse(s: Option<&str>) -> AppResult<Table> {
        match s.map(str::trim).unwrap_or("") {
            "" | "models" => Ok(Table::Models),
            "failures" => Ok(Table::Failures),
            "users" => Ok(Table::Users),
            "series" => Ok(Table::Series),
            _ => Err(AppError::invalid("table", "err.stats.table")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Models => "models",
            Table::Failures => "failures",
            Table::Users => "users",
            Table::Series => "series",
        }
    }
}

/// The file name and body of a CSV download.
pub async fn csv(
    state: &AppState,
    admin: &User,
    q: &StatsQuery,
    table: Table,
) -> AppResult<(String, String)> {
    let report = report(state, admin, q).await?;
    let name = format!(
        "picturedeck-stats-{}-{}-{}.csv",
        table.name(),
        report.from,
        report.to
    );
    Ok((name, to_csv(&report, table)))
}

/// One CSV field: quoted when it must be, and a leading `= + - @` (a formula to a spreadsheet)
/// defused with a `'`, since user names come from users.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{}", (v * 1e6).round() / 1e6))
        .unwrap_or_default()
}

pub fn to_csv(r: &StatsReport, table: Table) -> String {
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    let cost_head = format!("cost_{}", r.currency.to_ascii_lowercase());
    match table {
        Table::Models => {
            line(
                [
                    "provider",
                    "model",
                    "calls",
                    "failed_calls",
                    "success_rate",
                    "latency_mean_ms",
                    "latency_p50_ms",
                    "latency_p95_ms",
                    "tasks_completed",
                    "tasks_failed",
                    "images",
                    "video_seconds",
                    &cost_head,
                ]
                .map(String::from)
                .to_vec(),
            );
            for m in &r.models {
                line(vec![
                    field(&m.provider),
                    field(&m.model),
                    m.calls.to_string(),
                    m.failed_calls.to_string(),
                    num(m.success_rate),
                    num(m.latency_mean_ms),
                    num(m.latency_p50_ms),
                    num(m.latency_p95_ms),
                    m.tasks_completed.to_string(),
                    m.tasks_failed.to_string(),
                    m.images.to_string(),
                    num(Some(m.video_seconds)),
                    num(m.cost),
                ]);
            }
        }
        Table::Failures => {
            line(
                ["provider", "model", "reason", "calls", "call_rate", "tasks"]
                    .map(String::from)
                    .to_vec(),
            );
            for f in &r.failures {
                line(vec![
                    field(&f.provider),
                    field(&f.model),
                    field(&f.reason),
                    f.calls.to_string(),
                    num(f.call_rate),
                    f.tasks.to_string(),
                ]);
            }
        }
        Table::Users => {
            line(
                [
                    "user",
                    "calls",
                    "failed_calls",
                    "success_rate",
                    "tasks_completed",
                    "tasks_failed",
                    "images",
                    "video_seconds",
                    &cost_head,
                ]
                .map(String::from)
                .to_vec(),
            );
            for u in &r.users {
                line(vec![
                    field(u.user.as_deref().unwrap_or("")),
                    u.calls.to_string(),
                    u.failed_calls.to_string(),
                    num(u.success_rate),
                    u.tasks_completed.to_string(),
                    u.tasks_failed.to_string(),
                    u.images.to_string(),
                    num(Some(u.video_seconds)),
                    num(u.cost),
                ]);
            }
        }
        Table::Series => {
            line(
                [
                    "at",
                    "calls",
                    "failed_calls",
                    "tasks_completed",
                    "tasks_failed",
                    "images",
                    "video_seconds",
                ]
                .map(String::from)
                .to_vec(),
            );
            for p in &r.series {
                line(vec![
                    p.at.clone(),
                    p.calls.to_string(),
                    p.failed_calls.to_string(),
                    p.tasks_completed.to_string(),
                    p.tasks_failed.to_string(),
                    p.images.to_string(),
                    num(Some(p.video_seconds)),
                ]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_range_defaults_to_the_last_seven_days_and_checks_its_ends() {
        let today = day("2026-12-01");
        let r = StatsQuery::default().range(today).unwrap();
        assert_eq!((r.from, r.to, r.hourly), (day("2026-11-25"), today, false));
        let q = |from: &str, to: &str, by: &str| StatsQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            by: Some(by.into()),
        };
        assert!(q("2026-11-01", "2026-11-30", "hour").range(today).is_ok());
        assert!(q("2026-10-01", "2026-11-30", "hour").range(today).is_err());
        assert!(q("2026-12-02", "2026-12-01", "").range(today).is_err());
        assert!(q("2024-01-01", "2026-12-01", "day").range(today).is_err());
        assert!(q("2026-13-01", "", "").range(today).is_err());
        assert!(q("", "", "week").range(today).is_err());
    }

    #[test]
    fn percentiles_come_from_the_slot_holding_the_rank() {
        let mut h = vec![0i64; SLOTS as usize];
        h[store::slot_of(100) as usize] = 50;
        h[store::slot_of(1000) as usize] = 45;
        h[store::slot_of(30_000) as usize] = 5;
        let p50 = percentile(&h, 0.5).unwrap();
        assert!((90.0..=130.0).contains(&p50), "{p50}");
        let p95 = percentile(&h, 0.95).unwrap();
        assert!((900.0..=1300.0).contains(&p95), "{p95}");
        assert_eq!(percentile(&vec![0; SLOTS as usize], 0.5), None);
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
