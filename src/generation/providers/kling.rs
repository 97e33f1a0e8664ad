//! Kling (可灵) videos, asynchronous: `POST /v1/videos/text2video` or `/v1/videos/image2video`,
//! then `GET /v1/videos/{text2video|image2video}/{task_id}` until `succeed`, and the video URL
//! downloaded at once.
//!
//! Every request carries a fresh HS256 JWT `{iss: access key, exp: now + 1800, nbf: now - 5}`
//! signed with the secret key (`api_key` / `secret_key` in the configuration). Image-to-video
//! sends the first picture as `image` and a second as `image_tail` (the last frame), as bare
//! base64 — Kling refuses a `data:` prefix. `mode` is `pro` when the task asks for 1080p and
//! `std` otherwise; `duration` is the string "5" or "10"; text-to-video also sends
//! `aspect_ratio` (16:9, 9:16 or 1:1, the nearest). Kling has no seed and no cancel call.
//!
//! Answers are `{code, message, request_id, data}` with `code` 0 on success; the service code
//! says more than the HTTP status: 1100–1102 (account blocked, in arrears, resource pack used
//! up) come as 429 but waiting does not help; 1300/1301 are content-policy refusals; 1302/1303
//! (too fast, too many at once) are worth retrying; 1203 is an unknown task.
//!
//! Contract read 2026-12-01 (PROVIDERS.md, re-checked against copies of Kling's API reference,
//! <https://app.klingai.com/global/dev/document-api>, found at
//! <https://m-macmini.tail568a50.ts.net/youtube-automation/samples/kling-api/pages/apiReference_commonInfo.html>
//! (domain, JWT, error codes) and
//! <https://m-macmini.tail568a50.ts.net/youtube-automation/samples/kling-api/deep-pages/apiReference_model__imageToVideo_sections.json>
//! (image2video with `image_tail`, task answers; base64 without prefix)).

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::http::{download, read_capped, transport_error, MAX_JSON_BYTES};
use super::{Job, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://api-singapore.klingai.com";
/// How long one token is valid; Kling's own example uses 30 minutes.
const TOKEN_SECONDS: u64 = 1800;

pub struct Kling {
    pub http: reqwest::Client,
    pub base_url: String,
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    exp: u64,
    nbf: u64,
}

#[derive(Deserialize)]
struct Envelope {
    code: Option<i64>,
    message: Option<String>,
    data: Option<TaskData>,
}

#[derive(Deserialize)]
struct TaskData {
    task_id: Option<String>,
    task_status: Option<String>,
    task_status_msg: Option<String>,
    task_result: Option<TaskResult>,
}

#[derive(Deserialize)]
struct TaskResult {
    #[serde(default)]
    videos: Vec<Video>,
}

#[derive(Deserialize)]
struct Video {
    url: Option<String>,
}

fn bare_base64(job: &Job, index: usize) -> Option<String> {
    use base64::Engine as _;
    job.images
        .get(index)
        .map(|i| base64::engine::general_purpose::STANDARD.encode(&i.bytes))
}

fn endpoint(kind: Kind) -> &'static str {
    if kind == Kind::I2v {
        "image2video"
    } else {
        "text2video"
    }
}

/// 16:9, 9:16 or 1:1, whichever is nearest the task's shape.
fn aspect_ratio(job: &Job) -> &'static str {
    let (w, h) = job
        .params
        .aspect
        .as_deref()
        .and_then(crate::generation::model::parse_aspect)
        .unwrap_or_else(|| super::local::parse_size(job.params.size.as_deref(), (16, 9)));
    let r = f64::from(w) / f64::from(h.max(1));
    if r >= 1.33 {
        "16:9"
    } else if r <= 0.75 {
        "9:16"
    } else {
        "1:1"
    }
}

/// Content-policy words in a failed task's message.
fn is_policy(message: &str) -> bool {
    let lower = message.to_lowercase();
    [
        "content security",
        "policy",
        "violat",
        "sensitive",
        "风控",
        "违规",
        "安全",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

impl Kling {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn token(&self) -> ProviderResult<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            iss: &self.access_key,
            exp: now + TOKEN_SECONDS,
            nbf: now.saturating_sub(5),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret_key.as_bytes()),
        )
        .map_err(|e| ProviderError::permanent("gen_err.engine", format!("signing: {e}")))
    }

    fn body(job: &Job) -> ProviderResult<Value> {
        let mode = match job.params.resolution.as_deref().map(str::trim) {
            Some(r) if r.eq_ignore_ascii_case("1080p") => "pro",
            _ => "std",
        };
        let duration = if job.params.duration.unwrap_or(5) > 7 {
            "10"
        } else {
            "5"
        };
        let mut body = json!({
            "model_name": job.model,
            "prompt": job.prompt,
            "mode": mode,
            "duration": duration,
        });
        if let Some(negative) = job
            .params
            .negative_prompt
            .as_deref()
            .filter(|n| !n.is_empty())
        {
            body["negative_prompt"] = json!(negative);
        }
        match job.kind {
            Kind::T2v => body["aspect_ratio"] = json!(aspect_ratio(job)),
            Kind::I2v => {
                body["image"] = json!(bare_base64(job, 0).ok_or_else(|| {
                    ProviderError::permanent("gen_err.reference_missing", "no reference image")
                })?);
                if let Some(tail) = bare_base64(job, 1) {
                    body["image_tail"] = json!(tail);
                }
            }
            Kind::T2i | Kind::I2i => {
                return Err(ProviderError::permanent(
                    "gen_err.bad_request",
                    "this Kling provider makes videos only",
                ))
            }
        }
        Ok(body)
    }

    /// The envelope of a Kling answer, or the error its service code stands for.
    async fn envelope(res: reqwest::Response) -> ProviderResult<Envelope> {
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| std::time::Duration::from_secs(s.min(3600)));
        let body = read_capped(res, MAX_JSON_BYTES).await?;
        let parsed: Option<Envelope> = serde_json::from_slice(&body).ok();
        let code = parsed.as_ref().and_then(|e| e.code);
        if status.is_success() && code == Some(0) {
            return parsed.ok_or_else(|| {
                ProviderError::permanent("gen_err.bad_output", "unreadable answer")
            });
        }
        let message = parsed
            .as_ref()
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        let detail = format!("HTTP {status}, code {code:?}: {message}");
        let http_status = Some(status.as_u16());
        let permanent = |code: &'static str| ProviderError::Permanent {
            code,
            detail: detail.clone(),
            http_status,
        };
        Err(match code {
            Some(1000..=1099) => permanent("gen_err.auth"),
            Some(1100..=1199) => permanent("gen_err.account"),
            Some(1203) => permanent("gen_err.expired"),
            Some(1300 | 1301) => permanent("gen_err.moderation"),
            Some(1302 | 1303) | Some(5000..=5999) => ProviderError::Transient {
                detail,
                http_status,
                retry_after,
            },
            _ if status.as_u16() == 429 || status.is_server_error() => ProviderError::Transient {
                detail,
                http_status,
                retry_after,
            },
            _ if matches!(status.as_u16(), 401 | 403) => permanent("gen_err.auth"),
            _ if status.is_success() && parsed.is_none() => permanent("gen_err.bad_output"),
            _ => permanent("gen_err.bad_request"),
        })
    }
}

impl Provider for Kling {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let body = Self::body(job)?;
            let res = self
                .http
                .post(self.url(&format!("/v1/videos/{}", endpoint(job.kind))))
                .bearer_auth(self.token()?)
                .json(&body)
                .send()
                .await
                .map_err(transport_error)?;
            let answer = Self::envelope(res).await?;
            let task_id = answer
                .data
                .and_then(|d| d.task_id)
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
        job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async move {
            let res = self
                .http
                .get(self.url(&format!("/v1/videos/{}/{remote_id}", endpoint(job.kind))))
                .bearer_auth(self.token()?)
                .send()
                .await
                .map_err(transport_error)?;
            let data = Self::envelope(res)
                .await?
                .data
                .ok_or_else(|| ProviderError::permanent("gen_err.bad_output", "no data"))?;
            match data.task_status.as_deref() {
                // Kling says only that it works, not how far.
                Some("submitted") | Some("processing") => Ok(Polled::Running { progress: None }),
                Some("succeed") => {
                    let url = data
                        .task_result
                        .and_then(|r| r.videos.into_iter().find_map(|v| v.url))
                        .ok_or_else(|| {
                            ProviderError::permanent("gen_err.bad_output", "no video URL")
                        })?;
                    Ok(Polled::Done(download(&self.http, &url).await?))
                }
                Some("failed") => {
                    let message = data.task_status_msg.unwrap_or_default();
                    let reason = if is_policy(&message) {
                        "gen_err.moderation"
                    } else {
                        "gen_err.bad_request"
                    };
                    Err(ProviderError::permanent(reason, message))
                }
                other => Err(ProviderError::unexpected_status(other)),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_documented_hs256_jwt() {
        let kling = Kling {
            http: reqwest::Client::new(),
            base_url: String::new(),
            access_key: "ak-1".into(),
            secret_key: "sk-1".into(),
        };
        let token = kling.token().unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"sk-1"),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["iss"], "ak-1");
        let (exp, nbf) = (
            data.claims["exp"].as_u64().unwrap(),
            data.claims["nbf"].as_u64().unwrap(),
        );
        assert_eq!(exp - nbf, TOKEN_SECONDS + 5);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    }
}
