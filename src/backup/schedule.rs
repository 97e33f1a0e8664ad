//! Scheduled backups inside the server (`[backup]` in the configuration): one every
//! `interval_seconds` into a sub-folder of `dir`, the newest `keep` kept. Time is cut into
//! slots of one interval; an instance makes a slot's backup only if it moved the schedule
//! row to that slot, so of several instances on one database exactly one makes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use diesel::prelude::*;

use crate::app::AppState;
use crate::db::schema::backup_schedule;
use crate::db::Db;
use crate::error::AppResult;
use crate::storage::Storage;

/// The schedule's row; one schedule per database.
const SCHEDULE: &str = "scheduled";
/// Names of scheduled backups: the prefix, then the UTC time, so names sort by age.
pub const PREFIX: &str = "picturedeck-backup-";

/// Runs until the server stops; does nothing without `backup.dir`.
pub async fn run(state: Arc<AppState>) {
    let Some(dir) = state.config.backup.dir.clone() else {
        return;
    };
    let interval = i64::try_from(state.config.backup.interval_seconds.max(1)).unwrap_or(i64::MAX);
    let keep = state.config.backup.keep.max(1);
    let instance = uuid::Uuid::new_v4().simple().to_string();
    loop {
        let now = Utc::now().timestamp();
        let slot = now / interval;
        match claim(&state.db, slot, &instance).await {
            Ok(true) => match make(&state.db, &state.storage, &dir, keep).await {
                Ok(summary) => {
                    tracing::info!(path = %summary.path.display(), "scheduled backup made: {summary}")
                }
                Err(e) => tracing::error!("scheduled backup failed: {e:#}"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!("scheduled backup not claimed: {e}"),
        }
        let wait = ((slot + 1) * interval - Utc::now().timestamp()).max(1);
        tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(1))).await;
    }
}

/// Whether this instance takes `slot`: true for exactly one caller per slot, on either
/// backend (one conditional UPDATE; the database serialises them).
pub async fn claim(db: &Db, slot: i64, instance: &str) -> AppResult<bool> {
    let instance = instance.to_string();
    db.run(move |conn| {
        let now = Utc::now().naive_utc();
        let made = diesel::insert_into(backup_schedule::table)
            .values((
                backup_schedule::name.eq(SCHEDULE),
                backup_schedule::slot.eq(-1i64),
                backup_schedule::claimed_at.eq(now),
            ))
            .execute(conn);
        match made {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))
            | Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let moved = diesel::update(
            backup_schedule::table
                .filter(backup_schedule::name.eq(SCHEDULE))
                .filter(backup_schedule::slot.lt(slot)),
        )
        .set((
            backup_schedule::slot.eq(slot),
            backup_schedule::instance.eq(&instance),
            backup_schedule::claimed_at.eq(now),
        ))
        .execute(conn)?;
        Ok(moved == 1)
    })
    .await
}

/// Makes one backup under `dir` and removes the oldest beyond `keep`. It is written under a
/// hidden name and renamed when complete, so an unfinished one is never counted or kept.
pub async fn make(
    db: &Db,
    storage: &Storage,
    dir: &Path,
    keep: usize,
) -> anyhow::Result<super::Summary> {
    let name = format!("{PREFIX}{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"));
    let partial = dir.join(format!(".{name}.partial"));
    let done = dir.join(&name);
    crate::private_files::create_private_dir(dir)?;
    let made = super::backup(db, storage, &partial).await;
    let mut summary = match made {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &done)
        .with_context(|| format!("cannot rename {} to {name}", partial.display()))?;
    summary.path = done;
    for old in kept_backups(dir)?.iter().rev().skip(keep) {
        if let Err(e) = std::fs::remove_dir_all(old) {
            tracing::warn!(path = %old.display(), "old backup not removed: {e}");
        }
    }
    Ok(summary)
}

/// The finished scheduled backups in `dir`, oldest first.
pub fn kept_backups(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .filter(|p| p.join(super::MANIFEST).is_file())
        .collect();
    found.sort();
    Ok(found)
}
