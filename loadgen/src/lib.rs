//! loadgen: echolab's load generator. It measures every echo server the same way.
//!
//! A *thread* is a JMeter virtual user: it owns a connection (a new one per sample with
//! `--no-reuse`), sends one message, reads the whole echo, checks every byte, records the
//! latency and repeats, for `--loops` samples or for `--duration`. Users start evenly over
//! `--rampup`. Underneath, an event-driven engine (one mio loop per `--workers` thread)
//! runs thousands of users on a few threads and costs about one `send` and one `recv` per
//! message, so that loadgen is never the bottleneck. `--rate R` switches to an open loop
//! whose latencies count from each request's due time (coordinated omission corrected).
//!
//! Run `echo-epoll --addr 127.0.0.1:7000`, then:
//!
//! ```text
//! loadgen --threads 1000 --loops 2000 --rampup 1s      # the PyYYC plan
//! loadgen --threads 100 --duration 10s --server-pid $(pidof echo-epoll)
//! ```
//!
//! Output: JMeter summariser lines (`summary +` per interval, `summary =` at the end), then
//! planned vs completed samples, latency percentiles in microseconds, errors by kind, and the
//! server's CPU, memory and context switches. `--json FILE` keeps it all, HDR histograms
//! included, so that `loadgen merge` can add runs up exactly.
//!
//! The library is driven the way the binary drives it (and the tests too):
//!
//! ```no_run
//! use clap::Parser;
//! let opts = loadgen::Opts::parse_from(["loadgen", "--threads", "10", "--loops", "100"]);
//! let outcome = loadgen::run(opts).expect("run");
//! assert_eq!(outcome.report.samples, 1000);
//! ```
//!
//! Modules: [`opts`] (flags) -> [`plan`] (checked settings, with [`addrs`]) -> [`engine`] (workers and
//! users) -> [`stats`] (counts, histograms) -> [`report`] (data, text, JSON); [`probe`]
//! reads /proc; [`merge`] and [`procs`] add runs up; [`threshold`] is `--fail-if`.
//! [`bench`] (`loadgen bench`) runs suites over every model and [`report::summary`]
//! (`loadgen report`) renders its results.

pub mod addrs;
pub mod bench;
pub mod engine;
pub mod jtl;
pub mod md;
pub mod merge;
pub mod opts;
pub mod out;
pub mod plan;
pub mod probe;
pub mod procs;
pub mod report;
pub mod rng;
pub mod run;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod threshold;
pub mod wait;

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

pub use opts::{
    BenchArgs, Command, CompareArgs, ImportJtlArgs, LoadArgs, MergeArgs, Opts, ReportArgs,
};
pub use plan::{Plan, PlanError};
pub use run::RunReport;

use engine::EngineError;
use merge::MergeError;
use probe::{CpuUsage, Environment, ServerUsage};
use procs::ProcsError;
use run::json::{self, JsonError};
use run::report::{Meta, Settings};
use run::text;

/// Exit code for input that cannot be used (the same as clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a run that crossed a `--fail-if` threshold.
pub const EXIT_THRESHOLD: u8 = 3;

/// Why loadgen could not do what it was asked. Failed samples are never errors: they are
/// counted in the report.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot write --json {path}: {source}")]
    JsonPath { path: String, source: io::Error },
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Procs(#[from] ProcsError),
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Bench(#[from] bench::BenchError),
    #[error(transparent)]
    Report(#[from] report::summary::ReportError),
    #[error(transparent)]
    Jtl(#[from] jtl::JtlError),
    #[error(transparent)]
    Stream(#[from] stream::StreamError),
    #[error(transparent)]
    CompareBench(#[from] report::compare_benches::CompareError),
    #[error("`loadgen compare` takes report files, or exactly two bench folders: {0}")]
    CompareArgs(String),
    #[error(transparent)]
    Threshold(#[from] threshold::ThresholdError),
    #[error("`loadgen {0}` is run by loadgen::execute, not run_to")]
    NotALoad(&'static str),
}

impl Error {
    /// 2 for bad input (nothing was sent), 1 for a run that could not be carried out.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plan(_) | Error::JsonPath { .. } | Error::Merge(_) => EXIT_USAGE,
            Error::Threshold(_) => EXIT_USAGE,
            Error::Json(JsonError::Read { .. } | JsonError::Parse { .. }) => EXIT_USAGE,
            Error::Json(JsonError::Format { .. }) => EXIT_USAGE,
            Error::Bench(bench::BenchError::Config(_)) => EXIT_USAGE,
            Error::Report(e) if e.is_input() => EXIT_USAGE,
            Error::CompareBench(_) | Error::CompareArgs(_) => EXIT_USAGE,
            Error::Stream(e) if e.is_input() => EXIT_USAGE,
            _ => 1,
        }
    }
}

/// The result of a run or a merge.
#[derive(Debug)]
pub struct Outcome {
    /// Everything measured.
    pub report: RunReport,
}

impl Outcome {
    /// 3 when a `--fail-if` threshold was crossed; else 1 when samples were run and not one
    /// of them succeeded; else 0.
    pub fn exit_code(&self) -> u8 {
        if self.report.thresholds.iter().any(|c| c.crossed) {
            EXIT_THRESHOLD
        } else {
            u8::from(self.report.samples > 0 && self.report.ok == 0)
        }
    }
}

/// Runs what the options say, printing to stdout (with a live progress line when stdout is
/// a terminal).
pub fn run(opts: Opts) -> Result<Outcome, Error> {
    let stdout = io::stdout();
    let live = stdout.is_terminal();
    let mut out = out::Lenient::new(stdout.lock());
    let outcome = run_to(opts, &mut out, live);
    out.report_loss();
    outcome
}

/// Runs what the options say, printing to `out`.
pub fn run_to(opts: Opts, out: &mut dyn Write, live: bool) -> Result<Outcome, Error> {
    match opts.command {
        Some(Command::Merge(m)) => merge_files(&m, out),
        Some(Command::Bench(_)) => Err(Error::NotALoad("bench")),
        Some(Command::Report(_)) => Err(Error::NotALoad("report")),
        Some(Command::Stream(_)) => Err(Error::NotALoad("stream")),
        Some(Command::ImportJtl(a)) => Ok(Outcome {
            report: jtl::import_cmd(&a, out)?,
        }),
        Some(Command::Compare(_)) => Err(Error::NotALoad("compare")),
        None => run_load(&opts.load, out, live),
    }
}

/// Runs any subcommand, printing to stdout; returns the exit code. What the binary calls.
pub fn execute(opts: Opts) -> Result<u8, Error> {
    if !matches!(
        opts.command,
        Some(Command::Bench(_) | Command::Compare(_) | Command::Stream(_) | Command::Report(_))
    ) {
        let outcome = run(opts)?;
        if outcome.report.samples > 0 && outcome.report.ok == 0 {
            out::warn(format_args!("loadgen: no sample succeeded"));
        }
        return Ok(outcome.exit_code());
    }
    let mut out = out::Lenient::new(io::stdout().lock());
    let code = execute_to(&opts, &mut out);
    out.report_loss();
    code
}

/// [`execute`] for the subcommands that are not a load, printing to `out`.
fn execute_to(opts: &Opts, out: &mut dyn Write) -> Result<u8, Error> {
    match &opts.command {
        Some(Command::Bench(b)) => {
            bench::run(b, std::env::args().collect(), out)?;
            Ok(0)
        }
        Some(Command::Compare(c)) => {
            let dirs = c.files.iter().filter(|f| f.is_dir()).count();
            if c.ratios {
                if dirs < 2 || dirs != c.files.len() {
                    return Err(Error::CompareArgs(format!(
                        "--ratios takes two or more bench folders; got {dirs} folder(s) among {} argument(s)",
                        c.files.len()
                    )));
                }
                let paths: Vec<&std::path::Path> = c.files.iter().map(|f| f.as_path()).collect();
                let md = report::compare_benches::ratios::compare_ratio_dirs(&paths)?;
                write!(out, "{md}")?;
                return Ok(0);
            }
            match (dirs, c.files.as_slice()) {
                (0, files) => run::compare_runs::compare_files(files, out)?,
                (2, [a, b]) => {
                    let md = report::compare_benches::compare_dirs(
                        a,
                        b,
                        c.margin,
                        c.reference.as_deref(),
                    )?;
                    write!(out, "{md}")?;
                }
                _ => {
                    return Err(Error::CompareArgs(format!(
                        "got {dirs} folder(s) among {} argument(s)",
                        c.files.len()
                    )));
                }
            }
            Ok(0)
        }
        Some(Command::Stream(s)) => {
            stream::run(s, out)?;
            Ok(0)
        }
        Some(Command::Report(r)) => {
            for path in report::summary::render_dir(r)? {
                writeln!(out, "wrote {}", path.display())?;
            }
            Ok(0)
        }
        _ => Err(Error::NotALoad("execute_to")),
    }
}

fn merge_files(m: &MergeArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let fail_if = threshold::parse_all(&m.fail_if)?;
    let reports = m
        .files
        .iter()
        .map(|f| json::read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = merge::merge(&reports)?;
    writeln!(out, "{}", text::header(&report.settings))?;
    write!(out, "{}", text::render(&report))?;
    threshold::apply(&fail_if, &mut report, out)?;
    out.flush()?;
    if let Some(path) = &m.json {
        json::write(&report, path)?;
    }
    Ok(Outcome { report })
}

fn run_load(args: &LoadArgs, out: &mut dyn Write, live: bool) -> Result<Outcome, Error> {
    let plan = Plan::from_args(args)?;
    if let Some(path) = &plan.json {
        check_writable(path)?;
    }
    let child = plan.part.1 > 1;
    let mut sink = io::sink();
    let out: &mut dyn Write = if child { &mut sink } else { out };
    let settings = Settings::of(&plan);
    writeln!(out, "{}", text::header(&settings))?;
    out.flush()?;

    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let me = std::process::id();
    let self_before = probe::sample(me);
    let server_before = probe::sample_all(&plan.server_pids);
    // With a warm-up, CPU figures count from its end, as every other figure does.
    let warm_end = (!plan.warmup.is_zero()).then(|| {
        let (warmup, pids) = (plan.warmup, plan.server_pids.clone());
        std::thread::spawn(move || {
            std::thread::sleep(warmup);
            (probe::sample(me), probe::sample_all(&pids))
        })
    });

    let (stats, mut meta) = if plan.procs > 1 {
        let parts = procs::run_children(&plan)?;
        let merged = merge::merge(&parts)?;
        (merged.stats().map_err(MergeError::from)?, merged.meta())
    } else {
        let o = engine::run(&plan, out, live && !child)?;
        let meta = Meta {
            settings: settings.clone(),
            environment: Environment::default(),
            parts: 1,
            started_unix_ms,
            elapsed_s: o.elapsed.as_secs_f64(),
            planned_samples: plan.planned_samples(),
            users: (o.started, o.finished),
            intervals: o.intervals,
            loadgen_cpu: CpuUsage::default(),
            server: None,
        };
        (o.stats, meta)
    };

    let (self_before, server_before) = match warm_end.and_then(|h| h.join().ok()) {
        Some((me_then, server_then)) => (me_then.or(self_before), server_then.or(server_before)),
        None => (self_before, server_before),
    };
    if let (Some(a), Some(b)) = (self_before, probe::sample(me)) {
        meta.loadgen_cpu.add(&CpuUsage::between(&a, &b));
    }
    if let Some(before) = server_before {
        let (after, alive) = match probe::sample_all(&plan.server_pids) {
            Some(s) => (s, s.alive),
            None => (before, false),
        };
        let mut usage = ServerUsage::between(plan.server_pids[0], &before, &after, alive);
        usage.processes = plan.server_pids.len() as u32;
        meta.server = Some(usage);
    }
    meta.settings = settings;
    meta.environment = Environment::current();
    meta.started_unix_ms = started_unix_ms;
    let mut report = RunReport::build(meta, &stats);
    write!(out, "{}", text::render(&report))?;
    threshold::apply(&plan.fail_if, &mut report, out)?;
    out.flush()?;
    if let Some(path) = &plan.json {
        json::write(&report, path)?;
    }
    Ok(Outcome { report })
}

/// Fails early, before any load, when the JSON file cannot be written.
fn check_writable(path: &Path) -> Result<(), Error> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|source| Error::JsonPath {
            path: path.display().to_string(),
            source,
        })
}
