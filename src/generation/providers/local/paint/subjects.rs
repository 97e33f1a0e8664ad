//! The things people most often ask for (animals, people, vehicles, food, buildings), drawn as
//! flat stylised figures with an outline: a few circles, ellipses, capsules, boxes and
//! triangles each, placed on the painted scene.

use super::{hsl, mix, mul, stamp, Canvas, Col, Rng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    Cat,
    Dog,
    Horse,
    Bird,
    Fish,
    Girl,
    Person,
    Car,
    Boat,
    Plane,
    Food,
    House,
    Pagoda,
    Castle,
}

/// Words for each subject; the first subject named in a prompt is the one drawn.
pub(super) const SUBJECT_WORDS: &[(&[&str], Subject)] = &[
    (&["猫", "喵", "cat", "kitten", "kitty"], Subject::Cat),
    (
        &["柴犬", "狗", "犬", "小狗", "dog", "puppy", "shiba"],
        Subject::Dog,
    ),
    (&["马", "骏马", "horse", "pony"], Subject::Horse),
    (
        &[
            "鸟", "鹰", "燕", "鸽", "鹤", "bird", "eagle", "swallow", "dove", "crane", "seagull",
        ],
        Subject::Bird,
    ),
    (&["鱼", "锦鲤", "fish", "koi", "goldfish"], Subject::Fish),
    (
        &[
            "女孩", "少女", "姑娘", "女生", "公主", "女人", "汉服", "girl", "woman", "lady",
            "princess",
        ],
        Subject::Girl,
    ),
    (
        &[
            "男孩", "男人", "少年", "人物", "人", "boy", "man", "person", "people", "child", "kid",
        ],
        Subject::Person,
    ),
    (
        &[
            "跑车",
            "汽车",
            "赛车",
            "车",
            "sports car",
            "car",
            "automobile",
            "vehicle",
        ],
        Subject::Car,
    ),
    (
        &["船", "帆船", "小舟", "舟", "boat", "ship", "sail", "yacht"],
        Subject::Boat,
    ),
    (
        &["飞机", "客机", "plane", "airplane", "aircraft", "jet"],
        Subject::Plane,
    ),
    (
        &[
            "美食",
            "食物",
            "蛋糕",
            "面条",
            "拉面",
            "饺子",
            "水果",
            "苹果",
            "披萨",
            "汉堡",
            "早餐",
            "food",
            "cake",
            "noodle",
            "ramen",
            "fruit",
            "apple",
            "pizza",
            "burger",
            "breakfast",
            "dessert",
            "dumpling",
        ],
        Subject::Food,
    ),
    (&["城堡", "castle", "fortress"], Subject::Castle),
    (
        &[
            "宝塔",
            "寺",
            "庙",
            "宫殿",
            "古建筑",
            "塔",
            "pagoda",
            "temple",
            "palace",
            "shrine",
        ],
        Subject::Pagoda,
    ),
    (
        &[
            "房子", "小屋", "房屋", "别墅", "屋", "house", "cottage", "cabin", "home", "hut",
            "villa",
        ],
        Subject::House,
    ),
];

impl Subject {
    /// Drawn in the sky rather than standing on the ground.
    pub(super) fn flies(self) -> bool {
        matches!(self, Subject::Bird | Subject::Plane)
    }

    /// Needs water under it.
    pub(super) fn floats(self) -> bool {
        matches!(self, Subject::Boat | Subject::Fish)
    }
}

/// A shape in figure units: x to the right, y up from the ground (y = 0).
#[derive(Clone, Copy)]
enum Prim {
    Circle(f32, f32, f32),
    /// Centre, half width, half height.
    Ellipse(f32, f32, f32, f32),
    /// From, to, radius.
    Capsule(f32, f32, f32, f32, f32),
    /// Centre, half width, half height, corner radius.
    Rect(f32, f32, f32, f32, f32),
    Tri([(f32, f32); 3]),
}

impl Prim {
    /// Signed distance in figure units (negative inside).
    fn dist(&self, x: f32, y: f32) -> f32 {
        match *self {
            Prim::Circle(cx, cy, r) => ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r,
            Prim::Ellipse(cx, cy, a, b) => {
                // Good enough near the edge, which is all the antialiasing needs.
                let (dx, dy) = ((x - cx) / a, (y - cy) / b);
                let k = (dx * dx + dy * dy).sqrt();
                (k - 1.0) * a.min(b)
            }
            Prim::Capsule(ax, ay, bx, by, r) => {
                let (px, py, vx, vy) = (x - ax, y - ay, bx - ax, by - ay);
                let t = ((px * vx + py * vy) / (vx * vx + vy * vy).max(1e-6)).clamp(0.0, 1.0);
                ((px - vx * t).powi(2) + (py - vy * t).powi(2)).sqrt() - r
            }
            Prim::Rect(cx, cy, hw, hh, r) => {
                let qx = (x - cx).abs() - hw + r;
                let qy = (y - cy).abs() - hh + r;
                let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
                outside + qx.max(qy).min(0.0) - r
            }
            Prim::Tri(p) => {
                let mut d = f32::MAX;
                let mut inside = true;
                for i in 0..3 {
                    let (a, b) = (p[i], p[(i + 1) % 3]);
                    let (ex, ey, wx, wy) = (b.0 - a.0, b.1 - a.1, x - a.0, y - a.1);
                    let t = ((wx * ex + wy * ey) / (ex * ex + ey * ey).max(1e-6)).clamp(0.0, 1.0);
                    d = d.min(((wx - ex * t).powi(2) + (wy - ey * t).powi(2)).sqrt());
                    let cross = ex * wy - ey * wx;
                    let orient = (p[1].0 - p[0].0) * (p[2].1 - p[0].1)
                        - (p[1].1 - p[0].1) * (p[2].0 - p[0].0);
                    if cross * orient < 0.0 {
                        inside = false;
                    }
                }
                if inside {
                    -d
                } else {
                    d
                }
            }
        }
    }

    /// (min x, min y, max x, max y) in figure units.
    fn bounds(&self) -> (f32, f32, f32, f32) {
        match *self {
            Prim::Circle(cx, cy, r) => (cx - r, cy - r, cx + r, cy + r),
            Prim::Ellipse(cx, cy, a, b) => (cx - a, cy - b, cx + a, cy + b),
            Prim::Capsule(ax, ay, bx, by, r) => (
                ax.min(bx) - r,
                ay.min(by) - r,
                ax.max(bx) + r,
                ay.max(by) + r,
            ),
            Prim::Rect(cx, cy, hw, hh, _) => (cx - hw, cy - hh, cx + hw, cy + hh),
            Prim::Tri(p) => (
                p[0].0.min(p[1].0).min(p[2].0),
                p[0].1.min(p[1].1).min(p[2].1),
                p[0].0.max(p[1].0).max(p[2].0),
                p[0].1.max(p[1].1).max(p[2].1),
            ),
        }
    }
}

/// A figure: parts in drawing order, each with its colour.
struct Figure {
    parts: Vec<(Prim, Col)>,
    /// Outlined parts only; eyes and details are drawn flat on top.
    details: Vec<(Prim, Col)>,
}

impl Figure {
    fn new() -> Figure {
        Figure {
            parts: Vec::new(),
            details: Vec::new(),
        }
    }
    fn part(&mut self, p: Prim, c: Col) {
        self.parts.push((p, c));
    }
    fn detail(&mut self, p: Prim, c: Col) {
        self.details.push((p, c));
    }
}

/// Where and how big: figure (0, 0) at pixel (`x`, `y`), `scale` pixels per unit, mirrored
/// when `flip`.
pub(super) struct Place {
    pub x: f32,
    pub y: f32,
    pub scale: f32,
    pub flip: bool,
}

/// Draws `subject` in `main` colour (a colour word of the prompt, or its usual one).
pub(super) fn draw(
    c: &mut Canvas,
    subject: Subject,
    main: Option<Col>,
    light: f32,
    at: &Place,
    rng: &mut Rng,
) {
    let fig = figure(subject, main, rng);
    let light = light.clamp(0.35, 1.0);
    let outline = mul([0.12, 0.1, 0.12], 1.0);
    let line = 0.035;
    // A soft shadow on the ground under what stands there.
    if !subject.flies() && !subject.floats() {
        let (x0, _, x1, _) = fig
            .parts
            .iter()
            .map(|(p, _)| p.bounds())
            .fold((f32::MAX, 0.0, f32::MIN, 0.0), |a, b| {
                (a.0.min(b.0), 0.0, a.2.max(b.2), 0.0)
            });
        let shadow = Prim::Ellipse((x0 + x1) / 2.0, 0.0, (x1 - x0) / 2.0 * 1.05, 0.08);
        shape(c, &shadow, [0.0; 3], 0.35, 0.0, at);
    }
    for (p, _) in &fig.parts {
        shape(c, p, outline, 0.9, line, at);
    }
    for (p, col) in &fig.parts {
        shape(c, p, mul(*col, light), 1.0, 0.0, at);
    }
    for (p, col) in &fig.details {
        shape(c, p, mul(*col, light.max(0.6)), 1.0, 0.0, at);
    }
}

/// Fills one shape grown by `grow` units, antialiased over one pixel.
fn shape(c: &mut Canvas, p: &Prim, col: Col, alpha: f32, grow: f32, at: &Place) {
    let (x0, y0, x1, y1) = p.bounds();
    let s = at.scale;
    let to_px = |fx: f32| {
        if at.flip {
            at.x - fx * s
        } else {
            at.x + fx * s
        }
    };
    let (px0, px1) = {
        let (a, b) = (to_px(x0 - grow), to_px(x1 + grow));
        (a.min(b) - 1.0, a.max(b) + 1.0)
    };
    let (py0, py1) = (at.y - (y1 + grow) * s - 1.0, at.y - (y0 - grow) * s + 1.0);
    stamp(c, px0, py0, px1, py1, false, |px, py| {
        let fx = if at.flip {
            (at.x - px) / s
        } else {
            (px - at.x) / s
        };
        let fy = (at.y - py) / s;
        let d = (p.dist(fx, fy) - grow) * s;
        (col, (0.5 - d).clamp(0.0, 1.0) * alpha)
    });
}

fn pick(rng: &mut Rng, options: &[Col]) -> Col {
    options[rng.below(options.len())]
}

fn figure(subject: Subject, main: Option<Col>, rng: &mut Rng) -> Figure {
    use Prim::*;
    let mut f = Figure::new();
    let dark = [0.08, 0.07, 0.08];
    let white = [0.97, 0.96, 0.94];
    match subject {
        Subject::Cat => {
            let fur = main.unwrap_or_else(|| {
                pick(
                    rng,
                    &[
                        hsl(28.0, 0.75, 0.55),
                        hsl(220.0, 0.06, 0.55),
                        hsl(30.0, 0.15, 0.2),
                    ],
                )
            });
            let light = mix(fur, white, 0.45);
            f.part(Capsule(0.32, 0.2, 0.75, 0.75, 0.07), fur); // tail
            f.part(Ellipse(0.0, 0.48, 0.4, 0.5), fur); // body
            f.part(Ellipse(0.0, 0.4, 0.2, 0.32), light); // chest
            f.part(Tri([(-0.3, 1.15), (-0.06, 1.3), (-0.28, 1.55)]), fur); // ears
            f.part(Tri([(0.3, 1.15), (0.06, 1.3), (0.28, 1.55)]), fur);
            f.part(Circle(0.0, 1.12, 0.32), fur); // head
            f.part(Ellipse(-0.18, 0.05, 0.12, 0.07), light); // paws
            f.part(Ellipse(0.18, 0.05, 0.12, 0.07), light);
            let eye = hsl(80.0, 0.7, 0.5);
            f.detail(Ellipse(-0.12, 1.16, 0.065, 0.08), eye);
            f.detail(Ellipse(0.12, 1.16, 0.065, 0.08), eye);
            f.detail(Ellipse(-0.12, 1.16, 0.02, 0.065), dark);
            f.detail(Ellipse(0.12, 1.16, 0.02, 0.065), dark);
            f.detail(
                Tri([(-0.04, 1.04), (0.04, 1.04), (0.0, 0.99)]),
                hsl(350.0, 0.6, 0.7),
            );
            for dy in [-0.02, 0.04] {
                f.detail(Capsule(0.1, 1.0 + dy, 0.38, 1.03 + dy * 2.0, 0.006), white);
                f.detail(
                    Capsule(-0.1, 1.0 + dy, -0.38, 1.03 + dy * 2.0, 0.006),
                    white,
                );
            }
        }
        Subject::Dog => {
            let fur = main.unwrap_or(hsl(28.0, 0.7, 0.52));
            let cream = mix(fur, white, 0.75);
            f.part(Capsule(-0.62, 0.95, -0.72, 1.2, 0.09), fur); // curled tail
            f.part(Circle(-0.62, 1.14, 0.13), fur);
            for x in [-0.45, -0.25, 0.3, 0.5] {
                f.part(Capsule(x, 0.05, x, 0.55, 0.08), fur); // legs
            }
            f.part(Ellipse(0.0, 0.75, 0.62, 0.3), fur); // body
            f.part(Ellipse(0.1, 0.62, 0.4, 0.14), cream); // belly
            f.part(Capsule(0.5, 0.85, 0.62, 1.1, 0.16), fur); // neck
            f.part(Tri([(0.5, 1.35), (0.62, 1.3), (0.52, 1.62)]), fur); // ears
            f.part(Tri([(0.74, 1.32), (0.86, 1.36), (0.8, 1.62)]), fur);
            f.part(Circle(0.68, 1.22, 0.26), fur); // head
            f.part(Ellipse(0.9, 1.14, 0.17, 0.11), cream); // snout
            f.detail(Circle(1.05, 1.18, 0.045), dark); // nose
            f.detail(Circle(0.74, 1.3, 0.035), dark); // eye
        }
        Subject::Horse => {
            let coat = main.unwrap_or_else(|| {
                pick(
                    rng,
                    &[
                        hsl(25.0, 0.55, 0.32),
                        hsl(30.0, 0.2, 0.85),
                        hsl(20.0, 0.3, 0.15),
                    ],
                )
            });
            let mane = mul(coat, 0.45);
            f.part(Capsule(-0.72, 1.25, -0.9, 0.65, 0.07), mane); // tail
            for x in [-0.55, -0.35, 0.4, 0.58] {
                f.part(Capsule(x, 0.05, x, 1.0, 0.07), coat);
                f.detail(Rect(x, 0.04, 0.075, 0.04, 0.01), dark); // hooves
            }
            f.part(Ellipse(0.0, 1.15, 0.78, 0.3), coat); // body
            f.part(Capsule(0.55, 1.25, 0.85, 1.8, 0.15), coat); // neck
            f.part(Capsule(0.85, 1.8, 1.15, 1.52, 0.12), coat); // head
            f.part(Tri([(0.78, 1.9), (0.86, 1.88), (0.8, 2.05)]), coat); // ear
            f.part(Capsule(0.48, 1.4, 0.8, 1.92, 0.06), mane); // mane
            f.detail(Circle(0.92, 1.78, 0.03), dark);
        }
        Subject::Bird => {
            let body = main.unwrap_or_else(|| {
                pick(
                    rng,
                    &[
                        hsl(205.0, 0.6, 0.45),
                        hsl(10.0, 0.6, 0.5),
                        hsl(50.0, 0.8, 0.55),
                    ],
                )
            });
            let wing = mul(body, 0.7);
            f.part(Tri([(-0.45, 0.0), (-0.85, 0.15), (-0.85, -0.15)]), wing); // tail
            f.part(Ellipse(0.0, 0.0, 0.5, 0.24), body);
            f.part(Circle(0.45, 0.14, 0.2), body);
            f.part(
                Tri([(0.62, 0.2), (0.62, 0.08), (0.85, 0.12)]),
                hsl(40.0, 0.9, 0.55),
            ); // beak
            f.part(Tri([(-0.2, 0.1), (0.25, 0.12), (-0.1, 0.85)]), wing); // raised wing
            f.detail(Circle(0.5, 0.2, 0.04), dark);
        }
        Subject::Fish => {
            let scales = main.unwrap_or_else(|| {
                pick(
                    rng,
                    &[
                        hsl(20.0, 0.9, 0.55),
                        hsl(45.0, 0.9, 0.55),
                        hsl(200.0, 0.5, 0.5),
                    ],
                )
            });
            let fin = mix(scales, white, 0.3);
            f.part(Tri([(-0.55, 0.0), (-1.0, 0.35), (-1.0, -0.35)]), fin); // tail
            f.part(Tri([(-0.1, 0.25), (0.25, 0.28), (-0.2, 0.55)]), fin); // top fin
            f.part(Ellipse(0.0, 0.0, 0.7, 0.32), scales);
            f.part(Ellipse(0.15, -0.08, 0.4, 0.14), mix(scales, white, 0.5)); // belly
            f.detail(Circle(0.42, 0.08, 0.06), white);
            f.detail(Circle(0.43, 0.08, 0.03), dark);
            f.detail(Capsule(0.25, 0.15, 0.25, -0.1, 0.015), mul(scales, 0.7)); // gill
        }
        Subject::Girl | Subject::Person => {
            let girl = subject == Subject::Girl;
            let skin = hsl(25.0, 0.55, 0.78);
            let hair = hsl(20.0, 0.3, 0.1);
            let cloth = main.unwrap_or_else(|| {
                if girl {
                    pick(
                        rng,
                        &[
                            hsl(350.0, 0.65, 0.5),
                            hsl(190.0, 0.4, 0.6),
                            hsl(330.0, 0.4, 0.75),
                        ],
                    )
                } else {
                    pick(
                        rng,
                        &[
                            hsl(215.0, 0.45, 0.4),
                            hsl(140.0, 0.3, 0.35),
                            hsl(25.0, 0.5, 0.45),
                        ],
                    )
                }
            });
            let trim = mix(cloth, white, 0.6);
            if girl {
                f.part(Ellipse(0.0, 1.75, 0.2, 0.28), hair); // long hair behind
                f.part(Tri([(-0.5, 0.0), (0.5, 0.0), (0.0, 1.45)]), cloth); // long robe
                f.part(Rect(0.0, 1.1, 0.17, 0.3, 0.08), cloth);
                // Wide hanfu sleeves.
                f.part(Tri([(-0.15, 1.35), (-0.55, 0.6), (-0.2, 0.7)]), trim);
                f.part(Tri([(0.15, 1.35), (0.55, 0.6), (0.2, 0.7)]), trim);
                f.part(Rect(0.0, 0.95, 0.19, 0.05, 0.01), hsl(45.0, 0.8, 0.55)); // sash
                f.part(Tri([(-0.12, 1.4), (0.12, 1.4), (0.0, 1.18)]), trim); // crossed collar
            } else {
                f.part(Capsule(-0.12, 0.05, -0.1, 0.75, 0.08), mul(cloth, 0.5)); // legs
                f.part(Capsule(0.12, 0.05, 0.1, 0.75, 0.08), mul(cloth, 0.5));
                f.part(Rect(0.0, 1.05, 0.24, 0.38, 0.1), cloth); // torso
                f.part(Capsule(-0.26, 1.3, -0.34, 0.72, 0.07), cloth); // arms
                f.part(Capsule(0.26, 1.3, 0.34, 0.72, 0.07), cloth);
                f.part(Circle(-0.34, 0.68, 0.06), skin);
                f.part(Circle(0.34, 0.68, 0.06), skin);
            }
            f.part(Capsule(0.0, 1.42, 0.0, 1.52, 0.06), skin); // neck
            f.part(Circle(0.0, 1.7, 0.18), skin); // head
            f.part(Ellipse(0.0, 1.8, 0.19, 0.1), hair); // hair on top
            if girl {
                f.part(Circle(0.0, 1.95, 0.09), hair); // bun
                f.detail(Capsule(-0.12, 1.96, 0.14, 2.0, 0.012), hsl(45.0, 0.8, 0.55));
                // hairpin
            }
            f.detail(Circle(-0.06, 1.69, 0.02), dark);
            f.detail(Circle(0.06, 1.69, 0.02), dark);
            f.detail(Capsule(-0.04, 1.6, 0.04, 1.6, 0.01), hsl(355.0, 0.6, 0.5));
        }
        Subject::Car => {
            let paint = main.unwrap_or(hsl(356.0, 0.8, 0.45));
            let glass = hsl(205.0, 0.45, 0.3);
            f.part(Tri([(-0.55, 0.5), (0.3, 0.5), (-0.15, 0.8)]), paint); // low cabin
            f.part(Rect(-0.1, 0.8, 0.32, 0.02, 0.02), paint);
            f.part(Rect(0.0, 0.36, 1.1, 0.17, 0.1), paint); // body
            f.part(Tri([(0.6, 0.53), (1.1, 0.45), (0.6, 0.4)]), paint); // sloped bonnet
            f.detail(Tri([(-0.45, 0.53), (-0.15, 0.53), (-0.18, 0.74)]), glass);
            f.detail(Tri([(-0.1, 0.53), (0.22, 0.53), (-0.07, 0.74)]), glass);
            f.detail(Ellipse(1.02, 0.42, 0.06, 0.035), hsl(50.0, 1.0, 0.8)); // headlight
            f.detail(Rect(-1.08, 0.42, 0.03, 0.04, 0.01), hsl(0.0, 0.9, 0.5)); // tail light
            f.detail(Capsule(-0.9, 0.32, 0.9, 0.32, 0.01), mul(paint, 0.6)); // side line
            for x in [-0.65, 0.65] {
                f.part(Circle(x, 0.2, 0.2), dark);
                f.detail(Circle(x, 0.2, 0.1), [0.75, 0.76, 0.78]);
            }
        }
        Subject::Boat => {
            let hull = main.unwrap_or(hsl(15.0, 0.5, 0.35));
            f.part(Capsule(0.0, 0.1, 0.0, 1.75, 0.025), hsl(30.0, 0.4, 0.25)); // mast
            f.part(Tri([(0.05, 1.7), (0.05, 0.35), (0.75, 0.35)]), white); // sail
            f.part(
                Tri([(-0.05, 1.5), (-0.05, 0.4), (-0.6, 0.4)]),
                mix(white, hull, 0.15),
            );
            f.part(Tri([(-1.0, 0.3), (1.0, 0.3), (0.7, -0.05)]), hull); // hull
            f.part(Tri([(-1.0, 0.3), (-0.7, -0.05), (0.7, -0.05)]), hull);
            f.detail(Capsule(-0.9, 0.22, 0.9, 0.22, 0.02), white);
        }
        Subject::Plane => {
            let body = main.unwrap_or([0.93, 0.94, 0.96]);
            let accent = hsl(212.0, 0.7, 0.45);
            f.part(
                Tri([(-0.1, 0.0), (0.25, 0.0), (-0.35, -0.75)]),
                mul(body, 0.85),
            ); // far wing
            f.part(Tri([(-0.85, 0.05), (-1.0, 0.05), (-1.05, 0.45)]), accent); // fin
            f.part(Capsule(-0.95, 0.08, 0.95, 0.0, 0.12), body); // fuselage
            f.part(Tri([(-0.1, 0.0), (0.25, 0.0), (-0.3, 0.7)]), body); // near wing
            for i in 0..7 {
                f.detail(Circle(0.65 - i as f32 * 0.17, 0.05, 0.025), glass_colour());
            }
            f.detail(Capsule(-0.8, -0.04, 0.8, -0.08, 0.015), accent);
        }
        Subject::Food => {
            let plate = [0.96, 0.95, 0.93];
            let food = main.unwrap_or_else(|| {
                pick(
                    rng,
                    &[
                        hsl(35.0, 0.7, 0.6),
                        hsl(10.0, 0.7, 0.55),
                        hsl(345.0, 0.6, 0.75),
                    ],
                )
            });
            f.part(Ellipse(0.0, 0.08, 1.0, 0.16), plate);
            // A layered cake with cream and a cherry: the most drawable "food".
            f.part(Rect(0.0, 0.4, 0.55, 0.28, 0.06), food);
            f.part(Rect(0.0, 0.4, 0.56, 0.04, 0.02), white);
            f.part(Ellipse(0.0, 0.68, 0.55, 0.09), white);
            f.part(Circle(0.0, 0.84, 0.09), hsl(355.0, 0.85, 0.45));
            for x in [-0.36, -0.12, 0.12, 0.36] {
                f.detail(Circle(x, 0.72, 0.05), mix(food, white, 0.3));
            }
            f.detail(Capsule(0.0, 0.92, 0.06, 1.02, 0.012), hsl(110.0, 0.5, 0.3));
        }
        Subject::House => {
            let wall = main.unwrap_or(hsl(40.0, 0.45, 0.82));
            let roof = hsl(8.0, 0.55, 0.4);
            f.part(Rect(0.45, 1.35, 0.08, 0.2, 0.0), mul(roof, 0.8)); // chimney
            f.part(Rect(0.0, 0.5, 0.8, 0.5, 0.0), wall);
            f.part(Tri([(-1.0, 0.95), (1.0, 0.95), (0.0, 1.65)]), roof);
            f.detail(Rect(0.0, 0.3, 0.15, 0.3, 0.02), hsl(25.0, 0.5, 0.3)); // door
            for x in [-0.5, 0.5] {
                f.detail(Rect(x, 0.6, 0.16, 0.14, 0.01), hsl(48.0, 0.8, 0.7));
            }
        }
        Subject::Pagoda => {
            let wall = main.unwrap_or(hsl(355.0, 0.6, 0.42));
            let roof = hsl(200.0, 0.25, 0.22);
            f.part(Rect(0.0, 0.08, 0.75, 0.08, 0.0), [0.7, 0.68, 0.64]); // base
            for (i, w) in [0.55f32, 0.45, 0.35].iter().enumerate() {
                let y = 0.16 + i as f32 * 0.55;
                f.part(Rect(0.0, y + 0.2, *w, 0.2, 0.0), wall);
                f.part(
                    Tri([(-w - 0.3, y + 0.45), (w + 0.3, y + 0.45), (0.0, y + 0.7)]),
                    roof,
                );
                f.detail(Rect(0.0, y + 0.2, w * 0.35, 0.14, 0.0), hsl(45.0, 0.8, 0.6));
            }
            f.part(Capsule(0.0, 1.8, 0.0, 2.15, 0.03), hsl(45.0, 0.8, 0.5)); // spire
        }
        Subject::Castle => {
            let stone = main.unwrap_or(hsl(35.0, 0.12, 0.7));
            let roof = hsl(220.0, 0.45, 0.35);
            f.part(Rect(0.0, 0.5, 0.65, 0.5, 0.0), stone);
            for x in [-0.75, 0.75] {
                f.part(Rect(x, 0.75, 0.22, 0.75, 0.0), stone);
                f.part(Tri([(x - 0.28, 1.5), (x + 0.28, 1.5), (x, 2.0)]), roof);
            }
            f.part(Rect(0.0, 1.2, 0.2, 0.3, 0.0), stone);
            f.part(Tri([(-0.26, 1.5), (0.26, 1.5), (0.0, 2.1)]), roof);
            for i in 0..5 {
                f.part(Rect(-0.52 + i as f32 * 0.26, 1.05, 0.07, 0.07, 0.0), stone);
                // crenels
            }
            f.detail(Ellipse(0.0, 0.25, 0.18, 0.25), hsl(25.0, 0.4, 0.2)); // gate
            f.detail(Rect(0.0, 1.2, 0.06, 0.1, 0.0), hsl(48.0, 0.8, 0.65));
        }
    }
    f
}

fn glass_colour() -> Col {
    hsl(205.0, 0.45, 0.3)
}

/// Fireworks: bursts of sparks over a night sky.
pub(super) fn fireworks(c: &mut Canvas, accents: &[Col], top: f32, bottom: f32, rng: &mut Rng) {
    let (w, s) = (c.w as f32, c.s);
    let bursts = 3 + rng.below(3);
    for _ in 0..bursts {
        let (cx, cy) = (w * rng.range(0.15, 0.85), rng.range(top, bottom));
        let r = s * rng.range(0.1, 0.2);
        let col = if accents.is_empty() {
            hsl(rng.range(0.0, 360.0), 0.9, 0.6)
        } else {
            accents[rng.below(accents.len())]
        };
        let rays = 24 + rng.below(16);
        for i in 0..rays {
            let a = i as f32 / rays as f32 * std::f32::consts::TAU + rng.range(-0.05, 0.05);
            let len = r * rng.range(0.75, 1.0);
            // Sparks along each ray, brighter at the tip, drooping a little.
            for k in 1..=6 {
                let t = k as f32 / 6.0;
                let (x, y) = (
                    cx + a.cos() * len * t,
                    cy + a.sin() * len * t + s * 0.01 * t * t,
                );
                let sr = (s * 0.004 * (0.6 + t)).max(0.7);
                stamp(
                    c,
                    x - sr * 3.0,
                    y - sr * 3.0,
                    x + sr * 3.0,
                    y + sr * 3.0,
                    true,
                    |px, py| {
                        let d = ((px - x).powi(2) + (py - y).powi(2)).sqrt() / sr;
                        (col, (1.0 - d / 3.0).max(0.0).powi(2) * 0.6 * t)
                    },
                );
            }
        }
        stamp(c, cx - r, cy - r, cx + r, cy + r, true, |px, py| {
            let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt() / r;
            (col, (1.0 - d).max(0.0).powi(3) * 0.25)
        });
    }
}
