//! Seed 5.3 ①–⑥: every endpoint and every `code`, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{email, TestApp, PASSWORD};

on_both_backends!(
    register_answers_201_with_the_account,
    register_rejects_bad_parameters_with_code_400,
    register_rejects_duplicate_username_with_code_401_regardless_of_case,
    register_rejects_duplicate_email_with_code_402,
    login_returns_a_working_token_with_its_expiry,
    login_rejects_wrong_password_and_unknown_user_with_code_401,
    login_rejects_bad_parameters_with_code_400,
    repeated_failed_logins_are_limited_with_429,
    banned_user_cannot_log_in_and_its_tokens_stop_at_once,
    forged_and_missing_tokens_are_rejected,
    forgot_password_mails_a_code_and_unknown_email_gets_code_401,
    forgot_password_sends_at_most_once_a_minute,
    reset_password_with_the_code_changes_the_password_and_revokes_tokens,
    reset_password_rejects_wrong_expired_and_reused_codes,
    five_wrong_codes_void_the_code,
    change_password_needs_the_old_one_and_revokes_other_tokens,
    change_email_needs_a_code_sent_to_the_new_address,
    change_email_rejects_a_taken_address_with_code_401,
);

async fn register_answers_201_with_the_account(app: &TestApp) {
    let (status, body) = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "test_user", "email": "Test@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["code"], 201);
    assert_eq!(body["message"], "注册成功");
    assert_eq!(body["data"]["username"], "test_user");
    assert_eq!(
        body["data"]["email"], "test@example.com",
        "addresses are stored lower-case"
    );
    let created = body["data"]["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert!(body["data"].get("password_hash").is_none() && body["data"].get("id").is_none());
}

async fn register_rejects_bad_parameters_with_code_400(app: &TestApp) {
    let cases = [
        (
            json!({"username": "ab", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "x".repeat(51), "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "<script>alert(1)</script>", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "alice", "email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": format!("{}@example.com", "a".repeat(250)), "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "short1"}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "lettersonly"}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "1234567890"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["code"], 400);
        assert_eq!(answer["data"]["field"], field, "{body}");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    // Not JSON at all, and JSON of the wrong shape.
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 400);
    let (status, answer) = app
        .post("/api/v1/auth/register", None, json!([1, 2, 3]))
        .await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
    // Nothing was stored by any of these.
    let (status, _) = app.login_with("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn register_rejects_duplicate_username_with_code_401_regardless_of_case(app: &TestApp) {
    app.register("Alice").await;
    let body = answered(
        app.post(
            "/api/v1/auth/register",
            None,
            json!({"username": "alice", "email": "other@example.com", "password": PASSWORD}),
        )
        .await,
        StatusCode::CONFLICT,
        401,
    );
    assert_eq!(body["message"], "用户名已被占用");
    assert_eq!(body["data"]["field"], "username");
}

async fn register_rejects_duplicate_email_with_code_402(app: &TestApp) {
    app.register("bob").await;
    let body = answered(
        app.post(
            "/api/v1/auth/register",
            None,
            json!({"username": "bobby", "email": "BOB@example.com", "password": PASSWORD}),
        )
        .await,
        StatusCode::CONFLICT,
        402,
    );
    assert_eq!(body["data"]["field"], "email");
}

async fn login_returns_a_working_token_with_its_expiry(app: &TestApp) {
    app.register("carol").await;
    let (status, body) = app.login_with("CAROL", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 200);
    assert_eq!(body["message"], "登录成功");
    assert_eq!(body["data"]["username"], "carol");
    let expiry =
        chrono::DateTime::parse_from_rfc3339(body["data"]["token_expire_at"].as_str().unwrap())
            .unwrap();
    let hours = (expiry.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!(
        (160..=168).contains(&hours),
        "a week by default, got {hours} h"
    );
    let token = body["data"]["token"].as_str().unwrap();
    let (status, me) = app.get("/api/v1/user/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["username"], "carol");
    assert_eq!(me["data"]["email"], "carol@example.com");
    assert_eq!(me["data"]["role"], "user");
    // English on request.
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/auth/login"))
        .header("accept-language", "en-US,en;q=0.9")
        .json(&json!({"username": "carol", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["message"],
        "Logged in"
    );
}

async fn login_rejects_wrong_password_and_unknown_user_with_code_401(app: &TestApp) {
    app.register("dave").await;
    for (name, password) in [("dave", "Wrong@1234"), ("nobody", PASSWORD)] {
        let (status, body) = app.login_with(name, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], 401);
        assert_eq!(
            body["message"], "账号或密码错误",
            "the same answer for both, so names cannot be probed"
        );
    }
}

async fn login_rejects_bad_parameters_with_code_400(app: &TestApp) {
    for body in [
        json!({"username": "", "password": PASSWORD}),
        json!({"username": "erin"}),
        json!({}),
    ] {
        let (status, answer) = app.post("/api/v1/auth/login", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["code"], 400);
    }
}

async fn repeated_failed_logins_are_limited_with_429(app: &TestApp) {
    app.register("frank").await;
    let limit = app.state.config.limits.login_failures_per_account;
    for _ in 0..limit {
        let (status, _) = app.login_with("frank", "Wrong@1234").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/auth/login"))
        .json(&json!({"username": "frank", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 900);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 429);
    // Another account from the same address is not locked by frank's failures.
    app.register("grace").await;
    assert_eq!(app.login_with("grace", PASSWORD).await.0, StatusCode::OK);
}

async fn banned_user_cannot_log_in_and_its_tokens_stop_at_once(app: &TestApp) {
    let token = app.user("heidi").await;
    assert_eq!(
        app.get("/api/v1/user/me", Some(&token)).await.0,
        StatusCode::OK
    );
    app.set_status("heidi", picturedeck::users::model::Status::Banned)
        .await;

    // The old token is refused as banned (it tells why), not as signed out.
    let (status, body) = app.get("/api/v1/user/me", Some(&token)).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403)),
        "{body}"
    );
    let body = answered(
        app.login_with("heidi", PASSWORD).await,
        StatusCode::FORBIDDEN,
        403,
    );
    assert_eq!(body["message"], "账号已被封禁");

    app.set_status("heidi", picturedeck::users::model::Status::Active)
        .await;
    assert_eq!(app.login_with("heidi", PASSWORD).await.0, StatusCode::OK);
}

async fn forged_and_missing_tokens_are_rejected(app: &TestApp) {
    let token = app.user("ivan").await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let other_key =
        picturedeck::users::token::TokenKeys::new(b"an-attacker-chosen-secret-key-123456", 1);
    let user = picturedeck::users::service::find_by_username(&app.state, "ivan")
        .await
        .unwrap();
    // The genuine session id, so only the signature is wrong.
    let sid = app.state.tokens.verify(&token).unwrap().sid;
    let resigned = other_key
        .issue(&user, &sid, chrono::Utc::now())
        .unwrap()
        .token;
    for bad in [
        None,
        Some("garbage"),
        Some(forged.as_str()),
        Some(resigned.as_str()),
    ] {
        let (status, body) = app.get("/api/v1/user/me", bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(body["code"], 401);
    }
    let (status, _) = app
        .post(
            "/api/v1/user/reset-password",
            None,
            json!({"old_password": PASSWORD, "new_password": "New@12345"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn forgot_password_mails_a_code_and_unknown_email_gets_code_401(app: &TestApp) {
    app.register("judy").await;
    answered(forgot(app, "JUDY@example.com").await, StatusCode::OK, 200);
    let mails = app.mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "judy@example.com");
    // In the language of the request (Chinese by default) only; tests/it/mail.rs asks in English.
    assert!(
        mails[0].subject.contains("找回密码") && !mails[0].subject.contains("password"),
        "{}",
        mails[0].subject
    );
    assert!(
        mails[0].body.contains("验证码 10 分钟内有效") && !mails[0].body.contains("valid for"),
        "says how long the code lives: {}",
        mails[0].body
    );
    assert_eq!(app.last_code("judy@example.com").await.len(), 6);

    let body = answered(
        forgot(app, "nobody@example.com").await,
        StatusCode::NOT_FOUND,
        401,
    );
    assert_eq!(body["message"], "邮箱未注册");
    answered(forgot(app, "nonsense").await, StatusCode::BAD_REQUEST, 400);
    assert_eq!(app.mails().await.len(), 1);
}

async fn forgot_password_sends_at_most_once_a_minute(app: &TestApp) {
    app.register("kim").await;
    assert_eq!(forgot(app, &email("kim")).await.0, StatusCode::OK);
    answered(
        forgot(app, &email("kim")).await,
        StatusCode::TOO_MANY_REQUESTS,
        429,
    );
    assert_eq!(app.mails().await.len(), 1);
    // The database remembers the send too: a limiter cleared by a restart is not enough.
    app.state.limiter.clear("code-send:kim@example.com");
    assert_eq!(
        forgot(app, &email("kim")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn reset_password_with_the_code_changes_the_password_and_revokes_tokens(app: &TestApp) {
    let token = app.user("leo").await;
    forgot(app, &email("leo")).await;
    let code = app.last_code(&email("leo")).await;
    let (status, body) = app
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": email("leo"), "verification_code": code, "new_password": "Fresh@5678"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["code"], 200);
    assert_eq!(
        app.login_with("leo", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login_with("leo", "Fresh@5678").await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/user/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn reset_password_rejects_wrong_expired_and_reused_codes(app: &TestApp) {
    app.register("mia").await;
    forgot(app, &email("mia")).await;
    let code = app.last_code(&email("mia")).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let reset = |code: String, password: &'static str| async move {
        app.post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": email("mia"), "verification_code": code, "new_password": password}),
        )
        .await
    };
    let body = answered(
        reset(wrong.into(), "Fresh@5678").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        401,
    );
    assert_eq!(body["data"]["field"], "verification_code");
    answered(
        reset("12ab".into(), "Fresh@5678").await,
        StatusCode::BAD_REQUEST,
        400,
    );
    answered(
        reset(code.clone(), "weak").await,
        StatusCode::BAD_REQUEST,
        400,
    );

    assert_eq!(reset(code.clone(), "Fresh@5678").await.0, StatusCode::OK);
    // A code is single use.
    answered(
        reset(code, "Again@5678").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        401,
    );

    // An expired code: age it past its ten minutes.
    let resend = || async {
        backdate_sends(app, "mia@example.com").await;
        let sent_before = app.mails().await.len();
        answered(forgot(app, &email("mia")).await, StatusCode::OK, 200);
        assert_eq!(app.mails().await.len(), sent_before + 1, "one more mail");
        app.last_code(&email("mia")).await
    };
    let fresh = resend().await;
    expire_codes(app).await;
    // Expired.
    answered(
        reset(fresh.clone(), "Later@5678").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        401,
    );
    assert_eq!(app.login_with("mia", "Fresh@5678").await.0, StatusCode::OK);

    // Asking again after the expiry mails a new code, and that one works.
    let renewed = resend().await;
    assert_ne!(renewed, fresh, "a new code, not the expired one again");
    assert_eq!(reset(renewed, "Later@5678").await.0, StatusCode::OK);
    assert_eq!(app.login_with("mia", "Later@5678").await.0, StatusCode::OK);
}

async fn five_wrong_codes_void_the_code(app: &TestApp) {
    app.register("nina").await;
    forgot(app, &email("nina")).await;
    let code = app.last_code(&email("nina")).await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        let (status, _) = app
            .post("/api/v1/auth/reset-password", None, json!({"email": email("nina"), "verification_code": wrong, "new_password": "Fresh@5678"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    answered(
        app.post("/api/v1/auth/reset-password", None, json!({"email": email("nina"), "verification_code": code, "new_password": "Fresh@5678"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        401,
    );
    assert_eq!(
        app.login_with("nina", PASSWORD).await.0,
        StatusCode::OK,
        "password unchanged"
    );
}

async fn change_password_needs_the_old_one_and_revokes_other_tokens(app: &TestApp) {
    let first = app.user("oscar").await;
    let second = app.token("oscar").await;

    let change = |old: &'static str, new: &'static str| {
        app.post(
            "/api/v1/user/reset-password",
            Some(&first),
            json!({"old_password": old, "new_password": new}),
        )
    };
    let body = answered(
        change("Wrong@1234", "New@12345").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        401,
    );
    assert_eq!(body["message"], "旧密码不正确");
    answered(change(PASSWORD, "weak").await, StatusCode::BAD_REQUEST, 400);

    let body = answered(change(PASSWORD, "New@12345").await, StatusCode::OK, 200);
    assert_eq!(body["message"], "成功修改密码");
    let fresh = body["data"]["token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/user/me", Some(&second)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/user/me", Some(&first)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/user/me", Some(fresh)).await.0,
        StatusCode::OK
    );
    assert_eq!(app.login_with("oscar", "New@12345").await.0, StatusCode::OK);
}

async fn change_email_needs_a_code_sent_to_the_new_address(app: &TestApp) {
    let token = app.user("pam").await;
    let (status, body) = app
        .post(
            "/api/v1/user/reset-email/code",
            Some(&token),
            json!({"new_email": "Pam.New@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = app.last_code("pam.new@example.com").await;
    let wrong = if code == "111111" { "111112" } else { "111111" };
    answered(
        app.post(
            "/api/v1/user/reset-email",
            Some(&token),
            json!({"new_email": "pam.new@example.com", "verification_code": wrong}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        403,
    );
    answered(
        app.post(
            "/api/v1/user/reset-email",
            Some(&token),
            json!({"new_email": "pam.new@example.com"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        400,
    );

    // Someone else cannot use pam's code for the same address.
    let intruder = app.user("quinn").await;
    let (status, _) = app
        .post(
            "/api/v1/user/reset-email",
            Some(&intruder),
            json!({"new_email": "pam.new@example.com", "verification_code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    backdate_sends(app, "pam.new@example.com").await;
    app.post(
        "/api/v1/user/reset-email/code",
        Some(&token),
        json!({"new_email": "pam.new@example.com"}),
    )
    .await;
    let code = app.last_code("pam.new@example.com").await;
    let body = answered(
        app.post(
            "/api/v1/user/reset-email",
            Some(&token),
            json!({"new_email": "pam.new@example.com", "verification_code": code}),
        )
        .await,
        StatusCode::OK,
        200,
    );
    assert_eq!(body["data"]["email"], "pam.new@example.com");
    let (_, me) = app.get("/api/v1/user/me", Some(&token)).await;
    assert_eq!(me["data"]["email"], "pam.new@example.com");
}

async fn change_email_rejects_a_taken_address_with_code_401(app: &TestApp) {
    let token = app.user("rita").await;
    app.register("sam").await;
    let send_code = |address: String| {
        app.post(
            "/api/v1/user/reset-email/code",
            Some(&token),
            json!({"new_email": address}),
        )
    };
    let body = answered(send_code(email("sam")).await, StatusCode::CONFLICT, 401);
    assert_eq!(body["message"], "邮箱已被注册");
    answered(
        send_code("bad address".into()).await,
        StatusCode::BAD_REQUEST,
        400,
    );
    assert!(app.mails().await.is_empty());
}

/// An answer with this HTTP status and `code` (a success's too); returns its body.
fn answered((status, body): (StatusCode, Value), want: StatusCode, code: i64) -> Value {
    assert_eq!(
        (status, body["code"].as_i64()),
        (want, Some(code)),
        "{body}"
    );
    body
}

/// Asks for a password reset code for `address`.
async fn forgot(app: &TestApp, address: &str) -> (StatusCode, Value) {
    app.post(
        "/api/v1/auth/forgot-password",
        None,
        json!({"email": address}),
    )
    .await
}

/// Moves every code's expiry into the past, the same SQL on both backends.
async fn expire_codes(app: &TestApp) {
    app.sql("UPDATE email_codes SET expires_at = '2000-01-01 00:00:00'")
        .await;
}

/// Pretends the last send to `address` was long ago, so the next one is allowed.
async fn backdate_sends(app: &TestApp, address: &str) {
    app.state.limiter.clear(&format!("code-send:{address}"));
    app.sql("UPDATE email_codes SET created_at = '2000-01-01 00:00:00'")
        .await;
}
