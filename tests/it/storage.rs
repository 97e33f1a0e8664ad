//! Results in an S3-compatible bucket: a real S3-protocol server on loopback (moto, from PyPI,
//! installed by .ci/run) that enforces signatures, signed requests, Range passed through to the
//! browser. The signer itself is checked against AWS's published vectors in `storage::s3`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Backend, TestApp};

struct S3Server {
    child: Child,
    endpoint: String,
    /// An IAM user's key with every S3 right: the only credentials the server accepts.
    access_key: String,
    secret_key: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// IAM calls moto answers before it starts enforcing signatures (`INITIAL_NO_AUTH_ACTION_COUNT`):
/// create a user, its access key, and a policy allowing everything.
const BOOTSTRAP_CALLS: usize = 3;

/// moto's S3 server on a free loopback port, if installed (under CI it must be), with
/// authentication on: after the bootstrap every request must carry a valid SigV4 signature of
/// the bootstrap user's key (moto accepts anything otherwise).
async fn s3_server() -> Option<S3Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", BOOTSTRAP_CALLS.to_string())
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
    let mut server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key: String::new(),
        secret_key: String::new(),
    };
    // Wait on the socket, not with a request: every request counts against the bootstrap.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let calls: [&[(&str, &str)]; BOOTSTRAP_CALLS] = [
        &[("Action", "CreateUser"), ("UserName", "pd")],
        &[("Action", "CreateAccessKey"), ("UserName", "pd")],
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "pd"),
            ("PolicyName", "all"),
            ("PolicyDocument", policy),
        ],
    ];
    let mut answers = Vec::new();
    for form in calls {
        // moto routes by the service named in the credential scope; the signature is not
        // checked yet.
        let res = reqwest::Client::new()
            .post(&server.endpoint)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=bootstrap/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .form(&[form, &[("Version", "2010-05-08")]].concat())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "IAM bootstrap: {}", res.status());
        answers.push(res.text().await.unwrap());
    }
    let element = |xml: &str, name: &str| {
        let open = format!("<{name}>");
        let start = xml.find(&open).expect(name) + open.len();
        xml[start..start + xml[start..].find('<').expect(name)].to_string()
    };
    server.access_key = element(&answers[1], "AccessKeyId");
    server.secret_key = element(&answers[1], "SecretAccessKey");
    Some(server)
}

/// Our client on `server`'s bucket `bucket` with the given secret.
fn s3_client(server: &S3Server, bucket: &str, secret: &str) -> picturedeck::storage::s3::S3 {
    picturedeck::storage::s3::S3 {
        http: reqwest::Client::new(),
        endpoint: server.endpoint.clone(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        access_key: server.access_key.clone(),
        secret_key: secret.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_accepts_our_signature_and_refuses_a_wrong_one() {
    let Some(s3) = s3_server().await else { return };
    let good = s3_client(&s3, "pd-signed", &s3.secret_key);
    good.ensure_bucket()
        .await
        .expect("a signed bucket creation");
    good.put("results/ab/one.png", b"signed bytes".to_vec())
        .await
        .expect("a signed put");
    let got = good
        .get("results/ab/one.png", None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"signed bytes");

    // The same requests under a wrong secret: the server recomputes the signature and refuses.
    let bad = s3_client(&s3, "pd-signed", "not-the-secret");
    let put = bad.put("results/ab/two.png", b"forged".to_vec()).await;
    assert!(
        put.as_ref().is_err_and(|e| e.to_string().contains("403")),
        "a wrongly signed put is refused: {put:?}"
    );
    let get = bad.get("results/ab/one.png", None).await;
    assert!(
        get.as_ref().is_err_and(|e| e.to_string().contains("403")),
        "a wrongly signed get is refused"
    );
    assert!(good.get("results/ab/two.png", None).await.is_err());
    // And a request with no signature at all gets nothing.
    let anonymous = reqwest::get(format!("{}/pd-signed/results/ab/one.png", s3.endpoint))
        .await
        .unwrap();
    assert!(!anonymous.status().is_success(), "{}", anonymous.status());
}

/// An app (on SQLite) that keeps its files in `bucket` of the S3 server.
async fn app_on_bucket(s3: &S3Server, bucket: &'static str) -> TestApp {
    let endpoint = s3.endpoint.clone();
    let (access_key, secret_key) = (s3.access_key.clone(), s3.secret_key.clone());
    TestApp::builder(Backend::Sqlite)
        .config(move |c| {
            c.storage.kind = picturedeck::config::StorageKind::S3;
            c.storage.s3_endpoint = endpoint;
            c.storage.s3_bucket = bucket.into();
            c.storage.s3_access_key = access_key;
            c.storage.s3_secret_key = secret_key;
        })
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_live_in_the_bucket_and_stream_with_range() {
    let Some(s3) = s3_server().await else { return };
    let app = app_on_bucket(&s3, "pd-results").await;
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

/// Issue 11 item 6 with S3: a backup lists and copies every object of the bucket (our signed
/// ListObjectsV2), and a restore puts them into another, empty bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_bucket_restores_into_another_bucket() {
    let Some(s3) = s3_server().await else { return };
    let app = app_on_bucket(&s3, "pd-source").await;
    let token = app.user("bucketeer").await;
    app.finished(&token, "t2i", "海港").await;
    let stored = app.state.storage.list().await.unwrap();
    assert_eq!(stored.len(), 2, "result and thumbnail: {stored:?}");

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let summary = picturedeck::backup::backup(&app.state.db, &app.state.storage, &dest)
        .await
        .unwrap();
    assert_eq!(summary.objects, 2, "{summary}");

    let target = picturedeck::storage::Storage::S3(s3_client(&s3, "pd-restored", &s3.secret_key));
    let url = format!("sqlite:{}", dir.path().join("restored.db").display());
    picturedeck::backup::restore(&url, &target, &dest)
        .await
        .unwrap();
    assert_eq!(target.list().await.unwrap(), stored);
    for key in &stored {
        assert_eq!(
            target.get(key).await.unwrap(),
            app.state.storage.get(key).await.unwrap()
        );
    }
    // The bucket now holds something: another restore into it (with a fresh database) copies
    // nothing over what is there and refuses a foreign object.
    target.put("results/zz/foreign.png", vec![1]).await.unwrap();
    let url = format!("sqlite:{}", dir.path().join("again.db").display());
    let e = picturedeck::backup::restore(&url, &target, &dest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("object store is not empty"),
        "{e:#}"
    );
    app.stop().await;
}
