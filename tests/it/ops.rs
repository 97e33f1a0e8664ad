//! Monitoring, alerts, the log centre and retention (issue 11 items 4 and 5), both backends:
//! `/metrics` is off until a token is set and then carries the real queue; an alert mails
//! every admin once per incident even with two instances on one database, and "resolved"
//! once; the log centre keeps warnings with their request id; pruning deletes only old rows.
//! Chromium looks at the monitoring page with the alert banner at both sizes.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;
use picturedeck::app::AppState;
use picturedeck::config::Config;
use picturedeck::db::schema::{api_calls, audit_log};
use picturedeck::mail::Mailer;
use picturedeck::ops::{alerts, retention};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::webdriver::{chromedriver, screenshot_dir, Browser, WINDOWS};
use crate::support::{Backend, TestApp};
use crate::{on_both_backends, on_both_backends_with};

const TOKEN: &str = "metrics-token-0123456789";

fn metrics_on(c: &mut Config) {
    c.monitoring.metrics_token = TOKEN.into();
}

/// Only the queue-age rule, at one second: the others depend on the machine the test runs on.
fn queue_alert(c: &mut Config) {
    c.alerts.queue_age_seconds = 1;
    c.alerts.error_rate_percent = 0;
    c.alerts.disk_free_mb = 0;
    c.alerts.memory_mb = 0;
}

fn retention_short(c: &mut Config) {
    c.retention.audit_log_days = 30;
    c.retention.api_calls_days = 30;
    c.retention.batch_size = 2;
}

async fn scrape(app: &TestApp, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(app.at("/metrics"));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Parses Prometheus text format: every sample line is `name{labels} value`, and every metric
/// has its HELP and TYPE. Keys are `name` or `name{labels}` as written.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            assert!(matches!(parts.next(), Some("gauge" | "counter")), "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(typed.iter().any(|t| t == name), "no TYPE before {line}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        samples.insert(key.to_string(), value);
    }
    samples
}

on_both_backends!(metrics_are_off_by_default);

async fn metrics_are_off_by_default(app: &TestApp) {
    let (status, _) = scrape(app, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = scrape(app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

on_both_backends_with!(super::metrics_on; metrics_carry_the_real_queue_behind_a_token);

async fn metrics_carry_the_real_queue_behind_a_token(app: &TestApp) {
    let (status, _) = scrape(app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = scrape(app, Some("Bearer wrong-token-0123456789")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Three tasks queued through the API while the engine is stopped.
    app.stop_engine();
    let token = app.user("metrics_user").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"type": "t2i", "prompt": format!("山 {i}"), "params": {"size": "64x64"}});
        ids.push(app.submit_task(&token, body).await);
    }
    let (status, text) = scrape(app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK);
    let m = parse(&text);
    assert_eq!(
        m["picturedeck_queue_tasks{status=\"queued\"}"], 3.0,
        "{text}"
    );
    assert_eq!(m["picturedeck_queue_tasks{status=\"processing\"}"], 0.0);
    assert!(m["picturedeck_queue_oldest_seconds"] >= 0.0);
    assert_eq!(m["picturedeck_tasks_running{provider=\"local\"}"], 0.0);
    assert_eq!(m["picturedeck_engine_slots_busy"], 0.0);
    assert_eq!(
        m["picturedeck_engine_slots"],
        f64::from(app.state.config.engine.concurrency)
    );
    assert_eq!(m["picturedeck_db_connections_max"], 4.0);
    assert!(m["picturedeck_db_connections{state=\"idle\"}"] >= 0.0);
    assert_eq!(m["picturedeck_alerts_open"], 0.0);
    if cfg!(target_os = "linux") {
        assert!(m["process_resident_memory_bytes"] > 1e6);
        assert!(m["process_cpu_seconds_total"] > 0.0);
        assert!(m["picturedeck_data_dir_free_bytes"] > 0.0);
    }

    // The admin API tells the same.
    let admin = app.admin("metrics_admin").await;
    let (status, body) = app.get("/api/v1/admin/monitoring", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["snapshot"]["queued"], 3);
    let (status, _) = app.get("/api/v1/admin/monitoring", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The real engine runs them; the provider's calls of the last 5 minutes are the rows
    // the engine wrote to api_calls.
    let engine = tokio::spawn(picturedeck::generation::engine::run(app.state.clone()));
    app.wait_completed(&token, &ids).await;
    engine.abort();
    let calls: i64 = app
        .state
        .db
        .run(|conn| Ok(api_calls::table.count().get_result(conn)?))
        .await
        .unwrap();
    assert!(calls >= 3);
    let (_, text) = scrape(app, Some(&format!("Bearer {TOKEN}"))).await;
    let m = parse(&text);
    assert_eq!(m["picturedeck_queue_tasks{status=\"queued\"}"], 0.0);
    assert_eq!(m["picturedeck_queue_oldest_seconds"], 0.0);
    assert_eq!(
        m["picturedeck_provider_calls_5m{provider=\"local\"}"],
        calls as f64
    );
    assert_eq!(m["picturedeck_provider_errors_5m{provider=\"local\"}"], 0.0);
}

on_both_backends_with!(super::metrics_on; a_scrape_serves_the_last_sample_without_a_query);

/// Once the monitoring task has sampled, a scrape serves those database figures as they were,
/// until the next sample: a scrape costs no query.
async fn a_scrape_serves_the_last_sample_without_a_query(app: &TestApp) {
    app.stop_engine();
    let bearer = format!("Bearer {TOKEN}");
    picturedeck::ops::sample::refresh(&app.state).await.unwrap();
    let token = app.user("sample_user").await;
    let body = json!({"type": "t2i", "prompt": "采样", "params": {"size": "64x64"}});
    app.submit_task(&token, body).await;

    let (_, text) = scrape(app, Some(&bearer)).await;
    let m = parse(&text);
    assert_eq!(
        m["picturedeck_queue_tasks{status=\"queued\"}"], 0.0,
        "{text}"
    );
    // This instance's own figures are read at the scrape.
    assert_eq!(
        m["picturedeck_engine_slots"],
        f64::from(app.state.config.engine.concurrency)
    );

    picturedeck::ops::sample::refresh(&app.state).await.unwrap();
    let (_, text) = scrape(app, Some(&bearer)).await;
    let m = parse(&text);
    assert_eq!(
        m["picturedeck_queue_tasks{status=\"queued\"}"], 1.0,
        "{text}"
    );
}

/// A second instance on the same database, as another process would be (no server, no
/// workers: only its alert checks matter here).
async fn second_instance(app: &TestApp) -> Arc<AppState> {
    let mut config = (*app.state.config).clone();
    config.monitoring.instance = "second".into();
    let (mailer, _) = Mailer::memory();
    Arc::new(
        tokio::task::spawn_blocking(move || AppState::new(config, Some(mailer)))
            .await
            .unwrap()
            .unwrap(),
    )
}

on_both_backends_with!(super::queue_alert; an_alert_mails_each_admin_once_and_resolved_once_with_two_instances);

async fn an_alert_mails_each_admin_once_and_resolved_once_with_two_instances(app: &TestApp) {
    app.admin("ops_ann").await;
    app.admin("ops_bob").await;
    let user = app.user("ops_user").await;
    let other = second_instance(app).await;
    app.stop_engine();
    let task = app
        .submit_task(
            &user,
            json!({"type": "t2i", "prompt": "等待", "params": {"size": "64x64"}}),
        )
        .await;
    app.sql("UPDATE generations SET created_at = '2020-01-01 00:00:00'")
        .await;

    // Both instances check at once, then again: one incident, opened once.
    let (a, b) = tokio::join!(alerts::check(&app.state), alerts::check(&other));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.opened.len() + b.opened.len(),
        1,
        "opened by both: {a:?} {b:?}"
    );
    for state in [&app.state, &other] {
        let again = alerts::check(state).await.unwrap();
        assert!(again.opened.is_empty() && again.resolved.is_empty());
    }
    // Whichever instance queued the mails, this one's worker sends them (the other has no
    // worker here; its own would, in a real deployment).
    app.state.mailer.wake();
    let mails = app.mails().await;
    let alerts_sent: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("告警"))
        .collect();
    assert_eq!(alerts_sent.len(), 2, "{mails:?}");
    for to in ["ops_ann@example.com", "ops_bob@example.com"] {
        let mail = alerts_sent.iter().find(|m| m.to == to).unwrap();
        assert!(mail.subject.contains("Alert"), "{}", mail.subject);
        assert!(mail.body.contains("排队最久") && mail.body.contains("oldest queued"));
    }
    assert!(!mails.iter().any(|m| m.to == "ops_user@example.com"));

    // Admins see it as a banner on every page and in the API; others do not.
    let (client, _) = app.signed_in("ops_ann").await;
    for path in ["/", "/library", "/admin", "/profile"] {
        let (_, html) = app.open(&client, path).await;
        assert!(html.contains("id=\"alert-banner\""), "{path}");
        assert!(html.contains("data-rule=\"queue_age\""), "{path}");
    }
    let (user_client, _) = app.signed_in("ops_user").await;
    let (_, html) = app.open(&user_client, "/").await;
    assert!(!html.contains("alert-banner"));
    let admin_token = app.token("ops_ann").await;
    let (_, body) = app.get("/api/v1/admin/alerts", Some(&admin_token)).await;
    assert_eq!(body["data"][0]["rule"], "queue_age");
    assert_eq!(body["data"][0]["open"], true);

    // The queue empties: resolved once, by one instance, mailed once to each admin.
    let (status, _) = app.task_action(&user, &task, "cancel").await;
    assert_eq!(status, StatusCode::OK);
    let (a, b) = tokio::join!(alerts::check(&app.state), alerts::check(&other));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.resolved.len() + b.resolved.len(), 1, "{a:?} {b:?}");
    for state in [&app.state, &other] {
        let again = alerts::check(state).await.unwrap();
        assert!(again.opened.is_empty() && again.resolved.is_empty());
    }
    app.state.mailer.wake();
    let mails = app.mails().await;
    let resolved: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("已恢复"))
        .collect();
    assert_eq!(resolved.len(), 2, "{mails:?}");
    assert_eq!(mails.len(), 4);
    let (_, html) = app.open(&client, "/").await;
    assert!(!html.contains("alert-banner"));
    let (_, body) = app.get("/api/v1/admin/alerts", Some(&admin_token)).await;
    assert_eq!(body["data"][0]["open"], false);
    assert!(body["data"][0]["resolved_at"].is_string());
}

/// The log centre reads the process's buffer, so the tests install its layer as the global
/// subscriber once (nothing else in this binary installs one).
fn install_log_layer() {
    use tracing_subscriber::layer::SubscriberExt as _;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(picturedeck::ops::logs::layer());
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

on_both_backends!(the_log_centre_shows_warnings_with_their_request_id_to_admins);

async fn the_log_centre_shows_warnings_with_their_request_id_to_admins(app: &TestApp) {
    install_log_layer();
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let request_id = format!("req-{}", &marker[..12]);
    {
        // The span the request middleware opens for every request.
        let span = tracing::info_span!("request", id = %request_id, method = "GET", path = "/x");
        let _entered = span.enter();
        tracing::warn!(target: "picturedeck::ops_test", marker = %marker, "disk is slow");
        tracing::error!(target: "picturedeck::ops_test", marker = %marker, "write failed");
    }
    tracing::info!(target: "picturedeck::ops_test", marker = %marker, "not kept");

    let admin = app.admin("logs_admin").await;
    let user = app.user("logs_user").await;
    let (status, _) = app.get("/api/v1/admin/logs", Some(&user)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(
            &format!("/api/v1/admin/logs?request_id={request_id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[0]["level"], "error");
    assert!(entries[0]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("write failed marker={marker}")));
    assert_eq!(entries[1]["level"], "warn");
    assert_eq!(entries[1]["target"], "picturedeck::ops_test");
    let (_, body) = app
        .get(
            &format!("/api/v1/admin/logs?request_id={request_id}&level=error"),
            Some(&admin),
        )
        .await;
    assert_eq!(body["data"]["entries"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .get("/api/v1/admin/logs?level=debug", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The page, in both languages, with its filters.
    let (client, _) = app.signed_in("logs_admin").await;
    let (_, html) = app
        .open(&client, &format!("/admin/logs?request_id={request_id}"))
        .await;
    assert!(html.contains("日志中心") && html.contains(&marker));
    assert!(html.contains("class=\"log-entry log-error\""));
    let res = client
        .get(app.at("/admin/logs?target=picturedeck::ops_test&level=error"))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Log centre"));
    assert!(!html.contains("disk is slow"));
    let (user_client, _) = app.signed_in("logs_user").await;
    let res = user_client.get(app.at("/admin/logs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

on_both_backends_with!(super::retention_short; pruning_deletes_only_rows_past_their_retention);

async fn pruning_deletes_only_rows_past_their_retention(app: &TestApp) {
    // Five old and two recent rows in each table; batches of two.
    app.sql(
        "INSERT INTO audit_log (user_id, action, created_at) VALUES \
         (NULL, 'ops_old', '2020-01-01 00:00:00'), (NULL, 'ops_old', '2020-01-02 00:00:00'), \
         (NULL, 'ops_old', '2020-01-03 00:00:00'), (NULL, 'ops_old', '2020-02-01 00:00:00'), \
         (NULL, 'ops_old', '2020-03-01 00:00:00'), \
         (NULL, 'ops_new', CURRENT_TIMESTAMP), (NULL, 'ops_new', CURRENT_TIMESTAMP);
         INSERT INTO api_calls (provider, model, operation, outcome, latency_ms, created_at) VALUES \
         ('local', 'm', 'submit', 'ok', 5, '2020-01-01 00:00:00'), \
         ('local', 'm', 'submit', 'ok', 5, '2020-01-01 00:00:01'), \
         ('local', 'm', 'submit', 'transient', 5, '2020-01-01 00:00:02'), \
         ('local', 'm', 'submit', 'ok', 5, '2021-06-01 00:00:00'), \
         ('local', 'm', 'submit', 'ok', 5, '2022-01-01 00:00:00'), \
         ('local', 'm', 'submit', 'ok', 5, CURRENT_TIMESTAMP), \
         ('local', 'm', 'submit', 'ok', 5, CURRENT_TIMESTAMP);",
    )
    .await;
    let pruned = retention::prune(&app.state).await.unwrap();
    assert_eq!(pruned.audit_log, 5);
    assert_eq!(pruned.api_calls, 5);
    let (audit_left, calls_left): (Vec<String>, i64) = app
        .state
        .db
        .run(|conn| {
            Ok((
                audit_log::table
                    .filter(audit_log::action.like("ops_%"))
                    .select(audit_log::action)
                    .load(conn)?,
                api_calls::table.count().get_result(conn)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(audit_left, vec!["ops_new", "ops_new"]);
    assert_eq!(calls_left, 2);
    // Nothing more to do.
    assert_eq!(
        retention::prune(&app.state).await.unwrap(),
        retention::Pruned::default()
    );
}

on_both_backends!(monitoring_pages_are_for_admins_and_refresh_themselves);

async fn monitoring_pages_are_for_admins_and_refresh_themselves(app: &TestApp) {
    app.admin("mon_admin").await;
    app.user("mon_user").await;
    let (client, _) = app.signed_in("mon_admin").await;
    let (_, html) = app.open(&client, "/admin/monitoring").await;
    assert!(html.contains("系统监控"));
    assert!(html.contains("hx-get=\"/admin/monitoring/panel\""));
    assert!(html.contains("hx-trigger=\"every 5s\""));
    assert!(html.contains("id=\"admin-tab-logs\""));
    let res = client
        .get(app.at("/admin/monitoring/panel"))
        .header("HX-Request", "true")
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let panel = res.text().await.unwrap();
    assert!(
        panel.starts_with("<div id=\"monitoring-panel\"")
            || panel.contains("id=\"monitoring-panel\"")
    );
    assert!(panel.contains("Engine slots") && panel.contains("data-provider=\"local\""));
    assert!(!panel.contains("<html"));
    let (user_client, _) = app.signed_in("mon_user").await;
    for path in [
        "/admin/monitoring",
        "/admin/monitoring/panel",
        "/admin/logs",
    ] {
        let res = user_client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_page_and_the_alert_banner_in_chromium() {
    let Some(driver) = chromedriver() else { return };
    let app = TestApp::builder(Backend::Sqlite)
        .config(queue_alert)
        .start()
        .await
        .unwrap();
    app.admin("shot_admin").await;
    let user = app.user("shot_user").await;
    app.stop_engine();
    app.submit_task(
        &user,
        json!({"type": "t2i", "prompt": "慢", "params": {"size": "64x64"}}),
    )
    .await;
    app.sql("UPDATE generations SET created_at = '2020-01-01 00:00:00'")
        .await;
    alerts::check(&app.state).await.unwrap();
    let dir = screenshot_dir();
    let b = Browser::start(&driver).await;
    b.sign_in(&app, "shot_admin").await;
    for (size, width, height) in WINDOWS {
        b.window(width, height).await;
        b.goto(&app.at("/admin/monitoring")).await;
        b.find("#alert-banner").await;
        b.find("#metric-queue").await;
        assert_eq!(b.text("#m-queued").await, "1");
        // The banner fits the window: no sideways scrolling on a phone.
        let fits = b
            .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
            .await;
        assert_eq!(fits, serde_json::Value::Bool(true), "{size}");
        b.screenshot(&dir.join(format!("ops-{size}-monitoring.png")))
            .await;
        // The panel reloads itself: a second task shows without reloading the page.
        b.goto(&app.at("/library")).await;
        b.find("#alert-banner").await;
        b.screenshot(&dir.join(format!("ops-{size}-banner.png")))
            .await;
    }
    b.goto(&app.at("/admin/monitoring")).await;
    b.find("#metric-queue").await;
    app.submit_task(
        &user,
        json!({"type": "t2i", "prompt": "又一个", "params": {"size": "64x64"}}),
    )
    .await;
    b.wait_for_text("#m-queued", "2").await;
    b.quit().await;
    app.stop().await;
}
