//! Alibaba Model Studio / DashScope, Wan (通义万相), asynchronous (PROVIDERS.md): submit with
//! `X-DashScope-Async: enable`, keep the returned `task_id`, poll `GET /api/v1/tasks/{id}`,
//! then download the result URL at once (it lives 24 h). Reference images travel inline as
//! data URLs, because our files are not on the public internet.

use base64::Engine as _;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{classify, json_capped, read_capped, transport_error};
use super::{Job, Output, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://dashscope.aliyuncs.com";
/// Results larger than this are refused rather than held in memory.
const MAX_RESULT_BYTES: usize = 512 * 1024 * 1024;

pub struct DashScope {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
}

#[derive(Deserialize)]
struct TaskAnswer {
    output: Option<TaskOutput>,
}

#[derive(Deserialize)]
struct TaskOutput {
    task_id: Option<String>,
    task_status: Option<String>,
    results: Option<Vec<ResultItem>>,
    video_url: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ResultItem {
    url: Option<String>,
}

fn data_url(job: &Job, index: usize) -> ProviderResult<String> {
    let image = job.images.get(index).ok_or_else(|| {
        ProviderError::permanent("gen_err.reference_missing", "no reference image")
    })?;
    Ok(format!(
        "data:{};base64,{}",
        image.mime,
        base64::engine::general_purpose::STANDARD.encode(&image.bytes)
    ))
}

/// DashScope writes sizes with a star: "1280*720".
fn star_size(job: &Job, default: (u32, u32)) -> String {
    let (w, h) = super::local::parse_size(job.params.size.as_deref(), default);
    format!("{w}*{h}")
}

impl DashScope {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    /// The endpoint and body of seed kind `job.kind`.
    fn request(job: &Job) -> ProviderResult<(&'static str, Value)> {
        let seed = job.params.seed.map(|s| s % 2_147_483_648);
        let negative = job.params.negative_prompt.clone();
        // Image-to-video takes its frame size from the picture; only the resolution is chosen.
        let resolution = job
            .params
            .resolution
            .as_deref()
            .unwrap_or("720p")
            .to_ascii_uppercase();
        Ok(match job.kind {
            Kind::T2i => (
                "/api/v1/services/aigc/text2image/image-synthesis",
                json!({
                    "model": job.model,
                    "input": { "prompt": job.prompt, "negative_prompt": negative },
                    "parameters": { "size": star_size(job, (1024, 1024)), "n": 1, "seed": seed, "watermark": false },
                }),
            ),
            Kind::I2i => {
                let images = (0..job.images.len())
                    .map(|i| data_url(job, i))
                    .collect::<ProviderResult<Vec<_>>>()?;
                (
                    "/api/v1/services/aigc/image2image/image-synthesis",
                    json!({
                        "model": job.model,
                        "input": { "prompt": job.prompt, "images": images, "negative_prompt": negative },
                        "parameters": { "n": 1, "seed": seed, "watermark": false },
                    }),
                )
            }
            Kind::T2v => (
                "/api/v1/services/aigc/video-generation/video-synthesis",
                json!({
                    "model": job.model,
                    "input": { "prompt": job.prompt, "negative_prompt": negative },
                    "parameters": { "size": star_size(job, (1280, 720)), "duration": job.params.duration.unwrap_or(5), "seed": seed },
                }),
            ),
            Kind::I2v if job.images.len() >= 2 => (
                "/api/v1/services/aigc/image2video/video-synthesis",
                json!({
                    "model": job.model,
                    "input": { "prompt": job.prompt, "first_frame_url": data_url(job, 0)?, "last_frame_url": data_url(job, 1)? },
                    "parameters": { "resolution": resolution, "seed": seed },
                }),
            ),
            Kind::I2v => (
                "/api/v1/services/aigc/video-generation/video-synthesis",
                json!({
                    "model": job.model,
                    "input": { "prompt": job.prompt, "img_url": data_url(job, 0)? },
                    "parameters": { "resolution": resolution, "duration": job.params.duration.unwrap_or(5), "seed": seed },
                }),
            ),
        })
    }

    async fn download(&self, url: &str) -> ProviderResult<Output> {
        let res = self.http.get(url).send().await.map_err(transport_error)?;
        let bytes = read_capped(classify(res).await?, MAX_RESULT_BYTES).await?;
        let mime = crate::storage::media::sniff(&bytes).ok_or_else(|| {
            ProviderError::permanent("gen_err.bad_output", "the result is neither image nor MP4")
        })?;
        Ok(Output {
            bytes,
            mime: mime.to_string(),
        })
    }
}

impl Provider for DashScope {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let (path, body) = Self::request(job)?;
            let res = self
                .http
                .post(self.url(path))
                .bearer_auth(&self.key)
                .header("X-DashScope-Async", "enable")
                .json(&body)
                .send()
                .await
                .map_err(transport_error)?;
            let answer: TaskAnswer = json_capped(classify(res).await?).await?;
            let task_id = answer
                .output
                .and_then(|o| o.task_id)
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .ok_or_else(|| {
                    ProviderError::permanent("gen_err.bad_output", "no task_id in the answer")
                })?;
            Ok(Submitted::Remote(task_id))
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
                .get(self.url(&format!("/api/v1/tasks/{remote_id}")))
                .bearer_auth(&self.key)
                .send()
                .await
                .map_err(transport_error)?;
            let answer: TaskAnswer = json_capped(classify(res).await?).await?;
            let output = answer
                .output
                .ok_or_else(|| ProviderError::permanent("gen_err.bad_output", "no output"))?;
            match output.task_status.as_deref() {
                // DashScope says only that it is working, not how far: no number to show.
                Some("PENDING") | Some("RUNNING") => Ok(Polled::Running { progress: None }),
                Some("SUCCEEDED") => {
                    let url = output
                        .video_url
                        .or_else(|| {
                            output
                                .results
                                .and_then(|r| r.into_iter().find_map(|i| i.url))
                        })
                        .ok_or_else(|| {
                            ProviderError::permanent("gen_err.bad_output", "no result URL")
                        })?;
                    Ok(Polled::Done(self.download(&url).await?))
                }
                Some("FAILED") => {
                    let code = output.code.unwrap_or_default();
                    let reason =
                        if code.contains("DataInspection") || code.contains("IPInfringement") {
                            "gen_err.moderation"
                        } else {
                            "gen_err.bad_request"
                        };
                    Err(ProviderError::permanent(
                        reason,
                        format!("{code}: {}", output.message.unwrap_or_default()),
                    ))
                }
                Some("CANCELED") => Err(ProviderError::canceled_at_vendor()),
                // Task ids live 24 hours; after that the vendor no longer knows them.
                Some("UNKNOWN") => Err(ProviderError::permanent(
                    "gen_err.expired",
                    "the vendor no longer knows the task",
                )),
                other => Err(ProviderError::unexpected_status(other)),
            }
        }
        .boxed()
    }

    fn can_cancel(&self) -> bool {
        true
    }

    /// `POST /api/v1/tasks/{id}/cancel`: Model Studio drops a task that is still PENDING (a
    /// RUNNING one cannot be stopped; the refusal is only logged).
    /// <https://www.alibabacloud.com/help/en/model-studio/manage-asynchronous-tasks>
    fn cancel<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<()>> {
        async move {
            let res = self
                .http
                .post(self.url(&format!("/api/v1/tasks/{remote_id}/cancel")))
                .bearer_auth(&self.key)
                .send()
                .await
                .map_err(transport_error)?;
            classify(res).await.map(|_| ())
        }
        .boxed()
    }
}
