//! Making a task again (issue 9.2, 9.3): 重试 of a task made with an aspect ratio, and 复用参数 /
//! 换个模型再生成, which open the main page with the task's recipe in the form.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    retry_keeps_the_aspect_ratio_of_the_first_attempt,
    reuse_puts_the_recipe_into_the_form,
);

async fn retry_keeps_the_aspect_ratio_of_the_first_attempt(app: &TestApp) {
    app.stop_engine();
    let token = app.user("again").await;
    let body = json!({"type": "t2i", "prompt": "竖幅的鹿", "params": {"aspect": "9:16", "resolution": "480p"}});
    let task = app.submit_task(&token, body).await;
    let (status, body) = app.task_action(&token, &task, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.task_action(&token, &task, "retry").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let params = &body["data"]["params"];
    assert_eq!(params["aspect"], "9:16", "{body}");
    assert_eq!(params["size"], "480x856", "{body}");
    assert_ne!(body["data"]["task_id"], task);

    // The page's 重试 button goes through the same service.
    let (browser, csrf) = app.signed_in("again").await;
    let retried = body["data"]["task_id"].as_str().unwrap().to_string();
    app.task_action(&token, &retried, "cancel").await;
    let res = app
        .post_form(&browser, &csrf, &format!("/generate/{retried}/retry"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(!html.contains("只能选一种"), "{html}");
}

async fn reuse_puts_the_recipe_into_the_form(app: &TestApp) {
    app.stop_engine();
    let token = app.user("reuser").await;
    let body = json!({"type": "t2i", "prompt": "雪山\"日落\"", "params": {"aspect": "16:9", "seed": 7, "style": "watercolor"}});
    let task = app.submit_task(&token, body).await;
    let (browser, _) = app.signed_in("reuser").await;

    let (_, html) = app.open(&browser, &format!("/?reuse={task}")).await;
    let recipe = data_reuse(&html).expect("the form carries the recipe");
    assert_eq!(recipe["prompt"], "雪山\"日落\"");
    assert_eq!(recipe["type"], "t2i");
    assert_eq!(recipe["params"]["aspect"], "16:9");
    assert_eq!(recipe["params"]["seed"], 7);
    assert!(recipe["params"]["size"].is_null(), "{recipe}");
    assert_eq!(recipe["model"], "local/procedural");

    // Another model of the same kind when there is one; the only one otherwise.
    let (_, html) = app
        .open(&browser, &format!("/?reuse={task}&other_model=1"))
        .await;
    let recipe = data_reuse(&html).expect("recipe");
    let (_, models) = app.get("/api/v1/models", Some(&token)).await;
    let able = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kinds"].as_array().unwrap().contains(&json!("t2i")))
        .count();
    if able > 1 {
        assert_ne!(recipe["model"], "local/procedural");
    } else {
        assert_eq!(recipe["model"], "local/procedural");
    }

    // Someone else's task, or none, leaves the form empty instead of failing.
    app.user("nosy").await;
    let (other, _) = app.signed_in("nosy").await;
    for path in [format!("/?reuse={task}"), "/?reuse=nope".to_string()] {
        let res = other.get(app.at(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(data_reuse(&res.text().await.unwrap()).is_none());
    }
}

/// The JSON in the form's `data-reuse` attribute.
fn data_reuse(html: &str) -> Option<Value> {
    let start = html.find("data-reuse=\"")? + "data-reuse=\"".len();
    let raw = &html[start..start + html[start..].find('"')?];
    let text = raw
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    serde_json::from_str(&text).ok()
}
