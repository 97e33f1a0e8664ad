//! The gallery in a real Chromium (issue 12 item 7): an author publishes from the library, a
//! visitor in a fresh profile sees the work, another account likes it, the author unpublishes
//! and the visitor sees it gone; at 390×844 the gallery has one or two columns and no
//! sideways scroll. Screenshots go to `screenshot_dir()`.

use serde_json::Value;

use crate::library_pages::signed_in;
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_see_as_visitor_like_unpublish_in_chromium() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| c.gallery.anonymous = Some(true))
        .start()
        .await
        .unwrap();
    let nora = app.user("nora").await;
    let task = app.finished(&nora, "t2i", "一只橘猫在窗台上").await;
    let video = app.finished(&nora, "t2v", "海浪拍岸").await;
    app.register("omar").await;
    let dir = screenshot_dir();

    // The author publishes from the library's result page.
    let author = signed_in(&app, &driver, "nora").await;
    author.window(1440, 900).await;
    author.goto(&app.at(&format!("/library/{task}"))).await;
    author.fill("#publish-title", "橘猫午后").await;
    author.fill("#publish-description", "窗台上的阳光").await;
    author.fill("#publish-tags", "猫, 午后").await;
    author.click("#publish").await;
    author.find("#published-link").await;
    author
        .screenshot(&dir.join("gallery-1440x900-publish.png"))
        .await;
    let href = author.attribute("#published-link", "href").await;
    let work = href.rsplit('/').next().unwrap().to_string();
    // The video too, so the grid holds both shapes.
    author.goto(&app.at(&format!("/library/{video}"))).await;
    author.fill("#publish-title", "海浪").await;
    author.click("#publish").await;
    author.find("#published-link").await;

    // A visitor in a fresh profile sees it, at both sizes.
    let visitor = Browser::start(&driver).await;
    for (size, width, height) in WINDOWS {
        visitor.window(width, height).await;
        visitor.goto(&app.at("/")).await;
        visitor.wait_for_url("/gallery").await;
        visitor.find(&format!("#work-{work}")).await;
        let title = visitor.text(&format!("#work-{work} .g-title")).await;
        assert_eq!(title, "橘猫午后");
        assert_eq!(visitor.text("#g-brand").await, "PICTUREDECK");
        let background = visitor
            .script("return getComputedStyle(document.body).backgroundColor;")
            .await;
        assert_eq!(background, "rgb(15, 17, 21)", "{size}: a dark page");
        // No sideways scroll, and the phone shows one or two columns.
        let overflow = visitor
            .script("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_f64().unwrap() <= 0.0,
            "{size}: {overflow} px too wide"
        );
        let columns: Value = visitor
            .script("return new Set([...document.querySelectorAll('.g-card')].map(c => Math.round(c.getBoundingClientRect().left))).size;")
            .await;
        let columns = columns.as_u64().unwrap();
        if width < 600 {
            assert!((1..=2).contains(&columns), "{size}: {columns} columns");
        } else {
            assert_eq!(columns, 2, "{size}: both cards side by side");
        }
        // The picture's card has the picture's shape (128×96), the video's its own.
        let ratio: Value = visitor
            .script(&format!("const r = document.querySelector('#work-{work} .g-media').getBoundingClientRect(); return r.width / r.height;"))
            .await;
        let ratio = ratio.as_f64().unwrap();
        assert!((ratio - 128.0 / 96.0).abs() < 0.02, "{size}: ratio {ratio}");
        // Thumbnails load lazily, as WebP.
        let loaded: Value = visitor
            .script(&format!("const i = document.querySelector('#work-{work} img'); return [i.loading, i.complete && i.naturalWidth > 0];"))
            .await;
        assert_eq!(loaded, serde_json::json!(["lazy", true]), "{size}");
        visitor
            .screenshot(&dir.join(format!("gallery-{size}-visitor.png")))
            .await;
        // A video card plays, muted, while the pointer is on it.
        visitor.hover(Some(".g-video")).await;
        visitor.find(".g-video video").await;
        let muted = visitor
            .script("return document.querySelector('.g-video video').muted;")
            .await;
        assert_eq!(muted, Value::Bool(true));
    }
    visitor.window(1440, 900).await;
    visitor.goto(&app.at(&format!("/w/{work}"))).await;
    assert_eq!(visitor.text("#work-title").await, "橘猫午后");
    visitor.find("#like-login").await;
    visitor
        .screenshot(&dir.join("gallery-1440x900-work.png"))
        .await;

    // Another account likes it.
    let fan = signed_in(&app, &driver, "omar").await;
    fan.window(390, 844).await;
    fan.goto(&app.at(&format!("/w/{work}"))).await;
    assert_eq!(fan.text("#like-count").await, "0");
    fan.click("#like").await;
    fan.wait_for_text("#like-count", "1").await;
    assert_eq!(fan.attribute("#like", "aria-pressed").await, "true");
    let overflow = fan
        .script("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_f64().unwrap() <= 0.0,
        "work page at 390: {overflow} px too wide"
    );
    fan.screenshot(&dir.join("gallery-390x844-liked.png")).await;

    // The author unpublishes; the visitor's gallery no longer has it.
    author.goto(&app.at(&format!("/w/{work}"))).await;
    author.click("#unpublish").await;
    author.accept_dialog().await;
    author.wait_for_url("/gallery").await;
    visitor.goto(&app.at("/gallery")).await;
    visitor.find(".g-card").await;
    assert_eq!(visitor.count(&format!("#work-{work}")).await, 0);
    visitor.goto(&app.at(&format!("/w/{work}"))).await;
    assert_eq!(
        visitor.count("#work-title").await,
        0,
        "its page is gone too"
    );
    visitor
        .screenshot(&dir.join("gallery-1440x900-gone.png"))
        .await;

    author.quit().await;
    visitor.quit().await;
    fan.quit().await;
    app.stop().await;
}
