//! Batches and comparisons in a real Chromium at a laptop (1440×900) and a phone (390×844)
//! size, driven by clicks and keys: a comparison of three models started from the studio's
//! form fills in side by side and one result goes into a folder; a batch of 20 on a slow
//! vendor shows its progress moving and is canceled. Screenshots go to `screenshot_dir()`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::groups::three_local_models;
use crate::support::fakes::{Answer, FakeVendor};
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};

/// Waits until `script` (a JS expression's body returning a value) answers true.
async fn wait_until(b: &Browser, what: &str, script: &str, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while b.script(script).await != Value::Bool(true) {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn finished(b: &Browser) -> i64 {
    b.script("return parseInt(document.getElementById('group-progress').dataset.finished, 10);")
        .await
        .as_i64()
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comparison_fills_in_side_by_side_and_a_batch_of_20_can_be_canceled() {
    let Some(driver) = chromedriver() else { return };
    let fake = FakeVendor::openai().await;
    fake.script(vec![Answer::Slow(Duration::from_millis(700)); 60]);
    let base = fake.url.clone();
    let app = TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            three_local_models(c);
            c.providers.push(ProviderConfig {
                name: "slowai".into(),
                kind: ProviderKind::Openai,
                concurrency: 1,
                base_url: Some(base),
                api_key: Some("sk-test".into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 10,
                requests_per_minute: 0,
                models: vec![ModelConfig {
                    name: "slow-1".into(),
                    label: Some("Slow One".into()),
                    kinds: vec![Kind::T2i],
                    ..ModelConfig::default()
                }],
            });
        })
        .start()
        .await
        .unwrap();
    let token = app.user("viewer").await;
    app.sql("UPDATE users SET daily_quota = NULL").await;
    let (_, folder) = app
        .post(
            "/api/v1/library/folders",
            Some(&token),
            json!({"name": "精选"}),
        )
        .await;
    assert_eq!(folder["code"], 201, "{folder}");
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "viewer").await;
    for (name, width, height) in WINDOWS {
        b.window(width, height).await;

        // A comparison of three models, from the studio's own form.
        b.goto(&app.at("/")).await;
        b.click("#group-launch > summary").await;
        b.keys("#prompt", &format!("雪地里的狐狸 {name}")).await;
        for m in ["painter-a", "painter-b", "painter-c"] {
            b.click(&format!("input[name='models'][value='local/{m}']"))
                .await;
        }
        b.click("#start-compare").await;
        b.wait_for_url("/groups/").await;
        b.wait_for_count(".group-item", 3).await;
        wait_until(
            &b,
            "three pictures",
            "return [...document.querySelectorAll('.group-item[data-state=\"completed\"] img')].filter(i => i.complete && i.naturalWidth > 0).length === 3;",
            60,
        )
        .await;
        let tops = b
            .script("return [...document.querySelectorAll('.group-item')].map(e => Math.round(e.getBoundingClientRect().top));")
            .await;
        let tops: Vec<i64> = tops
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        if width > 1000 {
            assert!(
                tops.iter().all(|t| *t == tops[0]),
                "side by side at {name}: {tops:?}"
            );
        } else {
            assert_eq!(tops[0], tops[1], "two a row at {name}: {tops:?}");
        }
        let labels = b.text("#group-items").await;
        for label in ["Painter A", "Painter B", "Painter C", "已完成"] {
            assert!(labels.contains(label), "{label} at {name}: {labels}");
        }
        assert!(b.text("#group-progress").await.contains("100%"));
        b.click("#item-1 input[name='tasks']").await;
        b.click("#pick-submit").await;
        b.wait_for_text("#pick-result", "已放入文件夹：1").await;
        b.screenshot(&shots.join(format!("groups-compare-{name}.png")))
            .await;

        // A batch of 20 on the slow vendor: pasted prompts, the studio's model.
        b.goto(&app.at("/")).await;
        b.click("#group-launch > summary").await;
        b.select("#model", "slowai/slow-1").await;
        let prompts: Vec<String> = (1..=20).map(|i| format!("灯塔 {i}")).collect();
        b.keys("#batch-prompts-text", &prompts.join("\n")).await;
        b.click("#start-batch").await;
        b.wait_for_url("/groups/").await;
        b.wait_for_count(".group-item", 20).await;
        wait_until(
            &b,
            "the first result",
            "return parseInt(document.getElementById('group-progress').dataset.finished, 10) >= 1;",
            30,
        )
        .await;
        let seen = finished(&b).await;
        assert!(seen < 20, "the batch should still run: {seen}");
        wait_until(&b, "progress moving", &format!("return parseInt(document.getElementById('group-progress').dataset.finished, 10) > {seen};"), 30).await;
        b.screenshot(&shots.join(format!("groups-batch-running-{name}.png")))
            .await;
        b.click("#group-cancel").await;
        wait_until(
            &b,
            "nothing left running",
            "return document.querySelectorAll('.group-item[data-state=\"queued\"], .group-item[data-state=\"processing\"]').length === 0 && document.querySelectorAll('.group-item[data-state=\"canceled\"]').length > 0;",
            30,
        )
        .await;
        assert_eq!(finished(&b).await, 20);
        assert!(b.text("#group-progress").await.contains("取消"));
        b.screenshot(&shots.join(format!("groups-batch-canceled-{name}.png")))
            .await;
    }
    // Both stay in the library's list (its folder pane, at the laptop size).
    b.window(WINDOWS[0].1, WINDOWS[0].2).await;
    b.goto(&app.at("/library")).await;
    b.click("#folder-groups").await;
    b.wait_for_url("/groups").await;
    assert_eq!(b.count(".group-row").await, 4);
    b.screenshot(&shots.join("groups-list.png")).await;
    b.quit().await;
    fake.stop().await;
    app.stop().await;
}
