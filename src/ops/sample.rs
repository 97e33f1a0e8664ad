//! One reading of everything the monitoring page, `/metrics` and the alert rules look at:
//! the queue and the providers from the database (all instances), the engine slots, the pool,
//! CPU, memory and disk of this instance.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;

use super::store;
use crate::app::AppState;
use crate::error::AppResult;

/// The window of the provider error rate.
pub const ERROR_WINDOW_MINUTES: i64 = 5;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    /// This instance's name (`monitoring.instance`, or the host name).
    pub instance: String,
    /// UTC, RFC 3339.
    pub at: String,
    /// Tasks queued (waiting, retries included), all instances.
    pub queued: i64,
    /// Tasks running, all instances.
    pub processing: i64,
    /// Seconds the oldest queued task has waited; 0 with an empty queue.
    pub oldest_queued_seconds: i64,
    /// Running tasks per provider, all instances.
    pub running_by_provider: BTreeMap<String, i64>,
    /// Provider calls over the last 5 minutes, all instances.
    pub providers: Vec<ProviderCalls>,
    /// Engine slots of this instance in use, and how many there are.
    pub engine_busy: i64,
    pub engine_slots: i64,
    /// Database connections of this instance's pool: checked out, idle, the pool's maximum.
    pub db_in_use: i64,
    pub db_idle: i64,
    pub db_max: i64,
    pub process: ProcessStats,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderCalls {
    pub provider: String,
    pub calls: i64,
    pub failed: i64,
    /// Failed calls in percent of all calls; null without calls.
    pub error_rate_percent: Option<f64>,
}

/// Readings of this process and its host; null where the OS does not tell (not Linux).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ProcessStats {
    /// CPU time used since start (user + system), seconds.
    pub cpu_seconds: Option<f64>,
    /// CPU use since the previous reading, in percent of one core.
    pub cpu_percent: Option<f64>,
    /// Resident memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Free space for us on the data dir's file system, and its size, bytes.
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub uptime_seconds: u64,
}

/// What must persist between readings: the previous CPU time, to turn it into a rate, and
/// the last database part for scrapes.
pub struct Sampler {
    started: Instant,
    last_cpu: Mutex<Option<(Instant, f64)>>,
    shared: RwLock<Option<Arc<Shared>>>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler {
            started: Instant::now(),
            last_cpu: Mutex::new(None),
            shared: RwLock::new(None),
        }
    }
}

impl Sampler {
    /// Reads this process and the file system of `data_dir` (no database).
    pub fn process(&self, data_dir: &Path) -> ProcessStats {
        let cpu_seconds = cpu_seconds();
        let now = Instant::now();
        let mut cpu_percent = None;
        if let (Some(cpu), Ok(mut last)) = (cpu_seconds, self.last_cpu.lock()) {
            if let Some((at, before)) = *last {
                let wall = now.duration_since(at).as_secs_f64();
                // Readings a few ms apart give noise, not a rate; keep the older base then.
                if wall >= 0.5 {
                    cpu_percent = Some(((cpu - before) / wall * 100.0).max(0.0));
                    *last = Some((now, cpu));
                }
            } else {
                *last = Some((now, cpu));
            }
        }
        let (disk_free_bytes, disk_total_bytes) = disk(data_dir);
        ProcessStats {
            cpu_seconds,
            cpu_percent,
            memory_bytes: memory_bytes(),
            disk_free_bytes,
            disk_total_bytes,
            uptime_seconds: self.started.elapsed().as_secs(),
        }
    }
}

/// The part of a reading that comes from the database (all instances).
pub struct Shared {
    read_at: NaiveDateTime,
    queued: i64,
    processing: i64,
    oldest_queued: Option<NaiveDateTime>,
    running_by_provider: Vec<(String, i64)>,
    calls: Vec<(String, i64, i64)>,
}

/// Reads the database part: four small queries served by indexes, the queue
/// (`generations_queue`) and the last five minutes of `api_calls` (`api_calls_created`).
async fn read_shared(state: &AppState) -> AppResult<Shared> {
    let read_at = Utc::now().naive_utc();
    let since = read_at - chrono::Duration::minutes(ERROR_WINDOW_MINUTES);
    let (by_status, oldest_queued, running_by_provider, calls) = state
        .db
        .run(move |conn| {
            Ok((
                store::queue_by_status(conn)?,
                store::oldest_queued(conn)?,
                store::running_by_provider(conn)?,
                store::calls_since(conn, since)?,
            ))
        })
        .await?;
    let count = |status: &str| {
        by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Shared {
        read_at,
        queued: count("queued"),
        processing: count("processing"),
        oldest_queued,
        running_by_provider,
        calls,
    })
}

/// A fresh reading, the database included.
pub async fn take(state: &AppState) -> AppResult<Snapshot> {
    let shared = read_shared(state).await?;
    Ok(compose(state, &shared))
}

/// Reads the database part again for [`latest`]; the monitoring task calls it every
/// `monitoring.sample_interval_seconds`.
pub async fn refresh(state: &AppState) -> AppResult<()> {
    let shared = read_shared(state).await?;
    if let Ok(mut last) = state.ops.sampler.shared.write() {
        *last = Some(Arc::new(shared));
    }
    Ok(())
}

/// What a scrape serves: the database part as the last [`refresh`] read it, with this
/// instance's own figures read now, so a scrape costs no query (issue 11: `/metrics` in
/// ≤ 5 ms). Where no monitoring task refreshes (tests, before its first tick), a fresh reading.
pub async fn latest(state: &AppState) -> AppResult<Snapshot> {
    let last = state
        .ops
        .sampler
        .shared
        .read()
        .ok()
        .and_then(|last| last.clone());
    match last {
        Some(shared) => Ok(compose(state, &shared)),
        None => take(state).await,
    }
}

/// The database part with this instance's figures read now.
fn compose(state: &AppState, shared: &Shared) -> Snapshot {
    let now = Utc::now().naive_utc();
    let mut running_by_provider: BTreeMap<String, i64> = state
        .providers
        .entries()
        .map(|e| (e.name.clone(), 0))
        .collect();
    running_by_provider.extend(shared.running_by_provider.iter().cloned());
    let providers = shared
        .calls
        .iter()
        .map(|(provider, calls, failed)| ProviderCalls {
            error_rate_percent: (*calls > 0).then(|| *failed as f64 * 100.0 / *calls as f64),
            provider: provider.clone(),
            calls: *calls,
            failed: *failed,
        })
        .collect();
    let pool = state.db.pool_state();
    Snapshot {
        instance: state.ops.instance.clone(),
        at: shared.read_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        queued: shared.queued,
        processing: shared.processing,
        oldest_queued_seconds: shared
            .oldest_queued
            .map_or(0, |t| (now - t).num_seconds().max(0)),
        running_by_provider,
        providers,
        engine_busy: state.ops.engine_busy() as i64,
        engine_slots: i64::from(state.config.engine.concurrency),
        db_in_use: i64::from(pool.connections.saturating_sub(pool.idle_connections)),
        db_idle: i64::from(pool.idle_connections),
        db_max: i64::from(state.db.max_size()),
        process: state.ops.sampler.process(&state.config.data_dir()),
    }
}

/// User + system CPU seconds of this process, from `/proc/self/stat` (fields 14 and 15, in
/// clock ticks). The command name in field 2 may hold spaces, so fields count from its `)`.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After `)`: state is field 3, so utime (14) is the 12th and stime (15) the 13th.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    (ticks > 0.0).then(|| (utime + stime) / ticks)
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> Option<f64> {
    None
}

/// Resident memory from `/proc/self/status` (`VmRSS`, in kB).
#[cfg(target_os = "linux")]
fn memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(not(target_os = "linux"))]
fn memory_bytes() -> Option<u64> {
    None
}

/// Free (for an unprivileged user) and total bytes of the file system holding `dir`.
#[cfg(unix)]
fn disk(dir: &Path) -> (Option<u64>, Option<u64>) {
    match rustix::fs::statvfs(dir) {
        Ok(st) => (
            Some(st.f_bavail.saturating_mul(st.f_frsize)),
            Some(st.f_blocks.saturating_mul(st.f_frsize)),
        ),
        Err(_) => (None, None),
    }
}

#[cfg(not(unix))]
fn disk(_dir: &Path) -> (Option<u64>, Option<u64>) {
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_from_proc_and_the_disk_by_statvfs() {
        let sampler = Sampler::default();
        let dir = tempfile::tempdir().unwrap();
        let first = sampler.process(dir.path());
        let cpu_before = first.cpu_seconds.unwrap();
        assert!(first.cpu_percent.is_none(), "no rate from one reading");
        let rss = first.memory_bytes.unwrap();
        assert!(rss > 1024 * 1024 && rss < 64 * 1024 * 1024 * 1024, "{rss}");
        let (free, total) = (
            first.disk_free_bytes.unwrap(),
            first.disk_total_bytes.unwrap(),
        );
        assert!(free > 0 && free <= total);
        // Burn some CPU so the next reading has a rate.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 600 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let second = sampler.process(dir.path());
        assert!(second.cpu_seconds.unwrap() >= cpu_before + 0.3);
        let pct = second.cpu_percent.unwrap();
        assert!(pct > 20.0, "{pct}");
    }
}
