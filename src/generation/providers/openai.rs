//! OpenAI Images (PROVIDERS.md): synchronous `POST /v1/images/generations` for t2i and
//! multipart `POST /v1/images/edits` for i2i; GPT image models answer with `b64_json`.
//! Also serves "OpenAI-compatible" vendors through `base_url`: many of them answer with a
//! `url` (downloaded at once) instead of `b64_json`, and refuse fields they do not know, so we
//! send no `quality`, `background` or `response_format`.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::http::{base64_output, classify, download, json_capped, transport_error};
use super::{Job, Output, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://api.openai.com";

pub struct OpenAi {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
}

#[derive(Deserialize)]
struct ImagesResponse {
    data: Vec<ImageData>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    url: Option<String>,
}

/// The sizes GPT image models accept; anything else is mapped to the closest shape.
fn size(job: &Job) -> &'static str {
    let (w, h) = super::local::parse_size(job.params.size.as_deref(), (1024, 1024));
    if w * 10 > h * 12 {
        "1536x1024"
    } else if h * 10 > w * 12 {
        "1024x1536"
    } else {
        "1024x1024"
    }
}

impl OpenAi {
    async fn generate(&self, job: &Job) -> ProviderResult<Output> {
        let url = format!(
            "{}/v1/images/generations",
            self.base_url.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "model": job.model,
            "prompt": job.prompt,
            "n": 1,
            "size": size(job),
        });
        let res = self
            .http
            .post(url)
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        self.image_from(res).await
    }

    async fn edit(&self, job: &Job) -> ProviderResult<Output> {
        let url = format!("{}/v1/images/edits", self.base_url.trim_end_matches('/'));
        let mut form = Form::new()
            .text("model", job.model.clone())
            .text("prompt", job.prompt.clone())
            .text("n", "1")
            .text("size", size(job));
        for (i, image) in job.images.iter().enumerate() {
            let ext = if image.mime == "image/jpeg" {
                "jpg"
            } else {
                "png"
            };
            let part = Part::bytes(image.bytes.clone())
                .file_name(format!("reference-{i}.{ext}"))
                .mime_str(&image.mime)
                .map_err(|e| ProviderError::permanent("gen_err.engine", e.to_string()))?;
            form = form.part("image[]", part);
        }
        let res = self
            .http
            .post(url)
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        self.image_from(res).await
    }

    async fn image_from(&self, res: reqwest::Response) -> ProviderResult<Output> {
        let body: ImagesResponse = json_capped(classify(res).await?).await?;
        let item = body.data.into_iter().next().ok_or_else(|| {
            ProviderError::permanent("gen_err.bad_output", "no image in the answer")
        })?;
        let output = match (item.b64_json, item.url) {
            (Some(b64), _) => base64_output(&b64)?,
            (None, Some(url)) => download(&self.http, &url).await?,
            (None, None) => {
                return Err(ProviderError::permanent(
                    "gen_err.bad_output",
                    "no image in the answer",
                ))
            }
        };
        if !output.mime.starts_with("image/") {
            return Err(ProviderError::permanent(
                "gen_err.bad_output",
                "the answer is not an image",
            ));
        }
        Ok(output)
    }
}

impl Provider for OpenAi {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let output = match job.kind {
                Kind::T2i => self.generate(job).await?,
                Kind::I2i => self.edit(job).await?,
                Kind::T2v | Kind::I2v => {
                    return Err(ProviderError::permanent(
                        "gen_err.bad_request",
                        "OpenAI Images makes no video",
                    ))
                }
            };
            Ok(Submitted::Done(output))
        }
        .boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        _remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async {
            Err(ProviderError::permanent(
                "gen_err.engine",
                "OpenAI Images is synchronous",
            ))
        }
        .boxed()
    }
}
