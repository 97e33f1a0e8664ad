//! Hostile media through real HTTP (issue 8): broken MP4 tables, decompression bombs, archives
//! that name a file many times or are too large, aborted imports, vendors that answer with
//! endless bodies. After each, the server still answers /healthz, memory stayed bounded and
//! the good items were kept.

use std::io::Write as _;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::TestApp;

// ---- bytes ------------------------------------------------------------------------------

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    picturedeck::storage::images::encode_png(&img).unwrap()
}

/// A valid small PNG whose header claims `edge` x `edge` pixels (a decompression bomb).
fn png_claiming(edge: u32) -> Vec<u8> {
    let mut bomb = png(8, 8);
    bomb[16..20].copy_from_slice(&edge.to_be_bytes());
    bomb[20..24].copy_from_slice(&edge.to_be_bytes());
    // The IHDR CRC, so the decoder reads on to the dimensions it will refuse.
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

fn mp4() -> Vec<u8> {
    let still = image::RgbImage::from_pixel(64, 48, image::Rgb([30, 160, 90]));
    picturedeck::generation::providers::local::video::pan_zoom(&still, 32, 32, 1, 7, &|_| {})
        .unwrap()
}

/// `bytes` with the big-endian u32 at `offset` bytes past the first `fourcc` set to `value`.
fn patched(bytes: &[u8], fourcc: &[u8; 4], offset: usize, value: u32) -> Vec<u8> {
    let at = bytes.windows(4).position(|w| w == fourcc).unwrap() + offset;
    let mut out = bytes.to_vec();
    out[at..at + 4].copy_from_slice(&value.to_be_bytes());
    out
}

/// The MP4s of issue 8 that made the `mp4` crate panic (divide by zero, unwrap on `stts`).
fn mp4_zero_samples_per_chunk() -> Vec<u8> {
    patched(&mp4(), b"stsc", 16, 0)
}

fn mp4_empty_stts() -> Vec<u8> {
    patched(&mp4(), b"stts", 8, 0)
}

fn item(file: &str, bytes: &[u8], kind: &str) -> Value {
    json!({
        "id": file, "file": file, "type": kind, "prompt": file, "provider": "local",
        "model": "m", "mime": "", "sha256": picturedeck::storage::sha256_hex(bytes),
        "created_at": "2026-01-02T03:04:05Z",
    })
}

/// An export as ours look: the files, then manifest.json listing `items`.
fn archive(files: &[(&str, &[u8])], items: Vec<Value>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    let manifest = json!({
        "format": "picturedeck-export", "version": 1,
        "exported_at": "2026-01-02T03:04:05Z", "items": items,
    });
    zip.start_file("manifest.json", options).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

// ---- the process ------------------------------------------------------------------------

/// `VmHWM` or `VmRSS` of this process (which hosts the server) in MiB.
fn vm_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb / 1024)
}

async fn assert_healthy(app: &TestApp) {
    let res = reqwest::get(app.at("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the server answers /healthz");
}

async fn import(app: &TestApp, token: &str, zip: Vec<u8>) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/library/import"))
        .bearer_auth(token)
        .body(zip)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn results(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, body) = app.get("/api/v1/library/results", Some(token)).await;
    body["data"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// ---- imports ----------------------------------------------------------------------------

on_both_backends!(
    an_import_with_poisoned_mp4s_skips_them_and_keeps_the_rest,
    an_import_naming_one_file_many_times_is_refused_before_any_work,
    an_import_larger_than_the_limit_is_refused,
    an_imported_decompression_bomb_is_skipped_within_bounded_memory,
    an_aborted_import_leaves_no_temporary_file,
    a_user_runs_one_import_at_a_time,
    uploads_of_hostile_images_are_refused_and_forms_work,
);

async fn an_import_with_poisoned_mp4s_skips_them_and_keeps_the_rest(app: &TestApp) {
    let token = app.user("mp4_victim").await;
    let (good_png, good_mp4) = (png(40, 30), mp4());
    let (stsc, stts) = (mp4_zero_samples_per_chunk(), mp4_empty_stts());
    let zip = archive(
        &[
            ("files/a.png", &good_png),
            ("files/stsc.mp4", &stsc),
            ("files/b.mp4", &good_mp4),
            ("files/stts.mp4", &stts),
        ],
        vec![
            item("files/a.png", &good_png, "t2i"),
            item("files/stsc.mp4", &stsc, "t2v"),
            item("files/b.mp4", &good_mp4, "t2v"),
            item("files/stts.mp4", &stts, "t2v"),
            item("files/missing.png", &good_png, "t2i"),
        ],
    );
    let (status, body) = import(app, &token, zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["imported"], 2, "{body}");
    assert_eq!(body["data"]["skipped"], 3, "{body}");
    let reasons: Vec<(String, String)> = body["data"]["skipped_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("files/stsc.mp4".into(), "unreadable".into()),
            ("files/stts.mp4".into(), "unreadable".into()),
            ("files/missing.png".into(), "missing".into()),
        ]
    );
    assert_healthy(app).await;
    let kept = results(app, &token).await;
    let mut kinds: Vec<&str> = kept.iter().map(|r| r["type"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["t2i", "t2v"], "the good picture and video are kept");
}

async fn an_import_naming_one_file_many_times_is_refused_before_any_work(app: &TestApp) {
    let token = app.user("many_names").await;
    let picture = png(64, 64);
    let items = (0..25)
        .map(|_| item("files/same.png", &picture, "t2i"))
        .collect();
    let (status, body) = import(app, &token, archive(&[("files/same.png", &picture)], items)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 400);
    assert!(body["message"].as_str().unwrap().contains("两次"), "{body}");
    assert!(results(app, &token).await.is_empty());
    assert_healthy(app).await;
}

async fn an_import_larger_than_the_limit_is_refused(app: &TestApp) {
    let small = TestApp::builder(app.backend())
        .config(|c| c.limits.import_bytes = 64 * 1024)
        .start()
        .await
        .unwrap();
    let token = small.user("big_importer").await;
    // Files that add up past the limit, in an archive that is itself under it would be
    // refused just the same; here both are over.
    let (a, b) = (noise(40 * 1024, 1), noise(40 * 1024, 2));
    let zip = archive(
        &[("files/a.png", &a), ("files/b.png", &b)],
        vec![
            item("files/a.png", &a, "t2i"),
            item("files/b.png", &b, "t2i"),
        ],
    );
    let (status, body) = import(&small, &token, zip).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], 413);
    // Under the limit, an archive goes through.
    let picture = png(16, 16);
    let zip = archive(
        &[("files/a.png", &picture)],
        vec![item("files/a.png", &picture, "t2i")],
    );
    let (status, body) = import(&small, &token, zip).await;
    assert_eq!(
        (status, &body["data"]["imported"]),
        (StatusCode::OK, &json!(1))
    );
    assert_healthy(&small).await;
    small.stop().await;
}

fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

async fn an_imported_decompression_bomb_is_skipped_within_bounded_memory(app: &TestApp) {
    let token = app.user("bomb_importer").await;
    // 10000 x 10000 RGB is 300 MB decoded; uploads refuse it, and so must imports.
    let bomb = png_claiming(10_000);
    let good = png(20, 20);
    let zip = archive(
        &[("files/bomb.png", &bomb), ("files/good.png", &good)],
        vec![
            item("files/bomb.png", &bomb, "t2i"),
            item("files/good.png", &good, "t2i"),
        ],
    );
    let before = vm_mib("VmHWM:");
    let (status, body) = import(app, &token, zip).await;
    let grew = vm_mib("VmHWM:").saturating_sub(before);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["imported"], 1, "{body}");
    assert_eq!(body["data"]["skipped_items"][0]["reason"], "unreadable");
    assert!(grew < 200, "peak memory grew by {grew} MiB");
    assert_healthy(app).await;
}

fn temp_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let dir = picturedeck::library::archive::temp_dir(&app.state.config.data_dir());
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Starts an import whose body sends `first` and then waits for `release` before ending
/// (with an error, as a client that went away).
fn hanging_import(
    app: &TestApp,
    token: &str,
    first: Vec<u8>,
) -> (
    tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
        futures_util::stream::once(async move {
            let _ = released.await;
            Err(std::io::Error::other("the client went away"))
        }),
    );
    let request = reqwest::Client::new()
        .post(app.at("/api/v1/library/import"))
        .bearer_auth(token)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    (tokio::spawn(request), release)
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_aborted_import_leaves_no_temporary_file(app: &TestApp) {
    let token = app.user("aborter").await;
    let (request, release) = hanging_import(app, &token, vec![7u8; 256 * 1024]);
    wait_for("the import spools to a temporary file", || {
        !temp_files(app).is_empty()
    })
    .await;
    drop(release);
    let _ = request.await;
    wait_for("the temporary file deletes itself", || {
        temp_files(app).is_empty()
    })
    .await;
    assert_healthy(app).await;
}

async fn a_user_runs_one_import_at_a_time(app: &TestApp) {
    let token = app.user("busy_importer").await;
    let (request, release) = hanging_import(app, &token, vec![1u8; 1024]);
    wait_for("the first import is running", || {
        !temp_files(app).is_empty()
    })
    .await;
    let picture = png(16, 16);
    let zip = archive(
        &[("files/a.png", &picture)],
        vec![item("files/a.png", &picture, "t2i")],
    );
    let (status, body) = import(app, &token, zip.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], 429);
    assert!(body["message"].as_str().unwrap().contains("导入"), "{body}");
    // Someone else is not held up.
    let other = app.user("other_importer").await;
    let (status, _) = import(app, &other, zip.clone()).await;
    assert_eq!(status, StatusCode::OK);
    drop(release);
    let _ = request.await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = import(app, &token, zip.clone()).await;
        if status == StatusCode::OK {
            assert_eq!(body["data"]["imported"], 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot was never freed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- uploads ----------------------------------------------------------------------------

async fn upload(app: &TestApp, token: &str, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let _ = app;
    let res = req.bearer_auth(token).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn uploads_of_hostile_images_are_refused_and_forms_work(app: &TestApp) {
    let token = app.user("hostile_uploader").await;
    let client = reqwest::Client::new();
    let url = app.at("/api/v1/upload");
    let before = vm_mib("VmHWM:");
    for bad in [
        png_claiming(10_000),
        png_claiming(u32::MAX),
        mp4_zero_samples_per_chunk(),
    ] {
        let (status, body) = upload(app, &token, client.post(&url).body(bad)).await;
        assert!(status.is_client_error(), "{status} {body}");
    }
    let grew = vm_mib("VmHWM:").saturating_sub(before);
    assert!(grew < 200, "peak memory grew by {grew} MiB");
    // A form as `curl -F file=@a.png` sends it.
    let form = reqwest::multipart::Form::new().text("note", "hi").part(
        "file",
        reqwest::multipart::Part::bytes(png(30, 20))
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (status, body) = upload(app, &token, client.post(&url).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["data"]["width"].as_i64(),
            body["data"]["height"].as_i64()
        ),
        (Some(30), Some(20))
    );
    let form = reqwest::multipart::Form::new().text("note", "no file");
    let (status, body) = upload(app, &token, client.post(&url).multipart(form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_healthy(app).await;
}

// ---- vendors ----------------------------------------------------------------------------

/// A DashScope-like vendor gone bad: its video results have poisoned sample tables, and a
/// prompt with "[endless]" gets a 500 whose body never ends (no Content-Length).
async fn hostile_vendor() -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{web, HttpRequest, HttpResponse};
    async fn answer(req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let path = req.path();
        if path.starts_with("/files/") {
            return HttpResponse::Ok()
                .content_type("video/mp4")
                .body(mp4_zero_samples_per_chunk());
        }
        if let Some(id) = path.strip_prefix("/api/v1/tasks/") {
            let url = format!("http://{}/files/{id}.mp4", req.connection_info().host());
            return HttpResponse::Ok().json(
                json!({"output": {"task_id": id, "task_status": "SUCCEEDED", "video_url": url}}),
            );
        }
        if String::from_utf8_lossy(&body).contains("[endless]") {
            // 1 MiB chunks for up to 1 GiB: far past any cap of ours.
            let chunks = futures_util::stream::iter(0..1024)
                .map(|_| Ok::<_, std::io::Error>(web::Bytes::from(vec![b'x'; 1024 * 1024])));
            return HttpResponse::InternalServerError().streaming(chunks);
        }
        HttpResponse::Ok().json(json!({"output": {"task_id": "bad-1", "task_status": "PENDING"}}))
    }
    crate::support::loopback::serve(|app| {
        app.default_service(web::to(answer));
    })
}

async fn app_with_vendor(backend: crate::support::Backend, base: String) -> TestApp {
    TestApp::builder(backend)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.engine.retry_base_ms = 50;
            c.engine.poll_interval_ms = 50;
            c.engine.max_attempts = 1;
            c.providers.push(ProviderConfig {
                name: "wan".into(),
                kind: ProviderKind::Dashscope,
                concurrency: 2,
                base_url: Some(base),
                api_key: Some("sk-hostile".into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 30,
                requests_per_minute: 0,
                models: vec![ModelConfig {
                    name: "wan-t2v".into(),
                    label: None,
                    kinds: vec![Kind::T2v],
                    ..ModelConfig::default()
                }],
            });
        })
        .start()
        .await
        .unwrap()
}

async fn finished(app: &TestApp, token: &str, prompt: &str) -> Value {
    let task = json!({"type": "t2v", "prompt": prompt, "model": "wan/wan-t2v"});
    crate::providers::run_task(app, token, task).await
}

on_both_backends!(a_hostile_vendor_fails_its_tasks_not_the_server);

async fn a_hostile_vendor_fails_its_tasks_not_the_server(app: &TestApp) {
    let (base, vendor) = hostile_vendor().await;
    let app2 = app_with_vendor(app.backend(), base).await;
    let token = app2.user("vendor_victim").await;
    let task = finished(&app2, &token, "a poisoned clip").await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_healthy(&app2).await;

    let before = vm_mib("VmHWM:");
    let task = finished(&app2, &token, "[endless] error body").await;
    let grew = vm_mib("VmHWM:").saturating_sub(before);
    assert_eq!(task["status"], "failed", "{task}");
    assert!(
        grew < 200,
        "peak memory grew by {grew} MiB reading an error body"
    );
    assert_healthy(&app2).await;
    app2.stop().await;
    vendor.stop(false).await;
}

// ---- folders ----------------------------------------------------------------------------

async fn new_folder(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/library/folders",
            Some(token),
            json!({"name": name}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

async fn move_folder(app: &TestApp, token: &str, id: &str, parent: &str) -> StatusCode {
    reqwest::Client::new()
        .patch(app.at(&format!("/api/v1/library/folders/{id}")))
        .bearer_auth(token)
        .json(&json!({"parent": parent}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Folders reachable from the top of the tree; one in a cycle is not.
fn count(tree: &Value) -> usize {
    tree.as_array()
        .map(|list| list.iter().map(|f| 1 + count(&f["children"])).sum())
        .unwrap_or(0)
}

on_both_backends!(
    concurrent_crossed_folder_moves_never_make_a_cycle,
    an_export_walk_stops_at_a_cycle_in_the_data
);

async fn concurrent_crossed_folder_moves_never_make_a_cycle(app: &TestApp) {
    let token = app.user("mover").await;
    let (a, b) = (
        new_folder(app, &token, "A").await,
        new_folder(app, &token, "B").await,
    );
    for _ in 0..15 {
        // A into B and B into A at once: one must see the other's move and refuse.
        let (x, y) = tokio::join!(
            move_folder(app, &token, &a, &b),
            move_folder(app, &token, &b, &a)
        );
        assert!(x.is_success() || y.is_success(), "{x} {y}");
        let (_, tree) = app.get("/api/v1/library/folders", Some(&token)).await;
        assert_eq!(count(&tree["data"]), 2, "a cycle hid the folders: {tree}");
        move_folder(app, &token, &a, "root").await;
        move_folder(app, &token, &b, "root").await;
    }
}

async fn an_export_walk_stops_at_a_cycle_in_the_data(app: &TestApp) {
    let token = app.user("cycler").await;
    let a = new_folder(app, &token, "A").await;
    let b = new_folder(app, &token, "B").await;
    assert!(move_folder(app, &token, &b, &a).await.is_success());
    // As a race before this fix could leave it: A's parent is B, B's parent is A.
    let (a_id, b_id) = (a.clone(), b.clone());
    app.state
        .db
        .run(move |conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute(&format!(
                "UPDATE collections SET parent_id = (SELECT id FROM collections WHERE uuid = '{b_id}'), \
                 parent_key = (SELECT id FROM collections WHERE uuid = '{b_id}') WHERE uuid = '{a_id}'"
            ))
            .map_err(|e| picturedeck::error::AppError::internal(e, "test sql"))
        })
        .await
        .unwrap();
    let res = reqwest::Client::new()
        .get(app.at(&format!("/api/v1/library/export?folder={a}")))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("the export answers instead of walking in circles");
    assert_eq!(res.status(), StatusCode::OK);
    let zip = res.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    assert!(archive.by_name("manifest.json").is_ok());
    assert_healthy(app).await;
}
