//! Text to image for the offline `local` engine: a procedural painter, not a model.
//! Words in the prompt (Chinese and English) choose the scene and palette, a hash of the prompt
//! chooses the composition and the seed moves the details, so equal inputs give equal pixels.

mod subjects;

use image::RgbImage;

use crate::generation::model::ResultNotes;
use subjects::{Place, Subject, SUBJECT_WORDS};

/// Sides are clamped to this so a wild request cannot exhaust memory.
const MAX_SIDE: u32 = 4096;
/// Horizontal sub-samples per pixel for silhouettes, so their vertical edges are smooth too.
const SS: usize = 4;

type Col = [f32; 3];

/// A procedural picture for `prompt`: the same prompt, seed and size give the same pixels.
pub fn paint(prompt: &str, seed: u64, width: u32, height: u32) -> image::RgbImage {
    paint_reporting(prompt, seed, width, height, &|_| {})
}

/// The words of `prompt` the painter draws, and those it cannot: every word of its vocabulary
/// found is understood; what is left, less small words that need no drawing, is not.
pub fn understand(prompt: &str) -> ResultNotes {
    let text = prompt.trim().to_lowercase();
    let mut found: Vec<(usize, usize)> = Vec::new();
    for word in vocabulary() {
        for (pos, _) in text.match_indices(word) {
            let starts_word = !word.is_ascii()
                || !text[..pos]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphabetic());
            if starts_word {
                found.push((pos, pos + word.len()));
            }
        }
    }
    // Longest first, so "sports car" wins over "car" and "汉服" is not also "服".
    found.sort_by_key(|&(a, b)| (std::cmp::Reverse(b - a), a));
    let mut taken = vec![false; text.len()];
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (a, b) in found {
        if taken[a..b].iter().any(|t| *t) {
            continue;
        }
        taken[a..b].iter_mut().for_each(|t| *t = true);
        spans.push((a, b));
    }
    spans.sort();
    let mut notes = ResultNotes::default();
    for &(a, b) in &spans {
        let word = text[a..b].to_string();
        if !notes.understood.contains(&word) {
            notes.understood.push(word);
        }
    }
    // The rest, split at what was understood, punctuation and spaces.
    let mut rest = String::new();
    for (i, ch) in text.char_indices() {
        rest.push(if taken[i] { '|' } else { ch });
    }
    for piece in rest.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let piece = strip_small_words(piece);
        // Numbers ("雪山 2", "4k") are no subject to draw.
        let drawable = |w: &&str| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit());
        for word in piece.split(' ').filter(drawable) {
            let word = word.to_string();
            if !notes.unknown.contains(&word) {
                notes.unknown.push(word);
            }
        }
    }
    notes
}

/// Words that need no drawing: articles, measure words, "beautiful" and the like.
const SMALL_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "by",
    "under",
    "over",
    "near",
    "to",
    "from",
    "is",
    "are",
    "very",
    "beautiful",
    "cute",
    "big",
    "small",
    "little",
    "style",
    "high",
    "quality",
    "detailed",
    "4k",
    "8k",
    "hd",
    "photo",
    "picture",
    "image",
    "scene",
    "view",
    "its",
    "her",
    "his",
    "their",
    "some",
    "one",
    "two",
    "three",
    "cool",
    "fast",
    "sports",
];
const SMALL_ZH: &[&str] = &[
    "非常", "美丽", "漂亮", "可爱", "唯美", "高清", "画面", "风格", "一只", "一个", "一位", "一条",
    "一匹", "一辆", "一艘", "一架", "一座", "一栋", "一碗", "一盘", "一群", "的", "了", "在", "和",
    "与", "着", "很", "是", "有", "上", "下", "里", "中", "之", "只", "个", "位", "条", "匹", "辆",
    "艘", "架", "座", "栋", "一", "两", "几", "超", "大", "小", "旁", "边", "前", "后", "正", "天",
];

/// `piece` with small words dropped: English by word, Chinese by substring; what is left is
/// returned as space-separated words.
fn strip_small_words(piece: &str) -> String {
    if piece.is_ascii() {
        return piece
            .split_whitespace()
            .filter(|w| !SMALL_WORDS.contains(w))
            .collect::<Vec<_>>()
            .join(" ");
    }
    let mut out = piece.to_string();
    for small in SMALL_ZH {
        out = out.replace(small, " ");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every word that changes the picture.
fn vocabulary() -> impl Iterator<Item = &'static str> {
    let scene: [&[&str]; 19] = [
        SUNSET,
        WATER,
        MOUNTAIN,
        FOREST,
        NIGHT,
        SNOW,
        CITY,
        FLOWER,
        DESERT,
        CLOUD,
        RAIN,
        ABSTRACT,
        NEON,
        SUN,
        INK,
        AUTUMN,
        FIREWORKS,
        SUBJECT_EXTRA,
        COMPOUNDS,
    ];
    scene
        .into_iter()
        .flatten()
        .chain(COLOUR_WORDS.iter().flat_map(|(words, _)| words.iter()))
        .chain(SUBJECT_WORDS.iter().flat_map(|(words, _)| words.iter()))
        .copied()
}

/// [`paint`], telling `progress` the share done as it goes (the last part row by row).
pub fn paint_reporting(
    prompt: &str,
    seed: u64,
    width: u32,
    height: u32,
    progress: &dyn Fn(f32),
) -> image::RgbImage {
    let w = width.clamp(1, MAX_SIDE) as usize;
    let h = height.clamp(1, MAX_SIDE) as usize;
    let text = prompt.trim().to_lowercase();
    let key = fnv1a(text.as_bytes());
    let scene = Scene::parse(&text);
    progress(0.05);
    // Two streams: the composition follows the prompt alone, the details follow the seed too.
    let mut comp = Rng::new(key);
    let mut rng = Rng::new(key ^ Rng::new(seed).next_u64());
    let pal = Palette::new(&scene, &text, &mut comp);
    let mut c = Canvas::new(w, h);
    if scene.is_abstract() {
        abstract_art(&mut c, &scene, &pal, &text, &mut comp, &mut rng);
    } else {
        let hy = landscape(&mut c, &scene, &pal, &mut comp, &mut rng);
        progress(0.5);
        if scene.fireworks {
            subjects::fireworks(&mut c, &pal.accents, h as f32 * 0.12, hy * 0.6, &mut rng);
        }
        if let Some(subject) = scene.subject {
            draw_subject(
                &mut c, &scene, &pal, &text, subject, hy, &mut comp, &mut rng,
            );
        }
        if scene.ink {
            ink_wash(&mut c);
        }
    }
    progress(0.7);
    c.finish(rng.next_u32(), &|rows| progress(0.7 + 0.3 * rows))
}

// ---------------------------------------------------------------------------------------------
// Words

const SUNSET: &[&str] = &[
    "sunset",
    "sunrise",
    "dusk",
    "dawn",
    "twilight",
    "golden hour",
    "evening",
    "日落",
    "黄昏",
    "夕阳",
    "落日",
    "晚霞",
    "日出",
    "朝霞",
    "傍晚",
];
const WATER: &[&str] = &[
    "sea", "ocean", "lake", "water", "river", "beach", "wave", "pond", "harbo", "coast", "bay",
    "海", "湖", "水", "河", "江", "洋", "波", "港",
];
const MOUNTAIN: &[&str] = &[
    "mountain", "hill", "peak", "alpine", "cliff", "valley", "山", "峰", "岭", "峦",
];
const FOREST: &[&str] = &[
    "forest", "tree", "wood", "pine", "jungle", "森林", "树", "林", "松",
];
const NIGHT: &[&str] = &[
    "night",
    "star",
    "moon",
    "midnight",
    "galaxy",
    "milky way",
    "cosmos",
    "夜",
    "星",
    "月",
    "银河",
];
const SNOW: &[&str] = &[
    "snow", "winter", "ice", "icy", "frost", "frozen", "blizzard", "雪", "冬", "冰", "霜",
];
const CITY: &[&str] = &[
    "city",
    "cities",
    "building",
    "skyline",
    "skyscraper",
    "town",
    "urban",
    "street",
    "downtown",
    "metropolis",
    "cyberpunk",
    "城市",
    "城",
    "楼",
    "都市",
    "街",
    "大厦",
];
const FLOWER: &[&str] = &[
    "flower", "garden", "blossom", "bloom", "rose", "tulip", "petal", "meadow", "sakura", "花",
    "园", "樱", "玫瑰",
];
const DESERT: &[&str] = &["desert", "dune", "sand", "sahara", "沙漠", "沙丘"];
const CLOUD: &[&str] = &["cloud", "fog", "mist", "overcast", "云", "雾"];
const RAIN: &[&str] = &["rain", "storm", "drizzle", "雨"];
const ABSTRACT: &[&str] = &[
    "abstract", "pattern", "swirl", "fractal", "抽象", "图案", "纹理",
];
const NEON: &[&str] = &["neon", "cyberpunk", "霓虹", "赛博"];
/// Chinese ink painting: the picture turns to ink on paper.
const INK: &[&str] = &["水墨", "国画", "山水画", "ink wash", "ink painting", "sumi"];
const AUTUMN: &[&str] = &["秋", "autumn", "fall foliage", "maple", "枫"];
const FIREWORKS: &[&str] = &["烟花", "烟火", "焰火", "firework"];
/// Words the painter draws anyway (every picture has a sky and a place).
const SUBJECT_EXTRA: &[&str] = &["天空", "sky", "风景", "景色", "landscape", "scenery"];
/// Words whose characters would otherwise read as other words (水墨 is no water, 烟花 no
/// flower, 城堡 no city, 马路 no horse); they are blanked before the scene is read.
const COMPOUNDS: &[&str] = &["水墨", "烟花", "烟火", "城堡", "马路"];
const SUN: &[&str] = &["sun", "太阳", "阳光", "晴"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tint {
    Hue(f32, f32),
    Black,
    White,
}

const COLOUR_WORDS: &[(&[&str], Tint)] = &[
    (
        &["red", "crimson", "scarlet", "红", "紅", "赤"],
        Tint::Hue(356.0, 0.8),
    ),
    (&["orange", "橙", "橘"], Tint::Hue(24.0, 0.9)),
    (&["gold", "金"], Tint::Hue(43.0, 0.85)),
    (&["yellow", "黄色"], Tint::Hue(52.0, 0.9)),
    (
        &["green", "emerald", "绿", "綠", "翠"],
        Tint::Hue(135.0, 0.6),
    ),
    (&["blue", "azure", "蓝", "藍"], Tint::Hue(215.0, 0.75)),
    (
        &["purple", "violet", "lavender", "紫"],
        Tint::Hue(278.0, 0.6),
    ),
    (&["pink", "粉"], Tint::Hue(335.0, 0.75)),
    (&["black", "黑"], Tint::Black),
    (&["white", "白"], Tint::White),
];

/// Earliest position of any of `words` in `text`. English words must start a word, so "street"
/// is no "tree" and "covered" no "red"; Chinese has no spaces, so any substring counts.
fn find_word(text: &str, words: &[&str]) -> Option<usize> {
    words
        .iter()
        .filter_map(|word| {
            text.match_indices(word).map(|(pos, _)| pos).find(|&pos| {
                !word.is_ascii()
                    || !text[..pos]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphabetic())
            })
        })
        .min()
}

/// Colour words in the order they appear.
fn colour_words(text: &str) -> Vec<Tint> {
    let mut found: Vec<(usize, Tint)> = COLOUR_WORDS
        .iter()
        .filter_map(|(words, tint)| find_word(text, words).map(|pos| (pos, *tint)))
        .collect();
    found.sort_by_key(|f| f.0);
    found.into_iter().map(|f| f.1).collect()
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Scene {
    sunset: bool,
    water: bool,
    mountain: bool,
    forest: bool,
    night: bool,
    snow: bool,
    city: bool,
    flower: bool,
    desert: bool,
    cloud: bool,
    rain: bool,
    abstract_art: bool,
    neon: bool,
    sun: bool,
    ink: bool,
    autumn: bool,
    fireworks: bool,
    subject: Option<Subject>,
}

impl Scene {
    fn parse(full: &str) -> Scene {
        let subject = SUBJECT_WORDS
            .iter()
            .filter_map(|(words, subject)| {
                find_word(&blank(full, &["马路"]), words).map(|p| (p, *subject))
            })
            .min_by_key(|(pos, _)| *pos)
            .map(|(_, subject)| subject);
        let text = &blank(full, COMPOUNDS);
        let has = |words: &[&str]| find_word(text, words).is_some();
        let fireworks = find_word(full, FIREWORKS).is_some();
        let scene = Scene {
            ink: find_word(full, INK).is_some(),
            autumn: has(AUTUMN),
            fireworks,
            subject,
            sunset: has(SUNSET),
            water: has(WATER),
            mountain: has(MOUNTAIN),
            forest: has(FOREST),
            night: has(NIGHT),
            snow: has(SNOW),
            city: has(CITY),
            flower: has(FLOWER),
            desert: has(DESERT),
            cloud: has(CLOUD),
            rain: has(RAIN),
            abstract_art: has(ABSTRACT),
            neon: has(NEON),
            sun: has(SUN),
        };
        Scene {
            // Fireworks are seen at night; a boat or a fish needs water.
            night: scene.night || fireworks,
            water: scene.water || subject.is_some_and(Subject::floats),
            // Autumn is seen in the trees.
            forest: scene.forest || (scene.autumn && !scene.city && !scene.desert),
            ..scene
        }
    }

    fn any_landscape(&self) -> bool {
        self.any_scenery() || self.autumn || self.fireworks || self.ink || self.subject.is_some()
    }

    /// Named any place or weather (not only a subject or a mood).
    fn any_scenery(&self) -> bool {
        self.sunset
            || self.water
            || self.mountain
            || self.forest
            || self.night
            || self.snow
            || self.city
            || self.flower
            || self.desert
            || self.cloud
            || self.rain
            || self.sun
    }

    fn is_abstract(&self) -> bool {
        self.abstract_art || !self.any_landscape()
    }
}

// ---------------------------------------------------------------------------------------------
// Palette

#[derive(Clone)]
struct Palette {
    /// Top of the sky down to the horizon.
    sky: [Col; 4],
    sun: Col,
    glow: Col,
    haze: Col,
    far: Col,
    near: Col,
    foliage: Col,
    grass: Col,
    sand: Col,
    water: Col,
    snow: Col,
    snow_shade: Col,
    cloud_lit: Col,
    cloud_shade: Col,
    /// Flowers, neon, lit windows.
    accents: Vec<Col>,
    /// How much light falls on the land (1 by day, low at night).
    ambient: f32,
}

impl Palette {
    fn day() -> Palette {
        Palette {
            sky: [
                hsl(214.0, 0.62, 0.40),
                hsl(208.0, 0.62, 0.55),
                hsl(200.0, 0.55, 0.70),
                hsl(195.0, 0.45, 0.85),
            ],
            sun: [1.0, 0.98, 0.9],
            glow: [1.0, 0.93, 0.75],
            haze: hsl(200.0, 0.35, 0.78),
            far: hsl(215.0, 0.25, 0.55),
            near: hsl(150.0, 0.3, 0.22),
            foliage: hsl(135.0, 0.42, 0.22),
            grass: hsl(95.0, 0.48, 0.36),
            sand: hsl(36.0, 0.62, 0.62),
            water: hsl(205.0, 0.6, 0.26),
            snow: [0.97, 0.98, 1.0],
            snow_shade: hsl(215.0, 0.35, 0.72),
            cloud_lit: [1.0, 1.0, 0.98],
            cloud_shade: hsl(215.0, 0.2, 0.72),
            accents: vec![
                hsl(352.0, 0.8, 0.55),
                hsl(45.0, 0.95, 0.58),
                hsl(285.0, 0.55, 0.62),
                hsl(20.0, 0.9, 0.6),
                [0.97, 0.96, 0.95],
            ],
            ambient: 1.0,
        }
    }

    fn sunset() -> Palette {
        Palette {
            sky: [
                hsl(245.0, 0.45, 0.2),
                hsl(292.0, 0.33, 0.38),
                hsl(10.0, 0.75, 0.6),
                hsl(36.0, 0.95, 0.66),
            ],
            sun: [1.0, 0.93, 0.72],
            glow: [1.0, 0.55, 0.25],
            haze: hsl(342.0, 0.42, 0.66),
            far: hsl(268.0, 0.24, 0.42),
            near: hsl(262.0, 0.3, 0.12),
            foliage: hsl(255.0, 0.28, 0.11),
            grass: hsl(60.0, 0.35, 0.24),
            sand: hsl(24.0, 0.7, 0.55),
            water: hsl(255.0, 0.35, 0.2),
            snow: [1.0, 0.85, 0.75],
            snow_shade: hsl(265.0, 0.25, 0.52),
            cloud_lit: [1.0, 0.62, 0.42],
            cloud_shade: hsl(290.0, 0.25, 0.36),
            accents: vec![
                hsl(345.0, 0.85, 0.6),
                hsl(35.0, 0.95, 0.6),
                hsl(300.0, 0.5, 0.6),
                hsl(15.0, 0.9, 0.55),
                [1.0, 0.92, 0.85],
            ],
            ambient: 0.75,
        }
    }

    fn night() -> Palette {
        Palette {
            sky: [
                hsl(232.0, 0.6, 0.035),
                hsl(228.0, 0.55, 0.08),
                hsl(222.0, 0.5, 0.14),
                hsl(212.0, 0.45, 0.22),
            ],
            sun: [0.95, 0.94, 0.86],
            glow: hsl(215.0, 0.5, 0.6),
            haze: hsl(218.0, 0.4, 0.2),
            far: hsl(225.0, 0.3, 0.16),
            near: hsl(230.0, 0.35, 0.05),
            foliage: hsl(200.0, 0.3, 0.05),
            grass: hsl(160.0, 0.25, 0.1),
            sand: hsl(230.0, 0.2, 0.3),
            water: hsl(225.0, 0.5, 0.06),
            snow: hsl(215.0, 0.35, 0.72),
            snow_shade: hsl(225.0, 0.35, 0.35),
            cloud_lit: hsl(220.0, 0.25, 0.4),
            cloud_shade: hsl(228.0, 0.3, 0.1),
            accents: vec![
                hsl(45.0, 0.95, 0.65),
                hsl(320.0, 0.9, 0.6),
                hsl(190.0, 0.9, 0.55),
                hsl(0.0, 0.8, 0.6),
                [0.95, 0.95, 1.0],
            ],
            ambient: 0.3,
        }
    }

    fn lerp(a: &Palette, b: &Palette, t: f32) -> Palette {
        let mut p = a.clone();
        let pairs = [
            (&mut p.sun, b.sun),
            (&mut p.glow, b.glow),
            (&mut p.haze, b.haze),
            (&mut p.far, b.far),
            (&mut p.near, b.near),
            (&mut p.foliage, b.foliage),
            (&mut p.grass, b.grass),
            (&mut p.sand, b.sand),
            (&mut p.water, b.water),
            (&mut p.snow, b.snow),
            (&mut p.snow_shade, b.snow_shade),
            (&mut p.cloud_lit, b.cloud_lit),
            (&mut p.cloud_shade, b.cloud_shade),
        ];
        for (c, other) in pairs {
            *c = mix(*c, other, t);
        }
        for (c, other) in p.sky.iter_mut().zip(b.sky) {
            *c = mix(*c, other, t);
        }
        p.ambient = lerp(a.ambient, b.ambient, t);
        p
    }

    /// Visits every colour with how strongly a colour word should pull it.
    fn each(&mut self, mut f: impl FnMut(&mut Col, f32)) {
        for c in &mut self.sky {
            f(c, 0.3);
        }
        f(&mut self.sun, 0.3);
        f(&mut self.glow, 0.5);
        f(&mut self.haze, 0.45);
        f(&mut self.far, 0.4);
        f(&mut self.near, 0.3);
        f(&mut self.foliage, 0.25);
        f(&mut self.grass, 0.25);
        f(&mut self.sand, 0.3);
        f(&mut self.water, 0.5);
        f(&mut self.snow, 0.12);
        f(&mut self.snow_shade, 0.35);
        f(&mut self.cloud_lit, 0.35);
        f(&mut self.cloud_shade, 0.45);
    }

    fn new(sc: &Scene, text: &str, comp: &mut Rng) -> Palette {
        let mut p = match (sc.night, sc.sunset) {
            (true, true) => Palette::lerp(&Palette::night(), &Palette::sunset(), 0.35),
            (true, false) => Palette::night(),
            (false, true) => Palette::sunset(),
            (false, false) => Palette::day(),
        };
        if sc.snow {
            let k = if sc.night { 0.12 } else { 0.3 };
            for c in &mut p.sky {
                *c = mix(*c, [0.95, 0.97, 1.0], k);
            }
            p.haze = mix(p.haze, [0.95, 0.97, 1.0], k);
        }
        if sc.rain {
            p.each(|c, _| *c = mul(mix(*c, [luma(*c); 3], 0.7), 0.8));
            p.cloud_lit = mul([0.58, 0.6, 0.64], p.ambient.max(0.35));
            p.cloud_shade = mul([0.28, 0.3, 0.34], p.ambient.max(0.35));
            p.ambient *= 0.75;
        }
        if sc.autumn {
            p.foliage = mix(
                hsl(20.0, 0.78, 0.42),
                p.foliage,
                1.0 - p.ambient.min(1.0) * 0.9,
            );
            p.grass = mix(hsl(38.0, 0.6, 0.42), p.grass, 0.2);
            p.near = mix(p.near, hsl(15.0, 0.5, 0.25), 0.6);
            p.accents = vec![
                hsl(12.0, 0.85, 0.5),
                hsl(32.0, 0.9, 0.55),
                hsl(45.0, 0.9, 0.55),
                hsl(0.0, 0.7, 0.42),
            ];
        }
        if sc.desert && !sc.night {
            p.sky[3] = mix(p.sky[3], hsl(38.0, 0.6, 0.82), 0.5);
            p.sky[2] = mix(p.sky[2], hsl(30.0, 0.5, 0.75), 0.2);
            p.haze = mix(p.haze, hsl(35.0, 0.5, 0.75), 0.5);
        }
        if sc.neon {
            p.accents = vec![
                hsl(315.0, 1.0, 0.6),
                hsl(186.0, 1.0, 0.55),
                hsl(275.0, 0.9, 0.65),
                hsl(340.0, 1.0, 0.62),
                hsl(210.0, 1.0, 0.62),
            ];
            if sc.night {
                p.sky[3] = mix(p.sky[3], hsl(305.0, 0.75, 0.33), 0.6);
                p.sky[2] = mix(p.sky[2], hsl(272.0, 0.7, 0.2), 0.45);
                p.haze = mix(p.haze, hsl(295.0, 0.6, 0.28), 0.45);
            }
        } else if sc.city && sc.night {
            // City light glows on low clouds and haze.
            p.sky[3] = mix(p.sky[3], hsl(28.0, 0.6, 0.32), 0.45);
            p.haze = mix(p.haze, hsl(28.0, 0.4, 0.25), 0.3);
        }
        // Each prompt gets its own small hue shift, so related prompts still look different.
        let jitter = comp.range(-12.0, 12.0);
        p.each(|c, _| *c = rotate_hue(*c, jitter));

        let tints = colour_words(text);
        if let Some(first) = tints.first() {
            p.each(|c, weight| *c = apply_tint(*c, *first, weight));
            p.accents = tints
                .iter()
                .map(|t| match t {
                    Tint::Hue(hue, sat) => hsl(*hue, *sat, 0.55),
                    Tint::Black => [0.08, 0.08, 0.1],
                    Tint::White => [0.96, 0.96, 0.94],
                })
                .collect();
        }
        p
    }
}

fn apply_tint(c: Col, tint: Tint, weight: f32) -> Col {
    let (h, s, l) = to_hsl(c);
    match tint {
        // Mixing toward the colour at the same lightness keeps the picture's light intact;
        // turning the hue instead would send a blue sky through violet on its way to red.
        Tint::Hue(hue, sat) => mix(c, hsl(hue, sat.max(s) * 0.85, l.clamp(0.08, 0.9)), weight),
        Tint::Black => hsl(h, s * (1.0 - 0.3 * weight), l * (1.0 - 0.6 * weight)),
        Tint::White => hsl(h, s * (1.0 - 0.5 * weight), l + (1.0 - l) * 0.55 * weight),
    }
}

fn rotate_hue(c: Col, deg: f32) -> Col {
    let (h, s, l) = to_hsl(c);
    hsl(h + deg, s, l)
}

// ---------------------------------------------------------------------------------------------
// Landscape

struct Light {
    x: f32,
    y: f32,
    r: f32,
    strength: f32,
    disc: bool,
    moon: bool,
    /// 0 for a full moon, otherwise how far the shadow disc is moved (in radii).
    phase: f32,
}

/// Paints the scene; answers the horizon's height in pixels.
fn landscape(c: &mut Canvas, sc: &Scene, pal: &Palette, comp: &mut Rng, rng: &mut Rng) -> f32 {
    let h = c.h as f32;
    let foreground = sc.forest || sc.flower || sc.desert;
    // A city with nothing in front stands on a wet street that mirrors its lights.
    let wet_street = sc.city && !sc.water && !foreground;
    let water = sc.water || wet_street;
    let hy_frac = if wet_street {
        comp.range(0.68, 0.76)
    } else if water {
        comp.range(0.54, 0.64)
    } else {
        comp.range(0.58, 0.68)
    };
    let hy = (h * (hy_frac + rng.range(-0.01, 0.01))).max(1.0);
    let light = place_light(c, sc, hy, comp, rng);

    sky(c, pal, hy, &light, sc.sunset);
    if sc.night {
        stars(c, hy, rng);
    }
    draw_light(c, pal, &light, rng.next_u32());
    clouds(c, pal, sc, hy, &light, comp, rng);

    let behind = water || foreground || sc.city;
    if sc.mountain {
        mountains(c, pal, sc, hy, !behind, &light, comp, rng);
    } else if !behind {
        hills(c, pal, sc, hy, &light, comp, rng);
        if sc.snow || sc.night {
            // Bare ground alone is blank; a few pines give it depth.
            let sparse = if sc.snow { 3.0 } else { 5.0 };
            forest(
                c,
                pal,
                sc,
                hy + (h - hy) * 0.15,
                h * 1.02,
                false,
                sparse,
                &light,
                comp,
                rng,
            );
        }
    } else if !sc.city && comp.chance(0.6) {
        let tall = if sc.forest { 2.0 } else { 1.0 };
        far_hills(c, pal, hy, tall, water, rng);
    }
    if sc.city {
        city(c, pal, sc, hy, comp, rng);
    }
    if sc.desert {
        dunes(c, pal, hy, water, &light, rng);
    }
    if sc.forest {
        let nearest = if water {
            hy
        } else if sc.flower {
            hy + (h - hy) * 0.35
        } else {
            h * 1.02
        };
        forest(c, pal, sc, hy, nearest, water, 1.0, &light, comp, rng);
    }
    if water {
        water_surface(c, pal, hy, &light, wet_street, rng);
    }
    if sc.flower {
        let top = if water {
            h * rng.range(0.8, 0.86)
        } else if sc.forest {
            hy + (h - hy) * 0.3
        } else {
            hy
        };
        meadow(c, pal, top, rng);
    }
    if sc.snow {
        let amount = if sc.mountain || sc.sunset { 0.35 } else { 1.0 };
        snowfall(c, pal, amount, rng);
    }
    if sc.rain {
        rainfall(c, pal, rng);
    }
    hy
}

/// `text` with each of `words` replaced by spaces of the same length.
fn blank(text: &str, words: &[&str]) -> String {
    words
        .iter()
        .fold(text.to_string(), |t, w| t.replace(w, &" ".repeat(w.len())))
}

/// The prompt's subject, in front of the scene: standing on the ground, on the water or in
/// the sky, in the prompt's first colour if it names one.
#[allow(clippy::too_many_arguments)]
fn draw_subject(
    c: &mut Canvas,
    sc: &Scene,
    pal: &Palette,
    text: &str,
    subject: Subject,
    hy: f32,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let (w, h) = (c.w as f32, c.h as f32);
    let main = colour_words(text).first().map(|t| match t {
        Tint::Hue(hue, sat) => hsl(*hue, *sat, 0.5),
        Tint::Black => [0.12, 0.12, 0.14],
        Tint::White => [0.95, 0.95, 0.93],
    });
    let x = w * (0.5 + comp.range(-0.1, 0.1));
    let flip = rng.chance(0.5);
    let at = if subject.flies() {
        Place {
            x,
            y: h * 0.38,
            scale: w.min(h) * 0.26,
            flip,
        }
    } else if subject.floats() {
        let y = hy + (h - hy) * if subject == Subject::Fish { 0.45 } else { 0.4 };
        Place {
            x,
            y,
            scale: (w * 0.3).min(h * 0.24),
            flip,
        }
    } else {
        if subject == Subject::Food && !sc.any_scenery() {
            table(c, h * 0.7);
        }
        let scale = (h * 0.36).min(w * 0.28);
        Place {
            x,
            y: h * 0.93,
            scale,
            flip,
        }
    };
    subjects::draw(c, subject, main, pal.ambient, &at, rng);
}

/// A wooden table top from `top` down, for food with no other scene.
fn table(c: &mut Canvas, top: f32) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let wood = hsl(28.0, 0.45, 0.42);
    stamp(c, 0.0, top, w, h, false, |x, y| {
        let grain = fbm1((y / s) * 40.0 + fbm1(x / s * 3.0, 2, 7) * 2.0, 3, 11);
        let t = ((y - top) / (h - top).max(1.0)).clamp(0.0, 1.0);
        (mul(wood, 0.8 + 0.25 * grain + 0.15 * t), 1.0)
    });
}

/// Ink on rice paper: light becomes paper, dark becomes ink, colour goes.
fn ink_wash(c: &mut Canvas) {
    let paper = [0.93, 0.9, 0.82];
    let ink = [0.08, 0.08, 0.09];
    for p in &mut c.px {
        let l = luma(*p).clamp(0.0, 1.0);
        // More contrast, so ridges read as brush strokes.
        let t = smoothstep(0.08, 0.85, l);
        *p = mix(ink, paper, t);
    }
}

fn place_light(c: &Canvas, sc: &Scene, hy: f32, comp: &mut Rng, rng: &mut Rng) -> Light {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let x = w * rng.range(0.22, 0.78);
    if sc.night && !sc.sunset {
        let phase = if rng.chance(0.5) {
            0.0
        } else {
            rng.range(0.35, 0.6)
        };
        Light {
            x,
            y: hy * rng.range(0.18, 0.45),
            r: s * rng.range(0.035, 0.05),
            strength: if sc.rain { 0.15 } else { 0.45 },
            disc: !sc.rain,
            moon: true,
            phase,
        }
    } else if sc.sunset {
        let twilight = sc.night;
        Light {
            x,
            y: if twilight {
                hy + h * 0.03
            } else if sc.mountain {
                hy - h * rng.range(0.2, 0.3)
            } else {
                hy - h * rng.range(0.03, 0.13)
            },
            r: s * rng.range(0.055, 0.08),
            strength: if sc.rain { 0.4 } else { 1.0 },
            disc: !twilight && !sc.rain,
            moon: false,
            phase: 0.0,
        }
    } else {
        let shown = !sc.rain && (sc.sun || sc.desert || comp.chance(0.35));
        Light {
            x,
            y: hy * rng.range(0.15, 0.42),
            r: s * rng.range(0.038, 0.05),
            strength: if sc.rain { 0.1 } else { 0.5 },
            disc: shown,
            moon: false,
            phase: 0.0,
        }
    }
}

fn sky(c: &mut Canvas, pal: &Palette, hy: f32, light: &Light, sunset: bool) {
    let (w, h, s) = (c.w, c.h, c.s);
    let r = light.r.max(0.5);
    // The glow is smooth, so a coarse grid holds it.
    let glow = Field::<1>::new(w, 0.0, h as f32, (s / 160.0).max(1.0), |x, y| {
        let (dx, dy) = (x - light.x, y - light.y);
        let d = (dx * dx + dy * dy).sqrt();
        let mut g =
            light.strength * (0.55 * (-d / (2.5 * r)).exp() + 0.3 * (-d / (11.0 * r)).exp());
        if sunset {
            // A low sun lights a wide band along the horizon.
            g += light.strength
                * 0.35
                * (-((y - hy) / (0.1 * h as f32)).powi(2)).exp()
                * (-(dx / (0.6 * s)).powi(2)).exp();
        }
        [g]
    });
    for y in 0..h {
        let yf = y as f32 + 0.5;
        let base = gradient(&pal.sky, (yf / hy).clamp(0.0, 1.0).powf(1.25));
        let row = &mut c.px[y * w..(y + 1) * w];
        for (x, px) in row.iter_mut().enumerate() {
            let [g] = glow.at(x as f32 + 0.5, yf);
            *px = add(base, mul(pal.glow, g));
        }
    }
}

fn stars(c: &mut Canvas, hy: f32, rng: &mut Rng) {
    let (w, s) = (c.w as f32, c.s);
    let rows = (hy.ceil() as usize).min(c.h);
    // The Milky Way: a soft band with dark dust lanes, smooth enough for a coarse grid.
    let angle = rng.range(-1.0, 1.0);
    let (sin, cos) = angle.sin_cos();
    let (bx, by) = (w * rng.range(0.3, 0.7), hy * 0.4);
    let width = s * rng.range(0.06, 0.1);
    let seed = rng.next_u32();
    let band = Field::<2>::new(c.w, 0.0, rows as f32, (s / 200.0).max(1.0), |x, y| {
        let d = (x - bx) * -sin + (y - by) * cos;
        let b = (-(d / width).powi(2)).exp();
        if b < 0.01 {
            return [0.0, 0.0];
        }
        let n = fbm2(x / s * 5.0, y / s * 5.0, 4, seed);
        let dust = fbm2(x / s * 16.0, y / s * 16.0, 3, seed.wrapping_add(7));
        [b * (0.3 + n) * (1.0 - 0.55 * smoothstep(0.5, 0.7, dust)), n]
    });
    let purple = [0.55, 0.5, 0.85];
    let warm = [1.0, 0.85, 0.7];
    for y in 0..rows {
        let fade = smoothstep(hy, hy * 0.7, y as f32 + 0.5);
        for x in 0..c.w {
            let [v, n] = band.at(x as f32 + 0.5, y as f32 + 0.5);
            if v > 0.0 {
                let col = mix(purple, warm, n);
                c.add(x, y, col, v * 0.42 * fade);
            }
        }
    }
    let count = (c.w as f32 * hy / 260.0) as usize;
    for i in 0..count {
        // Every fourth star is placed near the band, where the sky is densest.
        let (x, y) = if i % 4 == 0 {
            let along = rng.range(-1.5, 1.5) * w;
            let across = (rng.f() + rng.f() + rng.f() - 1.5) * width;
            (
                bx + along * cos - across * sin,
                by + along * sin + across * cos,
            )
        } else {
            (rng.f() * w, rng.f().powf(1.2) * hy)
        };
        if x < 0.0 || y < 0.0 || x >= w || y >= hy {
            continue;
        }
        let b = 0.15 + 0.85 * rng.f().powi(5);
        let r = (0.45 + 1.2 * b) * (s / 900.0).sqrt().clamp(0.6, 2.0);
        let tint = mix(
            [1.0, 1.0, 1.0],
            if rng.chance(0.5) {
                [0.7, 0.8, 1.0]
            } else {
                [1.0, 0.85, 0.65]
            },
            rng.f() * 0.5,
        );
        let fade = smoothstep(hy, hy * 0.75, y);
        let reach = r * 3.0;
        stamp(
            c,
            x - reach,
            y - reach,
            x + reach,
            y + reach,
            true,
            |px, py| {
                let d2 = (px - x).powi(2) + (py - y).powi(2);
                let a = b * fade * (-d2 / (r * r)).exp();
                (tint, a)
            },
        );
    }
}

fn draw_light(c: &mut Canvas, pal: &Palette, light: &Light, seed: u32) {
    if !light.disc {
        return;
    }
    let (lx, ly, r) = (light.x, light.y, light.r.max(1.0));
    let (sx, sy) = (lx - r * light.phase * 1.7, ly - r * light.phase * 0.5);
    stamp(
        c,
        lx - r - 2.0,
        ly - r - 2.0,
        lx + r + 2.0,
        ly + r + 2.0,
        false,
        |px, py| {
            let (dx, dy) = (px - lx, py - ly);
            let d = (dx * dx + dy * dy).sqrt();
            let cov = (r - d + 0.5).clamp(0.0, 1.0);
            if light.moon {
                let maria = fbm2(dx / r * 2.2 + 3.0, dy / r * 2.2, 3, seed);
                let limb = 1.0 - 0.2 * (d / r).powi(2);
                let col = mul(pal.sun, (0.8 + 0.25 * smoothstep(0.62, 0.38, maria)) * limb);
                let shadow = if light.phase > 0.0 {
                    let ds = ((px - sx).powi(2) + (py - sy).powi(2)).sqrt();
                    (r * 1.02 - ds + 0.5).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                (col, cov * (1.0 - 0.93 * shadow))
            } else {
                let t = (d / r).clamp(0.0, 1.0);
                (mix([1.0, 1.0, 0.95], pal.sun, t * t), cov)
            }
        },
    );
}

fn clouds(
    c: &mut Canvas,
    pal: &Palette,
    sc: &Scene,
    hy: f32,
    light: &Light,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let cover = if sc.rain {
        0.95
    } else if sc.cloud {
        comp.range(0.55, 0.75)
    } else if sc.night {
        // Night skies are mostly clear, or the stars would hide.
        comp.range(0.0, 0.14)
    } else {
        comp.range(0.12, 0.4)
    };
    if cover < 0.08 {
        return;
    }
    let (w, s) = (c.w as f32, c.s);
    let rows = (hy.ceil() as usize).min(c.h);
    let seed = rng.next_u32();
    let (ox, oz) = (rng.range(0.0, 100.0), rng.range(0.0, 100.0));
    let thr = 0.64 - 0.3 * cover;
    // Clouds lie on a plane overhead, so they pack tighter and flatter toward the horizon.
    let field = Field::<2>::new(c.w, 0.0, rows as f32, (s / 360.0).max(1.0), |x, y| {
        let dz = ((hy - y) / hy).max(0.03);
        let fade = smoothstep(0.03, 0.25, dz);
        if fade <= 0.0 {
            return [0.0, 0.5];
        }
        let px = (x - w * 0.5) / hy / dz * 0.8 + ox;
        let pz = 0.9 / dz + oz;
        let n = fbm2(px * 1.4, pz * 2.2, 5, seed);
        let up = fbm2(px * 1.4, (pz - 0.07) * 2.2, 5, seed);
        let d = smoothstep(thr, thr + 0.17, n) * fade;
        [d, (0.55 + (n - up) * 7.0).clamp(0.0, 1.0)]
    });
    let opacity = if sc.rain { 1.0 } else { 0.95 };
    for y in 0..rows {
        for x in 0..c.w {
            let (xf, yf) = (x as f32 + 0.5, y as f32 + 0.5);
            let [d, lit] = field.at(xf, yf);
            if d < 0.003 {
                continue;
            }
            let mut col = mix(pal.cloud_shade, pal.cloud_lit, lit);
            // Thin cloud near the sun glows at its edges.
            let dl = ((xf - light.x).powi(2) + (yf - light.y).powi(2)).sqrt() / s;
            let rim = light.strength * (-dl * 5.0).exp() * (1.0 - d) * 1.2;
            col = add(col, mul(pal.glow, rim));
            c.blend(x, y, col, d * opacity);
        }
    }
}

/// A silhouette line: one height per sub-column; smooth and ridged noise mixed by `sharp`.
fn ridge_line(
    c: &Canvas,
    base: f32,
    amp: f32,
    freq: f32,
    sharp: f32,
    octaves: u32,
    seed: u32,
) -> Vec<f32> {
    let s = c.s;
    (0..c.w * SS)
        .map(|i| {
            let u = (i as f32 + 0.5) / SS as f32 / s * freq;
            let smooth = ((fbm1(u, octaves, seed) - 0.5) * 1.8 + 0.5).clamp(0.0, 1.0);
            let ridged = if sharp > 0.0 {
                ridged1(u, octaves, seed ^ 0x5555)
            } else {
                0.0
            };
            base - amp * (smooth * (1.0 - sharp) + ridged * sharp)
        })
        .collect()
}

/// Slope of a silhouette per pixel column, in pixels down per pixel right.
fn slopes(top: &[f32], w: usize) -> Vec<f32> {
    let at = |x: usize| top[(x * SS + SS / 2).min(top.len().saturating_sub(1))];
    (0..w)
        .map(|x| {
            let (a, b) = (x.saturating_sub(1), (x + 1).min(w.saturating_sub(1)));
            if b > a {
                (at(b) - at(a)) / (b - a) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// A running mean over `2 * r + 1` values, edges repeated.
fn box_blur_1d(v: &[f32], r: usize) -> Vec<f32> {
    let n = v.len();
    if n == 0 || r == 0 {
        return v.to_vec();
    }
    let at = |i: isize| v[i.clamp(0, n as isize - 1) as usize];
    let r = r as isize;
    let mut sum: f32 = (-r..=r).map(at).sum();
    let k = 1.0 / (2 * r + 1) as f32;
    let mut out = Vec::with_capacity(n);
    for i in 0..n as isize {
        out.push(sum * k);
        sum += at(i + r + 1) - at(i - r);
    }
    out
}

/// The lowest point of a silhouette in each pixel column (for the layer behind to stop at).
fn column_bottoms(top: &[f32], w: usize) -> Vec<f32> {
    (0..w)
        .map(|x| {
            top[x * SS..x * SS + SS]
                .iter()
                .fold(f32::MIN, |a, &b| a.max(b))
                + 1.0
        })
        .collect()
}

struct Px {
    x: usize,
    xf: f32,
    yf: f32,
    /// Pixels below the silhouette line.
    depth: f32,
}

/// Paints everything between the silhouette `top` and `bottom` (one per pixel column).
/// Coverage is averaged over the sub-columns, so every edge is anti-aliased.
fn fill_below(
    c: &mut Canvas,
    top: &[f32],
    bottom: &[f32],
    mut colour: impl FnMut(&Px) -> (Col, f32),
) {
    let (w, h) = (c.w, c.h);
    let highest = top.iter().fold(f32::MAX, |a, &b| a.min(b)).max(0.0);
    let lowest = bottom.iter().fold(0.0f32, |a, &b| a.max(b)).min(h as f32);
    let y0 = highest.floor() as usize;
    let y1 = (lowest.ceil() as usize).min(h);
    for y in y0..y1 {
        let yf = y as f32;
        for x in 0..w {
            let sub = &top[x * SS..x * SS + SS];
            let vcov = (bottom[x] - yf).clamp(0.0, 1.0);
            if vcov <= 0.0 || yf + 1.0 <= sub[0].min(sub[SS - 1]).min(sub[1]).min(sub[2]) {
                continue;
            }
            let cov = sub
                .iter()
                .map(|&t| (yf + 1.0 - t).clamp(0.0, 1.0))
                .sum::<f32>()
                / SS as f32
                * vcov;
            if cov <= 0.0 {
                continue;
            }
            let p = Px {
                x,
                xf: x as f32 + 0.5,
                yf: yf + 0.5,
                depth: yf + 0.5 - sub[SS / 2],
            };
            let (col, alpha) = colour(&p);
            c.blend(x, y, col, cov * alpha);
        }
    }
}

fn sun_side(c: &Canvas, light: &Light) -> f32 {
    if light.x < c.w as f32 * 0.5 {
        1.0
    } else {
        -1.0
    }
}

#[allow(clippy::too_many_arguments)]
fn mountains(
    c: &mut Canvas,
    pal: &Palette,
    sc: &Scene,
    hy: f32,
    fill: bool,
    light: &Light,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let (h, s) = (c.h as f32, c.s);
    let layers = if fill { 4 } else { 3 };
    let side = sun_side(c, light);
    let limit = if fill { h + 1.0 } else { hy + 0.12 * h };
    let mut tops = Vec::new();
    let mut amps = Vec::new();
    for i in 0..layers {
        let d = i as f32 / (layers - 1) as f32;
        let (base, amp) = if fill {
            (lerp(hy, h * 1.04, d), h * lerp(0.5, 0.26, d))
        } else {
            (hy + 2.0, h * lerp(0.42, 0.1, d) * comp.range(0.85, 1.15))
        };
        let freq = lerp(1.0, 2.4, d) * comp.range(0.8, 1.25);
        let mut top = ridge_line(c, base, amp, freq, lerp(0.8, 0.3, d), 6, rng.next_u32());
        // One or two massifs rise above the rest, so a range has a clear main peak.
        let (m1, m2) = (
            c.w as f32 * rng.range(0.1, 0.9),
            c.w as f32 * rng.range(0.0, 1.0),
        );
        let spread = c.w as f32 * rng.range(0.25, 0.4);
        for (i, t) in top.iter_mut().enumerate() {
            let x = (i as f32 + 0.5) / SS as f32;
            let bump = (-((x - m1) / spread).powi(2))
                .exp()
                .max(0.7 * (-((x - m2) / spread).powi(2)).exp());
            *t = base - (base - *t) * (0.55 + 0.6 * bump);
        }
        tops.push(top);
        amps.push(amp);
    }
    for (i, top) in tops.iter().enumerate() {
        let d = i as f32 / (layers - 1) as f32;
        let amp = amps[i];
        let bottom: Vec<f32> = match tops.get(i + 1) {
            Some(next) => column_bottoms(next, c.w)
                .iter()
                .map(|b| b.min(limit))
                .collect(),
            None => vec![limit; c.w],
        };
        // Broad faces, not every little notch of the skyline, decide the light.
        let slope = box_blur_1d(&slopes(top, c.w), (s / 120.0) as usize);
        let haze = (1.0 - d).powf(1.4) * 0.6;
        let body = mix(mix(pal.far, pal.near, d), pal.haze, haze);
        let snowy = sc.snow && d < 0.7;
        let peak = top.iter().fold(f32::MAX, |a, &b| a.min(b));
        let mean = top.iter().sum::<f32>() / top.len().max(1) as f32;
        let snow_line = lerp(peak, mean, 1.05);
        let seed = rng.next_u32();
        let y0 = peak.max(0.0);
        let y1 = bottom.iter().fold(0.0f32, |a, &b| a.max(b)).min(h);
        // Spurs and gullies: ridged noise stretched downhill; its sideways slope lights the rock.
        let facets = Field::<3>::new(c.w, y0, y1, (s / 260.0).max(1.0), |x, y| {
            let (u, v) = (x / s * 5.0, y / s * 4.2);
            // Bend the gullies so they wander instead of falling straight down.
            let u = u + 0.9 * fbm2(u * 0.5, v * 0.5, 2, seed.wrapping_add(3));
            let e = 0.04;
            let a = ridged2(u - e, v, 4, seed);
            let b = ridged2(u + e, v, 4, seed);
            [
                (b - a) / (2.0 * e),
                fbm2(u * 0.8, v * 1.2, 3, seed.wrapping_add(9)),
                (a + b) * 0.5,
            ]
        });
        let lit_rock = mix(body, pal.glow, 0.3 * pal.ambient);
        let dark_rock = mul(mix(body, pal.sky[0], 0.3), 0.75);
        let fog_depth = h * 0.16;
        let fog_max = if fill && i == layers - 1 {
            0.12
        } else {
            lerp(0.45, 0.25, d)
        };
        fill_below(c, top, &bottom, |p| {
            let [facet, n, gully] = facets.at(p.xf, p.yf);
            let crest = 1.0 - smoothstep(0.0, amp * 0.35, p.depth);
            let low = 1.0 - 0.7 * smoothstep(0.0, fog_depth, p.depth);
            let lit = ((-slope[p.x] * side * 1.5).tanh() * crest * 0.6
                + (facet * side * 0.25).tanh() * (1.0 - 0.4 * crest) * low)
                .clamp(-1.0, 1.0);
            let mut col = mul(
                mix(dark_rock, lit_rock, 0.5 + 0.5 * lit),
                0.94 + (n - 0.5) * 0.2,
            );
            if snowy {
                // Snow reaches further down the gullies than over the spurs.
                let line = snow_line + (n - 0.5) * amp * 0.3 + (0.5 - gully) * amp * 0.3;
                let a = smoothstep(line + 1.0, line - 1.0, p.yf);
                if a > 0.0 {
                    let snow = mix(pal.snow_shade, pal.snow, 0.5 + 0.5 * lit);
                    col = mix(col, mix(snow, pal.haze, haze * 0.4), a);
                }
            }
            let fog = smoothstep(0.0, fog_depth, p.depth) * fog_max;
            (mix(col, pal.haze, fog), 1.0)
        });
    }
}

/// Rolling ground for scenes that name no landform.
fn hills(
    c: &mut Canvas,
    pal: &Palette,
    sc: &Scene,
    hy: f32,
    light: &Light,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let (h, s) = (c.h as f32, c.s);
    let layers = 3;
    let side = sun_side(c, light);
    let lit_land = !sc.night && !sc.sunset;
    let (far, near) = if sc.snow {
        (mix(pal.snow_shade, pal.haze, 0.3), pal.snow)
    } else if lit_land {
        (mix(pal.grass, pal.haze, 0.5), mul(pal.grass, 0.8))
    } else {
        (mix(pal.far, pal.haze, 0.2), pal.near)
    };
    let tops: Vec<Vec<f32>> = (0..layers)
        .map(|i| {
            let d = i as f32 / (layers - 1) as f32;
            let base = lerp(hy + 0.02 * h, h * 1.03, d.powf(0.9));
            let amp = h * lerp(0.07, 0.13, d) * comp.range(0.8, 1.2);
            ridge_line(c, base, amp, lerp(1.8, 1.0, d), 0.1, 4, rng.next_u32())
        })
        .collect();
    for (i, top) in tops.iter().enumerate() {
        let d = i as f32 / (layers - 1) as f32;
        let bottom = match tops.get(i + 1) {
            Some(next) => column_bottoms(next, c.w),
            None => vec![h + 1.0; c.w],
        };
        let slope = box_blur_1d(&slopes(top, c.w), (s / 60.0) as usize);
        let body = mix(far, near, d);
        let seed = rng.next_u32();
        fill_below(c, top, &bottom, |p| {
            let lit =
                (-slope[p.x] * side * 3.0).tanh() * (1.0 - smoothstep(0.0, h * 0.15, p.depth));
            let n = fbm2(p.xf / s * 8.0, p.yf / s * 12.0, 2, seed);
            let mut col = if sc.snow {
                let t = (0.55 + 0.35 * lit + (n - 0.5) * 0.4
                    - 0.3 * smoothstep(0.0, h * 0.2, p.depth))
                .clamp(0.0, 1.0);
                mix(pal.snow_shade, pal.snow, t)
            } else {
                mul(body, 1.0 + 0.15 * lit + (n - 0.5) * 0.2)
            };
            col = mix(
                col,
                pal.haze,
                smoothstep(0.0, h * 0.2, p.depth) * lerp(0.35, 0.1, d),
            );
            (col, 1.0)
        });
    }
}

/// Low distant land along the horizon, behind water.
fn far_hills(c: &mut Canvas, pal: &Palette, hy: f32, tall: f32, water: bool, rng: &mut Rng) {
    let h = c.h as f32;
    let top = ridge_line(
        c,
        hy + 1.0,
        h * tall * rng.range(0.03, 0.08),
        2.2,
        0.3,
        5,
        rng.next_u32(),
    );
    let col = mix(pal.far, pal.haze, 0.45);
    let bottom = vec![if water { hy + 3.0 } else { hy + 0.1 * h }; c.w];
    fill_below(c, &top, &bottom, |_| (col, 1.0));
}

fn dunes(c: &mut Canvas, pal: &Palette, hy: f32, behind_water: bool, light: &Light, rng: &mut Rng) {
    let (h, s) = (c.h as f32, c.s);
    let layers = if behind_water { 2 } else { 3 };
    let side = sun_side(c, light);
    let lit = mix(pal.sand, [1.0, 0.95, 0.85], 0.25);
    let shade = mix(mul(pal.sand, 0.55), pal.sky[1], 0.18);
    let tops: Vec<Vec<f32>> = (0..layers)
        .map(|i| {
            let d = i as f32 / (layers - 1) as f32;
            let (base, amp) = if behind_water {
                (hy + 1.0, h * lerp(0.04, 0.08, d))
            } else {
                (
                    lerp(hy + 0.01 * h, h * 1.06, d.powf(1.2)),
                    h * lerp(0.05, 0.16, d),
                )
            };
            ridge_line(c, base, amp, lerp(2.4, 1.1, d), 1.0, 2, rng.next_u32())
        })
        .collect();
    let limit = if behind_water { hy + 3.0 } else { h + 1.0 };
    for (i, top) in tops.iter().enumerate() {
        let d = i as f32 / (layers - 1).max(1) as f32;
        let bottom = match tops.get(i + 1) {
            Some(next) => column_bottoms(next, c.w),
            None => vec![limit; c.w],
        };
        let slope = slopes(top, c.w);
        let haze = (1.0 - d) * 0.4;
        let seed = rng.next_u32();
        fill_below(c, top, &bottom, |p| {
            // The shadow line sweeps down and sideways from each crest.
            let shifted = (p.xf - p.depth * 0.9 * side)
                .clamp(0.0, slope.len().saturating_sub(1) as f32)
                as usize;
            let face = -slope[shifted] * side;
            let t = smoothstep(-0.04, 0.06, face);
            let ripple = (p.xf / s * 180.0
                + p.depth / s * 400.0
                + fbm2(p.xf / s * 6.0, p.yf / s * 6.0, 2, seed) * 12.0)
                .sin();
            let col = mul(mix(shade, lit, t), 1.0 + ripple * 0.03);
            let col = mix(
                col,
                pal.haze,
                haze + smoothstep(0.0, h * 0.3, p.depth) * 0.1,
            );
            (col, 1.0)
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn forest(
    c: &mut Canvas,
    pal: &Palette,
    sc: &Scene,
    hy: f32,
    nearest: f32,
    water: bool,
    sparse: f32,
    light: &Light,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let rows = if water { 3 } else { 4 };
    let pine_share = if sc.snow {
        1.0
    } else if sc.night || sc.mountain {
        0.9
    } else {
        comp.range(0.3, 0.8)
    };
    let side = sun_side(c, light);
    let n = c.w * SS;
    struct Row {
        top: Vec<f32>,
        ground: Vec<f32>,
        crown_bottom: Vec<f32>,
        trunk: Vec<bool>,
        lean: Vec<f32>,
        tree_h: f32,
    }
    let mut all = Vec::new();
    for r in 0..rows {
        let d = r as f32 / (rows - 1) as f32;
        let (base, tree_h, spacing_k) = if water {
            (hy - h * 0.035 * (1.0 - d), h * lerp(0.05, 0.11, d), 0.55)
        } else {
            let base = lerp(hy + 0.01 * h, nearest, d.powf(1.3));
            (base, h * lerp(0.06, 0.3, d.powf(1.5)), lerp(0.55, 1.6, d))
        };
        let tree_h = tree_h * comp.range(0.85, 1.2);
        let gseed = rng.next_u32();
        let ground_at = |xs: f32| base + h * 0.02 * (fbm1(xs / s * 2.5, 3, gseed) - 0.5);
        let mut row = Row {
            top: (0..n)
                .map(|i| ground_at((i as f32 + 0.5) / SS as f32))
                .collect(),
            ground: Vec::new(),
            crown_bottom: vec![f32::MAX; n],
            trunk: vec![false; n],
            lean: vec![0.0; n],
            tree_h,
        };
        row.ground = row.top.clone();
        let spacing = tree_h * 0.42 * spacing_k * sparse;
        let dense = water || r + 1 < rows;
        let mut x = -rng.f() * spacing;
        while x < w + spacing {
            let th = tree_h * rng.range(0.6, 1.4);
            let g = ground_at(x);
            let sub = |a: f32, b: f32| {
                let i0 = ((a * SS as f32).floor().max(0.0) as usize).min(n);
                let i1 = ((b * SS as f32).ceil().max(0.0) as usize).min(n);
                i0..i1
            };
            let trunk_w = (th * 0.035).max(0.6);
            // Distant trees stand close, so only the nearest row shows its trunks.
            let trunk_k = if dense { 0.0 } else { 0.1 };
            if rng.chance(pine_share) {
                let bw = th * rng.range(0.2, 0.27);
                let tiers = rng.range(4.0, 7.0);
                let apex = g - th;
                let crown_bottom = g - th * trunk_k;
                for i in sub(x - bw, x + bw) {
                    let u = ((i as f32 + 0.5) / SS as f32 - x) / bw;
                    let k = u.abs() * tiers;
                    let f = k.fract();
                    // Each tier slopes gently to its tip and then drops to the wider tier below.
                    let prof = (k.floor() + 0.55 * f + 0.45 * smoothstep(0.7, 1.0, f)) / tiers;
                    let yt = apex + th * 0.9 * prof;
                    if u.abs() < 1.0 && yt < row.top[i] {
                        row.top[i] = yt;
                        row.lean[i] = u;
                        row.crown_bottom[i] = crown_bottom;
                    }
                }
            } else {
                let r0 = th * 0.34;
                for _ in 0..4 {
                    let bx = x + rng.range(-0.6, 0.6) * r0;
                    let br = r0 * rng.range(0.65, 1.05);
                    let by = g - th + br + rng.range(0.0, 0.6) * r0;
                    for i in sub(bx - br, bx + br) {
                        let dx = (i as f32 + 0.5) / SS as f32 - bx;
                        if dx.abs() >= br {
                            continue;
                        }
                        let half = (br * br - dx * dx).sqrt();
                        let yt = by - half;
                        if yt < row.top[i] {
                            row.top[i] = yt;
                            row.lean[i] = dx / br;
                            row.crown_bottom[i] = if dense { g } else { by + half * 0.8 };
                        }
                    }
                }
            }
            for i in sub(x - trunk_w, x + trunk_w) {
                row.trunk[i] = true;
            }
            x += spacing * rng.range(0.55, 1.15);
        }
        all.push(row);
    }
    let limit = if water { hy + 2.0 } else { h + 1.0 };
    let ground_col = if sc.snow {
        pal.snow
    } else if sc.night || sc.sunset {
        mul(pal.near, 0.9)
    } else {
        mul(pal.grass, 0.7)
    };
    let trunk_col = mix([0.22, 0.15, 0.1], pal.near, 0.5);
    for (r, row) in all.iter().enumerate() {
        let d = r as f32 / (rows - 1) as f32;
        // The row behind needs painting only down to this row's ground, which is solid.
        let bottom = match all.get(r + 1) {
            Some(next) => column_bottoms(&next.ground, c.w)
                .iter()
                .map(|b| b.min(limit))
                .collect(),
            None => vec![limit; c.w],
        };
        let haze = (1.0 - d).powf(1.5) * if water { 0.35 } else { 0.55 };
        let foliage = mix(pal.foliage, pal.haze, haze);
        let seed = rng.next_u32();
        let leaf_scale = 90.0 / (0.4 + d);
        let snow_px = (h * lerp(0.002, 0.008, d)).max(0.8);
        let tree_h = row.tree_h;
        fill_below(c, &row.top, &bottom, |p| {
            let i = p.x * SS + SS / 2;
            if p.yf >= row.ground[i] {
                let col = mix(ground_col, pal.haze, haze * 0.8);
                return (mul(col, 0.95 + 0.05 * (p.depth / h)), 1.0);
            }
            if p.yf < row.crown_bottom[i] {
                // Only the tops of the crowns show which side the light comes from.
                let crest = 1.0 - smoothstep(0.0, tree_h * 0.35, p.depth);
                let lit = (row.lean[i] * side).clamp(-1.0, 1.0) * pal.ambient * crest;
                let clump = fbm2(
                    p.xf / (tree_h * 0.12),
                    p.yf / (tree_h * 0.12),
                    2,
                    seed ^ 0xC1,
                );
                let leaf = noise2(p.xf / s * leaf_scale, p.yf / s * leaf_scale, seed) * 0.5 + clump;
                // Crowns darken toward the ground, where they shade each other.
                let low = 1.0 - 0.35 * smoothstep(0.0, tree_h, p.depth);
                let mut col = mul(
                    foliage,
                    (1.0 + 0.3 * lit + (leaf - 0.75) * 0.45 * (1.0 - haze)) * low,
                );
                if sc.snow {
                    let edge = snow_px * (0.6 + leaf);
                    col = mix(
                        col,
                        mix(pal.snow, pal.haze, haze),
                        smoothstep(edge + 0.8, edge - 0.8, p.depth) * 0.9,
                    );
                }
                return (col, 1.0);
            }
            if row.trunk[i] {
                return (mix(trunk_col, pal.haze, haze), 1.0);
            }
            ([0.0; 3], 0.0)
        });
    }
}

struct Building {
    x0: f32,
    x1: f32,
    top: f32,
    cell_w: f32,
    cell_h: f32,
    facade: Col,
    seed: u32,
    neon: Option<Col>,
}

fn city(c: &mut Canvas, pal: &Palette, sc: &Scene, hy: f32, comp: &mut Rng, rng: &mut Rng) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let n = c.w * SS;
    let rows = 3;
    let lit_p = if sc.night {
        comp.range(0.42, 0.62)
    } else if sc.sunset {
        0.18
    } else {
        0.0
    };
    let limit = hy + 0.08 * h;
    for r in 0..rows {
        let d = r as f32 / (rows - 1) as f32;
        let max_h = h * lerp(0.46, 0.24, d) * comp.range(0.85, 1.15);
        let mut buildings = Vec::new();
        let mut x = -rng.f() * s * 0.05;
        while x < w {
            let bw = s * lerp(0.035, 0.08, d) * rng.range(0.6, 1.6);
            let bh = max_h * (0.22 + 0.78 * rng.f().powf(1.5));
            let facade = if sc.night {
                hsl(rng.range(215.0, 240.0), 0.25, rng.range(0.06, 0.12))
            } else if sc.sunset {
                mix(pal.near, pal.far, rng.range(0.0, 0.35))
            } else {
                hsl(
                    rng.range(190.0, 230.0),
                    rng.range(0.05, 0.2),
                    rng.range(0.45, 0.75),
                )
            };
            let cell = s * lerp(0.009, 0.014, d) * rng.range(0.8, 1.3);
            let neon =
                (sc.neon && rng.chance(0.45)).then(|| pal.accents[rng.below(pal.accents.len())]);
            buildings.push(Building {
                x0: x,
                x1: x + bw,
                top: hy - bh,
                cell_w: cell.max(2.0),
                cell_h: (cell * rng.range(1.1, 1.6)).max(2.0),
                facade,
                seed: rng.next_u32(),
                neon,
            });
            x += bw
                + if rng.chance(0.25) {
                    s * rng.range(0.0, 0.02)
                } else {
                    0.0
                };
        }
        let mut top = vec![limit; n];
        let mut ids = vec![usize::MAX; n];
        for (k, b) in buildings.iter().enumerate() {
            let i0 = ((b.x0 * SS as f32).max(0.0) as usize).min(n);
            let i1 = ((b.x1 * SS as f32).max(0.0) as usize).min(n);
            for i in i0..i1 {
                if b.top < top[i] {
                    top[i] = b.top;
                    ids[i] = k;
                }
            }
            let bw = b.x1 - b.x0;
            // Some towers step back near the top, a few carry a mast.
            if b.seed % 3 == 0 {
                let inset = bw * 0.2;
                let crown = bw * 0.35;
                let j0 = (((b.x0 + inset) * SS as f32).max(0.0) as usize).min(n);
                let j1 = (((b.x1 - inset) * SS as f32).max(0.0) as usize).min(n);
                for i in j0..j1 {
                    if ids[i] == k {
                        top[i] = b.top - crown;
                    }
                }
            } else if b.seed % 5 == 1 {
                let mx = b.x0 + bw * 0.5;
                let half = (s * 0.0015).max(0.35);
                let j0 = (((mx - half) * SS as f32).max(0.0) as usize).min(n);
                let j1 = (((mx + half) * SS as f32).max(0.0) as usize).min(n);
                for i in j0..j1 {
                    if ids[i] == k {
                        top[i] = b.top - bw * 0.8;
                    }
                }
            }
        }
        let haze = (1.0 - d) * 0.45;
        let bottom = vec![limit; c.w];
        let night = sc.night || sc.sunset;
        fill_below(c, &top, &bottom, |p| {
            let Some(b) = buildings.get(ids[p.x * SS + SS / 2]) else {
                return (mix(pal.near, pal.haze, haze), 1.0);
            };
            let (lx, ly) = (p.xf - b.x0, p.yf - b.top);
            let mut col = b.facade;
            // Street light brightens the lower floors at night.
            if sc.night {
                col = add(col, mul(pal.sky[3], 0.25 * smoothstep(b.top, hy, p.yf)));
            }
            let margin = b.cell_w * 0.6;
            if ly > b.cell_h * 0.5 && lx > margin && lx < b.x1 - b.x0 - margin {
                let (cx, cy) = ((lx - margin) / b.cell_w, (ly - b.cell_h * 0.5) / b.cell_h);
                if cx.fract() < 0.62 && cy.fract() < 0.58 {
                    let cell = hash2(cx as i32, cy as i32, b.seed);
                    let on = (cell >> 8) as f32 / 16_777_216.0 < lit_p;
                    col = if on {
                        let warm = match cell % 7 {
                            0 => [0.75, 0.85, 1.0],
                            1 => b.neon.unwrap_or([1.0, 0.9, 0.7]),
                            _ => [1.0, 0.82, 0.5],
                        };
                        mul(warm, 0.75 + 0.25 * ((cell >> 3) % 4) as f32 / 3.0)
                    } else if night {
                        mul(b.facade, 0.7)
                    } else {
                        mul(mix(b.facade, pal.sky[1], 0.55), 0.82)
                    };
                }
            }
            (mix(col, pal.haze, haze), 1.0)
        });
        if sc.neon {
            for b in &buildings {
                let Some(col) = b.neon else { continue };
                let bw = b.x1 - b.x0;
                let bh = hy - b.top;
                let sx = b.x0 + bw * (0.15 + (b.seed >> 4) as f32 % 5.0 * 0.12);
                let sw = (s * 0.006).max(1.5);
                neon_rect(
                    c,
                    sx,
                    b.top + bh * 0.12,
                    sx + sw,
                    b.top + bh * 0.12 + bh * 0.3,
                    col,
                    s * 0.012,
                    1.0 - haze,
                );
                neon_rect(
                    c,
                    b.x0 + 1.0,
                    b.top - 0.5,
                    b.x1 - 1.0,
                    b.top + (s * 0.002).max(1.0),
                    col,
                    s * 0.008,
                    0.8 - haze,
                );
            }
        }
    }
}

/// A glowing tube: solid inside, soft light falling off outside.
#[allow(clippy::too_many_arguments)]
fn neon_rect(
    c: &mut Canvas,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    col: Col,
    reach: f32,
    strength: f32,
) {
    let reach = reach.max(1.0);
    let pad = reach * 4.0;
    stamp(c, x0 - pad, y0 - pad, x1 + pad, y1 + pad, true, |px, py| {
        let dx = (x0 - px).max(px - x1).max(0.0);
        let dy = (y0 - py).max(py - y1).max(0.0);
        let d = (dx * dx + dy * dy).sqrt();
        let core = (1.0 - d).clamp(0.0, 1.0);
        (col, strength * (core * 0.9 + 0.5 * (-d / reach).exp()))
    });
}

fn water_surface(
    c: &mut Canvas,
    pal: &Palette,
    hy: f32,
    light: &Light,
    wet_street: bool,
    rng: &mut Rng,
) {
    let (w, h, s) = (c.w, c.h, c.s);
    let first = (hy.floor() as usize).min(h);
    if first == 0 || first >= h {
        return;
    }
    let src: Vec<Col> = c.px[..first * w].to_vec();
    let sample = |x: f32, y: f32| -> Col {
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (first - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(first - 1));
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let top = mix(src[y0 * w + x0], src[y0 * w + x1], tx);
        let bot = mix(src[y1 * w + x0], src[y1 * w + x1], tx);
        mix(top, bot, ty)
    };
    let seed = rng.next_u32();
    let (rough, streak) = if wet_street {
        (0.6, 0.05)
    } else {
        (rng.range(0.6, 1.2), 0.0)
    };
    let deep = mul(pal.water, 0.8);
    let shallow = mix(pal.water, pal.haze, 0.5);
    for y in first..h {
        let yf = y as f32 + 0.5;
        let t = ((yf - hy) / (h as f32 - hy).max(1.0)).clamp(0.001, 1.0);
        let z = 1.0 / (t + 0.02);
        let base = mix(shallow, deep, t.sqrt());
        let fresnel = if wet_street {
            0.75 - 0.3 * t
        } else {
            0.88 - 0.42 * t
        };
        let path_w = s * (0.012 + 0.22 * t);
        for x in 0..w {
            let xf = x as f32 + 0.5;
            // Waves live on the water plane, so they shrink and flatten toward the horizon.
            let px = (xf - w as f32 * 0.5) / s * z;
            let n1 = noise2(px * 3.0, z * 9.0, seed);
            let n2 = noise2(px * 7.0 + 5.0, z * 21.0, seed.wrapping_add(1));
            let wave = n1 * 0.65 + n2 * 0.35;
            let dx = (wave - 0.5) * s * 0.05 * t * rough;
            let dy = (n2 - 0.5) * s * 0.03 * t * rough;
            let ry = 2.0 * hy - yf + dy;
            let mut refl = sample(xf + dx, ry);
            if streak > 0.0 {
                // A wet street smears lights downward.
                let a = sample(xf + dx, ry - s * streak * t);
                let b = sample(xf + dx * 0.5, ry - s * streak * t * 2.0);
                refl = mul(add(add(refl, a), b), 1.0 / 3.0);
            }
            let mut col = mix(base, mul(refl, 0.92), fresnel);
            col = mul(col, 1.0 + (wave - 0.5) * 0.3 * (1.0 - 0.4 * t));
            if light.disc || light.strength > 0.8 {
                let g = (-((xf - light.x) / path_w).powi(2)).exp();
                let sparkle = smoothstep(0.6, 0.85, n2 * 0.6 + n1 * 0.4);
                col = add(col, mul(pal.glow, g * sparkle * light.strength * 0.9));
            }
            c.px[y * w + x] = col;
        }
    }
}

fn meadow(c: &mut Canvas, pal: &Palette, top_y: f32, rng: &mut Rng) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let top = ridge_line(c, top_y + h * 0.02, h * 0.04, 1.6, 0.0, 3, rng.next_u32());
    let bottom = vec![h + 1.0; c.w];
    let grass_far = mix(mul(pal.grass, pal.ambient.max(0.4)), pal.haze, 0.45);
    let grass_near = mul(pal.grass, 0.75 * pal.ambient.max(0.35));
    let span = (h - top_y).max(1.0);
    let seed = rng.next_u32();
    fill_below(c, &top, &bottom, |p| {
        let t = ((p.yf - top_y) / span).clamp(0.0, 1.0);
        let base = mix(grass_far, grass_near, t.sqrt());
        let scale = 260.0;
        let blades = noise2(p.xf / s * scale, p.yf / s * scale * 0.15, seed);
        let patch = fbm2(p.xf / s * 5.0, p.yf / s * 9.0, 2, seed.wrapping_add(1));
        (
            mul(base, 0.9 + 0.12 * (blades - 0.5) + 0.35 * (patch - 0.5)),
            1.0,
        )
    });
    let light = pal.ambient.max(0.35);
    let colours: Vec<Col> = pal.accents.iter().map(|a| mul(*a, light)).collect();
    let pick = |rng: &mut Rng| colours[rng.below(colours.len())];
    // Far blossoms are only specks of colour.
    let specks = (w * span / 110.0) as usize;
    for _ in 0..specks {
        let t = rng.f().powf(1.6);
        let (x, y) = (rng.f() * w, top_y + h * 0.02 + span * t);
        let r = (s * lerp(0.0015, 0.006, t)).max(0.6);
        let col = mix(pick(rng), grass_far, 0.35 * (1.0 - t));
        stamp(
            c,
            x - r - 1.0,
            y - r - 1.0,
            x + r + 1.0,
            y + r + 1.0,
            false,
            |px, py| {
                let d = ((px - x).powi(2) + (py - y).powi(2)).sqrt();
                (col, (r - d + 0.5).clamp(0.0, 1.0) * 0.9)
            },
        );
    }
    struct Flower {
        x: f32,
        y: f32,
        r: f32,
        petals: f32,
        turn: f32,
        col: Col,
        lean: f32,
    }
    let count = (w / s * rng.range(30.0, 45.0)) as usize;
    let mut flowers: Vec<Flower> = (0..count)
        .map(|_| {
            let t = 0.25 + 0.75 * rng.f().powf(0.7);
            Flower {
                x: rng.f() * w,
                y: top_y + span * t,
                r: s * (0.01 + 0.055 * t * t) * rng.range(0.7, 1.3),
                petals: [5.0, 5.0, 6.0, 8.0][rng.below(4)],
                turn: rng.range(0.0, std::f32::consts::TAU),
                col: rotate_hue(pick(rng), rng.range(-10.0, 10.0)),
                lean: rng.range(-0.3, 0.3),
            }
        })
        .collect();
    flowers.sort_by(|a, b| a.y.total_cmp(&b.y));
    let stem = mul(pal.foliage, 0.8);
    let centre = mul([0.95, 0.75, 0.2], light);
    for f in &flowers {
        if f.r > s * 0.02 {
            let end = (f.x + f.lean * f.r * 4.0, h + 2.0);
            segment(c, (f.x, f.y), end, (f.r * 0.08).max(0.8), stem, 1.0);
        }
        let (fx, fy, r) = (f.x, f.y, f.r.max(0.8));
        stamp(
            c,
            fx - r - 1.0,
            fy - r - 1.0,
            fx + r + 1.0,
            fy + r + 1.0,
            false,
            |px, py| {
                let (dx, dy) = (px - fx, py - fy);
                let d = (dx * dx + dy * dy).sqrt();
                let petal = (f.petals * (dy.atan2(dx) + f.turn) * 0.5).cos().abs();
                let rr = r * (0.5 + 0.5 * petal.sqrt());
                let cov = (rr - d + 0.5).clamp(0.0, 1.0);
                if cov <= 0.0 {
                    return ([0.0; 3], 0.0);
                }
                let heart = (r * 0.22 - d + 0.5).clamp(0.0, 1.0);
                // Petals are darker at their base and along the seams between them.
                let shade = (0.7 + 0.35 * (d / rr)) * (0.78 + 0.22 * petal.powf(0.3));
                (mix(mul(f.col, shade), centre, heart), cov)
            },
        );
    }
}

fn snowfall(c: &mut Canvas, pal: &Palette, amount: f32, rng: &mut Rng) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let count = (w * h / 700.0 * amount) as usize;
    let flake = mix(pal.snow, [1.0, 1.0, 1.0], 0.5);
    for _ in 0..count {
        let (x, y) = (rng.f() * w, rng.f() * h);
        let near = rng.f().powi(4) * amount;
        let r = (s * lerp(0.0012, 0.009, near)).max(0.5);
        let soft = 0.6 + r * 0.6 * near;
        let alpha = lerp(0.75, 0.35, near);
        stamp(
            c,
            x - r - soft,
            y - r - soft,
            x + r + soft,
            y + r + soft,
            false,
            |px, py| {
                let d = ((px - x).powi(2) + (py - y).powi(2)).sqrt();
                (flake, alpha * smoothstep(r + soft, r - soft, d))
            },
        );
    }
}

fn rainfall(c: &mut Canvas, pal: &Palette, rng: &mut Rng) {
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let count = (w * h / 900.0) as usize;
    let (sin, cos) = rng.range(-0.25, 0.25).sin_cos();
    let col = mix([0.85, 0.88, 0.95], pal.cloud_lit, 0.4);
    for _ in 0..count {
        let (x, y) = (rng.f() * w, rng.f() * h);
        let len = s * rng.range(0.025, 0.07);
        let end = (x + sin * len, y + cos * len);
        segment(
            c,
            (x, y),
            end,
            rng.range(0.5, 1.1),
            col,
            rng.range(0.1, 0.28),
        );
    }
}

/// A soft line from `a` to `b`.
fn segment(c: &mut Canvas, a: (f32, f32), b: (f32, f32), width: f32, col: Col, alpha: f32) {
    let (ex, ey) = (b.0 - a.0, b.1 - a.1);
    let len2 = (ex * ex + ey * ey).max(1e-6);
    let half = width * 0.5;
    let pad = half + 1.0;
    stamp(
        c,
        a.0.min(b.0) - pad,
        a.1.min(b.1) - pad,
        a.0.max(b.0) + pad,
        a.1.max(b.1) + pad,
        false,
        |px, py| {
            let t = (((px - a.0) * ex + (py - a.1) * ey) / len2).clamp(0.0, 1.0);
            let d = ((px - a.0 - ex * t).powi(2) + (py - a.1 - ey * t).powi(2)).sqrt();
            (col, alpha * (half - d + 0.5).clamp(0.0, 1.0))
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Abstract

fn abstract_stops(sc: &Scene, pal: &Palette, text: &str, comp: &mut Rng) -> [Col; 5] {
    if sc.any_landscape() {
        let accent = pal.accents.first().copied().unwrap_or(pal.glow);
        return [
            mul(pal.sky[0], 0.8),
            pal.sky[1],
            pal.sky[2],
            pal.sky[3],
            mix(pal.glow, accent, 0.5),
        ];
    }
    let tints = colour_words(text);
    let named = tints.iter().find_map(|t| match t {
        Tint::Hue(h, _) => Some(*h),
        _ => None,
    });
    let (hue, offset) = match named {
        // A named colour should dominate, so its neighbours complete the scheme.
        Some(h) => (h, [30.0, -30.0, 45.0, -45.0][comp.below(4)]),
        None => (
            comp.range(0.0, 360.0),
            [30.0, 150.0, 120.0, 180.0, -40.0, 60.0][comp.below(6)],
        ),
    };
    let sat = comp.range(0.65, 0.9);
    let mut stops = [
        // Shadows lean toward blue: dark yellows and greens would otherwise turn to mud.
        hsl(
            hue + ((240.0 - hue + 540.0).rem_euclid(360.0) - 180.0) * 0.6,
            sat * 0.7,
            0.16,
        ),
        hsl(hue + offset * 0.25, sat, 0.36),
        hsl(hue + offset * 0.5, sat, 0.54),
        hsl(hue + offset, sat, 0.68),
        hsl(hue + offset * 1.3, sat * 0.7, 0.88),
    ];
    for t in &tints {
        if matches!(t, Tint::Black | Tint::White) {
            for s in &mut stops {
                *s = apply_tint(*s, *t, 0.7);
            }
        }
    }
    stops
}

fn abstract_art(
    c: &mut Canvas,
    sc: &Scene,
    pal: &Palette,
    text: &str,
    comp: &mut Rng,
    rng: &mut Rng,
) {
    let stops = abstract_stops(sc, pal, text, comp);
    let (w, h, s) = (c.w as f32, c.h as f32, c.s);
    let scale = comp.range(1.4, 3.0);
    let warp = comp.range(2.5, 4.5);
    let seed = rng.next_u32();
    let (ox, oy) = (rng.range(0.0, 50.0), rng.range(0.0, 50.0));
    // Domain-warped noise: noise that bends the coordinates of more noise gives flowing shapes.
    let field = Field::<3>::new(c.w, 0.0, c.h as f32, (s / 300.0).max(1.0), |x, y| {
        let (px, py) = (x / s * scale + ox, y / s * scale + oy);
        let qx = fbm2(px, py, 4, seed);
        let qy = fbm2(px + 5.2, py + 1.3, 4, seed);
        let rx = fbm2(
            px + warp * qx + 1.7,
            py + warp * qy + 9.2,
            4,
            seed.wrapping_add(1),
        );
        let ry = fbm2(
            px + warp * qx + 8.3,
            py + warp * qy + 2.8,
            4,
            seed.wrapping_add(1),
        );
        let f = fbm2(px + warp * rx, py + warp * ry, 4, seed.wrapping_add(2));
        let t = ((f - 0.5) * 2.6 + 0.5).clamp(0.0, 1.0);
        let mut col = gradient(&stops[..4], t);
        col = mix(
            col,
            stops[4],
            smoothstep(0.55, 0.95, (qx * qx + qy * qy).sqrt()) * 0.55,
        );
        col = mix(col, stops[0], smoothstep(0.55, 0.75, rx) * 0.4);
        col
    });
    for y in 0..c.h {
        for x in 0..c.w {
            c.px[y * c.w + x] = field.at(x as f32 + 0.5, y as f32 + 0.5);
        }
    }
    match comp.below(3) {
        0 => {
            // Out-of-focus light discs.
            for _ in 0..rng.range(7.0, 15.0) as usize {
                let (x, y) = (rng.f() * w, rng.f() * h);
                let r = s * rng.range(0.03, 0.16);
                let col = stops[2 + rng.below(3)];
                let a = rng.range(0.12, 0.3);
                stamp(
                    c,
                    x - r - 2.0,
                    y - r - 2.0,
                    x + r + 2.0,
                    y + r + 2.0,
                    true,
                    |px, py| {
                        let d = ((px - x).powi(2) + (py - y).powi(2)).sqrt();
                        let inside = smoothstep(r + 1.0, r - 1.0, d);
                        (col, a * inside * (0.6 + 0.4 * (d / r).powi(4)))
                    },
                );
            }
        }
        1 => {
            // Flowing ribbons of light.
            for k in 0..rng.range(2.0, 5.0) as usize {
                let y0 = h * rng.range(0.2, 0.8);
                let (a1, f1, p1) = (
                    h * rng.range(0.05, 0.2),
                    rng.range(2.0, 6.0) / w,
                    rng.range(0.0, 6.3),
                );
                let (a2, f2, p2) = (
                    h * rng.range(0.02, 0.08),
                    rng.range(6.0, 14.0) / w,
                    rng.range(0.0, 6.3),
                );
                let half = s * rng.range(0.01, 0.05);
                let col = stops[2 + (k % 3)];
                for x in 0..c.w {
                    let xf = x as f32 + 0.5;
                    let yc = y0 + a1 * (xf * f1 + p1).sin() + a2 * (xf * f2 + p2).sin();
                    let hw = half * (0.6 + 0.4 * (xf * f2 * 0.5 + p1).sin());
                    let y_lo = ((yc - hw * 3.0).max(0.0) as usize).min(c.h);
                    let y_hi = ((yc + hw * 3.0 + 1.0).max(0.0) as usize).min(c.h);
                    for y in y_lo..y_hi {
                        let d = (y as f32 + 0.5 - yc).abs();
                        let core = smoothstep(hw + 1.0, hw - 1.0, d) * 0.45;
                        let glow = (-(d / hw.max(0.5)).powi(2)).exp() * 0.25;
                        c.add(x, y, col, core + glow);
                    }
                }
            }
        }
        _ => {
            // A large soft orb with rings around it.
            let (x, y) = (w * rng.range(0.25, 0.75), h * rng.range(0.25, 0.75));
            let r = s * rng.range(0.15, 0.3);
            let col = stops[4];
            let ring = stops[3];
            stamp(c, 0.0, 0.0, w, h, true, |px, py| {
                let d = ((px - x).powi(2) + (py - y).powi(2)).sqrt();
                let disc = smoothstep(r + 1.0, r - 1.0, d) * 0.35;
                let halo = (-(d / r - 1.0).max(0.0) * 2.0).exp() * 0.2;
                let rings = ((d / r * 9.0).sin().max(0.0).powi(8)) * 0.12 * (-(d / r) * 0.5).exp();
                (if d < r { col } else { ring }, disc + halo + rings)
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canvas, noise and colour helpers

struct Canvas {
    w: usize,
    h: usize,
    /// The shorter side: sizes of things scale with it, so any aspect ratio keeps proportions.
    s: f32,
    px: Vec<Col>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            s: w.min(h) as f32,
            px: vec![[0.0; 3]; w * h],
        }
    }

    fn blend(&mut self, x: usize, y: usize, col: Col, a: f32) {
        let p = &mut self.px[y * self.w + x];
        *p = mix(*p, col, a.clamp(0.0, 1.0));
    }

    fn add(&mut self, x: usize, y: usize, col: Col, a: f32) {
        let p = &mut self.px[y * self.w + x];
        *p = add(*p, mul(col, a));
    }

    /// Vignette, film grain (which also dithers away banding in the gradients) and 8 bits.
    fn finish(self, seed: u32, rows_done: &dyn Fn(f32)) -> RgbImage {
        let (w, h) = (self.w, self.h);
        let mut img = RgbImage::new(w as u32, h as u32);
        let every = (h / 16).max(1);
        for (i, out) in img.pixels_mut().enumerate() {
            let (x, y) = (i % w, i / w);
            if x == 0 && y % every == 0 {
                rows_done(y as f32 / h as f32);
            }
            let dx = (x as f32 + 0.5) / w as f32 - 0.5;
            let dy = (y as f32 + 0.5) / h as f32 - 0.5;
            let v = 1.0 - 0.35 * (dx * dx + dy * dy);
            let g = (rand2(x as i32, y as i32, seed) + rand2(x as i32, y as i32, seed ^ 0x9E37)
                - 1.0)
                * 0.03;
            let p = self.px[i];
            out.0 = [0, 1, 2].map(|k| ((p[k] * v + g).clamp(0.0, 1.0) * 255.0 + 0.5) as u8);
        }
        img
    }
}

/// Draws over a box: `f` gives a colour and its opacity at each pixel centre.
fn stamp(
    c: &mut Canvas,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    additive: bool,
    mut f: impl FnMut(f32, f32) -> (Col, f32),
) {
    let xa = (x0.floor().max(0.0) as usize).min(c.w);
    let xb = (x1.ceil().max(0.0) as usize).min(c.w);
    let ya = (y0.floor().max(0.0) as usize).min(c.h);
    let yb = (y1.ceil().max(0.0) as usize).min(c.h);
    for y in ya..yb {
        for x in xa..xb {
            let (col, a) = f(x as f32 + 0.5, y as f32 + 0.5);
            if a > 0.0 {
                if additive {
                    c.add(x, y, col, a);
                } else {
                    c.blend(x, y, col, a);
                }
            }
        }
    }
}

/// Smooth values on a coarse grid, read back with bilinear interpolation.
struct Field<const N: usize> {
    gw: usize,
    gh: usize,
    y0: f32,
    step: f32,
    v: Vec<[f32; N]>,
}

impl<const N: usize> Field<N> {
    /// Samples `f` every `step` pixels over the full width and the rows `y0..y1`.
    fn new(
        w: usize,
        y0: f32,
        y1: f32,
        step: f32,
        mut f: impl FnMut(f32, f32) -> [f32; N],
    ) -> Field<N> {
        let gw = (w as f32 / step).ceil() as usize + 2;
        let gh = ((y1 - y0).max(0.0) / step).ceil() as usize + 2;
        let mut v = Vec::with_capacity(gw * gh);
        for gy in 0..gh {
            for gx in 0..gw {
                v.push(f(gx as f32 * step, y0 + gy as f32 * step));
            }
        }
        Field {
            gw,
            gh,
            y0,
            step,
            v,
        }
    }

    fn at(&self, x: f32, y: f32) -> [f32; N] {
        let fx = (x / self.step).clamp(0.0, (self.gw - 2) as f32);
        let fy = ((y - self.y0) / self.step).clamp(0.0, (self.gh - 2) as f32);
        let (ix, iy) = (fx.floor() as usize, fy.floor() as usize);
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let i = iy * self.gw + ix;
        let (a, b, c, d) = (
            self.v[i],
            self.v[i + 1],
            self.v[i + self.gw],
            self.v[i + self.gw + 1],
        );
        std::array::from_fn(|k| {
            let top = a[k] + (b[k] - a[k]) * tx;
            let bot = c[k] + (d[k] - c[k]) * tx;
            top + (bot - top) * ty
        })
    }
}

/// splitmix64: small, fast and good enough for placing things.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6A09_E667_F3BC_C909)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn f(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / 16_777_216.0
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f32) -> bool {
        self.f() < p
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn hash2(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = (x as u32).wrapping_mul(0x8DA6_B343)
        ^ (y as u32).wrapping_mul(0xD816_3841)
        ^ seed.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^ (h >> 15)
}

fn rand2(x: i32, y: i32, seed: u32) -> f32 {
    (hash2(x, y, seed) >> 8) as f32 / 16_777_216.0
}

/// Value noise in 0..1 with smooth interpolation.
fn noise2(x: f32, y: f32, seed: u32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (xi, yi) = (xf as i32, yf as i32);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (x1, y1) = (xi.wrapping_add(1), yi.wrapping_add(1));
    let a = rand2(xi, yi, seed);
    let b = rand2(x1, yi, seed);
    let c = rand2(xi, y1, seed);
    let d = rand2(x1, y1, seed);
    let top = a + (b - a) * sx;
    let bot = c + (d - c) * sx;
    top + (bot - top) * sy
}

fn fbm2(x: f32, y: f32, octaves: u32, seed: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 0.5, 0.0, 1.0);
    for o in 0..octaves {
        let shift = o as f32 * 17.31;
        sum += amp * noise2(x * f + shift, y * f - shift, seed.wrapping_add(o));
        norm += amp;
        amp *= 0.5;
        f *= 2.03;
    }
    sum / norm.max(1e-6)
}

fn fbm1(x: f32, octaves: u32, seed: u32) -> f32 {
    fbm2(x, 0.37, octaves, seed)
}

/// Noise with sharp crests: good for peaks and dunes.
fn ridged1(x: f32, octaves: u32, seed: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 0.5, 0.0, 1.0);
    for o in 0..octaves {
        let r =
            1.0 - (2.0 * noise2(x * f + o as f32 * 7.7, 0.61, seed.wrapping_add(o)) - 1.0).abs();
        sum += amp * r * r;
        norm += amp;
        amp *= 0.5;
        f *= 2.1;
    }
    sum / norm.max(1e-6)
}

/// Ridged 2D noise: sharp creases, like spurs running down a mountain.
fn ridged2(x: f32, y: f32, octaves: u32, seed: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 0.5, 0.0, 1.0);
    for o in 0..octaves {
        let shift = o as f32 * 7.7;
        let r =
            1.0 - (2.0 * noise2(x * f + shift, y * f - shift, seed.wrapping_add(o)) - 1.0).abs();
        sum += amp * r * r;
        norm += amp;
        amp *= 0.5;
        f *= 2.1;
    }
    sum / norm.max(1e-6)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn mix(a: Col, b: Col, t: f32) -> Col {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn mul(a: Col, k: f32) -> Col {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn add(a: Col, b: Col) -> Col {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn luma(c: Col) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

fn gradient(stops: &[Col], t: f32) -> Col {
    let n = stops.len();
    if n < 2 {
        return stops.first().copied().unwrap_or([0.0; 3]);
    }
    let pos = t.clamp(0.0, 1.0) * (n - 1) as f32;
    let i = (pos.floor() as usize).min(n - 2);
    mix(stops[i], stops[i + 1], pos - i as f32)
}

fn hsl(h: f32, s: f32, l: f32) -> Col {
    let (s, l) = (s.clamp(0.0, 1.0), l.clamp(0.0, 1.0));
    let h = h.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r + m, g + m, b + m]
}

fn to_hsl(c: Col) -> (f32, f32, f32) {
    let [r, g, b] = c.map(|v| v.clamp(0.0, 1.0));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let l = (max + min) / 2.0;
    let d = max - min;
    if d < 1e-6 {
        return (0.0, 0.0, l);
    }
    let s = (d / (1.0 - (2.0 * l - 1.0).abs()).max(1e-6)).min(1.0);
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    };
    (h * 60.0, s, l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mean_abs_diff, mean_rgb};

    fn mean_luma(img: &RgbImage) -> f64 {
        let [r, g, b] = mean_rgb(img);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    #[test]
    fn same_inputs_give_the_same_pixels() {
        for prompt in [
            "雪山日落",
            "城市夜景 neon",
            "a quiet forest lake",
            "抽象",
            "",
        ] {
            assert_eq!(
                paint(prompt, 7, 96, 72),
                paint(prompt, 7, 96, 72),
                "{prompt}"
            );
        }
    }

    #[test]
    fn different_prompts_differ_substantially() {
        let prompts = [
            "雪山日落",
            "城市夜景 neon",
            "a quiet forest lake",
            "红色的花园",
            "抽象",
            "夜晚星空",
            "desert dunes",
            "rainy afternoon",
        ];
        let images: Vec<RgbImage> = prompts.iter().map(|p| paint(p, 1, 96, 72)).collect();
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                let d = mean_abs_diff(&images[i], &images[j]);
                assert!(d > 12.0, "{} vs {}: {d:.1}", prompts[i], prompts[j]);
            }
        }
    }

    #[test]
    fn unknown_prompts_still_differ() {
        let prompts = [
            "a cat on a chair",
            "teapot",
            "quantum entanglement",
            "我的猫",
            "x",
        ];
        let images: Vec<RgbImage> = prompts.iter().map(|p| paint(p, 1, 96, 72)).collect();
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                let d = mean_abs_diff(&images[i], &images[j]);
                assert!(d > 12.0, "{} vs {}: {d:.1}", prompts[i], prompts[j]);
            }
        }
    }

    #[test]
    fn seed_moves_details_but_keeps_the_scene() {
        for prompt in ["雪山日落", "城市夜景", "抽象", "a quiet forest lake"] {
            let (a, b) = (paint(prompt, 1, 96, 72), paint(prompt, 2, 96, 72));
            assert!(
                mean_abs_diff(&a, &b) > 1.0,
                "{prompt}: seed changed nothing"
            );
            let (la, lb) = (mean_luma(&a), mean_luma(&b));
            assert!(
                (la - lb).abs() < 25.0,
                "{prompt}: brightness {la:.0} vs {lb:.0}"
            );
        }
    }

    #[test]
    fn night_is_much_darker_than_snow() {
        let night = mean_luma(&paint("夜晚星空", 1, 96, 72));
        let snow = mean_luma(&paint("snowy winter", 1, 96, 72));
        assert!(night + 80.0 < snow, "night {night:.0}, snow {snow:.0}");
        let city_night = mean_luma(&paint("城市夜景", 1, 96, 72));
        let city_day = mean_luma(&paint("城市", 1, 96, 72));
        assert!(
            city_night + 50.0 < city_day,
            "city night {city_night:.0}, day {city_day:.0}"
        );
    }

    #[test]
    fn sunsets_are_warm_and_days_are_blue() {
        let [r, _, b] = mean_rgb(&paint("sunset over the hills", 1, 96, 72));
        assert!(r > b + 15.0, "sunset r {r:.0} b {b:.0}");
        let [r, _, b] = mean_rgb(&paint("clouds over the sea", 1, 96, 72));
        assert!(b > r + 15.0, "day r {r:.0} b {b:.0}");
    }

    #[test]
    fn colour_words_change_the_colours() {
        let warmth = |p: &str| {
            let [r, _, b] = mean_rgb(&paint(p, 1, 96, 72));
            r - b
        };
        for (red, blue) in [
            ("红色的花园", "蓝色的花园"),
            ("red abstract", "blue abstract"),
            ("red mountains", "blue mountains"),
        ] {
            let (wr, wb) = (warmth(red), warmth(blue));
            assert!(wr > wb + 15.0, "{red} {wr:.0} vs {blue} {wb:.0}");
        }
        let dark = mean_luma(&paint("black abstract", 1, 96, 72));
        let light = mean_luma(&paint("white abstract", 1, 96, 72));
        assert!(dark + 40.0 < light, "black {dark:.0}, white {light:.0}");
    }

    #[test]
    fn sizes_are_honoured_and_clamped() {
        let cases = [
            (1, 1, 1, 1),
            (2, 3, 2, 3),
            (3, 2, 3, 2),
            (65, 33, 65, 33),
            (33, 130, 33, 130),
            (0, 0, 1, 1),
            (5000, 2, 4096, 2),
        ];
        for (w, h, ew, eh) in cases {
            for prompt in ["雪山日落 城市 花 湖 雨 雪", "抽象", "夜晚星空 沙漠 森林 云"]
            {
                assert_eq!(
                    paint(prompt, 3, w, h).dimensions(),
                    (ew, eh),
                    "{prompt} {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn english_words_must_start_a_word() {
        assert!(find_word("a long street", FOREST).is_none());
        assert!(find_word("tall trees", FOREST).is_some());
        assert!(colour_words("snow-covered peaks").is_empty());
        assert_eq!(
            colour_words("deep-red and blue"),
            vec![Tint::Hue(356.0, 0.8), Tint::Hue(215.0, 0.75)]
        );
        assert!(find_word("SUNSET".to_lowercase().as_str(), SUNSET).is_some());
    }

    #[test]
    fn scene_words_combine() {
        let s = Scene::parse("雪山日落");
        assert!(s.snow && s.mountain && s.sunset && !s.city);
        let s = Scene::parse("城市夜景");
        assert!(s.city && s.night && !s.abstract_art);
        let s = Scene::parse("a quiet forest lake");
        assert!(s.forest && s.water);
        assert!(
            !Scene::parse("a cat on a chair").is_abstract(),
            "a cat is drawn"
        );
        assert!(Scene::parse("a chair").is_abstract());
        assert!(Scene::parse("抽象").is_abstract());
    }

    #[test]
    fn a_city_at_night_has_lit_windows() {
        let img = paint("城市夜景", 5, 160, 120);
        let lit = img
            .pixels()
            .filter(|p| p.0[0] > 170 && p.0[1] > 120 && p.0[2] < p.0[0])
            .count();
        assert!(lit > 20, "only {lit} lit pixels");
        assert!(mean_luma(&img) < 90.0);
    }

    #[test]
    fn subjects_are_read_from_the_prompt() {
        let subject = |p: &str| Scene::parse(&p.to_lowercase()).subject;
        assert_eq!(subject("一只猫"), Some(Subject::Cat));
        assert_eq!(subject("草地上的柴犬"), Some(Subject::Dog));
        assert_eq!(subject("奔跑的马"), Some(Subject::Horse));
        assert_eq!(
            subject("马路上的汽车"),
            Some(Subject::Car),
            "马路 is a road"
        );
        assert_eq!(subject("汉服女孩"), Some(Subject::Girl));
        assert_eq!(subject("Red sports car"), Some(Subject::Car));
        assert_eq!(subject("湖上的小船"), Some(Subject::Boat));
        assert_eq!(subject("蓝天上的飞机"), Some(Subject::Plane));
        assert_eq!(subject("一块草莓蛋糕"), Some(Subject::Food));
        assert_eq!(subject("山顶的城堡"), Some(Subject::Castle));
        assert_eq!(subject("雪山日落"), None);
        let s = Scene::parse("城堡");
        assert!(!s.city, "a castle is no city");
        let s = Scene::parse("水墨山水");
        assert!(s.ink && s.mountain);
        let s = Scene::parse("烟花");
        assert!(s.fireworks && s.night && !s.flower, "烟花 is no flower");
        assert!(Scene::parse("小船").water, "a boat floats");
    }

    #[test]
    fn a_subject_changes_the_picture_measurably() {
        let ground = paint("草地", 4, 128, 96);
        for prompt in [
            "草地 猫",
            "草地 柴犬",
            "草地 马",
            "草地 鸟",
            "草地 女孩",
            "草地 人",
            "草地 red sports car",
            "草地 飞机",
            "草地 蛋糕",
            "草地 房子",
            "草地 宝塔",
        ] {
            let with = paint(prompt, 4, 128, 96);
            // A figure covers a good part of the frame: its pixels differ a lot.
            let changed = ground
                .pixels()
                .zip(with.pixels())
                .filter(|(a, b)| (0..3).any(|k| (i32::from(a.0[k]) - i32::from(b.0[k])).abs() > 40))
                .count();
            assert!(
                changed > 128 * 96 / 25,
                "{prompt}: only {changed} pixels changed"
            );
        }
        // Different subjects are different pictures.
        let cat = paint("草地 猫", 4, 128, 96);
        let car = paint("草地 汽车", 4, 128, 96);
        assert!(mean_abs_diff(&cat, &car) > 3.0);
        // A red car is red.
        let red = paint("red sports car", 4, 128, 96);
        let blue = paint("blue sports car", 4, 128, 96);
        let [r1, _, b1] = mean_rgb(&red);
        let [r2, _, b2] = mean_rgb(&blue);
        assert!(r1 - b1 > r2 - b2 + 5.0, "{r1} {b1} / {r2} {b2}");
    }

    #[test]
    fn ink_autumn_and_fireworks_change_the_picture() {
        let plain = paint("山", 2, 128, 96);
        // Ink: nearly no colour left.
        let ink = paint("水墨 山", 2, 128, 96);
        let chroma = |img: &RgbImage| {
            img.pixels()
                .map(|p| {
                    let (mx, mn) = (p.0.iter().max().copied(), p.0.iter().min().copied());
                    f64::from(mx.unwrap_or(0) - mn.unwrap_or(0))
                })
                .sum::<f64>()
                / f64::from(img.width() * img.height())
        };
        assert!(
            chroma(&ink) < chroma(&plain) * 0.5,
            "{} vs {}",
            chroma(&ink),
            chroma(&plain)
        );
        // Autumn: warmer (more red than green) than the same hills in summer.
        let autumn = paint("秋天 山", 2, 128, 96);
        let [r, g, _] = mean_rgb(&autumn);
        let [r0, g0, _] = mean_rgb(&plain);
        assert!(r - g > r0 - g0 + 3.0, "{r} {g} vs {r0} {g0}");
        // Fireworks: a dark sky with bright coloured sparks.
        let fireworks = paint("烟花", 2, 128, 96);
        assert!(mean_luma(&fireworks) < mean_luma(&plain));
        let sparks = fireworks
            .pixels()
            .take(128 * 48)
            .filter(|p| p.0.iter().max().copied().unwrap_or(0) > 150)
            .count();
        assert!(sparks > 40, "only {sparks} bright sparks");
    }

    #[test]
    fn the_notes_say_what_was_drawn_and_what_not() {
        let notes = understand("一只猫在弹钢琴");
        assert_eq!(notes.understood, vec!["猫"]);
        assert_eq!(notes.unknown, vec!["弹钢琴"]);
        let notes = understand("汉服女孩，秋天，水墨");
        assert_eq!(notes.understood, vec!["汉服", "女孩", "秋", "水墨"]);
        assert!(notes.unknown.is_empty(), "{:?}", notes.unknown);
        let notes = understand("A red sports car with a guitar");
        assert_eq!(notes.understood, vec!["red", "sports car"]);
        assert_eq!(notes.unknown, vec!["guitar"]);
        let notes = understand("雪山日落，湖面倒影");
        assert!(notes.understood.contains(&"雪".to_string()));
        assert!(notes.understood.contains(&"日落".to_string()));
        assert_eq!(notes.unknown, vec!["面倒影"]);
        assert!(
            understand("雪山 7").unknown.is_empty(),
            "numbers are not words"
        );
        let notes = understand("烟花");
        assert_eq!(
            (notes.understood, notes.unknown.len()),
            (vec!["烟花".to_string()], 0)
        );
    }

    #[test]
    #[ignore = "writes sample pictures for a person to look at: PAINT_SAMPLES=dir"]
    fn samples() {
        let dir = std::env::var("PAINT_SAMPLES").unwrap_or_else(|_| "/tmp/paint".into());
        std::fs::create_dir_all(&dir).unwrap();
        let mut sheet = RgbImage::new(5 * 258, 4 * 194);
        for (i, p) in [
            "猫",
            "柴犬",
            "马",
            "鸟",
            "鱼",
            "汉服女孩",
            "人",
            "red sports car",
            "船",
            "飞机",
            "蛋糕",
            "城堡",
            "宝塔",
            "房子",
            "水墨 山水",
            "秋天",
            "烟花",
            "秋天的柴犬",
            "烟花下的城堡",
            "水墨 马",
        ]
        .iter()
        .enumerate()
        {
            let img = paint(p, 3, 256, 192);
            let (x, y) = ((i % 5) as i64 * 258, (i / 5) as i64 * 194);
            image::imageops::overlay(&mut sheet, &img, x, y);
        }
        sheet.save(format!("{dir}/sheet.png")).unwrap();
    }
}
