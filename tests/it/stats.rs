//! API usage statistics (issue 11 item 3): the rollups written as calls complete say what the
//! raw `api_calls` and `generations` rows say, also under concurrent completion and after the
//! raw rows are pruned; the page, JSON and CSV are for admins only; the page in Chromium.

// Raw rows are read as tuples and grouped like the rollups; naming each shape adds nothing.
#![allow(clippy::type_complexity)]

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fakes::{Answer, FakeVendor};
use crate::support::webdriver::{chromedriver, screenshot_dir, Browser};
use crate::support::{Backend, TestApp};
use picturedeck::stats::store::{self as rollups, Raw, Tally};

crate::both!(
    rollups_equal_the_raw_rows_and_outlive_them,
    counts_hold_under_concurrent_completion,
    only_admins_read_statistics_and_csv_matches,
);

async fn app_with_openai(backend: Backend, fake: &FakeVendor) -> Option<TestApp> {
    let base = fake.url.clone();
    TestApp::builder(backend)
        .config(move |c| {
            use picturedeck::config::{ModelConfig, ProviderConfig, ProviderKind};
            use picturedeck::generation::model::Kind;
            c.engine.retry_base_ms = 20;
            c.engine.poll_interval_ms = 50;
            c.engine.max_attempts = 2;
            c.stats.currency = "USD".into();
            c.providers[0].models[0].price_per_image = Some(0.01);
            c.providers[0].models[0].price_per_video_second = Some(0.5);
            c.providers.push(ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                concurrency: 1,
                base_url: Some(base),
                api_key: Some("sk-test".into()),
                api_key_env: None,
                secret_key: None,
                secret_key_env: None,
                timeout_seconds: 5,
                requests_per_minute: 0,
                models: vec![ModelConfig {
                    name: "gpt-image-1".into(),
                    kinds: vec![Kind::T2i],
                    price_per_image: Some(0.25),
                    ..Default::default()
                }],
            });
        })
        .start()
        .await
}

fn status(status: u16) -> Answer {
    Answer::Status {
        status,
        body: json!({"error": {"message": "nope"}}).to_string(),
        retry_after: None,
    }
}

/// The raw rows, grouped as the rollups group them.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    /// (provider, model) → (calls, failed, latency sum, tasks completed, tasks failed, images)
    models: BTreeMap<(String, String), (i64, i64, i64, i64, i64, i64)>,
    /// (provider, model, slot) → calls
    latency: BTreeMap<(String, String, i32), i64>,
    /// (provider, model, reason) → (calls, tasks)
    failures: BTreeMap<(String, String, String), (i64, i64)>,
    /// (user id, provider, model) → (calls, failed, tasks completed, tasks failed, images)
    users: BTreeMap<(i64, String, String), (i64, i64, i64, i64, i64)>,
}

async fn from_raw_rows(app: &TestApp) -> Expected {
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::{api_calls, generations};
            let calls: Vec<(String, String, Option<i64>, i64, Option<String>)> = api_calls::table
                .select((
                    api_calls::provider,
                    api_calls::model,
                    api_calls::generation_id,
                    api_calls::latency_ms,
                    api_calls::reason,
                ))
                .load(conn)?;
            let tasks: Vec<(i64, i64, String, String, String, String, Option<String>)> =
                generations::table
                    .select((
                        generations::id,
                        generations::user_id,
                        generations::provider,
                        generations::model,
                        generations::status,
                        generations::generation_type,
                        generations::error_code,
                    ))
                    .load(conn)?;
            let owner: BTreeMap<i64, i64> = tasks.iter().map(|t| (t.0, t.1)).collect();
            let mut e = Expected::default();
            for (provider, model, gid, ms, reason) in calls {
                let m = e
                    .models
                    .entry((provider.clone(), model.clone()))
                    .or_default();
                m.0 += 1;
                m.1 += i64::from(reason.is_some());
                m.2 += ms;
                *e.latency
                    .entry((provider.clone(), model.clone(), rollups::slot_of(ms)))
                    .or_default() += 1;
                if let Some(r) = &reason {
                    e.failures
                        .entry((provider.clone(), model.clone(), r.clone()))
                        .or_default()
                        .0 += 1;
                }
                let user = owner[&gid.unwrap()];
                let u = e.users.entry((user, provider, model)).or_default();
                u.0 += 1;
                u.1 += i64::from(reason.is_some());
            }
            for (_, user, provider, model, status, kind, code) in tasks {
                let image = i64::from(!kind.ends_with('v'));
                let m = e
                    .models
                    .entry((provider.clone(), model.clone()))
                    .or_default();
                let u = e
                    .users
                    .entry((user, provider.clone(), model.clone()))
                    .or_default();
                match status.as_str() {
                    "completed" => {
                        m.3 += 1;
                        m.5 += image;
                        u.2 += 1;
                        u.4 += image;
                    }
                    "failed" => {
                        m.4 += 1;
                        u.3 += 1;
                        let reason = picturedeck::stats::task_reason(code.as_deref().unwrap());
                        e.failures
                            .entry((provider, model, reason.to_string()))
                            .or_default()
                            .1 += 1;
                    }
                    other => panic!("task still {other}"),
                }
            }
            Ok(e)
        })
        .await
        .unwrap()
}

fn window() -> (NaiveDateTime, NaiveDateTime) {
    let today = Utc::now().date_naive().and_time(chrono::NaiveTime::MIN);
    (today - Duration::days(2), today + Duration::days(2))
}

async fn rollup_rows(app: &TestApp) -> Raw {
    let (from, to) = window();
    app.state
        .db
        .run(move |conn| Ok(rollups::load(conn, from, to)?))
        .await
        .unwrap()
}

/// The rollups, grouped like [`Expected`]; also the total video milliseconds.
fn from_rollups(raw: &Raw) -> (Expected, i64) {
    let mut e = Expected::default();
    let mut video_ms = 0;
    for r in &raw.models {
        e.models.insert(
            (r.provider.clone(), r.model.clone()),
            (
                r.calls,
                r.failed_calls,
                r.latency_ms_sum,
                r.tasks_completed,
                r.tasks_failed,
                r.images,
            ),
        );
        video_ms += r.video_ms;
    }
    for r in &raw.latency {
        e.latency
            .insert((r.provider.clone(), r.model.clone(), r.slot), r.calls);
    }
    for r in &raw.failures {
        e.failures.insert(
            (r.provider.clone(), r.model.clone(), r.reason.clone()),
            (r.calls, r.tasks),
        );
    }
    for r in &raw.users {
        e.users.insert(
            (r.user_id, r.provider.clone(), r.model.clone()),
            (
                r.calls,
                r.failed_calls,
                r.tasks_completed,
                r.tasks_failed,
                r.images,
            ),
        );
    }
    (e, video_ms)
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/admin/stats{query}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

fn model<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

async fn rollups_equal_the_raw_rows_and_outlive_them(backend: Backend) {
    let fake = FakeVendor::openai().await;
    let Some(app) = app_with_openai(backend, &fake).await else {
        return;
    };
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    // The offline engine: two pictures and a two-second video for alice.
    let data = app
        .submit(
            &alice,
            json!({"type": "t2i", "prompt": "雪山日落", "params": {"size": "96x64", "n": 2}}),
        )
        .await;
    let mut ids: Vec<String> = data["batch"]
        .as_array()
        .map(|b| b.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_else(|| vec![data["task_id"].as_str().unwrap().to_string()]);
    ids.push(
        app.submit_task(
            &alice,
            json!({"type": "t2v", "prompt": "海浪", "params": {"size": "128x96", "duration": 2}}),
        )
        .await,
    );
    app.wait_completed(&alice, &ids).await;

    // OpenAI fake, one task at a time: a 429 then a picture; a refusal; two 500s (gave up);
    // a bad key; a moderation refusal.
    let t2i = json!({"type": "t2i", "prompt": "a lighthouse", "model": "openai/gpt-image-1"});
    fake.script([status(429), Answer::Image]);
    let done = crate::providers::run_task(&app, &bob, t2i.clone()).await;
    assert_eq!(done["status"], "completed", "{done}");
    for (answers, code) in [
        (vec![status(400)], "gen_err.bad_request"),
        (vec![status(500), status(502)], "gen_err.gave_up"),
        (vec![status(401)], "gen_err.auth"),
    ] {
        fake.script(answers);
        let task = crate::providers::run_task(&app, &bob, t2i.clone()).await;
        assert_eq!(task["status"], "failed", "{task}");
        assert_eq!(task["error"]["code"], code, "{task}");
    }

    let raw = from_raw_rows(&app).await;
    let (rolled, video_ms) = from_rollups(&rollup_rows(&app).await);
    assert_eq!(rolled, raw);
    assert_eq!(video_ms, 2000, "the stored clip plays two seconds");
    let openai = &raw.models[&("openai".to_string(), "gpt-image-1".to_string())];
    assert_eq!((openai.0, openai.1, openai.3, openai.4), (6, 5, 1, 3));
    let reasons: Vec<&str> = raw.failures.keys().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "auth",
            "bad_request",
            "gave_up",
            "rate_limited",
            "server_error"
        ]
    );

    // The report: rates, percentiles and prices.
    let before = report(&app, &root, "").await;
    let o = model(&before, "gpt-image-1");
    assert_eq!(o["calls"], 6);
    assert!((o["success_rate"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-9);
    assert!((o["failure_rates"]["server_error"].as_f64().unwrap() - 2.0 / 6.0).abs() < 1e-9);
    assert!(o["latency_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(o["latency_p95_ms"].as_f64() >= o["latency_p50_ms"].as_f64());
    assert_eq!(o["cost"].as_f64(), Some(0.25));
    let local = model(&before, "procedural");
    assert_eq!(
        (local["images"].as_i64(), local["tasks_completed"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(local["video_seconds"].as_f64(), Some(2.0));
    assert!((local["cost"].as_f64().unwrap() - (2.0 * 0.01 + 2.0 * 0.5)).abs() < 1e-9);
    assert_eq!(before["currency"], "USD");
    assert_eq!(before["totals"]["calls"], 9);
    let users: Vec<(&str, i64)> = before["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user"].as_str().unwrap(), u["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(users, [("bob", 6), ("alice", 3)]);
    let series = before["series"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    assert_eq!(series.last().unwrap()["calls"], 9);
    let hourly = report(&app, &root, "?by=hour").await;
    assert_eq!(hourly["series"].as_array().unwrap().len(), 7 * 24);
    let in_hours: i64 = hourly["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["calls"].as_i64().unwrap())
        .sum();
    assert_eq!(in_hours, 9);

    // Retention prunes the raw rows: the statistics stay as they were.
    app.sql("DELETE FROM api_calls").await;
    let after = report(&app, &root, "").await;
    assert_eq!(after, before);

    fake.stop().await;
    app.stop().await;
}

async fn counts_hold_under_concurrent_completion(backend: Backend) {
    let Some(app) = TestApp::builder(backend)
        .config(|c| {
            c.engine.concurrency = 6;
            c.providers[0].concurrency = 6;
        })
        .start()
        .await
    else {
        return;
    };
    let root = app.admin("root").await;
    // Many tasks of two people finishing at once through the real engine.
    let mut work = Vec::new();
    for name in ["ann", "ben"] {
        let token = app.user(name).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let data = app
                .submit(
                    &token,
                    json!({"type": "t2i", "prompt": format!("森林 {i}"), "params": {"size": "64x64", "n": 4}}),
                )
                .await;
            for t in data["batch"].as_array().unwrap() {
                ids.push(t.as_str().unwrap().to_string());
            }
        }
        work.push((token, ids));
    }
    for (token, ids) in &work {
        app.wait_completed(token, ids).await;
    }
    let raw = from_raw_rows(&app).await;
    let (rolled, _) = from_rollups(&rollup_rows(&app).await);
    assert_eq!(rolled, raw);
    let local = &raw.models[&("local".to_string(), "procedural".to_string())];
    assert_eq!((local.0, local.3, local.5), (24, 24, 24));

    // Many transactions adding to the same rollup rows at once (PostgreSQL: ON CONFLICT
    // under concurrency; SQLite: the single writer), each as the engine writes a task.
    let at = Utc::now().naive_utc();
    let mut handles = Vec::new();
    for worker in 0..8i64 {
        let state = app.state.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..25i64 {
                state
                    .db
                    .run(move |conn| {
                        use diesel::Connection as _;
                        conn.transaction(|conn| {
                            let mut t = Tally::new("fake", "race", 1 + worker % 2);
                            t.call(at, 10 * (i + 1), None);
                            t.call(at, 5, Some("rate_limited"));
                            t.completed(at, 1, 0);
                            t.apply(conn)
                        })?;
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let r = report(&app, &root, "").await;
    let race = model(&r, "race");
    assert_eq!(
        (
            race["calls"].as_i64(),
            race["failed_calls"].as_i64(),
            race["tasks_completed"].as_i64(),
            race["images"].as_i64()
        ),
        (Some(400), Some(200), Some(200), Some(200))
    );
    let raw = rollup_rows(&app).await;
    let latency: i64 = raw
        .latency
        .iter()
        .filter(|l| l.model == "race")
        .map(|l| l.calls)
        .sum();
    assert_eq!(latency, 400);
    app.stop().await;
}

async fn only_admins_read_statistics_and_csv_matches(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let root = app.admin("root").await;
    let zoe = app.user("zoe").await;
    app.finished(&zoe, "t2i", "一只猫").await;

    for path in [
        "/api/v1/admin/stats",
        "/api/v1/admin/stats/csv",
        "/api/v1/admin/stats/csv?table=nonsense",
    ] {
        let (status, body) = app.get(path, Some(&zoe)).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::FORBIDDEN, Some(403)),
            "{path}"
        );
        let (status, _) = app.get(path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (client, _) = app.signed_in("zoe").await;
    let res = client.get(app.at("/admin/stats")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client.get(app.at("/admin/stats.csv")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    for (query, field) in [
        ("?from=2026-13-01", "from"),
        ("?from=2026-12-02&to=2026-12-01", "from"),
        ("?by=week", "by"),
        ("?from=2026-01-01&to=2026-03-01&by=hour", "by"),
        ("?from=2020-01-01&to=2026-01-01", "from"),
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/admin/stats{query}"), Some(&root))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["data"]["field"], field, "{query}: {body}");
    }

    let bearer = reqwest::Client::new();
    let res = bearer
        .get(app.at("/api/v1/admin/stats/csv?table=users"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("picturedeck-stats-users-"),
        "{disposition}"
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "user,calls,failed_calls,success_rate,tasks_completed,tasks_failed,images,video_seconds,cost_cny"
    );
    assert_eq!(lines[1], "zoe,1,0,1,1,0,1,0,");
    assert_eq!(lines.len(), 2);

    let (admin_client, _) = app.signed_in("root").await;
    let res = admin_client
        .get(app.at("/admin/stats.csv?table=models"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(&row[..4], ["local", "procedural", "1", "0"], "{text}");
    let series = app
        .open(
            &admin_client,
            "/admin/stats.csv?table=series&by=hour&from=2026-01-01&to=2026-01-01",
        )
        .await
        .1;
    assert_eq!(series.lines().count(), 25, "a header and 24 hours");
    assert!(
        series.contains("2026-01-01T23:00:00Z,0,0,0,0,0,0"),
        "{series}"
    );

    let html = app.open(&admin_client, "/admin/stats").await.1;
    assert!(html.contains("id=\"chart-calls\"") && html.contains("data-model=\"procedural\""));
    assert!(html.contains("data-user=\"zoe\""));
    app.stop().await;
}

/// Rollups for a week of made-up traffic, written the way the engine writes them.
async fn seed_week(app: &TestApp) {
    let users: Vec<i64> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::users;
            Ok(users::table.select(users::id).order(users::id).load(conn)?)
        })
        .await
        .unwrap();
    let now = Utc::now().naive_utc();
    app.state
        .db
        .run(move |conn| {
            let models = [
                ("openai", "gpt-image-1", 0.3, 2_000),
                ("wan", "wan2.2-t2i-flash", 0.1, 6_000),
                ("wan", "wan2.2-t2v-plus", 0.2, 40_000),
            ];
            for hour in 0..(7 * 24) {
                let at = now - Duration::hours(hour);
                for (i, (provider, model, fail, ms)) in models.iter().enumerate() {
                    let user = users[(hour as usize + i) % users.len()];
                    let mut t = Tally::new(provider, model, user);
                    let n = 3 + (hour * 7 + i as i64 * 5) % 11;
                    for k in 0..n {
                        let failed = (k as f64) < n as f64 * fail;
                        let reason = match k % 3 {
                            0 => "rate_limited",
                            1 => "server_error",
                            _ => "moderation",
                        };
                        t.call(at, ms + k * 137, failed.then_some(reason));
                    }
                    if model.contains("t2v") {
                        t.completed(at, 0, 5_000);
                    } else {
                        t.completed(at, 1, 0);
                    }
                    if hour % 9 == 0 {
                        t.failed(at, "gave_up");
                    }
                    t.apply(conn)?;
                }
            }
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_page_in_chromium_at_desktop_and_phone_sizes() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| {
            c.providers[0].models[0].price_per_image = Some(0.02);
        })
        .start()
        .await
        .unwrap();
    app.admin("boss").await;
    let token = app.user("painter_wang").await;
    app.finished(&token, "t2i", "山水").await;
    app.user("studio_b").await;
    seed_week(&app).await;
    let shots = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "boss").await;
    for (w, h, name) in [(1440, 900, "desktop"), (390, 844, "phone")] {
        b.window(w, h).await;
        b.goto(&app.at("/admin")).await;
        b.click("#admin-tab-stats").await;
        b.wait_for_url("/admin/stats").await;
        b.find("#chart-calls rect").await;
        assert!(!b.text("#kpi-calls").await.is_empty());
        b.screenshot(&shots.join(format!("stats-{name}.png"))).await;
        for (part, css) in [("tables", "#stats-models"), ("users", "#stats-users")] {
            b.script(&format!(
                "document.querySelector('{css}').scrollIntoView(); return 0;"
            ))
            .await;
            b.screenshot(&shots.join(format!("stats-{name}-{part}.png")))
                .await;
        }
        // The page never scrolls sideways; wide tables and charts scroll in their own box.
        let overflow = b
            .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            .await;
        assert_eq!(overflow.as_i64(), Some(0), "{name}");
    }
    // The presets and the picker: 30 days by day, then today by hour.
    b.window(1440, 900).await;
    b.goto(&app.at("/admin/stats")).await;
    b.click(".stats-presets a:nth-child(3)").await;
    b.wait_for_url("by=day").await;
    assert!(b.count("#chart-calls text.axis").await > 5);
    b.select("#stats-by", "hour").await;
    b.click("#stats-apply").await;
    b.wait_for_url("by=hour").await;
    b.goto(&app.at("/admin/stats?from=2026-01-01&to=2026-03-01&by=hour"))
        .await;
    b.wait_for_text("body", "31").await;
    b.screenshot(&shots.join("stats-bad-range.png")).await;
    // English.
    b.goto(&app.at("/admin/stats?lang=en")).await;
    b.quit().await;
    app.stop().await;
}
