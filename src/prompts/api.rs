//! The JSON endpoints of prompt help under /api/v1/prompts.

use std::collections::HashMap;

use actix_web::web::{self, Data, Path, Query};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::model::*;
use super::service;
use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData, NoData, Reply};
use crate::i18n::Lang;
use crate::json::Json;
use crate::web::auth::ApiUser;
use crate::web::openapi::{route, JsonBodyErrors, SignedInErrors};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_templates,
        create_template,
        get_template,
        update_template,
        delete_template,
        fill_template,
        list_presets,
        apply_preset,
        history,
        expand,
        translate
    ),
    components(schemas(Language))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    route(cfg, __path_list_templates, list_templates);
    route(cfg, __path_create_template, create_template);
    route(cfg, __path_get_template, get_template);
    route(cfg, __path_update_template, update_template);
    route(cfg, __path_delete_template, delete_template);
    route(cfg, __path_fill_template, fill_template);
    route(cfg, __path_list_presets, list_presets);
    route(cfg, __path_apply_preset, apply_preset);
    route(cfg, __path_history, history);
    route(cfg, __path_expand, expand);
    route(cfg, __path_translate, translate);
}

#[utoipa::path(
    get, path = "/api/v1/prompts/templates", tag = "prompts", operation_id = "list_prompt_templates",
    summary = "Prompt templates: the built-in ones and yours",
    description = "The built-in templates in the request's language (`Accept-Language`), then yours by name. A template's `{placeholder}`s are listed in `placeholders`; `POST .../fill` puts values in.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<TemplateList>),
        SignedInErrors,
    )
)]
async fn list_templates(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
) -> AppResult<Reply<TemplateList>> {
    Ok(Reply::ok(
        "msg.ok",
        service::templates(&state, &user.0, lang).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/prompts/templates", tag = "prompts", operation_id = "create_prompt_template",
    summary = "Save a template of your own",
    description = "At most 200 templates per person; names are unique among yours.",
    security(("bearer" = [])),
    request_body = TemplateInput,
    responses(
        (status = 201, description = "code 201: saved", body = Envelope<TemplateView>,
            links(
                ("template" = (operation_id = "get_prompt_template", parameters(("template_id" = "$response.body#/data/id")))),
                ("update" = (operation_id = "update_prompt_template", parameters(("template_id" = "$response.body#/data/id")))),
                ("fill" = (operation_id = "fill_prompt_template", parameters(("template_id" = "$response.body#/data/id")))),
                ("delete" = (operation_id = "delete_prompt_template", parameters(("template_id" = "$response.body#/data/id")))),
            )),
        (status = 400, description = "code 400: a field is empty or too long (`data.field`)", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 409, description = "code 409: you have a template of this name, or 200 templates already", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn create_template(
    state: Data<AppState>,
    user: ApiUser,
    body: Json<TemplateInput>,
) -> AppResult<Reply<TemplateView>> {
    let view = service::create(&state, &user.0, body.into_inner()).await?;
    Ok(Reply::created("msg.saved", view))
}

#[utoipa::path(
    get, path = "/api/v1/prompts/templates/{template_id}", tag = "prompts", operation_id = "get_prompt_template",
    summary = "One template",
    security(("bearer" = [])),
    params(("template_id" = String, Path, description = "A built-in template's slug or the id of one of yours")),
    responses(
        (status = 200, description = "code 200", body = Envelope<TemplateView>),
        SignedInErrors,
        (status = 404, description = "code 404: no such template of yours", body = Envelope<ErrorData>),
    )
)]
async fn get_template(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    template_id: Path<String>,
) -> AppResult<Reply<TemplateView>> {
    let view = service::template(&state, &user.0, &template_id, lang).await?;
    Ok(Reply::ok("msg.ok", view))
}

#[utoipa::path(
    put, path = "/api/v1/prompts/templates/{template_id}", tag = "prompts", operation_id = "update_prompt_template",
    summary = "Change a template of yours",
    security(("bearer" = [])),
    params(("template_id" = String, Path, description = "The id of one of your templates")),
    request_body = TemplateInput,
    responses(
        (status = 200, description = "code 200: saved", body = Envelope<TemplateView>),
        (status = 400, description = "code 400: a field is empty or too long (`data.field`)", body = Envelope<ErrorData>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: a built-in template, or the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such template of yours", body = Envelope<ErrorData>),
        (status = 409, description = "code 409: another template of yours has this name", body = Envelope<ErrorData>),
        JsonBodyErrors,
    )
)]
async fn update_template(
    state: Data<AppState>,
    user: ApiUser,
    template_id: Path<String>,
    body: Json<TemplateInput>,
) -> AppResult<Reply<TemplateView>> {
    let view = service::update(&state, &user.0, &template_id, body.into_inner()).await?;
    Ok(Reply::ok("msg.saved", view))
}

#[utoipa::path(
    delete, path = "/api/v1/prompts/templates/{template_id}", tag = "prompts", operation_id = "delete_prompt_template",
    summary = "Delete a template of yours",
    security(("bearer" = [])),
    params(("template_id" = String, Path, description = "The id of one of your templates")),
    responses(
        (status = 200, description = "code 200: deleted", body = Envelope<NoData>),
        (status = 401, description = "code 401: missing, invalid, expired or revoked token", body = Envelope<ErrorData>),
        (status = 403, description = "code 403: a built-in template, or the account is banned", body = Envelope<ErrorData>),
        (status = 404, description = "code 404: no such template of yours", body = Envelope<ErrorData>),
    )
)]
async fn delete_template(
    state: Data<AppState>,
    user: ApiUser,
    template_id: Path<String>,
) -> AppResult<Reply<()>> {
    service::delete(&state, &user.0, &template_id).await?;
    Ok(Reply::message("msg.deleted"))
}

#[derive(Deserialize, ToSchema)]
pub struct FillRequest {
    /// A value for each placeholder (at most 32, each at most 500 characters); a placeholder
    /// without one is left out, with the separator beside it.
    #[serde(default)]
    #[schema(schema_with = values_schema)]
    values: HashMap<String, String>,
}

fn values_schema() -> utoipa::openapi::Object {
    use crate::web::openapi::text;
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Object)
        .additional_properties(Some(utoipa::openapi::ObjectBuilder::from(text(
            0, MAX_VALUE,
        ))))
        .max_properties(Some(MAX_VALUES))
        .build()
}

#[utoipa::path(
    post, path = "/api/v1/prompts/templates/{template_id}/fill", tag = "prompts", operation_id = "fill_prompt_template",
    summary = "A template's prompt with your values in its placeholders",
    security(("bearer" = [])),
    params(("template_id" = String, Path, description = "A built-in template's slug or the id of one of yours")),
    request_body = FillRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<Filled>),
        (status = 400, description = "code 400: more than 32 values, a value longer than 500 characters, or a body that is not the request's shape", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such template of yours", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 422: the filled prompt is longer than 2000 characters", body = Envelope<ErrorData>),
    )
)]
async fn fill_template(
    state: Data<AppState>,
    user: ApiUser,
    lang: Lang,
    template_id: Path<String>,
    body: Json<FillRequest>,
) -> AppResult<Reply<Filled>> {
    let filled = service::fill(&state, &user.0, &template_id, &body.values, lang).await?;
    Ok(Reply::ok("msg.ok", filled))
}

#[utoipa::path(
    get, path = "/api/v1/prompts/presets", tag = "prompts", operation_id = "list_prompt_presets",
    summary = "Style presets",
    description = "The built-in presets in the request's language and those of `[[prompts.presets]]` in the configuration.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "code 200", body = Envelope<PresetList>),
        SignedInErrors,
    )
)]
async fn list_presets(
    state: Data<AppState>,
    _user: ApiUser,
    lang: Lang,
) -> AppResult<Reply<PresetList>> {
    Ok(Reply::ok("msg.ok", service::presets(&state, lang)))
}

#[derive(Deserialize, ToSchema)]
pub struct ApplyPresetRequest {
    #[serde(default)]
    #[schema(max_length = 2000)]
    prompt: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    negative_prompt: String,
    /// The preset applied before, whose words this one replaces.
    #[serde(default)]
    #[schema(max_length = 64)]
    previous: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/prompts/presets/{preset_id}/apply", tag = "prompts", operation_id = "apply_prompt_preset",
    summary = "A prompt with a style preset's words added",
    description = "The preset's words are added to `prompt` and its negative words to `negative_prompt`, in the prompt's language (Chinese once it holds Chinese; the request's language while it is empty), each word once. With `previous`, that preset's words are taken out first.",
    security(("bearer" = [])),
    params(("preset_id" = String, Path, description = "The preset's id")),
    request_body = ApplyPresetRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<Filled>),
        (status = 400, description = "code 400: a body that is not the request's shape", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: no such preset", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 422: the prompt would pass 2000 characters", body = Envelope<ErrorData>),
    )
)]
async fn apply_preset(
    state: Data<AppState>,
    _user: ApiUser,
    lang: Lang,
    preset_id: Path<String>,
    body: Json<ApplyPresetRequest>,
) -> AppResult<Reply<Filled>> {
    let b = body.into_inner();
    let filled = service::apply_preset(
        &state,
        &preset_id,
        &b.prompt,
        &b.negative_prompt,
        b.previous.as_deref(),
        lang,
    )?;
    Ok(Reply::ok("msg.ok", filled))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only prompts holding this text (any language, case ignored), at most 100 characters.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `next` of the previous page.
    pub before: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/prompts/history", tag = "prompts", operation_id = "prompt_history",
    summary = "Your prompts, each once, newest first",
    description = "The prompts of the tasks you submitted (deleted results excluded), each listed once with its latest task and how often you used it; 20 a page.",
    security(("bearer" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "code 200", body = Envelope<HistoryPage>),
        (status = 400, description = "code 400: `q` longer than 100 characters", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 404, description = "code 404: `before` is no task of yours", body = Envelope<ErrorData>),
    )
)]
async fn history(
    state: Data<AppState>,
    user: ApiUser,
    q: Query<HistoryQuery>,
) -> AppResult<Reply<HistoryPage>> {
    let page = service::history(&state, &user.0, q.q.as_deref(), q.before.as_deref()).await?;
    Ok(Reply::ok("msg.ok", page))
}

#[derive(Deserialize, ToSchema)]
pub struct RewriteRequest {
    #[schema(schema_with = prompt_schema)]
    prompt: String,
    /// translate: the language wanted; by default the one the prompt is not in.
    #[serde(default)]
    to: Option<Language>,
}

fn prompt_schema() -> utoipa::openapi::Object {
    crate::web::openapi::text_matching(1, MAX_BODY, r"\S")
}

#[utoipa::path(
    post, path = "/api/v1/prompts/expand", tag = "prompts", operation_id = "expand_prompt",
    summary = "A richer prompt, written by the prompt assistant",
    description = "Sends the prompt to the configured OpenAI-compatible chat service, which adds detail of setting, composition, light and style in the prompt's own language. `to` is ignored.",
    security(("bearer" = [])),
    request_body = RewriteRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<Rewritten>),
        (status = 400, description = "code 400: no prompt", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 409, description = "code 409: no assistant is configured", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 422: the chat service refused the prompt", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: the chat service is rate limited", body = Envelope<ErrorData>),
        (status = 502, description = "code 502: the chat service failed, answered garbage or refused the key", body = Envelope<ErrorData>),
        (status = 504, description = "code 504: the chat service did not answer in time", body = Envelope<ErrorData>),
    )
)]
async fn expand(
    state: Data<AppState>,
    _user: ApiUser,
    body: Json<RewriteRequest>,
) -> AppResult<Reply<Rewritten>> {
    Ok(Reply::ok(
        "msg.ok",
        service::expand(&state, &body.prompt).await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/prompts/translate", tag = "prompts", operation_id = "translate_prompt",
    summary = "The prompt in Chinese or English, for models that read one better",
    description = "Translates through the configured chat service into `to`, by default the language the prompt is not in (Chinese once it holds a Chinese character). Models whose configuration sets `prompt_language` say which they read best.",
    security(("bearer" = [])),
    request_body = RewriteRequest,
    responses(
        (status = 200, description = "code 200", body = Envelope<Rewritten>),
        (status = 400, description = "code 400: no prompt", body = Envelope<ErrorData>),
        SignedInErrors,
        (status = 409, description = "code 409: no assistant is configured", body = Envelope<ErrorData>),
        JsonBodyErrors,
        (status = 422, description = "code 422: the chat service refused the prompt", body = Envelope<ErrorData>),
        (status = 429, description = "code 429: the chat service is rate limited", body = Envelope<ErrorData>),
        (status = 502, description = "code 502: the chat service failed, answered garbage or refused the key", body = Envelope<ErrorData>),
        (status = 504, description = "code 504: the chat service did not answer in time", body = Envelope<ErrorData>),
    )
)]
async fn translate(
    state: Data<AppState>,
    _user: ApiUser,
    body: Json<RewriteRequest>,
) -> AppResult<Reply<Rewritten>> {
    let b = body.into_inner();
    Ok(Reply::ok(
        "msg.ok",
        service::translate(&state, &b.prompt, b.to).await?,
    ))
}
