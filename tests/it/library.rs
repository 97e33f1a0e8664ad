//! 生成记录 (seed 3.5): filters and Chinese keyword search, keyset pages, folders (nested,
//! unique names, no cycles, deleting returns results to unfiled), delete freeing files,
//! favourites and tags, and ownership on every endpoint — on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{page_client, TestApp};

on_both_backends!(
    keyword_search_finds_chinese_substrings_and_filters_combine,
    pages_follow_the_keyset_in_both_orders,
    folders_nest_keep_sibling_names_unique_and_never_cycle,
    deleting_a_folder_returns_its_results_to_unfiled,
    deleting_results_frees_their_files_and_leaves_no_trace,
    favourites_and_tags_filter_the_list,
    other_users_results_and_folders_read_as_missing,
);

/// Runs real tasks on the local engine and returns their ids once completed.
pub(crate) async fn make(app: &TestApp, token: &str, prompts: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for p in prompts {
        let (status, body) = app
            .post(
                "/api/v1/generation",
                Some(token),
                json!({"type": "t2i", "prompt": p, "params": {"size": "64x64"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["data"]["task_id"].as_str().unwrap().to_string());
    }
    app.wait_completed(token, &ids).await;
    ids
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/library/results?{query}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["data"].clone()
}

/// How many results `list` gives for `query`.
async fn count(app: &TestApp, token: &str, query: &str) -> usize {
    list(app, token, query).await["results"]
        .as_array()
        .unwrap()
        .len()
}

fn prompts_of(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["prompt"].as_str().unwrap_or("").to_string())
        .collect()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn keyword_search_finds_chinese_substrings_and_filters_combine(app: &TestApp) {
    let token = app.user("searcher").await;
    make(
        app,
        &token,
        &[
            "一只狐狸在雪地里奔跑",
            "城市夜景 neon",
            "A red FOX at dawn",
            "100% 纯色_背景",
        ],
    )
    .await;
    assert_eq!(
        prompts_of(&list(app, &token, &format!("q={}", enc("狐狸"))).await),
        ["一只狐狸在雪地里奔跑"]
    );
    assert_eq!(
        prompts_of(&list(app, &token, "q=fox").await),
        ["A red FOX at dawn"],
        "case-insensitive"
    );
    assert_eq!(
        prompts_of(&list(app, &token, &format!("q={}", enc("%"))).await),
        ["100% 纯色_背景"],
        "% is literal"
    );
    assert_eq!(
        prompts_of(&list(app, &token, &format!("q={}", enc("_"))).await),
        ["100% 纯色_背景"],
        "_ is literal"
    );
    assert_eq!(count(app, &token, "type=t2v").await, 0);
    assert_eq!(
        list(
            app,
            &token,
            "type=t2i&status=completed&model=local/procedural"
        )
        .await["results"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        count(app, &token, &format!("from={today}&to={today}")).await,
        4
    );
    assert_eq!(count(app, &token, "to=2001-01-01").await, 0);
    let oldest = list(app, &token, "order=oldest").await;
    assert_eq!(prompts_of(&oldest)[0], "一只狐狸在雪地里奔跑");
    for bad in ["type=gif", "status=lost", "from=yesterday", "order=random"] {
        let (status, body) = app
            .get(&format!("/api/v1/library/results?{bad}"), Some(&token))
            .await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(400)),
            "{bad}"
        );
    }
}

async fn pages_follow_the_keyset_in_both_orders(app: &TestApp) {
    let token = app.user("pager").await;
    // Rows straight into the table: paging is about the list, not about generating.
    let user_id = picturedeck::users::service::find_by_username(&app.state, "pager")
        .await
        .unwrap()
        .id;
    app.state
        .db
        .run(move |conn| {
            for i in 0..45 {
                let now = chrono::Utc::now().naive_utc();
                let uuid = uuid::Uuid::new_v4().to_string();
                let prompt = format!("item {i:02}");
                picturedeck::generation::store::insert(
                    conn,
                    &picturedeck::generation::model::NewGeneration {
                        uuid: &uuid,
                        user_id,
                        status: "failed",
                        generation_type: "t2i",
                        prompt: Some(&prompt),
                        parameters: Some("{}"),
                        provider: "local",
                        model: "procedural",
                        attempts: 1,
                        next_attempt_at: now,
                        progress: 0,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // A date range pages by (created_at, id); these rows share one created_at.
    for (order, first, last, range) in [
        ("newest", "item 44", "item 00", ""),
        ("oldest", "item 00", "item 44", ""),
        ("newest", "item 44", "item 00", "&from=2000-01-01"),
        (
            "oldest",
            "item 00",
            "item 44",
            "&from=2000-01-01&to=2999-12-31",
        ),
    ] {
        let one = list(app, &token, &format!("order={order}{range}")).await;
        assert_eq!(one["results"].as_array().unwrap().len(), 40);
        assert_eq!(prompts_of(&one)[0], first);
        let next = one["next"].as_str().unwrap();
        let two = list(app, &token, &format!("order={order}{range}&before={next}")).await;
        assert_eq!(two["results"].as_array().unwrap().len(), 5);
        assert_eq!(prompts_of(&two).last().unwrap(), last);
        assert!(two["next"].is_null());
    }
}

async fn folder(
    app: &TestApp,
    token: &str,
    name: &str,
    parent: Option<&str>,
) -> (StatusCode, Value) {
    app.post(
        "/api/v1/library/folders",
        Some(token),
        json!({"name": name, "parent": parent}),
    )
    .await
}

/// A new folder's id.
async fn folder_id(app: &TestApp, token: &str, name: &str, parent: Option<&str>) -> String {
    folder(app, token, name, parent).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Moves the results `ids` (a JSON array) into `folder`.
async fn move_to(app: &TestApp, token: &str, ids: Value, folder: &str) {
    app.post(
        "/api/v1/library/results/move",
        Some(token),
        json!({"ids": ids, "folder": folder}),
    )
    .await;
}

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .patch(app.at(&format!("/api/v1/library/folders/{id}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn delete(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .delete(app.at(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn folders_nest_keep_sibling_names_unique_and_never_cycle(app: &TestApp) {
    let token = app.user("organiser").await;
    let (status, a) = folder(app, &token, "旅行", None).await;
    assert_eq!(
        (status, a["code"].as_i64()),
        (StatusCode::CREATED, Some(201))
    );
    let a = a["data"]["id"].as_str().unwrap().to_string();
    let b = folder_id(app, &token, "2026", Some(&a)).await;
    let c = folder_id(app, &token, "京都", Some(&b)).await;

    let (status, body) = folder(app, &token, "旅行", None).await;
    assert_eq!(
        (
            status,
            body["code"].as_i64(),
            body["data"]["field"].as_str()
        ),
        (StatusCode::CONFLICT, Some(409), Some("name"))
    );
    assert_eq!(
        folder(app, &token, "京都", Some(&a)).await.0,
        StatusCode::CREATED,
        "same name, other parent"
    );
    for bad in ["", "   ", &"长".repeat(101)] {
        assert_eq!(
            folder(app, &token, bad, None).await.0,
            StatusCode::BAD_REQUEST,
            "{bad:?}"
        );
    }

    let (status, body) = patch(app, &token, &a, json!({"parent": c})).await;
    assert_eq!(
        (status, body["data"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("parent")),
        "no cycles"
    );
    assert_eq!(
        patch(app, &token, &a, json!({"parent": a})).await.0,
        StatusCode::BAD_REQUEST,
        "not into itself"
    );
    assert_eq!(
        patch(app, &token, &c, json!({"parent": "root", "name": "Kyoto"}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        patch(app, &token, &b, json!({"name": "Kyoto", "parent": ""}))
            .await
            .0,
        StatusCode::CONFLICT,
        "Kyoto exists at the root now"
    );

    let ids = make(app, &token, &["金阁寺", "岚山"]).await;
    let (status, _) = app
        .post(
            "/api/v1/library/results/move",
            Some(&token),
            json!({"ids": ids, "folder": b}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, tree) = app.get("/api/v1/library/folders", Some(&token)).await;
    let top: Vec<&str> = tree["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["Kyoto", "旅行"]);
    let travel = &tree["data"][1];
    let year = travel["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "2026")
        .unwrap();
    assert_eq!(year["count"], 2);
    assert_eq!(count(app, &token, &format!("folder={b}")).await, 2);
    assert_eq!(count(app, &token, "folder=unfiled").await, 0);
    let one = list(app, &token, &format!("folder={b}")).await["results"][0].clone();
    assert_eq!(one["folder"]["name"], "2026");
}

async fn deleting_a_folder_returns_its_results_to_unfiled(app: &TestApp) {
    let token = app.user("tidy").await;
    let top = folder_id(app, &token, "top", None).await;
    let sub = folder_id(app, &token, "sub", Some(&top)).await;
    let ids = make(app, &token, &["in top", "in sub"]).await;
    move_to(app, &token, json!([ids[0]]), &top).await;
    move_to(app, &token, json!([ids[1]]), &sub).await;
    assert_eq!(count(app, &token, "folder=unfiled").await, 0);

    let (status, body) = delete(app, &token, &format!("/api/v1/library/folders/{top}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, tree) = app.get("/api/v1/library/folders", Some(&token)).await;
    assert!(
        tree["data"].as_array().unwrap().is_empty(),
        "the subfolder went with it"
    );
    assert_eq!(
        count(app, &token, "folder=unfiled").await,
        2,
        "results kept, unfiled"
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/library/results?folder={sub}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn deleting_results_frees_their_files_and_leaves_no_trace(app: &TestApp) {
    let token = app.user("cleaner").await;
    let ids = make(app, &token, &["keep", "drop one", "drop two"]).await;
    let f = folder_id(app, &token, "box", None).await;
    move_to(app, &token, json!(ids), &f).await;
    let put = reqwest::Client::new()
        .put(app.at(&format!("/api/v1/library/results/{}/tags", ids[1])))
        .bearer_auth(&token)
        .json(&json!({"tags": ["old"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let keys = {
        let wanted = ids[1..].to_vec();
        app.state
            .db
            .run(move |conn| {
                let mut keys = Vec::new();
                for id in wanted {
                    let g = picturedeck::generation::store::find_by_uuid(conn, &id)?.unwrap();
                    keys.push(g.physical_path.unwrap());
                    keys.push(g.thumb_path.unwrap());
                }
                Ok(keys)
            })
            .await
            .unwrap()
    };
    let old_url = list(app, &token, "").await["results"][0]["result_url"]
        .as_str()
        .unwrap()
        .to_string();

    let intruder = app.user("intruder").await;
    let (status, _) = app
        .post(
            "/api/v1/library/results/delete",
            Some(&intruder),
            json!({"ids": [ids[1]]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/v1/library/results/delete",
            Some(&token),
            json!({"ids": [ids[1], "not-mine"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "one bad id fails the whole batch"
    );
    assert_eq!(count(app, &token, "").await, 3, "nothing deleted");

    let (status, body) = app
        .post(
            "/api/v1/library/results/delete",
            Some(&token),
            json!({"ids": [ids[1], ids[2]]}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["count"].as_i64()),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(body["message"], "删除成功");
    assert_eq!(prompts_of(&list(app, &token, "").await), ["keep"]);
    assert_eq!(count(app, &token, &format!("folder={f}")).await, 1);
    assert_eq!(count(app, &token, "tag=old").await, 0);
    let (_, tree) = app.get("/api/v1/library/folders", Some(&token)).await;
    assert_eq!(tree["data"][0]["count"], 1);
    for key in keys {
        assert!(
            app.state.storage.get(&key).await.is_err(),
            "{key} was removed"
        );
    }
    let (status, _) = app
        .get(&format!("/api/v1/library/results/{}", ids[1]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("/api/v1/generation/{}", ids[1]), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    if old_url.contains(&ids[2]) {
        assert_ne!(
            reqwest::get(app.at(&old_url)).await.unwrap().status(),
            StatusCode::OK,
            "its link is dead"
        );
    }
    let (status, body) = delete(app, &token, &format!("/api/v1/library/results/{}", ids[0])).await;
    assert_eq!(
        (status, body["data"]["count"].as_i64()),
        (StatusCode::OK, Some(1))
    );
}

async fn favourites_and_tags_filter_the_list(app: &TestApp) {
    let token = app.user("collector").await;
    let ids = make(app, &token, &["喜欢的", "普通的"]).await;
    let client = reqwest::Client::new();
    let res = client
        .put(app.at(&format!("/api/v1/library/results/{}/favorite", ids[0])))
        .bearer_auth(&token)
        .json(&json!({"favorite": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["data"]["favorite"], true);
    assert_eq!(
        prompts_of(&list(app, &token, "favorite=true").await),
        ["喜欢的"]
    );
    assert_eq!(
        prompts_of(&list(app, &token, "favorite=false").await),
        ["普通的"]
    );

    let res = client
        .put(app.at(&format!("/api/v1/library/results/{}/tags", ids[1])))
        .bearer_auth(&token)
        .json(&json!({"tags": ["风景", " 风景 ", "草稿"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["tags"],
        json!(["草稿", "风景"])
    );
    assert_eq!(
        prompts_of(&list(app, &token, &format!("tag={}", enc("风景"))).await),
        ["普通的"]
    );
    let (_, tags) = app.get("/api/v1/library/tags", Some(&token)).await;
    assert_eq!(tags["data"], json!(["草稿", "风景"]));
    let res = client
        .put(app.at(&format!("/api/v1/library/results/{}/tags", ids[1])))
        .bearer_auth(&token)
        .json(&json!({"tags": ["x".repeat(31)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn other_users_results_and_folders_read_as_missing(app: &TestApp) {
    let owner = app.user("owner2").await;
    let other = app.user("stranger").await;
    let ids = make(app, &owner, &["private"]).await;
    let f = folder_id(app, &owner, "mine", None).await;
    let mine = folder_id(app, &other, "theirs", None).await;
    let client = reqwest::Client::new();
    assert_eq!(
        app.get(&format!("/api/v1/library/results/{}", ids[0]), Some(&other))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/library/results?folder={f}"), Some(&other))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch(app, &other, &f, json!({"name": "hacked"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(app, &other, &format!("/api/v1/library/folders/{f}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A parent named in the body that is not yours: 422, as for one that does not exist.
    assert_eq!(
        folder(app, &other, "inside", Some(&f)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, _) = app
        .post(
            "/api/v1/library/results/move",
            Some(&other),
            json!({"ids": ids, "folder": mine}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/v1/library/results/move",
            Some(&owner),
            json!({"ids": ids, "folder": mine}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nor into someone else's folder"
    );
    let res = client
        .put(app.at(&format!("/api/v1/library/results/{}/favorite", ids[0])))
        .bearer_auth(&other)
        .json(&json!({"favorite": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(list(app, &other, "").await["results"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, tree) = app.get("/api/v1/library/folders", Some(&other)).await;
    assert_eq!(tree["data"].as_array().unwrap().len(), 1);
}

on_both_backends!(share_links_open_without_login_and_obey_expiry_password_and_revocation);

async fn share_links_open_without_login_and_obey_expiry_password_and_revocation(app: &TestApp) {
    let token = app.user("sharer").await;
    let ids = make(app, &token, &["分享的风景", "不分享的秘密"]).await;
    let (status, body) = app
        .post(
            "/api/v1/library/shares",
            Some(&token),
            json!({"result": ids[0]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CREATED, Some(201)),
        "{body}"
    );
    let url = body["data"]["url"].as_str().unwrap().to_string();
    let share_id = body["data"]["id"].as_str().unwrap().to_string();
    assert!(url.len() > 30, "unguessable token: {url}");

    // A stranger's browser: no cookies, no login.
    let page = reqwest::get(app.at(&url)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("分享的风景") && !html.contains("不分享的秘密"),
        "only what was shared"
    );
    let img = html
        .split("src=\"")
        .nth(2)
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .unwrap();
    assert_eq!(
        reqwest::get(app.at(&img)).await.unwrap().status(),
        StatusCode::OK,
        "its picture loads"
    );
    reqwest::get(app.at(&url)).await.unwrap();
    let (_, list) = app.get("/api/v1/library/shares", Some(&token)).await;
    assert_eq!(list["data"][0]["views"], 2);

    // A folder share shows the folder's results only.
    let f = folder_id(app, &token, "公开", None).await;
    move_to(app, &token, json!([ids[0]]), &f).await;
    let (_, body) = app
        .post(
            "/api/v1/library/shares",
            Some(&token),
            json!({"folder": f, "expires_in_hours": 1}),
        )
        .await;
    let folder_url = body["data"]["url"].as_str().unwrap().to_string();
    let html = reqwest::get(app.at(&folder_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("公开") && html.contains("分享的风景") && !html.contains("不分享的秘密"));

    // A password keeps strangers out until they type it.
    let (_, body) = app
        .post(
            "/api/v1/library/shares",
            Some(&token),
            json!({"result": ids[1], "password": "芝麻开门"}),
        )
        .await;
    let locked = body["data"]["url"].as_str().unwrap().to_string();
    assert!(body["data"]["has_password"].as_bool().unwrap());
    let browser = page_client();
    let (csrf, html) = app.open(&browser, &locked).await;
    assert!(!html.contains("不分享的秘密") && html.contains("unlock-form"));
    let wrong = app
        .post_form(&browser, &csrf, &locked, &[("password", "nope")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = app
        .post_form(&browser, &csrf, &locked, &[("password", "芝麻开门")])
        .await;
    assert_eq!(right.headers()["hx-redirect"].to_str().unwrap(), locked);
    assert!(browser
        .get(app.at(&locked))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("不分享的秘密"));

    // Revoked, expired and deleted shares are gone.
    let res = reqwest::Client::new()
        .delete(app.at(&format!("/api/v1/library/shares/{share_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        reqwest::get(app.at(&url)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.sql("UPDATE shares SET expires_at = '2000-01-01 00:00:00' WHERE collection_id IS NOT NULL")
        .await;
    assert_eq!(
        reqwest::get(app.at(&folder_url)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.post(
        "/api/v1/library/results/delete",
        Some(&token),
        json!({"ids": [ids[1]]}),
    )
    .await;
    assert_eq!(
        reqwest::get(app.at(&locked)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reqwest::get(app.at("/s/not-a-real-token"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // Only the owner shares or revokes.
    let other = app.user("not_sharer").await;
    assert_eq!(
        app.post(
            "/api/v1/library/shares",
            Some(&other),
            json!({"result": ids[0]})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .post(
            "/api/v1/library/shares",
            Some(&token),
            json!({"result": ids[0], "folder": f}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post(
            "/api/v1/library/shares",
            Some(&token),
            json!({"result": ids[0], "expires_in_hours": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

on_both_backends!(a_folder_exports_as_zip_and_imports_into_another_instance);

async fn a_folder_exports_as_zip_and_imports_into_another_instance(app: &TestApp) {
    use std::io::Read;
    let token = app.user("exporter").await;
    let ids = make(app, &token, &["山水", "花鸟", "不导出"]).await;
    let top = folder_id(app, &token, "作品集", None).await;
    let sub = folder_id(app, &token, "国画", Some(&top)).await;
    move_to(app, &token, json!([ids[0]]), &top).await;
    move_to(app, &token, json!([ids[1]]), &sub).await;
    let client = reqwest::Client::new();
    client
        .put(app.at(&format!("/api/v1/library/results/{}/tags", ids[1])))
        .bearer_auth(&token)
        .json(&json!({"tags": ["工笔"]}))
        .send()
        .await
        .unwrap();

    let res = client
        .get(app.at(&format!("/api/v1/library/export?folder={top}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"PictureDeck_")
            && disposition.contains("filename*=UTF-8''PictureDeck_"),
        "{disposition}"
    );
    let zip_bytes = res.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.clone())).unwrap();
    let manifest: Value = {
        let mut text = String::new();
        archive
            .by_name("manifest.json")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let items = manifest["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "the folder and its subfolder, not the unfiled one"
    );
    for item in items {
        // Entries are named as downloads are: after the prompt and the day.
        let file = item["file"].as_str().unwrap();
        assert!(file.starts_with("files/PictureDeck_"), "{file}");
        let mut bytes = Vec::new();
        archive
            .by_name(item["file"].as_str().unwrap())
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(
            picturedeck::storage::sha256_hex(&bytes),
            item["sha256"].as_str().unwrap()
        );
        assert!(image::load_from_memory(&bytes).is_ok(), "the original file");
    }
    let flower = items.iter().find(|i| i["prompt"] == "花鸟").unwrap();
    assert_eq!(flower["folder"], json!(["作品集", "国画"]));
    assert_eq!(flower["tags"], json!(["工笔"]));
    let (status, _) = app
        .get(&format!("/api/v1/library/export?ids={}", ids[0]), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = app.user("other_exporter").await;
    let res = client
        .get(app.at(&format!("/api/v1/library/export?folder={top}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "another user's folder");

    // Another instance, another account: the archive brings results, folders and tags.
    let second = TestApp::start(app.backend()).await.unwrap();
    let them = second.user("importer").await;
    let res = client
        .post(second.at("/api/v1/library/import"))
        .bearer_auth(&them)
        .body(zip_bytes.clone())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (
            body["data"]["imported"].as_i64(),
            body["data"]["skipped"].as_i64()
        ),
        (Some(2), Some(0)),
        "{body}"
    );
    let page = list(&second, &them, "").await;
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    let flower = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prompt"] == "花鸟")
        .unwrap()
        .clone();
    assert_eq!(flower["folder"]["name"], "国画");
    assert_eq!(flower["tags"], json!(["工笔"]));
    let picture = reqwest::get(second.at(flower["result_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(image::load_from_memory(&picture).is_ok());
    let (_, tree) = second.get("/api/v1/library/folders", Some(&them)).await;
    assert_eq!(tree["data"][0]["name"], "作品集");
    assert_eq!(tree["data"][0]["children"][0]["name"], "国画");

    // Garbage is refused; a file that does not match its checksum is skipped.
    let res = client
        .post(second.at("/api/v1/library/import"))
        .bearer_auth(&them)
        .body("not a zip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let mut tampered = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut forged = manifest.clone();
    forged["items"] = json!([items[0]]);
    tampered
        .start_file(items[0]["file"].as_str().unwrap(), options)
        .unwrap();
    std::io::Write::write_all(&mut tampered, b"\x89PNG\r\n\x1a\nnot the original").unwrap();
    tampered.start_file("manifest.json", options).unwrap();
    std::io::Write::write_all(&mut tampered, forged.to_string().as_bytes()).unwrap();
    let tampered = tampered.finish().unwrap().into_inner();
    let res = client
        .post(second.at("/api/v1/library/import"))
        .bearer_auth(&them)
        .body(tampered)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (
            body["data"]["imported"].as_i64(),
            body["data"]["skipped"].as_i64()
        ),
        (Some(0), Some(1))
    );
    second.stop().await;
}

on_both_backends!(the_library_page_opens_while_tasks_are_queued_canceled_or_failed);

/// Issue 9.1: 生成记录 answered 500 whenever a task had no result yet (`r.mime` missing).
async fn the_library_page_opens_while_tasks_are_queued_canceled_or_failed(app: &TestApp) {
    app.stop_engine();
    let token = app.user("waiter").await;
    let mut ids = Vec::new();
    for prompt in ["排队中的山", "取消的海", "失败的城"] {
        let (status, body) = app
            .post(
                "/api/v1/generation",
                Some(&token),
                json!({"type": "t2i", "prompt": prompt, "params": {"size": "64x64"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["data"]["task_id"].as_str().unwrap().to_string());
    }
    let (status, body) = app
        .post(
            &format!("/api/v1/generation/{}/cancel", ids[1]),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.sql("UPDATE generations SET status = 'failed', error_code = 'err.gen.params' WHERE prompt = '失败的城'")
        .await;

    let (browser, _) = app.signed_in("waiter").await;
    for path in [
        "/library".to_string(),
        "/library?view=timeline".to_string(),
        "/library/results?status=queued".to_string(),
        format!("/library/{}", ids[0]),
        format!("/library/{}", ids[1]),
        format!("/library/{}", ids[2]),
    ] {
        let res = browser.get(app.at(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("排队中的山") || path.contains("/library/"),
            "{path}"
        );
    }
}
