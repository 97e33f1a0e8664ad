//! The templates and style presets shipped in the binary (`builtin.toml`), in Chinese and
//! English, and the presets of the configuration beside them.

use std::sync::LazyLock;

use serde::Deserialize;

use super::model::Language;
use crate::config::PresetConfig;

#[derive(Debug, Deserialize)]
struct Shipped {
    templates: Vec<Template>,
    presets: Vec<Preset>,
}

/// A built-in template, in both languages.
#[derive(Debug, Clone, Deserialize)]
pub struct Template {
    pub id: String,
    zh: TemplateText,
    en: TemplateText,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TemplateText {
    pub name: String,
    pub body: String,
    pub negative: String,
}

impl Template {
    pub fn text(&self, lang: Language) -> &TemplateText {
        match lang {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }
}

/// A style preset, in both languages (a configured one says the same in both).
#[derive(Debug, Clone, Deserialize)]
pub struct Preset {
    pub id: String,
    zh: PresetText,
    en: PresetText,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PresetText {
    pub name: String,
    pub words: String,
    pub negative: String,
}

impl Preset {
    pub fn text(&self, lang: Language) -> &PresetText {
        match lang {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }

    fn from_config(p: &PresetConfig) -> Preset {
        let text = PresetText {
            name: p.name.trim().to_string(),
            words: p.words.trim().to_string(),
            negative: p.negative_prompt.trim().to_string(),
        };
        Preset {
            id: p.id.clone(),
            zh: text.clone(),
            en: text,
        }
    }
}

static SHIPPED: LazyLock<Shipped> = LazyLock::new(|| {
    toml::from_str(include_str!("builtin.toml")).unwrap_or_else(|e| {
        // A unit test parses the file; this only guards a broken build from panicking.
        tracing::error!("src/prompts/builtin.toml does not parse: {e}");
        Shipped {
            templates: Vec::new(),
            presets: Vec::new(),
        }
    })
});

pub fn templates() -> &'static [Template] {
    &SHIPPED.templates
}

pub fn template(id: &str) -> Option<&'static Template> {
    SHIPPED.templates.iter().find(|t| t.id == id)
}

/// The built-in presets, each replaced by a configured one of the same id, then the other
/// configured ones in their order.
pub fn presets(configured: &[PresetConfig]) -> Vec<Preset> {
    let mut all: Vec<Preset> = SHIPPED
        .presets
        .iter()
        .map(|p| match configured.iter().find(|c| c.id == p.id) {
            Some(c) => Preset::from_config(c),
            None => p.clone(),
        })
        .collect();
    for c in configured {
        if !all.iter().any(|p| p.id == c.id) {
            all.push(Preset::from_config(c));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::service::placeholders;

    #[test]
    fn the_shipped_file_parses_and_both_languages_ask_for_the_same_placeholders() {
        let shipped: Shipped = toml::from_str(include_str!("builtin.toml")).unwrap();
        assert!(shipped.templates.len() >= 6 && shipped.presets.len() >= 6);
        for t in &shipped.templates {
            let of = |x: &TemplateText| {
                let mut p = placeholders(&format!("{} {}", x.body, x.negative));
                p.sort();
                p
            };
            assert_eq!(of(&t.zh), of(&t.en), "{}", t.id);
            assert!(!of(&t.zh).is_empty(), "{} has no placeholder", t.id);
            assert_eq!(Language::of(&t.zh.body), Language::Zh, "{}", t.id);
            assert_eq!(Language::of(&t.en.body), Language::En, "{}", t.id);
        }
        for p in &shipped.presets {
            assert_eq!(Language::of(&p.zh.words), Language::Zh, "{}", p.id);
            assert_eq!(Language::of(&p.en.words), Language::En, "{}", p.id);
        }
    }

    #[test]
    fn a_configured_preset_replaces_the_built_in_one_of_its_id_and_adds_the_others() {
        let configured = vec![
            PresetConfig {
                id: "anime".into(),
                name: "Studio anime".into(),
                words: "studio anime".into(),
                negative_prompt: String::new(),
            },
            PresetConfig {
                id: "house".into(),
                name: "House style".into(),
                words: "our palette".into(),
                negative_prompt: "logos".into(),
            },
        ];
        let all = presets(&configured);
        assert_eq!(all.len(), SHIPPED.presets.len() + 1);
        let anime = all.iter().find(|p| p.id == "anime").unwrap();
        assert_eq!(anime.text(Language::Zh).words, "studio anime");
        assert_eq!(all.last().unwrap().id, "house");
    }
}
