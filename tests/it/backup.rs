//! Backups and restores (issue 11 item 6): a backup taken while results are being written
//! restores into a fresh database and data dir — of either backend — with every result's
//! file present and served; a restore refuses a non-empty target and a changed backup; every
//! table is in the backup; scheduled backups keep N and run on one instance only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use picturedeck::backup::{self, schedule, Manifest};
use picturedeck::config::Config;
use picturedeck::storage::{sha256_hex, Storage};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{self, TestApp, PG_ADMIN_URL};

fn roomy(c: &mut Config) {
    c.auth.default_daily_quota = 100_000;
    c.engine.concurrency = 4;
}

crate::on_both_backends_with!(super::roomy;
    backup_under_load_restores_on_both_backends,
    restore_refuses_a_non_empty_target_and_a_changed_backup,
    backup_covers_every_table_of_ours,
    one_instance_takes_each_scheduled_slot,
);
crate::on_both_backends!(scheduled_backups_keep_the_newest);

/// An empty database and data dir to restore into; a PostgreSQL schema is dropped at the end.
struct Target {
    url: String,
    objects: PathBuf,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Target {
    fn sqlite() -> Target {
        let dir = tempfile::tempdir().unwrap();
        Target {
            url: format!("sqlite:{}", dir.path().join("restored.db").display()),
            objects: dir.path().join("objects"),
            schema: None,
            _dir: dir,
        }
    }

    /// None (and a SKIPPED line) without a PostgreSQL server, except under CI.
    fn postgres() -> Option<Target> {
        let mut conn = match PgConnection::establish(PG_ADMIN_URL) {
            Ok(c) => c,
            Err(e) if support::under_ci() => panic!("PostgreSQL is required under CI: {e}"),
            Err(e) => {
                support::skipped(&format!("no PostgreSQL to restore into ({e})"));
                return None;
            }
        };
        let schema = format!("r_{}", uuid::Uuid::new_v4().simple());
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        Some(Target {
            url: format!("{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"),
            objects: dir.path().join("objects"),
            schema: Some(schema),
            _dir: dir,
        })
    }

    fn storage(&self) -> Storage {
        Storage::local(self.objects.clone())
    }

    /// The app over the restored database and objects.
    async fn start(&self) -> TestApp {
        let (url, objects) = (self.url.clone(), self.objects.clone());
        TestApp::builder(support::Backend::Sqlite)
            .config(move |c| {
                roomy(c);
                c.database.url = url;
                c.storage.local_dir = Some(objects);
            })
            .start()
            .await
            .unwrap()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            if let Ok(mut conn) = PgConnection::establish(PG_ADMIN_URL) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// Submits small pictures until `stop` is set; returns how many were submitted.
fn keep_generating(
    app: &TestApp,
    token: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let (url, client) = (app.url.clone(), reqwest::Client::new());
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let res = client
                .post(format!("{url}/api/v1/generation"))
                .bearer_auth(&token)
                .json(&json!({"type": "t2i", "prompt": format!("雪山 {n}"), "params": {"size": "128x96"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            n += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        n
    })
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn rows(dir: &Path, table: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(format!("db/{table}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Some library state beyond results: tags, a favourite, a folder moved under a newer one
/// (its parent's id is larger than its own), a share.
async fn furnish(app: &TestApp, token: &str) {
    let done = app.finished(token, "t2i", "金阁寺").await;
    let folder = |name: &'static str| {
        let token = token.to_string();
        async move {
            let (status, body) = app
                .post(
                    "/api/v1/library/folders",
                    Some(&token),
                    json!({"name": name}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let older = folder("旅行").await;
    let newer = folder("2026").await;
    let res = reqwest::Client::new()
        .patch(app.at(&format!("/api/v1/library/folders/{older}")))
        .bearer_auth(token)
        .json(&json!({"parent": newer}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/v1/library/results/move",
            Some(token),
            json!({"ids": [done], "folder": older}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/library/results/{done}/tags"),
            Some(token),
            Some(json!({"tags": ["京都", "秋"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/library/results/{done}/favorite"),
            Some(token),
            Some(json!({"favorite": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn backup_under_load_restores_on_both_backends(app: &TestApp) {
    let token = app.user("alice").await;
    furnish(app, &token).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = keep_generating(app, token.clone(), stop.clone());
    // Results are being written while the snapshot is read and the objects copied.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let dest = tempfile::tempdir().unwrap();
    let dest = dest.path().join("backup");
    let summary = backup::backup(&app.state.db, &app.state.storage, &dest)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let submitted = load.await.unwrap();
    assert!(submitted > 3, "only {submitted} tasks were submitted");
    assert!(summary.objects > 0 && summary.rows > 0, "{summary}");

    let m = manifest(&dest);
    assert_eq!(m.app_version, env!("CARGO_PKG_VERSION"));
    assert!(!m.schema_version.is_empty());
    let results: Vec<Value> = rows(&dest, "generations")
        .into_iter()
        .filter(|r| r["physical_path"].is_string())
        .collect();
    assert!(
        results.len() >= 2,
        "{} results in the snapshot",
        results.len()
    );
    let objects: BTreeSet<&str> = m.objects.iter().map(|o| o.key.as_str()).collect();
    for r in &results {
        assert!(
            objects.contains(r["physical_path"].as_str().unwrap()),
            "{r}"
        );
        assert!(objects.contains(r["thumb_path"].as_str().unwrap()), "{r}");
    }

    let mut targets = vec![Target::sqlite()];
    targets.extend(Target::postgres());
    for target in targets {
        let restored = backup::restore(&target.url, &target.storage(), &dest)
            .await
            .unwrap();
        assert_eq!(restored.rows, summary.rows);
        // Every result's file is in the restored store with its checksum.
        for r in &results {
            let bytes = target
                .storage()
                .get(r["physical_path"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(sha256_hex(&bytes), r["result_sha256"].as_str().unwrap());
        }
        // The restored app serves them: log in, list the library, fetch a picture.
        let restored_app = target.start().await;
        let token = restored_app.token("alice").await;
        let (status, page) = restored_app
            .get("/api/v1/library/results?status=completed", Some(&token))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let listed = page["data"]["results"].as_array().unwrap();
        assert!(!listed.is_empty(), "{page}");
        let mut checked = 0;
        for view in listed {
            let res = reqwest::get(restored_app.at(view["result_url"].as_str().unwrap()))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let body = res.bytes().await.unwrap();
            // Tasks queued in the snapshot run again in the restored app; their results are new.
            let id = view["task_id"].as_str().unwrap();
            if let Some(row) = results.iter().find(|r| r["uuid"] == id) {
                assert_eq!(sha256_hex(&body), row["result_sha256"].as_str().unwrap());
                checked += 1;
            }
        }
        assert!(checked > 0, "{page}");
        let (_, favourites) = restored_app
            .get("/api/v1/library/results?favorite=true", Some(&token))
            .await;
        assert_eq!(
            favourites["data"]["results"][0]["tags"],
            json!(["京都", "秋"]),
            "{favourites}"
        );
        let (_, tree) = restored_app
            .get("/api/v1/library/folders", Some(&token))
            .await;
        // 旅行 was made first and moved under the newer 2026: the tree comes back as it was.
        assert_eq!(tree["data"][0]["name"], "2026", "{tree}");
        assert_eq!(tree["data"][0]["children"][0]["name"], "旅行", "{tree}");
        assert_eq!(tree["data"][0]["children"][0]["count"], 1, "{tree}");
        // New rows get ids of their own (PostgreSQL's sequences were moved past the restored).
        let again = restored_app.finished(&token, "t2i", "岚山").await;
        assert!(!again.is_empty());
        restored_app.stop().await;
    }
}

async fn restore_refuses_a_non_empty_target_and_a_changed_backup(app: &TestApp) {
    let token = app.user("bob").await;
    app.finished(&token, "t2i", "灯塔").await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    backup::backup(&app.state.db, &app.state.storage, &dest)
        .await
        .unwrap();
    // Into a folder that is not empty: no.
    let again = backup::backup(&app.state.db, &app.state.storage, &dest)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again:#}");

    // The app's own database has rows.
    let e = backup::restore(
        &app.state.config.database_url(),
        &Target::sqlite().storage(),
        &dest,
    )
    .await
    .unwrap_err();
    assert!(format!("{e:#}").contains("is not empty (table"), "{e:#}");

    // An empty database but a store holding something else.
    let target = Target::sqlite();
    target
        .storage()
        .put("results/other.png", vec![1, 2, 3])
        .await
        .unwrap();
    let e = backup::restore(&target.url, &target.storage(), &dest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("object store is not empty"),
        "{e:#}"
    );

    // A changed object, then a changed table file, then a changed manifest.
    let m = manifest(&dest);
    let object = dest.join("objects").join(&m.objects[0].key);
    let mut bytes = std::fs::read(&object).unwrap();
    let original = bytes.clone();
    bytes[10] ^= 1;
    std::fs::write(&object, &bytes).unwrap();
    let target = Target::sqlite();
    let e = backup::restore(&target.url, &target.storage(), &dest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("does not match its checksum"),
        "{e:#}"
    );
    std::fs::write(&object, &original).unwrap();
    let users = dest.join("db/users.jsonl");
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(text.contains("\"user\""), "{text}");
    std::fs::write(&users, text.replace("\"user\"", "\"admin\"")).unwrap();
    let e = backup::restore(&target.url, &target.storage(), &dest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("db/users.jsonl does not match"),
        "{e:#}"
    );
    std::fs::write(&users, &text).unwrap();
    let manifest_text = std::fs::read_to_string(dest.join("manifest.json")).unwrap();
    let changed = manifest_text.replacen("\"rows\": 1,", "\"rows\": 2,", 1);
    assert_ne!(changed, manifest_text);
    std::fs::write(dest.join("manifest.json"), changed).unwrap();
    let e = backup::restore(&target.url, &target.storage(), &dest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("manifest.json does not match"),
        "{e:#}"
    );
    std::fs::write(dest.join("manifest.json"), &manifest_text).unwrap();
    // Refusals wrote nothing: the store is still empty and the restore now goes through.
    assert!(target.storage().list().await.unwrap().is_empty());
    backup::restore(&target.url, &target.storage(), &dest)
        .await
        .unwrap();
}

/// Table names created (and not dropped again) by a backend's migrations, in order.
fn tables_of_migrations(backend: &str) -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut tables = BTreeSet::new();
    for dir in names {
        let sql = std::fs::read_to_string(dir.join("up.sql"))
            .unwrap()
            .to_lowercase();
        let words: Vec<&str> = sql
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        for (i, w) in words.iter().enumerate() {
            let create = *w == "create" && words.get(i + 1) == Some(&"table");
            let drop = *w == "drop" && words.get(i + 1) == Some(&"table");
            if create || drop {
                let mut j = i + 2;
                while matches!(words.get(j), Some(&"if" | &"not" | &"exists")) {
                    j += 1;
                }
                let name = words[j].trim_matches('"').to_string();
                if create {
                    tables.insert(name);
                } else {
                    tables.remove(&name);
                }
            }
        }
    }
    tables
}

/// The tables `src/db/schema.rs` declares.
fn tables_of_schema() -> BTreeSet<String> {
    include_str!("../../src/db/schema.rs")
        .split("diesel::table! {")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect()
}

async fn backup_covers_every_table_of_ours(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    backup::backup(&app.state.db, &app.state.storage, &dest)
        .await
        .unwrap();
    let backed_up: BTreeSet<String> = manifest(&dest)
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let backend = match app.state.db.backend() {
        picturedeck::db::Backend::Sqlite => "sqlite",
        picturedeck::db::Backend::Postgres => "postgres",
    };
    for (source, wanted) in [
        ("the migrations", tables_of_migrations(backend)),
        ("src/db/schema.rs", tables_of_schema()),
    ] {
        let missing: Vec<&String> = wanted.difference(&backed_up).collect();
        assert!(
            missing.is_empty(),
            "tables of {source} missing from the backup: {missing:?}"
        );
    }
    for t in &manifest(&dest).tables {
        assert!(dest.join(&t.file).is_file(), "{}", t.file);
    }
}

async fn one_instance_takes_each_scheduled_slot(app: &TestApp) {
    let claims: Vec<_> = (0..6)
        .map(|i| {
            let db = app.state.db.clone();
            tokio::spawn(async move { schedule::claim(&db, 1000, &format!("i{i}")).await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for c in claims {
        taken += usize::from(c.await.unwrap());
    }
    assert_eq!(taken, 1, "one instance takes slot 1000");
    assert!(!schedule::claim(&app.state.db, 999, "late").await.unwrap());
    assert!(schedule::claim(&app.state.db, 1001, "next").await.unwrap());
}

async fn scheduled_backups_keep_the_newest(app: &TestApp) {
    let token = app.user("carol").await;
    app.finished(&token, "t2i", "风车").await;
    let dir = tempfile::tempdir().unwrap();
    let mut made = Vec::new();
    for _ in 0..4 {
        let s = schedule::make(&app.state.db, &app.state.storage, dir.path(), 2)
            .await
            .unwrap();
        made.push(s.path);
    }
    assert_eq!(schedule::kept_backups(dir.path()).unwrap(), made[2..]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "nothing else left"
    );
    // Each kept one is a whole backup.
    backup::verify(&made[3]).unwrap();

    // The server's own loop makes them when `backup.dir` is set.
    let looped = tempfile::tempdir().unwrap();
    let mut config = (*app.state.config).clone();
    config.backup.dir = Some(looped.path().to_path_buf());
    config.backup.interval_seconds = 1;
    config.backup.keep = 2;
    let state = Arc::new(
        tokio::task::spawn_blocking(move || picturedeck::app::AppState::new(config, None))
            .await
            .unwrap()
            .unwrap(),
    );
    let runner = tokio::spawn(schedule::run(state));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = BTreeSet::new();
    while seen.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "only {seen:?} made");
        seen.extend(schedule::kept_backups(looped.path()).unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    runner.abort();
    let _ = runner.await;
    assert!(schedule::kept_backups(looped.path()).unwrap().len() <= 2);
}
