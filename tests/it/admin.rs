//! The admin back office (issue 11, item 1): only admins see it; accounts are searched and
//! filtered with their usage; roles, quotas and bans (with a reason the banned person is told)
//! change from the page and the API; the last admin stays; every action is in the audit log.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser};
use crate::support::{Backend, TestApp, PASSWORD};

on_both_backends!(
    only_admins_list_and_ban_accounts,
    admin_page_bans_with_one_click,
    accounts_are_searched_filtered_and_show_their_usage,
    roles_and_quotas_change_and_the_quota_holds,
    the_last_admin_cannot_be_banned_or_demoted,
    the_audit_log_names_who_did_what_to_whom_and_filters,
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
            json!({"reason": "刷屏广告"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "banned");
    assert_eq!(body["data"]["ban_reason"], "刷屏广告");
    // The banned person's token and a new login are both refused with the reason.
    let (status, body) = app.get("/api/v1/user/me", Some(&user)).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    assert_eq!(body["message"], "账号已被封禁，原因：刷屏广告");
    assert_eq!(body["data"]["reason"], "刷屏广告");
    let (status, body) = app.login_with("zoe", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["data"]["reason"], "刷屏广告", "{body}");
    let english = reqwest::Client::new()
        .get(app.at("/api/v1/user/me"))
        .bearer_auth(&user)
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    let body: Value = english.json().await.unwrap();
    assert_eq!(
        body["message"],
        "This account has been banned. Reason: 刷屏广告"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{zoe}/ban"),
            Some(&root),
            json!({"reason": "x".repeat(501)}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason"))
    );
    let (_, body) = app
        .post(
            &format!("/api/v1/admin/users/{zoe}/unban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["status"], "active");
    assert!(
        body["data"]["ban_reason"].is_null(),
        "a lifted ban forgets its reason"
    );
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
    let res = app
        .post_form(&client, &csrf, &url, &[("reason", "重复注册小号")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let row = res.text().await.unwrap();
    assert!(row.trim_start().starts_with("<tr") && row.contains("id=\"unban-amy\""));
    assert!(row.contains("重复注册小号"), "the row shows the reason");
    assert_eq!(
        app.login_with("amy", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );

    // The row's other forms: a quota and a role, each answered with the row.
    let amy = url.split('/').nth(3).unwrap();
    let res = app
        .post_form(
            &client,
            &csrf,
            &format!("/admin/users/{amy}/quota"),
            &[("daily_quota", "7")],
        )
        .await;
    let row = res.text().await.unwrap();
    assert!(
        row.contains("id=\"quota-amy\"") && row.contains("value=\"7\""),
        "{row}"
    );
    let res = app
        .post_form(
            &client,
            &csrf,
            &format!("/admin/users/{amy}/quota"),
            &[("daily_quota", "many")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post_form(
            &client,
            &csrf,
            &format!("/admin/users/{amy}/role"),
            &[("role", "admin")],
        )
        .await;
    let row = res.text().await.unwrap();
    assert!(row.contains("<option value=\"admin\" selected>"), "{row}");

    // Filters stay in the form and in the link to the next page.
    let (_, html) = app.open(&client, "/admin?q=FILLER&status=active").await;
    let row = |name: &str| format!("data-username=\"{name}\"");
    assert!(
        html.contains(&row("filler54"))
            && !html.contains(&row("amy"))
            && !html.contains(&row("boss"))
    );
    assert!(
        html.contains("href=\"/admin?q=FILLER&amp;status=active&amp;before="),
        "{html}"
    );
    assert!(html.contains("<option value=\"active\" selected>"));
    let (_, html) = app.open(&client, "/admin?role=admin").await;
    assert!(
        html.contains(&row("amy"))
            && html.contains(&row("boss"))
            && !html.contains(&row("filler00"))
    );
}

/// Issue 11 item 7: an admin bans a person whose studio page is open; that page goes to the
/// login page by itself and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_persons_open_page_bounces_to_login_with_the_reason_in_chromium() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.admin("boss").await;
    app.register("zoe").await;
    let shots = screenshot_dir();
    let person = Browser::start(&driver).await;
    person.sign_in(&app, "zoe").await;
    person.goto(&app.at("/")).await;
    person.find("#prompt").await;

    let admin = Browser::start(&driver).await;
    admin.sign_in(&app, "boss").await;
    admin.goto(&app.at("/admin?q=zoe")).await;
    admin.click("#ban-zoe").await;
    admin.fill("#ban-reason-zoe", "发布违规内容").await;
    admin.click("#ban-confirm-zoe").await;
    admin.accept_dialog().await;
    admin.find("#unban-zoe").await;
    admin.wait_for_text("#reason-zoe", "发布违规内容").await;
    admin.screenshot(&shots.join("admin-banned.png")).await;

    // Nobody touches zoe's page: its live stream is ended and refused, and the page follows.
    person.wait_for_url("/login").await;
    let notice = person.wait_for_text("#ban-notice", "发布违规内容").await;
    assert!(notice.contains("账号已被封禁"), "{notice}");
    person.screenshot(&shots.join("banned-login.png")).await;
    // Signing in again is refused with the same reason.
    person.fill("#username", "zoe").await;
    person.fill("#password", PASSWORD).await;
    person.click("#login-submit").await;
    person
        .wait_for_text("#login-form .alert-error", "原因：发布违规内容")
        .await;

    admin.goto(&app.at("/admin/audit?kind=admin")).await;
    admin.wait_for_text("#audit-table", "admin_ban").await;
    person.quit().await;
    admin.quit().await;
    app.stop().await;
}

/// The `data.users` of the account list at `query`, by name.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/v1/admin/users{query}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["users"].as_array().unwrap().clone()
}

fn names(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

/// The public id of `name` in the account list.
async fn uuid_of(app: &TestApp, admin: &str, name: &str) -> String {
    let rows = listed(app, admin, &format!("?q={name}")).await;
    let row = rows.iter().find(|u| u["username"] == name).unwrap();
    row["uuid"].as_str().unwrap().to_string()
}

async fn accounts_are_searched_filtered_and_show_their_usage(app: &TestApp) {
    let root = app.admin("root").await;
    let painter = app.user("Painter_01").await;
    app.register("sketcher").await;
    app.register("under_score").await;
    app.register("percent").await;

    let task = app
        .submit_task(
            &painter,
            json!({"type": "t2i", "prompt": "雪山", "params": {"size": "128x96"}}),
        )
        .await;
    app.wait_completed(&painter, &[task]).await;

    // Name and address, any case; LIKE's wildcards match only themselves.
    assert_eq!(
        names(&listed(app, &root, "?q=PAINTER").await),
        ["Painter_01"]
    );
    assert_eq!(
        names(&listed(app, &root, "?q=sketcher%40example").await),
        ["sketcher"]
    );
    assert_eq!(
        names(&listed(app, &root, "?q=_").await),
        ["under_score", "Painter_01"]
    );
    assert!(listed(app, &root, "?q=%25").await.is_empty());

    let rows = listed(app, &root, "?q=painter").await;
    let row = &rows[0];
    assert_eq!(
        (row["results"].as_i64(), row["tasks_today"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(row["storage_bytes"].as_i64().unwrap() > 100, "{row}");
    assert!(row["storage"].as_str().unwrap().ends_with('B'), "{row}");
    assert!(
        row["last_login_at"].as_str().unwrap().ends_with('Z'),
        "{row}"
    );
    assert_eq!(
        row["daily_quota"],
        app.state.config.auth.default_daily_quota
    );
    let quiet = &listed(app, &root, "?q=percent").await[0];
    assert_eq!(
        (quiet["results"].as_i64(), quiet["storage_bytes"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(quiet["last_login_at"].is_null(), "never signed in");

    let sketcher = uuid_of(app, &root, "sketcher").await;
    app.post(
        &format!("/api/v1/admin/users/{sketcher}/ban"),
        Some(&root),
        json!({}),
    )
    .await;
    assert_eq!(
        names(&listed(app, &root, "?status=banned").await),
        ["sketcher"]
    );
    assert_eq!(names(&listed(app, &root, "?role=admin").await), ["root"]);
    assert_eq!(
        names(&listed(app, &root, "?role=user&status=active&q=e").await),
        ["percent", "under_score", "Painter_01"]
    );
    let (status, body) = app
        .get("/api/v1/admin/users?status=asleep", Some(&root))
        .await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );

    // Keyset pages keep the filter: 55 more matching accounts make two pages.
    for i in 0..55 {
        app.register(&format!("many{i:02}")).await;
    }
    let (_, first) = app.get("/api/v1/admin/users?q=many", Some(&root)).await;
    assert_eq!(first["data"]["users"].as_array().unwrap().len(), 50);
    let next = first["data"]["next"].as_str().unwrap();
    let second = listed(app, &root, &format!("?q=many&before={next}")).await;
    assert_eq!(
        names(&second),
        ["many04", "many03", "many02", "many01", "many00"]
    );
}

async fn roles_and_quotas_change_and_the_quota_holds(app: &TestApp) {
    let root = app.admin("root").await;
    let amy = app.user("amy").await;
    let id = uuid_of(app, &root, "amy").await;

    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{id}/quota"),
            Some(&root),
            json!({"daily_quota": 1}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["daily_quota"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let small = json!({"type": "t2i", "prompt": "猫", "params": {"size": "64x64"}});
    app.submit_task(&amy, small.clone()).await;
    let (status, _) = app
        .post("/api/v1/generation", Some(&amy), small.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the new quota holds at once"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{id}/quota"),
            Some(&root),
            json!({"daily_quota": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["daily_quota"].is_null(), "{body}");
    assert_eq!(body["data"]["tasks_today"], 1);
    app.submit_task(&amy, small).await;
    for bad in [
        json!({"daily_quota": -1}),
        json!({"daily_quota": 1e12}),
        json!({"quota": 5}),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/v1/admin/users/{id}/quota"),
                Some(&root),
                bad.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} gave {body}");
    }

    // Promoted, amy can open the admin API; demoted, she cannot.
    let (_, body) = app
        .post(
            &format!("/api/v1/admin/users/{id}/role"),
            Some(&root),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(body["data"]["role"], "admin");
    assert_eq!(
        app.get("/api/v1/admin/users", Some(&amy)).await.0,
        StatusCode::OK
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{id}/role"),
            Some(&root),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("role"))
    );
    app.post(
        &format!("/api/v1/admin/users/{id}/role"),
        Some(&root),
        json!({"role": "user"}),
    )
    .await;
    assert_eq!(
        app.get("/api/v1/admin/users", Some(&amy)).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/users/{id}/role"),
            Some(&amy),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nobody promotes themselves");
}

async fn the_last_admin_cannot_be_banned_or_demoted(app: &TestApp) {
    use picturedeck::admin::service::{change_user, Change};
    use picturedeck::users::model::Role;
    let root = app.admin("root").await;
    let boss = app.admin("boss").await;
    let (root_id, boss_id) = (
        uuid_of(app, &root, "root").await,
        uuid_of(app, &root, "boss").await,
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{root_id}/role"),
            Some(&root),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400)),
        "not yourself"
    );

    // Two admins demote each other at the same moment: one wins, and one admin is left.
    let (demote_boss, demote_root) = (
        format!("/api/v1/admin/users/{boss_id}/role"),
        format!("/api/v1/admin/users/{root_id}/role"),
    );
    let (a, b) = tokio::join!(
        app.post(&demote_boss, Some(&root), json!({"role": "user"})),
        app.post(&demote_root, Some(&boss), json!({"role": "user"})),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::OK, "{a:?} {b:?}");
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::CONFLICT].contains(&statuses[1]),
        "{a:?} {b:?}"
    );
    let admins: Vec<Value> = {
        let token = if a.0 == StatusCode::OK { &root } else { &boss };
        listed(app, token, "?role=admin").await
    };
    assert_eq!(admins.len(), 1);

    // An admin whose powers were taken while acting (a stale view of them) meets the rule itself.
    let winner = admins[0]["username"].as_str().unwrap().to_string();
    let loser = if winner == "root" { "boss" } else { "root" };
    let find = |name: String| async move {
        picturedeck::users::service::find_by_username(&app.state, &name)
            .await
            .unwrap()
    };
    let mut stale = find(loser.to_string()).await;
    stale.role = "admin".into();
    let winner_row = find(winner.clone()).await;
    let origin = picturedeck::users::service::Origin {
        ip: "127.0.0.1".into(),
        user_agent: None,
    };
    for change in [
        Change::Role(Role::User),
        Change::Ban {
            reason: String::new(),
        },
    ] {
        let err = change_user(&app.state, &stale, &winner_row.uuid, change, &origin)
            .await
            .unwrap_err();
        assert_eq!(err.code(), 409, "{err}");
    }
    let token = if winner == "root" { &root } else { &boss };
    let (_, body) = app.get("/api/v1/admin/users?role=admin", Some(token)).await;
    assert_eq!(body["data"]["users"][0]["status"], "active");
}

async fn the_audit_log_names_who_did_what_to_whom_and_filters(app: &TestApp) {
    let root = app.admin("root").await;
    app.user("zoe").await;
    let id = uuid_of(app, &root, "zoe").await;
    app.post(
        &format!("/api/v1/admin/users/{id}/ban"),
        Some(&root),
        json!({"reason": "spam"}),
    )
    .await;
    app.post(
        &format!("/api/v1/admin/users/{id}/unban"),
        Some(&root),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/admin/users/{id}/quota"),
        Some(&root),
        json!({"daily_quota": 3}),
    )
    .await;

    let (status, body) = app.get("/api/v1/admin/audit?kind=admin", Some(&root)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["data"]["entries"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["user"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let quota = format!("{} -> 3", app.state.config.auth.default_daily_quota);
    assert_eq!(
        seen,
        [
            ("root", "admin_quota", "zoe", quota.as_str()),
            ("root", "admin_unban", "zoe", ""),
            ("root", "admin_ban", "zoe", "spam"),
        ]
    );
    assert!(entries
        .iter()
        .all(|e| e["ip"] == "127.0.0.1" && e["created_at"].as_str().unwrap().ends_with('Z')));
    assert!(body["data"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "login"));

    let (_, body) = app
        .get("/api/v1/admin/audit?actor=zoe&action=login", Some(&root))
        .await;
    let mine = body["data"]["entries"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{body}");
    assert_eq!(
        (mine[0]["actor"].as_str(), mine[0]["user"].as_str()),
        (Some("zoe"), Some("zoe"))
    );
    let (_, body) = app
        .get("/api/v1/admin/audit?user=zoe&action=admin_ban", Some(&root))
        .await;
    assert_eq!(body["data"]["entries"].as_array().unwrap().len(), 1);
    let (_, body) = app
        .get("/api/v1/admin/audit?actor=nobody", Some(&root))
        .await;
    assert!(
        body["data"]["entries"].as_array().unwrap().is_empty(),
        "an unknown name matches nothing"
    );
    let today = chrono::Utc::now().date_naive();
    let (_, body) = app
        .get(
            &format!("/api/v1/admin/audit?from={today}&to={today}&kind=admin"),
            Some(&root),
        )
        .await;
    assert_eq!(body["data"]["entries"].as_array().unwrap().len(), 3);
    let (_, body) = app
        .get(
            &format!(
                "/api/v1/admin/audit?to={}",
                today - chrono::Duration::days(1)
            ),
            Some(&root),
        )
        .await;
    assert!(body["data"]["entries"].as_array().unwrap().is_empty());
    let (status, body) = app
        .get("/api/v1/admin/audit?from=yesterday", Some(&root))
        .await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("from"))
    );
    // zoe's token ended with the ban; a fresh one is still no admin's.
    let (_, login) = app.login_with("zoe", PASSWORD).await;
    let zoe = login["data"]["token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/admin/audit", Some(zoe)).await.0,
        StatusCode::FORBIDDEN
    );

    // Keyset pages: 60 failed logins make a second page that goes on where the first stopped.
    app.state
        .db
        .run(|conn| {
            for _ in 0..60 {
                picturedeck::audit::record(conn, None, "login_failed", None, Some("192.0.2.7"))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (_, first) = app
        .get("/api/v1/admin/audit?action=login_failed", Some(&root))
        .await;
    let next = first["data"]["next"].as_str().unwrap();
    let (_, second) = app
        .get(
            &format!("/api/v1/admin/audit?action=login_failed&before={next}"),
            Some(&root),
        )
        .await;
    assert_eq!(
        first["data"]["entries"].as_array().unwrap().len()
            + second["data"]["entries"].as_array().unwrap().len(),
        60
    );

    // The page: filters in the form, rows in the table, a 403 for others.
    let (client, _) = app.signed_in("root").await;
    let (_, html) = app
        .open(&client, "/admin/audit?kind=admin&action=admin_ban")
        .await;
    assert!(
        html.contains("id=\"audit-table\"")
            && html.contains("<code>admin_ban</code>")
            && html.contains("spam"),
        "{html}"
    );
    assert!(!html.contains("<code>admin_unban</code>"));
    assert!(html.contains("value=\"admin_ban\" selected"));
}
