//! JSON endpoints of the public gallery under /api/v1/gallery, and publishing under
//! /api/v1/library/results/{id}/publication.

use actix_web::web::{self, Data, Path, Query};

use super::model::{
    AuthorView, CommentView, GalleryQuery, Marks, NewComment, PublicationView, PublishRequest,
    UnpublishRequest, WorkCard, WorkDetail, WorkPage,
};
use super::service::{self, Scope};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Envelope, ErrorData, NoData, Reply};
use crate::json::Json;
use crate::web::auth::{ApiUser, MaybeApiUser};
use crate::web::openapi::{route, JsonBodyErrors, SignedInErrors};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    components(schemas(super::model::Sort)),
    paths(
        works,
        following,
        favorites,
        work,
        related,
        take_down,
        like,
        unlike,
        favorite,
        unfavorite,
        comments,
        add_comment,
        delete_comment,
        author,
        author_works,
        follow,
        unfollow,
        publication,
        publish,
        unpublish
    )
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_works, works);
    route(cfg, __path_following, following);
    route(cfg, __path_favorites, favorites);
    route(cfg, __path_work, work);
    route(cfg, __path_related, related);
    route(cfg, __path_take_down, take_down);
    route(cfg, __path_like, like);
    route(cfg, __path_unlike, unlike);
    route(cfg, __path_favorite, favorite);
    route(cfg, __path_unfavorite, unfavorite);
    route(cfg, __path_comments, comments);
    route(cfg, __path_add_comment, add_comment);
    route(cfg, __path_delete_comment, delete_comment);
    route(cfg, __path_author, author);
    route(cfg, __path_author_works, author_works);
    route(cfg, __path_follow, follow);
    route(cfg, __path_unfollow, unfollow);
    route(cfg, __path_publication, publication);
    route(cfg, __path_publish, publish);
    route(cfg, __path_unpublish, unpublish);
}

#[utoipa::path(
    get, path = "/api/v1/gallery/works", tag = "gallery", operation_id = "gallery_works",
    summary = "画廊: public works, searched and filtered (seed 5.1 ⑦)",
    description = "24 cards a page; pass `next` as `cursor` for more, with the same filters. A cursor that is no page of this list and order is 404.",
    security((), ("bearer" = [])),
    params(GalleryQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<WorkPage>),
        (status = 400, description = "code 400: a filter is invalid; `data.field` names it", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: `cursor` is no page of this list and order", body = Envelope<ErrorData>),
    )
)]
async fn works(
    state: Data<AppState>,
    user: MaybeApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, user.0.as_ref(), Scope::Everyone, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[utoipa::path(
    get, path = "/api/v1/gallery/following", tag = "gallery", operation_id = "gallery_following",
    summary = "Works of the authors I follow",
    description = "24 cards a page; pass `next` as `cursor` for more, with the same filters. A cursor that is no page of this list and order is 404.",
    security(("bearer" = [])),
    params(GalleryQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<WorkPage>),
        (status = 400, description = "code 400: a filter is invalid; `data.field` names it", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: `cursor` is no page of this list and order", body = Envelope<ErrorData>),
    )
)]
async fn following(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, Some(&user.0), Scope::Following, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[utoipa::path(
    get, path = "/api/v1/gallery/favorites", tag = "gallery", operation_id = "gallery_favorites",
    summary = "Works I favourited (收藏)",
    description = "24 cards a page; pass `next` as `cursor` for more, with the same filters. A cursor that is no page of this list and order is 404.",
    security(("bearer" = [])),
    params(GalleryQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<WorkPage>),
        (status = 400, description = "code 400: a filter is invalid; `data.field` names it", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: `cursor` is no page of this list and order", body = Envelope<ErrorData>),
    )
)]
async fn favorites(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<GalleryQuery>,
) -> AppResult<Reply<WorkPage>> {
    let page = service::list(&state, Some(&user.0), Scope::Favorites, &q).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[utoipa::path(
    get, path = "/api/v1/gallery/works/{id}", tag = "gallery", operation_id = "gallery_work",
    summary = "A public work with its prompt and parameters (seed 5.1 ⑧)",
    description = "The prompt and parameters are absent when the author hides them, except for the author.",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200", body = Envelope<WorkDetail>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
async fn work(
    state: Data<AppState>,
    user: MaybeApiUser,
    id: Path<String>,
) -> AppResult<Reply<WorkDetail>> {
    let work = service::detail(&state, user.0.as_ref(), &id).await?;
    Ok(Reply::ok("msg.ok", work))
}

#[utoipa::path(
    get, path = "/api/v1/gallery/works/{id}/related", tag = "gallery", operation_id = "gallery_related",
    summary = "Works related to one (same tags or model)",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<WorkCard>>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
async fn related(
    state: Data<AppState>,
    user: MaybeApiUser,
    id: Path<String>,
) -> AppResult<Reply<Vec<WorkCard>>> {
    let work = service::detail(&state, user.0.as_ref(), &id).await?;
    Ok(Reply::ok("msg.ok", service::related(&state, &work).await?))
}

#[utoipa::path(
    post, path = "/api/v1/gallery/works/{id}/unpublish", tag = "gallery", operation_id = "take_down_work",
    summary = "Take a work out of the gallery (its author, or an admin with a reason)",
    description = "An admin's reason is shown to the author, who cannot put the work back up.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    request_body = UnpublishRequest,
    responses(
        (status = 200, description = "code 200: taken down", body = Envelope<NoData>),
        (status = 400, description = "code 400: an admin's reason is missing or too long (`data.field`)", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such work of yours (admins: no such work)", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn take_down(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<UnpublishRequest>,
) -> AppResult<Reply<()>> {
    service::take_down(&state, &user.0, &id, body.into_inner().reason).await?;
    Ok(Reply::message("msg.gallery.unpublished"))
}

#[utoipa::path(
    put, path = "/api/v1/gallery/works/{id}/like", tag = "gallery", operation_id = "like_work",
    summary = "Like (点赞) a work; twice counts once",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200: the counts and my marks", body = Envelope<Marks>),
        SignedInErrors,
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
async fn like(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, true, true).await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/v1/gallery/works/{id}/like", tag = "gallery", operation_id = "unlike_work",
    summary = "Take my like back",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200: the counts and my marks", body = Envelope<Marks>),
        SignedInErrors,
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
async fn unlike(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<Marks>> {
    Ok(Reply::ok(
        "msg.ok",
        service::mark(&state, &user.0, &id, true, false).await?,
    ))
}

#[utoipa::path(
    put, path = "/api/v1/gallery/works/{id}/favorite", tag = "gallery", operation_id = "favorite_work",
    summary = "Favourite (收藏) a work into my library's 收藏 view",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200: the counts and my marks", body = Envelope<Marks>),
        SignedInErrors,
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/gallery/works/{id}/favorite", tag = "gallery", operation_id = "unfavorite_work",
    summary = "Take my favourite back",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200: the counts and my marks", body = Envelope<Marks>),
        SignedInErrors,
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    get, path = "/api/v1/gallery/works/{id}/comments", tag = "gallery", operation_id = "work_comments",
    summary = "A work's comments, oldest first",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    responses(
        (status = 200, description = "code 200", body = Envelope<Vec<CommentView>>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    post, path = "/api/v1/gallery/works/{id}/comments", tag = "gallery", operation_id = "add_comment",
    summary = "Comment on a work",
    description = "Comments go through the same word lists as prompts.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The work's id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "code 201: the work's comments with the new one", body = Envelope<Vec<CommentView>>),
        (status = 400, description = "code 400: empty, too long or with control characters (`data.field`)", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such public work", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 422: the comment holds terms of the moderation word lists; the message names them", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/gallery/comments/{id}", tag = "gallery", operation_id = "delete_comment",
    summary = "Delete a comment (its writer, the work's author or an admin)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The comment's id")),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<NoData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such comment you may delete", body = Envelope<ErrorData>),
    )
)]
async fn delete_comment(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> AppResult<Reply<()>> {
    service::delete_comment(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.deleted"))
}

#[utoipa::path(
    get, path = "/api/v1/gallery/users/{name}", tag = "gallery", operation_id = "gallery_author",
    summary = "An author's public profile",
    security((), ("bearer" = [])),
    params(("name" = String, Path, description = "The author's username")),
    responses(
        (status = 200, description = "code 200", body = Envelope<AuthorView>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such author (or a banned one)", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    get, path = "/api/v1/gallery/users/{name}/works", tag = "gallery", operation_id = "gallery_author_works",
    summary = "An author's public works",
    description = "24 cards a page; pass `next` as `cursor` for more, with the same filters. A cursor that is no page of this list and order is 404.",
    security((), ("bearer" = [])),
    params(
        ("name" = String, Path, description = "The author's username"),
        GalleryQuery
    ),
    responses(
        (status = 200, description = "code 200", body = Envelope<WorkPage>),
        (status = 400, description = "code 400: a filter is invalid; `data.field` names it", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: an invalid, expired or revoked token, or none where the instance shows the gallery to signed-in people only", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such author, or `cursor` is no page of this list and order", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    put, path = "/api/v1/gallery/users/{name}/follow", tag = "gallery", operation_id = "follow_author",
    summary = "Follow an author; twice counts once",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The author's username")),
    responses(
        (status = 200, description = "code 200: the author's profile", body = Envelope<AuthorView>),
        (status = 400, description = "code 400: yourself (`data.field` = username)", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such author (or a banned one)", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    delete, path = "/api/v1/gallery/users/{name}/follow", tag = "gallery", operation_id = "unfollow_author",
    summary = "Stop following an author",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The author's username")),
    responses(
        (status = 200, description = "code 200: the author's profile", body = Envelope<AuthorView>),
        (status = 400, description = "code 400: yourself (`data.field` = username)", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such author (or a banned one)", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    get, path = "/api/v1/library/results/{id}/publication", tag = "gallery", operation_id = "get_publication",
    summary = "A result's publication in the gallery, if it has one",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    responses(
        (status = 200, description = "code 200", body = Envelope<PublicationView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours, or it was never published", body = Envelope<ErrorData>),
    )
)]
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

#[utoipa::path(
    put, path = "/api/v1/library/results/{id}/publication", tag = "gallery", operation_id = "publish_result",
    summary = "Publish a result to the gallery, or change its publication",
    description = "Only a completed result of one's own. Publishing again changes the title, description, tags and prompt choice (and puts a work its author took down back up).",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    request_body = PublishRequest,
    responses(
        (status = 200, description = "code 200: published", body = Envelope<PublicationView>,
            links(
                ("work" = (operation_id = "gallery_work", parameters(("id" = "$response.body#/data/id")))),
                ("like" = (operation_id = "like_work", parameters(("id" = "$response.body#/data/id")))),
                ("favorite" = (operation_id = "favorite_work", parameters(("id" = "$response.body#/data/id")))),
                ("comments" = (operation_id = "work_comments", parameters(("id" = "$response.body#/data/id")))),
                ("comment" = (operation_id = "add_comment", parameters(("id" = "$response.body#/data/id")))),
                ("take_down" = (operation_id = "take_down_work", parameters(("id" = "$response.body#/data/id")))),
            )),
        (status = 400, description = "code 400: invalid parameters; `data.field` names the field", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: the account is banned, or an admin took this work down", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such result of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: the result is not completed", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn publish(
    state: Data<AppState>,
    user: ApiUser,
    id: Path<String>,
    body: Json<PublishRequest>,
) -> AppResult<Reply<PublicationView>> {
    let view = service::publish(&state, &user.0, &id, body.into_inner()).await?;
    Ok(Reply::ok("msg.gallery.published", view))
}

#[utoipa::path(
    delete, path = "/api/v1/library/results/{id}/publication", tag = "gallery", operation_id = "unpublish_result",
    summary = "Take one of my results out of the gallery",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The result's (task's) id")),
    responses(
        (status = 200, description = "code 200: taken out", body = Envelope<NoData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such result of yours, or it is not published", body = Envelope<ErrorData>),
    )
)]
async fn unpublish(state: Data<AppState>, user: ApiUser, id: Path<String>) -> AppResult<Reply<()>> {
    service::unpublish(&state, &user.0, &id).await?;
    Ok(Reply::message("msg.gallery.unpublished"))
}
