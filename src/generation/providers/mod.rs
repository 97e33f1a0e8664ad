//! Model providers behind one trait. Each adapter is a file here; which ones run, with which
//! models, keys and limits, comes from `[[providers]]` in the configuration.

pub mod a1111;
pub mod ark;
pub mod comfyui;
pub mod dashscope;
pub mod http;
pub mod hunyuan;
pub mod kling;
pub mod local;
pub mod openai;
pub mod stability;
pub mod tc3;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};

use super::model::{Kind, Params, ResultNotes};
use crate::config::{ProviderConfig, ProviderKind};

/// A reference image, loaded from our own store.
#[derive(Clone)]
pub struct InputImage {
    pub bytes: Vec<u8>,
    pub mime: String,
}

/// Everything an adapter needs to run one task.
#[derive(Clone)]
pub struct Job {
    pub task_uuid: String,
    pub kind: Kind,
    pub model: String,
    pub prompt: String,
    pub params: Params,
    pub images: Vec<InputImage>,
    /// Where an adapter that works here says how far it got and what it made of the prompt.
    pub report: Report,
}

/// Shared between a running adapter and the engine, which writes what changed to the task.
#[derive(Clone, Default)]
pub struct Report(Arc<ReportInner>);

#[derive(Default)]
struct ReportInner {
    /// Percent done, 0 until the adapter says otherwise.
    progress: AtomicI32,
    notes: Mutex<Option<ResultNotes>>,
}

impl Report {
    /// `done` in 0..=1; progress only moves forward and stays below 100 until the task is stored.
    pub fn progress(&self, done: f32) {
        let percent = (done.clamp(0.0, 1.0) * 100.0) as i32;
        self.0
            .progress
            .fetch_max(percent.min(99), Ordering::Relaxed);
    }

    pub fn percent(&self) -> i32 {
        self.0.progress.load(Ordering::Relaxed)
    }

    pub fn set_notes(&self, notes: ResultNotes) {
        if let Ok(mut slot) = self.0.notes.lock() {
            *slot = Some(notes);
        }
    }

    pub fn notes(&self) -> Option<ResultNotes> {
        self.0.notes.lock().ok().and_then(|n| n.clone())
    }
}

/// A finished result as bytes; adapters download vendor URLs themselves (they expire).
pub struct Output {
    pub bytes: Vec<u8>,
    pub mime: String,
}

pub enum Submitted {
    Done(Output),
    /// An asynchronous vendor accepted the task under this id; poll it.
    Remote(String),
}

pub enum Polled {
    Running { progress: Option<i32> },
    Done(Output),
}

/// Why a provider call did not give a result.
#[derive(Debug, Clone)]
pub enum ProviderError {
    /// Worth trying again later (429, 5xx, timeouts, network).
    Transient {
        detail: String,
        http_status: Option<u16>,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help; `code` names the message people see (locales `gen_err.*`).
    Permanent {
        code: &'static str,
        detail: String,
        http_status: Option<u16>,
    },
}

impl ProviderError {
    pub fn permanent(code: &'static str, detail: impl Into<String>) -> Self {
        ProviderError::Permanent {
            code,
            detail: detail.into(),
            http_status: None,
        }
    }

    /// A task status the vendor's documentation does not list.
    pub fn unexpected_status(status: Option<&str>) -> Self {
        Self::permanent(
            "gen_err.bad_output",
            format!("unexpected status {status:?}"),
        )
    }

    /// The vendor reports the task canceled (at its console, or by our cancel call).
    pub fn canceled_at_vendor() -> Self {
        Self::permanent("gen_err.canceled", "canceled at the vendor")
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            ProviderError::Transient { http_status, .. }
            | ProviderError::Permanent { http_status, .. } => *http_status,
        }
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

pub trait Provider: Send + Sync {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>>;

    fn poll<'a>(
        &'a self,
        job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>>;

    /// Whether the vendor can drop a remote task it is still working on (`cancel`).
    fn can_cancel(&self) -> bool {
        false
    }

    /// Asks the vendor to drop a remote task the person canceled, so it is not made (and,
    /// with most vendors, not charged). Only called when `can_cancel` says so.
    fn cancel<'a>(
        &'a self,
        _job: &'a Job,
        _remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<()>> {
        async { Ok(()) }.boxed()
    }

    /// Whether a synchronous call can be stopped while it runs (`interrupt`): a local GPU
    /// server that blocks until the picture is made.
    fn can_interrupt(&self) -> bool {
        false
    }

    /// Asks the server to stop the work of a call the engine dropped because the person
    /// canceled. Only called when `can_interrupt` says so.
    fn interrupt<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, ProviderResult<()>> {
        async { Ok(()) }.boxed()
    }
}

fn required_key(cfg: &ProviderConfig) -> anyhow::Result<String> {
    cfg.key()
        .ok_or_else(|| anyhow::anyhow!("providers.api_key_env of {:?}: no API key", cfg.name))
}

fn required_secret(cfg: &ProviderConfig) -> anyhow::Result<String> {
    cfg.secret()
        .ok_or_else(|| anyhow::anyhow!("providers.secret_key_env of {:?}: no secret key", cfg.name))
}

/// A model people can pick, and what it can do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ModelInfo {
    /// `provider/model`, the value of `model` in a generation request.
    pub id: String,
    pub provider: String,
    pub model: String,
    pub label: String,
    pub kinds: Vec<Kind>,
    /// Runs on this machine without network (the built-in procedural engine).
    pub offline: bool,
    /// What a request to it may ask for; `submit` refuses the rest with a 400.
    pub capabilities: crate::catalogue::model::Capabilities,
    pub price: crate::catalogue::model::Price,
}

pub struct ProviderEntry {
    pub name: String,
    pub provider: Arc<dyn Provider>,
    pub concurrency: usize,
    pub pacer: Pacer,
    pub models: Vec<ModelInfo>,
}

/// Spaces calls to a vendor evenly to stay under its request rate.
pub struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn per_minute(rate: u32) -> Self {
        let interval = (rate > 0).then(|| Duration::from_secs(60) / rate);
        Pacer {
            interval,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for this call's slot.
    pub async fn ready(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The configured providers, by name.
pub struct Registry {
    entries: HashMap<String, ProviderEntry>,
    order: Vec<String>,
}

impl Registry {
    /// The providers of `configs`; model prices are in `currency` (`stats.currency`).
    pub fn from_config(configs: &[ProviderConfig], currency: &str) -> anyhow::Result<Self> {
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        for cfg in configs {
            let provider: Arc<dyn Provider> = match cfg.kind {
                ProviderKind::Local => Arc::new(local::Local),
                ProviderKind::Openai => Arc::new(openai::OpenAi {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| openai::DEFAULT_BASE.into()),
                    key: required_key(cfg)?,
                }),
                ProviderKind::Dashscope => Arc::new(dashscope::DashScope {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| dashscope::DEFAULT_BASE.into()),
                    key: required_key(cfg)?,
                }),
                ProviderKind::Stability => Arc::new(stability::Stability {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| stability::DEFAULT_BASE.into()),
                    key: required_key(cfg)?,
                }),
                ProviderKind::Ark => Arc::new(ark::Ark {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| ark::DEFAULT_BASE.into()),
                    key: required_key(cfg)?,
                    reference_models: cfg
                        .models
                        .iter()
                        .filter(|m| m.video_images == crate::config::VideoImages::References)
                        .map(|m| m.name.clone())
                        .collect(),
                }),
                ProviderKind::Kling => Arc::new(kling::Kling {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| kling::DEFAULT_BASE.into()),
                    access_key: required_key(cfg)?,
                    secret_key: required_secret(cfg)?,
                }),
                ProviderKind::Hunyuan => Arc::new(
                    hunyuan::Hunyuan::new(
                        http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                        cfg.base_url.as_deref().unwrap_or(hunyuan::DEFAULT_BASE),
                        required_key(cfg)?,
                        required_secret(cfg)?,
                    )
                    .map_err(|e| anyhow::anyhow!("providers.base_url of {:?}: {e}", cfg.name))?,
                ),
                ProviderKind::A1111 => Arc::new(a1111::A1111 {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    quick: http::client(Duration::from_secs(10))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| a1111::DEFAULT_BASE.into()),
                    // Optional: a webui started without `--api-auth` asks for nothing.
                    auth: cfg
                        .key()
                        .map(|k| a1111::A1111::parse_auth(&k))
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("providers {:?}: {e}", cfg.name))?,
                }),
                ProviderKind::Comfyui => Arc::new(comfyui::ComfyUi {
                    http: http::client(Duration::from_secs(cfg.timeout_seconds.max(1)))?,
                    base_url: cfg
                        .base_url
                        .clone()
                        .unwrap_or_else(|| comfyui::DEFAULT_BASE.into()),
                    workflows: comfyui::workflows(cfg)?,
                    client_id: uuid::Uuid::new_v4().simple().to_string(),
                }),
            };
            let models = cfg
                .models
                .iter()
                .map(|m| ModelInfo {
                    id: format!("{}/{}", cfg.name, m.name),
                    provider: cfg.name.clone(),
                    model: m.name.clone(),
                    label: m.label.clone().unwrap_or_else(|| m.name.clone()),
                    kinds: m.kinds.clone(),
                    offline: cfg.kind == ProviderKind::Local,
                    capabilities: crate::catalogue::model::Capabilities::of(cfg.kind, m),
                    price: crate::catalogue::model::Price::of(m, currency).unwrap_or(
                        crate::catalogue::model::Price {
                            per_image: None,
                            per_video_second: None,
                            currency: currency.to_string(),
                        },
                    ),
                })
                .collect();
            anyhow::ensure!(
                !entries.contains_key(&cfg.name),
                "providers: the name {:?} is used twice",
                cfg.name
            );
            order.push(cfg.name.clone());
            entries.insert(
                cfg.name.clone(),
                ProviderEntry {
                    name: cfg.name.clone(),
                    provider,
                    concurrency: cfg.concurrency.max(1) as usize,
                    pacer: Pacer::per_minute(cfg.requests_per_minute),
                    models,
                },
            );
        }
        Ok(Registry { entries, order })
    }

    pub fn get(&self, name: &str) -> Option<&ProviderEntry> {
        self.entries.get(name)
    }

    pub fn entries(&self) -> impl Iterator<Item = &ProviderEntry> {
        self.order.iter().filter_map(|n| self.entries.get(n))
    }

    pub fn models(&self) -> Vec<ModelInfo> {
        self.entries()
            .flat_map(|e| e.models.iter().cloned())
            .collect()
    }

    /// The model for `requested` (`provider/model`), or the first one that can do `kind`.
    pub fn pick(&self, requested: Option<&str>, kind: Kind) -> Option<ModelInfo> {
        let models = self.models();
        match requested {
            Some(id) => models
                .into_iter()
                .find(|m| m.id == id && m.kinds.contains(&kind)),
            None => models.into_iter().find(|m| m.kinds.contains(&kind)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_calls_evenly() {
        let pacer = Pacer::per_minute(120);
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            pacer.ready().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "5 calls at 2/s: the 5th waits 2 s"
        );
        let free = Pacer::per_minute(0);
        let start = tokio::time::Instant::now();
        free.ready().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
