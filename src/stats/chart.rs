//! Server-drawn SVG bar charts: the coordinates are computed here and the template only
//! writes them out, so the page needs no chart script and the CSP stays strict.

use serde::Serialize;

pub const WIDTH: f64 = 960.0;
pub const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;

#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// CSS class: which layer of the stack.
    pub class: &'static str,
    /// The hover text (`<title>`).
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub baseline: f64,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub empty: bool,
}

/// One bucket: its axis label, its hover label and the two stacked values (bottom, top).
pub struct Column {
    pub label: String,
    pub title: String,
    pub low: f64,
    pub high: f64,
}

/// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&v| v >= max)
        .unwrap_or(10.0 * power)
}

fn short(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{}M", trim(v / 1_000_000.0))
    } else if v >= 1_000.0 {
        format!("{}k", trim(v / 1_000.0))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Bars with `low` at the bottom and `high` on top; `classes` name the two layers; about
/// `labels` evenly spread x-axis labels.
pub fn stacked(columns: &[Column], classes: (&'static str, &'static str), labels: usize) -> Chart {
    let baseline = HEIGHT - BOTTOM;
    let plot_h = baseline - TOP;
    let plot_w = WIDTH - LEFT - RIGHT;
    let max = nice_max(columns.iter().map(|c| c.low + c.high).fold(0.0, f64::max));
    let n = columns.len().max(1) as f64;
    let slot = plot_w / n;
    let gap = if slot > 4.0 { slot * 0.2 } else { 0.0 };
    let scale = |v: f64| v / max * plot_h;
    let mut bars = Vec::new();
    let round = |v: f64| (v * 10.0).round() / 10.0;
    for (i, c) in columns.iter().enumerate() {
        let x = round(LEFT + i as f64 * slot + gap / 2.0);
        let w = round((slot - gap).max(0.5));
        let (h_low, h_high) = (scale(c.low), scale(c.high));
        if c.low > 0.0 {
            bars.push(Bar {
                x,
                y: round(baseline - h_low),
                w,
                h: round(h_low),
                class: classes.0,
                title: c.title.clone(),
            });
        }
        if c.high > 0.0 {
            bars.push(Bar {
                x,
                y: round(baseline - h_low - h_high),
                w,
                h: round(h_high),
                class: classes.1,
                title: c.title.clone(),
            });
        }
    }
    let y_ticks = (0..=4)
        .map(|k| {
            let v = max * f64::from(k) / 4.0;
            Tick {
                x: LEFT - 6.0,
                y: round(baseline - scale(v)),
                label: short(v),
            }
        })
        .collect();
    let every = columns.len().div_ceil(labels.max(1)).max(1);
    let x_ticks = columns
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, c)| Tick {
            x: round(LEFT + (i as f64 + 0.5) * slot),
            y: baseline + 18.0,
            label: c.label.clone(),
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: WIDTH - RIGHT,
        baseline,
        empty: columns.iter().all(|c| c.low + c.high <= 0.0),
        bars,
        y_ticks,
        x_ticks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_inside_the_plot_and_the_axis_is_nice() {
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(0.0), 1.0);
        let cols: Vec<Column> = (0..24)
            .map(|i| Column {
                label: format!("{i:02}"),
                title: String::new(),
                low: f64::from(i),
                high: 2.0,
            })
            .collect();
        let c = stacked(&cols, ("ok", "bad"), 6);
        assert!(!c.empty);
        assert_eq!(c.x_ticks.len(), 6);
        for b in &c.bars {
            assert!(b.y >= TOP - 0.1 && b.y + b.h <= c.baseline + 0.1, "{b:?}");
            assert!(b.x >= LEFT && b.x + b.w <= WIDTH - RIGHT + 0.1);
        }
        assert_eq!(short(1500.0), "1.5k");
    }
}
