//! The bench's results as data: [`BenchResults`] is what `loadgen bench` writes to
//! `DIR/raw.json` (after every run, so an interrupted bench keeps what it measured) and what
//! `loadgen report DIR` renders. Every setting and the environment are in it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::probe::Environment;
use crate::report::RunReport;
use crate::report::json::{self, JsonError};

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
    pub suites: Vec<String>,
    /// Models run, in the order they are interleaved within a round.
    pub models: Vec<String>,
    /// Connection counts of the ping-pong sweep.
    pub conns: Vec<u64>,
    /// Length of each timed run, seconds.
    pub duration_s: f64,
    /// Rounds; each round runs every point of every model once.
    pub rounds: u32,
    /// Scale of the plans' loop counts and of the fixed rate (1.0: as in the studies).
    pub scale: f64,
    /// Offered load of the fixed-rate run before scaling, messages per second.
    pub rate_fixed: f64,
    /// Where the server binaries were taken from.
    pub bin_dir: String,
    /// The results folder.
    pub out: String,
    /// Whether perf was asked for (false with --no-perf).
    pub perf: bool,
    /// Server processes (`--reuse-port`) for points past one process's connection limit.
    #[serde(default = "one")]
    pub server_procs: u32,
    /// The exact command line.
    pub command: Vec<String>,
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

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum RunStatus {
    /// The server started, the load ran, the server was alive at the end.
    Ok,
    /// The server did not start or printed no readiness line; the text says why.
    ServerFailed(String),
    /// The server exited during the run; the text has its exit status and stderr's tail.
    ServerDied(String),
    /// loadgen refused or could not carry out the load; the text says why.
    LoadFailed(String),
}

/// One model at one point of one suite in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Suite name (`pingpong`, `plans`).
    pub suite: String,
    /// Point within the suite (`10`, `rate-50000`, `1000x2000`): what a table column is.
    pub point: String,
    /// Kind of point: `sweep` (closed loop, timed), `fixed-rate` (open loop), `plan` (loop-counted).
    pub kind: String,
    /// Connections (virtual users).
    pub conns: u64,
    /// Round, from 1.
    pub round: u32,
    /// Model.
    pub model: String,
    /// How it ended.
    pub status: RunStatus,
    /// The server's readiness line.
    pub ready_line: Option<String>,
    /// loadgen's flags for this run (target and --server-pid added by the bench).
    pub args: Vec<String>,
    /// The server's flags for this run (besides port and pinning).
    #[serde(default)]
    pub server_args: Vec<String>,
    /// Server processes sharing the port (`--reuse-port`); figures add them up.
    #[serde(default = "one")]
    pub server_procs: u32,
    /// Echoed messages per second: ok samples over the run's wall time.
    pub messages_per_s: Option<f64>,
    /// Payload megabytes (10^6 bytes) per second, one way: for a model, ok messages x
    /// message size over the run's wall time (the report's payload_mb_per_s); for a
    /// baseline, what the tool measured (iperf3's received bits/s / 8e6, loadgen stream's).
    #[serde(default)]
    pub mb_per_s: Option<f64>,
    /// Server resident memory just before the load, KiB.
    pub rss_start_kib: Option<u64>,
    /// Highest server resident memory seen (sampled every 100 ms), KiB.
    pub rss_peak_kib: Option<u64>,
    /// Highest server virtual size seen (sampled every 100 ms), KiB.
    pub vsz_peak_kib: Option<u64>,
    /// Server system calls from perf, None without perf.
    pub syscalls: Option<Syscalls>,
    /// Everything loadgen measured, server CPU, RSS/VSZ at the end and context switches included.
    pub report: Option<RunReport>,
    /// The server's own service times (its `--stats-file`, read after it stopped), for
    /// suites that ask for them (`mixed`); they leave out any wait in the listen backlog.
    #[serde(default)]
    pub service: Option<ServiceTimes>,
}

/// A server's own per-request service times, first byte read to last byte written
/// (`--stats-file`, written by the server at SIGTERM), microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceTimes {
    /// Requests answered in full.
    pub requests: u64,
    /// Mean.
    pub mean_us: f64,
    /// Smallest.
    pub min_us: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// `--stats-warmup`: requests that began this soon after the first were left out
    /// (0, or missing in files from before it existed: none were).
    #[serde(default)]
    pub warmup_us: u64,
}

impl ServiceTimes {
    /// Reads a server's stats file and removes it; None when it is missing or unreadable
    /// (the server died, say).
    pub fn take(path: &Path) -> Option<ServiceTimes> {
        let text = fs::read_to_string(path).ok()?;
        let _ = fs::remove_file(path);
        serde_json::from_str(&text).ok()
    }
}

/// Server system calls over a run, counted by `perf stat` tracepoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Syscalls {
    /// Every system call entry (raw_syscalls:sys_enter).
    pub total: u64,
    /// total over ok messages.
    pub per_message: f64,
    /// Counts of the watched system calls, largest first (zeros left out).
    pub top: Vec<(String, u64)>,
}

impl RunRecord {
    /// A record with nothing measured yet (status Ok), for the runner and the suites'
    /// baselines to fill in.
    pub fn blank(
        suite: &str,
        point: &str,
        kind: &str,
        conns: u64,
        round: u32,
        model: &str,
    ) -> RunRecord {
        RunRecord {
            suite: suite.into(),
            point: point.into(),
            kind: kind.into(),
            conns,
            round,
            model: model.into(),
            status: RunStatus::Ok,
            ready_line: None,
            args: Vec::new(),
            server_args: Vec::new(),
            server_procs: 1,
            messages_per_s: None,
            mb_per_s: None,
            rss_start_kib: None,
            rss_peak_kib: None,
            vsz_peak_kib: None,
            syscalls: None,
            report: None,
            service: None,
        }
    }

    /// Server user share of its CPU time, percent.
    pub fn user_share_pct(&self) -> Option<f64> {
        let cpu = &self.report.as_ref()?.server.as_ref()?.cpu;
        (cpu.total_s() > 0.0).then(|| cpu.user_s / cpu.total_s() * 100.0)
    }

    /// Server CPU (user + system) as a percentage of one CPU.
    pub fn server_cpu_pct(&self) -> Option<f64> {
        let s = self.report.as_ref()?.server.as_ref()?;
        Some(s.cpu_user_pct + s.cpu_system_pct)
    }

    /// Server CPU microseconds per message.
    pub fn cpu_us_per_message(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        let s = r.server.as_ref()?;
        (r.ok > 0).then(|| s.cpu.total_s() * 1e6 / r.ok as f64)
    }

    /// Server memory per connection: peak RSS minus RSS before the load, bytes.
    pub fn rss_per_conn_bytes(&self) -> Option<f64> {
        let (start, peak) = (self.rss_start_kib?, self.rss_peak_kib?);
        (self.conns > 0).then(|| peak.saturating_sub(start) as f64 * 1024.0 / self.conns as f64)
    }

    /// Error share of the samples, percent.
    pub fn error_pct(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        (r.samples > 0).then(|| r.errors as f64 * 100.0 / r.samples as f64)
    }
}

/// raw.json that cannot be written or read.
pub type DataError = JsonError;

impl BenchResults {
    /// Writes raw.json (pretty-printed), replacing it.
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        json::write_file(self, path)
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

/// serde default for counts of processes that older results did not record.
fn one() -> u32 {
    1
}
