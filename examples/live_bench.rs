//! Live stream benchmark: holds 2,000 open studio streams (`/generate/events`) on a real server
//! over loopback, reports the process's memory growth, then changes one task at a time and
//! times until every open tab of its owner has the new card.
//!
//!   cargo run --release --example live_bench -- [--users 500] [--tabs 4] [--updates 300]
//!       [--backend sqlite|postgres] [--pg-url URL]
//!
//! The clients are raw sockets in a second process (this example run with `--client-of`),
//! which prints a line per card that arrives: the memory growth shown is the server's alone.
//! Needs a file descriptor per stream in each process (`ulimit -n` above 2,000).
//! A measurement, not a test: it exits 0 when a target is missed. Everything stays on
//! 127.0.0.1; the temp dir (and the PostgreSQL schema) is removed at the end.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use clap::Parser;
use diesel::prelude::*;
use picturedeck::app::{self, AppState};
use picturedeck::config::Config;
use picturedeck::db::schema::generations;
use picturedeck::generation::model::NewGeneration;
use picturedeck::generation::store as gen_store;
use picturedeck::mail::Mailer;
use picturedeck::users::model::NewUserRow;
use picturedeck::users::store as user_store;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use common::{Backend, PgSchema, Row};

const TARGET_RSS_MIB: f64 = 50.0;
const TARGET_P99_MS: f64 = 100.0;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Open pages per user.
    #[arg(long, default_value_t = 4)]
    tabs: usize,
    /// Task changes timed, one after another, each for another user.
    #[arg(long, default_value_t = 300)]
    updates: usize,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    #[arg(long, default_value = common::PG_ADMIN_URL)]
    pg_url: String,
    /// Runs as the clients of the server at this address (used by the benchmark itself).
    #[arg(long)]
    client_of: Option<std::net::SocketAddr>,
    /// With `--client-of`: a file of session tokens, one user a line.
    #[arg(long)]
    tokens: Option<std::path::PathBuf>,
}

/// The client process: opens `tabs` streams per token, says "ready" once all are open, then
/// prints the user's line number each time a card reaches one of that user's tabs.
async fn clients(
    addr: std::net::SocketAddr,
    tokens: &std::path::Path,
    tabs: usize,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let tokens = std::fs::read_to_string(tokens)?;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let mut open = 0;
    for (user, token) in tokens.lines().enumerate() {
        for _ in 0..tabs {
            tokio::spawn(tab(
                addr,
                token.to_string(),
                user,
                seen_tx.clone(),
                ready_tx.clone(),
            ));
            open += 1;
        }
        // Not all at once: the listen backlog is finite.
        if user % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for _ in 0..open {
        tokio::time::timeout(Duration::from_secs(60), ready.recv())
            .await
            .context("a stream did not open in time")?
            .context("streams closed")?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    while let Some(user) = seen.recv().await {
        writeln!(out, "{user}")?;
        out.flush()?;
    }
    Ok(())
}

/// VmRSS of this process in MiB.
fn rss() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One open page: sends the user's index each time a `card` event starts to arrive.
async fn tab(
    addr: std::net::SocketAddr,
    token: String,
    user: usize,
    seen: mpsc::UnboundedSender<usize>,
    ready: mpsc::UnboundedSender<()>,
) -> anyhow::Result<()> {
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET /generate/events HTTP/1.1\r\nHost: {addr}\r\nCookie: pd_session={token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    sock.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; 4096];
    let mut greeted = false;
    loop {
        let n = sock.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the server closed a stream");
        let chunk = &buf[..n];
        if !greeted && chunk.windows(6).any(|w| w == b"retry:") {
            greeted = true;
            let _ = ready.send(());
        }
        if chunk.windows(11).any(|w| w == b"event: card") {
            let _ = seen.send(user);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let (Some(addr), Some(tokens)) = (args.client_of, &args.tokens) {
        return clients(addr, tokens, args.tabs).await;
    }
    let streams = args.users * args.tabs;
    common::print_header(
        "live stream benchmark",
        &format!(
            "{} users x {} tabs = {streams} streams, {} timed updates, {:?}",
            args.users, args.tabs, args.updates, args.backend
        ),
    );
    let dir = tempfile::tempdir()?;
    let schema = match args.backend {
        Backend::Postgres => Some(PgSchema::create(&args.pg_url, "live_bench", false)?),
        Backend::Sqlite => None,
    };
    let mut config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    if let Some(schema) = &schema {
        config.database.url = schema.url();
    }
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(Mailer::memory().0)))
            .await??,
    );

    // Users and one running task each (the engine does not run: only the timed changes move).
    let count = args.users;
    let made = state
        .db
        .run(move |conn| {
            // Made an hour ago: idle streams have nothing new to send when they open.
            let now = Utc::now().naive_utc() - chrono::Duration::hours(1);
            let mut made = Vec::with_capacity(count);
            for i in 0..count {
                let (uuid, name) = (uuid::Uuid::new_v4().to_string(), format!("viewer{i}"));
                let email = format!("{name}@example.com");
                let user = user_store::insert_user(
                    conn,
                    &NewUserRow {
                        uuid: &uuid,
                        username: &name,
                        username_key: &name,
                        email: &email,
                        password_hash: "not-used",
                        role: "user",
                        status: "active",
                        token_version: 0,
                        daily_quota: None,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                let task = uuid::Uuid::new_v4().to_string();
                gen_store::insert(
                    conn,
                    &NewGeneration {
                        uuid: &task,
                        user_id: user.id,
                        // Running, so its card shows the progress the timed changes move.
                        status: "processing",
                        generation_type: "t2i",
                        prompt: Some("live bench"),
                        parameters: Some("{}"),
                        provider: "local",
                        model: "procedural",
                        attempts: 0,
                        next_attempt_at: now,
                        progress: 0,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                made.push((user, task));
            }
            Ok(made)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let origin = picturedeck::users::service::Origin {
        ip: "127.0.0.1".into(),
        user_agent: Some("live_bench".into()),
    };
    let mut tokens: Vec<String> = Vec::with_capacity(made.len());
    for (user, _) in &made {
        let session = picturedeck::users::service::issue(&state, user, &origin)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tokens.push(session.token);
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = app::server(state.clone(), listener)?;
    let handle = server.handle();
    tokio::spawn(server);
    // Warm the server (workers, templates, pools) with one stream before measuring.
    let (seen_tx, _seen) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let warm = tokio::spawn(tab(addr, tokens[0].clone(), usize::MAX, seen_tx, ready_tx));
    ready.recv().await.context("no warm-up stream")?;
    warm.abort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss();

    let started = Instant::now();
    let token_file = dir.path().join("tokens.txt");
    std::fs::write(&token_file, tokens.join("\n"))?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--client-of")
        .arg(addr.to_string())
        .arg("--tokens")
        .arg(&token_file)
        .arg("--tabs")
        .arg(args.tabs.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start the client process")?;
    let out = child.stdout.take().context("no client output")?;
    // The client's lines, read on a thread of their own: "ready", then a user per card.
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(120), lines.recv())
        .await
        .context("the clients did not open their streams in time")?;
    anyhow::ensure!(
        first.as_deref() == Some("ready"),
        "the clients said {first:?}"
    );
    let opened = started.elapsed();
    // The change poll's first look sends every tab its task's card once: let that pass.
    loop {
        match tokio::time::timeout(Duration::from_millis(1500), lines.recv()).await {
            Ok(Some(_)) => continue,
            Ok(None) => anyhow::bail!("streams closed"),
            Err(_) => break,
        }
    }
    let after = rss();
    let listening = state.live.listeners();

    // One change at a time: write the task's progress, tell the hub, wait for every tab.
    let mut took = Vec::with_capacity(args.updates);
    for k in 0..args.updates {
        let user = (k * 7919) % args.users;
        let (id, task) = (made[user].0.id, made[user].1.clone());
        let progress = (k % 98 + 1) as i32;
        while lines.try_recv().is_ok() {}
        let t0 = Instant::now();
        let uuid = task.clone();
        state
            .db
            .run(move |conn| {
                Ok(
                    diesel::update(generations::table.filter(generations::uuid.eq(&uuid)))
                        .set((
                            generations::progress.eq(progress),
                            generations::updated_at.eq(Utc::now().naive_utc()),
                        ))
                        .execute(conn)?,
                )
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        state.live.publish(id, &task);
        let mut got = 0;
        while got < args.tabs {
            let who: usize = tokio::time::timeout(Duration::from_secs(10), lines.recv())
                .await
                .context("an update never reached a tab")?
                .context("streams closed")?
                .parse()?;
            // Each tab hears only its own user's tasks (tests/it/live.rs proves it); here
            // only the timed user's arrivals count.
            if who == user {
                got += 1;
            }
        }
        took.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        took.last().copied().unwrap_or(0.0),
    );
    let growth = after - before;
    let per_stream_kib = growth * 1024.0 / streams as f64;
    common::print_table(&[
        Row::info("open streams (server count)".into(), format!("{listening}")),
        Row::info(
            "time to open them".into(),
            format!("{:.1} s", opened.as_secs_f64()),
        ),
        Row::check(
            format!("RSS growth for {streams} idle streams"),
            format!("{growth:.1} MiB ({per_stream_kib:.1} KiB each)"),
            format!("<= {TARGET_RSS_MIB} MiB"),
            growth <= TARGET_RSS_MIB,
        ),
        Row::info(
            format!("update to all {} tabs, p50", args.tabs),
            format!("{p50:.1} ms"),
        ),
        Row::check(
            format!("update to all {} tabs, p99", args.tabs),
            format!("{p99:.1} ms"),
            format!("<= {TARGET_P99_MS} ms"),
            p99 <= TARGET_P99_MS,
        ),
        Row::info("update to all tabs, max".into(), format!("{max:.1} ms")),
    ]);
    let _ = child.kill();
    let _ = child.wait();
    handle.stop(false).await;
    Ok(())
}
