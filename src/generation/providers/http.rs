//! What every HTTP adapter shares: turning vendor answers and transport failures into
//! `ProviderError`s that say whether trying again can help.

use std::time::Duration;

use super::ProviderError;

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
    let body = res.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
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

/// One client per provider: connection reuse, a timeout on every call, rustls.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("PictureDeck/", env!("CARGO_PKG_VERSION")))
        .build()?)
}
