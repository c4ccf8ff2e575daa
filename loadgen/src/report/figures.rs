//! The figures every section of the summary shares, each written once: a run's latency
//! percentile, the median of some figures, a model's name in a table, a model's ratio in
//! the main table's brackets, and a [`Grid`]'s cells as Markdown (`mean ± interval`, the
//! `N conns` header, one row per model and one column per point). Stands on [`crate::md`]
//! and [`super::stats`]; imports no section.

use common::models::is_baseline;

use super::stats::aggregate::{Cell, Grid};
use super::stats::verdict::interval;
use super::stats::verdict::{PointVerdicts, Verdict};
use crate::bench::data::RunRecord;
use crate::md::{num, table};
use crate::run::report::Latency;

/// A run's figure, if it has it.
pub type Figure = fn(&RunRecord) -> Option<f64>;

/// A latency percentile of a run, microseconds, where it had ok samples.
pub fn lat(r: &RunRecord, pick: fn(&Latency) -> u64) -> Option<f64> {
    let rep = r.report.as_ref()?;
    (rep.ok > 0).then(|| pick(&rep.latency_us) as f64)
}

/// The median of the finite values, None when there are none.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    (!v.is_empty()).then(|| interval::median(&v))
}

/// The offered rate in a fixed-rate point's name (`rate-50000`).
pub fn rate_of(point: &str) -> f64 {
    point.trim_start_matches("rate-").parse().unwrap_or(0.0)
}

/// A model's name in a table, marked when it is a baseline rather than a Rust model.
pub fn label(model: &str) -> String {
    if is_baseline(model) {
        format!("{model} (baseline)")
    } else {
        model.to_string()
    }
}

/// The ratio of a model at a point for the main table: `×1.02 faster` style, `errors 45%`
/// where errors take its verdict's place, None without one.
pub fn brief(pv: &PointVerdicts, model: &str) -> Option<String> {
    let row = pv.rows.iter().find(|r| r.model == model)?;
    if row.verdict == Verdict::Errors {
        return Some(row.verdict_cell(&pv.metric));
    }
    let iv = row.interval?;
    Some(match row.verdict {
        Verdict::Reference => "ref".into(),
        // Inside the main table's own brackets: "×0.72 slower, client-bound".
        _ => format!("×{:.2} {}", iv.ratio, row.verdict_cell(&pv.metric))
            .replace(" (client-bound)", ", client-bound"),
    })
}

/// `mean ± interval` (just the mean for one round); `-` when there is nothing.
pub fn pm(c: Option<Cell>, decimals: usize) -> String {
    match c {
        Some(Cell {
            mean,
            ci95: Some(ci),
            ..
        }) => format!("{} ± {}", num(mean, decimals), num(ci, decimals)),
        Some(c) => num(c.mean, decimals),
        None => "-".into(),
    }
}

/// A cell's mean as `f` writes it; `-` when there is nothing.
pub fn mean(c: Option<Cell>, f: impl Fn(f64) -> String) -> String {
    c.map_or("-".into(), |c| f(c.mean))
}

/// The header of a table with one column per point: `model | 100 conns | 1,000 conns`.
pub fn conns_header(g: &Grid) -> Vec<String> {
    let mut header = vec!["model".to_string()];
    header.extend(
        g.points
            .iter()
            .map(|p| format!("{} conns", num(g.conns(p) as f64, 0))),
    );
    header
}

/// One row per model, one column per point: `f` gives a run's figure, `show` a cell's text.
pub fn grid_table(
    g: &Grid,
    f: impl Fn(&RunRecord) -> Option<f64> + Copy,
    show: impl Fn(Option<Cell>) -> String,
) -> String {
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(g.points.iter().map(|p| show(g.cell(m, p, f))));
            row
        })
        .collect();
    table(&conns_header(g), &rows)
}

/// A command line as one could paste it into a shell.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::names::SuiteName;
    use crate::report::stats::fixtures::with_errors;
    use crate::report::stats::verdict::{MSG_S, at_point};

    #[test]
    fn medians_rates_and_labels() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median(vec![]), None);
        assert_eq!(rate_of("rate-50000"), 50000.0);
        assert_eq!(label("epoll"), "epoll");
        assert_eq!(label("py-gevent"), "py-gevent (baseline)");
        assert_eq!(pm(Cell::of(&[5.0]), 1), "5.0");
        assert_eq!(mean(None, |v| num(v, 0)), "-");
    }

    #[test]
    fn brief_gives_a_ratio_or_the_error_share() {
        // `slow` fails 45% of its samples: its brief is its error share, not its speed.
        let r = with_errors(10);
        let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
        assert_eq!(brief(&pv, "slow").as_deref(), Some("errors 45%"));
        assert_eq!(brief(&pv, "epoll").as_deref(), Some("ref"));
        assert_eq!(brief(&pv, "fast").as_deref(), Some("×1.20 faster"));
        assert_eq!(brief(&pv, "none"), None);
    }
}
