//! The public gallery's pages (seed 5.1 ⑦⑧): /gallery with infinite scroll, a work at
//! /w/{id}, an author at /u/{name}, and the publish form on the library's result page.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::cache;
use super::model::{GalleryQuery, PublishRequest};
use super::service::{self, Scope};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::users::model::User;
use crate::web::auth::{MaybeUser, PageUser};
use crate::web::render::{base_context, form_error, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/gallery", web::get().to(index))
        .route("/gallery/cards", web::get().to(cards))
        .route("/w/{id}", web::get().to(work))
        .route("/w/{id}/like", web::post().to(like))
        .route("/w/{id}/favorite", web::post().to(favorite))
        .route("/w/{id}/comments", web::post().to(add_comment))
        .route("/w/{id}/unpublish", web::post().to(take_down))
        .route("/comments/{id}/delete", web::post().to(delete_comment))
        .route("/u/{name}", web::get().to(author))
        .route("/u/{name}/follow", web::post().to(follow))
        .route("/library/{id}/publish", web::post().to(publish))
        .route("/library/{id}/unpublish", web::post().to(unpublish));
}

/// Which works a gallery page lists, from `?feed=`: everyone's, followed authors' or the
/// viewer's favourites (收藏).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Feed {
    feed: Option<String>,
}

impl Feed {
    fn scope(&self) -> AppResult<Scope> {
        match self.feed.as_deref() {
            None | Some("") | Some("all") => Ok(Scope::Everyone),
            Some("following") => Ok(Scope::Following),
            Some("favorites") => Ok(Scope::Favorites),
            Some(_) => Err(AppError::invalid("feed", "err.gallery.filter")),
        }
    }
}

/// A page for visitors where the instance allows them; otherwise the login page.
fn viewer(state: &AppState, user: MaybeUser) -> AppResult<Option<User>> {
    Ok(service::may_browse(state, user.0.as_ref())?.cloned())
}

/// The query string of the list without its cursor, for the next page's link.
fn list_query(q: &GalleryQuery, feed: &Feed) -> String {
    let mut parts = Vec::new();
    let mut push = |key: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{key}={}", crate::web::render::urlencode(v)));
        }
    };
    push("q", &q.q);
    push("sort", &q.sort);
    push("type", &q.kind);
    push("model", &q.model);
    push("tag", &q.tag);
    push("feed", &feed.feed);
    parts.join("&")
}

/// The address people reach this instance at: `server.public_url`, else what the request
/// came to (for Open Graph links, which must be absolute).
fn origin(req: &HttpRequest, state: &AppState) -> String {
    match &state.config.server.public_url {
        Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        _ => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

async fn gallery_context(
    req: &HttpRequest,
    state: &AppState,
    viewer: Option<&User>,
    scope: Scope,
    q: &GalleryQuery,
    feed: &Feed,
) -> AppResult<tera::Context> {
    let page = service::list(state, viewer, scope, q).await?;
    let mut ctx = base_context(req, viewer);
    ctx.insert("page", &page);
    ctx.insert("query", q);
    ctx.insert("feed", feed.feed.as_deref().unwrap_or("all"));
    ctx.insert("rest", &list_query(q, feed));
    ctx.insert("models", &crate::generation::service::models(state));
    Ok(ctx)
}

async fn index(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    q: Query<GalleryQuery>,
    feed: Query<Feed>,
) -> AppResult<HttpResponse> {
    let viewer = viewer(&state, user)?;
    let scope = feed.scope()?;
    visitor_page(
        &req,
        &state,
        viewer.as_ref(),
        "gallery/index.html",
        || async { gallery_context(&req, &state, viewer.as_ref(), scope, &q, &feed).await },
    )
    .await
}

/// Renders `template`; for a visitor (no viewer), through the page cache (see `cache`).
async fn visitor_page<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    viewer: Option<&User>,
    template: &str,
    context: F,
) -> AppResult<HttpResponse>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = AppResult<tera::Context>>,
{
    if viewer.is_some() {
        return render(
            &state.templates,
            template,
            &context().await?,
            StatusCode::OK,
        );
    }
    let key = cache::PageCache::key(req, Lang::of(req).code());
    let page = state
        .gallery_pages
        .page(key, || async {
            let mut ctx = context().await?;
            ctx.insert("csrf", cache::CSRF_SLOT);
            state
                .templates
                .render(template, &ctx)
                .map_err(|e| AppError::internal(e, "gallery page template"))
        })
        .await?;
    Ok(cache::respond(req, &page))
}

/// The next page of cards, for infinite scroll.
async fn cards(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    q: Query<GalleryQuery>,
    feed: Query<Feed>,
    author: Query<AuthorParam>,
) -> AppResult<HttpResponse> {
    let viewer = viewer(&state, user)?;
    let scope = match author.author.as_deref().filter(|a| !a.is_empty()) {
        Some(name) => Scope::Author(name.to_string()),
        None => feed.scope()?,
    };
    visitor_page(
        &req,
        &state,
        viewer.as_ref(),
        "gallery/_cards.html",
        || async {
            let mut ctx = gallery_context(&req, &state, viewer.as_ref(), scope, &q, &feed).await?;
            if let Some(name) = &author.author {
                ctx.insert(
                    "rest",
                    &format!("author={}", crate::web::render::urlencode(name)),
                );
            }
            Ok(ctx)
        },
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuthorParam {
    author: Option<String>,
}

async fn work(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let viewer = viewer(&state, user)?;
    let work = service::detail(&state, viewer.as_ref(), &id).await?;
    let related = service::related(&state, &work).await?;
    let comments = service::comments(&state, viewer.as_ref(), &id).await?;
    let author = service::author(&state, viewer.as_ref(), &work.card.author).await?;
    let mut ctx = base_context(&req, viewer.as_ref());
    if let Some(v) = &viewer {
        ctx.insert("marks", &service::marks_for(&state, v, &id).await?);
    }
    let origin = origin(&req, &state);
    ctx.insert("share_url", &format!("{origin}/w/{}", work.card.id));
    // Open Graph wants an absolute picture; a video's card shows its poster.
    let picture = if work.card.is_video {
        &work.card.thumbnail_url
    } else {
        &work.card.media_url
    };
    ctx.insert("og_image", &format!("{origin}{picture}"));
    ctx.insert(
        "params_json",
        &work
            .params
            .as_ref()
            .map(|p| serde_json::to_string_pretty(p).unwrap_or_default()),
    );
    ctx.insert("w", &work);
    ctx.insert("author", &author);
    ctx.insert("related", &related);
    ctx.insert("comments", &comments);
    render(&state.templates, "gallery/work.html", &ctx, StatusCode::OK)
}

async fn author(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    name: Path<String>,
    q: Query<GalleryQuery>,
) -> AppResult<HttpResponse> {
    let viewer = viewer(&state, user)?;
    let author = service::author(&state, viewer.as_ref(), &name).await?;
    let scope = Scope::Author(author.username.clone());
    let mut ctx =
        gallery_context(&req, &state, viewer.as_ref(), scope, &q, &Feed::default()).await?;
    ctx.insert("author", &author);
    ctx.insert(
        "rest",
        &format!("author={}", crate::web::render::urlencode(&author.username)),
    );
    render(
        &state.templates,
        "gallery/author.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Toggle {
    /// "1" to like / favourite / follow, anything else to take it back.
    on: String,
}

async fn marks_fragment(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    id: &str,
    like: bool,
    on: bool,
) -> AppResult<HttpResponse> {
    let marks = service::mark(state, user, id, like, on).await?;
    let mut ctx = base_context(req, Some(user));
    ctx.insert("marks", &marks);
    ctx.insert("work_id", id);
    render(
        &state.templates,
        "gallery/_marks.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn like(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<Toggle>,
) -> AppResult<HttpResponse> {
    marks_fragment(&req, &state, &user.0, &id, true, form.on == "1").await
}

async fn favorite(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<Toggle>,
) -> AppResult<HttpResponse> {
    marks_fragment(&req, &state, &user.0, &id, false, form.on == "1").await
}

async fn follow(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    name: Path<String>,
    form: Form<Toggle>,
) -> AppResult<HttpResponse> {
    let author = service::follow(&state, &user.0, &name, form.on == "1").await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("author", &author);
    render(
        &state.templates,
        "gallery/_follow.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CommentForm {
    body: String,
}

async fn comments_fragment(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    work_id: &str,
) -> AppResult<tera::Context> {
    let comments = service::comments(state, Some(user), work_id).await?;
    let mut ctx = base_context(req, Some(user));
    ctx.insert("comments", &comments);
    ctx.insert("work_id", work_id);
    Ok(ctx)
}

async fn add_comment(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<CommentForm>,
) -> AppResult<HttpResponse> {
    let added = service::add_comment(&state, &user.0, &id, &form.body).await;
    let ctx = comments_fragment(&req, &state, &user.0, &id).await?;
    match added {
        Ok(()) => render(
            &state.templates,
            "gallery/_comments.html",
            &ctx,
            StatusCode::OK,
        ),
        Err(e) => form_error(&state.templates, "gallery/_comments.html", ctx, lang, e),
    }
}

async fn delete_comment(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let work = service::delete_comment(&state, &user.0, &id).await?;
    let ctx = comments_fragment(&req, &state, &user.0, &work).await?;
    render(
        &state.templates,
        "gallery/_comments.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: Option<String>,
}

/// The author or an admin takes a work down; the page goes back to the gallery.
async fn take_down(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<ReasonForm>,
) -> AppResult<HttpResponse> {
    service::take_down(&state, &user.0, &id, form.into_inner().reason).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("HX-Redirect", "/gallery"))
        .finish())
}

/// The library's publish form: tags come as one comma-separated field.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PublishForm {
    title: String,
    description: String,
    tags: String,
    hide_prompt: Option<String>,
}

async fn publish(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<PublishForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let request = PublishRequest {
        tags: form
            .tags
            .split([',', '，'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        title: form.title.clone(),
        description: form.description.clone(),
        hide_prompt: form.hide_prompt.is_some(),
    };
    match service::publish(&state, &user.0, &id, request).await {
        Ok(_) => Ok(HttpResponse::Ok()
            .insert_header(("HX-Refresh", "true"))
            .finish()),
        Err(e) => {
            let mut ctx = base_context(&req, Some(&user.0));
            ctx.insert("task_id", id.as_str());
            ctx.insert(
                "form",
                &serde_json::json!({
                    "title": form.title, "description": form.description, "tags": form.tags,
                    "hide_prompt": form.hide_prompt.is_some(),
                }),
            );
            ctx.insert(
                "publication",
                &service::publication_of(&state, &user.0, &id).await?,
            );
            form_error(&state.templates, "gallery/_publish.html", ctx, lang, e)
        }
    }
}

async fn unpublish(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::unpublish(&state, &user.0, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("HX-Refresh", "true"))
        .finish())
}

/// For the library's result page: the publish form or the published work's summary.
pub async fn library_context(
    state: &AppState,
    user: &User,
    result_id: &str,
    ctx: &mut tera::Context,
) -> AppResult<()> {
    ctx.insert(
        "publication",
        &service::publication_of(state, user, result_id).await?,
    );
    Ok(())
}
