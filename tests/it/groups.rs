//! Batches and comparisons (issue 13 items 3, 4, 7) on both backends: the fair queue claim
//! (users take turns), a batch run to the end and exported, cancel-all and retry-failed, a
//! comparison of three models picked into a folder and kept in the library's list, every
//! state on the page, prompt files good and hostile, and other users' ids answering 404.

use std::io::Read as _;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::TestApp;

/// Three models of the built-in engine, so a comparison has something to compare offline.
pub fn three_local_models(c: &mut picturedeck::config::Config) {
    use picturedeck::config::ModelConfig;
    use picturedeck::generation::model::Kind;
    let local = &mut c.providers[0];
    local.models = ["painter-a", "painter-b", "painter-c"]
        .iter()
        .enumerate()
        .map(|(i, name)| ModelConfig {
            name: name.to_string(),
            label: Some(format!("Painter {}", ["A", "B", "C"][i])),
            kinds: vec![Kind::T2i, Kind::I2i],
            price_per_image: Some(0.1 * (i + 1) as f64),
            ..ModelConfig::default()
        })
        .collect();
    local.concurrency = 3;
    c.engine.poll_interval_ms = 50;
}

async fn no_quota(app: &TestApp) {
    app.sql("UPDATE users SET daily_quota = NULL").await;
}

/// Polls a group until every item is final; returns its `data`.
async fn wait_group(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = app.get(&format!("/api/v1/groups/{id}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let p = &body["data"]["progress"];
        if p["finished"] == p["total"] {
            return body["data"].clone();
        }
        assert!(Instant::now() < deadline, "group never finished: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn claim_one(app: &TestApp, limit: i64) -> Vec<i64> {
    app.state
        .db
        .run(move |conn| {
            let now = chrono::Utc::now().naive_utc();
            let claimed = picturedeck::generation::store::claim(
                conn,
                "local",
                "test-worker",
                limit,
                now,
                now + chrono::Duration::seconds(60),
            )?;
            Ok(claimed.into_iter().map(|g| g.user_id).collect())
        })
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, name: &'static str) -> i64 {
    app.state
        .db
        .run(move |conn| {
            Ok(picturedeck::users::store::find_by_username(conn, name)?
                .unwrap()
                .id)
        })
        .await
        .unwrap()
}

/// The claim lets users take turns: a task's turn is its rank among its user's tasks with the
/// running ones first, so one user's long batch does not hold back anyone else's first task.
async fn the_claim_takes_turns_by_user(app: &TestApp) {
    app.stop_engine();
    let a = app.user("many").await;
    let b = app.user("two").await;
    let c = app.user("one").await;
    for (token, n) in [(&a, 6), (&b, 2), (&c, 1)] {
        for i in 0..n {
            app.submit_task(token, json!({"type": "t2i", "prompt": format!("p{i}")}))
                .await;
        }
    }
    let (ua, ub, uc) = (
        user_id(app, "many").await,
        user_id(app, "two").await,
        user_id(app, "one").await,
    );
    // One claim of four: each user's first task, then the oldest second one.
    let mut first = claim_one(app, 4).await;
    first.sort();
    let mut want = vec![ua, ua, ub, uc];
    want.sort();
    assert_eq!(first, want);
    // Slots freeing one at a time: the user with fewer tasks running goes first.
    let mut order = Vec::new();
    for _ in 0..5 {
        order.extend(claim_one(app, 1).await);
    }
    assert_eq!(order, vec![ub, ua, ua, ua, ua]);
    assert!(claim_one(app, 1).await.is_empty());
}

/// A batch of prompts × seeds runs to the end through the engine, and its ZIP holds every
/// result; other users' requests for it are 404.
async fn a_batch_runs_and_exports(app: &TestApp) {
    let token = app.user("batcher").await;
    no_quota(app).await;
    let (status, body) = app
        .post(
            "/api/v1/batches",
            Some(&token),
            json!({"type": "t2i", "prompts": ["雪山", "<script>alert(1)</script> 海", "森林"],
                   "seeds": [1, 2], "params": {"size": "64x64"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["group_id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["kind"], "batch");
    assert_eq!(body["data"]["progress"]["total"], 6);
    let done = wait_group(app, &token, &id).await;
    assert_eq!(done["progress"]["completed"], 6, "{done}");
    assert_eq!(done["progress"]["percent"], 100);
    let items = done["items"].as_array().unwrap();
    assert_eq!(items[1]["task"]["params"]["seed"], 2);
    assert_eq!(items[2]["task"]["prompt"], "<script>alert(1)</script> 海");
    assert!(items.iter().all(|i| i["task"]["thumbnail_url"].is_string()));

    let res = reqwest::Client::new()
        .get(app.at(&format!("/api/v1/groups/{id}/export")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["items"].as_array().unwrap().len(), 6);
    assert_eq!(zip.len(), 7);

    let stranger = app.user("stranger").await;
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/v1/groups/{id}")),
        (reqwest::Method::GET, format!("/api/v1/groups/{id}/export")),
        (reqwest::Method::POST, format!("/api/v1/groups/{id}/cancel")),
        (reqwest::Method::POST, format!("/api/v1/groups/{id}/retry")),
        (reqwest::Method::DELETE, format!("/api/v1/groups/{id}")),
    ] {
        let res = reqwest::Client::new()
            .request(method, app.at(&path))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (_, list) = app.get("/api/v1/groups", Some(&stranger)).await;
    assert_eq!(list["data"], json!([]));
}

/// Cancel-all stops every unfinished item; retry-failed makes each a new task with the same
/// request, which the engine then runs; the canceled tasks stay in the library.
async fn cancel_all_then_retry(app: &TestApp) {
    app.stop_engine();
    let token = app.user("canceller").await;
    let (status, body) = app
        .post(
            "/api/v1/batches",
            Some(&token),
            json!({"type": "t2i", "prompts": ["一", "二", "三", "四", "五"], "params": {"size": "64x64", "seed": 9}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["group_id"].as_str().unwrap().to_string();
    let before: Vec<String> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["task"]["task_id"].as_str().unwrap().to_string())
        .collect();
    let (status, canceled) = app
        .post(
            &format!("/api/v1/groups/{id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{canceled}");
    assert_eq!(canceled["data"]["progress"]["canceled"], 5);
    let (status, again) = app
        .post(
            &format!("/api/v1/groups/{id}/retry"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let after: Vec<&str> = again["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["task"]["task_id"].as_str().unwrap())
        .collect();
    assert!(after.iter().all(|t| !before.iter().any(|b| b == t)));
    assert_eq!(again["data"]["items"][3]["task"]["prompt"], "四");
    assert_eq!(again["data"]["items"][3]["task"]["params"]["seed"], 9);
    let (_, old) = app
        .get(&format!("/api/v1/generation/{}", before[0]), Some(&token))
        .await;
    assert_eq!(old["data"]["status"], "canceled");
    let (status, none) = app
        .post(
            &format!("/api/v1/groups/{id}/retry"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{none}");
    let engine = tokio::spawn(picturedeck::generation::engine::run(app.state.clone()));
    let done = wait_group(app, &token, &id).await;
    engine.abort();
    assert_eq!(done["progress"]["completed"], 5, "{done}");
}

/// A comparison of three models: one seed for all, each result with its time and cost; two
/// picked into a folder; listed among the library's groups until removed, its results kept.
async fn a_comparison_is_picked_into_a_folder(app: &TestApp) {
    let token = app.user("chooser").await;
    for (models, field, status) in [
        (
            json!(["local/painter-a"]),
            "models",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!(["local/painter-a", "local/painter-a"]),
            "models",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!(["local/painter-a", "local/nope"]),
            "model",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, body) = app
            .post(
                "/api/v1/comparisons",
                Some(&token),
                json!({"type": "t2i", "prompt": "狐狸", "models": models}),
            )
            .await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["data"]["field"], field, "{body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/comparisons",
            Some(&token),
            json!({"type": "t2i", "prompt": "一只在雪地里奔跑的狐狸",
                   "models": ["local/painter-a", "local/painter-b", "local/painter-c"],
                   "params": {"size": "96x96"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["group_id"].as_str().unwrap().to_string();
    let done = wait_group(app, &token, &id).await;
    let items = done["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let seed = &items[0]["task"]["params"]["seed"];
    assert!(items.iter().all(|i| &i["task"]["params"]["seed"] == seed));
    assert_eq!(items[1]["model_label"], "Painter B");
    assert!(items.iter().all(|i| i["seconds"].is_number()));
    assert!((items[2]["cost"].as_f64().unwrap() - 0.3).abs() < 1e-9);
    assert!((done["cost"].as_f64().unwrap() - 0.6).abs() < 1e-9);

    let (_, folder) = app
        .post(
            "/api/v1/library/folders",
            Some(&token),
            json!({"name": "最佳"}),
        )
        .await;
    let folder = folder["data"]["id"].as_str().unwrap().to_string();
    let picks: Vec<&str> = items[..2]
        .iter()
        .map(|i| i["task"]["task_id"].as_str().unwrap())
        .collect();
    let (status, picked) = app
        .post(
            &format!("/api/v1/groups/{id}/pick"),
            Some(&token),
            json!({"tasks": picks, "folder": folder}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(picked["data"]["count"], 2);
    let (_, inside) = app
        .get(
            &format!("/api/v1/library/results?folder={folder}"),
            Some(&token),
        )
        .await;
    assert_eq!(
        inside["data"]["results"].as_array().unwrap().len(),
        2,
        "{inside}"
    );
    let other = app.finished(&token, "t2i", "not in the group").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/groups/{id}/pick"),
            Some(&token),
            json!({"tasks": [other], "folder": folder}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, list) = app.get("/api/v1/groups?kind=compare", Some(&token)).await;
    assert_eq!(list["data"][0]["group_id"], id.as_str());
    assert_eq!(list["data"][0]["progress"]["completed"], 3);
    let (_, batches) = app.get("/api/v1/groups?kind=batch", Some(&token)).await;
    assert_eq!(batches["data"], json!([]));
    let (status, _) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/groups/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.get("/api/v1/groups", Some(&token)).await;
    assert_eq!(list["data"], json!([]));
    let (status, _) = app
        .get(&format!("/api/v1/generation/{}", picks[0]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "the results stay in the library");
}

/// Every state an item can be in renders on the group page and in the list; prompts are text.
async fn every_state_renders(app: &TestApp) {
    app.stop_engine();
    let token = app.user("stateful").await;
    let (_, body) = app
        .post(
            "/api/v1/batches",
            Some(&token),
            json!({"type": "t2i", "prompts": ["<img src=x onerror=alert(1)>", "b", "c", "d", "e", "f"], "params": {"size": "64x64"}}),
        )
        .await;
    let id = body["data"]["group_id"].as_str().unwrap().to_string();
    let tasks: Vec<String> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["task"]["task_id"].as_str().unwrap().to_string())
        .collect();
    // Item 0 completes, 1 fails, 2 runs, 3 is canceled, 4 is deleted, 5 stays queued.
    let engine = tokio::spawn(picturedeck::generation::engine::run(app.state.clone()));
    app.wait_final(&token, &tasks[0]).await;
    engine.abort();
    let set = |sql: String| {
        let state = app.state.clone();
        async move {
            state
                .db
                .run(move |conn| {
                    use diesel::connection::SimpleConnection as _;
                    conn.batch_execute(&sql)
                        .map_err(|e| picturedeck::error::AppError::internal(e, "sql"))
                })
                .await
                .unwrap()
        }
    };
    set(format!(
        "UPDATE generations SET status = 'queued' WHERE uuid IN ('{}', '{}', '{}', '{}', '{}')",
        tasks[1], tasks[2], tasks[3], tasks[4], tasks[5]
    ))
    .await;
    set(format!("UPDATE generations SET status = 'failed', error_code = 'gen_err.gave_up' WHERE uuid = '{}'", tasks[1])).await;
    set(format!(
        "UPDATE generations SET status = 'processing', progress = 40 WHERE uuid = '{}'",
        tasks[2]
    ))
    .await;
    app.task_action(&token, &tasks[3], "cancel").await;
    set(format!(
        "UPDATE generations SET status = 'canceled', deleted_at = created_at WHERE uuid = '{}'",
        tasks[4]
    ))
    .await;
    let (client, _) = app.signed_in("stateful").await;
    let res = client
        .get(app.at(&format!("/groups/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for state in [
        "completed",
        "failed",
        "processing",
        "canceled",
        "deleted",
        "queued",
    ] {
        assert!(
            html.contains(&format!("data-state=\"{state}\"")),
            "{state} missing"
        );
    }
    assert!(html.contains("已删除") && html.contains("失败") && html.contains("40%"));
    assert!(!html.contains("<img src=x onerror"), "prompts are escaped");
    assert!(html.contains("&lt;img src=x onerror"));
    let list = client.get(app.at("/groups")).send().await.unwrap();
    let list = list.text().await.unwrap();
    assert!(list.contains(&format!("/groups/{id}")));
    let library = app.open(&client, "/library").await.1;
    assert!(
        library.contains("href=\"/groups\""),
        "the library links to its groups"
    );
    // Another user's group is a 404 page, and so is its stream.
    app.register("peeker").await;
    let (peeker, _) = app.signed_in("peeker").await;
    for path in [format!("/groups/{id}"), format!("/groups/{id}/events")] {
        let res = peeker.get(app.at(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// Prompt files: a CSV's prompt column and a TXT's lines are read into the form; an empty,
/// binary, UTF-16 or oversized file is refused with its reason, and the server stays up.
async fn prompt_files_are_read_or_refused(app: &TestApp) {
    app.register("filer").await;
    let (client, csrf) = app.signed_in("filer").await;
    let post = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("prompts.csv"),
        );
        client
            .post(app.at("/groups/prompts"))
            .header("X-CSRF-Token", &csrf)
            .header("HX-Request", "true")
            .multipart(form)
            .send()
    };
    let res = post(b"id,prompt\n1,\"fox, in snow\"\n2,<b>lake</b>\n".to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("fox, in snow\n&lt;b&gt;lake&lt;&#x2F;b&gt;")
            || html.contains("fox, in snow\n&lt;b&gt;lake&lt;/b&gt;"),
        "{html}"
    );
    assert!(html.contains("已读入 2 条提示词"), "{html}");
    for (bytes, words) in [
        (Vec::new(), "文件是空的"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "这不是文本文件"),
        (b"\xff\xfeh\0i\0".to_vec(), "UTF-8"),
        (vec![b'a'; 1024 * 1024 + 10], "文件太大"),
    ] {
        let res = post(bytes).await.unwrap();
        assert_eq!(res.headers()["hx-retarget"], "#group-error");
        let html = res.text().await.unwrap();
        assert!(html.contains(words), "{words}: {html}");
    }
    let res = post(vec![b'a'; 8 * 1024 * 1024]).await.unwrap();
    assert!(res.status() == StatusCode::PAYLOAD_TOO_LARGE || res.status() == StatusCode::OK);
    let health = reqwest::get(app.at("/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the server stays up");
}

/// The studio's form starts a comparison and a batch; a bad one says why in the launcher.
async fn the_studio_form_starts_groups(app: &TestApp) {
    app.register("former").await;
    let (client, csrf) = app.signed_in("former").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            "/groups/compare",
            &[
                ("type", "t2i"),
                ("prompt", "灯塔"),
                ("size", "64x64"),
                ("models", "local/painter-a"),
                ("models", "local/painter-c"),
            ],
        )
        .await;
    let to = res.headers()["hx-redirect"].to_str().unwrap().to_string();
    assert!(to.starts_with("/groups/"), "{to}");
    let page = app.open(&client, &to).await.1;
    assert_eq!(page.matches("class=\"group-item ").count(), 2);
    let res = app
        .post_form(
            &client,
            &csrf,
            "/groups/batch",
            &[
                ("type", "t2i"),
                ("prompt", ""),
                ("size", "64x64"),
                ("prompts", "一\n二\n\n三"),
                ("seeds", "1, 2"),
                ("model", "local/painter-b"),
            ],
        )
        .await;
    let to = res.headers()["hx-redirect"].to_str().unwrap().to_string();
    let page = app.open(&client, &to).await.1;
    assert_eq!(page.matches("class=\"group-item ").count(), 6);
    let res = app
        .post_form(
            &client,
            &csrf,
            "/groups/compare",
            &[
                ("type", "t2i"),
                ("prompt", "灯塔"),
                ("models", "local/painter-a"),
            ],
        )
        .await;
    assert_eq!(res.headers()["hx-retarget"], "#group-error");
    assert!(res.text().await.unwrap().contains("2–6"));
    let res = app
        .post_form(
            &client,
            &csrf,
            "/groups/batch",
            &[("type", "t2i"), ("prompt", "x"), ("seeds", "1, two")],
        )
        .await;
    assert!(res.text().await.unwrap().contains("种子"));
}

/// A second user's single task starts while a long batch of the first is still queued.
async fn a_batch_does_not_starve_another_user(app: &TestApp) {
    let owner = app.user("hog").await;
    let other = app.user("visitor").await;
    no_quota(app).await;
    let prompts: Vec<String> = (0..40).map(|i| format!("长队 {i}")).collect();
    let (status, body) = app
        .post(
            "/api/v1/batches",
            Some(&owner),
            json!({"type": "t2i", "prompts": prompts, "models": ["local/painter-a"], "params": {"size": "256x256"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["group_id"].as_str().unwrap().to_string();
    let (_, now) = app.get(&format!("/api/v1/groups/{id}"), Some(&owner)).await;
    let started_before = now["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["task"]["started_at"].is_string())
        .count();
    let mine = app
        .submit_task(&other, json!({"type": "t2i", "prompt": "我的一张", "model": "local/painter-a", "params": {"size": "64x64"}}))
        .await;
    let done = app.wait_final(&other, &mine).await;
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let my_start = at(&done["data"]["started_at"]);
    let group = wait_group(app, &owner, &id).await;
    let ahead = group["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| at(&i["task"]["started_at"]) < my_start)
        .count();
    // Those running when it was queued, and one slot's turn at most besides.
    assert!(
        ahead <= started_before + 3 + 1,
        "{ahead} batch items started before the other user's task ({started_before} had started when it came)"
    );
}

on_both_backends!(
    the_claim_takes_turns_by_user,
    a_batch_runs_and_exports,
    cancel_all_then_retry,
    every_state_renders,
);

crate::on_both_backends_with!(
    super::three_local_models;
    a_comparison_is_picked_into_a_folder,
    prompt_files_are_read_or_refused,
    the_studio_form_starts_groups,
    a_batch_does_not_starve_another_user,
);
