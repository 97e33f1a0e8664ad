//! The results library (seed 3.5, 4.2.3): folders and file nodes, and the filters of a list.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{collections, shares};
use crate::generation::model::TaskView;

pub const FOLDER: &str = "folder";
pub const FILE: &str = "file";
pub const MAX_FOLDER_NAME: usize = 100;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 30;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = collections)]
pub struct Node {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub parent_id: Option<i64>,
    pub parent_key: i64,
    pub name: String,
    pub node_type: String,
    pub generation_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = collections)]
pub struct NewNode<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub parent_id: Option<i64>,
    pub parent_key: i64,
    pub name: &'a str,
    pub node_type: &'a str,
    pub generation_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Which folder a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderFilter {
    Any,
    Unfiled,
    In(String),
}

/// The filters of 生成记录 (seed 3.5.2: by time, model, keyword ...), all optional. A blank
/// value is no filter (the library page's form sends every field).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Keyword in the prompt; substring, so Chinese works without word breaks.
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[serde(rename = "type")]
    #[param(schema_with = kind_filter)]
    pub kind: Option<String>,
    #[param(schema_with = status_filter)]
    pub status: Option<String>,
    /// `provider/model` or just the provider.
    pub model: Option<String>,
    /// A folder id, or "unfiled".
    pub folder: Option<String>,
    pub favorite: Option<bool>,
    pub tag: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[param(schema_with = day_filter)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive.
    #[param(schema_with = day_filter)]
    pub to: Option<String>,
    #[param(schema_with = order_filter)]
    pub order: Option<String>,
    /// Keyset cursor: `next` of the previous page.
    pub before: Option<String>,
}

/// `schema`, or a blank value (no filter).
pub(crate) fn or_blank(
    schema: impl Into<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::{ObjectBuilder, Type};
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(schema)
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*$")),
        )
        .build()
        .into()
}

pub(crate) fn kind_filter() -> utoipa::openapi::schema::Schema {
    or_blank(utoipa::openapi::Ref::from_schema_name("Kind"))
}

fn status_filter() -> utoipa::openapi::schema::Schema {
    or_blank(utoipa::openapi::Ref::from_schema_name("TaskStatus"))
}

fn order_filter() -> utoipa::openapi::schema::Schema {
    or_blank(utoipa::openapi::Ref::from_schema_name("Order"))
}

fn day_filter() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    or_blank(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
    )
}

/// The order of a list: newest first (the default) or oldest first.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Order {
    Newest,
    Oldest,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FolderRef {
    pub id: String,
    pub name: String,
}

/// A result as the library shows it: the task plus its place in the library.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResultView {
    #[serde(flatten)]
    pub task: TaskView,
    pub favorite: bool,
    pub tags: Vec<String>,
    /// The folder it is in; null when unfiled.
    pub folder: Option<FolderRef>,
    /// The model's name as the model menu shows it; `provider/model` once it is gone.
    pub model_label: String,
    /// What the task was charged (model catalogue prices); absent when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::catalogue::model::CostView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResultPage {
    pub results: Vec<ResultView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One folder of the tree, with how many results it holds directly.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FolderView {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub count: i64,
    // The tree refers to itself: a `$ref`, not a schema collected again and again.
    #[schema(no_recursion)]
    pub children: Vec<FolderView>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shares)]
pub struct Share {
    pub id: i64,
    pub uuid: String,
    pub token: String,
    pub user_id: i64,
    pub generation_id: Option<i64>,
    pub collection_id: Option<i64>,
    pub password_hash: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub views: i64,
    pub created_at: NaiveDateTime,
    /// Wrong passwords since the last right one or the last lock.
    pub failed_attempts: i32,
    pub locked_until: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = shares)]
pub struct NewShare<'a> {
    pub uuid: &'a str,
    pub token: &'a str,
    pub user_id: i64,
    pub generation_id: Option<i64>,
    pub collection_id: Option<i64>,
    pub password_hash: Option<&'a str>,
    pub expires_at: Option<NaiveDateTime>,
    pub views: i64,
    pub created_at: NaiveDateTime,
}

/// What the owner sees of a share link.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShareView {
    pub id: String,
    /// The page anyone with the link can open, without logging in.
    pub url: String,
    /// "result" or "folder".
    pub kind: String,
    pub target: String,
    pub has_password: bool,
    pub expires_at: Option<String>,
    pub views: i64,
    pub created_at: String,
    /// Wrong passwords typed since the last right one.
    pub failed_attempts: i32,
    /// Set while too many wrong passwords keep the link locked.
    pub locked_until: Option<String>,
}

/// A share as its owner's page lists it: the link, and what it shares by name.
#[derive(Debug, Clone, Serialize)]
pub struct ShareEntry {
    #[serde(flatten)]
    pub share: ShareView,
    /// The shared result's prompt, or the folder's name.
    pub label: String,
    /// Where the owner opens what is shared: the result's page, or the folder in the library.
    pub target_url: String,
    /// The link's time ran out.
    pub expired: bool,
}
