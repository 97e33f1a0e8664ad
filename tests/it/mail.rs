//! Mail leaves through a real SMTP conversation on loopback, with authentication.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::smtp::SmtpSink;
use crate::support::{code_in, Backend, TestApp, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_code_travels_by_smtp_and_works() {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = TestApp::builder(Backend::Sqlite)
        .real_mailer()
        .config(move |c| {
            c.mail.mode = picturedeck::config::MailMode::Smtp;
            c.mail.smtp_host = "127.0.0.1".into();
            c.mail.smtp_port = port;
            c.mail.smtp_tls = picturedeck::config::SmtpTls::None;
            c.mail.smtp_username = "mailer".into();
            c.mail.smtp_password = "s3cret".into();
        })
        .start()
        .await
        .unwrap();
    app.register("xena").await;
    let (status, body) = app
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "xena@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, vec!["<xena@example.com>".to_string()]);
    let auth = base64::engine::general_purpose::STANDARD
        .decode(mail.auth.as_deref().expect("AUTH PLAIN"))
        .unwrap();
    assert_eq!(auth, b"\0mailer\0s3cret");
    let text = decoded_body(&mail.data);
    assert!(
        text.contains("验证码") && text.contains("code"),
        "both languages: {text}"
    );
    let code = code_in(&text).expect("code in mail");

    let (status, _) = app
        .post("/api/v1/auth/reset-password", None, json!({"email": "xena@example.com", "verification_code": code, "new_password": "Mailed@123"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.login_with("xena", "Mailed@123").await.0, StatusCode::OK);
    assert_eq!(
        app.login_with("xena", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mailer_writes_eml_files_to_the_outbox() {
    let app = TestApp::builder(Backend::Sqlite)
        .real_mailer()
        .start()
        .await
        .unwrap();
    app.register("yuri").await;
    assert_eq!(
        app.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "yuri@example.com"})
        )
        .await
        .0,
        StatusCode::OK
    );
    let outbox = app.state.config.data_dir().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].extension().is_some_and(|e| e == "eml"));
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: yuri@example.com"));
    assert!(code_in(&decoded_body(&raw)).is_some());
    app.stop().await;
}

/// The text of a single-part mail, whatever transfer encoding lettre chose.
fn decoded_body(raw: &str) -> String {
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let headers = headers.to_ascii_lowercase();
    if headers.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if headers.contains("content-transfer-encoding: quoted-printable") {
        let soft = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = soft.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&soft[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        body.to_string()
    }
}
