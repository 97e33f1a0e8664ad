//! OpenAI moderations: `POST {base}/v1/moderations` with `omni-moderation-latest`, one
//! multi-modal input (the prompt as a text part, the result as an `image_url` part holding a
//! base64 data URL), answered by `results[0]` with `flagged`, `categories` (booleans),
//! `category_scores` and `category_applied_input_types`. Images are limited to 20 MB.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;

use super::{Moderator, Subject, Verdict};
use crate::generation::providers::http::{classify, json_capped, transport_error};
use crate::generation::providers::{ProviderError, ProviderResult};

pub const DEFAULT_BASE: &str = "https://api.openai.com";

pub struct OpenAiModeration {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
    pub model: String,
}

#[derive(Deserialize)]
struct Response {
    results: Vec<Result>,
}

#[derive(Deserialize)]
struct Result {
    flagged: bool,
    #[serde(default)]
    categories: BTreeMap<String, Option<bool>>,
    #[serde(default)]
    category_scores: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    category_applied_input_types: BTreeMap<String, Option<Vec<String>>>,
}

/// The request body (public for the tests' fake).
pub fn body(model: &str, subject: &Subject<'_>) -> serde_json::Value {
    let mut input = Vec::new();
    if !subject.prompt.trim().is_empty() {
        input.push(serde_json::json!({"type": "text", "text": subject.prompt}));
    }
    input.push(serde_json::json!({
        "type": "image_url",
        "image_url": {"url": subject.data_url()},
    }));
    serde_json::json!({"model": model, "input": input})
}

fn verdict(answer: Response) -> ProviderResult<Verdict> {
    let first = answer.results.into_iter().next().ok_or_else(|| {
        ProviderError::permanent("gen_err.bad_output", "no result in the moderation answer")
    })?;
    let categories: Vec<String> = first
        .categories
        .iter()
        .filter(|(_, on)| on.unwrap_or(false))
        .map(|(c, _)| c.clone())
        .collect();
    let applied: Vec<String> = categories
        .iter()
        .filter_map(|c| {
            let kinds = first.category_applied_input_types.get(c)?.as_ref()?;
            Some(format!("{c}: {}", kinds.join("+")))
        })
        .collect();
    Ok(Verdict {
        flagged: first.flagged,
        scores: first
            .category_scores
            .into_iter()
            .filter_map(|(c, s)| Some((c, s?)))
            .collect(),
        detail: (!applied.is_empty()).then(|| applied.join("; ")),
        categories,
    })
}

impl Moderator for OpenAiModeration {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn check<'a>(&'a self, subject: &'a Subject<'a>) -> BoxFuture<'a, ProviderResult<Verdict>> {
        async move {
            let url = format!("{}/v1/moderations", self.base_url.trim_end_matches('/'));
            let res = self
                .http
                .post(url)
                .bearer_auth(&self.key)
                .json(&body(&self.model, subject))
                .send()
                .await
                .map_err(transport_error)?;
            verdict(json_capped(classify(res).await?).await?)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_reads_as_a_verdict() {
        let answer: Response = serde_json::from_value(serde_json::json!({
            "id": "modr-1", "model": "omni-moderation-latest",
            "results": [{
                "flagged": true,
                "categories": {"violence": true, "sexual": false, "self-harm/intent": null},
                "category_scores": {"violence": 0.91, "sexual": 0.01},
                "category_applied_input_types": {"violence": ["text", "image"], "sexual": ["image"]}
            }]
        }))
        .unwrap();
        let v = verdict(answer).unwrap();
        assert!(v.flagged);
        assert_eq!(v.categories, ["violence"]);
        assert_eq!(v.scores.get("violence"), Some(&0.91));
        assert_eq!(v.detail.as_deref(), Some("violence: text+image"));
        let empty: Response = serde_json::from_value(serde_json::json!({"results": []})).unwrap();
        assert!(verdict(empty).is_err());
    }

    #[test]
    fn the_request_has_a_text_part_and_a_data_url_image_part() {
        let s = Subject {
            task_id: "t",
            kind: "t2i",
            model: "local/procedural",
            prompt: "雪山",
            image: b"\x89PNG",
            image_mime: "image/png",
            poster: false,
        };
        let b = body("omni-moderation-latest", &s);
        assert_eq!(b["model"], "omni-moderation-latest");
        assert_eq!(
            b["input"][0],
            serde_json::json!({"type": "text", "text": "雪山"})
        );
        assert_eq!(b["input"][1]["type"], "image_url");
        assert_eq!(
            b["input"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw=="
        );
    }
}
