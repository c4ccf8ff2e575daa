//! The ping-pong suite's fixed-rate point: every model under the same offered load in an
//! open loop, so the CPU it needs is its cost; latency counted from each request's due
//! time, and loadgen's own CPU and send lateness beside it.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{ms, num, row, table};
use crate::report::figures::{lat, mean, pm, rate_of};
use crate::report::stats::aggregate::Grid;

/// The section (shown with the ping-pong sweep only, as its last part).
pub struct FixedRate;

impl Section for FixedRate {
    fn markdown(&self, b: &Bench, s: &mut String) {
        if !Grid::new(b.results, SuiteName::PingPong, PointKind::Sweep).is_empty() {
            fixed_rate(b.results, s);
        }
    }
}

fn fixed_rate(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, SuiteName::PingPong, PointKind::FixedRate);
    let Some(p) = g.points.first() else { return };
    let header = row(&[
        "model",
        "offered msg/s",
        "achieved msg/s",
        "server CPU %",
        "CPU us/msg",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "syscalls/msg",
        "errors %",
        "loadgen CPU %",
        "loadgen lateness p99 us",
    ]);
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            vec![
                m.clone(),
                num(rate_of(p), 0),
                pm(g.cell(m, p, |r| r.messages_per_s), 0),
                pm(g.cell(m, p, RunRecord::server_cpu_pct), 1),
                mean(g.cell(m, p, g.cpu_us_per_message()), |v| num(v, 2)),
                mean(g.cell(m, p, |r| lat(r, |l| l.p50)), ms),
                mean(g.cell(m, p, |r| lat(r, |l| l.p95)), ms),
                mean(g.cell(m, p, |r| lat(r, |l| l.p99)), ms),
                mean(
                    g.cell(m, p, |r| r.syscalls.as_ref().map(|s| s.per_message)),
                    |v| num(v, 2),
                ),
                mean(g.cell(m, p, RunRecord::error_pct), |v| num(v, 2)),
                mean(g.cell(m, p, RunRecord::loadgen_cpu_pct), |v| num(v, 1)),
                mean(g.cell(m, p, RunRecord::send_lateness_p99_us), |v| num(v, 0)),
            ]
        })
        .collect();
    let _ = writeln!(
        s,
        "### Server CPU at a fixed offered load ({} msg/s over {} connections, open loop)\n\nThe same load for every model: the CPU it needs is its cost. Latency counts from each request's due time. loadgen's own CPU share and its send lateness (the time from a request's due time to its send, with its connection free) say how well the client held the schedule; a run whose lateness p99 is over a tenth of its p99 is left out of the p99 verdicts. Means over the runs or slices.\n\n{}",
        num(rate_of(p), 0),
        g.conns(p),
        table(&header, &rows)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::{late_sender, synthetic};

    #[test]
    fn every_model_at_the_same_offered_load() {
        let mut r = synthetic(3);
        let mut fixed = late_sender();
        for run in &mut fixed.runs {
            run.point = "rate-50000".into();
        }
        assert_eq!(render(&FixedRate, &fixed), "", "shown with the sweep only");
        r.runs.extend(fixed.runs);
        insta::assert_snapshot!(render(&FixedRate, &r));
    }
}
