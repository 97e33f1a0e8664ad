//! The studio's live stream (Server-Sent Events) over real HTTP: every page of a user hears
//! about that user's tasks wherever they were made, and nobody else's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{page_client, TestApp};

/// An open stream whose events pile up in `text` as they arrive.
struct Stream {
    text: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Stream {
    async fn open(app: &TestApp, client: &reqwest::Client, path: &str) -> Stream {
        let mut res = client
            .get(app.at(path))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(chunk)) = res.chunk().await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        });
        // The greeting says the stream is up (and subscribed) before anything is made.
        let stream = Stream { text, reader };
        stream.wait_for("retry:", 10).await;
        stream
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    async fn wait_for(&self, part: &str, seconds: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let text = self.text();
            if text.contains(part) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{part:?} never came; the stream had: {text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn every_tab_of_the_owner_and_no_one_else_hears_of_a_task(app: &TestApp) {
    let alice = app.user("alice").await;
    app.user("bob").await;
    let ((tab1, _), (tab2, _), (other, csrf)) = (
        app.signed_in("alice").await,
        app.signed_in("alice").await,
        app.signed_in("bob").await,
    );
    let events = "/generate/events";
    let (s1, s2) = (
        Stream::open(app, &tab1, events).await,
        Stream::open(app, &tab2, events).await,
    );
    // Bob asks for someone else's stream: there is no way to name one, he gets his own.
    let sb = Stream::open(app, &other, "/generate/events?user_id=1&user=alice").await;

    // Made through the API, not on any page.
    let (status, body) = app
        .post(
            "/api/v1/generation",
            Some(&alice),
            json!({"type": "t2i", "prompt": "一只猫在弹钢琴", "params": {"size": "96x96"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["task_id"].as_str().unwrap().to_string();
    for s in [&s1, &s2] {
        // First as queued or running, then done, with what the painter made of the words.
        // (Tera writes "/" as "&#x2F;" in attributes: match the id and the state.)
        s.wait_for(&id, 10).await;
        let text = s.wait_for("data-status=\"completed\"", 60).await;
        assert!(text.contains(&format!("thumb&#x2F;{id}")), "{text}");
        assert!(text.contains("event: card"), "{text}");
        assert!(text.contains("画出了：猫"), "{text}");
        assert!(text.contains("画不出：弹钢琴"), "{text}");
    }

    // Bob cannot act on it either, and his page hears nothing of it.
    let res = app
        .post_form(&other, &csrf, &format!("/generate/{id}/cancel"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Past one change poll, so a leak through the poll would show too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = sb.text();
    assert!(!text.contains(&id), "bob's stream: {text}");
    assert!(!text.contains("event: card"), "bob's stream: {text}");

    // A change made outside the engine and the studio (the library deletes it) still reaches
    // the pages, through the change poll: the card goes.
    let (status, _) = app
        .get(&format!("/api/v1/library/results/{id}"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = reqwest::Client::new()
        .delete(app.at(&format!("/api/v1/library/results/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for s in [&s1, &s2] {
        s.wait_for("event: gone", 10).await;
    }
    assert!(!sb.text().contains("event: gone"));
}

async fn the_stream_is_only_for_people_signed_in(app: &TestApp) {
    let res = page_client()
        .get(app.at("/generate/events"))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_redirection() || res.status() == StatusCode::UNAUTHORIZED,
        "{}",
        res.status()
    );
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert!(!kind.starts_with("text/event-stream"), "{kind}");
}

on_both_backends!(
    every_tab_of_the_owner_and_no_one_else_hears_of_a_task,
    the_stream_is_only_for_people_signed_in
);
