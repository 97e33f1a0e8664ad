//! The studio page in a real Chromium, at a desktop (1440×900) and a phone (390×844) size:
//! 开始生成 is always within reach (and Ctrl+Enter submits), one submission of four is one card
//! of four pictures that keep their shape, cards say the model and filter, tasks made elsewhere
//! appear live with real progress, a card under the pointer or with a playing video is not
//! swapped away, a vendor's unreported progress is a moving bar, and on a phone the new task is
//! in view after submitting. Screenshots go to `screenshot_dir()`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fakes::FakeVendor;
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};

/// The id of the card whose prompt contains `words`, once there is one.
async fn card_with(b: &Browser, words: &str, seconds: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let id = b
            .script(&format!(
                "const c = [...document.querySelectorAll('#tasks .task-card')].find(c => c.querySelector('.task-prompt').textContent.includes({words:?})); return c ? c.id : null;"
            ))
            .await;
        if let Some(id) = id.as_str() {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "no card for {words}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_of(app: &TestApp, token: &str, id: &str) -> String {
    let (_, body) = app
        .get(&format!("/api/v1/generation/{id}"), Some(token))
        .await;
    body["data"]["status"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_is_usable_and_live_at_desktop_and_phone_sizes() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let shots = screenshot_dir();
    let token = app.user("painter").await;
    let label = app.state.providers.models()[0].label.clone();

    // A full list: single pictures, one tall submission of four, and a filtered i2i.
    let mut ids = Vec::new();
    for i in 0..8 {
        let made = app
            .submit(
                &token,
                json!({"type": "t2i", "prompt": format!("雪山 {i}"), "params": {"size": "96x96"}}),
            )
            .await;
        ids.push(made["task_id"].as_str().unwrap().to_string());
    }
    let four = app.submit(&token, json!({"type": "t2i", "prompt": "竖幅 一只鹿", "params": {"aspect": "9:16", "resolution": "480p", "n": 4}}),
    )
    .await;
    let four: Vec<String> = four["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(four.len(), 4);
    let reference = picturedeck::storage::images::encode_png(
        &picturedeck::generation::providers::local::paint::paint("湖", 1, 96, 64),
    )
    .unwrap();
    let uploaded: Value = reqwest::Client::new()
        .post(app.at("/api/v1/upload"))
        .bearer_auth(&token)
        .body(reference)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = uploaded["data"]["file_id"].as_str().unwrap();
    let filtered = app.submit(&token, json!({"type": "i2i", "prompt": "湖边", "images": [file], "params": {"style": "watercolor"}})).await;
    ids.extend(four.iter().cloned());
    ids.push(filtered["task_id"].as_str().unwrap().to_string());
    app.wait_completed(&token, &ids).await;

    let b = Browser::start(&driver).await;
    b.sign_in(&app, "painter").await;
    b.wait_for_text("#welcome", "painter").await;

    for (size, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/")).await;
        b.find("#tasks .task-card").await;
        let inner = b.script("return [innerWidth, innerHeight];").await;
        assert_eq!(inner, json!([width, height]), "{size}");

        // 开始生成 is in view and nothing covers it, without any scrolling.
        let reach = b
            .script(
                "const b = document.getElementById('generate-submit'); const r = b.getBoundingClientRect();
                 const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                 return [r.top >= 0 && r.bottom <= innerHeight, at === b || b.contains(at), scrollY];",
            )
            .await;
        assert_eq!(
            reach,
            json!([true, true, 0]),
            "{size}: the button is out of reach"
        );
        b.screenshot(&shots.join(format!("studio-{size}-1-form.png")))
            .await;

        // The four pictures of one submit are one card, each opening on its own.
        let grid = b
            .script(
                "const cards = [...document.querySelectorAll('#tasks .task-card')].filter(c => c.querySelector('.batch-cell'));
                 if (cards.length !== 1) return cards.length;
                 return [...cards[0].querySelectorAll('.batch-cell a.media-open')].map(a => a.getAttribute('href'));",
            )
            .await;
        let links = grid
            .as_array()
            .unwrap_or_else(|| panic!("{size}: {grid} grid cards"));
        assert_eq!(links.len(), 4, "{size}: {grid}");
        for id in &four {
            assert!(
                links
                    .iter()
                    .any(|l| l.as_str().unwrap().contains(id.as_str())),
                "{size}: {id} has no link of its own: {grid}"
            );
        }
        // A 9:16 picture is shown whole, not cropped to the frame.
        // (contain inside a box that the cell does not clip: the whole picture shows.)
        let fit = b
            .script_async(
                "const done = arguments[0]; const i = document.querySelector('.batch-cell img');
                 // A lazy image below the fold (the phone size) loads only once it is near view.
                 i.scrollIntoView({block: 'center'});
                 const check = () => {
                   if (i.complete && !i.naturalWidth) return done(JSON.stringify(['broken', i.currentSrc]));
                   if (!i.complete) return setTimeout(check, 50);
                   const r = i.getBoundingClientRect(), c = i.closest('.batch-cell').getBoundingClientRect();
                   const inside = r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1 && r.bottom <= c.bottom + 1;
                   done(JSON.stringify([Math.abs(i.naturalWidth / i.naturalHeight - 9 / 16) < 0.02, getComputedStyle(i).objectFit, inside]));
                 };
                 check();",
            )
            .await;
        let fit: Value = serde_json::from_str(&fit).unwrap();
        assert_eq!(fit, json!([true, "contain", true]), "{size}");
        // Cards say the model by its label, the filter used and what the painter drew.
        let said = b
            .script(
                "const t = s => [...document.querySelectorAll('#tasks ' + s)].map(e => e.textContent).join('|');
                 return [t('.task-model'), t('.task-style'), t('.notes-understood')];",
            )
            .await;
        assert!(said[0].as_str().unwrap().contains(&label), "{size}: {said}");
        assert!(said[1].as_str().unwrap().contains("水彩"), "{size}: {said}");
        assert!(said[2].as_str().unwrap().contains("雪"), "{size}: {said}");
        b.screenshot(&shots.join(format!("studio-{size}-2-gallery.png")))
            .await;

        // A task made through the API appears by itself, with its progress moving.
        let wave = format!("海浪 {size}");
        let made = app.submit(&token, json!({"type": "t2v", "prompt": wave, "params": {"duration": 3, "resolution": "480p"}}),
        )
        .await;
        let task = made["task_id"].as_str().unwrap().to_string();
        let card = card_with(&b, &wave, 20).await;
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut seen = Vec::new();
        while seen.iter().all(|p: &i64| !(1..100).contains(p)) {
            let p = b.script(&format!("const p = document.querySelector('#{card} .percent'); return p ? parseInt(p.textContent, 10) : -1;")).await;
            seen.push(p.as_i64().unwrap_or(-1));
            assert!(
                Instant::now() < deadline,
                "{size}: no progress shown: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        b.screenshot(&shots.join(format!("studio-{size}-3-progress.png")))
            .await;

        // The card under the pointer is not swapped while the pointer stays on it.
        b.script(&format!(
            "document.querySelector('#{card}').scrollIntoView({{block: 'center'}}); return null;"
        ))
        .await;
        b.hover(Some(&format!("#{card}"))).await;
        let hovered = b
            .script(&format!(
                "return document.getElementById('{card}').matches(':hover');"
            ))
            .await;
        assert_eq!(
            hovered,
            json!(true),
            "{size}: the pointer is not on the card"
        );
        b.script(&format!(
            "document.getElementById('{card}').dataset.mark = 'kept'; return null;"
        ))
        .await;
        let running = b.attribute(&format!("#{card}"), "data-status").await;
        assert_eq!(
            running, "processing",
            "{size}: finished before the pointer got there"
        );
        while status_of(&app, &token, &task).await != "completed" {
            assert!(
                Instant::now() < deadline,
                "{size}: the video never finished"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let held = b.script(&format!("const c = document.getElementById('{card}'); return [c.dataset.mark || '', c.dataset.status];")).await;
        assert_eq!(
            held,
            json!(["kept", "processing"]),
            "{size}: swapped under the pointer"
        );
        b.hover(None).await;
        b.find_within(&format!("#{card}[data-status=completed] video"), 10)
            .await;
        let mark = b
            .script(&format!(
                "return document.getElementById('{card}').dataset.mark || '';"
            ))
            .await;
        assert_eq!(mark, json!(""), "{size}");

        // Ctrl+Enter submits, and the new task is in view (on a phone the list is below).
        b.script("window.scrollTo(0, 0); return null;").await;
        let cat = format!("一只猫 {size}");
        b.fill("#prompt", &cat).await;
        b.keys("#prompt", "\u{E009}\u{E007}").await;
        let fresh = card_with(&b, &cat, 20).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let shown = b.script(&format!("const r = document.getElementById('{fresh}').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight - 40;")).await;
            if shown == json!(true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{size}: the new task is out of view"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        b.find_within(&format!("#{fresh}[data-status=completed]"), 60)
            .await;
        b.screenshot(&shots.join(format!("studio-{size}-4-submitted.png")))
            .await;
    }
    b.quit().await;
    app.stop().await;
}

/// Waits until `script` (returning a boolean) is true, up to `seconds`.
async fn until(b: &Browser, script: &str, seconds: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while b.script(script).await != json!(true) {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An app whose models include the DashScope fake's, `name` signed in there in Chromium.
async fn wan_studio(driver: &str, name: &str) -> (FakeVendor, TestApp, String, Browser) {
    let fake = FakeVendor::dashscope().await;
    let app = crate::providers::app_with_wan(&fake, Backend::Sqlite)
        .await
        .unwrap();
    let token = app.user(name).await;
    let b = Browser::start(driver).await;
    b.sign_in(&app, name).await;
    (fake, app, token, b)
}

/// A vendor that does not say how far it is (DashScope) shows a bar that moves and no number
/// while its task runs: the real engine polling the DashScope fake, the live stream, the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashscope_task_shows_a_moving_bar_and_no_number_while_it_runs() {
    let Some(driver) = chromedriver() else { return };
    let (fake, app, token, b) = wan_studio(&driver, "waiter").await;
    let shots = screenshot_dir();
    for (size, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/")).await;
        b.find("#tasks").await;
        fake.finish_at_most(0);
        let prompt = format!("江南水乡 {size}");
        let task = app
            .submit_task(
                &token,
                json!({"type": "t2i", "prompt": prompt, "model": "wan/wan2.2-t2i-flash"}),
            )
            .await;
        let card = card_with(&b, &prompt, 20).await;
        b.find_within(&format!("#{card}[data-status=processing] progress"), 20)
            .await;
        // Polled several times while RUNNING: still no number.
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake
            .seen()
            .iter()
            .filter(|s| s.path.contains("/tasks/"))
            .count()
            < 4
        {
            assert!(Instant::now() < deadline, "{size}: the engine never polled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let bar = b
            .script(&format!(
                "const c = document.getElementById('{card}'); const p = c.querySelector('progress');
                 c.scrollIntoView({{block: 'center'}});
                 return [c.dataset.status, p.matches(':indeterminate'), p.hasAttribute('value'),
                         getComputedStyle(p).animationName, c.querySelector('.percent') === null,
                         /\\d\\s*%/.test(c.textContent)];"
            ))
            .await;
        assert_eq!(
            bar,
            json!(["processing", true, false, "sweep", true, false]),
            "{size}"
        );
        b.screenshot(&shots.join(format!("studio-{size}-5-dashscope-running.png")))
            .await;
        fake.finish_at_most(usize::MAX);
        b.find_within(&format!("#{card}[data-status=completed] img"), 30)
            .await;
        assert_eq!(
            app.wait_final(&token, &task).await["data"]["status"],
            "completed"
        );
    }
    b.quit().await;
    app.stop().await;
    fake.stop().await;
}

/// A card whose video someone is playing is not replaced by a live update: the update waits
/// until the video is paused, then lands at once. Two videos of one submit from the DashScope
/// fake: one finishes and plays (muted, looping, the pointer elsewhere) while the other
/// finishes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_video_is_not_replaced_by_a_live_update() {
    let Some(driver) = chromedriver() else { return };
    let (fake, app, token, b) = wan_studio(&driver, "watcher").await;
    let shots = screenshot_dir();
    for (size, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/")).await;
        b.find("#tasks").await;
        fake.finish_at_most(1);
        let prompt = format!("海浪 {size}");
        let made = app
            .submit(
                &token,
                json!({"type": "t2v", "prompt": prompt, "model": "wan/wan2.2-t2v-plus",
                       "params": {"size": "1280*720", "duration": 5, "n": 2}}),
            )
            .await;
        let batch: Vec<String> = made["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(batch.len(), 2, "{made}");
        let card = card_with(&b, &prompt, 20).await;
        b.find_within(&format!("#{card} video"), 30).await;
        b.script(&format!(
            "const c = document.getElementById('{card}'); c.scrollIntoView({{block: 'center'}});
             c.dataset.mark = 'kept'; const v = c.querySelector('video');
             v.muted = true; v.loop = true; v.play(); return null;"
        ))
        .await;
        until(
            &b,
            &format!("const v = document.querySelector('#{card} video'); return !v.paused && v.currentTime > 0;"),
            20,
            "the video never played",
        )
        .await;
        b.hover(None).await;
        let pointed = b
            .script(&format!(
                "return document.getElementById('{card}').matches(':hover');"
            ))
            .await;
        assert_eq!(
            pointed,
            json!(false),
            "{size}: only the playing holds the card"
        );

        // The other video finishes; its card update waits while this one plays.
        fake.finish_at_most(usize::MAX);
        for id in &batch {
            assert_eq!(
                app.wait_final(&token, id).await["data"]["status"],
                "completed"
            );
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let held = b
            .script(&format!(
                "const c = document.getElementById('{card}'); const v = c.querySelector('video');
                 return [c.dataset.mark || '', c.querySelectorAll('video').length, !v.paused];"
            ))
            .await;
        assert_eq!(
            held,
            json!(["kept", 1, true]),
            "{size}: replaced while playing"
        );
        b.screenshot(&shots.join(format!("studio-{size}-6-playing-held.png")))
            .await;

        // Paused, the card catches up at once.
        b.script(&format!(
            "document.querySelector('#{card} video').pause(); return null;"
        ))
        .await;
        b.find_within(&format!("#{card}[data-status=completed]"), 10)
            .await;
        let after = b
            .script(&format!(
                "const c = document.getElementById('{card}'); return [c.dataset.mark || '', c.querySelectorAll('video').length];"
            ))
            .await;
        assert_eq!(after, json!(["", 2]), "{size}");
    }
    b.quit().await;
    app.stop().await;
    fake.stop().await;
}
