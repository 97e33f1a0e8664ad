//! Prompt help on the pages: the tool row of the generation form (templates, styles, history,
//! expand, 中/EN) and 我的模板 (`/prompts`), where a person keeps templates of their own.
//! The form's script (static/prompts.js) posts here with the session cookie and CSRF header;
//! the JSON answers are the API's envelopes.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Form, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::HistoryQuery;
use super::model::{Filled, Language, Rewritten, TemplateInput, TemplateView};
use super::service;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Reply};
use crate::i18n::{self, Lang};
use crate::users::model::User;
use crate::web::auth::PageUser;
use crate::web::render::{base_context, form_error, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts", web::get().to(index))
        .route("/prompts/tools", web::get().to(tools))
        .route("/prompts/history", web::get().to(history))
        .route("/prompts/templates", web::post().to(create))
        .route("/prompts/templates/{id}", web::post().to(update))
        .route("/prompts/templates/{id}/delete", web::post().to(delete))
        .route("/prompts/templates/{id}/fill", web::get().to(fill_form))
        .route("/prompts/templates/{id}/fill", web::post().to(fill))
        .route("/prompts/presets/{id}/apply", web::post().to(apply_preset))
        .route("/prompts/expand", web::post().to(expand))
        .route("/prompts/translate", web::post().to(translate));
}

fn page(tera: &tera::Tera, template: &str, ctx: &tera::Context) -> AppResult<HttpResponse> {
    render(tera, template, ctx, StatusCode::OK)
}

/// 我的模板: the person's templates with their forms, and the built-in ones to read.
async fn index(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
) -> AppResult<HttpResponse> {
    let mut ctx = mine_context(&req, &state, &user.0, lang).await?;
    ctx.insert("nav", "generate");
    let list = service::templates(&state, &user.0, lang).await?;
    let builtin: Vec<&TemplateView> = list.templates.iter().filter(|t| t.builtin).collect();
    ctx.insert("builtin", &builtin);
    ctx.insert("presets", &service::presets(&state, lang).presets);
    page(&state.templates, "prompts/index.html", &ctx)
}

async fn mine_context(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    lang: Lang,
) -> AppResult<tera::Context> {
    let list = service::templates(state, user, lang).await?;
    let mine: Vec<TemplateView> = list.templates.into_iter().filter(|t| !t.builtin).collect();
    let mut ctx = base_context(req, Some(user));
    ctx.insert("mine", &mine);
    ctx.insert("editing", "");
    ctx.insert("draft", &Draft::default());
    Ok(ctx)
}

/// What was typed into a template form, shown again beside its error.
#[derive(Default, Serialize)]
struct Draft {
    name: String,
    body: String,
    negative_prompt: String,
}

impl From<&TemplateInput> for Draft {
    fn from(i: &TemplateInput) -> Self {
        Draft {
            name: i.name.clone(),
            body: i.body.clone(),
            negative_prompt: i.negative_prompt.clone(),
        }
    }
}

/// The list again after a change, or the form of `editing` ("" for the new one) with its
/// error and what was typed.
async fn mine_after(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    lang: Lang,
    editing: &str,
    input: &TemplateInput,
    outcome: AppResult<()>,
) -> AppResult<HttpResponse> {
    let mut ctx = mine_context(req, state, user, lang).await?;
    match outcome {
        Ok(()) => page(&state.templates, "prompts/_mine.html", &ctx),
        Err(err) => {
            ctx.insert("editing", editing);
            ctx.insert("draft", &Draft::from(input));
            form_error(&state.templates, "prompts/_mine.html", ctx, lang, err)
        }
    }
}

async fn create(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    form: Form<TemplateInput>,
) -> AppResult<HttpResponse> {
    let input = form.into_inner();
    let outcome = service::create(&state, &user.0, input.clone())
        .await
        .map(drop);
    mine_after(&req, &state, &user.0, lang, "", &input, outcome).await
}

async fn update(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<TemplateInput>,
) -> AppResult<HttpResponse> {
    let input = form.into_inner();
    let outcome = service::update(&state, &user.0, &id, input.clone())
        .await
        .map(drop);
    mine_after(&req, &state, &user.0, lang, &id, &input, outcome).await
}

async fn delete(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    service::delete(&state, &user.0, &id).await?;
    let ctx = mine_context(&req, &state, &user.0, lang).await?;
    page(&state.templates, "prompts/_mine.html", &ctx)
}

/// The tool row under the prompt: templates, styles, history, and the assistant's buttons
/// when one is configured.
async fn tools(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
) -> AppResult<HttpResponse> {
    let list = service::templates(&state, &user.0, lang).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert(
        "mine_count",
        &list.templates.iter().filter(|t| !t.builtin).count(),
    );
    ctx.insert("templates", &list.templates);
    ctx.insert("presets", &service::presets(&state, lang).presets);
    ctx.insert("assistant", &service::assistant_on(&state));
    let languages = serde_json::to_string(&service::model_languages(&state))
        .map_err(|e| AppError::internal(e, "model languages"))?;
    ctx.insert("model_languages", &languages);
    page(&state.templates, "prompts/_tools.html", &ctx)
}

async fn history(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    q: Query<HistoryQuery>,
) -> AppResult<HttpResponse> {
    let found = service::history(&state, &user.0, q.q.as_deref(), q.before.as_deref()).await?;
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("entries", &found.entries);
    ctx.insert("next", &found.next);
    ctx.insert("q", q.q.as_deref().unwrap_or_default());
    // The first page replaces the list; a further one is appended where its button was.
    ctx.insert("more", &q.before.is_some());
    page(&state.templates, "prompts/_history.html", &ctx)
}

/// A placeholder's field: its name, the label and example the locale has for it (the name
/// itself for one a person made up).
#[derive(Serialize)]
struct Field {
    name: String,
    label: String,
    hint: String,
}

async fn fill_form(
    req: HttpRequest,
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let template = service::template(&state, &user.0, &id, lang).await?;
    let known = |group: &str, name: &str| {
        let key = format!("prompts.{group}.{name}");
        let text = i18n::text(lang, &key);
        (text != key).then_some(text)
    };
    let fields: Vec<Field> = template
        .placeholders
        .iter()
        .map(|name| Field {
            name: name.clone(),
            label: known("placeholders", name).unwrap_or_else(|| name.clone()),
            hint: known("hints", name).unwrap_or_default(),
        })
        .collect();
    let mut ctx = base_context(&req, Some(&user.0));
    ctx.insert("template", &template);
    ctx.insert("fields", &fields);
    page(&state.templates, "prompts/_fill.html", &ctx)
}

/// The fill form's values: `v.<placeholder>` fields.
async fn fill(
    state: Data<AppState>,
    user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<HashMap<String, String>>,
) -> AppResult<Reply<Filled>> {
    let values = form
        .into_inner()
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("v.").map(|name| (name.to_string(), v)))
        .collect();
    Ok(Reply::ok(
        "msg.ok",
        service::fill(&state, &user.0, &id, &values, lang).await?,
    ))
}

#[derive(Deserialize)]
struct PresetForm {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    negative_prompt: String,
    #[serde(default)]
    previous: String,
}

async fn apply_preset(
    state: Data<AppState>,
    _user: PageUser,
    lang: Lang,
    id: Path<String>,
    form: Form<PresetForm>,
) -> AppResult<Reply<Filled>> {
    let previous = Some(form.previous.as_str()).filter(|p| !p.is_empty());
    let filled = service::apply_preset(
        &state,
        &id,
        &form.prompt,
        &form.negative_prompt,
        previous,
        lang,
    )?;
    Ok(Reply::ok("msg.ok", filled))
}

#[derive(Deserialize)]
struct RewriteForm {
    #[serde(default)]
    prompt: String,
    /// translate: "zh" or "en"; empty: the language the prompt is not in.
    #[serde(default)]
    to: String,
}

async fn expand(
    state: Data<AppState>,
    _user: PageUser,
    form: Form<RewriteForm>,
) -> AppResult<Reply<Rewritten>> {
    Ok(Reply::ok(
        "msg.ok",
        service::expand(&state, &form.prompt).await?,
    ))
}

async fn translate(
    state: Data<AppState>,
    _user: PageUser,
    form: Form<RewriteForm>,
) -> AppResult<Reply<Rewritten>> {
    let to = match form.to.as_str() {
        "" => None,
        "zh" => Some(Language::Zh),
        "en" => Some(Language::En),
        _ => return Err(AppError::invalid("to", "err.bad_request")),
    };
    Ok(Reply::ok(
        "msg.ok",
        service::translate(&state, &form.prompt, to).await?,
    ))
}
