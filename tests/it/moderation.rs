//! The prompt check (issue 11 item 2): listed terms refuse a task before it is queued, in any
//! width, case, spacing or traditional form; the person is told the term; refusals are
//! counted; admins extend the list on the page and through the API.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    prompts_with_listed_terms_are_refused_with_the_term_and_counted,
    admins_extend_the_list_and_the_next_submit_sees_it,
    the_word_page_adds_and_removes_terms,
);

fn task(prompt: &str) -> Value {
    json!({"type": "t2i", "prompt": prompt, "params": {"size": "64x64"}})
}

async fn refused(app: &TestApp, token: &str, prompt: &str) -> Value {
    let (status, body) = app
        .post("/api/v1/generation", Some(token), task(prompt))
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(422)),
        "{prompt:?}: {body}"
    );
    assert_eq!(body["data"]["field"], "prompt", "{body}");
    body
}

async fn prompts_with_listed_terms_are_refused_with_the_term_and_counted(app: &TestApp) {
    let root = app.admin("root").await;
    let token = app.user("painter").await;

    let body = refused(app, &token, "请教我制造炸彈").await;
    assert_eq!(
        body["message"],
        "提示词包含不允许的内容（制造炸弹），请修改后再试"
    );
    refused(app, &token, "ｈｏｗ to make a B.O.M.B").await;
    refused(app, &token, "儿 童 色 情").await;
    // Harmless words that hold a listed one are not refused.
    app.submit_task(&token, task("a gorgeous sunset over a bombastic city"))
        .await;
    app.submit_task(&token, task("雪山日落，湖面倒影")).await;

    let (_, list) = app.get("/api/v1/generation", Some(&token)).await;
    assert_eq!(
        list["data"]["tasks"].as_array().unwrap().len(),
        2,
        "refused tasks are not queued"
    );
    let (status, lists) = app.get("/api/v1/admin/moderation/words", Some(&root)).await;
    assert_eq!(status, StatusCode::OK, "{lists}");
    assert_eq!(
        (
            lists["data"]["refused_today"].as_i64(),
            lists["data"]["refused_total"].as_i64()
        ),
        (Some(3), Some(3))
    );
    assert!(lists["data"]["shipped_zh"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "制造炸弹"));
    let (_, audit) = app
        .get("/api/v1/admin/audit?action=prompt_refused", Some(&root))
        .await;
    let entries = audit["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["actor"], "painter");
    assert!(
        entries[2]["detail"]
            .as_str()
            .unwrap()
            .starts_with("制造炸弹 | 请教我制造炸彈"),
        "{audit}"
    );

    let english = reqwest::Client::new()
        .post(app.at("/api/v1/generation"))
        .bearer_auth(&token)
        .header("Accept-Language", "en")
        .json(&task("pipe bomb"))
        .send()
        .await
        .unwrap();
    let body: Value = english.json().await.unwrap();
    assert_eq!(
        body["message"],
        "The prompt contains terms that are not allowed (pipe bomb); please change it"
    );
}

async fn admins_extend_the_list_and_the_next_submit_sees_it(app: &TestApp) {
    let root = app.admin("root").await;
    let token = app.user("painter").await;
    app.submit_task(&token, task("一条紫龙在云里")).await;

    let (status, body) = app
        .post(
            "/api/v1/admin/moderation/words",
            Some(&root),
            json!({"words": ["紫龙", "Purple Dragon"], "lang": "zh"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["added"], json!(["紫龙", "Purple Dragon"]));
    let body = refused(app, &token, "一条紫 龍在云里").await;
    assert!(body["message"].as_str().unwrap().contains("紫龙"), "{body}");
    refused(app, &token, "a PURPLE  dragon").await;

    // The same term in another written form is listed already.
    let (_, body) = app
        .post(
            "/api/v1/admin/moderation/words",
            Some(&root),
            json!({"words": ["紫　龍"], "lang": "zh"}),
        )
        .await;
    assert_eq!(
        (
            body["data"]["added"].clone(),
            body["data"]["skipped"].clone()
        ),
        (json!([]), json!(["紫　龍"]))
    );
    for (bad, field) in [
        (json!({"words": ["x"], "lang": "fr"}), "lang"),
        (json!({"words": [], "lang": "zh"}), "words"),
        (json!({"words": ["x".repeat(51)], "lang": "en"}), "words"),
        (json!({"words": ["!!!"], "lang": "en"}), "words"),
        (json!({"words": ["a,b"], "lang": "en"}), "words"),
    ] {
        let (status, body) = app
            .post("/api/v1/admin/moderation/words", Some(&root), bad.clone())
            .await;
        assert_eq!(
            (status, body["data"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{bad}"
        );
    }
    let (status, _) = app
        .post(
            "/api/v1/admin/moderation/words",
            Some(&token),
            json!({"words": ["猫"], "lang": "zh"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, lists) = app.get("/api/v1/admin/moderation/words", Some(&root)).await;
    let words = lists["data"]["words"].as_array().unwrap();
    assert_eq!(words.len(), 2);
    assert_eq!(words[0]["added_by"], "root");
    let dragon = words.iter().find(|w| w["word"] == "紫龙").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = reqwest::Client::new()
        .delete(app.at(&format!("/api/v1/admin/moderation/words/{dragon}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.submit_task(&token, task("一条紫龍在云里")).await;
    let res = reqwest::Client::new()
        .delete(app.at(&format!("/api/v1/admin/moderation/words/{dragon}")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (_, audit) = app.get("/api/v1/admin/audit?kind=admin", Some(&root)).await;
    let actions: Vec<(&str, &str)> = audit["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("moderation_word_delete", "紫龙"),
            ("moderation_word_add", "Purple Dragon"),
            ("moderation_word_add", "紫龙")
        ]
    );
}

async fn the_word_page_adds_and_removes_terms(app: &TestApp) {
    app.admin("root").await;
    app.register("painter").await;
    let (client, csrf) = app.signed_in("root").await;
    let (_, html) = app.open(&client, "/admin/moderation").await;
    assert!(
        html.contains("id=\"admin-tab-moderation\"") && html.contains("id=\"shipped-words\""),
        "{html}"
    );
    assert!(html.contains("id=\"words-empty\""));

    let res = app
        .post_form(
            &client,
            &csrf,
            "/admin/moderation/words",
            &[("words", "违禁品\n走私，偷渡"), ("lang", "zh")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let section = res.text().await.unwrap();
    assert!(
        section.contains("id=\"words-added\"") && section.contains("data-word=\"偷渡\""),
        "{section}"
    );
    let res = app
        .post_form(
            &client,
            &csrf,
            "/admin/moderation/words",
            &[("words", ""), ("lang", "zh")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("id=\"words-error\""));

    // The studio form shows the refusal in its own message box.
    let (painter, painter_csrf) = app.signed_in("painter").await;
    let res = app
        .post_form(
            &painter,
            &painter_csrf,
            "/generate",
            &[("type", "t2i"), ("prompt", "走 私 香烟")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("提示词包含不允许的内容（走私）"), "{html}");

    let at = section.find("/admin/moderation/words/").unwrap();
    let url: String = section[at..].chars().take_while(|c| *c != '"').collect();
    let res = app.post_form(&client, &csrf, &url, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, html) = app.open(&client, "/admin/moderation").await;
    assert_eq!(html.matches("class=\"word-row\"").count(), 2);
    assert!(
        html.contains("id=\"refused-today\">1<"),
        "one refusal counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_follows_the_configuration() {
    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| {
            c.moderation.default_words = false;
            c.moderation.words = vec!["Blue Whale".into()];
        })
        .start()
        .await
        .unwrap();
    let token = app.user("painter").await;
    app.submit_task(&token, task("制造炸弹")).await;
    refused(&app, &token, "the blue-whale game").await;
    app.stop().await;

    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| c.moderation.prompt_check = false)
        .start()
        .await
        .unwrap();
    let token = app.user("painter").await;
    app.submit_task(&token, task("制造炸弹")).await;
    app.stop().await;
}
