//! Results held for review (issue 11 item 2): what the engine records when a moderation
//! service or the model's vendor flags one, the admins' queue, and their decisions (approve:
//! shown again; keep hidden; delete: the result and its files go). Plain types; no actix.

use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::flags::{self, Flag, NewFlag, APPROVED, DELETED, HIDDEN, PENDING};
use super::providers::Verdict;
use crate::admin::service::require_admin;
use crate::app::AppState;
use crate::audit::{self, Action};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::generation::model::{Generation, TaskStatus};
use crate::users::model::{rfc3339, User, UserId};
use crate::users::service::Origin;

/// Flags a page of the queue shows.
pub const PAGE_SIZE: i64 = 50;
/// Flags one decision may cover.
pub const MAX_BULK: usize = 200;

/// Records a flag on `g` in the caller's transaction (the engine's completion, or its
/// failure record for a vendor's refusal).
pub fn record(
    conn: &mut DbConn,
    g: &Generation,
    source: &str,
    service: &str,
    verdict: &Verdict,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let categories = serde_json::to_string(&verdict.categories).unwrap_or_else(|_| "[]".into());
    let scores = (!verdict.scores.is_empty())
        .then(|| serde_json::to_string(&verdict.scores).ok())
        .flatten();
    flags::insert(
        conn,
        &NewFlag {
            uuid: &uuid::Uuid::new_v4().to_string(),
            generation_id: g.id,
            user_id: g.user_id,
            source,
            service,
            categories: &categories,
            scores: scores.as_deref(),
            detail: verdict.detail.as_deref(),
            decision: PENDING,
            created_at: now,
        },
    )
}

/// The category a vendor's refusal is recorded under (vendors do not say which).
pub const VENDOR_REFUSAL: &str = "vendor_refusal";

/// One flag as the queue shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlagView {
    /// The flag's id, for decisions.
    pub id: String,
    /// The result's task id.
    pub task_id: String,
    #[schema(value_type = String)]
    pub kind: String,
    /// The result's status now: `flagged` while hidden, `completed` once approved, `failed`
    /// for a vendor's refusal (there is no result to show).
    pub status: String,
    pub prompt: Option<String>,
    /// `provider/model` that made it.
    pub model: String,
    /// The owner's username.
    pub user: String,
    /// `provider` (our moderation service), `vendor` (the model's service refused) or `admin`.
    pub source: String,
    /// `openai`, `webhook` or the model provider's name.
    pub service: String,
    pub categories: Vec<String>,
    pub scores: std::collections::BTreeMap<String, f64>,
    pub detail: Option<String>,
    /// `pending`, `approved`, `hidden` or `deleted`.
    pub decision: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
    pub mime: Option<String>,
    /// Signed, expiring links for admins (absent when there is no file).
    pub thumbnail_url: Option<String>,
    pub result_url: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub flags: Vec<FlagView>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next: Option<String>,
    /// Flags waiting for a decision.
    pub pending: i64,
    pub hidden: i64,
    pub approved: i64,
    pub deleted: i64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `pending` (default), `hidden`, `approved`, `deleted` or `all`.
    #[param(pattern = "^(|pending|hidden|approved|deleted|all)$")]
    pub decision: Option<String>,
    /// `next` of the previous page.
    pub before: Option<String>,
}

/// The reviewers' link to a flagged result's file: signed over its own path, so the owner's
/// and the share links' `/api/v1/files/...` (which refuse flagged results) are not it.
pub fn file_url(state: &AppState, kind: &str, task_uuid: &str) -> String {
    let expires = Utc::now().timestamp() + state.config.engine.result_url_ttl.max(60);
    let expires = expires - expires % 600 + 600;
    crate::storage::sign(
        &state.secret,
        &format!("/admin/moderation/files/{kind}/{task_uuid}"),
        expires,
    )
}

fn view(
    state: &AppState,
    flag: Flag,
    g: &Generation,
    user: String,
    by: Option<String>,
) -> FlagView {
    let has_file = g.deleted_at.is_none() && g.physical_path.is_some();
    FlagView {
        id: flag.uuid,
        task_id: g.uuid.clone(),
        kind: g.generation_type.clone(),
        status: g.status.clone(),
        prompt: g.prompt.clone(),
        model: format!("{}/{}", g.provider, g.model),
        user,
        source: flag.source,
        service: flag.service,
        categories: serde_json::from_str(&flag.categories).unwrap_or_default(),
        scores: flag
            .scores
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default(),
        detail: flag.detail,
        decision: flag.decision,
        decided_by: by,
        decided_at: flag.decided_at.map(rfc3339),
        created_at: rfc3339(flag.created_at),
        mime: g.result_mime.clone(),
        thumbnail_url: has_file.then(|| file_url(state, "thumb", &g.uuid)),
        result_url: has_file.then(|| file_url(state, "result", &g.uuid)),
    }
}

fn names(conn: &mut DbConn, ids: Vec<i64>) -> diesel::QueryResult<Vec<(i64, String)>> {
    use crate::db::schema::users;
    use diesel::prelude::*;
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load(conn)
}

pub async fn queue(state: &AppState, admin: &User, q: QueueQuery) -> AppResult<QueuePage> {
    require_admin(admin)?;
    let decision = match q.decision.as_deref().map(str::trim).unwrap_or("") {
        "" | "pending" => Some(PENDING),
        "hidden" => Some(HIDDEN),
        "approved" => Some(APPROVED),
        "deleted" => Some(DELETED),
        "all" => None,
        _ => return Err(AppError::invalid("decision", "review.errors.decision")),
    };
    let before = q.before.filter(|b| !b.trim().is_empty());
    let (rows, counts, deciders) = state
        .db
        .run(move |conn| {
            let before = match before {
                Some(uuid) => Some(
                    flags::id_of(conn, &uuid)?
                        .ok_or_else(|| AppError::invalid("before", "review.errors.before"))?,
                ),
                None => None,
            };
            let rows = flags::list(conn, decision, before, PAGE_SIZE + 1)?;
            let by: Vec<i64> = rows.iter().filter_map(|(f, _, _)| f.decided_by).collect();
            Ok((rows, flags::counts(conn)?, names(conn, by)?))
        })
        .await?;
    let count = |d: &str| counts.iter().find(|(k, _)| k == d).map_or(0, |(_, n)| *n);
    let more = rows.len() as i64 > PAGE_SIZE;
    let mut views: Vec<FlagView> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|(flag, g, user)| {
            let by = flag
                .decided_by
                .and_then(|id| deciders.iter().find(|(i, _)| *i == id))
                .map(|(_, n)| n.clone());
            view(state, flag, &g, user, by)
        })
        .collect();
    views.shrink_to_fit();
    Ok(QueuePage {
        next: if more {
            views.last().map(|v| v.id.clone())
        } else {
            None
        },
        flags: views,
        pending: count(PENDING),
        hidden: count(HIDDEN),
        approved: count(APPROVED),
        deleted: count(DELETED),
    })
}

/// What an admin decides about flagged results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Show the result again (its owner's library, share links; it may be published).
    Approve,
    /// Keep it hidden; it leaves the pending queue.
    Hide,
    /// Delete the result and free its files.
    Delete,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s.trim() {
            "approve" => Some(Decision::Approve),
            "hide" => Some(Decision::Hide),
            "delete" => Some(Decision::Delete),
            _ => None,
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Decision::Approve => APPROVED,
            Decision::Hide => HIDDEN,
            Decision::Delete => DELETED,
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Decision::Approve => "moderation_approve",
            Decision::Hide => "moderation_hide",
            Decision::Delete => "moderation_delete",
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Decided {
    /// The flags as they are now.
    pub flags: Vec<FlagView>,
}

/// Applies `decision` to the flags `ids` (their results, really), each audited. A deleted
/// result's files are removed after the rows are written.
pub async fn decide(
    state: &AppState,
    admin: &User,
    ids: Vec<String>,
    decision: Decision,
    origin: &Origin,
) -> AppResult<Decided> {
    require_admin(admin)?;
    let mut ids: Vec<String> = ids
        .into_iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(AppError::invalid("ids", "review.errors.ids"));
    }
    let (actor, ip) = (admin.id(), origin.ip.clone());
    let (changed, files, rows, deciders) = state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            conn.transaction(|conn| {
                let found = flags::by_uuids(conn, &ids)?;
                if found.len() != ids.len() {
                    return Err(AppError::not_found());
                }
                let now = Utc::now().naive_utc();
                let mut changed = Vec::new();
                let mut files = Vec::new();
                for (flag, g) in &found {
                    match decision {
                        Decision::Approve => {
                            flags::release(conn, g.id, now)?;
                        }
                        Decision::Hide => {}
                        Decision::Delete if g.deleted_at.is_none() => {
                            files.extend(
                                [g.physical_path.clone(), g.thumb_path.clone()]
                                    .into_iter()
                                    .flatten(),
                            );
                            crate::library::store::delete_results(conn, &[g.id], now)?;
                        }
                        Decision::Delete => {}
                    }
                    flags::decide(conn, flag.id, decision.outcome(), actor.0, now)?;
                    audit::record_by(
                        conn,
                        &Action {
                            actor: Some(actor),
                            user: Some(UserId(g.user_id)),
                            action: decision.audit_action(),
                            target: Some(&g.uuid),
                            detail: Some(&flag.categories),
                            ip: Some(&ip),
                        },
                    )?;
                    changed.push((g.user_id, g.uuid.clone()));
                }
                let rows = flags::by_uuids(conn, &ids)?;
                let mut owners: Vec<i64> = rows.iter().map(|(_, g)| g.user_id).collect();
                owners.push(actor.0);
                Ok((changed, files, rows, names(conn, owners)?))
            })
        })
        .await?;
    for key in files {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::warn!(%key, "stored file of a deleted result not removed: {e:#}");
        }
    }
    // The gallery's cached pages and the owner's open pages hear of it at once.
    state.gallery_pages.changed();
    for (user_id, uuid) in &changed {
        state.live.publish(*user_id, uuid);
    }
    let name = |id: i64| {
        deciders
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    Ok(Decided {
        flags: rows
            .into_iter()
            .map(|(flag, g)| {
                let by = flag.decided_by.map(name);
                let owner = name(g.user_id);
                view(state, flag, &g, owner, by)
            })
            .collect(),
    })
}

/// A file of a flagged result for a reviewer's signed link: (storage key, mime).
pub async fn signed_file(
    state: &AppState,
    kind: &str,
    task_uuid: &str,
    expires: i64,
    sig: &str,
) -> AppResult<(String, String)> {
    let path = format!("/admin/moderation/files/{kind}/{task_uuid}");
    if !crate::storage::verify(&state.secret, &path, expires, sig, Utc::now().timestamp()) {
        return Err(AppError::forbidden("err.link_expired"));
    }
    let uuid = task_uuid.to_string();
    let g = state
        .db
        .run(move |conn| Ok(flags::result_of(conn, &uuid)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let found = match kind {
        "thumb" => g.thumb_path.map(|k| (k, "image/webp".to_string())),
        "result" => g.physical_path.zip(g.result_mime),
        _ => None,
    };
    found.ok_or_else(AppError::not_found)
}

/// Hides a finished result at once (its owner's library shows it under review; share links,
/// the gallery and its file links stop showing it) and puts it in the queue as the admin's
/// own flag. Audited.
pub async fn flag_result(
    state: &AppState,
    admin: &User,
    task_id: &str,
    note: Option<String>,
    origin: &Origin,
) -> AppResult<FlagView> {
    require_admin(admin)?;
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(AppError::invalid("note", "review.errors.note"));
    }
    let (actor, ip, task_id) = (admin.id(), origin.ip.clone(), task_id.to_string());
    let admin_name = admin.username.clone();
    let (flag, g, owner) = state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            conn.transaction(|conn| {
                let g = crate::generation::store::find_by_uuid(conn, &task_id)?
                    .ok_or_else(AppError::not_found)?;
                let now = Utc::now().naive_utc();
                if !flags::hide(conn, g.id, now)? {
                    return Err(AppError::client(
                        actix_web::http::StatusCode::CONFLICT,
                        409,
                        "review.errors.not_completed",
                    ));
                }
                let verdict = Verdict {
                    flagged: true,
                    categories: vec![flags::SOURCE_ADMIN.to_string()],
                    detail: note.clone(),
                    ..Verdict::default()
                };
                record(conn, &g, flags::SOURCE_ADMIN, &admin_name, &verdict, now)?;
                audit::record_by(
                    conn,
                    &Action {
                        actor: Some(actor),
                        user: Some(UserId(g.user_id)),
                        action: "moderation_flag",
                        target: Some(&g.uuid),
                        detail: note.as_deref(),
                        ip: Some(&ip),
                    },
                )?;
                let flag = flags::latest_of(conn, g.id)?.ok_or_else(AppError::not_found)?;
                let g = crate::generation::store::find_by_uuid(conn, &g.uuid)?
                    .ok_or_else(AppError::not_found)?;
                let owner = names(conn, vec![g.user_id])?
                    .pop()
                    .map(|(_, n)| n)
                    .unwrap_or_default();
                Ok((flag, g, owner))
            })
        })
        .await?;
    state.gallery_pages.changed();
    state.live.publish(g.user_id, &g.uuid);
    Ok(view(state, flag, &g, owner, None))
}

/// Longest note an admin may leave with a flag.
pub const MAX_NOTE_CHARS: usize = 500;

/// Whether `status` is a result hidden for review.
pub fn is_hidden(status: &str) -> bool {
    status == TaskStatus::Flagged.as_str()
}
