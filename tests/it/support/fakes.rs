//! Loopback fakes of the vendors, speaking their documented contracts (PROVIDERS.md), with a
//! script of answers so tests can ask for rate limits, outages, refusals and garbage.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde_json::json;

use super::loopback::{self, canned, every_path, header, Script};

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// One scripted answer; when the script is empty the fake answers `Image`.
#[derive(Debug, Clone)]
pub enum Answer {
    Image,
    /// An image answer with these bytes (a JPEG or WebP, say) instead of the sample PNG.
    ImageBytes(Vec<u8>),
    Status {
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    Garbage,
    Slow(Duration),
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script<Answer>,
    /// DashScope: how many remote tasks may still finish; the others stay RUNNING.
    may_finish: Arc<Mutex<usize>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            seen: Arc::default(),
            script: Script::default(),
            may_finish: Arc::new(Mutex::new(usize::MAX)),
        }
    }
}

pub struct FakeVendor {
    pub url: String,
    shared: Shared,
    handle: actix_web::dev::ServerHandle,
}

/// A small real PNG, as a model would return.
pub fn sample_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 160])
    });
    picturedeck::storage::images::encode_png(&img).unwrap()
}

/// The request as seen, `type_header` standing for its content type.
fn seen(req: &HttpRequest, body: &web::Bytes, type_header: &str) -> Seen {
    Seen {
        method: req.method().to_string(),
        path: req.path().to_string(),
        authorization: header(req, "authorization"),
        content_type: header(req, type_header).unwrap_or_default(),
        body: body.to_vec(),
    }
}

async fn openai(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    shared
        .seen
        .lock()
        .unwrap()
        .push(seen(&req, &body, "content-type"));
    let answer = shared.script.pop().unwrap_or(Answer::Image);
    match answer {
        Answer::Image => HttpResponse::Ok().json(json!({
            "created": 1_790_000_000,
            "data": [{ "b64_json": base64::engine::general_purpose::STANDARD.encode(sample_png()) }],
            "usage": { "total_tokens": 100 }
        })),
        Answer::Status { status, body, retry_after } => canned(status, body, retry_after),
        Answer::ImageBytes(bytes) => HttpResponse::Ok().json(json!({
            "data": [{ "b64_json": base64::engine::general_purpose::STANDARD.encode(bytes) }]
        })),
        Answer::Garbage => HttpResponse::Ok().content_type("application/json").body("{\"data\": [{\"b64_json\": 42"),
        Answer::Slow(pause) => {
            tokio::time::sleep(pause).await;
            HttpResponse::Ok().json(json!({ "data": [{ "b64_json": base64::engine::general_purpose::STANDARD.encode(sample_png()) }] }))
        }
    }
}

impl FakeVendor {
    /// An OpenAI Images fake: every path answers like `/v1/images/*`.
    pub async fn openai() -> FakeVendor {
        let shared = Shared::default();
        let (url, handle) = loopback::serve(every_path(shared.clone(), openai));
        FakeVendor {
            url,
            shared,
            handle,
        }
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.extend(answers);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// A DashScope (Wan) fake: asynchronous tasks that go PENDING → RUNNING → SUCCEEDED over a few
/// polls. Words in the prompt steer a task: `[moderation]` fails it with DataInspectionFailed,
/// `[expired]` makes it UNKNOWN, `[slow]` keeps it running for many polls, `[queued]` keeps it
/// PENDING (cancelable) for ever.
/// A remote task: its prompt, how often it was polled, whether it makes a video, whether it
/// has finished.
type WanTask = (String, u32, bool, bool);

#[derive(Clone, Default)]
struct Wan {
    shared: Shared,
    tasks: Arc<Mutex<std::collections::HashMap<String, WanTask>>>,
    /// Tasks canceled through `POST /api/v1/tasks/{id}/cancel` while PENDING.
    canceled: Arc<Mutex<std::collections::HashSet<String>>>,
}

async fn wan(req: HttpRequest, body: web::Bytes, wan: web::Data<Wan>) -> HttpResponse {
    let path = req.path().to_string();
    wan.shared
        .seen
        .lock()
        .unwrap()
        .push(seen(&req, &body, "x-dashscope-async"));
    if let Some(file) = path.strip_prefix("/files/") {
        return sample_file(file.ends_with(".mp4"));
    }
    // Only a PENDING task (`[queued]` keeps one so) can be canceled.
    if let Some(id) = path
        .strip_prefix("/api/v1/tasks/")
        .and_then(|p| p.strip_suffix("/cancel"))
    {
        let queued = wan
            .tasks
            .lock()
            .unwrap()
            .get(id)
            .is_some_and(|t| t.0.contains("[queued]"));
        if !queued {
            return HttpResponse::BadRequest().json(json!({"request_id": "r", "code": "UnsupportedOperation", "message": "Failed to cancel the task, please confirm if the task is in PENDING status."}));
        }
        wan.canceled.lock().unwrap().insert(id.to_string());
        return HttpResponse::Ok().json(json!({"request_id": "r"}));
    }
    if let Some(id) = path.strip_prefix("/api/v1/tasks/") {
        if wan.canceled.lock().unwrap().contains(id) {
            return HttpResponse::Ok().json(
                json!({"request_id": "r", "output": {"task_id": id, "task_status": "CANCELED"}}),
            );
        }
        let mut tasks = wan.tasks.lock().unwrap();
        let Some((prompt, polls, video, finished)) = tasks.get_mut(id) else {
            return HttpResponse::Ok().json(
                json!({"request_id": "r", "output": {"task_id": id, "task_status": "UNKNOWN"}}),
            );
        };
        *polls += 1;
        let steps = if prompt.contains("[slow]") { 40 } else { 3 };
        if *polls >= steps && !*finished {
            let mut may_finish = wan.shared.may_finish.lock().unwrap();
            if *may_finish > 0 {
                *may_finish = may_finish.saturating_sub(1);
                *finished = true;
            }
        }
        let output = if prompt.contains("[expired]") {
            json!({"task_id": id, "task_status": "UNKNOWN"})
        } else if prompt.contains("[queued]") {
            json!({"task_id": id, "task_status": "PENDING"})
        } else if *polls < steps || !*finished {
            json!({"task_id": id, "task_status": if *polls == 1 { "PENDING" } else { "RUNNING" }})
        } else if prompt.contains("[moderation]") {
            json!({"task_id": id, "task_status": "FAILED", "code": "DataInspectionFailed", "message": "Input data may contain inappropriate content."})
        } else if *video {
            json!({"task_id": id, "task_status": "SUCCEEDED", "video_url": format!("http://{}/files/{id}.mp4", req.connection_info().host())})
        } else {
            json!({"task_id": id, "task_status": "SUCCEEDED", "results": [{"url": format!("http://{}/files/{id}.png", req.connection_info().host())}]})
        };
        return HttpResponse::Ok().json(json!({"request_id": "r", "output": output}));
    }
    if let Some(Answer::Status {
        status,
        body,
        retry_after,
    }) = wan.shared.script.pop()
    {
        return canned(status, body, retry_after);
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let prompt = request["input"]["prompt"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let video = path.contains("video-synthesis");
    let mut tasks = wan.tasks.lock().unwrap();
    let id = format!("wan-task-{}", tasks.len() + 1);
    tasks.insert(id.clone(), (prompt, 0, video, false));
    HttpResponse::Ok()
        .json(json!({"request_id": "r", "output": {"task_id": id, "task_status": "PENDING"}}))
}

/// A result file as a vendor's file route serves it: the sample MP4 or the sample PNG.
pub fn sample_file(video: bool) -> HttpResponse {
    if video {
        HttpResponse::Ok()
            .content_type("video/mp4")
            .body(sample_mp4())
    } else {
        HttpResponse::Ok()
            .content_type("image/png")
            .body(sample_png())
    }
}

/// A real short MP4, as a video model would return.
pub fn sample_mp4() -> Vec<u8> {
    let still = image::RgbImage::from_fn(160, 96, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, 120])
    });
    picturedeck::generation::providers::local::video::pan_zoom(&still, 128, 80, 2, 1, &|_| {})
        .unwrap()
}

impl FakeVendor {
    pub async fn dashscope() -> FakeVendor {
        let state = Wan::default();
        let shared = state.shared.clone();
        let (url, handle) = loopback::serve(every_path(state, wan));
        FakeVendor {
            url,
            shared,
            handle,
        }
    }

    /// Lets at most `n` more remote tasks finish; the rest stay RUNNING (a vendor that gives no
    /// progress) until the limit is raised. `usize::MAX` lets every task finish again.
    pub fn finish_at_most(&self, n: usize) {
        *self.shared.may_finish.lock().unwrap() = n;
    }

    /// Requests that submitted a task (not polls or downloads).
    pub fn submits(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with("/api/v1/services/"))
            .collect()
    }
}
