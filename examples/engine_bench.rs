//! Generation engine benchmark: throughput, latency under a slow vendor, and memory with a deep
//! queue, measured against an in-process loopback fake of OpenAI Images.
//!
//!   cargo run --release --example engine_bench -- --backend sqlite --scenario throughput
//!   cargo run --release --example engine_bench -- --backend postgres --scenario latency
//!   cargo run --release --example engine_bench -- --backend postgres --scenario throughput --engines 2
//!   cargo run --release --example engine_bench -- --scenario idle-queue --tasks 2000
//!
//! Tasks are inserted straight into the `generations` table (the submit path is not what is
//! measured), then `generation::engine::run` works them off while the benchmark polls the
//! table. See docs/benchmarks.md ("Generation engine") for what each figure means.
//!
//! This is a measurement, not a test: it exits 0 when a target is missed, and non-zero only
//! when the benchmark itself cannot run (no database, a task failing, a timeout).
//! Everything listens on and connects to 127.0.0.1; the temp dir and the PostgreSQL schema
//! are removed at the end, also after an error or Ctrl-C.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{bail, Context as _};
use base64::Engine as _;
use chrono::{NaiveDateTime, Utc};
use clap::{Parser, ValueEnum};
use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::{Config, ProviderConfig};
use picturedeck::db::schema::{api_calls, generations, users};
use picturedeck::generation::model::{Kind, NewGeneration, TaskStatus};
use picturedeck::generation::store;
use picturedeck::mail::Mailer;
use tokio::task::JoinHandle;

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

const PROVIDER: &str = "benchai";
const MODEL: &str = "gpt-image-1";
const PARAMETERS: &str = r#"{"seed":1,"size":"64x64"}"#;
/// Rows per insert transaction: large enough to be fast, small enough not to hold SQLite's
/// write lock for long while an engine is running.
const INSERT_BATCH: usize = 500;
/// How often the benchmark counts finished rows. Durations come from the rows' own
/// timestamps, so this only decides how soon the end is noticed.
const WATCH_EVERY: Duration = Duration::from_millis(10);

// Targets from the issue.
const TARGET_SQLITE_PER_S: f64 = 300.0;
const TARGET_POSTGRES_PER_S: f64 = 500.0;
const TARGET_OVERHEAD_P50_MS: f64 = 5.0;
const TARGET_OVERHEAD_P99_MS: f64 = 25.0;
const TARGET_LATENCY_FACTOR: f64 = 1.15;
const TARGET_PEAK_RSS_MB: f64 = 150.0;
const TARGET_QUEUE_RSS_RATIO: f64 = 1.20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Zero-latency vendor: tasks per second, and engine overhead per task.
    Throughput,
    /// 2 s vendor, 200 at once: wall time against the ideal, and peak memory.
    Latency,
    /// A deep queue behind a slow, narrow vendor: resident memory must not follow the queue.
    IdleQueue,
}

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the generation engine against a loopback fake vendor")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, value_enum, default_value = "throughput")]
    scenario: Scenario,
    /// Tasks to run (default: 2000 throughput, 1000 latency, 10000 idle-queue).
    #[arg(long)]
    tasks: Option<usize>,
    /// Engines working the same queue, each with its own AppState and pool, as separate
    /// instances would (throughput only; meant for PostgreSQL).
    #[arg(long, default_value_t = 1)]
    engines: usize,
    /// database.pool_size of each instance (default: the shipped default).
    #[arg(long)]
    pool_size: Option<u32>,
    /// engine.concurrency and the provider's concurrency (default: 64 throughput, 200
    /// latency, 4 idle-queue).
    #[arg(long)]
    concurrency: Option<u32>,
    /// engine.poll_interval_ms (the engine never scans more often than every 10 ms).
    #[arg(long, default_value_t = 5)]
    poll_interval_ms: u64,
    /// idle-queue: seconds to watch memory after queueing the tasks.
    #[arg(long, default_value_t = 10)]
    watch_secs: u64,
    /// PostgreSQL server to use; each run works in a fresh schema that it drops at the end.
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    if args.engines == 0 || (args.engines > 1 && args.scenario != Scenario::Throughput) {
        bail!("--engines must be 1, or more for the throughput scenario only");
    }
    print_header(
        "generation engine benchmark",
        &format!(
            "backend {:?}, scenario {:?}, engines {}, pool_size {}, poll_interval_ms {}",
            args.backend,
            args.scenario,
            args.engines,
            args.pool_size
                .unwrap_or_else(|| Config::default().database.pool_size),
            args.poll_interval_ms
        ),
    );
    let rows = tokio::select! {
        rows = run(&args) => rows?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    };
    print_table(&rows);
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    match args.scenario {
        Scenario::Throughput => throughput(args).await,
        Scenario::Latency => latency(args).await,
        Scenario::IdleQueue => idle_queue(args).await,
    }
}

// --- scenarios -------------------------------------------------------------------------------

async fn throughput(args: &Args) -> anyhow::Result<Vec<Row>> {
    let tasks = args.tasks.unwrap_or(2000);
    let concurrency = args.concurrency.unwrap_or(64);
    let target = match args.backend {
        Backend::Sqlite => TARGET_SQLITE_PER_S,
        Backend::Postgres => TARGET_POSTGRES_PER_S,
    };

    println!("\n== 1. loaded: {tasks} tasks, zero-latency vendor, {concurrency} at once");
    let mut bench = Bench::start(args, concurrency, Duration::ZERO, args.engines).await?;
    let loaded = bench.work_off(tasks, Duration::from_secs(600)).await;
    bench.finish().await;
    let loaded = loaded?;
    let per_s = tasks as f64 / loaded.wall.as_secs_f64();
    let (p50, p99) = (loaded.overhead_ms(0.50), loaded.overhead_ms(0.99));
    println!(
        "wall {:.2} s -> {per_s:.0} tasks/s; overhead p50 {p50:.2} ms, p99 {p99:.2} ms",
        loaded.wall.as_secs_f64()
    );
    println!(
        "   after the vendor answered: p50 {:.2} ms; {}",
        percentile(&loaded.after_call, 0.50),
        loaded.cpu.describe(tasks)
    );
    // Little's law: with every slot busy, a task's time in the engine is about
    // slots / throughput whatever the engine does, so this overhead is mostly queueing.
    let slots = concurrency as usize * args.engines;
    println!(
        "   {slots} slots / {per_s:.0} per s = {:.1} ms in the engine per task by Little's law",
        slots as f64 / per_s * 1000.0
    );

    let serial_tasks = tasks.min(300);
    println!("\n== 2. one at a time: {serial_tasks} tasks, zero-latency vendor, 1 at once");
    let mut bench = Bench::start(args, 1, Duration::ZERO, 1).await?;
    let serial = bench.work_off(serial_tasks, Duration::from_secs(600)).await;
    bench.finish().await;
    let serial = serial?;
    let (s50, s99) = (serial.overhead_ms(0.50), serial.overhead_ms(0.99));
    println!(
        "wall {:.2} s -> {:.0} tasks/s; overhead p50 {s50:.2} ms, p99 {s99:.2} ms",
        serial.wall.as_secs_f64(),
        serial_tasks as f64 / serial.wall.as_secs_f64()
    );
    println!(
        "   after the vendor answered: p50 {:.2} ms; {}",
        percentile(&serial.after_call, 0.50),
        serial.cpu.describe(serial_tasks)
    );

    println!("\n== 3. CPU of storing one result (label, decode, thumbnail, sha256), one thread");
    let cpu_ms = result_cpu_ms()?;
    println!("{cpu_ms:.2} ms per result");

    let mut rows = vec![
        Row::check(
            format!("throughput, {tasks} tasks, {slots} at once"),
            format!(
                "{per_s:.0} tasks/s (wall {:.2} s)",
                loaded.wall.as_secs_f64()
            ),
            format!(">= {target:.0}/s"),
            per_s >= target,
        ),
        // The overhead target is the engine's own cost, one task at a time; with every slot
        // busy the same figure is mostly queueing (Little's law above), shown without a target.
        Row::info(
            format!("time in the engine p50 / p99, {slots} at once (queueing included)"),
            format!("{p50:.2} / {p99:.2} ms"),
        ),
        Row::check(
            "overhead p50, one at a time".into(),
            format!("{s50:.2} ms"),
            format!("<= {TARGET_OVERHEAD_P50_MS} ms"),
            s50 <= TARGET_OVERHEAD_P50_MS,
        ),
        Row::check(
            "overhead p99, one at a time".into(),
            format!("{s99:.2} ms"),
            format!("<= {TARGET_OVERHEAD_P99_MS} ms"),
            s99 <= TARGET_OVERHEAD_P99_MS,
        ),
        Row::info(
            format!("throughput, {serial_tasks} tasks, 1 at once"),
            format!(
                "{:.0} tasks/s",
                serial_tasks as f64 / serial.wall.as_secs_f64()
            ),
        ),
        Row::info(
            "  after the vendor answered, p50 / p99, loaded".into(),
            p50_p99(&loaded.after_call, 2),
        ),
        Row::info(
            "  after the vendor answered, p50 / p99, one at a time".into(),
            p50_p99(&serial.after_call, 2),
        ),
        Row::info(
            "vendor call (api_calls.latency_ms) p50 / p99, loaded".into(),
            p50_p99(&loaded.latency_ms, 0),
        ),
        Row::info(
            "vendor call (api_calls.latency_ms) p50 / p99, one at a time".into(),
            p50_p99(&serial.latency_ms, 0),
        ),
        Row::info(
            "CPU while loaded (this process)".into(),
            loaded.cpu.describe(tasks),
        ),
        Row::info(
            "CPU one at a time (this process)".into(),
            serial.cpu.describe(serial_tasks),
        ),
        Row::info(
            "CPU to store one result (one thread)".into(),
            format!("{cpu_ms:.2} ms"),
        ),
        Row::info(
            "peak RSS (VmHWM)".into(),
            format!("{:.1} MB", mb(proc_status_kb("VmHWM")?)),
        ),
    ];
    if !loaded.sub_ms_timestamps || !serial.sub_ms_timestamps {
        rows.push(Row::info(
            "WARNING".into(),
            "stored timestamps have no sub-millisecond digits".into(),
        ));
    }
    Ok(rows)
}

async fn latency(args: &Args) -> anyhow::Result<Vec<Row>> {
    let tasks = args.tasks.unwrap_or(1000);
    let concurrency = args.concurrency.unwrap_or(200);
    let vendor = Duration::from_secs(2);
    let waves = tasks.div_ceil(concurrency as usize);
    let ideal = vendor.as_secs_f64() * waves as f64;
    let target = ideal * TARGET_LATENCY_FACTOR;
    println!(
        "\n== {tasks} tasks, {} s vendor, {concurrency} at once: ideal {waves} x {} s = {ideal:.1} s",
        vendor.as_secs(),
        vendor.as_secs()
    );
    let mut bench = Bench::start(args, concurrency, vendor, 1).await?;
    let timeout = Duration::from_secs_f64(ideal * 3.0 + 60.0);
    let result = bench.work_off(tasks, timeout).await;
    let peak_in_flight = bench.fake.stats.peak.load(Ordering::Relaxed);
    let rss = proc_status_kb("VmRSS");
    let hwm = proc_status_kb("VmHWM");
    bench.finish().await;
    let timings = result?;
    let (rss, hwm) = (mb(rss?), mb(hwm?));
    let wall = timings.wall.as_secs_f64();
    println!(
        "wall {wall:.2} s ({:.3} x ideal); peak RSS {hwm:.1} MB; vendor peak in flight {peak_in_flight}",
        wall / ideal
    );
    Ok(vec![
        Row::check(
            format!("wall time, {tasks} tasks"),
            format!("{wall:.2} s ({:.3} x ideal {ideal:.0} s)", wall / ideal),
            format!("<= {target:.1} s"),
            wall <= target,
        ),
        Row::check(
            "peak RSS (VmHWM), fake vendor included".into(),
            format!("{hwm:.1} MB"),
            format!("<= {TARGET_PEAK_RSS_MB} MB"),
            hwm <= TARGET_PEAK_RSS_MB,
        ),
        Row::info("RSS at the end (VmRSS)".into(), format!("{rss:.1} MB")),
        Row::info(
            "vendor requests in flight, peak".into(),
            peak_in_flight.to_string(),
        ),
        Row::info(
            "vendor call (api_calls.latency_ms) p50 / max".into(),
            format!(
                "{:.0} / {:.0} ms",
                percentile(&timings.latency_ms, 0.50),
                percentile(&timings.latency_ms, 1.0)
            ),
        ),
        Row::info("CPU (this process)".into(), timings.cpu.describe(tasks)),
        Row::info(
            "engine time per task beyond the vendor, p50 / p99".into(),
            p50_p99(&timings.overhead, 1),
        ),
    ])
}

async fn idle_queue(args: &Args) -> anyhow::Result<Vec<Row>> {
    let tasks = args.tasks.unwrap_or(10_000);
    let concurrency = args.concurrency.unwrap_or(4);
    let vendor = Duration::from_secs(2);
    println!(
        "\n== {tasks} queued tasks, {} s vendor, {concurrency} at once",
        vendor.as_secs()
    );
    let mut bench = Bench::start(args, concurrency, vendor, 1).await?;
    let result = idle_queue_on(&mut bench, tasks, concurrency, args.watch_secs).await;
    bench.finish().await;
    let m = result?;
    let ratio = m.loaded.total / m.warmed.total;
    println!(
        "idle {:.1} MB, idle + pool {:.1} MB, with the queue {:.1} MB: {ratio:.3} x",
        m.idle.total, m.warmed.total, m.loaded.total
    );
    Ok(vec![
        Row::info(
            "RSS idle, engine running, 0 tasks".into(),
            m.idle.describe(),
        ),
        Row::info(
            format!("RSS idle + pool (after {} warm-up tasks)", m.warm_up_tasks),
            m.warmed.describe(),
        ),
        Row::info(
            format!("insert {tasks} queued tasks"),
            format!("{:.2} s", m.insert.as_secs_f64()),
        ),
        Row::info(
            format!("RSS {} s after queueing {tasks}", args.watch_secs),
            format!(
                "{} (max while waiting {:.1} MB)",
                m.loaded.describe(),
                m.loaded_max
            ),
        ),
        Row::check(
            "RSS with the queue / (idle + pool)".into(),
            format!("{ratio:.3}"),
            format!("<= {TARGET_QUEUE_RSS_RATIO:.2}"),
            ratio <= TARGET_QUEUE_RSS_RATIO,
        ),
        Row::info(
            "RSS with the queue / idle".into(),
            format!("{:.3}", m.loaded.total / m.idle.total),
        ),
        Row::info(
            format!("tasks completed in those {} s", args.watch_secs),
            m.completed_meanwhile.to_string(),
        ),
        Row::info(
            "peak RSS (VmHWM)".into(),
            format!("{:.1} MB", mb(proc_status_kb("VmHWM")?)),
        ),
    ])
}

struct QueueMemory {
    idle: Rss,
    warm_up_tasks: usize,
    warmed: Rss,
    insert: Duration,
    loaded: Rss,
    loaded_max: f64,
    completed_meanwhile: i64,
}

async fn idle_queue_on(
    bench: &mut Bench,
    tasks: usize,
    concurrency: u32,
    watch_secs: u64,
) -> anyhow::Result<QueueMemory> {
    bench.start_engines();
    // Let start-up allocations settle before the first reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = Rss::now()?;
    println!(
        "RSS idle (engine running, nothing queued): {}",
        idle.describe()
    );

    // "Pool": what the DB connections, the HTTP client and the engine's running tasks take
    // once used. Two full rounds of the slots open all of them, then the queue is empty again.
    let warm_up_tasks = concurrency as usize * 2;
    bench.insert(warm_up_tasks).await?;
    bench
        .wait_final(warm_up_tasks as i64, Duration::from_secs(120))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let warmed = Rss::now()?;
    println!(
        "RSS idle + pool (after {warm_up_tasks} warm-up tasks): {}",
        warmed.describe()
    );

    let insert = bench.insert(tasks).await?;
    println!("inserted {tasks} tasks in {:.2} s", insert.as_secs_f64());
    let before = bench.final_count().await?;
    let mut loaded_max: f64 = 0.0;
    for second in 1..=watch_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = Rss::now()?;
        loaded_max = loaded_max.max(rss.total);
        println!("   +{second:2} s: RSS {}", rss.describe());
    }
    let loaded = Rss::now()?;
    let completed_meanwhile = bench.final_count().await? - before;
    Ok(QueueMemory {
        idle,
        warm_up_tasks,
        warmed,
        insert,
        loaded,
        loaded_max,
        completed_meanwhile,
    })
}

// --- the environment: fake vendor, database, app state, engines --------------------------------

struct Bench {
    /// One per engine; the first also inserts and watches.
    states: Vec<Arc<AppState>>,
    engines: Vec<JoinHandle<()>>,
    fake: Fake,
    user_id: i64,
    engines_started_at: Option<NaiveDateTime>,
    // Dropped last, after the pools above are closed.
    _schema: Option<PgSchema>,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(
        args: &Args,
        concurrency: u32,
        vendor_latency: Duration,
        engines: usize,
    ) -> anyhow::Result<Bench> {
        let fake = Fake::start(vendor_latency)?;
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let schema = match args.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgSchema::create(&args.pg_url, "bench", false)?),
        };
        let database_url = match &schema {
            Some(s) => s.url(),
            None => format!("sqlite:{}", dir.path().join("bench.db").display()),
        };
        let mut config = Config {
            data_dir: Some(dir.path().to_path_buf()),
            ..Config::default()
        };
        config.database.url = database_url;
        if let Some(size) = args.pool_size {
            config.database.pool_size = size;
        }
        config.engine.concurrency = concurrency;
        config.engine.poll_interval_ms = args.poll_interval_ms;
        // Through serde, so keys added to `[[providers]]` later take their defaults here too.
        let provider: ProviderConfig = serde_json::from_value(serde_json::json!({
            "name": PROVIDER,
            "kind": "openai",
            "concurrency": concurrency,
            "base_url": fake.url,
            "api_key": "bench-key",
            "timeout_seconds": 120,
            "models": [{ "name": MODEL, "kinds": ["t2i"] }],
        }))?;
        config.providers = vec![provider];
        config.validate()?;
        let mut states = Vec::with_capacity(engines);
        for _ in 0..engines {
            let config = config.clone();
            let state = tokio::task::spawn_blocking(move || {
                AppState::new(config, Some(Mailer::memory().0))
            })
            .await??;
            states.push(Arc::new(state));
        }
        let state = states.first().context("no app state")?;
        let user = picturedeck::users::service::create_user(
            state,
            picturedeck::users::service::Registration {
                username: "bench".into(),
                email: "bench@example.com".into(),
                password: "Bench@1234".into(),
            },
            picturedeck::users::model::Role::User,
            None,
        )
        .await?;
        let user_id = user.id;
        // No quota: the benchmark queues far more than a day's worth for one user.
        state
            .db
            .run(move |conn| {
                diesel::update(users::table.find(user_id))
                    .set(users::daily_quota.eq(None::<i32>))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        Ok(Bench {
            states,
            engines: Vec::new(),
            fake,
            user_id,
            engines_started_at: None,
            _schema: schema,
            _dir: dir,
        })
    }

    fn state(&self) -> &AppState {
        // `start` refuses to build a Bench without one.
        &self.states[0]
    }

    /// Inserts `n` queued tasks due now, in batches, and wakes the engines as a submit would.
    async fn insert(&self, n: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut left = n;
        while left > 0 {
            let batch = left.min(INSERT_BATCH);
            left -= batch;
            let user_id = self.user_id;
            self.state()
                .db
                .run(move |conn| {
                    conn.transaction::<_, diesel::result::Error, _>(|conn| {
                        let now = Utc::now().naive_utc();
                        for _ in 0..batch {
                            let uuid = uuid::Uuid::new_v4().to_string();
                            store::insert(
                                conn,
                                &NewGeneration {
                                    uuid: &uuid,
                                    user_id,
                                    status: TaskStatus::Queued.as_str(),
                                    generation_type: Kind::T2i.as_str(),
                                    prompt: Some("a lighthouse at dusk"),
                                    parameters: Some(PARAMETERS),
                                    provider: PROVIDER,
                                    model: MODEL,
                                    attempts: 0,
                                    next_attempt_at: now,
                                    progress: 0,
                                    created_at: now,
                                    updated_at: now,
                                },
                            )?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })
                .await?;
            for state in &self.states {
                state.wake.notify_one();
            }
        }
        Ok(started.elapsed())
    }

    fn start_engines(&mut self) {
        self.engines_started_at = Some(Utc::now().naive_utc());
        for state in &self.states {
            let engine = picturedeck::generation::engine::run(state.clone());
            self.engines.push(tokio::spawn(engine));
        }
    }

    /// Queues `n` tasks, starts the engines, waits until every task has finished and reads
    /// back the timings.
    async fn work_off(&mut self, n: usize, timeout: Duration) -> anyhow::Result<Timings> {
        let took = self.insert(n).await?;
        println!("inserted {n} tasks in {:.2} s", took.as_secs_f64());
        let cpu_before = CpuSample::now()?;
        self.start_engines();
        self.wait_final(n as i64, timeout).await?;
        let cpu = CpuSample::now()?.since(&cpu_before);
        let mut timings = self.timings().await?;
        timings.cpu = cpu;
        Ok(timings)
    }

    /// Tasks that are completed, failed or canceled.
    async fn final_count(&self) -> anyhow::Result<i64> {
        Ok(self
            .state()
            .db
            .run(|conn| {
                Ok(generations::table
                    .filter(generations::status.eq_any(["completed", "failed", "canceled"]))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await?)
    }

    /// Waits until `n` tasks are final; a task that did not complete is an error, since the
    /// figures would then not be about the work they claim to measure.
    async fn wait_final(&self, n: i64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self.final_count().await?;
            if done >= n {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "only {done} of {n} tasks finished within {} s",
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(WATCH_EVERY).await;
        }
        let failed: Vec<(String, Option<String>, Option<String>)> = self
            .state()
            .db
            .run(|conn| {
                Ok(generations::table
                    .filter(generations::status.ne("completed"))
                    .filter(generations::status.ne("queued"))
                    .filter(generations::status.ne("processing"))
                    .select((
                        generations::status,
                        generations::error_code,
                        generations::error_detail,
                    ))
                    .limit(3)
                    .load(conn)?)
            })
            .await?;
        if let Some((status, code, detail)) = failed.first() {
            bail!("a task ended {status}: {code:?} {detail:?}");
        }
        Ok(())
    }

    /// Reads back what the rows say: wall time, per-task overhead and vendor latency.
    async fn timings(&self) -> anyhow::Result<Timings> {
        let start = self
            .engines_started_at
            .context("the engines never started")?;
        let (rows, calls) = self
            .state()
            .db
            .run(|conn| {
                let rows: Vec<(i64, Option<NaiveDateTime>, Option<NaiveDateTime>)> =
                    generations::table
                        .filter(generations::status.eq("completed"))
                        .select((
                            generations::id,
                            generations::started_at,
                            generations::completed_at,
                        ))
                        .load(conn)?;
                let calls: Vec<(Option<i64>, i64, NaiveDateTime)> = api_calls::table
                    .order(api_calls::id)
                    .select((
                        api_calls::generation_id,
                        api_calls::latency_ms,
                        api_calls::created_at,
                    ))
                    .load(conn)?;
                Ok((rows, calls))
            })
            .await?;
        // Per task: the vendor's time over all its calls, and when the last call was recorded.
        let mut calls_of: HashMap<i64, (i64, NaiveDateTime)> = HashMap::new();
        for (id, ms, recorded) in calls {
            if let Some(id) = id {
                let entry = calls_of.entry(id).or_insert((0, recorded));
                *entry = (entry.0 + ms, recorded);
            }
        }
        let mut t = Timings {
            wall: Duration::ZERO,
            overhead: Vec::with_capacity(rows.len()),
            after_call: Vec::with_capacity(rows.len()),
            latency_ms: Vec::with_capacity(rows.len()),
            sub_ms_timestamps: false,
            cpu: CpuUse::default(),
        };
        let mut last = start;
        for (id, started, completed) in rows {
            let (Some(started), Some(completed)) = (started, completed) else {
                bail!("task {id} is completed without started_at/completed_at");
            };
            let Some(&(vendor, recorded)) = calls_of.get(&id) else {
                bail!("task {id} is completed without an api_calls row");
            };
            t.sub_ms_timestamps |= started.and_utc().timestamp_subsec_micros() % 1000 != 0
                || completed.and_utc().timestamp_subsec_micros() % 1000 != 0;
            last = last.max(completed);
            t.overhead.push(ms(completed - started) - vendor as f64);
            t.after_call.push(ms(completed - recorded));
            t.latency_ms.push(vendor as f64);
        }
        t.wall = Duration::from_micros(micros(last - start).max(0) as u64);
        for v in [&mut t.overhead, &mut t.after_call, &mut t.latency_ms] {
            v.sort_by(f64::total_cmp);
        }
        Ok(t)
    }

    /// Stops the engines and the fake; the pools close when the states drop, then the
    /// schema guard drops the PostgreSQL schema.
    async fn finish(self) {
        for engine in self.engines {
            engine.abort();
            // Cancelled: the task's clone of the state is gone once this returns.
            let _ = engine.await;
        }
        self.fake.handle.stop(false).await;
    }
}

fn micros(d: chrono::TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

fn ms(d: chrono::TimeDelta) -> f64 {
    micros(d) as f64 / 1000.0
}

struct Timings {
    /// From the engines' start to the last `completed_at`.
    wall: Duration,
    /// Per task, sorted: (completed_at − started_at) − api_calls.latency_ms, in ms.
    overhead: Vec<f64>,
    /// Per task, sorted: completed_at − api_calls.created_at, in ms: the part of the
    /// overhead after the vendor answered (recording the call, storing the result).
    after_call: Vec<f64>,
    /// Per task, sorted: the vendor call as the engine timed it, in whole ms.
    latency_ms: Vec<f64>,
    sub_ms_timestamps: bool,
    /// CPU used while the engines worked.
    cpu: CpuUse,
}

impl Timings {
    fn overhead_ms(&self, q: f64) -> f64 {
        percentile(&self.overhead, q)
    }
}

/// "p50 / p99 ms" of sorted values, with `decimals` digits.
fn p50_p99(sorted: &[f64], decimals: usize) -> String {
    let (a, b) = (percentile(sorted, 0.50), percentile(sorted, 0.99));
    format!("{a:.decimals$} / {b:.decimals$} ms")
}

/// Nearest-rank percentile of sorted values (`q` = 1.0 is the maximum).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

// --- the fake vendor ----------------------------------------------------------------------------

#[derive(Default)]
struct FakeStats {
    in_flight: AtomicU64,
    peak: AtomicU64,
}

struct FakeShared {
    /// The whole answer, encoded once: the fake should cost next to nothing per request.
    body: web::Bytes,
    latency: Duration,
    stats: Arc<FakeStats>,
}

struct Fake {
    url: String,
    handle: actix_web::dev::ServerHandle,
    stats: Arc<FakeStats>,
}

/// `POST /v1/images/generations` of OpenAI Images, answering after `latency` with one image.
async fn fake_generations(shared: web::Data<FakeShared>) -> HttpResponse {
    let now = shared.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    shared.stats.peak.fetch_max(now, Ordering::Relaxed);
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(shared.body.clone())
}

impl Fake {
    fn start(latency: Duration) -> anyhow::Result<Fake> {
        let img = image::RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, 160])
        });
        let png = picturedeck::storage::images::encode_png(&img)?;
        let body = serde_json::to_vec(&serde_json::json!({
            "created": 1_790_000_000,
            "data": [{ "b64_json": base64::engine::general_purpose::STANDARD.encode(png) }],
        }))?;
        let stats = Arc::new(FakeStats::default());
        let data = web::Data::new(FakeShared {
            body: body.into(),
            latency,
            stats: stats.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind the fake vendor")?;
        let url = format!("http://{}", listener.local_addr()?);
        // Two workers with async sleeps serve hundreds of requests at once; a long keep-alive
        // spares the engine's client reconnects between waves.
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/images/generations", web::post().to(fake_generations))
        })
        .workers(2)
        .backlog(2048)
        .max_connection_rate(1024)
        .keep_alive(Duration::from_secs(300))
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Fake { url, handle, stats })
    }
}

/// What `store_output` does on the blocking pool for one result, timed on one thread: the
/// CPU floor of the per-task overhead with this fake's 8x8 PNG.
fn result_cpu_ms() -> anyhow::Result<f64> {
    use picturedeck::storage::label::{label_png, Label};
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 160])
    });
    let png = picturedeck::storage::images::encode_png(&img)?;
    let reuse = serde_json::json!({"type": "t2i", "prompt": "a lighthouse at dusk",
        "model": format!("{PROVIDER}/{MODEL}"), "params": {"seed": 1, "size": "64x64"}});
    let runs = 200;
    let started = Instant::now();
    for _ in 0..runs {
        let label = Label {
            producer: "PictureDeck",
            produce_id: "00000000-0000-0000-0000-000000000000",
            reuse: &reuse,
        };
        let bytes = label_png(&png, &label)?;
        let frame = image::load_from_memory(&bytes)?;
        let thumb = picturedeck::storage::images::thumbnail(&frame)?;
        std::hint::black_box((picturedeck::storage::sha256_hex(&bytes), thumb));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs))
}

// --- reporting ---------------------------------------------------------------------------------

/// CPU time of this process, of the PostgreSQL server and of the whole machine at one
/// instant, from /proc. All in clock ticks (USER_HZ).
struct CpuSample {
    process: u64,
    postgres: u64,
    /// Busy and total ticks summed over all CPUs (the `cpu` line of /proc/stat).
    machine_busy: u64,
    machine_total: u64,
}

/// Where the CPU went while the engines worked, as shares of all CPUs together.
#[derive(Default)]
struct CpuUse {
    /// CPU time of this process: the engine, its blocking threads and the fake vendor.
    process: Duration,
    process_share: f64,
    postgres_share: f64,
    /// Everything else that ran meanwhile (another build, say): noise in the figures.
    other_share: f64,
}

/// /proc reports CPU times in USER_HZ, which is 100 on Linux whatever the kernel's HZ.
const TICKS_PER_S: u64 = 100;

impl CpuUse {
    /// "3.50 ms/task; of 2 CPUs: this process 71 %, PostgreSQL 20 %, other 3 %".
    fn describe(&self, tasks: usize) -> String {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        format!(
            "{:.2} ms/task; of {cpus} CPUs: this process {:.0} %, PostgreSQL {:.0} %, other {:.0} %",
            self.process.as_secs_f64() * 1000.0 / tasks.max(1) as f64,
            self.process_share * 100.0,
            self.postgres_share * 100.0,
            self.other_share * 100.0
        )
    }
}

/// utime + stime and the command name of a process, from its /proc/PID/stat.
fn process_ticks(stat_path: &std::path::Path) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name is in parentheses and may hold spaces; utime and stime are fields
    // 14 and 15 of the line, the 12th and 13th after the name.
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

impl CpuSample {
    fn now() -> anyhow::Result<CpuSample> {
        let (_, process) = process_ticks(std::path::Path::new("/proc/self/stat"))
            .context("cannot read /proc/self/stat")?;
        // The server's processes (one backend per connection) are all named "postgres".
        let postgres = std::fs::read_dir("/proc")
            .context("cannot list /proc")?
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| process_ticks(&e.path().join("stat")))
            .filter(|(comm, _)| comm == "postgres")
            .map(|(_, ticks)| ticks)
            .sum();
        let machine = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
        let cpu: Vec<u64> = machine
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("cpu "))
            .context("unexpected /proc/stat")?
            .split_whitespace()
            .take(8)
            .filter_map(|v| v.parse().ok())
            .collect();
        anyhow::ensure!(cpu.len() == 8, "unexpected /proc/stat");
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let machine_total: u64 = cpu.iter().sum();
        Ok(CpuSample {
            process,
            postgres,
            machine_busy: machine_total - cpu[3] - cpu[4],
            machine_total,
        })
    }

    fn since(&self, before: &CpuSample) -> CpuUse {
        let total = self
            .machine_total
            .saturating_sub(before.machine_total)
            .max(1) as f64;
        let process = self.process.saturating_sub(before.process);
        // Backends that exit meanwhile take their ticks with them: at worst an underestimate.
        let postgres = self.postgres.saturating_sub(before.postgres);
        let busy = self.machine_busy.saturating_sub(before.machine_busy);
        CpuUse {
            process: Duration::from_millis(process * 1000 / TICKS_PER_S),
            process_share: process as f64 / total,
            postgres_share: postgres as f64 / total,
            other_share: busy.saturating_sub(process + postgres) as f64 / total,
        }
    }
}

fn proc_status_kb(key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("cannot read /proc/self/status (memory figures need Linux)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in /proc/self/status"))
}

/// Resident memory now, in MB, and what it is made of.
struct Rss {
    total: f64,
    /// Heap and stacks.
    anon: f64,
    /// Mapped files: mostly the binary itself.
    file: f64,
    /// Shared memory (SQLite's WAL index is a mapped -shm file, counted here).
    shmem: f64,
}

impl Rss {
    fn now() -> anyhow::Result<Rss> {
        Ok(Rss {
            total: mb(proc_status_kb("VmRSS")?),
            anon: mb(proc_status_kb("RssAnon")?),
            file: mb(proc_status_kb("RssFile")?),
            shmem: mb(proc_status_kb("RssShmem")?),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{:.1} MB (anon {:.1}, file {:.1}, shmem {:.1})",
            self.total, self.anon, self.file, self.shmem
        )
    }
}

/// kB to MB (2^20 bytes).
fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}
