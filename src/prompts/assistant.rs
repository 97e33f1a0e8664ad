//! The prompt assistant: an OpenAI-compatible chat service (`[prompts.assistant]`) that expands
//! and translates prompts. Contract (OpenAI "Create chat completion"): `POST
//! {base_url}/v1/chat/completions` with `{model, messages: [{role, content}], temperature}` and a
//! bearer key; the answer is `{choices: [{message: {role, content, refusal?}, finish_reason}]}`.
//! Failures become an [`AssistantError`] that says what went wrong in words a person reads.

use std::time::Duration;

use actix_web::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::config::AssistantConfig;
use crate::error::AppError;
use crate::generation::providers::http::client;

/// An answer larger than this is no prompt.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

pub struct Assistant {
    http: reqwest::Client,
    url: String,
    model: String,
    key: Option<String>,
}

/// Why the assistant gave no prompt.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("rate limited (retry after {0:?} s)")]
    Busy(Option<u64>),
    #[error("the service failed: {0}")]
    Down(String),
    #[error("no answer in time")]
    Timeout,
    #[error("unreadable answer: {0}")]
    Garbled(String),
    #[error("the key was refused: {0}")]
    BadKey(String),
    #[error("the prompt was refused: {0}")]
    Refused(String),
}

impl From<AssistantError> for AppError {
    /// The service's trouble is not the caller's fault, but none of it is ours to hide behind
    /// a 500 either: each case has its own status and message (locales `prompts.err`).
    fn from(e: AssistantError) -> Self {
        tracing::warn!(cause = %e, "prompt assistant failed");
        let (status, key) = match e {
            AssistantError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "prompts.err.busy"),
            AssistantError::Down(_) => (StatusCode::BAD_GATEWAY, "prompts.err.down"),
            AssistantError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "prompts.err.timeout"),
            AssistantError::Garbled(_) => (StatusCode::BAD_GATEWAY, "prompts.err.garbled"),
            AssistantError::BadKey(_) => (StatusCode::BAD_GATEWAY, "prompts.err.bad_key"),
            AssistantError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "prompts.err.refused"),
        };
        AppError::client(status, status.as_u16(), key)
    }
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    /// OpenAI's structured refusal.
    #[serde(default)]
    refusal: Option<String>,
}

impl Assistant {
    /// The configured assistant, or None while `base_url` is empty.
    pub fn from_config(config: &AssistantConfig) -> anyhow::Result<Option<Assistant>> {
        let base = config.base_url.trim().trim_end_matches('/');
        if base.is_empty() {
            return Ok(None);
        }
        // `https://host/compatible-mode/v1` already names the version; `https://host` does not.
        let url = if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        };
        Ok(Some(Assistant {
            http: client(Duration::from_secs(config.timeout_seconds))?,
            url,
            model: config.model.trim().to_string(),
            key: config.key(),
        }))
    }

    /// One chat turn: `instructions` as the system message, `text` as the user's; the
    /// assistant's answer, trimmed.
    pub async fn ask(&self, instructions: &str, text: &str) -> Result<String, AssistantError> {
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": text},
            ],
            "temperature": 0.7,
        });
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.map_err(transport)?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = read_capped(res).await?;
        let excerpt = || -> String { String::from_utf8_lossy(&bytes).chars().take(300).collect() };
        match status.as_u16() {
            200..=299 => {}
            429 => return Err(AssistantError::Busy(retry_after)),
            401 | 403 => {
                return Err(AssistantError::BadKey(format!(
                    "HTTP {status}: {}",
                    excerpt()
                )))
            }
            s if s >= 500 => {
                return Err(AssistantError::Down(format!(
                    "HTTP {status}: {}",
                    excerpt()
                )))
            }
            _ => {
                return Err(AssistantError::Refused(format!(
                    "HTTP {status}: {}",
                    excerpt()
                )))
            }
        }
        let answer: Completion = serde_json::from_slice(&bytes)
            .map_err(|e| AssistantError::Garbled(format!("{e}: {}", excerpt())))?;
        let choice = answer
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| AssistantError::Garbled("no choices".into()))?;
        if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
            return Err(AssistantError::Refused(refusal));
        }
        if choice.finish_reason.as_deref() == Some("content_filter") {
            return Err(AssistantError::Refused("content_filter".into()));
        }
        let text = clean(choice.message.content.as_deref().unwrap_or_default());
        if text.is_empty() {
            return Err(AssistantError::Garbled("an empty answer".into()));
        }
        Ok(text)
    }
}

fn transport(e: reqwest::Error) -> AssistantError {
    if e.is_timeout() {
        AssistantError::Timeout
    } else {
        AssistantError::Down(format!("network: {e}"))
    }
}

/// The body as it arrives, refused past `MAX_ANSWER_BYTES` (a broken or hostile service cannot
/// fill our memory); the client's timeout covers a body that stalls.
async fn read_capped(mut res: reqwest::Response) -> Result<Vec<u8>, AssistantError> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(AssistantError::Garbled("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The prompt inside a chatty answer: no surrounding quotes, no "Prompt:" label.
fn clean(answer: &str) -> String {
    let mut text = answer.trim();
    for label in ["Prompt:", "prompt:", "提示词：", "提示词:"] {
        if let Some(rest) = text.strip_prefix(label) {
            text = rest.trim();
        }
    }
    for (open, close) in [('"', '"'), ('“', '”'), ('「', '」'), ('\'', '\'')] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(close)) {
            text = inner.trim();
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chatty_answer_is_cut_to_the_prompt() {
        assert_eq!(clean("  \"a red fox, snow\"\n"), "a red fox, snow");
        assert_eq!(clean("Prompt: a fox"), "a fox");
        assert_eq!(clean("提示词：“雪地里的狐狸”"), "雪地里的狐狸");
        assert_eq!(clean("a \"quoted\" word"), "a \"quoted\" word");
    }

    #[test]
    fn the_version_in_the_root_is_not_doubled() {
        let at = |base: &str| {
            let config = AssistantConfig {
                base_url: base.into(),
                ..AssistantConfig::default()
            };
            Assistant::from_config(&config).unwrap().map(|a| a.url)
        };
        assert_eq!(at(""), None);
        assert_eq!(
            at("https://api.openai.com/").as_deref(),
            Some("https://api.openai.com/v1/chat/completions")
        );
        assert_eq!(
            at("https://dashscope.aliyuncs.com/compatible-mode/v1").as_deref(),
            Some("https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions")
        );
    }
}
