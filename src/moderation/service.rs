//! Moderation rules: the prompt check before a task is queued, and the admins' word list.
//! Plain types in and out; no actix here.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde::Serialize;

use super::store::{self, NewWord, REFUSED_ACTION};
use super::{normalise, shipped, Lang, Matcher};
use crate::admin::service::require_admin;
use crate::app::AppState;
use crate::audit::{self, Action};
use crate::error::{AppError, AppResult};
use crate::users::model::{rfc3339, User};
use crate::users::service::Origin;

/// Longest term an admin may add, in characters.
pub const MAX_TERM_CHARS: usize = 50;
/// Most terms one request may add.
pub const MAX_TERMS_PER_ADD: usize = 200;

type Fingerprint = (i64, Option<i64>);

/// The compiled word lists, rebuilt when the admins' terms change (on this instance or
/// another: each check compares a two-number fingerprint of the table).
#[derive(Default)]
pub struct PromptCheck {
    cache: RwLock<Option<(Fingerprint, Arc<Matcher>)>>,
}

impl PromptCheck {
    fn cached(&self, fingerprint: Fingerprint) -> Option<Arc<Matcher>> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|(f, _)| *f == fingerprint)
            .map(|(_, m)| m.clone())
    }

    fn store(&self, fingerprint: Fingerprint, matcher: Arc<Matcher>) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some((fingerprint, matcher));
    }
}

/// The matcher over the shipped list (if on), the configured terms and the admins' terms.
async fn matcher(state: &AppState) -> AppResult<Arc<Matcher>> {
    let fingerprint = state.db.run(|conn| Ok(store::fingerprint(conn)?)).await?;
    if let Some(m) = state.moderation.cached(fingerprint) {
        return Ok(m);
    }
    let custom = state.db.run(|conn| Ok(store::words(conn)?)).await?;
    let config = &state.config.moderation;
    let mut terms: Vec<String> = Vec::new();
    if config.default_words {
        terms.extend(shipped().into_iter().map(|(_, t)| t));
    }
    terms.extend(config.words.iter().cloned());
    terms.extend(custom.into_iter().map(|(w, _)| w.word));
    let matcher = Arc::new(run_matcher_build(terms).await?);
    state.moderation.store(fingerprint, matcher.clone());
    Ok(matcher)
}

/// Compiling a few thousand terms takes a moment: off the executor.
async fn run_matcher_build(terms: Vec<String>) -> AppResult<Matcher> {
    crate::db::run_blocking(move || Ok(Matcher::new(terms))).await
}

/// What the word lists check; a refusal names the field it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screened {
    Prompt,
    /// A comment on a gallery work (issue 12: prompt-filter words apply).
    Comment,
}

impl Screened {
    /// The request field a refusal points at.
    pub fn field(self) -> &'static str {
        match self {
            Screened::Prompt => "prompt",
            Screened::Comment => "body",
        }
    }

    /// The message of a refusal, with `{terms}` in it.
    pub fn message_key(self) -> &'static str {
        match self {
            Screened::Prompt => "err.gen.prompt_refused",
            Screened::Comment => "err.gallery.comment_refused",
        }
    }

    /// The audit action of a refusal; the admins' page counts the prompt ones.
    fn action(self) -> &'static str {
        match self {
            Screened::Prompt => REFUSED_ACTION,
            Screened::Comment => "comment_refused",
        }
    }
}

/// Refuses `prompt` if it holds a listed term: the person is told which, and the refusal is
/// counted (an audit entry of the account, with the terms and the start of the prompt).
pub async fn check_prompt(state: &AppState, user: &User, prompt: &str) -> AppResult<()> {
    check_text(state, user, prompt, Screened::Prompt).await
}

/// [`check_prompt`] for any text a person publishes (`what` says which); the same lists, the
/// same switch (`moderation.prompt_check`) and the same audit entry under `what`'s action.
pub async fn check_text(
    state: &AppState,
    user: &User,
    text: &str,
    what: Screened,
) -> AppResult<()> {
    if !state.config.moderation.prompt_check || text.trim().is_empty() {
        return Ok(());
    }
    let found = matcher(state).await?.find(text);
    if found.is_empty() {
        return Ok(());
    }
    let terms = found.join("、");
    let excerpt: String = text.chars().take(200).collect();
    let detail = format!("{terms} | {excerpt}");
    let id = user.id();
    state
        .db
        .run(move |conn| {
            Ok(audit::record(
                conn,
                Some(id),
                what.action(),
                Some(&detail),
                None,
            )?)
        })
        .await?;
    Err(AppError::Refused { terms, what })
}

// ---- the admins' list ------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WordView {
    pub id: String,
    pub word: String,
    pub lang: String,
    pub added_by: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WordLists {
    /// Whether prompts are checked at all (`moderation.prompt_check`).
    pub prompt_check: bool,
    /// The shipped list, when it is on (`moderation.default_words`).
    pub shipped_zh: Vec<String>,
    pub shipped_en: Vec<String>,
    pub shipped_total: usize,
    /// Terms from `moderation.words` in the config file.
    pub configured: Vec<String>,
    /// The admins' own terms, newest first.
    pub words: Vec<WordView>,
    pub refused_today: i64,
    pub refused_total: i64,
}

pub async fn word_lists(state: &AppState, admin: &User) -> AppResult<WordLists> {
    require_admin(admin)?;
    let today = Utc::now().date_naive().and_hms_opt(0, 0, 0);
    let (rows, refused_today, refused_total) = state
        .db
        .run(move |conn| {
            Ok((
                store::words(conn)?,
                store::refusals(conn, today)?,
                store::refusals(conn, None)?,
            ))
        })
        .await?;
    let config = &state.config.moderation;
    let list = |lang: Lang| -> Vec<String> {
        if !config.default_words {
            return Vec::new();
        }
        shipped()
            .into_iter()
            .filter(|(l, _)| *l == lang)
            .map(|(_, t)| t)
            .collect()
    };
    let (shipped_zh, shipped_en) = (list(Lang::Zh), list(Lang::En));
    Ok(WordLists {
        prompt_check: config.prompt_check,
        shipped_total: shipped_zh.len() + shipped_en.len(),
        shipped_zh,
        shipped_en,
        configured: config.words.clone(),
        words: rows
            .into_iter()
            .map(|(w, by)| WordView {
                id: w.uuid,
                word: w.word,
                lang: w.lang,
                added_by: by,
                created_at: rfc3339(w.created_at),
            })
            .collect(),
        refused_today,
        refused_total,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Added {
    pub added: Vec<String>,
    /// Terms listed already (in any written form).
    pub skipped: Vec<String>,
}

/// Adds terms (one a line, or separated by commas); each is audited.
pub async fn add_words(
    state: &AppState,
    admin: &User,
    text: &str,
    lang: &str,
    origin: &Origin,
) -> AppResult<Added> {
    require_admin(admin)?;
    let lang = Lang::parse(lang).ok_or_else(|| AppError::invalid("lang", "err.moderation.lang"))?;
    let terms: Vec<String> = text
        .split(['\n', ',', '，', '、'])
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return Err(AppError::invalid("words", "err.moderation.empty"));
    }
    if terms.len() > MAX_TERMS_PER_ADD {
        return Err(AppError::invalid("words", "err.moderation.too_many"));
    }
    if terms
        .iter()
        .any(|t| t.chars().count() > MAX_TERM_CHARS || normalise(t).is_empty())
    {
        return Err(AppError::invalid("words", "err.moderation.term"));
    }
    let (actor, ip) = (admin.id(), origin.ip.clone());
    state
        .db
        .run(move |conn| {
            let mut result = Added {
                added: Vec::new(),
                skipped: Vec::new(),
            };
            for term in terms {
                let uuid = uuid::Uuid::new_v4().to_string();
                let row = NewWord {
                    uuid: &uuid,
                    word: &term,
                    norm: &normalise(&term),
                    lang: lang.as_str(),
                    created_by: Some(actor.0),
                    created_at: Utc::now().naive_utc(),
                };
                if !store::insert(conn, &row)? {
                    result.skipped.push(term);
                    continue;
                }
                audit::record_by(
                    conn,
                    &Action {
                        actor: Some(actor),
                        user: None,
                        action: "moderation_word_add",
                        target: Some(&uuid),
                        detail: Some(&term),
                        ip: Some(&ip),
                    },
                )?;
                result.added.push(term);
            }
            Ok(result)
        })
        .await
}

pub async fn delete_word(
    state: &AppState,
    admin: &User,
    id: &str,
    origin: &Origin,
) -> AppResult<()> {
    require_admin(admin)?;
    let (actor, ip, id) = (admin.id(), origin.ip.clone(), id.to_string());
    state
        .db
        .run(move |conn| {
            let word = store::delete(conn, &id)?.ok_or_else(AppError::not_found)?;
            audit::record_by(
                conn,
                &Action {
                    actor: Some(actor),
                    user: None,
                    action: "moderation_word_delete",
                    target: Some(&id),
                    detail: Some(&word),
                    ip: Some(&ip),
                },
            )?;
            Ok(())
        })
        .await
}
