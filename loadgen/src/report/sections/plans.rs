//! The plans suite's section: the PyYYC 2020 JMeter plans (threads x loops) as its own
//! table: throughput, latency avg/min/max, errors, server CPU and memory.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{ms, num, row, table};
use crate::report::figures::{lat, mean, pm};
use crate::report::stats::aggregate::Grid;

/// The section.
pub struct Plans;

impl Section for Plans {
    fn markdown(&self, b: &Bench, s: &mut String) {
        plans(b.results, s);
    }
}

fn plans(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, SuiteName::Plans, PointKind::Plan);
    if g.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## plans\n\nThe PyYYC 2020 JMeter plans (threads x loops, 1 s ramp-up; loops scaled by {}), as its table: throughput, latency avg/min/max, errors, server CPU and memory.\n",
        r.config.scale
    );
    let header = row(&[
        "model",
        "throughput/s",
        "avg ms",
        "min ms",
        "max ms",
        "error %",
        "server CPU %",
        "RSS peak MiB",
        "VSZ peak MiB",
    ]);
    for p in &g.points {
        let rows: Vec<Vec<String>> = g
            .models
            .iter()
            .map(|m| {
                let c = |f: fn(&RunRecord) -> Option<f64>| g.cell(m, p, f);
                vec![
                    m.clone(),
                    pm(c(|r| r.report.as_ref().map(|x| x.throughput_per_s)), 0),
                    mean(c(|r| r.report.as_ref().map(|x| x.latency_us.mean)), ms),
                    c(|r| lat(r, |l| l.min)).map_or("-".into(), |c| ms(c.min)),
                    c(|r| lat(r, |l| l.max)).map_or("-".into(), |c| ms(c.max)),
                    mean(c(RunRecord::error_pct), |v| num(v, 2)),
                    mean(c(RunRecord::server_cpu_pct), |v| num(v, 1)),
                    mean(c(|r| r.rss_peak_kib.map(|k| k as f64 / 1024.0)), |v| {
                        num(v, 1)
                    }),
                    mean(c(|r| r.vsz_peak_kib.map(|k| k as f64 / 1024.0)), |v| {
                        num(v, 1)
                    }),
                ]
            })
            .collect();
        let _ = writeln!(s, "### {p} (threads x loops)\n\n{}", table(&header, &rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::with_errors;

    #[test]
    fn a_table_per_plan() {
        let mut r = with_errors(2);
        for run in &mut r.runs {
            run.suite = SuiteName::Plans;
            run.kind = PointKind::Plan;
            run.point = "1000x100".into();
        }
        insta::assert_snapshot!(render(&Plans, &r));
    }
}
