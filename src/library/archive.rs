//! Export a selection or a folder as a ZIP streamed to the browser (never built whole in
//! memory): the original files plus manifest.json; and import such a ZIP into this instance.
//! Entries are stored, not compressed: pictures and videos are compressed already.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use chrono::{NaiveDateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::model::{NewNode, FOLDER};
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::generation::model::{Generation, Kind, NewGeneration, Params};
use crate::storage::names::{download_name, extension};
use crate::storage::{media, sha256_hex};
use crate::users::model::{rfc3339, User};

pub const FORMAT: &str = "picturedeck-export";
const MAX_ENTRIES: usize = 20_000;
/// One file of an import is held in memory while it is checked: as large as a vendor result.
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub exported_at: String,
    pub items: Vec<ManifestItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestItem {
    pub id: String,
    /// The entry in the ZIP, e.g. `files/<id>.png`.
    pub file: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub params: serde_json::Value,
    pub provider: String,
    pub model: String,
    pub mime: String,
    #[serde(default)]
    pub width: Option<i32>,
    #[serde(default)]
    pub height: Option<i32>,
    pub sha256: String,
    pub created_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    /// Folder names from the top level down; empty when unfiled.
    #[serde(default)]
    pub folder: Vec<String>,
    #[serde(default)]
    pub favorite: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One file to put in the ZIP.
pub struct ExportItem {
    key: String,
    manifest: ManifestItem,
}

/// The user's completed results to export: by ids (all must be the user's), or a folder with
/// its subfolders.
pub async fn plan(
    state: &AppState,
    user: &User,
    ids: Vec<String>,
    folder: Option<String>,
) -> AppResult<Vec<ExportItem>> {
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            let folders = store::folders(conn, user_id)?;
            let by_id: HashMap<i64, &super::model::Node> =
                folders.iter().map(|n| (n.id, n)).collect();
            // Folders should never form a cycle; if the data holds one anyway, the walk stops
            // at the first folder it meets again instead of looping.
            let path_of = |mut at: Option<i64>| {
                let mut path = Vec::new();
                let mut seen = HashSet::new();
                while let Some(id) = at {
                    let Some(node) = by_id.get(&id) else { break };
                    if !seen.insert(id) {
                        break;
                    }
                    path.push(node.name.clone());
                    at = node.parent_id;
                }
                path.reverse();
                path
            };
            let rows: Vec<Generation> = match folder {
                Some(uuid) => {
                    let root = folders
                        .iter()
                        .find(|n| n.uuid == uuid)
                        .ok_or_else(AppError::not_found)?;
                    // The folder and everything below it.
                    let mut wanted = vec![root.id];
                    let mut seen: HashSet<i64> = wanted.iter().copied().collect();
                    let mut i = 0;
                    while i < wanted.len() {
                        let parent = wanted[i];
                        wanted.extend(
                            folders
                                .iter()
                                .filter(|n| n.parent_id == Some(parent) && seen.insert(n.id))
                                .map(|n| n.id),
                        );
                        i += 1;
                    }
                    let mut rows = Vec::new();
                    for f in wanted {
                        rows.extend(store::results_in(conn, f, i64::MAX)?);
                    }
                    rows
                }
                None => {
                    let rows = store::owned_results(conn, user_id, &ids)?;
                    if rows.len() != ids.len() {
                        return Err(AppError::not_found());
                    }
                    rows
                }
            };
            let row_ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
            let homes: HashMap<i64, i64> = store::folders_of(conn, &row_ids)?.into_iter().collect();
            let tags = store::tags_of(conn, &row_ids)?;
            let mut used = HashSet::new();
            Ok(rows
                .into_iter()
                .filter(|g| g.status == "completed" && g.physical_path.is_some())
                .map(|g| {
                    let mime = g.result_mime.clone().unwrap_or_default();
                    // Named as a download is; a second result of the same minute gets _2.
                    let name = download_name(g.prompt.as_deref(), g.created_at, &mime);
                    let mut file = format!("files/{name}");
                    let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
                    let mut n = 1;
                    while !used.insert(file.clone()) {
                        n += 1;
                        file = format!("files/{stem}_{n}.{ext}");
                    }
                    let mut params = g.params();
                    params.images.clear();
                    ExportItem {
                        key: g.physical_path.clone().unwrap_or_default(),
                        manifest: ManifestItem {
                            id: g.uuid.clone(),
                            file,
                            kind: g.generation_type.clone(),
                            prompt: g.prompt.clone(),
                            params: serde_json::to_value(params).unwrap_or_default(),
                            provider: g.provider.clone(),
                            model: g.model.clone(),
                            mime,
                            width: g.width,
                            height: g.height,
                            sha256: g.result_sha256.clone().unwrap_or_default(),
                            created_at: rfc3339(g.created_at),
                            completed_at: g.completed_at.map(rfc3339),
                            folder: path_of(homes.get(&g.id).copied()),
                            favorite: g.favorite != 0,
                            tags: tags
                                .iter()
                                .filter(|(id, _)| *id == g.id)
                                .map(|(_, t)| t.clone())
                                .collect(),
                        },
                    }
                })
                .collect())
        })
        .await
}

/// Buffers ZIP bytes and hands them to the HTTP body in chunks; waits when the client is
/// slower than the disk, so memory stays bounded.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    /// Takes at most what fits in the current chunk, so a large file never sits in memory
    /// whole: `write_all` comes back for the rest once the chunk has gone out.
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let take = data.len().min(room);
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was closed")
        })
    }
}

/// The ZIP as a stream of chunks, written on the blocking pool one file at a time.
pub fn stream(
    state: Arc<AppState>,
    items: Vec<ExportItem>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(4);
    let runtime = tokio::runtime::Handle::current();
    let errors = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = (|| -> anyhow::Result<()> {
            let mut zip = zip::ZipWriter::new_stream(ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            });
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(true);
            let mut manifest = Vec::with_capacity(items.len());
            for item in items {
                zip.start_file(item.manifest.file.as_str(), options)?;
                match &state.storage {
                    // Straight from the file, a buffer at a time.
                    crate::storage::Storage::Local { .. } => {
                        let mut file = std::fs::File::open(state.storage.path(&item.key)?)?;
                        std::io::copy(&mut file, &mut zip)?;
                    }
                    crate::storage::Storage::S3(_) => {
                        let bytes = runtime.block_on(state.storage.get(&item.key))?;
                        zip.write_all(&bytes)?;
                    }
                }
                manifest.push(item.manifest);
            }
            let manifest = Manifest {
                format: FORMAT.into(),
                version: 1,
                exported_at: rfc3339(Utc::now().naive_utc()),
                items: manifest,
            };
            zip.start_file("manifest.json", options)?;
            zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
            let mut inner = zip.finish()?.into_inner();
            inner.flush()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("export stopped: {e:#}");
            let _ = errors.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// Why one item of an archive was not imported; the rest of the import goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The manifest names a file the ZIP does not hold.
    Missing,
    /// Larger than one file may be, or than what is left of the import's budget.
    TooLarge,
    /// The bytes do not match the manifest's sha256.
    Checksum,
    /// Neither an image we store nor MP4, or a type we do not know.
    Format,
    /// The picture or video cannot be decoded within the upload limits.
    Unreadable,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub id: String,
    pub file: String,
    pub reason: SkipReason,
}

/// Items listed by name in the answer; past this only the count grows.
const MAX_LISTED_SKIPS: usize = 100;

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub imported: usize,
    pub skipped: usize,
    pub skipped_items: Vec<Skipped>,
}

impl Imported {
    fn skip(&mut self, item: &ManifestItem, reason: SkipReason) {
        self.skipped += 1;
        if self.skipped_items.len() < MAX_LISTED_SKIPS {
            self.skipped_items.push(Skipped {
                id: item.id.chars().take(100).collect(),
                file: item.file.chars().take(200).collect(),
                reason,
            });
        }
    }
}

/// A file of an archive, checked: its bytes match the manifest's sha256, it is an image or MP4
/// of ours, and it decodes within the upload limits.
pub struct Checked {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub preview: media::Preview,
}

/// An export opened for import: the manifest read and checked, the files still in the ZIP,
/// read one at a time so that only one of them is ever in memory.
pub struct Archive<R> {
    zip: zip::ZipArchive<R>,
    pub items: Vec<ManifestItem>,
    /// Bytes the remaining files may still add up to.
    budget: u64,
}

fn not_an_export() -> AppError {
    AppError::invalid("file", "err.library.archive")
}

impl<R: Read + Seek> Archive<R> {
    /// Refuses what no export of ours looks like before any file is read: a bad manifest, a
    /// file named twice, or files adding up to more than `max_bytes`.
    pub fn open(reader: R, max_bytes: u64) -> AppResult<Self> {
        let mut zip = zip::ZipArchive::new(reader).map_err(|_| not_an_export())?;
        if zip.len() > MAX_ENTRIES {
            return Err(not_an_export());
        }
        let manifest: Manifest = {
            let entry = zip.by_name("manifest.json").map_err(|_| not_an_export())?;
            if entry.size() > MAX_MANIFEST_BYTES {
                return Err(not_an_export());
            }
            let mut text = Vec::new();
            entry
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut text)
                .map_err(|_| not_an_export())?;
            serde_json::from_slice(&text).map_err(|_| not_an_export())?
        };
        if manifest.format != FORMAT || manifest.version != 1 || manifest.items.len() > MAX_ENTRIES
        {
            return Err(not_an_export());
        }
        let mut named = HashSet::new();
        let mut total = 0u64;
        for item in &manifest.items {
            if !named.insert(item.file.as_str()) {
                return Err(AppError::invalid("file", "err.library.archive_duplicate"));
            }
            // The sizes the ZIP declares; reading checks them again.
            if let Ok(entry) = zip.by_name(&item.file) {
                total = total.saturating_add(entry.size());
            }
        }
        if total > max_bytes {
            return Err(too_large());
        }
        Ok(Archive {
            zip,
            items: manifest.items,
            budget: max_bytes,
        })
    }

    /// Reads and checks the file of `item`, decoding it only after the cheap checks.
    pub fn read(&mut self, item: &ManifestItem) -> Result<Checked, SkipReason> {
        let kind = Kind::parse(&item.kind).ok_or(SkipReason::Format)?;
        let entry = self
            .zip
            .by_name(&item.file)
            .map_err(|_| SkipReason::Missing)?;
        let limit = MAX_ENTRY_BYTES.min(self.budget);
        if entry.size() > limit {
            return Err(SkipReason::TooLarge);
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| SkipReason::Unreadable)?;
        if bytes.len() as u64 > limit {
            return Err(SkipReason::TooLarge);
        }
        self.budget -= bytes.len() as u64;
        if sha256_hex(&bytes) != item.sha256 {
            return Err(SkipReason::Checksum);
        }
        let mime = media::sniff(&bytes).ok_or(SkipReason::Format)?;
        let preview = media::preview(&bytes, mime).map_err(|_| SkipReason::Unreadable)?;
        Ok(Checked {
            kind,
            bytes,
            mime,
            preview,
        })
    }
}

/// Where imports keep the uploaded archive while they read it.
pub fn temp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp")
}

/// Removes what imports left in the temporary folder when the process died mid-import (a
/// running import deletes its own file however it ends). Called at start-up, when no import of
/// this data dir can be running.
pub fn clear_temp(data_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(temp_dir(data_dir)) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Imports running per user in this instance: each holds a temporary archive of up to
/// `limits.import_bytes` and keeps a blocking thread busy.
#[derive(Default)]
pub struct ImportSlots(std::sync::Mutex<HashMap<i64, u32>>);

/// A running import; its slot is free again when this drops, however the import ended.
pub struct ImportSlot<'a> {
    slots: &'a ImportSlots,
    user_id: i64,
}

impl ImportSlots {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u32>> {
        // A panic elsewhere cannot leave the counts half-written: each change is one statement.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for `user_id`, or 429 while `max` imports of theirs are running.
    pub fn take(&self, user_id: i64, max: u32) -> AppResult<ImportSlot<'_>> {
        let mut running = self.running();
        let count = running.entry(user_id).or_insert(0);
        if *count >= max {
            return Err(AppError::client(
                StatusCode::TOO_MANY_REQUESTS,
                429,
                "err.library.import_busy",
            ));
        }
        *count += 1;
        Ok(ImportSlot {
            slots: self,
            user_id,
        })
    }
}

impl Drop for ImportSlot<'_> {
    fn drop(&mut self) {
        let mut running = self.slots.running();
        if let Some(count) = running.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.user_id);
            }
        }
    }
}

pub fn too_large() -> AppError {
    AppError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        "err.library.archive_too_large",
    )
}

fn timestamp(s: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.naive_utc())
}

/// Imports an archive written by `stream` (here or on another instance) for `user`, one file
/// at a time; a file that fails its checks is skipped with its reason.
pub async fn import(state: &AppState, user: &User, path: PathBuf) -> AppResult<Imported> {
    let max_bytes = state.config.limits.import_bytes;
    let mut archive = crate::db::run_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| AppError::internal(e, "import file"))?;
        Archive::open(std::io::BufReader::new(file), max_bytes)
    })
    .await?;
    let items = std::mem::take(&mut archive.items);
    let mut report = Imported::default();
    for item in items {
        // The archive goes to the blocking pool and comes back with one checked file.
        let (back, item, checked) = crate::db::run_blocking(move || {
            let checked = archive.read(&item);
            Ok((archive, item, checked))
        })
        .await?;
        archive = back;
        match checked {
            Ok(c) => {
                store_one(state, user.id, item, c).await?;
                report.imported += 1;
            }
            Err(reason) => report.skip(&item, reason),
        }
    }
    Ok(report)
}

/// Stores one checked file with its thumbnail and adds it to the library as the manifest says.
async fn store_one(
    state: &AppState,
    user_id: i64,
    item: ManifestItem,
    c: Checked,
) -> AppResult<()> {
    let uuid = uuid::Uuid::new_v4().to_string();
    let shard = &uuid[..2];
    let key = format!("results/{shard}/{uuid}.{}", extension(c.mime));
    let thumb_key = format!("thumbs/{shard}/{uuid}.webp");
    let (kind, mime, w, h) = (
        c.kind,
        c.mime,
        c.preview.width as i32,
        c.preview.height as i32,
    );
    let sha = sha256_hex(&c.bytes);
    let size = c.bytes.len() as i64;
    state
        .storage
        .put_all(vec![
            (key.clone(), c.bytes),
            (thumb_key.clone(), c.preview.thumb),
        ])
        .await
        .map_err(|e| AppError::internal(e, "store import"))?;
    let params: Params = serde_json::from_value(item.params.clone()).unwrap_or_default();
    state
        .db
        .run(move |conn| {
            // Under the user's lock: it may create folders (see `service::change_folder`).
            crate::generation::store::with_user_lock(conn, user_id, |conn| {
                let now = Utc::now().naive_utc();
                let created = timestamp(&item.created_at).unwrap_or(now);
                let parameters =
                    serde_json::to_string(&params).map_err(|e| AppError::internal(e, "params"))?;
                let prompt: Option<String> = item
                    .prompt
                    .as_deref()
                    .map(|p| p.chars().take(2000).collect());
                let provider: String = item.provider.chars().take(100).collect();
                let model: String = item.model.chars().take(100).collect();
                let row = NewGeneration {
                    uuid: &uuid,
                    user_id,
                    status: "completed",
                    generation_type: kind.as_str(),
                    prompt: prompt.as_deref(),
                    parameters: Some(&parameters),
                    provider: &provider,
                    model: &model,
                    attempts: 0,
                    next_attempt_at: created,
                    progress: 100,
                    created_at: created,
                    updated_at: now,
                };
                let g = crate::generation::store::insert(conn, &row)?;
                let stored = crate::generation::store::Stored {
                    result_url: &format!("/api/v1/files/result/{uuid}"),
                    physical_path: &key,
                    result_mime: mime,
                    result_bytes: size,
                    result_sha256: &sha,
                    width: w,
                    height: h,
                    thumb_path: &thumb_key,
                };
                store::mark_imported(
                    conn,
                    g.id,
                    &stored,
                    item.completed_at
                        .as_deref()
                        .and_then(timestamp)
                        .unwrap_or(now),
                )?;
                if item.favorite {
                    store::set_favorite(conn, g.id, true)?;
                }
                let tags: Vec<String> = item
                    .tags
                    .iter()
                    .map(|t| t.trim().chars().take(30).collect::<String>())
                    .filter(|t| !t.is_empty())
                    .take(20)
                    .collect();
                store::set_tags(conn, user_id, g.id, &tags)?;
                if !item.folder.is_empty() {
                    let folder = ensure_path(conn, user_id, &item.folder, now)?;
                    store::file_results(conn, user_id, &[g.id], Some(folder), now)?;
                }
                Ok(())
            })
        })
        .await
}

/// The folder at `path` (names from the top), created where missing.
fn ensure_path(
    conn: &mut crate::db::DbConn,
    user_id: i64,
    path: &[String],
    now: NaiveDateTime,
) -> AppResult<i64> {
    let mut parent: Option<i64> = None;
    for raw in path.iter().take(32) {
        let name: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(super::model::MAX_FOLDER_NAME)
            .collect();
        let name = if name.is_empty() {
            "imported".to_string()
        } else {
            name
        };
        parent = Some(match store::sibling_named(conn, user_id, parent, &name)? {
            Some(node) => node.id,
            None => {
                let uuid = uuid::Uuid::new_v4().to_string();
                let row = NewNode {
                    uuid: &uuid,
                    user_id,
                    parent_id: parent,
                    parent_key: parent.unwrap_or(0),
                    name: &name,
                    node_type: FOLDER,
                    generation_id: None,
                    created_at: now,
                    updated_at: now,
                };
                store::insert_node(conn, &row)?.id
            }
        });
    }
    parent.ok_or_else(|| AppError::client(StatusCode::BAD_REQUEST, 400, "err.library.archive"))
}
