//! Results in an S3-compatible bucket: a real S3-protocol server on loopback (moto, from PyPI,
//! installed by .ci/run), signed requests, Range passed through to the browser.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Backend, TestApp};

struct S3Server {
    child: Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3 server on a free loopback port, if installed; under CI it must be.
async fn s3_server() -> Option<S3Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if crate::support::under_ci() => {
            panic!("moto_server is required under CI: {e}")
        }
        Err(e) => {
            crate::support::skipped(&format!(
                "moto_server not available ({e}); pip install 'moto[server]'"
            ));
            return None;
        }
    };
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&server.endpoint).await.is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_live_in_the_bucket_and_stream_with_range() {
    let Some(s3) = s3_server().await else { return };
    let endpoint = s3.endpoint.clone();
    let app = TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            c.storage.kind = picturedeck::config::StorageKind::S3;
            c.storage.s3_endpoint = endpoint;
            c.storage.s3_bucket = "pd-results".into();
            c.storage.s3_access_key = "testing".into();
            c.storage.s3_secret_key = "testing-secret".into();
        })
        .start()
        .await
        .unwrap();
    let token = app.user("cloudy").await;
    let png = picturedeck::storage::images::encode_png(&image::RgbImage::from_pixel(
        80,
        60,
        image::Rgb([10, 200, 30]),
    ))
    .unwrap();
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/upload"))
        .bearer_auth(&token)
        .body(png)
        .send()
        .await
        .unwrap();
    let up: Value = res.json().await.unwrap();
    assert_eq!(up["code"], 200, "{up}");

    let (_, answer) = app
        .post(
            "/api/v1/generation",
            Some(&token),
            json!({"type": "i2i", "prompt": "水彩", "images": [up["data"]["file_id"]]}),
        )
        .await;
    let id = answer["data"]["task_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let task = loop {
        let (_, body) = app
            .get(&format!("/api/v1/generation/{id}"), Some(&token))
            .await;
        if matches!(
            body["data"]["status"].as_str(),
            Some("completed" | "failed")
        ) {
            break body["data"].clone();
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        task["status"], "completed",
        "{task} (the reference was read back from S3)"
    );
    let url = app.at(task["result_url"].as_str().unwrap());
    let full = reqwest::get(&url).await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["content-type"], "image/png");
    let bytes = full.bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 80);
    let part = reqwest::Client::new()
        .get(&url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.bytes().await.unwrap()[..], b"\x89PNG\r\n\x1a\n");
    assert!(
        !app.state.config.data_dir().join("objects").exists(),
        "nothing was written to the local folder"
    );

    // The object really is in the bucket, under its key.
    let key = {
        let id = id.clone();
        app.state
            .db
            .run(move |conn| {
                Ok(picturedeck::generation::store::find_by_uuid(conn, &id)?
                    .unwrap()
                    .physical_path
                    .unwrap())
            })
            .await
            .unwrap()
    };
    assert_eq!(app.state.storage.get(&key).await.unwrap(), bytes.to_vec());
    app.state.storage.delete(&key).await.unwrap();
    assert!(app.state.storage.get(&key).await.is_err());
    app.stop().await;
}
