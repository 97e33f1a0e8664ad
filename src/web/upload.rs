//! The body of an upload: the image itself (seed 5.3 ⑧), or a `multipart/form-data` form
//! whose `file` field holds it, as `curl -F file=@photo.jpg` and HTML forms send it.

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use memchr::memmem;

use crate::error::AppError;

/// Parts looked at before a form is refused; an upload form has one or two.
const MAX_PARTS: usize = 16;
/// Header bytes of one part; real ones are a few hundred.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// The uploaded file's bytes, whichever way the body carried them (within the upload limit,
/// which the `PayloadConfig` of the route applies before this runs).
pub struct UploadedFile(pub Vec<u8>);

impl FromRequest for UploadedFile {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| AppError::from_status(e.as_response_error().status_code()))?;
            file_part(content_type.as_deref(), &body)
                .map(|file| UploadedFile(file.to_vec()))
                .map_err(|_| AppError::invalid("file", "err.upload.form"))
        })
    }
}

/// The file in `body`: the body itself unless `content_type` is `multipart/form-data`, then
/// the part named `file` (or the first part with a file name).
pub fn file_part<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<&'a [u8], &'static str> {
    let Some(boundary) = content_type.and_then(multipart_boundary) else {
        return Ok(body);
    };
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_part = memmem::Finder::new(delimiter);
    // Each part ends at CRLF before the next delimiter.
    let part_end = format!("\r\n--{boundary}");
    let part_end = memmem::Finder::new(part_end.as_bytes());
    let mut at = next_part.find(body).ok_or("no boundary")? + delimiter.len();
    let mut named_file = None;
    for _ in 0..MAX_PARTS {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            break; // The closing delimiter.
        }
        let rest = rest.strip_prefix(b"\r\n").ok_or("no line after boundary")?;
        let head_len = memmem::find(&rest[..rest.len().min(MAX_PART_HEADERS)], b"\r\n\r\n")
            .ok_or("part headers too long or unterminated")?;
        let headers = std::str::from_utf8(&rest[..head_len]).map_err(|_| "headers not UTF-8")?;
        let content = &rest[head_len + 4..];
        let len = part_end.find(content).ok_or("unterminated part")?;
        let data = &content[..len];
        match disposition(headers) {
            Some((name, _)) if name == "file" => return Ok(data),
            Some((_, true)) if named_file.is_none() => named_file = Some(data),
            _ => {}
        }
        // Past this part's data, its CRLF and the delimiter.
        at = body.len() - content.len() + len + 2 + delimiter.len();
    }
    named_file.ok_or("no file in the form")
}

/// The `boundary` parameter of a `multipart/form-data` content type (RFC 2046: 1 to 70 chars).
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (key, value) = p.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (1..=70).contains(&value.len()).then(|| value.to_string())
    })
}

/// The form field's name and whether it carries a file name, from `Content-Disposition`.
fn disposition(headers: &str) -> Option<(String, bool)> {
    let line = headers.split("\r\n").find(|l| {
        l.get(..20)
            .is_some_and(|h| h.eq_ignore_ascii_case("content-disposition:"))
    })?;
    let mut name = None;
    let mut has_file_name = false;
    for param in line[20..].split(';').skip(1) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(value.trim().trim_matches('"').to_string()),
            "filename" | "filename*" => has_file_name = true,
            _ => {}
        }
    }
    Some((name?, has_file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "multipart/form-data; boundary=XyZ";

    fn form(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = b"preamble\r\n".to_vec();
        for (headers, data) in parts {
            body.extend_from_slice(format!("--XyZ\r\n{headers}\r\n\r\n{data}\r\n").as_bytes());
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn a_plain_body_is_the_file() {
        assert_eq!(file_part(None, b"abc").unwrap(), b"abc");
        assert_eq!(file_part(Some("image/png"), b"abc").unwrap(), b"abc");
    }

    #[test]
    fn the_file_field_of_a_form_is_the_file() {
        let body = form(&[
            ("Content-Disposition: form-data; name=\"note\"", "hi"),
            (
                "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png",
                "PNGDATA\r\nwith a line",
            ),
        ]);
        assert_eq!(
            file_part(Some(FORM), &body).unwrap(),
            b"PNGDATA\r\nwith a line"
        );
        let other = form(&[(
            "content-disposition: form-data; name=\"image\"; filename=\"b.jpg\"",
            "JPEG",
        )]);
        assert_eq!(
            file_part(Some("Multipart/Form-Data; boundary=\"XyZ\""), &other).unwrap(),
            b"JPEG"
        );
    }

    #[test]
    fn broken_forms_are_refused() {
        for body in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end",
            b"--XyZ\r\nno blank line",
            b"--XyZ--\r\n",
        ] {
            assert!(file_part(Some(FORM), body).is_err());
        }
        let fields_only = form(&[("Content-Disposition: form-data; name=\"note\"", "hi")]);
        assert!(file_part(Some(FORM), &fields_only).is_err());
    }
}
