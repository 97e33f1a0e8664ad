//! The OpenAI adapter through real HTTP against a loopback fake of the vendor's contract.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fakes::{Answer, FakeVendor};
use crate::support::{Backend, TestApp};

const KEY: &str = "sk-test-never-logged-123";

async fn app_with_openai(fake: &FakeVendor) -> TestApp {
    let base = fake.url.clone();
    TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.engine.retry_base_ms = 50;
            c.engine.poll_interval_ms = 50;
            c.providers.push(ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                concurrency: 2,
                base_url: Some(base),
                api_key: Some(KEY.into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 1,
                requests_per_minute: 0,
                models: vec![ModelConfig {
                    name: "gpt-image-1".into(),
                    label: None,
                    kinds: vec![Kind::T2i, Kind::I2i],
                    ..ModelConfig::default()
                }],
            });
        })
        .start()
        .await
        .unwrap()
}

/// Submits a task and waits until it is final; returns its `data`.
pub async fn run_task(app: &TestApp, token: &str, body: Value) -> Value {
    let id = app.submit_task(token, body).await;
    app.wait_final(token, &id).await["data"].clone()
}

pub(crate) async fn outcomes(app: &TestApp, task_id: &str) -> Vec<String> {
    let id = task_id.to_string();
    app.state
        .db
        .run(move |conn| {
            let g = picturedeck::generation::store::find_by_uuid(conn, &id)?.unwrap();
            Ok(picturedeck::generation::store::calls_of(conn, g.id)?)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(op, outcome)| format!("{op}:{outcome}"))
        .collect()
}

/// When each provider call of a task was recorded (at its end) and how long it took, in order.
pub(crate) async fn call_times(app: &TestApp, task_id: &str) -> Vec<(chrono::NaiveDateTime, i64)> {
    let id = task_id.to_string();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::api_calls;
            let g = picturedeck::generation::store::find_by_uuid(conn, &id)?.unwrap();
            Ok(api_calls::table
                .filter(api_calls::generation_id.eq(g.id))
                .order(api_calls::id)
                .select((api_calls::created_at, api_calls::latency_ms))
                .load(conn)?)
        })
        .await
        .unwrap()
}

/// Every submit of a task that met three transient errors, then got through.
pub(crate) const RETRIED_THRICE: [&str; 4] = [
    "submit:transient",
    "submit:transient",
    "submit:transient",
    "submit:ok",
];

/// Runs `task` against a fake scripted with three transient errors, a 429 with Retry-After: 1
/// first: it completes on the fourth attempt after those three submits, and the second call
/// starts 1 s after the 429 was recorded, not after the short backoff (a row is written when
/// its call ends, so the call's own latency is taken off). Returns the task and its calls.
pub(crate) async fn completes_after_three_transient_errors(
    app: &TestApp,
    token: &str,
    task: Value,
) -> (Value, Vec<String>) {
    let task = run_task(app, token, task).await;
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_i64()),
        (Some("completed"), Some(4)),
        "{task}"
    );
    let id = task["task_id"].as_str().unwrap();
    let calls = outcomes(app, id).await;
    assert_eq!(calls[..4], RETRIED_THRICE);
    let rows = call_times(app, id).await;
    let waited = (rows[1].0 - rows[0].0).num_milliseconds() - rows[1].1;
    assert!(
        (1000..3000).contains(&waited),
        "Retry-After: 1 honoured, waited {waited} ms: {rows:?}"
    );
    (task, calls)
}

/// Waits until the vendor has task `id` and we have its remote id; returns that.
pub(crate) async fn remote_id_saved(app: &TestApp, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let uuid = id.to_string();
        let remote = app
            .state
            .db
            .run(move |conn| {
                Ok(picturedeck::generation::store::find_by_uuid(conn, &uuid)?
                    .and_then(|g| g.remote_task_id))
            })
            .await
            .unwrap();
        if let Some(remote) = remote {
            return remote;
        }
        assert!(Instant::now() < deadline, "the remote id was never saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until task `id` has been polled once.
pub(crate) async fn polled(app: &TestApp, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !outcomes(app, id).await.iter().any(|c| c == "poll:ok") {
        assert!(Instant::now() < deadline, "never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until task `id`'s last call is a cancel that got through.
pub(crate) async fn cancel_recorded(app: &TestApp, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let calls = outcomes(app, id).await;
        if calls.last().map(String::as_str) == Some("cancel:ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no cancel call recorded: {calls:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads the sample PNG as a reference; returns its file id.
pub(crate) async fn upload_sample(app: &TestApp, token: &str) -> String {
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/upload"))
        .bearer_auth(token)
        .body(crate::support::fakes::sample_png())
        .send()
        .await
        .unwrap();
    let up: Value = res.json().await.unwrap();
    up["data"]["file_id"].as_str().unwrap().to_string()
}

fn t2i() -> Value {
    json!({"type": "t2i", "prompt": "a lighthouse in fog", "model": "openai/gpt-image-1", "params": {"size": "1536x1024"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_text_to_image_follows_the_contract() {
    let fake = FakeVendor::openai().await;
    let app = app_with_openai(&fake).await;
    let token = app.user("oa_user").await;
    let (_, models) = app.get("/api/v1/models", Some(&token)).await;
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "openai/gpt-image-1" && m["offline"] == false));

    let task = run_task(&app, &token, t2i()).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        (task["width"].as_i64(), task["height"].as_i64()),
        (Some(64), Some(48))
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/v1/images/generations")
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent["model"], "gpt-image-1");
    assert_eq!(sent["prompt"], "a lighthouse in fog");
    assert_eq!(sent["size"], "1536x1024");
    assert_eq!(
        outcomes(&app, task["task_id"].as_str().unwrap()).await,
        ["submit:ok"]
    );
    let stored = reqwest::get(app.at(task["result_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        image::load_from_memory(&stored).is_ok(),
        "the vendor's image was copied into our store"
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_image_edit_sends_the_reference_as_multipart() {
    let fake = FakeVendor::openai().await;
    let app = app_with_openai(&fake).await;
    let token = app.user("editor").await;
    let file_id = upload_sample(&app, &token).await;
    let task = run_task(&app, &token, json!({"type": "i2i", "prompt": "make it an oil painting", "images": [file_id], "model": "openai/gpt-image-1"})).await;
    assert_eq!(task["status"], "completed", "{task}");
    let seen = &fake.seen()[0];
    assert_eq!(seen.path, "/v1/images/edits");
    assert!(seen.content_type.starts_with("multipart/form-data"));
    let body = String::from_utf8_lossy(&seen.body);
    assert!(
        body.contains("name=\"image[]\"")
            && body.contains("make it an oil painting")
            && seen.body.windows(4).any(|w| w == b"IHDR")
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_outages_and_timeouts_are_retried() {
    let fake = FakeVendor::openai().await;
    let app = app_with_openai(&fake).await;
    let token = app.user("unlucky").await;
    fake.script([
        Answer::Status { status: 429, body: r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#.into(), retry_after: Some(1) },
        Answer::Status { status: 503, body: r#"{"error":{"message":"overloaded","type":"server_error"}}"#.into(), retry_after: None },
        Answer::Slow(Duration::from_millis(1500)),
    ]);
    let (task, calls) = completes_after_three_transient_errors(&app, &token, t2i()).await;
    let rows = call_times(&app, task["task_id"].as_str().unwrap()).await;
    let backoff = (rows[2].0 - rows[1].0).num_milliseconds() - rows[2].1;
    assert!(
        backoff < 1000,
        "without Retry-After the short backoff applies, waited {backoff} ms"
    );
    assert_eq!(calls, RETRIED_THRICE);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webp_and_jpeg_vendor_results_are_stored_with_the_aigc_label() {
    let fake = FakeVendor::openai().await;
    let app = app_with_openai(&fake).await;
    let token = app.user("formats").await;
    // A WebP with a transparent corner, and a JPEG, as gpt-image-1 returns for output_format.
    let rgba = image::RgbaImage::from_fn(40, 30, |x, y| {
        image::Rgba([
            (x * 6) as u8,
            (y * 8) as u8,
            200,
            if x < 5 && y < 5 { 0 } else { 255 },
        ])
    });
    let mut webp = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(rgba)
        .write_to(&mut webp, image::ImageFormat::WebP)
        .unwrap();
    let jpeg = picturedeck::storage::images::encode_jpeg(&image::DynamicImage::ImageRgb8(
        image::RgbImage::from_fn(48, 32, |x, y| {
            image::Rgb([(x * 5) as u8, 90, (y * 7) as u8])
        }),
    ))
    .unwrap();
    fake.script([
        Answer::ImageBytes(webp.into_inner()),
        Answer::ImageBytes(jpeg),
    ]);
    let fetch = |task: &Value| {
        let url = app.at(task["result_url"].as_str().unwrap());
        async move {
            let res = reqwest::get(url).await.unwrap();
            let mime = res.headers()["content-type"].to_str().unwrap().to_string();
            (mime, res.bytes().await.unwrap().to_vec())
        }
    };
    let label_of = |bytes: &[u8], task: &Value| {
        let text = String::from_utf8_lossy(bytes);
        let start = text.find("<x:xmpmeta").expect("an XMP packet");
        let end = text.find("</x:xmpmeta>").expect("a whole XMP packet");
        let aigc = picturedeck::storage::label::aigc_of(&text[start..end]).expect("TC260:AIGC");
        assert_eq!(aigc["ProduceID"], task["task_id"]);
        assert_eq!(aigc["Label"], "1");
    };

    // The WebP is kept as a labelled PNG, transparency and all.
    let task = run_task(&app, &token, t2i()).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["mime"], "image/png");
    let (mime, bytes) = fetch(&task).await;
    assert_eq!(mime, "image/png");
    label_of(&bytes, &task);
    let png = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(png.dimensions(), (40, 30));
    assert_eq!((png.get_pixel(1, 1)[3], png.get_pixel(20, 20)[3]), (0, 255));

    // The JPEG stays a JPEG, labelled in its own XMP segment, with a thumbnail.
    let task = run_task(&app, &token, t2i()).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["mime"], "image/jpeg");
    let (mime, bytes) = fetch(&task).await;
    assert_eq!(mime, "image/jpeg");
    assert_eq!(&bytes[..2], b"\xff\xd8");
    label_of(&bytes, &task);
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 48);
    let thumb = reqwest::get(app.at(task["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_fail_at_once_with_a_reason_people_understand() {
    let fake = FakeVendor::openai().await;
    let app = app_with_openai(&fake).await;
    let token = app.user("refused").await;
    let cases = [
        (Answer::Status { status: 400, body: r#"{"error":{"message":"Your request was rejected by the safety system","type":"image_generation_user_error","code":"moderation_blocked"}}"#.into(), retry_after: None }, "gen_err.moderation", "安全审核"),
        (Answer::Status { status: 401, body: r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#.into(), retry_after: None }, "gen_err.auth", "API 密钥"),
        (Answer::Status { status: 400, body: r#"{"error":{"message":"Invalid size","type":"invalid_request_error","param":"size"}}"#.into(), retry_after: None }, "gen_err.bad_request", "参数"),
        (Answer::Garbage, "gen_err.bad_output", "无法识别"),
    ];
    for (answer, code, words) in cases {
        fake.script([answer]);
        let task = run_task(&app, &token, t2i()).await;
        assert_eq!(task["status"], "failed", "{task}");
        assert_eq!(task["attempts"], 1, "no retry for {code}");
        assert_eq!(task["error"]["code"], code);
        assert!(
            task["error"]["message"].as_str().unwrap().contains(words),
            "{task}"
        );
    }
    // The key never shows up in what we store about failures.
    let details = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::generations::dsl::*;
            Ok(generations
                .select(error_detail)
                .load::<Option<String>>(conn)?)
        })
        .await
        .unwrap();
    assert!(details.iter().flatten().all(|d| !d.contains(KEY)));
    app.stop().await;
    fake.stop().await;
}

pub(crate) async fn app_with_wan(fake: &FakeVendor, backend: Backend) -> Option<TestApp> {
    let base = fake.url.clone();
    TestApp::builder(backend)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.engine.retry_base_ms = 50;
            c.engine.poll_interval_ms = 50;
            c.engine.lease_seconds = 5;
            c.providers.push(ProviderConfig {
                name: "wan".into(),
                kind: ProviderKind::Dashscope,
                concurrency: 4,
                base_url: Some(base),
                api_key: Some(KEY.into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 5,
                requests_per_minute: 0,
                models: [
                    ("wan2.2-t2i-flash", Kind::T2i),
                    ("wan2.5-i2i-preview", Kind::I2i),
                    ("wan2.2-t2v-plus", Kind::T2v),
                    ("wan2.2-kf2v-flash", Kind::I2v),
                ]
                .map(|(name, kind)| ModelConfig {
                    name: name.into(),
                    label: None,
                    kinds: vec![kind],
                    ..ModelConfig::default()
                })
                .into(),
            });
        })
        .start()
        .await
}

fn wan_t2i(prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": "wan/wan2.2-t2i-flash", "params": {"size": "1280*720", "seed": 42}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_text_to_image_is_submitted_once_then_polled() {
    let fake = FakeVendor::dashscope().await;
    let app = app_with_wan(&fake, Backend::Sqlite).await.unwrap();
    let token = app.user("wan_user").await;
    fake.script([Answer::Status { status: 429, body: r#"{"request_id":"r","code":"Throttling.RateQuota","message":"Requests rate limit exceeded"}"#.into(), retry_after: None }]);
    let task = run_task(&app, &token, wan_t2i("江南水乡")).await;
    assert_eq!(task["status"], "completed", "{task}");
    let submits = fake.submits();
    assert_eq!(submits.len(), 2, "one throttled submit, one accepted");
    assert_eq!(
        submits[1].path,
        "/api/v1/services/aigc/text2image/image-synthesis"
    );
    assert_eq!(
        submits[1].content_type, "enable",
        "X-DashScope-Async header"
    );
    assert_eq!(
        submits[1].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let sent: Value = serde_json::from_slice(&submits[1].body).unwrap();
    assert_eq!(sent["model"], "wan2.2-t2i-flash");
    assert_eq!(sent["input"]["prompt"], "江南水乡");
    assert_eq!(sent["parameters"]["size"], "1280*720");
    assert_eq!(sent["parameters"]["seed"], 42);
    let calls = outcomes(&app, task["task_id"].as_str().unwrap()).await;
    assert_eq!(calls[..2], ["submit:transient", "submit:ok"]);
    assert!(
        calls[2..].iter().all(|c| c == "poll:ok") && calls.len() >= 4,
        "{calls:?}"
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_refusals_and_expired_tasks_fail_with_reasons() {
    let fake = FakeVendor::dashscope().await;
    let app = app_with_wan(&fake, Backend::Sqlite).await.unwrap();
    let token = app.user("wan_refused").await;
    let task = run_task(&app, &token, wan_t2i("something [moderation]")).await;
    assert_eq!(
        (task["status"].as_str(), task["error"]["code"].as_str()),
        (Some("failed"), Some("gen_err.moderation"))
    );
    let task = run_task(&app, &token, wan_t2i("old [expired]")).await;
    assert_eq!(
        (task["status"].as_str(), task["error"]["code"].as_str()),
        (Some("failed"), Some("gen_err.expired"))
    );
    fake.script([Answer::Status { status: 400, body: r#"{"request_id":"r","code":"DataInspectionFailed","message":"Input text data may contain inappropriate content."}"#.into(), retry_after: None }]);
    let task = run_task(&app, &token, wan_t2i("refused at submit")).await;
    assert_eq!(task["error"]["code"], "gen_err.moderation");
    assert_eq!(task["attempts"], 1);
    fake.script([Answer::Status {
        status: 401,
        body: r#"{"request_id":"r","code":"InvalidApiKey","message":"Invalid API-key provided."}"#
            .into(),
        retry_after: None,
    }]);
    let task = run_task(&app, &token, wan_t2i("bad key")).await;
    assert_eq!(task["error"]["code"], "gen_err.auth");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_keyframes_to_video_sends_first_and_last_frame() {
    let fake = FakeVendor::dashscope().await;
    let app = app_with_wan(&fake, Backend::Sqlite).await.unwrap();
    let token = app.user("wan_video").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(upload_sample(&app, &token).await);
    }
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2v", "prompt": "花开", "images": ids, "model": "wan/wan2.2-kf2v-flash"}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["mime"], "video/mp4");
    let sent: Value = serde_json::from_slice(&fake.submits()[0].body).unwrap();
    assert_eq!(
        fake.submits()[0].path,
        "/api/v1/services/aigc/image2video/video-synthesis"
    );
    assert!(sent["input"]["first_frame_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert!(sent["input"]["last_frame_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let video = reqwest::get(app.at(task["result_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(video.headers()["content-type"], "video/mp4");
    assert_eq!(&video.bytes().await.unwrap()[4..8], b"ftyp");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_text_to_video_image_edit_and_one_picture_to_video() {
    let fake = FakeVendor::dashscope().await;
    let app = app_with_wan(&fake, Backend::Sqlite).await.unwrap();
    let token = app.user("wan_more").await;
    let file_id = upload_sample(&app, &token).await;
    let sent = |i: usize| {
        let submit = &fake.submits()[i];
        (
            submit.path.clone(),
            serde_json::from_slice::<Value>(&submit.body).unwrap(),
        )
    };
    let is_data_url = |v: &Value| {
        v.as_str()
            .unwrap_or("")
            .starts_with("data:image/png;base64,")
    };

    let task = run_task(
        &app,
        &token,
        json!({"type": "t2v", "prompt": "海浪", "model": "wan/wan2.2-t2v-plus",
        "params": {"size": "1280*720", "duration": 5}}),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("video/mp4")),
        "{task}"
    );
    let (path, body) = sent(0);
    assert_eq!(
        path,
        "/api/v1/services/aigc/video-generation/video-synthesis"
    );
    assert_eq!(
        (
            body["model"].as_str(),
            body["input"]["prompt"].as_str(),
            body["parameters"]["size"].as_str(),
            body["parameters"]["duration"].as_i64()
        ),
        (
            Some("wan2.2-t2v-plus"),
            Some("海浪"),
            Some("1280*720"),
            Some(5)
        )
    );
    let video = reqwest::get(app.at(task["result_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(&video.bytes().await.unwrap()[4..8], b"ftyp");

    let task = run_task(&app, &token, json!({"type": "i2i", "prompt": "水彩", "model": "wan/wan2.5-i2i-preview", "images": [file_id]})).await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/png")),
        "{task}"
    );
    let (path, body) = sent(1);
    assert_eq!(path, "/api/v1/services/aigc/image2image/image-synthesis");
    assert_eq!(body["model"], "wan2.5-i2i-preview");
    assert!(is_data_url(&body["input"]["images"][0]), "{body}");
    assert_eq!(body["input"]["images"].as_array().map(Vec::len), Some(1));

    let task = run_task(&app, &token, json!({"type": "i2v", "prompt": "微风", "model": "wan/wan2.2-kf2v-flash", "images": [file_id]})).await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("video/mp4")),
        "{task}"
    );
    let (path, body) = sent(2);
    assert_eq!(
        path, "/api/v1/services/aigc/video-generation/video-synthesis",
        "one picture: the image-to-video endpoint"
    );
    assert!(is_data_url(&body["input"]["img_url"]), "{body}");
    assert!(body["input"]["first_frame_url"].is_null());
    assert_eq!(fake.submits().len(), 3, "each task submitted once");
    app.stop().await;
    fake.stop().await;
}

crate::on_both_backends!(a_paid_remote_task_survives_a_crash_without_a_second_submit);

async fn a_paid_remote_task_survives_a_crash_without_a_second_submit(app: &TestApp) {
    // This test brings its own Wan-enabled app on the same backend.
    let fake = FakeVendor::dashscope().await;
    let Some(wan_app) = app_with_wan(&fake, app.backend()).await else {
        return;
    };
    let token = wan_app.user("crash_user").await;
    let (_, answer) = wan_app
        .post(
            "/api/v1/generation",
            Some(&token),
            wan_t2i("long job [slow]"),
        )
        .await;
    let id = answer["data"]["task_id"].as_str().unwrap().to_string();
    // Wait until the vendor has the task and we have its id, then "kill" the worker.
    remote_id_saved(&wan_app, &id).await;
    wan_app.stop_engine();
    // The lease runs out as if the process had died; a new engine takes over.
    wan_app
        .sql("UPDATE generations SET lease_expires_at = '2000-01-01 00:00:00'")
        .await;
    let engine = tokio::spawn(picturedeck::generation::engine::run(wan_app.state.clone()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (_, body) = wan_app
            .get(&format!("/api/v1/generation/{id}"), Some(&token))
            .await;
        if body["data"]["status"] == "completed" {
            break body;
        }
        assert!(Instant::now() < deadline, "never completed: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    engine.abort();
    assert_eq!(
        fake.submits().len(),
        1,
        "the paid task was never submitted twice"
    );
    assert_eq!(done["data"]["attempts"], 2);
    wan_app.stop().await;
    fake.stop().await;
}

crate::on_both_backends!(a_canceled_wan_task_is_canceled_at_dashscope_too);

async fn a_canceled_wan_task_is_canceled_at_dashscope_too(app: &TestApp) {
    let fake = FakeVendor::dashscope().await;
    let Some(wan_app) = app_with_wan(&fake, app.backend()).await else {
        return;
    };
    let token = wan_app.user("wan_cancel").await;
    let id = wan_app
        .submit_task(&token, wan_t2i("waits in line [queued]"))
        .await;
    polled(&wan_app, &id).await;
    let (status, body) = wan_app.task_action(&token, &id, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cancel_recorded(&wan_app, &id).await;
    let cancel = fake
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/cancel"))
        .expect("a cancel call");
    assert_eq!(
        (cancel.method.as_str(), cancel.path.as_str()),
        ("POST", "/api/v1/tasks/wan-task-1/cancel")
    );
    assert_eq!(
        cancel.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let task = wan_app.wait_final(&token, &id).await;
    assert_eq!(task["data"]["status"], "canceled");
    wan_app.stop().await;
    fake.stop().await;
}
