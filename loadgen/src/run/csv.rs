//! `loadgen --csv FILE`: one run's `summary +` intervals as CSV, one row per interval with
//! every figure of [`Interval`], as hyperfine and oha export theirs. The quoting is
//! `crate::csv`'s; the columns are [`COLUMNS`].

use std::path::Path;

use super::report::{Interval, RunReport};
use crate::csv::{self, Column, opt};

/// Every column, in the order of a `summary +` line. Latency figures are of the interval's
/// ok samples, empty when it had none.
pub const COLUMNS: &[Column<Interval>] = &[
    ("at_s", |i| i.at_s.to_string()),
    ("elapsed_s", |i| i.elapsed_s.to_string()),
    ("samples", |i| i.samples.to_string()),
    ("per_s", |i| {
        opt((i.elapsed_s > 0.0).then(|| i.samples as f64 / i.elapsed_s))
    }),
    ("mean_us", |i| opt(ok(i).then_some(i.mean_us))),
    ("min_us", |i| opt(ok(i).then_some(i.min_us))),
    ("max_us", |i| opt(ok(i).then_some(i.max_us))),
    ("errors", |i| i.errors.to_string()),
    ("active", |i| i.active.to_string()),
    ("started", |i| i.started.to_string()),
    ("finished", |i| i.finished.to_string()),
];

/// True when the interval had an ok sample, so that its latency figures mean something.
fn ok(i: &Interval) -> bool {
    i.samples > i.errors
}

/// The intervals of `report` as CSV text.
pub fn intervals(report: &RunReport) -> String {
    csv::table(COLUMNS, &report.intervals)
}

/// Writes the intervals of `report` to `path`.
pub fn write(report: &RunReport, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, intervals(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_interval_with_a_header_and_no_latency_without_ok_samples() {
        let mut stats = crate::stats::Stats::new(false);
        stats.ok(1000, 900);
        let mut report = crate::run::report::test_report(&stats);
        let interval = |at_s: f64, samples, errors, min_us| Interval {
            at_s,
            elapsed_s: 0.5,
            samples,
            errors,
            mean_us: 812.25,
            min_us,
            max_us: 2000,
            active: 4,
            started: 4,
            finished: 0,
        };
        report.intervals = vec![interval(0.5, 10, 1, 300), interval(1.0, 3, 3, 0)];
        assert_eq!(
            intervals(&report),
            "at_s,elapsed_s,samples,per_s,mean_us,min_us,max_us,errors,active,started,finished\n\
             0.5,0.5,10,20,812.25,300,2000,1,4,4,0\n\
             1,0.5,3,6,,,,3,4,4,0\n"
        );
    }
}
