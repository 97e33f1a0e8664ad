//! The log centre's memory: the newest warnings and errors in a bounded ring buffer, fed by a
//! tracing layer installed beside the log output, each with the request id of the request it
//! happened in (the `request` span of `web::middleware::request_log`).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Longest message kept; a hostile input echoed into a warning must not fill the memory.
const MAX_MESSAGE: usize = 2000;

/// One warning or error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    /// Increases by one per entry in this process: a client can ask for what is newer.
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub at: String,
    /// `warn` or `error`.
    pub level: String,
    /// The module that logged it (`picturedeck::mail::worker` ...).
    pub target: String,
    /// The message and its fields.
    pub message: String,
    /// The `X-Request-Id` of the request it happened in, if any.
    pub request_id: Option<String>,
}

/// A bounded buffer: pushing past `capacity` drops the oldest entry.
pub struct LogBuffer {
    inner: Mutex<Inner>,
}

struct Inner {
    capacity: usize,
    next_seq: u64,
    entries: VecDeque<LogEntry>,
}

/// What the log centre asks for.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `warn` (warnings and errors, the default) or `error` (errors only).
    pub level: Option<String>,
    /// Only entries whose target starts with this (`picturedeck::mail`).
    pub target: Option<String>,
    /// Only entries of this request.
    pub request_id: Option<String>,
    /// At most this many, newest first (default and maximum 500).
    pub limit: Option<usize>,
}

pub const MAX_LIMIT: usize = 500;

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            inner: Mutex::new(Inner {
                capacity: capacity.max(1),
                next_seq: 1,
                entries: VecDeque::new(),
            }),
        }
    }

    /// Changes the bound (from the configuration, once it is read); drops the oldest extra.
    pub fn set_capacity(&self, capacity: usize) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.capacity = capacity.max(1);
            while inner.entries.len() > inner.capacity {
                inner.entries.pop_front();
            }
        }
    }

    pub fn push(
        &self,
        level: Level,
        target: &str,
        message: String,
        request_id: Option<String>,
        at: NaiveDateTime,
    ) {
        // A poisoned lock means a panic while pushing; the log centre then stays silent
        // rather than taking the logging thread down too.
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() >= inner.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(LogEntry {
            seq,
            at: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            level: if level == Level::ERROR {
                "error"
            } else {
                "warn"
            }
            .to_string(),
            target: target.to_string(),
            message,
            request_id,
        });
    }

    /// The newest entries that match, newest first.
    pub fn query(&self, q: &LogQuery) -> Vec<LogEntry> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let errors_only = q.level.as_deref() == Some("error");
        let target = q.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let request = q
            .request_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let limit = q.limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
        inner
            .entries
            .iter()
            .rev()
            .filter(|e| !errors_only || e.level == "error")
            .filter(|e| target.is_none_or(|t| e.target.starts_with(t)))
            .filter(|e| request.is_none_or(|r| e.request_id.as_deref() == Some(r)))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The distinct targets held, for the page's filter.
    pub fn targets(&self) -> Vec<String> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let mut all: Vec<String> = inner.entries.iter().map(|e| e.target.clone()).collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The process's buffer: the tracing subscriber is global, so its buffer is too.
pub fn buffer() -> &'static LogBuffer {
    static BUFFER: OnceLock<LogBuffer> = OnceLock::new();
    BUFFER.get_or_init(|| LogBuffer::new(1000))
}

/// The layer that feeds [`buffer`] (or another buffer, in tests) with warnings and errors.
pub struct RingLayer {
    target: &'static LogBuffer,
}

/// The layer for the process's buffer; `main` installs it beside the log output.
pub fn layer() -> RingLayer {
    RingLayer { target: buffer() }
}

impl RingLayer {
    pub fn into(target: &'static LogBuffer) -> Self {
        RingLayer { target }
    }
}

/// A request span's id, kept in the span's extensions when it opens.
struct SpanRequestId(String);

#[derive(Default)]
struct Collect {
    message: String,
    fields: String,
    request_id: Option<String>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "id" => self.request_id = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }
}

impl<S> Layer<S> for RingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if attrs.metadata().name() != "request" {
            return;
        }
        let mut seen = Collect::default();
        attrs.record(&mut seen);
        if let (Some(request_id), Some(span)) = (seen.request_id, ctx.span(id)) {
            span.extensions_mut().insert(SpanRequestId(request_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        // WARN and ERROR only (ERROR < WARN < INFO in tracing's order).
        if *meta.level() > Level::WARN {
            return;
        }
        let mut seen = Collect::default();
        event.record(&mut seen);
        let request_id = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().find_map(|span| {
                span.extensions()
                    .get::<SpanRequestId>()
                    .map(|r| r.0.clone())
            })
        });
        let mut message = seen.message;
        message.push_str(&seen.fields);
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE) {
            message.truncate(cut);
            message.push('…');
        }
        self.target.push(
            *meta.level(),
            meta.target(),
            message,
            request_id,
            Utc::now().naive_utc(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn leaked(capacity: usize) -> &'static LogBuffer {
        Box::leak(Box::new(LogBuffer::new(capacity)))
    }

    #[test]
    fn keeps_the_newest_n_warnings_and_errors_with_their_request_id() {
        let buf = leaked(5);
        let subscriber = tracing_subscriber::registry().with(RingLayer::into(buf));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept: info");
            for i in 0..8 {
                tracing::warn!(target: "picturedeck::mail::worker", attempt = i, "warning {i}");
            }
            let span = tracing::info_span!("request", id = %"req-42", method = "GET");
            let _entered = span.enter();
            tracing::error!(target: "picturedeck::web", cause = "boom", "request failed");
        });
        assert_eq!(buf.len(), 5);
        let all = buf.query(&LogQuery::default());
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].level, "error");
        assert_eq!(all[0].request_id.as_deref(), Some("req-42"));
        assert!(all[0].message.contains("request failed") && all[0].message.contains("cause=boom"));
        // The four newest warnings, newest first: 7, 6, 5, 4.
        let warnings: Vec<&str> = all[1..].iter().map(|e| e.message.as_str()).collect();
        assert!(
            warnings[0].starts_with("warning 7 attempt=7"),
            "{warnings:?}"
        );
        assert!(warnings[3].starts_with("warning 4"), "{warnings:?}");
        assert!(all[1].request_id.is_none());
        assert!(all[0].seq > all[1].seq);

        let errors = buf.query(&LogQuery {
            level: Some("error".into()),
            ..Default::default()
        });
        assert_eq!(errors.len(), 1);
        let mail = buf.query(&LogQuery {
            target: Some("picturedeck::mail".into()),
            limit: Some(2),
            ..Default::default()
        });
        assert_eq!(mail.len(), 2);
        assert!(mail.iter().all(|e| e.target == "picturedeck::mail::worker"));
        let by_request = buf.query(&LogQuery {
            request_id: Some("req-42".into()),
            ..Default::default()
        });
        assert_eq!(by_request.len(), 1);
        assert_eq!(
            buf.targets(),
            vec!["picturedeck::mail::worker", "picturedeck::web"]
        );
        buf.set_capacity(2);
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn long_messages_are_cut() {
        let buf = leaked(3);
        let subscriber = tracing_subscriber::registry().with(RingLayer::into(buf));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("{}", "x".repeat(10_000));
        });
        let e = &buf.query(&LogQuery::default())[0];
        assert!(e.message.chars().count() <= MAX_MESSAGE + 1);
    }
}
