//! README claims that had no test of their own, each proven end to end: the password-recovery
//! page, the CLI's ban on a live account, readiness without a database, the desktop mode, JSON
//! logs and Ctrl-C on the real binary, `api_key_env` and `requests_per_minute` against a vendor,
//! and the library's page actions (favourite, tags, folders, sharing, reference upload).

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::fakes::FakeVendor;
use crate::support::{email, page_client, Backend, TestApp, PASSWORD};

on_both_backends!(
    the_forgot_password_page_mails_a_code_and_sets_a_new_password,
    the_cli_bans_and_unbans_a_live_account,
);

async fn the_forgot_password_page_mails_a_code_and_sets_a_new_password(app: &TestApp) {
    app.register("pat").await;
    let client = page_client();
    let (csrf, html) = app.open(&client, "/forgot-password").await;
    assert!(html.contains("id=\"forgot-form\"") && html.contains("id=\"send-code\""));

    let res = app
        .post_form(
            &client,
            &csrf,
            "/forgot-password/code",
            &[("email", "PAT@example.com")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("验证码已发送"), "{html}");
    let code = app.last_code(&email("pat")).await;

    let reset = |code: String, confirm: &'static str| {
        let (client, csrf) = (&client, &csrf);
        async move {
            let form = [
                ("email", "pat@example.com"),
                ("verification_code", code.as_str()),
                ("new_password", "Newer@5678"),
                ("new_password_confirm", confirm),
            ];
            app.post_form(client, csrf, "/forgot-password", &form).await
        }
    };
    // A mistyped confirmation and a wrong code come back as errors in the form.
    let res = reset(code.clone(), "Other@5678").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("hx-redirect").is_none());
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("new_password_confirm-error"));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let res = reset(wrong.into(), "Newer@5678").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("verification_code-error"), "{html}");

    let res = reset(code, "Newer@5678").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-redirect"], "/login?reset=1");
    assert_eq!(
        app.login_with("pat", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login_with("pat", "Newer@5678").await.0, StatusCode::OK);
}

/// Runs the real binary on `app`'s data folder and database, as an operator would beside it.
async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_picturedeck"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(app.state.config.data_dir())
        .arg("--database-url")
        .arg(&app.state.config.database.url)
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("run picturedeck"))
        .await
        .unwrap()
}

async fn the_cli_bans_and_unbans_a_live_account(app: &TestApp) {
    let token = app.user("rowdy").await;
    assert_eq!(
        app.get("/api/v1/user/me", Some(&token)).await.0,
        StatusCode::OK
    );
    let out = cli(app, &["user", "ban", "rowdy", "--reason", "flooding"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rowdy is banned"));

    // The running server sees the other process's ban at once, and tells the reason.
    let (status, body) = app.get("/api/v1/user/me", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["data"]["reason"], "flooding");
    let (status, body) = app.login_with("rowdy", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    assert_eq!(body["message"], "账号已被封禁，原因：flooding");

    let out = cli(app, &["user", "unban", "rowdy"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.login_with("rowdy", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_at_once_when_the_database_is_gone() {
    use diesel::connection::SimpleConnection as _;
    use diesel::Connection as _;
    // A database of its own, so dropping it takes nothing else away.
    let Some(probe) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    probe.stop().await;
    let name = format!("pd_ready_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(crate::support::PG_ADMIN_URL).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let app = TestApp::builder(Backend::Sqlite)
        .config(move |c| c.database.url = url)
        .start()
        .await
        .unwrap();
    let ready = |app: &TestApp| {
        let url = app.at("/readyz");
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(ready(&app).await, StatusCode::OK);

    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
    // Asked again and again: once the pool's idle connection is found broken, the next ones
    // must not wait out the pool's connection timeout either.
    for _ in 0..3 {
        let asked = Instant::now();
        assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "answered in {:?}, not after the pool's timeout",
            asked.elapsed()
        );
    }
    assert_eq!(
        reqwest::get(app.at("/healthz")).await.unwrap().status(),
        StatusCode::OK,
        "alive all the same"
    );
    app.stop().await;
}

/// The real binary, its address read from the line it prints.
struct Running {
    child: Child,
    url: String,
}

impl Running {
    fn start(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_picturedeck"));
        command
            .args(args)
            .arg("--data-dir")
            .arg(dir)
            .env_remove("RUST_LOG")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("BROWSER")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("picturedeck starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(at) = line.find("http") {
                    let url = line[at..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("picturedeck printed its address");
        Running { child, url }
    }

    fn port(&self) -> u16 {
        reqwest::Url::parse(&self.url).unwrap().port().unwrap()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Stops it with `signal` and returns its exit status and everything it logged.
    fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        self.signal(signal);
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        (status, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn desktop_mode_opens_the_browser_and_moves_off_a_taken_port() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    // A stand-in browser that writes down what it was asked to open.
    let opened = dir.path().join("opened.txt");
    let browser = dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bind = format!("127.0.0.1:{taken_port}");

    let app = Running::start(
        &["--bind", &bind],
        dir.path(),
        &[("BROWSER", browser.to_str().unwrap())],
    );
    assert_ne!(app.port(), taken_port, "moved to a free port: {}", app.url);
    assert!(healthz(app.port()), "serves on {}", app.url);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !opened.exists() {
        assert!(Instant::now() < deadline, "the browser was never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap().trim(),
        app.url,
        "the browser opened the address it serves"
    );
    let (status, _) = app.stop("TERM");
    assert!(status.success(), "{status:?}");

    // --no-browser: the same start, and no browser.
    std::fs::remove_file(&opened).unwrap();
    let app = Running::start(
        &["--bind", &bind, "--no-browser"],
        dir.path(),
        &[("BROWSER", browser.to_str().unwrap())],
    );
    assert!(healthz(app.port()));
    std::thread::sleep(Duration::from_secs(1));
    assert!(!opened.exists(), "--no-browser opened a browser");
    // A server (--serve) is given exactly its address: a taken one stops it with a message.
    drop(app);
    let out = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(["--serve", "--bind", &bind, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
    drop(taken);
}

fn healthz(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            Ok(text)
        });
        if answer.is_ok_and(|t| t.starts_with("HTTP/1.0 200") || t.starts_with("HTTP/1.1 200")) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn json_logs_and_a_graceful_stop_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pd.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\nlevel = \"info\"\n").unwrap();
    let app = Running::start(
        &[
            "--serve",
            "--bind",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(healthz(app.port()));
    let (status, logged) = app.stop("INT");
    assert!(
        status.success(),
        "Ctrl-C stops it cleanly: {status:?}\n{logged}"
    );
    let lines: Vec<Value> = logged
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object()),
        "{logged}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "listening" && l["fields"]["url"].is_string()),
        "{logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_key_comes_from_the_variable_api_key_env_names() {
    let fake = FakeVendor::openai().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pd.toml");
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"{}\"\n\
             api_key_env = \"PD_TEST_VENDOR_KEY\"\ntimeout_seconds = 5\n\
             [[providers.models]]\nname = \"gpt-image-1\"\nkinds = [\"t2i\"]\n",
            fake.url
        ),
    )
    .unwrap();
    let args = [
        "--serve",
        "--bind",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ];

    // Without the variable the server refuses to start, naming the setting.
    let out = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("PD_TEST_VENDOR_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("api_key_env"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let key = "sk-from-the-environment-42";
    let app = Running::start(&args, dir.path(), &[("PD_TEST_VENDOR_KEY", key)]);
    let base = app.url.trim_end_matches('/').to_string();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut req = http.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let post = reqwest::Method::POST;
    let registered = call(
        post.clone(),
        "/api/v1/auth/register",
        None,
        Some(json!({"username": "keyed", "email": "keyed@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(registered["data"]["username"], "keyed", "{registered}");
    let login = call(
        post.clone(),
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "keyed", "password": PASSWORD})),
    )
    .await;
    let token = login["data"]["token"].as_str().unwrap().to_string();
    let submitted = call(
        post,
        "/api/v1/generation",
        Some(&token),
        Some(json!({"type": "t2i", "prompt": "a key", "model": "openai/gpt-image-1"})),
    )
    .await;
    let id = submitted["data"]["task_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let path = format!("/api/v1/generation/{id}");
        let task = call(reqwest::Method::GET, &path, Some(&token), None).await;
        if task["data"]["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {task}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {key}").as_str())
    );
    let (status, logged) = app.stop("TERM");
    assert!(status.success());
    assert!(!logged.contains(key), "the key is never logged");
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_minute_spaces_the_calls_to_the_vendor() {
    let fake = FakeVendor::openai().await;
    let base = fake.url.clone();
    let app = TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.providers.push(ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                concurrency: 4,
                base_url: Some(base),
                api_key: Some("sk-paced".into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 5,
                // One call every 500 ms.
                requests_per_minute: 120,
                models: vec![ModelConfig {
                    name: "gpt-image-1".into(),
                    label: None,
                    kinds: vec![Kind::T2i],
                    ..ModelConfig::default()
                }],
            });
        })
        .start()
        .await
        .unwrap();
    let token = app.user("paced").await;
    let submitted = chrono::Utc::now().timestamp_millis();
    for i in 0..4 {
        let (status, body) = app
            .post(
                "/api/v1/generation",
                Some(&token),
                json!({"type": "t2i", "prompt": format!("task {i}"), "model": "openai/gpt-image-1"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let times = loop {
        let times = app
            .state
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use picturedeck::db::schema::api_calls;
                Ok(api_calls::table
                    .filter(api_calls::outcome.eq("ok"))
                    .order(api_calls::created_at)
                    .select((api_calls::created_at, api_calls::latency_ms))
                    .load::<(chrono::NaiveDateTime, i64)>(conn)?)
            })
            .await
            .unwrap();
        if times.len() == 4 {
            break times;
        }
        assert!(Instant::now() < deadline, "{} of 4 calls made", times.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // A row's time is its call's end; its start is that minus its latency. The pacer gives
    // the k-th call a slot no earlier than k × 500 ms after the first could start (the
    // submit), and a call never starts before its slot (it may start later on a busy
    // machine). Unpaced, four slots would let all four start at once.
    let starts: Vec<i64> = times
        .iter()
        .map(|(at, latency)| at.and_utc().timestamp_millis() - latency - submitted)
        .collect();
    for (k, start) in starts.iter().enumerate() {
        assert!(
            *start >= k as i64 * 500 - 2,
            "call {k} started {start} ms after the submit, before its slot: {starts:?}"
        );
    }
    assert_eq!(fake.seen().len(), 4);
    app.stop().await;
    fake.stop().await;
}

on_both_backends!(the_library_pages_favourite_tag_organise_share_and_upload);

/// The page actions as htmx sends them (CSRF header, session cookie), each checked through
/// the API afterwards: favourite, tags, folder create / rename (a Chinese name in HX-Prompt) /
/// move, a folder shared and revoked, and a reference uploaded from the studio page.
async fn the_library_pages_favourite_tag_organise_share_and_upload(app: &TestApp) {
    let token = app.user("organiser").await;
    let (_, answer) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "t2i", "prompt": "湖边", "params": {"size": "64x64"}}),
        )
        .await;
    let task = answer["data"]["task_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app
        .get(&format!("/api/v1/generation/{task}"), Some(&token))
        .await
        .1["data"]["status"]
        != "completed"
    {
        assert!(Instant::now() < deadline, "the task never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = || {
        let path = format!("/api/v1/library/results/{task}");
        let token = token.clone();
        async move { app.get(&path, Some(&token)).await.1["data"].clone() }
    };
    let (client, csrf) = app.signed_in("organiser").await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let (client, csrf) = (&client, &csrf);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form(client, csrf, &path, &form).await;
            assert!(res.status().is_success(), "{path}: {}", res.status());
            res.text().await.unwrap()
        }
    };

    post(format!("/library/{task}/favorite"), vec![]).await;
    assert_eq!(result().await["favorite"], true, "favourited from the page");
    post(format!("/library/{task}/favorite"), vec![]).await;
    assert_eq!(result().await["favorite"], false, "and back");
    post(
        format!("/library/{task}/tags"),
        vec![("tags", "风景, 湖".into())],
    )
    .await;
    let tags = result().await["tags"].clone();
    assert_eq!(
        tags,
        json!(["湖", "风景"]),
        "saved, in sorted order: {tags}"
    );

    post(
        "/library/folders".into(),
        vec![("name", "旅行".into()), ("parent", String::new())],
    )
    .await;
    post(
        "/library/folders".into(),
        vec![("name", "2026".into()), ("parent", String::new())],
    )
    .await;
    let tree =
        || async { app.get("/api/v1/library/folders", Some(&token)).await.1["data"].clone() };
    let id_of = |tree: &Value, name: &str| {
        tree.as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["id"].as_str().unwrap().to_string())
    };
    let (travel, year) = {
        let t = tree().await;
        (id_of(&t, "旅行").unwrap(), id_of(&t, "2026").unwrap())
    };
    // Rename as htmx sends a prompt's answer: URI-encoded in HX-Prompt.
    let res = client
        .post(app.at(&format!("/library/folders/{year}/rename")))
        .header("X-CSRF-Token", &csrf)
        .header("HX-Request", "true")
        .header("HX-Prompt", "%E4%BA%8C%E3%80%87%E4%BA%8C%E5%85%AD")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    post(
        format!("/library/folders/{year}/move"),
        vec![("parent", travel.clone())],
    )
    .await;
    let t = tree().await;
    assert!(
        id_of(&t, "2026").is_none() && id_of(&t, "二〇二六").is_none(),
        "moved: {t}"
    );
    let travel_node = t
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "旅行")
        .unwrap();
    assert_eq!(travel_node["children"][0]["name"], "二〇二六", "{t}");
    assert_eq!(travel_node["children"][0]["id"], year.as_str());

    // Share the folder from the page: the link opens for anyone, until it is revoked.
    post(
        "/library/move".into(),
        vec![("ids", task.clone()), ("folder", year.clone())],
    )
    .await;
    let fragment = post(
        format!("/library/folders/{year}/share"),
        vec![("expires", String::new()), ("password", String::new())],
    )
    .await;
    let link = fragment
        .split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect(&fragment)
        .replace("&#x2F;", "/");
    let share_id = fragment
        .split("/library/shares/")
        .nth(1)
        .and_then(|v| v.split('/').next())
        .expect(&fragment)
        .to_string();
    let opened = reqwest::get(&link).await.unwrap();
    assert_eq!(opened.status(), StatusCode::OK, "{link}");
    post(format!("/library/shares/{share_id}/revoke"), vec![]).await;
    let gone = reqwest::get(&link).await.unwrap().status();
    assert!(
        gone == StatusCode::NOT_FOUND || gone == StatusCode::GONE,
        "revoked link answered {gone}"
    );

    // A reference uploaded from the studio page belongs to this user and feeds an i2i task.
    let res = client
        .post(app.at("/generate/upload"))
        .header("X-CSRF-Token", &csrf)
        .header("HX-Request", "true")
        .body(crate::support::fakes::sample_png())
        .send()
        .await
        .unwrap();
    let up: Value = res.json().await.unwrap();
    let file_id = up["data"]["file_id"]
        .as_str()
        .expect("an upload id")
        .to_string();
    let (status, body) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "i2i", "prompt": "水彩", "images": [file_id]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_timeline_loads_more_as_a_person_scrolls() {
    use crate::support::webdriver::{chromedriver, Browser};
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let token = app.user("scroller").await;
    app.sql("UPDATE users SET daily_quota = NULL WHERE username = 'scroller'")
        .await;
    // 48 results: more than one page of 40.
    for i in 0..12 {
        let (status, body) = app
            .post(
                "/api/v1/generation",
                Some(&token),
                json!({"type": "t2i", "prompt": format!("第 {i} 张"), "params": {"size": "64x64", "n": 4}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, page) = app
            .get("/api/v1/library/results?status=completed", Some(&token))
            .await;
        let done = page["data"]["results"].as_array().map_or(0, Vec::len);
        if done == 40 && page["data"]["next"].is_string() {
            let (_, rest) = app
                .get(
                    &format!(
                        "/api/v1/library/results?status=completed&before={}",
                        page["data"]["next"].as_str().unwrap()
                    ),
                    Some(&token),
                )
                .await;
            if rest["data"]["results"].as_array().map_or(0, Vec::len) == 8 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the 48 results never completed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let b = Browser::start(&driver).await;
    b.sign_in(&app, "scroller").await;
    b.wait_for_text("#welcome", "scroller").await;
    b.goto(&app.at("/library?view=timeline")).await;
    b.wait_for_count(".result-card", 40).await;
    assert_eq!(b.count("#results.timeline").await, 1, "the timeline view");
    assert!(
        b.count(".day-head").await >= 1,
        "results grouped under their day"
    );
    // Scrolling to the end reveals the "load more" marker, which fetches the next page.
    b.script("window.scrollTo(0, document.body.scrollHeight); return null;")
        .await;
    b.wait_for_count(".result-card", 48).await;
    assert_eq!(b.count(".load-more").await, 0, "nothing more to load");
    let days: Vec<String> = serde_json::from_value(
        b.script("return [...document.querySelectorAll('.day-head')].map(h => h.textContent);")
            .await,
    )
    .unwrap();
    let mut unique = days.clone();
    unique.dedup();
    assert_eq!(
        days, unique,
        "a day is headed once, not again on every page"
    );
    b.quit().await;
    app.stop().await;
}
