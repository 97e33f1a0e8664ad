//! A real headless Chromium registers, logs in and changes the password through the pages.

use crate::support::webdriver::{chromedriver, screenshot_dir, Browser};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_logs_in_and_changes_the_password_in_chromium() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;

    b.goto(&app.at("/register")).await;
    b.fill("#username", "小明_studio").await;
    b.fill("#email", "xiaoming@example.com").await;
    b.fill("#password", "Paint@2026").await;
    b.fill("#password_confirm", "Paint@2026").await;
    b.screenshot(&shots.join("register.png")).await;
    b.click("#register-submit").await;
    b.wait_for_url("/login?registered=1").await;

    b.fill("#username", "小明_studio").await;
    b.fill("#password", "wrong-Password1").await;
    b.click("#login-submit").await;
    b.wait_for_text("#login-form", "账号或密码错误").await;
    b.screenshot(&shots.join("login-error.png")).await;
    b.fill("#password", "Paint@2026").await;
    b.click("#login-submit").await;
    b.wait_for_text("#welcome", "小明_studio").await;
    b.screenshot(&shots.join("home.png")).await;

    b.click("#nav-profile").await;
    b.wait_for_text("#info-email", "xiaoming@example.com").await;
    b.click("#tab-password").await;
    b.fill("#old_password", "Paint@2026").await;
    b.fill("#new_password", "Sketch@2027").await;
    b.fill("#new_password_confirm", "Sketch@2027").await;
    b.click("#password-submit").await;
    b.wait_for_text("#password-form", "成功修改密码").await;
    b.screenshot(&shots.join("password-changed.png")).await;

    // The browser stays signed in with its new session; then log out and back in.
    b.goto(&app.at("/profile")).await;
    b.wait_for_text("#info-username", "小明_studio").await;
    b.click("#logout").await;
    b.wait_for_url("/login").await;
    b.fill("#username", "小明_studio").await;
    b.fill("#password", "Sketch@2027").await;
    b.click("#login-submit").await;
    b.wait_for_text("#welcome", "小明_studio").await;

    b.click("#lang-en").await;
    b.wait_for_text("#nav-profile", "Profile").await;
    b.screenshot(&shots.join("home-en.png")).await;
    b.quit().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_generates_an_image_and_sees_it_appear() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.register("artist").await;
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "artist").await;
    b.wait_for_text("#welcome", "artist").await;

    b.fill("#prompt", "雪山日落，湖面倒影").await;
    b.select("#aspect", "16:9").await;
    b.select("#count", "2").await;
    b.click("#generate-submit").await;
    // The cards appear at once and turn into pictures without a reload.
    b.find(".task-card").await;
    b.wait_for_count(".task-card.status-completed img", 2).await;
    let src = b.attribute(".task-card.status-completed img", "src").await;
    assert!(src.contains("/api/v1/files/thumb/"), "{src}");
    let shape = b
        .script("const i = document.querySelector('.task-card.status-completed img'); return [i.naturalWidth, i.naturalHeight];")
        .await;
    assert_eq!(shape, serde_json::json!([320, 180]), "a 16:9 picture");
    b.screenshot(&shots.join("generated.png")).await;

    // Dropping the downloaded picture on the prompt brings its recipe back.
    b.fill("#prompt", "").await;
    b.click("#mode-t2v").await;
    let restored = b
        .script_async(
            "const done = arguments[arguments.length - 1];
             const url = document.querySelector('.task-card.status-completed a[download]').href;
             fetch(url).then(r => r.blob()).then(blob => {
               const dt = new DataTransfer();
               dt.items.add(new File([blob], 'picture.png', { type: 'image/png' }));
               document.getElementById('prompt').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
               setTimeout(() => done([document.getElementById('prompt').value, document.querySelector('input[name=type]:checked').value, document.getElementById('aspect').value].join('|')), 500);
             });",
        )
        .await;
    assert_eq!(restored, "雪山日落，湖面倒影|t2i|16:9");

    // A text-to-video result plays inline.
    b.click("#mode-t2v").await;
    b.fill("#prompt", "海浪拍岸").await;
    // One short clip at the engine's default size (the picture's 16:9 and count of 2 stay
    // selected otherwise, which would make two larger videos).
    b.select("#duration", "2").await;
    b.select("#aspect", "").await;
    b.select("#count", "1").await;
    b.click("#generate-submit").await;
    // Unoptimised test builds encode video slowly, more so on a busy CI machine.
    b.find_within(".task-card.status-completed video", 90).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state = b.script("const v = document.querySelector('.task-card video'); return v ? [v.readyState, v.videoWidth, v.error ? v.error.code : 0] : null;").await;
        if state[0].as_i64().unwrap_or(0) >= 2 {
            assert!(
                state[1].as_i64().unwrap_or(0) > 0 && state[2] == 0,
                "{state}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the video never loaded: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.screenshot(&shots.join("video.png")).await;

    // A bad request shows its message in the form, not a raw error.
    b.click("#mode-i2i").await;
    b.fill("#prompt", "油画").await;
    b.click("#generate-submit").await;
    b.wait_for_text("#gen-error", "参考图").await;
    b.quit().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_and_a_lost_one_say_so_in_a_toast() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.register("unlucky").await;
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "unlucky").await;
    b.wait_for_text("#welcome", "unlucky").await;

    // The tasks' table is gone: submitting answers 500, and the page says the request failed.
    app.sql("ALTER TABLE generations RENAME TO generations_gone")
        .await;
    b.fill("#prompt", "雪山").await;
    b.click("#generate-submit").await;
    b.wait_for_text("#toast", "请求没有成功").await;

    // The server stops mid-session: the next request never arrives, and the page says so.
    app.stop().await;
    b.script("document.getElementById('toast').remove(); return null;")
        .await;
    b.click("#generate-submit").await;
    b.wait_for_text("#toast", "无法连接服务器").await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_organises_results_in_the_library() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let token = app.user("curator").await;
    for prompt in ["一只狐狸在雪地里", "城市夜景", "海边日落"] {
        let (status, _) = app
            .post(
                "/api/v1/generation",
                Some(&token),
                serde_json::json!({"type": "t2i", "prompt": prompt, "params": {"size": "96x96"}}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "curator").await;
    b.wait_for_text("#welcome", "curator").await;
    b.find_within(".task-card.status-completed:nth-child(3)", 60)
        .await;

    // A folder, and another inside it.
    b.goto(&app.at("/library")).await;
    b.wait_for_count(".result-card", 3).await;
    b.fill("#new-folder-name", "旅行").await;
    b.click("#new-folder-submit").await;
    b.find("a.folder-link[data-folder]:not(#folder-unfiled)")
        .await;
    b.click("a.folder-link[data-folder]:not(#folder-unfiled)")
        .await;
    b.wait_for_url("folder=").await;
    b.fill("#new-folder-name", "京都").await;
    b.click("#new-folder-submit").await;
    b.wait_for_count("#folder-tree details a.folder-link", 2)
        .await;

    // Drag a result onto the inner folder (HTML5 drag and drop, dispatched in the page).
    b.goto(&app.at("/library")).await;
    b.wait_for_count(".result-card", 3).await;
    let inner = b
        .attribute("#folder-tree details ul a.folder-link", "data-folder")
        .await;
    b.script(&format!(
        "const card = document.querySelector('.result-card');
         const dt = new DataTransfer();
         card.dispatchEvent(new DragEvent('dragstart', {{ dataTransfer: dt, bubbles: true }}));
         document.querySelector('[data-folder=\"{inner}\"]').dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
         return null;"
    ))
    .await;
    b.wait_for_text(&format!("#folder-{inner} .count"), "1")
        .await;

    // Search a Chinese keyword.
    b.fill("#filter-q", "狐狸").await;
    b.click("#filter-submit").await;
    b.wait_for_count(".result-card", 1).await;
    // Typing and the click each swap the results; read the card once the swaps have settled.
    b.wait_for_text(".result-card .task-prompt", "狐狸").await;
    b.screenshot(&shots.join("library-search.png")).await;

    // Bulk delete two results after the warning.
    b.goto(&app.at("/library?folder=unfiled")).await;
    b.wait_for_count(".result-card", 2).await;
    b.click("#select-all").await;
    b.screenshot(&shots.join("library-selected.png")).await;
    b.click("#bulk-delete").await;
    b.accept_dialog().await;
    b.wait_for_count(".result-card", 0).await;

    // Deleting the outer folder takes the inner one; its result is unfiled again.
    b.goto(&app.at("/library")).await;
    b.click("#folder-tree > li > details > summary > a.folder-link")
        .await;
    b.wait_for_url("folder=").await;
    b.click("#delete-folder").await;
    b.accept_dialog().await;
    b.wait_for_count("#folder-tree details", 0).await;
    b.goto(&app.at("/library?folder=unfiled")).await;
    b.wait_for_count(".result-card", 1).await;
    b.screenshot(&shots.join("library.png")).await;

    // Export the unfiled results as a ZIP through the page, and import it again.
    let imported = b
        .script_async(
            "const done = arguments[0];
             const ids = [...document.querySelectorAll('.pick-box')].map(b => b.value).join(',');
             const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
             fetch('/library/export?ids=' + encodeURIComponent(ids)).then(r => r.blob()).then(zip =>
               fetch('/library/import', { method: 'POST', body: zip, headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' } }))
               .then(r => r.json()).then(env => done(String(env.data.imported)));",
        )
        .await;
    assert_eq!(imported, "1");
    b.goto(&app.at("/library?folder=unfiled")).await;
    b.wait_for_count(".result-card", 2).await;

    // Share what is left with a password, and open the link in a fresh browser profile.
    let card = b.attribute(".result-card", "data-id").await;
    b.goto(&app.at(&format!("/library/{card}"))).await;
    b.fill(".share-form input[name=password]", "open sesame")
        .await;
    b.click(".share-submit").await;
    let link = b.attribute("#share-url", "value").await;
    assert!(link.contains("/s/"), "{link}");
    b.quit().await;

    let stranger = Browser::start(&driver).await;
    stranger.goto(&link).await;
    stranger.fill("#password", "open sesame").await;
    stranger.click("#unlock-submit").await;
    stranger.find(".share-item img").await;
    let loaded = stranger
        .script_async("const done = arguments[0]; const img = document.querySelector('.share-item img'); const check = () => img.complete ? done(String(img.naturalWidth)) : setTimeout(check, 100); check();")
        .await;
    assert_ne!(loaded, "0", "the shared picture loads for a stranger");
    stranger.screenshot(&shots.join("shared.png")).await;
    stranger.quit().await;
    app.stop().await;
}
