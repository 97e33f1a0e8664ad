//! Configuration: defaults < config file < `PICTUREDECK__*` environment < command-line flags.
//! Every key is documented in config.example.toml; a test keeps the two in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite file, local objects, outbox and generated secret live.
    pub data_dir: Option<PathBuf>,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub engine: EngineConfig,
    pub storage: StorageConfig,
    pub moderation: ModerationConfig,
    pub gallery: GalleryConfig,
    pub monitoring: MonitoringConfig,
    pub alerts: AlertsConfig,
    pub retention: RetentionConfig,
    pub stats: StatsConfig,
    pub backup: BackupConfig,
    pub prompts: PromptsConfig,
    pub providers: Vec<ProviderConfig>,
}

// ---- prompt help (issue 13 item 5; src/prompts, docs/prompts.md) ----------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsConfig {
    /// Style presets beside the built-in ones (`[[prompts.presets]]`); one with a built-in
    /// preset's id replaces it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub presets: Vec<PresetConfig>,
    /// The chat service that expands and translates prompts (`[prompts.assistant]`).
    pub assistant: AssistantConfig,
}

/// A style preset of this instance, in one language for everyone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetConfig {
    /// Lower-case letters, digits and `_`, at most 32.
    pub id: String,
    pub name: String,
    /// Added to the prompt, comma-separated.
    pub words: String,
    /// Added to the negative prompt.
    #[serde(default)]
    pub negative_prompt: String,
}

/// An OpenAI-compatible chat service (`POST {base_url}/v1/chat/completions`); off while
/// `base_url` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssistantConfig {
    /// The service's root, e.g. `https://api.openai.com` (a root ending in `/v1` is taken as is).
    pub base_url: String,
    pub model: String,
    /// The key itself (sent as `Authorization: Bearer`); prefer `api_key_env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Seconds before a call is given up.
    pub timeout_seconds: u64,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        AssistantConfig {
            base_url: String::new(),
            model: "gpt-4o-mini".into(),
            api_key: None,
            api_key_env: None,
            timeout_seconds: 30,
        }
    }
}

impl AssistantConfig {
    /// The key from the environment variable or the file; never logged.
    pub fn key(&self) -> Option<String> {
        self.api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .or_else(|| self.api_key.clone())
            .filter(|k| !k.is_empty())
    }
}

impl PromptsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let a = &self.assistant;
        let scheme_ok = a.base_url.is_empty()
            || a.base_url.starts_with("http://")
            || a.base_url.starts_with("https://");
        if !scheme_ok {
            bail!("prompts.assistant.base_url must start with http:// or https://");
        }
        if !(1..=600).contains(&a.timeout_seconds) || a.model.trim().is_empty() {
            bail!("prompts.assistant.timeout_seconds must be 1–600 and model not empty");
        }
        for p in &self.presets {
            let id_ok = (1..=32).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !id_ok || p.name.trim().is_empty() || p.words.trim().is_empty() {
                bail!(
                    "prompts.presets: {:?} needs an id of a-z, 0-9 and _ (at most 32), a name \
                     and words",
                    p.id
                );
            }
        }
        Ok(())
    }
}

// ---- monitoring, alerts and retention (issue 11 items 4 and 5; src/ops) ----------------

/// The monitoring page, `/metrics` and the log centre.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Bearer token for `/metrics` (Prometheus text format); empty: `/metrics` is off (404).
    pub metrics_token: String,
    /// This instance's name in metrics and in alerts about its own memory and disk; empty:
    /// the host name. Give each instance on one host its own.
    pub instance: String,
    /// How often the queue and provider figures that `/metrics` serves are read from the
    /// database (a scrape itself runs no query).
    pub sample_interval_seconds: u64,
    /// How often alert rules are checked and the admins' banner refreshed.
    pub check_interval_seconds: u64,
    /// Warnings and errors kept in memory for the log centre (the newest win).
    pub log_buffer: usize,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig {
            metrics_token: String::new(),
            instance: String::new(),
            sample_interval_seconds: 5,
            check_interval_seconds: 30,
            log_buffer: 1000,
        }
    }
}

/// Alert thresholds; 0 turns a rule off. An alert shows as a banner to admins and is mailed
/// to them once when it starts and once when it clears.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The oldest queued task has waited longer than this.
    pub queue_age_seconds: i64,
    /// A provider failed more than this share of its calls over the last 5 minutes...
    pub error_rate_percent: i64,
    /// ...counting only when it made at least this many calls then.
    pub error_rate_min_calls: i64,
    /// Free space on the data dir's file system fell below this.
    pub disk_free_mb: i64,
    /// This process's resident memory grew above this.
    pub memory_mb: i64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            queue_age_seconds: 900,
            error_rate_percent: 50,
            error_rate_min_calls: 10,
            disk_free_mb: 1024,
            memory_mb: 4096,
        }
    }
}

/// How long raw log rows are kept ("定期清理敏感日志"); 0 keeps them for ever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days of `audit_log` rows (who did what, from which address).
    pub audit_log_days: i64,
    /// Days of raw `api_calls` rows; the statistics' rollups are kept whatever this says.
    pub api_calls_days: i64,
    /// How often the pruning job runs.
    pub prune_interval_minutes: u64,
    /// Rows deleted per statement, so a long backlog never holds a long lock.
    pub batch_size: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            audit_log_days: 180,
            api_calls_days: 90,
            prune_interval_minutes: 60,
            batch_size: 1000,
        }
    }
}

/// Admin statistics (issue 11 item 3). Prices are per model, in `[[providers.models]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// The currency every model price is given in (a label: no conversion is made).
    pub currency: String,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            currency: "CNY".into(),
        }
    }
}

/// Scheduled backups made by the server (issue 11 item 6); `picturedeck backup` any time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Folder the scheduled backups go to, one sub-folder each; unset: no scheduled backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Seconds between two scheduled backups (86400: daily).
    pub interval_seconds: u64,
    /// How many scheduled backups to keep; older ones are removed.
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: None,
            interval_seconds: 86_400,
            keep: 7,
        }
    }
}

/// Content moderation (issue 11 item 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    /// Refuse a task whose prompt holds a listed term, before it is queued.
    pub prompt_check: bool,
    /// Use the shipped zh + en list (src/moderation/words.txt) besides your own.
    pub default_words: bool,
    /// More terms, any language; admins also add terms on the 审核词库 page.
    pub words: Vec<String>,
    /// The service that checks every result before it is stored (`[moderation.provider]`).
    pub provider: ModerationProviderConfig,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig {
            prompt_check: true,
            default_words: true,
            words: Vec::new(),
            provider: ModerationProviderConfig::default(),
        }
    }
}

/// Which service checks results (docs/moderation.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultCheckKind {
    /// Results are stored as they come.
    #[default]
    None,
    /// OpenAI `POST /v1/moderations` (text and image).
    Openai,
    /// Our own JSON POSTed to `url`.
    Webhook,
}

/// What happens to a result when the moderation service cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenUnchecked {
    /// Fail closed: the result is kept hidden, as flagged, until an admin looks at it.
    #[default]
    Hold,
    /// Fail open: the result is shown unchecked (a warning goes to the log).
    Pass,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationProviderConfig {
    pub kind: ResultCheckKind,
    /// openai: the API root (default https://api.openai.com); webhook: the URL POSTed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The key itself (sent as `Authorization: Bearer`); prefer `api_key_env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The OpenAI moderation model.
    pub model: String,
    /// Seconds before one call is given up.
    pub timeout_seconds: u64,
    /// Calls per result, the first included, when the service answers 429/5xx or not at all.
    pub max_attempts: u32,
    /// First wait between attempts (doubled each time) unless the service sends Retry-After.
    pub retry_base_ms: u64,
    /// "hold" (fail closed) or "pass" (fail open) when every attempt failed.
    pub on_error: WhenUnchecked,
}

impl Default for ModerationProviderConfig {
    fn default() -> Self {
        ModerationProviderConfig {
            kind: ResultCheckKind::None,
            url: None,
            api_key: None,
            api_key_env: None,
            model: "omni-moderation-latest".into(),
            timeout_seconds: 30,
            max_attempts: 3,
            retry_base_ms: 1000,
            on_error: WhenUnchecked::Hold,
        }
    }
}

impl ModerationProviderConfig {
    /// The key from the environment variable or the file; never logged.
    pub fn key(&self) -> Option<String> {
        self.api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .or_else(|| self.api_key.clone())
            .filter(|k| !k.is_empty())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GalleryConfig {
    /// Let people who are not signed in browse the public gallery (and land on it at `/`).
    /// Unset: on with `--serve`, off on the desktop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub kind: StorageKind,
    /// Folder for objects with `kind = "local"`; default `<data_dir>/objects`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_dir: Option<PathBuf>,
    /// S3-compatible endpoint (MinIO, OSS, COS, AWS), path-style, e.g. `http://127.0.0.1:9000`.
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key: String,
    /// The secret key itself; prefer `s3_secret_key_env`.
    pub s3_secret_key: String,
    /// The environment variable holding the secret key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_secret_key_env: Option<String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Local,
            local_dir: None,
            s3_endpoint: String::new(),
            s3_bucket: "picturedeck".into(),
            s3_region: "us-east-1".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
            s3_secret_key_env: None,
        }
    }
}

impl StorageConfig {
    pub fn secret_key(&self) -> String {
        self.s3_secret_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .unwrap_or_else(|| self.s3_secret_key.clone())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    /// The address people use to reach this instance, for links in mails.
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Largest request body in bytes (JSON and forms).
    pub body_limit: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks).
    pub trusted_proxies: Vec<crate::web::proxy::Net>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite:PATH` or `postgres://...`; empty means `picturedeck.db` in the data dir.
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HMAC key for tokens; empty means a random key kept in `<data_dir>/secret.key`.
    pub jwt_secret: String,
    pub token_ttl_hours: i64,
    /// Daily generation quota of a new user.
    pub default_daily_quota: i32,
    /// Mark cookies `Secure` (set it when a TLS proxy in front serves HTTPS; with
    /// server.tls_cert they are always `Secure`).
    pub secure_cookies: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailMode {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub mode: MailMode,
    /// Sender of every mail; its domain also names our `Message-ID`s and the DKIM domain.
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: String,
    /// A PEM file of CA certificates trusted for the SMTP server's TLS, beside the public
    /// roots (a private relay's own CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Seconds each SMTP step (connect, greeting, STARTTLS, AUTH, the mail itself) may take.
    pub smtp_timeout_seconds: u64,
    /// SMTP connections kept open for reuse; also how many mails go out at once.
    pub smtp_pool_size: u32,
    /// Tries per mail before a temporary failure becomes permanent.
    pub max_attempts: i32,
    /// First retry delay in milliseconds; it doubles per attempt (with jitter), up to an hour.
    pub retry_base_ms: u64,
    /// DKIM selector: mails are signed when it and `dkim_key_file` are set.
    pub dkim_selector: String,
    /// The DKIM private key, an RSA key in PEM (PKCS#1 or PKCS#8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `picturedeck=debug,actix_web=info`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Login attempts per client IP per minute.
    pub login_per_ip_per_minute: u32,
    /// Failed logins per account per 15 minutes before it must wait.
    pub login_failures_per_account: u32,
    /// Verification-code checks per client IP per minute.
    pub code_checks_per_ip_per_minute: u32,
    /// Registrations per client IP (IPv6: per /64) per hour.
    pub registrations_per_ip_per_hour: u32,
    /// Password hashes waiting for a CPU (one runs per core); past this, 429 + Retry-After.
    pub password_hash_queue: usize,
    /// Largest reference image upload in bytes.
    pub upload_bytes: usize,
    /// Largest library import in bytes: the archive, and the files it names added up.
    pub import_bytes: u64,
    /// Imports one user may run at once (each holds a temporary copy of its archive).
    pub imports_per_user: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Tasks running at once in this instance, over all providers.
    pub concurrency: u32,
    /// Seconds a claimed task stays ours without a heartbeat; then another instance may take it.
    pub lease_seconds: u32,
    /// Tries per task before a transient error becomes a failure.
    pub max_attempts: i32,
    /// Milliseconds between polls of an asynchronous provider, and between queue scans.
    pub poll_interval_ms: u64,
    /// Milliseconds between looks for task changes made outside this instance (another
    /// instance on the same PostgreSQL, the library), for the pages' live stream; 0 turns the
    /// look off (a single instance then still pushes its own engine's changes at once).
    pub live_poll_ms: u64,
    /// How long a signed result URL stays valid, in seconds.
    pub result_url_ttl: i64,
    /// First retry delay in milliseconds; it doubles per attempt (with jitter), unless the
    /// provider names its own `Retry-After`.
    pub retry_base_ms: u64,
    /// `ContentProducer` of the AIGC label (GB 45438-2025) in every stored image.
    pub producer: String,
    /// Also draw the visible "AI生成" label into stored images (GB 45438-2025 explicit label).
    pub visible_label: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The built-in offline procedural engine.
    Local,
    /// OpenAI Images, or any service with the same API (`base_url`).
    Openai,
    /// Alibaba Model Studio (DashScope), Wan models; asynchronous.
    Dashscope,
    /// Stability AI Stable Image v2beta (ultra, core, sd3.5 models); synchronous.
    Stability,
    /// Volcengine Ark: Seedream images (synchronous) and Seedance videos (asynchronous).
    Ark,
    /// Kling (可灵) videos; asynchronous, signed with a JWT from the access and secret key.
    Kling,
    /// Tencent Hunyuan pictures (混元生图); asynchronous, TC3-HMAC-SHA256 signed with the
    /// SecretId (`api_key`) and SecretKey.
    Hunyuan,
    /// A local GPU server with the AUTOMATIC1111 / Forge webui API (`--api`); synchronous.
    A1111,
    /// A local GPU server running ComfyUI; workflows are templates in the model entries.
    Comfyui,
}

/// What a model does with the pictures of an image-to-video task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoImages {
    /// The first picture opens the clip and a second one ends it (keyframes).
    #[default]
    Frames,
    /// Every picture is a reference the clip draws on (Seedance `reference_image`).
    References,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub kinds: Vec<crate::generation::model::Kind>,
    /// Estimated price of one picture, in `stats.currency` (statistics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_image: Option<f64>,
    /// Estimated price of one second of video, in `stats.currency` (statistics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_video_second: Option<f64>,
    /// Image-to-video: `frames` (first, then last frame) or `references`; adapters that
    /// know only keyframes ignore it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub video_images: VideoImages,
    /// ComfyUI: one workflow per kind, JSON in ComfyUI's API format, with the slots
    /// `{{prompt}}`, `{{negative_prompt}}`, `{{seed}}`, `{{width}}`, `{{height}}`,
    /// `{{strength}}` and `{{image}}` (docs/providers.md); other kinds ignore it.
    #[serde(default, skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub workflows: std::collections::HashMap<String, String>,
    /// The language the model reads prompts best in (`"en"` or `"zh"`); the generation form
    /// then offers to translate a prompt in the other one (src/prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_language: Option<crate::prompts::model::Language>,
    /// What the model can do beyond its kinds, over its provider kind's defaults
    /// (`[providers.models.capabilities]`, docs/providers.md).
    #[serde(default, skip_serializing_if = "is_default")]
    pub capabilities: crate::catalogue::model::CapabilitiesConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Tasks of this provider running at once.
    #[serde(default = "default_provider_concurrency")]
    pub concurrency: u32,
    /// The vendor's API root; each kind has its public default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The API key itself; prefer `api_key_env`, which keeps it out of files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The environment variable holding the API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Vendors that sign with a key pair (Kling, Hunyuan): the secret key; `api_key` is the
    /// access key (Kling) or SecretId (Hunyuan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// The environment variable holding the secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
    /// Seconds before one HTTP call to the vendor is given up (and retried).
    #[serde(default = "default_provider_timeout")]
    pub timeout_seconds: u64,
    /// Calls (submits and polls) per minute this instance makes to the vendor; 0 = no limit.
    #[serde(default)]
    pub requests_per_minute: u32,
    pub models: Vec<ModelConfig>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_provider_timeout() -> u64 {
    120
}

impl ProviderConfig {
    /// The key from the environment variable or the file; never logged.
    pub fn key(&self) -> Option<String> {
        self.api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .or_else(|| self.api_key.clone())
            .filter(|k| !k.is_empty())
    }

    /// The secret key of a key pair, from its environment variable or the file; never logged.
    pub fn secret(&self) -> Option<String> {
        self.secret_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .or_else(|| self.secret_key.clone())
            .filter(|k| !k.is_empty())
    }
}

fn default_provider_concurrency() -> u32 {
    2
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 8,
            lease_seconds: 60,
            max_attempts: 4,
            poll_interval_ms: 500,
            live_poll_ms: 1000,
            result_url_ttl: 3600,
            retry_base_ms: 2000,
            producer: "PictureDeck".into(),
            visible_label: false,
        }
    }
}

/// The built-in engine, so a fresh install generates with no configuration and no network.
fn default_providers() -> Vec<ProviderConfig> {
    use crate::generation::model::Kind;
    vec![ProviderConfig {
        name: "local".into(),
        kind: ProviderKind::Local,
        concurrency: 2,
        base_url: None,
        api_key: None,
        api_key_env: None,
        secret_key: None,
        secret_key_env: None,
        timeout_seconds: default_provider_timeout(),
        requests_per_minute: 0,
        models: vec![ModelConfig {
            name: "procedural".into(),
            label: Some("PictureDeck offline engine".into()),
            kinds: vec![Kind::T2i, Kind::I2i, Kind::T2v, Kind::I2v],
            ..ModelConfig::default()
        }],
    }]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: None,
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
            log: LogConfig::default(),
            limits: LimitsConfig::default(),
            engine: EngineConfig::default(),
            storage: StorageConfig::default(),
            moderation: ModerationConfig::default(),
            gallery: GalleryConfig::default(),
            monitoring: MonitoringConfig::default(),
            alerts: AlertsConfig::default(),
            retention: RetentionConfig::default(),
            stats: StatsConfig::default(),
            backup: BackupConfig::default(),
            prompts: PromptsConfig::default(),
            providers: default_providers(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8686".into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            body_limit: 256 * 1024,
            workers: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            pool_size: 8,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: String::new(),
            token_ttl_hours: 24 * 7,
            default_daily_quota: 100,
            secure_cookies: false,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            mode: MailMode::File,
            from: "PictureDeck <noreply@picturedeck.local>".into(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_ca_file: None,
            smtp_timeout_seconds: 20,
            smtp_pool_size: 2,
            max_attempts: 12,
            retry_base_ms: 30_000,
            dkim_selector: String::new(),
            dkim_key_file: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            login_per_ip_per_minute: 30,
            login_failures_per_account: 10,
            code_checks_per_ip_per_minute: 20,
            registrations_per_ip_per_hour: 20,
            password_hash_queue: 64,
            upload_bytes: 20 * 1024 * 1024,
            import_bytes: 4 * 1024 * 1024 * 1024,
            imports_per_user: 1,
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Config {
    /// Reads the layers; `file` may be missing only when it was not named explicitly.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => {
                let default = PathBuf::from("picturedeck.toml");
                if default.exists() {
                    figment = figment.merge(Toml::file(default));
                }
            }
        }
        figment = figment.merge(Env::prefixed("PICTUREDECK__").split("__").lowercase(true));
        let mut config: Config = figment.extract().map_err(describe_figment_error)?;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = Some(dir.clone());
        }
        if let Some(bind) = &overrides.bind {
            config.server.bind = bind.clone();
        }
        if let Some(url) = &overrides.database_url {
            config.database.url = url.clone();
        }
        if overrides.tls_cert.is_some() {
            config.server.tls_cert = overrides.tls_cert.clone();
        }
        if overrides.tls_key.is_some() {
            config.server.tls_key = overrides.tls_key.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot; every message names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.bind_addr()?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            bail!("server.tls_cert and server.tls_key must be given together");
        }
        if self.server.body_limit < 1024 {
            bail!("server.body_limit must be at least 1024 bytes");
        }
        if !(1..=256).contains(&self.database.pool_size) {
            bail!("database.pool_size must be between 1 and 256");
        }
        let url = &self.database.url;
        if !url.is_empty()
            && url.contains("://")
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite://"))
        {
            bail!("database.url must start with sqlite: or postgres:// (got another scheme)");
        }
        let check = &self.moderation.provider;
        if check.kind == ResultCheckKind::Webhook && check.url.as_deref().unwrap_or("").is_empty() {
            bail!("moderation.provider.url is needed for kind = \"webhook\"");
        }
        if check.kind == ResultCheckKind::Openai && check.key().is_none() {
            bail!("moderation.provider.api_key_env of kind = \"openai\": no API key");
        }
        if !(1..=10).contains(&check.max_attempts) || !(1..=600).contains(&check.timeout_seconds) {
            bail!("moderation.provider.max_attempts must be 1–10 and timeout_seconds 1–600");
        }
        if !(1..=24 * 365).contains(&self.auth.token_ttl_hours) {
            bail!("auth.token_ttl_hours must be between 1 and 8760");
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            bail!("auth.jwt_secret must be at least 32 characters");
        }
        if self.auth.default_daily_quota < 0 {
            bail!("auth.default_daily_quota must not be negative");
        }
        if self.mail.mode == MailMode::Smtp && self.mail.smtp_host.is_empty() {
            bail!("mail.smtp_host is required when mail.mode = \"smtp\"");
        }
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("mail.from is not a mail address: {e}"))?;
        if !(1..=600).contains(&self.mail.smtp_timeout_seconds) {
            bail!("mail.smtp_timeout_seconds must be between 1 and 600");
        }
        if !(1..=64).contains(&self.mail.smtp_pool_size) {
            bail!("mail.smtp_pool_size must be between 1 and 64");
        }
        if !(1..=50).contains(&self.mail.max_attempts) {
            bail!("mail.max_attempts must be between 1 and 50");
        }
        if self.mail.dkim_selector.is_empty() != self.mail.dkim_key_file.is_none() {
            bail!("mail.dkim_selector and mail.dkim_key_file must be given together");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| anyhow::anyhow!("log.level is not a valid filter: {e}"))?;
        if !(1..=4096).contains(&self.engine.concurrency) {
            bail!("engine.concurrency must be between 1 and 4096");
        }
        if self.engine.lease_seconds < 5 {
            bail!("engine.lease_seconds must be at least 5");
        }
        if self.backup.interval_seconds == 0 || self.backup.keep == 0 {
            bail!("backup.interval_seconds and backup.keep must be at least 1");
        }
        if !(1..=20).contains(&self.engine.max_attempts) {
            bail!("engine.max_attempts must be between 1 and 20");
        }
        if self.storage.kind == StorageKind::S3 {
            let st = &self.storage;
            if !(st.s3_endpoint.starts_with("http://") || st.s3_endpoint.starts_with("https://")) {
                bail!("storage.s3_endpoint must be an http:// or https:// URL when storage.kind = \"s3\"");
            }
            if st.s3_bucket.is_empty() || st.s3_access_key.is_empty() || st.secret_key().is_empty()
            {
                bail!("storage.s3_bucket, storage.s3_access_key and storage.s3_secret_key(_env) are required for S3");
            }
        }
        if self.providers.is_empty() {
            bail!("providers: at least one provider is needed (the default is the built-in \"local\")");
        }
        for p in &self.providers {
            if p.name.is_empty()
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!(
                    "providers.name {:?} must be letters, digits, - or _",
                    p.name
                );
            }
            if p.models.is_empty()
                || p.models
                    .iter()
                    .any(|m| m.kinds.is_empty() || m.name.is_empty())
            {
                bail!(
                    "providers.models of {:?} needs at least one model with a name and kinds",
                    p.name
                );
            }
            for m in &p.models {
                let caps = crate::catalogue::model::Capabilities::of(p.kind, m);
                if let Some(problem) = caps.problem() {
                    bail!(
                        "providers.models.capabilities of {:?}/{:?}: {problem}",
                        p.name,
                        m.name
                    );
                }
                let prices = [m.price_per_image, m.price_per_video_second];
                if prices
                    .into_iter()
                    .flatten()
                    .any(|v| !v.is_finite() || v < 0.0)
                {
                    bail!(
                        "providers.models price of {:?}/{:?} must be a number of at least 0",
                        p.name,
                        m.name
                    );
                }
            }
        }
        if self.stats.currency.trim().is_empty() || self.stats.currency.chars().count() > 12 {
            bail!("stats.currency must be 1–12 characters, e.g. \"CNY\"");
        }
        self.validate_ops()?;
        self.prompts.validate()?;
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("server.public_url must start with http:// or https://");
            }
        }
        Ok(())
    }

    /// The monitoring, alert and retention keys.
    fn validate_ops(&self) -> anyhow::Result<()> {
        let m = &self.monitoring;
        if !m.metrics_token.is_empty() && m.metrics_token.len() < 16 {
            bail!("monitoring.metrics_token must be empty (off) or at least 16 characters");
        }
        if !(1..=300).contains(&m.sample_interval_seconds) {
            bail!("monitoring.sample_interval_seconds must be between 1 and 300");
        }
        if !(1..=3600).contains(&m.check_interval_seconds) {
            bail!("monitoring.check_interval_seconds must be between 1 and 3600");
        }
        if !(10..=100_000).contains(&m.log_buffer) {
            bail!("monitoring.log_buffer must be between 10 and 100000");
        }
        let a = &self.alerts;
        for (key, value) in [
            ("alerts.queue_age_seconds", a.queue_age_seconds),
            ("alerts.error_rate_min_calls", a.error_rate_min_calls),
            ("alerts.disk_free_mb", a.disk_free_mb),
            ("alerts.memory_mb", a.memory_mb),
        ] {
            if value < 0 {
                bail!("{key} must not be negative (0 turns the rule off)");
            }
        }
        if !(0..=100).contains(&a.error_rate_percent) {
            bail!("alerts.error_rate_percent must be between 0 (off) and 100");
        }
        let r = &self.retention;
        if r.audit_log_days < 0 || r.api_calls_days < 0 {
            bail!("retention.audit_log_days and retention.api_calls_days must not be negative (0 keeps rows)");
        }
        if !(1..=10_080).contains(&r.prune_interval_minutes) {
            bail!("retention.prune_interval_minutes must be between 1 and 10080");
        }
        if !(1..=100_000).contains(&r.batch_size) {
            bail!("retention.batch_size must be between 1 and 100000");
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.bind.parse().with_context(|| {
            format!(
                "server.bind must be ADDRESS:PORT, got {:?}",
                self.server.bind
            )
        })
    }

    /// The data dir: configured, or the OS's per-user data folder.
    /// Whether cookies carry `Secure`: asked for, or this server speaks TLS itself.
    pub fn secure_cookies(&self) -> bool {
        self.auth.secure_cookies || self.server.tls_cert.is_some()
    }

    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let base = dirs::data_dir().unwrap_or_else(|| PathBuf::from("."));
        if cfg!(windows) {
            base.join("PictureDeck")
        } else {
            base.join("picturedeck")
        }
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite:{}",
                self.data_dir().join("picturedeck.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The effective configuration as TOML with secrets masked, for `config check`.
    pub fn masked_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        shown.data_dir = Some(self.data_dir());
        shown.database.url = crate::db::redact_url(&self.database_url());
        for secret in [
            &mut shown.auth.jwt_secret,
            &mut shown.mail.smtp_password,
            &mut shown.monitoring.metrics_token,
        ] {
            if !secret.is_empty() {
                *secret = "****".into();
            }
        }
        if !shown.storage.s3_secret_key.is_empty() {
            shown.storage.s3_secret_key = "****".into();
        }
        if shown.moderation.provider.api_key.is_some() {
            shown.moderation.provider.api_key = Some("****".into());
        }
        if shown.prompts.assistant.api_key.is_some() {
            shown.prompts.assistant.api_key = Some("****".into());
        }
        for p in &mut shown.providers {
            if p.api_key.is_some() {
                p.api_key = Some("****".into());
            }
            if p.secret_key.is_some() {
                p.secret_key = Some("****".into());
            }
        }
        Ok(toml::to_string_pretty(&shown)?)
    }
}

fn describe_figment_error(e: figment::Error) -> anyhow::Error {
    let messages: Vec<String> = e
        .into_iter()
        .map(|err| {
            let key = err.path.join(".");
            if key.is_empty() {
                format!("{err}")
            } else {
                format!("{key}: {}", err.kind)
            }
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// config.example.toml with its commented-out keys and sections switched on.
    fn uncommented_example() -> String {
        include_str!("../config.example.toml")
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| {
                        r.starts_with('[')
                            || r.split_once(" = ").is_some_and(|(k, _)| {
                                k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                            })
                    })
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn example_config_parses_and_lists_every_key() {
        // The example shows every key commented out; uncommented it must be a valid config.
        let uncommented = uncommented_example();
        let parsed: Config = toml::from_str(&uncommented).unwrap();
        parsed.validate().unwrap();
        let defaults = toml::to_string(&Config::default()).unwrap();
        let default_table: toml::Table = toml::from_str(&defaults).unwrap();
        for (section, value) in default_table {
            if let toml::Value::Table(keys) = value {
                for (key, inner) in keys {
                    // A nested table (`[moderation.provider]`) is documented key by key.
                    if let toml::Value::Table(inner) = inner {
                        assert!(uncommented.contains(&format!("[{section}.{key}]")));
                        for k in inner.keys() {
                            assert!(
                                uncommented.contains(&format!("{k} = ")),
                                "config.example.toml does not document {section}.{key}.{k}"
                            );
                        }
                        continue;
                    }
                    assert!(
                        uncommented.contains(&format!("{key} = ")),
                        "config.example.toml does not document {section}.{key}"
                    );
                }
            }
        }
    }

    /// Every configuration key README.md names exists: `section.key` anywhere, and in the
    /// Configuration section's bullets also `[section]` and the bare keys after it (values
    /// are written as TOML there, so `"tls"` is a value and `smtp_tls` a key).
    #[test]
    fn every_key_the_readme_names_exists() {
        // The keys Config really has: the full example, parsed and written back.
        let parsed: Config = toml::from_str(&uncommented_example()).unwrap();
        let known: toml::Table = toml::from_str(&toml::to_string(&parsed).unwrap()).unwrap();
        let has = |section: &str, key: &str| match known.get(section) {
            Some(toml::Value::Table(t)) => t.contains_key(key),
            Some(toml::Value::Array(items)) => items
                .iter()
                .any(|i| i.as_table().is_some_and(|t| t.contains_key(key))),
            _ => false,
        };
        let spans = |text: &str| -> Vec<String> {
            text.split('`')
                .skip(1)
                .step_by(2)
                .map(|s| s.split(" = ").next().unwrap_or(s).to_string())
                .collect()
        };
        let identifier =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        let readme = include_str!("../README.md");
        let mut checked = 0;
        for span in spans(readme) {
            if let Some((section, key)) = span.split_once('.') {
                if known.contains_key(section) && identifier(key) {
                    assert!(has(section, key), "README names {span}, which Config lacks");
                    checked += 1;
                }
            }
        }
        let (_, config_part) = readme.split_once("## Configuration").unwrap();
        let config_part = config_part.split("\n## ").next().unwrap();
        let bullets = config_part.split("\n- ").skip(1);
        for bullet in bullets {
            let mut section: Option<String> = None;
            for span in spans(bullet) {
                let bracketed = span.trim_start_matches('[').trim_end_matches(']');
                if span.starts_with('[') {
                    assert!(known.contains_key(bracketed), "README names [{bracketed}]");
                    section = Some(bracketed.to_string());
                } else if let Some((s, _)) = span
                    .split_once('.')
                    .filter(|(s, k)| identifier(s) && identifier(k))
                {
                    section = Some(s.to_string());
                } else if identifier(&span) {
                    let section = section.as_deref().unwrap_or_else(|| {
                        panic!("README names `{span}` before any section in: {bullet}")
                    });
                    assert!(
                        has(section, &span),
                        "README names {section}.{span}, which Config lacks"
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= 15,
            "only {checked} keys found: the README format changed"
        );
    }

    #[test]
    fn invalid_value_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nbind = 12\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.bind"), "{err}");
        std::fs::write(&path, "[server]\nbind = \"nonsense\"\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.bind"), "{err}");
        std::fs::write(&path, "[mail]\nmode = \"pigeon\"\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.mode"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nbind = \"127.0.0.1:9000\"\n").unwrap();
        let flags = Overrides {
            bind: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let config = Config::load(Some(&path), &flags).unwrap();
        assert_eq!(config.server.bind, "127.0.0.1:9100");
    }
}
