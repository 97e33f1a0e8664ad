//! Image bytes in and out: sniffing, safe decoding of uploads, PNG encoding, WebP thumbnails.

use std::io::Cursor;

use anyhow::Context as _;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

/// Uploads larger than this many pixels are refused before decoding (decompression bombs).
pub const MAX_PIXELS: u64 = 40_000_000;
pub const THUMB_EDGE: u32 = 320;

/// PNG, JPEG or WebP by their first bytes; the file name and Content-Type are not trusted.
pub fn sniff(bytes: &[u8]) -> Option<(ImageFormat, &'static str)> {
    match image::guess_format(bytes).ok()? {
        ImageFormat::Png => Some((ImageFormat::Png, "image/png")),
        ImageFormat::Jpeg => Some((ImageFormat::Jpeg, "image/jpeg")),
        ImageFormat::WebP => Some((ImageFormat::WebP, "image/webp")),
        _ => None,
    }
}

/// Decodes with limits on dimensions and memory, so a small file cannot claim gigabytes.
pub fn decode_limited(bytes: &[u8], format: ImageFormat) -> anyhow::Result<DynamicImage> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let (w, h) = reader
        .into_dimensions()
        .context("unreadable image header")?;
    anyhow::ensure!(
        u64::from(w) * u64::from(h) <= MAX_PIXELS,
        "image has too many pixels"
    );
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    reader.decode().context("broken image data")
}

/// Decodes an upload and turns it upright by its EXIF orientation (phones store it sideways).
pub fn decode_upright(bytes: &[u8], format: ImageFormat) -> anyhow::Result<DynamicImage> {
    let mut img = decode_limited(bytes, format)?;
    let orientation = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .ok()
        .and_then(|mut d| image::ImageDecoder::orientation(&mut d).ok());
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

pub fn encode_jpeg(img: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
    img.to_rgb8()
        .write_with_encoder(encoder)
        .context("JPEG encoding")?;
    Ok(out.into_inner())
}

pub fn encode_png(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .context("PNG encoding")?;
    Ok(out.into_inner())
}

/// A small WebP preview, longest edge at most `THUMB_EDGE`. Smaller images keep their size:
/// enlarging them would only cost time and bytes.
pub fn thumbnail(img: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let thumb = if img.width() <= THUMB_EDGE && img.height() <= THUMB_EDGE {
        img.to_rgb8()
    } else {
        img.thumbnail(THUMB_EDGE, THUMB_EDGE).to_rgb8()
    };
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(thumb)
        .write_to(&mut out, ImageFormat::WebP)
        .context("WebP encoding")?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_and_refuses_other_formats() {
        let png = encode_png(&RgbImage::new(4, 4)).unwrap();
        assert_eq!(sniff(&png).map(|s| s.1), Some("image/png"));
        assert!(sniff(b"GIF89a....").is_none());
        assert!(sniff(b"<svg xmlns=").is_none());
        assert!(sniff(b"").is_none());
    }

    #[test]
    fn broken_and_oversized_images_are_errors_not_panics() {
        let png = encode_png(&RgbImage::new(64, 64)).unwrap();
        assert!(decode_limited(&png[..png.len() / 2], ImageFormat::Png).is_err());
        // A valid header claiming 20000 x 20000 pixels.
        let mut bomb = png.clone();
        bomb[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(decode_limited(&bomb, ImageFormat::Png).is_err());
    }

    #[test]
    fn thumbnails_are_small_webp() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(1000, 500));
        let thumb = thumbnail(&img).unwrap();
        assert_eq!(sniff(&thumb).map(|s| s.1), Some("image/webp"));
        let back = image::load_from_memory(&thumb).unwrap();
        assert_eq!((back.width(), back.height()), (320, 160));
        let small = thumbnail(&DynamicImage::ImageRgb8(RgbImage::new(40, 20))).unwrap();
        let back = image::load_from_memory(&small).unwrap();
        assert_eq!((back.width(), back.height()), (40, 20));
    }
}
