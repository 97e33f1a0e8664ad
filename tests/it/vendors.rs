//! The Stability AI, Volcengine Ark (Seedream, Seedance), Kling, Tencent Hunyuan,
//! OpenAI-compatible and local AUTOMATIC1111 webui and ComfyUI adapters through
//! real HTTP against loopback fakes of their documented contracts (`support/vendors.rs`): the
//! requests they send, the error matrix every adapter passes (429 + Retry-After, 5xx, timeout,
//! malformed body, moderation refusal, bad key, expired task, cancel where the vendor has it)
//! and the AIGC label on what they return — on SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::providers::{
    cancel_recorded, completes_after_three_transient_errors, outcomes, polled, remote_id_saved,
    run_task, upload_sample, RETRIED_THRICE,
};
use crate::support::vendors::{sample_jpeg, Fake, Reply};
use crate::support::{Backend, TestApp};

const STABILITY_KEY: &str = "sk-stability-test-123";
/// The only key the Ark fake accepts.
const ARK_KEY: &str = "ark-test-key";

/// A `[[providers]]` table as the configuration file gives it.
pub(crate) fn provider(name: &str, kind: &str, base: String, key: &str, models: Value) -> Value {
    json!({"name": name, "kind": kind, "base_url": base, "api_key": key, "concurrency": 4,
           "timeout_seconds": 3, "models": models})
}

/// The app with these providers, fast retries and polls; `None` when the backend is missing.
pub(crate) async fn app_with(backend: Backend, providers: Vec<Value>) -> Option<TestApp> {
    TestApp::builder(backend)
        .config(move |c| {
            c.engine.retry_base_ms = 50;
            c.engine.poll_interval_ms = 50;
            c.engine.lease_seconds = 5;
            for p in providers {
                c.providers
                    .push(serde_json::from_value(p).expect("a valid [[providers]] table"));
            }
        })
        .start()
        .await
}

/// The stored result's bytes and type.
async fn fetch(app: &TestApp, task: &Value) -> (String, Vec<u8>) {
    let res = reqwest::get(app.at(task["result_url"].as_str().unwrap()))
        .await
        .unwrap();
    let mime = res.headers()["content-type"].to_str().unwrap().to_string();
    (mime, res.bytes().await.unwrap().to_vec())
}

/// The stored result carries the GB 45438-2025 implicit label naming this task.
async fn assert_labelled(app: &TestApp, task: &Value) -> (String, Vec<u8>) {
    let (mime, bytes) = fetch(app, task).await;
    assert_eq!(mime, task["mime"], "{task}");
    let text = String::from_utf8_lossy(&bytes);
    let start = text.find("<x:xmpmeta").expect("an XMP packet");
    let end = text.find("</x:xmpmeta>").expect("a whole XMP packet");
    let aigc = picturedeck::storage::label::aigc_of(&text[start..end]).expect("TC260:AIGC");
    assert_eq!(aigc["ProduceID"], task["task_id"]);
    assert_eq!(aigc["Label"], "1");
    (mime, bytes)
}

fn failed_with(task: &Value, code: &str) {
    assert_eq!(
        (task["status"].as_str(), task["error"]["code"].as_str()),
        (Some("failed"), Some(code)),
        "{task}"
    );
    assert_eq!(task["attempts"], 1, "no retry for {code}: {task}");
}

/// The refusals of an error matrix: for each case its reply is scripted (when it has one), its
/// task run, and the task fails at once with its code.
async fn each_fails_at_once(
    fake: &Fake,
    app: &TestApp,
    token: &str,
    cases: Vec<(Option<Reply>, Value, &str)>,
) {
    for (reply, task, code) in cases {
        fake.script(reply);
        failed_with(&run_task(app, token, task).await, code);
    }
}

/// For a vendor with no cancel call: canceling task `id` stops our polling and sends nothing.
async fn cancel_sends_nothing(app: &TestApp, fake: &Fake, token: &str, id: &str) {
    let (status, body) = app.task_action(token, id, "cancel").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = fake.calls().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.calls().len(), seen, "no more polls after the cancel");
    assert!(!outcomes(app, id)
        .await
        .iter()
        .any(|c| c.starts_with("cancel")));
}

// ---------------------------------------------------------------- Stability AI v2beta

async fn stability_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    app_with(
        backend,
        vec![
            provider(
                "stability",
                "stability",
                fake.url.clone(),
                STABILITY_KEY,
                json!([
                    {"name": "ultra", "kinds": ["t2i", "i2i"]},
                    {"name": "core", "kinds": ["t2i"]},
                    {"name": "sd3.5-large", "kinds": ["t2i", "i2i"]},
                    {"name": "sd3.5-large-turbo", "kinds": ["t2i"]},
                    {"name": "sd3.5-medium", "kinds": ["t2i", "i2i"]},
                ]),
            ),
            // A key the vendor does not know.
            provider(
                "stability_badkey",
                "stability",
                fake.url.clone(),
                "not-a-key",
                json!([{"name": "core", "kinds": ["t2i"]}]),
            ),
        ],
    )
    .await
}

fn sai_t2i(model: &str, prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": format!("stability/{model}"),
           "params": {"aspect": "16:9", "seed": 42, "negative_prompt": "blurry"}})
}

crate::both!(
    stability_text_to_image_sends_the_documented_form_to_each_endpoint,
    stability_image_to_image_sends_the_picture_and_its_strength,
    stability_errors_are_retried_or_refused_with_reasons,
    stability_jpeg_webp_and_json_answers_are_stored_with_the_aigc_label,
);

async fn stability_text_to_image_sends_the_documented_form_to_each_endpoint(backend: Backend) {
    let fake = Fake::stability().await;
    let Some(app) = stability_app(&fake, backend).await else {
        return;
    };
    let token = app.user("sai_user").await;
    let (_, models) = app.get("/api/v1/models", Some(&token)).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"stability/sd3.5-large-turbo"), "{ids:?}");
    let cases = [
        ("ultra", "ultra"),
        ("core", "core"),
        ("sd3.5-large", "sd3"),
        ("sd3.5-large-turbo", "sd3"),
        ("sd3.5-medium", "sd3"),
    ];
    for (i, (model, endpoint)) in cases.into_iter().enumerate() {
        let task = run_task(&app, &token, sai_t2i(model, "a lighthouse in fog")).await;
        assert_eq!(task["status"], "completed", "{model}: {task}");
        assert_eq!(
            (task["width"].as_i64(), task["mime"].as_str()),
            (Some(64), Some("image/png"))
        );
        assert_labelled(&app, &task).await;
        assert_eq!(
            outcomes(&app, task["task_id"].as_str().unwrap()).await,
            ["submit:ok"]
        );
        let call = &fake.calls()[i];
        assert_eq!(
            (call.method.as_str(), call.path.as_str()),
            (
                "POST",
                format!("/v2beta/stable-image/generate/{endpoint}").as_str()
            )
        );
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {STABILITY_KEY}").as_str())
        );
        assert!(
            call.content_type.starts_with("multipart/form-data"),
            "{call:?}"
        );
        assert_eq!(call.accept, "image/*");
        assert_eq!(call.field("prompt").as_deref(), Some("a lighthouse in fog"));
        assert_eq!(call.field("aspect_ratio").as_deref(), Some("16:9"));
        assert_eq!(call.field("seed").as_deref(), Some("42"));
        assert_eq!(call.field("negative_prompt").as_deref(), Some("blurry"));
        assert_eq!(call.field("output_format").as_deref(), Some("png"));
        if endpoint == "sd3" {
            assert_eq!(call.field("model").as_deref(), Some(model));
            assert_eq!(call.field("mode").as_deref(), Some("text-to-image"));
        } else {
            assert_eq!((call.field("model"), call.field("mode")), (None, None));
        }
    }
    // A shape off the list goes out as the nearest listed ratio.
    let task = run_task(
        &app,
        &token,
        json!({"type": "t2i", "prompt": "tall", "model": "stability/core", "params": {"size": "576x1024"}}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        fake.calls()
            .last()
            .unwrap()
            .field("aspect_ratio")
            .as_deref(),
        Some("9:16")
    );
    app.stop().await;
    fake.stop().await;
}

async fn stability_image_to_image_sends_the_picture_and_its_strength(backend: Backend) {
    let fake = Fake::stability().await;
    let Some(app) = stability_app(&fake, backend).await else {
        return;
    };
    let token = app.user("sai_i2i").await;
    let file_id = upload_sample(&app, &token).await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "as an oil painting",
        "images": [file_id], "model": "stability/sd3.5-large", "params": {"strength": 0.35}}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_labelled(&app, &task).await;
    let call = &fake.calls()[0];
    assert_eq!(call.path, "/v2beta/stable-image/generate/sd3");
    assert_eq!(call.field("mode").as_deref(), Some("image-to-image"));
    assert_eq!(call.field("strength").as_deref(), Some("0.35"));
    assert_eq!(call.field("model").as_deref(), Some("sd3.5-large"));
    assert_eq!(
        call.field("aspect_ratio"),
        None,
        "the picture decides the shape"
    );
    let image = crate::support::vendors::form_field(&call.body, "image").expect("an image part");
    assert_eq!(&image[1..4], b"PNG", "the reference itself is sent");

    // Ultra takes a picture too; without a strength the adapter sends its default.
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "at night",
        "images": [file_id], "model": "stability/ultra"}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let call = &fake.calls()[1];
    assert_eq!(call.path, "/v2beta/stable-image/generate/ultra");
    assert_eq!(call.field("strength").as_deref(), Some("0.60"));
    assert_eq!((call.field("mode"), call.field("model")), (None, None));
    app.stop().await;
    fake.stop().await;
}

async fn stability_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::stability().await;
    let Some(app) = stability_app(&fake, backend).await else {
        return;
    };
    let token = app.user("sai_errors").await;
    // 429 with Retry-After, an outage, then a call slower than the 3 s timeout: retried.
    fake.script([
        Reply::Status { status: 429, body: r#"{"id":"r1","name":"rate_limit_exceeded","errors":["You have exceeded the rate limit of 150 requests within a 10 second period"]}"#.into(), retry_after: Some(1) },
        Reply::Status { status: 500, body: r#"{"id":"r2","name":"internal_error","errors":["An unexpected server error has occurred"]}"#.into(), retry_after: None },
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    let (_, calls) =
        completes_after_three_transient_errors(&app, &token, sai_t2i("core", "retried")).await;
    assert_eq!(calls, RETRIED_THRICE);

    let refused = |status, body: &str| {
        Some(Reply::Status {
            status,
            body: body.into(),
            retry_after: None,
        })
    };
    let cases = vec![
        // A 200 whose finish-reason header says the output was filtered.
        (
            None,
            sai_t2i("ultra", "a [filtered] picture"),
            "gen_err.moderation",
        ),
        // The same in the JSON form.
        (
            Some(Reply::Json),
            sai_t2i("ultra", "a [filtered] picture"),
            "gen_err.moderation",
        ),
        (
            refused(
                403,
                r#"{"id":"r3","name":"content_moderation","errors":["Your request was flagged by our content moderation system, as a result your request was denied and you were not charged."]}"#,
            ),
            sai_t2i("ultra", "refused"),
            "gen_err.moderation",
        ),
        (
            refused(
                400,
                r#"{"id":"r4","name":"bad_request","errors":["aspect_ratio: must be one of 16:9, 1:1, 21:9, 2:3, 3:2, 4:5, 5:4, 9:16, 9:21"]}"#,
            ),
            sai_t2i("ultra", "bad"),
            "gen_err.bad_request",
        ),
        (
            refused(
                413,
                r#"{"id":"r5","name":"payload_too_large","errors":["body: payloads cannot be larger than 10MiB in size"]}"#,
            ),
            sai_t2i("ultra", "big"),
            "gen_err.bad_request",
        ),
        (
            refused(
                422,
                r#"{"id":"r6","name":"invalid_language","errors":["English is the only supported language for this service."]}"#,
            ),
            sai_t2i("ultra", "unsupported"),
            "gen_err.bad_request",
        ),
        (
            Some(Reply::Garbage),
            sai_t2i("ultra", "garbage"),
            "gen_err.bad_output",
        ),
        // A key the vendor does not know: 401, told as a key problem.
        (
            None,
            json!({"type": "t2i", "prompt": "x", "model": "stability_badkey/core"}),
            "gen_err.auth",
        ),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;
    app.stop().await;
    fake.stop().await;
}

async fn stability_jpeg_webp_and_json_answers_are_stored_with_the_aigc_label(backend: Backend) {
    let fake = Fake::stability().await;
    let Some(app) = stability_app(&fake, backend).await else {
        return;
    };
    let token = app.user("sai_formats").await;
    let mut webp = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(40, 30, |x, y| {
        image::Rgba([
            (x * 6) as u8,
            (y * 8) as u8,
            200,
            if x < 5 && y < 5 { 0 } else { 255 },
        ])
    }))
    .write_to(&mut webp, image::ImageFormat::WebP)
    .unwrap();
    fake.script([
        Reply::Bytes(sample_jpeg()),
        Reply::Bytes(webp.into_inner()),
        Reply::Json,
    ]);

    let task = run_task(&app, &token, sai_t2i("core", "jpeg")).await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/jpeg")),
        "{task}"
    );
    let (_, bytes) = assert_labelled(&app, &task).await;
    assert_eq!(&bytes[..2], b"\xff\xd8");

    // WebP has no place for the label: it is kept as a labelled PNG, transparency and all.
    let task = run_task(&app, &token, sai_t2i("core", "webp")).await;
    assert_eq!(task["mime"], "image/png", "{task}");
    let (_, bytes) = assert_labelled(&app, &task).await;
    let png = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!((png.dimensions(), png.get_pixel(1, 1)[3]), ((40, 30), 0));

    // The JSON form (base64 `image`) is read as well as raw bytes.
    let task = run_task(&app, &token, sai_t2i("core", "json")).await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/png")),
        "{task}"
    );
    assert_labelled(&app, &task).await;
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- Volcengine Ark

const SEEDREAM: &str = "doubao-seedream-4-0-250828";
const SEEDANCE: &str = "doubao-seedance-1-0-pro-250528";
const SEEDANCE_REF: &str = "doubao-seedance-1-0-lite-i2v-250428";

async fn ark_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    let base = format!("{}/api/v3", fake.url);
    app_with(
        backend,
        vec![
            provider(
                "ark",
                "ark",
                base.clone(),
                ARK_KEY,
                json!([
                    {"name": SEEDREAM, "kinds": ["t2i", "i2i"]},
                    {"name": SEEDANCE, "kinds": ["t2v", "i2v"]},
                    {"name": SEEDANCE_REF, "kinds": ["i2v"], "video_images": "references"},
                ]),
            ),
            provider(
                "ark_badkey",
                "ark",
                base,
                "ark-wrong-key",
                json!([{"name": SEEDREAM, "kinds": ["t2i"]}]),
            ),
        ],
    )
    .await
}

fn ark_task(kind: &str, model: &str, prompt: &str, params: Value) -> Value {
    json!({"type": kind, "prompt": prompt, "model": format!("ark/{model}"), "params": params})
}

fn is_data_url(v: &Value) -> bool {
    v.as_str()
        .unwrap_or("")
        .starts_with("data:image/png;base64,")
}

crate::both!(
    seedream_makes_and_edits_pictures_with_several_references,
    seedance_sends_text_and_pictures_in_their_roles,
    ark_errors_are_retried_or_refused_with_reasons,
    seedance_cancel_deletes_the_queued_remote_task,
);

async fn seedream_makes_and_edits_pictures_with_several_references(backend: Backend) {
    let fake = Fake::ark().await;
    let Some(app) = ark_app(&fake, backend).await else {
        return;
    };
    let token = app.user("seedream").await;
    let task = run_task(
        &app,
        &token,
        ark_task("t2i", SEEDREAM, "江南水乡", json!({"size": "1280x720"})),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/jpeg")),
        "{task}"
    );
    assert_labelled(&app, &task).await;
    let call = &fake.posts()[0];
    assert_eq!(call.path, "/api/v3/images/generations");
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {ARK_KEY}").as_str())
    );
    let body = call.json();
    assert_eq!(
        (
            body["model"].as_str(),
            body["prompt"].as_str(),
            body["size"].as_str()
        ),
        (Some(SEEDREAM), Some("江南水乡"), Some("2736x1536")),
        "the 16:9 shape at the 2K area"
    );
    assert_eq!(
        (
            body["response_format"].as_str(),
            body["watermark"].as_bool(),
            body["sequential_image_generation"].as_str()
        ),
        (Some("b64_json"), Some(false), Some("disabled"))
    );
    assert!(body["image"].is_null());

    // Editing with two references: an array of inline pictures.
    let (a, b) = (
        upload_sample(&app, &token).await,
        upload_sample(&app, &token).await,
    );
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "把图1的衣服换成图2的", "images": [a, b],
        "model": format!("ark/{SEEDREAM}")}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let body = fake.posts()[1].json();
    let images = body["image"].as_array().expect("an array of references");
    assert!(
        images.len() == 2 && images.iter().all(is_data_url),
        "{body}"
    );

    // One reference is a plain string; a `url` answer is downloaded at once.
    fake.script([Reply::Url]);
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "水彩", "images": [a],
        "model": format!("ark/{SEEDREAM}")}),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/jpeg")),
        "{task}"
    );
    assert!(is_data_url(&fake.posts()[2].json()["image"]));
    assert!(fake
        .calls()
        .iter()
        .any(|c| c.path == "/files/seedream-1.jpeg"));
    assert_labelled(&app, &task).await;
    app.stop().await;
    fake.stop().await;
}

async fn seedance_sends_text_and_pictures_in_their_roles(backend: Backend) {
    let fake = Fake::ark().await;
    let Some(app) = ark_app(&fake, backend).await else {
        return;
    };
    let token = app.user("seedance").await;
    let task = run_task(
        &app,
        &token,
        ark_task(
            "t2v",
            SEEDANCE,
            "海浪拍岸",
            json!({"aspect": "16:9", "duration": 5, "seed": 7}),
        ),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("video/mp4")),
        "{task}"
    );
    let (_, bytes) = assert_labelled(&app, &task).await;
    assert_eq!(&bytes[4..8], b"ftyp");
    let calls = outcomes(&app, task["task_id"].as_str().unwrap()).await;
    assert_eq!(calls[0], "submit:ok");
    assert!(
        calls.len() >= 3 && calls[1..].iter().all(|c| c == "poll:ok"),
        "{calls:?}"
    );
    let call = &fake.posts()[0];
    assert_eq!(call.path, "/api/v3/contents/generations/tasks");
    let body = call.json();
    assert_eq!(body["model"], SEEDANCE);
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "海浪拍岸"}])
    );
    assert_eq!(
        (
            body["ratio"].as_str(),
            body["resolution"].as_str(),
            body["duration"].as_i64(),
            body["seed"].as_i64()
        ),
        (Some("16:9"), Some("720p"), Some(5), Some(7))
    );

    let (a, b) = (
        upload_sample(&app, &token).await,
        upload_sample(&app, &token).await,
    );
    let roles = |i: usize| -> Vec<String> {
        fake.posts()[i].json()["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "image_url")
            .map(|c| {
                assert!(is_data_url(&c["image_url"]["url"]), "{c}");
                c["role"].as_str().unwrap().to_string()
            })
            .collect()
    };
    // One picture opens the clip; two are its first and last frames; the shape is theirs.
    for (images, want) in [
        (vec![a.clone()], vec!["first_frame"]),
        (
            vec![a.clone(), b.clone()],
            vec!["first_frame", "last_frame"],
        ),
    ] {
        let task = run_task(
            &app,
            &token,
            json!({"type": "i2v", "prompt": "花开", "images": images,
            "model": format!("ark/{SEEDANCE}")}),
        )
        .await;
        assert_eq!(task["status"], "completed", "{task}");
        let n = fake.posts().len() - 1;
        assert_eq!(roles(n), want);
        assert_eq!(fake.posts()[n].json()["ratio"], "adaptive");
    }
    // A model configured with `video_images = "references"` gets reference images.
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2v", "prompt": "同一只猫在海边", "images": [a, b],
        "model": format!("ark/{SEEDANCE_REF}"), "params": {"aspect": "9:16"}}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let n = fake.posts().len() - 1;
    assert_eq!(roles(n), ["reference_image", "reference_image"]);
    assert_eq!(fake.posts()[n].json()["ratio"], "9:16");
    assert_eq!(fake.posts().len(), 4, "each task submitted once");
    app.stop().await;
    fake.stop().await;
}

async fn ark_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::ark().await;
    let Some(app) = ark_app(&fake, backend).await else {
        return;
    };
    let token = app.user("ark_errors").await;
    fake.script([
        Reply::Status { status: 429, body: r#"{"error":{"code":"RateLimitExceeded.EndpointRPMExceeded","message":"Request rate limit exceeded","param":"","type":"TooManyRequests"}}"#.into(), retry_after: Some(1) },
        Reply::Status { status: 500, body: r#"{"error":{"code":"InternalServiceError","message":"The service encountered an unexpected internal error.","param":"","type":"InternalServerError"}}"#.into(), retry_after: None },
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    let (_, calls) = completes_after_three_transient_errors(
        &app,
        &token,
        ark_task("t2i", SEEDREAM, "retried", json!({})),
    )
    .await;
    assert_eq!(calls, RETRIED_THRICE);

    // Refused at submit (picture and video), refused after the work (the output check),
    // a bad request, a malformed answer.
    let t2i = |prompt| ark_task("t2i", SEEDREAM, prompt, json!({}));
    let t2v = |prompt| ark_task("t2v", SEEDANCE, prompt, json!({}));
    let cases = vec![
        (None, t2i("[moderation]"), "gen_err.moderation"),
        (None, t2v("[moderation]"), "gen_err.moderation"),
        (None, t2v("[unsafe-output]"), "gen_err.moderation"),
        (None, t2v("old [expired]"), "gen_err.expired"),
        (None, t2v("long gone [forgotten]"), "gen_err.expired"),
        (Some(Reply::Status { status: 400, body: r#"{"error":{"code":"InvalidParameter","message":"The parameter `size` specified in the request is not valid","param":"size","type":"BadRequest"}}"#.into(), retry_after: None }), t2i("bad"), "gen_err.bad_request"),
        (Some(Reply::Garbage), t2i("garbage"), "gen_err.bad_output"),
        // The fake knows only its own key.
        (None, json!({"type": "t2i", "prompt": "x", "model": format!("ark_badkey/{SEEDREAM}")}), "gen_err.auth"),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;
    app.stop().await;
    fake.stop().await;
}

async fn seedance_cancel_deletes_the_queued_remote_task(backend: Backend) {
    let fake = Fake::ark().await;
    let Some(app) = ark_app(&fake, backend).await else {
        return;
    };
    let token = app.user("ark_cancel").await;
    let id = app
        .submit_task(
            &token,
            ark_task("t2v", SEEDANCE, "a long queue [slow]", json!({})),
        )
        .await;
    // Wait until the vendor has the task and we have its id.
    let remote = remote_id_saved(&app, &id).await;
    let (status, body) = app.task_action(&token, &id, "cancel").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.task_status(&remote).as_deref() != Some("cancelled") {
        assert!(
            Instant::now() < deadline,
            "the vendor's task was never canceled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delete = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "DELETE")
        .expect("a DELETE");
    assert_eq!(
        delete.path,
        format!("/api/v3/contents/generations/tasks/{remote}")
    );
    assert_eq!(
        delete.authorization.as_deref(),
        Some(format!("Bearer {ARK_KEY}").as_str())
    );
    // The cancel call is counted with the task's other calls.
    cancel_recorded(&app, &id).await;
    let task = app.wait_final(&token, &id).await;
    assert_eq!(task["data"]["status"], "canceled");
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- OpenAI-compatible

crate::both!(an_openai_compatible_service_answering_with_urls_works_through_base_url);

async fn an_openai_compatible_service_answering_with_urls_works_through_base_url(backend: Backend) {
    let fake = Fake::openai_compatible().await;
    let Some(app) = app_with(
        backend,
        vec![provider(
            "compat",
            "openai",
            fake.url.clone(),
            "sk-compat-test",
            json!([{"name": "flux-schnell", "kinds": ["t2i"]}]),
        )],
    )
    .await
    else {
        return;
    };
    let token = app.user("compat").await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "t2i", "prompt": "a red kite", "model": "compat/flux-schnell",
        "params": {"size": "1024x1024"}}),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/jpeg")),
        "{task}"
    );
    assert_labelled(&app, &task).await;
    let calls = fake.calls();
    assert_eq!(calls[0].path, "/v1/images/generations");
    let body = calls[0].json();
    assert_eq!(
        (body["model"].as_str(), body["size"].as_str()),
        (Some("flux-schnell"), Some("1024x1024"))
    );
    assert!(
        body["quality"].is_null() && body["output_format"].is_null(),
        "{body}"
    );
    assert_eq!(
        calls[1].path, "/files/img-1.jpeg",
        "the url was downloaded at once"
    );
    // Its error shape is OpenAI's: a refused field is a bad request, not retried.
    fake.script([Reply::Status { status: 400, body: r#"{"error":{"message":"Unrecognized request argument supplied: style","type":"invalid_request_error","param":"style","code":null}}"#.into(), retry_after: None }]);
    let task = run_task(
        &app,
        &token,
        json!({"type": "t2i", "prompt": "x", "model": "compat/flux-schnell"}),
    )
    .await;
    failed_with(&task, "gen_err.bad_request");
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- Kling

/// A vendor that signs with a key pair: provider `kind` with the pair the fake knows, and
/// `{kind}_badkey` with the same id and `wrong_secret`, each with one model.
fn signed_pair(
    kind: &str,
    fake: &Fake,
    (id, secret, wrong_secret): (&str, &str, &str),
    model: &str,
    (kinds, badkey_kinds): (Value, Value),
) -> Vec<Value> {
    let mut good = provider(
        kind,
        kind,
        fake.url.clone(),
        id,
        json!([{"name": model, "kinds": kinds}]),
    );
    good["secret_key"] = json!(secret);
    let mut wrong = provider(
        &format!("{kind}_badkey"),
        kind,
        fake.url.clone(),
        id,
        json!([{"name": model, "kinds": badkey_kinds}]),
    );
    wrong["secret_key"] = json!(wrong_secret);
    vec![good, wrong]
}

async fn kling_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    use crate::support::vendors::{KLING_ACCESS_KEY, KLING_SECRET_KEY};
    let keys = (KLING_ACCESS_KEY, KLING_SECRET_KEY, "not-the-secret");
    let kinds = (json!(["t2v", "i2v"]), json!(["t2v"]));
    app_with(
        backend,
        signed_pair("kling", fake, keys, "kling-v2-1", kinds),
    )
    .await
}

fn kling_t2v(prompt: &str) -> Value {
    json!({"type": "t2v", "prompt": prompt, "model": "kling/kling-v2-1"})
}

crate::both!(
    kling_makes_videos_from_text_and_from_first_and_last_frame,
    kling_errors_are_retried_or_refused_with_reasons,
);

async fn kling_makes_videos_from_text_and_from_first_and_last_frame(backend: Backend) {
    let fake = Fake::kling().await;
    let Some(app) = kling_app(&fake, backend).await else {
        return;
    };
    let token = app.user("kling").await;
    let task = run_task(&app, &token, json!({"type": "t2v", "prompt": "雪山日出", "model": "kling/kling-v2-1",
        "params": {"aspect": "9:16", "resolution": "1080p", "duration": 10, "negative_prompt": "模糊"}})).await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("video/mp4")),
        "{task}"
    );
    let (_, bytes) = assert_labelled(&app, &task).await;
    assert_eq!(&bytes[4..8], b"ftyp");
    let call = &fake.posts()[0];
    assert_eq!(call.path, "/v1/videos/text2video");
    assert!(
        crate::support::vendors::kling_token_ok(call.authorization.as_deref().unwrap()),
        "a JWT signed with the secret key, issued by the access key"
    );
    let body = call.json();
    assert_eq!(
        (
            body["model_name"].as_str(),
            body["prompt"].as_str(),
            body["negative_prompt"].as_str()
        ),
        (Some("kling-v2-1"), Some("雪山日出"), Some("模糊"))
    );
    assert_eq!(
        (
            body["mode"].as_str(),
            body["duration"].as_str(),
            body["aspect_ratio"].as_str()
        ),
        (Some("pro"), Some("10"), Some("9:16")),
        "1080p is pro mode; the duration is a string"
    );
    let polls: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET" && !c.path.starts_with("/files/"))
        .map(|c| c.path)
        .collect();
    assert!(
        polls.len() >= 3
            && polls
                .iter()
                .all(|p| p == "/v1/videos/text2video/text2video-1"),
        "{polls:?}"
    );

    let (a, b) = (
        upload_sample(&app, &token).await,
        upload_sample(&app, &token).await,
    );
    let bare = |v: &Value| {
        use base64::Engine as _;
        let s = v.as_str().unwrap_or("");
        !s.starts_with("data:")
            && base64::engine::general_purpose::STANDARD
                .decode(s)
                .is_ok_and(|b| &b[1..4] == b"PNG")
    };
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2v", "prompt": "", "images": [a.clone()], "model": "kling/kling-v2-1"}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let body = fake.posts()[1].json();
    assert_eq!(fake.posts()[1].path, "/v1/videos/image2video");
    assert!(
        bare(&body["image"]) && body["image_tail"].is_null(),
        "one picture: no tail"
    );
    assert_eq!(
        (body["mode"].as_str(), body["duration"].as_str()),
        (Some("std"), Some("5"))
    );
    assert!(
        body["aspect_ratio"].is_null(),
        "the picture decides the shape"
    );
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2v", "prompt": "花开", "images": [a, b], "model": "kling/kling-v2-1"}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let body = fake.posts()[2].json();
    assert!(
        bare(&body["image"]) && bare(&body["image_tail"]),
        "the second picture is the last frame"
    );
    assert!(fake
        .calls()
        .iter()
        .any(|c| c.path == "/v1/videos/image2video/image2video-3"));
    app.stop().await;
    fake.stop().await;
}

async fn kling_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::kling().await;
    let Some(app) = kling_app(&fake, backend).await else {
        return;
    };
    let token = app.user("kling_errors").await;
    fake.script([
        Reply::Status { status: 429, body: r#"{"code":1302,"message":"The API request is too fast, please slow down","request_id":"r"}"#.into(), retry_after: Some(1) },
        Reply::Status { status: 500, body: r#"{"code":5000,"message":"Internal server error","request_id":"r"}"#.into(), retry_after: None },
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    completes_after_three_transient_errors(&app, &token, kling_t2v("retried")).await;

    let bad = Reply::Status {
        status: 400,
        body: r#"{"code":1201,"message":"Invalid request parameters","request_id":"r"}"#.into(),
        retry_after: None,
    };
    let cases = vec![
        (None, kling_t2v("[moderation]"), "gen_err.moderation"),
        (None, kling_t2v("[unsafe-output]"), "gen_err.moderation"),
        // A 429 that waiting cannot cure: the account is in arrears.
        (None, kling_t2v("[arrears]"), "gen_err.account"),
        (None, kling_t2v("long gone [forgotten]"), "gen_err.expired"),
        (Some(bad), kling_t2v("bad"), "gen_err.bad_request"),
        (
            Some(Reply::Garbage),
            kling_t2v("garbage"),
            "gen_err.bad_output",
        ),
        // A token signed with the wrong secret: 401, a key problem.
        (
            None,
            json!({"type": "t2v", "prompt": "x", "model": "kling_badkey/kling-v2-1"}),
            "gen_err.auth",
        ),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;

    // Kling has no cancel call: canceling stops our polling and sends nothing.
    let id = app
        .submit_task(&token, kling_t2v("a long one [slow]"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fake
        .calls()
        .iter()
        .any(|c| c.method == "GET" && c.path.contains("text2video-"))
        || !outcomes(&app, &id).await.iter().any(|c| c == "poll:ok")
    {
        assert!(Instant::now() < deadline, "never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel_sends_nothing(&app, &fake, &token, &id).await;
    assert!(fake.calls().iter().all(|c| c.method != "DELETE"));
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- Tencent Hunyuan

async fn hunyuan_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    use crate::support::vendors::{HUNYUAN_SECRET_ID, HUNYUAN_SECRET_KEY};
    let keys = (HUNYUAN_SECRET_ID, HUNYUAN_SECRET_KEY, "not-the-secret-key");
    let kinds = (json!(["t2i", "i2i"]), json!(["t2i"]));
    app_with(
        backend,
        signed_pair("hunyuan", fake, keys, "hunyuan-image", kinds),
    )
    .await
}

fn hunyuan_t2i(prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": "hunyuan/hunyuan-image"})
}

/// The fake's calls of one API action (`X-TC-Action`).
fn tencent_calls(fake: &Fake, action: &str) -> Vec<crate::support::vendors::Call> {
    fake.calls()
        .into_iter()
        .filter(|c| c.header("x-tc-action") == Some(action))
        .collect()
}

/// The fake's signature check holds to Tencent's worked example (CVM DescribeInstances at
/// 1551113065), so a fake that accepts our requests accepts what Tencent would.
#[test]
fn the_hunyuan_fakes_signature_check_accepts_tencents_published_example() {
    use crate::support::vendors::tc3_verify;
    let payload =
        br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    let header = |n: &str| {
        match n {
            "content-type" => Some("application/json; charset=utf-8"),
            "host" => Some("cvm.tencentcloudapi.com"),
            "x-tc-timestamp" => Some("1551113065"),
            _ => None,
        }
        .map(str::to_string)
    };
    let authorization = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
    let keys = (
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
    );
    assert_eq!(
        tc3_verify(authorization, header, payload, keys, 1551113065),
        Ok(())
    );
    let changed = br#"{"Limit": 2, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    assert_eq!(
        tc3_verify(authorization, header, changed, keys, 1551113065),
        Err("AuthFailure.SignatureFailure")
    );
    assert_eq!(
        tc3_verify(authorization, header, payload, keys, 1551113065 + 301),
        Err("AuthFailure.SignatureExpire")
    );
}

crate::both!(
    hunyuan_makes_pictures_from_text_and_from_a_reference,
    hunyuan_errors_are_retried_or_refused_with_reasons,
);

async fn hunyuan_makes_pictures_from_text_and_from_a_reference(backend: Backend) {
    let fake = Fake::hunyuan().await;
    let Some(app) = hunyuan_app(&fake, backend).await else {
        return;
    };
    let token = app.user("hunyuan").await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "t2i", "prompt": "雨中, 竹林, 小路",
        "model": "hunyuan/hunyuan-image",
        "params": {"size": "1280x720", "seed": 42, "negative_prompt": "黑色,雨"}}),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("image/png")),
        "{task}"
    );
    assert_labelled(&app, &task).await;
    let submits = tencent_calls(&fake, "SubmitHunyuanImageJob");
    let call = &submits[0];
    assert_eq!((call.method.as_str(), call.path.as_str()), ("POST", "/"));
    assert_eq!(
        (call.header("x-tc-version"), call.header("x-tc-region")),
        (Some("2023-09-01"), Some("ap-guangzhou"))
    );
    assert!(
        crate::support::vendors::hunyuan_signed(call),
        "TC3-HMAC-SHA256 with the SecretId and SecretKey: {:?}",
        call.authorization
    );
    assert!(call
        .authorization
        .as_deref()
        .unwrap()
        .contains("SignedHeaders=content-type;host;x-tc-action,"));
    let body = call.json();
    assert_eq!(
        (
            body["Prompt"].as_str(),
            body["NegativePrompt"].as_str(),
            body["Resolution"].as_str()
        ),
        (Some("雨中, 竹林, 小路"), Some("黑色,雨"), Some("1280:720"))
    );
    assert_eq!(
        (body["Seed"].as_u64(), body["Revise"].as_u64()),
        (Some(42), Some(0)),
        "a fixed seed holds only without the prompt rewrite"
    );
    assert_eq!(
        (body["Num"].as_u64(), body["LogoAdd"].as_u64()),
        (Some(1), Some(0)),
        "one picture, without Tencent's visible mark"
    );
    assert!(body["ContentImage"].is_null() && body["Model"].is_null());
    let job = "1251197749-1790000000-00000001-fa21-40bc-9ee7-4bb13abece6e-0";
    let queries = tencent_calls(&fake, "QueryHunyuanImageJob");
    assert!(
        queries.len() >= 3
            && queries
                .iter()
                .all(|q| q.json() == json!({"JobId": job})
                    && crate::support::vendors::hunyuan_signed(q)),
        "{queries:?}"
    );
    assert!(fake.calls().iter().any(|c| c.path == "/files/result-1.png"));

    let reference = upload_sample(&app, &token).await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "水墨画", "images": [reference], "model": "hunyuan/hunyuan-image"}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let body = tencent_calls(&fake, "SubmitHunyuanImageJob")[1].json();
    let picture = body["ContentImage"]["ImageBase64"].as_str().unwrap_or("");
    assert!(
        !picture.starts_with("data:")
            && base64::Engine::decode(&base64::engine::general_purpose::STANDARD, picture)
                .is_ok_and(|b| &b[1..4] == b"PNG"),
        "the reference as bare base64"
    );
    assert!(
        body["Resolution"].is_null(),
        "the reference decides the shape: {body}"
    );
    app.stop().await;
    fake.stop().await;
}

async fn hunyuan_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::hunyuan().await;
    let Some(app) = hunyuan_app(&fake, backend).await else {
        return;
    };
    let token = app.user("hunyuan_errors").await;
    let tencent = |code: &str, message: &str| Reply::Status {
        status: 200,
        body: json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r"}})
            .to_string(),
        retry_after: None,
    };
    fake.script([
        // A gateway in front of the API.
        Reply::Status {
            status: 429,
            body: "Too Many Requests".into(),
            retry_after: Some(1),
        },
        // Tencent's own rate limits come as HTTP 200 with the code.
        tencent(
            "RequestLimitExceeded.JobNumExceed",
            "当前已达到1个任务上限,请稍后重试",
        ),
        Reply::Status {
            status: 502,
            body: "<html>Bad Gateway</html>".into(),
            retry_after: None,
        },
    ]);
    completes_after_three_transient_errors(&app, &token, hunyuan_t2i("retried")).await;
    fake.script([
        tencent("InternalError", "内部错误"),
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    let task = run_task(&app, &token, hunyuan_t2i("timed out")).await;
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_i64()),
        (Some("completed"), Some(3)),
        "an internal error and a timeout are retried: {task}"
    );

    let bad = tencent(
        "InvalidParameterValue.ParameterValueError",
        "参数字段或者值有误",
    );
    let cases = vec![
        (None, hunyuan_t2i("[moderation]"), "gen_err.moderation"),
        (None, hunyuan_t2i("[unsafe-output]"), "gen_err.moderation"),
        (None, hunyuan_t2i("[arrears]"), "gen_err.account"),
        (
            None,
            hunyuan_t2i("long gone [forgotten]"),
            "gen_err.expired",
        ),
        (
            None,
            hunyuan_t2i("an hour late [expired]"),
            "gen_err.expired",
        ),
        (Some(bad), hunyuan_t2i("bad"), "gen_err.bad_request"),
        (
            Some(Reply::Garbage),
            hunyuan_t2i("garbage"),
            "gen_err.bad_output",
        ),
        // Signed with the wrong SecretKey: AuthFailure.SignatureFailure, a key problem.
        (
            None,
            json!({"type": "t2i", "prompt": "x", "model": "hunyuan_badkey/hunyuan-image"}),
            "gen_err.auth",
        ),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;

    // Hunyuan has no cancel call: canceling stops our polling and sends nothing.
    let id = app
        .submit_task(&token, hunyuan_t2i("a long one [slow]"))
        .await;
    polled(&app, &id).await;
    cancel_sends_nothing(&app, &fake, &token, &id).await;
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- AUTOMATIC1111 / Forge webui

/// A checkpoint title as the webui lists it.
const CHECKPOINT: &str = "sd_xl_base_1.0.safetensors [31e35c80fc]";
/// The `--api-auth` pair of the fake webui.
const GPU_USER: &str = "studio";
const GPU_PASSWORD: &str = "gpu-pass";

/// `gpu` (generous timeout) and `gpu_hasty` (3 s) with the right `user:password`,
/// `gpu_wrong` with a wrong one, `gpu_anonymous` with none.
async fn gpu_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    let models = json!([{"name": CHECKPOINT, "kinds": ["t2i", "i2i"]}]);
    let auth = format!("{GPU_USER}:{GPU_PASSWORD}");
    let mut gpu = provider("gpu", "a1111", fake.url.clone(), &auth, models.clone());
    gpu["timeout_seconds"] = json!(60);
    gpu["concurrency"] = json!(1);
    let hasty = provider(
        "gpu_hasty",
        "a1111",
        fake.url.clone(),
        &auth,
        models.clone(),
    );
    let wrong = provider(
        "gpu_wrong",
        "a1111",
        fake.url.clone(),
        "studio:guess",
        models.clone(),
    );
    let mut anonymous = provider("gpu_anonymous", "a1111", fake.url.clone(), "", models);
    anonymous.as_object_mut().unwrap().remove("api_key");
    app_with(backend, vec![gpu, hasty, wrong, anonymous]).await
}

fn gpu_t2i(provider: &str, prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": format!("{provider}/{CHECKPOINT}"),
           "params": {"size": "1000x600", "seed": 42, "negative_prompt": "blurry"}})
}

/// The generation calls the webui received (not progress reads or interrupts).
fn generations(fake: &Fake) -> Vec<crate::support::vendors::Call> {
    fake.posts()
        .into_iter()
        .filter(|c| c.path.ends_with("2img"))
        .collect()
}

crate::both!(
    a1111_makes_pictures_from_text_and_from_a_reference,
    a1111_reports_the_servers_progress_while_it_draws,
    a1111_errors_are_retried_or_refused_with_reasons,
    a1111_cancel_interrupts_the_server,
);

async fn a1111_makes_pictures_from_text_and_from_a_reference(backend: Backend) {
    use base64::Engine as _;
    let fake = Fake::a1111(GPU_USER, GPU_PASSWORD).await;
    let Some(app) = gpu_app(&fake, backend).await else {
        return;
    };
    let token = app.user("gpu_user").await;
    let task = run_task(&app, &token, gpu_t2i("gpu", "a red fox in snow")).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["mime"], "image/png");
    assert_labelled(&app, &task).await;
    assert_eq!(
        outcomes(&app, task["task_id"].as_str().unwrap()).await,
        ["submit:ok"]
    );
    let call = &generations(&fake)[0];
    assert_eq!(call.path, "/sdapi/v1/txt2img");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{GPU_USER}:{GPU_PASSWORD}"));
    assert_eq!(call.authorization, Some(format!("Basic {basic}")));
    assert!(
        call.content_type.starts_with("application/json"),
        "{call:?}"
    );
    let body = call.json();
    assert_eq!(body["prompt"], "a red fox in snow");
    assert_eq!(body["negative_prompt"], "blurry");
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(1000), Some(600))
    );
    assert_eq!(body["seed"], 42);
    assert_eq!(body["override_settings"]["sd_model_checkpoint"], CHECKPOINT);
    assert_eq!(body["override_settings_restore_afterwards"], false);
    assert_eq!(
        (body["batch_size"].as_u64(), body["n_iter"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(body["init_images"], Value::Null);

    let file_id = upload_sample(&app, &token).await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "as a watercolour", "images": [file_id],
               "model": format!("gpu/{CHECKPOINT}"), "params": {"strength": 0.35}}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_labelled(&app, &task).await;
    let call = &generations(&fake)[1];
    assert_eq!(call.path, "/sdapi/v1/img2img");
    let body = call.json();
    assert_eq!(body["denoising_strength"], 0.35);
    let init = base64::engine::general_purpose::STANDARD
        .decode(body["init_images"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(&init[1..4], b"PNG", "the reference itself, bare base64");
    let (w, h) = (
        body["width"].as_u64().unwrap(),
        body["height"].as_u64().unwrap(),
    );
    assert!(w % 8 == 0 && h % 8 == 0, "{w}x{h}");
    app.stop().await;
    fake.stop().await;
}

async fn a1111_reports_the_servers_progress_while_it_draws(backend: Backend) {
    let fake = Fake::a1111(GPU_USER, GPU_PASSWORD).await;
    let Some(app) = gpu_app(&fake, backend).await else {
        return;
    };
    let token = app.user("gpu_progress").await;
    let id = app
        .submit_task(&token, gpu_t2i("gpu", "twenty steps [slow]"))
        .await;
    // The call blocks for 2 s; meanwhile the task shows a part done.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let (_, body) = app
            .get(&format!("/api/v1/generation/{id}"), Some(&token))
            .await;
        let (status, progress) = (
            body["data"]["status"].as_str().unwrap_or("").to_string(),
            body["data"]["progress"].as_i64().unwrap_or(0),
        );
        if status == "processing" && (1..100).contains(&progress) {
            break progress;
        }
        assert!(
            status != "completed" && Instant::now() < deadline,
            "no progress was shown: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let task = app.wait_final(&token, &id).await["data"].clone();
    assert_eq!(
        (task["status"].as_str(), task["progress"].as_i64()),
        (Some("completed"), Some(100)),
        "after {seen}%: {task}"
    );
    let reads: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.path == "/sdapi/v1/progress")
        .collect();
    assert!(!reads.is_empty());
    for read in reads {
        assert_eq!(read.method, "GET");
        assert_eq!(read.query, "skip_current_image=true", "no preview image");
        assert!(read.authorization.is_some_and(|a| a.starts_with("Basic ")));
    }
    app.stop().await;
    fake.stop().await;
}

async fn a1111_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::a1111(GPU_USER, GPU_PASSWORD).await;
    let Some(app) = gpu_app(&fake, backend).await else {
        return;
    };
    let token = app.user("gpu_errors").await;
    // Out of GPU memory (a 500 through the webui's exception middleware), then a call slower
    // than the 3 s timeout: both retried.
    fake.script([
        Reply::Status { status: 500, body: r#"{"error":"OutOfMemoryError","detail":"","body":"","errors":"CUDA out of memory. Tried to allocate 2.00 GiB"}"#.into(), retry_after: None },
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    let task = run_task(&app, &token, gpu_t2i("gpu_hasty", "retried")).await;
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_i64()),
        (Some("completed"), Some(3)),
        "{task}"
    );
    assert_eq!(
        outcomes(&app, task["task_id"].as_str().unwrap()).await,
        ["submit:transient", "submit:transient", "submit:ok"]
    );

    let refused = || gpu_t2i("gpu_hasty", "refused");
    let cases = vec![
        (Some(Reply::Garbage), refused(), "gen_err.bad_output"),
        (Some(Reply::Status { status: 422, body: r#"{"detail":[{"loc":["body","width"],"msg":"value is not a valid integer","type":"type_error.integer"}]}"#.into(), retry_after: None }), refused(), "gen_err.bad_request"),
        (Some(Reply::Status { status: 404, body: r#"{"error":"HTTPException","detail":"Sampler not found","body":"","errors":"404: Sampler not found"}"#.into(), retry_after: None }), refused(), "gen_err.bad_request"),
        // `--api-auth`: a wrong password and none at all are key problems.
        (None, gpu_t2i("gpu_wrong", "who are you"), "gen_err.auth"),
        (None, gpu_t2i("gpu_anonymous", "who are you"), "gen_err.auth"),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;
    let anonymous = fake.calls().last().unwrap().clone();
    assert_eq!(anonymous.authorization, None);
    app.stop().await;
    fake.stop().await;
}

async fn a1111_cancel_interrupts_the_server(backend: Backend) {
    let fake = Fake::a1111(GPU_USER, GPU_PASSWORD).await;
    let Some(app) = gpu_app(&fake, backend).await else {
        return;
    };
    let token = app.user("gpu_cancel").await;
    let id = app
        .submit_task(&token, gpu_t2i("gpu", "a long one [long]"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fake.drawing() {
        assert!(Instant::now() < deadline, "the server never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = app.task_action(&token, &id, "cancel").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    // The server stops well before its 30 s of sampling.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.drawing() {
        assert!(
            Instant::now() < deadline,
            "the server was never interrupted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let interrupt = fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/sdapi/v1/interrupt")
        .expect("an interrupt");
    assert_eq!(interrupt.method, "POST");
    assert!(interrupt
        .authorization
        .is_some_and(|a| a.starts_with("Basic ")));
    cancel_recorded(&app, &id).await;
    let task = app.wait_final(&token, &id).await;
    assert_eq!(task["data"]["status"], "canceled", "{task}");
    assert_eq!(task["data"]["result_url"], Value::Null, "nothing is stored");
    app.stop().await;
    fake.stop().await;
}

// ---------------------------------------------------------------- ComfyUI

/// The model name: here a label of our own, since the checkpoint is named in the workflow.
const COMFY_MODEL: &str = "sdxl-workflow";

/// A text-to-image graph in ComfyUI's API format with the documented slots.
fn comfy_t2i_workflow() -> String {
    json!({
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20, "cfg": 7.0,
              "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
              "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}}
    })
    .to_string()
}

/// Image-to-image: the reference loaded by name, encoded, and denoised by `{{strength}}`.
fn comfy_i2i_workflow() -> String {
    json!({
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "10": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
        "11": {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20, "cfg": 7.0,
              "sampler_name": "euler", "scheduler": "normal", "denoise": "{{strength}}",
              "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["11", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}}
    })
    .to_string()
}

async fn comfy_app(fake: &Fake, backend: Backend) -> Option<TestApp> {
    let comfy = json!({"name": "comfy", "kind": "comfyui", "base_url": fake.url, "concurrency": 2,
        "timeout_seconds": 3, "models": [{"name": COMFY_MODEL, "kinds": ["t2i", "i2i", "t2v"],
        "workflows": {"t2i": comfy_t2i_workflow(), "i2i": comfy_i2i_workflow(),
                      "t2v": comfy_t2i_workflow()}}]});
    app_with(backend, vec![comfy]).await
}

fn comfy_t2i(prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "model": format!("comfy/{COMFY_MODEL}"),
           "params": {"size": "1000x600", "seed": 42, "negative_prompt": "blurry"}})
}

crate::both!(
    comfyui_fills_the_workflow_template_and_fetches_its_output,
    comfyui_errors_are_retried_or_refused_with_reasons,
    comfyui_cancel_interrupts_the_running_prompt,
);

async fn comfyui_fills_the_workflow_template_and_fetches_its_output(backend: Backend) {
    let fake = Fake::comfyui().await;
    let Some(app) = comfy_app(&fake, backend).await else {
        return;
    };
    let token = app.user("comfy_user").await;
    let task = run_task(&app, &token, comfy_t2i("a paper boat")).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_labelled(&app, &task).await;
    let id = task["task_id"].as_str().unwrap();
    let calls = outcomes(&app, id).await;
    assert_eq!(
        calls.first().map(String::as_str),
        Some("submit:ok"),
        "{calls:?}"
    );
    let queued = fake
        .posts()
        .into_iter()
        .find(|c| c.path == "/prompt")
        .unwrap();
    let body = queued.json();
    assert!(
        body["client_id"].as_str().is_some_and(|c| c.len() >= 16),
        "{body}"
    );
    let graph = &body["prompt"];
    assert_eq!(graph["6"]["inputs"]["text"], "a paper boat");
    assert_eq!(graph["7"]["inputs"]["text"], "blurry");
    assert_eq!(graph["3"]["inputs"]["seed"], 42, "a number, not a string");
    assert_eq!(
        (
            graph["5"]["inputs"]["width"].as_u64(),
            graph["5"]["inputs"]["height"].as_u64()
        ),
        (Some(1000), Some(600))
    );
    assert_eq!(
        graph["3"]["inputs"]["steps"], 20,
        "the rest of the graph as written"
    );
    assert_eq!(graph["6"]["inputs"]["clip"], json!(["4", 1]));
    // The saved picture is fetched, not the preview; waiting and running were both seen.
    let view = fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/view")
        .unwrap();
    assert_eq!(
        view.query,
        "filename=ComfyUI_00001_.png&subfolder=&type=output"
    );
    assert!(fake
        .calls()
        .iter()
        .any(|c| c.path == "/queue" && c.method == "GET"));

    // Image-to-image: the reference is uploaded first and the graph names it.
    let file_id = upload_sample(&app, &token).await;
    let task = run_task(
        &app,
        &token,
        json!({"type": "i2i", "prompt": "in autumn", "images": [file_id],
               "model": format!("comfy/{COMFY_MODEL}"), "params": {"strength": 0.35}}),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_labelled(&app, &task).await;
    let upload = fake
        .posts()
        .into_iter()
        .find(|c| c.path == "/upload/image")
        .unwrap();
    assert!(upload.content_type.starts_with("multipart/form-data"));
    assert_eq!(upload.field("overwrite").as_deref(), Some("true"));
    let graph = fake
        .posts()
        .into_iter()
        .filter(|c| c.path == "/prompt")
        .nth(1)
        .unwrap()
        .json()["prompt"]
        .clone();
    let name = graph["10"]["inputs"]["image"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("picturedeck-") && name.ends_with(".png"),
        "{name}"
    );
    assert_eq!(graph["3"]["inputs"]["denoise"], 0.35);

    // A video workflow's output (VideoHelperSuite's `gifs`) is an MP4, labelled too.
    let task = run_task(
        &app,
        &token,
        json!({"type": "t2v", "prompt": "waves [video]", "model": format!("comfy/{COMFY_MODEL}")}),
    )
    .await;
    assert_eq!(
        (task["status"].as_str(), task["mime"].as_str()),
        (Some("completed"), Some("video/mp4")),
        "{task}"
    );
    assert_labelled(&app, &task).await;
    app.stop().await;
    fake.stop().await;
}

async fn comfyui_errors_are_retried_or_refused_with_reasons(backend: Backend) {
    let fake = Fake::comfyui().await;
    let Some(app) = comfy_app(&fake, backend).await else {
        return;
    };
    let token = app.user("comfy_errors").await;
    fake.script([
        Reply::Status {
            status: 500,
            body: "500 Internal Server Error\n\nServer got itself in trouble".into(),
            retry_after: None,
        },
        Reply::Slow(Duration::from_millis(4000)),
    ]);
    let task = run_task(&app, &token, comfy_t2i("retried")).await;
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_i64()),
        (Some("completed"), Some(3)),
        "{task}"
    );

    let cases = vec![
        (Some(Reply::Status { status: 400, body: r#"{"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {}}, "node_errors": {"4": {"errors": [{"type": "value_not_in_list", "message": "Value not in list", "details": "ckpt_name: 'x.safetensors' not in []"}]}}}"#.into(), retry_after: None }), comfy_t2i("refused"), "gen_err.bad_request"),
        (None, comfy_t2i("a node fails [broken]"), "gen_err.bad_request"),
        (None, comfy_t2i("the server restarted [forgotten]"), "gen_err.expired"),
    ];
    each_fails_at_once(&fake, &app, &token, cases).await;
    // A history that is not JSON: the first /prompt passes, the garbage is the history read.
    fake.script([Reply::Slow(Duration::ZERO), Reply::Garbage]);
    let task = run_task(&app, &token, comfy_t2i("garbage")).await;
    failed_with(&task, "gen_err.bad_output");
    app.stop().await;
    fake.stop().await;
}

async fn comfyui_cancel_interrupts_the_running_prompt(backend: Backend) {
    let fake = Fake::comfyui().await;
    let Some(app) = comfy_app(&fake, backend).await else {
        return;
    };
    let token = app.user("comfy_cancel").await;
    let id = app.submit_task(&token, comfy_t2i("forever [slow]")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake
        .calls()
        .iter()
        .filter(|c| c.path.starts_with("/history/"))
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "never running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = app.task_action(&token, &id, "cancel").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    cancel_recorded(&app, &id).await;
    let posts = fake.posts();
    let delete = posts
        .iter()
        .find(|c| c.path == "/queue")
        .expect("a queue delete");
    let prompt_id = delete.json()["delete"][0].as_str().unwrap().to_string();
    let interrupt = posts
        .iter()
        .find(|c| c.path == "/interrupt")
        .expect("an interrupt");
    assert_eq!(interrupt.json()["prompt_id"], prompt_id.as_str());
    assert!(fake.comfy_interrupted(&prompt_id));
    let task = app.wait_final(&token, &id).await;
    assert_eq!(task["data"]["status"], "canceled");
    app.stop().await;
    fake.stop().await;
}
