//! Loopback fakes of Stability AI v2beta, Volcengine Ark (Seedream, Seedance), Kling, Tencent
//! Hunyuan, a second "OpenAI-compatible" images service and the local GPU servers, each
//! speaking its documented contract (the adapters' module comments name the pages). Like `fakes.rs`, a script of replies lets a test ask for
//! rate limits, outages, refusals and garbage; words in a prompt steer remote tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde_json::{json, Value};

use super::fakes::{sample_file, sample_mp4, sample_png};
use super::loopback::{self, canned, every_path, Script};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub content_type: String,
    pub accept: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value, if the request had it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A text field of a multipart body.
    pub fn field(&self, name: &str) -> Option<String> {
        form_field(&self.body, name).map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// One scripted reply; when the script is empty the fake does what its contract says.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A success with these bytes as the picture (a JPEG or WebP, say).
    Bytes(Vec<u8>),
    Status {
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    /// 200 with a body that is not what the contract promises.
    Garbage,
    /// The normal answer, after this pause.
    Slow(Duration),
    /// Stability: the JSON form `{image, finish_reason, seed}` whatever Accept said (as a
    /// gateway in front of the API may answer).
    Json,
    /// Seedream: a `url` to download instead of the inline picture asked for.
    Url,
}

#[derive(Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    script: Script<Reply>,
    /// Ark: remote video tasks by id: (prompt, polls, status).
    tasks: Mutex<HashMap<String, (String, u32, String)>>,
    /// The AUTOMATIC1111 webui's own state.
    gpu: Mutex<Gpu>,
    /// ComfyUI's input folder and prompts.
    comfy: Mutex<Comfy>,
}

#[derive(Default)]
struct Comfy {
    /// Names of uploaded pictures.
    inputs: Vec<String>,
    prompts: Vec<ComfyPrompt>,
}

struct ComfyPrompt {
    id: String,
    prompt: String,
    /// History reads so far: a prompt waits for one, runs for two, then is done.
    reads: u32,
    interrupted: bool,
}

impl ComfyPrompt {
    fn waiting(&self) -> bool {
        self.reads < 2 && !self.interrupted
    }

    fn done(&self) -> bool {
        self.interrupted || (self.reads > 3 && !self.prompt.contains("[slow]"))
    }

    fn running(&self) -> bool {
        !self.waiting() && !self.done()
    }
}

#[derive(Default)]
struct Gpu {
    /// The `Authorization` the server asks for when started with `--api-auth`.
    basic: Option<String>,
    /// The sampling step of the picture being drawn, and of how many.
    step: Option<(u32, u32)>,
    interrupted: bool,
}

pub struct Fake {
    pub url: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Fake {
    async fn serve(
        handler: fn(HttpRequest, web::Bytes, web::Data<Arc<State>>) -> BoxReply,
    ) -> Fake {
        let state = Arc::new(State::default());
        let (url, handle) = loopback::serve(every_path(state.clone(), handler));
        Fake { url, state, handle }
    }

    pub async fn stability() -> Fake {
        Fake::serve(|r, b, s| Box::pin(stability(r, b, s))).await
    }

    pub async fn ark() -> Fake {
        Fake::serve(|r, b, s| Box::pin(ark(r, b, s))).await
    }

    pub async fn kling() -> Fake {
        Fake::serve(|r, b, s| Box::pin(kling(r, b, s))).await
    }

    pub async fn hunyuan() -> Fake {
        Fake::serve(|r, b, s| Box::pin(hunyuan(r, b, s))).await
    }

    pub async fn openai_compatible() -> Fake {
        Fake::serve(|r, b, s| Box::pin(compatible(r, b, s))).await
    }

    /// An AUTOMATIC1111 webui started with `--api --api-auth user:password`.
    pub async fn a1111(user: &str, password: &str) -> Fake {
        let fake = Fake::serve(|r, b, s| Box::pin(a1111(r, b, s))).await;
        fake.state.gpu.lock().unwrap().basic = Some(format!(
            "Basic {}",
            b64(format!("{user}:{password}").as_bytes())
        ));
        fake
    }

    /// A ComfyUI server (no authentication, as ComfyUI has none).
    pub async fn comfyui() -> Fake {
        Fake::serve(|r, b, s| Box::pin(comfyui(r, b, s))).await
    }

    /// Whether ComfyUI was told to interrupt this prompt while it ran.
    pub fn comfy_interrupted(&self, id: &str) -> bool {
        self.state
            .comfy
            .lock()
            .unwrap()
            .prompts
            .iter()
            .any(|p| p.id == id && p.interrupted)
    }

    /// Whether the webui is drawing a picture now (an interrupt stops it at once).
    pub fn drawing(&self) -> bool {
        let gpu = self.state.gpu.lock().unwrap();
        gpu.step.is_some() && !gpu.interrupted
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.extend(replies);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Calls that asked for work (POSTs), not polls, downloads or cancels.
    pub fn posts(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST")
            .collect()
    }

    /// The status the fake holds for a remote task.
    pub fn task_status(&self, id: &str) -> Option<String> {
        self.state
            .tasks
            .lock()
            .unwrap()
            .get(id)
            .map(|t| t.2.clone())
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

type BoxReply = std::pin::Pin<Box<dyn std::future::Future<Output = HttpResponse>>>;

fn header(req: &HttpRequest, name: &str) -> String {
    loopback::header(req, name).unwrap_or_default()
}

/// Records the call and takes the next scripted reply, if any.
fn record(req: &HttpRequest, body: &web::Bytes, state: &State) -> Option<Reply> {
    log_call(req, body, state);
    state.script.pop()
}

/// Records the call only: calls that run beside a scripted one leave the script alone.
fn log_call(req: &HttpRequest, body: &web::Bytes, state: &State) {
    state.calls.lock().unwrap().push(Call {
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        authorization: loopback::header(req, "authorization"),
        content_type: header(req, "content-type"),
        accept: header(req, "accept"),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    });
}

/// What every fake does alike with a scripted reply: a status is the answer, garbage is the
/// vendor's own `garbage`, a pause delays the normal answer. `Err` is an answer to give now;
/// `Ok` holds what is left (other bytes, JSON, a URL) for the handler.
async fn play(
    scripted: Option<Reply>,
    garbage: impl FnOnce() -> HttpResponse,
) -> Result<Option<Reply>, HttpResponse> {
    match scripted {
        Some(Reply::Status {
            status: s,
            body,
            retry_after,
        }) => Err(canned(s, body, retry_after)),
        Some(Reply::Garbage) => Err(garbage()),
        Some(Reply::Slow(pause)) => {
            tokio::time::sleep(pause).await;
            Ok(None)
        }
        rest => Ok(rest),
    }
}

/// The bytes of multipart field `name` (a plain parser: enough for what reqwest sends).
pub fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let marker = format!("name=\"{name}\"");
    let at = body
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())?;
    let rest = &body[at..];
    let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let rest = &rest[start..];
    let end = rest.windows(4).position(|w| w == b"\r\n--")?;
    Some(&rest[..end])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn mime_of(bytes: &[u8]) -> &'static str {
    picturedeck::storage::media::sniff(bytes).unwrap_or("application/octet-stream")
}

/// A small real JPEG, which is what Seedream answers with.
pub fn sample_jpeg() -> Vec<u8> {
    picturedeck::storage::images::encode_jpeg(&image::DynamicImage::ImageRgb8(
        image::RgbImage::from_fn(72, 40, |x, y| {
            image::Rgb([(x * 3) as u8, 120, (y * 6) as u8])
        }),
    ))
    .unwrap()
}

/// Stability v2beta `POST /v2beta/stable-image/generate/{ultra|core|sd3}`: multipart only,
/// Bearer key, `Accept: image/*` (raw bytes with `finish-reason` and `seed` headers) or
/// `application/json`. A prompt with `[filtered]` ends CONTENT_FILTERED.
async fn stability(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<State>>,
) -> HttpResponse {
    let scripted = record(&req, &body, &state);
    let bad = |what: &str| {
        canned(
            400,
            json!({"id": "e1", "name": "bad_request", "errors": [what]}).to_string(),
            None,
        )
    };
    let endpoint = req.path().strip_prefix("/v2beta/stable-image/generate/");
    if req.method() != actix_web::http::Method::POST
        || !matches!(endpoint, Some("ultra" | "core" | "sd3"))
    {
        return canned(
            404,
            r#"{"id":"e0","name":"not_found","errors":["no such route"]}"#,
            None,
        );
    }
    if !header(&req, "authorization").starts_with("Bearer sk-") {
        return canned(
            401,
            r#"{"id":"e2","name":"unauthorized","errors":["missing authorization header"]}"#,
            None,
        );
    }
    if !header(&req, "content-type").starts_with("multipart/form-data") {
        return bad("content-type: must be multipart/form-data");
    }
    let field = |n: &str| form_field(&body, n).map(|b| String::from_utf8_lossy(b).into_owned());
    let prompt = field("prompt").unwrap_or_default();
    if prompt.is_empty() {
        return bad("prompt: is required");
    }
    if endpoint == Some("sd3") && field("mode").as_deref() == Some("image-to-image") {
        if form_field(&body, "image").is_none() || field("strength").is_none() {
            return bad("image-to-image: image and strength are required");
        }
        if field("aspect_ratio").is_some() {
            return bad("aspect_ratio: not allowed in image-to-image mode");
        }
    }
    let mut picture = sample_png();
    let mut as_json = header(&req, "accept").starts_with("application/json");
    let garbage = || {
        HttpResponse::Ok()
            .content_type("image/png")
            .insert_header(("finish-reason", "SUCCESS"))
            .body("this is not a picture")
    };
    match play(scripted, garbage).await {
        Err(answer) => return answer,
        Ok(Some(Reply::Bytes(bytes))) => picture = bytes,
        Ok(Some(Reply::Json)) => as_json = true,
        Ok(_) => {}
    }
    let reason = if prompt.contains("[filtered]") {
        "CONTENT_FILTERED"
    } else {
        "SUCCESS"
    };
    let seed = field("seed").unwrap_or_else(|| "1234".into());
    if as_json {
        let mime = mime_of(&picture);
        return HttpResponse::Ok()
            .content_type(format!("application/json; type={mime}"))
            .body(
                json!({"image": b64(&picture), "finish_reason": reason, "seed": seed.parse::<u64>().unwrap_or(0)})
                    .to_string(),
            );
    }
    HttpResponse::Ok()
        .content_type(mime_of(&picture))
        .insert_header(("finish-reason", reason))
        .insert_header(("seed", seed))
        .body(picture)
}

fn ark_error(status_code: u16, code: &str, message: &str) -> HttpResponse {
    canned(
        status_code,
        json!({"error": {"code": code, "message": message, "param": "", "type": "BadRequest"}})
            .to_string(),
        None,
    )
}

/// Volcengine Ark under `/api/v3`: Seedream `POST /images/generations` (sync) and Seedance
/// `/contents/generations/tasks` (create, get, DELETE). Prompt words: `[moderation]` is refused
/// at submit, `[unsafe-output]` makes a Seedance task fail its output check, `[expired]` expires,
/// `[forgotten]` is unknown when polled, `[slow]` stays queued for many polls.
async fn ark(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let scripted = record(&req, &body, &state);
    let host = req.connection_info().host().to_string();
    let path = req.path().to_string();
    if let Some(file) = path.strip_prefix("/files/") {
        return if file.ends_with(".mp4") {
            HttpResponse::Ok()
                .content_type("video/mp4")
                .body(sample_mp4())
        } else {
            HttpResponse::Ok()
                .content_type("image/jpeg")
                .body(sample_jpeg())
        };
    }
    if header(&req, "authorization") != "Bearer ark-test-key" {
        return ark_error(401, "AuthenticationError", "the API key is invalid");
    }
    let mut picture = sample_jpeg();
    let mut as_url = false;
    let garbage = || {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"data": [{"b64_json": 7"#)
    };
    match play(scripted, garbage).await {
        Err(answer) => return answer,
        Ok(Some(Reply::Bytes(bytes))) => picture = bytes,
        Ok(Some(Reply::Url)) => as_url = true,
        Ok(_) => {}
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if path == "/api/v3/images/generations" && req.method() == actix_web::http::Method::POST {
        let prompt = request["prompt"].as_str().unwrap_or("");
        if request["model"].as_str().is_none() || prompt.is_empty() {
            return ark_error(400, "MissingParameter", "model and prompt are required");
        }
        if prompt.contains("[moderation]") {
            return ark_error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            );
        }
        let size = request["size"].as_str().unwrap_or("2048x2048");
        let item = if request["response_format"] == "b64_json" && !as_url {
            json!({"b64_json": b64(&picture), "size": size})
        } else {
            json!({"url": format!("http://{host}/files/seedream-1.jpeg"), "size": size})
        };
        return HttpResponse::Ok().json(json!({
            "model": request["model"], "created": 1_790_000_000,
            "data": [item],
            "usage": {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384}
        }));
    }
    let tasks_path = "/api/v3/contents/generations/tasks";
    if path == tasks_path && req.method() == actix_web::http::Method::POST {
        let Some(content) = request["content"].as_array() else {
            return ark_error(400, "MissingParameter", "content is required");
        };
        let prompt = content
            .iter()
            .find(|c| c["type"] == "text")
            .and_then(|c| c["text"].as_str())
            .unwrap_or("")
            .to_string();
        if prompt.contains("[moderation]") {
            return ark_error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            );
        }
        let roles_ok = content
            .iter()
            .filter(|c| c["type"] == "image_url")
            .all(|c| {
                c["image_url"]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("data:image/"))
                    && matches!(
                        c["role"].as_str(),
                        Some("first_frame" | "last_frame" | "reference_image")
                    )
            });
        if !roles_ok {
            return ark_error(
                400,
                "InvalidParameter",
                "image_url items need a url and a role",
            );
        }
        let mut tasks = state.tasks.lock().unwrap();
        let id = format!("cgt-20261201-{}", tasks.len() + 1);
        tasks.insert(id.clone(), (prompt, 0, "queued".into()));
        return HttpResponse::Ok().json(json!({"id": id}));
    }
    let Some(id) = path.strip_prefix(&format!("{tasks_path}/")) else {
        return ark_error(404, "NotFound", "no such route");
    };
    let mut tasks = state.tasks.lock().unwrap();
    let Some((prompt, polls, status_now)) = tasks.get_mut(id) else {
        return ark_error(404, "ResourceNotFound", "the task does not exist");
    };
    // Task records are deleted after 7 days: the id is then unknown.
    if prompt.contains("[forgotten]") {
        return ark_error(404, "ResourceNotFound", "the task does not exist");
    }
    if req.method() == actix_web::http::Method::DELETE {
        return match status_now.as_str() {
            "queued" => {
                *status_now = "cancelled".into();
                HttpResponse::Ok().json(json!({}))
            }
            other => ark_error(
                400,
                "InvalidParameter",
                &format!("a task that is {other} cannot be cancelled"),
            ),
        };
    }
    if status_now == "queued" || status_now == "running" {
        *polls += 1;
        let steps = if prompt.contains("[slow]") { 1000 } else { 3 };
        *status_now = if *polls >= steps {
            if prompt.contains("[unsafe-output]") {
                "failed"
            } else if prompt.contains("[expired]") {
                "expired"
            } else {
                "succeeded"
            }
        } else if *polls > 1 && !prompt.contains("[slow]") {
            "running"
        } else {
            "queued"
        }
        .into();
    }
    let mut answer = json!({
        "id": id, "model": "seedance", "status": status_now,
        "created_at": 1_790_000_000, "updated_at": 1_790_000_010,
    });
    match status_now.as_str() {
        "succeeded" => {
            answer["content"] = json!({"video_url": format!("http://{host}/files/{id}.mp4")});
            answer["usage"] = json!({"completion_tokens": 108_900, "total_tokens": 108_900});
        }
        "failed" => {
            answer["error"] = json!({"code": "OutputVideoSensitiveContentDetected", "message": "The generated video may contain sensitive information."});
        }
        _ => {}
    }
    HttpResponse::Ok().json(answer)
}

/// A second OpenAI-compatible images service, different the way such services are: it
/// answers with `url` (a JPEG on its own file route) instead of `b64_json`, and refuses the
/// fields it does not know (`quality`, `output_format`, `background`, `moderation`).
async fn compatible(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<State>>,
) -> HttpResponse {
    let scripted = record(&req, &body, &state);
    let host = req.connection_info().host().to_string();
    if req.path().starts_with("/files/") {
        return HttpResponse::Ok()
            .content_type("image/jpeg")
            .body(sample_jpeg());
    }
    if let Some(Reply::Status {
        status: s,
        body,
        retry_after,
    }) = scripted
    {
        return canned(s, body, retry_after);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    for unknown in ["quality", "output_format", "background", "moderation"] {
        if !request[unknown].is_null() {
            return canned(
                400,
                json!({"error": {"message": format!("Unrecognized request argument supplied: {unknown}"), "type": "invalid_request_error", "param": unknown, "code": null}}).to_string(),
                None,
            );
        }
    }
    HttpResponse::Ok().json(json!({
        "created": 1_790_000_000,
        "data": [{"url": format!("http://{host}/files/img-1.jpeg"), "revised_prompt": null}]
    }))
}

/// The key pair the Kling fake accepts.
pub const KLING_ACCESS_KEY: &str = "kling-access-key";
pub const KLING_SECRET_KEY: &str = "kling-secret-key";

fn kling_error(status_code: u16, code: i64, message: &str) -> HttpResponse {
    canned(
        status_code,
        json!({"code": code, "message": message, "request_id": "req-1"}).to_string(),
        None,
    )
}

/// Whether `authorization` is `Bearer <JWT>` signed HS256 with the secret key, issued by the
/// access key, and valid now (`exp`, `nbf`).
pub fn kling_token_ok(authorization: &str) -> bool {
    let Some(token) = authorization.strip_prefix("Bearer ") else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "iss"]);
    validation.set_issuer(&[KLING_ACCESS_KEY]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(KLING_SECRET_KEY.as_bytes()),
        &validation,
    )
    .is_ok()
}

/// Kling `POST /v1/videos/{text2video|image2video}` and `GET .../{task_id}` in the `{code,
/// message, request_id, data}` envelope, JWT checked on every call. Prompt words: `[moderation]`
/// (code 1301 at submit), `[arrears]` (429 with code 1101), `[unsafe-output]` (the task fails
/// its check), `[forgotten]` (unknown when polled, 1203), `[slow]` (many polls).
async fn kling(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let scripted = record(&req, &body, &state);
    let host = req.connection_info().host().to_string();
    let path = req.path().to_string();
    if let Some(file) = path.strip_prefix("/files/") {
        let _ = file;
        return HttpResponse::Ok()
            .content_type("video/mp4")
            .body(sample_mp4());
    }
    if !kling_token_ok(&header(&req, "authorization")) {
        return kling_error(401, 1002, "Authorization is invalid");
    }
    let garbage = || {
        HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>gateway says hello</html>")
    };
    if let Err(answer) = play(scripted, garbage).await {
        return answer;
    }
    let kind = if path.starts_with("/v1/videos/image2video") {
        "image2video"
    } else if path.starts_with("/v1/videos/text2video") {
        "text2video"
    } else {
        return kling_error(404, 1203, "the requested resource does not exist");
    };
    if req.method() == actix_web::http::Method::POST {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let prompt = request["prompt"].as_str().unwrap_or("").to_string();
        let bare = |v: &Value| {
            v.as_str().is_some_and(|s| {
                !s.starts_with("data:")
                    && base64::engine::general_purpose::STANDARD.decode(s).is_ok()
            })
        };
        if request["model_name"].as_str().is_none()
            || !matches!(request["duration"].as_str(), Some("5" | "10"))
            || !matches!(request["mode"].as_str(), Some("std" | "pro"))
            || (kind == "image2video" && !bare(&request["image"]))
            || (!request["image_tail"].is_null() && !bare(&request["image_tail"]))
        {
            return kling_error(400, 1201, "Invalid request parameters");
        }
        if prompt.contains("[moderation]") {
            return kling_error(
                400,
                1301,
                "Trigger the content security policy of the platform",
            );
        }
        if prompt.contains("[arrears]") {
            return kling_error(429, 1101, "Account in arrears");
        }
        let mut tasks = state.tasks.lock().unwrap();
        let id = format!("{kind}-{}", tasks.len() + 1);
        tasks.insert(id.clone(), (prompt, 0, "submitted".into()));
        return HttpResponse::Ok().json(json!({"code": 0, "message": "SUCCEED", "request_id": "req-1",
            "data": {"task_id": id, "task_status": "submitted", "created_at": 1_790_000_000_000_i64, "updated_at": 1_790_000_000_000_i64}}));
    }
    let id = path.rsplit('/').next().unwrap_or("");
    let mut tasks = state.tasks.lock().unwrap();
    // A task is found only under its own kind's path.
    let Some((prompt, polls, status_now)) = tasks.get_mut(id).filter(|_| id.starts_with(kind))
    else {
        return kling_error(404, 1203, "the requested resource does not exist");
    };
    if prompt.contains("[forgotten]") {
        return kling_error(404, 1203, "the requested resource does not exist");
    }
    *polls += 1;
    let steps = if prompt.contains("[slow]") { 1000 } else { 3 };
    if *polls >= steps {
        *status_now = if prompt.contains("[unsafe-output]") {
            "failed"
        } else {
            "succeed"
        }
        .into();
    } else if *polls > 1 {
        *status_now = "processing".into();
    }
    let mut data = json!({"task_id": id, "task_status": status_now, "task_status_msg": "",
        "created_at": 1_790_000_000_000_i64, "updated_at": 1_790_000_010_000_i64});
    match status_now.as_str() {
        "succeed" => {
            data["task_result"] = json!({"videos": [{"id": "v1", "url": format!("http://{host}/files/{id}.mp4"), "duration": "5.1"}]});
        }
        "failed" => {
            data["task_status_msg"] = json!("Failure to pass the risk control system: the content security policy was triggered");
        }
        _ => {}
    }
    HttpResponse::Ok()
        .json(json!({"code": 0, "message": "SUCCEED", "request_id": "req-2", "data": data}))
}

/// The key pair the Hunyuan fake knows (a Tencent Cloud SecretId and SecretKey).
pub const HUNYUAN_SECRET_ID: &str = "AKIDpicturedeckTestSecretId0123456789";
pub const HUNYUAN_SECRET_KEY: &str = "picturedeck-test-secret-key-0123";

/// A Tencent Cloud API 3.0 error: HTTP 200 with `Response.Error`.
fn tencent_error(code: &str, message: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"Response": {
        "Error": {"Code": code, "Message": message},
        "RequestId": "6a1d2c4e-0000-4000-8000-000000000001"}}))
}

fn hmac_sha256(key: &[u8], message: &str) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a TC3-HMAC-SHA256 `Authorization` the way Tencent's "Signature v3" page describes
/// it, written apart from the adapter's signer: the credential names `secret_id` and the
/// timestamp's UTC date and `service`; the timestamp is within five minutes of `now`;
/// `content-type` and `host` are signed; the signature over the canonical request of the
/// headers as received is the one `secret_key` gives. `Err` is the code Tencent answers with.
pub fn tc3_verify(
    authorization: &str,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    (secret_id, secret_key, service): (&str, &str, &str),
    now: i64,
) -> Result<(), &'static str> {
    let invalid = "AuthFailure.InvalidAuthorization";
    let fields = authorization
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or(invalid)?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .ok_or(invalid)
    };
    let (credential, signed, signature) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );
    let mut scope = credential.splitn(2, '/');
    if scope.next() != Some(secret_id) {
        return Err("AuthFailure.SecretIdNotFound");
    }
    let scope = scope.next().ok_or(invalid)?;
    let timestamp: i64 = header("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("MissingParameter")?;
    if (now - timestamp).abs() > 300 {
        return Err("AuthFailure.SignatureExpire");
    }
    let date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let failure = "AuthFailure.SignatureFailure";
    if scope != format!("{date}/{service}/tc3_request") {
        return Err(failure);
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(failure);
    }
    let mut canonical = String::from("POST\n/\n\n");
    for name in &names {
        let value = header(name).ok_or(failure)?;
        canonical += &format!("{name}:{}\n", value.trim().to_lowercase());
    }
    canonical += &format!("\n{signed}\n{}", sha256_hex(body));
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = hmac_sha256(format!("TC3{secret_key}").as_bytes(), &date);
    let key = hmac_sha256(&hmac_sha256(&key, service), "tc3_request");
    let expected: String = hmac_sha256(&key, &to_sign)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (signature == expected).then_some(()).ok_or(failure)
}

/// Whether a call to the Hunyuan fake carried a good signature for its key pair.
pub fn hunyuan_signed(call: &Call) -> bool {
    let now = chrono::Utc::now().timestamp();
    tc3_verify(
        call.authorization.as_deref().unwrap_or(""),
        |n| call.header(n).map(str::to_string),
        &call.body,
        (HUNYUAN_SECRET_ID, HUNYUAN_SECRET_KEY, "hunyuan"),
        now,
    )
    .is_ok()
}

/// Tencent Hunyuan image generation, Tencent Cloud API 3.0: `POST /` with `X-TC-Action`
/// `SubmitHunyuanImageJob` (→ `JobId`) or `QueryHunyuanImageJob` (`JobStatusCode` "1" waiting,
/// "2" running, "4" failed, "5" done with `ResultImage` URLs), `X-TC-Version: 2023-09-01`,
/// `X-TC-Region: ap-guangzhou`, every call's TC3 signature checked; errors are HTTP 200 with
/// `Response.Error`. Prompt words: `[moderation]` (OperationDenied.TextIllegalDetected),
/// `[arrears]` (ResourceUnavailable.InArrears), `[unsafe-output]` (the job fails with
/// FailedOperation.GenerateImageFailed), `[forgotten]` (the query refuses the JobId),
/// `[expired]` (done, but its result URL answers 404 as an expired signed URL does), `[slow]`.
async fn hunyuan(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let scripted = record(&req, &body, &state);
    let host = req.connection_info().host().to_string();
    let path = req.path().to_string();
    if let Some(file) = path.strip_prefix("/files/") {
        return if file.starts_with("expired") {
            HttpResponse::NotFound()
                .content_type("application/xml")
                .body("<Error><Code>NoSuchKey</Code></Error>")
        } else {
            HttpResponse::Ok()
                .content_type("image/png")
                .body(sample_png())
        };
    }
    let garbage = || {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"Response": {"JobId": "#)
    };
    if let Err(answer) = play(scripted, garbage).await {
        return answer;
    }
    if req.method() != actix_web::http::Method::POST || path != "/" {
        return tencent_error("UnsupportedProtocol", "POST / only");
    }
    let signed = tc3_verify(
        &header(&req, "authorization"),
        |n| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        },
        &body,
        (HUNYUAN_SECRET_ID, HUNYUAN_SECRET_KEY, "hunyuan"),
        chrono::Utc::now().timestamp(),
    );
    if let Err(code) = signed {
        return tencent_error(code, "The provided credentials could not be validated.");
    }
    if header(&req, "x-tc-version") != "2023-09-01" {
        return tencent_error("NoSuchVersion", "The requested version does not exist.");
    }
    if header(&req, "x-tc-region") != "ap-guangzhou" {
        return tencent_error("UnsupportedRegion", "The API does not support this region.");
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let bad = |what: &str| tencent_error("InvalidParameterValue.ParameterValueError", what);
    match header(&req, "x-tc-action").as_str() {
        "SubmitHunyuanImageJob" => {
            let prompt = request["Prompt"].as_str().unwrap_or("").to_string();
            if prompt.is_empty() {
                return bad("Prompt 不能为空");
            }
            let with_image = !request["ContentImage"].is_null();
            let resolutions: &[&str] = if with_image {
                &["768:768", "768:1024", "1024:768", "1024:1024"]
            } else {
                &[
                    "768:768",
                    "768:1024",
                    "1024:768",
                    "1024:1024",
                    "720:1280",
                    "1280:720",
                    "768:1280",
                    "1280:768",
                ]
            };
            if !request["Resolution"].is_null()
                && !request["Resolution"]
                    .as_str()
                    .is_some_and(|r| resolutions.contains(&r))
            {
                return bad("Resolution 取值错误");
            }
            let within = |field: &str, range: std::ops::RangeInclusive<u64>| {
                request[field].as_u64().is_none_or(|v| range.contains(&v))
            };
            if !(within("Num", 1..=4)
                && within("LogoAdd", 0..=1)
                && within("Seed", 1..=2_147_483_647))
            {
                return bad("Num, LogoAdd or Seed out of range");
            }
            if with_image {
                let decodes = request["ContentImage"]["ImageBase64"]
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                    .is_some_and(|bytes| {
                        matches!(
                            image::guess_format(&bytes),
                            Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg)
                        )
                    });
                if !decodes {
                    return tencent_error("FailedOperation.ImageDecodeFailed", "图片解码失败");
                }
            }
            if prompt.contains("[moderation]") {
                return tencent_error(
                    "OperationDenied.TextIllegalDetected",
                    "文本包含违法违规信息,审核不通过。",
                );
            }
            if prompt.contains("[arrears]") {
                return tencent_error("ResourceUnavailable.InArrears", "账号已欠费。");
            }
            let mut tasks = state.tasks.lock().unwrap();
            let id = format!(
                "1251197749-1790000000-{:08x}-fa21-40bc-9ee7-4bb13abece6e-0",
                tasks.len() + 1
            );
            tasks.insert(id.clone(), (prompt, 0, "1".into()));
            HttpResponse::Ok().json(json!({"Response": {"JobId": id,
                "RequestId": "6a1d2c4e-0000-4000-8000-000000000002"}}))
        }
        "QueryHunyuanImageJob" => {
            let id = request["JobId"].as_str().unwrap_or("");
            let mut tasks = state.tasks.lock().unwrap();
            let Some((prompt, polls, code)) = tasks
                .get_mut(id)
                .filter(|(prompt, ..)| !prompt.contains("[forgotten]"))
            else {
                return tencent_error("InvalidParameter.InvalidParameter", "JobId 不存在");
            };
            *polls += 1;
            let steps = if prompt.contains("[slow]") { 1000 } else { 3 };
            *code = if *polls >= steps {
                if prompt.contains("[unsafe-output]") {
                    "4"
                } else {
                    "5"
                }
            } else if *polls > 1 {
                "2"
            } else {
                "1"
            }
            .into();
            let mut answer = json!({
                "JobStatusCode": code,
                "JobStatusMsg": match code.as_str() {
                    "1" => "排队中", "2" => "处理中", "4" => "处理失败", _ => "处理完成" },
                "JobErrorCode": "", "JobErrorMsg": "",
                "ResultImage": [], "ResultDetails": [], "RevisedPrompt": [],
                "RequestId": "6a1d2c4e-0000-4000-8000-000000000003",
            });
            match code.as_str() {
                "5" => {
                    let file = if prompt.contains("[expired]") {
                        "expired-1"
                    } else {
                        "result-1"
                    };
                    answer["ResultImage"] = json!([format!("http://{host}/files/{file}.png")]);
                    answer["ResultDetails"] = json!(["Success"]);
                    answer["RevisedPrompt"] = json!([prompt.clone()]);
                }
                "4" => {
                    answer["JobErrorCode"] = json!("FailedOperation.GenerateImageFailed");
                    answer["JobErrorMsg"] = json!("图片包含敏感内容");
                }
                _ => {}
            }
            HttpResponse::Ok().json(json!({ "Response": answer }))
        }
        _ => tencent_error("InvalidAction", "The action does not exist."),
    }
}

/// An error as the webui's exception middleware renders it (`modules/api/api.py`).
fn webui_error(status_code: u16, error: &str, detail: &str) -> HttpResponse {
    canned(
        status_code,
        json!({"error": error, "detail": detail, "body": "", "errors": format!("{status_code}: {detail}")})
            .to_string(),
        None,
    )
}

/// The AUTOMATIC1111 webui API: `POST /sdapi/v1/txt2img` and `/img2img` block until the picture
/// is made (`{images, parameters, info}`), `GET /sdapi/v1/progress` tells how far (`progress`
/// 0..1 and the `state` snapshot), `POST /sdapi/v1/interrupt` stops sampling and the call
/// answers with what it has. HTTP Basic on every route, as with `--api-auth`. Prompt words:
/// `[slow]` samples 20 steps of 100 ms, `[long]` 300.
async fn a1111(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let path = req.path().to_string();
    let generating = matches!(path.as_str(), "/sdapi/v1/txt2img" | "/sdapi/v1/img2img");
    let scripted = if generating {
        record(&req, &body, &state)
    } else {
        log_call(&req, &body, &state);
        None
    };
    let basic = state.gpu.lock().unwrap().basic.clone();
    if let Some(basic) = basic {
        let given = header(&req, "authorization");
        if given.is_empty() {
            return webui_error(401, "HTTPException", "Not authenticated");
        }
        if given != basic {
            return webui_error(401, "HTTPException", "Incorrect username or password");
        }
    }
    let post = req.method() == actix_web::http::Method::POST;
    match (path.as_str(), post) {
        ("/sdapi/v1/progress", false) => {
            let gpu = state.gpu.lock().unwrap();
            let (progress, job_count, (step, steps)) = match gpu.step {
                Some((step, steps)) => (
                    (0.01 + f64::from(step) / f64::from(steps)).min(1.0),
                    1,
                    (step, steps),
                ),
                None => (0.0, 0, (0, 0)),
            };
            // The preview costs the server an encode: only sent when not skipped.
            let preview = (!req.query_string().contains("skip_current_image=true"))
                .then(|| b64(&sample_png()));
            return HttpResponse::Ok().json(json!({
                "progress": progress, "eta_relative": 1.5,
                "state": {"skipped": false, "interrupted": gpu.interrupted, "job": "",
                          "job_count": job_count, "job_timestamp": "20261201120000",
                          "job_no": 0, "sampling_step": step, "sampling_steps": steps},
                "current_image": preview, "textinfo": null
            }));
        }
        ("/sdapi/v1/interrupt", true) => {
            state.gpu.lock().unwrap().interrupted = true;
            return HttpResponse::Ok().json(json!({}));
        }
        _ if generating && post => {}
        _ => return canned(404, r#"{"detail":"Not Found"}"#, None),
    }
    let mut picture = sample_png();
    let garbage = || {
        HttpResponse::Ok()
            .json(json!({"images": ["%% not base64 %%"], "parameters": {}, "info": "{}"}))
    };
    match play(scripted, garbage).await {
        Err(answer) => return answer,
        Ok(Some(Reply::Bytes(bytes))) => picture = bytes,
        Ok(_) => {}
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return canned(
            422,
            r#"{"detail":[{"loc":["body",0],"msg":"Expecting value","type":"value_error.jsondecode"}]}"#,
            None,
        );
    };
    let multiple_of_8 = |v: &Value| v.as_u64().is_some_and(|n| n >= 64 && n % 8 == 0);
    if !request["prompt"].is_string()
        || !multiple_of_8(&request["width"])
        || !multiple_of_8(&request["height"])
        || !request["override_settings"]["sd_model_checkpoint"].is_string()
    {
        return canned(
            422,
            r#"{"detail":[{"loc":["body"],"msg":"prompt, width, height, checkpoint","type":"value_error"}]}"#,
            None,
        );
    }
    if path.ends_with("img2img") {
        let Some(init) = request["init_images"].as_array().filter(|a| !a.is_empty()) else {
            return webui_error(404, "HTTPException", "Init image not found");
        };
        let decodes = init.iter().all(|i| {
            i.as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .is_some_and(|bytes| image::load_from_memory(&bytes).is_ok())
        });
        if !decodes {
            return webui_error(500, "HTTPException", "Invalid encoded image");
        }
        if !request["denoising_strength"]
            .as_f64()
            .is_some_and(|d| (0.0..=1.0).contains(&d))
        {
            return canned(
                422,
                r#"{"detail":[{"loc":["body","denoising_strength"],"msg":"value is not a valid float","type":"type_error.float"}]}"#,
                None,
            );
        }
    }
    let prompt = request["prompt"].as_str().unwrap_or("");
    let steps = if prompt.contains("[long]") {
        300
    } else if prompt.contains("[slow]") {
        20
    } else {
        1
    };
    state.gpu.lock().unwrap().interrupted = false;
    for step in 0..steps {
        {
            let mut gpu = state.gpu.lock().unwrap();
            if gpu.interrupted {
                break;
            }
            gpu.step = Some((step, steps));
        }
        if steps > 1 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    state.gpu.lock().unwrap().step = None;
    HttpResponse::Ok().json(json!({
        "images": [b64(&picture)],
        "parameters": request,
        "info": json!({"prompt": prompt, "seed": request["seed"]}).to_string(),
    }))
}

/// ComfyUI's `server.py`: `POST /upload/image` (multipart `image`), `POST /prompt {prompt,
/// client_id}` (400 `{error, node_errors}` for a graph it refuses), `GET /queue`, `GET
/// /history/{id}` (`{}` until the prompt ran), `GET /view`, `POST /queue {delete}` and `POST
/// /interrupt {prompt_id}`. A queued prompt waits one history read, runs two, then is done.
/// Prompt words: `[slow]` runs until interrupted, `[broken]` fails in a node, `[forgotten]`
/// vanishes (a restarted server), `[video]` saves an MP4 under `gifs`.
async fn comfyui(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let path = req.path().to_string();
    let post = req.method() == actix_web::http::Method::POST;
    let scripted = if (post && path == "/prompt") || path.starts_with("/history/") {
        record(&req, &body, &state)
    } else {
        log_call(&req, &body, &state);
        None
    };
    let garbage = || {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"outputs": ["#)
    };
    if let Err(answer) = play(scripted, garbage).await {
        return answer;
    }
    let refused = |kind: &str, message: &str| {
        canned(
            400,
            json!({"error": {"type": kind, "message": message, "details": "", "extra_info": {}},
                    "node_errors": {}})
            .to_string(),
            None,
        )
    };
    if post && path == "/upload/image" {
        if form_field(&body, "image").is_none_or(|b| image::load_from_memory(b).is_err()) {
            return HttpResponse::BadRequest().finish();
        }
        let marker = b"filename=\"";
        let at = body
            .windows(marker.len())
            .position(|w| w == marker)
            .map(|p| p + marker.len())
            .unwrap_or(0);
        let end = body[at..].iter().position(|b| *b == b'"').unwrap_or(0);
        let name = String::from_utf8_lossy(&body[at..at + end]).into_owned();
        state.comfy.lock().unwrap().inputs.push(name.clone());
        return HttpResponse::Ok().json(json!({"name": name, "subfolder": "", "type": "input"}));
    }
    if post && path == "/prompt" {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(graph) = request["prompt"].as_object() else {
            return refused("no_prompt", "No prompt provided");
        };
        let text = serde_json::to_string(graph).unwrap();
        if text.contains("{{") {
            return refused(
                "prompt_outputs_failed_validation",
                "Prompt outputs failed validation",
            );
        }
        let mut comfy = state.comfy.lock().unwrap();
        for node in graph.values() {
            if node["class_type"] == "LoadImage"
                && !comfy.inputs.iter().any(|i| node["inputs"]["image"] == *i)
            {
                return refused("prompt_outputs_failed_validation", "Invalid image file");
            }
        }
        let prompt = graph
            .values()
            .filter(|n| n["class_type"] == "CLIPTextEncode")
            .find_map(|n| n["inputs"]["text"].as_str())
            .unwrap_or("")
            .to_string();
        let id = format!("5f6c2d8e-0000-4000-8000-{:012}", comfy.prompts.len() + 1);
        let number = comfy.prompts.len();
        comfy.prompts.push(ComfyPrompt {
            id: id.clone(),
            prompt,
            reads: 0,
            interrupted: false,
        });
        return HttpResponse::Ok()
            .json(json!({"prompt_id": id, "number": number, "node_errors": {}}));
    }
    if post && path == "/queue" {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut comfy = state.comfy.lock().unwrap();
        for id in request["delete"].as_array().cloned().unwrap_or_default() {
            // Only a waiting prompt can be deleted.
            comfy.prompts.retain(|p| !(p.id == id && p.waiting()));
        }
        return HttpResponse::Ok().finish();
    }
    if post && path == "/interrupt" {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut comfy = state.comfy.lock().unwrap();
        for p in comfy.prompts.iter_mut() {
            if p.running() && request["prompt_id"].as_str().is_none_or(|id| id == p.id) {
                p.interrupted = true;
            }
        }
        return HttpResponse::Ok().finish();
    }
    if path == "/queue" {
        let comfy = state.comfy.lock().unwrap();
        let entry = |p: &ComfyPrompt| json!([0, p.id, {}, {"client_id": "x"}, ["9"]]);
        return HttpResponse::Ok().json(json!({
            "queue_running": comfy.prompts.iter().filter(|p| p.running()).map(entry).collect::<Vec<_>>(),
            "queue_pending": comfy.prompts.iter().filter(|p| p.waiting()).map(entry).collect::<Vec<_>>(),
        }));
    }
    if path == "/view" {
        let query = req.query_string();
        if !query.contains("type=output") || !query.contains("filename=ComfyUI_") {
            return HttpResponse::NotFound().finish();
        }
        return sample_file(query.contains(".mp4"));
    }
    if let Some(id) = path.strip_prefix("/history/") {
        let mut comfy = state.comfy.lock().unwrap();
        let Some(p) = comfy.prompts.iter_mut().find(|p| p.id == id) else {
            return HttpResponse::Ok().json(json!({}));
        };
        if p.prompt.contains("[forgotten]") {
            let id = p.id.clone();
            comfy.prompts.retain(|p| p.id != id);
            return HttpResponse::Ok().json(json!({}));
        }
        p.reads += 1;
        if !p.done() {
            return HttpResponse::Ok().json(json!({}));
        }
        let (outputs, status_str, messages) = if p.interrupted {
            (
                json!({}),
                "error",
                json!([["execution_interrupted", {"prompt_id": id}]]),
            )
        } else if p.prompt.contains("[broken]") {
            (
                json!({}),
                "error",
                json!([["execution_start", {"prompt_id": id}],
                ["execution_error", {"prompt_id": id, "node_id": "3", "node_type": "KSampler",
                 "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)",
                 "exception_type": "torch.OutOfMemoryError"}]]),
            )
        } else if p.prompt.contains("[video]") {
            (
                json!({"9": {"gifs": [{"filename": "ComfyUI_00001.mp4", "subfolder": "", "type": "output", "format": "video/h264-mp4"}]}}),
                "success",
                json!([]),
            )
        } else {
            (
                json!({"8": {"images": [{"filename": "ComfyUI_temp_0001.png", "subfolder": "", "type": "temp"}]},
                    "9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]}}),
                "success",
                json!([]),
            )
        };
        return HttpResponse::Ok().json(json!({id: {
            "prompt": [0, id, {}, {}, ["9"]], "outputs": outputs,
            "status": {"status_str": status_str, "completed": status_str == "success", "messages": messages},
            "meta": {}
        }}));
    }
    canned(404, "404: Not Found", None)
}
