//! A point's figures, model by model and block by block: where they come from (one CPU
//! source per point), the drift taken out of interleaved rounds, and the per-block
//! log-ratios of two models. Imports nothing above it but [`super::interval`].

use std::collections::BTreeMap;

use super::interval::median;
use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::SuiteName;

/// Where a point's server CPU figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSource {
    /// A nanosecond count (perf's task-clock over a fresh server's run, schedstat over an
    /// interleaved slice); runs without it are missing.
    Nanoseconds,
    /// /proc's user + system ticks (10 ms): no run at the point has a nanosecond count.
    Ticks,
}

impl CpuSource {
    /// The source of some runs: nanoseconds where any has a count.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> CpuSource {
        if runs.into_iter().any(|r| r.server_cpu_ns.is_some()) {
            CpuSource::Nanoseconds
        } else {
            CpuSource::Ticks
        }
    }

    /// Server CPU microseconds per ok message of a run from this source alone.
    pub fn us_per_message(self, r: &RunRecord) -> Option<f64> {
        let rep = r.report.as_ref()?;
        let cpu_s = match self {
            CpuSource::Nanoseconds => r.server_cpu_ns? as f64 / 1e9,
            CpuSource::Ticks => rep.server.as_ref()?.cpu.total_s(),
        };
        (rep.ok > 0).then(|| cpu_s * 1e6 / rep.ok as f64)
    }

    /// How a report names it.
    pub fn words(self) -> &'static str {
        match self {
            CpuSource::Nanoseconds => {
                "nanoseconds (perf's task-clock in blocks, schedstat in slices); runs without it count as missing"
            }
            CpuSource::Ticks => "/proc's user + system ticks (10 ms): no run here has perf's count",
        }
    }
}

/// Figures of every model at a point: model -> block -> value (ok runs with a positive,
/// finite figure; server CPU from one [`CpuSource`] where `server_cpu`). At an interleaved point, each round's figures are first freed of the
/// machine's drift within the round ([`detrend`]).
pub fn of_point(
    results: &BenchResults,
    suite: SuiteName,
    point: &str,
    value: fn(&RunRecord) -> Option<f64>,
    server_cpu: bool,
) -> BTreeMap<String, BTreeMap<u32, f64>> {
    let here = || {
        results.runs.iter().filter(|r| {
            r.suite == suite
                && r.point == point
                && r.position.is_some()
                && r.status == RunStatus::Ok
        })
    };
    let source = server_cpu.then(|| CpuSource::of(here()));
    let mut found: Vec<Figure> = Vec::new();
    for r in here() {
        let v = match source {
            Some(s) => s.us_per_message(r),
            None => value(r),
        };
        if let Some(v) = v.filter(|v| v.is_finite() && *v > 0.0) {
            found.push(Figure {
                model: r.model.clone(),
                block: r.block,
                at: r
                    .started_unix_ms
                    .map_or(f64::from(r.position.unwrap_or(0)), |ms| ms as f64 / 1e3),
                log: v.ln(),
                sliced: r.slice.is_some(),
            });
        }
    }
    if !found.is_empty() && found.iter().all(|f| f.sliced) {
        detrend(&mut found);
    }
    let mut out: BTreeMap<String, BTreeMap<u32, f64>> = BTreeMap::new();
    for f in found {
        out.entry(f.model).or_default().insert(f.block, f.log.exp());
    }
    out
}

/// One model's figure in one block or round, as a natural log.
struct Figure {
    model: String,
    block: u32,
    /// When it ran: seconds (Unix), or its place in the block where no time was recorded.
    at: f64,
    log: f64,
    sliced: bool,
}

/// Least-squares line `y = a + b x` through some points, as (a, b); None with fewer than
/// three or no spread in x.
pub fn line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The machine's drift within each interleaved round, taken out of its slices' figures.
/// A round lasts about a second, over which this machine's speed wanders; pairing a model
/// with the reference in the same round cancels what the two share, not what changed
/// between their slices. Each slice's residual is its log figure less its model's median
/// over rounds (so the models' own levels never enter); a straight line through a round's
/// residuals against the slices' start times is the drift, and it is subtracted from every
/// slice of the round. The shuffled order puts every model early and late alike, so the
/// line takes nothing from a model's level; it takes from the ratios the part of the noise
/// that moved steadily through the round.
fn detrend(found: &mut [Figure]) {
    let mut by_model: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for f in found.iter() {
        by_model.entry(&f.model).or_default().push(f.log);
    }
    let level: BTreeMap<String, f64> = by_model
        .into_iter()
        .map(|(m, v)| (m.to_string(), median(&v)))
        .collect();
    let blocks: std::collections::BTreeSet<u32> = found.iter().map(|f| f.block).collect();
    for block in blocks {
        let t0 = found
            .iter()
            .filter(|f| f.block == block)
            .map(|f| f.at)
            .fold(f64::INFINITY, f64::min);
        let points: Vec<(f64, f64)> = found
            .iter()
            .filter(|f| f.block == block)
            .map(|f| (f.at - t0, f.log - level[&f.model]))
            .collect();
        let Some((a, b)) = line(&points) else {
            continue;
        };
        for f in found.iter_mut().filter(|f| f.block == block) {
            f.log -= a + b * (f.at - t0);
        }
    }
}

/// Per-block ln(a / b) over the blocks both have.
pub fn paired_logs(a: &BTreeMap<u32, f64>, b: &BTreeMap<u32, f64>) -> BTreeMap<u32, f64> {
    a.iter()
        .filter_map(|(blk, va)| b.get(blk).map(|vb| (*blk, (va / vb).ln())))
        .collect()
}
