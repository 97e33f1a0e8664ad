//! Results checked by a moderation service before they are stored (issue 11 item 2), against
//! loopback fakes of OpenAI's `/v1/moderations` (its documented request and answer, its 401,
//! 429 with Retry-After, 5xx, slowness and garbage) and of our webhook (docs/moderation.md);
//! flagged results are kept but hidden (library, share links, gallery, file links) until an
//! admin decides on the review queue; the model vendor's refusals are recorded the same way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::fakes::{Answer as VendorAnswer, FakeVendor};
use crate::support::loopback::{self, canned, every_path, header, Script};
use crate::support::{Backend, TestApp};

const KEY: &str = "sk-moderation-test-key";

/// Every category of omni-moderation-latest and the inputs it reads (text only, or both).
const CATEGORIES: &[(&str, bool)] = &[
    ("harassment", false),
    ("harassment/threatening", false),
    ("hate", false),
    ("hate/threatening", false),
    ("illicit", false),
    ("illicit/violent", false),
    ("self-harm", true),
    ("self-harm/intent", true),
    ("self-harm/instructions", true),
    ("sexual", true),
    ("sexual/minors", false),
    ("violence", true),
    ("violence/graphic", true),
];

#[derive(Debug, Clone)]
enum Answer {
    Verdict(&'static [&'static str]),
    Status {
        status: u16,
        body: &'static str,
        retry_after: Option<u64>,
    },
    Slow(Duration),
    Garbage,
}

#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script<Answer>,
}

/// A moderation service on loopback: OpenAI's `/v1/moderations` and our webhook at `/hook`.
struct FakeModeration {
    url: String,
    shared: Shared,
    handle: actix_web::dev::ServerHandle,
}

fn openai_error(status: u16, message: &str, kind: &str, code: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "error": {"message": message, "type": kind, "param": null, "code": code}
    }))
}

/// What the documented request must look like; `Err` names what is wrong.
fn check_openai_request(body: &Value) -> Result<(), String> {
    if body["model"] != "omni-moderation-latest" {
        return Err(format!("model {}", body["model"]));
    }
    let input = body["input"].as_array().ok_or("input is not an array")?;
    let image = input
        .iter()
        .find(|p| p["type"] == "image_url")
        .ok_or("no image_url part")?;
    let url = image["image_url"]["url"].as_str().ok_or("no image url")?;
    let (head, data) = url.split_once(";base64,").ok_or("not a base64 data URL")?;
    if !head.starts_with("data:image/") {
        return Err(format!("data URL of {head}"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("base64: {e}"))?;
    for part in input {
        match part["type"].as_str() {
            Some("text") if part["text"].is_string() => {}
            Some("image_url") => {}
            _ => return Err(format!("unknown part {part}")),
        }
    }
    Ok(())
}

fn openai_verdict(flagged: &[&str]) -> Value {
    let mut categories = serde_json::Map::new();
    let mut scores = serde_json::Map::new();
    let mut applied = serde_json::Map::new();
    for (name, image) in CATEGORIES {
        let on = flagged.contains(name);
        categories.insert(name.to_string(), json!(on));
        scores.insert(name.to_string(), json!(if on { 0.93 } else { 0.0004 }));
        let kinds = if *image {
            json!(["text", "image"])
        } else {
            json!(["text"])
        };
        applied.insert(name.to_string(), kinds);
    }
    json!({
        "id": "modr-5f3a",
        "model": "omni-moderation-latest",
        "results": [{
            "flagged": !flagged.is_empty(),
            "categories": categories,
            "category_scores": scores,
            "category_applied_input_types": applied,
        }]
    })
}

async fn serve(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let authorization = header(&req, "authorization");
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        authorization: authorization.clone(),
        body: parsed.clone(),
    });
    let openai = req.path() == "/v1/moderations";
    if openai && authorization.as_deref() != Some(&format!("Bearer {KEY}")) {
        return openai_error(
            401,
            "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        );
    }
    if openai {
        if let Err(what) = check_openai_request(&parsed) {
            return openai_error(400, &what, "invalid_request_error", "invalid_value");
        }
    } else if req.path() != "/hook" || parsed["version"] != 1 {
        return HttpResponse::NotFound().finish();
    }
    let answer = shared.script.pop().unwrap_or(Answer::Verdict(&[]));
    let verdict = |flagged: &[&str]| {
        if openai {
            HttpResponse::Ok().json(openai_verdict(flagged))
        } else {
            HttpResponse::Ok().json(json!({
                "flagged": !flagged.is_empty(),
                "categories": flagged,
                "scores": flagged.iter().map(|c| (c.to_string(), json!(0.88))).collect::<serde_json::Map<_, _>>(),
                "reason": if flagged.is_empty() { Value::Null } else { json!("house rules §3") },
            }))
        }
    };
    match answer {
        Answer::Verdict(flagged) => verdict(flagged),
        Answer::Status {
            status,
            body,
            retry_after,
        } => canned(status, body, retry_after),
        Answer::Slow(pause) => {
            tokio::time::sleep(pause).await;
            verdict(&[])
        }
        Answer::Garbage => HttpResponse::Ok()
            .content_type("application/json")
            .body("{\"results\": [{\"flagged\": \"maybe\""),
    }
}

impl FakeModeration {
    async fn start() -> FakeModeration {
        let shared = Shared::default();
        let (url, handle) = loopback::serve(every_path(shared.clone(), serve));
        FakeModeration {
            url,
            shared,
            handle,
        }
    }

    fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.extend(answers);
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

#[derive(Clone, Copy)]
enum Service {
    OpenAi { key: &'static str },
    Webhook { pass: bool },
}

async fn app_checked_by(
    backend: Backend,
    fake: &FakeModeration,
    service: Service,
) -> Option<TestApp> {
    let url = fake.url.clone();
    TestApp::builder(backend)
        .config(move |c| {
            use picturedeck::config::{ResultCheckKind, WhenUnchecked};
            let p = &mut c.moderation.provider;
            p.timeout_seconds = 1;
            p.max_attempts = 3;
            p.retry_base_ms = 50;
            match service {
                Service::OpenAi { key } => {
                    p.kind = ResultCheckKind::Openai;
                    p.url = Some(url);
                    p.api_key = Some(key.into());
                }
                Service::Webhook { pass } => {
                    p.kind = ResultCheckKind::Webhook;
                    p.url = Some(format!("{url}/hook"));
                    p.api_key = Some(KEY.into());
                    p.max_attempts = 2;
                    if pass {
                        p.on_error = WhenUnchecked::Pass;
                    }
                }
            }
        })
        .start()
        .await
}

crate::both!(
    openai_flags_hold_results_and_its_errors_are_retried_or_held,
    openai_with_a_bad_key_holds_results_after_one_call,
    the_webhook_sees_the_documented_body_and_its_verdict_holds_results,
    the_webhook_failing_open_shows_results_unchecked,
    flagged_results_vanish_from_shares_gallery_and_files_at_once,
    vendor_refusals_are_recorded_for_review,
    the_queue_page_is_for_admins_and_decides_in_bulk,
);

/// Makes a small picture; the final task.
async fn make(app: &TestApp, token: &str, prompt: &str) -> Value {
    let body = json!({"type": "t2i", "prompt": prompt, "params": {"size": "128x96"}});
    let id = app.submit_task(token, body).await;
    app.wait_final(token, &id).await["data"].clone()
}

async fn queue(app: &TestApp, token: &str, decision: &str) -> Vec<Value> {
    let (status, body) = app
        .get(
            &format!("/api/v1/admin/moderation/flags?decision={decision}"),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["flags"].as_array().unwrap().clone()
}

fn flag_of<'a>(flags: &'a [Value], task: &str) -> &'a Value {
    flags
        .iter()
        .find(|f| f["task_id"] == task)
        .unwrap_or_else(|| panic!("no flag for {task} in {flags:?}"))
}

async fn openai_flags_hold_results_and_its_errors_are_retried_or_held(backend: Backend) {
    let fake = FakeModeration::start().await;
    let Some(app) = app_checked_by(backend, &fake, Service::OpenAi { key: KEY }).await else {
        return;
    };
    let root = app.admin("root").await;
    let token = app.user("painter").await;

    // Flagged: kept, hidden, in the queue with its categories and scores.
    fake.script([Answer::Verdict(&["violence", "violence/graphic"])]);
    let held = make(&app, &token, "战场上的骑士").await;
    assert_eq!(held["status"], "flagged", "{held}");
    assert!(
        held["result_url"].is_null() && held["thumbnail_url"].is_null(),
        "{held}"
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    let input = &seen[0].body["input"];
    assert_eq!(input[0], json!({"type": "text", "text": "战场上的骑士"}));
    let url = input[1]["image_url"]["url"].as_str().unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            url.strip_prefix("data:image/png;base64,")
                .expect("a PNG data URL"),
        )
        .unwrap();
    let picture = image::load_from_memory(&png).unwrap();
    assert_eq!(
        (picture.width(), picture.height()),
        (128, 96),
        "the result itself"
    );
    let flags = queue(&app, &root, "pending").await;
    let flag = flag_of(&flags, held["task_id"].as_str().unwrap());
    assert_eq!(flag["source"], "provider");
    assert_eq!(flag["service"], "openai");
    assert_eq!(flag["status"], "flagged");
    assert_eq!(flag["user"], "painter");
    assert_eq!(flag["prompt"], "战场上的骑士");
    assert_eq!(flag["categories"], json!(["violence", "violence/graphic"]));
    assert_eq!(flag["scores"]["violence"], 0.93);
    assert!(
        flag["detail"]
            .as_str()
            .unwrap()
            .contains("violence: text+image"),
        "{flag}"
    );
    // Admins see the thumbnail through their own signed link.
    let thumb = reqwest::get(app.at(flag["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/webp");

    // Not flagged: stored as usual.
    let clear = make(&app, &token, "雪山日落").await;
    assert_eq!(clear["status"], "completed", "{clear}");

    // 429 with Retry-After: waited for, then asked again.
    let before = fake.seen().len();
    fake.script([Answer::Status {
        status: 429,
        body: r#"{"error":{"message":"Rate limit reached for omni-moderation-latest","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        retry_after: Some(1),
    }]);
    let waited = make(&app, &token, "湖边的小屋").await;
    assert_eq!(waited["status"], "completed", "{waited}");
    let seen = fake.seen();
    assert_eq!(seen.len(), before + 2);
    let gap = seen[before + 1].at - seen[before].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After honoured: {gap:?}"
    );

    // 5xx every time: held for review as unchecked after max_attempts calls.
    let before = fake.seen().len();
    let down = Answer::Status {
        status: 503,
        body: r#"{"error":{"message":"The server is overloaded","type":"server_error","param":null,"code":null}}"#,
        retry_after: None,
    };
    fake.script([down.clone(), down.clone(), down]);
    let unchecked = make(&app, &token, "港口的灯塔").await;
    assert_eq!(unchecked["status"], "flagged", "fail closed: {unchecked}");
    assert_eq!(fake.seen().len(), before + 3);
    let flags = queue(&app, &root, "pending").await;
    let flag = flag_of(&flags, unchecked["task_id"].as_str().unwrap());
    assert_eq!(flag["categories"], json!(["unchecked"]));
    assert!(flag["detail"].as_str().unwrap().contains("503"), "{flag}");

    // Too slow once: the timed-out call is tried again.
    let before = fake.seen().len();
    fake.script([Answer::Slow(Duration::from_millis(2500))]);
    let late = make(&app, &token, "森林里的鹿").await;
    assert_eq!(late["status"], "completed", "{late}");
    assert_eq!(fake.seen().len(), before + 2);

    // An unreadable answer is not retried: held at once.
    let before = fake.seen().len();
    fake.script([Answer::Garbage]);
    let garbled = make(&app, &token, "城市夜景").await;
    assert_eq!(garbled["status"], "flagged", "{garbled}");
    assert_eq!(fake.seen().len(), before + 1);

    app.stop().await;
    fake.stop().await;
}

async fn openai_with_a_bad_key_holds_results_after_one_call(backend: Backend) {
    let fake = FakeModeration::start().await;
    let service = Service::OpenAi {
        key: "sk-wrong-key",
    };
    let Some(app) = app_checked_by(backend, &fake, service).await else {
        return;
    };
    let root = app.admin("root").await;
    let token = app.user("painter").await;
    let held = make(&app, &token, "雪山日落").await;
    assert_eq!(held["status"], "flagged", "{held}");
    assert_eq!(fake.seen().len(), 1, "a refused key is not retried");
    let flags = queue(&app, &root, "pending").await;
    let flag = flag_of(&flags, held["task_id"].as_str().unwrap());
    assert_eq!(flag["categories"], json!(["unchecked"]));
    let detail = flag["detail"].as_str().unwrap();
    assert!(
        detail.contains("401") && !detail.contains("sk-wrong-key"),
        "{detail}"
    );
    app.stop().await;
    fake.stop().await;
}

async fn the_webhook_sees_the_documented_body_and_its_verdict_holds_results(backend: Backend) {
    let fake = FakeModeration::start().await;
    let Some(app) = app_checked_by(backend, &fake, Service::Webhook { pass: false }).await else {
        return;
    };
    let root = app.admin("root").await;
    let token = app.user("painter").await;

    fake.script([Answer::Verdict(&["gore"])]);
    let held = make(&app, &token, "血腥的场面").await;
    assert_eq!(held["status"], "flagged", "{held}");
    let body = fake.seen()[0].body.clone();
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(body["version"], 1);
    assert_eq!(body["task_id"], held["task_id"]);
    assert_eq!(body["type"], "t2i");
    assert_eq!(body["prompt"], "血腥的场面");
    assert_eq!(
        body["model"],
        held["model"]
            .as_str()
            .map(|m| format!("{}/{m}", held["provider"].as_str().unwrap()))
            .unwrap()
    );
    assert_eq!(body["result"]["mime"], "image/png");
    assert_eq!(body["result"]["poster_frame"], false);
    let png = base64::engine::general_purpose::STANDARD
        .decode(body["result"]["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let flags = queue(&app, &root, "pending").await;
    let flag = flag_of(&flags, held["task_id"].as_str().unwrap());
    assert_eq!(
        (flag["service"].as_str(), flag["categories"].clone()),
        (Some("webhook"), json!(["gore"]))
    );
    assert_eq!(flag["detail"], "house rules §3");

    // A video is shown as its poster frame.
    let id = app
        .submit_task(
            &token,
            json!({"type": "t2v", "prompt": "海浪拍岸", "params": {"size": "96x64", "duration": 2}}),
        )
        .await;
    let video = app.wait_final(&token, &id).await["data"].clone();
    assert_eq!(video["status"], "completed", "{video}");
    let body = fake.seen().last().unwrap().body.clone();
    assert_eq!(body["type"], "t2v");
    assert_eq!(body["result"]["poster_frame"], true);
    assert_eq!(body["result"]["mime"], "image/jpeg");
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(body["result"]["data"].as_str().unwrap())
        .unwrap();
    let frame = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((frame.width(), frame.height()), (96, 64));

    // Down (5xx twice, max_attempts = 2): held.
    fake.script([down(500), down(502)]);
    let held = make(&app, &token, "雪山日落").await;
    assert_eq!(held["status"], "flagged", "{held}");
    app.stop().await;
    fake.stop().await;
}

async fn the_webhook_failing_open_shows_results_unchecked(backend: Backend) {
    let fake = FakeModeration::start().await;
    let Some(app) = app_checked_by(backend, &fake, Service::Webhook { pass: true }).await else {
        return;
    };
    let token = app.user("painter").await;
    fake.script([down(500), down(500)]);
    let shown = make(&app, &token, "雪山日落").await;
    assert_eq!(shown["status"], "completed", "on_error = pass: {shown}");
    assert_eq!(fake.seen().len(), 2);
    // A verdict still holds.
    fake.script([Answer::Verdict(&["spam"])]);
    assert_eq!(make(&app, &token, "广告").await["status"], "flagged");
    app.stop().await;
    fake.stop().await;
}

/// The service down: this status with an empty JSON body.
fn down(status: u16) -> Answer {
    Answer::Status {
        status,
        body: "{}",
        retry_after: None,
    }
}

/// An admin's flag on a result: `{"task_id", "note"?}`.
async fn flag_task(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/admin/moderation/flags", Some(token), body)
        .await
}

/// Decides the flags `ids` (a JSON array) in the queue.
async fn decide(app: &TestApp, token: &str, ids: Value, decision: &str) -> (StatusCode, Value) {
    app.post(
        "/api/v1/admin/moderation/flags/decide",
        Some(token),
        json!({"ids": ids, "decision": decision}),
    )
    .await
}

/// The status a plain GET of `path` gets (no token).
async fn status_of(app: &TestApp, path: &str) -> StatusCode {
    reqwest::get(app.at(path)).await.unwrap().status()
}

/// The signed links of a result as its owner's library gives them.
async fn links(app: &TestApp, token: &str, task: &str) -> (StatusCode, Value) {
    app.get(&format!("/api/v1/library/results/{task}"), Some(token))
        .await
}

/// How many works the gallery lists.
async fn works(app: &TestApp, token: &str) -> usize {
    let (_, body) = app.get("/api/v1/gallery/works", Some(token)).await;
    body["data"]["works"].as_array().unwrap().len()
}

async fn flagged_results_vanish_from_shares_gallery_and_files_at_once(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let task = app.finished(&alice, "t2i", "雪山下的红狐狸").await;
    let (_, shared) = app
        .post(
            "/api/v1/library/shares",
            Some(&alice),
            json!({"result": task}),
        )
        .await;
    let share = shared["data"]["url"].as_str().unwrap().to_string();
    let (status, published) = app
        .send(
            Method::PUT,
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&alice),
            Some(json!({"title": "红狐"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let work = published["data"]["id"].as_str().unwrap().to_string();
    let (_, before) = links(&app, &alice, &task).await;
    let file = before["data"]["result_url"].as_str().unwrap().to_string();
    assert_eq!(works(&app, &bob).await, 1);
    assert_eq!(status_of(&app, &share).await, StatusCode::OK);

    // Only admins flag.
    let (status, _) = flag_task(&app, &bob, json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, flagged) =
        flag_task(&app, &root, json!({"task_id": task, "note": "举报：侵权"})).await;
    assert_eq!(status, StatusCode::OK, "{flagged}");
    assert_eq!(flagged["data"]["source"], "admin");
    let flag = flagged["data"]["id"].as_str().unwrap().to_string();
    let (status, again) = flag_task(&app, &root, json!({"task_id": task})).await;
    assert_eq!(
        (status, again["code"].as_i64()),
        (StatusCode::CONFLICT, Some(409))
    );

    // At once: the share link, the gallery, the work's page and the old file link are gone.
    assert_eq!(status_of(&app, &share).await, StatusCode::NOT_FOUND);
    assert_eq!(works(&app, &bob).await, 0);
    let (status, _) = app
        .get(&format!("/api/v1/gallery/works/{work}"), Some(&bob))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, &file).await, StatusCode::NOT_FOUND);
    // Its owner sees it under review, without the picture, and cannot publish it.
    let (status, mine) = links(&app, &alice, &task).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["data"]["status"], "flagged");
    assert!(mine["data"]["result_url"].is_null() && mine["data"]["thumbnail_url"].is_null());
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&alice),
            Some(json!({"title": "再来"})),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let client = crate::support::page_client();
    let (csrf, _) = app.open(&client, "/login").await;
    app.page_login(&client, &csrf, "alice").await;
    let (_, library) = app.open(&client, "/library").await;
    assert!(
        library.contains("under-review"),
        "the card says it is under review"
    );
    assert!(!library.contains(&format!("/api/v1/files/thumb/{task}")));

    // Approved: all of it is back.
    let (status, decided) = decide(&app, &root, json!([flag]), "approve").await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["data"]["flags"][0]["decision"], "approved");
    assert_eq!(decided["data"]["flags"][0]["decided_by"], "root");
    assert_eq!(status_of(&app, &share).await, StatusCode::OK);
    assert_eq!(works(&app, &bob).await, 1);
    let (_, mine) = links(&app, &alice, &task).await;
    assert_eq!(mine["data"]["status"], "completed");
    let url = mine["data"]["result_url"].as_str().unwrap();
    assert_eq!(status_of(&app, url).await, StatusCode::OK);

    // Flagged again and deleted: the result and its files are gone.
    let (_, flagged) = flag_task(&app, &root, json!({"task_id": task})).await;
    let flag = flagged["data"]["id"].as_str().unwrap().to_string();
    let stored = {
        let id = task.clone();
        app.state
            .db
            .run(move |conn| Ok(picturedeck::generation::store::find_by_uuid(conn, &id)?))
            .await
            .unwrap()
            .unwrap()
    };
    let path = app
        .state
        .storage
        .path(stored.physical_path.as_deref().unwrap())
        .unwrap();
    let thumb = app
        .state
        .storage
        .path(stored.thumb_path.as_deref().unwrap())
        .unwrap();
    assert!(path.exists() && thumb.exists());
    let (status, _) = decide(&app, &root, json!([flag]), "delete").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !path.exists() && !thumb.exists(),
        "deleting frees the files"
    );
    assert_eq!(links(&app, &alice, &task).await.0, StatusCode::NOT_FOUND);
    let (_, all) = app.get("/api/v1/admin/audit", Some(&root)).await;
    let text = all.to_string();
    for action in ["moderation_flag", "moderation_approve", "moderation_delete"] {
        assert!(text.contains(action), "{action} audited: {text}");
    }
    app.stop().await;
}

async fn vendor_refusals_are_recorded_for_review(backend: Backend) {
    let vendor = FakeVendor::openai().await;
    let base = vendor.url.clone();
    let Some(app) = TestApp::builder(backend)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.providers.push(ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                concurrency: 1,
                base_url: Some(base),
                api_key: Some(KEY.into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 5,
                requests_per_minute: 0,
                models: vec![ModelConfig {
                    name: "gpt-image-1".into(),
                    label: None,
                    kinds: vec![Kind::T2i],
                    ..ModelConfig::default()
                }],
            });
        })
        .start()
        .await
    else {
        return;
    };
    let root = app.admin("root").await;
    let token = app.user("painter").await;
    vendor.script([VendorAnswer::Status {
        status: 400,
        body: r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"image_generation_user_error","param":null,"code":"moderation_blocked"}}"#.into(),
        retry_after: None,
    }]);
    let id = app
        .submit_task(
            &token,
            json!({"type": "t2i", "prompt": "不该画的东西", "model": "openai/gpt-image-1"}),
        )
        .await;
    let task = app.wait_final(&token, &id).await["data"].clone();
    assert_eq!(task["status"], "failed");
    assert_eq!(task["error"]["code"], "gen_err.moderation");
    let flags = queue(&app, &root, "pending").await;
    let flag = flag_of(&flags, &id);
    assert_eq!(flag["source"], "vendor");
    assert_eq!(flag["service"], "openai");
    assert_eq!(flag["categories"], json!(["vendor_refusal"]));
    assert!(flag["detail"].as_str().unwrap().contains("safety system"));
    assert!(
        flag["thumbnail_url"].is_null(),
        "there is no result to show"
    );
    let (status, _) = app
        .post(
            "/api/v1/admin/moderation/flags/decide",
            Some(&root),
            json!({"ids": [flag["id"]], "decision": "hide"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue(&app, &root, "pending").await.is_empty());
    assert_eq!(queue(&app, &root, "hidden").await.len(), 1);
    app.stop().await;
    vendor.stop().await;
}

async fn the_queue_page_is_for_admins_and_decides_in_bulk(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    let mut tasks = Vec::new();
    for prompt in ["山", "水", "云"] {
        let task = app.finished(&alice, "t2i", prompt).await;
        let (status, _) = flag_task(&app, &root, json!({"task_id": task})).await;
        assert_eq!(status, StatusCode::OK);
        tasks.push(task);
    }
    // Not for others: 403 page and envelope.
    let (status, body) = app
        .get("/api/v1/admin/moderation/flags", Some(&alice))
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    let (user_page, _) = app.signed_in("alice").await;
    let res = user_page
        .get(app.at("/admin/moderation/queue"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, body) = app
        .get("/api/v1/admin/moderation/flags?decision=maybe", Some(&root))
        .await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("decision"))
    );

    let (admin, csrf) = app.signed_in("root").await;
    let (_, html) = app.open(&admin, "/admin/moderation/queue").await;
    assert_eq!(html.matches("class=\"queue-card").count(), 3, "{html}");
    assert!(html.contains("id=\"queue-count-pending\">3<"));
    // The thumbnails load for the admin.
    let src = html
        .split("<div class=\"queue-thumb\">")
        .nth(1)
        .and_then(|s| s.split("<img src=\"").nth(1))
        .map(|s| {
            s.split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&")
                .replace("&#x2F;", "/")
        })
        .unwrap();
    let img = admin.get(app.at(&src)).send().await.unwrap();
    assert_eq!(img.status(), StatusCode::OK);
    // Two ticked and approved at once, the third kept hidden from its card.
    let flags = queue(&app, &root, "pending").await;
    let id = |task: &str| flag_of(&flags, task)["id"].as_str().unwrap().to_string();
    let (a, b, c) = (id(&tasks[0]), id(&tasks[1]), id(&tasks[2]));
    let res = app
        .post_form(
            &admin,
            &csrf,
            "/admin/moderation/queue/decide",
            &[
                ("view", "pending"),
                ("decision", "approve"),
                ("ids", &a),
                ("ids", &b),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"queue-decided\""), "{html}");
    assert_eq!(html.matches("class=\"queue-card").count(), 1);
    let res = app
        .post_form(
            &admin,
            &csrf,
            "/admin/moderation/queue/decide",
            &[("view", "pending"), ("decision", "hide"), ("ids", &c)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("id=\"queue-empty\""));
    for (task, status) in [
        (&tasks[0], "completed"),
        (&tasks[1], "completed"),
        (&tasks[2], "flagged"),
    ] {
        assert_eq!(links(&app, &alice, task).await.1["data"]["status"], status);
    }
    let (_, all) = app.get("/api/v1/admin/audit", Some(&root)).await;
    let approvals = all["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "moderation_approve")
        .count();
    assert_eq!(approvals, 2, "each decision audited");
    app.stop().await;
}

/// Issue 11 item 7 in Chromium at 1440×900 and 390×844: the moderation webhook flags a
/// result; its owner's library shows it under review, without the picture; an admin finds it
/// in the queue with its thumbnail and approves it; the owner's library shows it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_result_is_approved_in_the_queue_and_its_owner_sees_it_again() {
    use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
    let Some(driver) = chromedriver() else { return };
    let fake = FakeModeration::start().await;
    let app = app_checked_by(Backend::Sqlite, &fake, Service::Webhook { pass: false })
        .await
        .unwrap();
    app.admin("root").await;
    let token = app.user("owner").await;
    let dir = screenshot_dir();
    let owner = Browser::start(&driver).await;
    owner.sign_in(&app, "owner").await;
    let admin = Browser::start(&driver).await;
    admin.sign_in(&app, "root").await;
    let loaded = |css: String| {
        format!(
            "const i = document.querySelector({}); return !!i && i.complete && i.naturalWidth > 0;",
            serde_json::to_string(&css).unwrap()
        )
    };
    for (size, width, height) in WINDOWS {
        owner.window(width, height).await;
        admin.window(width, height).await;
        fake.script([Answer::Verdict(&["violence"])]);
        let held = make(&app, &token, &format!("审核测试 {size}")).await;
        assert_eq!(held["status"], "flagged", "{held}");
        let task = held["task_id"].as_str().unwrap().to_string();

        owner.goto(&app.at("/library")).await;
        owner.find(&format!("#result-{task} .under-review")).await;
        assert_eq!(
            owner.count(&format!("#result-{task} img")).await,
            0,
            "never the picture"
        );
        owner
            .screenshot(&dir.join(format!("moderation-{size}-owner-under-review.png")))
            .await;

        admin.goto(&app.at("/admin/moderation/queue")).await;
        let card = format!("[data-task=\"{task}\"]");
        admin.find(&card).await;
        let mut shown = false;
        for _ in 0..100 {
            if admin.script(&loaded(format!("{card} img"))).await == json!(true) {
                shown = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(shown, "the admin sees the thumbnail");
        assert!(admin.text(&card).await.contains("violence"));
        admin
            .screenshot(&dir.join(format!("moderation-{size}-queue.png")))
            .await;
        admin.click(&format!("{card} .queue-approve")).await;
        admin.find("#queue-decided").await;
        assert_eq!(admin.count(&card).await, 0, "it left the pending queue");
        admin
            .screenshot(&dir.join(format!("moderation-{size}-approved.png")))
            .await;

        owner.goto(&app.at("/library")).await;
        let mut back = false;
        for _ in 0..100 {
            if owner.script(&loaded(format!("#result-{task} img"))).await == json!(true) {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(back, "the owner sees the picture again");
        owner
            .screenshot(&dir.join(format!("moderation-{size}-owner-approved.png")))
            .await;
    }
    owner.quit().await;
    admin.quit().await;
    app.stop().await;
    fake.stop().await;
}
