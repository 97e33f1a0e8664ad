//! A [`Snapshot`] in Prometheus text format (0.0.4), through the `prometheus` crate's encoder.
//! A fresh registry per scrape: every value is read at scrape time anyway, and a label that
//! vanished (a provider removed) then vanishes from the output too.

use prometheus::{Counter, Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use super::sample::Snapshot;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(s: &Snapshot, open_alerts: usize) -> Result<String, prometheus::Error> {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, value: f64| -> Result<(), prometheus::Error> {
        let g = Gauge::new(name, help)?;
        g.set(value);
        registry.register(Box::new(g))
    };
    let vec = |name: &str,
               help: &str,
               label: &str,
               values: &mut dyn Iterator<Item = (&str, f64)>|
     -> Result<(), prometheus::Error> {
        let g = GaugeVec::new(Opts::new(name, help), &[label])?;
        for (l, v) in values {
            g.with_label_values(&[l]).set(v);
        }
        registry.register(Box::new(g))
    };
    vec(
        "picturedeck_queue_tasks",
        "Generation tasks waiting or running, by status (all instances).",
        "status",
        &mut [
            ("queued", s.queued as f64),
            ("processing", s.processing as f64),
        ]
        .into_iter(),
    )?;
    gauge(
        "picturedeck_queue_oldest_seconds",
        "Seconds the oldest queued task has waited (0: empty queue).",
        s.oldest_queued_seconds as f64,
    )?;
    vec(
        "picturedeck_tasks_running",
        "Running tasks per provider (all instances).",
        "provider",
        &mut s
            .running_by_provider
            .iter()
            .map(|(p, n)| (p.as_str(), *n as f64)),
    )?;
    gauge(
        "picturedeck_engine_slots_busy",
        "Engine slots of this instance running a task.",
        s.engine_busy as f64,
    )?;
    gauge(
        "picturedeck_engine_slots",
        "Engine slots of this instance (engine.concurrency).",
        s.engine_slots as f64,
    )?;
    vec(
        "picturedeck_db_connections",
        "Database pool connections of this instance, in use or idle.",
        "state",
        &mut [("in_use", s.db_in_use as f64), ("idle", s.db_idle as f64)].into_iter(),
    )?;
    gauge(
        "picturedeck_db_connections_max",
        "Size limit of this instance's database pool.",
        s.db_max as f64,
    )?;
    vec(
        "picturedeck_provider_calls_5m",
        "Provider calls over the last 5 minutes (all instances).",
        "provider",
        &mut s
            .providers
            .iter()
            .map(|p| (p.provider.as_str(), p.calls as f64)),
    )?;
    vec(
        "picturedeck_provider_errors_5m",
        "Failed provider calls over the last 5 minutes (all instances).",
        "provider",
        &mut s
            .providers
            .iter()
            .map(|p| (p.provider.as_str(), p.failed as f64)),
    )?;
    vec(
        "picturedeck_provider_error_ratio_5m",
        "Failed share of provider calls over the last 5 minutes, 0 to 1.",
        "provider",
        &mut s.providers.iter().filter_map(|p| {
            p.error_rate_percent
                .map(|r| (p.provider.as_str(), r / 100.0))
        }),
    )?;
    gauge(
        "picturedeck_alerts_open",
        "Alert incidents open now.",
        open_alerts as f64,
    )?;
    // Where the OS does not tell (not Linux), these are left out rather than shown as 0.
    if let Some(cpu) = s.process.cpu_seconds {
        let c = Counter::new(
            "process_cpu_seconds_total",
            "User and system CPU time of this process, seconds.",
        )?;
        c.inc_by(cpu);
        registry.register(Box::new(c))?;
    }
    if let Some(rss) = s.process.memory_bytes {
        gauge(
            "process_resident_memory_bytes",
            "Resident memory of this process.",
            rss as f64,
        )?;
    }
    if let Some(free) = s.process.disk_free_bytes {
        gauge(
            "picturedeck_data_dir_free_bytes",
            "Free space on the data dir's file system.",
            free as f64,
        )?;
    }
    if let Some(total) = s.process.disk_total_bytes {
        gauge(
            "picturedeck_data_dir_size_bytes",
            "Size of the data dir's file system.",
            total as f64,
        )?;
    }
    gauge(
        "picturedeck_uptime_seconds",
        "Seconds since this process started.",
        s.process.uptime_seconds as f64,
    )?;
    let mut out = Vec::with_capacity(4096);
    TextEncoder::new().encode(&registry.gather(), &mut out)?;
    String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
}
