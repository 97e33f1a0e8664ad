//! The built-in `local` engine: works offline and says what it is, a procedural engine, not AI.
//! t2i paints a scene from the prompt's words; i2i applies real filters to the reference;
//! t2v and i2v write H.264 MP4 clips (pan and zoom, keyframe interpolation).

pub mod filters;
pub mod paint;
pub mod video;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use image::RgbImage;

use super::{Job, Output, Polled, Provider, ProviderError, ProviderResult, Submitted};
use crate::generation::model::{frame_size, short_edge, Kind};
use crate::storage::images::encode_png;

pub struct Local;

pub const DEFAULT_IMAGE: (u32, u32) = (1024, 1024);
pub const DEFAULT_VIDEO: (u32, u32) = (960, 540);
const MAX_EDGE: u32 = 2048;

/// "WIDTHxHEIGHT" (also "W*H"), clamped to 64..=2048 per side.
pub fn parse_size(size: Option<&str>, default: (u32, u32)) -> (u32, u32) {
    let parsed = size.and_then(|s| {
        let (w, h) = s.split_once(['x', '*', 'X'])?;
        Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?))
    });
    let (w, h) = parsed.unwrap_or(default);
    (w.clamp(64, MAX_EDGE), h.clamp(64, MAX_EDGE))
}

fn decode(job: &Job, index: usize) -> ProviderResult<RgbImage> {
    let input = job.images.get(index).ok_or_else(|| {
        ProviderError::permanent("gen_err.reference_missing", "no reference image")
    })?;
    let img = image::load_from_memory(&input.bytes)
        .map_err(|e| ProviderError::permanent("gen_err.reference_broken", e.to_string()))?;
    // Work at a sensible size: filter cost grows with pixels. (`thumbnail` would also enlarge.)
    if img.width() > MAX_EDGE || img.height() > MAX_EDGE {
        Ok(img.thumbnail(MAX_EDGE, MAX_EDGE).to_rgb8())
    } else {
        Ok(img.to_rgb8())
    }
}

fn failed(e: anyhow::Error) -> ProviderError {
    ProviderError::permanent("gen_err.engine", format!("{e:#}"))
}

fn run(job: &Job) -> ProviderResult<Output> {
    let seed = job.params.seed.unwrap_or(0);
    let png = |img: RgbImage| {
        encode_png(&img)
            .map(|bytes| Output {
                bytes,
                mime: "image/png".into(),
            })
            .map_err(failed)
    };
    let mp4 = |bytes: Vec<u8>| Output {
        bytes,
        mime: "video/mp4".into(),
    };
    let seconds = job.params.duration.unwrap_or(3).clamp(2, 5);
    let report = &job.report;
    // Only pictures painted from words have words to report on.
    if matches!(job.kind, Kind::T2i | Kind::T2v) {
        report.set_notes(paint::understand(&job.prompt));
    }
    match job.kind {
        Kind::T2i => {
            let (w, h) = parse_size(job.params.size.as_deref(), DEFAULT_IMAGE);
            png(paint::paint_reporting(&job.prompt, seed, w, h, &|done| {
                report.progress(done)
            }))
        }
        Kind::I2i => {
            let src = decode(job, 0)?;
            let palette = if job.images.len() > 1 {
                Some(decode(job, 1)?)
            } else {
                None
            };
            let style = job
                .params
                .style
                .as_deref()
                .and_then(filters::Style::from_name)
                .unwrap_or_else(|| filters::Style::from_prompt(&job.prompt));
            let strength = job.params.strength.unwrap_or(0.85);
            png(filters::stylize(
                &src,
                style,
                strength,
                &job.prompt,
                palette.as_ref(),
                seed,
            ))
        }
        Kind::T2v => {
            let (w, h) = parse_size(job.params.size.as_deref(), DEFAULT_VIDEO);
            // Painted larger than the frame, so the camera has room to move.
            // Painting is about a fifth of the work, encoding the rest.
            let still = paint::paint_reporting(
                &job.prompt,
                seed,
                (w * 5 / 4).min(MAX_EDGE),
                (h * 5 / 4).min(MAX_EDGE),
                &|done| report.progress(done * 0.2),
            );
            video::pan_zoom(&still, w, h, seconds, seed, &|done| {
                report.progress(0.2 + done * 0.8)
            })
            .map(mp4)
            .map_err(failed)
        }
        Kind::I2v => {
            let first = decode(job, 0)?;
            let last = if job.images.len() > 1 {
                decode(job, 1)?
            } else {
                first.clone()
            };
            // Without a size, the video takes the first keyframe's shape.
            let (w, h) = match job.params.size.as_deref() {
                Some(size) => parse_size(Some(size), DEFAULT_VIDEO),
                None => frame_size(
                    first.width(),
                    first.height(),
                    job.params
                        .resolution
                        .as_deref()
                        .and_then(short_edge)
                        .or(Some(DEFAULT_VIDEO.1)),
                    true,
                ),
            };
            video::keyframes(&first, &last, w, h, seconds, seed, &|done| {
                report.progress(done)
            })
            .map(mp4)
            .map_err(failed)
        }
    }
}

impl Provider for Local {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            // Pixel work is CPU-bound: it runs on the blocking pool, never on the executor.
            let job = job.clone();
            let output = tokio::task::spawn_blocking(move || run(&job))
                .await
                .map_err(|e| ProviderError::permanent("gen_err.engine", e.to_string()))??;
            Ok(Submitted::Done(output))
        }
        .boxed()
    }

    fn poll<'a>(
        &'a self,
        _job: &'a Job,
        _remote_id: &'a str,
    ) -> BoxFuture<'a, ProviderResult<Polled>> {
        async {
            Err(ProviderError::permanent(
                "gen_err.engine",
                "the local engine has no remote tasks",
            ))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_and_clamped() {
        assert_eq!(parse_size(Some("640x480"), DEFAULT_IMAGE), (640, 480));
        assert_eq!(parse_size(Some("1280*720"), DEFAULT_IMAGE), (1280, 720));
        assert_eq!(parse_size(Some("99999x2"), DEFAULT_IMAGE), (2048, 64));
        assert_eq!(parse_size(Some("huge"), DEFAULT_IMAGE), DEFAULT_IMAGE);
        assert_eq!(parse_size(None, DEFAULT_VIDEO), DEFAULT_VIDEO);
    }
}
