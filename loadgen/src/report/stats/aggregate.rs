//! Figures over blocks, for the bench's tables and charts: one [`Cell`] (mean with a 95%
//! interval from Student's t) per model and point of a suite, from the runs that ended well.

use super::verdict::figures::CpuSource;
use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};

/// A figure over blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Rounds it is made of.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval of the mean (None for one round).
    pub ci95: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Two-sided 95% quantile of Student's t for `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.96)
}

impl Cell {
    /// The mean and interval of `values`; None when there are none.
    pub fn of(values: &[f64]) -> Option<Cell> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let ci95 = (n > 1).then(|| {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t95(n - 1) * (var / n as f64).sqrt()
        });
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Cell {
            n,
            mean,
            ci95,
            min,
            max,
        })
    }
}

/// The runs of one suite and kind, arranged by model and point.
pub struct Grid<'a> {
    /// Models, in the bench's order.
    pub models: Vec<String>,
    /// Points, in the order they ran.
    pub points: Vec<String>,
    runs: Vec<&'a RunRecord>,
    /// Each point's source of server CPU, as the verdicts take it ([`CpuSource::of`]).
    cpu_sources: Vec<(String, CpuSource)>,
}

impl<'a> Grid<'a> {
    /// The runs of `suite` whose kind is `kind`.
    pub fn new(results: &'a BenchResults, suite: SuiteName, kind: PointKind) -> Grid<'a> {
        let runs: Vec<&RunRecord> = results
            .runs
            .iter()
            .filter(|r| r.suite == suite && r.kind == kind)
            .collect();
        let mut points: Vec<String> = Vec::new();
        for r in &runs {
            if !points.contains(&r.point) {
                points.push(r.point.clone());
            }
        }
        let mut models: Vec<String> = results.config.models.clone();
        for r in &runs {
            if !models.contains(&r.model) {
                models.push(r.model.clone());
            }
        }
        let cpu_sources = points
            .iter()
            .map(|p| {
                let here = runs
                    .iter()
                    .copied()
                    .filter(|r| &r.point == p && r.status == RunStatus::Ok);
                (p.clone(), CpuSource::of(here))
            })
            .collect();
        Grid {
            models,
            points,
            runs,
            cpu_sources,
        }
    }

    /// Server CPU microseconds per message of a run, from its point's one source: a run
    /// without the nanosecond count where others at its point have it has no figure,
    /// never one from /proc's ticks.
    pub fn cpu_us_per_message(&self) -> impl Fn(&RunRecord) -> Option<f64> + Copy + '_ {
        move |r: &RunRecord| {
            let source = self
                .cpu_sources
                .iter()
                .find(|(p, _)| *p == r.point)
                .map_or(CpuSource::Nanoseconds, |(_, s)| *s);
            source.us_per_message(r)
        }
    }

    /// True when it holds no run.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs of a model at a point that ended well.
    pub fn ok_runs(&self, model: &str, point: &str) -> impl Iterator<Item = &'a RunRecord> + '_ {
        let (model, point) = (model.to_string(), point.to_string());
        self.runs
            .iter()
            .copied()
            .filter(move |r| r.model == model && r.point == point && r.status == RunStatus::Ok)
    }

    /// A figure of a model at a point over its good rounds.
    pub fn cell(
        &self,
        model: &str,
        point: &str,
        f: impl Fn(&RunRecord) -> Option<f64>,
    ) -> Option<Cell> {
        let values: Vec<f64> = self.ok_runs(model, point).filter_map(f).collect();
        Cell::of(&values)
    }

    /// Connections at a point.
    pub fn conns(&self, point: &str) -> u64 {
        self.runs
            .iter()
            .find(|r| r.point == point)
            .map_or(0, |r| r.conns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_takes_its_cpu_figures_from_one_source() {
        // 1000 ok messages a run; even blocks counted 8 ms in nanoseconds, odd ones have
        // only /proc's 50 ms of ticks: the table's mean leaves those out, never mixes them in.
        let mut r = crate::report::stats::fixtures::synthetic(4);
        for run in &mut r.runs {
            let mut rep = crate::run::report::test_report(&crate::stats::Stats::new(false));
            rep.ok = 1000;
            let mut server = rep.server.clone().unwrap_or_default();
            server.cpu.user_s = 0.05;
            rep.server = Some(server);
            run.report = Some(rep);
            run.server_cpu_ns = (run.block % 2 == 0).then_some(8_000_000);
        }
        let g = Grid::new(&r, SuiteName::PingPong, PointKind::Sweep);
        let cell = g.cell("fast", "100", g.cpu_us_per_message()).unwrap();
        assert_eq!((cell.n, cell.mean), (2, 8.0));
        // Where no run has the count, every run's ticks serve.
        for run in &mut r.runs {
            run.server_cpu_ns = None;
        }
        let g = Grid::new(&r, SuiteName::PingPong, PointKind::Sweep);
        let cell = g.cell("fast", "100", g.cpu_us_per_message()).unwrap();
        assert_eq!((cell.n, cell.mean), (4, 50.0));
    }

    #[test]
    fn mean_and_interval() {
        let c = Cell::of(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!(c.n, 3);
        assert!((c.mean - 12.0).abs() < 1e-9);
        // sd 2, se 2/sqrt(3), t(2) 4.303
        assert!((c.ci95.unwrap() - 4.303 * 2.0 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!((c.min, c.max), (10.0, 14.0));
        assert_eq!(Cell::of(&[5.0]).unwrap().ci95, None);
        assert!(Cell::of(&[]).is_none());
        assert_eq!(t95(100), 1.96);
    }
}
