//! Stability AI Stable Image v2beta, synchronous and multipart:
//! `POST /v2beta/stable-image/generate/{ultra|core|sd3}`.
//!
//! A configured model named `ultra` or `core` is that endpoint; any other name (sd3.5-large,
//! sd3.5-large-turbo, sd3.5-medium, whatever comes next) goes to the `sd3` endpoint as its
//! `model` field, so new SD models need a line of config, not code. Image-to-image sends the
//! first reference as `image` with `strength` (sd3 with `mode=image-to-image`; ultra takes
//! `image` + `strength` too). We ask for `Accept: image/*` — raw bytes, no base64 in memory —
//! and also read the JSON form (`{image, finish_reason, seed}`) that `application/json` or a
//! gateway gives. `finish-reason: CONTENT_FILTERED` (header or JSON) is a moderation refusal,
//! although the answer is a 200 with a (blurred) picture.
//!
//! Contract read 2026-12-01 (PROVIDERS.md, re-checked):
//! - <https://platform.stability.ai/docs/api-reference> (Generate: Ultra, Core, SD3), as
//!   quoted in stored copies (docs/providers.md lists them)
//! - <https://schemas.apis.io/schemas/stability-ai/stability-ai-generateimageresponse/>
//!   (JSON answer: `image`, `finish_reason` SUCCESS | CONTENT_FILTERED, `seed`)
//! - errors `{"id","name","errors":[..]}`: 400, 403 `content_moderation`, 413, 422,
//!   429 (150 requests / 10 s), 500.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::http::{base64_output, classify, media_output, read_capped, transport_error};
use super::{Job, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://api.stability.ai";
/// Endpoints that are a model of their own; every other model name is an `sd3` model.
const OWN_ENDPOINTS: [&str; 2] = ["ultra", "core"];
/// The aspect ratios the API accepts, as (w, h).
const RATIOS: [(u32, u32); 9] = [
    (16, 9),
    (1, 1),
    (21, 9),
    (2, 3),
    (3, 2),
    (4, 5),
    (5, 4),
    (9, 16),
    (9, 21),
];
/// Stability's seed range is 0..=4294967294; 0 means "pick one".
const MAX_SEED: u64 = 4_294_967_294;
/// Image-to-image needs a strength; this keeps the reference recognisable.
const DEFAULT_STRENGTH: f32 = 0.6;

pub struct Stability {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
}

#[derive(Deserialize)]
struct JsonAnswer {
    image: Option<String>,
    finish_reason: Option<String>,
}

/// The listed ratio closest to the task's shape (`aspect`, else its `size`), in log space so
/// 2:1 is as far from 1:1 as 1:2 is.
fn aspect_ratio(job: &Job) -> String {
    let (w, h) = job
        .params
        .aspect
        .as_deref()
        .and_then(crate::generation::model::parse_aspect)
        .unwrap_or_else(|| super::local::parse_size(job.params.size.as_deref(), (1, 1)));
    let want = (f64::from(w) / f64::from(h.max(1))).ln();
    let (rw, rh) = RATIOS
        .iter()
        .copied()
        .min_by(|a, b| {
            let d = |r: (u32, u32)| (want - (f64::from(r.0) / f64::from(r.1)).ln()).abs();
            d(*a).total_cmp(&d(*b))
        })
        .unwrap_or((1, 1));
    format!("{rw}:{rh}")
}

fn refused(detail: &str) -> ProviderError {
    ProviderError::permanent(
        "gen_err.moderation",
        format!("finish-reason CONTENT_FILTERED{detail}"),
    )
}

impl Stability {
    fn form(job: &Job) -> ProviderResult<(String, Form)> {
        let endpoint = if OWN_ENDPOINTS.contains(&job.model.as_str()) {
            job.model.as_str()
        } else {
            "sd3"
        };
        let mut form = Form::new()
            .text("prompt", job.prompt.clone())
            .text("output_format", "png");
        if endpoint == "sd3" {
            form = form.text("model", job.model.clone());
        }
        if let Some(negative) = job.params.negative_prompt.clone().filter(|n| !n.is_empty()) {
            form = form.text("negative_prompt", negative);
        }
        if let Some(seed) = job.params.seed {
            form = form.text("seed", (seed % (MAX_SEED + 1)).to_string());
        }
        match job.kind {
            Kind::T2i => {
                if endpoint == "sd3" {
                    form = form.text("mode", "text-to-image");
                }
                form = form.text("aspect_ratio", aspect_ratio(job));
            }
            Kind::I2i => {
                // The picture's own shape decides the result's; aspect_ratio is not sent.
                let image = job.images.first().ok_or_else(|| {
                    ProviderError::permanent("gen_err.reference_missing", "no reference image")
                })?;
                if endpoint == "sd3" {
                    form = form.text("mode", "image-to-image");
                }
                let ext = image.mime.strip_prefix("image/").unwrap_or("png");
                let part = Part::bytes(image.bytes.clone())
                    .file_name(format!("reference.{ext}"))
                    .mime_str(&image.mime)
                    .map_err(|e| ProviderError::permanent("gen_err.engine", e.to_string()))?;
                let strength = job
                    .params
                    .strength
                    .filter(|s| s.is_finite())
                    .unwrap_or(DEFAULT_STRENGTH)
                    .clamp(0.0, 1.0);
                form = form
                    .part("image", part)
                    .text("strength", format!("{strength:.2}"));
            }
            Kind::T2v | Kind::I2v => {
                return Err(ProviderError::permanent(
                    "gen_err.bad_request",
                    "Stable Image makes no video",
                ))
            }
        }
        Ok((endpoint.to_string(), form))
    }

    async fn generate(&self, job: &Job) -> ProviderResult<super::Output> {
        let (endpoint, form) = Self::form(job)?;
        let url = format!(
            "{}/v2beta/stable-image/generate/{endpoint}",
            self.base_url.trim_end_matches('/')
        );
        let res = self
            .http
            .post(url)
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, "image/*")
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        let res = classify(res).await?;
        let filtered = res
            .headers()
            .get("finish-reason")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("CONTENT_FILTERED"));
        if filtered {
            return Err(refused(""));
        }
        let is_json = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = read_capped(res, super::http::MAX_JSON_BYTES).await?;
        if !is_json {
            return media_output(body);
        }
        let answer: JsonAnswer = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::permanent("gen_err.bad_output", format!("unreadable answer: {e}"))
        })?;
        if answer
            .finish_reason
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("CONTENT_FILTERED"))
        {
            return Err(refused(" (JSON)"));
        }
        let image = answer.image.ok_or_else(|| {
            ProviderError::permanent("gen_err.bad_output", "no image in the answer")
        })?;
        base64_output(&image)
    }
}

impl Provider for Stability {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move { Ok(Submitted::Done(self.generate(job).await?)) }.boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        _remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async {
            Err(ProviderError::permanent(
                "gen_err.engine",
                "Stable Image generate is synchronous",
            ))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::model::Params;
    use crate::generation::providers::Report;

    fn job(size: Option<&str>, aspect: Option<&str>) -> Job {
        Job {
            task_uuid: "t".into(),
            kind: Kind::T2i,
            model: "sd3.5-large".into(),
            prompt: "p".into(),
            params: Params {
                size: size.map(str::to_string),
                aspect: aspect.map(str::to_string),
                ..Params::default()
            },
            images: Vec::new(),
            report: Report::default(),
        }
    }

    #[test]
    fn shapes_become_the_nearest_listed_aspect_ratio() {
        assert_eq!(aspect_ratio(&job(None, Some("16:9"))), "16:9");
        assert_eq!(aspect_ratio(&job(None, Some("4:3"))), "5:4");
        assert_eq!(aspect_ratio(&job(None, Some("3:4"))), "4:5");
        assert_eq!(aspect_ratio(&job(Some("1024x1024"), None)), "1:1");
        assert_eq!(aspect_ratio(&job(Some("2048x880"), None)), "21:9");
        assert_eq!(aspect_ratio(&job(Some("720x1280"), None)), "9:16");
        assert_eq!(aspect_ratio(&job(None, None)), "1:1");
    }
}
