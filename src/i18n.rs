//! Translations: `locales/<lang>/*.toml`, embedded in the binary and merged per language.
//! Chinese is the default; English is one click away (`pd_lang` cookie) or asked for by
//! `Accept-Language`.

use std::sync::LazyLock;

use actix_web::HttpRequest;
use rust_embed::RustEmbed;
use serde_json::Value;

#[derive(RustEmbed)]
#[folder = "locales/"]
#[include = "*.toml"]
struct LocaleFiles;

pub const LANG_COOKIE: &str = "pd_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Cookie first (the person chose), then the browser's first preference, then Chinese.
    pub fn of(req: &HttpRequest) -> Lang {
        if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
            return lang;
        }
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.trim_start().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
}

pub struct Locales {
    zh: Value,
    en: Value,
}

static LOCALES: LazyLock<Locales> = LazyLock::new(|| {
    Locales::load().unwrap_or_else(|e| {
        tracing::error!("locales failed to load: {e:#}");
        Locales {
            zh: Value::Null,
            en: Value::Null,
        }
    })
});

impl Locales {
    fn load() -> anyhow::Result<Self> {
        Ok(Locales {
            zh: Self::load_lang("zh")?,
            en: Self::load_lang("en")?,
        })
    }

    fn load_lang(lang: &str) -> anyhow::Result<Value> {
        let mut merged = serde_json::Map::new();
        let prefix = format!("{lang}/");
        for name in LocaleFiles::iter().filter(|n| n.starts_with(&prefix)) {
            let file = LocaleFiles::get(&name).ok_or_else(|| anyhow::anyhow!("missing {name}"))?;
            let text = std::str::from_utf8(&file.data)?;
            let table: toml::Table =
                toml::from_str(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            for (k, v) in table {
                merged.insert(k, serde_json::to_value(v)?);
            }
        }
        Ok(Value::Object(merged))
    }
}

/// Fails start-up when a translation file is broken, instead of showing keys to people.
pub fn check() -> anyhow::Result<()> {
    Locales::load().map(|_| ())
}

/// The whole tree for a language, handed to templates as `t`.
pub fn tree(lang: Lang) -> &'static Value {
    match lang {
        Lang::Zh => &LOCALES.zh,
        Lang::En => &LOCALES.en,
    }
}

/// One text by dotted key (`err.username_taken`); the key itself if it is missing.
pub fn text(lang: Lang, key: &str) -> String {
    key.split('.')
        .try_fold(tree(lang), |node, part| node.get(part))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| key.to_string())
}

/// Every dotted key of a language, for the test that both languages say the same things.
pub fn keys(lang: Lang) -> Vec<String> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk("", tree(lang), &mut out);
    out.sort();
    out
}

impl actix_web::FromRequest for Lang {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Lang::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        check().unwrap();
        assert!(!keys(Lang::Zh).is_empty());
        assert_eq!(keys(Lang::Zh), keys(Lang::En));
    }

    #[test]
    fn missing_key_falls_back_to_the_key() {
        assert_eq!(text(Lang::En, "no.such.key"), "no.such.key");
    }
}
