//! Line charts as hand-written SVG: one line per model, optional log scales, a legend.
//! Small on purpose (no plotting crate): the bench needs two kinds of chart, figures against
//! connection counts.

use std::fmt::Write as _;

use super::{esc, open};

/// A chart: named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// (name, points) per line.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Error bars per line, in the order of `series`: (x, low, high) each, drawn as a
    /// vertical bar in the line's colour (empty: none).
    pub bars: Vec<Vec<(f64, f64, f64)>>,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
/// Colour-blind-safe palette (Okabe-Ito), then greys.
const COLOURS: [&str; 10] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
    "#777777", "#BBBBBB",
];

/// An axis: data range to pixels.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>, log: bool) -> Axis {
        let v: Vec<f64> = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if v.is_empty() {
            (lo, hi) = (1.0, 10.0);
        }
        if log {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil().max(lo.log10() + 1.0));
        } else {
            lo = lo.min(0.0);
            let step = nice_step((hi - lo).max(1e-9) / 5.0);
            hi = ((hi / step).ceil() * step).max(lo + step);
        }
        Axis { log, lo, hi }
    }

    /// 0..1 along the axis.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as i64;
            (0..=n).map(|i| self.lo + i as f64 * step).collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// A tick label: 1k, 20k, 1.5M, 0.5.
pub fn short(v: f64) -> String {
    let (d, suffix) = match v.abs() {
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let s = format!("{d:.1}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// The chart as an SVG document.
pub fn svg(c: &Chart) -> String {
    let all = || c.series.iter().flat_map(|(_, p)| p.iter());
    let ends = || c.bars.iter().flatten().flat_map(|b| [b.1, b.2]);
    let x = Axis::new(all().map(|p| p.0), c.log_x);
    let y = Axis::new(all().map(|p| p.1).chain(ends()), c.log_y);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |v: f64| LEFT + x.frac(v) * pw;
    let py = |v: f64| TOP + ph - y.frac(v) * ph;
    let mut s = String::new();
    open(&mut s, (W, H), &c.title, (LEFT + pw / 2.0, 22.0), 15);
    for t in x.ticks() {
        let xp = px(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xp:.1}" y1="{TOP}" x2="{xp:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{xp:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            short(t)
        );
    }
    for t in y.ticks() {
        let yp = py(t);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yp:.1}" x2="{:.1}" y2="{yp:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yp + 4.0,
            short(t)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 12.0,
        esc(&c.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        esc(&c.y_label)
    );
    for (i, (name, points)) in c.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = points
            .iter()
            .filter(|(a, b)| {
                a.is_finite() && b.is_finite() && (!c.log_x || *a > 0.0) && (!c.log_y || *b > 0.0)
            })
            .map(|&(a, b)| format!("{:.1},{:.1}", px(a), py(b)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>"#);
        }
        let drawable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
        for &(bx, lo, hi) in c.bars.get(i).into_iter().flatten() {
            if !(drawable(bx, c.log_x) && drawable(lo, c.log_y) && drawable(hi, c.log_y)) {
                continue;
            }
            let (xp, y0, y1) = (px(bx), py(lo), py(hi));
            let _ = writeln!(
                s,
                r#"<path d="M{:.1},{y0:.1}H{:.1}M{xp:.1},{y0:.1}V{y1:.1}M{:.1},{y1:.1}H{:.1}" stroke="{colour}" stroke-width="1.2" fill="none"/>"#,
                xp - 3.0,
                xp + 3.0,
                xp - 3.0,
                xp + 3.0
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_series_on_log_axes() {
        let c = Chart {
            title: "msg/s <vs> conns".into(),
            x_label: "connections".into(),
            y_label: "messages/s".into(),
            log_x: true,
            log_y: false,
            series: vec![
                ("epoll".into(), vec![(10.0, 50_000.0), (1000.0, 40_000.0)]),
                ("tokio".into(), vec![(10.0, 45_000.0), (1000.0, 30_000.0)]),
            ],
            bars: vec![vec![
                (10.0, 48_000.0, 52_000.0),
                (1000.0, 38_000.0, 42_000.0),
            ]],
        };
        let s = svg(&c);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert_eq!(s.matches("<polyline").count(), 2);
        assert_eq!(
            s.matches("<path").count(),
            2,
            "one bar per point of the first line"
        );
        assert!(s.contains(">epoll</text>") && s.contains("&lt;vs&gt;"));
        assert!(s.contains(">1k</text>") && s.contains(">10</text>"));
    }

    #[test]
    fn labels_and_steps() {
        assert_eq!(short(19_900.0), "19.9k");
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(0.3), 0.5);
    }
}
