//! The explicit label of GB 45438-2025: the words "AI生成" drawn in a corner, at least 5 % of
//! the picture's short side high. An instance option (`engine.visible_label`). The four
//! glyphs are drawn from strokes, so no font file is needed.

use image::{Rgb, RgbImage};

type Stroke = ((f32, f32), (f32, f32));

/// Strokes on a 16 x 16 grid, y downwards.
const A: &[Stroke] = &[
    ((2.0, 15.0), (8.0, 1.0)),
    ((8.0, 1.0), (14.0, 15.0)),
    ((4.5, 10.0), (11.5, 10.0)),
];
const I: &[Stroke] = &[
    ((8.0, 1.0), (8.0, 15.0)),
    ((5.0, 1.0), (11.0, 1.0)),
    ((5.0, 15.0), (11.0, 15.0)),
];
const SHENG: &[Stroke] = &[
    ((5.0, 1.0), (3.0, 6.0)),
    ((3.0, 5.0), (13.0, 5.0)),
    ((8.0, 1.0), (8.0, 15.0)),
    ((4.0, 10.0), (12.0, 10.0)),
    ((1.0, 15.0), (15.0, 15.0)),
];
const CHENG: &[Stroke] = &[
    ((3.0, 4.0), (15.0, 4.0)),
    ((4.0, 4.0), (4.0, 10.0)),
    ((4.0, 10.0), (2.0, 15.0)),
    ((4.0, 8.0), (8.0, 8.0)),
    ((8.0, 8.0), (8.0, 13.0)),
    ((8.0, 13.0), (6.0, 12.0)),
    ((9.0, 1.0), (15.0, 15.0)),
    ((15.0, 15.0), (15.0, 11.0)),
    ((14.0, 7.0), (7.0, 15.0)),
    ((11.0, 1.0), (13.0, 2.5)),
];

/// (strokes, advance in grid units) of "AI生成".
const TEXT: [(&[Stroke], f32); 4] = [(A, 13.0), (I, 11.0), (SHENG, 18.0), (CHENG, 17.0)];

fn distance(p: (f32, f32), (a, b): Stroke) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

fn blend(px: &mut Rgb<u8>, colour: [u8; 3], alpha: f32) {
    for c in 0..3 {
        px[c] = (f32::from(px[c]) * (1.0 - alpha) + f32::from(colour[c]) * alpha).round() as u8;
    }
}

/// The height in pixels of the label's text for a picture of this size.
pub fn text_height(width: u32, height: u32) -> u32 {
    // 6 % of the short side leaves a margin over the standard's 5 %.
    ((width.min(height) as f32 * 0.06).ceil() as u32).max(12)
}

/// Draws "AI生成" in the bottom-right corner: white text on a dark translucent plate.
pub fn stamp(img: &mut RgbImage) {
    let (w, h) = img.dimensions();
    let text_h = text_height(w, h) as f32;
    let unit = text_h / 16.0;
    let advance: f32 = TEXT.iter().map(|(_, a)| a).sum::<f32>() * unit;
    let pad = (text_h * 0.35).round();
    let (box_w, box_h) = (advance + 2.0 * pad, text_h + 2.0 * pad);
    let x0 = (w as f32 - box_w - pad).max(0.0);
    let y0 = (h as f32 - box_h - pad).max(0.0);
    let stroke = (1.7 * unit).max(1.2);
    let x_end = (x0 + box_w).min(w as f32) as u32;
    let y_end = (y0 + box_h).min(h as f32) as u32;
    for y in y0 as u32..y_end {
        for x in x0 as u32..x_end {
            let px = img.get_pixel_mut(x, y);
            blend(px, [0, 0, 0], 0.55);
            // Which glyph this column falls in, and the point in its 16-unit grid.
            let (mut gx, gy) = (
                (x as f32 + 0.5 - x0 - pad) / unit,
                (y as f32 + 0.5 - y0 - pad) / unit,
            );
            for (strokes, adv) in TEXT {
                if gx < adv {
                    let d = strokes
                        .iter()
                        .map(|s| distance((gx, gy), *s))
                        .fold(f32::MAX, f32::min)
                        * unit;
                    let alpha = (stroke / 2.0 + 0.5 - d).clamp(0.0, 1.0);
                    if alpha > 0.0 {
                        blend(px, [255, 255, 255], alpha);
                    }
                    break;
                }
                gx -= adv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_drawn_in_the_corner_and_nowhere_else() {
        let mut img = RgbImage::from_pixel(400, 300, Rgb([100, 150, 200]));
        let before = img.clone();
        stamp(&mut img);
        assert_eq!(
            img.get_pixel(10, 10),
            before.get_pixel(10, 10),
            "top-left untouched"
        );
        let corner: Vec<_> = (250..400)
            .flat_map(|x| (250..300).map(move |y| (x, y)))
            .collect();
        let changed = corner
            .iter()
            .filter(|(x, y)| img.get_pixel(*x, *y) != before.get_pixel(*x, *y))
            .count();
        assert!(changed > 500, "the plate and text are there: {changed}");
        let white = corner
            .iter()
            .filter(|(x, y)| img.get_pixel(*x, *y)[0] > 230)
            .count();
        assert!(white > 50, "white strokes: {white}");
    }

    #[test]
    fn text_is_at_least_five_percent_of_the_short_side() {
        for (w, h) in [(1024, 1024), (1920, 1080), (300, 2000)] {
            assert!(text_height(w, h) as f32 >= 0.05 * w.min(h) as f32);
        }
        let mut tiny = RgbImage::new(5, 5);
        stamp(&mut tiny);
    }
}
