//! Tencent Hunyuan image generation (混元生图), asynchronous, Tencent Cloud API 3.0:
//! `POST https://hunyuan.tencentcloudapi.com/` with `X-TC-Action: SubmitHunyuanImageJob`
//! (→ `JobId`), then `QueryHunyuanImageJob {JobId}` until `JobStatusCode` is "5" (done; "1"
//! waiting, "2" running, "4" failed) and the first `ResultImage` URL downloaded at once (it
//! lives one hour). `X-TC-Version: 2023-09-01`, `X-TC-Region: ap-guangzhou` (the only region),
//! every call signed TC3-HMAC-SHA256 (`tc3.rs`) with the SecretId (`api_key`) and SecretKey
//! (`secret_key`).
//!
//! The API has no model field: the configured model name is our own label. We send `Prompt`,
//! `NegativePrompt`, `Num = 1`, `LogoAdd = 0` (Tencent's visible mark is off: ours is
//! `engine.visible_label`), for t2i the nearest of the eight `Resolution`s, for i2i the first
//! reference as `ContentImage.ImageBase64` (JPEG or PNG; WebP is sent as PNG) and no
//! resolution (Tencent fits the reference). The task's seed (every task has one, so a result
//! can be made again) goes as `Seed` with `Revise = 0`: Tencent ignores a fixed seed while it
//! rewrites the prompt (with a reference it rewrites anyway). There is no cancel call.
//!
//! Every answer is `{"Response": {..., "RequestId"}}`, an error `{"Response": {"Error":
//! {"Code", "Message"}}}` — with HTTP 200, so the code decides: `RequestLimitExceeded*` (also
//! `.JobNumExceed`, the account's one concurrent job), `InternalError*` and the
//! `FailedOperation.Engine*` codes are retried; `AuthFailure*` is a key problem;
//! `*IllegalDetected` and `FailedOperation.GenerateImageFailed` are moderation;
//! `ResourceUnavailable*`, `ResourceInsufficient*` and the service/resource-pack codes are the
//! account's. Contract read 2026-12-01 (docs/providers.md has the sources):
//! <https://cloud.tencent.com/document/api/1729/105969> (submit),
//! <https://cloud.tencent.com.cn/document/api/1729/105970> (query), error codes from
//! `tencentcloud-sdk-go` `hunyuan/v20230901/errors.go` and Tencent's common error codes.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{classify, download, json_capped, transport_error};
use super::{tc3, InputImage, Job, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "https://hunyuan.tencentcloudapi.com";
const SERVICE: &str = "hunyuan";
const VERSION: &str = "2023-09-01";
const REGION: &str = "ap-guangzhou";
const CONTENT_TYPE: &str = "application/json";
/// The text-to-image resolutions Tencent offers, as (w, h).
const RESOLUTIONS: [(u32, u32); 8] = [
    (768, 768),
    (768, 1024),
    (1024, 768),
    (1024, 1024),
    (720, 1280),
    (1280, 720),
    (768, 1280),
    (1280, 768),
];
/// `Seed` is a positive 32-bit integer.
const MAX_SEED: u64 = 2_147_483_647;

pub struct Hunyuan {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    /// As the `Host` header carries it, which the signature covers.
    host: String,
    secret_id: String,
    secret_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    response: Answer,
}

/// The fields of both answers (submit: `JobId`; query: the rest).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    error: Option<ApiError>,
    job_id: Option<String>,
    job_status_code: Option<String>,
    job_error_code: Option<String>,
    job_error_msg: Option<String>,
    result_image: Option<Vec<String>>,
    result_details: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Moderation in a code or a failed job's message.
fn is_moderation(code: &str, message: &str) -> bool {
    let lower = message.to_lowercase();
    code.ends_with("IllegalDetected")
        || code == "FailedOperation.GenerateImageFailed"
        || ["敏感", "违规", "sensitive", "illegal"]
            .iter()
            .any(|w| lower.contains(w))
}

fn is_account(code: &str) -> bool {
    code.starts_with("ResourceUnavailable")
        || code.starts_with("ResourceInsufficient")
        || matches!(
            code,
            "FailedOperation.ResourcePackExhausted"
                | "FailedOperation.FreeResourcePackExhausted"
                | "FailedOperation.ServiceNotActivated"
                | "FailedOperation.ServiceStop"
                | "FailedOperation.ServiceStopArrears"
                | "FailedOperation.UserUnAuthError"
        )
}

/// What an error code of the API means for the task.
fn api_error(error: &ApiError) -> ProviderError {
    let code = error.code.as_str();
    let detail: String = format!("{code}: {}", error.message)
        .chars()
        .take(500)
        .collect();
    let busy = code.starts_with("RequestLimitExceeded")
        || code.starts_with("InternalError")
        || matches!(
            code,
            "ServiceUnavailable"
                | "FailedOperation.EngineRequestTimeout"
                | "FailedOperation.EngineServerError"
                | "FailedOperation.EngineServerLimitExceeded"
        );
    if busy {
        // Tencent sends no Retry-After: the engine's backoff decides.
        return ProviderError::Transient {
            detail,
            http_status: None,
            retry_after: None,
        };
    }
    let reason = if code.starts_with("AuthFailure") || code.starts_with("UnauthorizedOperation") {
        "gen_err.auth"
    } else if is_moderation(code, "") {
        "gen_err.moderation"
    } else if is_account(code) {
        "gen_err.account"
    } else {
        "gen_err.bad_request"
    };
    ProviderError::permanent(reason, detail)
}

/// The nearest offered resolution to the task's shape (log space), then to its long edge.
fn resolution(job: &Job) -> String {
    let (sw, sh) = super::local::parse_size(job.params.size.as_deref(), (1024, 1024));
    let (w, h) = job
        .params
        .aspect
        .as_deref()
        .and_then(crate::generation::model::parse_aspect)
        .unwrap_or((sw, sh));
    let want = (f64::from(w) / f64::from(h.max(1))).ln();
    let long = i64::from(sw.max(sh));
    let key = |&(rw, rh): &(u32, u32)| {
        let shape = (want - (f64::from(rw) / f64::from(rh)).ln()).abs();
        // Shapes within rounding are the same shape; then the nearer long edge wins.
        (
            (shape * 100.0).round() as i64,
            (i64::from(rw.max(rh)) - long).abs(),
        )
    };
    let (rw, rh) = RESOLUTIONS
        .iter()
        .min_by_key(|r| key(r))
        .copied()
        .unwrap_or((1024, 1024));
    format!("{rw}:{rh}")
}

/// A reference as Tencent takes it: JPEG or PNG bytes, base64 without a `data:` prefix.
fn content_image(image: &InputImage) -> ProviderResult<String> {
    use base64::Engine as _;
    let bytes = if matches!(image.mime.as_str(), "image/jpeg" | "image/png") {
        image.bytes.clone()
    } else {
        let broken = |e: anyhow::Error| {
            ProviderError::permanent("gen_err.reference_broken", format!("{e:#}"))
        };
        let still = crate::storage::media::still(&image.bytes, &image.mime).map_err(broken)?;
        crate::storage::images::encode_png(&still.to_rgb8()).map_err(broken)?
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn submit_body(job: &Job) -> ProviderResult<Value> {
    let mut body = json!({"Prompt": job.prompt, "Num": 1, "LogoAdd": 0});
    if let Some(negative) = job
        .params
        .negative_prompt
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        body["NegativePrompt"] = json!(negative);
    }
    if let Some(seed) = job.params.seed {
        // Rewriting the prompt would void the seed, and with it making the result again.
        body["Seed"] = json!((seed % MAX_SEED).max(1));
        body["Revise"] = json!(0);
    }
    match job.kind {
        Kind::T2i => body["Resolution"] = json!(resolution(job)),
        Kind::I2i => {
            let reference = job.images.first().ok_or_else(|| {
                ProviderError::permanent("gen_err.reference_missing", "no reference image")
            })?;
            body["ContentImage"] = json!({"ImageBase64": content_image(reference)?});
        }
        Kind::T2v | Kind::I2v => {
            return Err(ProviderError::permanent(
                "gen_err.bad_request",
                "this Hunyuan provider makes pictures only",
            ))
        }
    }
    Ok(body)
}

impl Hunyuan {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        secret_id: String,
        secret_key: String,
    ) -> anyhow::Result<Self> {
        let endpoint = reqwest::Url::parse(base_url)?;
        let name = endpoint
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("{base_url}: no host"))?;
        let host = match endpoint.port() {
            Some(port) => format!("{name}:{port}"),
            None => name.to_string(),
        };
        Ok(Hunyuan {
            http,
            endpoint,
            host,
            secret_id,
            secret_key,
        })
    }

    /// One signed call: the answer, or the API's error as Tencent gave it; transport
    /// failures, a gateway's non-2xx and unreadable bodies as `ProviderError`s.
    async fn call(&self, action: &str, body: &Value) -> ProviderResult<Result<Answer, ApiError>> {
        let payload = serde_json::to_vec(body)
            .map_err(|e| ProviderError::permanent("gen_err.engine", e.to_string()))?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let authorization = tc3::authorization(
            &self.secret_id,
            &self.secret_key,
            SERVICE,
            timestamp,
            &[
                ("content-type", CONTENT_TYPE),
                ("host", &self.host),
                ("x-tc-action", action),
            ],
            &payload,
        );
        let res = self
            .http
            .post(self.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header("X-TC-Action", action)
            .header("X-TC-Version", VERSION)
            .header("X-TC-Region", REGION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(payload)
            .send()
            .await
            .map_err(transport_error)?;
        let envelope: Envelope = json_capped(classify(res).await?).await?;
        let answer = envelope.response;
        Ok(match answer.error {
            Some(error) => Err(error),
            None => Ok(answer),
        })
    }

    /// A finished job's first good picture, downloaded now: its URL lives one hour, and an
    /// expired one (403/404 from the object store) means the result is gone.
    async fn result(&self, answer: Answer) -> ProviderResult<Polled> {
        let images = answer.result_image.unwrap_or_default();
        let details = answer.result_details.unwrap_or_default();
        let good = images
            .iter()
            .enumerate()
            .find(|(i, _)| details.get(*i).is_none_or(|d| d == "Success"))
            .map(|(_, url)| url);
        let Some(url) = good else {
            let said = details.join("; ");
            let reason = if is_moderation("", &said) {
                "gen_err.moderation"
            } else {
                "gen_err.bad_output"
            };
            return Err(ProviderError::permanent(
                reason,
                format!("no picture: {said}"),
            ));
        };
        match download(&self.http, url).await {
            Err(ProviderError::Permanent {
                http_status: Some(403 | 404 | 410),
                detail,
                ..
            }) => Err(ProviderError::permanent(
                "gen_err.expired",
                format!("the result URL expired: {detail}"),
            )),
            other => other.map(Polled::Done),
        }
    }
}

impl Provider for Hunyuan {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let answer = self
                .call("SubmitHunyuanImageJob", &submit_body(job)?)
                .await?
                .map_err(|e| api_error(&e))?;
            let job_id = answer
                .job_id
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .ok_or_else(|| {
                    ProviderError::permanent("gen_err.bad_output", "no JobId in the answer")
                })?;
            Ok(Submitted::Remote(job_id))
        }
        .boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async move {
            let answer = match self
                .call("QueryHunyuanImageJob", &json!({"JobId": remote_id}))
                .await?
            {
                Ok(answer) => answer,
                // The id is the query's only parameter and came from Tencent: refused, it is
                // one Tencent no longer knows (which code that gets is not documented).
                Err(e)
                    if e.code.starts_with("InvalidParameter")
                        || e.code.starts_with("ResourceNotFound") =>
                {
                    return Err(ProviderError::permanent(
                        "gen_err.expired",
                        format!("{}: {}", e.code, e.message),
                    ))
                }
                Err(e) => return Err(api_error(&e)),
            };
            match answer.job_status_code.as_deref() {
                // Tencent says only whether the job waits or runs, not how far it is.
                Some("1") | Some("2") => Ok(Polled::Running { progress: None }),
                Some("5") => self.result(answer).await,
                Some("4") => {
                    let code = answer.job_error_code.unwrap_or_default();
                    let message = answer.job_error_msg.unwrap_or_default();
                    // A failed job stays failed: nothing here is worth polling again.
                    let reason = if is_moderation(&code, &message) {
                        "gen_err.moderation"
                    } else if is_account(&code) {
                        "gen_err.account"
                    } else {
                        "gen_err.bad_request"
                    };
                    Err(ProviderError::permanent(
                        reason,
                        format!("{code}: {message}"),
                    ))
                }
                other => Err(ProviderError::permanent(
                    "gen_err.bad_output",
                    format!("unexpected JobStatusCode {other:?}"),
                )),
            }
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
            model: "hunyuan-image".into(),
            prompt: "雨中, 竹林, 小路".into(),
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
    fn the_resolution_is_the_nearest_offered_shape_and_size() {
        assert_eq!(resolution(&job(None, None)), "1024:1024");
        assert_eq!(resolution(&job(Some("512x512"), None)), "768:768");
        assert_eq!(resolution(&job(Some("1280x720"), None)), "1280:720");
        assert_eq!(resolution(&job(Some("1024x576"), None)), "1280:720");
        assert_eq!(resolution(&job(Some("720x1280"), None)), "720:1280");
        assert_eq!(resolution(&job(Some("1024x768"), None)), "1024:768");
        assert_eq!(resolution(&job(None, Some("3:4"))), "768:1024");
        assert_eq!(resolution(&job(Some("1200x720"), None)), "1280:768", "5:3");
    }

    #[test]
    fn a_webp_reference_is_sent_as_png_and_others_as_they_are() {
        use base64::Engine as _;
        let picture = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 90]));
        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .encode(picture.as_raw(), 8, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        let sent = |bytes: Vec<u8>, mime: &str| {
            let b64 = content_image(&InputImage {
                bytes,
                mime: mime.into(),
            })
            .unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        };
        let png = sent(webp, "image/webp");
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(
            image::load_from_memory(&png).unwrap().to_rgb8(),
            picture,
            "the same pixels"
        );
        assert_eq!(
            sent(b"\xff\xd8jpeg".to_vec(), "image/jpeg"),
            b"\xff\xd8jpeg"
        );
    }

    #[test]
    fn error_codes_say_whether_waiting_helps() {
        let of = |code: &str| {
            api_error(&ApiError {
                code: code.into(),
                message: "m".into(),
            })
        };
        let reason = |code: &str| match of(code) {
            ProviderError::Transient { .. } => "transient",
            ProviderError::Permanent { code, .. } => code,
        };
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.JobNumExceed",
            "InternalError",
            "FailedOperation.EngineServerError",
        ] {
            assert_eq!(reason(code), "transient", "{code}");
        }
        assert_eq!(reason("AuthFailure.SignatureFailure"), "gen_err.auth");
        assert_eq!(reason("AuthFailure.SecretIdNotFound"), "gen_err.auth");
        assert_eq!(
            reason("OperationDenied.TextIllegalDetected"),
            "gen_err.moderation"
        );
        assert_eq!(
            reason("OperationDenied.ImageIllegalDetected"),
            "gen_err.moderation"
        );
        assert_eq!(reason("ResourceUnavailable.InArrears"), "gen_err.account");
        assert_eq!(
            reason("ResourceInsufficient.ChargeResourceExhaust"),
            "gen_err.account"
        );
        assert_eq!(
            reason("InvalidParameterValue.ParameterValueError"),
            "gen_err.bad_request"
        );
    }
}
