//! The public gallery "PICTUREDECK" (seed 5.1 ⑦⑧, issue 12): publishing results as works,
//! browsing and searching them, a work's page, authors' pages, likes, favourites, follows
//! and comments.

pub mod api;
pub mod cache;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use crate::app::AppState;

/// Keeps "most liked this week" current: every hour the likes older than a week drop out
/// (a new like counts at once).
pub async fn run(state: Arc<AppState>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = service::recount_week(&state).await {
            tracing::warn!("recounting the week's likes failed: {e}");
        }
    }
}
