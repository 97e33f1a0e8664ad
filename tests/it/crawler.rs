//! Every page answers (issue 9): a library with tasks in every state, then, as a user and as an
//! administrator, every link, `src` and htmx `hx-get` of every page reached is followed, and
//! every choice of a GET form's menus (the filters) is sent (same origin, GET only, bounded);
//! none may answer with a server error or a dead link.

use std::collections::{HashSet, VecDeque};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(every_link_of_every_page_answers_in_every_task_state);

/// Requests per crawl; the seeded library needs about a third of it.
const BOUND: usize = 600;

/// What was seeded, by id.
pub struct Seeded {
    /// Share links: pages to start from besides the menu.
    pub starts: Vec<String>,
    /// Completed: 雪山日落 (favourite, in 旅行), 竖幅的鹿 (9:16, tagged), 要删除的画 (deleted),
    /// 海浪拍岸 (a video, in 旅行/京都).
    pub done: Vec<String>,
    /// 排队的猫 (queued, in 旅行), 正在画的马 (processing), 失败的城 (failed, in 旅行/京都),
    /// 取消的海 (canceled, made with 16:9).
    pub waiting: Vec<String>,
    /// 旅行 and 京都 inside it.
    pub folders: [String; 2],
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, answer) = app.post(path, Some(token), body).await;
    assert!(status.is_success(), "{path}: {answer}");
    answer["data"].clone()
}

/// Tasks in every state for `name`: completed pictures and a video (favourited, tagged,
/// filed in nested folders, shared), then, with the engine stopped, queued, processing,
/// failed, canceled and deleted ones.
pub async fn seed_every_state(app: &TestApp, name: &str) -> Seeded {
    let token = app.user(name).await;
    let mut done = Vec::new();
    for (kind, prompt, params) in [
        ("t2i", "雪山日落", json!({"size": "96x64"})),
        (
            "t2i",
            "竖幅的鹿",
            json!({"aspect": "9:16", "resolution": "480p"}),
        ),
        ("t2i", "要删除的画", json!({"size": "64x64"})),
        ("t2v", "海浪拍岸", json!({"size": "96x64", "duration": 2})),
    ] {
        let body = json!({"type": kind, "prompt": prompt, "params": params});
        let task = post(app, &token, "/api/v1/generation", body).await;
        done.push(task["task_id"].as_str().unwrap().to_string());
    }
    app.wait_completed(&token, &done).await;
    app.stop_engine();
    let mut waiting = Vec::new();
    for (prompt, params) in [
        ("排队的猫", json!({"size": "64x64"})),
        ("正在画的马", json!({"size": "64x64"})),
        ("失败的城", json!({"size": "64x64"})),
        ("取消的海", json!({"aspect": "16:9", "resolution": "480p"})),
    ] {
        let body = json!({"type": "t2i", "prompt": prompt, "params": params});
        let task = post(app, &token, "/api/v1/generation", body).await;
        waiting.push(task["task_id"].as_str().unwrap().to_string());
    }
    // What the engine would have done meanwhile; it is stopped so the states stay put.
    app.sql(
        "UPDATE generations SET status = 'processing', progress = 40, attempts = 1, \
         started_at = CURRENT_TIMESTAMP WHERE prompt = '正在画的马'",
    )
    .await;
    app.sql(
        "UPDATE generations SET status = 'failed', error_code = 'err.gen.params', \
         completed_at = CURRENT_TIMESTAMP WHERE prompt = '失败的城'",
    )
    .await;
    let cancel = format!("/api/v1/generation/{}/cancel", waiting[3]);
    post(app, &token, &cancel, json!({})).await;
    let client = reqwest::Client::new();
    let res = client
        .delete(app.at(&format!("/api/v1/library/results/{}", done[2])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    client
        .put(app.at(&format!("/api/v1/library/results/{}/favorite", done[0])))
        .bearer_auth(&token)
        .json(&json!({"favorite": true}))
        .send()
        .await
        .unwrap();
    client
        .put(app.at(&format!("/api/v1/library/results/{}/tags", done[1])))
        .bearer_auth(&token)
        .json(&json!({"tags": ["风景", "草稿"]}))
        .send()
        .await
        .unwrap();

    let outer = post(
        app,
        &token,
        "/api/v1/library/folders",
        json!({"name": "旅行"}),
    )
    .await;
    let outer = outer["id"].as_str().unwrap().to_string();
    let inner = post(
        app,
        &token,
        "/api/v1/library/folders",
        json!({"name": "京都", "parent": outer}),
    )
    .await;
    let inner = inner["id"].as_str().unwrap().to_string();
    let moves = [
        (vec![done[0].clone(), waiting[0].clone()], outer.clone()),
        (vec![done[3].clone(), waiting[2].clone()], inner.clone()),
    ];
    for (ids, folder) in moves {
        let body = json!({"ids": ids, "folder": folder});
        post(app, &token, "/api/v1/library/results/move", body).await;
    }
    let mut starts = Vec::new();
    for target in [json!({"result": done[0]}), json!({"folder": inner})] {
        let share = post(app, &token, "/api/v1/library/shares", target).await;
        starts.push(share["url"].as_str().unwrap().to_string());
    }
    // A share behind a password shows its unlock form.
    let locked = json!({"result": done[1], "password": "open sesame"});
    let share = post(app, &token, "/api/v1/library/shares", locked).await;
    starts.push(share["url"].as_str().unwrap().to_string());
    Seeded {
        starts,
        done,
        waiting,
        folders: [outer, inner],
    }
}

/// Turns the escaped attribute values Tera writes back into URLs.
fn unescape(v: &str) -> String {
    v.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Same-origin GET targets of a page: `href`, `src` and `hx-get`, as (path, via htmx).
pub fn links(html: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (attr, htmx) in [
        (" href=\"", false),
        (" src=\"", false),
        (" hx-get=\"", true),
    ] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let Some(end) = rest.find('"') else { break };
            let url = unescape(&rest[..end]);
            let url = url.split('#').next().unwrap_or_default().to_string();
            // Other sites, in-page anchors, script URLs; the two links that change the
            // session (logout is a POST anyway; lang switches the language cookie).
            if url.starts_with('/')
                && !url.starts_with("//")
                && !url.starts_with("/logout")
                && !url.starts_with("/lang/")
            {
                out.push((url, htmx));
            }
        }
    }
    out.extend(form_choices(html));
    out
}

/// The value of `name="…"` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(unescape(&tag[start..start + tag[start..].find('"')?]))
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every choice of every menu in a form htmx sends with GET (the library's filters): one
/// request per option, as picking it would send.
fn form_choices(html: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for form in html.split("<form").skip(1) {
        let form = form.split("</form>").next().unwrap_or_default();
        let tag = &form[..form.find('>').unwrap_or(form.len())];
        let Some(action) = attr(tag, "hx-get").filter(|a| a.starts_with('/')) else {
            continue;
        };
        for select in form.split("<select").skip(1) {
            let select = select.split("</select>").next().unwrap_or_default();
            let Some(name) = attr(&select[..select.find('>').unwrap_or(0)], "name") else {
                continue;
            };
            for option in select.split("<option").skip(1) {
                if let Some(value) = attr(option, "value").filter(|v| !v.is_empty()) {
                    out.push((format!("{action}?{name}={}", encode(&value)), true));
                }
            }
        }
    }
    out
}

/// Follows every link from `starts` breadth first; returns what failed and how many answered.
pub async fn crawl(
    app: &TestApp,
    client: &reqwest::Client,
    starts: &[String],
) -> (Vec<String>, usize) {
    let mut seen: HashSet<(String, bool)> = HashSet::new();
    let mut queue: VecDeque<(String, bool, String)> = VecDeque::new();
    for s in starts {
        queue.push_back((s.clone(), false, "start".into()));
    }
    let mut failures = Vec::new();
    let mut fetched = 0;
    while let Some((url, htmx, from)) = queue.pop_front() {
        if !seen.insert((url.clone(), htmx)) {
            continue;
        }
        assert!(fetched < BOUND, "more than {BOUND} links: {url}");
        fetched += 1;
        let mut req = client.get(app.at(&url));
        if htmx {
            req = req.header("HX-Request", "true");
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        if status.is_server_error() || status == StatusCode::NOT_FOUND {
            failures.push(format!("{status} {url} (htmx: {htmx}, linked from {from})"));
            continue;
        }
        let html = res
            .headers()
            .get("content-type")
            .is_some_and(|c| c.to_str().unwrap_or_default().starts_with("text/html"));
        if !html {
            continue;
        }
        let body = res.text().await.unwrap();
        for (link, via_htmx) in links(&body) {
            queue.push_back((link, via_htmx, url.clone()));
        }
    }
    (failures, fetched)
}

async fn every_link_of_every_page_answers_in_every_task_state(app: &TestApp) {
    let seeded = seed_every_state(app, "crawler").await;
    app.admin("root").await;
    let menu = ["/", "/library", "/profile", "/admin", "/api/docs"];
    // The user reaches every result's page, the pictures and the filters; the admin, with
    // an empty library, the menu, the user list and the shares.
    for (name, least) in [("crawler", 40), ("root", 15)] {
        let (client, _) = app.signed_in(name).await;
        let mut starts: Vec<String> = menu.iter().map(|s| s.to_string()).collect();
        starts.extend(seeded.starts.iter().cloned());
        let (failures, fetched) = crawl(app, &client, &starts).await;
        assert!(failures.is_empty(), "as {name}:\n{}", failures.join("\n"));
        assert!(fetched > least, "as {name}, only {fetched} links");
    }
}

#[test]
fn every_choice_of_a_get_form_is_a_link() {
    let html = r##"<form class="filters" hx-get="/library/results" hx-target="#results">
        <select name="status"><option value="">all</option><option value="queued">q</option></select>
        <select name="tag"><option value="风景" selected>#风景</option></select></form>
        <form hx-post="/library/move"><select name="folder"><option value="x">x</option></select></form>"##;
    assert_eq!(
        form_choices(html),
        [
            ("/library/results?status=queued".to_string(), true),
            ("/library/results?tag=%E9%A3%8E%E6%99%AF".to_string(), true)
        ]
    );
}

#[test]
fn links_are_read_unescaped_and_only_on_this_site() {
    let html = r#"<a href="&#x2F;library?folder=1&amp;view=timeline#x"><img src="https://cdn.example/x.png">
        <div hx-get="/library/results?before=9"></div><a href="/logout"></a><a href="/lang/en"></a>"#;
    assert_eq!(
        links(html),
        [
            ("/library?folder=1&view=timeline".to_string(), false),
            ("/library/results?before=9".to_string(), true)
        ]
    );
}
