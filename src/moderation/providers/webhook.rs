//! A generic moderation webhook (docs/moderation.md): we POST the result and its prompt as
//! JSON, the service answers `{"flagged": bool, "categories": [..]}` (and optional `scores`).

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;

use super::{Moderator, Subject, Verdict};
use crate::generation::providers::http::{classify, json_capped, transport_error};
use crate::generation::providers::ProviderResult;

pub struct Webhook {
    pub http: reqwest::Client,
    pub url: String,
    /// Sent as `Authorization: Bearer` when set.
    pub key: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    flagged: bool,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    scores: BTreeMap<String, f64>,
    #[serde(default)]
    reason: Option<String>,
}

/// The body we send; version 1 of the documented shape.
pub fn body(subject: &Subject<'_>) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({
        "version": 1,
        "task_id": subject.task_id,
        "type": subject.kind,
        "model": subject.model,
        "prompt": subject.prompt,
        "result": {
            "mime": subject.image_mime,
            "poster_frame": subject.poster,
            "data": base64::engine::general_purpose::STANDARD.encode(subject.image),
        },
    })
}

impl Moderator for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn check<'a>(&'a self, subject: &'a Subject<'a>) -> BoxFuture<'a, ProviderResult<Verdict>> {
        async move {
            let mut req = self.http.post(&self.url).json(&body(subject));
            if let Some(key) = &self.key {
                req = req.bearer_auth(key);
            }
            let res = req.send().await.map_err(transport_error)?;
            let answer: Answer = json_capped(classify(res).await?).await?;
            Ok(Verdict {
                flagged: answer.flagged,
                categories: answer.categories,
                scores: answer.scores,
                detail: answer.reason.map(|r| r.chars().take(500).collect()),
            })
        }
        .boxed()
    }
}
