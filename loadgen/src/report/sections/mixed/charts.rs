//! The mixed suite's charts: per model, its speedup over one connection against Amdahl's
//! bound, and its latency percentiles against the unloaded time of a request.

use super::runs::{MixedRuns, latency_file, speedup_file, unloaded_us};
use crate::bench::data::BenchResults;
use crate::bench::suite::mixed::amdahl;
use crate::md::{ms, num};
use crate::report::figures::lat;
use crate::report::sections::ChartFile;
use crate::report::svg::chart::Chart;

/// The suite's charts: speedup and latency against connections, one pair per model, each
/// linked from the section's own text.
pub(super) fn charts(r: &BenchResults) -> Vec<ChartFile> {
    let x = MixedRuns::new(r);
    let (_, bound) = amdahl();
    let mut files = Vec::new();
    for m in x.models() {
        let measured = x.speedups(&m);
        if measured.is_empty() {
            continue;
        }
        let ideal = measured.iter().map(|&(n, _)| (n, n.min(bound))).collect();
        files.push(ChartFile::linked(
            speedup_file(&m),
            &Chart {
                title: format!("mixed, {m}: speedup over 1 connection"),
                x_label: "connections".into(),
                y_label: "throughput / throughput at 1 connection".into(),
                log_x: false,
                log_y: false,
                series: vec![
                    (m.clone(), measured),
                    (format!("min(N, 1/(1-p) = {})", num(bound, 0)), ideal),
                ],
                bars: vec![],
            },
        ));
        let line = |f: fn(&crate::run::report::Latency) -> u64| -> Vec<(f64, f64)> {
            x.sweep
                .points
                .iter()
                .filter_map(|p| {
                    let v = x.at(&m, p, |r| lat(r, f))?;
                    Some((x.sweep.conns(p) as f64, v / 1000.0))
                })
                .collect()
        };
        let p50 = line(|l| l.p50);
        let unloaded = p50
            .iter()
            .map(|&(n, _)| (n, unloaded_us() / 1000.0))
            .collect();
        files.push(ChartFile::linked(
            latency_file(&m),
            &Chart {
                title: format!("mixed, {m}: latency, ms (loadgen, mean over blocks)"),
                x_label: "connections".into(),
                y_label: "latency, ms".into(),
                log_x: false,
                log_y: false,
                series: vec![
                    ("p50".into(), p50),
                    ("p95".into(), line(|l| l.p95)),
                    ("p99".into(), line(|l| l.p99)),
                    (format!("unloaded {} ms", ms(unloaded_us())), unloaded),
                ],
                bars: vec![],
            },
        ));
    }
    files
}
