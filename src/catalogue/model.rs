//! What a model can do (issue 13 item 2) and what its work costs (item 6): the capabilities a
//! model entry declares in `[providers.models.capabilities]` over its provider kind's defaults.

use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, ProviderKind};
use crate::generation::model::Kind;

/// The offline engine's i2i filters (`params.style`).
pub const LOCAL_STYLES: [&str; 5] = [
    "oil_painting",
    "watercolor",
    "pencil_sketch",
    "pixel_art",
    "color_transfer",
];

/// Millionths of a currency unit: charges and budgets add up exactly.
pub const MICROS: f64 = 1_000_000.0;

/// A model's capabilities as `GET /api/v1/models` states them and `submit` enforces them.
/// The kinds it makes are the model's `kinds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Capabilities {
    /// Aspect ratios (`W:H`) a request may name; empty: any, mapped to the nearest the vendor takes.
    pub aspects: Vec<String>,
    /// Exact sizes (`WxH`) a request may name; empty: any from 64 to 2048 per side.
    pub sizes: Vec<String>,
    /// Video resolutions (`480p`, `720p`, `1080p`) a video task may name; empty: none.
    pub resolutions: Vec<String>,
    /// Video lengths in seconds a video task may name; empty: the vendor decides.
    pub durations: Vec<u32>,
    /// The length a video gets when the request names none.
    pub default_duration: Option<u32>,
    /// Reference images one task may carry, within its type's own range (i2i 1–3, i2v 1–2).
    pub max_references: u32,
    /// Results one submit may ask for (`params.n`).
    pub max_n: u32,
    /// Takes `params.seed`.
    pub seed: bool,
    /// Takes `params.negative_prompt`.
    pub negative_prompt: bool,
    /// Takes `params.strength` (image to image).
    pub strength: bool,
    /// `params.style` values of image to image; empty: none.
    pub styles: Vec<String>,
}

/// The model's price, as configured (`price_per_image`, `price_per_video_second`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Price {
    /// One picture; null: not priced.
    pub per_image: Option<f64>,
    /// One second of video; null: not priced.
    pub per_video_second: Option<f64>,
    /// `stats.currency`.
    pub currency: String,
}

impl Price {
    /// The model's price as configured, if it has one.
    pub fn of(model: &ModelConfig, currency: &str) -> Option<Price> {
        (model.price_per_image.is_some() || model.price_per_video_second.is_some()).then(|| Price {
            per_image: model.price_per_image,
            per_video_second: model.price_per_video_second,
            currency: currency.to_string(),
        })
    }

    /// What `images` pictures and `video_ms` of video cost, in the currency (statistics).
    pub fn of_output(&self, images: i64, video_ms: i64) -> f64 {
        images as f64 * self.per_image.unwrap_or(0.0)
            + video_ms as f64 / 1000.0 * self.per_video_second.unwrap_or(0.0)
    }

    /// What one task of `kind` lasting `seconds` (videos) costs, in micros; None when unpriced.
    pub fn micros(&self, kind: Kind, seconds: Option<u32>) -> Option<i64> {
        let amount = if kind.is_video() {
            self.per_video_second? * f64::from(seconds.unwrap_or(0))
        } else {
            self.per_image?
        };
        Some((amount * MICROS).round() as i64)
    }
}

/// `[providers.models.capabilities]`: any key set replaces the provider kind's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durations: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_references: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub styles: Option<Vec<String>>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Capabilities {
    /// What an adapter of `kind` does with a model making `kinds`, from its documented API
    /// (docs/providers.md): a permissive base that each kind narrows (a new kind must say how).
    pub fn defaults(provider: ProviderKind, kinds: &[Kind]) -> Capabilities {
        let video = kinds.iter().any(|k| k.is_video());
        let mut caps = Capabilities {
            aspects: Vec::new(),
            sizes: Vec::new(),
            resolutions: if video {
                strings(&["480p", "720p", "1080p"])
            } else {
                Vec::new()
            },
            durations: if video { vec![5, 10] } else { Vec::new() },
            default_duration: video.then_some(5),
            max_references: 3,
            max_n: crate::generation::service::MAX_COUNT,
            seed: true,
            negative_prompt: true,
            strength: false,
            styles: Vec::new(),
        };
        match provider {
            ProviderKind::Local => {
                // The offline engine writes 2–5 s clips, 3 s unless told.
                caps.durations = vec![2, 3, 4, 5];
                caps.default_duration = video.then_some(3);
                caps.strength = true;
                caps.styles = strings(&LOCAL_STYLES);
            }
            // OpenAI Images: no seed, no negative prompt; edits take several pictures.
            ProviderKind::Openai => {
                caps.seed = false;
                caps.negative_prompt = false;
            }
            // Wan: 5 or 10 s videos; seed and negative prompt; no strength.
            ProviderKind::Dashscope => {}
            // Stable Image: one picture with a strength; no video.
            ProviderKind::Stability => {
                caps.max_references = 1;
                caps.strength = true;
            }
            // Seedream 4.x takes no seed and no negative prompt; Seedance takes a seed.
            ProviderKind::Ark => {
                caps.seed = video;
                caps.negative_prompt = false;
                caps.durations = (2..=10).collect();
            }
            // Kling: std (720p) or pro (1080p), 5 or 10 s, no seed; first and last frame.
            ProviderKind::Kling => {
                caps.resolutions = strings(&["720p", "1080p"]);
                caps.seed = false;
                caps.max_references = 2;
            }
            // Hunyuan: pictures; one reference (ContentImage), seed and negative prompt.
            ProviderKind::Hunyuan => caps.max_references = 1,
            // Local GPU servers: one init image with a denoising strength.
            ProviderKind::A1111 | ProviderKind::Comfyui => {
                caps.max_references = 1;
                caps.strength = true;
            }
        }
        caps
    }

    /// The defaults of the provider kind with the model entry's own declarations over them.
    pub fn of(provider: ProviderKind, model: &ModelConfig) -> Capabilities {
        let mut caps = Capabilities::defaults(provider, &model.kinds);
        let c = &model.capabilities;
        macro_rules! over {
            ($($field:ident),*) => {$(
                if let Some(v) = &c.$field {
                    caps.$field = v.clone();
                }
            )*};
        }
        over!(aspects, sizes, resolutions, durations, styles);
        over!(max_references, max_n, seed, negative_prompt, strength);
        if c.default_duration.is_some() {
            caps.default_duration = c.default_duration;
        }
        if !caps.durations.is_empty()
            && !caps
                .default_duration
                .is_some_and(|d| caps.durations.contains(&d))
        {
            caps.default_duration = caps.durations.first().copied();
        }
        caps
    }

    /// Why `model` cannot be used as configured, naming the key; checked at start-up.
    pub fn problem(&self) -> Option<String> {
        let max = crate::generation::service::MAX_COUNT;
        if !(1..=max).contains(&self.max_n) {
            return Some(format!("max_n must be between 1 and {max}"));
        }
        if let Some(a) = self
            .aspects
            .iter()
            .find(|a| crate::generation::model::parse_aspect(a).is_none())
        {
            return Some(format!("aspects: {a:?} is not W:H"));
        }
        if let Some(s) = self.sizes.iter().find(|s| parse_size(s).is_none()) {
            return Some(format!("sizes: {s:?} is not WIDTHxHEIGHT within 64–2048"));
        }
        if let Some(r) = self
            .resolutions
            .iter()
            .find(|r| crate::generation::model::short_edge(r).is_none())
        {
            return Some(format!("resolutions: {r:?} is not 480p, 720p or 1080p"));
        }
        if let Some(d) = self.durations.iter().find(|d| !(2..=10).contains(*d)) {
            return Some(format!("durations: {d} is not 2–10 seconds"));
        }
        if let Some(s) = self
            .styles
            .iter()
            .find(|s| s.is_empty() || s.chars().count() > 50)
        {
            return Some(format!("styles: {s:?} must be 1–50 characters"));
        }
        None
    }
}

/// "1024x1024" (or with `*`) as (w, h) within 64–2048 per side.
pub fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.trim().split_once(['x', '*'])?;
    let (w, h) = (w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?);
    ((64..=2048).contains(&w) && (64..=2048).contains(&h)).then_some((w, h))
}

/// A charge as the library shows it beside a result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostView {
    /// What the task was charged, in `currency`.
    pub amount: f64,
    pub currency: String,
    /// Given back: the task failed or was canceled.
    pub refunded: bool,
    /// The amount for people, `0.04 CNY`.
    pub shown: String,
}

impl CostView {
    pub fn of(micros: i64, currency: String, refunded: bool) -> CostView {
        CostView {
            amount: units(micros),
            shown: money(micros, &currency),
            currency,
            refunded,
        }
    }
}

/// `amount` micros as a decimal number of the currency.
pub fn units(micros: i64) -> f64 {
    micros as f64 / MICROS
}

/// An amount for people: two decimals, more only where they would hide a small price.
pub fn money(micros: i64, currency: &str) -> String {
    let v = units(micros);
    let mut text = format!("{v:.4}");
    while text.ends_with('0') && text.len() - text.find('.').unwrap_or(0) > 3 {
        text.pop();
    }
    format!("{text} {currency}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_small_prices_whole() {
        assert_eq!(money(40_000, "USD"), "0.04 USD");
        assert_eq!(money(35_000, "USD"), "0.035 USD");
        assert_eq!(money(1_500_000, "CNY"), "1.50 CNY");
        assert_eq!(money(0, "CNY"), "0.00 CNY");
    }

    #[test]
    fn declarations_replace_the_kind_defaults() {
        let model = ModelConfig {
            name: "m".into(),
            kinds: vec![Kind::T2v],
            capabilities: CapabilitiesConfig {
                durations: Some(vec![4, 8]),
                seed: Some(false),
                ..Default::default()
            },
            ..Default::default()
        };
        let caps = Capabilities::of(ProviderKind::Dashscope, &model);
        assert_eq!(caps.durations, vec![4, 8]);
        assert_eq!(caps.default_duration, Some(4), "5 is not offered");
        assert!(!caps.seed);
        assert!(caps.negative_prompt, "the default stays");
        assert_eq!(caps.problem(), None);
        let local = Capabilities::defaults(ProviderKind::Local, &[Kind::T2v, Kind::I2i]);
        assert_eq!(local.default_duration, Some(3));
        assert!(local.strength && local.seed && local.negative_prompt);
    }

    #[test]
    fn prices_are_per_picture_or_per_video_second() {
        let p = Price {
            per_image: Some(0.04),
            per_video_second: Some(0.5),
            currency: "CNY".into(),
        };
        assert_eq!(p.micros(Kind::T2i, None), Some(40_000));
        assert_eq!(p.micros(Kind::T2v, Some(5)), Some(2_500_000));
        let free = Price {
            per_image: None,
            ..p
        };
        assert_eq!(free.micros(Kind::I2i, None), None);
    }
}
