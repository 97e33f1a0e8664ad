//! The public gallery (seed 5.1 ⑦⑧, issue 12): published works and what the pages show of them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::publications;
use crate::generation::model::Params;

pub const MAX_TITLE: usize = 80;
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_REASON: usize = 500;
/// Cards per gallery page.
pub const PAGE_SIZE: i64 = 24;
/// Related works under a work.
pub const RELATED: i64 = 8;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = publications)]
pub struct Publication {
    pub id: i64,
    pub uuid: String,
    pub generation_id: i64,
    pub user_id: i64,
    pub title: String,
    pub description: String,
    pub hide_prompt: i32,
    pub search_text: String,
    pub like_count: i64,
    pub favorite_count: i64,
    pub published_at: NaiveDateTime,
    pub unpublished_at: Option<NaiveDateTime>,
    pub unpublish_reason: Option<String>,
    pub unpublished_by: Option<i64>,
    pub updated_at: NaiveDateTime,
    /// Likes of the last seven days, as of the last hourly pass plus the likes since.
    pub week_likes: i64,
    /// Copied from the result, for the gallery's filters.
    pub generation_type: String,
    pub provider: String,
    pub model: String,
}

impl Publication {
    pub fn is_live(&self) -> bool {
        self.unpublished_at.is_none()
    }

    /// Taken down by someone other than its author (an admin): the author cannot put it back.
    pub fn taken_down(&self) -> bool {
        self.unpublished_by.is_some_and(|by| by != self.user_id)
    }
}

#[derive(Insertable)]
#[diesel(table_name = publications)]
pub struct NewPublication<'a> {
    pub uuid: &'a str,
    pub generation_id: i64,
    pub user_id: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub hide_prompt: i32,
    pub search_text: &'a str,
    pub published_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub generation_type: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
}

/// What an author sends to publish a result (or to change a published one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PublishRequest {
    #[schema(schema_with = title_schema, required = true)]
    pub title: String,
    #[schema(schema_with = description_schema)]
    pub description: String,
    /// Tags as a list; pages send one comma-separated string instead (see `tags_text`).
    #[schema(schema_with = crate::library::api::tags_schema)]
    pub tags: Vec<String>,
    /// Hide the prompt and parameters from everyone but the author.
    pub hide_prompt: bool,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct UnpublishRequest {
    /// Required when an admin takes down someone else's work; the author reads it.
    #[schema(schema_with = reason_schema)]
    pub reason: Option<String>,
}

fn title_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text_matching(1, MAX_TITLE, crate::web::openapi::VISIBLE_LINE)
}

fn description_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text(0, MAX_DESCRIPTION)
}

fn reason_schema() -> utoipa::openapi::Object {
    crate::web::openapi::or_null(crate::web::openapi::text(0, MAX_REASON))
}

fn comment_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text_matching(1, MAX_COMMENT, crate::web::openapi::VISIBLE_LINES)
}

/// The gallery's sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Newest,
    /// Most likes given in the last seven days.
    Week,
    /// Most likes of all time.
    Top,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "newest" => Some(Sort::Newest),
            "week" => Some(Sort::Week),
            "top" => Some(Sort::Top),
            _ => None,
        }
    }
}

/// The gallery's query string (pages and API share it), all optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct GalleryQuery {
    /// Words in the title, description, tags or (unless hidden) prompt; Chinese works as-is.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// newest (default) | week | top
    #[param(schema_with = sort_filter)]
    pub sort: Option<String>,
    /// t2i | i2i | t2v | i2v
    #[serde(rename = "type")]
    #[param(schema_with = crate::library::model::kind_filter)]
    pub kind: Option<String>,
    /// `provider/model` or just the provider.
    pub model: Option<String>,
    pub tag: Option<String>,
    /// The opaque `next` of the previous page of the same list and order.
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

fn sort_filter() -> utoipa::openapi::schema::Schema {
    crate::library::model::or_blank(utoipa::openapi::Ref::from_schema_name("Sort"))
}

/// What `next` looks like (see `service::encode_cursor`): the order, the last card's value
/// (a time in µs or a count of likes) and its work's id; empty for the first page.
pub const CURSOR_PATTERN: &str = concat!(
    r"^([ns]\.-?[0-9]{1,16}\.",
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
);

fn cursor_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text_matching(0, 80, CURSOR_PATTERN)
}

/// A work as a gallery card shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkCard {
    /// The work's public id (not the result's): `/w/{id}`.
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub is_video: bool,
    pub model: String,
    pub model_label: String,
    pub author: String,
    pub published_at: String,
    /// `YYYY-MM-DD` of `published_at`, for the card.
    pub date: String,
    pub tags: Vec<String>,
    pub like_count: i64,
    pub favorite_count: i64,
    /// Signed, expiring WebP still (a video's poster).
    pub thumbnail_url: String,
    /// Signed, expiring full file (the card plays a video from it on hover).
    pub media_url: String,
    pub mime: String,
    pub width: i32,
    pub height: i32,
    /// No NFT module exists yet: always false, the card says 非 NFT.
    pub nft: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkPage {
    pub works: Vec<WorkCard>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// A work's own page: the card plus what the detail shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkDetail {
    #[serde(flatten)]
    pub card: WorkCard,
    pub description: String,
    /// Absent when the author hides it (the author still sees it).
    pub prompt: Option<String>,
    pub params: Option<Params>,
    pub prompt_hidden: bool,
    pub created_at: String,
    /// The viewer is the author.
    pub mine: bool,
}

/// What the author sees of a result's publication in the library.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicationView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub hide_prompt: bool,
    pub published: bool,
    pub published_at: String,
    /// Set when an admin took it down: why.
    pub unpublish_reason: Option<String>,
    pub taken_down: bool,
}

/// An author's public page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuthorView {
    pub username: String,
    pub joined: String,
    pub works: i64,
    pub followers: i64,
    /// The viewer follows this author.
    pub following: bool,
    /// The viewer is this author.
    pub me: bool,
}

/// A work's counts and the viewer's marks after a like or favourite.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Marks {
    pub like_count: i64,
    pub favorite_count: i64,
    pub liked: bool,
    pub favorited: bool,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewComment {
    #[schema(schema_with = comment_schema, required = true)]
    pub body: String,
}

pub const MAX_COMMENT: usize = 500;
/// Comments shown under a work.
pub const COMMENTS_SHOWN: i64 = 200;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created_at: String,
    /// The viewer may delete it: its writer, the work's author or an admin.
    pub can_delete: bool,
}
