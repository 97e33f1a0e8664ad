//! Static files embedded in the binary, served with an ETag and a long cache life.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::{AppError, AppResult};

#[derive(RustEmbed)]
#[folder = "static/"]
struct StaticFiles;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{path:.*}", web::get().to(serve));
    cfg.route("/favicon.ico", web::get().to(favicon));
}

async fn favicon(req: HttpRequest) -> AppResult<HttpResponse> {
    asset(&req, "favicon.svg")
}

async fn serve(req: HttpRequest, path: web::Path<String>) -> AppResult<HttpResponse> {
    asset(&req, &path)
}

fn asset(req: &HttpRequest, path: &str) -> AppResult<HttpResponse> {
    let file = StaticFiles::get(path).ok_or_else(AppError::not_found)?;
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=604800"));
    if fresh {
        return Ok(res.finish());
    }
    Ok(res
        .content_type(file.metadata.mimetype())
        .body(file.data.into_owned()))
}
