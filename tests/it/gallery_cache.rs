//! The gallery at scale (issue 12 item 6), over HTTP on both backends: keyword search through
//! the index (Chinese of one and two characters, edits, take-downs and deletes kept in step),
//! and visitors' pages from the short-lived page cache with ETag/304, never a signed-in
//! person's page and never older than its bound.

use std::time::Duration;

use picturedeck::config::Config;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{csrf_of, page_client, TestApp};

fn open(c: &mut Config) {
    c.gallery.anonymous = Some(true);
}

crate::on_both_backends_with!(super::open;
    search_finds_chinese_of_one_and_two_characters_and_follows_every_change,
    library_search_uses_the_owners_index_only,
    visitors_get_an_etag_a_304_and_changes_at_once,
    a_signed_in_page_never_reaches_visitors_and_tokens_stay_their_own,
    a_visitors_page_is_never_older_than_its_bound,
);

async fn publish(app: &TestApp, token: &str, task: &str, body: Value) -> String {
    let (status, answer) = app
        .send(
            Method::PUT,
            &format!("/api/v1/library/results/{task}/publication"),
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"]["id"].as_str().unwrap().to_string()
}

async fn found(app: &TestApp, keyword: &str) -> Vec<String> {
    let path = format!(
        "/api/v1/gallery/works?q={}",
        picturedeck::web::render::urlencode(keyword)
    );
    let (status, body) = app.get(&path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let mut ids: Vec<String> = body["data"]["works"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn search_finds_chinese_of_one_and_two_characters_and_follows_every_change(app: &TestApp) {
    let alice = app.user("alice").await;
    let fox_task = app
        .finished(&alice, "t2i", "雪山下的红狐狸，lighthouse at dusk")
        .await;
    let fox = publish(
        app,
        &alice,
        &fox_task,
        json!({"title": "狐", "tags": ["动物"]}),
    )
    .await;
    let cat_task = app.finished(&alice, "t2i", "一只猫 sleeping").await;
    let cat = publish(app, &alice, &cat_task, json!({"title": "午后"})).await;

    assert_eq!(found(app, "狐").await, vec![fox.clone()], "one character");
    assert_eq!(
        found(app, "狐狸").await,
        vec![fox.clone()],
        "two characters"
    );
    assert_eq!(
        found(app, "红狐狸").await,
        vec![fox.clone()],
        "three characters"
    );
    assert!(found(app, "狸红").await.is_empty(), "pairs in order only");
    assert_eq!(
        found(app, "light").await,
        vec![fox.clone()],
        "an English word's start"
    );
    assert_eq!(found(app, "LIGHTHOUSE AT").await, vec![fox.clone()]);
    assert_eq!(found(app, "动物").await, vec![fox.clone()], "tags");
    assert_eq!(found(app, "猫").await, vec![cat.clone()]);

    // An edit re-indexes: the old words go, the new ones come.
    publish(
        app,
        &alice,
        &cat_task,
        json!({"title": "熊猫", "hide_prompt": true}),
    )
    .await;
    assert_eq!(found(app, "熊猫").await, vec![cat.clone()]);
    assert!(
        found(app, "sleeping").await.is_empty(),
        "a hidden prompt leaves the index"
    );
    assert!(found(app, "午后").await.is_empty(), "so does the old title");

    // Taken down, it is not found; put back, it is.
    let (status, _) = app
        .post(
            &format!("/api/v1/gallery/works/{fox}/unpublish"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(found(app, "狐狸").await.is_empty());
    publish(app, &alice, &fox_task, json!({"title": "狐"})).await;
    assert_eq!(found(app, "狐狸").await, vec![fox.clone()]);

    // A deleted result's work is gone from search too.
    let (status, body) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/library/results/{fox_task}"),
            Some(&alice),
            None,
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert!(found(app, "狐").await.is_empty());
}

async fn library_search_uses_the_owners_index_only(app: &TestApp) {
    let ann = app.user("ann").await;
    let ben = app.user("ben").await;
    app.finished(&ann, "t2i", "狐狸 in the snow").await;
    app.finished(&ben, "t2i", "狐狸 in the rain").await;
    for (token, other) in [(&ann, "rain"), (&ben, "snow")] {
        let (_, body) = app
            .get(
                &format!(
                    "/api/v1/library/results?q={}",
                    picturedeck::web::render::urlencode("狐")
                ),
                Some(token),
            )
            .await;
        let prompts: Vec<&str> = body["data"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["prompt"].as_str().unwrap())
            .collect();
        assert_eq!(prompts.len(), 1, "{prompts:?}");
        assert!(!prompts[0].contains(other), "{prompts:?}");
        let (_, body) = app
            .get(&format!("/api/v1/library/results?q={other}"), Some(token))
            .await;
        assert!(body["data"]["results"].as_array().unwrap().is_empty());
    }
}

async fn visitors_get_an_etag_a_304_and_changes_at_once(app: &TestApp) {
    let alice = app.user("alice").await;
    let task = app.finished(&alice, "t2i", "灯塔").await;
    publish(app, &alice, &task, json!({"title": "第一座灯塔"})).await;

    let visitor = page_client();
    let res = visitor.get(app.at("/gallery")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()[ETAG].to_str().unwrap().to_string();
    assert!(res.text().await.unwrap().contains("第一座灯塔"));

    let res = visitor
        .get(app.at("/gallery"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()[ETAG].to_str().unwrap(), etag);
    assert!(res.bytes().await.unwrap().is_empty());

    // A new work shows at once, with another ETag.
    let task = app.finished(&alice, "t2i", "灯塔").await;
    publish(app, &alice, &task, json!({"title": "第二座灯塔"})).await;
    let res = visitor
        .get(app.at("/gallery"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(res.headers()[ETAG].to_str().unwrap(), etag);
    assert!(res.text().await.unwrap().contains("第二座灯塔"));

    // So does a like (the cards show counts) and the next page of cards answers 304 too.
    let bob = app.user("bob").await;
    let (_, list) = app.get("/api/v1/gallery/works", None).await;
    let work = list["data"]["works"][0]["id"].as_str().unwrap().to_string();
    let cards = visitor.get(app.at("/gallery/cards")).send().await.unwrap();
    let cards_tag = cards.headers()[ETAG].to_str().unwrap().to_string();
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/v1/gallery/works/{work}/like"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = visitor
        .get(app.at("/gallery/cards"))
        .header(IF_NONE_MATCH, &cards_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a like changes the cards");
    let tag = res.headers()[ETAG].to_str().unwrap().to_string();
    let res = visitor
        .get(app.at("/gallery/cards"))
        .header(IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

async fn a_signed_in_page_never_reaches_visitors_and_tokens_stay_their_own(app: &TestApp) {
    let alice = app.user("alice").await;
    let task = app.finished(&alice, "t2i", "海").await;
    publish(app, &alice, &task, json!({"title": "海"})).await;
    app.user("carol").await;
    let (carol, _) = app.signed_in("carol").await;

    // Carol first, then a visitor: the visitor does not get Carol's page.
    let (_, page) = app.open(&carol, "/gallery").await;
    assert!(page.contains("/u/carol"), "carol's page is hers");
    let visitor = page_client();
    let (token, page) = app.open(&visitor, "/gallery").await;
    assert!(
        !page.contains("/u/carol") && !page.contains("id=\"g-me\""),
        "a visitor sees no account"
    );
    assert!(
        !token.is_empty() && !page.contains("pd-csrf"),
        "the token slot is filled"
    );

    // A visitor first, then Carol: Carol does not get the stored visitor page.
    let (_, page) = app.open(&carol, "/gallery").await;
    assert!(page.contains("/u/carol"));

    // Each visitor's page carries that visitor's own token, the same on every visit.
    let other = page_client();
    let (other_token, _) = app.open(&other, "/gallery").await;
    assert_ne!(token, other_token);
    let (again, _) = app.open(&visitor, "/gallery").await;
    assert_eq!(token, again);
    // And the ETag differs between them, so one's 304 never stands for the other's page.
    let tag = |c: reqwest::Client| async move {
        c.get(app.at("/gallery")).send().await.unwrap().headers()[ETAG]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(tag(visitor.clone()).await, tag(other.clone()).await);
    assert_eq!(csrf_of(&page_for(app, &other).await), other_token);
}

async fn page_for(app: &TestApp, client: &reqwest::Client) -> String {
    client
        .get(app.at("/gallery"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn a_visitors_page_is_never_older_than_its_bound(app: &TestApp) {
    let alice = app.user("alice").await;
    let task = app.finished(&alice, "t2i", "山").await;
    publish(app, &alice, &task, json!({"title": "旧标题"})).await;
    let visitor = page_client();
    let stored_at = std::time::Instant::now();
    assert!(page_for(app, &visitor).await.contains("旧标题"));

    // A change the cache is not told of (another instance's, say) ...
    app.sql("UPDATE publications SET title = '新标题'").await;
    // ... may be missed for a moment, the stored page being served ...
    let page = page_for(app, &visitor).await;
    if stored_at.elapsed() < picturedeck::gallery::cache::TTL {
        assert!(page.contains("旧标题"), "the page is stored");
    }
    // ... but never past the bound.
    tokio::time::sleep(picturedeck::gallery::cache::TTL + Duration::from_millis(100)).await;
    assert!(page_for(app, &visitor).await.contains("新标题"));
}
