//! 生成记录 (seed 5.1 ⑤, 3.5): the folder tree beside a filtered grid or timeline with
//! infinite scroll, bulk delete and move (menu or drag and drop), and a detail page.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::{FolderView, ListQuery};
use super::service::{self, FolderChange, NewShareRequest, Shared};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::users::model::User;
use crate::web::auth::ClientOrigin;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};
use actix_web::cookie::{Cookie, SameSite};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/library", web::get().to(index))
        .route("/library/results", web::get().to(results))
        .route("/library/delete", web::post().to(delete_many))
        .route("/library/move", web::post().to(move_many))
        .route("/library/folders", web::post().to(create_folder))
        .route(
            "/library/folders/{id}/rename",
            web::post().to(rename_folder),
        )
        .route("/library/folders/{id}/move", web::post().to(move_folder))
        .route(
            "/library/folders/{id}/delete",
            web::post().to(delete_folder),
        )
        // Before /library/{id}, which would take "export" for an id.
        .route("/library/export", web::get().to(export))
        .route("/library/import", web::post().to(import))
        .route("/library/shares", web::get().to(shares))
        .route("/library/{id}", web::get().to(detail))
        .route("/library/{id}/favorite", web::post().to(favorite))
        .route("/library/{id}/tags", web::post().to(tags))
        .route("/library/{id}/share", web::post().to(share_result))
        .route("/library/folders/{id}/share", web::post().to(share_folder))
        .route("/library/shares/{id}/revoke", web::post().to(revoke_share))
        .route("/s/{token}", web::get().to(open_share))
        .route("/s/{token}", web::post().to(unlock_share));
}

fn ok_refresh() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("HX-Refresh", "true"))
        .finish()
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("HX-Redirect", to.to_string()))
        .finish()
}

/// Folders in tree order with their depth, for menus ("move to ...").
fn flatten(tree: &[FolderView], depth: usize, out: &mut Vec<serde_json::Value>) {
    for f in tree {
        out.push(serde_json::json!({ "id": f.id, "name": f.name, "depth": depth, "indent": "　".repeat(depth) }));
        flatten(&f.children, depth + 1, out);
    }
}

// The folder tree and the "move to" menus are written here rather than by Tera: with 1,000
// folders, a recursive Tera macro (which copies each subtree into every call) and two
// 1,000-option loops cost most of the `GET /library` page (issue 15); a string costs < 1 ms.

/// The folder tree's `<li>` items (what `library/index.html` puts under 全部/未归档/...).
fn tree_html(tree: &[FolderView], current: &str, lang: Lang) -> String {
    fn nodes(out: &mut String, tree: &[FolderView], current: &str, collapse: &str) {
        use std::fmt::Write as _;
        for f in tree {
            let id = tera::escape_html(&f.id);
            let open = !f.children.is_empty();
            out.push_str("<li>");
            if open {
                let _ = write!(
                    out,
                    "<details open class=\"folder-node\" data-folder-node=\"{id}\"><summary>\
                     <span class=\"twisty\" title=\"{collapse}\" aria-hidden=\"true\">▾</span>"
                );
            }
            let active = if current == f.id { " active" } else { "" };
            let _ = write!(
                out,
                "<a class=\"folder-link drop-target{active}\" href=\"/library?folder={id}\" \
                 data-folder=\"{id}\" id=\"folder-{id}\"><span class=\"folder-name\">\
                 <svg class=\"folder-icon\" viewBox=\"0 0 24 24\" aria-hidden=\"true\">\
                 <path d=\"M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z\"/>\
                 </svg>{}</span> <span class=\"count\">{}</span></a>",
                tera::escape_html(&f.name),
                f.count
            );
            if open {
                out.push_str("</summary><ul>");
                nodes(out, &f.children, current, collapse);
                out.push_str("</ul></details>");
            }
            out.push_str("</li>");
        }
    }
    let mut out = String::with_capacity(400 * 64);
    let collapse = tera::escape_html(&crate::i18n::text(lang, "lib.collapse"));
    nodes(&mut out, tree, current, &collapse);
    out
}

fn find_folder<'a>(tree: &'a [FolderView], id: &str) -> Option<&'a FolderView> {
    tree.iter().find_map(|f| {
        (f.id == id)
            .then_some(f)
            .or_else(|| find_folder(&f.children, id))
    })
}

/// `<option>`s of every folder in tree order, indented by depth, except `skip`.
fn folder_options(tree: &[FolderView], skip: Option<&str>) -> String {
    fn options(out: &mut String, tree: &[FolderView], depth: usize, skip: Option<&str>) {
        use std::fmt::Write as _;
        for f in tree {
            if skip != Some(f.id.as_str()) {
                let _ = write!(
                    out,
                    "<option value=\"{}\">{}{}</option>",
                    tera::escape_html(&f.id),
                    "　".repeat(depth),
                    tera::escape_html(&f.name)
                );
            }
            options(out, &f.children, depth + 1, skip);
        }
    }
    let mut out = String::with_capacity(80 * 64);
    options(&mut out, tree, 0, skip);
    out
}

async fn library_context(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    q: &ListQuery,
    lang: Lang,
) -> AppResult<tera::Context> {
    let page = service::list(state, user, q, lang).await?;
    let mut ctx = base_context(req, Some(user));
    ctx.insert("page", &page);
    ctx.insert(
        "query",
        &serde_json::json!({
            "q": q.q, "type": q.kind, "status": q.status, "model": q.model, "folder": q.folder,
            "favorite": q.favorite, "tag": q.tag, "from": q.from, "to": q.to, "order": q.order,
        }),
    );
    ctx.insert(
        "view",
        if req.query_string().contains("view=timeline") {
            "timeline"
        } else {
            "grid"
        },
    );
    ctx.insert("rest", &list_query_string(req.query_string()));
    // The timeline's next page continues the day the last one ended on: no second heading.
    let after_day = req
        .query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("day="))
        .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .unwrap_or("");
    ctx.insert("after_day", after_day);
    Ok(ctx)
}

/// The filters of a list as a query string: without the cursor, the one-time notices and
/// empty fields, so it can follow a card to its detail page and come back as the URL.
fn list_query_string(query: &str) -> String {
    query
        .split('&')
        .filter(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            !value.is_empty() && !matches!(key, "before" | "day" | "deleted" | "folder_deleted")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// What the last action on another page did, shown once (`?deleted=3`, `?folder_deleted=1`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Notice {
    deleted: Option<usize>,
    folder_deleted: Option<String>,
}

impl Notice {
    fn text(&self, lang: Lang) -> Option<String> {
        match (self.deleted, &self.folder_deleted) {
            (Some(n), _) => {
                Some(crate::i18n::text(lang, "lib.deleted_notice").replace("{n}", &n.to_string()))
            }
            (None, Some(_)) => Some(crate::i18n::text(lang, "lib.folder_deleted_notice")),
            (None, None) => None,
        }
    }
}

async fn index(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    q: Query<ListQuery>,
    notice: Query<Notice>,
) -> AppResult<HttpResponse> {
    // Four reads on their own connections at once: the page waits for the slowest, not the sum.
    let (mut ctx, tree, tags, locked_shares) = tokio::try_join!(
        library_context(&req, &state, &user.0, &q, lang),
        service::tree(&state, &user.0),
        service::tags(&state, &user.0),
        service::locked_shares(&state, &user.0),
    )?;
    ctx.insert("notice", &notice.text(lang));
    ctx.insert("nav", "library");
    let open_folder = q.folder.as_deref().unwrap_or_default();
    ctx.insert("tree_html", &tree_html(&tree, open_folder, lang));
    ctx.insert("folder_options", &folder_options(&tree, None));
    ctx.insert("tags", &tags);
    ctx.insert("models", &crate::generation::service::models(&state));
    let current =
        find_folder(&tree, open_folder).map(|f| serde_json::json!({ "id": f.id, "name": f.name }));
    if current.is_some() {
        ctx.insert("move_options", &folder_options(&tree, Some(open_folder)));
    }
    ctx.insert("current_folder", &current);
    ctx.insert("locked_shares", &locked_shares);
    render(&state.templates, "library/index.html", &ctx, StatusCode::OK)
}

/// `scheme://host` as the browser reached us, for share links to copy.
fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// 我的分享: every live link with what it shares, its password, expiry, views, and whether
/// wrong passwords have locked it (issue 8: the owner sees the lockout).
async fn shares(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
) -> AppResult<HttpResponse> {
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "library");
    ctx.insert("shares", &service::share_entries(&state, &user.0).await?);
    ctx.insert("origin", &origin(&req));
    render(
        &state.templates,
        "library/shares.html",
        &ctx,
        StatusCode::OK,
    )
}

/// The grid for new filters, or the next page appended by infinite scroll.
async fn results(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    q: Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let ctx = library_context(&req, &state, &user.0, &q, lang).await?;
    if q.before.is_some() {
        return render(&state.templates, "library/_page.html", &ctx, StatusCode::OK);
    }
    let mut res = render(
        &state.templates,
        "library/_results.html",
        &ctx,
        StatusCode::OK,
    )?;
    // New filters become the page's address, so a reload or a shared link keeps them.
    let rest = list_query_string(req.query_string());
    let url = if rest.is_empty() {
        "/library".to_string()
    } else {
        format!("/library?{rest}")
    };
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("hx-push-url"),
        url.parse().map_err(|e| AppError::internal(e, "header"))?,
    );
    Ok(res)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IdsForm {
    /// Comma-separated result ids.
    ids: String,
    folder: String,
    /// After deleting: the list to return to (the detail page of a deleted result is gone).
    next: String,
}

fn ids(form: &IdsForm) -> Vec<String> {
    form.ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn delete_many(
    state: Data<AppState>,
    user: PageUser,
    form: Form<IdsForm>,
) -> AppResult<HttpResponse> {
    let count = service::delete(&state, &user.0, &ids(&form)).await?;
    let next = if form.next.starts_with("/library") {
        crate::web::render::safe_next(Some(&form.next))
    } else {
        "/library".to_string()
    };
    let (path, query) = next.split_once('?').unwrap_or((&next, ""));
    let rest = list_query_string(query);
    let sep = if rest.is_empty() { "" } else { "&" };
    Ok(redirect(&format!("{path}?{rest}{sep}deleted={count}")))
}

async fn move_many(
    state: Data<AppState>,
    user: PageUser,
    form: Form<IdsForm>,
) -> AppResult<HttpResponse> {
    let folder = Some(form.folder.as_str()).filter(|f| !f.is_empty() && *f != "unfiled");
    service::move_results(&state, &user.0, &ids(&form), folder).await?;
    Ok(ok_refresh())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FolderForm {
    name: String,
    parent: String,
}

async fn create_folder(
    state: Data<AppState>,
    user: PageUser,
    form: Form<FolderForm>,
) -> AppResult<HttpResponse> {
    service::create_folder(&state, &user.0, &form.name, Some(form.parent.as_str())).await?;
    Ok(ok_refresh())
}

/// The new name comes from htmx's prompt dialog (`HX-Prompt`).
async fn rename_folder(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let name = req
        .headers()
        .get("HX-Prompt")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .ok_or_else(|| AppError::invalid("name", "err.library.folder_name"))?;
    service::change_folder(
        &state,
        &user.0,
        &id,
        FolderChange {
            name: Some(name),
            parent: None,
        },
    )
    .await?;
    Ok(ok_refresh())
}

/// htmx sends the prompt's answer URI-encoded when it is not plain ASCII.
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn move_folder(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<FolderForm>,
) -> AppResult<HttpResponse> {
    let change = FolderChange {
        name: None,
        parent: Some(form.parent.clone()),
    };
    service::change_folder(&state, &user.0, &id, change).await?;
    Ok(ok_refresh())
}

async fn delete_folder(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::delete_folder(&state, &user.0, &id).await?;
    Ok(redirect("/library?folder_deleted=1"))
}

async fn detail(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    q: Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let result = service::get(&state, &user.0, &id, lang).await?;
    let (previous, next) = service::neighbours(&state, &user.0, &id, &q).await?;
    let tree = service::tree(&state, &user.0).await?;
    let mut flat = Vec::new();
    flatten(&tree, 0, &mut flat);
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "library");
    ctx.insert("r", &result);
    ctx.insert("folders", &flat);
    ctx.insert("previous", &previous);
    ctx.insert("next", &next);
    // The list this result was opened from: prev/next and 返回 stay within its filters.
    ctx.insert("rest", &list_query_string(req.query_string()));
    ctx.insert(
        "params_json",
        &serde_json::to_string_pretty(&result.task.params).unwrap_or_default(),
    );
    crate::gallery::pages::library_context(&state, &user.0, &id, &mut ctx).await?;
    render(
        &state.templates,
        "library/detail.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn favorite(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let current = service::get(&state, &user.0, &id, lang).await?;
    let r = service::set_favorite(&state, &user.0, &id, !current.favorite, lang).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("r", &r);
    render(
        &state.templates,
        "library/_favorite.html",
        &ctx,
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TagsForm {
    tags: String,
}

async fn tags(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<TagsForm>,
) -> AppResult<HttpResponse> {
    let tags = form
        .tags
        .split([',', '，'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let r = service::set_tags(&state, &user.0, &id, tags, lang).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("r", &r);
    render(
        &state.templates,
        "library/_tags_saved.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn export(
    state: Data<AppState>,
    user: PageUser,
    q: Query<super::api::ExportQuery>,
) -> AppResult<HttpResponse> {
    super::api::export_response(state, &user.0, q.into_inner()).await
}

async fn import(
    state: Data<AppState>,
    user: PageUser,
    body: web::Payload,
) -> AppResult<crate::error::Reply<super::archive::Imported>> {
    Ok(crate::error::Reply::ok(
        "msg.imported",
        super::api::import_body(&state, &user.0, body).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShareForm {
    /// Hours; empty for a link that does not expire.
    expires: String,
    password: String,
}

async fn share(
    req: HttpRequest,
    state: &AppState,
    user: &User,
    mut request: NewShareRequest,
    form: &ShareForm,
) -> AppResult<HttpResponse> {
    request.expires_in_hours = match form.expires.trim() {
        "" => None,
        h => Some(
            h.parse()
                .map_err(|_| AppError::invalid("expires_in_hours", "err.library.share_expiry"))?,
        ),
    };
    request.password = Some(form.password.clone()).filter(|p| !p.is_empty());
    let share = service::create_share(state, user, request).await?;
    let mut ctx = base_context(&req, Some(user));
    ctx.insert("share", &share);
    ctx.insert("origin", &origin(&req));
    render(
        &state.templates,
        "library/_share.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn share_result(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<ShareForm>,
) -> AppResult<HttpResponse> {
    let request = NewShareRequest {
        result: Some(id.into_inner()),
        ..Default::default()
    };
    share(req, &state, &user.0, request, &form).await
}

async fn share_folder(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
    form: Form<ShareForm>,
) -> AppResult<HttpResponse> {
    let request = NewShareRequest {
        folder: Some(id.into_inner()),
        ..Default::default()
    };
    share(req, &state, &user.0, request, &form).await
}

async fn revoke_share(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::revoke_share(&state, &user.0, &id).await?;
    Ok(HttpResponse::Ok().body(""))
}

const SHARE_COOKIE: &str = "pd_share";

/// The shared page: anyone with the link, no login; only what was shared.
async fn open_share(
    req: HttpRequest,
    state: Data<AppState>,
    lang: Lang,
    token: Path<String>,
) -> AppResult<HttpResponse> {
    let proof = req.cookie(SHARE_COOKIE).map(|c| c.value().to_string());
    let mut ctx = base_context(&req, None);
    ctx.insert("token", &token.as_str());
    match service::open_share(&state, &token, proof.as_deref(), lang).await? {
        Shared::Locked => render(
            &state.templates,
            "library/share_locked.html",
            &ctx,
            StatusCode::OK,
        ),
        Shared::Open { title, results } => {
            ctx.insert("title", &title);
            ctx.insert("results", &results);
            render(&state.templates, "library/share.html", &ctx, StatusCode::OK)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnlockForm {
    password: String,
}

async fn unlock_share(
    req: HttpRequest,
    state: Data<AppState>,
    lang: Lang,
    origin: ClientOrigin,
    token: Path<String>,
    form: Form<UnlockForm>,
) -> AppResult<HttpResponse> {
    match service::unlock_share(&state, &token, &form.password, &origin.0.ip).await {
        Ok(proof) => {
            let cookie = Cookie::build(SHARE_COOKIE, proof)
                .path(format!("/s/{}", token.as_str()))
                .http_only(true)
                .secure(state.config.secure_cookies())
                .same_site(SameSite::Lax)
                .finish();
            let mut res = redirect(&format!("/s/{}", token.as_str()));
            res.add_cookie(&cookie)
                .map_err(|e| AppError::internal(e, "cookie"))?;
            Ok(res)
        }
        Err(err) => {
            let mut ctx = base_context(&req, None);
            ctx.insert("token", &token.as_str());
            crate::web::render::form_error(
                &state.templates,
                "library/_share_unlock_form.html",
                ctx,
                lang,
                err,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_answers_are_decoded() {
        assert_eq!(percent_decode("%E6%97%85%E8%A1%8C"), "旅行");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
