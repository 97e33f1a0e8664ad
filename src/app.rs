//! The application: shared state, the actix `App` assembled from each area, and the server.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Compress, Next};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpServer};
use anyhow::Context as _;
use rand::RngCore;
use tera::Tera;

use crate::config::{Config, StorageKind};
use crate::db::Db;
use crate::error::AppError;
use crate::generation::providers::Registry;
use crate::mail::Mailer;
use crate::ratelimit::RateLimiter;
use crate::storage::Storage;
use crate::users::password::PasswordGate;
use crate::users::token::TokenKeys;
use crate::web::middleware;
use tokio::sync::Notify;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub mailer: Mailer,
    pub tokens: TokenKeys,
    pub limiter: RateLimiter,
    /// Every Argon2 hash and check goes through this gate (one per core, a bounded queue).
    pub passwords: PasswordGate,
    pub templates: Tera,
    /// Keys mailed-code hashes and signed file URLs; the same secret signs tokens.
    pub secret: Vec<u8>,
    pub storage: Storage,
    pub providers: Registry,
    /// Wakes the generation engine when a task is queued.
    pub wake: Notify,
    /// Task changes for the pages' live streams.
    pub live: crate::generation::live::Live,
    pub imports: crate::library::archive::ImportSlots,
    /// The compiled moderation word lists.
    pub moderation: crate::moderation::service::PromptCheck,
    /// Monitoring: engine slots in use, the CPU reading, the open alerts for the banner.
    pub ops: crate::ops::Ops,
    /// The moderation service every result passes before it is stored.
    pub result_check: crate::moderation::providers::ResultCheck,
    /// Rendered gallery pages for visitors, kept for a moment.
    pub gallery_pages: crate::gallery::cache::PageCache,
    /// The chat service that expands and translates prompts, if configured.
    pub prompt_assistant: Option<crate::prompts::assistant::Assistant>,
}

impl AppState {
    /// Opens the database (migrating it) and loads templates; `mailer` replaces the configured
    /// one (tests use the memory mailer).
    pub fn new(config: Config, mailer: Option<Mailer>) -> anyhow::Result<Self> {
        let data_dir = config.data_dir();
        crate::private_files::create_private_dir(&data_dir)?;
        crate::i18n::check()?;
        let db = Db::connect(&config.database_url(), config.database.pool_size)?;
        let secret = load_secret(&config, &data_dir)?;
        let mailer = match mailer {
            Some(m) => m,
            None => Mailer::from_config(&config.mail, &data_dir)?,
        };
        Ok(AppState {
            storage: storage_from(&config, &data_dir)?,
            providers: Registry::from_config(&config.providers, &config.stats.currency)?,
            wake: Notify::new(),
            live: Default::default(),
            imports: Default::default(),
            gallery_pages: Default::default(),
            prompt_assistant: crate::prompts::assistant::Assistant::from_config(
                &config.prompts.assistant,
            )?,
            moderation: Default::default(),
            ops: crate::ops::Ops::new(&config),
            result_check: crate::moderation::providers::ResultCheck::from_config(
                &config.moderation.provider,
            )?,
            tokens: TokenKeys::new(&secret, config.auth.token_ttl_hours),
            templates: crate::web::render::load_templates()?,
            limiter: RateLimiter::default(),
            passwords: PasswordGate::new(0, config.limits.password_hash_queue),
            mailer,
            db,
            secret,
            config: Arc::new(config),
        })
    }
}

/// The configured object store (the server's, and the backup and restore commands').
pub fn storage_from(config: &Config, data_dir: &Path) -> anyhow::Result<Storage> {
    let st = &config.storage;
    Ok(match st.kind {
        StorageKind::Local => Storage::local(
            st.local_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("objects")),
        ),
        StorageKind::S3 => Storage::S3(crate::storage::s3::S3 {
            http: crate::generation::providers::http::client(std::time::Duration::from_secs(120))?,
            endpoint: st.s3_endpoint.trim_end_matches('/').to_string(),
            bucket: st.s3_bucket.clone(),
            region: st.s3_region.clone(),
            access_key: st.s3_access_key.clone(),
            secret_key: st.secret_key(),
        }),
    })
}

/// The configured secret, or one generated once and kept in the data dir.
fn load_secret(config: &Config, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if !config.auth.jwt_secret.is_empty() {
        return Ok(config.auth.jwt_secret.as_bytes().to_vec());
    }
    let path = data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 {
            return Ok(existing.as_bytes().to_vec());
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::private_files::write_private(&path, hex.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(hex.into_bytes())
}

/// Every route of every area.
pub fn routes(cfg: &mut web::ServiceConfig, config: &Config) {
    crate::web::health::configure(cfg);
    crate::web::assets::configure(cfg);
    crate::web::openapi::configure(cfg);
    crate::users::api::configure(cfg);
    crate::users::pages::configure(cfg);
    crate::catalogue::api::configure(cfg);
    crate::catalogue::pages::configure(cfg);
    crate::generation::api::configure(cfg, config.limits.upload_bytes);
    crate::generation::pages::configure(cfg, config.limits.upload_bytes);
    crate::library::api::configure(cfg);
    crate::gallery::api::configure(cfg);
    crate::gallery::pages::configure(cfg);
    crate::library::pages::configure(cfg);
    crate::prompts::api::configure(cfg);
    crate::prompts::pages::configure(cfg);
    crate::groups::api::configure(cfg);
    crate::groups::pages::configure(cfg);
    // Before the admin area's `/api/v1/admin` scope, which would take these paths otherwise.
    crate::mail::api::configure(cfg);
    crate::mail::pages::configure(cfg);
    crate::ops::api::configure(cfg);
    crate::ops::pages::configure(cfg);
    crate::stats::api::configure(cfg);
    crate::stats::pages::configure(cfg);
    crate::moderation::api::configure(cfg);
    crate::moderation::pages::configure(cfg);
    crate::admin::api::configure(cfg);
    crate::admin::pages::configure(cfg);
    // Last: what no route above took.
    cfg.service(web::resource("/{any:.*}").wrap(from_fn(no_route)));
}

/// A request no route took. Every route carries its method as a guard of its resource, and
/// actix's method guards note on the request each method they were tried with; a resource
/// without routes, like this catch-all, then answers 405 with those methods in `Allow` (RFC
/// 9110), or a bare 405 when no route's path matched. The first is kept as a 405 with the
/// methods the page or API path takes (`middleware::AllowedMethods`), the second is a 404.
async fn no_route(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let err = match allow {
        Some(methods) => {
            req.extensions_mut()
                .insert(middleware::AllowedMethods(methods));
            AppError::from_status(StatusCode::METHOD_NOT_ALLOWED)
        }
        None => AppError::not_found(),
    };
    Ok(ServiceResponse::from_err(err, req))
}

/// Nothing reaches this: the catch-all resource of [`routes`] takes every path.
async fn no_service() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::not_found())
}

fn json_error(err: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let status = actix_web::http::StatusCode::PAYLOAD_TOO_LARGE;
    match err {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            AppError::client(status, 413, "err.too_large")
        }
        E::ContentType => AppError::client(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            "err.unsupported_media",
        ),
        _ => AppError::bad_request("err.bad_json"),
    }
    .into()
}

fn form_error(err: actix_web::error::UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    match err {
        E::Overflow { .. } => AppError::client(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            413,
            "err.too_large",
        ),
        _ => AppError::bad_request("err.bad_request"),
    }
    .into()
}

pub fn bind(addr: SocketAddr, free_port_fallback: bool) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if free_port_fallback => {
            tracing::info!("port {} is taken ({e}); using a free one", addr.port());
            TcpListener::bind(SocketAddr::new(addr.ip(), 0)).context("no free port")
        }
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

/// Builds the HTTP(S) server on `listener`. It does not listen for signals itself: actix would
/// install its handlers only when the server is first polled, after it already answers, so a
/// SIGTERM in between killed the process; `main` listens from before the bind instead.
pub fn server(
    state: Arc<AppState>,
    listener: TcpListener,
) -> anyhow::Result<actix_web::dev::Server> {
    let config = state.config.clone();
    let data = web::Data::from(state);
    let limit = config.server.body_limit;
    let app_config = config.clone();
    let mut http = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(json_error),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(limit)
                    .error_handler(form_error),
            )
            .app_data(web::PayloadConfig::default().limit(limit))
            .wrap(from_fn(middleware::csrf))
            .wrap(from_fn(middleware::render_errors))
            .wrap(from_fn(middleware::security_headers))
            .wrap(from_fn(middleware::request_log))
            .wrap(Compress::default())
            .configure(|cfg| routes(cfg, &app_config))
            .default_service(web::to(no_service))
    })
    .shutdown_timeout(10)
    .disable_signals();
    if config.server.workers > 0 {
        http = http.workers(config.server.workers);
    }
    let server = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => http.listen_rustls_0_23(listener, tls_config(cert, key)?)?,
        _ => http.listen(listener)?,
    };
    Ok(server.run())
}

fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("server.tls_cert: cannot read {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "server.tls_cert: {} is not a PEM certificate chain",
                cert.display()
            )
        })?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("server.tls_key: {} is not a PEM private key", key.display()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("server.tls_cert and server.tls_key do not form a valid pair")
}
