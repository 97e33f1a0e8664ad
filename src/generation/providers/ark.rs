//! Volcengine Ark (火山方舟), base `https://ark.cn-beijing.volces.com/api/v3`, Bearer key.
//!
//! - Seedream pictures, synchronous: `POST /images/generations` with `prompt`, `image` (our
//!   references inline as data URLs, several for editing), `size` "WxH",
//!   `sequential_image_generation: disabled`, `response_format: b64_json`, `watermark: false`
//!   (the visible label is ours to draw, `engine.visible_label`). A `url` answer is downloaded.
//! - Seedance videos, asynchronous: `POST /contents/generations/tasks` with `content` = a text
//!   item and `image_url` items with a `role` (`first_frame`, `last_frame`, or
//!   `reference_image` for models configured `video_images = "references"`), plus
//!   `resolution`, `ratio`, `duration`, `seed`; `GET .../tasks/{id}` until `succeeded`
//!   (`content.video_url`, downloaded at once) and `DELETE .../tasks/{id}` to cancel.
//!
//! Seedream's smallest picture grew with its versions (4.0: 1280×720 pixels, 4.5: 2560×1440),
//! so a requested size keeps its shape and is raised to the 2K area (2048×2048 pixels) that
//! every current Seedream takes. Seedream 4.x has no seed; none is sent.
//!
//! Contract read 2026-12-01 (PROVIDERS.md, re-checked; Volcengine's own pages were not in the
//! stored copies we could search, so against resellers reproducing Ark's contract and
//! examples — the full list is in docs/providers.md):
//! - <https://doc-en.302.ai/385938976e0>, <https://six-ai.apifox.cn/348601985e0> (Seedream)
//! - <https://docs.kkiai.com/video-models/doubao/seedance-1-5-pro-first-last-frames.html> (roles)
//! - <https://docs.ai-tokenhub.com/en/api-guides/Delete-video-generation-task> (DELETE: a
//!   `queued` task becomes `cancelled`; a `running` one cannot be canceled)
//! - errors `{"error":{"code","message","param","type"}}`; moderation codes end in
//!   `SensitiveContentDetected` or `RiskDetection`; 429 `RateLimitExceeded.*`.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{base64_output, classify, data_url, download, json_capped, transport_error};
use super::{Job, Output, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://ark.cn-beijing.volces.com/api/v3";
/// The 2K area every current Seedream accepts (its default size is 2048x2048).
const MIN_PIXELS: u64 = 2048 * 2048;
const MAX_EDGE: u64 = 4096;
/// Seedance's `ratio` values besides `adaptive` (the picture decides), as (w, h).
const RATIOS: [(u32, u32); 6] = [(16, 9), (4, 3), (1, 1), (3, 4), (9, 16), (21, 9)];

pub struct Ark {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
    /// Models whose image-to-video pictures are references rather than keyframes.
    pub reference_models: Vec<String>,
}

#[derive(Deserialize)]
struct ImagesAnswer {
    #[serde(default)]
    data: Vec<ImageItem>,
}

#[derive(Deserialize)]
struct ImageItem {
    url: Option<String>,
    b64_json: Option<String>,
    error: Option<VendorError>,
}

#[derive(Deserialize, Default)]
struct VendorError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct TaskAnswer {
    id: Option<String>,
    status: Option<String>,
    content: Option<TaskContent>,
    error: Option<VendorError>,
}

#[derive(Deserialize)]
struct TaskContent {
    video_url: Option<String>,
}

/// Moderation refusals have codes like `InputTextSensitiveContentDetected` or
/// `OutputImageRiskDetection`.
fn refusal_or_bad(error: VendorError) -> ProviderError {
    let reason = if error.code.contains("SensitiveContent") || error.code.contains("RiskDetection")
    {
        "gen_err.moderation"
    } else {
        "gen_err.bad_request"
    };
    let detail: String = format!("{}: {}", error.code, error.message)
        .chars()
        .take(500)
        .collect();
    ProviderError::permanent(reason, detail)
}

/// The task's picture shape as Seedream "WxH": raised to at least the 2K area, edges
/// rounded up to multiples of 8, at most 4096.
fn picture_size(job: &Job) -> String {
    let (w, h) = super::local::parse_size(job.params.size.as_deref(), (2048, 2048));
    let (w, h) = (u64::from(w), u64::from(h));
    let scale = ((MIN_PIXELS as f64) / (w * h) as f64).sqrt().max(1.0);
    let fit = |edge: u64| ((edge as f64 * scale).ceil() as u64).div_ceil(8) * 8;
    let fit = |edge: u64| fit(edge).clamp(64, MAX_EDGE);
    format!("{}x{}", fit(w), fit(h))
}

/// `480p`, `720p` or `1080p`: the request's, else from the short edge of the task's size.
fn resolution(job: &Job) -> String {
    if let Some(r) = job.params.resolution.as_deref() {
        return r.trim().to_ascii_lowercase();
    }
    let (w, h) = super::local::parse_size(job.params.size.as_deref(), (1280, 720));
    match w.min(h) {
        0..=540 => "480p",
        541..=900 => "720p",
        _ => "1080p",
    }
    .to_string()
}

/// The listed ratio nearest the task's shape (log space).
fn ratio(job: &Job) -> String {
    let (w, h) = job
        .params
        .aspect
        .as_deref()
        .and_then(crate::generation::model::parse_aspect)
        .unwrap_or_else(|| super::local::parse_size(job.params.size.as_deref(), (16, 9)));
    let want = (f64::from(w) / f64::from(h.max(1))).ln();
    let d = |r: &(u32, u32)| (want - (f64::from(r.0) / f64::from(r.1)).ln()).abs();
    let (rw, rh) = RATIOS
        .iter()
        .min_by(|a, b| d(a).total_cmp(&d(b)))
        .copied()
        .unwrap_or((16, 9));
    format!("{rw}:{rh}")
}

impl Ark {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    async fn seedream(&self, job: &Job) -> ProviderResult<Output> {
        let mut body = json!({
            "model": job.model,
            "prompt": job.prompt,
            "size": picture_size(job),
            "sequential_image_generation": "disabled",
            "response_format": "b64_json",
            "watermark": false,
        });
        if job.kind == Kind::I2i {
            if job.images.is_empty() {
                return Err(ProviderError::permanent(
                    "gen_err.reference_missing",
                    "no reference image",
                ));
            }
            let images: Vec<String> = job.images.iter().map(data_url).collect();
            // One reference as a string, several as an array: both are the documented shapes.
            body["image"] = match images.as_slice() {
                [one] => Value::String(one.clone()),
                _ => json!(images),
            };
        }
        let res = self
            .http
            .post(self.url("/images/generations"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        let answer: ImagesAnswer = json_capped(classify(res).await?).await?;
        let item = answer.data.into_iter().next().ok_or_else(|| {
            ProviderError::permanent("gen_err.bad_output", "no image in the answer")
        })?;
        if let Some(error) = item.error {
            return Err(refusal_or_bad(error));
        }
        match (item.b64_json, item.url) {
            (Some(b64), _) => base64_output(&b64),
            (None, Some(url)) => download(&self.http, &url).await,
            (None, None) => Err(ProviderError::permanent(
                "gen_err.bad_output",
                "no image in the answer",
            )),
        }
    }

    fn seedance_body(&self, job: &Job) -> Value {
        let mut content = vec![json!({"type": "text", "text": job.prompt})];
        let references = self.reference_models.contains(&job.model);
        for (i, image) in job.images.iter().enumerate() {
            let role = match (references, i) {
                (true, _) => "reference_image",
                (false, 0) => "first_frame",
                (false, _) => "last_frame",
            };
            content.push(
                json!({"type": "image_url", "image_url": {"url": data_url(image)}, "role": role}),
            );
        }
        let mut body = json!({
            "model": job.model,
            "content": content,
            "resolution": resolution(job),
            // With keyframes the picture decides the shape; otherwise the task's shape does.
            "ratio": if job.kind == Kind::I2v && !references { "adaptive".to_string() } else { ratio(job) },
            "duration": job.params.duration.unwrap_or(5),
            "watermark": false,
        });
        if let Some(seed) = job.params.seed {
            body["seed"] = json!(seed % 4_294_967_296);
        }
        body
    }

    async fn seedance(&self, job: &Job) -> ProviderResult<String> {
        if job.kind == Kind::I2v && job.images.is_empty() {
            return Err(ProviderError::permanent(
                "gen_err.reference_missing",
                "no reference image",
            ));
        }
        let res = self
            .http
            .post(self.url("/contents/generations/tasks"))
            .bearer_auth(&self.key)
            .json(&self.seedance_body(job))
            .send()
            .await
            .map_err(transport_error)?;
        let answer: TaskAnswer = json_capped(classify(res).await?).await?;
        answer
            .id
            .filter(|id| !id.is_empty() && id.len() <= 200)
            .ok_or_else(|| {
                ProviderError::permanent("gen_err.bad_output", "no task id in the answer")
            })
    }

    fn task_url(&self, remote_id: &str) -> String {
        self.url(&format!("/contents/generations/tasks/{remote_id}"))
    }
}

impl Provider for Ark {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            match job.kind {
                Kind::T2i | Kind::I2i => Ok(Submitted::Done(self.seedream(job).await?)),
                Kind::T2v | Kind::I2v => Ok(Submitted::Remote(self.seedance(job).await?)),
            }
        }
        .boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async move {
            let res = self
                .http
                .get(self.task_url(remote_id))
                .bearer_auth(&self.key)
                .send()
                .await
                .map_err(transport_error)?;
            // Task records are kept for a limited time (7 days); after that the id is unknown.
            if res.status() == reqwest::StatusCode::NOT_FOUND {
                return Err(ProviderError::permanent(
                    "gen_err.expired",
                    "the vendor no longer knows the task",
                ));
            }
            let answer: TaskAnswer = json_capped(classify(res).await?).await?;
            match answer.status.as_deref() {
                // Seedance says only that it works, not how far: no number to show.
                Some("queued") | Some("running") => Ok(Polled::Running { progress: None }),
                Some("succeeded") => {
                    let url = answer.content.and_then(|c| c.video_url).ok_or_else(|| {
                        ProviderError::permanent("gen_err.bad_output", "no video URL")
                    })?;
                    Ok(Polled::Done(download(&self.http, &url).await?))
                }
                Some("failed") => Err(refusal_or_bad(answer.error.unwrap_or_default())),
                Some("cancelled") => Err(ProviderError::canceled_at_vendor()),
                Some("expired") => Err(ProviderError::permanent(
                    "gen_err.expired",
                    "the task expired at the vendor",
                )),
                other => Err(ProviderError::unexpected_status(other)),
            }
        }
        .boxed()
    }

    fn can_cancel(&self) -> bool {
        true
    }

    fn cancel<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<()>> {
        async move {
            let res = self
                .http
                .delete(self.task_url(remote_id))
                .bearer_auth(&self.key)
                .send()
                .await
                .map_err(transport_error)?;
            classify(res).await.map(|_| ())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::model::Params;
    use crate::generation::providers::Report;

    fn job(size: &str) -> Job {
        Job {
            task_uuid: "t".into(),
            kind: Kind::T2i,
            model: "m".into(),
            prompt: "p".into(),
            params: Params {
                size: Some(size.into()),
                ..Params::default()
            },
            images: Vec::new(),
            report: Report::default(),
        }
    }

    #[test]
    fn picture_sizes_keep_their_shape_at_the_2k_area() {
        assert_eq!(picture_size(&job("1024x1024")), "2048x2048");
        assert_eq!(picture_size(&job("1280x720")), "2736x1536");
        assert_eq!(picture_size(&job("720x1280")), "1536x2736");
        assert_eq!(picture_size(&job("2048x2048")), "2048x2048");
    }

    #[test]
    fn video_shape_and_resolution_come_from_the_size() {
        assert_eq!(ratio(&job("1280x720")), "16:9");
        assert_eq!(ratio(&job("720x1280")), "9:16");
        assert_eq!(ratio(&job("960x720")), "4:3");
        assert_eq!(resolution(&job("1280x720")), "720p");
        assert_eq!(resolution(&job("1920x1080")), "1080p");
        assert_eq!(resolution(&job("854x480")), "480p");
    }
}
