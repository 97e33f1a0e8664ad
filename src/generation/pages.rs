//! The main page of seed 5.1 ④: mode tabs, prompt, model and parameters, references on the
//! left; the recent results on the right as cards (one per submit), kept live by one
//! Server-Sent Events stream per page that sends only the cards that changed.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::model::{Params, TaskView};
use super::service::{self, NewTask};
use super::stream;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::i18n::Lang;
use crate::users::model::User;
use crate::web::auth::{MaybeUser, PageUser};
use crate::web::render::{base_context, inline_error, render};

/// Recent tasks shown beside the form; older ones live in 生成记录.
const RECENT: usize = 12;

pub fn configure(cfg: &mut web::ServiceConfig, upload_limit: usize) {
    cfg.route("/", web::get().to(index))
        .route("/generate", web::post().to(submit))
        .route("/generate/tasks", web::get().to(tasks))
        .route("/generate/events", web::get().to(events))
        .route("/generate/{task_id}/cancel", web::post().to(cancel))
        .route("/generate/{task_id}/retry", web::post().to(retry))
        .service(
            web::resource("/generate/upload")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(upload)),
        );
}

async fn tasks_context(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    lang: Lang,
) -> AppResult<tera::Context> {
    let page = service::list(state, user, None, lang).await?;
    let mut cards = service::cards(state, page.tasks, lang);
    cards.truncate(RECENT);
    let mut ctx = base_context(req, Some(user));
    ctx.insert("cards", &cards);
    Ok(ctx)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IndexQuery {
    /// A task whose recipe fills the form (复用参数).
    reuse: Option<String>,
    /// With `reuse`: the same recipe on another model (换个模型再生成).
    other_model: Option<String>,
    /// A public work whose recipe fills the form (画廊「做一张同款」).
    work: Option<String>,
}

async fn index(
    req: HttpRequest,
    state: Data<AppState>,
    user: MaybeUser,
    lang: Lang,
    q: Query<IndexQuery>,
) -> AppResult<HttpResponse> {
    // Visitors land in the gallery where the instance shows it to them, else on the login.
    let user = match user.0 {
        Some(user) => PageUser(user),
        None if crate::web::auth::session(&req).is_none()
            && crate::gallery::service::open_to_visitors(&state) =>
        {
            return Ok(HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/gallery"))
                .finish());
        }
        // A session that does not authenticate answers as it always did.
        None => <PageUser as actix_web::FromRequest>::extract(&req).await?,
    };
    let mut ctx = tasks_context(&req, &state, &user.0, lang).await?;
    let work = q.work.as_deref().filter(|id| !id.is_empty());
    let recipe = match (q.reuse.as_deref().filter(|id| !id.is_empty()), work) {
        (Some(id), _) => {
            let other = q.other_model.as_deref().is_some_and(|v| v == "1");
            Some(service::recipe(&state, &user.0, id, other).await)
        }
        (None, Some(work)) => Some(crate::gallery::service::recipe(&state, &user.0, work).await),
        (None, None) => None,
    };
    if let Some(recipe) = recipe {
        match recipe {
            Ok(recipe) => ctx.insert(
                "reuse",
                &serde_json::to_string(&recipe).map_err(|e| AppError::internal(e, "recipe"))?,
            ),
            // A deleted or foreign task leaves the form empty, as a fresh visit would.
            Err(AppError::Client { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    ctx.insert("nav", "generate");
    ctx.insert("models", &service::models(&state));
    render(
        &state.templates,
        "generation/index.html",
        &ctx,
        StatusCode::OK,
    )
}

async fn tasks(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
) -> AppResult<HttpResponse> {
    let ctx = tasks_context(&req, &state, &user.0, lang).await?;
    render(
        &state.templates,
        "generation/_tasks.html",
        &ctx,
        StatusCode::OK,
    )
}

/// The form as the browser sends it: flat fields, reference ids comma-separated (also what
/// the form's cost estimate reads, `catalogue::pages`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GenerateForm {
    #[serde(rename = "type")]
    kind: String,
    prompt: String,
    model: String,
    images: String,
    size: String,
    aspect: String,
    resolution: String,
    n: String,
    seed: String,
    style: String,
    strength: String,
    duration: String,
    negative_prompt: String,
}

fn number<T: std::str::FromStr>(s: &str) -> AppResult<Option<T>> {
    some(s)
        .map(|v| {
            v.parse()
                .map_err(|_| AppError::invalid("params", "err.gen.params"))
        })
        .transpose()
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl GenerateForm {
    pub fn into_task(self) -> AppResult<NewTask> {
        let params = Params {
            size: some(&self.size),
            seed: number(&self.seed)?,
            negative_prompt: some(&self.negative_prompt),
            style: some(&self.style).filter(|s| s != "auto"),
            strength: number(&self.strength)?,
            duration: number(&self.duration)?,
            aspect: some(&self.aspect),
            resolution: some(&self.resolution),
            n: number(&self.n)?,
            images: Vec::new(),
        };
        Ok(NewTask {
            kind: self.kind,
            prompt: self.prompt,
            images: self.images.split(',').filter_map(some).collect(),
            model: some(&self.model),
            params: Some(params),
        })
    }
}

async fn submit(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    form: Form<GenerateForm>,
) -> AppResult<HttpResponse> {
    let task = form.into_inner().into_task()?;
    match service::submit(&state, &user.0, task, lang).await {
        Ok(made) => card_of(&req, &state, &user, made, lang).await,
        // The message goes into the form's own message box; the task list stays as it is.
        Err(err) => inline_error(&req, &state.templates, &user.0, "#gen-error", err, lang),
    }
}

async fn cancel(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    match service::cancel(&state, &user.0, &id, lang).await {
        Ok(task) => card_of(&req, &state, &user, task, lang).await,
        // Finished meanwhile: its card as it is now is the right answer.
        Err(AppError::Client { code: 409, .. }) => {
            let task = service::get(&state, &user.0, &id, lang).await?;
            card_of(&req, &state, &user, task, lang).await
        }
        Err(e) => Err(e),
    }
}

async fn retry(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let again = service::retry(&state, &user.0, &id, lang).await?;
    card_of(&req, &state, &user, again, lang).await
}

/// The card that holds `task` (its whole batch when it has one), as the page swaps it in.
async fn card_of(
    req: &HttpRequest,
    state: &AppState,
    user: &PageUser,
    task: TaskView,
    lang: Lang,
) -> AppResult<HttpResponse> {
    let card = service::card_for(state, &user.0, &task.task_id, lang)
        .await?
        .ok_or_else(AppError::not_found)?;
    let mut ctx = base_context(req, Some(&user.0));
    ctx.insert("card", &card);
    render(
        &state.templates,
        "generation/_card.html",
        &ctx,
        StatusCode::OK,
    )
}

/// The page's live stream: each card that changed, rendered, as an SSE `card` event.
async fn events(state: Data<AppState>, user: PageUser, lang: Lang) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Compression would hold events back until a buffer fills.
        .insert_header(("Content-Encoding", "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream::cards(state.into_inner(), user.0, lang))
}

/// Drag-and-drop and paste upload from the page (cookie session, CSRF header); JSON answer.
async fn upload(
    state: Data<AppState>,
    user: PageUser,
    file: crate::web::upload::UploadedFile,
) -> AppResult<Reply<service::Uploaded>> {
    Ok(Reply::ok(
        "msg.uploaded",
        service::upload(&state, &user.0, file.0).await?,
    ))
}
