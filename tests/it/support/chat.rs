//! A loopback fake of an OpenAI-compatible chat service (`POST /v1/chat/completions`, OpenAI's
//! "Create chat completion" contract), for the prompt assistant. A script of replies lets a
//! test ask for rate limits, outages, refusals, garbage and silence; with an empty script it
//! answers with `default_answer` of what it was asked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::loopback::{self, canned, header, Script};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this assistant message.
    Text(String),
    Status {
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    /// 200 whose body is not the contract's JSON.
    Garbage,
    /// 200 with OpenAI's structured refusal and no content.
    Refusal(String),
    /// The normal answer, after this pause.
    Slow(Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl Call {
    /// The content of the message with `role`.
    pub fn message(&self, role: &str) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["role"] == role))
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    script: Script<Reply>,
}

pub struct FakeChat {
    pub url: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

/// What the fake answers unscripted: an "expanded" prompt, or a "translation" that swaps the
/// known test prompts' language.
pub fn default_answer(system: &str, user: &str) -> String {
    if system.contains("into English") {
        match user {
            "雪地里的红狐狸" => "a red fox in the snow".into(),
            other => format!("English: {other}"),
        }
    } else if system.contains("简体中文") {
        match user {
            "a red fox in the snow" => "雪地里的红狐狸".into(),
            other => format!("中文：{other}"),
        }
    } else {
        format!("{user}，清晨的金色阳光，薄雾，浅景深，电影感构图")
    }
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": "gpt-4o-mini",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50}
    })
}

async fn chat(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = Call {
        path: req.path().to_string(),
        authorization: header(&req, "authorization"),
        body: parsed,
    };
    let answer = default_answer(&call.message("system"), &call.message("user"));
    state.calls.lock().unwrap().push(call);
    let reply = state.script.pop();
    match reply {
        None => HttpResponse::Ok().json(completion(&answer)),
        Some(Reply::Text(text)) => HttpResponse::Ok().json(completion(&text)),
        Some(Reply::Status {
            status,
            body,
            retry_after,
        }) => canned(status, body, retry_after),
        Some(Reply::Garbage) => HttpResponse::Ok()
            .content_type("application/json")
            .body("{\"choices\": [{\"message\": 42"),
        Some(Reply::Refusal(why)) => HttpResponse::Ok().json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": why}, "finish_reason": "stop"}]
        })),
        Some(Reply::Slow(pause)) => {
            tokio::time::sleep(pause).await;
            HttpResponse::Ok().json(completion(&answer))
        }
    }
}

impl FakeChat {
    pub async fn start() -> FakeChat {
        let state = Arc::new(State::default());
        let data = web::Data::new(state.clone());
        let (url, handle) = loopback::serve(move |app| {
            app.app_data(data.clone())
                .route("/v1/chat/completions", web::post().to(chat));
        });
        FakeChat { url, state, handle }
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.extend(replies);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
