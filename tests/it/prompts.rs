//! Prompt help (issue 13 item 5) over HTTP: templates built in and per person (others' ids are
//! 404, built-in ones fixed), placeholders filled, style presets (built-in and configured)
//! that add words and replace the previous one, the prompt history (deduplicated, newest
//! first, keyset pages, Chinese search, only your own and not deleted), and the assistant's
//! expand and translate against a loopback fake of the OpenAI chat-completions contract with
//! its error matrix; names and prompts are escaped on every page.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::chat::{FakeChat, Reply};
use crate::support::{Backend, TestApp};
use crate::{on_both_backends, on_both_backends_with};

fn ids(list: &Value) -> Vec<String> {
    list["data"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

async fn templates_are_built_in_or_your_own_and_others_ids_are_404(app: &TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let (status, list) = app.get("/api/v1/prompts/templates", Some(&alice)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(ids(&list).contains(&"portrait".to_string()), "{list}");
    let portrait = &list["data"]["templates"][0];
    assert_eq!(portrait["builtin"], true);
    assert_eq!(
        portrait["name"], "人像写真",
        "Chinese by default: {portrait}"
    );
    assert_eq!(portrait["placeholders"], json!(["subject", "style"]));

    let body = json!({"name": "我的水彩", "body": "{主体}的水彩画，{style}，柔和的晕染", "negative_prompt": "照片"});
    let (status, made) = app
        .post("/api/v1/prompts/templates", Some(&alice), body.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["data"]["placeholders"], json!(["主体", "style"]));
    assert_eq!(made["data"]["builtin"], false);
    let (status, again) = app
        .post("/api/v1/prompts/templates", Some(&alice), body)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["data"]["field"], "name");
    let (status, empty) = app
        .post(
            "/api/v1/prompts/templates",
            Some(&alice),
            json!({"name": "x", "body": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{empty}");
    assert_eq!(empty["data"]["field"], "body");

    let (_, list) = app.get("/api/v1/prompts/templates", Some(&alice)).await;
    assert_eq!(
        ids(&list).last(),
        Some(&id),
        "yours come after the built-in ones"
    );
    let (_, bobs) = app.get("/api/v1/prompts/templates", Some(&bob)).await;
    assert!(
        !ids(&bobs).contains(&id),
        "bob does not see alice's template"
    );

    let path = format!("/api/v1/prompts/templates/{id}");
    let (status, filled) = app
        .post(
            &format!("{path}/fill"),
            Some(&alice),
            json!({"values": {"主体": "一只橘猫", "style": ""}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{filled}");
    assert_eq!(filled["data"]["prompt"], "一只橘猫的水彩画，柔和的晕染");
    assert_eq!(filled["data"]["negative_prompt"], "照片");

    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"name": "mine now", "body": "x"}))),
        (Method::DELETE, None),
    ] {
        let (status, answer) = app.send(method.clone(), &path, Some(&bob), body).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} by another user: {answer}"
        );
    }
    let (status, _) = app
        .post(&format!("{path}/fill"), Some(&bob), json!({"values": {}}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, changed) = app
        .send(
            Method::PUT,
            &path,
            Some(&alice),
            Some(json!({"name": "水彩", "body": "{subject}, watercolor"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["data"]["placeholders"], json!(["subject"]));

    for method in [Method::PUT, Method::DELETE] {
        let (status, answer) = app
            .send(
                method,
                "/api/v1/prompts/templates/portrait",
                Some(&alice),
                Some(json!({"name": "n", "body": "b"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    }
    let (status, _) = app.send(Method::DELETE, &path, Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&path, Some(&alice)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A built-in template in English, filled with one value left out.
async fn a_built_in_template_fills_in_the_language_asked_for(app: &TestApp) {
    let token = app.user("carol").await;
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/prompts/templates/portrait/fill"))
        .bearer_auth(&token)
        .header("Accept-Language", "en")
        .json(&json!({"values": {"subject": "an old fisherman"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["data"]["prompt"],
        "portrait photo of an old fisherman, soft natural light, shallow depth of field, 85mm lens, detailed skin texture"
    );
    let long = "长".repeat(500);
    let (status, answer) = app
        .post(
            "/api/v1/prompts/templates/poster/fill",
            Some(&token),
            json!({"values": {"subject": long, "title": long, "style": long, "x": "y"}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "1,500 characters of values fit: {answer}"
    );
    let (status, _) = app
        .post(
            "/api/v1/prompts/templates/poster/fill",
            Some(&token),
            json!({"values": {"subject": "长".repeat(501)}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

on_both_backends!(
    templates_are_built_in_or_your_own_and_others_ids_are_404,
    a_built_in_template_fills_in_the_language_asked_for
);

fn house_preset(config: &mut picturedeck::config::Config) {
    config
        .prompts
        .presets
        .push(picturedeck::config::PresetConfig {
            id: "house".into(),
            name: "House style".into(),
            words: "teal and orange, soft grain".into(),
            negative_prompt: "neon".into(),
        });
}

async fn presets_add_their_words_and_replace_the_one_before(app: &TestApp) {
    let token = app.user("dora").await;
    let (_, presets) = app.get("/api/v1/prompts/presets", Some(&token)).await;
    let all: Vec<&str> = presets["data"]["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        all.contains(&"cinematic") && all.last() == Some(&"house"),
        "{presets}"
    );

    let (status, first) = app
        .post(
            "/api/v1/prompts/presets/cinematic/apply",
            Some(&token),
            json!({"prompt": "雪地里的狐狸", "negative_prompt": "模糊"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["data"]["prompt"],
        "雪地里的狐狸，电影质感，戏剧性光影，浅景深，35mm 胶片颗粒"
    );
    assert_eq!(first["data"]["negative_prompt"], "模糊，过曝，平淡的光线");
    let (_, second) = app
        .post(
            "/api/v1/prompts/presets/ink/apply",
            Some(&token),
            json!({"prompt": first["data"]["prompt"], "negative_prompt": first["data"]["negative_prompt"], "previous": "cinematic"}),
        )
        .await;
    assert_eq!(
        second["data"]["prompt"],
        "雪地里的狐狸，中国水墨画，留白，宣纸质感，写意笔触"
    );
    assert_eq!(second["data"]["negative_prompt"], "模糊，鲜艳的色彩，3D");
    let (_, english) = app
        .post(
            "/api/v1/prompts/presets/house/apply",
            Some(&token),
            json!({"prompt": "a fox"}),
        )
        .await;
    assert_eq!(
        english["data"]["prompt"],
        "a fox, teal and orange, soft grain"
    );
    assert_eq!(english["data"]["negative_prompt"], "neon");
    let (status, _) = app
        .post(
            "/api/v1/prompts/presets/nope/apply",
            Some(&token),
            json!({"prompt": "a fox"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

on_both_backends_with!(super::house_preset; presets_add_their_words_and_replace_the_one_before);

async fn the_history_lists_each_prompt_once_newest_first_in_pages(app: &TestApp) {
    // Tasks stay queued: the history is about what was submitted.
    app.stop_engine();
    let erin = app.user("erin").await;
    let frank = app.user("frank").await;
    let submit = |token: String, prompt: String| async move {
        app.submit_task(
            &token,
            json!({"type": "t2i", "prompt": prompt, "params": {"size": "64x64"}}),
        )
        .await
    };
    for i in 0..25 {
        submit(erin.clone(), format!("第{i}只狐狸 fox {i}")).await;
    }
    let reused = submit(erin.clone(), "第3只狐狸 fox 3".into()).await;
    submit(erin.clone(), "a <b>bold</b> cat".into()).await;
    submit(frank.clone(), "frank's 狐狸".into()).await;

    let (status, page) = app.get("/api/v1/prompts/history", Some(&erin)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 20);
    assert_eq!(entries[0]["prompt"], "a <b>bold</b> cat");
    assert_eq!(
        entries[1]["prompt"], "第3只狐狸 fox 3",
        "used again: newest"
    );
    assert_eq!(entries[1]["task_id"], reused.as_str());
    assert_eq!(entries[1]["uses"], 2);
    assert_eq!(entries[2]["prompt"], "第24只狐狸 fox 24");
    let next = page["data"]["next"].as_str().unwrap().to_string();
    let (_, rest) = app
        .get(
            &format!("/api/v1/prompts/history?before={next}"),
            Some(&erin),
        )
        .await;
    let rest: Vec<&str> = rest["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 6, "{rest:?}");
    assert_eq!(rest.last(), Some(&"第0只狐狸 fox 0"));
    assert!(
        !rest.contains(&"第3只狐狸 fox 3"),
        "each prompt once: {rest:?}"
    );

    let (_, found) = app
        .get("/api/v1/prompts/history?q=%E7%AC%AC1", Some(&erin))
        .await;
    let found: Vec<&str> = found["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 11, "第1 and 第10–19: {found:?}");
    let (_, found) = app
        .get("/api/v1/prompts/history?q=FOX%2012", Some(&erin))
        .await;
    assert_eq!(
        found["data"]["entries"][0]["prompt"], "第12只狐狸 fox 12",
        "case ignored"
    );
    let (_, none) = app
        .get("/api/v1/prompts/history?q=100%25", Some(&erin))
        .await;
    assert_eq!(none["data"]["entries"], json!([]), "% is no wildcard");

    let (_, franks) = app
        .get("/api/v1/prompts/history?q=%E7%8B%90", Some(&frank))
        .await;
    assert_eq!(
        franks["data"]["entries"].as_array().unwrap().len(),
        1,
        "{franks}"
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/prompts/history?before={next}"),
            Some(&frank),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another person's task is no cursor"
    );
}

async fn deleted_results_leave_the_history(app: &TestApp) {
    let token = app.user("gina").await;
    let kept = app.finished(&token, "t2i", "留下的提示词").await;
    let gone = app.finished(&token, "t2i", "删掉的提示词").await;
    let (status, answer) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/library/results/{gone}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, page) = app.get("/api/v1/prompts/history", Some(&token)).await;
    assert_eq!(
        page["data"]["entries"].as_array().unwrap().len(),
        1,
        "{page}"
    );
    assert_eq!(page["data"]["entries"][0]["task_id"], kept.as_str());
}

on_both_backends!(
    the_history_lists_each_prompt_once_newest_first_in_pages,
    deleted_results_leave_the_history
);

/// An app whose assistant is the fake at `url`, and whose offline model says it reads English
/// prompts best.
pub async fn with_assistant(url: &str, timeout_seconds: u64) -> TestApp {
    let url = url.to_string();
    TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            c.providers[0].models[0].prompt_language =
                Some(picturedeck::prompts::model::Language::En);
            c.prompts.assistant.base_url = url;
            c.prompts.assistant.model = "gpt-4o-mini".into();
            c.prompts.assistant.api_key = Some("sk-chat-test".into());
            c.prompts.assistant.timeout_seconds = timeout_seconds;
        })
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_expands_and_translates_through_the_chat_contract() {
    let chat = FakeChat::start().await;
    let app = with_assistant(&chat.url, 2).await;
    let token = app.user("hana").await;
    let (client, _) = app.signed_in("hana").await;
    let (_, tools) = app.open(&client, "/prompts/tools").await;
    assert!(
        tools.contains("id=\"pt-expand\"") && tools.contains("id=\"pt-translate\""),
        "{tools}"
    );

    let (status, expanded) = app
        .post(
            "/api/v1/prompts/expand",
            Some(&token),
            json!({"prompt": "雪地里的红狐狸"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{expanded}");
    assert_eq!(
        expanded["data"]["prompt"],
        "雪地里的红狐狸，清晨的金色阳光，薄雾，浅景深，电影感构图"
    );
    assert_eq!(expanded["data"]["language"], "zh");
    let call = &chat.calls()[0];
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.authorization.as_deref(), Some("Bearer sk-chat-test"));
    assert_eq!(call.body["model"], "gpt-4o-mini");
    assert_eq!(call.message("user"), "雪地里的红狐狸");
    assert!(
        call.message("system").contains("same language"),
        "{:?}",
        call.body
    );

    let (_, english) = app
        .post(
            "/api/v1/prompts/translate",
            Some(&token),
            json!({"prompt": "雪地里的红狐狸"}),
        )
        .await;
    assert_eq!(
        english["data"],
        json!({"prompt": "a red fox in the snow", "language": "en"})
    );
    let (_, back) = app
        .post(
            "/api/v1/prompts/translate",
            Some(&token),
            json!({"prompt": "a red fox in the snow"}),
        )
        .await;
    assert_eq!(
        back["data"],
        json!({"prompt": "雪地里的红狐狸", "language": "zh"})
    );
    let (_, asked) = app
        .post(
            "/api/v1/prompts/translate",
            Some(&token),
            json!({"prompt": "a red fox in the snow", "to": "en"}),
        )
        .await;
    assert_eq!(asked["data"]["language"], "en");
    assert!(chat
        .calls()
        .last()
        .unwrap()
        .message("system")
        .contains("into English"));

    // Chatty answers are cut down to the prompt.
    chat.script([Reply::Text("Prompt: \"a fox, golden hour\"".into())]);
    let (_, cut) = app
        .post(
            "/api/v1/prompts/expand",
            Some(&token),
            json!({"prompt": "a fox"}),
        )
        .await;
    assert_eq!(cut["data"]["prompt"], "a fox, golden hour");

    // The error matrix: each a clear message and its own status, never a 500.
    let cases: Vec<(Reply, StatusCode, &str)> = vec![
        (
            Reply::Status {
                status: 429,
                body: r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
                retry_after: Some(7),
            },
            StatusCode::TOO_MANY_REQUESTS,
            "正忙",
        ),
        (
            Reply::Status {
                status: 500,
                body: "upstream broke".into(),
                retry_after: None,
            },
            StatusCode::BAD_GATEWAY,
            "暂时不可用",
        ),
        (
            Reply::Status {
                status: 503,
                body: "".into(),
                retry_after: None,
            },
            StatusCode::BAD_GATEWAY,
            "暂时不可用",
        ),
        (Reply::Garbage, StatusCode::BAD_GATEWAY, "无法识别"),
        (
            Reply::Text("   ".into()),
            StatusCode::BAD_GATEWAY,
            "无法识别",
        ),
        (
            Reply::Status {
                status: 401,
                body:
                    r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#
                        .into(),
                retry_after: None,
            },
            StatusCode::BAD_GATEWAY,
            "密钥被拒绝",
        ),
        (
            Reply::Status {
                status: 400,
                body:
                    r#"{"error":{"message":"content management policy","code":"content_filter"}}"#
                        .into(),
                retry_after: None,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "拒绝处理",
        ),
        (
            Reply::Refusal("I can't help with that.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "拒绝处理",
        ),
        (
            Reply::Slow(Duration::from_secs(4)),
            StatusCode::GATEWAY_TIMEOUT,
            "没有及时回应",
        ),
    ];
    for (reply, status, words) in cases {
        let shown = format!("{reply:?}");
        chat.script([reply]);
        let (got, answer) = app
            .post(
                "/api/v1/prompts/expand",
                Some(&token),
                json!({"prompt": "a fox"}),
            )
            .await;
        assert_eq!(got, status, "{shown}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{shown}: {answer}"
        );
    }
    let (status, _) = app
        .post(
            "/api/v1/prompts/expand",
            Some(&token),
            json!({"prompt": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_assistant_expand_says_so_and_the_form_has_no_buttons() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let token = app.user("ivan").await;
    let (status, answer) = app
        .post(
            "/api/v1/prompts/expand",
            Some(&token),
            json!({"prompt": "a fox"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("没有配置提示词助手"),
        "{answer}"
    );
    let (client, _) = app.signed_in("ivan").await;
    let (_, tools) = app.open(&client, "/prompts/tools").await;
    assert!(
        tools.contains("id=\"pt-history-toggle\"") && !tools.contains("pt-expand"),
        "{tools}"
    );
    app.stop().await;
}

/// Script in a template's name and body and in a prompt is text on every page.
async fn names_and_prompts_are_escaped_on_every_page(app: &TestApp) {
    app.stop_engine();
    let token = app.user("mallory").await;
    let evil = "<script>alert(1)</script>";
    let (status, _) = app
        .post(
            "/api/v1/prompts/templates",
            Some(&token),
            json!({"name": evil, "body": format!("{{subject}} {evil}")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.submit_task(
        &token,
        json!({"type": "t2i", "prompt": format!("<img src=x onerror=alert(2)> {evil}")}),
    )
    .await;
    let (client, csrf) = app.signed_in("mallory").await;
    for path in [
        "/prompts",
        "/prompts/tools",
        "/prompts/history",
        "/prompts/history?q=%3Cimg",
    ] {
        let (_, html) = app.open(&client, path).await;
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x"),
            "{path}: {html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
                || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || html.contains("&lt;img"),
            "{path}: {html}"
        );
    }
    // The page form: an error comes back beside its field, and a good save lists the template.
    let res = app
        .post_form(
            &client,
            &csrf,
            "/prompts/templates",
            &[("name", evil), ("body", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("同名") && !html.contains("<script>alert"),
        "{html}"
    );
    let res = app
        .post_form(
            &client,
            &csrf,
            "/prompts/templates",
            &[("name", "海报 2"), ("body", "{title} poster")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("海报 2"));
}

on_both_backends!(names_and_prompts_are_escaped_on_every_page);
