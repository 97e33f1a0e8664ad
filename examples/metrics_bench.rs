//! `/metrics` benchmark: a real server over loopback with a seeded queue and recent provider
//! calls; times sequential scrapes on one kept-alive connection, as Prometheus makes them,
//! and prints p50 / p99 against the 5 ms target (issue 11 item 8).
//!
//!   cargo run --release --example metrics_bench -- [--tasks 100000] [--queued 2000]
//!       [--calls 50000] [--requests 2000] [--backend sqlite|postgres] [--pg-url URL]
//!
//! A measurement, not a test: it exits 0 when the target is missed. Everything stays on
//! 127.0.0.1; the temp dir (and the PostgreSQL schema) is removed at the end.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use diesel::Connection as _;
use picturedeck::app::{self, AppState};
use picturedeck::config::Config;
use picturedeck::generation::model::NewGeneration;
use picturedeck::generation::store::{self as gen_store, CallRecord};
use picturedeck::mail::Mailer;
use picturedeck::users::model::NewUserRow;
use picturedeck::users::store as user_store;

use common::{Backend, PgSchema, Row};

const TARGET_MS: f64 = 5.0;
const TOKEN: &str = "metrics-bench-token-0123456789";

#[derive(Parser)]
struct Args {
    /// Tasks in the table in all (most of them finished: history the scrape must not scan).
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Of those, queued (a tenth of these running).
    #[arg(long, default_value_t = 2_000)]
    queued: usize,
    /// Provider calls in the last 5 minutes (and as many older ones).
    #[arg(long, default_value_t = 50_000)]
    calls: usize,
    /// Timed scrapes.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    #[arg(long, default_value = common::PG_ADMIN_URL)]
    pg_url: String,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::print_header(
        "/metrics benchmark",
        &format!(
            "{} tasks ({} queued), {} recent + {} old provider calls, {} scrapes, {:?}",
            args.tasks, args.queued, args.calls, args.calls, args.requests, args.backend
        ),
    );
    let dir = tempfile::tempdir()?;
    let schema = match args.backend {
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "metrics_bench", false)?),
        Backend::Sqlite => None,
    };
    let mut config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    config.monitoring.metrics_token = TOKEN.into();
    if let Some(schema) = &schema {
        config.database.url = schema.url();
    }
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(Mailer::memory().0)))
            .await??,
    );

    let seeding = Instant::now();
    let (tasks, queued, calls) = (args.tasks, args.queued, args.calls);
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let now = Utc::now().naive_utc();
                let old = now - chrono::Duration::hours(2);
                let user = user_store::insert_user(
                    conn,
                    &NewUserRow {
                        uuid: &uuid::Uuid::new_v4().to_string(),
                        username: "bench",
                        username_key: "bench",
                        email: "bench@example.com",
                        password_hash: "not-used",
                        role: "user",
                        status: "active",
                        token_version: 0,
                        daily_quota: None,
                        created_at: old,
                        updated_at: old,
                    },
                )?;
                let mut first = None;
                for i in 0..tasks {
                    let status = if i < queued / 10 {
                        "processing"
                    } else if i < queued {
                        "queued"
                    } else {
                        "completed"
                    };
                    let at = old + chrono::Duration::milliseconds(i as i64);
                    let id = gen_store::insert(
                        conn,
                        &NewGeneration {
                            uuid: &uuid::Uuid::new_v4().to_string(),
                            user_id: user.id,
                            status,
                            generation_type: "t2i",
                            prompt: Some("bench"),
                            parameters: Some("{}"),
                            provider: "local",
                            model: "procedural",
                            attempts: 0,
                            next_attempt_at: at,
                            progress: 0,
                            created_at: at,
                            updated_at: at,
                        },
                    )?
                    .id;
                    first.get_or_insert(id);
                }
                let generation = first.unwrap_or_default();
                let records: Vec<CallRecord> = (0..calls * 2)
                    .map(|i| CallRecord {
                        operation: "submit",
                        outcome: if i % 7 == 0 { "transient" } else { "ok" },
                        http_status: None,
                        latency_ms: 40,
                        // Half in the last 5 minutes, half from an hour before.
                        at: if i % 2 == 0 {
                            now - chrono::Duration::milliseconds((i % 240_000) as i64)
                        } else {
                            old
                        },
                        reason: (i % 7 == 0).then(|| "server_error".to_string()),
                    })
                    .collect();
                gen_store::record_calls(conn, "local", "procedural", generation, &records)?;
                Ok(())
            })
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/metrics", listener.local_addr()?);
    let server = app::server(state.clone(), listener)?;
    let handle = server.handle();
    tokio::spawn(server);
    // The monitoring task samples the database as it does in the binary.
    picturedeck::ops::sample::refresh(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::spawn(picturedeck::ops::run(state.clone()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .build()?;
    let scrape = || async {
        let started = Instant::now();
        let res = client.get(&url).bearer_auth(TOKEN).send().await?;
        anyhow::ensure!(res.status().is_success(), "status {}", res.status());
        let body = res.text().await?;
        Ok::<_, anyhow::Error>((started.elapsed().as_secs_f64() * 1000.0, body))
    };
    // Warm the connection, the workers and the pool.
    let mut body = String::new();
    for _ in 0..50 {
        body = scrape().await?.1;
    }
    let mut times = Vec::with_capacity(args.requests);
    for _ in 0..args.requests {
        times.push(scrape().await?.0);
    }
    times.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    let queued_line = body
        .lines()
        .find(|l| l.starts_with("picturedeck_queue_tasks{status=\"queued\"}"))
        .unwrap_or("(missing)")
        .to_string();
    handle.stop(true).await;

    common::print_table(&[
        Row::info("scrape size".into(), format!("{} bytes", body.len())),
        Row::info("queue line".into(), queued_line),
        Row::check(
            "GET /metrics p50".into(),
            format!("{p50:.2} ms"),
            format!("<= {TARGET_MS} ms"),
            p50 <= TARGET_MS,
        ),
        Row::check(
            "GET /metrics p99".into(),
            format!("{p99:.2} ms"),
            format!("<= {TARGET_MS} ms"),
            p99 <= TARGET_MS,
        ),
        Row::info(
            "GET /metrics max".into(),
            format!("{:.2} ms", times.last().copied().unwrap_or_default()),
        ),
    ]);
    Ok(())
}
