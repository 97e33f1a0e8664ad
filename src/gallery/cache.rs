//! Rendered gallery pages for visitors who are not signed in, kept for a moment (issue 12
//! item 6: an anonymous gallery page must stand `wrk -c 200` at 2,000 requests/s on 2 cores).
//!
//! Only pages rendered for *no* viewer are stored or served from here, keyed by language, host
//! and path with query, so a signed-in person's page never reaches anyone else. A page is fresh
//! for `TTL`; then one request renders it again while the others are served the old one; every
//! gallery write on this instance (publish, edit, unpublish, take-down, like, favourite,
//! comment) drops them all at once, so changes made here show at once and changes made
//! elsewhere (a ban, another instance) within `TTL` and one render.
//!
//! Each visitor's CSRF token differs, so pages are stored with a slot in its place, filled per
//! answer. The ETag names the stored page and the token, and `If-None-Match` answers 304.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use tokio::sync::{Mutex as Gate, OwnedMutexGuard};

use crate::error::AppResult;

/// How long a visitor's page may be served after it was rendered.
pub const TTL: Duration = Duration::from_secs(2);
/// How long past `TTL` a page may still be served while one request renders its successor.
const STALE_FOR: Duration = Duration::from_secs(10);
/// Past this many pages (each filter and cursor is one), the oldest half goes.
const MAX_PAGES: usize = 1024;
/// Rendered where the visitor's CSRF token goes; no template or user text can produce it.
pub const CSRF_SLOT: &str = "\u{1}pd-csrf\u{1}";

struct Page {
    html: Arc<str>,
    /// A hash of `html`, for the ETag.
    tag: u64,
    at: Instant,
    version: u64,
}

/// One key's page, and the gate its renderer holds: one render per key at a time (under
/// `wrk -c 200` an expired page otherwise had every waiting request render it at once, and
/// 1 % of answers waited 170–215 ms).
#[derive(Default)]
struct Slot {
    page: Option<Page>,
    gate: Arc<Gate<()>>,
}

impl Slot {
    /// The page if it is of `version` and not older than `age`.
    fn within(&self, version: u64, age: Duration) -> Option<Cached> {
        self.page
            .as_ref()
            .filter(|p| p.version == version && p.at.elapsed() < age)
            .map(|p| Cached {
                html: p.html.clone(),
                tag: p.tag,
            })
    }

    fn busy(&self) -> bool {
        Arc::strong_count(&self.gate) > 1
    }
}

#[derive(Default)]
pub struct PageCache {
    pages: Mutex<HashMap<String, Slot>>,
    /// Bumped by every gallery write; pages of an older version are not served.
    version: AtomicU64,
}

/// A stored page: its HTML with the token slot, and its hash.
#[derive(Clone)]
pub struct Cached {
    html: Arc<str>,
    tag: u64,
}

/// What a request does after looking at a key's slot.
enum Turn {
    Serve(Cached),
    Render(OwnedMutexGuard<()>),
    Wait(Arc<Gate<()>>),
}

impl PageCache {
    /// The gallery changed: no stored page is served again.
    pub fn changed(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The key of a visitor's page: language, host, path and query.
    pub fn key(req: &HttpRequest, lang: &str) -> String {
        let target = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        format!("{lang} {} {target}", req.connection_info().host())
    }

    /// The page under `key`: the stored one while fresh, else one rendered by `render` (with
    /// `CSRF_SLOT` as its token). One request renders a key at a time; meanwhile the others
    /// get the expired page of the same version if there is one (for at most `STALE_FOR`),
    /// or wait for the render. After a gallery write nothing older is served: all wait.
    pub async fn page<F, Fut>(&self, key: String, render: F) -> AppResult<Cached>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<String>>,
    {
        let _turn = match self.turn(&key) {
            Turn::Serve(page) => return Ok(page),
            Turn::Render(guard) => guard,
            Turn::Wait(gate) => {
                let guard = gate.lock_owned().await;
                // Rendered while this request waited.
                if let Some(page) = self.fresh(&key) {
                    return Ok(page);
                }
                guard
            }
        };
        // Read before rendering, so a page that raced with a write is not kept as new.
        let version = self.version();
        let html = render().await?;
        Ok(self.put(key, html, version))
    }

    fn turn(&self, key: &str) -> Turn {
        let version = self.version();
        let Ok(mut pages) = self.pages.lock() else {
            // A poisoned map only costs the cache: render without one.
            return Turn::Wait(Arc::default());
        };
        if pages.len() >= MAX_PAGES && !pages.contains_key(key) {
            pages.retain(|_, s| s.busy() || s.within(version, TTL / 2).is_some());
            // Still full (a flood of distinct queries): this page is rendered but not kept,
            // so memory stays bounded whatever the request rate.
            if pages.len() >= MAX_PAGES {
                return Turn::Wait(Arc::default());
            }
        }
        let slot = pages.entry(key.to_owned()).or_default();
        if let Some(page) = slot.within(version, TTL) {
            return Turn::Serve(page);
        }
        match slot.gate.clone().try_lock_owned() {
            Ok(guard) => Turn::Render(guard),
            Err(_) => match slot.within(version, TTL + STALE_FOR) {
                Some(page) => Turn::Serve(page),
                None => Turn::Wait(slot.gate.clone()),
            },
        }
    }

    fn fresh(&self, key: &str) -> Option<Cached> {
        let version = self.version();
        self.pages.lock().ok()?.get(key)?.within(version, TTL)
    }

    fn put(&self, key: String, html: String, version: u64) -> Cached {
        let html: Arc<str> = html.into();
        let tag = hash(&html);
        let cached = Cached {
            html: html.clone(),
            tag,
        };
        if let Ok(mut pages) = self.pages.lock() {
            // Only a key that has a slot is kept (see `turn`: a full map makes none).
            let Some(slot) = pages.get_mut(&key) else {
                return cached;
            };
            slot.page = Some(Page {
                html,
                tag,
                at: Instant::now(),
                version,
            });
        }
        cached
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}

fn hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The answer for a visitor: the page with their CSRF token, or 304 when they hold it.
pub fn respond(req: &HttpRequest, page: &Cached) -> HttpResponse {
    let token = req
        .extensions()
        .get::<crate::web::middleware::CsrfToken>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let etag = format!("\"g{:016x}{:08x}\"", page.tag, hash(&token) as u32);
    let held = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    // `private`: the page holds the visitor's token; `no-cache`: ask again, the ETag makes it
    // cheap; `Vary: Cookie`: a signed-in request is another page.
    let mut res = if held {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::VARY, "Cookie, Accept-Language"));
    if held {
        return res.finish();
    }
    res.content_type("text/html; charset=utf-8")
        .body(page.html.replace(CSRF_SLOT, &token))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Renders `html` after `delay`, counting the renders.
    async fn slow(count: &AtomicUsize, delay: Duration, html: &str) -> AppResult<String> {
        count.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        Ok(html.to_owned())
    }

    async fn many(cache: &PageCache, count: &AtomicUsize, html: &str) -> Vec<String> {
        let calls = (0..50).map(|_| async {
            let page = cache
                .page("k".into(), || slow(count, Duration::from_millis(50), html))
                .await?;
            AppResult::Ok(page.html.to_string())
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect::<AppResult<_>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_missing_page_is_rendered_once_for_all_who_ask_at_once() {
        let (cache, count) = (PageCache::default(), AtomicUsize::new(0));
        let pages = many(&cache, &count, "one").await;
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(pages.iter().all(|p| p == "one"));
    }

    #[tokio::test]
    async fn an_expired_page_is_served_while_one_request_renders_it_again() {
        let (cache, count) = (PageCache::default(), AtomicUsize::new(0));
        many(&cache, &count, "old").await;
        tokio::time::sleep(TTL + Duration::from_millis(100)).await;
        let pages = many(&cache, &count, "new").await;
        assert_eq!(count.load(Ordering::SeqCst), 2, "one render per expiry");
        assert_eq!(pages.iter().filter(|p| *p == "new").count(), 1);
        assert_eq!(pages.iter().filter(|p| *p == "old").count(), 49);
        assert_eq!(many(&cache, &count, "newer").await[0], "new");
    }

    #[tokio::test]
    async fn a_flood_of_distinct_pages_keeps_at_most_max_pages() {
        let cache = PageCache::default();
        for i in 0..3 * MAX_PAGES {
            let page = cache
                .page(format!("k{i}"), || async { Ok(format!("page {i}")) })
                .await
                .unwrap();
            assert_eq!(&*page.html, format!("page {i}"));
        }
        assert!(cache.pages.lock().unwrap().len() <= MAX_PAGES);
    }

    #[tokio::test]
    async fn after_a_write_nobody_gets_the_old_page() {
        let (cache, count) = (PageCache::default(), AtomicUsize::new(0));
        many(&cache, &count, "old").await;
        cache.changed();
        let pages = many(&cache, &count, "new").await;
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert!(pages.iter().all(|p| p == "new"));
    }
}
