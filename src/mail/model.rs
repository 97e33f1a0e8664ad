//! Rows of the outbox and what a mail says.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::mail_outbox;

/// Where a mail is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its (next) attempt.
    Queued,
    /// Held by a worker that is sending it.
    Sending,
    Sent,
    /// Refused for good (a 5xx reply), or still failing after the last attempt.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Sending,
            Status::Sent,
            Status::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What a mail says; the text is written in the recipient's language when it is sent, so a
/// late mail can say that it is late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A verification code; `topic` names its texts (`reset_password`, `change_email`).
    Code {
        topic: String,
        username: String,
        code: String,
        requested_at: NaiveDateTime,
        expires_at: NaiveDateTime,
    },
    /// `picturedeck mail test`.
    Test,
}

impl Content {
    /// The short name kept in the `kind` column and shown to admins.
    pub fn kind(&self) -> &str {
        match self {
            Content::Code { topic, .. } => topic,
            Content::Test => "test",
        }
    }
}

/// One mail to send.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub to: String,
    pub lang: crate::i18n::Lang,
    pub user_id: Option<i64>,
    pub content: Content,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub uuid: String,
    pub kind: String,
    pub recipient: String,
    pub lang: String,
    pub user_id: Option<i64>,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct NewOutboxRow<'a> {
    pub uuid: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub lang: &'a str,
    pub user_id: Option<i64>,
    pub payload: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An outbox row as admins see it (never the payload: it holds codes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    pub id: String,
    pub kind: String,
    pub to: String,
    pub lang: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
}

fn rfc(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl From<OutboxRow> for OutboxView {
    fn from(r: OutboxRow) -> Self {
        let waiting = r.status == Status::Queued.as_str();
        OutboxView {
            id: r.uuid,
            kind: r.kind,
            to: r.recipient,
            lang: r.lang,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: rfc(r.created_at),
            next_attempt_at: waiting.then(|| rfc(r.next_attempt_at)),
            sent_at: r.sent_at.map(rfc),
        }
    }
}

/// Counts per status, for the admin page's head.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct OutboxCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}
