//! Untrusted media (imports, uploads, vendor results): what a file is, and a still of it for
//! thumbnails. Every parser of attacker bytes runs through `contained`, so a bug in a decoder
//! crate costs one file, never the process.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::{ensure, Context as _};
use image::DynamicImage;

use super::images;

pub const MP4: &str = "video/mp4";

/// An image type we store, or MP4, by the first bytes; names and Content-Types are not trusted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8) == Some(b"ftyp") {
        return Some(MP4);
    }
    images::sniff(bytes).map(|(_, mime)| mime)
}

/// Runs a parser of untrusted bytes; a panic inside it becomes an error for this file alone.
pub fn contained<R>(what: &str, f: impl FnOnce() -> anyhow::Result<R>) -> anyhow::Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::warn!("the {what} parser failed on a file: {detail}");
            anyhow::bail!("the {what} could not be read")
        }
    }
}

/// `contained` on the blocking pool, for async callers.
pub async fn contained_blocking<R: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> anyhow::Result<R> + Send + 'static,
) -> anyhow::Result<R> {
    tokio::task::spawn_blocking(move || contained(what, f))
        .await
        .context("the media task stopped")?
}

/// The picture of an image, or the first frame of an MP4, decoded within the upload limits.
pub fn still(bytes: &[u8], mime: &str) -> anyhow::Result<DynamicImage> {
    contained(mime, || {
        if mime == MP4 {
            return Ok(DynamicImage::ImageRgb8(
                crate::generation::providers::local::video::poster_frame(bytes)?,
            ));
        }
        let (format, _) = images::sniff(bytes).context("not an image we accept")?;
        images::decode_limited(bytes, format)
    })
}

/// A still and its WebP thumbnail: what we keep beside every stored picture or video.
pub struct Preview {
    pub thumb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

pub fn preview(bytes: &[u8], mime: &str) -> anyhow::Result<Preview> {
    let frame = still(bytes, mime)?;
    ensure!(frame.width() > 0 && frame.height() > 0, "an empty picture");
    Ok(Preview {
        thumb: images::thumbnail(&frame)?,
        width: frame.width(),
        height: frame.height(),
    })
}

/// How long an MP4 plays, in milliseconds (0 when its header does not say).
pub fn video_millis(bytes: &[u8]) -> i64 {
    mp4::Mp4Reader::read_header(std::io::Cursor::new(bytes), bytes.len() as u64)
        .map(|r| i64::try_from(r.duration().as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_parser_is_an_error_for_that_file() {
        let r: anyhow::Result<()> = contained("test", || panic!("boom"));
        assert_eq!(r.unwrap_err().to_string(), "the test could not be read");
        assert_eq!(contained("test", || Ok(7)).unwrap(), 7);
    }

    #[test]
    fn sniff_knows_mp4_and_our_images() {
        assert_eq!(sniff(b"\0\0\0\x18ftypisom"), Some(MP4));
        let png = images::encode_png(&image::RgbImage::new(2, 2)).unwrap();
        assert_eq!(sniff(&png), Some("image/png"));
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn oversized_images_are_refused_like_uploads() {
        let png = images::encode_png(&image::RgbImage::new(8, 8)).unwrap();
        let mut bomb = png.clone();
        bomb[16..20].copy_from_slice(&10_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&10_000u32.to_be_bytes());
        assert!(still(&bomb, "image/png").is_err());
        assert_eq!(preview(&png, "image/png").unwrap().width, 8);
    }
}
