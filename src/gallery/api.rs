//! JSON endpoints of the public gallery under /api/v1/gallery, and publishing under
//! /api/v1/library/results/{id}/publication.

use actix_web::web::{self, Data, Json, Path, Query};

use super::model::{
    AuthorView, CommentView, GalleryQuery, Marks, NewComment, PublicationView, PublishRequest,
    UnpublishRequest, WorkCard, WorkDetail, WorkPage,
};
use super::service::{self, Scope};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::web::auth::{ApiUser, MaybeApiUser};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/gallery/works", web::get().to(works))
        .route("/api/v1/gallery/following", web::get().to(following))
        .route("/api/v1/gallery/favorites", web::get().to(favorites))
        .route("/api/v1/gallery/works/{id}", web::get().to(work))
        .route("/api/v1/gallery/works/{id}/related", web::get().to(related))
        .route(
            "/api/v1/gallery/works/{id}/unpublish",
            web::post().to(take_down),
        )
        .route("/api/v1/gallery/works/{id}/like", web::put().to(like))
        .route("/api/v1/gallery/works/{id}/like", web::delete().to(unlike))
        .route(
            "/api/v1/gallery/works/{id}/favorite",
            web::put().to(favorite),
        )
        .route(
            "/api/v1/gallery/works/{id}/favorite",
            web::delete().to(unfavorite),
        )
        .route(
            "/api/v1/gallery/works/{id}/comments",
            web::get().to(comments),
        )
        .route(
            "/api/v1/gallery/works/{id}/comments",
            web::post().to(add_comment),
        )
        .route(
            "/api/v1/gallery/comments/{id}",
            web::delete().to(delete_comment),
        )
        .route("/api/v1/gallery/users/{name}", web::get().to(author))
        .route(
            "/api/v1/gallery/users/{name}/works",
            web::get().to(author_works),
        )
        .route("/api/v1/gallery/users/{name}/follow", web::put().to(follow))
        .route(
            "/api/v1/gallery/users/{name}/follow",
            web::delete().to(unfollow),
        )
        .route(
            "/api/v1/library/results/{id}/publication",
            web::get().to(publication),
        )
        .route(
            "/api/v1/library/results/{id}/publication",
            web::put().to(publish),
        )
        .route(
            "/api/v1/library/results/{id}/publication",
            web::delete().to(unpublish),
        );
}

async fn works(
    state: Data<AppState>,
    user: MaybeApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, user.0.as_ref(), Scope::Everyone, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

async fn following(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, Some(&user.0), Scope::Following, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

async fn favorites(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, Some(&user.0), Scope::Favorites, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

async fn work(
    state: Data<AppState>,
    user: MaybeApiUser,
    id: Path<String>,
) -> AppResult<Reply<WorkDetail>> {
    let work = service::detail(&state, user.0.as_ref(), &id).await?;
    Ok(Reply::ok("msg.ok", work))
}

async fn related(
    state: Data<AppState>,
    user: MaybeApiUser,
    id: Path<String>,
) -> AppResult<Reply<Vec<WorkCard>>> {
    let work = service::detail(&state, user.0.as_ref(), &id).await?;
    Ok(Reply::ok("msg.ok", service::related(&state, &work).await?))
}

async fn take_down(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<UnpublishRequest>,
) -> AppResult<Reply<()>> {
    service::take_down(&state, &user.0, &id, body.into_inner().reason).await?;
    Ok(Reply::message("msg.gallery.unpublished"))
}

async fn like(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, true, true).await?,
    ))
}

async fn unlike(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, true, false).await?,
    ))
}

async fn favorite(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, false, true).await?,
    ))
}

async fn unfavorite(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, false, false).await?,
    ))
}

async fn comments(
    state: Data<AppState>,
    user: MaybeApiUser,
    id: Path<String>,
) -> AppResult<Reply<Vec<CommentView>>> {
    Ok(Reply::ok(
        "msg.ok",
        service::comments(&state, user.0.as_ref(), &id).await?,
    ))
}

async fn add_comment(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<NewComment>,
) -> AppResult<Reply<Vec<CommentView>>> {
    service::add_comment(&state, &user.0, &id, &body.body).await?;
    let all = service::comments(&state, Some(&user.0), &id).await?;
    Ok(Reply::created("msg.gallery.commented", all))
}

async fn delete_comment(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::delete_comment(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.deleted"))
}

async fn author(
    state: Data<AppState>,
    user: MaybeApiUser,
    name: Path<String>,
) -> AppResult<Reply<AuthorView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::author(&state, user.0.as_ref(), &name).await?,
    ))
}

async fn author_works(
    state: Data<AppState>,
    user: MaybeApiUser,
    name: Path<String>,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let scope = Scope::Author(name.into_inner());
    Ok(Reply::ok(
        "msg.ok",
        service::list(&state, user.0.as_ref(), scope, &q).await?,
    ))
}

async fn follow(
    state: Data<AppState>,
    user: ApiUser,
    name: Path<String>,
) -> AppResult<Reply<AuthorView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::follow(&state, &user.0, &name, true).await?,
    ))
}

async fn unfollow(
    state: Data<AppState>,
    user: ApiUser,
    name: Path<String>,
) -> AppResult<Reply<AuthorView>> {
    Ok(Reply::ok(
        "msg.ok",
        service::follow(&state, &user.0, &name, false).await?,
    ))
}

async fn publication(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<PublicationView>> {
    service::publication_of(&state, &user.0, &id)
        .await?
        .map(|p| Reply::ok("msg.ok", p))
        .ok_or_else(AppError::not_found)
}

async fn publish(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<PublishRequest>,
) -> AppResult<Reply<PublicationView>> {
    let view = service::publish(&state, &user.0, &id, body.into_inner()).await?;
    Ok(Reply::ok("msg.gallery.published", view))
}

async fn unpublish(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<()>> {
    service::unpublish(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.gallery.unpublished"))
}
