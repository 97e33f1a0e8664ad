//! The studio page's Server-Sent Events stream: each change of one of the user's tasks becomes
//! the card that holds it, rendered (`card` event), or the id of a card to drop (`gone`).
//! An idle stream costs a broadcast receiver, a timer and this small state.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::live::{Live, Subscription};
use super::model::CardUpdate;
use super::service;
use crate::app::AppState;
use crate::i18n::{self, Lang};
use crate::users::model::User;

/// A comment now and then keeps proxies from closing a quiet stream and finds dead clients.
const KEEPALIVE: Duration = Duration::from_secs(25);

/// What one kind of page shows of a change to one of its user's tasks.
pub trait Follow: 'static {
    /// The SSE event(s) for the task `uuid` that changed, or None when there is nothing new
    /// to show.
    fn event(&mut self, uuid: &str) -> impl std::future::Future<Output = Option<Bytes>>;

    /// The page fell behind and is told to load everything again.
    fn lagged(&mut self) {}
}

struct Conn<F> {
    sub: Subscription,
    keepalive: tokio::time::Interval,
    page: F,
    greeted: bool,
}

/// The stream for one page of `user_id`: a `retry` greeting, then `page`'s events as that
/// user's tasks change, a `reload` when the page fell behind, and keep-alive comments.
pub fn follow<F: Follow>(
    state: &Arc<AppState>,
    user_id: i64,
    page: F,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let sub = Live::subscribe(state, user_id);
    let keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let conn = Conn {
        sub,
        keepalive,
        page,
        greeted: false,
    };
    futures_util::stream::unfold(conn, |mut c| async move {
        if !c.greeted {
            c.greeted = true;
            // Reconnect soon after a drop; the page then fetches what it missed.
            return Some((Ok(Bytes::from_static(b"retry: 2000\n\n")), c));
        }
        loop {
            tokio::select! {
                change = c.sub.changes.recv() => match change {
                    Ok(uuid) => {
                        if let Some(event) = c.page.event(&uuid).await {
                            return Some((Ok(event), c));
                        }
                    }
                    // Fell behind: the page asks for its whole list again.
                    Err(RecvError::Lagged(_)) => {
                        c.page.lagged();
                        return Some((Ok(Bytes::from_static(b"event: reload\ndata: \n\n")), c));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = c.keepalive.tick() => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), c));
                }
            }
        }
    })
}

/// The studio's cards.
struct Cards {
    state: Arc<AppState>,
    user_id: i64,
    lang: Lang,
    /// Card id to a hash of what was last sent, so an unchanged card is not sent again.
    sent: HashMap<String, u64>,
}

/// The stream for one studio page of `user`.
pub fn cards(
    state: Arc<AppState>,
    user: User,
    lang: Lang,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let page = Cards {
        state: state.clone(),
        user_id: user.id,
        lang,
        sent: HashMap::new(),
    };
    follow(&state, user.id, page)
}

impl Follow for Cards {
    fn lagged(&mut self) {
        self.sent.clear();
    }

    async fn event(&mut self, uuid: &str) -> Option<Bytes> {
        let update = service::card_update(&self.state, self.user_id, uuid, self.lang).await;
        match update {
            Ok(Some(CardUpdate::Show(card))) => {
                let mut ctx = tera::Context::new();
                ctx.insert("t", i18n::tree(self.lang));
                ctx.insert("lang", self.lang.code());
                ctx.insert("card", &card);
                let html = render_part(&self.state, "generation/_card.html", &ctx)?;
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                html.hash(&mut hasher);
                let hash = hasher.finish();
                if self.sent.insert(card.id, hash) == Some(hash) {
                    return None;
                }
                Some(sse("card", &html))
            }
            Ok(Some(CardUpdate::Gone(id))) => {
                self.sent.remove(&id);
                Some(sse("gone", &id))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("live card for {uuid}: {e}");
                None
            }
        }
    }
}

/// A partial template rendered for a stream; a failure is logged and sends nothing.
pub fn render_part(state: &AppState, template: &str, ctx: &tera::Context) -> Option<String> {
    match state.templates.render(template, ctx) {
        Ok(html) => Some(html),
        Err(e) => {
            tracing::error!(template, "render failed: {e:?}");
            None
        }
    }
}

/// One SSE event; every line of `data` gets its own `data:` field.
pub fn sse(event: &str, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("event: ");
    out.push_str(event);
    out.push('\n');
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processing(progress: i32) -> crate::generation::model::TaskView {
        crate::generation::model::TaskView {
            task_id: "t1".into(),
            kind: "t2v".into(),
            status: "processing".into(),
            prompt: Some("海浪".into()),
            params: Default::default(),
            provider: "wan".into(),
            model: "wan2.2-t2v-plus".into(),
            progress,
            queue_position: None,
            error: None,
            result_url: None,
            thumbnail_url: None,
            mime: None,
            width: None,
            height: None,
            attempts: 1,
            notes: None,
            made_at: chrono::NaiveDateTime::default(),
            batch: Vec::new(),
            created_at: String::new(),
            started_at: None,
            completed_at: None,
        }
    }

    /// A vendor that does not say how far it is (DashScope) leaves progress at 0: the card
    /// shows a moving bar and no number; reported progress shows as a number and a bar.
    #[test]
    fn unreported_progress_is_an_indeterminate_bar() {
        let tera = crate::web::render::load_templates().unwrap();
        let render = |progress| {
            let mut ctx = tera::Context::new();
            ctx.insert("t", i18n::tree(Lang::Zh));
            ctx.insert(
                "card",
                &crate::generation::model::Card {
                    id: "card-1".into(),
                    made: 1,
                    status: "processing".into(),
                    tasks: vec![processing(progress)],
                    model_label: "Wan".into(),
                    style_label: None,
                    notes: None,
                },
            );
            tera.render("generation/_card.html", &ctx).unwrap()
        };
        let unknown = render(0);
        assert!(
            unknown.contains("<progress class=\"progress\" aria-label"),
            "{unknown}"
        );
        assert!(
            !unknown.contains('%') && !unknown.contains("value="),
            "{unknown}"
        );
        let known = render(42);
        assert!(
            known.contains("42%") && known.contains("value=\"42\""),
            "{known}"
        );
    }

    #[test]
    fn every_line_of_an_event_is_a_data_field() {
        let e = sse("card", "<article id=\"a\">\n  <p>x</p>\n</article>");
        assert_eq!(
            &e[..],
            b"event: card\ndata: <article id=\"a\">\ndata:   <p>x</p>\ndata: </article>\n\n"
        );
    }
}
