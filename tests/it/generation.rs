//! Seed 5.3 ⑦–⑩ on the built-in engine: submit, follow, fetch; validation, quota, cancel,
//! retry, uploads, signed links, lease recovery and exactly-once claims across engines.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::TestApp;
use picturedeck::testing::mean_abs_diff;

on_both_backends!(
    text_to_image_runs_on_the_local_engine_and_the_result_downloads,
    bad_generation_requests_get_code_400,
    another_users_task_reads_as_missing,
    daily_quota_is_enforced_with_429,
    several_results_from_one_request_with_an_aspect_ratio,
    queued_tasks_cancel_and_retry,
    uploads_are_checked_stripped_and_owned,
    image_to_image_uses_the_callers_upload,
    signed_links_expire_and_cannot_be_forged,
    text_and_keyframes_to_video_write_playable_mp4,
    lease_of_a_killed_worker_is_recovered,
    two_engines_run_every_task_exactly_once,
);

fn small(kind: &str, prompt: &str) -> Value {
    json!({"type": kind, "prompt": prompt, "params": {"size": "128x96"}})
}

async fn text_to_image_runs_on_the_local_engine_and_the_result_downloads(app: &TestApp) {
    let token = app.user("painter").await;
    let (status, models) = app.get("/api/v1/models", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(models["data"][0]["id"], "local/procedural");
    assert_eq!(models["data"][0]["offline"], true);

    let (status, answer) = app
        .post("/api/v1/generation", Some(&token), json!({"type": "t2i", "prompt": "雪山日落", "images": [], "params": {"size": "160x120", "seed": 7}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["message"], "生成任务已创建");
    let task_id = answer["data"]["task_id"].as_str().unwrap().to_string();
    assert!(answer["data"]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let done = app.wait_final(&token, &task_id).await;
    let data = &done["data"];
    assert_eq!(data["status"], "completed", "{done}");
    assert_eq!(done["message"], "任务完成");
    assert_eq!(data["progress"], 100);
    assert_eq!(data["params"]["seed"], 7);
    assert_eq!(
        (data["width"].as_i64(), data["height"].as_i64()),
        (Some(160), Some(120))
    );
    assert!(data["completed_at"].is_string());

    let res = reqwest::get(app.at(data["result_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers().contains_key("etag"));
    let stored = res.bytes().await.unwrap();
    let png = image::load_from_memory(&stored).unwrap();
    assert_eq!((png.width(), png.height()), (160, 120));
    // GB 45438-2025 implicit label, and the recipe for reuse, travel inside the file.
    let xmp = picturedeck::storage::label::png_xmp(&stored).expect("XMP in the PNG");
    let aigc = picturedeck::storage::label::aigc_of(&xmp).expect("TC260:AIGC");
    assert_eq!(aigc["ProduceID"], task_id.as_str());
    assert_eq!(aigc["Label"], "1");
    let reuse = picturedeck::storage::label::png_reuse(&stored).unwrap();
    assert_eq!(
        (reuse["prompt"].as_str(), reuse["params"]["seed"].as_u64()),
        (Some("雪山日落"), Some(7))
    );
    let thumb = reqwest::get(app.at(data["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/webp");

    // The same prompt and seed give the same picture; the list shows the task first.
    let again = app
        .submit_task(
            &token,
            json!({"type": "t2i", "prompt": "雪山日落", "params": {"size": "160x120", "seed": 7}}),
        )
        .await;
    let again = app.wait_final(&token, &again).await;
    let second = reqwest::get(app.at(again["data"]["result_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        image::load_from_memory(&second).unwrap().to_rgb8(),
        png.to_rgb8()
    );
    let (_, list) = app.get("/api/v1/generation", Some(&token)).await;
    assert_eq!(list["data"]["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(list["data"]["tasks"][1]["task_id"], task_id.as_str());

    let task_uuid = task_id.clone();
    let calls = app
        .state
        .db
        .run(move |conn| {
            let g = picturedeck::generation::store::find_by_uuid(conn, &task_uuid)?.unwrap();
            Ok(picturedeck::generation::store::calls_of(conn, g.id)?)
        })
        .await
        .unwrap();
    assert_eq!(
        calls,
        vec![("submit".to_string(), "ok".to_string())],
        "one api_calls row per provider call"
    );
}

async fn bad_generation_requests_get_code_400(app: &TestApp) {
    let token = app.user("sloppy").await;
    let cases = [
        (json!({"type": "gif", "prompt": "x"}), "type"),
        (json!({"type": "t2i", "prompt": "   "}), "prompt"),
        (json!({"type": "t2i", "prompt": "x".repeat(2001)}), "prompt"),
        (json!({"type": "i2i", "prompt": "油画"}), "images"),
        (
            json!({"type": "t2i", "prompt": "x", "images": ["a"]}),
            "images",
        ),
        (
            json!({"type": "t2i", "prompt": "x", "params": {"size": "5x5"}}),
            "params",
        ),
        (
            json!({"type": "t2i", "prompt": "x", "params": {"strength": 3}}),
            "params",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .post("/api/v1/generation", Some(&token), body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["code"], 400);
        assert_eq!(answer["data"]["field"], field, "{body}");
    }
    // Well-formed, but naming what is not there: HTTP 422, still the seed's code 400.
    for (body, field) in [
        (
            json!({"type": "i2i", "prompt": "x", "images": ["no-such-upload"]}),
            "images",
        ),
        (
            json!({"type": "t2i", "prompt": "x", "model": "nobody/nothing"}),
            "model",
        ),
    ] {
        let (status, answer) = app
            .post("/api/v1/generation", Some(&token), body.clone())
            .await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(400)),
            "{body} -> {answer}"
        );
        assert_eq!(answer["data"]["field"], field, "{body}");
    }
    let (status, answer) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "t2i", "prompt": "x", "params": {"colour": "red"}}),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400)),
        "unknown parameters are refused"
    );
    assert_eq!(
        app.post("/api/v1/generation", None, small("t2i", "x"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = app.get("/api/v1/generation", Some(&token)).await;
    assert!(
        list["data"]["tasks"].as_array().unwrap().is_empty(),
        "nothing was queued"
    );
}

async fn another_users_task_reads_as_missing(app: &TestApp) {
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let task = app.submit_task(&alice, small("t2i", "秘密花园")).await;
    for path in [
        format!("/api/v1/generation/{task}"),
        format!("/api/v1/generation/{task}/cancel"),
        format!("/api/v1/generation/{task}/retry"),
    ] {
        let (status, body) = if path.ends_with(&task) {
            app.get(&path, Some(&mallory)).await
        } else {
            app.post(&path, Some(&mallory), json!({})).await
        };
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::NOT_FOUND, Some(404)),
            "{path}"
        );
    }
    let (_, list) = app.get("/api/v1/generation", Some(&mallory)).await;
    assert!(list["data"]["tasks"].as_array().unwrap().is_empty());
}

async fn daily_quota_is_enforced_with_429(app: &TestApp) {
    let token = app.user("eager").await;
    app.sql("UPDATE users SET daily_quota = 2 WHERE username = 'eager'")
        .await;
    app.submit_task(&token, small("t2i", "one")).await;
    app.submit_task(&token, small("t2i", "two")).await;
    let (status, body) = app
        .post("/api/v1/generation", Some(&token), small("t2i", "three"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], 429);
    assert_eq!(body["message"], "今日生成次数已用完，请明天再试");
    // Concurrent submits cannot slip past the limit together.
    let other = app.user("racer").await;
    app.sql("UPDATE users SET daily_quota = 3 WHERE username = 'racer'")
        .await;
    let attempts = (0..8).map(|i| {
        app.post(
            "/api/v1/generation",
            Some(&other),
            small("t2i", &format!("race {i}")),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == StatusCode::OK).count(),
        3
    );
    assert_eq!(
        results
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        5
    );
}

async fn several_results_from_one_request_with_an_aspect_ratio(app: &TestApp) {
    let token = app.user("plenty").await;
    let (status, answer) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "t2i", "prompt": "竹林小径", "params": {"aspect": "16:9", "n": 3, "seed": 40}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let batch: Vec<String> = answer["data"]["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(batch.len(), 3);
    assert_eq!(answer["data"]["task_id"], batch[0].as_str());
    assert!(answer["data"]["params"].get("n").is_none());
    for (i, id) in batch.iter().enumerate() {
        let done = app.wait_final(&token, id).await;
        let data = &done["data"];
        assert_eq!(data["status"], "completed", "{done}");
        assert_eq!(data["params"]["seed"], 40 + i);
        assert_eq!(data["params"]["aspect"], "16:9");
        assert_eq!(
            (data["width"].as_i64(), data["height"].as_i64()),
            (Some(1024), Some(576))
        );
    }

    // n counts against the daily quota as a whole: all or nothing.
    app.sql("UPDATE users SET daily_quota = 5 WHERE username = 'plenty'")
        .await;
    let (status, _) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "t2i", "prompt": "多一张", "params": {"n": 3}}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (_, list) = app.get("/api/v1/generation", Some(&token)).await;
    assert_eq!(list["data"]["tasks"].as_array().unwrap().len(), 3);
    let (status, body) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "t2i", "prompt": "x", "params": {"n": 9}}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
    assert_eq!(body["message"], "一次最多生成 4 个");
}

async fn queued_tasks_cancel_and_retry(app: &TestApp) {
    let token = app.user("hesitant").await;
    app.sql("UPDATE users SET daily_quota = NULL WHERE username = 'hesitant'")
        .await;
    // With the engine stopped the cancel always meets a queued task: no race to win or lose.
    app.stop_engine();
    let task = app
        .submit_task(&token, small("t2i", "changing my mind"))
        .await;
    let cancel = |task: String| {
        let token = token.clone();
        async move { app.task_action(&token, &task, "cancel").await }
    };
    let (status, body) = cancel(task.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "canceled");
    let (status, body) = cancel(task.clone()).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(409)),
        "a canceled task cannot be canceled again"
    );

    let (status, body) = app.task_action(&token, &task, "retry").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_task = body["data"]["task_id"].as_str().unwrap().to_string();
    assert_ne!(new_task, task);
    assert_eq!(body["data"]["prompt"], "changing my mind");
    assert_eq!(body["data"]["status"], "queued");

    // Restart the engine and let it drain the queue: the retry (queued after the canceled task)
    // completing, and nothing left queued or running, means the engine has seen both.
    let engine = tokio::spawn(picturedeck::generation::engine::run(app.state.clone()));
    assert_eq!(
        app.wait_final(&token, &new_task).await["data"]["status"],
        "completed"
    );
    wait_idle(app).await;
    engine.abort();
    let (_, canceled) = app
        .get(&format!("/api/v1/generation/{task}"), Some(&token))
        .await;
    assert_eq!(
        canceled["data"]["status"], "canceled",
        "a canceled task is never run afterwards: {canceled}"
    );
    assert!(canceled["data"]["result_url"].is_null(), "{canceled}");
    assert_eq!(canceled["data"]["attempts"], 0, "never claimed: {canceled}");
    assert!(
        stored_files_named(app, &task).is_empty(),
        "no result file for a canceled task"
    );
    assert_eq!(
        stored_files_named(app, &new_task).len(),
        2,
        "result and thumbnail"
    );

    let (status, _) = app.task_action(&token, &new_task, "retry").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "completed tasks are not retried"
    );
}

/// Waits until no task is queued or processing.
async fn wait_idle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = app
            .state
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use picturedeck::db::schema::generations::dsl::*;
                Ok(generations
                    .filter(status.eq_any(["queued", "processing"]))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .unwrap();
        if busy == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{busy} tasks still busy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Files in local storage whose name mentions `task` (results and thumbnails are named by it).
fn stored_files_named(app: &TestApp, task: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, task: &str, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, task, found);
            } else if path.to_string_lossy().contains(task) {
                found.push(path);
            }
        }
    }
    let root = app.state.storage.path("results").unwrap();
    let mut found = Vec::new();
    walk(root.parent().unwrap(), task, &mut found);
    found
}

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    picturedeck::storage::images::encode_png(&img).unwrap()
}

/// A JPEG carrying an EXIF block that says "rotate 90°" and a GPS-looking marker string.
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, _| {
        image::Rgb([(x * 9) as u8, 40, 200])
    }));
    let jpeg = picturedeck::storage::images::encode_jpeg(&img).unwrap();
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[
        0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    tiff.extend_from_slice(b"GPSLatitude 31.2304N");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/upload"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn uploads_are_checked_stripped_and_owned(app: &TestApp) {
    let token = app.user("uploader").await;
    let (status, body) = upload(app, &token, png_bytes(40, 30)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "上传成功");
    assert_eq!(
        (
            body["data"]["width"].as_i64(),
            body["data"]["height"].as_i64()
        ),
        (Some(40), Some(30))
    );
    let preview = reqwest::get(app.at(body["data"]["file_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);

    let (status, body) = upload(app, &token, jpeg_with_exif(40, 20)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["data"]["width"].as_i64(),
            body["data"]["height"].as_i64()
        ),
        (Some(20), Some(40)),
        "EXIF orientation applied"
    );
    let stored = reqwest::get(app.at(body["data"]["file_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        !stored.windows(4).any(|w| w == b"Exif") && !stored.windows(3).any(|w| w == b"GPS"),
        "metadata stripped"
    );

    let (status, body) = upload(app, &token, b"GIF89a not allowed".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(400))
    );
    let (status, body) = upload(app, &token, b"<svg onload=alert(1)>".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(400))
    );
    let broken = png_bytes(64, 64)[..60].to_vec();
    let (status, body) = upload(app, &token, broken).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
    let mut bomb = png_bytes(64, 64);
    bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
    let (status, _) = upload(app, &token, bomb).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a decompression bomb is refused"
    );
    let (status, _) = upload(app, &token, Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = upload(app, &token, vec![0u8; 21 * 1024 * 1024]).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some(413))
    );
}

async fn image_to_image_uses_the_callers_upload(app: &TestApp) {
    let owner = app.user("owner").await;
    let thief = app.user("thief").await;
    let (_, body) = upload(app, &owner, png_bytes(96, 64)).await;
    let file_id = body["data"]["file_id"].as_str().unwrap().to_string();
    let file_url = body["data"]["file_url"].as_str().unwrap().to_string();

    let (status, answer) = app
        .post(
            "/api/v1/generation",
            Some(&thief),
            json!({"type": "i2i", "prompt": "油画", "images": [file_id]}),
        )
        .await;
    assert_eq!(
        (status, answer["data"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("images")),
        "others' uploads are not usable"
    );

    // The seed's own example: the reference by its URL, "让上传的照片呈现出油画效果".
    let task = app
        .submit_task(
            &owner,
            json!({"type": "i2i", "prompt": "让上传的照片呈现出油画效果", "images": [file_url]}),
        )
        .await;
    let done = app.wait_final(&owner, &task).await;
    assert_eq!(done["data"]["status"], "completed", "{done}");
    assert_eq!(
        (
            done["data"]["width"].as_i64(),
            done["data"]["height"].as_i64()
        ),
        (Some(96), Some(64))
    );
}

/// A reference with edges, texture and colour, so every filter has something to change.
fn textured_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let stripes = if (x / 8 + y / 8) % 2 == 0 { 60.0 } else { 0.0 };
        image::Rgb([
            (120.0 + 80.0 * (fx / 5.0).sin() + stripes) as u8,
            (100.0 + 90.0 * (fy / 7.0).cos()) as u8,
            (fx * 2.0 + fy) as u8,
        ])
    });
    picturedeck::storage::images::encode_png(&img).unwrap()
}

/// The finished task's result, decoded.
async fn result_picture(app: &TestApp, token: &str, task: &str) -> image::RgbImage {
    let done = app.wait_final(token, task).await;
    assert_eq!(done["data"]["status"], "completed", "{done}");
    let url = done["data"]["result_url"].as_str().unwrap();
    let bytes = reqwest::get(app.at(url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_style_and_the_strength_change_the_picture_through_the_api_and_the_page() {
    let app = TestApp::start(crate::support::Backend::Sqlite)
        .await
        .unwrap();
    let token = app.user("stylist").await;
    app.sql("UPDATE users SET daily_quota = NULL WHERE username = 'stylist'")
        .await;
    let reference = textured_png(96, 64);
    let source = image::load_from_memory(&reference).unwrap().to_rgb8();
    let (_, up) = upload(&app, &token, reference).await;
    let file_id = up["data"]["file_id"].as_str().unwrap().to_string();
    let i2i = |style: &str, strength: f32| {
        json!({"type": "i2i", "prompt": "a photo", "images": [file_id],
               "params": {"style": style, "strength": strength, "seed": 7}})
    };

    // Every filter moves the picture well away from its reference, and each its own way.
    let mut styled: Vec<(&str, image::RgbImage)> = Vec::new();
    for style in [
        "oil_painting",
        "watercolor",
        "pencil_sketch",
        "pixel_art",
        "color_transfer",
    ] {
        let task = app.submit_task(&token, i2i(style, 1.0)).await;
        let out = result_picture(&app, &token, &task).await;
        let change = mean_abs_diff(&source, &out);
        assert!(
            change > 4.0,
            "{style} barely changed the picture: {change:.2}"
        );
        for (other, seen) in &styled {
            let apart = mean_abs_diff(seen, &out);
            assert!(apart > 2.0, "{style} looks like {other}: {apart:.2}");
        }
        styled.push((style, out));
    }

    // Strength scales the change: a light touch stays closer to the reference.
    let task = app.submit_task(&token, i2i("oil_painting", 0.25)).await;
    let light = result_picture(&app, &token, &task).await;
    let (full, light_change) = (
        mean_abs_diff(&source, &styled[0].1),
        mean_abs_diff(&source, &light),
    );
    assert!(
        light_change > 0.5 && light_change < full * 0.5,
        "strength 0.25 moved {light_change:.2}, strength 1 moved {full:.2}"
    );

    // The page's form carries style and strength the same way: the same recipe gives the same
    // picture as through the API, another recipe another picture.
    let (client, csrf) = app.signed_in("stylist").await;
    let mut from_page = Vec::new();
    for (style, strength) in [("pencil_sketch", "1"), ("watercolor", "0.25")] {
        let res = app
            .post_form(
                &client,
                &csrf,
                "/generate",
                &[
                    ("type", "i2i"),
                    ("prompt", "a photo"),
                    ("images", &file_id),
                    ("seed", "7"),
                    ("style", style),
                    ("strength", strength),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let (_, list) = app.get("/api/v1/generation", Some(&token)).await;
        let newest = &list["data"]["tasks"][0];
        assert_eq!(newest["params"]["style"], style, "{newest}");
        let task = newest["task_id"].as_str().unwrap().to_string();
        from_page.push(result_picture(&app, &token, &task).await);
    }
    assert_eq!(
        mean_abs_diff(&from_page[0], &styled[2].1),
        0.0,
        "the page's pencil sketch at strength 1 is the API's"
    );
    let watercolor_full = &styled[1].1;
    assert!(
        mean_abs_diff(&source, &from_page[1]) < mean_abs_diff(&source, watercolor_full) * 0.5,
        "the page's strength 0.25 was applied"
    );
    app.stop().await;
}

async fn signed_links_expire_and_cannot_be_forged(app: &TestApp) {
    let token = app.user("linker").await;
    let task = app.submit_task(&token, small("t2i", "sea")).await;
    let done = app.wait_final(&token, &task).await;
    let url = done["data"]["result_url"].as_str().unwrap().to_string();
    assert_eq!(
        reqwest::get(app.at(&url)).await.unwrap().status(),
        StatusCode::OK
    );
    let forged = format!("{}0", &url[..url.len() - 1]);
    let forged = if forged == url {
        format!("{}1", &url[..url.len() - 1])
    } else {
        forged
    };
    let res = reqwest::get(app.at(&forged)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], 403);
    let expired = picturedeck::storage::sign(
        &app.state.secret,
        &format!("/api/v1/files/result/{task}"),
        1_000,
    );
    assert_eq!(
        reqwest::get(app.at(&expired)).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let thumb_as_result = url.replace("/files/result/", "/files/thumb/");
    assert_eq!(
        reqwest::get(app.at(&thumb_as_result))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "a signature names one file"
    );
}

async fn lease_of_a_killed_worker_is_recovered(app: &TestApp) {
    let token = app.user("patient").await;
    // Stop this app's engine, queue a task and let a "worker" claim it and die (lease in the past).
    app.stop_engine();
    let task = app.submit_task(&token, small("t2i", "still here")).await;
    let claimed = app
        .state
        .db
        .run(|conn| {
            let now = chrono::Utc::now().naive_utc();
            let past = now - chrono::Duration::seconds(1);
            Ok(picturedeck::generation::store::claim(
                conn,
                "local",
                "dead-worker",
                10,
                now,
                past,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let (_, body) = app
        .get(&format!("/api/v1/generation/{task}"), Some(&token))
        .await;
    assert_eq!(body["data"]["status"], "processing");
    assert_eq!(body["message"], "生成中");

    let recovered = picturedeck::generation::engine::recover(&app.state)
        .await
        .unwrap();
    assert_eq!(recovered, 1);
    let engine = tokio::spawn(picturedeck::generation::engine::run(app.state.clone()));
    let done = app.wait_final(&token, &task).await;
    engine.abort();
    assert_eq!(done["data"]["status"], "completed");
    assert_eq!(
        done["data"]["attempts"], 2,
        "claimed once by the dead worker, once by the new engine"
    );
}

async fn two_engines_run_every_task_exactly_once(app: &TestApp) {
    app.stop_engine();
    let token = app.user("bulk").await;
    app.sql("UPDATE users SET daily_quota = NULL WHERE username = 'bulk'")
        .await;
    let n = 500;
    for i in 0..n {
        let (status, body) = app
            .post(
                "/api/v1/generation",
                Some(&token),
                json!({"type": "t2i", "prompt": format!("task {i}"), "params": {"size": "64x64"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let engines = [
        tokio::spawn(picturedeck::generation::engine::run(app.state.clone())),
        tokio::spawn(picturedeck::generation::engine::run(app.state.clone())),
    ];
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let done = app
            .state
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use picturedeck::db::schema::generations::dsl::*;
                Ok(generations
                    .filter(status.eq("completed"))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .unwrap();
        if done == n {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {n} completed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for e in engines {
        e.abort();
    }
    let (attempts, submits, owners) = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use picturedeck::db::schema::{api_calls, generations};
            let attempts: Vec<i32> = generations::table
                .select(generations::attempts)
                .load(conn)?;
            let submits: i64 = api_calls::table
                .filter(api_calls::operation.eq("submit"))
                .count()
                .get_result(conn)?;
            let owners: i64 = generations::table
                .filter(generations::lease_owner.is_not_null())
                .count()
                .get_result(conn)?;
            Ok((attempts, submits, owners))
        })
        .await
        .unwrap();
    assert!(
        attempts.iter().all(|a| *a == 1),
        "every task was claimed exactly once"
    );
    assert_eq!(submits, n, "and submitted to the provider exactly once");
    assert_eq!(owners, 0, "no leases left behind");
}

async fn text_and_keyframes_to_video_write_playable_mp4(app: &TestApp) {
    let token = app.user("director").await;
    let task = app.submit_task(&token,
        json!({"type": "t2v", "prompt": "海上日出", "params": {"size": "160x96", "duration": 2}}),
    )
    .await;
    let done = app.wait_final(&token, &task).await;
    assert_eq!(done["data"]["status"], "completed", "{done}");
    assert_eq!(done["data"]["mime"], "video/mp4");
    let url = app.at(done["data"]["result_url"].as_str().unwrap());
    let mp4 = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    let poster = picturedeck::generation::providers::local::video::poster_frame(&mp4).unwrap();
    assert_eq!(poster.dimensions(), (160, 96));
    // Range requests, so a <video> can seek.
    let part = reqwest::Client::new()
        .get(&url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().len(), 100);
    let thumb = reqwest::get(app.at(done["data"]["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        thumb.headers()["content-type"],
        "image/webp",
        "a poster frame thumbnail"
    );

    let mut ids = Vec::new();
    for colour in [[220u8, 30, 30], [30, 30, 220]] {
        let img = image::RgbImage::from_pixel(64, 48, image::Rgb(colour));
        let (_, body) = upload(
            app,
            &token,
            picturedeck::storage::images::encode_png(&img).unwrap(),
        )
        .await;
        ids.push(body["data"]["file_id"].as_str().unwrap().to_string());
    }
    let task = app.submit_task(&token, json!({"type": "i2v", "prompt": "由红变蓝", "images": ids, "params": {"size": "128x96", "duration": 2}})).await;
    let done = app.wait_final(&token, &task).await;
    assert_eq!(done["data"]["status"], "completed", "{done}");
    let mp4 = reqwest::get(app.at(done["data"]["result_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let first = picturedeck::generation::providers::local::video::poster_frame(&mp4).unwrap();
    let p = first.get_pixel(64, 48);
    assert!(
        p[0] > 150 && p[2] < 100,
        "the clip starts on the first keyframe: {p:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visible_label_is_an_instance_option() {
    let app = TestApp::builder(crate::support::Backend::Sqlite)
        .config(|c| c.engine.visible_label = true)
        .start()
        .await
        .unwrap();
    let token = app.user("labelled").await;
    let task = app
        .submit_task(
            &token,
            json!({"type": "t2i", "prompt": "夜晚星空", "params": {"size": "400x300", "seed": 3}}),
        )
        .await;
    let done = app.wait_final(&token, &task).await;
    let stamped = reqwest::get(app.at(done["data"]["result_url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let stamped = image::load_from_memory(&stamped).unwrap().to_rgb8();
    let plain = picturedeck::generation::providers::local::paint::paint("夜晚星空", 3, 400, 300);
    assert_eq!(
        stamped.get_pixel(5, 5),
        plain.get_pixel(5, 5),
        "untouched away from the corner"
    );
    let corner_diff = (300..400)
        .flat_map(|x| (250..300).map(move |y| (x, y)))
        .filter(|(x, y)| stamped.get_pixel(*x, *y) != plain.get_pixel(*x, *y))
        .count();
    assert!(
        corner_diff > 1000,
        "the label is drawn in the corner: {corner_diff}"
    );
    app.stop().await;
}
