//! The mixed suite's runs arranged for its section and charts: the sweep and the cap
//! points by model, speedups over one connection, the unloaded time of a request, and the
//! names of the charts' files.

use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::suite::mixed::{CAP_CONNS, CPU_MS, WAIT_MS, capped_point};
use crate::report::stats::aggregate::Grid;

/// The one model here that is not cooperative: the kernel preempts its threads.
pub(super) const PREEMPTIVE: &str = "thread";

/// The figures of the suite, arranged.
pub(super) struct MixedRuns<'a> {
    pub(super) sweep: Grid<'a>,
    pub(super) cap: Grid<'a>,
}

pub(super) fn requests_per_s(r: &RunRecord) -> Option<f64> {
    r.messages_per_s
}

pub(super) fn service(
    pick: fn(&crate::bench::data::ServiceTimes) -> u64,
) -> impl Fn(&RunRecord) -> Option<f64> + Copy {
    move |r| {
        r.service
            .as_ref()
            .filter(|s| s.requests > 0)
            .map(|s| pick(s) as f64)
    }
}

/// The unloaded time of a request, microseconds.
pub(super) fn unloaded_us() -> f64 {
    (CPU_MS + WAIT_MS) * 1000.0
}

impl<'a> MixedRuns<'a> {
    pub(super) fn new(r: &'a BenchResults) -> MixedRuns<'a> {
        MixedRuns {
            sweep: Grid::new(r, SuiteName::Mixed, PointKind::Sweep),
            cap: Grid::new(r, SuiteName::Mixed, PointKind::Cap),
        }
    }

    pub(super) fn models(&self) -> Vec<String> {
        let mut models = self.sweep.models.clone();
        models.retain(|m| {
            self.sweep
                .points
                .iter()
                .any(|p| self.sweep.ok_runs(m, p).next().is_some())
                || self
                    .cap
                    .points
                    .iter()
                    .any(|p| self.cap.ok_runs(m, p).next().is_some())
        });
        models
    }

    /// Mean of a figure at a sweep point.
    pub(super) fn at(
        &self,
        m: &str,
        p: &str,
        f: impl Fn(&RunRecord) -> Option<f64>,
    ) -> Option<f64> {
        self.sweep.cell(m, p, f).map(|c| c.mean)
    }

    /// Mean of a figure at a cap point (`50` or `50-max12`).
    pub(super) fn at_cap(
        &self,
        m: &str,
        p: &str,
        f: impl Fn(&RunRecord) -> Option<f64>,
    ) -> Option<f64> {
        self.cap.cell(m, p, f).map(|c| c.mean)
    }

    /// Whether every cap run's client half-closed after its request (`--half-close`; the
    /// benches before it did not).
    pub(super) fn half_closed(&self) -> bool {
        let points = [CAP_CONNS.to_string(), capped_point()];
        self.models().iter().all(|m| {
            points.iter().all(|p| {
                self.cap
                    .ok_runs(m, p)
                    .all(|r| r.args.iter().any(|a| a == "--half-close"))
            })
        })
    }

    /// Throughput at a sweep point over throughput at one connection (means over blocks).
    pub(super) fn speedup(&self, m: &str, p: &str) -> Option<f64> {
        let one = self.at(m, &self.sweep.points.first()?.clone(), requests_per_s)?;
        (one > 0.0).then_some(self.at(m, p, requests_per_s)? / one)
    }

    /// (connections, speedup) over the sweep.
    pub(super) fn speedups(&self, m: &str) -> Vec<(f64, f64)> {
        self.sweep
            .points
            .iter()
            .filter_map(|p| Some((self.sweep.conns(p) as f64, self.speedup(m, p)?)))
            .collect()
    }

    /// Highest mean throughput of the uncapped runs (sweep and 50 connections).
    pub(super) fn uncapped_peak(&self, m: &str) -> Option<f64> {
        self.sweep
            .points
            .iter()
            .filter_map(|p| self.at(m, p, requests_per_s))
            .chain(self.at_cap(m, &CAP_CONNS.to_string(), requests_per_s))
            .reduce(f64::max)
    }

    /// The last sweep point (the most connections).
    pub(super) fn top(&self) -> Option<&String> {
        self.sweep.points.last()
    }
}

pub(super) fn speedup_file(model: &str) -> String {
    format!("mixed-speedup-{model}.svg")
}

pub(super) fn latency_file(model: &str) -> String {
    format!("mixed-latency-{model}.svg")
}
