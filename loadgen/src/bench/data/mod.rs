//! The bench's results as data: [`BenchResults`] is what `loadgen bench` writes to
//! `DIR/raw.json` (after every run, so an interrupted bench keeps what it measured) and what
//! `loadgen report DIR` renders. Every setting and the environment are in it; each run is
//! a [`record::RunRecord`].

pub mod record;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bench::names::SuiteName;
use crate::probe::Environment;
use crate::run::json::{self, JsonError};

// The records' types are re-exported: raw.json's readers name them as this module's.
use record::one;
pub use record::{
    RunRecord, RunStatus, ServiceTimes, SliceFigures, Syscalls, WorkerCounts, Workers,
    max_over_mean,
};

/// Layout version of raw.json.
pub const BENCH_FORMAT: u32 = 1;

/// A whole bench: its settings, the machine, every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    /// Layout version of this file.
    pub format: u32,
    /// Version of the loadgen that wrote it.
    pub loadgen_version: String,
    /// The settings, as checked.
    pub config: BenchConfig,
    /// The machine and the software.
    pub environment: BenchEnvironment,
    /// Wall-clock start, Unix time in milliseconds.
    pub started_unix_ms: u64,
    /// Wall-clock end of the last run so far, Unix time in milliseconds.
    pub finished_unix_ms: u64,
    /// True once every planned run was done (false while running or after Ctrl-C).
    pub complete: bool,
    /// Things said once (perf missing, say).
    pub notes: Vec<String>,
    /// Every run, in the order they ran.
    pub runs: Vec<RunRecord>,
}

/// The settings of a bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Suites run, in order.
    pub suites: Vec<SuiteName>,
    /// Models run, in the order they are interleaved within a round.
    pub models: Vec<String>,
    /// Connection counts of the ping-pong sweep.
    pub conns: Vec<u64>,
    /// Length of each timed run, seconds.
    pub duration_s: f64,
    /// Blocks per point (older files: rounds); a block runs every model once at a point,
    /// in its own shuffled order. Suites named in `suite_blocks` run that many instead.
    #[serde(alias = "rounds")]
    pub blocks: u32,
    /// Blocks of the suites that run fewer or more than `blocks` (`plans` -> 3).
    #[serde(default)]
    pub suite_blocks: BTreeMap<SuiteName, u32>,
    /// Seed of the models' order in every block; None in files from before blocks were
    /// shuffled (they predate verdicts).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Model the verdicts compare every other model with (`--reference`, epoll by default).
    #[serde(default = "epoll")]
    pub reference: String,
    /// Margin of the verdicts: a model is faster or slower only when its interval clears
    /// 1 by more than this fraction, equivalent when the interval lies within it.
    #[serde(default = "three_percent")]
    pub margin: f64,
    /// Error share (percent of samples) above which a model at a point gets no verdict on
    /// speed or cost, only its error share (`--max-error-pct`).
    #[serde(default = "one_percent")]
    pub max_error_pct: f64,
    /// The mixed suite's sweep connection counts when not its default.
    #[serde(default)]
    pub mixed_conns: Option<Vec<u64>>,
    /// Scale of the plans' loop counts and the frames' counts (1.0: as in the studies; in
    /// files from before blocks it scaled the fixed rate too, whose point names say it).
    pub scale: f64,
    /// Offered load of the fixed-rate run, messages per second.
    pub rate_fixed: f64,
    /// Where the server binaries were taken from.
    pub bin_dir: String,
    /// Where the Python baselines' scripts were taken from (None when no baseline ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselines_dir: Option<String>,
    /// The results folder.
    pub out: String,
    /// Whether perf was asked for (false with --no-perf).
    pub perf: bool,
    /// Server processes (`--reuse-port`) for points past one process's connection limit.
    #[serde(default = "one")]
    pub server_procs: u32,
    /// Models run under other settings (`--variant`), each also named in `models`; the
    /// reference's twin (`--twin`) is one with no setting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// How the ping-pong sweep and the fixed-rate point ran (older files: blocks).
    #[serde(default)]
    pub design: Design,
    /// The interleaved design's slices (None in files from before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slicing: Option<SliceSettings>,
    /// Rounds of every interleaved point when not the suite's blocks (`--slice-rounds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_rounds: Option<u32>,
    /// The reference's twin (`--twin`): a second copy of the reference model's server,
    /// named `<reference>-twin`, run as a model of its own; None without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<String>,
    /// The exact command line.
    pub command: Vec<String>,
}

impl BenchConfig {
    /// Blocks a suite runs.
    pub fn blocks_of(&self, suite: SuiteName) -> u32 {
        self.suite_blocks
            .get(&suite)
            .copied()
            .unwrap_or(self.blocks)
    }

    /// The variant called `name`, if it is one.
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// Server flags `name` gets beyond the suite's and the point's: the model's defaults
    /// (`common::models::default_args`: a pool runs with 1,024 workers) and then its
    /// variant's flags; a default whose flag the variant also gives is left out, so that
    /// `pool-8=pool:--threads=8` runs 8 workers.
    pub fn model_server_args(&self, name: &str) -> Vec<String> {
        let given: Vec<String> = self
            .variant(name)
            .map(|v| v.server_args.clone())
            .unwrap_or_default();
        let flag_given = |flag: &str| {
            given
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        };
        let mut args: Vec<String> = Vec::new();
        for pair in common::models::default_args(self.base_model(name)).chunks(2) {
            if !flag_given(pair[0]) {
                args.extend(pair.iter().map(|a| a.to_string()));
            }
        }
        args.extend(given);
        args
    }

    /// The model whose program runs for `name`: a variant's model, else `name` itself.
    pub fn base_model<'a>(&'a self, name: &'a str) -> &'a str {
        self.variant(name).map_or(name, |v| v.model.as_str())
    }

    /// The program a model's server runs: `echo-<model>` in `bin_dir`, or a Python
    /// baseline's script in `baselines_dir` (a variant's: its own build, else its model's).
    pub fn server_program(&self, model: &str) -> std::path::PathBuf {
        if let Some(bin) = self.variant(model).and_then(|v| v.bin.as_ref()) {
            return std::path::PathBuf::from(bin);
        }
        let model = self.base_model(model);
        match &self.baselines_dir {
            Some(dir) if common::models::is_baseline(model) => {
                std::path::Path::new(dir).join(format!("echo-{model}"))
            }
            _ => std::path::Path::new(&self.bin_dir).join(format!("echo-{model}")),
        }
    }

    /// True for benches whose blocks ran the models in shuffled orders (the verdicts need
    /// them); older files ran them in one fixed order.
    pub fn is_blocked(&self) -> bool {
        self.seed.is_some()
    }
}

/// How the points that can be interleaved (the ping-pong sweep and its fixed-rate point)
/// are run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// Every server of a point stays up; loadgen holds its connections to each and visits
    /// them in rounds of short slices, in a fresh seeded order per round.
    Interleaved,
    /// Every run starts its server fresh; blocks run every model once in a shuffled order.
    #[default]
    Blocks,
}

impl Design {
    /// Its name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Design::Interleaved => "interleaved",
            Design::Blocks => "blocks",
        }
    }
}

/// How the interleaved design cuts a slice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SliceSettings {
    /// Warm-up at the start of every slice, not counted, milliseconds.
    pub warmup_ms: f64,
    /// Sending time of the measured part, milliseconds.
    pub measured_ms: f64,
    /// Longest wait for outstanding replies after the warm-up and after the measured part,
    /// milliseconds; a reply later than that is a read timeout.
    pub drain_limit_ms: f64,
}

/// A model run under other settings (`--variant NAME=MODEL:KEY=VALUE:--flag=value`, or
/// `:bin=PATH` for another build of its program): a model of its own in every block,
/// started from its model's program (or that build) with more environment variables and
/// server flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Its name in the blocks and the tables (`glommio-spin`).
    pub name: String,
    /// The model whose program it runs (`glommio`).
    pub model: String,
    /// Environment variables added to the server's.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Server flags added after the suite's and the point's.
    #[serde(default)]
    pub server_args: Vec<String>,
    /// Another build of its model's program to run instead (`bin=PATH`, made absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
}

impl Variant {
    /// Its settings as given: `ECHO_GLOMMIO_SPIN=50us --threads=2` (a twin: `none`).
    pub fn settings(&self) -> String {
        if self.env.is_empty() && self.server_args.is_empty() && self.bin.is_none() {
            return "none (a second copy of the same binary)".into();
        }
        self.bin
            .iter()
            .map(|b| format!("bin={b}"))
            .chain(self.env.iter().map(|(k, v)| format!("{k}={v}")))
            .chain(self.server_args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The machine and the software a bench ran with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchEnvironment {
    /// Host, kernel, CPUs, open-file limit, port range, as loadgen records for every run.
    pub base: Environment,
    /// CPU model name (/proc/cpuinfo).
    pub cpu_model: String,
    /// `rustc --version` on PATH, if any.
    pub rustc: Option<String>,
    /// Versions of the runtime crates the servers were built with (from Cargo.lock).
    pub crates: BTreeMap<String, String>,
    /// `perf --version`, or None when perf is missing or unusable.
    pub perf: Option<String>,
    /// CPUs the servers were pinned to (None: no pinning, fewer than two CPUs).
    pub server_cpus: Option<String>,
    /// CPUs loadgen was pinned to.
    pub loadgen_cpus: Option<String>,
}

/// raw.json that cannot be written or read.
pub type DataError = JsonError;

impl BenchResults {
    /// A finished bench of these runs, for tests of what renders it.
    #[cfg(test)]
    pub fn of_runs(config: BenchConfig, runs: Vec<RunRecord>) -> BenchResults {
        BenchResults {
            format: BENCH_FORMAT,
            loadgen_version: "test".into(),
            config,
            environment: BenchEnvironment::default(),
            started_unix_ms: 0,
            finished_unix_ms: 0,
            complete: true,
            notes: vec![],
            runs,
        }
    }

    /// Writes raw.json, replacing it: pretty-printed, except for benches with
    /// interleaved slices, whose thousands of records are written compact (a third
    /// smaller; every reader takes both).
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        if self.runs.iter().any(|r| r.slice.is_some()) {
            json::write_file_compact(self, path)
        } else {
            json::write_file(self, path)
        }
    }

    /// Reads raw.json.
    pub fn read(path: &Path) -> Result<BenchResults, DataError> {
        json::read_file(
            path,
            "loadgen bench result",
            |r: &BenchResults| r.format,
            BENCH_FORMAT,
        )
    }
}

/// serde default reference model of files that did not record one.
fn epoll() -> String {
    "epoll".into()
}

/// serde default margin of files that did not record one.
fn three_percent() -> f64 {
    0.03
}

/// serde default error share of files that did not record one.
pub(crate) fn one_percent() -> f64 {
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_from_before_worker_counts_load_and_keep_their_layout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let old = root.join("results/2026-11-22-vm/bench-mixed/raw.json");
        let r = BenchResults::read(&old).unwrap();
        assert!(!r.runs.is_empty());
        assert!(r.runs.iter().all(|run| run.workers.is_none()));
        // Written back, a record without counts has no `workers` key.
        let value = serde_json::to_value(&r.runs[0]).unwrap();
        assert!(value.get("service").is_some() && value.get("workers").is_none());
        let mut run = r.runs[0].clone();
        run.workers = Some(Workers::default());
        let back: RunRecord = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(back, run);
    }
}
