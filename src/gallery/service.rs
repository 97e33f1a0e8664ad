//! Gallery rules (issue 12): only a completed result of one's own is published; a work is
//! public while it is published, its result exists and its author is not banned (so a ban
//! hides every work at once, with no rows to change); an admin takes any work down with a
//! reason the author reads, and only an admin can put it back up. Likes and favourites are
//! one per person and counted by the statement that adds them.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::Connection;

use super::model::{
    AuthorView, CommentView, GalleryQuery, Marks, NewPublication, Publication, PublicationView,
    PublishRequest, Sort, WorkCard, WorkDetail, WorkPage, COMMENTS_SHOWN, MAX_COMMENT,
    MAX_DESCRIPTION, MAX_REASON, MAX_TITLE, PAGE_SIZE, RELATED,
};
use super::store::{self, After, Filter, Row};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::generation::model::{Generation, Kind, TaskStatus};
use crate::generation::service::file_url;
use crate::moderation::service::Screened;
use crate::users::model::{rfc3339, User, UserId};

/// Whose works a list shows.
#[derive(Debug, Clone)]
pub enum Scope {
    Everyone,
    Author(String),
    /// The works of the people the viewer follows.
    Following,
    /// The works the viewer favourited (收藏).
    Favorites,
}

fn bad(field: &'static str) -> AppError {
    AppError::invalid(field, "err.gallery.filter")
}

/// A well-formed cursor that continues no page of this list and order (another order's, or
/// one whose work is gone): 404 like any page that is not there, as the library's `before`.
fn no_page() -> AppError {
    AppError::not_found().on_field("cursor")
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Whether people who are not signed in may browse (config `gallery.anonymous`).
pub fn open_to_visitors(state: &AppState) -> bool {
    state.config.gallery.anonymous.unwrap_or(false)
}

/// The viewer, or 401 when the instance does not show the gallery to visitors.
pub fn may_browse<'a>(state: &AppState, viewer: Option<&'a User>) -> AppResult<Option<&'a User>> {
    match viewer {
        None if !open_to_visitors(state) => Err(AppError::unauthorized()),
        v => Ok(v),
    }
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

// ---- publishing ----

/// What keyword search reads: lower-cased title, description, tags and the prompt unless hidden.
fn search_text(req: &PublishRequest, tags: &[String], prompt: Option<&str>) -> String {
    let mut text = format!(
        "{}\n{}\n{}",
        req.title.trim(),
        req.description.trim(),
        tags.join(" ")
    );
    if !req.hide_prompt {
        if let Some(p) = prompt {
            text.push('\n');
            text.push_str(p);
        }
    }
    text.to_lowercase()
}

fn check_publish(req: &PublishRequest) -> AppResult<()> {
    let title = req.title.trim();
    // Counted as sent, as the API document states the limits.
    if title.is_empty()
        || req.title.chars().count() > MAX_TITLE
        || req.title.chars().any(char::is_control)
    {
        return Err(AppError::invalid("title", "err.gallery.title"));
    }
    if req.description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid("description", "err.gallery.description"));
    }
    Ok(())
}

/// The caller's own live result with this public id.
async fn own_result(state: &AppState, user: &User, result_id: &str) -> AppResult<Generation> {
    let (user_id, uuid) = (user.id, result_id.to_string());
    state
        .db
        .run(move |conn| {
            Ok(crate::library::store::owned_results(
                conn,
                user_id,
                &[uuid],
            )?)
        })
        .await?
        .into_iter()
        .next()
        .ok_or_else(AppError::not_found)
}

fn publication_view(p: &Publication, tags: Vec<String>) -> PublicationView {
    PublicationView {
        id: p.uuid.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        tags,
        hide_prompt: p.hide_prompt != 0,
        published: p.is_live(),
        published_at: rfc3339(p.published_at),
        unpublish_reason: p.unpublish_reason.clone().filter(|_| p.taken_down()),
        taken_down: p.taken_down(),
    }
}

/// Publishes one of the caller's results, or changes the title, description, tags or prompt
/// choice of one already published (putting it back up if its author had taken it down).
pub async fn publish(
    state: &AppState,
    user: &User,
    result_id: &str,
    mut req: PublishRequest,
) -> AppResult<PublicationView> {
    if user.is_banned() {
        return Err(AppError::forbidden("err.gallery.banned"));
    }
    check_publish(&req)?;
    let tags = crate::library::service::clean_tags(std::mem::take(&mut req.tags))?;
    let result = own_result(state, user, result_id).await?;
    if result.status != TaskStatus::Completed.as_str() {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            409,
            "err.gallery.not_completed",
        ));
    }
    let text = search_text(&req, &tags, result.prompt.as_deref());
    let user_id = user.id;
    let (publication, tags) = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let at = now();
                let uuid = uuid::Uuid::new_v4().to_string();
                let row = NewPublication {
                    uuid: &uuid,
                    generation_id: result.id,
                    user_id,
                    title: req.title.trim(),
                    description: req.description.trim(),
                    hide_prompt: i32::from(req.hide_prompt),
                    search_text: &text,
                    published_at: at,
                    updated_at: at,
                    generation_type: &result.generation_type,
                    provider: &result.provider,
                    model: &result.model,
                };
                // Insert first, so two first publishes at once meet at the unique key: the
                // later one then changes the row the earlier made, as publishing again does.
                let publication = match store::insert_once(conn, &row)? {
                    Some(id) => id,
                    None => {
                        let p = store::of_generation(conn, result.id)?
                            .ok_or_else(AppError::not_found)?;
                        if p.taken_down() {
                            return Err(AppError::forbidden("err.gallery.taken_down"));
                        }
                        store::update(conn, p.id, &row, (!p.is_live()).then_some(at))?;
                        p.id
                    }
                };
                store::set_tags(conn, publication, &tags)?;
                let p = store::of_generation(conn, result.id)?.ok_or_else(AppError::not_found)?;
                Ok((p, tags))
            })
        })
        .await?;
    state.gallery_pages.changed();
    Ok(publication_view(&publication, tags))
}

/// The publication of one of the caller's results, if it ever was published.
pub async fn publication_of(
    state: &AppState,
    user: &User,
    result_id: &str,
) -> AppResult<Option<PublicationView>> {
    let result = own_result(state, user, result_id).await?;
    state
        .db
        .run(move |conn| {
            let Some(p) = store::of_generation(conn, result.id)? else {
                return Ok(None);
            };
            let tags = store::tags_of(conn, &[p.id])?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            Ok(Some(publication_view(&p, tags)))
        })
        .await
}

/// The author takes one of their results out of the gallery.
pub async fn unpublish(state: &AppState, user: &User, result_id: &str) -> AppResult<()> {
    let result = own_result(state, user, result_id).await?;
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            let p = store::of_generation(conn, result.id)?.ok_or_else(AppError::not_found)?;
            store::unpublish(conn, p.id, user_id, None, now())?;
            Ok(())
        })
        .await?;
    state.gallery_pages.changed();
    Ok(())
}

/// An admin takes a work down (`reason` is required and shown to its author), or its author
/// does (no reason needed). Answers the author's library id of the result.
pub async fn take_down(
    state: &AppState,
    user: &User,
    work_id: &str,
    reason: Option<String>,
) -> AppResult<()> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let (uuid, by, admin) = (work_id.to_string(), user.id, user.is_admin());
    state
        .db
        .run(move |conn| {
            let p = store::by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            let mine = p.user_id == by;
            if !mine && !admin {
                return Err(AppError::not_found());
            }
            if !mine {
                match &reason {
                    Some(r) if r.chars().count() <= MAX_REASON => {}
                    _ => return Err(AppError::invalid("reason", "err.gallery.reason")),
                }
            }
            let reason = if mine { None } else { reason };
            if store::unpublish(conn, p.id, by, reason.as_deref(), now())? && !mine {
                crate::audit::record_by(
                    conn,
                    &crate::audit::Action {
                        actor: Some(UserId(by)),
                        user: Some(UserId(p.user_id)),
                        action: "gallery.take_down",
                        target: Some(&p.uuid),
                        detail: reason.as_deref(),
                        ip: None,
                    },
                )?;
            }
            Ok(())
        })
        .await?;
    state.gallery_pages.changed();
    Ok(())
}

// ---- browsing ----

fn week_since() -> NaiveDateTime {
    now() - Duration::days(7)
}

/// Drops the likes that have aged out of "most liked this week"; `run` calls it hourly.
pub async fn recount_week(state: &AppState) -> AppResult<usize> {
    let since = week_since();
    let set = state
        .db
        .run(move |conn| Ok(store::recount_week_likes(conn, since)?))
        .await?;
    state.gallery_pages.changed();
    Ok(set)
}

/// Cursors say which order they continue, the last card's value and its public id:
/// `n.<published µs>.<id>` or `s.<likes>.<id>`.
fn encode_cursor(sort: Sort, p: &Publication) -> String {
    match sort {
        Sort::Newest => format!(
            "n.{}.{}",
            p.published_at.and_utc().timestamp_micros(),
            p.uuid
        ),
        Sort::Top => format!("s.{}.{}", p.like_count, p.uuid),
        Sort::Week => format!("s.{}.{}", p.week_likes, p.uuid),
    }
}

/// A decoded cursor: `n` (newest) or `s` (a likes score), the last card's value and work.
struct Cursor {
    kind: char,
    value: i64,
    work: String,
}

fn decode_cursor(cursor: &str) -> Option<Cursor> {
    let mut parts = cursor.splitn(3, '.');
    let kind = parts.next()?.chars().next()?;
    let value = parts.next()?.parse::<i64>().ok()?;
    let id = parts.next()?;
    uuid::Uuid::parse_str(id).ok()?;
    matches!(kind, 'n' | 's').then(|| Cursor {
        kind,
        value,
        work: id.to_string(),
    })
}

fn filter_of(q: &GalleryQuery) -> AppResult<(Filter, Option<Cursor>)> {
    let sort = match blank(&q.sort) {
        None => Sort::Newest,
        Some(s) => Sort::parse(s).ok_or_else(|| bad("sort"))?,
    };
    let mut f = Filter::new(sort);
    if let Some(k) = blank(&q.q) {
        if q.q.as_deref().unwrap_or_default().chars().count() > 200 {
            return Err(bad("q"));
        }
        f.keyword = Some(k.to_string());
    }
    if let Some(kind) = blank(&q.kind) {
        f.kind = Some(
            Kind::parse(kind)
                .ok_or_else(|| bad("type"))?
                .as_str()
                .to_string(),
        );
    }
    if let Some(model) = blank(&q.model) {
        match model.split_once('/') {
            Some((provider, model)) => {
                f.provider = Some(provider.to_string());
                f.model = Some(model.to_string());
            }
            None => f.provider = Some(model.to_string()),
        }
    }
    f.tag = blank(&q.tag).map(str::to_string);
    let cursor = match blank(&q.cursor) {
        None => None,
        Some(c) => {
            let c = decode_cursor(c).ok_or_else(|| bad("cursor"))?;
            if (c.kind == 'n') != (sort == Sort::Newest) {
                return Err(no_page());
            }
            Some(c)
        }
    };
    Ok((f, cursor))
}

fn model_labels(state: &AppState) -> HashMap<String, String> {
    crate::generation::service::models(state)
        .into_iter()
        .map(|m| (m.id, m.label))
        .collect()
}

fn card(
    state: &AppState,
    labels: &HashMap<String, String>,
    row: &Row,
    tags: Vec<String>,
) -> WorkCard {
    let (p, g, author) = row;
    let model = format!("{}/{}", g.provider, g.model);
    let kind = g.kind();
    let (w, h) = kind.default_aspect();
    WorkCard {
        id: p.uuid.clone(),
        title: p.title.clone(),
        kind: g.generation_type.clone(),
        is_video: kind.is_video(),
        model_label: labels.get(&model).cloned().unwrap_or_else(|| model.clone()),
        model,
        author: author.clone(),
        published_at: rfc3339(p.published_at),
        date: p.published_at.format("%Y-%m-%d").to_string(),
        tags,
        like_count: p.like_count,
        favorite_count: p.favorite_count,
        thumbnail_url: file_url(state, "thumb", &g.uuid),
        media_url: file_url(state, "result", &g.uuid),
        mime: g.result_mime.clone().unwrap_or_default(),
        width: g.width.unwrap_or(w as i32),
        height: g.height.unwrap_or(h as i32),
        nft: false,
    }
}

async fn cards(state: &AppState, rows: &[Row]) -> AppResult<Vec<WorkCard>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0.id).collect();
    let tags = state
        .db
        .run(move |conn| Ok(store::tags_of(conn, &ids)?))
        .await?;
    let mut by_work: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, tag) in tags {
        by_work.entry(id).or_default().push(tag);
    }
    let labels = model_labels(state);
    Ok(rows
        .iter()
        .map(|r| {
            card(
                state,
                &labels,
                r,
                by_work.remove(&r.0.id).unwrap_or_default(),
            )
        })
        .collect())
}

/// One page of public works, newest (or most liked) first.
pub async fn list(
    state: &AppState,
    viewer: Option<&User>,
    scope: Scope,
    q: &GalleryQuery,
) -> AppResult<WorkPage> {
    let viewer = may_browse(state, viewer)?;
    let (mut f, cursor) = filter_of(q)?;
    let viewer_id = viewer.map(|u| u.id);
    let rows = state
        .db
        .run(move |conn| {
            match scope {
                Scope::Everyone => {}
                Scope::Author(name) => {
                    let author = crate::users::store::find_by_username(conn, &name)?
                        .filter(|u| !u.is_banned())
                        .ok_or_else(AppError::not_found)?;
                    f.author = Some(author.id);
                }
                Scope::Following => {
                    f.followed_by = Some(viewer_id.ok_or_else(AppError::unauthorized)?)
                }
                Scope::Favorites => {
                    f.favorited_by = Some(viewer_id.ok_or_else(AppError::unauthorized)?)
                }
            }
            if let Some(Cursor { kind, value, work }) = cursor {
                let p = store::by_uuid(conn, &work)?.ok_or_else(no_page)?;
                f.after = Some(match kind {
                    'n' => After::Published(
                        chrono::DateTime::from_timestamp_micros(value)
                            .ok_or_else(|| bad("cursor"))?
                            .naive_utc(),
                        p.id,
                    ),
                    _ => After::Score(value, p.id),
                });
            }
            Ok((store::list(conn, &f, PAGE_SIZE + 1)?, f.sort))
        })
        .await?;
    let (mut rows, sort) = rows;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next = more
        .then(|| rows.last().map(|r| encode_cursor(sort, &r.0)))
        .flatten();
    Ok(WorkPage {
        works: cards(state, &rows).await?,
        next,
    })
}

/// A public work's page. Its author sees a hidden prompt; nobody else does.
pub async fn detail(
    state: &AppState,
    viewer: Option<&User>,
    work_id: &str,
) -> AppResult<WorkDetail> {
    let viewer = may_browse(state, viewer)?;
    let uuid = work_id.to_string();
    let (p, g, author) = state
        .db
        .run(move |conn| Ok(store::visible(conn, &uuid)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let mine = viewer.is_some_and(|v| v.id == author.id);
    let hidden = p.hide_prompt != 0;
    let show = !hidden || mine;
    let created_at = rfc3339(g.created_at);
    let (prompt, params) = (g.prompt.clone(), g.params());
    let row = (p, g, author.username);
    let card = cards(state, std::slice::from_ref(&row)).await?.remove(0);
    let (p, _, _) = row;
    Ok(WorkDetail {
        card,
        description: p.description,
        prompt: if show { prompt } else { None },
        params: show.then_some(params),
        prompt_hidden: hidden,
        created_at,
        mine,
    })
}

/// Other works with a tag of this one's or its model.
pub async fn related(state: &AppState, work: &WorkDetail) -> AppResult<Vec<WorkCard>> {
    let uuid = work.card.id.clone();
    let tags = work.card.tags.clone();
    let (provider, model) = work
        .card
        .model
        .split_once('/')
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .unwrap_or_default();
    let rows = state
        .db
        .run(move |conn| {
            let p = store::by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            Ok(store::related(
                conn, p.id, &tags, &provider, &model, RELATED,
            )?)
        })
        .await?;
    cards(state, &rows).await
}

/// An author's public page (banned authors have none).
pub async fn author(
    state: &AppState,
    viewer: Option<&User>,
    username: &str,
) -> AppResult<AuthorView> {
    may_browse(state, viewer)?;
    let name = username.to_string();
    let viewer_id = viewer.map(|u| u.id);
    state
        .db
        .run(move |conn| {
            let user = crate::users::store::find_by_username(conn, &name)?
                .filter(|u| !u.is_banned())
                .ok_or_else(AppError::not_found)?;
            Ok(AuthorView {
                works: store::count_works(conn, user.id)?,
                followers: store::follower_count(conn, user.id)?,
                following: match viewer_id {
                    Some(v) => store::follows(conn, v, user.id)?,
                    None => false,
                },
                me: viewer_id == Some(user.id),
                joined: user.created_at.format("%Y-%m-%d").to_string(),
                username: user.username,
            })
        })
        .await
}

/// The generation form's recipe for "make one like this": the work's kind, model and
/// parameters, and its prompt unless the author hides it.
pub async fn recipe(
    state: &AppState,
    viewer: &User,
    work_id: &str,
) -> AppResult<crate::generation::service::Recipe> {
    let uuid = work_id.to_string();
    let (p, g, author) = state
        .db
        .run(move |conn| Ok(store::visible(conn, &uuid)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut recipe = crate::generation::service::recipe_of(state, &g, false);
    if p.hide_prompt != 0 && author.id != viewer.id {
        recipe.prompt.clear();
        recipe.params = Default::default();
    }
    Ok(recipe)
}

// ---- social ----

/// A public work's internal id, for the social actions.
async fn public_id(state: &AppState, work_id: &str) -> AppResult<(i64, i64)> {
    let uuid = work_id.to_string();
    state
        .db
        .run(move |conn| Ok(store::visible(conn, &uuid)?))
        .await?
        .map(|(p, _, author)| (p.id, author.id))
        .ok_or_else(AppError::not_found)
}

async fn marks(state: &AppState, user_id: i64, id: i64) -> AppResult<Marks> {
    state
        .db
        .run(move |conn| {
            let (liked, favorited) = store::marks_of(conn, id, user_id)?;
            let p = store::by_id(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok(Marks {
                like_count: p.like_count,
                favorite_count: p.favorite_count,
                liked,
                favorited,
            })
        })
        .await
}

/// The viewer's like and favourite of a work, with its counts.
pub async fn marks_for(state: &AppState, user: &User, work_id: &str) -> AppResult<Marks> {
    let (id, _) = public_id(state, work_id).await?;
    marks(state, user.id, id).await
}

/// Likes (`like`) or favourites a work, or takes it back (`on = false`). Doing it twice
/// changes nothing.
pub async fn mark(
    state: &AppState,
    user: &User,
    work_id: &str,
    like: bool,
    on: bool,
) -> AppResult<Marks> {
    let (id, _) = public_id(state, work_id).await?;
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            if on {
                store::add_mark(conn, like, id, user_id, now())?;
            } else {
                store::remove_mark(conn, like, id, user_id, week_since())?;
            }
            Ok(())
        })
        .await?;
    // Cards show the counts.
    state.gallery_pages.changed();
    marks(state, user.id, id).await
}

/// Follows an author, or stops (`on = false`); nobody follows themselves.
pub async fn follow(
    state: &AppState,
    user: &User,
    username: &str,
    on: bool,
) -> AppResult<AuthorView> {
    let (name, me) = (username.to_string(), user.id);
    state
        .db
        .run(move |conn| {
            let author = crate::users::store::find_by_username(conn, &name)?
                .filter(|u| !u.is_banned())
                .ok_or_else(AppError::not_found)?;
            if author.id == me {
                return Err(AppError::invalid("username", "err.gallery.self_follow"));
            }
            if on {
                store::follow(conn, me, author.id, now())?;
            } else {
                store::unfollow(conn, me, author.id)?;
            }
            Ok(())
        })
        .await?;
    author(state, Some(user), username).await
}

pub async fn comments(
    state: &AppState,
    viewer: Option<&User>,
    work_id: &str,
) -> AppResult<Vec<CommentView>> {
    let viewer = may_browse(state, viewer)?;
    let (id, author) = public_id(state, work_id).await?;
    let rows = state
        .db
        .run(move |conn| Ok(store::comments_of(conn, id, COMMENTS_SHOWN)?))
        .await?;
    let (me, admin) = (viewer.map(|v| v.id), viewer.is_some_and(User::is_admin));
    Ok(rows
        .into_iter()
        .map(|c| CommentView {
            can_delete: admin || me == Some(c.user_id) || me == Some(author),
            id: c.uuid,
            author: c.username,
            body: c.body,
            created_at: rfc3339(c.created_at),
        })
        .collect())
}

pub async fn add_comment(
    state: &AppState,
    user: &User,
    work_id: &str,
    body: &str,
) -> AppResult<()> {
    let trimmed = body.trim().to_string();
    // Line breaks are kept; other control characters are not text.
    let control = body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r');
    if trimmed.is_empty() || body.chars().count() > MAX_COMMENT || control {
        return Err(AppError::invalid("body", "err.gallery.comment"));
    }
    let body = trimmed;
    let (id, _) = public_id(state, work_id).await?;
    crate::moderation::service::check_text(state, user, &body, Screened::Comment).await?;
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            let uuid = uuid::Uuid::new_v4().to_string();
            Ok(store::insert_comment(
                conn,
                &uuid,
                id,
                user_id,
                &body,
                now(),
            )?)
        })
        .await
}

/// Deletes a comment: its writer, the work's author or an admin may. Answers the work's id.
pub async fn delete_comment(state: &AppState, user: &User, comment_id: &str) -> AppResult<String> {
    let (uuid, me, admin) = (comment_id.to_string(), user.id, user.is_admin());
    state
        .db
        .run(move |conn| {
            let (id, writer, author, work) =
                store::comment_by_uuid(conn, &uuid)?.ok_or_else(AppError::not_found)?;
            if !(admin || writer == me || author == me) {
                return Err(AppError::not_found());
            }
            store::delete_comment(conn, id)?;
            Ok(work)
        })
        .await
}
