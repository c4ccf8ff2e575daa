//! Suites: what load each model gets. A suite is one module behind [`Suite`]: it turns the
//! bench's settings into points, each a set of loadgen flags; the runner starts the servers,
//! adds the target and `--server-pid`, measures and records. Adding a suite (`frames`,
//! `mixed`, `spread`) is one new module and one line in [`by_name`].

pub mod frames;
pub mod mixed;
mod pingpong;
mod plans;
pub mod spread;

use super::data::BenchConfig;

pub use frames::Frames;
pub use mixed::Mixed;
pub use pingpong::PingPong;
pub use plans::Plans;
pub use spread::Spread;

/// Every suite, in the order they run when named (the default `--suite` list leaves out
/// `mixed`, which takes a quarter of an hour a round, and `spread`, about five minutes).
pub const SUITES: [&str; 5] = ["pingpong", "plans", "frames", "mixed", "spread"];

/// One load point of a suite, the same for every model.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Name within the suite: a table column (`100`, `rate-50000`, `1000x2000`).
    pub point: String,
    /// `sweep`, `fixed-rate` or `plan`.
    pub kind: &'static str,
    /// Connections (virtual users).
    pub conns: u64,
    /// loadgen flags, without the target and --server-pid.
    pub args: Vec<String>,
    /// Server flags for this point beyond the suite's (`--max-conns 12`, `--cpu-work 5ms`).
    pub server_args: Vec<String>,
}

/// A family of load points.
pub trait Suite {
    /// Its name on the command line and in the results.
    fn name(&self) -> &'static str;
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
    fn baselines(&self, _config: &BenchConfig, _block: u32) -> Vec<super::data::RunRecord> {
        Vec::new()
    }
}

/// The suite called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Suite>> {
    match name {
        "pingpong" => Some(Box::new(PingPong)),
        "plans" => Some(Box::new(Plans)),
        "frames" => Some(Box::new(Frames)),
        "mixed" => Some(Box::new(Mixed)),
        "spread" => Some(Box::new(Spread)),
        _ => None,
    }
}

/// Seconds as loadgen reads them (`2.5s`).
fn secs(s: f64) -> String {
    format!("{s}s")
}

#[cfg(test)]
pub(crate) fn config(scale: f64) -> BenchConfig {
    BenchConfig {
        suites: SUITES.iter().map(|s| s.to_string()).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_suite_exists() {
        for name in SUITES {
            assert_eq!(by_name(name).map(|s| s.name()), Some(name));
        }
        assert!(by_name("nope").is_none());
    }
}
