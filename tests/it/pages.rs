//! The account pages over plain HTTP: CSRF, session cookie, inline errors, language switch.

use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{page_client, TestApp, PASSWORD};

on_both_backends!(
    pages_need_a_session_and_login_sets_it,
    form_posts_without_the_csrf_token_are_refused,
    failed_login_rerenders_the_form_with_an_escaped_value,
    register_page_flow_and_language_switch,
    profile_password_change_keeps_this_browser_signed_in,
    queued_tasks_show_their_place_in_the_queue,
);

async fn pages_need_a_session_and_login_sets_it(app: &TestApp) {
    app.register("tina").await;
    let client = page_client();
    let res = client
        .get(app.at("/profile?tab=email"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/login?next=/profile%3Ftab%3Demail"
    );

    let (csrf, html) = app.open(&client, "/login").await;
    assert_eq!(csrf.len(), 64);
    assert!(html.contains("id=\"login-submit\"") && html.contains("登录"));
    let login_then = |next: &'static str| {
        let (client, csrf) = (&client, &csrf);
        async move {
            let form = [("username", "tina"), ("password", PASSWORD), ("next", next)];
            app.post_form(client, csrf, "/login", &form).await
        }
    };
    let res = login_then("/profile").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-redirect"], "/profile");
    let session = res
        .cookies()
        .find(|c| c.name() == "pd_session")
        .expect("session cookie");
    assert!(session.http_only());
    assert!(session.same_site_lax());

    let (_, html) = app.open(&client, "/profile").await;
    assert!(
        html.contains("tina@example.com"),
        "profile shows the account"
    );
    let (_, html) = app.open(&client, "/").await;
    assert!(
        html.contains("id=\"nav-profile\"") && !html.contains("id=\"nav-admin\""),
        "no admin menu for users"
    );

    // An open redirect through `next` is not possible.
    let stranger = page_client();
    let (fresh, _) = app.open(&stranger, "/login").await;
    let form = [
        ("username", "tina"),
        ("password", PASSWORD),
        ("next", "//evil.example"),
    ];
    let res = app.post_form(&stranger, &fresh, "/login", &form).await;
    assert_eq!(res.headers()["hx-redirect"], "/");

    // Signed in, the pages carry a token bound to the account.
    let (csrf, _) = app.open(&client, "/profile").await;
    let res = app.post_form(&client, &csrf, "/logout", &[]).await;
    assert_eq!(res.headers()["hx-redirect"], "/login");
    assert_eq!(
        client.get(app.at("/")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
}

async fn form_posts_without_the_csrf_token_are_refused(app: &TestApp) {
    app.register("uma").await;
    let client = page_client();
    let (csrf, _) = app.open(&client, "/login").await;
    for token in ["", "0000", &"f".repeat(64)] {
        let res = app.post_login(&client, token, "uma").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert!(res.cookies().all(|c| c.name() != "pd_session"));
        assert!(res.text().await.unwrap().contains("页面已过期"));
    }
    let res = app.post_login(&client, &csrf, "uma").await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn failed_login_rerenders_the_form_with_an_escaped_value(app: &TestApp) {
    let client = page_client();
    let (csrf, _) = app.open(&client, "/login").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            "/login",
            &[
                ("username", "<script>alert(1)</script>"),
                ("password", "Wrong@1234"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(
        html.starts_with("<form") || html.trim_start().starts_with("<form"),
        "only the form comes back"
    );
    assert!(html.contains("账号或密码错误"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            && !html.contains("<script>alert"),
        "{html}"
    );
}

async fn register_page_flow_and_language_switch(app: &TestApp) {
    let client = page_client();
    let (csrf, _) = app.open(&client, "/register").await;
    let register = |confirm: &'static str| {
        let (client, csrf) = (&client, &csrf);
        async move {
            let form = [
                ("username", "victor"),
                ("email", "victor@example.com"),
                ("password", PASSWORD),
                ("password_confirm", confirm),
            ];
            app.post_form(client, csrf, "/register", &form).await
        }
    };
    let res = register("Other@1234").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("两次输入的密码不一致") && html.contains("value=\"victor@example.com\""));

    let res = register(PASSWORD).await;
    assert_eq!(res.headers()["hx-redirect"], "/login?registered=1");
    let (_, html) = app.open(&client, "/login?registered=1").await;
    assert!(html.contains("注册成功"));

    let res = client
        .get(app.at("/lang/en?next=%2Flogin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/login");
    let (_, html) = app.open(&client, "/login").await;
    assert!(
        html.contains("lang=\"en\"") && html.contains("Sign in"),
        "English after the switch"
    );
    let res = app
        .post_form(
            &client,
            &csrf,
            "/register",
            &[
                ("username", "victor"),
                ("email", "v2@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("This username is already taken"));
}

async fn profile_password_change_keeps_this_browser_signed_in(app: &TestApp) {
    let api_token = app.user("wendy").await;
    let (client, csrf) = app.signed_in("wendy").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            "/profile/password",
            &[
                ("old_password", PASSWORD),
                ("new_password", "Brand@New1"),
                ("new_password_confirm", "Brand@New1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("成功修改密码"));
    assert_eq!(
        client
            .get(app.at("/profile"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "new cookie works"
    );
    assert_eq!(
        app.get("/api/v1/user/me", Some(&api_token)).await.0,
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );

    // The email tab: code to the new address, then the change.
    let res = app
        .post_form(
            &client,
            &csrf,
            "/profile/email/code",
            &[("new_email", "wendy2@example.com")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let code = app.last_code("wendy2@example.com").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            "/profile/email",
            &[
                ("new_email", "wendy2@example.com"),
                ("verification_code", &code),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("成功修改邮箱") && html.contains("wendy2@example.com"));
}

async fn queued_tasks_show_their_place_in_the_queue(app: &TestApp) {
    app.stop_engine();
    app.register("queuer").await;
    let (client, csrf) = app.signed_in("queuer").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            "/generate",
            &[("type", "t2i"), ("prompt", "排队的<b>猫</b>"), ("n", "3")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    // One submit of three is one card of three.
    assert_eq!(html.matches("class=\"task-card").count(), 1);
    assert_eq!(html.matches("class=\"batch-cell").count(), 3);
    assert!(
        html.contains("前面还有 1 个") && html.contains("前面还有 2 个"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;猫") && !html.contains("<b>猫"));
}
