//! The main table: messages/s at each connection count and the server's CPU at the fixed
//! rate; for a bench in blocks, each figure with its ratio to the reference and its verdict
//! in brackets. The README's latest-run section shows it too ([`headline`]).

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{num, table};
use crate::report::figures::{brief, label, mean, rate_of};
use crate::report::stats::aggregate::Grid;
use crate::report::stats::verdict;

/// The section.
pub struct MainTable;

impl Section for MainTable {
    fn markdown(&self, b: &Bench, s: &mut String) {
        let (r, reference, margin) = (b.results, b.reference, b.margin);
        // A run of other suites only (`make bench-mixed`) has no main table to show.
        if r.runs.iter().any(|run| run.suite == SuiteName::PingPong) {
            let _ = writeln!(s, "## Main table\n\n{}", headline(r, reference, margin));
            if r.config.is_blocked() {
                let _ = writeln!(
                    s,
                    "Means over blocks; in brackets each model's ratio to {reference} and its verdict (see Verdicts below: a verdict needs the whole 95% interval to clear 1 by more than {}%).\n",
                    margin * 100.0
                );
            }
        }
    }
}

/// The main table: messages/s per connection count, and the server's CPU at the fixed rate;
/// for a bench in blocks, each figure with its ratio to the reference and its verdict.
pub fn headline(r: &BenchResults, reference: &str, margin: f64) -> String {
    let sweep = Grid::new(r, SuiteName::PingPong, PointKind::Sweep);
    let fixed = Grid::new(r, SuiteName::PingPong, PointKind::FixedRate);
    if sweep.is_empty() {
        return "(no ping-pong runs)\n".into();
    }
    let mut header = vec!["model".to_string()];
    header.extend(
        sweep
            .points
            .iter()
            .map(|p| format!("msg/s @ {} conns", num(sweep.conns(p) as f64, 0))),
    );
    let fp = fixed.points.first().cloned();
    let blocked = r.config.is_blocked();
    let verdicts = |point: &str, metric| {
        blocked.then(|| verdict::at_point(r, SuiteName::PingPong, point, metric, reference, margin))
    };
    let sweep_v: Vec<_> = sweep
        .points
        .iter()
        .map(|p| verdicts(p, verdict::MSG_S))
        .collect();
    let fixed_v = fp.as_deref().and_then(|p| verdicts(p, verdict::CPU_MSG));
    let with = |v: &Option<verdict::PointVerdicts>, m: &str, figure: String| match v
        .as_ref()
        .and_then(|pv| brief(pv, m))
    {
        Some(b) if figure != "-" => format!("{figure} ({b})"),
        _ => figure,
    };
    if let Some(p) = &fp {
        header.push(format!("server CPU % @ {} msg/s", num(rate_of(p), 0)));
        header.push("server CPU us/msg @ fixed rate".into());
    }
    let rows: Vec<Vec<String>> = sweep
        .models
        .iter()
        .map(|m| {
            let mut row = vec![label(m)];
            row.extend(sweep.points.iter().zip(&sweep_v).map(|(p, v)| {
                with(
                    v,
                    m,
                    mean(sweep.cell(m, p, |r| r.messages_per_s), |v| num(v, 0)),
                )
            }));
            if let Some(p) = &fp {
                row.push(mean(fixed.cell(m, p, RunRecord::server_cpu_pct), |v| {
                    num(v, 1)
                }));
                row.push(with(
                    &fixed_v,
                    m,
                    mean(fixed.cell(m, p, fixed.cpu_us_per_message()), |v| num(v, 2)),
                ));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::synthetic;

    #[test]
    fn each_figure_with_its_ratio_and_verdict() {
        insta::assert_snapshot!(render(&MainTable, &synthetic(10)));
    }

    #[test]
    fn a_bench_without_pingpong_has_no_main_table() {
        let mut r = synthetic(10);
        for run in &mut r.runs {
            run.suite = SuiteName::Mixed;
        }
        assert_eq!(render(&MainTable, &r), "");
    }
}
