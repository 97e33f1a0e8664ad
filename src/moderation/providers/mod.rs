//! Moderation services that look at every result before it is stored (seed 6.1: "all
//! generated content is filtered by a moderation service"), pluggable like the model
//! providers: one trait, one adapter a file, chosen by `[moderation.provider]`. The adapters
//! share the model providers' HTTP helpers, so 429/5xx/timeouts are transient (Retry-After
//! honoured) and key or request problems are permanent in the same way.

pub mod openai;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{ModerationProviderConfig, ResultCheckKind, WhenUnchecked};
use crate::generation::providers::{http, ProviderError, ProviderResult};

/// What a moderation service is shown of one result.
pub struct Subject<'a> {
    pub task_id: &'a str,
    /// `t2i`, `i2i`, `t2v`, `i2v`.
    pub kind: &'a str,
    /// `provider/model` that made it.
    pub model: &'a str,
    pub prompt: &'a str,
    /// The picture itself, or a video's poster frame.
    pub image: &'a [u8],
    pub image_mime: &'a str,
    /// Whether `image` is a video's poster frame.
    pub poster: bool,
}

impl Subject<'_> {
    pub fn data_url(&self) -> String {
        use base64::Engine as _;
        format!(
            "data:{};base64,{}",
            self.image_mime,
            base64::engine::general_purpose::STANDARD.encode(self.image)
        )
    }
}

/// A service's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub flagged: bool,
    /// The categories that were flagged.
    pub categories: Vec<String>,
    /// Scores the service gave, by category (empty if it gives none).
    pub scores: BTreeMap<String, f64>,
    /// Anything else worth keeping for the reviewer (e.g. which input a category applied to).
    pub detail: Option<String>,
}

pub trait Moderator: Send + Sync {
    /// The name a flag records as its `service` (`openai`, `webhook`).
    fn name(&self) -> &'static str;

    fn check<'a>(&'a self, subject: &'a Subject<'a>) -> BoxFuture<'a, ProviderResult<Verdict>>;
}

/// What the engine does with a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing is configured, or the service saw nothing wrong (or was down and
    /// `on_error = "pass"`).
    Clear,
    /// Keep it hidden for an admin.
    Flagged { service: String, verdict: Verdict },
}

/// The category recorded when the service could not answer and the result is held.
pub const UNCHECKED: &str = "unchecked";

/// The configured service with its retry policy; `None` checks nothing.
pub struct ResultCheck {
    moderator: Option<Arc<dyn Moderator>>,
    max_attempts: u32,
    retry_base: Duration,
    on_error: WhenUnchecked,
}

/// Retry-After beyond this is not waited for: the task's worker slot is held meanwhile.
const MAX_WAIT: Duration = Duration::from_secs(60);

impl ResultCheck {
    pub fn from_config(cfg: &ModerationProviderConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(cfg.timeout_seconds.max(1));
        let moderator: Option<Arc<dyn Moderator>> = match cfg.kind {
            ResultCheckKind::None => None,
            ResultCheckKind::Openai => Some(Arc::new(openai::OpenAiModeration {
                http: http::client(timeout)?,
                base_url: cfg
                    .url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| openai::DEFAULT_BASE.into()),
                key: cfg.key().ok_or_else(|| {
                    anyhow::anyhow!("moderation.provider.api_key_env: no API key")
                })?,
                model: cfg.model.clone(),
            })),
            ResultCheckKind::Webhook => Some(Arc::new(webhook::Webhook {
                http: http::client(timeout)?,
                url: cfg
                    .url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| anyhow::anyhow!("moderation.provider.url: none"))?,
                key: cfg.key(),
            })),
        };
        Ok(ResultCheck {
            moderator,
            max_attempts: cfg.max_attempts.max(1),
            retry_base: Duration::from_millis(cfg.retry_base_ms),
            on_error: cfg.on_error,
        })
    }

    /// Whether results are checked at all.
    pub fn is_on(&self) -> bool {
        self.moderator.is_some()
    }

    /// Asks the service, trying again on transient errors; a service that cannot answer
    /// holds the result (or passes it, as configured).
    pub async fn run(&self, subject: &Subject<'_>) -> Outcome {
        let Some(moderator) = &self.moderator else {
            return Outcome::Clear;
        };
        let mut attempt = 0;
        let error = loop {
            attempt += 1;
            match moderator.check(subject).await {
                Ok(verdict) if verdict.flagged => {
                    return Outcome::Flagged {
                        service: moderator.name().to_string(),
                        verdict,
                    }
                }
                Ok(_) => return Outcome::Clear,
                Err(ProviderError::Transient {
                    retry_after,
                    detail,
                    ..
                }) if attempt < self.max_attempts => {
                    let wait = retry_after
                        .unwrap_or_else(|| backoff(self.retry_base, attempt))
                        .min(MAX_WAIT);
                    tracing::info!(task = subject.task_id, %detail, ?wait, "moderation service busy; trying again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => break e,
            }
        };
        let detail = match &error {
            ProviderError::Transient { detail, .. } | ProviderError::Permanent { detail, .. } => {
                detail.clone()
            }
        };
        match self.on_error {
            WhenUnchecked::Pass => {
                tracing::warn!(task = subject.task_id, %detail, "moderation service failed; the result is shown unchecked (on_error = \"pass\")");
                Outcome::Clear
            }
            WhenUnchecked::Hold => {
                tracing::warn!(task = subject.task_id, %detail, "moderation service failed; the result is held for review");
                Outcome::Flagged {
                    service: moderator.name().to_string(),
                    verdict: Verdict {
                        flagged: true,
                        categories: vec![UNCHECKED.to_string()],
                        scores: BTreeMap::new(),
                        detail: Some(detail.chars().take(500).collect()),
                    },
                }
            }
        }
    }
}

/// Doubling from `base`, with ±20 % jitter.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 10).saturating_sub(1));
    exp.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}
