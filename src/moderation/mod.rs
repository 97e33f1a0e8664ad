//! Content moderation (seed 3.6.2, 6.1; issue 11 item 2): the prompt check before a task is
//! queued. Word lists (the shipped one, `moderation.words` in config, and the admins' own) are
//! matched with Aho-Corasick over a normalised prompt, so "炸 弹", "炸彈", "ＢＯＭＢ" and
//! "b.o.m.b" all meet "炸弹" / "bomb".

pub mod api;
pub mod flags;
pub mod pages;
pub mod providers;
pub mod review;
pub mod service;
pub mod store;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization as _;

/// The shipped list, `zh:` / `en:` lines.
const SHIPPED: &str = include_str!("words.txt");

/// Which list a term belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// The shipped terms.
pub fn shipped() -> Vec<(Lang, String)> {
    SHIPPED
        .lines()
        .filter_map(|line| {
            let (lang, term) = line.split_once(':')?;
            Some((Lang::parse(lang)?, term.trim().to_string()))
        })
        .filter(|(_, term)| !term.is_empty())
        .collect()
}

/// Traditional → simplified for the characters a prompt is most likely to hide behind (the
/// shipped terms' characters and common ones); not a full converter.
const TRADITIONAL: &[(char, char)] = &[
    ('兒', '儿'),
    ('彈', '弹'),
    ('藥', '药'),
    ('槍', '枪'),
    ('殺', '杀'),
    ('屍', '尸'),
    ('製', '制'),
    ('襲', '袭'),
    ('擊', '击'),
    ('戀', '恋'),
    ('強', '强'),
    ('姦', '奸'),
    ('體', '体'),
    ('販', '贩'),
    ('煉', '炼'),
    ('斬', '斩'),
    ('頭', '头'),
    ('視', '视'),
    ('頻', '频'),
    ('殘', '残'),
    ('偽', '伪'),
    ('鈔', '钞'),
    ('證', '证'),
    ('賣', '卖'),
    ('買', '买'),
    ('圖', '图'),
    ('畫', '画'),
    ('書', '书'),
    ('說', '说'),
    ('話', '话'),
    ('語', '语'),
    ('國', '国'),
    ('們', '们'),
    ('個', '个'),
    ('這', '这'),
    ('來', '来'),
    ('時', '时'),
    ('會', '会'),
    ('為', '为'),
    ('與', '与'),
    ('對', '对'),
    ('將', '将'),
    ('學', '学'),
    ('無', '无'),
    ('愛', '爱'),
    ('發', '发'),
    ('經', '经'),
    ('動', '动'),
    ('電', '电'),
    ('車', '车'),
    ('軍', '军'),
    ('門', '门'),
    ('開', '开'),
    ('關', '关'),
    ('問', '问'),
    ('間', '间'),
    ('長', '长'),
    ('風', '风'),
    ('飛', '飞'),
    ('馬', '马'),
    ('鳥', '鸟'),
    ('魚', '鱼'),
    ('龍', '龙'),
    ('歲', '岁'),
    ('幾', '几'),
    ('兇', '凶'),
    ('險', '险'),
    ('戰', '战'),
    ('爭', '争'),
    ('場', '场'),
    ('賭', '赌'),
    ('詐', '诈'),
    ('騙', '骗'),
    ('錢', '钱'),
    ('銀', '银'),
    ('幣', '币'),
    ('僞', '伪'),
    ('護', '护'),
    ('讓', '让'),
    ('應', '应'),
    ('該', '该'),
    ('歡', '欢'),
    ('樂', '乐'),
    ('親', '亲'),
    ('媽', '妈'),
    ('號', '号'),
    ('類', '类'),
    ('樣', '样'),
    ('紅', '红'),
    ('藍', '蓝'),
    ('綠', '绿'),
    ('黃', '黄'),
    ('顏', '颜'),
    ('傷', '伤'),
    ('亂', '乱'),
    ('倫', '伦'),
    ('臟', '脏'),
    ('腦', '脑'),
    ('屬', '属'),
    ('術', '术'),
    ('衛', '卫'),
    ('極', '极'),
    ('獄', '狱'),
];

fn simplified(c: char) -> char {
    TRADITIONAL
        .iter()
        .find(|(t, _)| *t == c)
        .map_or(c, |(_, s)| *s)
}

/// A text as the matcher sees it: NFKC (full width → half width), lower case, simplified, with
/// everything that is not a letter or digit dropped; `origin[i]` is the index, in the text's
/// chars, of the compact text's char `i`.
struct Compact {
    text: String,
    /// Byte offset in `text` of each compact char, and one past the end.
    offsets: Vec<usize>,
    origin: Vec<usize>,
    /// Whether each char of the original text is a letter or digit.
    word_char: Vec<bool>,
}

fn compact(text: &str) -> Compact {
    let mut out = Compact {
        text: String::with_capacity(text.len()),
        offsets: Vec::new(),
        origin: Vec::new(),
        word_char: Vec::new(),
    };
    for (i, c) in text.chars().enumerate() {
        let mut kept = false;
        for n in std::iter::once(c).nfkc() {
            for l in n.to_lowercase() {
                if l.is_alphanumeric() {
                    out.offsets.push(out.text.len());
                    out.origin.push(i);
                    out.text.push(simplified(l));
                    kept = true;
                }
            }
        }
        out.word_char.push(kept);
    }
    out.offsets.push(out.text.len());
    out
}

/// The normalised form of a term, as stored and compared (`""` when nothing is left).
pub fn normalise(term: &str) -> String {
    compact(term).text
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

/// The compiled lists.
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    /// The term each pattern came from, as written.
    terms: Vec<String>,
    /// Latin terms match whole words only ("gore" is not in "gorgeous").
    whole_word: Vec<bool>,
}

impl Matcher {
    pub fn new(terms: impl IntoIterator<Item = String>) -> Matcher {
        let mut seen = std::collections::HashSet::new();
        let (mut patterns, mut shown, mut whole_word) = (Vec::new(), Vec::new(), Vec::new());
        for term in terms {
            let key = normalise(&term);
            if key.is_empty() || !seen.insert(key.clone()) {
                continue;
            }
            whole_word.push(!key.chars().any(is_cjk));
            patterns.push(key);
            shown.push(term.trim().to_string());
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| tracing::error!("moderation word list failed to compile: {e}"))
                .ok()
        };
        Matcher {
            automaton,
            terms: shown,
            whole_word,
        }
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The listed terms `text` contains, each once, in the order they appear.
    pub fn find(&self, text: &str) -> Vec<String> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let c = compact(text);
        let mut found: Vec<String> = Vec::new();
        // Overlapping, so a term inside a longer harmless-looking run is still seen.
        for m in ac.find_overlapping_iter(&c.text) {
            let id = m.pattern().as_usize();
            if self.whole_word[id] {
                let first = c.offsets.partition_point(|o| *o < m.start());
                let last = c.offsets.partition_point(|o| *o < m.end()) - 1;
                let (from, to) = (c.origin[first], c.origin[last]);
                let before = from.checked_sub(1).is_some_and(|i| c.word_char[i]);
                let after = c.word_char.get(to + 1).copied().unwrap_or(false);
                if before || after {
                    continue;
                }
            }
            let term = &self.terms[id];
            if !found.contains(term) {
                found.push(term.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> Matcher {
        Matcher::new([
            "炸弹".to_string(),
            "bomb".into(),
            "child porn".into(),
            "gore".into(),
        ])
    }

    #[test]
    fn width_case_spacing_punctuation_and_traditional_forms_are_seen_through() {
        let m = matcher();
        for prompt in [
            "教我做炸弹",
            "炸 弹",
            "炸。彈！",
            "炸-_-弹",
            "a BOMB in the city",
            "ｂｏｍｂ",
            "b o m b",
            "b.o.m.b!",
            "Child   Porn",
            "CHILD-PORN",
        ] {
            assert!(!m.find(prompt).is_empty(), "{prompt:?} passed");
        }
        assert_eq!(m.find("炸彈和 BOMB 和炸弹"), ["炸弹", "bomb"]);
    }

    #[test]
    fn latin_terms_match_whole_words_only() {
        let m = matcher();
        for prompt in [
            "a gorgeous sunset",
            "Algore",
            "bombastic music",
            "go reach",
            "雪山日落",
        ] {
            assert!(m.find(prompt).is_empty(), "{prompt:?} refused");
        }
        assert_eq!(m.find("gore, blood"), ["gore"]);
    }

    #[test]
    fn the_shipped_list_has_both_languages_and_normalises() {
        let list = shipped();
        assert!(
            list.iter().any(|(l, _)| *l == Lang::Zh) && list.iter().any(|(l, _)| *l == Lang::En)
        );
        assert!(list.iter().all(|(_, t)| !normalise(t).is_empty()));
        let m = Matcher::new(list.into_iter().map(|(_, t)| t));
        assert!(m.find("一只可爱的小猫在草地上").is_empty());
        assert!(m.find("a watercolour of a lighthouse at dawn").is_empty());
        assert_eq!(m.find("請教我製造炸彈"), ["制造炸弹"]);
        assert!(Matcher::new(Vec::<String>::new())
            .find("anything")
            .is_empty());
    }

    #[test]
    fn normalised_terms_drop_what_is_not_a_letter() {
        assert_eq!(normalise(" Ｃｈｉｌｄ  porn! "), "childporn");
        assert_eq!(normalise("兒童"), "儿童");
        assert_eq!(normalise("..."), "");
    }
}
