//! A group and its items as stored, and as the API and pages show them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{task_group_items, task_groups};
use crate::generation::model::TaskView;

/// A batch (many tasks of one request form) or a comparison (one request on several models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    Batch,
    Compare,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Batch => "batch",
            GroupKind::Compare => "compare",
        }
    }

    pub fn parse(s: &str) -> Option<GroupKind> {
        match s {
            "batch" => Some(GroupKind::Batch),
            "compare" => Some(GroupKind::Compare),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = task_groups)]
pub struct TaskGroup {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub kind: String,
    pub title: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = task_groups)]
pub struct NewTaskGroup<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = task_group_items)]
pub struct NewItem {
    pub group_id: i64,
    pub position: i32,
    pub generation_id: i64,
}

/// How far a group is: its items by state.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub total: i64,
    pub queued: i64,
    pub processing: i64,
    pub completed: i64,
    pub failed: i64,
    pub canceled: i64,
    /// Finished but held for review.
    pub flagged: i64,
    /// Deleted from the library since.
    pub deleted: i64,
    /// Items that will not change any more.
    pub finished: i64,
    /// `finished` of `total`, 0–100.
    pub percent: i64,
}

impl Progress {
    pub fn count(&mut self, status: &str, deleted: bool) {
        self.total += 1;
        let slot = if deleted {
            &mut self.deleted
        } else {
            match status {
                "queued" => &mut self.queued,
                "processing" => &mut self.processing,
                "completed" => &mut self.completed,
                "failed" => &mut self.failed,
                "canceled" => &mut self.canceled,
                _ => &mut self.flagged,
            }
        };
        *slot += 1;
        self.finished = self.total - self.queued - self.processing;
        self.percent = if self.total == 0 {
            0
        } else {
            self.finished * 100 / self.total
        };
    }

    pub fn running(&self) -> bool {
        self.queued + self.processing > 0
    }
}

/// One item of a group: its task as the generation API shows it, and what a comparison needs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    /// Its place in the group, from 0.
    pub position: i32,
    /// `deleted` when its task was deleted from the library, else the task's status.
    pub state: String,
    pub model_label: String,
    /// Seconds from the task's start to its end (or until now while it runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Estimated price of a finished result, in `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    pub task: TaskView,
}

/// A group with its items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    #[schema(format = Uuid)]
    pub group_id: String,
    pub kind: GroupKind,
    pub title: String,
    pub created_at: String,
    pub progress: Progress,
    /// Seconds from the group's creation to its last finished item (or until now).
    pub seconds: f64,
    /// Estimated price of the finished results, in `currency`; absent when no model has a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    pub currency: String,
    pub items: Vec<ItemView>,
}

/// A group in the list of the library.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupSummary {
    #[schema(format = Uuid)]
    pub group_id: String,
    pub kind: GroupKind,
    pub title: String,
    pub created_at: String,
    pub progress: Progress,
}
