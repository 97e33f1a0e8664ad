//! Operations (seed 6.2, issue 11 items 4 and 5): the monitoring page and `/metrics`, alert
//! rules with a banner and mails, the log centre (recent warnings and errors in memory) and
//! the periodic pruning of old raw log rows.

pub mod alerts;
pub mod api;
pub mod logs;
pub mod pages;
pub mod prom;
pub mod retention;
pub mod sample;
pub mod service;
pub mod store;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::app::AppState;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::users::model::User;

/// What monitoring keeps in memory per instance.
pub struct Ops {
    /// This instance's name in metrics and in its own memory and disk alerts.
    pub instance: String,
    pub sampler: sample::Sampler,
    busy: Arc<AtomicUsize>,
    /// The open incidents as of the last check, for the admins' banner on every page.
    open: RwLock<Vec<alerts::AlertView>>,
}

impl Ops {
    pub fn new(config: &Config) -> Self {
        let instance = match config.monitoring.instance.trim() {
            "" => host_name(),
            name => name.to_string(),
        };
        Ops {
            instance,
            sampler: Default::default(),
            busy: Default::default(),
            open: Default::default(),
        }
    }

    /// Marks an engine slot busy until the guard is dropped.
    pub fn slot(&self) -> BusySlot {
        self.busy.fetch_add(1, Ordering::Relaxed);
        BusySlot(self.busy.clone())
    }

    pub fn engine_busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    pub fn open_alerts(&self) -> Vec<alerts::AlertView> {
        self.open.read().map(|o| o.clone()).unwrap_or_default()
    }

    pub fn set_open_alerts(&self, now: Vec<alerts::AlertView>) {
        if let Ok(mut open) = self.open.write() {
            *open = now;
        }
    }
}

pub struct BusySlot(Arc<AtomicUsize>);

impl Drop for BusySlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The host's name, from the kernel on Linux, else the usual variables.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "picturedeck".into())
}

pub(crate) fn require_admin(viewer: &User) -> AppResult<()> {
    if viewer.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("err.forbidden"))
    }
}

/// Reads the database figures for `/metrics` every `monitoring.sample_interval_seconds`,
/// checks the alert rules every `monitoring.check_interval_seconds` and prunes old log rows
/// every `retention.prune_interval_minutes`, until the task is dropped.
pub async fn run(state: Arc<AppState>) {
    let sample_every = Duration::from_secs(state.config.monitoring.sample_interval_seconds.max(1));
    let mut sample = tokio::time::interval(sample_every);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let check_every = Duration::from_secs(state.config.monitoring.check_interval_seconds.max(1));
    let prune_every =
        Duration::from_secs(state.config.retention.prune_interval_minutes.max(1) * 60);
    let mut check = tokio::time::interval(check_every);
    let mut prune = tokio::time::interval(prune_every);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sample.tick() => {
                if let Err(e) = sample::refresh(&state).await {
                    tracing::warn!("reading the queue for /metrics failed: {e}");
                }
            }
            _ = check.tick() => {
                if let Err(e) = alerts::check(&state).await {
                    tracing::warn!("alert check failed: {e}");
                }
            }
            _ = prune.tick() => {
                if let Err(e) = retention::prune(&state).await {
                    tracing::warn!("pruning old log rows failed: {e}");
                }
            }
        }
    }
}
