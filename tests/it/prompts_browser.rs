//! Prompt help in a real Chromium at a laptop (1440×900) and a phone (390×844) size, by typing
//! and clicking: a template of one's own saved on 我的模板, a built-in template picked and its
//! placeholders filled, a style preset applied and replaced, a history entry found by a Chinese
//! search and reused, the prompt expanded (and undone) and toggled between Chinese and
//! English through the chat fake, the English hint for a model that prefers English, and the
//! task submitted with the prompt so made. Screenshots go to `screenshot_dir()`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::prompts::with_assistant;
use crate::support::chat::FakeChat;
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};

/// Waits up to 30 s until the prompt box says `wanted` (whole or in part).
async fn prompt_becomes(b: &Browser, wanted: &str, whole: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = b
            .script("return document.getElementById('prompt').value;")
            .await;
        let value = value.as_str().unwrap_or_default().to_string();
        if (whole && value == wanted) || (!whole && value.contains(wanted)) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "the prompt says {value:?}, never {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn visible(b: &Browser, css: &str) -> bool {
    b.script(&format!("const e = document.querySelector({css:?}); return !!e && !e.hidden && e.offsetParent !== null;"))
        .await
        .as_bool()
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_presets_history_and_the_assistant_work_by_hand_at_both_sizes() {
    let Some(driver) = chromedriver() else { return };
    let chat = FakeChat::start().await;
    let app = with_assistant(&chat.url, 10).await;
    app.stop_engine();
    let shots = screenshot_dir();
    let token = app.user("lin").await;
    app.submit_task(&token, json!({"type": "t2i", "prompt": "雪地里的红狐狸"}))
        .await;
    app.submit_task(&token, json!({"type": "t2i", "prompt": "城市夜景 neon"}))
        .await;

    let b = Browser::start(&driver).await;
    b.sign_in(&app, "lin").await;

    // 我的模板: a template typed in and saved.
    b.window(WINDOWS[0].1, WINDOWS[0].2).await;
    b.goto(&app.at("/prompts")).await;
    b.fill("#pt-new-name", "我的海报").await;
    b.fill("#pt-new-body", "{主体}的极简海报，{style}").await;
    b.click("#pt-new-save").await;
    b.wait_for_text(".pt-mine-list", "我的海报").await;
    b.screenshot(&shots.join("prompts-templates-1440x900.png"))
        .await;

    for (name, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/")).await;
        b.find("#pt-templates-toggle").await;

        // A built-in template: its placeholders asked for, typed, and the prompt filled.
        b.click("#pt-templates-toggle").await;
        b.click(".pt-chip[data-template=portrait]").await;
        b.keys("input[data-placeholder=subject]", "一位老渔夫")
            .await;
        b.keys("input[data-placeholder=style]", "黑白胶片").await;
        b.screenshot(&shots.join(format!("prompts-fill-{name}.png")))
            .await;
        b.click("#pt-fill-apply").await;
        prompt_becomes(&b, "一位老渔夫的人像写真，黑白胶片，柔和的自然光", false).await;
        let negative = b
            .script("return document.querySelector('[name=negative_prompt]').value;")
            .await;
        assert_eq!(negative, json!("畸形的手，多余的手指，模糊，低质量"));

        // My own template, with a Chinese placeholder; Enter fills instead of submitting.
        b.click("#pt-templates-toggle").await;
        b.click(".pt-chip-mine").await;
        b.keys("input[data-placeholder=主体]", "春日市集").await;
        b.keys("input[data-placeholder=style]", "\u{E007}").await;
        prompt_becomes(&b, "春日市集的极简海报", true).await;

        // Styles: one applied, then another in its place.
        b.select("#pt-preset", "cinematic").await;
        prompt_becomes(
            &b,
            "春日市集的极简海报，电影质感，戏剧性光影，浅景深，35mm 胶片颗粒",
            true,
        )
        .await;
        b.select("#pt-preset", "watercolor").await;
        prompt_becomes(&b, "春日市集的极简海报，水彩画，柔和的晕染，纸张纹理", true).await;

        // History: found by a Chinese search and reused.
        b.click("#pt-history-toggle").await;
        b.find(".pt-history-use").await;
        b.keys("#pt-history-q", "红狐").await;
        b.wait_for_count(".pt-history-use", 1).await;
        b.screenshot(&shots.join(format!("prompts-history-{name}.png")))
            .await;
        b.click(".pt-history-use").await;
        prompt_becomes(&b, "雪地里的红狐狸", true).await;
        assert!(
            visible(&b, "#pt-english-hint").await,
            "the offline model is configured to prefer English"
        );

        // Expand through the assistant, undo, then 中 → EN and back.
        b.click("#pt-expand").await;
        prompt_becomes(&b, "雪地里的红狐狸，清晨的金色阳光", false).await;
        b.find("#pt-undo-bar:not([hidden])").await;
        b.screenshot(&shots.join(format!("prompts-expanded-{name}.png")))
            .await;
        b.click("#pt-undo").await;
        prompt_becomes(&b, "雪地里的红狐狸", true).await;
        b.click("#pt-translate").await;
        prompt_becomes(&b, "a red fox in the snow", true).await;
        b.wait_for_text("#pt-translate", "译为中文").await;
        assert!(!visible(&b, "#pt-english-hint").await);
        let calls = chat.calls().len();
        b.click("#pt-translate").await;
        prompt_becomes(&b, "雪地里的红狐狸", true).await;
        assert_eq!(
            chat.calls().len(),
            calls,
            "toggling back restores the original"
        );
        b.screenshot(&shots.join(format!("prompts-{name}.png")))
            .await;
    }

    // The prompt so made is what the task is submitted with; the tool row sent nothing.
    b.click("#pt-translate").await;
    prompt_becomes(&b, "a red fox in the snow", true).await;
    b.click("#generate-submit").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = app.get("/api/v1/prompts/history", Some(&token)).await;
        if page["data"]["entries"][0]["prompt"] == "a red fox in the snow" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task was not submitted: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.quit().await;
    app.stop().await;
    chat.stop().await;
}
