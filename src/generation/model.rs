//! Generation tasks (seed 4.2.2): the row is both the queued task and the finished work.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{generations, uploads};

/// The task type of seed 5.3 ⑦: text to image, image to image, text to video, keyframes to video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    T2i,
    I2i,
    T2v,
    I2v,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::T2i => "t2i",
            Kind::I2i => "i2i",
            Kind::T2v => "t2v",
            Kind::I2v => "i2v",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "t2i" => Some(Kind::T2i),
            "i2i" => Some(Kind::I2i),
            "t2v" => Some(Kind::T2v),
            "i2v" => Some(Kind::I2v),
            _ => None,
        }
    }

    pub fn is_video(self) -> bool {
        matches!(self, Kind::T2v | Kind::I2v)
    }

    /// The shape of a result when neither a size nor an aspect ratio is given.
    pub fn default_aspect(self) -> (u32, u32) {
        if self.is_video() {
            (16, 9)
        } else {
            (1, 1)
        }
    }

    /// Reference images the kind needs: (at least, at most).
    pub fn image_range(self) -> (usize, usize) {
        match self {
            Kind::T2i | Kind::T2v => (0, 0),
            Kind::I2i => (1, 3),
            Kind::I2v => (1, 2),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    Canceled,
    /// Finished, but hidden while the moderation service's flag waits for an admin
    /// (`moderation_flags`); its owner sees "under review", never the result.
    Flagged,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Processing => "processing",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Canceled => "canceled",
            TaskStatus::Flagged => "flagged",
        }
    }

    pub fn is_final(s: &str) -> bool {
        matches!(s, "completed" | "failed" | "canceled" | "flagged")
    }
}

/// The short edge a resolution names: "720p" is 720.
pub fn short_edge(resolution: &str) -> Option<u32> {
    match resolution.trim().to_ascii_lowercase().as_str() {
        "480p" => Some(480),
        "720p" => Some(720),
        "1080p" => Some(1080),
        _ => None,
    }
}

/// "16:9" as (16, 9); None unless both sides are 1–32 and the shape is at most 4:1.
pub fn parse_aspect(aspect: &str) -> Option<(u32, u32)> {
    let (a, b) = aspect.split_once(':')?;
    let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
    ((1..=32).contains(&a) && (1..=32).contains(&b) && a <= 4 * b && b <= 4 * a).then_some((a, b))
}

/// A frame of shape `w`:`h` with `short` as its short edge; without one, pictures get a long
/// edge of 1024 and videos a short edge of 720. Edges are multiples of 8 (video encoders want
/// even ones) between 64 and 2048.
pub fn frame_size(w: u32, h: u32, short: Option<u32>, video: bool) -> (u32, u32) {
    let ratio = f64::from(w.max(h)) / f64::from(w.min(h).max(1));
    let (long, short) = match (short, video) {
        (Some(s), _) => (f64::from(s) * ratio, f64::from(s)),
        (None, true) => (720.0 * ratio, 720.0),
        (None, false) => (1024.0, 1024.0 / ratio),
    };
    let edge = |v: f64| ((v / 8.0).round() as u32 * 8).clamp(64, 2048);
    if w >= h {
        (edge(long), edge(short))
    } else {
        (edge(short), edge(long))
    }
}

/// Optional generation parameters beyond the seed's `type`, `prompt` and `images`. `size` and
/// `aspect`/`resolution` exclude each other.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// "WIDTHxHEIGHT", e.g. "1024x1024", 64–2048 per side.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "^(6[4-9]|[7-9][0-9]|[1-9][0-9]{2}|1[0-9]{3}|20[0-3][0-9]|204[0-8])[x*](6[4-9]|[7-9][0-9]|[1-9][0-9]{2}|1[0-9]{3}|20[0-3][0-9]|204[0-8])$"
    )]
    pub size: Option<String>,
    /// Chosen at random when absent; the answer always states it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = seed_schema)]
    #[serde(deserialize_with = "crate::json::whole")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub negative_prompt: Option<String>,
    /// i2i on the offline engine: oil_painting, watercolor, pencil_sketch, pixel_art, color_transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 50)]
    pub style: Option<String>,
    /// How far i2i moves from the reference, 0..1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub strength: Option<f32>,
    /// Video length in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 2, maximum = 10)]
    #[serde(deserialize_with = "crate::json::whole")]
    pub duration: Option<u32>,
    /// "W:H", e.g. "16:9" (each side 1–32, at most 4:1): instead of `size`, with `resolution` or a
    /// default edge (pictures: long edge 1024; videos: short edge 720).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^ *([1-9]|[12][0-9]|3[0-2]) *: *([1-9]|[12][0-9]|3[0-2]) *$")]
    pub aspect: Option<String>,
    /// The short edge, instead of `size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^ *(480|720|1080)[pP] *$")]
    pub resolution: Option<String>,
    /// How many results to make (1–4): one task each, with consecutive seeds. Only in the
    /// request; a stored task is always one result.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 4)]
    #[serde(deserialize_with = "crate::json::whole")]
    pub n: Option<u32>,
    /// Set by the server from the request's `images`; ignored in a request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(read_only)]
    pub images: Vec<String>,
}

fn seed_schema() -> utoipa::openapi::Object {
    crate::web::openapi::or_null(crate::web::openapi::integer(0, i64::from(u32::MAX)))
}

impl Params {
    /// A stored task's parameters as a new request: a stored task holds the size its aspect
    /// ratio or resolution was turned into, and a request may name only one of the two.
    pub fn into_request(mut self) -> Params {
        if self.aspect.is_some() || self.resolution.is_some() {
            self.size = None;
        }
        self
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = generations)]
pub struct Generation {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub status: String,
    pub generation_type: String,
    pub prompt: Option<String>,
    pub parameters: Option<String>,
    pub provider: String,
    pub model: String,
    pub remote_task_id: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub progress: i32,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub result_url: Option<String>,
    pub physical_path: Option<String>,
    pub result_mime: Option<String>,
    pub result_bytes: Option<i64>,
    pub result_sha256: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub thumb_path: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    pub favorite: i32,
    /// JSON the engine stored with the result: see [`ResultNotes`].
    pub result_meta: Option<String>,
}

impl Generation {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.generation_type).unwrap_or(Kind::T2i)
    }

    pub fn notes(&self) -> Option<ResultNotes> {
        self.result_meta
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
    }

    pub fn params(&self) -> Params {
        self.parameters
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }
}

/// What the built-in painter says about a prompt: the words it drew and those it could not.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
pub struct ResultNotes {
    pub understood: Vec<String>,
    pub unknown: Vec<String>,
}

#[derive(Insertable)]
#[diesel(table_name = generations)]
pub struct NewGeneration<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub status: &'a str,
    pub generation_type: &'a str,
    pub prompt: Option<&'a str>,
    pub parameters: Option<&'a str>,
    pub provider: &'a str,
    pub model: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub progress: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = uploads)]
pub struct Upload {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub physical_path: String,
    pub mime: String,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    pub sha256: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = uploads)]
pub struct NewUpload<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub physical_path: &'a str,
    pub mime: &'a str,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    pub sha256: &'a str,
    pub created_at: NaiveDateTime,
}

/// What the API shows of a task (seed 5.3 ⑨ plus progress, queue position and timings).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    #[schema(format = Uuid)]
    pub task_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = Kind)]
    pub kind: String,
    #[schema(value_type = TaskStatus)]
    pub status: String,
    pub prompt: Option<String>,
    pub params: Params,
    pub provider: String,
    pub model: String,
    /// Percent done.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: i32,
    /// Tasks ahead of this one in its provider's queue; only while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskErrorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    pub attempts: i32,
    /// The words the built-in painter drew and those it could not (its finished pictures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<ResultNotes>,
    /// When the submit that made it ran, exactly: the tasks of one submit share it.
    #[serde(skip)]
    #[schema(ignore)]
    pub made_at: NaiveDateTime,
    /// Every task made by the submit that answered with this one, when `n` > 1.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// One card of the studio: a task, or every task of one submit with `n` > 1.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The element id the page swaps by (see `service::card_id`).
    pub id: String,
    /// Running while any task runs, else completed while any completed, else the first's.
    pub status: String,
    /// When its submit ran (microseconds since 1970): the page orders cards by it.
    pub made: i64,
    /// Oldest first.
    pub tasks: Vec<TaskView>,
    pub model_label: String,
    /// The style or filter asked for, in the page's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<ResultNotes>,
}

/// What a page should do about a changed task.
#[derive(Debug, Clone)]
pub enum CardUpdate {
    Show(Card),
    /// The card with this element id is gone (its tasks were deleted).
    Gone(String),
}

/// Why a task failed, in words a person understands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskErrorView {
    pub code: String,
    pub message: String,
}
