//! A local GPU server running ComfyUI. A task becomes a workflow: the model's template for the
//! task's kind (`workflows` in its `[[providers.models]]` entry, a graph in ComfyUI's API
//! format as "Export (API)" saves it), with its slots filled, queued by `POST /prompt
//! {prompt, client_id}`. A reference picture is first sent by `POST /upload/image`.
//!
//! Slots are string values that are exactly `{{prompt}}`, `{{negative_prompt}}`, `{{seed}}`,
//! `{{width}}`, `{{height}}`, `{{strength}}` or `{{image}}` (the uploaded reference's name);
//! they become the task's values with their JSON types (a seed is a number), and nothing else
//! in the graph is touched, so a prompt cannot change the workflow.
//!
//! Progress and results are polled, not read from the `/ws` websocket: no websocket client is
//! in the dependency tree, and polling needs none. `GET /history/{prompt_id}` is `{}` until the
//! prompt has run, then names its outputs (`outputs[node].images[]` or `.gifs[]`, each
//! `{filename, subfolder, type}`), fetched with `GET /view`. Meanwhile `GET /queue` tells
//! whether it waits or runs: ComfyUI keeps both in memory, so a prompt in neither (the server
//! restarted) is an expired task. Cancel: `POST /queue {delete: [id]}` drops it while it waits
//! and `POST /interrupt {prompt_id}` stops it while it runs (older servers stop whatever runs).
//!
//! Contract read 2026-12-01 from stored copies of ComfyUI's `server.py` (comfyanonymous/ComfyUI)
//! and its route list at docs.comfy.org; docs/providers.md lists the pages.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::http::{
    classify, json_capped, media_output, read_capped, transport_error, MAX_RESULT_BYTES,
};
use super::{Job, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "http://127.0.0.1:8188";
/// A denoise for image-to-image workflows when the task names no strength.
const DEFAULT_STRENGTH: f32 = 0.6;

pub struct ComfyUi {
    pub http: reqwest::Client,
    pub base_url: String,
    /// The workflow templates by model name and kind.
    pub workflows: HashMap<(String, Kind), Value>,
    /// Who we are to the server (`client_id`): one per provider.
    pub client_id: String,
}

#[derive(Deserialize)]
struct Queued {
    prompt_id: Option<String>,
}

#[derive(Deserialize)]
struct Uploaded {
    name: String,
    #[serde(default)]
    subfolder: String,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    outputs: Map<String, Value>,
    status: Option<RunStatus>,
}

#[derive(Deserialize)]
struct RunStatus {
    status_str: Option<String>,
    #[serde(default)]
    messages: Vec<Value>,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    #[serde(default)]
    subfolder: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct Queue {
    #[serde(default)]
    queue_running: Vec<Value>,
    #[serde(default)]
    queue_pending: Vec<Value>,
}

/// The graph with every slot replaced by its value; other strings are left as they are.
pub fn fill(template: &Value, slots: &HashMap<&str, Value>) -> Value {
    match template {
        Value::String(s) => s
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .and_then(|name| slots.get(name.trim()))
            .cloned()
            .unwrap_or_else(|| template.clone()),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, slots)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, slots)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether a queue entry (`[number, prompt_id, prompt, extra, outputs]`) is this prompt.
fn is_prompt(entry: &Value, id: &str) -> bool {
    entry.get(1).and_then(Value::as_str) == Some(id)
}

/// The first result file: a saved picture or video (`type = output`), not a preview.
fn first_output(outputs: &Map<String, Value>) -> Option<File> {
    let mut keys: Vec<&String> = outputs.keys().collect();
    // Node ids are numbers as strings: the lowest is the first output of the graph.
    keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.to_string()));
    keys.into_iter().find_map(|k| {
        ["images", "gifs", "videos"].iter().find_map(|field| {
            outputs[k]
                .get(field)?
                .as_array()?
                .iter()
                .filter_map(|f| serde_json::from_value::<File>(f.clone()).ok())
                .find(|f| f.kind == "output")
        })
    })
}

/// A failed run's message: the `execution_error` event's `exception_message`.
fn failure(status: &RunStatus) -> String {
    status
        .messages
        .iter()
        .find(|m| m.get(0).and_then(Value::as_str) == Some("execution_error"))
        .and_then(|m| m.get(1))
        .and_then(|d| d.get("exception_message"))
        .and_then(Value::as_str)
        .unwrap_or("the workflow failed")
        .chars()
        .take(500)
        .collect()
}

impl ComfyUi {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    /// Sends the reference picture to the server's input folder; its name for `{{image}}`.
    async fn upload(&self, job: &Job) -> ProviderResult<String> {
        let image = job.images.first().ok_or_else(|| {
            ProviderError::permanent("gen_err.reference_missing", "no reference image")
        })?;
        let ext = image.mime.strip_prefix("image/").unwrap_or("png");
        let part = Part::bytes(image.bytes.clone())
            .file_name(format!("picturedeck-{}.{ext}", job.task_uuid))
            .mime_str(&image.mime)
            .map_err(|e| ProviderError::permanent("gen_err.engine", e.to_string()))?;
        let form = Form::new()
            .part("image", part)
            .text("type", "input")
            .text("overwrite", "true");
        let res = self
            .http
            .post(self.url("/upload/image"))
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        let up: Uploaded = json_capped(classify(res).await?).await?;
        Ok(if up.subfolder.is_empty() {
            up.name
        } else {
            format!("{}/{}", up.subfolder, up.name)
        })
    }

    fn workflow(&self, job: &Job, image: Option<String>) -> ProviderResult<Value> {
        let template = self
            .workflows
            .get(&(job.model.clone(), job.kind))
            .ok_or_else(|| {
                ProviderError::permanent(
                    "gen_err.bad_request",
                    format!("no {} workflow for {}", job.kind.as_str(), job.model),
                )
            })?;
        let (w, h) = super::local::parse_size(job.params.size.as_deref(), (1024, 1024));
        let edge = |v: u32| (v / 8 * 8).max(64);
        let strength = job
            .params
            .strength
            .filter(|s| s.is_finite())
            .unwrap_or(DEFAULT_STRENGTH)
            .clamp(0.0, 1.0);
        let mut slots: HashMap<&str, Value> = HashMap::from([
            ("prompt", json!(job.prompt)),
            (
                "negative_prompt",
                json!(job.params.negative_prompt.clone().unwrap_or_default()),
            ),
            // ComfyUI's KSampler takes any 64-bit seed; one is always sent.
            (
                "seed",
                json!(job
                    .params
                    .seed
                    .unwrap_or_else(|| u64::from(rand::random::<u32>()))),
            ),
            ("width", json!(edge(w))),
            ("height", json!(edge(h))),
            (
                "strength",
                json!((f64::from(strength) * 100.0).round() / 100.0),
            ),
        ]);
        if let Some(image) = image {
            slots.insert("image", json!(image));
        }
        Ok(fill(template, &slots))
    }
}

impl Provider for ComfyUi {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let image = match job.kind {
                Kind::I2i | Kind::I2v => Some(self.upload(job).await?),
                Kind::T2i | Kind::T2v => None,
            };
            let graph = self.workflow(job, image)?;
            let res = self
                .http
                .post(self.url("/prompt"))
                .json(&json!({"prompt": graph, "client_id": self.client_id}))
                .send()
                .await
                .map_err(transport_error)?;
            // A graph the server refuses is a 400 `{error: {type, message, ...}, node_errors}`.
            let queued: Queued = json_capped(classify(res).await?).await?;
            let id = queued
                .prompt_id
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .ok_or_else(|| ProviderError::permanent("gen_err.bad_output", "no prompt_id"))?;
            Ok(Submitted::Remote(id))
        }
        .boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async move {
            let res = self
                .http
                .get(self.url(&format!("/history/{remote_id}")))
                .send()
                .await
                .map_err(transport_error)?;
            let mut history: Map<String, Value> = json_capped(classify(res).await?).await?;
            let Some(entry) = history.remove(remote_id) else {
                return self.waiting(remote_id).await;
            };
            let entry: Entry = serde_json::from_value(entry).map_err(|e| {
                ProviderError::permanent("gen_err.bad_output", format!("unreadable history: {e}"))
            })?;
            if let Some(status) = &entry.status {
                if status.status_str.as_deref() == Some("error") {
                    return Err(ProviderError::permanent(
                        "gen_err.bad_request",
                        failure(status),
                    ));
                }
            }
            let file = first_output(&entry.outputs).ok_or_else(|| {
                ProviderError::permanent("gen_err.bad_output", "the workflow saved no output")
            })?;
            let res = self
                .http
                .get(self.url("/view"))
                .query(&[
                    ("filename", file.filename.as_str()),
                    ("subfolder", file.subfolder.as_str()),
                    ("type", file.kind.as_str()),
                ])
                .send()
                .await
                .map_err(transport_error)?;
            Ok(Polled::Done(media_output(
                read_capped(classify(res).await?, MAX_RESULT_BYTES).await?,
            )?))
        }
        .boxed()
    }

    fn can_cancel(&self) -> bool {
        true
    }

    fn cancel<'a>(
        &'a self,
        _job: &'a Job,
        remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<()>> {
        async move {
            let res = self
                .http
                .post(self.url("/queue"))
                .json(&json!({"delete": [remote_id]}))
                .send()
                .await
                .map_err(transport_error)?;
            classify(res).await?;
            // Only stop the running prompt if it is ours: the interrupt of older servers stops
            // whatever runs.
            if self
                .queue()
                .await?
                .queue_running
                .iter()
                .any(|e| is_prompt(e, remote_id))
            {
                let res = self
                    .http
                    .post(self.url("/interrupt"))
                    .json(&json!({"prompt_id": remote_id}))
                    .send()
                    .await
                    .map_err(transport_error)?;
                classify(res).await?;
            }
            Ok(())
        }
        .boxed()
    }
}

impl ComfyUi {
    async fn queue(&self) -> ProviderResult<Queue> {
        let res = self
            .http
            .get(self.url("/queue"))
            .send()
            .await
            .map_err(transport_error)?;
        json_capped(classify(res).await?).await
    }

    /// A prompt not in the history yet: waiting, running, or forgotten by a restarted server.
    async fn waiting(&self, id: &str) -> ProviderResult<Polled> {
        let queue = self.queue().await?;
        if queue.queue_running.iter().any(|e| is_prompt(e, id)) {
            return Ok(Polled::Running { progress: None });
        }
        if queue.queue_pending.iter().any(|e| is_prompt(e, id)) {
            return Ok(Polled::Running { progress: Some(0) });
        }
        // The history is written before the prompt leaves the queue; look once more.
        let res = self
            .http
            .get(self.url(&format!("/history/{id}")))
            .send()
            .await
            .map_err(transport_error)?;
        let history: Map<String, Value> = json_capped(classify(res).await?).await?;
        if history.contains_key(id) {
            return Ok(Polled::Running { progress: None });
        }
        Err(ProviderError::permanent(
            "gen_err.expired",
            "the server no longer knows the prompt (restarted?)",
        ))
    }
}

/// The models' workflow templates, read once at start: a model must have one for each kind
/// it declares, and each must be a graph (a JSON object).
pub fn workflows(
    cfg: &crate::config::ProviderConfig,
) -> anyhow::Result<HashMap<(String, Kind), Value>> {
    let mut out = HashMap::new();
    for model in &cfg.models {
        if let Some(unknown) = model.workflows.keys().find(|k| Kind::parse(k).is_none()) {
            anyhow::bail!(
                "providers {:?}, model {:?}: {unknown:?} is not a kind (t2i, i2i, t2v, i2v)",
                cfg.name,
                model.name
            );
        }
        for kind in &model.kinds {
            let text = model.workflows.get(kind.as_str()).ok_or_else(|| {
                anyhow::anyhow!(
                    "providers {:?}, model {:?}: no workflow for {}",
                    cfg.name,
                    model.name,
                    kind.as_str()
                )
            })?;
            let graph: Value = serde_json::from_str(text).map_err(|e| {
                anyhow::anyhow!(
                    "providers {:?}, model {:?}: the {} workflow is not JSON: {e}",
                    cfg.name,
                    model.name,
                    kind.as_str()
                )
            })?;
            anyhow::ensure!(
                graph.is_object(),
                "providers {:?}, model {:?}: the {} workflow is not a graph in API format",
                cfg.name,
                model.name,
                kind.as_str()
            );
            out.insert((model.name.clone(), *kind), graph);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_replaced_with_typed_values_and_nothing_else() {
        let template = json!({
            "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20,
                  "model": ["4", 0], "note": "{{seed}} and more"}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{ prompt }}"}}
        });
        let slots = HashMap::from([("seed", json!(42)), ("prompt", json!("{{seed}}"))]);
        let graph = fill(&template, &slots);
        assert_eq!(graph["3"]["inputs"]["seed"], 42);
        assert_eq!(graph["3"]["inputs"]["note"], "{{seed}} and more");
        assert_eq!(graph["3"]["inputs"]["model"], json!(["4", 0]));
        // A prompt that looks like a slot is text, not filled again.
        assert_eq!(graph["6"]["inputs"]["text"], "{{seed}}");
    }
}
