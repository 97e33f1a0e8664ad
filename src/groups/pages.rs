//! The pages of batches and comparisons: started from the studio's form (`groups/_launch.html`
//! inside it), followed live on their own page, listed beside the library.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::model::GroupKind;
use super::prompts;
use super::service::{self, NewBatch, NewComparison, Pick};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::generation::pages::GenerateForm;
use crate::generation::stream::{follow, render_part, sse, Follow};
use crate::i18n::{self, Lang};
use crate::users::model::User;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, render};
use crate::web::upload::UploadedFile;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups", web::get().to(index))
        .route("/groups/batch", web::post().to(start_batch))
        .route("/groups/compare", web::post().to(start_comparison))
        .service(
            web::resource("/groups/prompts")
                // Room for the form around the largest file we read; more is refused unread.
                .app_data(web::PayloadConfig::new(prompts::MAX_FILE_BYTES + 64 * 1024))
                .route(web::post().to(prompt_file)),
        )
        .route("/groups/{group_id}", web::get().to(page))
        .route("/groups/{group_id}/events", web::get().to(events))
        .route("/groups/{group_id}/cancel", web::post().to(cancel))
        .route("/groups/{group_id}/retry", web::post().to(retry))
        .route("/groups/{group_id}/pick", web::post().to(pick))
        .route("/groups/{group_id}/export", web::get().to(export))
        .route("/groups/{group_id}/delete", web::post().to(delete));
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct IndexQuery {
    kind: Option<GroupKind>,
}

async fn index(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<IndexQuery>,
) -> AppResult<HttpResponse> {
    let kind = q.into_inner().kind;
    let groups = service::list(&state, &user.0, kind).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("nav", "library");
    ctx.insert("groups", &groups);
    ctx.insert("kind", &kind);
    render(&state.templates, "groups/index.html", &ctx, StatusCode::OK)
}

/// An urlencoded form body as its pairs, repeated names included (the models ticked).
fn pairs(body: &Bytes) -> AppResult<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).map_err(|_| AppError::bad_request("err.bad_request"))?;
    Query::<Vec<(String, String)>>::from_query(text)
        .map(Query::into_inner)
        .map_err(|_| AppError::bad_request("err.bad_request"))
}

/// The studio's form with the group's own fields: the models ticked, the prompts pasted and
/// the seeds listed.
struct LaunchForm {
    form: GenerateForm,
    models: Vec<String>,
    prompts: String,
    seeds: String,
}

impl LaunchForm {
    fn parse(body: &Bytes) -> AppResult<LaunchForm> {
        let text =
            std::str::from_utf8(body).map_err(|_| AppError::bad_request("err.bad_request"))?;
        let form = Query::<GenerateForm>::from_query(text)
            .map_err(|_| AppError::bad_request("err.bad_request"))?
            .into_inner();
        let all = pairs(body)?;
        let field = |name: &str| -> Vec<String> {
            all.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let first = |name: &str| field(name).into_iter().next().unwrap_or_default();
        Ok(LaunchForm {
            form,
            models: field("models")
                .into_iter()
                .filter(|m| !m.trim().is_empty())
                .collect(),
            prompts: first("prompts"),
            seeds: first("seeds"),
        })
    }

    fn into_batch(self) -> AppResult<NewBatch> {
        let task = self.form.into_task()?;
        let prompts = match self.prompts.trim() {
            "" => vec![task.prompt],
            pasted => prompts::from_text(pasted)?,
        };
        let seeds = self
            .seeds
            .split([',', ' ', '，', '\n'])
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AppError::invalid("seeds", "group.err.seeds"))?;
        let models = match self.models.is_empty() {
            true => task.model.into_iter().collect(),
            false => self.models,
        };
        Ok(NewBatch {
            kind: task.kind,
            prompts,
            images: task.images,
            models,
            seeds,
            params: task.params,
            title: None,
        })
    }

    fn into_comparison(self) -> AppResult<NewComparison> {
        let task = self.form.into_task()?;
        Ok(NewComparison {
            kind: task.kind,
            prompt: task.prompt,
            images: task.images,
            models: self.models,
            params: task.params,
            title: None,
        })
    }
}

/// A message in the launcher's own box (`#group-error`); server faults go to the error page.
fn inline_error(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    err: AppError,
    lang: Lang,
) -> AppResult<HttpResponse> {
    crate::web::render::inline_error(req, &state.templates, user, "#group-error", err, lang)
}

/// htmx follows `HX-Redirect` with a full page load.
fn to_group(group_id: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("HX-Redirect", format!("/groups/{group_id}")))
        .finish()
}

async fn start_batch(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    body: Bytes,
) -> AppResult<HttpResponse> {
    let made = match LaunchForm::parse(&body).and_then(LaunchForm::into_batch) {
        Ok(batch) => service::create_batch(&state, &user.0, batch, lang).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(group) => Ok(to_group(&group.group_id)),
        Err(e) => inline_error(&req, &state, &user.0, e, lang),
    }
}

async fn start_comparison(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    body: Bytes,
) -> AppResult<HttpResponse> {
    let made = match LaunchForm::parse(&body).and_then(LaunchForm::into_comparison) {
        Ok(comparison) => service::create_comparison(&state, &user.0, comparison, lang).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(group) => Ok(to_group(&group.group_id)),
        Err(e) => inline_error(&req, &state, &user.0, e, lang),
    }
}

/// A TXT or CSV of prompts read into the launcher's prompt box, or the reason it was not.
async fn prompt_file(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    file: Result<UploadedFile, AppError>,
) -> AppResult<HttpResponse> {
    match file.and_then(|f| prompts::from_file(&f.0)) {
        Ok(prompts) => {
            let mut ctx = base_context(&req, Some(&user.0));
            ctx.insert("prompts", &prompts.join("\n"));
            ctx.insert("count", &prompts.len());
            render(
                &state.templates,
                "groups/_prompts.html",
                &ctx,
                StatusCode::OK,
            )
        }
        Err(e) => inline_error(&req, &state, &user.0, e, lang),
    }
}

async fn page_context(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    group_id: &str,
    lang: Lang,
) -> AppResult<tera::Context> {
    let group = service::get(state, user, group_id, lang).await?;
    let mut ctx = base_context(req, Some(user));
    if group.kind == GroupKind::Compare {
        ctx.insert("folders", &folder_choices(state, user).await?);
    }
    ctx.insert("nav", "library");
    ctx.insert("group", &group);
    Ok(ctx)
}

/// The user's folders as (id, indented name), in tree order, for the pick list.
async fn folder_choices(state: &AppState, user: &User) -> AppResult<Vec<(String, String)>> {
    fn walk(
        nodes: &[crate::library::model::FolderView],
        depth: usize,
        out: &mut Vec<(String, String)>,
    ) {
        for n in nodes {
            out.push((n.id.clone(), format!("{}{}", "— ".repeat(depth), n.name)));
            walk(&n.children, depth + 1, out);
        }
    }
    let tree = crate::library::service::tree(state, user).await?;
    let mut out = Vec::new();
    walk(&tree, 0, &mut out);
    Ok(out)
}

async fn page(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let ctx = page_context(&req, &state, &user.0, &id, lang).await?;
    render(&state.templates, "groups/page.html", &ctx, StatusCode::OK)
}

/// The group's body after an action, as the page swaps it in.
async fn body(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    id: &str,
    lang: Lang,
) -> AppResult<HttpResponse> {
    let ctx = page_context(req, state, user, id, lang).await?;
    render(&state.templates, "groups/_body.html", &ctx, StatusCode::OK)
}

async fn cancel(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::cancel(&state, &user.0, &id, lang).await?;
    body(&req, &state, &user.0, &id, lang).await
}

async fn retry(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    match service::retry(&state, &user.0, &id, lang).await {
        Ok(_) => body(&req, &state, &user.0, &id, lang).await,
        Err(e) => inline_error(&req, &state, &user.0, e, lang),
    }
}

async fn pick(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Bytes,
) -> AppResult<HttpResponse> {
    let all = pairs(&form)?;
    let choice = Pick {
        tasks: all
            .iter()
            .filter(|(k, _)| k == "tasks")
            .map(|(_, v)| v.clone())
            .collect(),
        folder: all
            .iter()
            .find(|(k, _)| k == "folder")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    match service::pick(&state, &user.0, &id, choice).await {
        Ok(count) => {
            let mut ctx = base_context(&req, Some(&user.0));
            ctx.insert("count", &count);
            render(
                &state.templates,
                "groups/_picked.html",
                &ctx,
                StatusCode::OK,
            )
        }
        Err(e) => inline_error(&req, &state, &user.0, e, lang),
    }
}

async fn export(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    super::api::export_response(state, &user.0, &id).await
}

async fn delete(
    state: Data<AppState>,
    user: PageUser,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::delete(&state, &user.0, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("HX-Redirect", "/groups"))
        .finish())
}

/// The group page's live stream: a changed item, rendered (`item`), and the group's progress
/// (`progress`).
struct GroupPage {
    state: Arc<AppState>,
    user_id: i64,
    group_id: String,
    lang: Lang,
}

impl Follow for GroupPage {
    async fn event(&mut self, uuid: &str) -> Option<Bytes> {
        let group =
            match service::view_of(&self.state, self.user_id, &self.group_id, self.lang).await {
                Ok(group) => group,
                Err(AppError::Internal { source, .. }) => {
                    tracing::warn!("live group {}: {source:#}", self.group_id);
                    return None;
                }
                Err(_) => return None,
            };
        let item = group.items.iter().find(|i| i.task.task_id == uuid)?;
        let mut ctx = tera::Context::new();
        ctx.insert("t", i18n::tree(self.lang));
        ctx.insert("lang", self.lang.code());
        ctx.insert("group", &group);
        ctx.insert("item", item);
        let item_html = render_part(&self.state, "groups/_item.html", &ctx)?;
        let progress_html = render_part(&self.state, "groups/_progress.html", &ctx)?;
        let mut out = sse("item", &item_html).to_vec();
        out.extend_from_slice(&sse("progress", &progress_html));
        Some(Bytes::from(out))
    }
}

async fn events(
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    // The group must be the user's before anything streams.
    service::get(&state, &user.0, &id, lang).await?;
    let state = state.into_inner();
    let page = GroupPage {
        state: state.clone(),
        user_id: user.0.id,
        group_id: id.into_inner(),
        lang,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Compression would hold events back until a buffer fills.
        .insert_header(("Content-Encoding", "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(follow(&state, user.0.id, page)))
}
