//! The statistics rollups: a [`Tally`] of one task's calls and outcome, added in the same
//! transaction as the rows it counts, and the grouped reads behind the page. Every counter
//! is a sum, so upserts from several instances add up and the reads never touch raw rows.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Timelike};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use crate::db::DbConn;

/// Runs `$sql` (written with `?` placeholders) on either backend with the binds `$q` gets.
macro_rules! exec {
    ($conn:expr, $sql:expr, |$q:ident| $binds:expr) => {
        match $conn {
            DbConn::Sqlite(c) => {
                let $q = diesel::sql_query($sql);
                $binds.execute(c)?;
            }
            DbConn::Pg(c) => {
                let $q = diesel::sql_query(numbered($sql));
                $binds.execute(c)?;
            }
        }
    };
}

/// Same as `exec!` for a query that loads rows.
macro_rules! load {
    ($conn:expr, $sql:expr, $row:ty, |$q:ident| $binds:expr) => {
        match $conn {
            DbConn::Sqlite(c) => {
                let $q = diesel::sql_query($sql);
                $binds.load::<$row>(c)?
            }
            DbConn::Pg(c) => {
                let $q = diesel::sql_query(numbered($sql));
                $binds.load::<$row>(c)?
            }
        }
    };
}

/// Latency histogram slots: slot k holds [2^(k/2), 2^((k+1)/2)) ms, slot 0 also 0 ms, the last
/// one everything from about 4.7 hours up. Fixed slots add up across hours, days and instances.
pub const SLOTS: i32 = 48;

pub fn slot_of(ms: i64) -> i32 {
    if ms < 2 {
        return 0;
    }
    ((2.0 * (ms as f64).log2()).floor() as i32).clamp(0, SLOTS - 1)
}

/// The lower edge of a slot in milliseconds.
pub fn slot_floor(slot: i32) -> f64 {
    2f64.powf(f64::from(slot) / 2.0)
}

pub fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(i64::from(at.hour()))
}

pub fn day_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_time(chrono::NaiveTime::MIN)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub calls: i64,
    pub failed_calls: i64,
    pub latency_ms_sum: i64,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
    pub images: i64,
    pub video_ms: i64,
}

/// What one task adds to the rollups in one transaction. Applied in a fixed order (table,
/// then key) so two transactions never wait on each other's rows crosswise (no deadlock on
/// PostgreSQL when a task's calls and its completion fall in different hours).
#[derive(Debug, Clone)]
pub struct Tally {
    provider: String,
    model: String,
    user_id: i64,
    models: BTreeMap<NaiveDateTime, Counts>,
    latency: BTreeMap<(NaiveDateTime, i32), i64>,
    failures: BTreeMap<(NaiveDateTime, String), (i64, i64)>,
    users: BTreeMap<NaiveDateTime, Counts>,
}

impl Tally {
    pub fn new(provider: &str, model: &str, user_id: i64) -> Tally {
        Tally {
            provider: provider.to_string(),
            model: model.to_string(),
            user_id,
            models: BTreeMap::new(),
            latency: BTreeMap::new(),
            failures: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }

    fn add(&mut self, at: NaiveDateTime, f: impl Fn(&mut Counts)) {
        f(self.models.entry(hour_of(at)).or_default());
        f(self.users.entry(day_of(at)).or_default());
    }

    /// One provider call; `reason` is None when it worked.
    pub fn call(&mut self, at: NaiveDateTime, latency_ms: i64, reason: Option<&str>) {
        let latency_ms = latency_ms.max(0);
        let failed = i64::from(reason.is_some());
        self.add(at, |c| {
            c.calls += 1;
            c.failed_calls += failed;
            c.latency_ms_sum += latency_ms;
        });
        *self
            .latency
            .entry((day_of(at), slot_of(latency_ms)))
            .or_default() += 1;
        if let Some(reason) = reason {
            self.failures
                .entry((day_of(at), reason.to_string()))
                .or_default()
                .0 += 1;
        }
    }

    /// A task that stored its result: `images` pictures and `video_ms` of video.
    pub fn completed(&mut self, at: NaiveDateTime, images: i64, video_ms: i64) {
        self.add(at, |c| {
            c.tasks_completed += 1;
            c.images += images;
            c.video_ms += video_ms;
        });
    }

    /// A task that failed for good, with its reason.
    pub fn failed(&mut self, at: NaiveDateTime, reason: &str) {
        self.add(at, |c| c.tasks_failed += 1);
        self.failures
            .entry((day_of(at), reason.to_string()))
            .or_default()
            .1 += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    pub fn apply(&self, conn: &mut DbConn) -> QueryResult<()> {
        let (p, m) = (self.provider.as_str(), self.model.as_str());
        for (at, c) in &self.models {
            upsert_counts(conn, UPSERT_MODEL, *at, None, p, m, c)?;
        }
        for ((day, slot), n) in &self.latency {
            const SQL: &str = "INSERT INTO stats_latency (day, provider, model, slot, calls) \
                VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, provider, model, slot) \
                DO UPDATE SET calls = stats_latency.calls + excluded.calls";
            exec!(conn, SQL, |q| q
                .bind::<Timestamp, _>(*day)
                .bind::<Text, _>(p)
                .bind::<Text, _>(m)
                .bind::<Integer, _>(*slot)
                .bind::<BigInt, _>(*n));
        }
        for ((day, reason), (calls, tasks)) in &self.failures {
            const SQL: &str =
                "INSERT INTO stats_failures (day, provider, model, reason, calls, tasks) \
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day, provider, model, reason) \
                DO UPDATE SET calls = stats_failures.calls + excluded.calls, \
                tasks = stats_failures.tasks + excluded.tasks";
            exec!(conn, SQL, |q| q
                .bind::<Timestamp, _>(*day)
                .bind::<Text, _>(p)
                .bind::<Text, _>(m)
                .bind::<Text, _>(reason.as_str())
                .bind::<BigInt, _>(*calls)
                .bind::<BigInt, _>(*tasks));
        }
        for (day, c) in &self.users {
            upsert_counts(conn, UPSERT_USER, *day, Some(self.user_id), p, m, c)?;
        }
        Ok(())
    }
}

/// PostgreSQL's `$1, $2 ...` for SQLite's `?` (our statements hold no `?` in literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

const UPSERT_MODEL: &str = "INSERT INTO stats_models (bucket_at, provider, model, calls, \
    failed_calls, latency_ms_sum, tasks_completed, tasks_failed, images, video_ms) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket_at, provider, model) DO UPDATE SET \
    calls = stats_models.calls + excluded.calls, \
    failed_calls = stats_models.failed_calls + excluded.failed_calls, \
    latency_ms_sum = stats_models.latency_ms_sum + excluded.latency_ms_sum, \
    tasks_completed = stats_models.tasks_completed + excluded.tasks_completed, \
    tasks_failed = stats_models.tasks_failed + excluded.tasks_failed, \
    images = stats_models.images + excluded.images, \
    video_ms = stats_models.video_ms + excluded.video_ms";

const UPSERT_USER: &str = "INSERT INTO stats_users (day, user_id, provider, model, calls, \
    failed_calls, latency_ms_sum, tasks_completed, tasks_failed, images, video_ms) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, user_id, provider, model) DO UPDATE SET \
    calls = stats_users.calls + excluded.calls, \
    failed_calls = stats_users.failed_calls + excluded.failed_calls, \
    latency_ms_sum = stats_users.latency_ms_sum + excluded.latency_ms_sum, \
    tasks_completed = stats_users.tasks_completed + excluded.tasks_completed, \
    tasks_failed = stats_users.tasks_failed + excluded.tasks_failed, \
    images = stats_users.images + excluded.images, \
    video_ms = stats_users.video_ms + excluded.video_ms";

fn upsert_counts(
    conn: &mut DbConn,
    sql: &str,
    at: NaiveDateTime,
    user_id: Option<i64>,
    provider: &str,
    model: &str,
    c: &Counts,
) -> QueryResult<()> {
    macro_rules! counts {
        ($q:expr) => {
            $q.bind::<Text, _>(provider)
                .bind::<Text, _>(model)
                .bind::<BigInt, _>(c.calls)
                .bind::<BigInt, _>(c.failed_calls)
                .bind::<BigInt, _>(c.latency_ms_sum)
                .bind::<BigInt, _>(c.tasks_completed)
                .bind::<BigInt, _>(c.tasks_failed)
                .bind::<BigInt, _>(c.images)
                .bind::<BigInt, _>(c.video_ms)
        };
    }
    match user_id {
        None => exec!(conn, sql, |q| counts!(q.bind::<Timestamp, _>(at))),
        Some(id) => exec!(conn, sql, |q| counts!(q
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(id))),
    }
    Ok(())
}

/// Sums of one group of rollup rows.
#[derive(Debug, Clone, QueryableByName)]
pub struct ModelRow {
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub model: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_calls: i64,
    #[diesel(sql_type = BigInt)]
    pub latency_ms_sum: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_completed: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_failed: i64,
    #[diesel(sql_type = BigInt)]
    pub images: i64,
    #[diesel(sql_type = BigInt)]
    pub video_ms: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct SeriesRow {
    #[diesel(sql_type = Timestamp)]
    pub bucket_at: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_calls: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_completed: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_failed: i64,
    #[diesel(sql_type = BigInt)]
    pub images: i64,
    #[diesel(sql_type = BigInt)]
    pub video_ms: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LatencyRow {
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub model: String,
    #[diesel(sql_type = Integer)]
    pub slot: i32,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct FailureRow {
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub model: String,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct UserRow {
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub uuid: Option<String>,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub model: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_calls: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_completed: i64,
    #[diesel(sql_type = BigInt)]
    pub tasks_failed: i64,
    #[diesel(sql_type = BigInt)]
    pub images: i64,
    #[diesel(sql_type = BigInt)]
    pub video_ms: i64,
}

/// Everything the report needs for `[from, to)`, read from the rollups only.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub models: Vec<ModelRow>,
    pub series: Vec<SeriesRow>,
    pub latency: Vec<LatencyRow>,
    pub failures: Vec<FailureRow>,
    pub users: Vec<UserRow>,
}

/// Five grouped reads over the rollups; `from` and `to` are whole UTC days (hours for the
/// hourly table are within them).
pub fn load(conn: &mut DbConn, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<Raw> {
    const SUMS: &str = "CAST(SUM(calls) AS BIGINT) AS calls, \
        CAST(SUM(failed_calls) AS BIGINT) AS failed_calls, \
        CAST(SUM(tasks_completed) AS BIGINT) AS tasks_completed, \
        CAST(SUM(tasks_failed) AS BIGINT) AS tasks_failed, \
        CAST(SUM(images) AS BIGINT) AS images, CAST(SUM(video_ms) AS BIGINT) AS video_ms";
    let models_sql = format!(
        "SELECT provider, model, {SUMS}, CAST(SUM(latency_ms_sum) AS BIGINT) AS latency_ms_sum \
         FROM stats_models WHERE bucket_at >= ? AND bucket_at < ? GROUP BY provider, model"
    );
    let series_sql = format!(
        "SELECT bucket_at, {SUMS} FROM stats_models WHERE bucket_at >= ? AND bucket_at < ? \
         GROUP BY bucket_at ORDER BY bucket_at"
    );
    const LATENCY: &str = "SELECT provider, model, slot, CAST(SUM(calls) AS BIGINT) AS calls \
        FROM stats_latency WHERE day >= ? AND day < ? GROUP BY provider, model, slot";
    const FAILURES: &str = "SELECT provider, model, reason, \
        CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(tasks) AS BIGINT) AS tasks \
        FROM stats_failures WHERE day >= ? AND day < ? GROUP BY provider, model, reason";
    let users_sql = format!(
        "SELECT s.*, u.username AS username, u.uuid AS uuid FROM (SELECT user_id, provider, \
         model, {SUMS} FROM stats_users WHERE day >= ? AND day < ? \
         GROUP BY user_id, provider, model) s LEFT JOIN users u ON u.id = s.user_id"
    );
    macro_rules! range {
        ($sql:expr, $row:ty) => {
            load!(conn, $sql, $row, |q| q
                .bind::<Timestamp, _>(from)
                .bind::<Timestamp, _>(to))
        };
    }
    Ok(Raw {
        models: range!(models_sql.as_str(), ModelRow),
        series: range!(series_sql.as_str(), SeriesRow),
        latency: range!(LATENCY, LatencyRow),
        failures: range!(FAILURES, FailureRow),
        users: range!(users_sql.as_str(), UserRow),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_half_powers_of_two() {
        assert_eq!(slot_of(0), 0);
        assert_eq!(slot_of(1), 0);
        assert_eq!(slot_of(2), 2);
        assert_eq!(slot_of(3), 3);
        assert_eq!(slot_of(1000), 19);
        assert_eq!(slot_of(i64::MAX), SLOTS - 1);
        for ms in [2i64, 5, 90, 1000, 45_000] {
            let s = slot_of(ms);
            assert!(
                slot_floor(s) <= ms as f64 && (ms as f64) < slot_floor(s + 1),
                "{ms}"
            );
        }
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }

    #[test]
    fn a_tally_buckets_by_hour_and_day() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(10, 59, 59)
            .unwrap();
        let mut t = Tally::new("p", "m", 7);
        t.call(at, 120, None);
        t.call(at + chrono::Duration::seconds(2), 80, Some("rate_limited"));
        t.completed(at + chrono::Duration::seconds(3), 1, 0);
        assert_eq!(t.models.len(), 2);
        assert_eq!(t.users.len(), 1);
        let day = t.users.values().next().unwrap();
        assert_eq!(
            (day.calls, day.failed_calls, day.tasks_completed, day.images),
            (2, 1, 1, 1)
        );
        assert_eq!(t.failures.values().next(), Some(&(1, 0)));
    }
}
