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

/// Every `.rs` file under `src/`, with all white space taken out (rustfmt splits calls over
/// lines however it likes), keyed by its path.
fn sources_without_spaces() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                out.push((path.display().to_string(), flat));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    out
}

/// What keeps a JSON route out of the document, file by file (see the test below).
fn api_routes_outside_the_document(
    sources: &[(String, String)],
    doc: &utoipa::openapi::OpenApi,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, flat) in sources {
        for call in ["route(\"/api", "resource(\"/api", "scope(\"/api"] {
            for (at, _) in flat.match_indices(call) {
                let rest = &flat[at + call.len() - 4..];
                // The reference page is HTML that renders the document, not an operation.
                if !rest.starts_with("/api/docs\"") {
                    let shown: String = rest.chars().take(60).collect();
                    problems.push(format!(
                        "{file}: `{shown}` is registered outside `route(...)`"
                    ));
                }
            }
        }
        let mut rest = flat.as_str();
        while let Some(at) = rest.find("#[utoipa::path(") {
            rest = &rest[at + "#[utoipa::path(".len()..];
            let method = rest.split(',').next().unwrap_or_default();
            let path = rest
                .split_once("path=\"")
                .and_then(|(_, p)| p.split_once('"'))
                .map_or("", |(p, _)| p);
            let name = rest
                .split_once("fn")
                .map_or("", |(_, f)| f.split('(').next().unwrap_or_default());
            let item = doc.paths.paths.get(path);
            let declared = item.is_some_and(|item| match method {
                "get" => item.get.is_some(),
                "post" => item.post.is_some(),
                "put" => item.put.is_some(),
                "patch" => item.patch.is_some(),
                "delete" => item.delete.is_some(),
                _ => false,
            });
            if !declared {
                problems.push(format!(
                    "{file}: {method} {path} ({name}) is not in the document: list it in its \
                     area's `Doc` and the `Doc` in `web::openapi::AREAS`"
                ));
            }
            let registered = [
                format!("route(cfg,__path_{name},{name})"),
                format!("route_with(cfg,__path_{name},{name},"),
            ];
            if !registered.iter().any(|r| flat.contains(r.as_str())) {
                problems.push(format!(
                    "{file}: {method} {path} ({name}) is not registered with \
                     `route(cfg, __path_{name}, {name})`"
                ));
            }
        }
    }
    problems
}

/// A JSON route registered with plain actix calls is missing from the document, so neither
/// schemathesis nor a client generated from it knows it, and its 405 has no `Allow`. Every
/// `/api` path goes through `web::openapi::route`, which takes its path and method from the
/// handler's `#[utoipa::path]`; every such handler is registered and its area's `Doc` is in
/// `AREAS`, so the document holds each one with its method.
#[test]
fn every_api_route_is_in_the_document() {
    let doc = picturedeck::web::openapi::document();
    let sources = sources_without_spaces();
    let problems = api_routes_outside_the_document(&sources, doc);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scan read the areas at all (a moved folder would make it pass on nothing).
    let annotated: usize = sources
        .iter()
        .map(|(_, flat)| flat.matches("#[utoipa::path(").count())
        .sum();
    assert!(
        annotated >= 60,
        "only {annotated} annotated operations found"
    );
}

/// The scan above notices each way a route can skip the document.
#[test]
fn the_route_scan_notices_routes_that_skip_the_document() {
    let doc = picturedeck::web::openapi::document();
    let flat = |text: &str| -> String { text.chars().filter(|c| !c.is_whitespace()).collect() };
    let plain = flat(
        r#"cfg.route(
            "/api/v1/gallery/new",
            web::get().to(works),
        );"#,
    );
    let unlisted = flat(
        r#"#[utoipa::path(get, path = "/api/v1/nowhere", responses())]
        async fn nowhere() {}
        fn configure(cfg: &mut ServiceConfig) { route(cfg, __path_nowhere, nowhere); }"#,
    );
    let unregistered = flat(
        r#"#[utoipa::path(get, path = "/api/v1/gallery/works", responses())]
        async fn works() {}"#,
    );
    for (name, text) in [
        ("plain", plain),
        ("unlisted", unlisted),
        ("unregistered", unregistered),
    ] {
        let problems = api_routes_outside_the_document(&[(name.to_string(), text)], doc);
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
    }
}

/// JSON bodies are read by `picturedeck::json::Json`, which refuses a top level that is not
/// an object (serde would read a struct from an array of its fields); actix's own `Json`
/// would let a handler skip that.
#[test]
fn every_json_body_goes_through_the_object_check() {
    let mut problems = Vec::new();
    for (file, flat) in sources_without_spaces() {
        if file.ends_with("src/json.rs") {
            continue;
        }
        let imports_actix_json = flat.match_indices("useactix_web::web::{").any(|(at, _)| {
            let group = flat[at..].split('}').next().unwrap_or_default();
            group.contains(",Json,") || group.contains("{Json,") || group.ends_with(",Json")
        });
        if flat.contains("web::Json<")
            || flat.contains("useactix_web::web::Json;")
            || imports_actix_json
        {
            problems.push(file);
        }
    }
    assert!(
        problems.is_empty(),
        "use crate::json::Json for request bodies in: {problems:?}"
    );
}
