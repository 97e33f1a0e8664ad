//! The test harness: a real PictureDeck on a loopback port over a fresh SQLite file or a fresh
//! PostgreSQL schema, a memory mailer, and small helpers that read like the seed.

pub mod chat;
pub mod fakes;
pub mod loopback;
pub mod smtp;
pub mod vendors;
pub mod webdriver;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use picturedeck::app::{self, AppState};
use picturedeck::config::Config;
use picturedeck::mail::{Mailer, OutgoingMail};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const PASSWORD: &str = "User@1234";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(&TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::support::TestApp::start($crate::support::Backend::Sqlite).await.expect("app");
                    super::$name(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::start($crate::support::Backend::Postgres).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

/// Each named `async fn(Backend)` once on SQLite and once on PostgreSQL (skipped without it).
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// `on_both_backends!` with a configuration change, e.g. `on_both_backends_with!(super::open; a, b)`
/// where `fn open(c: &mut Config)` (the path is resolved inside each test's module).
#[macro_export]
macro_rules! on_both_backends_with {
    ($tweak:path; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::support::TestApp::builder($crate::support::Backend::Sqlite)
                        .config($tweak).start().await.expect("app");
                    super::$name(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::builder($crate::support::Backend::Postgres)
                        .config($tweak).start().await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

pub struct TestApp {
    pub url: String,
    pub state: Arc<AppState>,
    mails: Option<Arc<Mutex<Vec<OutgoingMail>>>>,
    handle: actix_web::dev::ServerHandle,
    engine: Option<tokio::task::JoinHandle<()>>,
    mail_worker: tokio::task::JoinHandle<()>,
    pg_schema: Option<String>,
    _dir: tempfile::TempDir,
}

/// Whether this run is CI: any non-empty `CI` (CI systems set `true`, `1` or `yes`). Under CI a
/// missing service fails the test instead of skipping it.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Reports that the running test skips for `reason`, as one `SKIPPED: <test>: <reason>` line.
/// Written to the process's stderr directly, past the harness's capture, so a passing test's
/// skip still shows and `.ci/run` can count them.
pub fn skipped(reason: &str) {
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {test}: {reason}");
}

/// Whether PostgreSQL answers; under CI an absent server fails the run instead.
fn postgres_available() -> bool {
    match PgConnection::establish(PG_ADMIN_URL) {
        Ok(_) => true,
        Err(e) if under_ci() => {
            panic!("PostgreSQL at {PG_ADMIN_URL} is required under CI: {e}")
        }
        Err(e) => {
            skipped(&format!(
                "PostgreSQL at {PG_ADMIN_URL} is unreachable ({e})"
            ));
            false
        }
    }
}

type ConfigTweak = Box<dyn FnOnce(&mut Config)>;

pub struct TestAppBuilder {
    backend: Backend,
    memory_mail: bool,
    tweak: Vec<ConfigTweak>,
}

impl TestAppBuilder {
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweak.push(Box::new(f));
        self
    }

    /// Use the configured mailer (e.g. SMTP) instead of the memory one.
    pub fn real_mailer(mut self) -> Self {
        self.memory_mail = false;
        self
    }

    pub async fn start(self) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut pg_schema = None;
        let database_url = match self.backend {
            Backend::Sqlite => format!("sqlite:{}", dir.path().join("test.db").display()),
            Backend::Postgres => {
                if !postgres_available() {
                    return None;
                }
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(PG_ADMIN_URL).expect("pg");
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create schema");
                pg_schema = Some(schema.clone());
                format!("{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
            }
        };
        let mut config = Config {
            data_dir: Some(dir.path().to_path_buf()),
            ..Config::default()
        };
        config.database.url = database_url;
        config.database.pool_size = 4;
        config.server.workers = 2;
        // Tests register many accounts from one address; tests/it/hostile_auth.rs checks the
        // limit itself with a small one.
        config.limits.registrations_per_ip_per_hour = 10_000;
        for f in self.tweak {
            f(&mut config);
        }
        let (mailer, mails) = if self.memory_mail {
            let (m, sent) = Mailer::memory();
            (Some(m), Some(sent))
        } else {
            (None, None)
        };
        let state = Arc::new(
            tokio::task::spawn_blocking(move || AppState::new(config, mailer))
                .await
                .expect("join")
                .expect("app state"),
        );
        state.storage.prepare().await.expect("storage");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let engine = Some(tokio::spawn(picturedeck::generation::engine::run(
            state.clone(),
        )));
        let mail_worker = tokio::spawn(picturedeck::mail::worker::run(state.clone()));
        let server = app::server(state.clone(), listener).expect("server");
        let handle = server.handle();
        tokio::spawn(server);
        Some(TestApp {
            url,
            state,
            mails,
            handle,
            engine,
            mail_worker,
            pg_schema,
            _dir: dir,
        })
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            memory_mail: true,
            tweak: Vec::new(),
        }
    }

    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::builder(backend).start().await
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// POSTs JSON (optionally with a bearer token); returns the HTTP status and the envelope.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().post(self.at(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        (status, res.json().await.expect("JSON envelope"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().get(self.at(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        (status, res.json().await.expect("JSON envelope"))
    }

    /// Registers `name` with `name@example.com` and the shared test password.
    pub async fn register(&self, name: &str) {
        let (status, body) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": name, "email": email(name), "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn login_with(&self, name: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": name, "password": password}),
        )
        .await
    }

    /// Logs `name` in through the API with the shared test password (a new session each
    /// time); returns the token.
    pub async fn token(&self, name: &str) -> String {
        let (status, body) = self.login_with(name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["token"].as_str().expect("token").to_string()
    }

    /// Registers and logs in; returns the token.
    pub async fn user(&self, name: &str) -> String {
        self.register(name).await;
        self.token(name).await
    }

    /// Waits (up to 2 minutes, video included) until every task in `ids` is completed.
    pub async fn wait_completed(&self, token: &str, ids: &[String]) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        for id in ids {
            loop {
                let (_, body) = self
                    .get(&format!("/api/v1/generation/{id}"), Some(token))
                    .await;
                if body["data"]["status"] == "completed" {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{body}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }

    /// The mails the memory mailer got, once the outbox worker has sent every queued one.
    pub async fn mails(&self) -> Vec<OutgoingMail> {
        self.outbox_settled().await;
        self.mails
            .as_ref()
            .expect("memory mailer")
            .lock()
            .expect("lock")
            .clone()
    }

    /// Waits (up to 20 s) until no mail is waiting or being sent.
    pub async fn outbox_settled(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let pending = picturedeck::mail::service::pending(&self.state)
                .await
                .expect("outbox");
            if pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{pending} mails still queued"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The 6-digit code of the newest mail to `to`.
    pub async fn last_code(&self, to: &str) -> String {
        let mail = self
            .mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail to {to}"));
        code_in(&mail.body).expect("a code in the mail")
    }

    /// Bans or reinstates user `name`.
    pub async fn set_status(&self, name: &str, status: picturedeck::users::model::Status) {
        let user = picturedeck::users::service::find_by_username(&self.state, name)
            .await
            .unwrap();
        picturedeck::users::service::set_status(&self.state, &user, status, None)
            .await
            .unwrap();
    }

    /// The backend this app runs on.
    pub fn backend(&self) -> Backend {
        if self.state.db.backend() == picturedeck::db::Backend::Postgres {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Runs SQL against the app's database (to age a code, say).
    pub async fn sql(&self, sql: &'static str) {
        self.state
            .db
            .run(move |conn| {
                conn.batch_execute(sql)
                    .map_err(|e| picturedeck::error::AppError::internal(e, "test sql"))
            })
            .await
            .expect("sql");
    }
}

pub fn email(name: &str) -> String {
    format!("{}@example.com", name.to_lowercase())
}

/// The first run of exactly six digits.
pub fn code_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let run = &bytes[i..i + 6];
        let before = i
            .checked_sub(1)
            .map(|j| bytes[j].is_ascii_digit())
            .unwrap_or(false);
        let after = bytes.get(i + 6).is_some_and(|b| b.is_ascii_digit());
        (run.iter().all(u8::is_ascii_digit) && !before && !after)
            .then(|| String::from_utf8_lossy(run).into_owned())
    })
}

impl TestApp {
    /// Stops this app's own engine (tests that run engines themselves).
    pub fn stop_engine(&self) {
        if let Some(engine) = &self.engine {
            engine.abort();
        }
    }

    /// Stops the server, which drops its state and so closes the database pool.
    pub async fn stop(&self) {
        if let Some(engine) = &self.engine {
            engine.abort();
        }
        self.mail_worker.abort();
        self.handle.stop(false).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(schema) = &self.pg_schema {
            if let Ok(mut conn) = PgConnection::establish(PG_ADMIN_URL) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

impl TestApp {
    /// An administrator account (made as the CLI makes one); returns its token.
    pub async fn admin(&self, name: &str) -> String {
        let input = picturedeck::users::service::Registration {
            username: name.into(),
            email: email(name),
            password: PASSWORD.into(),
        };
        picturedeck::users::service::create_user(
            &self.state,
            input,
            picturedeck::users::model::Role::Admin,
            None,
        )
        .await
        .expect("admin");
        self.token(name).await
    }
}

/// The token a page gives htmx in `hx-headers` (empty when the page has none).
pub fn csrf_of(html: &str) -> String {
    html.split("\"X-CSRF-Token\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// A browser-like HTTP client for the pages: keeps cookies, does not follow redirects.
pub fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    /// GETs a page as a browser does; returns the page's CSRF token (as htmx sends it) and
    /// the HTML.
    pub async fn open(&self, client: &reqwest::Client, path: &str) -> (String, String) {
        let res = client.get(self.at(path)).send().await.expect("page");
        let html = res.text().await.expect("page body");
        (csrf_of(&html), html)
    }

    /// Posts the login form for `name` with the shared test password; returns the answer
    /// (tests that look at its cookies or headers).
    pub async fn post_login(
        &self,
        client: &reqwest::Client,
        csrf: &str,
        name: &str,
    ) -> reqwest::Response {
        self.post_form(
            client,
            csrf,
            "/login",
            &[("username", name), ("password", PASSWORD)],
        )
        .await
    }

    /// Signs `name` in through the login form, as a person does; returns the CSRF token of
    /// the signed-in pages (it is bound to the account and changes at login).
    pub async fn page_login(&self, client: &reqwest::Client, csrf: &str, name: &str) -> String {
        let res = self.post_login(client, csrf, name).await;
        assert!(res.status().is_success() || res.status().is_redirection());
        self.open(client, "/profile").await.0
    }

    /// A fresh browser-like client signed in as `name` (registered already), with the CSRF
    /// token issued at login.
    pub async fn signed_in(&self, name: &str) -> (reqwest::Client, String) {
        let client = page_client();
        let (csrf, _) = self.open(&client, "/login").await;
        let csrf = self.page_login(&client, &csrf, name).await;
        (client, csrf)
    }

    /// Posts a form as htmx does, with the CSRF header.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        csrf: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.at(path))
            .header("X-CSRF-Token", csrf)
            .header("HX-Request", "true")
            .form(form)
            .send()
            .await
            .expect("form post")
    }
}

impl TestApp {
    /// Any method with an optional JSON body and bearer token; the status and the envelope.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, self.at(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        (status, res.json().await.expect("JSON envelope"))
    }

    /// A small finished result of `kind` made by the built-in engine; its task id.
    pub async fn finished(&self, token: &str, kind: &str, prompt: &str) -> String {
        let body = json!({"type": kind, "prompt": prompt, "params": {"size": "128x96"}});
        let id = self.submit_task(token, body).await;
        self.wait_completed(token, std::slice::from_ref(&id)).await;
        id
    }

    /// Submits a generation through the API and expects it accepted; returns the answer's
    /// `data` (the first task, and `batch` for several).
    pub async fn submit(&self, token: &str, body: Value) -> Value {
        let (status, answer) = self.post("/api/v1/generation", Some(token), body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["code"], 200, "{answer}");
        answer["data"].clone()
    }

    /// Submits a generation; returns its task id.
    pub async fn submit_task(&self, token: &str, body: Value) -> String {
        let data = self.submit(token, body).await;
        data["task_id"].as_str().expect("task_id").to_string()
    }

    /// POSTs `/api/v1/generation/{task}/{action}` (`cancel`, `retry`); returns status and
    /// envelope.
    pub async fn task_action(&self, token: &str, task: &str, action: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/api/v1/generation/{task}/{action}"),
            Some(token),
            json!({}),
        )
        .await
    }

    /// Polls a task (up to 60 s) until it is final: completed, failed, canceled or flagged; returns
    /// the envelope.
    pub async fn wait_final(&self, token: &str, task: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (status, body) = self
                .get(&format!("/api/v1/generation/{task}"), Some(token))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if matches!(
                body["data"]["status"].as_str(),
                Some("completed" | "failed" | "canceled" | "flagged")
            ) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "task never finished: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// An app that serves HTTPS only, with a self-signed certificate for localhost.
pub struct TlsApp {
    pub app: TestApp,
    /// The app's base URL with `https://`.
    pub https: String,
    /// A client that accepts the self-signed certificate.
    pub client: reqwest::Client,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl TestApp {
    /// Starts an app on SQLite serving HTTPS with a certificate and key made in `dir`.
    pub async fn start_tls(dir: &std::path::Path) -> TlsApp {
        let (cert, key) = self_signed_certificate(dir);
        let (c, k) = (cert.clone(), key.clone());
        let app = TestApp::builder(Backend::Sqlite)
            .config(move |config| {
                config.server.tls_cert = Some(c);
                config.server.tls_key = Some(k);
            })
            .start()
            .await
            .expect("app");
        let https = app.url.replace("http://", "https://");
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        TlsApp {
            app,
            https,
            client,
            cert,
            key,
        }
    }
}

/// A self-signed certificate for localhost and its key, as PEM files in `dir`.
pub fn self_signed_certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian's openssl package) makes the test certificate");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}
