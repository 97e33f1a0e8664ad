//! Statistics benchmark (issue 11 item 8): the admin statistics over 10 million `api_calls`
//! rows, through `stats::service::report` and the real `GET /admin/stats` page.
//!
//!   cargo run --release --example stats_bench -- --backend sqlite
//!   cargo run --release --example stats_bench -- --backend postgres
//!   cargo run --release --example stats_bench -- --backend sqlite --calls 1000000 --queries 20
//!
//! A fresh database (a temp SQLite file, or a fresh schema on PostgreSQL) is migrated and
//! filled from one seeded RNG with `--days` days of traffic ending now: `--users` accounts,
//! each using one to three of eight models on about 30 % of the days; tasks of one call
//! (synchronous vendors) or a submit and polls (asynchronous ones); 4 % of calls fail for a
//! reason. Every call is a raw `api_calls` row (multi-row INSERTs). The rollups get exactly
//! what `stats::store::Tally` adds for those calls (the same hour/day buckets, latency slots
//! and reasons, summed, then INSERTed in bulk); the last `--live` tasks go through
//! `Tally::apply` itself, the upserts the engine runs. Before timing, the report's totals are
//! checked against the raw rows' count.
//!
//! Each figure is the wall time of one call after 5 warm-up calls. A measurement, not a test:
//! it exits 0 when a target is missed.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{ensure, Context as _};
use chrono::{Duration, NaiveDateTime, Utc};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::db::schema::users;
use picturedeck::db::{Db, DbConn};
use picturedeck::mail::Mailer;
use picturedeck::stats::service::{self, StatsQuery};
use picturedeck::stats::store::{day_of, hour_of, slot_of, Counts, Tally};
use picturedeck::users::model::User;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

const ROWS_PER_INSERT: usize = 1000;
const TARGET_MS: f64 = 200.0;

/// provider, model, makes video, submit latency (ms), asynchronous (polled)
const MODELS: [(&str, &str, bool, i64, bool); 8] = [
    ("openai", "gpt-image-1", false, 9_000, false),
    ("openai", "dall-e-3", false, 12_000, false),
    ("wan", "wan2.2-t2i-flash", false, 400, true),
    ("wan", "wan2.2-t2v-plus", true, 600, true),
    ("wan", "wan2.2-kf2v-flash", true, 600, true),
    ("ark", "seedream-4", false, 6_000, false),
    ("kling", "kling-v2", true, 800, true),
    ("local", "procedural", false, 700, false),
];
const REASONS: [(&str, &str, Option<i32>); 5] = [
    ("rate_limited", "transient", Some(429)),
    ("server_error", "transient", Some(503)),
    ("network", "transient", None),
    ("moderation", "permanent", Some(400)),
    ("auth", "permanent", Some(401)),
];

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the admin statistics over 10 million provider calls")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Raw `api_calls` rows in all.
    #[arg(long, default_value_t = 10_000_000)]
    calls: usize,
    #[arg(long, default_value_t = 90)]
    days: i64,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Tasks at the end written through `Tally::apply`, as the engine writes them.
    #[arg(long, default_value_t = 2000)]
    live: usize,
    /// Timed calls per case.
    #[arg(long, default_value_t = 50)]
    queries: usize,
    #[arg(long, default_value_t = 20_261_201)]
    seed: u64,
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
    /// Leave the database in place and print where it is.
    #[arg(long)]
    keep: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.users >= 2 && args.days >= 31,
        "at least 2 users and 31 days"
    );
    print_header(
        "statistics benchmark (issue 11 item 8)",
        &format!(
            "backend {:?}, {} calls over {} days, {} users, {} live tasks, {} calls per case, seed {}",
            args.backend, args.calls, args.days, args.users, args.live, args.queries, args.seed
        ),
    );
    let schema = match args.backend {
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "stats_bench", args.keep)?),
        Backend::Sqlite => None,
    };
    let tmp = tempfile::tempdir().context("cannot create a temp dir")?;
    let dir = tmp.path().to_path_buf();
    let db_path = dir.join("stats.db");
    let url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite:{}", db_path.display()),
    };
    let db = Db::connect(&url, 2)?;
    let mut rows = Vec::new();
    {
        let mut conn = db.get()?;
        fill(&mut conn, &args, &mut rows)?;
        let started = Instant::now();
        match args.backend {
            Backend::Postgres => conn.batch_execute("VACUUM (ANALYZE)")?,
            Backend::Sqlite => conn.batch_execute("ANALYZE")?,
        }
        rows.push(Row::info(
            "ANALYZE".into(),
            format!("{:.1} s", started.elapsed().as_secs_f64()),
        ));
        rows.push(Row::info("rollup rows".into(), rollup_rows(&mut conn)?));
    }
    drop(db);
    measure(&url, &dir, &args, &mut rows)?;
    println!();
    print_table(&rows);
    if args.keep {
        println!("kept: {url}");
        // Left on disk for EXPLAIN by hand.
        std::mem::forget(tmp);
    }
    Ok(())
}

/// A multi-row INSERT being built.
struct Bulk {
    head: String,
    sql: String,
    n: usize,
    total: usize,
}

impl Bulk {
    fn new(table: &str, columns: &str) -> Bulk {
        Bulk {
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            sql: String::new(),
            n: 0,
            total: 0,
        }
    }

    /// Adds one row of already quoted values.
    fn push(&mut self, conn: &mut DbConn, values: &str) -> anyhow::Result<()> {
        if self.n == 0 {
            self.sql.clear();
            self.sql.push_str(&self.head);
        } else {
            self.sql.push(',');
        }
        let _ = write!(self.sql, "({values})");
        self.n += 1;
        if self.n == ROWS_PER_INSERT {
            self.flush(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, conn: &mut DbConn) -> anyhow::Result<()> {
        if self.n > 0 {
            conn.batch_execute(&self.sql)?;
            self.total += self.n;
            self.n = 0;
        }
        Ok(())
    }
}

fn ts(t: NaiveDateTime) -> String {
    // As diesel writes a timestamp to SQLite, so bulk rows and upserts share their keys.
    format!("'{}'", t.format("%F %T%.f"))
}

/// What the rollups hold, summed the way `Tally` sums one task.
#[derive(Default)]
struct Rollups {
    models: BTreeMap<(NaiveDateTime, usize), Counts>,
    latency: BTreeMap<(NaiveDateTime, usize, i32), i64>,
    failures: BTreeMap<(NaiveDateTime, usize, &'static str), (i64, i64)>,
    users: BTreeMap<(NaiveDateTime, i64, usize), Counts>,
}

impl Rollups {
    fn add(&mut self, at: NaiveDateTime, model: usize, user: i64, f: impl Fn(&mut Counts)) {
        f(self.models.entry((hour_of(at), model)).or_default());
        f(self.users.entry((day_of(at), user, model)).or_default());
    }
}

/// One provider call of a task.
struct Call {
    at: NaiveDateTime,
    operation: &'static str,
    latency_ms: i64,
    failure: Option<usize>,
}

fn fill(conn: &mut DbConn, args: &Args, out: &mut Vec<Row>) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let now = Utc::now().naive_utc();
    let mut users = Bulk::new(
        "users",
        "uuid, username, email, password_hash, role, status, token_version, created_at, updated_at",
    );
    for u in 0..=args.users {
        let (name, role) = if u == 0 {
            ("admin".to_string(), "admin")
        } else {
            (format!("user{u}"), "user")
        };
        users.push(
            conn,
            &format!(
                "'{}', '{name}', '{name}@bench.example', '$argon2id$v=19$m=19456,t=2,p=1$bench$bench', \
                 '{role}', 'active', 0, {t}, {t}",
                uuid::Uuid::new_v4(),
                t = ts(now - Duration::days(args.days + 1))
            ),
        )?;
    }
    users.flush(conn)?;
    // Ids are 1.. in insertion order: the admin is 1.
    let favourites: Vec<Vec<usize>> = (0..args.users)
        .map(|_| {
            let mut all: Vec<usize> = (0..MODELS.len()).collect();
            all.shuffle(&mut rng);
            all.truncate(rng.gen_range(1..=3));
            all
        })
        .collect();

    let mut raw = Bulk::new(
        "api_calls",
        "provider, model, generation_id, operation, outcome, http_status, latency_ms, created_at, reason",
    );
    let mut roll = Rollups::default();
    let mut live: Vec<(usize, i64, Vec<Call>, bool)> = Vec::new();
    let per_day = args.calls / args.days as usize;
    let mut made = 0usize;
    let start_day = day_of(now) - Duration::days(args.days - 1);
    for d in 0..args.days {
        let day = start_day + Duration::days(d);
        let budget = if d == args.days - 1 {
            args.calls - made
        } else {
            per_day
        };
        // About 30 % of the accounts work on a given day.
        let active: Vec<usize> = (0..args.users).filter(|_| rng.gen_bool(0.3)).collect();
        let mut today = 0;
        let span = if d == args.days - 1 {
            (now - day).num_seconds().max(60)
        } else {
            86_400
        };
        while today < budget {
            let u = *active.choose(&mut rng).context("no active user")?;
            let user = u as i64 + 2;
            let m = *favourites[u].choose(&mut rng).context("no model")?;
            let (_, _, _, submit_ms, polled) = MODELS[m];
            let mut at = day + Duration::seconds(rng.gen_range(0..span));
            let mut calls = Vec::new();
            let n = if polled { rng.gen_range(2..=8) } else { 1 };
            for k in 0..n.min(budget - today) {
                let failure = rng
                    .gen_bool(0.04)
                    .then(|| [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4][rng.gen_range(0..11)]);
                let latency_ms = if k == 0 {
                    (submit_ms as f64 * rng.gen_range(0.3..3.0)) as i64
                } else {
                    rng.gen_range(80..400)
                };
                at += Duration::milliseconds(latency_ms + 500);
                calls.push(Call {
                    at: at.min(now),
                    operation: if k == 0 { "submit" } else { "poll" },
                    latency_ms,
                    failure,
                });
                if failure.is_some() {
                    break;
                }
            }
            today += calls.len();
            let completed = calls.last().is_some_and(|c| c.failure.is_none());
            let is_live =
                d == args.days - 1 && live.len() < args.live && budget - today < args.live * 4;
            for c in &calls {
                let (provider, model, ..) = MODELS[m];
                let (outcome, status, reason) = match c.failure {
                    Some(f) => (REASONS[f].1, REASONS[f].2, Some(REASONS[f].0)),
                    None => ("ok", None, None),
                };
                raw.push(
                    conn,
                    &format!(
                        "'{provider}', '{model}', NULL, '{}', '{outcome}', {}, {}, {}, {}",
                        c.operation,
                        status.map_or("NULL".into(), |s| s.to_string()),
                        c.latency_ms,
                        ts(c.at),
                        reason.map_or("NULL".into(), |r| format!("'{r}'"))
                    ),
                )?;
                if is_live {
                    continue;
                }
                roll.add(c.at, m, user, |x| {
                    x.calls += 1;
                    x.failed_calls += i64::from(reason.is_some());
                    x.latency_ms_sum += c.latency_ms;
                });
                *roll
                    .latency
                    .entry((day_of(c.at), m, slot_of(c.latency_ms)))
                    .or_default() += 1;
                if let Some(r) = reason {
                    roll.failures.entry((day_of(c.at), m, r)).or_default().0 += 1;
                }
            }
            let end = calls.last().map_or(at, |c| c.at);
            if is_live {
                live.push((m, user, calls, completed));
                continue;
            }
            let video = MODELS[m].2;
            if completed {
                let video_ms = if video { 5_000 } else { 0 };
                roll.add(end, m, user, |x| {
                    x.tasks_completed += 1;
                    x.images += i64::from(!video);
                    x.video_ms += video_ms;
                });
            } else {
                roll.add(end, m, user, |x| x.tasks_failed += 1);
                let f = calls.last().and_then(|c| c.failure).unwrap_or(0);
                let reason = if REASONS[f].1 == "transient" {
                    "gave_up"
                } else {
                    REASONS[f].0
                };
                roll.failures.entry((day_of(end), m, reason)).or_default().1 += 1;
            }
        }
        made += today;
        if d % 10 == 9 {
            eprintln!("  day {}/{}: {made} calls", d + 1, args.days);
        }
    }
    raw.flush(conn)?;
    out.push(Row::info(
        "fill: raw api_calls rows".into(),
        format!("{} in {:.0} s", raw.total, started.elapsed().as_secs_f64()),
    ));

    let started = Instant::now();
    let mut b = Bulk::new(
        "stats_models",
        "bucket_at, provider, model, calls, failed_calls, latency_ms_sum, tasks_completed, tasks_failed, images, video_ms",
    );
    for ((at, m), c) in &roll.models {
        b.push(
            conn,
            &format!(
                "{}, '{}', '{}', {}",
                ts(*at),
                MODELS[*m].0,
                MODELS[*m].1,
                counts(c)
            ),
        )?;
    }
    b.flush(conn)?;
    let mut b = Bulk::new("stats_latency", "day, provider, model, slot, calls");
    for ((day, m, slot), n) in &roll.latency {
        b.push(
            conn,
            &format!(
                "{}, '{}', '{}', {slot}, {n}",
                ts(*day),
                MODELS[*m].0,
                MODELS[*m].1
            ),
        )?;
    }
    b.flush(conn)?;
    let mut b = Bulk::new(
        "stats_failures",
        "day, provider, model, reason, calls, tasks",
    );
    for ((day, m, r), (calls, tasks)) in &roll.failures {
        b.push(
            conn,
            &format!(
                "{}, '{}', '{}', '{r}', {calls}, {tasks}",
                ts(*day),
                MODELS[*m].0,
                MODELS[*m].1
            ),
        )?;
    }
    b.flush(conn)?;
    let mut b = Bulk::new(
        "stats_users",
        "day, user_id, provider, model, calls, failed_calls, latency_ms_sum, tasks_completed, tasks_failed, images, video_ms",
    );
    for ((day, user, m), c) in &roll.users {
        b.push(
            conn,
            &format!(
                "{}, {user}, '{}', '{}', {}",
                ts(*day),
                MODELS[*m].0,
                MODELS[*m].1,
                counts(c)
            ),
        )?;
    }
    b.flush(conn)?;
    out.push(Row::info(
        "fill: rollups in bulk".into(),
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    ));

    // The newest tasks as the engine writes them: one transaction each through Tally::apply.
    let started = Instant::now();
    let n_live = live.len();
    for (m, user, calls, completed) in live {
        let (provider, model, video, ..) = MODELS[m];
        let mut t = Tally::new(provider, model, user);
        for c in &calls {
            t.call(c.at, c.latency_ms, c.failure.map(|f| REASONS[f].0));
        }
        let end = calls.last().map_or(now, |c| c.at);
        if completed {
            t.completed(end, i64::from(!video), if video { 5_000 } else { 0 });
        } else {
            let f = calls.last().and_then(|c| c.failure).unwrap_or(0);
            t.failed(
                end,
                if REASONS[f].1 == "transient" {
                    "gave_up"
                } else {
                    REASONS[f].0
                },
            );
        }
        conn.transaction(|conn| t.apply(conn))?;
    }
    let took = started.elapsed().as_secs_f64();
    out.push(Row::info(
        "fill: live tasks through Tally::apply".into(),
        format!(
            "{n_live} in {:.2} s ({:.2} ms each)",
            took,
            took * 1000.0 / n_live.max(1) as f64
        ),
    ));
    Ok(())
}

fn counts(c: &Counts) -> String {
    format!(
        "{}, {}, {}, {}, {}, {}, {}",
        c.calls,
        c.failed_calls,
        c.latency_ms_sum,
        c.tasks_completed,
        c.tasks_failed,
        c.images,
        c.video_ms
    )
}

fn rollup_rows(conn: &mut DbConn) -> anyhow::Result<String> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut parts = Vec::new();
    for table in [
        "stats_models",
        "stats_latency",
        "stats_failures",
        "stats_users",
        "api_calls",
    ] {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}");
        let n = match conn {
            DbConn::Sqlite(c) => diesel::sql_query(sql).get_result::<N>(c)?.n,
            DbConn::Pg(c) => diesel::sql_query(sql).get_result::<N>(c)?.n,
        };
        parts.push(format!("{table} {n}"));
    }
    Ok(parts.join(", "))
}

/// Nearest rank.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
    v.get(rank - 1).copied().unwrap_or(0.0)
}

fn timed(n: usize, mut call: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<f64>> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let started = Instant::now();
        call()?;
        if i >= 5 {
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(ms)
}

fn measure(
    url: &str,
    dir: &std::path::Path,
    args: &Args,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let mut config = Config {
        data_dir: Some(dir.join("app")),
        ..Config::default()
    };
    config.database.url = url.to_string();
    config.database.pool_size = 2;
    let state = std::sync::Arc::new(AppState::new(config, Some(Mailer::memory().0))?);
    let admin: User = {
        let mut conn = state.db.get()?;
        users::table
            .find(1)
            .select(User::as_select())
            .first(&mut *conn)?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let today = Utc::now().date_naive();
    let range = |days: i64, by: &str| StatsQuery {
        from: Some((today - Duration::days(days - 1)).to_string()),
        to: Some(today.to_string()),
        by: Some(by.into()),
    };
    // The report over everything must say what the raw rows say.
    let all = rt.block_on(service::report(&state, &admin, &range(args.days, "day")))?;
    ensure!(
        all.totals.calls == args.calls as i64,
        "the report counts {} calls, the raw rows {}",
        all.totals.calls,
        args.calls
    );
    out.push(Row::info(
        format!("report over {} days", args.days),
        format!(
            "{} calls, {:.1} % ok, {} users, p50/p95 {:.0}/{:.0} ms",
            all.totals.calls,
            all.totals.success_rate.unwrap_or(0.0) * 100.0,
            all.users.len(),
            all.totals.latency_p50_ms.unwrap_or(0.0),
            all.totals.latency_p95_ms.unwrap_or(0.0)
        ),
    ));

    let origin = picturedeck::users::service::Origin {
        ip: "127.0.0.1".into(),
        user_agent: Some("stats_bench".into()),
    };
    let token = rt
        .block_on(picturedeck::users::service::issue(&state, &admin, &origin))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .token;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = rt.block_on(async { picturedeck::app::server(state.clone(), listener) })?;
    let handle = server.handle();
    rt.spawn(server);
    let client = reqwest::Client::new();

    let cases = [
        (
            format!("{} days by day", args.days),
            range(args.days, "day"),
        ),
        ("7 days by day (the default)".to_string(), range(7, "day")),
        ("31 days by hour".to_string(), range(31, "hour")),
    ];
    for (name, q) in cases {
        let service_ms = timed(args.queries, || {
            std::hint::black_box(rt.block_on(service::report(&state, &admin, &q))?);
            Ok(())
        })?;
        let page = format!(
            "{base}/admin/stats?from={}&to={}&by={}",
            q.from.as_deref().unwrap_or(""),
            q.to.as_deref().unwrap_or(""),
            q.by.as_deref().unwrap_or("")
        );
        let page_ms = timed(args.queries, || {
            rt.block_on(async {
                let res = client
                    .get(&page)
                    .header("cookie", format!("pd_session={token}"))
                    .send()
                    .await?;
                ensure!(res.status().is_success(), "GET {page}: {}", res.status());
                std::hint::black_box(res.text().await?);
                Ok(())
            })
        })?;
        for (what, ms) in [
            ("stats::service::report", service_ms),
            ("GET /admin/stats page", page_ms),
        ] {
            let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
            println!("{what}, {name}: p50 {p50:.1} / p99 {p99:.1} ms");
            out.push(Row::check(
                format!("{what}, {name}"),
                format!("p50 {p50:.1} / p99 {p99:.1} ms"),
                format!("<= {TARGET_MS} ms"),
                p99 <= TARGET_MS,
            ));
        }
    }
    rt.block_on(handle.stop(true));
    Ok(())
}
