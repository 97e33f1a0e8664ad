//! What every HTTP adapter shares: turning vendor answers and transport failures into
//! `ProviderError`s that say whether trying again can help.

use std::time::Duration;

use super::{ProviderError, ProviderResult};

/// Network trouble and timeouts are worth another try.
pub fn transport_error(e: reqwest::Error) -> ProviderError {
    let detail = if e.is_timeout() {
        "the vendor did not answer in time".to_string()
    } else {
        format!("network: {e}")
    };
    ProviderError::Transient {
        detail,
        http_status: None,
        retry_after: None,
    }
}

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let value = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(3600)))
}

/// Passes 2xx through; maps the rest: 429 and 5xx transient (with Retry-After), moderation
/// refusals, key problems and other 4xx permanent with a reason people understand.
pub async fn classify(res: reqwest::Response) -> Result<reqwest::Response, ProviderError> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let code = Some(status.as_u16());
    let wait = retry_after(&res);
    // Vendor bodies are capped: a hostile or broken server cannot fill our memory or logs.
    let body = read_capped(res, MAX_ERROR_BODY).await.unwrap_or_default();
    let body: String = String::from_utf8_lossy(&body).chars().take(500).collect();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(ProviderError::Transient {
            detail: format!("HTTP {status}: {body}"),
            http_status: code,
            retry_after: wait,
        });
    }
    let lower = body.to_lowercase();
    let reason = if lower.contains("moderation")
        || lower.contains("content_policy")
        || lower.contains("safety")
        || lower.contains("datainspectionfailed")
        || lower.contains("content_filter")
        // Volcengine Ark: InputTextSensitiveContentDetected, OutputImageRiskDetection, ...
        || lower.contains("sensitivecontentdetected")
        || lower.contains("riskdetection")
    {
        "gen_err.moderation"
    } else if matches!(status.as_u16(), 401 | 403) {
        "gen_err.auth"
    } else {
        "gen_err.bad_request"
    };
    Err(ProviderError::Permanent {
        code: reason,
        detail: format!("HTTP {status}: {body}"),
        http_status: code,
    })
}

/// Bytes of an error answer we read; the message is in the first few hundred.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// A JSON answer (task status, or an image as base64) larger than this is not one.
pub const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

/// The body, read as it arrives and refused once it passes `cap` bytes, whatever the
/// Content-Length says or whether there is one.
pub async fn read_capped(mut res: reqwest::Response, cap: usize) -> ProviderResult<Vec<u8>> {
    let too_large = || ProviderError::permanent("gen_err.bad_output", "the answer is too large");
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(res.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = res.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A JSON answer, read with `read_capped`.
pub async fn json_capped<T: serde::de::DeserializeOwned>(
    res: reqwest::Response,
) -> ProviderResult<T> {
    let body = read_capped(res, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ProviderError::permanent("gen_err.bad_output", format!("unreadable answer: {e}"))
    })
}

/// One client per provider: connection reuse, a timeout on every call, rustls.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("PictureDeck/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Results larger than this are refused rather than held in memory.
pub const MAX_RESULT_BYTES: usize = 512 * 1024 * 1024;

/// An image or MP4 the vendor sent, as an `Output` of the type its bytes say it is (the
/// vendor's Content-Type is not trusted).
pub fn media_output(bytes: Vec<u8>) -> ProviderResult<super::Output> {
    let mime = crate::storage::media::sniff(&bytes).ok_or_else(|| {
        ProviderError::permanent("gen_err.bad_output", "the result is neither image nor MP4")
    })?;
    Ok(super::Output {
        bytes,
        mime: mime.to_string(),
    })
}

/// An image sent as base64 inside a JSON answer.
pub fn base64_output(b64: &str) -> ProviderResult<super::Output> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| ProviderError::permanent("gen_err.bad_output", format!("bad base64: {e}")))?;
    media_output(bytes)
}

/// Downloads a vendor's result URL at once (they expire, often within 24 h).
pub async fn download(http: &reqwest::Client, url: &str) -> ProviderResult<super::Output> {
    let res = http.get(url).send().await.map_err(transport_error)?;
    media_output(read_capped(classify(res).await?, MAX_RESULT_BYTES).await?)
}

/// A reference image inline as a data URL: our files are not on the public internet, so a
/// vendor cannot fetch them by address.
pub fn data_url(image: &super::InputImage) -> String {
    use base64::Engine as _;
    format!(
        "data:{};base64,{}",
        image.mime,
        base64::engine::general_purpose::STANDARD.encode(&image.bytes)
    )
}
