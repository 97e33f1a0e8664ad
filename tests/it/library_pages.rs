//! 生成记录 in a real Chromium at 1440×900 and at 390×844 with tasks in every state (issue 9:
//! 1–3, 6, 7, 9, 10): the list opens, a phone shows results first, filters live in the URL,
//! the detail page steps with ← →, deleting says so and lands on the list, and remaking a task
//! fills the form. Screenshots go to `screenshot_dir()`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::crawler::{seed_every_state, Seeded};
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};

const LEFT: &str = "\u{E012}";
const RIGHT: &str = "\u{E014}";

pub(crate) async fn signed_in(app: &TestApp, driver: &str, name: &str) -> Browser {
    let b = Browser::start(driver).await;
    b.sign_in(app, name).await;
    b
}

fn shot(dir: &Path, size: &str, name: &str) -> PathBuf {
    dir.join(format!("library-{size}-{name}.png"))
}

/// A number the page computes.
async fn number(b: &Browser, script: &str) -> f64 {
    let v: Value = b.script(script).await;
    v.as_f64().unwrap_or_else(|| panic!("{script} gave {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_reads_well_at_both_sizes_with_tasks_in_every_state() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let seeded: Seeded = seed_every_state(&app, "gallery").await;
    app.sql("UPDATE generations SET created_at = datetime('now', '-3 minutes') WHERE prompt = '雪山日落'")
        .await;
    let dir = screenshot_dir();
    let b = signed_in(&app, &driver, "gallery").await;
    for (size, width, height) in WINDOWS {
        let phone = width < 600;
        b.window(width, height).await;

        // 9.1: the list opens with queued, running, failed and canceled tasks in it.
        b.goto(&app.at("/library")).await;
        b.wait_for_count(".result-card", 7).await;
        b.screenshot(&shot(&dir, size, "list")).await;
        // The 9:16 picture is letterboxed in its square, not cropped to its middle.
        let fit = b
            .script(&format!(
                "return getComputedStyle(document.querySelector('#result-{} img')).objectFit;",
                seeded.done[1]
            ))
            .await;
        assert_eq!(fit, "contain");
        let square = b
            .script(&format!(
                "const r = document.querySelector('#result-{} .result-thumb').getBoundingClientRect(); return Math.abs(r.width - r.height) < 2;",
                seeded.done[1]
            ))
            .await;
        assert_eq!(
            square,
            Value::Bool(true),
            "{size}: a tall picture stretches its card"
        );
        // 9.10: times are relative ("3 分钟前", "现在"), the exact local time in the tooltip.
        let when = b.text(".result-card time.reltime").await;
        assert!(when.contains("前") || when.contains("现在"), "{when}");
        assert!(!when.contains("UTC"), "{when}");

        // 9.9: on a phone the first result is on the first screen; folders and filters
        // beyond search wait behind one button.
        let first_top = number(
            &b,
            "return document.querySelector('.result-card').getBoundingClientRect().top;",
        )
        .await;
        assert!(
            first_top < f64::from(height) - 120.0,
            "{size}: first result at {first_top}"
        );
        let pane_shown = b
            .script("return getComputedStyle(document.getElementById('folder-pane')).display !== 'none';")
            .await;
        assert_eq!(pane_shown, Value::Bool(!phone), "{size}: folder pane");
        if phone {
            b.click("#panels-toggle").await;
            b.find("#folder-pane #folder-all").await;
            let shown = b
                .script("return getComputedStyle(document.getElementById('filter-more')).display;")
                .await;
            assert_ne!(shown, "none");
            b.screenshot(&shot(&dir, size, "panels")).await;
            b.click("#panels-toggle").await;
        }

        // 9.10: the bulk bar stays in reach while scrolling (a phone's list is long enough).
        b.click(".result-card .pick-box").await;
        b.script("window.scrollTo(0, document.body.scrollHeight); return null;")
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let scrolled = number(&b, "return window.scrollY;").await;
        if scrolled > 100.0 {
            let bar = number(
                &b,
                "return document.getElementById('bulk-bar').getBoundingClientRect().top;",
            )
            .await;
            assert!(
                (0.0..120.0).contains(&bar),
                "{size}: bulk bar at {bar} after scrolling {scrolled}"
            );
            b.screenshot(&shot(&dir, size, "bulk-bar")).await;
        }

        // 9.10: search while typing (no Enter), the filters in the address; a reload keeps them.
        b.goto(&app.at("/library")).await;
        b.fill("#filter-q", "海浪").await;
        b.wait_for_count(".result-card", 1).await;
        b.wait_for_url("q=%E6%B5%B7%E6%B5%AA").await;
        b.goto(&b.url().await).await;
        b.wait_for_count(".result-card", 1).await;
        assert_eq!(b.attribute("#filter-q", "value").await, "海浪");

        // 9.10: the folder tree folds, and stays folded on the next visit.
        if phone {
            b.click("#panels-toggle").await;
        }
        let inner = &seeded.folders[1];
        let visible =
            format!("return document.getElementById('folder-{inner}').checkVisibility();");
        assert_eq!(b.script(&visible).await, Value::Bool(true));
        b.click(&format!(
            "details[data-folder-node='{}'] > summary .twisty",
            seeded.folders[0]
        ))
        .await;
        assert_eq!(b.script(&visible).await, Value::Bool(false));
        b.goto(&app.at("/library")).await;
        b.find(".result-card").await;
        if phone {
            b.click("#panels-toggle").await;
        }
        b.find("#folder-all").await;
        assert_eq!(b.script(&visible).await, Value::Bool(false), "stays folded");
        b.script("localStorage.removeItem('pd.folded'); return null;")
            .await;

        // 9.6: the video fills the detail page's frame.
        b.goto(&app.at(&format!("/library/{}", seeded.done[3])))
            .await;
        b.find("#detail-video").await;
        let fill = number(&b, "const v = document.getElementById('detail-video'); return v.getBoundingClientRect().width / v.parentElement.clientWidth;").await;
        assert!(fill > 0.85, "{size}: the player is {fill} of its frame");
        b.screenshot(&shot(&dir, size, "video-detail")).await;

        // 9.10: the model's label, not local/procedural; relative times.
        let model = b.text("#detail-model").await;
        assert!(
            !model.contains("local/procedural") && !model.is_empty(),
            "{model}"
        );
        let created = b.text(".facts time.reltime").await;
        assert!(
            created.contains("前") || created.contains("现在"),
            "{created}"
        );

        // 9.10: ← → step through the list, in its order (newest first).
        b.goto(&app.at(&format!("/library/{}", seeded.done[0])))
            .await;
        b.find("#detail-prompt").await;
        b.wait_for_text(".facts time.reltime", "3分钟前").await;
        b.press(LEFT).await;
        b.wait_for_url(&seeded.done[1]).await;
        b.press(RIGHT).await;
        b.wait_for_url(&seeded.done[0]).await;
        // Filters travel with the steps: among favourites there is nothing either side.
        b.goto(&app.at(&format!("/library/{}?favorite=true", seeded.done[0])))
            .await;
        b.find("#detail-prompt").await;
        assert_eq!(
            b.count("#prev-result").await + b.count("#next-result").await,
            0
        );

        // 9.10: saving tags says so.
        b.fill("#tags", "雪山, 日落").await;
        b.click("#save-tags").await;
        b.wait_for_text("#tags-status", "标签已保存").await;
        b.screenshot(&shot(&dir, size, "detail")).await;

        // 9.10: a download is named after the prompt and the day, in UTF-8 for Chinese.
        let disposition = b
            .script_async(
                "const done = arguments[0];
                 fetch(document.getElementById('download').href).then(r => done(r.headers.get('content-disposition') || ''));",
            )
            .await;
        assert!(
            disposition
                .contains("filename*=UTF-8''PictureDeck_%E9%9B%AA%E5%B1%B1%E6%97%A5%E8%90%BD_"),
            "{disposition}"
        );

        // 9.6: a video card on the main page does not offer 查看大图.
        b.goto(&app.at("/")).await;
        let card = format!(".task-card[data-tasks~='{}']", seeded.done[3]);
        b.find(&card).await;
        assert!(!b.text(&card).await.contains("查看大图"));

        // Issue 8.12: a message never takes the clicks meant for what lies beneath it.
        b.script("htmx.trigger(document.body, 'htmx:sendError', {}); return null;")
            .await;
        b.wait_for_text("#toast", "无法连接服务器").await;
        let under = b
            .script(
                "const r = document.getElementById('toast').getBoundingClientRect();
                 const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                 return hit ? hit.closest('#toast') === null : true;",
            )
            .await;
        assert_eq!(under, Value::Bool(true), "{size}: the toast takes clicks");
        b.screenshot(&shot(&dir, size, "toast")).await;
    }
    // In English too.
    let detail = format!("/library/{}", seeded.done[0]);
    b.goto(&app.at(&format!("/lang/en?next={detail}"))).await;
    b.wait_for_text(".facts time.reltime", "3 minutes ago")
        .await;
    b.screenshot(&shot(&dir, "390x844", "detail-en")).await;
    b.quit().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_and_making_again_from_the_detail_page_at_both_sizes() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let seeded = seed_every_state(&app, "remaker").await;
    let dir = screenshot_dir();
    let b = signed_in(&app, &driver, "remaker").await;
    for (i, (size, width, height)) in WINDOWS.into_iter().enumerate() {
        b.window(width, height).await;

        // 9.3: 复用参数 fills the form with the recipe, its 9:16 included.
        b.goto(&app.at(&format!("/library/{}", seeded.done[1])))
            .await;
        b.click("#reuse").await;
        b.wait_for_url("reuse=").await;
        let form = b
            .script("return [document.getElementById('prompt').value, document.getElementById('aspect').value];")
            .await;
        assert_eq!(form, serde_json::json!(["竖幅的鹿", "9:16"]), "{size}");
        b.screenshot(&shot(&dir, size, "reuse")).await;
        // 换个模型再生成 fills it too.
        b.goto(&app.at(&format!("/library/{}", seeded.done[1])))
            .await;
        b.click("#run-other").await;
        b.wait_for_url("other_model=1").await;
        let prompt = b
            .script("return document.getElementById('prompt').value;")
            .await;
        assert_eq!(prompt, "竖幅的鹿");

        // 9.2: 重试 of a task made with 16:9 queues it again instead of refusing, clicked as a
        // person clicks at both sizes; the new task's card is in view afterwards.
        let tasks = b.count(".task-card").await;
        b.click(&format!(
            ".task-card[data-tasks~='{}'] button[hx-post$='/retry']",
            seeded.waiting[3]
        ))
        .await;
        b.wait_for_count(".task-card", tasks + 1).await;
        assert!(!b.text("#generate-form").await.contains("只能选一种"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let newest = b
                .script(
                    "const c = document.querySelector('#tasks .task-card'); const r = c.getBoundingClientRect();
                     return [c.querySelector('.task-prompt').textContent, r.top >= 0 && r.top < innerHeight - 40];",
                )
                .await;
            assert_eq!(
                newest[0], "取消的海",
                "{size}: the retry is the newest card"
            );
            if newest[1] == Value::Bool(true) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{size}: the retried task is out of view"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        b.screenshot(&shot(&dir, size, "retried")).await;

        // 9.7: deleting from the detail page lands on the list and says so.
        let victim = [&seeded.waiting[0], &seeded.waiting[1]][i];
        b.goto(&app.at(&format!("/library/{victim}"))).await;
        b.click("#detail-delete").await;
        b.accept_dialog().await;
        b.wait_for_text("#notice", "已删除 1 条记录").await;
        assert!(!b.url().await.contains(victim.as_str()));
        b.screenshot(&shot(&dir, size, "deleted")).await;
    }

    // 9.7: deleting a folder lands on the list (which used to answer 500) and says so.
    let inner = &seeded.folders[1];
    b.goto(&app.at(&format!("/library?folder={inner}"))).await;
    b.click("#panels-toggle").await;
    b.click("#delete-folder").await;
    b.accept_dialog().await;
    b.wait_for_text("#notice", "文件夹已删除").await;
    b.find(".result-card").await;
    b.quit().await;
    app.stop().await;
}

/// 我的分享 in Chromium at both sizes (issue 8.11): the library says a link is locked, the
/// shares page marks which one and until when (local time), nothing runs off a phone's
/// screen, and revoking a link takes it off the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_a_locked_share_on_the_shares_page_at_both_sizes() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let token = app.user("sharer").await;
    let ids = crate::library::make(&app, &token, &["私密花园", "公开的山"]).await;
    let mut urls = Vec::new();
    for (id, body) in ids.iter().zip([
        serde_json::json!({"password": "芝麻开门"}),
        serde_json::json!({"expires_in_hours": 24}),
    ]) {
        let mut body = body;
        body["result"] = Value::String(id.clone());
        let (_, made) = app.post("/api/v1/library/shares", Some(&token), body).await;
        urls.push(made["data"]["url"].as_str().unwrap().to_string());
    }
    for i in 0..picturedeck::library::service::SHARE_FAILURES_BEFORE_LOCK {
        let _ = picturedeck::library::service::unlock_share(
            &app.state,
            urls[0].trim_start_matches("/s/"),
            "wrong guess",
            &format!("198.51.100.{i}"),
        )
        .await;
    }
    let dir = screenshot_dir();
    let b = signed_in(&app, &driver, "sharer").await;
    for (size, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/library")).await;
        b.click("#locked-shares a").await;
        b.wait_for_url("/library/shares").await;
        b.wait_for_count(".share-row", 2).await;
        let locked = b
            .text(".share-row.share-locked .share-lock-note time")
            .await;
        assert!(
            !locked.is_empty() && !locked.contains("UTC"),
            "{size}: {locked}"
        );
        assert!(b.text(".share-row.share-locked").await.contains("私密花园"));
        assert!(b
            .text(".share-row:not(.share-locked)")
            .await
            .contains("有效"));
        let fits = b
            .script("return document.documentElement.scrollWidth <= innerWidth;")
            .await;
        assert_eq!(
            fits,
            Value::Bool(true),
            "{size}: the page is wider than the window"
        );
        b.screenshot(&shot(&dir, size, "shares-locked")).await;
    }
    b.click(".share-row:not(.share-locked) .share-revoke").await;
    b.wait_for_count(".share-row", 1).await;
    let res = reqwest::get(app.at(&urls[1])).await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND, "revoked");
    b.quit().await;
    app.stop().await;
}
