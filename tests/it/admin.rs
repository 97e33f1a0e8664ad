//! The admin's account list: only admins see it; a ban ends the banned account's sessions.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestApp, PASSWORD};

on_both_backends!(
    only_admins_list_and_ban_accounts,
    admin_page_bans_with_one_click
);

async fn only_admins_list_and_ban_accounts(app: &TestApp) {
    let root = app.admin("root").await;
    let user = app.user("zoe").await;

    let (status, body) = app.get("/api/v1/admin/users", Some(&user)).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    let (status, body) = app.get("/api/v1/admin/users", None).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNAUTHORIZED, Some(401))
    );

    let (status, body) = app.get("/api/v1/admin/users", Some(&root)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zoe", "root"], "newest first");
    assert!(body["data"]["next"].is_null());
    let zoe = body["data"]["users"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let root_uuid = body["data"]["users"][1]["uuid"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, _) = app
        .post(
            &format!("/api/v1/admin/users/{zoe}/ban"),
            Some(&user),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "users cannot ban");
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{root_uuid}/ban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400)),
        "nobody bans themselves"
    );
    let (status, _) = app
        .post(
            "/api/v1/admin/users/no-such-uuid/ban",
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{zoe}/ban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "banned");
    assert_eq!(
        app.get("/api/v1/user/me", Some(&user)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_with("zoe", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, body) = app
        .post(
            &format!("/api/v1/admin/users/{zoe}/unban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["status"], "active");
    assert_eq!(app.login_with("zoe", PASSWORD).await.0, StatusCode::OK);
}

async fn admin_page_bans_with_one_click(app: &TestApp) {
    app.admin("boss").await;
    app.register("amy").await;
    for i in 0..55 {
        app.register(&format!("filler{i:02}")).await;
    }
    let (client, csrf) = app.signed_in("amy").await;
    assert_eq!(
        client.get(app.at("/admin")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let csrf = app.page_login(&client, &csrf, "boss").await;
    let (_, html) = app.open(&client, "/admin").await;
    assert!(
        html.contains("id=\"nav-admin\"")
            && html.contains("filler54")
            && html.contains("id=\"more-users\"")
    );
    assert!(
        !html.contains(">amy<"),
        "the second page holds the oldest accounts"
    );
    let start = html.find("/admin?before=").unwrap();
    let next: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let (_, older) = app.open(&client, &next).await;
    assert!(older.contains(">amy<") && older.contains(">boss<") && !older.contains("filler54"));

    let amy_row = older.find("id=\"ban-amy\"").unwrap();
    let post_at = older[amy_row..].find("hx-post=\"").unwrap() + amy_row + 9;
    let url: String = older[post_at..].chars().take_while(|c| *c != '"').collect();
    let res = client
        .post(app.at(&url))
        .header("X-CSRF-Token", csrf.clone())
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let row = res.text().await.unwrap();
    assert!(row.trim_start().starts_with("<tr") && row.contains("id=\"unban-amy\""));
    assert_eq!(
        app.login_with("amy", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
}
