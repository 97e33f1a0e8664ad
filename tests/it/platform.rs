//! What every deployment relies on: health, the API document, errors that are never raw,
//! embedded assets, and the command line.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestApp, TlsApp};

on_both_backends!(
    health_and_readiness_answer,
    errors_are_envelopes_for_the_api_and_pages_for_people
);

async fn health_and_readiness_answer(app: &TestApp) {
    let res = reqwest::get(app.at("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(
        reqwest::get(app.at("/readyz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ready"
    );
}

async fn errors_are_envelopes_for_the_api_and_pages_for_people(app: &TestApp) {
    let (status, body) = app.get("/api/v1/no-such-thing", None).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
    assert_eq!(body["message"], "页面或资源不存在");

    let res = reqwest::get(app.at("/no-such-page")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("页面不存在"));

    let huge = "x".repeat(2 * 1024 * 1024);
    let (status, body) = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": huge, "email": "a@b.c", "password": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some(413))
    );

    let res = reqwest::Client::new()
        .post(app.at("/api/v1/auth/login"))
        .body("username=a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 415);

    // A known path asked with a method it does not take is 405 with `Allow`, an unknown one 404.
    for (method, path, allow) in [
        ("DELETE", "/api/v1/auth/login", "POST"),
        ("PUT", "/api/v1/generation", "GET, POST"),
        ("TRACE", "/api/v1/generation/x", "GET"),
        ("PUT", "/api/v1/library/results/delete", "POST"),
        ("POST", "/api/v1/library/folders/x", "PATCH, DELETE"),
        ("POST", "/api/v1/gallery/works/x/like", "PUT, DELETE"),
        ("PUT", "/api/v1/admin/mail", "GET"),
    ] {
        let res = reqwest::Client::new()
            .request(method.parse().unwrap(), app.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 405);
    }
    let res = reqwest::Client::new()
        .get(app.at("/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Every body is an object: serde would read a struct from an array of its fields in order.
    for body in [
        json!(["alice", "secret"]),
        json!("alice"),
        json!(null),
        json!(7),
    ] {
        let (status, envelope) = app.post("/api/v1/auth/login", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {envelope}");
        assert_eq!(envelope["code"], 400);
        assert_eq!(envelope["message"], "请求体必须是 JSON 对象", "{body}");
    }
    app.register("arrays").await;
    let (status, envelope) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!(["arrays", crate::support::PASSWORD]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{envelope}");
    assert!(envelope
        .get("data")
        .is_none_or(|d| d.get("token").is_none()));
}

/// Pages answer an unknown method as the API does: 405 with `Allow` from the routes at the
/// path (a page with a form takes GET and POST), and 404 for an unknown path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_405_with_allow() {
    let app = TestApp::start(crate::support::Backend::Sqlite)
        .await
        .unwrap();
    // OPTIONS passes the CSRF check, so it reaches routing without a session.
    for (path, allow) in [
        ("/login", "GET, POST"),
        ("/gallery", "GET"),
        ("/static/app.css", "GET"),
    ] {
        let res = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, app.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(res.headers()["allow"], allow, "{path}");
    }
    // A signed-in page client's DELETE carries its CSRF token, as htmx would send it.
    app.register("pia").await;
    let (client, csrf) = app.signed_in("pia").await;
    let res = client
        .delete(app.at("/login"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, POST");
    let html = res.text().await.unwrap();
    assert!(html.contains("<html"), "a page, not JSON: {html}");
    let res = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.at("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("allow").is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_account_endpoint_and_has_a_docs_page() {
    let app = TestApp::start(crate::support::Backend::Sqlite)
        .await
        .unwrap();
    let spec: serde_json::Value = reqwest::get(app.at("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/forgot-password", "post"),
        ("/api/v1/auth/reset-password", "post"),
        ("/api/v1/user/reset-password", "post"),
        ("/api/v1/user/reset-email/code", "post"),
        ("/api/v1/user/reset-email", "post"),
        ("/api/v1/user/me", "get"),
        ("/api/v1/admin/users", "get"),
        ("/api/v1/generation", "post"),
        ("/api/v1/generation", "get"),
        ("/api/v1/generation/{task_id}", "get"),
        ("/api/v1/generation/{task_id}/cancel", "post"),
        ("/api/v1/generation/{task_id}/retry", "post"),
        ("/api/v1/models", "get"),
        ("/api/v1/upload", "post"),
        ("/api/v1/files/{kind}/{uuid}", "get"),
        ("/api/v1/library/results", "get"),
        ("/api/v1/library/results/{id}", "get"),
        ("/api/v1/library/results/{id}", "delete"),
        ("/api/v1/library/results/delete", "post"),
        ("/api/v1/library/results/move", "post"),
        ("/api/v1/library/results/{id}/favorite", "put"),
        ("/api/v1/library/results/{id}/tags", "put"),
        ("/api/v1/library/tags", "get"),
        ("/api/v1/library/folders", "get"),
        ("/api/v1/library/folders", "post"),
        ("/api/v1/library/folders/{id}", "patch"),
        ("/api/v1/library/folders/{id}", "delete"),
        ("/api/v1/library/shares", "get"),
        ("/api/v1/library/shares", "post"),
        ("/api/v1/library/shares/{id}", "delete"),
        ("/api/v1/library/export", "get"),
        ("/api/v1/library/import", "post"),
        ("/api/v1/admin/users/{uuid}/ban", "post"),
        ("/api/v1/admin/users/{uuid}/unban", "post"),
        ("/api/v1/admin/users/{uuid}/role", "post"),
        ("/api/v1/admin/users/{uuid}/quota", "post"),
        ("/api/v1/admin/audit", "get"),
        ("/api/v1/admin/moderation/words", "get"),
        ("/api/v1/admin/moderation/words", "post"),
        ("/api/v1/admin/moderation/words/{id}", "delete"),
    ] {
        let op = &spec["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        if let Some(schema) =
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = schema.rsplit('/').next().unwrap();
            assert!(
                spec["components"]["schemas"][name].is_object(),
                "{name} undefined"
            );
        }
        // The documented endpoint exists: it never answers 404.
        let res = reqwest::Client::new()
            .request(
                method.to_uppercase().parse().unwrap(),
                app.at(&path
                    .replace("{uuid}", "x")
                    .replace("{task_id}", "x")
                    .replace("{kind}", "result")
                    .replace("{id}", "x")),
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let html = reqwest::get(app.at("/api/docs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/api/v1/auth/register") && html.contains("/api/v1/user/reset-email"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_with_etag_and_long_cache() {
    let app = TestApp::start(crate::support::Backend::Sqlite)
        .await
        .unwrap();
    let res = reqwest::get(app.at("/static/htmx.min.js")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let etag = res.headers()["etag"].clone();
    assert!(res.text().await.unwrap().contains("htmx"));
    let res = reqwest::Client::new()
        .get(app.at("/static/htmx.min.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        reqwest::get(app.at("/static/../Cargo.toml"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

fn picturedeck(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picturedeck")
}

#[test]
fn cli_manages_users_and_checks_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = picturedeck(&["migrate"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("picturedeck.db").exists());

    let out = picturedeck(
        &[
            "user",
            "create",
            "root",
            "root@example.com",
            "--admin",
            "--password",
            "Admin@1234",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin"));
    let out = picturedeck(
        &[
            "user",
            "create",
            "root",
            "x@example.com",
            "--password",
            "Admin@1234",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("username"));

    let out = picturedeck(
        &["user", "reset-password", "root", "--password", "weak"],
        dir.path(),
    );
    assert!(!out.status.success(), "weak passwords are refused here too");
    let out = picturedeck(
        &["user", "reset-password", "root", "--password", "Other@1234"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = picturedeck(&["user", "ban", "nobody"], dir.path());
    assert!(!out.status.success());

    let config = dir.path().join("pd.toml");
    std::fs::write(&config, "[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef-secret\"\n[mail]\nsmtp_password = \"hunter2\"\n").unwrap();
    let out = picturedeck(
        &["config", "check", "--config", config.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("jwt_secret = \"****\"")
            && !shown.contains("hunter2")
            && !shown.contains("0123456789abcdef")
    );

    std::fs::write(&config, "[server]\nbind = \"not-an-address\"\n").unwrap();
    let out = picturedeck(
        &["config", "check", "--config", config.to_str().unwrap()],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.bind"));
}

#[test]
fn headless_server_starts_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args([
            "--serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !healthz_ok(port) {
        assert!(
            std::time::Instant::now() < deadline,
            "server never answered /healthz"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    #[cfg(unix)]
    {
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "graceful exit, got {status:?}");
    }
    #[cfg(not(unix))]
    {
        child.kill().unwrap();
    }
}

/// One plain HTTP/1.0 request with the standard library, for tests outside a runtime.
fn healthz_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut answer = String::new();
    stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.0 200") | answer.starts_with("HTTP/1.1 200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_pem_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let TlsApp {
        app,
        https,
        client,
        cert,
        key,
    } = TestApp::start_tls(dir.path()).await;
    let res = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        reqwest::get(app.at("/healthz")).await.is_err(),
        "plain HTTP is not served on the TLS port"
    );
    app.stop().await;

    // A key that is not a key stops start-up with a message naming the setting.
    std::fs::write(&key, "not a key").unwrap();
    let out = picturedeck(
        &[
            "--serve",
            "--bind",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.tls_key"));
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pd.toml");
    std::fs::write(
        &config,
        "[server]\nbind = \"127.0.0.1:9001\"\n[log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let check = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
            .args(["config", "check", "--config", config.to_str().unwrap()])
            .args(extra)
            .env("PICTUREDECK__SERVER__BIND", "127.0.0.1:9002")
            .env("PICTUREDECK__MAIL__SMTP_PORT", "2525")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = check(&[]);
    assert!(
        shown.contains("bind = \"127.0.0.1:9002\"")
            && shown.contains("smtp_port = 2525")
            && shown.contains("level = \"warn\""),
        "{shown}"
    );
    assert!(check(&["--bind", "127.0.0.1:9003"]).contains("bind = \"127.0.0.1:9003\""));
    let out = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(["config", "check"])
        .env("PICTUREDECK__DATABASE__POOL_SIZE", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.pool_size"));
}

/// Per-IP limits follow X-Forwarded-For only from a configured proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    async fn attempts(app: &TestApp, client_ip: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(app.at("/api/v1/auth/login"))
            .header("X-Forwarded-For", client_ip)
            .json(&serde_json::json!({"username": "nobody", "password": "Wrong@1234"}))
            .send()
            .await
            .unwrap()
            .status()
    }
    for trusted in [true, false] {
        let app = TestApp::builder(crate::support::Backend::Sqlite)
            .config(move |config| {
                config.limits.login_per_ip_per_minute = 3;
                if trusted {
                    config.server.trusted_proxies =
                        vec![
                            picturedeck::web::proxy::Net::try_from("127.0.0.0/8".to_string())
                                .unwrap(),
                        ];
                }
            })
            .start()
            .await
            .unwrap();
        for _ in 0..3 {
            assert_ne!(
                attempts(&app, "203.0.113.1").await,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
        assert_eq!(
            attempts(&app, "203.0.113.1").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // Another client behind the proxy has its own allowance; without a trusted proxy the
        // header is ignored, so a made-up address does not reset the limit.
        let other = attempts(&app, "203.0.113.2").await;
        assert_eq!(
            other == StatusCode::TOO_MANY_REQUESTS,
            !trusted,
            "trusted: {trusted}"
        );
        app.stop().await;
    }
}
