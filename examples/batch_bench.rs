//! Batch benchmark (issue 13 item 8): one user's batch of 1,000 items across 4 fake vendors
//! with 1–3 s latency and their configured concurrency, and a second user's single task
//! submitted mid-batch.
//!
//!   cargo run --release --example batch_bench -- --backend sqlite
//!   cargo run --release --example batch_bench -- --backend postgres
//!   cargo run --release --example batch_bench -- --items 40 --latency-scale 0.1   # smoke run
//!
//! The batch goes through the real path (`groups::service::create_batch`: validation,
//! moderation, quota, one transaction) and the real engine works it off against in-process
//! loopback fakes of OpenAI Images, one per vendor. Figures:
//! - completion: from the batch's creation to its last result, against the ideal: the largest
//!   over the vendors of (the vendor's summed busy time as the fake measured it / its
//!   concurrency). Target ≤ 1.15 × ideal.
//! - start delay: a second user's single tasks (on the slowest vendor, one submitted at each of
//!   `--probes` moments spread over the ideal time), each from its creation to its start; the
//!   worst counts. Target ≤ 2 s.
//!
//! Each answer takes its vendor's latency times a random factor in [1 − jitter, 1 + jitter]
//! (`--jitter`, default 0.25), as real vendors' times vary; the mean, and so the ideal, stays.
//! With `--jitter 0` the fakes are lock-step: a vendor's slots all free at once, every latency,
//! and a task that arrives just after such a wave waits up to one latency whatever the claim.
//!
//! This is a measurement, not a test: it exits 0 when a target is missed, and non-zero only
//! when the benchmark itself cannot run. The temp dir and the PostgreSQL schema are removed
//! at the end.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{bail, Context as _};
use base64::Engine as _;
use clap::Parser;
use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::{Config, ProviderConfig};
use picturedeck::db::schema::{generations, users};
use picturedeck::groups::service::NewBatch;
use picturedeck::i18n::Lang;
use picturedeck::mail::Mailer;
use picturedeck::users::model::User;
use rand::Rng as _;

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

/// The vendors: (name, latency in seconds, concurrency). Each gets a quarter of the batch, and
/// the concurrencies make every vendor's ideal time the same, so none finishes idle early.
const VENDORS: [(&str, f64, u32); 4] = [
    ("vendor-a", 1.0, 4),
    ("vendor-b", 1.5, 6),
    ("vendor-c", 2.0, 8),
    ("vendor-d", 3.0, 12),
];
const MODEL: &str = "image-1";
const TARGET_FACTOR: f64 = 1.15;
const TARGET_START_DELAY_S: f64 = 2.0;

#[derive(Debug, Parser)]
#[command(
    about = "Benchmarks a 1,000-item batch across 4 fake vendors, and fairness to a second user"
)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Items of the batch (a multiple of 4: prompts × the 4 vendors' models).
    #[arg(long, default_value_t = 1000)]
    items: usize,
    /// Multiplies every vendor's latency (smoke runs use 0.1).
    #[arg(long, default_value_t = 1.0)]
    latency_scale: f64,
    /// Each answer takes the latency × a random factor in [1 − jitter, 1 + jitter].
    #[arg(long, default_value_t = 0.25)]
    jitter: f64,
    /// How many single tasks the second user submits, spread over the batch's ideal time.
    #[arg(long, default_value_t = 5)]
    probes: usize,
    /// engine.poll_interval_ms.
    #[arg(long, default_value_t = 100)]
    poll_interval_ms: u64,
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
    if args.items == 0 || args.items % VENDORS.len() != 0 || args.items > 1000 {
        bail!("--items must be a multiple of 4, at most 1000");
    }
    if !(0.0..1.0).contains(&args.jitter) || args.probes == 0 {
        bail!("--jitter must be in [0, 1) and --probes at least 1");
    }
    print_header(
        "batch benchmark",
        &format!(
            "backend {:?}, {} items, latency x {} (jitter {}), {} probes, vendors {}",
            args.backend,
            args.items,
            args.latency_scale,
            args.jitter,
            args.probes,
            VENDORS
                .iter()
                .map(|(n, l, c)| format!("{n} {:.2} s x {c}", l * args.latency_scale))
                .collect::<Vec<_>>()
                .join(", ")
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
    let mut fakes = Vec::new();
    for (_, latency, _) in VENDORS {
        fakes.push(Fake::start(
            Duration::from_secs_f64(latency * args.latency_scale),
            args.jitter,
        )?);
    }
    let dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let schema = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "batch", false)?),
    };
    let mut config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    config.database.url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite:{}", dir.path().join("bench.db").display()),
    };
    // The engine's own limit must not be what holds the vendors back.
    config.engine.concurrency = VENDORS.iter().map(|v| v.2).sum();
    config.engine.poll_interval_ms = args.poll_interval_ms;
    let mut providers = Vec::new();
    for ((name, _, concurrency), fake) in VENDORS.iter().zip(&fakes) {
        // Through serde, so keys added to `[[providers]]` later take their defaults here too.
        providers.push(serde_json::from_value::<ProviderConfig>(
            serde_json::json!({
                "name": name,
                "kind": "openai",
                "concurrency": concurrency,
                "base_url": fake.url,
                "api_key": "bench-key",
                "timeout_seconds": 120,
                "models": [{ "name": MODEL, "kinds": ["t2i"] }],
            }),
        )?);
    }
    config.providers = providers;
    config.validate()?;
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(Mailer::memory().0)))
            .await??,
    );
    let owner = user(&state, "batcher").await?;
    let other = user(&state, "passerby").await?;
    let engine = tokio::spawn(picturedeck::generation::engine::run(state.clone()));
    let result = measure(args, &state, &owner, &other, &fakes).await;
    engine.abort();
    for fake in &fakes {
        fake.handle.stop(false).await;
    }
    drop(state);
    drop(schema);
    result
}

async fn user(state: &AppState, name: &str) -> anyhow::Result<User> {
    let mut user = picturedeck::users::service::create_user(
        state,
        picturedeck::users::service::Registration {
            username: name.into(),
            email: format!("{name}@example.com"),
            password: "Bench@1234".into(),
        },
        picturedeck::users::model::Role::User,
        None,
    )
    .await?;
    // No quota: the batch is far more than a day's worth for one user.
    let id = user.id;
    state
        .db
        .run(move |conn| {
            diesel::update(users::table.find(id))
                .set(users::daily_quota.eq(None::<i32>))
                .execute(conn)?;
            Ok(())
        })
        .await?;
    user.daily_quota = None;
    Ok(user)
}

async fn measure(
    args: &Args,
    state: &Arc<AppState>,
    owner: &User,
    other: &User,
    fakes: &[Fake],
) -> anyhow::Result<Vec<Row>> {
    let prompts = args.items / VENDORS.len();
    let batch = NewBatch {
        kind: "t2i".into(),
        prompts: (0..prompts)
            .map(|i| format!("a lighthouse at dusk {i}"))
            .collect(),
        models: VENDORS.iter().map(|v| format!("{}/{MODEL}", v.0)).collect(),
        params: Some(picturedeck::generation::model::Params {
            size: Some("64x64".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let started = Instant::now();
    let group = picturedeck::groups::service::create_batch(state, owner, batch, Lang::En).await?;
    let queued_in = started.elapsed();
    println!(
        "queued {} items in {:.2} s",
        group.items.len(),
        queued_in.as_secs_f64()
    );
    // What the ideal would be with exactly the configured latencies; the measured busy time
    // replaces it at the end.
    let planned: f64 = VENDORS
        .iter()
        .map(|(_, l, c)| prompts as f64 * l * args.latency_scale / f64::from(*c))
        .fold(0.0, f64::max);
    let slowest = VENDORS
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|v| v.0)
        .context("no vendor")?;
    for probe in 1..=args.probes {
        let at = planned * probe as f64 / (args.probes + 1) as f64;
        tokio::time::sleep_until((started + Duration::from_secs_f64(at)).into()).await;
        picturedeck::generation::service::submit(
            state,
            other,
            picturedeck::generation::service::NewTask {
                kind: "t2i".into(),
                prompt: format!("a single picture, please ({probe})"),
                model: Some(format!("{slowest}/{MODEL}")),
                params: Some(picturedeck::generation::model::Params {
                    size: Some("64x64".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Lang::En,
        )
        .await?;
        println!(
            "second user's task {probe} submitted at +{:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let total = (group.items.len() + args.probes) as i64;
    let deadline = Instant::now() + Duration::from_secs_f64(planned * 3.0 + 60.0);
    loop {
        let done: i64 = state
            .db
            .run(|conn| {
                Ok(generations::table
                    .filter(generations::status.eq_any(["completed", "failed", "canceled"]))
                    .count()
                    .get_result(conn)?)
            })
            .await?;
        if done >= total {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {done} of {total} tasks finished in time");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    type Times = (
        i64,
        String,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
    );
    let rows: Vec<Times> = state
        .db
        .run(|conn| {
            Ok(generations::table
                .select((
                    generations::user_id,
                    generations::status,
                    generations::created_at,
                    generations::started_at,
                    generations::completed_at,
                ))
                .load(conn)?)
        })
        .await?;
    if let Some(bad) = rows.iter().find(|r| r.1 != "completed") {
        bail!("a task ended {}", bad.1);
    }
    let secs = |a: chrono::NaiveDateTime, b: chrono::NaiveDateTime| {
        (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6
    };
    let batch_rows: Vec<&Times> = rows.iter().filter(|r| r.0 == owner.id).collect();
    let first = batch_rows
        .iter()
        .map(|r| r.2)
        .min()
        .context("no batch rows")?;
    let last = batch_rows
        .iter()
        .filter_map(|r| r.4)
        .max()
        .context("no finished batch rows")?;
    let completion = secs(first, last);
    let ideal = VENDORS
        .iter()
        .zip(fakes)
        .map(|((_, _, c), f)| f.busy_seconds() / f64::from(*c))
        .fold(0.0, f64::max);
    let mut delays = rows
        .iter()
        .filter(|r| r.0 == other.id)
        .map(|r| Some(secs(r.2, r.3?)))
        .collect::<Option<Vec<f64>>>()
        .context("a second user's task never started")?;
    delays.sort_by(f64::total_cmp);
    let worst = *delays
        .last()
        .context("the second user's tasks are missing")?;
    let median = delays[delays.len() / 2];
    let factor = completion / ideal;
    println!(
        "batch done in {completion:.2} s ({factor:.3} x ideal {ideal:.2} s); second user's tasks \
         started after {}",
        delays
            .iter()
            .map(|d| format!("{d:.2} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut out = vec![
        Row::check(
            format!("batch of {} items, completion", group.items.len()),
            format!("{completion:.2} s ({factor:.3} x ideal {ideal:.2} s)"),
            format!("<= {TARGET_FACTOR} x ideal"),
            factor <= TARGET_FACTOR,
        ),
        Row::check(
            format!(
                "second user's {} tasks on {slowest}, start delay: worst (median)",
                delays.len()
            ),
            format!("{worst:.2} s ({median:.2} s)"),
            format!("<= {TARGET_START_DELAY_S} s"),
            worst <= TARGET_START_DELAY_S,
        ),
        Row::info(
            "queueing the batch (validate, moderate, insert)".into(),
            format!("{:.2} s", queued_in.as_secs_f64()),
        ),
    ];
    for ((name, _, c), f) in VENDORS.iter().zip(fakes) {
        out.push(Row::info(
            format!("{name}: requests, busy / concurrency, peak in flight"),
            format!(
                "{}, {:.2} s, {} of {c}",
                f.stats.requests.load(Ordering::Relaxed),
                f.busy_seconds() / f64::from(*c),
                f.stats.peak.load(Ordering::Relaxed)
            ),
        ));
    }
    Ok(out)
}

#[derive(Default)]
struct FakeStats {
    requests: AtomicU64,
    in_flight: AtomicU64,
    peak: AtomicU64,
    /// Summed time spent answering, in microseconds: the vendor's work.
    busy_us: AtomicU64,
}

struct FakeShared {
    /// The whole answer, encoded once: the fake should cost next to nothing per request.
    body: web::Bytes,
    latency: Duration,
    jitter: f64,
    stats: Arc<FakeStats>,
}

struct Fake {
    url: String,
    handle: actix_web::dev::ServerHandle,
    stats: Arc<FakeStats>,
}

/// `POST /v1/images/generations` of OpenAI Images, answering after `latency` with one image.
async fn fake_generations(shared: web::Data<FakeShared>) -> HttpResponse {
    let began = Instant::now();
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    stats.peak.fetch_max(now, Ordering::Relaxed);
    let factor = rand::thread_rng().gen_range(1.0 - shared.jitter..=1.0 + shared.jitter);
    tokio::time::sleep(shared.latency.mul_f64(factor)).await;
    stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    stats
        .busy_us
        .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(shared.body.clone())
}

impl Fake {
    fn start(latency: Duration, jitter: f64) -> anyhow::Result<Fake> {
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
            jitter,
            stats: stats.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a fake vendor")?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/images/generations", web::post().to(fake_generations))
        })
        .workers(1)
        .keep_alive(Duration::from_secs(300))
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Fake { url, handle, stats })
    }

    fn busy_seconds(&self) -> f64 {
        self.stats.busy_us.load(Ordering::Relaxed) as f64 / 1e6
    }
}
