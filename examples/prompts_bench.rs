//! Prompt history benchmark (issue 13 item 5): one heavy person's history — many tasks, a
//! fraction of them distinct prompts, Chinese and English — timed through
//! `prompts::service::history` (what `GET /api/v1/prompts/history` and the form's 历史 panel
//! run): the first page, pages deep in the list, a common and a rare Chinese search, and a
//! light user beside the heavy one.
//!
//!   cargo run --release --example prompts_bench -- --backend sqlite
//!   cargo run --release --example prompts_bench -- --backend postgres
//!   cargo run --release --example prompts_bench -- --tasks 2000 --prompts 300 --queries 5   # smoke
//!
//! The history is read from `generations` (GROUP BY prompt over the person's rows, keyset on
//! the newest task of each prompt), so its cost grows with the person's task count; this
//! measures how much. A fresh database (a temp SQLite file, or a fresh schema on PostgreSQL)
//! is filled with one INSERT ... SELECT per backend; after ANALYZE each case is `--queries`
//! calls after 3 warm-up calls. A measurement, not a test: it exits 0 when a target is missed.

mod common;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use diesel::connection::SimpleConnection;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::mail::Mailer;
use picturedeck::users::model::{Role, User};
use picturedeck::users::service::Registration;

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

/// A page of the history should feel instant in the form.
const TARGET_P99_MS: f64 = 50.0;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the prompt history of one heavy user")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Tasks of the heavy user.
    #[arg(long, default_value_t = 200_000)]
    tasks: i64,
    /// Distinct prompts among them.
    #[arg(long, default_value_t = 20_000)]
    prompts: i64,
    /// Timed calls per case.
    #[arg(long, default_value_t = 50)]
    queries: usize,
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
}

/// Task `n` of `user` with prompt number `n % prompts`: Chinese for even numbers, English for
/// odd ones; `狐狸` in one prompt of 100 (the common search), `麒麟` in one of 5,000 (the rare).
fn fill_sql(backend: Backend, user: i64, tasks: i64, prompts: i64) -> String {
    let rows = match backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {tasks}) SELECT i FROM n"
        ),
        Backend::Postgres => format!("SELECT generate_series(1, {tasks}) AS i"),
    };
    let concat = |parts: &[&str]| match backend {
        Backend::Sqlite => parts.join(" || "),
        Backend::Postgres => format!("CONCAT({})", parts.join(", ")),
    };
    let number = format!("CAST((i % {prompts}) AS TEXT)");
    let prompt = format!(
        "CASE WHEN (i % {prompts}) % 5000 = 7 THEN {} WHEN (i % {prompts}) % 100 = 3 THEN {} \
         WHEN (i % {prompts}) % 2 = 0 THEN {} ELSE {} END",
        concat(&["'麒麟踏云 '", &number]),
        concat(&["'雪地里的狐狸 '", &number]),
        concat(&["'山间的清晨，薄雾，第 '", &number, "' 号'"]),
        concat(&["'a lighthouse at dusk, number '", &number]),
    );
    let uuid = concat(&["'bench-'", "CAST(i AS TEXT)"]);
    format!(
        "INSERT INTO generations (uuid, user_id, status, generation_type, prompt, provider, model, \
         attempts, next_attempt_at, progress, created_at, updated_at, favorite) \
         SELECT {uuid}, {user}, 'completed', 't2i', {prompt}, 'local', 'procedural', 1, \
         CURRENT_TIMESTAMP, 100, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0 FROM ({rows}) AS s"
    )
}

fn p(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    print_header(
        "prompt history benchmark",
        &format!(
            "{:?}, {} tasks, {} distinct prompts, {} calls per case",
            args.backend, args.tasks, args.prompts, args.queries
        ),
    );
    let dir = tempfile::tempdir()?;
    let schema = match args.backend {
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "bench_prompts", false)?),
        Backend::Sqlite => None,
    };
    let mut config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    config.database.url = match &schema {
        Some(s) => s.url(),
        None => format!("sqlite:{}", dir.path().join("bench.db").display()),
    };
    let state = std::sync::Arc::new(AppState::new(config, Some(Mailer::memory().0))?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let make = |name: &str| -> anyhow::Result<User> {
        let input = Registration {
            username: name.into(),
            email: format!("{name}@bench.example"),
            password: "Bench@12345".into(),
        };
        rt.block_on(picturedeck::users::service::create_user(
            &state,
            input,
            Role::User,
            None,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let heavy = make("heavy")?;
    let light = make("light")?;

    let mut rows = Vec::new();
    let started = Instant::now();
    let mut conn = state.db.get()?;
    conn.batch_execute(&fill_sql(args.backend, heavy.id, args.tasks, args.prompts))
        .context("filling the heavy user's tasks")?;
    conn.batch_execute(&fill_sql(args.backend, light.id, 50, 20).replace("'bench-'", "'light-'"))
        .context("filling the light user's tasks")?;
    conn.batch_execute("ANALYZE")?;
    drop(conn);
    rows.push(Row::info(
        "fill".into(),
        format!(
            "{} tasks in {:.1} s",
            args.tasks + 50,
            started.elapsed().as_secs_f64()
        ),
    ));

    // The cursor of page 50 (or the last page), found by walking.
    let deep = rt.block_on(async {
        let mut before: Option<String> = None;
        for _ in 0..50 {
            let page =
                picturedeck::prompts::service::history(&state, &heavy, None, before.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        anyhow::Ok(before)
    })?;

    let cases: Vec<(&str, &User, Option<&str>, Option<String>)> = vec![
        ("history: first page", &heavy, None, None),
        ("history: page 51 (or the last)", &heavy, None, deep),
        (
            "history: search 狐狸 (1 prompt in 100)",
            &heavy,
            Some("狐狸"),
            None,
        ),
        (
            "history: search 麒麟 (1 in 5,000)",
            &heavy,
            Some("麒麟"),
            None,
        ),
        ("history: a light user's first page", &light, None, None),
    ];
    for (name, user, q, before) in cases {
        let mut times = Vec::with_capacity(args.queries);
        let mut found = 0;
        for i in 0..args.queries + 3 {
            let t = Instant::now();
            let page = rt
                .block_on(picturedeck::prompts::service::history(
                    &state,
                    user,
                    q,
                    before.as_deref(),
                ))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if i >= 3 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            found = page.entries.len();
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let p99 = p(&times, 0.99);
        rows.push(Row::check(
            format!("{name} ({found} entries)"),
            format!("p50 {:.1} ms, p99 {p99:.1} ms", p(&times, 0.5)),
            format!("p99 <= {TARGET_P99_MS} ms"),
            p99 <= TARGET_P99_MS,
        ));
    }
    print_table(&rows);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
