//! Just enough of the W3C WebDriver protocol to drive Debian's headless Chromium through
//! chromedriver: open pages, type, click, read text, take screenshots.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// The chromedriver binary, if installed; under CI its absence fails the test.
pub fn chromedriver() -> Option<String> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    if super::under_ci() {
        panic!("chromedriver not found at {path}; .ci/run installs chromium-driver");
    }
    super::skipped(&format!("chromedriver not found at {path}"));
    None
}

/// Where page tests leave their screenshots for people to look at: `$CI_ARTIFACTS/screenshots`
/// when CI collects artifacts, else `screenshots/` in the build's target folder.
pub fn screenshot_dir() -> std::path::PathBuf {
    let dir = match std::env::var_os("CI_ARTIFACTS") {
        Some(root) => std::path::PathBuf::from(root).join("screenshots"),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(target) => std::path::PathBuf::from(target).join("screenshots"),
            None => std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots"),
        },
    };
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    eprintln!("screenshots: {}", dir.display());
    dir
}

/// The two windows every page is looked at in: a laptop and a phone.
pub const WINDOWS: [(&str, u32, u32); 2] = [("1440x900", 1440, 900), ("390x844", 390, 844)];

impl Browser {
    /// Makes the page's viewport `width`×`height` (a phone is 390×844): the window is set, then
    /// grown by whatever the browser keeps for itself.
    pub async fn window(&self, width: u32, height: u32) {
        let (mut w, mut h) = (width as i64, height as i64);
        for _ in 0..2 {
            self.call(
                reqwest::Method::POST,
                "/window/rect",
                Some(json!({ "width": w, "height": h })),
            )
            .await;
            let inner = self
                .script("return [window.innerWidth, window.innerHeight];")
                .await;
            let (iw, ih) = (
                inner[0].as_i64().unwrap_or(0),
                inner[1].as_i64().unwrap_or(0),
            );
            if iw == width as i64 && ih == height as i64 {
                return;
            }
            w += width as i64 - iw;
            h += height as i64 - ih;
        }
    }

    /// Presses and releases one key as a person does (WebDriver key codes: "\u{E012}" is ←,
    /// "\u{E014}" is →).
    pub async fn press(&self, key: &str) {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
        ]}]});
        self.call(reqwest::Method::POST, "/actions", Some(actions))
            .await;
    }

    pub async fn start(driver_path: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        // Its own process group, so that Drop can end chromedriver and every Chromium it started
        // even when a failing test never reaches `quit`.
        let driver = Command::new(driver_path)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir").keep();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "prefs": { "intl.accept_languages": "zh-CN,zh" },
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display()), "--lang=zh-CN"]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        res["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Signs `name` in on the login page with the shared test password, typing as a person
    /// does, and waits for the signed-in menu.
    pub async fn sign_in(&self, app: &crate::support::TestApp, name: &str) {
        self.goto(&app.at("/login")).await;
        self.fill("#username", name).await;
        self.fill("#password", crate::support::PASSWORD).await;
        self.click("#login-submit").await;
        self.find("#nav-library").await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn try_find(&self, css: &str) -> Option<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Waits up to 30 s for an element matching `css` (the whole suite shares two cores).
    pub async fn find(&self, css: &str) -> String {
        self.find_within(css, 30).await
    }

    /// Waits up to `seconds` for an element matching `css`.
    pub async fn find_within(&self, css: &str, seconds: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(id) = self.try_find(css).await {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Types into an element without clearing it first; WebDriver key codes ("\u{E009}" is
    /// Control, "\u{E007}" Enter) work as on a keyboard.
    pub async fn keys(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Moves the mouse pointer over the middle of an element, or to the top left corner of
    /// the page when `css` is None.
    pub async fn hover(&self, css: Option<&str>) {
        let (x, y) = match css {
            Some(css) => {
                self.find(css).await;
                let at = self
                    .script(&format!(
                        "const r = document.querySelector({css:?}).getBoundingClientRect(); \
                         return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];"
                    ))
                    .await;
                (at[0].as_i64().unwrap_or(0), at[1].as_i64().unwrap_or(0))
            }
            None => (0, 0),
        };
        let answer = self
            .call(
                reqwest::Method::POST,
                "/actions",
                Some(json!({ "actions": [{
                    "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
                    "actions": [{ "type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y }]
                }]})),
            )
            .await;
        assert!(
            answer.get("error").is_none(),
            "pointer move refused: {answer}"
        );
    }

    /// Clicks, retrying while the element is covered or still moving (a click WebDriver
    /// refuses would otherwise be lost without a word).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let el = self.find(css).await;
            let answer = self
                .call(
                    reqwest::Method::POST,
                    &format!("/element/{el}/click"),
                    Some(json!({})),
                )
                .await;
            let Some(error) = answer.get("error") else {
                return;
            };
            // WebDriver does not scroll an element that is already in the viewport, even when
            // it sits under the sticky top bar; a person would scroll it into the middle.
            if error == "element click intercepted" {
                self.call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({
                        "script": "arguments[0].scrollIntoView({block: 'center'}); return null;",
                        "args": [{ ELEMENT: el }],
                    })),
                )
                .await;
            }
            assert!(
                Instant::now() < deadline,
                "click on {css} failed: {error}: {}",
                answer["message"]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Picks `value` in the `<select>` at `css` as a person does, by clicking its option, so
    /// the page's input and change handlers run.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"))
            .await;
        let chosen = self
            .script(&format!("return document.querySelector({css:?}).value;"))
            .await;
        assert_eq!(chosen, json!(value), "{css} did not take {value:?}");
    }

    /// The element's text; an htmx swap between finding and reading it makes the element stale,
    /// so the element is found again rather than read as empty.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..20 {
            let el = self.find(css).await;
            let answer = self
                .call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                .await;
            if let Some(text) = answer.as_str() {
                return text.to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css}: the element went stale every time its text was read")
    }

    /// Runs `body` (a function body that may `return`) in the page.
    pub async fn script(&self, body: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": body, "args": [] })),
        )
        .await
    }

    /// Runs an asynchronous script that ends by calling its last argument with a string.
    pub async fn script_async(&self, body: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "script": body, "args": [] })),
            )
            .await;
        v.as_str()
            .unwrap_or_else(|| panic!("script answered {v}"))
            .to_string()
    }

    pub async fn attribute(&self, css: &str, name: &str) -> String {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{el}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits up to 30 s until the page URL contains `part`.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.url().await.contains(part) {
            assert!(
                Instant::now() < deadline,
                "URL {} never contained {part}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits up to 30 s until the element's text contains `part`.
    pub async fn wait_for_text(&self, css: &str, part: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text(css).await;
            if text.contains(part) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} says {text:?}, never {part:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Accepts the confirm() dialog once it is open (waits up to 30 s).
    pub async fn accept_dialog(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let open = self.call(reqwest::Method::GET, "/alert/text", None).await;
            if open.is_string() {
                self.call(reqwest::Method::POST, "/alert/accept", Some(json!({})))
                    .await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no dialog opened: {open} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many elements match `css` right now.
    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    /// Waits up to 30 s until exactly `n` elements match `css`.
    pub async fn wait_for_count(&self, css: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.count(css).await != n {
            assert!(
                Instant::now() < deadline,
                "{css}: {} elements, never {n}",
                self.count(css).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("png");
        std::fs::write(path, bytes).expect("write screenshot");
    }

    pub async fn quit(self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}
