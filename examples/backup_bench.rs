//! Backup benchmark: `picturedeck backup` of an instance holding 10,000 results (each a result
//! file and a thumbnail in local storage), then a restore of it into a fresh database and
//! folder, with the throughput of each.
//!
//!   cargo run --release --example backup_bench -- --backend sqlite
//!   cargo run --release --example backup_bench -- --backend postgres --results 10000 --kib 64
//!   cargo run --release --example backup_bench -- --backend sqlite --restore-to postgres
//!
//! The results are rows pointing at files of pseudo-random bytes (a backup copies bytes; it
//! does not decode them). A measurement, not a test. The temp dir and PostgreSQL schemas are
//! removed at the end.

mod common;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use clap::Parser;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::generation::model::NewGeneration;
use picturedeck::generation::store::{self as gen_store, Stored};
use picturedeck::library::store as lib_store;
use picturedeck::mail::Mailer;
use picturedeck::storage::Storage;
use picturedeck::users::model::Role;
use picturedeck::users::service::{self, Registration};

use common::{print_header, print_table, Backend, PgSchema, Row, PG_ADMIN_URL};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks backup and restore of an instance with many results")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Backend restored into; the same as --backend unless given.
    #[arg(long, value_enum)]
    restore_to: Option<Backend>,
    #[arg(long, default_value_t = 10_000)]
    results: usize,
    /// Size of each result file; each thumbnail is an eighth of it.
    #[arg(long, default_value_t = 64)]
    kib: usize,
    #[arg(long, default_value = PG_ADMIN_URL)]
    pg_url: String,
}

fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// A database URL of `backend` inside `dir` (SQLite) or in a fresh schema (PostgreSQL).
fn database(
    backend: Backend,
    dir: &std::path::Path,
    name: &str,
    pg_url: &str,
) -> anyhow::Result<(String, Option<PgSchema>)> {
    Ok(match backend {
        Backend::Sqlite => (format!("sqlite:{}", dir.join(name).display()), None),
        Backend::Postgres => {
            let schema = PgSchema::create(pg_url, "backup_bench", false)?;
            (schema.url(), Some(schema))
        }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let restore_to = args.restore_to.unwrap_or(args.backend);
    print_header(
        "backup benchmark",
        &format!(
            "{:?} → {:?}, {} results of {} KiB (+ thumbnails of {} KiB), local storage",
            args.backend,
            restore_to,
            args.results,
            args.kib,
            args.kib / 8
        ),
    );
    let dir = tempfile::tempdir()?;
    let (url, _source_schema) = database(args.backend, dir.path(), "source.db", &args.pg_url)?;
    let mut config = Config {
        data_dir: Some(dir.path().join("source")),
        ..Config::default()
    };
    config.database.url = url;
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(Mailer::memory().0)))
            .await??,
    );
    state.storage.prepare().await?;
    let user = service::create_user(
        &state,
        Registration {
            username: "bench".into(),
            email: "bench@example.com".into(),
            password: "Bench@12345".into(),
        },
        Role::User,
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    let filled = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for batch in (0..args.results).collect::<Vec<_>>().chunks(500) {
        let mut files = Vec::new();
        let mut rows = Vec::new();
        for _ in batch {
            let uuid = uuid::Uuid::new_v4().to_string();
            let key = format!("results/{}/{uuid}.png", &uuid[..2]);
            let thumb = format!("thumbs/{}/{uuid}.webp", &uuid[..2]);
            let body = bytes(&mut seed, args.kib * 1024);
            let sha = picturedeck::storage::sha256_hex(&body);
            rows.push((uuid, key.clone(), thumb.clone(), sha, body.len() as i64));
            files.push((key, body));
            files.push((thumb, bytes(&mut seed, args.kib * 128)));
        }
        state.storage.put_all(files).await?;
        let user_id = user.id;
        state
            .db
            .run(move |conn| {
                use diesel::Connection as _;
                conn.transaction(|conn| {
                    let now = Utc::now().naive_utc();
                    for (uuid, key, thumb, sha, size) in &rows {
                        let g = gen_store::insert(
                            conn,
                            &NewGeneration {
                                uuid,
                                user_id,
                                status: "completed",
                                generation_type: "t2i",
                                prompt: Some("backup bench 雪山"),
                                parameters: Some("{}"),
                                provider: "local",
                                model: "procedural",
                                attempts: 1,
                                next_attempt_at: now,
                                progress: 100,
                                created_at: now,
                                updated_at: now,
                            },
                        )?;
                        let stored = Stored {
                            result_url: "",
                            physical_path: key,
                            result_mime: "image/png",
                            result_bytes: *size,
                            result_sha256: sha,
                            width: 1,
                            height: 1,
                            thumb_path: thumb,
                        };
                        lib_store::mark_imported(conn, g.id, &stored, now)?;
                    }
                    Ok(())
                })
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let fill_s = filled.elapsed().as_secs_f64();

    let dest = dir.path().join("backup");
    let backup = picturedeck::backup::backup(&state.db, &state.storage, &dest)
        .await
        .context("backup")?;
    println!("backup:  {backup}");

    let (target_url, _target_schema) =
        database(restore_to, dir.path(), "restored.db", &args.pg_url)?;
    let target_store = Storage::local(dir.path().join("restored-objects"));
    let restore = picturedeck::backup::restore(&target_url, &target_store, &dest)
        .await
        .context("restore")?;
    println!("restore: {restore}");

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    print_table(&[
        Row::check(
            "rows and objects restored".into(),
            format!("{} rows, {} objects", restore.rows, restore.objects),
            "as backed up".into(),
            restore.rows == backup.rows && restore.objects == backup.objects,
        ),
        Row::info(
            "fill (not part of the backup)".into(),
            format!("{fill_s:.1} s"),
        ),
        Row::info(
            "backup size".into(),
            format!(
                "{} rows, {} objects, {:.1} MiB",
                backup.rows,
                backup.objects,
                mib(backup.bytes)
            ),
        ),
        Row::info(
            format!("backup of {} results", args.results),
            format!(
                "{:.2} s = {:.0} results/s, {:.1} MiB/s",
                backup.seconds,
                args.results as f64 / backup.seconds,
                mib(backup.bytes) / backup.seconds
            ),
        ),
        Row::info(
            "restore (checksums checked first)".into(),
            format!(
                "{:.2} s = {:.0} results/s, {:.1} MiB/s",
                restore.seconds,
                args.results as f64 / restore.seconds,
                mib(restore.bytes) / restore.seconds
            ),
        ),
    ]);
    Ok(())
}
