//! The OpenAPI 3.1 document of the JSON API, derived from the code so it cannot drift: each
//! area's `api.rs` declares its operations with `#[utoipa::path]`, lists them in its `Doc`, and
//! registers them through [`route`], so a route's path and method are written once. Request
//! and response types derive `ToSchema`; limits come from the constants the services check.
//! Served at `/api/v1/openapi.json`, with a reference page at `/api/docs` rendered on the
//! server from the same document (no script, so the CSP stays strict).

use std::sync::OnceLock;

use actix_web::dev::Handler;
use actix_web::http::{Method, StatusCode};
use actix_web::{guard, web, FromRequest, HttpRequest, HttpResponse, Responder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{HttpMethod, Object, ObjectBuilder, Type};
use utoipa::{Modify, OpenApi};

use crate::app::AppState;
use crate::error::{AppResult, Envelope, ErrorData};
use crate::web::render::{base_context, render};

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// The document's root; the operations come from the areas below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "PictureDeck API",
        description = include_str!("openapi.md"),
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Register, log in, reset a forgotten password (seed 5.3 ①–④)"),
        (name = "user", description = "The signed-in account (seed 5.3 ⑤ ⑥)"),
        (name = "generation", description = "Generation tasks, uploads and result files (seed 5.3 ⑦–⑩)"),
        (name = "library", description = "Results, folders, tags, shares, export and import (seed 3.5)"),
        (name = "admin", description = "Accounts, for admins only"),
        (name = "prompts", description = "Prompt templates, style presets, your prompt history and the prompt assistant (seed 2.1)"),
        (name = "gallery", description = "The public gallery: works, likes, favourites, follows, comments and publishing (seed 5.1 ⑦⑧)"),
    )
)]
struct Root;

/// Every area's operations. An area with JSON routes adds its `Doc` here.
const AREAS: &[fn() -> utoipa::openapi::OpenApi] = &[
    <crate::users::api::Doc as OpenApi>::openapi,
    <crate::generation::api::Doc as OpenApi>::openapi,
    <crate::catalogue::api::Doc as OpenApi>::openapi,
    <crate::library::api::Doc as OpenApi>::openapi,
    <crate::admin::api::Doc as OpenApi>::openapi,
    <crate::ops::api::Doc as OpenApi>::openapi,
    <crate::stats::api::Doc as OpenApi>::openapi,
    <crate::gallery::api::Doc as OpenApi>::openapi,
    <crate::mail::api::Doc as OpenApi>::openapi,
    <crate::moderation::api::Doc as OpenApi>::openapi,
    <crate::prompts::api::Doc as OpenApi>::openapi,
    <crate::groups::api::Doc as OpenApi>::openapi,
];

/// The whole document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = Root::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        for area in AREAS {
            doc.merge(area());
        }
        doc
    })
}

/// The answers of every operation that needs a signed-in account, declared once:
/// `responses(..., SignedInErrors, ...)`.
#[derive(utoipa::IntoResponses)]
pub enum SignedInErrors {
    #[response(
        status = 401,
        description = "code 401: missing, invalid, expired or revoked token"
    )]
    Unauthorized(Envelope<ErrorData>),
    #[response(status = 403, description = "code 403: the account is banned")]
    Banned(Envelope<ErrorData>),
}

/// [`SignedInErrors`] of an admin-only operation.
#[derive(utoipa::IntoResponses)]
pub enum AdminErrors {
    #[response(
        status = 401,
        description = "code 401: missing, invalid, expired or revoked token"
    )]
    Unauthorized(Envelope<ErrorData>),
    #[response(
        status = 403,
        description = "code 403: not an admin, or the account is banned"
    )]
    Forbidden(Envelope<ErrorData>),
}

/// The answers of every operation that reads a JSON body, before its own checks.
#[derive(utoipa::IntoResponses)]
pub enum JsonBodyErrors {
    #[response(status = 413, description = "code 413: body too large")]
    TooLarge(Envelope<ErrorData>),
    #[response(status = 415, description = "code 415: not JSON")]
    NotJson(Envelope<ErrorData>),
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description =
            Some("The token of `POST /api/v1/auth/login`: `Authorization: Bearer <token>`".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// Registers `handler` at the path and method(s) of its `#[utoipa::path]`; `doc` is the unit
/// struct that macro makes (`__path_<handler>`).
pub fn route<P, F, Args>(cfg: &mut web::ServiceConfig, doc: P, handler: F)
where
    P: utoipa::Path,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    route_with(cfg, doc, handler, |resource| resource);
}

/// [`route`] with something more on the resource (`app_data`, a body limit ...). The method is
/// a guard of the resource, not only of the route, so another method falls through to the
/// app's default service, which answers 405 with `Allow`.
pub fn route_with<P, F, Args>(
    cfg: &mut web::ServiceConfig,
    _doc: P,
    handler: F,
    setup: impl Fn(actix_web::Resource) -> actix_web::Resource,
) where
    P: utoipa::Path,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    // OpenAPI writes a path parameter `{name}`, as actix does.
    let path = P::path();
    for method in P::methods() {
        let resource = web::resource(path.as_str()).guard(guard::Method(http_method(&method)));
        cfg.service(setup(resource).route(web::route().to(handler.clone())));
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The methods the document declares for a concrete request path (`/api/v1/generation/abc`
/// matches `/api/v1/generation/{task_id}`), for the `Allow` header of a 405. The most specific
/// path wins: `/library/results/delete` is that operation, not a result called "delete".
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, Vec<&'static str>)> = None;
    for (template, item) in &document().paths.paths {
        let parts: Vec<&str> = template.split('/').collect();
        let is_param = |t: &str| t.starts_with('{') && t.ends_with('}');
        let matches = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (is_param(t) && !s.is_empty()) || t == s);
        if !matches {
            continue;
        }
        let params = parts.iter().filter(|t| is_param(t)).count();
        if best.as_ref().is_some_and(|(least, _)| *least < params) {
            continue;
        }
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, declared)| declared.then_some(name))
        .collect();
        best = Some((params, methods));
    }
    best.map(|(_, methods)| methods).unwrap_or_default()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(DOCUMENT_PATH, web::get().to(spec_json));
    cfg.route("/api/docs", web::get().to(docs_page));
}

async fn spec_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

async fn docs_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut ctx = base_context(&req, None);
    ctx.insert("spec", document());
    render(&state.templates, "docs/api.html", &ctx, StatusCode::OK)
}

// ---- constraints shared by the services and the document --------------------------------
// A field whose limits are constants of a service names one of these in `schema_with`, so the
// number the server checks and the number the document states are the same constant.

/// Text on one line that shows something: no control character, and not only white space
/// (what `char::is_control` and `str::trim` check on the server).
pub const VISIBLE_LINE: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// [`VISIBLE_LINE`] that may also hold line breaks (`\n`, `\r`).
pub const VISIBLE_LINES: &str = concat!(
    r"^[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f]",
    r"[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
);

/// A string of `min..=max` characters (Unicode scalar values, as JSON Schema counts them).
pub fn text(min: usize, max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .build()
}

/// [`text`] that must also match `pattern` (ECMA 262 and Python both read it the same).
pub fn text_matching(min: usize, max: usize, pattern: &str) -> Object {
    ObjectBuilder::from(text(min, max))
        .pattern(Some(pattern))
        .build()
}

/// An integer within `min..=max`.
pub fn integer(min: i64, max: i64) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
        .build()
}

/// `schema`, or null: what an `Option` field with a `schema_with` accepts.
pub fn or_null(mut schema: Object) -> Object {
    if let utoipa::openapi::schema::SchemaType::Type(t) = schema.schema_type {
        schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([t, Type::Null]);
    }
    schema
}

/// A body that is a file's bytes (an image, a ZIP, a video).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// A public id.
pub fn uuid() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Uuid,
        )))
        .build()
}
