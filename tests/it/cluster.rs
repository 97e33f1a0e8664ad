//! Two PictureDeck processes on one PostgreSQL schema (issue 8): 1,000 tasks against an
//! asynchronous vendor fake that counts submissions; one server is killed with SIGKILL midway.
//! Every task completes, none is submitted twice, and the survivor takes over the dead one's
//! leases. `PD_CLUSTER_TASKS` sets another count for a quick local run.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use picturedeck::db::schema::generations;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fakes::FakeVendor;
use crate::support::{PASSWORD, PG_ADMIN_URL};

struct Server {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The built binary, serving on a free port with `config`, logging to a file in `dir`.
async fn spawn(dir: &std::path::Path, config: &std::path::Path) -> Server {
    let port = free_port();
    let log = dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args([
            "--serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = reqwest::get(format!("{}/healthz", server.url)).await {
            if res.status() == StatusCode::OK {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "server never answered /healthz");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The engine owner name a server logged at start ("generation engine started owner=...").
fn engine_owner(server: &Server) -> String {
    let text = std::fs::read_to_string(&server.log).unwrap_or_default();
    let at = text
        .find("owner=engine-")
        .expect("the engine logs its owner")
        + 6;
    text[at..]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .next()
        .unwrap()
        .to_string()
}

fn signal(server: &Server, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

/// (status, lease owner, remote task id, prompt) of every task.
type Row = (String, Option<String>, Option<String>, Option<String>);

fn rows(conn: &mut PgConnection) -> Vec<Row> {
    generations::table
        .select((
            generations::status,
            generations::lease_owner,
            generations::remote_task_id,
            generations::prompt,
        ))
        .load(conn)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_the_queue_and_the_survivor_finishes_a_killed_ones_tasks() {
    let Ok(mut admin) = PgConnection::establish(PG_ADMIN_URL) else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "PostgreSQL is required"
        );
        eprintln!("SKIPPED: no PostgreSQL");
        return;
    };
    let tasks: usize = std::env::var("PD_CLUSTER_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let schema = format!("c_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let db_url = format!("{PG_ADMIN_URL}?options=-csearch_path%3D{schema}");
    let vendor = FakeVendor::dashscope().await;
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db_url}"
pool_size = 6
[auth]
jwt_secret = "cluster-test-secret-0123456789abcdefghij"
default_daily_quota = 100000
[engine]
concurrency = 16
lease_seconds = 5
poll_interval_ms = 40
retry_base_ms = 100
[[providers]]
name = "wan"
kind = "dashscope"
base_url = "{}"
api_key = "sk-cluster"
concurrency = 16
timeout_seconds = 10
[[providers.models]]
name = "wan-t2i"
kinds = ["t2i"]
"#,
            vendor.url
        ),
    )
    .unwrap();
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    for dir in [&dir_a, &dir_b] {
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
    }
    // What a killed import left behind is cleared when a server starts.
    std::fs::write(dir_b.join("tmp/import-stale.zip"), b"left over").unwrap();
    let a = spawn(&dir_a, &config).await;
    let b = spawn(&dir_b, &config).await;
    assert!(!dir_b.join("tmp/import-stale.zip").exists());
    let owner_a = engine_owner(&a);

    // One account, tasks submitted through both servers.
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/auth/register", a.url))
        .json(&json!({"username": "cluster", "email": "cluster@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", b.url))
        .json(&json!({"username": "cluster", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["token"].as_str().unwrap().to_string();
    let started = Instant::now();
    let submits = futures_util::stream::iter(0..tasks).map(|i| {
        let (client, token) = (client.clone(), token.clone());
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        let url = format!("{url}/api/v1/generation");
        async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(
                    &json!({"type": "t2i", "prompt": format!("task {i}"), "model": "wan/wan-t2i"}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "{}",
                res.text().await.unwrap()
            );
        }
    });
    use futures_util::StreamExt as _;
    submits.buffer_unordered(8).collect::<Vec<()>>().await;

    let mut conn = PgConnection::establish(&db_url).unwrap();
    let completed = |rows: &[Row]| rows.iter().filter(|r| r.0 == "completed").count();
    let deadline = Instant::now() + Duration::from_secs(300);
    // Midway, and at a moment when every task the vendor accepted has its remote id written:
    // a kill between the vendor's answer and that write leaves a task that no one can tell was
    // submitted (the vendor has no idempotency key), so it would be submitted again.
    let held_by_a = loop {
        let now = rows(&mut conn);
        if completed(&now) >= tasks * 2 / 5 {
            signal(&a, "STOP");
            // Requests already on the wire reach the vendor.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = rows(&mut conn);
            let recorded: HashSet<String> = now
                .iter()
                .filter(|r| r.2.is_some() || r.0 == "completed")
                .filter_map(|r| r.3.clone())
                .collect();
            let in_flight = vendor.submits().into_iter().any(|s| {
                let body: Value = serde_json::from_slice(&s.body).unwrap_or_default();
                body["input"]["prompt"]
                    .as_str()
                    .is_some_and(|p| !recorded.contains(p))
            });
            if !in_flight {
                signal(&a, "KILL");
                break now
                    .into_iter()
                    .filter(|r| r.0 == "processing" && r.1.as_deref() == Some(owner_a.as_str()))
                    .filter_map(|r| r.3)
                    .collect::<Vec<_>>();
            }
            signal(&a, "CONT");
        }
        assert!(Instant::now() < deadline, "too slow before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let all = loop {
        let now = rows(&mut conn);
        if completed(&now) == tasks {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {tasks} completed after {:?}",
            completed(&now),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "{tasks} tasks on two servers, one killed, in {:?}",
        started.elapsed()
    );

    let mut per_prompt: HashMap<String, usize> = HashMap::new();
    for s in vendor.submits() {
        let body: Value = serde_json::from_slice(&s.body).unwrap();
        *per_prompt
            .entry(body["input"]["prompt"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_prompt.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "submitted more than once: {twice:?}");
    assert_eq!(
        per_prompt.len(),
        tasks,
        "every task reached the vendor once"
    );
    assert_eq!(all.len(), tasks);
    assert!(
        !held_by_a.is_empty(),
        "the killed server held tasks when it died"
    );
    let done: HashSet<&str> = all
        .iter()
        .filter(|r| r.0 == "completed")
        .filter_map(|r| r.3.as_deref())
        .collect();
    assert!(
        held_by_a.iter().all(|p| done.contains(p.as_str())),
        "the survivor completed the dead server's tasks"
    );
    let res = reqwest::get(format!("{}/healthz", b.url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop((a, b));
    vendor.stop().await;
    let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}
