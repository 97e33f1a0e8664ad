//! Online backups and restores (seed 6.2): the database as one JSON-lines file per table,
//! read from one snapshot while the server runs; every object of the store; a manifest with
//! a SHA-256 per file, row counts, the schema version and where it came from. The format is
//! the same for both backends, so a restore may go to the other one (SQLite → PostgreSQL).
//! See docs/backup.md.

pub mod catalog;
pub mod dump;
pub mod load;
pub mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{Backend, Db};
use crate::storage::Storage;

/// Written in every manifest; a restore refuses formats it does not know.
pub const FORMAT: &str = "picturedeck-backup/1";
pub const MANIFEST: &str = "manifest.json";
/// The SHA-256 of `manifest.json`, so a changed manifest is noticed too.
pub const MANIFEST_SUM: &str = "manifest.json.sha256";
/// Objects copied at once (S3 round trips overlap; local disks do not mind).
const PARALLEL_COPIES: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub app_version: String,
    /// When the snapshot was taken (UTC, RFC 3339).
    pub created_at: String,
    pub source_backend: String,
    pub source_storage: String,
    /// The newest migration applied (diesel's digits of its name), and all of them.
    pub schema_version: String,
    pub migrations: Vec<String>,
    pub tables: Vec<TableEntry>,
    pub objects: Vec<ObjectEntry>,
    /// Objects rows of the snapshot named that were deleted before they could be copied
    /// (the result was deleted during the backup); their rows are gone from the live database.
    #[serde(default)]
    pub deleted_during_backup: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub columns: Vec<catalog::Column>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectEntry {
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a backup or restore did, for the command's output and the log.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub tables: usize,
    pub rows: u64,
    pub objects: usize,
    pub bytes: u64,
    pub seconds: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{} tables, {} rows, {} objects, {:.1} MiB in {:.2} s ({:.0} rows/s, {:.0} objects/s, {:.1} MiB/s)",
            self.tables,
            self.rows,
            self.objects,
            mib,
            self.seconds,
            self.rows as f64 / self.seconds.max(1e-9),
            self.objects as f64 / self.seconds.max(1e-9),
            mib / self.seconds.max(1e-9),
        )
    }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn storage_name(s: &Storage) -> &'static str {
    match s {
        Storage::Local { .. } => "local",
        Storage::S3(_) => "s3",
    }
}

/// Makes a backup in `dest` (a new or empty folder) while the server may be running: the
/// database from one snapshot first, then every object, checked against the keys the
/// snapshot's rows name. The manifest is written last: a folder without one is unfinished.
pub async fn backup(db: &Db, storage: &Storage, dest: &Path) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest)
            .with_context(|| format!("{} is not a folder", dest.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty; back up into a new folder", dest.display());
        }
    }
    crate::private_files::create_private_dir(dest)?;
    let dir = dest.to_path_buf();
    let pool = db.clone();
    let dumped = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        dump::dump(&mut conn, &dir)
    })
    .await??;

    // Objects after the snapshot: everything its rows name was stored before it was taken.
    let keys = storage
        .list()
        .await
        .context("cannot list the stored objects")?;
    let mut objects: Vec<ObjectEntry> = futures_util::stream::iter(keys)
        .map(|key| copy_out(storage, key, dest))
        .buffer_unordered(PARALLEL_COPIES)
        .try_filter_map(|o| async move { Ok(o) })
        .try_collect()
        .await?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));

    let copied: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let mut deleted_during_backup = Vec::new();
    for key in dumped
        .referenced
        .iter()
        .filter(|k| !copied.contains(k.as_str()))
    {
        let (pool, k) = (db.clone(), key.clone());
        let live = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            dump::still_referenced(&mut conn, &k)
        })
        .await??;
        if live {
            bail!(
                "object {key} named by the database is not in the store; the backup is incomplete"
            );
        }
        deleted_during_backup.push(key.clone());
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        created_at,
        source_backend: backend_name(db.backend()).into(),
        source_storage: storage_name(storage).into(),
        schema_version: dumped.schema_version,
        migrations: dumped.migrations,
        tables: dumped.tables,
        objects,
        deleted_during_backup,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    std::fs::write(
        dest.join(MANIFEST_SUM),
        format!("{}  {MANIFEST}\n", crate::storage::sha256_hex(&text)),
    )?;
    std::fs::write(dest.join(MANIFEST), text)?;
    Ok(Summary {
        path: dest.to_path_buf(),
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        objects: manifest.objects.len(),
        bytes: manifest.tables.iter().map(|t| t.bytes).sum::<u64>()
            + manifest.objects.iter().map(|o| o.bytes).sum::<u64>(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Copies one object to `dest/objects/<key>`; `None` if it was deleted since it was listed.
async fn copy_out(
    storage: &Storage,
    key: String,
    dest: &Path,
) -> anyhow::Result<Option<ObjectEntry>> {
    let target = object_path(dest, &key)?;
    let Some(bytes) = storage.get_if_present(&key).await? else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, &bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(Some(ObjectEntry {
            sha256: crate::storage::sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            key,
        }))
    })
    .await?
}

/// Where an object lives in a backup folder; keys are checked as the store checks them.
fn object_path(dir: &Path, key: &str) -> anyhow::Result<PathBuf> {
    Storage::local(dir.join("objects")).path(key)
}

/// Reads and checks a backup: the manifest against its checksum, then every file against
/// the manifest. Nothing is written anywhere before this passes.
pub fn verify(src: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(src.join(MANIFEST)).with_context(|| {
        format!(
            "{} has no {MANIFEST}: not a backup, or an unfinished one",
            src.display()
        )
    })?;
    let sum = std::fs::read_to_string(src.join(MANIFEST_SUM))
        .with_context(|| format!("{} has no {MANIFEST_SUM}", src.display()))?;
    if sum.split_whitespace().next() != Some(crate::storage::sha256_hex(&text).as_str()) {
        bail!("{MANIFEST} does not match {MANIFEST_SUM}: the backup was changed or damaged");
    }
    let manifest: Manifest =
        serde_json::from_slice(&text).with_context(|| format!("{MANIFEST} cannot be read"))?;
    if manifest.format != FORMAT {
        bail!(
            "unknown backup format {:?} (this version reads {FORMAT})",
            manifest.format
        );
    }
    let files = manifest
        .tables
        .iter()
        .map(|t| {
            (
                src.join(&t.file),
                t.bytes,
                t.sha256.as_str(),
                t.file.clone(),
            )
        })
        .chain(manifest.objects.iter().map(|o| {
            (
                object_path(src, &o.key).unwrap_or_default(),
                o.bytes,
                o.sha256.as_str(),
                format!("objects/{}", o.key),
            )
        }));
    for (path, bytes, sha256, name) in files {
        let (size, sum) = hash_file(&path).with_context(|| format!("{name} is missing"))?;
        if size != bytes || sum != sha256 {
            bail!("{name} does not match its checksum in the manifest: the backup was changed or damaged");
        }
    }
    Ok(manifest)
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        size,
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

/// Restores the backup in `src` into the database at `database_url` and into `storage`,
/// both of which must be empty. The backup is checked first; the objects are copied before
/// the rows (a store that already holds exactly the backup's objects counts as empty, so an
/// interrupted restore can be run again); the rows are loaded in one transaction into the
/// schema version they were written from, and the newer migrations run after.
pub async fn restore(database_url: &str, storage: &Storage, src: &Path) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let dir = src.to_path_buf();
    let manifest = tokio::task::spawn_blocking(move || verify(&dir)).await??;

    let url = database_url.to_string();
    let db = tokio::task::spawn_blocking(move || Db::open(&url, 2)).await??;
    let newest = db.newest_migration()?;
    if manifest.schema_version > newest {
        bail!(
            "the backup's schema ({}) is newer than this PictureDeck's ({newest}); restore it with PictureDeck {} or later",
            manifest.schema_version,
            manifest.app_version
        );
    }
    let pool = db.clone();
    let busy = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        load::first_non_empty(&mut conn)
    })
    .await??;
    if let Some(table) = busy {
        bail!(
            "the database {} is not empty (table {table} has rows); restore only into an empty database",
            crate::db::redact_url(database_url)
        );
    }

    storage.prepare().await.context("storage is not usable")?;
    let wanted: BTreeMap<&str, &ObjectEntry> = manifest
        .objects
        .iter()
        .map(|o| (o.key.as_str(), o))
        .collect();
    let mut already = BTreeSet::new();
    for key in storage
        .list()
        .await
        .context("cannot list the stored objects")?
    {
        let same = match (
            wanted.get(key.as_str()),
            storage.get_if_present(&key).await?,
        ) {
            (Some(o), Some(bytes)) => crate::storage::sha256_hex(&bytes) == o.sha256,
            (_, None) => continue,
            (None, Some(_)) => false,
        };
        if !same {
            bail!(
                "the object store is not empty (it holds {key}); restore only into an empty store"
            );
        }
        already.insert(key);
    }
    futures_util::stream::iter(
        manifest
            .objects
            .iter()
            .filter(|o| !already.contains(&o.key)),
    )
    .map(|o| async move {
        let bytes = tokio::fs::read(object_path(src, &o.key)?).await?;
        storage
            .put(&o.key, bytes)
            .await
            .with_context(|| format!("cannot store {}", o.key))
    })
    .buffer_unordered(PARALLEL_COPIES)
    .try_collect::<Vec<()>>()
    .await?;

    let (pool, dir, m) = (db.clone(), src.to_path_buf(), manifest.clone());
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        pool.migrate_to(&m.schema_version)?;
        let mut conn = pool.get()?;
        let rows = load::load(&mut conn, &dir, &m)?;
        drop(conn);
        pool.migrate()?;
        pool.fill_username_keys()?;
        Ok(rows)
    })
    .await??;

    Ok(Summary {
        path: src.to_path_buf(),
        tables: manifest.tables.len(),
        rows,
        objects: manifest.objects.len(),
        bytes: manifest.tables.iter().map(|t| t.bytes).sum::<u64>()
            + manifest.objects.iter().map(|o| o.bytes).sum::<u64>(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
