//! The spread suite's runs arranged by model, worker count and accept mode: each slot's
//! figures (medians over blocks), what makes a worker hot or crowded, and how a max/mean
//! ratio is written.

use common::prefork::Accept;

use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::suite::spread::{self, parse_point, refusal};
use crate::report::figures::{lat, median};

/// A worker runs hot when its share of the requests is at least this many times the even
/// share 1/P (the busiest share over the mean share, median over blocks).
pub const HOT: f64 = 1.5;

/// What one (model, workers, accept mode) slot holds.
pub(super) enum Slot {
    /// The model cannot serve in this mode (its declared capability says so).
    NotSupported,
    /// No run with worker counts: none ran, or every one failed (this many).
    NoData(usize),
    /// Figures over the blocks with worker counts.
    Figures(Figures),
}

/// Medians over blocks of one slot's figures.
pub(super) struct Figures {
    /// Connections per worker, busiest first (median at each rank).
    pub(super) conns: Vec<f64>,
    /// Share of the requests per worker, busiest first, fractions (median at each rank).
    pub(super) shares: Vec<f64>,
    pub(super) conns_max_mean: Option<f64>,
    pub(super) requests_max_mean: Option<f64>,
    pub(super) p50_us: Option<f64>,
    pub(super) p99_us: Option<f64>,
    pub(super) requests_per_s: Option<f64>,
}

impl Figures {
    /// One worker had at least [`HOT`] times its share of the requests.
    pub(super) fn hot(&self) -> bool {
        self.requests_max_mean.is_some_and(|x| x >= HOT)
    }

    /// One worker had at least [`HOT`] times its share of the connections.
    pub(super) fn crowded(&self) -> bool {
        self.conns_max_mean.is_some_and(|x| x >= HOT)
    }
}

/// The suite's runs, arranged.
pub(super) struct SpreadRuns<'a> {
    pub(super) runs: Vec<&'a RunRecord>,
    /// Models with any run or refusal in the suite, in the bench's order.
    pub(super) models: Vec<String>,
    /// Worker counts of the points, in the order they ran.
    pub(super) processes: Vec<u32>,
}

impl<'a> SpreadRuns<'a> {
    pub(super) fn new(r: &'a BenchResults) -> SpreadRuns<'a> {
        let runs: Vec<&RunRecord> = r
            .runs
            .iter()
            .filter(|x| x.suite == SuiteName::Spread && x.kind == PointKind::Spread)
            .collect();
        let mut models: Vec<String> = r
            .config
            .models
            .iter()
            .filter(|m| runs.iter().any(|x| &x.model == *m))
            .cloned()
            .collect();
        for x in &runs {
            if !models.contains(&x.model) {
                models.push(x.model.clone());
            }
        }
        let mut processes = Vec::new();
        for x in &runs {
            if let Some((p, _)) = parse_point(&x.point) {
                if !processes.contains(&p) {
                    processes.push(p);
                }
            }
        }
        SpreadRuns {
            runs,
            models,
            processes,
        }
    }

    pub(super) fn slot(&self, model: &str, processes: u32, accept: Accept) -> Slot {
        let point = spread::point_name(processes, accept);
        let here: Vec<&RunRecord> = self
            .runs
            .iter()
            .copied()
            .filter(|x| x.model == model && x.point == point)
            .collect();
        if here.is_empty() && refusal(model, accept).is_some() {
            return Slot::NotSupported;
        }
        let good: Vec<&RunRecord> = here
            .iter()
            .copied()
            .filter(|x| x.status == RunStatus::Ok && x.workers.is_some())
            .collect();
        if good.is_empty() {
            return Slot::NoData(here.len());
        }
        let sorted = |x: &RunRecord, f: fn(&crate::bench::data::WorkerCounts) -> u64| {
            let mut v: Vec<u64> = x.workers.iter().flat_map(|w| &w.workers).map(f).collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v
        };
        let ranks = processes as usize;
        let conns = (0..ranks)
            .map(|i| {
                median(
                    good.iter()
                        .filter_map(|x| sorted(x, |w| w.connections).get(i).map(|&c| c as f64))
                        .collect(),
                )
                .unwrap_or(0.0)
            })
            .collect();
        let shares = (0..ranks)
            .map(|i| {
                median(
                    good.iter()
                        .filter_map(|x| {
                            let v = sorted(x, |w| w.requests);
                            let total: u64 = v.iter().sum();
                            (total > 0)
                                .then(|| v.get(i).copied().unwrap_or(0) as f64 / total as f64)
                        })
                        .collect(),
                )
                .unwrap_or(0.0)
            })
            .collect();
        let over =
            |f: fn(&RunRecord) -> Option<f64>| median(good.iter().filter_map(|x| f(x)).collect());
        Slot::Figures(Figures {
            conns,
            shares,
            conns_max_mean: over(|x| x.workers.as_ref()?.connections_max_mean()),
            requests_max_mean: over(|x| x.workers.as_ref()?.requests_max_mean()),
            p50_us: over(|x| lat(x, |l| l.p50)),
            p99_us: over(|x| lat(x, |l| l.p99)),
            requests_per_s: over(|x| x.messages_per_s),
        })
    }

    /// Runs with worker counts whose connections do not add up to the point's.
    pub(super) fn mismatched(&self) -> Vec<&'a RunRecord> {
        self.runs
            .iter()
            .copied()
            .filter(|x| {
                x.workers
                    .as_ref()
                    .is_some_and(|w| w.connections() != x.conns)
            })
            .collect()
    }
}

pub(super) fn ratio(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}
