//! API usage statistics (seed 3.6.3.3, issue 11 item 3): rollups of provider calls and task
//! outcomes per provider and model, per user, per hour and day, kept as calls complete; an
//! admin page with charts and tables, CSV, and `/api/v1/admin/stats`.

pub mod api;
pub mod chart;
pub mod pages;
pub mod service;
pub mod store;

use crate::generation::providers::ProviderError;

/// Why a provider call failed, as the statistics group it: the engine's code for a permanent
/// failure (`auth`, `moderation`, `bad_request` ...), the class of a transient one.
pub fn call_reason(err: &ProviderError) -> String {
    match err {
        ProviderError::Permanent { code, .. } => task_reason(code).to_string(),
        ProviderError::Transient { http_status, .. } => match http_status {
            Some(429) => "rate_limited".into(),
            Some(s) if *s >= 500 => "server_error".into(),
            Some(s) => format!("http_{s}"),
            None => "network".into(),
        },
    }
}

/// A task's failure code without its message-key prefix: `gen_err.auth` → `auth`.
pub fn task_reason(code: &str) -> &str {
    code.strip_prefix("gen_err.").unwrap_or(code)
}
