//! Image to image for the offline `local` engine: real filters (oil paint, watercolour, pencil,
//! pixel art, colour transfer), each blended with the original by `strength`.

use image::RgbImage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    OilPainting,
    Watercolor,
    PencilSketch,
    PixelArt,
    ColorTransfer,
}

impl Style {
    /// From words in the prompt, zh and en: 油画/oil → OilPainting, 水彩/watercolor → Watercolor,
    /// 素描/铅笔/sketch/pencil → PencilSketch, 像素/pixel → PixelArt, otherwise ColorTransfer.
    pub fn from_prompt(prompt: &str) -> Style {
        let text = prompt.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| mentions(&text, w));
        if has(&["油画", "油彩", "oil"]) {
            Style::OilPainting
        } else if has(&[
            "水彩",
            "watercolor",
            "watercolour",
            "water color",
            "water colour",
        ]) {
            Style::Watercolor
        } else if has(&["素描", "铅笔", "sketch", "pencil"]) {
            Style::PencilSketch
        } else if has(&["像素", "pixel", "8-bit", "8bit"]) {
            Style::PixelArt
        } else {
            Style::ColorTransfer
        }
    }

    /// "oil_painting" | "watercolor" | "pencil_sketch" | "pixel_art" | "color_transfer".
    pub fn from_name(name: &str) -> Option<Style> {
        let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        [
            Style::OilPainting,
            Style::Watercolor,
            Style::PencilSketch,
            Style::PixelArt,
            Style::ColorTransfer,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Style::OilPainting => "oil_painting",
            Style::Watercolor => "watercolor",
            Style::PencilSketch => "pencil_sketch",
            Style::PixelArt => "pixel_art",
            Style::ColorTransfer => "color_transfer",
        }
    }
}

/// English words must start a word ("soil" is no "oil"); Chinese has no spaces to look for.
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(pos, _)| {
        !word.is_ascii()
            || !text[..pos]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphabetic())
    })
}

/// Applies `style` to `src`; `strength` 0.0..=1.0 blends from the original (0) to the full effect (1).
/// ColorTransfer takes its colours from `palette` if given, else from a small painting of `prompt`.
pub fn stylize(
    src: &image::RgbImage,
    style: Style,
    strength: f32,
    prompt: &str,
    palette: Option<&image::RgbImage>,
    seed: u64,
) -> image::RgbImage {
    let k = if strength.is_nan() {
        0.0
    } else {
        strength.clamp(0.0, 1.0)
    };
    if k <= 0.0 || src.width() == 0 || src.height() == 0 {
        return src.clone();
    }
    let noise_seed = (seed ^ (seed >> 32)) as u32;
    let effect = match style {
        Style::OilPainting => oil_painting(src, noise_seed),
        Style::Watercolor => watercolor(src, noise_seed),
        Style::PencilSketch => pencil_sketch(src, noise_seed),
        Style::PixelArt => pixel_art(src),
        Style::ColorTransfer => match palette.filter(|p| p.width() > 0 && p.height() > 0) {
            Some(p) => color_transfer(src, p),
            None => color_transfer(src, &super::paint::paint(prompt, seed, 64, 64)),
        },
    };
    if k >= 1.0 {
        return effect;
    }
    let mut out = effect;
    for (o, s) in out.pixels_mut().zip(src.pixels()) {
        for c in 0..3 {
            let (a, b) = (f32::from(s.0[c]), f32::from(o.0[c]));
            o.0[c] = (a + (b - a) * k).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Oil painting: a smooth Kuwahara filter flattens the picture into patches of paint, then brush
// strokes that follow the picture's own contours are embossed into it (impasto).

fn oil_painting(src: &RgbImage, seed: u32) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let s = w.min(h) as f32;
    let r = (s / 170.0).round().clamp(1.0, 10.0) as usize;
    let mut img = kuwahara(&Planes::from_image(src), r);
    // A second, smaller pass cleans the patch edges, as a second layer of paint would.
    img = kuwahara(&img, (r / 2).max(1));

    // Strokes are made at a working size of at most 1280 pixels and read back with bilinear
    // interpolation: a larger picture gets proportionally larger brushes, at the same cost.
    let f = w.max(h).div_ceil(1280).max(1);
    let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
    let lum = shrink(&img.luma(), w, h, f);
    let rs = (r / f).max(1);
    let (tx, ty) = flow_field(&lum, sw, sh, (rs as f32 * 1.5).max(1.5));
    // Bristles: fine noise, with coarser variation from stroke to stroke.
    let coarse = 2.0 * rs as f32 + 1.0;
    let bristles: Vec<f32> = (0..sw * sh)
        .map(|i| {
            let (x, y) = ((i % sw) as f32, (i / sw) as f32);
            0.65 * noise2(x / 1.3, y / 1.3, seed)
                + 0.35 * noise2(x / coarse, y / coarse, seed ^ 0xB1)
        })
        .collect();
    let small = line_integral(&bristles, &tx, &ty, sw, sh, rs + 6);
    let strokes = if f == 1 {
        small
    } else {
        grow(&small, sw, sh, w, h, f)
    };

    let mut out = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let at = |dx: isize, dy: isize| {
                let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                strokes[yy * w + xx]
            };
            // Light from the upper left catches the ridges of paint.
            let relief = ((at(-1, -1) - at(1, 1)) * 6.0).clamp(-1.0, 1.0);
            let grain = (strokes[i] - 0.5) * 0.5;
            let c = img.get(i);
            let l = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
            let px = [0, 1, 2].map(|k| {
                // Oil colours are rich: a little more saturation than the photo.
                let v = l + (c[k] - l) * 1.2;
                let v = v * (1.0 + 0.14 * relief + grain * 0.2) + relief.max(0.0).powi(2) * 0.08;
                to_u8(v)
            });
            out.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    out
}

/// Box-averages a plane by `f` in each direction (partial blocks at the edges).
fn shrink(v: &[f32], w: usize, h: usize, f: usize) -> Vec<f32> {
    if f <= 1 {
        return v.to_vec();
    }
    let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
    let mut sum = vec![0.0f32; sw * sh];
    let mut count = vec![0.0f32; sw * sh];
    for y in 0..h {
        for x in 0..w {
            let j = (y / f) * sw + x / f;
            sum[j] += v[y * w + x];
            count[j] += 1.0;
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, n)| s / n.max(1.0))
        .collect()
}

/// Bilinear enlargement of a plane made by `shrink`.
fn grow(v: &[f32], sw: usize, sh: usize, w: usize, h: usize, f: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let fy = ((y as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (sh - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy.fract());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..w {
            let fx = ((x as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (sw - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx.fract());
            let x1 = (x0 + 1).min(sw - 1);
            let top = v[y0 * sw + x0] + (v[y0 * sw + x1] - v[y0 * sw + x0]) * tx;
            let bot = v[y1 * sw + x0] + (v[y1 * sw + x1] - v[y1 * sw + x0]) * tx;
            out.push(top + (bot - top) * ty);
        }
    }
    out
}

/// Smooth Kuwahara: the mean of each of four quadrants around a pixel, weighted by how even the
/// quadrant is, so edges stay sharp while flat areas become patches of one colour. Sums come from
/// integral images, so the cost does not grow with the radius.
fn kuwahara(img: &Planes, r: usize) -> Planes {
    let (w, h) = (img.w, img.h);
    let stride = w + 1;
    // Integer sums of 8-bit values are exact and the same on every machine.
    let mut sums = vec![[0u32; 4]; stride * (h + 1)];
    let mut sq = vec![0u64; stride * (h + 1)];
    for y in 0..h {
        let mut row = [0u32; 4];
        let mut row_sq = 0u64;
        for x in 0..w {
            let c = img
                .get(y * w + x)
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u32);
            let l = (c[0] * 77 + c[1] * 150 + c[2] * 29) >> 8;
            row[0] += c[0];
            row[1] += c[1];
            row[2] += c[2];
            row[3] += l;
            row_sq += u64::from(l * l);
            let above = sums[y * stride + x + 1];
            sums[(y + 1) * stride + x + 1] = [0, 1, 2, 3].map(|k| above[k] + row[k]);
            sq[(y + 1) * stride + x + 1] = sq[y * stride + x + 1] + row_sq;
        }
    }
    let rect = |x0: usize, y0: usize, x1: usize, y1: usize| {
        // Inclusive pixel box [x0, x1] x [y0, y1].
        let (a, b, c, d) = (
            y0 * stride + x0,
            y0 * stride + x1 + 1,
            (y1 + 1) * stride + x0,
            (y1 + 1) * stride + x1 + 1,
        );
        let s = [0, 1, 2, 3].map(|k| {
            sums[d][k]
                .wrapping_add(sums[a][k])
                .wrapping_sub(sums[b][k])
                .wrapping_sub(sums[c][k])
        });
        let q = sq[d] + sq[a] - sq[b] - sq[c];
        let n = ((x1 - x0 + 1) * (y1 - y0 + 1)) as f64;
        let mean_l = f64::from(s[3]) / n;
        let var = (q as f64 / n - mean_l * mean_l).max(0.0);
        (
            [
                f64::from(s[0]) / n,
                f64::from(s[1]) / n,
                f64::from(s[2]) / n,
            ],
            var,
        )
    };
    let mut out = Planes::new(w, h);
    for y in 0..h {
        let (ya, yb) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            let (xa, xb) = (x.saturating_sub(r), (x + r).min(w - 1));
            let quads = [
                rect(xa, ya, x, y),
                rect(x, ya, xb, y),
                rect(xa, y, x, yb),
                rect(x, y, xb, yb),
            ];
            let mut acc = [0.0f64; 3];
            let mut total = 0.0f64;
            for (mean, var) in quads {
                // Weight 1/(1+var)^4: the evenest quadrant dominates without hard seams.
                let wgt = 1.0 / (1.0 + var).powi(4);
                total += wgt;
                for k in 0..3 {
                    acc[k] += mean[k] * wgt;
                }
            }
            out.set(y * w + x, acc.map(|v| (v / total / 255.0) as f32));
        }
    }
    out
}

/// Unit vectors along the picture's contours, from the smoothed structure tensor. Where there is
/// no clear contour a slow swirl takes over, so brush strokes never point at random.
fn flow_field(lum: &[f32], w: usize, h: usize, sigma: f32) -> (Vec<f32>, Vec<f32>) {
    let n = w * h;
    let (mut jxx, mut jyy, mut jxy) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize, yy: usize| lum[yy * w + xx];
            let gx = at((x + 1).min(w - 1), y) - at(x.saturating_sub(1), y);
            let gy = at(x, (y + 1).min(h - 1)) - at(x, y.saturating_sub(1));
            let i = y * w + x;
            jxx[i] = gx * gx;
            jyy[i] = gy * gy;
            jxy[i] = gx * gy;
        }
    }
    let (jxx, jyy, jxy) = (
        gauss(&jxx, w, h, sigma),
        gauss(&jyy, w, h, sigma),
        gauss(&jxy, w, h, sigma),
    );
    let s = w.min(h) as f32;
    let mut tx = vec![0.0; n];
    let mut ty = vec![0.0; n];
    for i in 0..n {
        let (a, b, c) = (jxx[i], jyy[i], jxy[i]);
        let gradient_angle = 0.5 * (2.0 * c).atan2(a - b);
        let strength = ((a - b).powi(2) + 4.0 * c * c).sqrt();
        let coherence = (strength / (a + b + 1e-9)).clamp(0.0, 1.0) * smoothstep(1e-7, 3e-5, a + b);
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        let swirl = noise2(x / s * 2.0, y / s * 2.0, 77) * std::f32::consts::TAU;
        let (cx, cy) = (-gradient_angle.sin(), gradient_angle.cos());
        let (sx, sy) = (swirl.cos(), swirl.sin());
        // Tangents have no sign; flip the swirl to agree before mixing.
        let sign = if cx * sx + cy * sy < 0.0 { -1.0 } else { 1.0 };
        let vx = cx * coherence + sx * sign * (1.0 - coherence);
        let vy = cy * coherence + sy * sign * (1.0 - coherence);
        let len = (vx * vx + vy * vy).sqrt().max(1e-6);
        tx[i] = vx / len;
        ty[i] = vy / len;
    }
    (tx, ty)
}

/// Line integral convolution: averages `noise` along the flow, which draws it out into strokes.
fn line_integral(
    noise: &[f32],
    tx: &[f32],
    ty: &[f32],
    w: usize,
    h: usize,
    steps: usize,
) -> Vec<f32> {
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut acc = noise[i];
            let mut count = 1.0;
            for dir in [1.0f32, -1.0] {
                let (mut px, mut py) = (x as f32 + 0.5, y as f32 + 0.5);
                let (mut vx, mut vy) = (tx[i] * dir, ty[i] * dir);
                for _ in 0..steps {
                    px += vx;
                    py += vy;
                    if px < 0.0 || py < 0.0 || px >= w as f32 || py >= h as f32 {
                        break;
                    }
                    let j = py as usize * w + px as usize;
                    acc += noise[j];
                    count += 1.0;
                    // Keep walking the same way along an unsigned tangent.
                    let (nx, ny) = (tx[j], ty[j]);
                    if nx * vx + ny * vy < 0.0 {
                        (vx, vy) = (-nx, -ny);
                    } else {
                        (vx, vy) = (nx, ny);
                    }
                }
            }
            out[i] = acc / count;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Watercolour: edge-preserving smoothing into washes, pigment that bleeds past the edges, darker
// rims where pigment gathers, and the grain of the paper (after Bousseau et al. 2006).

fn watercolor(src: &RgbImage, seed: u32) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let s = w.min(h) as f32;
    let mut img = Planes::from_image(src);
    domain_transform(&mut img, (s * 0.03).max(2.0), 0.45, 3);
    let soft = Planes {
        w,
        h,
        c: img.c.clone().map(|p| gauss(&p, w, h, (s / 220.0).max(0.8))),
    };

    // Wet paint runs: read the washes through a slowly wandering offset. The offsets and the
    // pigment flow change slowly, so they are made on a coarse grid and interpolated.
    let reach = s * 0.01;
    let step = (s / 128.0).max(1.0);
    let (gw, gh) = (
        (w as f32 / step) as usize + 2,
        (h as f32 / step) as usize + 2,
    );
    let mut grid = Planes::new(gw, gh);
    for gy in 0..gh {
        for gx in 0..gw {
            let (x, y) = (gx as f32 * step, gy as f32 * step);
            let (u, v) = (x / s * 7.0, y / s * 7.0);
            let flow = fbm2(x / s * 5.0, y / s * 5.0, 3, seed ^ 0x9C);
            grid.set(
                gy * gw + gx,
                [fbm2(u, v, 3, seed), fbm2(u + 9.1, v + 3.7, 3, seed), flow],
            );
        }
    }
    let mut bled = Planes::new(w, h);
    let mut flows = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let [ox, oy, flow] = grid.sample(x as f32 / step, y as f32 / step);
            flows[y * w + x] = flow;
            let dx = (ox - 0.5) * 2.0 * reach;
            let dy = (oy - 0.5) * 2.0 * reach;
            let a = img.sample(x as f32 + dx, y as f32 + dy);
            let b = soft.sample(x as f32 - dx * 0.5, y as f32 - dy * 0.5);
            bled.set(y * w + x, [0, 1, 2].map(|k| 0.55 * a[k] + 0.45 * b[k]));
        }
    }

    let lum = bled.luma();
    let mut out = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let at = |dx: isize, dy: isize| {
                lum[(y as isize + dy).clamp(0, h as isize - 1) as usize * w
                    + (x as isize + dx).clamp(0, w as isize - 1) as usize]
            };
            let gx =
                at(1, -1) + 2.0 * at(1, 0) + at(1, 1) - at(-1, -1) - 2.0 * at(-1, 0) - at(-1, 1);
            let gy =
                at(-1, 1) + 2.0 * at(0, 1) + at(1, 1) - at(-1, -1) - 2.0 * at(0, -1) - at(1, -1);
            let edge = smoothstep(0.04, 0.35, (gx * gx + gy * gy).sqrt());
            let (xf, yf) = (x as f32, y as f32);
            let paper = 0.6 * noise2(xf / 1.7, yf / 1.7, seed ^ 0x9A)
                + 0.4 * fbm2(xf / 9.0, yf / 9.0, 2, seed ^ 0x9B);
            let flow = flows[i];
            // Pigment density above 1 darkens, below 1 lightens: C' = C - (C - C^2)(d - 1).
            let d = 1.0 + 0.45 * (paper - 0.5) + 0.5 * (flow - 0.5) + 0.55 * edge;
            let c = bled.get(i);
            let px = [0, 1, 2].map(|k| {
                let v = c[k].clamp(0.0, 1.0);
                let v = v - (v - v * v) * (d - 1.0);
                // Paper shows through thin washes.
                let v = v + (0.98 - v) * 0.1;
                to_u8(v * (0.975 + 0.025 * paper))
            });
            out.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    out
}

/// Domain-transform recursive filter (Gastal & Oliveira 2011): smooths within regions but not
/// across strong edges, in linear time.
fn domain_transform(img: &mut Planes, sigma_s: f32, sigma_r: f32, iterations: u32) {
    let (w, h) = (img.w, img.h);
    let ratio = sigma_s / sigma_r;
    let mut dx = vec![1.0f32; w * h];
    let mut dy = vec![1.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x > 0 {
                dx[i] = 1.0
                    + ratio
                        * (0..3)
                            .map(|k| (img.c[k][i] - img.c[k][i - 1]).abs())
                            .sum::<f32>();
            }
            if y > 0 {
                dy[i] = 1.0
                    + ratio
                        * (0..3)
                            .map(|k| (img.c[k][i] - img.c[k][i - w]).abs())
                            .sum::<f32>();
            }
        }
    }
    let n = iterations.max(1);
    for it in 0..n {
        let sigma = sigma_s * 3f32.sqrt() * 2f32.powi((n - it - 1) as i32)
            / (4f32.powi(n as i32) - 1.0).sqrt();
        let ln_a = -(2f32.sqrt()) / sigma;
        let ax: Vec<f32> = dx.iter().map(|d| (d * ln_a).exp()).collect();
        let ay: Vec<f32> = dy.iter().map(|d| (d * ln_a).exp()).collect();
        for plane in &mut img.c {
            for y in 0..h {
                let row = &mut plane[y * w..(y + 1) * w];
                let a = &ax[y * w..(y + 1) * w];
                for x in 1..w {
                    row[x] += a[x] * (row[x - 1] - row[x]);
                }
                for x in (0..w.saturating_sub(1)).rev() {
                    row[x] += a[x + 1] * (row[x + 1] - row[x]);
                }
            }
            for y in 1..h {
                for x in 0..w {
                    let i = y * w + x;
                    plane[i] += ay[i] * (plane[i - w] - plane[i]);
                }
            }
            for y in (0..h.saturating_sub(1)).rev() {
                for x in 0..w {
                    let i = y * w + x;
                    plane[i] += ay[i + w] * (plane[i + w] - plane[i]);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pencil sketch: the classic dodge of the grey picture by its blurred negative draws the outlines;
// hatching along a diagonal shades the dark tones, and the paper has a little tooth.

fn pencil_sketch(src: &RgbImage, seed: u32) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let s = w.min(h) as f32;
    let gray = Planes::from_image(src).luma();
    let inverted: Vec<f32> = gray.iter().map(|g| 1.0 - g).collect();
    let blurred = gauss(&inverted, w, h, (s / 110.0).clamp(1.5, 12.0));
    let tone = gauss(&gray, w, h, (s / 90.0).clamp(1.5, 14.0));
    let (sin, cos) = 0.8f32.sin_cos();
    let stroke_len = (s * 0.05).max(4.0);
    let mut out = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let dodge = (gray[i] / (1.0 - blurred[i]).max(1e-3)).min(1.0);
            let line = dodge.powf(1.8);
            let (xf, yf) = (x as f32, y as f32);
            // Strokes vary fast across and slowly along their direction.
            let (u, v) = (xf * cos + yf * sin, -xf * sin + yf * cos);
            let hatch = smoothstep(0.45, 0.8, noise2(u / 1.4, v / stroke_len, seed));
            let cross = smoothstep(0.5, 0.85, noise2(v / 1.4, u / stroke_len, seed ^ 0x51));
            // Light tones stay paper-white; only the darker ones are hatched.
            let dark = smoothstep(0.3, 1.0, 1.0 - tone[i]);
            let shade = dark * (0.2 + 0.55 * hatch) + smoothstep(0.5, 0.9, dark) * 0.35 * cross;
            let tooth = 0.965 + 0.035 * noise2(xf / 1.2, yf / 1.2, seed ^ 0x7E);
            let v = to_u8(line * (1.0 - shade.min(0.85)) * tooth);
            out.put_pixel(x as u32, y as u32, image::Rgb([v, v, v]));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Pixel art: average over a block grid, reduce to a small palette (median cut, then a few rounds
// of k-means), and scale back up with hard edges.

const PIXEL_COLOURS: usize = 24;

fn pixel_art(src: &RgbImage) -> RgbImage {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let long = w.max(h);
    let block = if long < 16 {
        1
    } else {
        ((long as f32 / 96.0).round() as usize).max(2)
    };
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let mut cells = vec![[0.0f32; 3]; bw * bh];
    let mut counts = vec![0u32; bw * bh];
    for (x, y, p) in src.enumerate_pixels() {
        let j = (y as usize / block) * bw + x as usize / block;
        for (cell, v) in cells[j].iter_mut().zip(p.0) {
            *cell += f32::from(v);
        }
        counts[j] += 1;
    }
    for (c, n) in cells.iter_mut().zip(&counts) {
        let n = (*n).max(1) as f32;
        let avg = c.map(|v| v / n);
        // Game palettes are punchy: a little more saturation and contrast.
        let l = 0.299 * avg[0] + 0.587 * avg[1] + 0.114 * avg[2];
        *c = avg.map(|v| ((l + (v - l) * 1.25 - 128.0) * 1.08 + 128.0).clamp(0.0, 255.0));
    }
    let mut palette = median_cut(&cells, PIXEL_COLOURS);
    kmeans(&cells, &mut palette, 4);
    let palette: Vec<[u8; 3]> = palette
        .iter()
        .map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8))
        .collect();
    let index: Vec<usize> = cells
        .iter()
        .map(|c| nearest(&palette_f32(&palette), c))
        .collect();
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        image::Rgb(palette[index[(y as usize / block) * bw + x as usize / block]])
    })
}

fn palette_f32(p: &[[u8; 3]]) -> Vec<[f32; 3]> {
    p.iter().map(|c| c.map(f32::from)).collect()
}

fn distance(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    // Weighted roughly by how sensitive the eye is to each channel.
    let (dr, dg, db) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    2.0 * dr * dr + 4.0 * dg * dg + 3.0 * db * db
}

fn nearest(palette: &[[f32; 3]], c: &[f32; 3]) -> usize {
    let mut best = (0, f32::MAX);
    for (i, p) in palette.iter().enumerate() {
        let d = distance(p, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

fn median_cut(colours: &[[f32; 3]], k: usize) -> Vec<[f32; 3]> {
    let mut boxes: Vec<Vec<[f32; 3]>> = vec![colours.to_vec()];
    while boxes.len() < k {
        // Split the box with the widest spread of any channel.
        let widest = boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| b.len() > 1)
            .map(|(i, b)| {
                let (ch, range) = (0..3)
                    .map(|ch| {
                        let (lo, hi) = b.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| {
                            (lo.min(c[ch]), hi.max(c[ch]))
                        });
                        (ch, hi - lo)
                    })
                    .fold(
                        (0, -1.0),
                        |best, cur| if cur.1 > best.1 { cur } else { best },
                    );
                (i, ch, range)
            })
            .fold(None, |best: Option<(usize, usize, f32)>, cur| match best {
                Some(b) if b.2 >= cur.2 => Some(b),
                _ => Some(cur),
            });
        let Some((i, ch, range)) = widest else { break };
        if range <= 0.0 {
            break;
        }
        let mut b = boxes.swap_remove(i);
        b.sort_by(|p, q| p[ch].total_cmp(&q[ch]));
        let upper = b.split_off(b.len() / 2);
        boxes.push(b);
        boxes.push(upper);
    }
    boxes
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let n = b.len() as f32;
            let sum = b.iter().fold([0.0f32; 3], |acc, c| {
                [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]
            });
            sum.map(|v| v / n)
        })
        .collect()
}

fn kmeans(colours: &[[f32; 3]], centres: &mut [[f32; 3]], rounds: usize) {
    for _ in 0..rounds {
        let mut sums = vec![[0.0f32; 3]; centres.len()];
        let mut counts = vec![0u32; centres.len()];
        for c in colours {
            let j = nearest(centres, c);
            for k in 0..3 {
                sums[j][k] += c[k];
            }
            counts[j] += 1;
        }
        for (centre, (sum, n)) in centres.iter_mut().zip(sums.iter().zip(&counts)) {
            if *n > 0 {
                *centre = sum.map(|v| v / *n as f32);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Colour transfer: Reinhard et al. 2001, matching the mean and spread of each channel in the
// decorrelated lαβ space to those of the palette picture.

fn color_transfer(src: &RgbImage, palette: &RgbImage) -> RgbImage {
    let lut: Vec<f32> = (0..256).map(|v| srgb_to_linear(v as f32 / 255.0)).collect();
    let src_lab: Vec<[f32; 3]> = src.pixels().map(|p| to_lab(p.0, &lut)).collect();
    let (src_mean, src_std) = stats(src_lab.iter().copied());
    // A large palette picture gives the same statistics from a sample of its pixels.
    let step = ((palette.width() as usize * palette.height() as usize) / 65_536).max(1);
    let (pal_mean, pal_std) = stats(palette.pixels().step_by(step).map(|p| to_lab(p.0, &lut)));
    let ratio: [f32; 3] = std::array::from_fn(|k| {
        if src_std[k] < 1e-4 {
            1.0
        } else {
            // Unbounded ratios blow up noise in flat pictures.
            let lo = if k == 0 { 0.5 } else { 0.25 };
            (pal_std[k] / src_std[k]).clamp(lo, if k == 0 { 2.0 } else { 4.0 })
        }
    });
    let mut out = RgbImage::new(src.width(), src.height());
    for (o, lab) in out.pixels_mut().zip(&src_lab) {
        let moved: [f32; 3] =
            std::array::from_fn(|k| (lab[k] - src_mean[k]) * ratio[k] + pal_mean[k]);
        o.0 = from_lab(moved).map(|v| to_u8(linear_to_srgb(v)));
    }
    out
}

fn stats(values: impl Iterator<Item = [f32; 3]>) -> ([f32; 3], [f32; 3]) {
    let (mut sum, mut sq, mut n) = ([0.0f64; 3], [0.0f64; 3], 0.0f64);
    for v in values {
        for k in 0..3 {
            sum[k] += f64::from(v[k]);
            sq[k] += f64::from(v[k]) * f64::from(v[k]);
        }
        n += 1.0;
    }
    let n = n.max(1.0);
    let mean = sum.map(|s| s / n);
    let std: [f32; 3] =
        std::array::from_fn(|k| (sq[k] / n - mean[k] * mean[k]).max(0.0).sqrt() as f32);
    (mean.map(|m| m as f32), std)
}

fn to_lab(rgb: [u8; 3], lut: &[f32]) -> [f32; 3] {
    let [r, g, b] = rgb.map(|v| lut[usize::from(v)]);
    let l = (0.3811 * r + 0.5783 * g + 0.0402 * b).max(1e-4).ln();
    let m = (0.1967 * r + 0.7244 * g + 0.0782 * b).max(1e-4).ln();
    let s = (0.0241 * r + 0.1288 * g + 0.8444 * b).max(1e-4).ln();
    [
        (l + m + s) / 3f32.sqrt(),
        (l + m - 2.0 * s) / 6f32.sqrt(),
        (l - m) / 2f32.sqrt(),
    ]
}

fn from_lab(lab: [f32; 3]) -> [f32; 3] {
    let (a, b, c) = (
        lab[0] / 3f32.sqrt(),
        lab[1] / 6f32.sqrt(),
        lab[2] / 2f32.sqrt(),
    );
    let l = (a + b + c).exp();
    let m = (a + b - c).exp();
    let s = (a - 2.0 * b).exp();
    [
        4.4679 * l - 3.5873 * m + 0.1193 * s,
        -1.2186 * l + 2.3809 * m - 0.1624 * s,
        0.0497 * l - 0.2439 * m + 1.2045 * s,
    ]
}

fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(v: f32) -> f32 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Three colour planes of 0..1 values.
struct Planes {
    w: usize,
    h: usize,
    c: [Vec<f32>; 3],
}

impl Planes {
    fn new(w: usize, h: usize) -> Planes {
        Planes {
            w,
            h,
            c: std::array::from_fn(|_| vec![0.0; w * h]),
        }
    }

    fn from_image(img: &RgbImage) -> Planes {
        let mut p = Planes::new(img.width() as usize, img.height() as usize);
        for (i, px) in img.pixels().enumerate() {
            p.set(i, px.0.map(|v| f32::from(v) / 255.0));
        }
        p
    }

    fn get(&self, i: usize) -> [f32; 3] {
        [self.c[0][i], self.c[1][i], self.c[2][i]]
    }

    fn set(&mut self, i: usize, v: [f32; 3]) {
        for (k, plane) in self.c.iter_mut().enumerate() {
            plane[i] = v[k];
        }
    }

    fn luma(&self) -> Vec<f32> {
        (0..self.w * self.h)
            .map(|i| 0.299 * self.c[0][i] + 0.587 * self.c[1][i] + 0.114 * self.c[2][i])
            .collect()
    }

    /// Bilinear read, edges repeated.
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        std::array::from_fn(|k| {
            let p = &self.c[k];
            let top = p[y0 * self.w + x0] + (p[y0 * self.w + x1] - p[y0 * self.w + x0]) * tx;
            let bot = p[y1 * self.w + x0] + (p[y1 * self.w + x1] - p[y1 * self.w + x0]) * tx;
            top + (bot - top) * ty
        })
    }
}

/// Gaussian blur approximated by three box blurs, each linear in time whatever the radius.
fn gauss(src: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let r = (((4.0 * sigma * sigma + 1.0).sqrt() - 1.0) / 2.0)
        .round()
        .max(0.0) as usize;
    let mut v = src.to_vec();
    if r == 0 || w == 0 || h == 0 {
        return v;
    }
    for _ in 0..3 {
        box_rows(&mut v, w, h, r);
        box_columns(&mut v, w, h, r);
    }
    v
}

fn box_rows(v: &mut [f32], w: usize, h: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut line = vec![0.0; w];
    for y in 0..h {
        let row = &mut v[y * w..(y + 1) * w];
        line.copy_from_slice(row);
        let at = |i: isize| line[i.clamp(0, w as isize - 1) as usize];
        let r = r as isize;
        let mut sum: f32 = (-r..=r).map(at).sum();
        for (x, out) in row.iter_mut().enumerate() {
            *out = sum * norm;
            let x = x as isize;
            sum += at(x + r + 1) - at(x - r);
        }
    }
}

fn box_columns(v: &mut [f32], w: usize, h: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    let src = v.to_vec();
    let row = |y: isize| &src[y.clamp(0, h as isize - 1) as usize * w..][..w];
    let r = r as isize;
    let mut sum = vec![0.0f32; w];
    for dy in -r..=r {
        for (s, p) in sum.iter_mut().zip(row(dy)) {
            *s += p;
        }
    }
    for y in 0..h as isize {
        let out = &mut v[y as usize * w..(y as usize + 1) * w];
        for (o, s) in out.iter_mut().zip(&sum) {
            *o = s * norm;
        }
        let (add, sub) = (row(y + r + 1), row(y - r));
        for x in 0..w {
            sum[x] += add[x] - sub[x];
        }
    }
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
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

/// Value noise in 0..1.
fn noise2(x: f32, y: f32, seed: u32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (xi, yi) = (xf as i32, yf as i32);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let r = |x: i32, y: i32| (hash2(x, y, seed) >> 8) as f32 / 16_777_216.0;
    let (x1, y1) = (xi.wrapping_add(1), yi.wrapping_add(1));
    let top = r(xi, yi) + (r(x1, yi) - r(xi, yi)) * sx;
    let bot = r(xi, y1) + (r(x1, y1) - r(xi, y1)) * sx;
    top + (bot - top) * sy
}

fn fbm2(x: f32, y: f32, octaves: u32, seed: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 0.5, 0.0, 1.0);
    for o in 0..octaves {
        sum += amp
            * noise2(
                x * f + o as f32 * 17.31,
                y * f - o as f32 * 17.31,
                seed.wrapping_add(o),
            );
        norm += amp;
        amp *= 0.5;
        f *= 2.03;
    }
    sum / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mean_abs_diff, mean_rgb};

    const ALL: [Style; 5] = [
        Style::OilPainting,
        Style::Watercolor,
        Style::PencilSketch,
        Style::PixelArt,
        Style::ColorTransfer,
    ];

    fn picture(w: u32, h: u32) -> RgbImage {
        super::super::paint::paint("雪山日落", 3, w, h)
    }

    /// Mean difference between horizontal neighbours: how busy the fine detail is.
    fn busyness(img: &RgbImage) -> f64 {
        let mut total = 0.0;
        let mut n = 0.0;
        for y in 0..img.height() {
            for x in 1..img.width() {
                let (a, b) = (img.get_pixel(x - 1, y), img.get_pixel(x, y));
                total += (0..3)
                    .map(|k| (f64::from(a.0[k]) - f64::from(b.0[k])).abs())
                    .sum::<f64>();
                n += 3.0;
            }
        }
        total / n
    }

    #[test]
    fn style_from_prompt_reads_both_languages() {
        assert_eq!(
            Style::from_prompt("让上传的照片呈现出油画效果"),
            Style::OilPainting
        );
        assert_eq!(
            Style::from_prompt("An Oil painting of my dog"),
            Style::OilPainting
        );
        assert_eq!(Style::from_prompt("水彩风格"), Style::Watercolor);
        assert_eq!(Style::from_prompt("soft watercolour"), Style::Watercolor);
        assert_eq!(Style::from_prompt("素描"), Style::PencilSketch);
        assert_eq!(Style::from_prompt("铅笔画"), Style::PencilSketch);
        assert_eq!(Style::from_prompt("a quick Sketch"), Style::PencilSketch);
        assert_eq!(Style::from_prompt("像素风"), Style::PixelArt);
        assert_eq!(Style::from_prompt("pixel art please"), Style::PixelArt);
        assert_eq!(Style::from_prompt("日落的颜色"), Style::ColorTransfer);
        assert_eq!(
            Style::from_prompt("rich soil and foil"),
            Style::ColorTransfer
        );
    }

    #[test]
    fn names_round_trip() {
        for style in ALL {
            assert_eq!(Style::from_name(style.name()), Some(style));
        }
        assert_eq!(Style::from_name("Oil-Painting"), Some(Style::OilPainting));
        assert_eq!(Style::from_name("cubism"), None);
        assert_eq!(Style::from_name(""), None);
    }

    #[test]
    fn every_filter_changes_the_picture_and_keeps_its_size() {
        let src = picture(97, 71);
        for style in ALL {
            let out = stylize(&src, style, 1.0, "城市夜景", None, 1);
            assert_eq!(out.dimensions(), src.dimensions(), "{style:?}");
            let d = mean_abs_diff(&src, &out);
            assert!(d > 3.0, "{style:?} changed only {d:.2}");
        }
    }

    #[test]
    fn same_inputs_give_the_same_pixels() {
        let src = picture(80, 60);
        for style in ALL {
            let a = stylize(&src, style, 0.8, "夜晚星空", None, 9);
            let b = stylize(&src, style, 0.8, "夜晚星空", None, 9);
            assert_eq!(a, b, "{style:?}");
        }
    }

    #[test]
    fn strength_zero_or_below_or_nan_returns_the_original() {
        let src = picture(64, 48);
        for style in ALL {
            for strength in [0.0, -2.0, f32::NAN] {
                assert_eq!(
                    stylize(&src, style, strength, "", None, 1),
                    src,
                    "{style:?} {strength}"
                );
            }
        }
    }

    #[test]
    fn strength_blends_and_is_clamped() {
        let src = picture(64, 48);
        for style in ALL {
            let full = stylize(&src, style, 1.0, "红色", None, 1);
            assert_eq!(
                stylize(&src, style, 7.5, "红色", None, 1),
                full,
                "{style:?}"
            );
            let half = stylize(&src, style, 0.5, "红色", None, 1);
            let (d_full, d_half) = (mean_abs_diff(&src, &full), mean_abs_diff(&src, &half));
            assert!(
                d_half > d_full * 0.35 && d_half < d_full * 0.65,
                "{style:?}: half {d_half:.2}, full {d_full:.2}"
            );
        }
    }

    #[test]
    fn pencil_sketch_is_grey() {
        let out = stylize(&picture(90, 60), Style::PencilSketch, 1.0, "", None, 1);
        assert!(out.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
        // Mostly paper with darker lines, as a sketch is.
        let light = out.pixels().filter(|p| p.0[0] > 160).count();
        assert!(light * 2 > out.pixels().count());
        assert!(out.pixels().any(|p| p.0[0] < 120));
    }

    #[test]
    fn pixel_art_uses_few_colours_in_blocks() {
        let src = picture(200, 150);
        let out = stylize(&src, Style::PixelArt, 1.0, "", None, 1);
        let colours: std::collections::HashSet<[u8; 3]> = out.pixels().map(|p| p.0).collect();
        assert!(
            colours.len() <= PIXEL_COLOURS && colours.len() >= 4,
            "{} colours",
            colours.len()
        );
        // 200 / 96 rounds to blocks of 2 pixels.
        for (x, y, p) in out.enumerate_pixels() {
            assert_eq!(p, out.get_pixel(x / 2 * 2, y / 2 * 2));
        }
    }

    #[test]
    fn colour_transfer_takes_the_palette_colours() {
        let src = picture(80, 60);
        let red = RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([150 + (x * 6) as u8, 20 + (y * 2) as u8, 30])
        });
        let out = stylize(&src, Style::ColorTransfer, 1.0, "", Some(&red), 1);
        let ([sr, _, sb], [or, _, ob]) = (mean_rgb(&src), mean_rgb(&out));
        assert!(
            or - ob > sr - sb + 40.0,
            "before {:.0}, after {:.0}",
            sr - sb,
            or - ob
        );
        // Without a palette the prompt's own painting gives the colours.
        let night = stylize(&src, Style::ColorTransfer, 1.0, "夜晚星空", None, 1);
        let snow = stylize(&src, Style::ColorTransfer, 1.0, "snowy winter", None, 1);
        let (n, s) = (mean_rgb(&night), mean_rgb(&snow));
        assert!(n[1] + 40.0 < s[1], "night {n:?}, snow {s:?}");
    }

    #[test]
    fn oil_and_watercolour_smooth_away_fine_noise() {
        // A flat colour under heavy per-pixel noise, like a grainy photo.
        let mut state = 12345u32;
        let noisy = RgbImage::from_fn(96, 72, |_, _| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = (state >> 24) as u8 / 3;
            image::Rgb([100 + n, 120 + n, 80 + n])
        });
        let before = busyness(&noisy);
        for style in [Style::OilPainting, Style::Watercolor] {
            let after = busyness(&stylize(&noisy, style, 1.0, "", None, 1));
            assert!(after < before * 0.6, "{style:?}: {before:.1} -> {after:.1}");
        }
    }

    #[test]
    fn tiny_and_thin_images_do_not_panic() {
        for (w, h) in [(1, 1), (2, 3), (3, 2), (1, 17), (17, 1), (0, 0), (0, 5)] {
            let src = RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 40) as u8, (y * 30) as u8, 99])
            });
            for style in ALL {
                for strength in [0.5, 1.0] {
                    let out = stylize(&src, style, strength, "油画", Some(&src), 1);
                    assert_eq!(out.dimensions(), (w, h), "{style:?} {w}x{h}");
                }
            }
        }
    }
}
