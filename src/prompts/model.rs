//! Prompt templates, style presets and history entries, as stored and as shown.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::prompt_templates;

/// Longest template name.
pub const MAX_NAME: usize = 60;
/// Longest template body or negative prompt: as long as a prompt may be.
pub const MAX_BODY: usize = crate::generation::service::MAX_PROMPT_CHARS;
/// Longest value given for one placeholder.
pub const MAX_VALUE: usize = 500;
/// Most placeholder values one fill takes.
pub const MAX_VALUES: usize = 32;
/// Longest placeholder name, in characters.
pub const MAX_PLACEHOLDER: usize = 32;
/// Templates one person may keep.
pub const MAX_TEMPLATES: i64 = 200;
/// History entries per page.
pub const HISTORY_PAGE: i64 = 20;
/// Longest history search.
pub const MAX_QUERY: usize = 100;

/// The public id of a person's own template (a UUID); built-in templates have slugs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUuid(pub String);

/// A language a prompt is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Zh,
    En,
}

impl Language {
    /// Chinese as soon as the text holds a CJK character; English otherwise.
    pub fn of(text: &str) -> Language {
        if text.chars().any(is_cjk) {
            Language::Zh
        } else {
            Language::En
        }
    }

    pub fn other(self) -> Language {
        match self {
            Language::Zh => Language::En,
            Language::En => Language::Zh,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }
}

impl From<crate::i18n::Lang> for Language {
    fn from(lang: crate::i18n::Lang) -> Self {
        match lang {
            crate::i18n::Lang::Zh => Language::Zh,
            crate::i18n::Lang::En => Language::En,
        }
    }
}

/// CJK ideographs and punctuation, kana and Hangul: text a Chinese (or CJK) reader wrote.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x2FA1F)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = prompt_templates)]
pub struct TemplateRow {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub name: String,
    pub body: String,
    pub negative_prompt: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = prompt_templates)]
pub struct NewTemplateRow<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub body: &'a str,
    pub negative_prompt: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A template as the API and pages show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateView {
    /// A built-in template's slug (`portrait`), or the UUID of one of yours.
    pub id: String,
    pub name: String,
    /// The prompt, with `{placeholder}`s.
    pub body: String,
    pub negative_prompt: String,
    /// The placeholders of `body` and `negative_prompt`, in order of first appearance.
    pub placeholders: Vec<String>,
    /// Shipped with PictureDeck: it cannot be changed or deleted.
    pub builtin: bool,
    /// When one of yours was last saved (UTC, `2026-12-01T14:10:00Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// Built-in templates first (in the request's language), then yours by name.
    pub templates: Vec<TemplateView>,
}

/// A style preset in one language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PresetView {
    pub id: String,
    pub name: String,
    /// Added to the prompt.
    pub words: String,
    /// Added to the negative prompt.
    pub negative_prompt: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresetList {
    pub presets: Vec<PresetView>,
}

/// A prompt and negative prompt, as a template fill or a preset leaves them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Filled {
    pub prompt: String,
    pub negative_prompt: String,
}

/// One prompt of yours as the history lists it: each prompt once, by its latest use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub prompt: String,
    /// The latest task with this prompt (the page cursor `before` takes it).
    #[schema(format = Uuid)]
    pub task_id: String,
    /// When that task was submitted (UTC).
    #[schema(format = DateTime)]
    pub used_at: String,
    /// Tasks submitted with this prompt.
    pub uses: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
    /// `before` of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A prompt the assistant wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rewritten {
    pub prompt: String,
    /// The language of `prompt`.
    pub language: Language,
}

/// A template as a person writes it (API body and page form alike).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TemplateInput {
    /// Unique among your templates.
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// The prompt, with `{placeholder}`s: letters, digits or `_` between braces
    /// (`{subject}`, `{主体}`).
    #[schema(schema_with = body_schema)]
    pub body: String,
    #[serde(default)]
    #[schema(schema_with = negative_schema)]
    pub negative_prompt: String,
}

fn name_schema() -> utoipa::openapi::Object {
    use crate::web::openapi::{text_matching, VISIBLE_LINE};
    text_matching(1, MAX_NAME, VISIBLE_LINE)
}

fn body_schema() -> utoipa::openapi::Object {
    use crate::web::openapi::{text_matching, VISIBLE_LINES};
    text_matching(1, MAX_BODY, VISIBLE_LINES)
}

fn negative_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text(0, MAX_BODY)
}
