//! The fault suite: hostile clients and faults against every model (`cases.rs`), and
//! loadgen against misbehaving servers (`loadgen.rs`). Each case returns a
//! [`CaseResult`] (data first); [`render_markdown`] turns a run into a table.
//!
//! Two sizes: [`Size::Ci`] (every case for every model in a few minutes on 2 cores, run
//! by `tests/faults.rs`) and [`Size::Full`] (`make faults`: 10,000 resets, 1,000 idle
//! connections, 100 slow readers of 16 MiB). Cases assert behaviour, never speed: the
//! CPU bounds are on CPU time *consumed* while nothing should be happening.

mod cases;
mod loadgen;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use cases::MODEL_CASES;

/// How big each case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// CI-sized: every case for every model within a few minutes on 2 cores.
    Ci,
    /// The full size of the issue (`make faults`).
    Full,
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Size, String> {
        match s {
            "ci" => Ok(Size::Ci),
            "full" => Ok(Size::Full),
            _ => Err(format!("--size {s}: expected ci or full")),
        }
    }
}

/// The figures of one size.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Connections that reset at random points mid-transfer.
    pub resetters: usize,
    /// Healthy clients beside them (and beside garbage), each echoing `healthy_bytes`.
    pub healthy: usize,
    /// Bytes each healthy client echoes.
    pub healthy_bytes: u64,
    /// Open-file limit of the server in the exhaustion case.
    pub fd_limit: u64,
    /// Clients flooding it.
    pub fd_clients: usize,
    /// Idle (slowloris) connections.
    pub idle: usize,
    /// Slow readers.
    pub slow_readers: usize,
    /// Bytes each slow reader writes.
    pub slow_bytes: u64,
    /// Clients sending framed garbage.
    pub garbage: usize,
    /// Ping-pong clients when SIGTERM comes.
    pub load_clients: usize,
}

impl Size {
    /// The figures of this size.
    pub fn sizes(self) -> Sizes {
        match self {
            Size::Ci => Sizes {
                resetters: 300,
                healthy: 4,
                healthy_bytes: 256 << 10,
                fd_limit: 256,
                fd_clients: 400,
                idle: 200,
                slow_readers: 4,
                slow_bytes: 1 << 20,
                garbage: 60,
                load_clients: 16,
            },
            Size::Full => Sizes {
                resetters: 10_000,
                healthy: 16,
                healthy_bytes: 4 << 20,
                fd_limit: 256,
                fd_clients: 400,
                idle: 1000,
                slow_readers: 100,
                slow_bytes: 16 << 20,
                garbage: 1000,
                load_clients: 100,
            },
        }
    }
}

/// What one case did to one model, and whether the model behaved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseResult {
    /// The model (`loadgen` for the loadgen-against-bad-servers case).
    pub model: String,
    /// The case's name.
    pub case: String,
    /// True when every check held.
    pub passed: bool,
    /// The checks that failed, one line each.
    pub failures: Vec<String>,
    /// Client connections the case opened.
    pub clients: u64,
    /// Bytes the clients sent.
    pub bytes_sent: u64,
    /// Bytes that came back (checked where the case says so).
    pub bytes_back: u64,
    /// Client-side errors by kind (io::ErrorKind names, or loadgen's kinds).
    pub errors: BTreeMap<String, u64>,
    /// Peak server RSS (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
    /// Server descriptors before the case's load.
    pub fds_before: Option<usize>,
    /// Server descriptors at the worst moment (when that matters: exhaustion).
    pub fds_peak: Option<usize>,
    /// Server descriptors once the load has gone and the count settled.
    pub fds_after: Option<usize>,
    /// Server CPU time over the quiet or saturated window the case measures, ms.
    pub cpu_window_ms: Option<u64>,
    /// That window, ms.
    pub window_ms: Option<u64>,
    /// Lines the server wrote to stderr.
    pub stderr_lines: Option<usize>,
    /// How long the case took, ms.
    pub wall_ms: u64,
    /// Other figures worth keeping, in words.
    pub notes: Vec<String>,
}

impl CaseResult {
    fn new(model: &str, case: &str) -> CaseResult {
        CaseResult {
            model: model.into(),
            case: case.into(),
            ..CaseResult::default()
        }
    }

    /// Records a check; a false one is a failure with `what` as its line.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    /// Counts one client-side error of kind `kind`.
    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    fn merge_errors(&mut self, errors: BTreeMap<String, u64>) {
        for (k, n) in errors {
            *self.errors.entry(k).or_default() += n;
        }
    }
}

/// Every case for one model at `size`, in sequence.
pub fn run_model(model: &str, size: Size, only: &[String]) -> Vec<CaseResult> {
    MODEL_CASES
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name))
        .map(|&(name, case)| run_case(model, name, |r| case(model, size.sizes(), r)))
        .collect()
}

/// The loadgen case (fake servers; no model).
pub fn run_loadgen(size: Size) -> CaseResult {
    run_case("loadgen", loadgen::CASE, |r| {
        loadgen::against_bad_servers(size.sizes(), r)
    })
}

/// Runs one case; a panic inside it (a server that never got ready, say) is a failure.
fn run_case(model: &str, name: &str, case: impl FnOnce(&mut CaseResult)) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult::new(model, name);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| case(&mut result)));
    if let Err(panic) = outcome {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        result.failures.push(format!("panicked: {msg}"));
    }
    result.passed = result.failures.is_empty();
    result.wall_ms = started.elapsed().as_millis() as u64;
    result
}

/// A whole run: the settings and environment, then every result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// ci or full.
    pub size: Size,
    /// Host name.
    pub host: String,
    /// Kernel release.
    pub kernel: String,
    /// CPUs online.
    pub cpus: usize,
    /// When the run started (Unix seconds).
    pub started_unix_s: u64,
    /// How long the run took, s.
    pub wall_s: f64,
    /// Every case's result.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// A report for a run of `size` started now, environment filled in.
    pub fn new(size: Size) -> Report {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Report {
            size,
            host: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            wall_s: 0.0,
            results: Vec::new(),
        }
    }

    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), |v| v.to_string())
}

/// Renders a run as Markdown: one table per case, a row per model, then the failures.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let size = match report.size {
        Size::Ci => "ci",
        Size::Full => "full",
    };
    out.push_str(&format!(
        "# Fault suite ({size} size)\n\nHost `{}`, kernel {}, {} CPUs; {:.0} s in all; \
         rendered from faults.json. {} of {} case runs passed.\n",
        report.host,
        report.kernel,
        report.cpus,
        report.wall_s,
        report.results.iter().filter(|r| r.passed).count(),
        report.results.len()
    ));
    let mut cases: Vec<&str> = Vec::new();
    for r in &report.results {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
    }
    for case in cases {
        out.push_str(&format!(
            "\n## {case}\n\n{}\n\n| model | pass | clients | sent | back | client errors | \
             peak RSS KiB | fds before/peak/after | CPU ms / window ms | stderr lines | wall ms |\n\
             |---|---|---:|---:|---:|---|---:|---|---|---:|---:|\n",
            cases::describe(case)
        ));
        for r in report.results.iter().filter(|r| r.case == case) {
            let errors = if r.errors.is_empty() {
                "-".to_string()
            } else {
                r.errors
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {}/{}/{} | {}/{} | {} | {} |\n",
                r.model,
                if r.passed { "yes" } else { "**NO**" },
                r.clients,
                r.bytes_sent,
                r.bytes_back,
                errors,
                opt(&r.peak_rss_kib),
                opt(&r.fds_before),
                opt(&r.fds_peak),
                opt(&r.fds_after),
                opt(&r.cpu_window_ms),
                opt(&r.window_ms),
                opt(&r.stderr_lines),
                r.wall_ms
            ));
        }
        let notes: Vec<String> = report
            .results
            .iter()
            .filter(|r| r.case == case)
            .flat_map(|r| {
                r.failures
                    .iter()
                    .map(move |f| format!("- **{}**: {f}", r.model))
                    .chain(r.notes.iter().map(move |n| format!("- {}: {n}", r.model)))
            })
            .collect();
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes.join("\n"));
            out.push('\n');
        }
    }
    out
}

/// The children of a process (its prefork workers), from /proc.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Server CPU time (user + system) so far, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(11).unwrap_or(0) + field(12).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}
