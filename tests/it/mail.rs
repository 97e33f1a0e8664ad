//! Mail goes through the durable outbox to a real SMTP server (aiosmtpd on loopback): standard
//! headers, a text and an HTML part in the reader's language, DKIM checked by dkimpy, delivery
//! after the server comes back, 4xx retried, 5xx recorded for admins, STARTTLS and implicit
//! TLS with a private CA, connection reuse, step timeouts, and the `mail test` command.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::smtp::{self, Mode, SmtpServer, TlsFiles};
use crate::support::{code_in, email, Backend, TestApp, PASSWORD};
use picturedeck::config::{Config, MailMode, SmtpTls};

/// Points `c` at the SMTP server on `port`, with fast retries for the tests.
fn smtp_config(c: &mut Config, port: u16, tls: SmtpTls) {
    c.mail.mode = MailMode::Smtp;
    c.mail.from = "PictureDeck <noreply@mail.picturedeck.test>".into();
    c.mail.smtp_host = "127.0.0.1".into();
    c.mail.smtp_port = port;
    c.mail.smtp_tls = tls;
    c.mail.smtp_username = smtp::USER.into();
    c.mail.smtp_password = smtp::PASSWORD.into();
    c.mail.smtp_timeout_seconds = 2;
    c.mail.retry_base_ms = 200;
}

async fn smtp_app(
    backend: Backend,
    port: u16,
    tls: SmtpTls,
    tweak: impl FnOnce(&mut Config) + 'static,
) -> Option<TestApp> {
    TestApp::builder(backend)
        .real_mailer()
        .config(move |c| {
            smtp_config(c, port, tls);
            tweak(c);
        })
        .start()
        .await
}

/// Asks for a password reset code in `lang`; the answer must be 200.
async fn forgot(app: &TestApp, name: &str, lang: &str) {
    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/auth/forgot-password"))
        .header("Accept-Language", lang)
        .json(&json!({"email": email(name)}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The request answers once the outbox row is committed, not after an SMTP conversation.
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The admin view of the outbox, optionally of one status.
async fn outbox(app: &TestApp, admin: &str, status: &str) -> Vec<Value> {
    let (code, body) = app
        .get(&format!("/api/v1/admin/mail?status={status}"), Some(admin))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body["data"]["mails"].as_array().unwrap().clone()
}

/// Waits (up to 20 s) until the outbox row to `to` satisfies `done`.
async fn wait_row(app: &TestApp, admin: &str, to: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = outbox(app, admin, "").await;
        if let Some(row) = rows.iter().find(|r| r["to"] == to && done(r)) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "no such row for {to}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn reset_with(app: &TestApp, name: &str, code: &str) {
    let (status, body) = app
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": email(name), "verification_code": code, "new_password": "Mailed@123"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.login_with(name, "Mailed@123").await.0, StatusCode::OK);
    assert_eq!(
        app.login_with(name, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_mail_is_a_standard_two_part_message_in_the_readers_language() {
    if !smtp::available() {
        return;
    }
    let server = SmtpServer::start(Mode::Plain, None).await;
    let app = smtp_app(Backend::Sqlite, server.port, SmtpTls::None, |_| {})
        .await
        .unwrap();
    app.register("xena").await;
    forgot(&app, "xena", "en-GB,en;q=0.8").await;
    let mail = server.wait_for(1).await.remove(0);
    assert_eq!(mail.meta["rcpt_tos"], json!([email("xena")]));
    assert_eq!(mail.meta["mail_from"], "noreply@mail.picturedeck.test");
    assert_eq!(mail.meta["login"], smtp::USER);

    let parsed = smtp::check(&mail.path, None);
    let h = &parsed["headers"];
    let id = h["message-id"].as_str().unwrap();
    assert!(
        id.starts_with('<') && id.ends_with("@mail.picturedeck.test>"),
        "{id}"
    );
    assert!(h["date"].as_str().is_some_and(|d| d.contains(':')), "{h}");
    assert_eq!(h["mime-version"], "1.0");
    assert_eq!(h["auto-submitted"], "auto-generated");
    assert_eq!(h["subject"], "Your PictureDeck password reset code");
    assert_eq!(parsed["content_type"], "multipart/alternative");
    assert_eq!(parsed["parts"], json!(["text/plain", "text/html"]));
    let text = parsed["text"].as_str().unwrap();
    let html = parsed["html"].as_str().unwrap();
    assert!(
        text.contains("Hello xena,") && !text.contains("验证码"),
        "{text}"
    );
    let code = code_in(text).expect("code in the text part");
    assert!(
        html.contains(&format!(">{code}</p>")) && html.contains("style=\""),
        "{html}"
    );
    assert!(
        !html.contains("<img") && !html.contains("http"),
        "no remote content: {html}"
    );
    reset_with(&app, "xena", &code).await;

    // Chinese is the default language.
    app.register("yan").await;
    forgot(&app, "yan", "").await;
    let mail = server.wait_for(2).await.remove(1);
    let parsed = smtp::check(&mail.path, None);
    assert_eq!(parsed["headers"]["subject"], "PictureDeck 找回密码验证码");
    assert!(parsed["text"].as_str().unwrap().contains("yan，您好"));
    assert_ne!(parsed["headers"]["message-id"], json!(id));
    // Both went over one kept connection.
    assert_eq!(mail.meta["peer"], server.mails()[0].meta["peer"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_signature_verifies_with_dkimpy() {
    if !smtp::available() {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("dkim.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let server = SmtpServer::start(Mode::Plain, None).await;
    let key_file = key.clone();
    let app = smtp_app(Backend::Sqlite, server.port, SmtpTls::None, move |c| {
        c.mail.dkim_selector = "pd2026".into();
        c.mail.dkim_key_file = Some(key_file);
    })
    .await
    .unwrap();
    let dkim = picturedeck::mail::check_dkim(&app.state.config.mail)
        .unwrap()
        .unwrap();
    assert_eq!(dkim.record_name, "pd2026._domainkey.mail.picturedeck.test");
    app.register("dora").await;
    forgot(&app, "dora", "zh").await;
    let mail = server.wait_for(1).await.remove(0);
    assert!(mail.raw.starts_with("DKIM-Signature:") || mail.raw.contains("\nDKIM-Signature:"));
    let parsed = smtp::check(&mail.path, Some(&dkim.record_value));
    assert_eq!(parsed["dkim"], true, "dkimpy rejects the signature");
    // The verifier is not a rubber stamp: a changed body fails.
    let code = code_in(parsed["text"].as_str().unwrap()).unwrap();
    let forged = keys.path().join("forged.eml");
    std::fs::write(
        &forged,
        mail.raw
            .replacen("Content-Type: text/html", "Content-Type: text/htm", 1),
    )
    .unwrap();
    assert_eq!(
        smtp::check(&forged, Some(&dkim.record_value))["dkim"],
        false
    );
    reset_with(&app, "dora", &code).await;

    // `config check` validates the key and prints the record to publish.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(["config", "check", "--data-dir"])
        .arg(keys.path().join("data"))
        .env("PICTUREDECK__MAIL__FROM", "noreply@mail.picturedeck.test")
        .env("PICTUREDECK__MAIL__DKIM_SELECTOR", "pd2026")
        .env("PICTUREDECK__MAIL__DKIM_KEY_FILE", &key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("pd2026._domainkey.mail.picturedeck.test. IN TXT"),
        "{stdout}"
    );
    let published: String = stdout
        .lines()
        .find(|l| l.contains("IN TXT"))
        .unwrap()
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    assert_eq!(published, dkim.record_value);
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(["config", "check", "--data-dir"])
        .arg(keys.path().join("data"))
        .env("PICTUREDECK__MAIL__DKIM_SELECTOR", "pd2026")
        .env("PICTUREDECK__MAIL__DKIM_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mail.dkim_key_file"));
    app.stop().await;
}

async fn server_down_answers_200_and_the_mail_goes_out_later(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let port = smtp::free_port();
    let Some(app) = smtp_app(backend, port, SmtpTls::None, |_| {}).await else {
        return;
    };
    let admin = app.admin("root").await;
    app.register("zoe").await;
    forgot(&app, "zoe", "zh").await;
    let row = wait_row(&app, &admin, &email("zoe"), |r| {
        r["status"] == "queued" && r["attempts"].as_i64() >= Some(2)
    })
    .await;
    assert!(
        row["last_error"].as_str().unwrap().contains("connect"),
        "{row}"
    );
    assert!(row["next_attempt_at"].is_string(), "{row}");

    let server = SmtpServer::start_on(port, Mode::Plain, None).await;
    let mail = server.wait_for(1).await.remove(0);
    let code = code_in(smtp::check(&mail.path, None)["text"].as_str().unwrap()).unwrap();
    wait_row(&app, &admin, &email("zoe"), |r| r["status"] == "sent").await;
    reset_with(&app, "zoe", &code).await;
    app.stop().await;
}

async fn a_4xx_is_retried_and_a_5xx_fails_with_the_reply_for_admins(backend: Backend) {
    if !smtp::available() {
        return;
    }
    let server = SmtpServer::start(Mode::Plain, None).await;
    let Some(app) = smtp_app(backend, server.port, SmtpTls::None, |_| {}).await else {
        return;
    };
    let admin = app.admin("root").await;
    app.register("tempfail_tim").await;
    app.register("reject_rob").await;
    forgot(&app, "tempfail_tim", "zh").await;
    forgot(&app, "reject_rob", "zh").await;

    // Two 451s, then accepted on the third try.
    let sent = wait_row(&app, &admin, &email("tempfail_tim"), |r| {
        r["status"] == "sent"
    })
    .await;
    assert_eq!(sent["attempts"], 3, "{sent}");
    let mails = server.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].meta["rcpt_tos"], json!([email("tempfail_tim")]));

    // 550 at once: failed after one try, with the server's words.
    let failed = wait_row(&app, &admin, &email("reject_rob"), |r| {
        r["status"] == "failed"
    })
    .await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    let reply = failed["last_error"].as_str().unwrap();
    assert!(
        reply.contains("550") && reply.contains("no such mailbox here"),
        "{reply}"
    );
    let listed = outbox(&app, &admin, "failed").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["to"], email("reject_rob"));
    assert!(listed[0].get("payload").is_none());

    // The row no longer holds the code, and the audit log names the failure.
    let uuid = failed["id"].as_str().unwrap().to_string();
    let (payload, actions) = app
        .state
        .db
        .run(move |conn| {
            let row = picturedeck::mail::store::find(conn, &uuid)?.unwrap();
            let user = row.user_id.map(picturedeck::users::model::UserId).unwrap();
            Ok((row.payload, picturedeck::audit::actions_of(conn, user)?))
        })
        .await
        .unwrap();
    assert_eq!(payload, "");
    assert!(actions.iter().any(|a| a == "mail_failed"), "{actions:?}");

    // The admin page shows it; others may not see the outbox.
    let client = crate::support::page_client();
    let (csrf, _) = app.open(&client, "/login").await;
    app.page_login(&client, &csrf, "root").await;
    let (_, html) = app.open(&client, "/admin/mail?status=failed").await;
    assert!(
        html.contains(&email("reject_rob")) && html.contains("no such mailbox here"),
        "{html}"
    );
    let user = app.user("nosy").await;
    let (status, _) = app.get("/api/v1/admin/mail", Some(&user)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

mod both_backends {
    macro_rules! twice {
        ($($name:ident),*) => {$(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::super::$name(crate::support::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::super::$name(crate::support::Backend::Postgres).await;
                }
            }
        )*};
    }
    twice!(
        server_down_answers_200_and_the_mail_goes_out_later,
        a_4xx_is_retried_and_a_5xx_fails_with_the_reply_for_admins,
        a_late_code_mail_says_so_and_an_expired_one_hides_the_code,
        claims_are_exclusive_and_a_lost_lease_is_taken_over
    );
}

/// `smtp_tls = "starttls"` and `"tls"` against a server whose certificate a test CA signed:
/// refused without `smtp_ca_file` (lettre trusts the public roots only), delivered with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_implicit_tls_work_with_a_private_ca() {
    if !smtp::available() {
        return;
    }
    let tls: TlsFiles = smtp::tls_files();
    for (mode, setting) in [
        (Mode::Starttls, SmtpTls::Starttls),
        (Mode::Tls, SmtpTls::Tls),
    ] {
        let server = SmtpServer::start(mode, Some(&tls)).await;
        let untrusted = smtp_app(Backend::Sqlite, server.port, setting, |_| {})
            .await
            .unwrap();
        let admin = untrusted.admin("root").await;
        untrusted.register("tess").await;
        forgot(&untrusted, "tess", "zh").await;
        let row = wait_row(&untrusted, &admin, &email("tess"), |r| {
            r["attempts"] == 1 && r["status"] == "queued"
        })
        .await;
        assert!(
            row["last_error"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("certificate"),
            "{mode:?}: {row}"
        );
        untrusted.stop().await;
        assert!(server.mails().is_empty());

        let ca = tls.ca.clone();
        let app = smtp_app(Backend::Sqlite, server.port, setting, move |c| {
            c.mail.smtp_ca_file = Some(ca);
        })
        .await
        .unwrap();
        app.register("tess").await;
        forgot(&app, "tess", "zh").await;
        let mail = server.wait_for(1).await.remove(0);
        assert_eq!(mail.meta["tls"], true, "{mode:?}");
        assert_eq!(mail.meta["login"], smtp::USER, "{mode:?}");
        let code = code_in(smtp::check(&mail.path, None)["text"].as_str().unwrap()).unwrap();
        reset_with(&app, "tess", &code).await;
        app.stop().await;
    }
}

/// A server that accepts the connection and then says nothing: the step times out, the mail
/// waits for the next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_and_the_mail_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let app = smtp_app(Backend::Sqlite, port, SmtpTls::None, |c| {
        c.mail.smtp_timeout_seconds = 1;
    })
    .await
    .unwrap();
    let admin = app.admin("root").await;
    app.register("sia").await;
    forgot(&app, "sia", "zh").await;
    let row = wait_row(&app, &admin, &email("sia"), |r| {
        r["attempts"].as_i64() >= Some(1) && r["status"] == "queued"
    })
    .await;
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{row}"
    );
    held.abort();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_command_prints_the_smtp_dialogue() {
    if !smtp::available() {
        return;
    }
    let server = SmtpServer::start(Mode::Plain, None).await;
    let data = tempfile::tempdir().unwrap();
    let run = |port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_picturedeck"))
            .args(["mail", "test", "ops@example.com", "--data-dir"])
            .arg(data.path())
            .env("PICTUREDECK__MAIL__MODE", "smtp")
            .env("PICTUREDECK__MAIL__SMTP_HOST", "127.0.0.1")
            .env("PICTUREDECK__MAIL__SMTP_PORT", port.to_string())
            .env("PICTUREDECK__MAIL__SMTP_TLS", "none")
            .env("PICTUREDECK__MAIL__SMTP_USERNAME", smtp::USER)
            .env("PICTUREDECK__MAIL__SMTP_PASSWORD", smtp::PASSWORD)
            .env("PICTUREDECK__MAIL__SMTP_TIMEOUT_SECONDS", "2")
            .output()
            .unwrap()
    };
    let out = run(server.port);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "connect to 127.0.0.1",
        "EHLO: ",
        "AUTH: 235",
        "mail accepted: 250",
        "QUIT",
        "test mail sent to ops@example.com",
    ] {
        assert!(stdout.contains(step), "{step} missing in:\n{stdout}");
    }
    let mail = server.wait_for(1).await.remove(0);
    assert_eq!(mail.meta["rcpt_tos"], json!(["ops@example.com"]));
    assert_eq!(
        smtp::check(&mail.path, None)["headers"]["subject"],
        "PictureDeck 测试邮件"
    );

    let out = run(smtp::free_port());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("test mail not sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mailer_writes_eml_files_to_the_outbox_through_the_queue() {
    let app = TestApp::builder(Backend::Sqlite)
        .real_mailer()
        .start()
        .await
        .unwrap();
    app.register("yuri").await;
    forgot(&app, "yuri", "zh").await;
    app.outbox_settled().await;
    let outbox = app.state.config.data_dir().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].extension().is_some_and(|e| e == "eml"));
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: yuri@example.com") && raw.contains("Message-ID: <"));
    if smtp::available() {
        let parsed = smtp::check(&files[0], None);
        assert!(code_in(parsed["text"].as_str().unwrap()).is_some());
    }
    app.stop().await;
}

fn code_content(requested: chrono::NaiveDateTime) -> picturedeck::mail::Content {
    picturedeck::mail::Content::Code {
        topic: "reset_password".into(),
        username: "lou".into(),
        code: "482913".into(),
        requested_at: requested,
        expires_at: requested + chrono::Duration::minutes(10),
    }
}

/// Codes expire on time whatever the mail does: a mail that leaves late says so, and one that
/// leaves after the code expired no longer shows it.
async fn a_late_code_mail_says_so_and_an_expired_one_hides_the_code(backend: Backend) {
    let Some(app) = TestApp::builder(backend).start().await else {
        return;
    };
    let now = chrono::Utc::now().naive_utc();
    for (to, asked) in [("late@example.com", 4), ("gone@example.com", 11)] {
        let mail = picturedeck::mail::NewMail {
            to: to.into(),
            lang: picturedeck::i18n::Lang::En,
            user_id: None,
            content: code_content(now - chrono::Duration::minutes(asked)),
        };
        picturedeck::mail::service::send(&app.state, mail)
            .await
            .unwrap();
    }
    let mails = app.mails().await;
    let late = mails.iter().find(|m| m.to == "late@example.com").unwrap();
    assert!(
        late.body.contains("482913") && late.body.contains("went out late"),
        "{}",
        late.body
    );
    assert!(late.html.contains("went out late"));
    let gone = mails.iter().find(|m| m.to == "gone@example.com").unwrap();
    assert!(
        !gone.body.contains("482913") && !gone.html.contains("482913"),
        "{}",
        gone.body
    );
    assert!(gone.body.contains("expired at") && gone.body.contains("ask for a new code"));
    app.stop().await;
}

/// The claim hands each due mail to one worker; a worker that vanishes loses its mails when
/// the lease runs out, and then cannot record an outcome for them. The rows are due in an
/// hour, so the app's own worker leaves them alone.
async fn claims_are_exclusive_and_a_lost_lease_is_taken_over(backend: Backend) {
    use picturedeck::mail::store;
    let Some(app) = TestApp::builder(backend).start().await else {
        return;
    };
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::hours(1);
    let lease = chrono::Duration::seconds(60);
    app.state
        .db
        .run(move |conn| {
            for i in 0..20 {
                let mail = picturedeck::mail::NewMail {
                    to: format!("q{i}@example.com"),
                    lang: picturedeck::i18n::Lang::Zh,
                    user_id: None,
                    content: code_content(later),
                };
                picturedeck::mail::enqueue(conn, &mail, later)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // Two workers claim at once: between them every mail once.
    let claim = |owner: &'static str| {
        let db = app.state.db.clone();
        async move {
            db.run(move |conn| Ok(store::claim(conn, owner, 12, later, later + lease)?))
                .await
                .unwrap()
        }
    };
    let (a, b) = tokio::join!(claim("worker-a"), claim("worker-b"));
    let mut ids: Vec<i64> = a.iter().chain(b.iter()).map(|m| m.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{} + {} claimed", a.len(), b.len());
    assert_eq!(a.len() + b.len(), 20);

    // Nothing more while the leases hold; everything of a vanished worker once they run out.
    assert!(claim("worker-c").await.is_empty());
    let taken = app
        .state
        .db
        .run(move |conn| {
            Ok(store::claim(
                conn,
                "worker-c",
                50,
                later + lease * 2,
                later + lease * 3,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(taken.len(), 20);
    assert!(taken.iter().all(|m| m.attempts == 2));
    let first = a.first().map(|m| m.id).unwrap_or_else(|| b[0].id);
    let (stale, fresh) = app
        .state
        .db
        .run(move |conn| {
            let now = later + lease * 2;
            Ok((
                store::mark_sent(conn, first, "worker-a", now)?
                    || store::mark_sent(conn, first, "worker-b", now)?,
                store::mark_sent(conn, first, "worker-c", now)?,
            ))
        })
        .await
        .unwrap();
    assert!(!stale && fresh);
    app.stop().await;
}
