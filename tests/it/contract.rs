//! The published contract against the real server over loopback: schemathesis (PyPI, pinned in
//! `.ci/run`) runs every check, stateful links included, with a registered user's token on
//! both backends and must find nothing; a client that openapi-python-client generates from the
//! document drives one happy path; every example in the document, the seed's 5.3 ①–⑩ included,
//! matches its schema. The Python side lives in `tests/contract/`.

use std::path::PathBuf;
use std::process::Command;

use crate::on_both_backends;
use crate::support::{skipped, under_ci, Backend, TestApp};

/// Test cases per operation and phase: a full run takes one to three minutes per backend.
const MAX_EXAMPLES: &str = "20";

fn contract_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/contract")
}

/// Whether `program` runs; without it the test skips, or under CI fails.
fn tool(program: &str, args: &[&str]) -> bool {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            !under_ci(),
            "{program} is missing (.ci/run installs it from PyPI)"
        );
        skipped(&format!("{program} is not installed"));
    }
    found
}

/// Runs `cmd` off the async workers (the app under test shares this runtime) and returns
/// whether it succeeded, with everything it printed.
async fn run(mut cmd: Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The document as the server serves it, saved to a file in `dir`.
async fn save_document(app: &TestApp, dir: &std::path::Path) -> PathBuf {
    let text = reqwest::get(app.at("/api/v1/openapi.json"))
        .await
        .expect("document")
        .text()
        .await
        .expect("document body");
    let path = dir.join("openapi.json");
    std::fs::write(&path, text).expect("write document");
    path
}

async fn schemathesis_finds_nothing(app: &TestApp) {
    if !tool("schemathesis", &["--version"]) {
        return;
    }
    let token = app.user("fuzzer").await;
    // A fixed seed keeps CI repeatable; set PD_SCHEMATHESIS_SEED to explore further.
    let seed = std::env::var("PD_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261201".into());
    let mut cmd = Command::new("schemathesis");
    cmd.arg("--config-file")
        .arg(contract_dir().join("schemathesis.toml"))
        .arg("--no-color")
        .arg("run")
        .arg(app.at("/api/v1/openapi.json"))
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        // One worker: hypothesis is not thread-safe on every Python (an AST recursion error).
        .args(["--workers", "1"])
        .args(["--generation-database", "none", "--request-timeout", "30"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"));
    let (ok, out) = run(cmd).await;
    assert!(ok, "schemathesis found problems:\n{out}");
    assert!(out.contains("Stateful"), "no stateful phase ran:\n{out}");
}

on_both_backends!(schemathesis_finds_nothing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_client_registers_generates_and_fetches_the_result() {
    if !tool("openapi-python-client", &["--version"]) {
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let dir = tempfile::tempdir().expect("tempdir");
    let document = save_document(&app, dir.path()).await;
    let package = dir.path().join("picturedeck_client");
    let mut generate = Command::new("openapi-python-client");
    generate
        .arg("generate")
        .arg("--path")
        .arg(&document)
        .args(["--meta", "none", "--output-path"])
        .arg(&package);
    let (ok, out) = run(generate).await;
    assert!(ok, "openapi-python-client failed:\n{out}");

    let mut happy = Command::new("python3");
    happy
        .arg(contract_dir().join("client_happy_path.py"))
        .arg(dir.path())
        .arg(app.at(""));
    let (ok, out) = run(happy).await;
    assert!(ok, "the generated client's happy path failed:\n{out}");
    assert!(out.contains("happy path:"), "{out}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_in_the_document_matches_its_schema() {
    if !tool("python3", &["-c", "import jsonschema"]) {
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let dir = tempfile::tempdir().expect("tempdir");
    let document = save_document(&app, dir.path()).await;
    let mut check = Command::new("python3");
    check
        .arg(contract_dir().join("check_examples.py"))
        .arg(&document);
    let (ok, out) = run(check).await;
    assert!(ok, "{out}");
    assert!(out.contains("seed 5.3 ①–⑩ present: True"), "{out}");
    app.stop().await;
}
