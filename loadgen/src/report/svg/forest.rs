//! Forest plots as hand-written SVG: one row per model, its ratio to the reference as a dot
//! and its 95% interval as a bar, on a log axis, with 1 and the margin 1 ± δ drawn, so that
//! a verdict can be read at a glance (a bar that clears the shaded band is a verdict).

use std::fmt::Write as _;

use super::{esc, open};
use crate::report::stats::verdict::PointVerdicts;

const W: f64 = 640.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 44.0;
const ROW: f64 = 24.0;
const BOTTOM: f64 = 46.0;

/// The file a point's forest plot is written to.
pub fn file_name(pv: &PointVerdicts) -> String {
    let clean: String = format!("{}-{}-{}", pv.suite, pv.point, pv.metric.key)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("forest-{clean}.svg")
}

/// The plot; `title` heads it.
pub fn svg(pv: &PointVerdicts, title: &str, margin: f64) -> String {
    let rows: Vec<_> = pv
        .rows
        .iter()
        .filter_map(|r| r.interval.map(|iv| (r, iv)))
        .collect();
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let (mut lo, mut hi) = (1.0 - margin, 1.0 + margin);
    for (_, iv) in &rows {
        for v in [iv.lo, iv.hi, iv.ratio] {
            if finite(v) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    let (lo, hi) = ((lo * 0.95).ln(), (hi * 1.05).ln());
    let pw = W - LEFT - RIGHT;
    let h = TOP + ROW * rows.len().max(1) as f64 + BOTTOM;
    let px = |v: f64| LEFT + (v.max(1e-12).ln() - lo) / (hi - lo) * pw;
    let mut s = String::new();
    open(&mut s, (W, h), title, (W / 2.0, 20.0), 14);
    let bottom = TOP + ROW * rows.len().max(1) as f64;
    // The margin band, then 1.
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#eeeeee"/>"##,
        px(1.0 - margin),
        px(1.0 + margin) - px(1.0 - margin),
        bottom - TOP
    );
    let _ = writeln!(
        s,
        r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom:.1}" stroke="#333" stroke-dasharray="4 3"/>"##,
        x = px(1.0)
    );
    for t in ticks(lo.exp(), hi.exp()) {
        let x = px(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{t}</text>"##,
            bottom + 4.0,
            bottom + 17.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">ratio to {} (log scale; shaded: 1 ± {}%)</text>"#,
        LEFT + pw / 2.0,
        h - 10.0,
        esc(&pv.reference),
        margin * 100.0
    );
    for (i, (row, iv)) in rows.iter().enumerate() {
        let y = TOP + ROW * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 4.0,
            esc(&row.model)
        );
        if finite(iv.lo) && iv.hi.is_finite() {
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#0072B2" stroke-width="2"/>"##,
                px(iv.lo),
                px(iv.hi)
            );
        }
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="#0072B2"/>"##,
            px(iv.ratio)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Round ratios between `lo` and `hi` to label.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    const ALL: [f64; 17] = [
        0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0,
    ];
    let inside: Vec<f64> = ALL
        .iter()
        .copied()
        .filter(|t| *t >= lo && *t <= hi)
        .collect();
    if inside.len() <= 7 {
        return inside;
    }
    // Too many: keep every other one, 1 included.
    let one = inside.iter().position(|t| *t == 1.0).unwrap_or(0);
    inside
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as i64 - one as i64) % 2 == 0)
        .map(|(_, t)| *t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::names::SuiteName;
    use crate::report::stats::fixtures::synthetic;
    use crate::report::stats::verdict::{MSG_S, at_point};

    #[test]
    fn one_row_per_model_on_a_log_axis() {
        let r = synthetic(8);
        let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
        let s = svg(&pv, "pingpong 100 conns: messages/s", 0.03);
        assert!(s.starts_with("<svg"));
        for m in ["epoll", "fast", "same", "slow"] {
            assert!(s.contains(&format!(">{m}</text>")), "{m}");
        }
        assert_eq!(s.matches("<circle").count(), 4);
        assert!(s.contains("ratio to epoll (log scale"));
        assert_eq!(file_name(&pv), "forest-pingpong-100-msg-s.svg");
        assert!(ticks(0.7, 1.4).contains(&1.0));
    }
}
