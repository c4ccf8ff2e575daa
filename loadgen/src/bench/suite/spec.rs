//! What a suite is: the [`Suite`] trait every suite implements (their names are
//! [`SuiteName`]s). It sits below the suites, so that each imports it and the list of suites
//! ([`super::by_name`]) imports them.

use crate::bench::data::BenchConfig;
use crate::bench::data::record::RunRecord;
use crate::bench::names::SuiteName;
use crate::bench::point::Point;

/// A family of load points.
pub trait Suite {
    /// Its name on the command line and in the results.
    fn name(&self) -> SuiteName;
    /// Its points for these settings, in the order they run.
    fn points(&self, config: &BenchConfig) -> Vec<Point>;
    /// Servers need `--framed` for this suite.
    fn framed(&self) -> bool {
        false
    }
    /// Servers write their own service times (`--stats-file`); the runner stores them in
    /// the record's `service`.
    fn service_times(&self) -> bool {
        false
    }
    /// Whether the Python baselines run this suite (they implement the flags it needs).
    fn takes_python_baselines(&self) -> bool {
        true
    }
    /// Why `model` cannot run `point` (a server flag it refuses, such as `--accept
    /// exclusive`), or None when it can. The bench leaves such slots out of its plan with
    /// a note, rather than record a server that would refuse to start as a failure.
    fn refuses(&self, _point: &Point, _model: &str) -> Option<String> {
        None
    }
    /// Measurements that involve no model (the loopback limit, say), taken once per round
    /// before the suite's points; each comes back as a finished record whose `model` names
    /// what was measured (`iperf3`).
    fn baselines(&self, _config: &BenchConfig, _block: u32) -> Vec<RunRecord> {
        Vec::new()
    }
}

/// Bench settings for tests: every suite, one model (epoll), connections 10 and 100, 2 s
/// runs, one block, seed 1, loops and frames times `scale`.
#[cfg(test)]
pub(crate) fn config(scale: f64) -> BenchConfig {
    BenchConfig {
        suites: SuiteName::ALL.to_vec(),
        models: vec!["epoll".into()],
        conns: vec![10, 100],
        duration_s: 2.0,
        blocks: 1,
        suite_blocks: Default::default(),
        seed: Some(1),
        reference: "epoll".into(),
        margin: 0.03,
        max_error_pct: 1.0,
        mixed_conns: None,
        scale,
        rate_fixed: 50_000.0,
        bin_dir: "target/release".into(),
        baselines_dir: None,
        out: "out".into(),
        perf: false,
        server_procs: 1,
        variants: vec![],
        design: Default::default(),
        slicing: None,
        slice_rounds: None,
        twin: None,
        command: vec![],
    }
}
