//! Tera templates, embedded in the binary, and the context every page shares.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;
use serde_json::{Map, Value};
use tera::{Context, Tera};

use super::middleware::CsrfToken;
use crate::error::{AppError, AppResult};
use crate::i18n::{self, Lang};
use crate::users::model::User;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct TemplateFiles;

pub fn load_templates() -> anyhow::Result<Tera> {
    let mut tera = Tera::default();
    let mut files = Vec::new();
    for name in TemplateFiles::iter() {
        let file =
            TemplateFiles::get(&name).ok_or_else(|| anyhow::anyhow!("missing template {name}"))?;
        files.push((name.to_string(), String::from_utf8(file.data.into_owned())?));
    }
    tera.add_raw_templates(files)?;
    Ok(tera)
}

/// `t`, `lang`, `csrf`, `user` and `path`: what layout.html needs on every page.
pub fn base_context(req: &HttpRequest, user: Option<&User>) -> Context {
    let lang = Lang::of(req);
    let mut ctx = Context::new();
    ctx.insert("t", i18n::tree(lang));
    ctx.insert("lang", lang.code());
    let csrf = req
        .extensions()
        .get::<CsrfToken>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    ctx.insert("csrf", &csrf);
    let path = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    ctx.insert("path", path);
    match user {
        Some(user) => {
            let mut view = serde_json::to_value(user.view()).unwrap_or(Value::Null);
            if let Some(obj) = view.as_object_mut() {
                let shown = user.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
                obj.insert("created_at".into(), Value::String(shown));
            }
            ctx.insert("user", &view);
            // Open alerts as a banner on every page an admin opens (src/ops/alerts.rs).
            if user.is_admin() {
                if let Some(state) = req.app_data::<actix_web::web::Data<crate::app::AppState>>() {
                    ctx.insert("alerts", &state.ops.open_alerts());
                }
            }
        }
        None => ctx.insert("user", &Value::Null),
    }
    ctx
}

pub fn render(
    tera: &Tera,
    template: &str,
    ctx: &Context,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let html = tera
        .render(template, ctx)
        .map_err(|e| template_error(template, e))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Logs which template failed and on which variable (Tera nests the cause, e.g. "Variable
/// `r.mime` not found ... while rendering 'library/_page.html'", under "Failed to render").
fn template_error(template: &str, e: tera::Error) -> AppError {
    let chain = error_chain(&e);
    let variable = missing_variable(&chain).unwrap_or_default();
    tracing::error!(template, variable, cause = %chain, "template render failed");
    AppError::internal(e, "template")
}

fn error_chain(e: &tera::Error) -> String {
    let mut chain = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        chain.push_str(": ");
        chain.push_str(&c.to_string());
        cause = c.source();
    }
    chain
}

/// The name between backticks in Tera's "Variable `x.y` not found" message.
fn missing_variable(chain: &str) -> Option<&str> {
    let rest = &chain[chain.find("Variable `")? + "Variable `".len()..];
    Some(&rest[..rest.find('`')?])
}

/// A page of the logged-in shell with `nav` marking the active menu entry.
pub fn shell_page(
    req: &HttpRequest,
    tera: &Tera,
    user: &User,
    nav: &str,
    template: &str,
) -> AppResult<HttpResponse> {
    let mut ctx = base_context(req, Some(user));
    ctx.insert("nav", nav);
    render(tera, template, &ctx, StatusCode::OK)
}

/// Re-renders a form partial after a failed post: the message goes beside its field,
/// or on top of the form. Server faults are passed on to the error page.
pub fn form_error(
    tera: &Tera,
    template: &str,
    mut ctx: Context,
    lang: Lang,
    err: AppError,
) -> AppResult<HttpResponse> {
    if let AppError::Internal { .. } = err {
        return Err(err);
    }
    let mut errors = Map::new();
    errors.insert(
        err.field().unwrap_or("form").to_string(),
        Value::String(err.message(lang)),
    );
    ctx.insert("errors", &errors);
    let status = actix_web::ResponseError::status_code(&err);
    let mut res = render(tera, template, &ctx, status)?;
    if let AppError::RateLimited { retry_after } = err {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(retry_after),
        );
    }
    Ok(res)
}

/// Puts the error's message into a form's own message box (`target`, e.g. `#gen-error`)
/// through htmx's `HX-Retarget`, leaving the rest of the page as it is. Server faults are
/// passed on to the error page.
pub fn inline_error(
    req: &HttpRequest,
    tera: &Tera,
    user: &User,
    target: &'static str,
    err: AppError,
    lang: Lang,
) -> AppResult<HttpResponse> {
    if let AppError::Internal { .. } = err {
        return Err(err);
    }
    let mut ctx = base_context(req, Some(user));
    ctx.insert("message", &err.message(lang));
    let mut res = render(tera, "_error_fragment.html", &ctx, StatusCode::OK)?;
    let headers = res.headers_mut();
    headers.insert(
        HeaderName::from_static("hx-retarget"),
        HeaderValue::from_static(target),
    );
    headers.insert(
        HeaderName::from_static("hx-reswap"),
        HeaderValue::from_static("innerHTML"),
    );
    Ok(res)
}

/// Longest `next` kept; anything longer is no page of ours.
const MAX_NEXT: usize = 2048;

/// A same-origin path only, so a crafted `next` cannot send people elsewhere. Browsers drop
/// tabs and newlines and read `\\` as `/`, so `/\t/evil.example` is `//evil.example` to them:
/// refuse every control character, whitespace and backslash, and any start but one `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

fn is_local_path(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next() == Some('/')
        && chars.next() != Some('/')
        && n.len() <= MAX_NEXT
        && !n
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_templates_parse() {
        let tera = load_templates().unwrap();
        assert!(tera.get_template_names().any(|n| n == "users/login.html"));
    }

    #[test]
    fn a_missing_variable_is_named_in_the_render_error() {
        let mut tera = Tera::default();
        tera.add_raw_template("x.html", "{{ r.mime }}").unwrap();
        let err = tera.render("x.html", &Context::new()).unwrap_err();
        assert_eq!(missing_variable(&error_chain(&err)), Some("r.mime"));
        assert_eq!(missing_variable("Failed to render"), None);
    }

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/profile?tab=email")), "/profile?tab=email");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for hostile in [
            "/\t/evil.example/x",
            "/\\evil.example",
            "/ /evil.example",
            "/\u{3000}/evil.example",
            "/\u{7f}/evil.example",
            "\t//evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(safe_next(Some("/library?q=a%20b")), "/library?q=a%20b");
    }
}
