//! The engine: claims due tasks from the `generations` table, runs them on a bounded pool of
//! tokio tasks (global and per-provider limits), keeps their leases alive, recovers tasks of
//! vanished workers, retries transient errors with backoff, and stores results.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::{Connection as _, QueryResult};
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::model::{Generation, TaskStatus};
use super::providers::{
    InputImage, Job, Output, Polled, ProviderEntry, ProviderError, Report, Submitted,
};
use super::store::{self, CallRecord, Stored};
use crate::app::AppState;
use crate::db::DbConn;
use crate::error::AppError;
use crate::moderation::flags::{SOURCE_PROVIDER, SOURCE_VENDOR};
use crate::moderation::providers::{Outcome, Subject, Verdict};
use crate::moderation::review;
use crate::stats::store::Tally;
use crate::storage::label::{label_jpeg, label_png, Label};
use crate::storage::{images, media, sha256_hex};

/// The error code adapters give a vendor's content-policy refusal (`http::classify`).
const VENDOR_MODERATION: &str = "gen_err.moderation";
/// Larger pictures go to the moderation service as their thumbnail (OpenAI takes ≤ 20 MB).
const MAX_CHECKED_BYTES: usize = 20 * 1024 * 1024;

/// Runs until the future is dropped (or its task aborted), which also aborts in-flight work;
/// their leases then expire and another engine picks them up.
pub async fn run(state: Arc<AppState>) {
    let owner = format!("engine-{}", uuid::Uuid::new_v4().simple());
    let cfg = state.config.engine.clone();
    let global = Arc::new(Semaphore::new(cfg.concurrency as usize));
    let per_provider: HashMap<String, Arc<Semaphore>> = state
        .providers
        .entries()
        .map(|e| (e.name.clone(), Arc::new(Semaphore::new(e.concurrency))))
        .collect();
    let mut running: JoinSet<()> = JoinSet::new();
    let lease = Duration::from_secs(u64::from(cfg.lease_seconds));
    let mut beat = tokio::time::interval(lease / 3);
    let mut scan = tokio::time::interval(Duration::from_millis(cfg.poll_interval_ms.max(10)));
    tracing::info!(%owner, "generation engine started");
    loop {
        for entry in state.providers.entries() {
            let Some(slots) = per_provider.get(&entry.name) else {
                continue;
            };
            let free = slots.available_permits().min(global.available_permits());
            if free == 0 {
                continue;
            }
            let claimed = claim(&state, &entry.name, &owner, free as i64, lease).await;
            for task in &claimed {
                state.live.publish(task.user_id, &task.uuid);
            }
            for task in claimed {
                let (Ok(g), Ok(p)) = (
                    global.clone().try_acquire_owned(),
                    slots.clone().try_acquire_owned(),
                ) else {
                    break;
                };
                let (state, owner) = (state.clone(), owner.clone());
                running.spawn(async move {
                    let _permits = (g, p, state.ops.slot());
                    process(&state, &owner, task).await;
                });
            }
        }
        tokio::select! {
            _ = state.wake.notified() => {}
            _ = scan.tick() => {}
            _ = beat.tick() => keep_alive(&state, &owner, lease).await,
            // Reap every finished task first, so one claim fills all the freed slots.
            Some(_) = running.join_next(), if !running.is_empty() => {
                while running.try_join_next().is_some() {}
            }
        }
    }
}

async fn claim(
    state: &AppState,
    provider: &str,
    owner: &str,
    limit: i64,
    lease: Duration,
) -> Vec<Generation> {
    let (provider, owner) = (provider.to_string(), owner.to_string());
    let result = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
            Ok(store::claim(conn, &provider, &owner, limit, now, until)?)
        })
        .await;
    result.unwrap_or_else(|e| {
        tracing::warn!("queue claim failed: {e}");
        Vec::new()
    })
}

/// Extends our leases and puts back tasks whose worker stopped renewing them.
async fn keep_alive(state: &AppState, owner: &str, lease: Duration) {
    let owner = owner.to_string();
    let result = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            store::heartbeat(
                conn,
                &owner,
                now + chrono::Duration::from_std(lease).unwrap_or_default(),
            )?;
            Ok(store::recover_expired(conn, now)?)
        })
        .await;
    match result {
        Ok(0) => {}
        Ok(n) => tracing::info!(recovered = n, "tasks of a vanished worker are queued again"),
        Err(e) => tracing::warn!("heartbeat failed: {e}"),
    }
}

/// Puts back every task whose lease has run out; called once at start as well.
pub async fn recover(state: &AppState) -> Result<usize, AppError> {
    state
        .db
        .run(|conn| Ok(store::recover_expired(conn, Utc::now().naive_utc())?))
        .await
}

async fn process(state: &AppState, owner: &str, task: Generation) {
    let mut run = TaskRun {
        state,
        owner,
        task: &task,
        calls: Vec::new(),
    };
    let Err(err) = run.execute().await else {
        return;
    };
    let (id, owner_s) = (task.id, owner.to_string());
    let max = state.config.engine.max_attempts;
    let base = state.config.engine.retry_base_ms;
    let attempts = task.attempts;
    let refused = task.clone();
    let outcome = run
        .write(move |conn, tally| {
            let now = Utc::now().naive_utc();
            let failed = |conn: &mut DbConn, tally: &mut Tally, code: &str, detail: &str| {
                let held = store::fail(conn, id, &owner_s, code, detail, now)?;
                if held {
                    tally.failed(now, crate::stats::task_reason(code));
                }
                Ok::<_, diesel::result::Error>(held)
            };
            match &err {
                ProviderError::Transient {
                    detail,
                    retry_after,
                    ..
                } if attempts < max => {
                    let delay = retry_after.unwrap_or_else(|| backoff(base, attempts));
                    let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    store::retry_later(conn, id, &owner_s, "gen_err.retrying", detail, at, now)?
                }
                ProviderError::Transient { detail, .. } => {
                    failed(conn, tally, "gen_err.gave_up", detail)?
                }
                ProviderError::Permanent { code, detail, .. } => {
                    let held = failed(conn, tally, code, detail)?;
                    // A vendor's safety refusal is recorded like our own service's flags, so
                    // reviewers see who keeps running into it (there is no result to show).
                    if held && *code == VENDOR_MODERATION {
                        let verdict = Verdict {
                            flagged: true,
                            categories: vec![review::VENDOR_REFUSAL.to_string()],
                            detail: Some(detail.chars().take(500).collect()),
                            ..Verdict::default()
                        };
                        let service = refused.provider.clone();
                        review::record(conn, &refused, SOURCE_VENDOR, &service, &verdict, now)?;
                    }
                    held
                }
            };
            Ok(err)
        })
        .await;
    state.live.publish(task.user_id, &task.uuid);
    match outcome {
        Ok(err) => tracing::info!(task = %task.uuid, error = ?err, "task did not complete"),
        Err(e) => tracing::warn!(task = %task.uuid, "could not record the task's failure: {e}"),
    }
    state.wake.notify_one();
}

fn mime_of(kind: &str) -> &'static str {
    match kind {
        "image/jpeg" => "image/jpeg",
        _ => "image/png",
    }
}

/// The image with the visible "AI生成" label drawn in, re-encoded in its own format.
fn stamped(bytes: &[u8], mime: &str) -> anyhow::Result<Vec<u8>> {
    let mut img = media::still(bytes, mime)?.to_rgb8();
    crate::storage::stamp::stamp(&mut img);
    match mime {
        "image/jpeg" => images::encode_jpeg(&image::DynamicImage::ImageRgb8(img)),
        _ => images::encode_png(&img),
    }
}

/// Doubling delays from `base_ms`, capped at five minutes, with ±20 % jitter so many failed
/// tasks do not return at the same instant.
fn backoff(base_ms: u64, attempt: i32) -> Duration {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.clamp(1, 16).saturating_sub(1))
        .min(300_000);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::from_millis((exp as f64 * jitter) as u64)
}

/// A database error while running a task: worth trying again later.
fn transient(e: AppError) -> ProviderError {
    ProviderError::Transient {
        detail: e.to_string(),
        http_status: None,
        retry_after: None,
    }
}

/// One task being worked on, with the provider calls not yet written.
struct TaskRun<'a> {
    state: &'a AppState,
    owner: &'a str,
    task: &'a Generation,
    /// `api_calls` rows go out with the task's next change, in the same transaction: one
    /// commit per step of the task instead of one more for every call.
    calls: Vec<CallRecord>,
}

impl TaskRun<'_> {
    async fn execute(&mut self) -> Result<(), ProviderError> {
        let (state, task) = (self.state, self.task);
        let entry = state.providers.get(&task.provider).ok_or_else(|| {
            ProviderError::permanent(
                "gen_err.provider_missing",
                format!("no provider {}", task.provider),
            )
        })?;
        let job = load_job(state, task).await?;
        let output = match &task.remote_task_id {
            // A task resumed after a restart: its vendor task exists already and was paid for.
            Some(remote) => self.poll_until_done(entry, &job, remote).await?,
            None => match self.submit_following(entry, &job).await? {
                Submitted::Done(output) => output,
                Submitted::Remote(remote) => {
                    let (id, owner, remote_s) = (task.id, self.owner.to_string(), remote.clone());
                    let held = self
                        .write(move |conn, _| {
                            store::set_remote_id(
                                conn,
                                id,
                                &owner,
                                &remote_s,
                                Utc::now().naive_utc(),
                            )
                        })
                        .await
                        .map_err(transient)?;
                    if !held {
                        return Ok(());
                    }
                    self.poll_until_done(entry, &job, &remote).await?
                }
            },
        };
        self.store_output(output, job.report.notes()).await
    }

    /// Submits, writing what the adapter reports of its progress as it works (the built-in
    /// engine paints and encodes inside this call).
    async fn submit_following(
        &mut self,
        entry: &ProviderEntry,
        job: &Job,
    ) -> Result<Submitted, ProviderError> {
        use futures_util::future::{select, Either};
        {
            let follow = follow_progress(self.state, self.task, self.owner, job.report.clone());
            let canceled = watch_canceled(self.state, self.task, entry.provider.can_interrupt());
            let submit = self.timed(entry, "submit", entry.provider.submit(job));
            futures_util::pin_mut!(follow, canceled, submit);
            match select(submit, select(follow, canceled)).await {
                Either::Left((result, _)) => return result,
                Either::Right((Either::Left((never, _)), _)) => match never {},
                // The call is dropped here, at the end of this block.
                Either::Right((Either::Right(((), _)), _)) => {}
            }
        }
        // The person canceled while a local server was drawing: it stops now rather than
        // finish a picture nobody will see. Whether it did is only logged.
        if let Err(e) = self
            .timed(entry, "cancel", entry.provider.interrupt(job))
            .await
        {
            tracing::info!(task = %self.task.uuid, "the server did not stop: {e:?}");
        }
        Err(ProviderError::permanent(
            "gen_err.canceled",
            "the task is no longer running",
        ))
    }

    /// Runs one provider call and notes it for `api_calls` (the per-model statistics).
    async fn timed<T>(
        &mut self,
        entry: &ProviderEntry,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        entry.pacer.ready().await;
        let started = Instant::now();
        let result = call.await;
        let (outcome, http_status) = match &result {
            Ok(_) => ("ok", None),
            Err(e @ ProviderError::Transient { .. }) => ("transient", e.http_status()),
            Err(e @ ProviderError::Permanent { .. }) => ("permanent", e.http_status()),
        };
        self.calls.push(CallRecord {
            operation,
            outcome,
            http_status: http_status.map(i32::from),
            latency_ms: started.elapsed().as_millis() as i64,
            at: Utc::now().naive_utc(),
            reason: result.as_ref().err().map(crate::stats::call_reason),
        });
        result
    }

    /// Writes the pending calls and `change` in one transaction, with what both add to the
    /// statistics rollups (`change` adds the task's outcome to the tally). The calls stay
    /// pending when it fails, so the next write (or the failure record) still has them.
    async fn write<R, F>(&mut self, change: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut DbConn, &mut Tally) -> QueryResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let calls = self.calls.clone();
        let (provider, model, id, user_id) = (
            self.task.provider.clone(),
            self.task.model.clone(),
            self.task.id,
            self.task.user_id,
        );
        let out = self
            .state
            .db
            .run(move |conn| {
                Ok(conn.transaction(|conn| {
                    let mut tally = Tally::new(&provider, &model, user_id);
                    store::record_calls(conn, &provider, &model, id, &calls)?;
                    for c in &calls {
                        tally.call(c.at, c.latency_ms, c.reason.as_deref());
                    }
                    let out = change(conn, &mut tally)?;
                    tally.apply(conn)?;
                    Ok::<_, diesel::result::Error>(out)
                })?)
            })
            .await?;
        self.calls.clear();
        Ok(out)
    }

    async fn poll_until_done(
        &mut self,
        entry: &ProviderEntry,
        job: &Job,
        remote: &str,
    ) -> Result<Output, ProviderError> {
        let interval = Duration::from_millis(self.state.config.engine.poll_interval_ms.max(10));
        let id = self.task.id;
        loop {
            tokio::time::sleep(interval).await;
            let status = self
                .state
                .db
                .run(move |conn| Ok(store::status_of(conn, id)?))
                .await
                .ok()
                .flatten();
            if status.as_deref() != Some("processing") {
                // The person canceled: a vendor that can drop the task does not make it (nor
                // charge for it). Whether it could is only logged; we stop polling either way.
                if status.as_deref() == Some("canceled") && entry.provider.can_cancel() {
                    if let Err(e) = self
                        .timed(entry, "cancel", entry.provider.cancel(job, remote))
                        .await
                    {
                        tracing::info!(task = %self.task.uuid, "the vendor kept the task: {e:?}");
                    }
                }
                return Err(ProviderError::permanent(
                    "gen_err.canceled",
                    "the task is no longer running",
                ));
            }
            let progress = match self
                .timed(entry, "poll", entry.provider.poll(job, remote))
                .await?
            {
                Polled::Done(output) => return Ok(output),
                Polled::Running { progress } => progress,
            };
            // Each poll is written as it happens: a long task does not pile up its calls.
            let owner = self.owner.to_string();
            let moved = self
                .write(move |conn, _| match progress {
                    Some(p) => store::set_progress(conn, id, &owner, p, Utc::now().naive_utc()),
                    None => Ok(false),
                })
                .await;
            if matches!(moved, Ok(true)) {
                self.state.live.publish(self.task.user_id, &self.task.uuid);
            }
        }
    }

    /// Copies the result into our store at once (vendor URLs expire), with its sha256, size and a
    /// WebP thumbnail (a video's comes from its first frame).
    async fn store_output(
        &mut self,
        output: Output,
        notes: Option<super::model::ResultNotes>,
    ) -> Result<(), ProviderError> {
        let (state, owner, task) = (self.state, self.owner, self.task);
        let engine_error =
            |e: anyhow::Error| ProviderError::permanent("gen_err.storage", format!("{e:#}"));
        // WebP has no place we write the implicit AIGC label into, so a WebP result is kept
        // as a PNG (alpha included): every stored image carries the label.
        let from_webp = output.mime == "image/webp";
        let stored_mime = if from_webp {
            "image/png"
        } else {
            output.mime.as_str()
        };
        let ext = match stored_mime {
            "image/png" => "png",
            "image/jpeg" => "jpg",
            "video/mp4" => "mp4",
            other => {
                return Err(ProviderError::permanent(
                    "gen_err.bad_output",
                    format!("unexpected {other}"),
                ))
            }
        };
        let shard = &task.uuid[..2];
        let key = format!("results/{shard}/{}.{ext}", task.uuid);
        let thumb_key = format!("thumbs/{shard}/{}.webp", task.uuid);
        let mime = stored_mime.to_string();
        let Output { bytes, .. } = output;
        let is_video = mime == "video/mp4";
        let mut params = task.params();
        params.images.clear();
        let reuse = serde_json::json!({
            "type": task.generation_type,
            "prompt": task.prompt.clone().unwrap_or_default(),
            "model": format!("{}/{}", task.provider, task.model),
            "params": params,
        });
        let (producer, produce_id, kind) = (
            state.config.engine.producer.clone(),
            task.uuid.clone(),
            mime.clone(),
        );
        let visible = state.config.engine.visible_label;
        let checked = state.result_check.is_on();
        // Vendor bytes are untrusted: a decoder that panics fails this task, not the engine.
        let (bytes, sha, thumb, w, h, video_ms, probe) =
            media::contained_blocking("result", move || -> anyhow::Result<_> {
                let label = Label {
                    producer: &producer,
                    produce_id: &produce_id,
                    reuse: &reuse,
                };
                let bytes = if from_webp {
                    let mut png = std::io::Cursor::new(Vec::new());
                    media::still(&bytes, "image/webp")?
                        .write_to(&mut png, image::ImageFormat::Png)?;
                    png.into_inner()
                } else {
                    bytes
                };
                let bytes = if visible && !is_video {
                    stamped(&bytes, &kind)?
                } else {
                    bytes
                };
                // Every stored image and video carries the implicit AIGC label and its recipe.
                let bytes = match kind.as_str() {
                    "image/png" => label_png(&bytes, &label)?,
                    "image/jpeg" => label_jpeg(&bytes, &label)?,
                    "video/mp4" => crate::storage::mp4_label::label_mp4(&bytes, &label)?,
                    _ => bytes,
                };
                let preview = media::preview(&bytes, &kind)?;
                let sha = sha256_hex(&bytes);
                // Statistics count video seconds as stored, not as asked for.
                let video_ms = if is_video {
                    media::video_millis(&bytes)
                } else {
                    0
                };
                // What the moderation service is shown: the picture, or a video's poster frame.
                let probe = match (checked, is_video) {
                    (false, _) => None,
                    (true, true) => {
                        let frame = media::still(&bytes, &kind)?;
                        Some((images::encode_jpeg(&frame)?, "image/jpeg", true))
                    }
                    (true, false) if bytes.len() > MAX_CHECKED_BYTES => {
                        Some((preview.thumb.clone(), "image/webp", false))
                    }
                    (true, false) => Some((bytes.clone(), mime_of(&kind), false)),
                };
                Ok((
                    bytes,
                    sha,
                    preview.thumb,
                    preview.width,
                    preview.height,
                    video_ms,
                    probe,
                ))
            })
            .await
            .map_err(|e| ProviderError::permanent("gen_err.bad_output", format!("{e:#}")))?;
        let size = bytes.len() as i64;
        let outcome = match &probe {
            Some((image, image_mime, poster)) => {
                let model = format!("{}/{}", task.provider, task.model);
                let subject = Subject {
                    task_id: &task.uuid,
                    kind: &task.generation_type,
                    model: &model,
                    prompt: task.prompt.as_deref().unwrap_or_default(),
                    image,
                    image_mime,
                    poster: *poster,
                };
                state.result_check.run(&subject).await
            }
            None => Outcome::Clear,
        };
        state
            .storage
            .put_all(vec![(key.clone(), bytes), (thumb_key.clone(), thumb)])
            .await
            .map_err(engine_error)?;
        let (id, owner_s, key_s, thumb_s, mime_s, uuid) = (
            task.id,
            owner.to_string(),
            key.clone(),
            thumb_key.clone(),
            mime.clone(),
            task.uuid.clone(),
        );
        let meta = notes.and_then(|n| serde_json::to_string(&n).ok());
        let held = task.clone();
        let kept = self
            .write(move |conn, tally| {
                let result_url = format!("/api/v1/files/result/{uuid}");
                let stored = Stored {
                    result_url: &result_url,
                    physical_path: &key_s,
                    result_mime: &mime_s,
                    result_bytes: size,
                    result_sha256: &sha,
                    width: w as i32,
                    height: h as i32,
                    thumb_path: &thumb_s,
                };
                let now = Utc::now().naive_utc();
                let kept = match &outcome {
                    Outcome::Clear => store::complete(conn, id, &owner_s, &stored, now)?,
                    // Kept but hidden until an admin decides; the flag says why.
                    Outcome::Flagged { service, verdict } => {
                        let kept = store::complete_as(
                            conn,
                            id,
                            &owner_s,
                            &stored,
                            TaskStatus::Flagged,
                            now,
                        )?;
                        if kept {
                            review::record(conn, &held, SOURCE_PROVIDER, service, verdict, now)?;
                        }
                        kept
                    }
                };
                // A held result was made and paid for all the same: statistics count it.
                if kept {
                    tally.completed(now, i64::from(!is_video), video_ms);
                }
                if let (true, Some(meta)) = (kept, meta) {
                    store::set_result_meta(conn, id, &meta)?;
                }
                Ok(kept)
            })
            .await
            .map_err(transient)?;
        if !kept {
            // Canceled (or taken over) while we worked: the files belong to nobody.
            let _ = state.storage.delete(&key).await;
            let _ = state.storage.delete(&thumb_key).await;
        }
        state.live.publish(task.user_id, &task.uuid);
        state.wake.notify_one();
        Ok(())
    }
}

/// How often a running adapter's own progress is written: often enough to look live, seldom
/// enough not to load the database.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Writes the task's progress whenever the adapter's report moved; runs until dropped.
async fn follow_progress(
    state: &AppState,
    task: &Generation,
    owner: &str,
    report: Report,
) -> std::convert::Infallible {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut written = 0;
    loop {
        ticks.tick().await;
        let now = report.percent();
        if now <= written {
            continue;
        }
        written = now;
        let (id, owner) = (task.id, owner.to_string());
        let moved = state
            .db
            .run(move |conn| {
                Ok(store::set_progress(
                    conn,
                    id,
                    &owner,
                    now,
                    Utc::now().naive_utc(),
                )?)
            })
            .await;
        if matches!(moved, Ok(true)) {
            state.live.publish(task.user_id, &task.uuid);
        }
    }
}

/// Returns once the person has canceled the task, checked as often as remote tasks are
/// polled; never when the provider cannot stop a call that is running.
async fn watch_canceled(state: &AppState, task: &Generation, enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let interval = Duration::from_millis(state.config.engine.poll_interval_ms.max(10));
    let id = task.id;
    loop {
        tokio::time::sleep(interval).await;
        let status = state
            .db
            .run(move |conn| Ok(store::status_of(conn, id)?))
            .await
            .ok()
            .flatten();
        if status.as_deref() == Some("canceled") {
            return;
        }
    }
}

async fn load_job(state: &AppState, task: &Generation) -> Result<Job, ProviderError> {
    let params = task.params();
    // Text-only tasks have no references: no query for them.
    let images = if params.images.is_empty() {
        Vec::new()
    } else {
        load_references(state, task, &params.images).await?
    };
    Ok(Job {
        task_uuid: task.uuid.clone(),
        kind: task.kind(),
        model: task.model.clone(),
        prompt: task.prompt.clone().unwrap_or_default(),
        params,
        images,
        report: Report::default(),
    })
}

/// The task's reference images from our own store, in the order asked.
async fn load_references(
    state: &AppState,
    task: &Generation,
    wanted: &[String],
) -> Result<Vec<InputImage>, ProviderError> {
    let (user_id, ids) = (task.user_id, wanted.to_vec());
    let uploads = state
        .db
        .run(move |conn| Ok(store::uploads_owned(conn, user_id, &ids)?))
        .await
        .map_err(transient)?;
    if uploads.len() != wanted.len() {
        return Err(ProviderError::permanent(
            "gen_err.reference_missing",
            "a reference image is gone",
        ));
    }
    let mut images = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let bytes = state
            .storage
            .get(&upload.physical_path)
            .await
            .map_err(|e| ProviderError::permanent("gen_err.reference_missing", e.to_string()))?;
        images.push(InputImage {
            bytes,
            mime: upload.mime,
        });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        for attempt in 1..6 {
            let d = backoff(1000, attempt).as_millis() as f64;
            let nominal = 1000.0 * f64::from(1u32 << (attempt - 1));
            assert!(
                d >= nominal * 0.79 && d <= nominal * 1.21,
                "attempt {attempt}: {d}"
            );
        }
        assert!(backoff(1000, 30) <= Duration::from_millis(360_000));
    }
}
