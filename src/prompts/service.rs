//! The rules of prompt help: templates (built-in and a person's own) with `{placeholders}`,
//! style presets, the history of a person's prompts, and the assistant that expands and
//! translates them.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use chrono::Utc;

use super::builtin::{self, Preset};
use super::model::*;
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::users::model::{rfc3339, User};

/// Characters that separate the items of a prompt.
const SEPARATORS: [char; 3] = [',', '，', '、'];

// ---- placeholders --------------------------------------------------------------------------

/// `{name}` at `at` (a byte index of `{`): the name, if it is one (letters, digits, `_`).
fn placeholder_at(text: &str, at: usize) -> Option<&str> {
    let rest = &text[at + 1..];
    let end = rest.find('}')?;
    let name = &rest[..end];
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_PLACEHOLDER
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    ok.then_some(name)
}

/// The placeholders of `text`, each once, in order of first appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (at, _) in text.match_indices('{') {
        if let Some(name) = placeholder_at(text, at) {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// `text` with each placeholder replaced by its value (one pass: a value's braces stay as
/// they are); a placeholder without a value is dropped, and the separators it leaves are
/// tidied away.
pub fn fill_text(text: &str, values: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut emptied = false;
    while let Some(offset) = text[i..].find('{') {
        let at = i + offset;
        out.push_str(&text[i..at]);
        match placeholder_at(text, at) {
            Some(name) => {
                let value = values.get(name).map(|v| v.trim()).unwrap_or_default();
                emptied |= value.is_empty();
                out.push_str(value);
                i = at + name.len() + 2;
            }
            None => {
                out.push('{');
                i = at + 1;
            }
        }
    }
    out.push_str(&text[i..]);
    if emptied {
        tidy(&out)
    } else {
        out.trim().to_string()
    }
}

/// No empty items between separators, none at the ends, no runs of spaces.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let last = out.trim_end().chars().last();
        if SEPARATORS.contains(&c)
            && (last.is_none() || last.is_some_and(|l| SEPARATORS.contains(&l)))
        {
            continue;
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.trim()
        .trim_end_matches(|c: char| SEPARATORS.contains(&c) || c.is_whitespace())
        .to_string()
}

// ---- templates -------------------------------------------------------------------------------

fn builtin_view(t: &builtin::Template, lang: Language) -> TemplateView {
    let text = t.text(lang);
    TemplateView {
        id: t.id.clone(),
        name: text.name.clone(),
        body: text.body.clone(),
        negative_prompt: text.negative.clone(),
        placeholders: placeholders(&format!("{} {}", text.body, text.negative)),
        builtin: true,
        updated_at: None,
    }
}

fn own_view(row: &TemplateRow) -> TemplateView {
    TemplateView {
        id: row.uuid.clone(),
        name: row.name.clone(),
        body: row.body.clone(),
        negative_prompt: row.negative_prompt.clone(),
        placeholders: placeholders(&format!("{} {}", row.body, row.negative_prompt)),
        builtin: false,
        updated_at: Some(rfc3339(row.updated_at)),
    }
}

/// The built-in templates in `lang`, then the person's own.
pub async fn templates(state: &AppState, user: &User, lang: Lang) -> AppResult<TemplateList> {
    let user_id = user.id;
    let rows = state
        .db
        .run(move |conn| Ok(store::templates(conn, user_id)?))
        .await?;
    let mut templates: Vec<TemplateView> = builtin::templates()
        .iter()
        .map(|t| builtin_view(t, lang.into()))
        .collect();
    templates.extend(rows.iter().map(own_view));
    Ok(TemplateList { templates })
}

/// A built-in template by slug or one of the person's own by id; anything else is a 404.
pub async fn template(
    state: &AppState,
    user: &User,
    id: &str,
    lang: Lang,
) -> AppResult<TemplateView> {
    if let Some(t) = builtin::template(id) {
        return Ok(builtin_view(t, lang.into()));
    }
    Ok(own_view(&own(state, user, id).await?))
}

async fn own(state: &AppState, user: &User, id: &str) -> AppResult<TemplateRow> {
    let (user_id, uuid) = (user.id, id.to_string());
    state
        .db
        .run(move |conn| store::template(conn, user_id, &uuid)?.ok_or_else(AppError::not_found))
        .await
}

/// The input, trimmed and checked field by field.
fn checked(input: TemplateInput) -> AppResult<TemplateInput> {
    let name = input.name.trim().to_string();
    let body = input.body.trim().to_string();
    let negative_prompt = input.negative_prompt.trim().to_string();
    if name.is_empty() {
        return Err(AppError::invalid("name", "prompts.err.name_required"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "prompts.err.name_invalid"));
    }
    if body.is_empty() {
        return Err(AppError::invalid("body", "prompts.err.body_required"));
    }
    let stray_control = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\r');
    if body.chars().count() > MAX_BODY || stray_control(&body) {
        return Err(AppError::invalid("body", "prompts.err.body_invalid"));
    }
    if negative_prompt.chars().count() > MAX_BODY {
        return Err(AppError::invalid(
            "negative_prompt",
            "prompts.err.body_invalid",
        ));
    }
    Ok(TemplateInput {
        name,
        body,
        negative_prompt,
    })
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

fn name_taken() -> AppError {
    AppError::client(StatusCode::CONFLICT, 409, "prompts.err.name_taken").on_field("name")
}

pub async fn create(
    state: &AppState,
    user: &User,
    input: TemplateInput,
) -> AppResult<TemplateView> {
    let input = checked(input)?;
    let user_id = user.id;
    let row = state
        .db
        .run(move |conn| {
            if store::count(conn, user_id)? >= MAX_TEMPLATES {
                return Err(AppError::client(
                    StatusCode::CONFLICT,
                    409,
                    "prompts.err.too_many",
                ));
            }
            let now = Utc::now().naive_utc();
            let uuid = uuid::Uuid::new_v4().to_string();
            let row = NewTemplateRow {
                uuid: &uuid,
                user_id,
                name: &input.name,
                body: &input.body,
                negative_prompt: &input.negative_prompt,
                created_at: now,
                updated_at: now,
            };
            store::insert(conn, &row).map_err(|e| {
                if is_unique_violation(&e) {
                    name_taken()
                } else {
                    e.into()
                }
            })
        })
        .await?;
    Ok(own_view(&row))
}

/// Built-in templates belong to everyone and change with the binary only.
fn builtin_is_fixed(id: &str) -> AppResult<()> {
    match builtin::template(id) {
        Some(_) => Err(AppError::forbidden("prompts.err.builtin")),
        None => Ok(()),
    }
}

pub async fn update(
    state: &AppState,
    user: &User,
    id: &str,
    input: TemplateInput,
) -> AppResult<TemplateView> {
    builtin_is_fixed(id)?;
    let row = own(state, user, id).await?;
    let input = checked(input)?;
    let row = state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            store::update(
                conn,
                row.id,
                &input.name,
                &input.body,
                &input.negative_prompt,
                now,
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    name_taken()
                } else {
                    e.into()
                }
            })?;
            Ok(TemplateRow {
                name: input.name,
                body: input.body,
                negative_prompt: input.negative_prompt,
                updated_at: now,
                ..row
            })
        })
        .await?;
    Ok(own_view(&row))
}

pub async fn delete(state: &AppState, user: &User, id: &str) -> AppResult<()> {
    builtin_is_fixed(id)?;
    let row = own(state, user, id).await?;
    state
        .db
        .run(move |conn| Ok(store::delete(conn, row.id)?))
        .await
}

/// A prompt of at most `MAX_BODY` characters, or a 422 saying it came out too long.
fn within_limit(filled: Filled) -> AppResult<Filled> {
    let long = |s: &str| s.chars().count() > MAX_BODY;
    if long(&filled.prompt) || long(&filled.negative_prompt) {
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "prompts.err.too_long",
        ));
    }
    Ok(filled)
}

/// The template's prompt and negative prompt with `values` in its placeholders.
pub async fn fill(
    state: &AppState,
    user: &User,
    id: &str,
    values: &HashMap<String, String>,
    lang: Lang,
) -> AppResult<Filled> {
    if values.len() > MAX_VALUES || values.values().any(|v| v.chars().count() > MAX_VALUE) {
        return Err(AppError::invalid("values", "prompts.err.values"));
    }
    let t = template(state, user, id, lang).await?;
    within_limit(Filled {
        prompt: fill_text(&t.body, values),
        negative_prompt: fill_text(&t.negative_prompt, values),
    })
}

// ---- presets --------------------------------------------------------------------------------

fn preset_view(p: &Preset, lang: Language) -> PresetView {
    let text = p.text(lang);
    PresetView {
        id: p.id.clone(),
        name: text.name.clone(),
        words: text.words.clone(),
        negative_prompt: text.negative.clone(),
    }
}

pub fn presets(state: &AppState, lang: Lang) -> PresetList {
    PresetList {
        presets: builtin::presets(&state.config.prompts.presets)
            .iter()
            .map(|p| preset_view(p, lang.into()))
            .collect(),
    }
}

fn items(text: &str) -> Vec<&str> {
    text.split(SEPARATORS)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `text` without the items of `remove` and with those of `words` it lacks, joined in the
/// manner of `lang`; text the person wrote between separators is kept as it was.
fn add_words(text: &str, words: &str, remove: &[&str], lang: Language) -> String {
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    let sep = match lang {
        Language::Zh => "，",
        Language::En => ", ",
    };
    let kept: Vec<&str> = items(text)
        .into_iter()
        .filter(|item| {
            !remove
                .iter()
                .any(|r| items(r).iter().any(|w| same(w, item)))
        })
        .collect();
    let removed = kept.len() != items(text).len();
    let mut out = if removed {
        kept.join(sep)
    } else {
        text.trim()
            .trim_end_matches(|c: char| SEPARATORS.contains(&c) || c.is_whitespace())
            .to_string()
    };
    for word in items(words) {
        if !items(&out).iter().any(|have| same(have, word)) {
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(word);
        }
    }
    out
}

/// The prompt and negative prompt with preset `id`'s words added, in the prompt's language
/// (the page's while the prompt is empty); the words of preset `previous`, if one was applied
/// before, are taken out first, so choosing another style replaces the last.
pub fn apply_preset(
    state: &AppState,
    id: &str,
    prompt: &str,
    negative_prompt: &str,
    previous: Option<&str>,
    lang: Lang,
) -> AppResult<Filled> {
    let all = builtin::presets(&state.config.prompts.presets);
    let preset = all
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(AppError::not_found)?;
    let language = if prompt.trim().is_empty() {
        lang.into()
    } else {
        Language::of(prompt)
    };
    let before = previous
        .filter(|p| *p != id)
        .and_then(|p| all.iter().find(|x| x.id == p));
    let remove = |negative: bool| -> Vec<&str> {
        before
            .map(|b| {
                [Language::Zh, Language::En]
                    .iter()
                    .map(|l| {
                        let t = b.text(*l);
                        if negative {
                            t.negative.as_str()
                        } else {
                            t.words.as_str()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = preset.text(language);
    within_limit(Filled {
        prompt: add_words(prompt, &text.words, &remove(false), language),
        negative_prompt: add_words(negative_prompt, &text.negative, &remove(true), language),
    })
}

// ---- history --------------------------------------------------------------------------------

/// The person's prompts, each once by its latest use, newest first; `q` narrows to prompts
/// holding it (Chinese too: a substring match), `before` continues after a page.
pub async fn history(
    state: &AppState,
    user: &User,
    q: Option<&str>,
    before: Option<&str>,
) -> AppResult<HistoryPage> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY) {
        return Err(AppError::invalid("q", "prompts.err.query_long"));
    }
    let pattern = q.map(crate::library::store::like_pattern);
    let before = before
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    let user_id = user.id;
    let (used, tasks) = state
        .db
        .run(move |conn| {
            let before = match before {
                Some(uuid) => {
                    Some(store::task_id(conn, user_id, &uuid)?.ok_or_else(AppError::not_found)?)
                }
                None => None,
            };
            let used = store::history(conn, user_id, pattern.as_deref(), before, HISTORY_PAGE + 1)?;
            let ids: Vec<i64> = used.iter().map(|u| u.last_id).collect();
            let tasks = store::tasks(conn, user_id, &ids)?;
            Ok((used, tasks))
        })
        .await?;
    let more = used.len() as i64 > HISTORY_PAGE;
    let entries: Vec<HistoryEntry> = used
        .into_iter()
        .take(HISTORY_PAGE as usize)
        .filter_map(|u| {
            let (_, uuid, at) = tasks.iter().find(|(id, _, _)| *id == u.last_id)?;
            Some(HistoryEntry {
                prompt: u.prompt,
                task_id: uuid.clone(),
                used_at: rfc3339(*at),
                uses: u.uses,
            })
        })
        .collect();
    let next = if more {
        entries.last().map(|e| e.task_id.clone())
    } else {
        None
    };
    Ok(HistoryPage { entries, next })
}

// ---- the assistant --------------------------------------------------------------------------

const EXPAND: &str = "You help people write prompts for image and video generation models. \
Rewrite the user's prompt into one richer prompt: keep its subject and intent, and add \
concrete details of setting, composition, lighting, colour and style. Write in the same \
language as the user's prompt (Chinese stays Chinese), at most 120 words, as one paragraph or \
a comma-separated list. Keep any {placeholder} in braces as it is. Answer with the prompt \
only: no title, no quotes, no explanation.";

const TO_ENGLISH: &str = "Translate the user's image or video generation prompt into English \
for a model that reads English best. Keep its meaning, its order and its comma-separated \
style; keep any {placeholder} in braces untranslated. Answer with the translation only.";

const TO_CHINESE: &str =
    "把用户的图像或视频生成提示词翻译成简体中文。保持原意、顺序和逗号分隔的写法，\
花括号里的 {占位符} 原样保留。只回答译文，不要解释。";

fn assistant(state: &AppState) -> AppResult<&super::assistant::Assistant> {
    state
        .prompt_assistant
        .as_ref()
        .ok_or_else(|| AppError::client(StatusCode::CONFLICT, 409, "prompts.err.off"))
}

/// Whether this instance has an assistant configured.
pub fn assistant_on(state: &AppState) -> bool {
    state.prompt_assistant.is_some()
}

fn prompt_to_rewrite(prompt: &str) -> AppResult<&str> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(AppError::invalid("prompt", "err.gen.prompt_required"));
    }
    if prompt.chars().count() > MAX_BODY {
        return Err(AppError::invalid("prompt", "err.gen.prompt_long"));
    }
    Ok(prompt)
}

/// The answer as a prompt: within the prompt limit.
fn rewritten(answer: String) -> AppResult<Rewritten> {
    let prompt: String = answer.chars().take(MAX_BODY).collect();
    Ok(Rewritten {
        language: Language::of(&prompt),
        prompt,
    })
}

/// A richer prompt in the same language, written by the assistant.
pub async fn expand(state: &AppState, prompt: &str) -> AppResult<Rewritten> {
    let assistant = assistant(state)?;
    let prompt = prompt_to_rewrite(prompt)?;
    rewritten(assistant.ask(EXPAND, prompt).await?)
}

/// The prompt in `to` (by default the language it is not in).
pub async fn translate(
    state: &AppState,
    prompt: &str,
    to: Option<Language>,
) -> AppResult<Rewritten> {
    let assistant = assistant(state)?;
    let prompt = prompt_to_rewrite(prompt)?;
    let to = to.unwrap_or_else(|| Language::of(prompt).other());
    let instructions = match to {
        Language::En => TO_ENGLISH,
        Language::Zh => TO_CHINESE,
    };
    let mut out = rewritten(assistant.ask(instructions, prompt).await?)?;
    out.language = to;
    Ok(out)
}

/// The models whose configuration names the language they read prompts best in, by the id
/// the generation form uses (`provider/model`).
pub fn model_languages(state: &AppState) -> HashMap<String, Language> {
    state
        .config
        .providers
        .iter()
        .flat_map(|p| {
            p.models.iter().filter_map(move |m| {
                m.prompt_language
                    .map(|l| (format!("{}/{}", p.name, m.name), l))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_found_once_in_order() {
        assert_eq!(
            placeholders("{subject}, {style}, {subject} {主体} {no space} {} {x-y} {{style}}"),
            vec!["subject", "style", "主体"]
        );
    }

    #[test]
    fn a_fill_puts_values_in_and_tidies_what_empty_ones_leave() {
        let v = values(&[("subject", "a fox {style}"), ("style", "")]);
        assert_eq!(
            fill_text("portrait of {subject}, {style}, soft light", &v),
            "portrait of a fox {style}, soft light"
        );
        assert_eq!(
            fill_text("{style}，{subject}，柔光", &values(&[("subject", "狐狸")])),
            "狐狸，柔光"
        );
        assert_eq!(fill_text("{style}", &values(&[])), "");
        assert_eq!(fill_text("a {b c} d", &values(&[])), "a {b c} d");
        assert_eq!(
            fill_text("unclosed {brace", &values(&[])),
            "unclosed {brace"
        );
    }

    #[test]
    fn a_preset_adds_its_words_once_and_replaces_the_one_before() {
        let zh = add_words("雪地里的狐狸", "电影质感，浅景深", &[], Language::Zh);
        assert_eq!(zh, "雪地里的狐狸，电影质感，浅景深");
        assert_eq!(add_words(&zh, "电影质感，浅景深", &[], Language::Zh), zh);
        let swapped = add_words(&zh, "水彩画", &["电影质感，浅景深"], Language::Zh);
        assert_eq!(swapped, "雪地里的狐狸，水彩画");
        assert_eq!(
            add_words("a fox, ", "Cinematic, film grain", &[], Language::En),
            "a fox, Cinematic, film grain"
        );
        assert_eq!(
            add_words("", "low quality", &[], Language::En),
            "low quality"
        );
        assert_eq!(
            add_words("a fox, cinematic", "CINEMATIC", &[], Language::En),
            "a fox, cinematic"
        );
    }

    #[test]
    fn the_language_of_a_prompt_is_chinese_once_it_holds_chinese() {
        assert_eq!(Language::of("a fox 在雪地"), Language::Zh);
        assert_eq!(Language::of("a fox"), Language::En);
        assert_eq!(Language::of("🦊"), Language::En);
    }
}
