//! A local GPU server speaking the AUTOMATIC1111 stable-diffusion-webui API (also Forge and
//! reForge, which keep it): `POST /sdapi/v1/txt2img` and `/sdapi/v1/img2img`, started with
//! `--api` (and `--api-auth user:password` for HTTP Basic authentication).
//!
//! The generation call blocks until the picture is made and answers `{images: [base64],
//! parameters, info}`. While it runs we read `GET /sdapi/v1/progress?skip_current_image=true`
//! (`progress` 0..1) and report it, so the task shows how far the server got. When the person
//! cancels, the engine drops the call and we send `POST /sdapi/v1/interrupt`: the server
//! stops sampling instead of finishing a picture nobody will see.
//!
//! The model name is the checkpoint title, sent as `override_settings.sd_model_checkpoint`
//! with `override_settings_restore_afterwards = false`, so the next task with the same model
//! finds it loaded instead of reloading it twice. Progress and interrupt are server-wide (the
//! API has no job ids there): a server PictureDeck shares with others should have
//! `concurrency = 1` and expect an interrupt to stop whatever it draws.
//!
//! Contract read 2026-12-01 from the project's own source (AUTOMATIC1111/stable-diffusion-webui,
//! `modules/api/models.py`: the request models built from `StableDiffusionProcessingTxt2Img`
//! / `Img2Img` plus `init_images`, `denoising_strength`, `send_images`, `save_images`;
//! `TextToImageResponse`; `ProgressResponse {progress, eta_relative, state, current_image,
//! textinfo}`; `modules/api/api.py`: routes, HTTP Basic auth answering 401, errors as
//! `{error, detail, body, errors}` with the exception's status, 500 for the rest).

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{base64_output, classify, json_capped, transport_error};
use super::{Job, Polled, Provider, ProviderError, ProviderResult, Report, Submitted};
use crate::generation::model::Kind;

pub const DEFAULT_BASE: &str = "http://127.0.0.1:7860";
/// How often the server's progress is read while it draws; it is cheap (no preview image).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Seeds are 32-bit in the webui; -1 asks it to pick one.
const SEED_RANGE: u64 = 1 << 32;
/// Image-to-image needs a denoising strength; the same default as the other adapters keeps a
/// reference recognisable whichever vendor runs the task.
const DEFAULT_STRENGTH: f32 = 0.6;
/// The long edge of an image-to-image result when the task names no size.
const I2I_LONG_EDGE: u32 = 1024;

pub struct A1111 {
    /// For the generation call: its timeout is the provider's, long enough for a slow GPU.
    pub http: reqwest::Client,
    /// For progress and interrupt, which answer at once.
    pub quick: reqwest::Client,
    pub base_url: String,
    /// `user:password` as given to `--api-auth`, when the server asks for it.
    pub auth: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Answer {
    images: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Progress {
    progress: f32,
}

/// A multiple of 8 (the latent is an eighth of the picture), within what the webui takes.
fn edge(v: f64) -> u32 {
    ((v / 8.0).round() as u32 * 8).clamp(64, 2048)
}

/// The size of the result: the task's own; for image-to-image without one, the reference's
/// shape with a long edge of 1024 (the webui resizes the picture to what it is told).
fn size(job: &Job) -> (u32, u32) {
    if job.kind == Kind::I2i && job.params.size.is_none() {
        let dims = job.images.first().and_then(|i| {
            image::ImageReader::new(std::io::Cursor::new(&i.bytes))
                .with_guessed_format()
                .ok()?
                .into_dimensions()
                .ok()
        });
        if let Some((w, h)) = dims {
            let scale = f64::from(I2I_LONG_EDGE) / f64::from(w.max(h).max(1));
            return (edge(f64::from(w) * scale), edge(f64::from(h) * scale));
        }
    }
    let (w, h) = super::local::parse_size(job.params.size.as_deref(), (1024, 1024));
    (edge(f64::from(w)), edge(f64::from(h)))
}

/// The request body of `txt2img` or `img2img`, and which of the two.
fn request(job: &Job) -> ProviderResult<(&'static str, Value)> {
    let (width, height) = size(job);
    let seed = job.params.seed.map_or(-1, |s| (s % SEED_RANGE) as i64);
    let mut body = json!({
        "prompt": job.prompt,
        "negative_prompt": job.params.negative_prompt.clone().unwrap_or_default(),
        "seed": seed,
        "width": width,
        "height": height,
        "batch_size": 1,
        "n_iter": 1,
        "override_settings": {"sd_model_checkpoint": job.model},
        "override_settings_restore_afterwards": false,
        "send_images": true,
        "save_images": false,
    });
    match job.kind {
        Kind::T2i => Ok(("txt2img", body)),
        Kind::I2i => {
            use base64::Engine as _;
            let image = job.images.first().ok_or_else(|| {
                ProviderError::permanent("gen_err.reference_missing", "no reference image")
            })?;
            let strength = job
                .params
                .strength
                .filter(|s| s.is_finite())
                .unwrap_or(DEFAULT_STRENGTH)
                .clamp(0.0, 1.0);
            body["init_images"] =
                json!([base64::engine::general_purpose::STANDARD.encode(&image.bytes)]);
            body["denoising_strength"] = json!((f64::from(strength) * 100.0).round() / 100.0);
            Ok(("img2img", body))
        }
        Kind::T2v | Kind::I2v => Err(ProviderError::permanent(
            "gen_err.bad_request",
            "the webui API makes pictures only",
        )),
    }
}

impl A1111 {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some((user, password)) => req.basic_auth(user, Some(password)),
            None => req,
        }
    }

    /// `"user:password"` as `--api-auth` takes it.
    pub fn parse_auth(value: &str) -> anyhow::Result<(String, String)> {
        let (user, password) = value
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the webui's api_key is \"user:password\""))?;
        Ok((user.to_string(), password.to_string()))
    }

    async fn generate(&self, job: &Job) -> ProviderResult<super::Output> {
        let (endpoint, body) = request(job)?;
        let res = self
            .authorized(self.http.post(self.url(&format!("/sdapi/v1/{endpoint}"))))
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        let answer: Answer = json_capped(classify(res).await?).await?;
        // Scripts may add pictures (a ControlNet map, a grid); the first is the result.
        let first = answer
            .images
            .and_then(|i| i.into_iter().next())
            .ok_or_else(|| ProviderError::permanent("gen_err.bad_output", "no image"))?;
        base64_output(&first)
    }

    /// How far the server is, 0..1; `None` when it would not say.
    async fn progress(&self) -> Option<f32> {
        let res = self
            .authorized(self.quick.get(self.url("/sdapi/v1/progress")))
            .query(&[("skip_current_image", "true")])
            .send()
            .await
            .ok()?;
        let answer: Progress = json_capped(classify(res).await.ok()?).await.ok()?;
        answer.progress.is_finite().then_some(answer.progress)
    }

    /// Reports the server's progress until dropped; a progress call that fails is skipped.
    async fn follow(&self, report: &Report) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            if let Some(done) = self.progress().await {
                report.progress(done);
            }
        }
    }
}

impl Provider for A1111 {
    fn submit<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, ProviderResult<Submitted>> {
        async move {
            let generate = self.generate(job);
            let follow = self.follow(&job.report);
            futures_util::pin_mut!(generate, follow);
            match futures_util::future::select(generate, follow).await {
                futures_util::future::Either::Left((output, _)) => Ok(Submitted::Done(output?)),
                futures_util::future::Either::Right((never, _)) => match never {},
            }
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
                "the webui API is synchronous",
            ))
        }
        .boxed()
    }

    fn can_interrupt(&self) -> bool {
        true
    }

    fn interrupt<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, ProviderResult<()>> {
        async move {
            let res = self
                .authorized(self.quick.post(self.url("/sdapi/v1/interrupt")))
                .send()
                .await
                .map_err(transport_error)?;
            classify(res).await.map(|_| ())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::model::Params;
    use crate::generation::providers::InputImage;

    fn job(kind: Kind, size: Option<&str>, images: Vec<InputImage>) -> Job {
        Job {
            task_uuid: "t".into(),
            kind,
            model: "sd_xl_base_1.0.safetensors [31e35c80fc]".into(),
            prompt: "p".into(),
            params: Params {
                size: size.map(str::to_string),
                seed: Some(u64::from(u32::MAX) + 8),
                ..Params::default()
            },
            images,
            report: Report::default(),
        }
    }

    #[test]
    fn sizes_are_multiples_of_eight_and_i2i_keeps_the_reference_shape() {
        assert_eq!(size(&job(Kind::T2i, Some("1000x601"), vec![])), (1000, 600));
        assert_eq!(size(&job(Kind::T2i, None, vec![])), (1024, 1024));
        let png = crate::storage::images::encode_png(&image::RgbImage::new(400, 300)).unwrap();
        let reference = InputImage {
            bytes: png,
            mime: "image/png".into(),
        };
        assert_eq!(size(&job(Kind::I2i, None, vec![reference])), (1024, 768));
    }

    #[test]
    fn the_body_names_the_checkpoint_and_a_32_bit_seed() {
        let (endpoint, body) = request(&job(Kind::T2i, Some("512x512"), vec![])).unwrap();
        assert_eq!(endpoint, "txt2img");
        assert_eq!(body["seed"], 7);
        assert_eq!(
            body["override_settings"]["sd_model_checkpoint"],
            "sd_xl_base_1.0.safetensors [31e35c80fc]"
        );
        assert!(A1111::parse_auth("alice:s3cret:x").is_ok());
        assert!(A1111::parse_auth("nopassword").is_err());
    }
}
