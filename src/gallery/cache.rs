//! Rendered gallery pages for visitors who are not signed in, kept for a moment (issue 12
//! item 6: an anonymous gallery page must stand `wrk -c 200` at 2,000 requests/s on 2 cores).
//!
//! Only pages rendered for *no* viewer are stored or served from here, keyed by language, host
//! and path with query, so a signed-in person's page never reaches anyone else. A page is kept
//! at most `TTL`; every gallery write on this instance (publish, edit, unpublish, take-down,
//! like, favourite, comment) drops them all at once, so changes made here show at once and
//! changes made elsewhere (a ban, another instance) within `TTL`.
//!
//! Each visitor's CSRF token differs, so pages are stored with a slot in its place, filled per
//! answer. The ETag names the stored page and the token, and `If-None-Match` answers 304.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

/// How long a visitor's page may be served after it was rendered.
pub const TTL: Duration = Duration::from_secs(2);
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

#[derive(Default)]
pub struct PageCache {
    pages: Mutex<HashMap<String, Page>>,
    /// Bumped by every gallery write; pages of an older version are not served.
    version: AtomicU64,
}

/// A stored page: its HTML with the token slot, and its hash.
#[derive(Clone)]
pub struct Cached {
    html: Arc<str>,
    tag: u64,
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

    /// The page under `key` if it is fresh.
    pub fn get(&self, key: &str) -> Option<Cached> {
        let version = self.version.load(Ordering::SeqCst);
        let pages = self.pages.lock().ok()?;
        pages
            .get(key)
            .filter(|p| p.version == version && p.at.elapsed() < TTL)
            .map(|p| Cached {
                html: p.html.clone(),
                tag: p.tag,
            })
    }

    /// Stores a page rendered with `CSRF_SLOT` as its token. `version` is the one read before
    /// rendering began, so a page that raced with a write is not kept as new.
    pub fn put(&self, key: String, html: String, version: u64) -> Cached {
        let html: Arc<str> = html.into();
        let tag = hash(&html);
        let cached = Cached {
            html: html.clone(),
            tag,
        };
        if let Ok(mut pages) = self.pages.lock() {
            if pages.len() >= MAX_PAGES {
                let now = Instant::now();
                pages.retain(|_, p| now.duration_since(p.at) < TTL / 2);
            }
            pages.insert(
                key,
                Page {
                    html,
                    tag,
                    at: Instant::now(),
                    version,
                },
            );
        }
        cached
    }

    pub fn version(&self) -> u64 {
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
