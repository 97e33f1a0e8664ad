//! Task changes pushed to the pages (the studio's Server-Sent Events stream).
//!
//! One broadcast channel per user with an open page; a change carries only the task's public
//! id, and each stream loads and renders the card itself (filtered by its own user, so a
//! change can never show another user's task). The engine and the services of this instance
//! publish as they write. Writers elsewhere (another instance on the same PostgreSQL, the
//! library's deletes) are caught by one poll of `updated_at` per instance while anyone
//! listens: see docs/benchmarks.md for why a poll and not LISTEN/NOTIFY.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use tokio::sync::broadcast;

use super::store;
use crate::app::AppState;

/// Changes a slow page may fall behind by before it is sent its whole list again.
const BACKLOG: usize = 64;
/// Rows committed late (a transaction that began before the last poll) are still seen.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(3);

/// A task that changed: its public id.
pub type Change = Arc<str>;

#[derive(Default)]
pub struct Live {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<i64, broadcast::Sender<Change>>,
    polling: bool,
}

/// A page's place on its user's channel; the channel goes when the user's last page does.
pub struct Subscription {
    pub changes: broadcast::Receiver<Change>,
    user_id: i64,
    state: Arc<AppState>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.state.live.lock();
        if let Some(tx) = inner.users.get(&self.user_id) {
            // This receiver still counts until the fields drop.
            if tx.receiver_count() <= 1 {
                inner.users.remove(&self.user_id);
            }
        }
    }
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells every open page of `user_id` that the task `uuid` changed.
    pub fn publish(&self, user_id: i64, uuid: &str) {
        let inner = self.lock();
        if let Some(tx) = inner.users.get(&user_id) {
            // No receivers left is not an error: the page just closed.
            let _ = tx.send(Arc::from(uuid));
        }
    }

    /// Ends every open stream of `user_id` (a ban): the pages reconnect, are refused, and
    /// go to the login page. Streams on other instances end at the page's next request.
    pub fn sign_out(&self, user_id: i64) {
        // Dropping the sender closes every receiver once it has read what was sent.
        self.lock().users.remove(&user_id);
    }

    /// Pages open now, over all users.
    pub fn listeners(&self) -> usize {
        self.lock()
            .users
            .values()
            .map(|tx| tx.receiver_count())
            .sum()
    }

    /// Joins `user_id`'s channel; starts this instance's change poll if it was not running.
    pub fn subscribe(state: &Arc<AppState>, user_id: i64) -> Subscription {
        let mut inner = state.live.lock();
        let changes = inner
            .users
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe();
        if !inner.polling && state.config.engine.live_poll_ms > 0 {
            inner.polling = true;
            tokio::spawn(poll(state.clone()));
        }
        Subscription {
            changes,
            user_id,
            state: state.clone(),
        }
    }
}

/// Publishes every task row changed since the last look, while anyone listens here.
async fn poll(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.engine.live_poll_ms.max(50));
    let mut since = Utc::now().naive_utc() - OVERLAP;
    // What was already published, so the overlap does not send the same change twice.
    let mut seen: HashMap<String, NaiveDateTime> = HashMap::new();
    loop {
        tokio::time::sleep(every).await;
        {
            let mut inner = state.live.lock();
            if inner.users.is_empty() {
                inner.polling = false;
                return;
            }
        }
        let from = since;
        let rows = state
            .db
            .run(move |conn| Ok(store::changed_since(conn, from)?))
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("live change poll failed: {e}");
                continue;
            }
        };
        for (user_id, uuid, updated) in rows {
            since = since.max(updated - OVERLAP);
            if seen.get(&uuid).is_some_and(|at| *at >= updated) {
                continue;
            }
            state.live.publish(user_id, &uuid);
            seen.insert(uuid, updated);
        }
        seen.retain(|_, at| *at >= since);
    }
}
