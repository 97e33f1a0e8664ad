//! Export benchmark: streams a ZIP of about 1 GB from a real server over loopback and reports
//! the process's peak memory, to show the archive is never built whole in memory.
//!
//!   cargo run --release --example export_bench -- [--files 100] [--mib 10]
//!
//! The results are rows pointing at random-byte files in local storage (the export copies
//! bytes; it does not decode them). A measurement, not a test: it exits 0 when the target is
//! missed. Everything stays on 127.0.0.1; the temp dir is removed at the end.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use futures_util::StreamExt as _;
use picturedeck::app::{self, AppState};
use picturedeck::config::Config;
use picturedeck::generation::model::NewGeneration;
use picturedeck::generation::store::{self as gen_store, Stored};
use picturedeck::library::store as lib_store;
use picturedeck::mail::Mailer;
use picturedeck::users::model::Role;
use picturedeck::users::service::{self, Origin, Registration};

const TARGET_MIB: f64 = 100.0;

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .context("missing value")?
            .parse()
            .context("not a number"),
        None => Ok(default),
    }
}

/// (VmRSS, VmHWM) of this process in MiB.
fn memory() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (files, mib) = (arg("--files", 100)?, arg("--mib", 10)?);
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    let state = Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(Mailer::memory().0)))
            .await??,
    );
    let password = "Bench@12345";
    let input = Registration {
        username: "exporter".into(),
        email: "exporter@example.com".into(),
        password: password.into(),
    };
    let user = service::create_user(&state, input, Role::User, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Fill: one file at a time, so the fill itself does not raise the peak much.
    let started = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut ids = Vec::with_capacity(files);
    for i in 0..files {
        let mut bytes = vec![0u8; mib * 1024 * 1024];
        for chunk in bytes.chunks_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        let key = format!("results/{}/{uuid}.png", &uuid[..2]);
        let sha = picturedeck::storage::sha256_hex(&bytes);
        state.storage.put(&key, bytes).await?;
        let (user_id, size) = (user.id, (mib * 1024 * 1024) as i64);
        let id = state
            .db
            .run(move |conn| {
                let now = Utc::now().naive_utc();
                let prompt = format!("export bench {i}");
                let row = NewGeneration {
                    uuid: &uuid,
                    user_id,
                    status: "completed",
                    generation_type: "t2i",
                    prompt: Some(&prompt),
                    parameters: Some("{}"),
                    provider: "local",
                    model: "procedural",
                    attempts: 1,
                    next_attempt_at: now,
                    progress: 100,
                    created_at: now,
                    updated_at: now,
                };
                let g = gen_store::insert(conn, &row)?;
                let stored = Stored {
                    result_url: "",
                    physical_path: &key,
                    result_mime: "image/png",
                    result_bytes: size,
                    result_sha256: &sha,
                    width: 1,
                    height: 1,
                    thumb_path: "",
                };
                lib_store::mark_imported(conn, g.id, &stored, now)?;
                Ok(g.id)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(id);
    }
    let folder = picturedeck::library::service::create_folder(&state, &user, "bench", None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (user_id, folder_id) = (user.id, folder.id.clone());
    state
        .db
        .run(move |conn| {
            let f = lib_store::folder_by_uuid(conn, user_id, &folder_id)?
                .ok_or_else(picturedeck::error::AppError::not_found)?;
            Ok(lib_store::file_results(
                conn,
                user_id,
                &ids,
                Some(f.id),
                Utc::now().naive_utc(),
            )?)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "filled {files} files of {mib} MiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = app::server(state.clone(), listener)?;
    let handle = server.handle();
    tokio::spawn(server);
    let login = service::login(
        &state,
        "exporter",
        password,
        &Origin {
            ip: "127.0.0.1".into(),
            user_agent: Some("export_bench".into()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Reset the kernel's peak (VmHWM) to the current RSS, so the peak read after the download
    // is the export's own, every page of it, not a sample between chunks nor the fill's.
    std::fs::write("/proc/self/clear_refs", "5")
        .context("cannot reset the peak RSS (/proc/self/clear_refs, Linux 4.0+)")?;
    let (rss_before, hwm_reset) = memory()?;

    let started = Instant::now();
    let res = reqwest::Client::new()
        .get(format!("{url}/api/v1/library/export?folder={}", folder.id))
        .bearer_auth(&login.token)
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "export answered {}",
        res.status()
    );
    let mut body = res.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = body.next().await {
        total += chunk?.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (_, peak) = memory()?;
    handle.stop(true).await;

    let gib = total as f64 / 1024.0 / 1024.0 / 1024.0;
    println!();
    println!("metric | value | target | ok?");
    println!("--- | --- | --- | ---");
    println!("archive size | {gib:.2} GiB ({total} bytes) | ~1 GB | –");
    println!(
        "export time | {seconds:.1} s ({:.0} MiB/s) | – | –",
        total as f64 / 1024.0 / 1024.0 / seconds
    );
    println!("RSS before export (VmHWM reset to {hwm_reset:.1}) | {rss_before:.1} MiB | – | –");
    println!(
        "peak RSS during export (VmHWM after a reset) | {peak:.1} MiB | ≤ {TARGET_MIB} MiB | {}",
        if peak <= TARGET_MIB { "yes" } else { "no" }
    );
    Ok(())
}
