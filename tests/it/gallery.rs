//! The public gallery (issue 12), over HTTP on both backends: publishing and unpublishing,
//! what visitors may see, bans and take-downs, filters, search and keyset pages, likes and
//! favourites under concurrency, follows, comments, and the pages.

use picturedeck::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{page_client, TestApp};

fn open(c: &mut Config) {
    c.gallery.anonymous = Some(true);
}

crate::on_both_backends_with!(super::open;
    publishing_shows_a_work_to_visitors_and_unpublishing_hides_it,
    only_finished_own_results_with_a_title_are_published,
    a_banned_authors_works_vanish_at_once,
    an_admin_takes_a_work_down_with_a_reason_the_author_reads,
    filters_search_and_keyset_pages,
    likes_and_favourites_count_once_under_concurrency,
    follows_feed_favourites_and_comments,
    pages_show_the_gallery_a_work_and_an_author,
    two_first_publishes_at_once_make_one_work,
    comments_with_listed_terms_are_refused_with_the_terms,
);

crate::on_both_backends!(visitors_are_sent_to_log_in_when_the_instance_is_private);

/// Publishes the result `task` of `token`'s user; the work's public id.
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
    assert_eq!(answer["data"]["published"], true);
    answer["data"]["id"].as_str().unwrap().to_string()
}

/// The ids of the works a gallery list answers with.
async fn listed(app: &TestApp, path: &str, token: Option<&str>) -> Vec<String> {
    let (status, body) = app.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body["data"]["works"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

async fn publishing_shows_a_work_to_visitors_and_unpublishing_hides_it(app: &TestApp) {
    let alice = app.user("alice").await;
    let task = app.finished(&alice, "t2i", "雪山下的红狐狸").await;
    let (status, _) = app
        .get(
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never published yet");

    let work = publish(
        app,
        &alice,
        &task,
        json!({"title": "红狐", "description": "冬天的早晨", "tags": ["狐狸", "雪"]}),
    )
    .await;
    assert_ne!(work, task, "a work has its own public id");

    // A visitor (no token) sees it in the list and on its own.
    assert_eq!(
        listed(app, "/api/v1/gallery/works", None).await,
        vec![work.clone()]
    );
    let (status, detail) = app
        .get(&format!("/api/v1/gallery/works/{work}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let d = &detail["data"];
    assert_eq!(d["title"], "红狐");
    assert_eq!(d["description"], "冬天的早晨");
    assert_eq!(d["author"], "alice");
    assert_eq!(d["prompt"], "雪山下的红狐狸");
    assert_eq!(d["tags"], json!(["狐狸", "雪"]));
    assert_eq!(d["type"], "t2i");
    assert_eq!(d["nft"], false);
    assert_eq!(
        (d["width"].as_i64(), d["height"].as_i64()),
        (Some(128), Some(96))
    );
    // The thumbnail is the stored WebP, and the signed link works for a visitor.
    let thumb = reqwest::get(app.at(d["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/webp");

    // Publishing again changes it in place: same id, new title, still one work.
    let again = publish(
        app,
        &alice,
        &task,
        json!({"title": "红狐 · 二", "hide_prompt": true}),
    )
    .await;
    assert_eq!(again, work);
    let (_, detail) = app
        .get(&format!("/api/v1/gallery/works/{work}"), None)
        .await;
    assert_eq!(detail["data"]["title"], "红狐 · 二");
    assert!(
        detail["data"]["prompt"].is_null(),
        "hidden from visitors: {detail}"
    );
    assert_eq!(detail["data"]["prompt_hidden"], true);
    let (_, own) = app
        .get(&format!("/api/v1/gallery/works/{work}"), Some(&alice))
        .await;
    assert_eq!(
        own["data"]["prompt"], "雪山下的红狐狸",
        "the author still sees it"
    );

    // Unpublished: gone from the list and the page; the author's library says so.
    let (status, body) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());
    let (status, _) = app
        .get(&format!("/api/v1/gallery/works/{work}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app
        .get(
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&alice),
        )
        .await;
    assert_eq!(mine["data"]["published"], false);
    assert_eq!(mine["data"]["taken_down"], false);

    // The author may put it back, under the same id; deleting the result removes it again.
    assert_eq!(
        publish(app, &alice, &task, json!({"title": "回来了"})).await,
        work
    );
    assert_eq!(listed(app, "/api/v1/gallery/works", None).await.len(), 1);
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/library/results/{task}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());
}

async fn only_finished_own_results_with_a_title_are_published(app: &TestApp) {
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let task = app.finished(&alice, "t2i", "灯塔").await;
    let path = format!("/api/v1/library/results/{task}/publication");

    for (body, field) in [
        (json!({"title": "  "}), "title"),
        (json!({"title": "x".repeat(81)}), "title"),
        (json!({"title": format!("  {}", "x".repeat(80))}), "title"),
        (json!({"title": "a\u{7}b"}), "title"),
        (
            json!({"title": "ok", "description": "长".repeat(2001)}),
            "description",
        ),
        (json!({"title": "ok", "tags": ["x".repeat(31)]}), "tags"),
    ] {
        let (status, answer) = app.send(Method::PUT, &path, Some(&alice), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["code"], 400);
        assert_eq!(answer["data"]["field"], field, "{answer}");
    }
    let (status, answer) = app
        .send(
            Method::PUT,
            &path,
            Some(&mallory),
            Some(json!({"title": "mine now"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another's result: {answer}");
    let (status, _) = app
        .send(Method::PUT, &path, None, Some(json!({"title": "anon"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A task still queued cannot be published.
    app.stop_engine();
    let queued = app
        .submit_task(
            &alice,
            json!({"type": "t2i", "prompt": "还没画", "params": {"size": "128x96"}}),
        )
        .await;
    let (status, answer) = app
        .send(
            Method::PUT,
            &format!("/api/v1/library/results/{queued}/publication"),
            Some(&alice),
            Some(json!({"title": "too soon"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], 409);
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());
}

async fn a_banned_authors_works_vanish_at_once(app: &TestApp) {
    let root = app.admin("root").await;
    let bob = app.user("bob").await;
    let task = app.finished(&bob, "t2i", "海边").await;
    let work = publish(app, &bob, &task, json!({"title": "海"})).await;
    let (_, me) = app.get("/api/v1/user/me", Some(&bob)).await;
    let bob_id = me["data"]["uuid"].as_str().unwrap().to_string();

    let (status, body) = app
        .post(
            &format!("/api/v1/admin/users/{bob_id}/ban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());
    let (status, _) = app
        .get(&format!("/api/v1/gallery/works/{work}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/gallery/users/bob", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no author page either");

    let (status, _) = app
        .post(
            &format!("/api/v1/admin/users/{bob_id}/unban"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(app, "/api/v1/gallery/works", None).await, vec![work]);
}

async fn an_admin_takes_a_work_down_with_a_reason_the_author_reads(app: &TestApp) {
    let root = app.admin("root").await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let task = app.finished(&carol, "t2i", "城市夜景").await;
    let work = publish(app, &carol, &task, json!({"title": "夜"})).await;
    let take_down = format!("/api/v1/gallery/works/{work}/unpublish");

    let (status, _) = app
        .post(
            &take_down,
            Some(&dave),
            json!({"reason": "I do not like it"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the author or an admin");
    let (status, answer) = app.post(&take_down, Some(&root), json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an admin gives a reason: {answer}"
    );
    assert_eq!(answer["data"]["field"], "reason");
    let (status, answer) = app
        .post(&take_down, Some(&root), json!({"reason": "侵犯版权"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());

    let (_, mine) = app
        .get(
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&carol),
        )
        .await;
    assert_eq!(mine["data"]["taken_down"], true);
    assert_eq!(mine["data"]["unpublish_reason"], "侵犯版权");
    let (status, answer) = app
        .send(
            Method::PUT,
            &format!("/api/v1/library/results/{task}/publication"),
            Some(&carol),
            Some(json!({"title": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(listed(app, "/api/v1/gallery/works", None).await.is_empty());
    // The audit log keeps who took it down.
    let (_, me) = app.get("/api/v1/user/me", Some(&carol)).await;
    let carol_uuid = me["data"]["uuid"].as_str().unwrap().to_string();
    let actions = app
        .state
        .db
        .run(move |conn| {
            let carol = picturedeck::users::store::find_by_uuid(conn, &carol_uuid)
                .unwrap()
                .unwrap();
            Ok(picturedeck::audit::actions_of(conn, carol.id()).unwrap())
        })
        .await
        .unwrap();
    assert!(
        actions.contains(&"gallery.take_down".to_string()),
        "{actions:?}"
    );
}

async fn filters_search_and_keyset_pages(app: &TestApp) {
    let erin = app.user("erin").await;
    let fans: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(app.user(&format!("fan{i}")).await);
        }
        v
    };
    // 26 pictures and one video: more than a page (24).
    let mut works = Vec::new();
    for i in 0..26 {
        let task = app.finished(&erin, "t2i", &format!("图 {i}")).await;
        let (title, tags) = match i {
            0 => ("月下的狐狸".to_string(), json!(["动物"])),
            1 => ("100%_cotton".to_string(), json!([])),
            _ => (format!("作品 {i}"), json!(["系列"])),
        };
        works.push(publish(app, &erin, &task, json!({"title": title, "tags": tags})).await);
    }
    let video = app.finished(&erin, "t2v", "海浪").await;
    let video = publish(
        app,
        &erin,
        &video,
        json!({"title": "浪", "description": "蓝色的海"}),
    )
    .await;

    // Newest first, in pages of 24 joined by the cursor, no repeats, nothing lost.
    let (_, first) = app.get("/api/v1/gallery/works", None).await;
    let page1: Vec<&str> = first["data"]["works"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(page1.len(), 24);
    assert_eq!(page1[0], video);
    let cursor = first["data"]["next"].as_str().unwrap();
    let page2 = listed(
        app,
        &format!("/api/v1/gallery/works?cursor={}", urlencode(cursor)),
        None,
    )
    .await;
    assert_eq!(page2.len(), 3);
    let mut all: Vec<String> = page1.iter().map(|s| s.to_string()).chain(page2).collect();
    all.sort();
    let mut expected = works.clone();
    expected.push(video.clone());
    expected.sort();
    assert_eq!(all, expected);

    // Keyword over title, description, tags and prompt; Chinese and literal % _.
    assert_eq!(
        listed(
            app,
            &format!("/api/v1/gallery/works?q={}", urlencode("狐狸")),
            None
        )
        .await,
        vec![works[0].clone()]
    );
    assert_eq!(
        listed(
            app,
            &format!("/api/v1/gallery/works?q={}", urlencode("蓝色")),
            None
        )
        .await,
        vec![video.clone()]
    );
    assert_eq!(
        listed(
            app,
            &format!("/api/v1/gallery/works?q={}", urlencode("图 7")),
            None
        )
        .await,
        vec![works[7].clone()]
    );
    // `%` and `_` are literal; English words match from their start (the index is by word).
    assert_eq!(
        listed(
            app,
            &format!("/api/v1/gallery/works?q={}", urlencode("100%_c")),
            None
        )
        .await,
        vec![works[1].clone()]
    );
    assert!(
        listed(
            app,
            &format!("/api/v1/gallery/works?q={}", urlencode("%")),
            None
        )
        .await
        .len()
            == 1
    );
    assert_eq!(
        listed(
            app,
            &format!("/api/v1/gallery/works?tag={}", urlencode("动物")),
            None
        )
        .await,
        vec![works[0].clone()]
    );
    assert_eq!(
        listed(app, "/api/v1/gallery/works?type=t2v", None).await,
        vec![video.clone()]
    );
    assert_eq!(
        listed(
            app,
            "/api/v1/gallery/works?type=t2i&model=local/procedural",
            None
        )
        .await
        .len(),
        24
    );
    assert!(listed(app, "/api/v1/gallery/works?model=openai", None)
        .await
        .is_empty());

    // Most liked: three likes on works[5], one on works[9].
    for fan in &fans {
        let (status, body) = app
            .send(
                Method::PUT,
                &format!("/api/v1/gallery/works/{}/like", works[5]),
                Some(fan),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.send(
        Method::PUT,
        &format!("/api/v1/gallery/works/{}/like", works[9]),
        Some(&fans[0]),
        None,
    )
    .await;
    for sort in ["top", "week"] {
        let (_, top) = app
            .get(&format!("/api/v1/gallery/works?sort={sort}"), None)
            .await;
        let ids: Vec<&str> = top["data"]["works"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap())
            .collect();
        assert_eq!(&ids[..2], &[works[5].as_str(), works[9].as_str()], "{sort}");
        let next = top["data"]["next"].as_str().unwrap();
        let rest = listed(
            app,
            &format!(
                "/api/v1/gallery/works?sort={sort}&cursor={}",
                urlencode(next)
            ),
            None,
        )
        .await;
        assert_eq!(ids.len() + rest.len(), 27, "{sort}");
        assert!(
            rest.iter().all(|r| !ids.contains(&r.as_str())),
            "{sort}: a repeat"
        );
    }
    // A week later the likes have aged out of the week's order (the hourly pass), not out of
    // the all-time one; taking an old like back then does not count it twice.
    app.sql("UPDATE likes SET created_at = '2020-01-01 00:00:00'")
        .await;
    let first = |sort: &'static str| async move {
        listed(app, &format!("/api/v1/gallery/works?sort={sort}"), None).await[0].clone()
    };
    assert_eq!(first("week").await, works[5], "before the pass");
    picturedeck::gallery::service::recount_week(&app.state)
        .await
        .unwrap();
    assert_ne!(first("week").await, works[5], "after the pass");
    assert_eq!(first("top").await, works[5]);
    app.send(
        Method::PUT,
        &format!("/api/v1/gallery/works/{}/like", works[3]),
        Some(&fans[0]),
        None,
    )
    .await;
    assert_eq!(first("week").await, works[3], "a new like counts at once");
    app.send(
        Method::DELETE,
        &format!("/api/v1/gallery/works/{}/like", works[5]),
        Some(&fans[0]),
        None,
    )
    .await;
    let week: Vec<i64> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::publications::dsl::*;
            Ok(publications.select(week_likes).load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(week.iter().sum::<i64>(), 1, "{week:?}");
    assert!(week.iter().all(|w| *w >= 0), "{week:?}");
    for (query, field) in [
        ("sort=best", "sort"),
        ("type=t3i", "type"),
        ("cursor=garbage", "cursor"),
    ] {
        let (status, body) = app
            .get(&format!("/api/v1/gallery/works?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["data"]["field"], field);
    }
    // A cursor of one order does not continue another: that page is not there.
    let (status, body) = app
        .get(
            &format!(
                "/api/v1/gallery/works?sort=top&cursor={}",
                urlencode(cursor)
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["data"]["field"], "cursor");
}

fn urlencode(s: &str) -> String {
    picturedeck::web::render::urlencode(s)
}

async fn likes_and_favourites_count_once_under_concurrency(app: &TestApp) {
    let gina = app.user("gina").await;
    let task = app.finished(&gina, "t2i", "樱花").await;
    let work = publish(app, &gina, &task, json!({"title": "樱"})).await;
    let mut fans = Vec::new();
    for i in 0..8 {
        fans.push(app.user(&format!("liker{i}")).await);
    }
    // Every fan likes and favourites three times at once.
    let mut calls = Vec::new();
    for fan in &fans {
        for _ in 0..3 {
            for what in ["like", "favorite"] {
                let (app, fan, work) = (app, fan.clone(), work.clone());
                calls.push(async move {
                    app.send(
                        Method::PUT,
                        &format!("/api/v1/gallery/works/{work}/{what}"),
                        Some(&fan),
                        None,
                    )
                    .await
                });
            }
        }
    }
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, d) = app
        .get(&format!("/api/v1/gallery/works/{work}"), None)
        .await;
    assert_eq!(d["data"]["like_count"], 8, "{d}");
    assert_eq!(d["data"]["favorite_count"], 8, "{d}");

    // Half take their like back, twice at once each.
    let mut calls = Vec::new();
    for fan in fans.iter().take(4) {
        for _ in 0..2 {
            let (app, fan, work) = (app, fan.clone(), work.clone());
            calls.push(async move {
                app.send(
                    Method::DELETE,
                    &format!("/api/v1/gallery/works/{work}/like"),
                    Some(&fan),
                    None,
                )
                .await
            });
        }
    }
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, marks) = app
        .send(
            Method::PUT,
            &format!("/api/v1/gallery/works/{work}/favorite"),
            Some(&fans[0]),
            None,
        )
        .await;
    assert_eq!(marks["data"]["like_count"], 4);
    assert_eq!(marks["data"]["favorite_count"], 8);
    assert_eq!(marks["data"]["liked"], false);
    assert_eq!(marks["data"]["favorited"], true);
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/v1/gallery/works/{work}/like"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "visitors do not like");
    let (status, _) = app
        .send(
            Method::PUT,
            "/api/v1/gallery/works/00000000-0000-0000-0000-000000000000/like",
            Some(&gina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn follows_feed_favourites_and_comments(app: &TestApp) {
    let root = app.admin("root").await;
    let hana = app.user("hana").await;
    let ivan = app.user("ivan").await;
    let joy = app.user("joy").await;
    let h = app.finished(&hana, "t2i", "竹林").await;
    let h = publish(app, &hana, &h, json!({"title": "竹"})).await;
    let j = app.finished(&joy, "t2i", "沙漠").await;
    let j = publish(app, &joy, &j, json!({"title": "沙"})).await;

    // Following: ivan's feed holds hana's works only.
    assert!(listed(app, "/api/v1/gallery/following", Some(&ivan))
        .await
        .is_empty());
    let (status, author) = app
        .send(
            Method::PUT,
            "/api/v1/gallery/users/hana/follow",
            Some(&ivan),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{author}");
    assert_eq!(author["data"]["following"], true);
    assert_eq!(author["data"]["followers"], 1);
    app.send(
        Method::PUT,
        "/api/v1/gallery/users/hana/follow",
        Some(&ivan),
        None,
    )
    .await;
    let (_, author) = app.get("/api/v1/gallery/users/hana", None).await;
    assert_eq!(author["data"]["followers"], 1, "following twice is once");
    assert_eq!(author["data"]["works"], 1);
    assert_eq!(
        listed(app, "/api/v1/gallery/following", Some(&ivan)).await,
        vec![h.clone()]
    );
    assert_eq!(
        listed(app, "/api/v1/gallery/users/joy/works", None).await,
        vec![j.clone()]
    );
    let (status, body) = app
        .send(
            Method::PUT,
            "/api/v1/gallery/users/ivan/follow",
            Some(&ivan),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.get("/api/v1/gallery/following", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Favourites (收藏) list the work, not a copy: unpublished, it leaves the list too.
    app.send(
        Method::PUT,
        &format!("/api/v1/gallery/works/{j}/favorite"),
        Some(&ivan),
        None,
    )
    .await;
    assert_eq!(
        listed(app, "/api/v1/gallery/favorites", Some(&ivan)).await,
        vec![j.clone()]
    );
    app.post(
        &format!("/api/v1/gallery/works/{j}/unpublish"),
        Some(&joy),
        json!({}),
    )
    .await;
    assert!(listed(app, "/api/v1/gallery/favorites", Some(&ivan))
        .await
        .is_empty());

    // Comments: anyone signed in writes; the writer, the work's author or an admin deletes.
    let path = format!("/api/v1/gallery/works/{h}/comments");
    let (status, body) = app
        .post(&path, Some(&ivan), json!({"body": "好看！"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.post(&path, Some(&joy), json!({"body": "   "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["data"]["field"], "body");
    let (status, body) = app
        .post(&path, Some(&joy), json!({"body": "bell\u{7}"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.post(&path, None, json!({"body": "anon"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(&path, Some(&joy), json!({"body": "第二条\r\n两行"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "line breaks are kept");
    let (_, list) = app.get(&path, None).await;
    let comments = list["data"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0]["body"], "好看！");
    assert_eq!(comments[0]["author"], "ivan");
    let (first, second) = (
        comments[0]["id"].as_str().unwrap().to_string(),
        comments[1]["id"].as_str().unwrap().to_string(),
    );
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/gallery/comments/{first}"),
            Some(&joy),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "joy neither wrote it nor owns the work"
    );
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/gallery/comments/{first}"),
            Some(&hana),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the work's author deletes");
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/v1/gallery/comments/{second}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "an admin deletes");
    let (_, list) = app.get(&path, None).await;
    assert_eq!(list["data"], json!([]));
}

async fn pages_show_the_gallery_a_work_and_an_author(app: &TestApp) {
    let kai = app.user("kai").await;
    let task = app.finished(&kai, "t2i", "秘密配方").await;
    let work = publish(
        app,
        &kai,
        &task,
        json!({"title": "晨雾", "tags": ["风景"], "hide_prompt": true}),
    )
    .await;
    let visitor = page_client();

    // A visitor at / lands in the gallery.
    let res = visitor.get(app.at("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/gallery");
    let (_, html) = app.open(&visitor, "/gallery").await;
    assert!(html.contains("PICTUREDECK"), "the mark");
    assert!(html.contains(&format!("id=\"work-{work}\"")), "the card");
    assert!(html.contains("晨雾") && html.contains("风景"));
    assert!(
        html.contains("aspect-ratio: 128 / 96"),
        "the card keeps the picture's shape"
    );
    assert!(html.contains("loading=\"lazy\""));
    assert!(html.contains("非 NFT") && html.contains("AI生成"));
    assert!(html.contains("id=\"g-nav-market\"") && html.contains("aria-disabled=\"true\""));
    assert!(!html.contains("秘密配方"), "a hidden prompt stays hidden");
    let (_, filtered) = app.open(&visitor, "/gallery?sort=top&type=t2v").await;
    assert!(filtered.contains("id=\"g-empty\""));

    let (_, page) = app.open(&visitor, &format!("/w/{work}")).await;
    // Tera writes `/` in values as `&#x2F;`, which the browser reads back as `/`.
    let page = page.replace("&#x2F;", "/");
    assert!(page.contains("id=\"work-title\">晨雾<"));
    assert!(
        page.contains(&format!(
            "property=\"og:url\" content=\"{}/w/{work}\"",
            app.url
        )),
        "absolute link"
    );
    assert!(page.contains(&format!(
        "property=\"og:image\" content=\"{}/api/v1/files/result/",
        app.url
    )));
    assert!(page.contains("twitter:card"));
    assert!(
        page.contains(&format!("href=\"/?work={work}\"")),
        "make one like this"
    );
    assert!(page.contains("id=\"nft-block\""));
    assert!(page.contains("id=\"work-prompt-hidden\"") && !page.contains("秘密配方"));
    let (_, author) = app.open(&visitor, "/u/kai").await;
    assert!(author.contains("id=\"author-name\">kai<") && author.contains(&work));
    let res = visitor.get(app.at("/u/nobody")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = visitor
        .get(app.at("/gallery?sort=best"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Signed in, kai's own page shows the prompt, and the studio takes the recipe.
    let (kai_page, _) = app.signed_in("kai").await;
    let (_, own) = app.open(&kai_page, &format!("/w/{work}")).await;
    assert!(own.contains("秘密配方") && own.contains("id=\"unpublish\""));
    let (_, studio) = app.open(&kai_page, &format!("/?work={work}")).await;
    assert!(
        studio.contains("秘密配方"),
        "the author's recipe keeps the prompt"
    );
    // Another person's recipe leaves a hidden prompt out.
    app.register("lee").await;
    let (lee, _) = app.signed_in("lee").await;
    let (_, studio) = app.open(&lee, &format!("/?work={work}")).await;
    assert!(!studio.contains("秘密配方"));
    assert!(
        studio.contains("data-reuse="),
        "the kind and model still fill the form"
    );

    // The library's result page has the publish form, filled in.
    let (_, detail) = app.open(&kai_page, &format!("/library/{task}")).await;
    let form = detail
        .split("id=\"publish-box\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(
        form.contains("id=\"publish-title\"") && form.contains("value=\"晨雾\""),
        "{form}"
    );
    assert!(detail.contains(&format!("href=\"/w/{work}\"")));
}

async fn visitors_are_sent_to_log_in_when_the_instance_is_private(app: &TestApp) {
    let mo = app.user("moe").await;
    let task = app.finished(&mo, "t2i", "私有").await;
    let work = publish(app, &mo, &task, json!({"title": "私"})).await;
    let visitor = page_client();
    for path in ["/", "/gallery", &format!("/w/{work}"), "/u/moe"] {
        let res = visitor.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = res.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/login"), "{path} -> {to}");
    }
    let (status, body) = app.get("/api/v1/gallery/works", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Signed-in people still see it.
    assert_eq!(
        listed(app, "/api/v1/gallery/works", Some(&mo)).await,
        vec![work]
    );
}

/// What exiftool says about `bytes` with `args`, or None when exiftool is missing (a skip;
/// under CI a failure).
fn exiftool(bytes: &[u8], name: &str, args: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = match std::process::Command::new("exiftool")
        .args(args)
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) if crate::support::under_ci() => panic!("exiftool is required under CI: {e}"),
        Err(e) => {
            crate::support::skipped(&format!("exiftool cannot run ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every `TC260:AIGC` value exiftool found, parsed.
fn aigc_labels(tags: &Value) -> Vec<Value> {
    tags.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().ends_with(":aigc"))
        .map(|(_, v)| serde_json::from_str(v.as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_media_carry_the_aigc_label_exiftool_reads() {
    let app = TestApp::builder(crate::support::Backend::Sqlite)
        .config(open)
        .start()
        .await
        .unwrap();
    let vera = app.user("vera").await;
    for (kind, name) in [("t2v", "work.mp4"), ("t2i", "work.png")] {
        let task = app.finished(&vera, kind, "海浪拍岸").await;
        let work = publish(&app, &vera, &task, json!({"title": "浪"})).await;
        let (_, d) = app
            .get(&format!("/api/v1/gallery/works/{work}"), None)
            .await;
        let media = reqwest::get(app.at(d["data"]["media_url"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(media.status(), StatusCode::OK);
        let bytes = media.bytes().await.unwrap();
        let Some(tags) = exiftool(&bytes, name, &["-j", "-G1"]) else {
            break;
        };
        let tags: Value = serde_json::from_str::<Value>(&tags).unwrap()[0].clone();
        let labels = aigc_labels(&tags);
        assert!(
            !labels.is_empty(),
            "{kind}: exiftool found no AIGC label: {tags}"
        );
        for label in &labels {
            assert_eq!(label["Label"], "1", "{kind}");
            assert_eq!(label["ProduceID"], task.as_str(), "{kind}");
            assert_eq!(label["ContentProducer"], "PictureDeck", "{kind}");
        }
        if kind == "t2v" {
            // Both places: the top-level uuid box and moov/udta/XMP_; the video still plays.
            let walk = exiftool(&bytes, name, &["-v2"]).unwrap();
            assert!(
                walk.contains("Tag 'uuid'") && walk.contains("Tag 'XMP_'"),
                "{walk}"
            );
            assert_eq!(walk.matches("TC260:AIGC").count(), 2, "{walk}");
            assert_eq!(tags["QuickTime:Duration"], "3.00 s", "{tags}");
        }
    }
    app.stop().await;
}

/// Two first publishes of one result at the same instant (a double click, two tabs): both
/// answer 200 with the same work, which is there once, with the later request's title.
async fn two_first_publishes_at_once_make_one_work(app: &TestApp) {
    let lena = app.user("lena").await;
    for round in 0..4 {
        let task = app
            .finished(&lena, "t2i", &format!("同时发布 {round}"))
            .await;
        let calls = (0..4).map(|i| {
            let (app, lena, task) = (app, lena.clone(), task.clone());
            async move {
                app.send(
                    Method::PUT,
                    &format!("/api/v1/library/results/{task}/publication"),
                    Some(&lena),
                    Some(json!({"title": format!("同时 {i}")})),
                )
                .await
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        let mut ids = Vec::new();
        for (status, body) in &answers {
            assert_eq!(*status, StatusCode::OK, "round {round}: {body}");
            ids.push(body["data"]["id"].as_str().unwrap().to_string());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "round {round}: one work, not {ids:?}");
        let found = listed(
            app,
            &format!(
                "/api/v1/gallery/works?q={}",
                urlencode(&format!("同时发布 {round}"))
            ),
            None,
        )
        .await;
        assert_eq!(found, ids, "round {round}: the work is listed once");
    }
}

/// Comments pass the prompts' word lists: a listed term is refused with 422 naming it, over the
/// API and on the work's page (inline, under the comment box), and nothing is posted.
async fn comments_with_listed_terms_are_refused_with_the_terms(app: &TestApp) {
    let mia = app.user("mia").await;
    let task = app.finished(&mia, "t2i", "湖边小屋").await;
    let work = publish(app, &mia, &task, json!({"title": "小屋"})).await;
    let path = format!("/api/v1/gallery/works/{work}/comments");
    let (status, body) = app
        .post(&path, Some(&mia), json!({"body": "教我制造炸彈吧"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], 422);
    assert_eq!(body["data"]["field"], "body");
    assert_eq!(
        body["message"],
        "评论包含不允许的内容（制造炸弹），请修改后再试"
    );
    let res = reqwest::Client::new()
        .post(app.at(&path))
        .bearer_auth(&mia)
        .header("Accept-Language", "en")
        .json(&json!({"body": "how to make a B.O.M.B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("The comment contains terms that are not allowed (")
            && message.to_lowercase().contains("bomb"),
        "the term is named: {body}"
    );
    // The page's comment form shows the refusal where the comment was typed.
    let (client, csrf) = app.signed_in("mia").await;
    let res = app
        .post_form(
            &client,
            &csrf,
            &format!("/w/{work}/comments"),
            &[("body", "制造炸弹")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"comment-error\""), "{html}");
    assert!(html.contains("评论包含不允许的内容（制造炸弹）"), "{html}");
    let (_, list) = app.get(&path, Some(&mia)).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing was posted"
    );
    // Harmless words that hold a listed one still go through.
    let (status, body) = app
        .post(&path, Some(&mia), json!({"body": "a bombastic view"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
