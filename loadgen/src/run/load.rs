//! One load run, as `loadgen` without a subcommand makes it: a checked [`Plan`] runs on the
//! engine (or in `--procs` children whose results merge exactly) while loadgen's own and the
//! server's CPU and memory are read around it; the finished [`RunReport`] is printed, checked
//! against `--fail-if` and written as JSON (its intervals as CSV with `--csv`). `loadgen
//! bench` runs its fresh-server points through here too, with a plan it builds from its
//! typed settings.

use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::csv;
use super::json::{self, JsonError};
use super::report::{Meta, RunInfo, RunReport, Settings};
use super::text;
use super::thresholds;
use crate::engine::{self, EngineError};
use crate::merge::{self, MergeError};
use crate::out::check_writable;
use crate::plan::Plan;
use crate::probe::{self, CpuUsage, Environment, ServerUsage};
use crate::procs::{self, ProcsError};

/// Why a checked plan could not be run (a sample's failure is never one of these).
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot write --json {path}: {source}")]
    JsonPath { path: String, source: io::Error },
    #[error("cannot write --csv {path}: {source}")]
    CsvPath { path: String, source: io::Error },
    #[error("cannot write --csv {path} after the run: {source}")]
    Csv { path: String, source: io::Error },
    #[error("cannot write --html {path}: {source}")]
    HtmlPath { path: String, source: io::Error },
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
}

impl LoadError {
    /// True for input that cannot be used (exit 2): an unwritable `--json`, `--csv` or `--html`
    /// path (found before any load; one that fails only at the end is not input), children's
    /// results that do not merge, a result file that cannot be read back.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            LoadError::JsonPath { .. }
                | LoadError::CsvPath { .. }
                | LoadError::HtmlPath { .. }
                | LoadError::Merge(_)
                | LoadError::Json(
                    JsonError::Read { .. } | JsonError::Parse { .. } | JsonError::Format { .. }
                )
        )
    }
}

/// Runs `plan`, printing the header, the summariser lines and the report to `out` (a live
/// progress line too with `live`); a `--part` child prints nothing.
pub fn run(plan: &Plan, out: &mut dyn Write, live: bool) -> Result<RunReport, LoadError> {
    if let Some(path) = &plan.json {
        check_writable(path).map_err(|source| LoadError::JsonPath {
            path: path.display().to_string(),
            source,
        })?;
    }
    if let Some(path) = &plan.csv {
        check_writable(path).map_err(|source| LoadError::CsvPath {
            path: path.display().to_string(),
            source,
        })?;
    }
    let child = plan.part.1 > 1;
    let mut sink = io::sink();
    let out: &mut dyn Write = if child { &mut sink } else { out };
    let settings = Settings::of(plan);
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
        let parts = procs::run_children(plan)?;
        let merged = merge::merge(&parts)?;
        (merged.stats().map_err(MergeError::from)?, merged.meta())
    } else {
        let o = engine::run(plan, out, live && !child)?;
        let meta = Meta {
            run: RunInfo {
                settings: settings.clone(),
                environment: Environment::default(),
                parts: 1,
                started_unix_ms,
                elapsed_s: o.elapsed.as_secs_f64(),
                planned_samples: plan.planned_samples(),
            },
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
    meta.run.settings = settings;
    meta.run.environment = Environment::current();
    meta.run.started_unix_ms = started_unix_ms;
    let mut report = RunReport::build(meta, &stats);
    write!(out, "{}", text::render(&report))?;
    thresholds::apply(&plan.fail_if, &mut report, out)?;
    out.flush()?;
    if let Some(path) = &plan.json {
        json::write(&report, path)?;
    }
    if let Some(path) = &plan.csv {
        csv::write(&report, path).map_err(|source| LoadError::Csv {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

/// Fails early, before any load, when the `--html` page cannot be written.
pub fn check_html(path: &Path) -> Result<(), LoadError> {
    check_writable(path).map_err(|source| html_error(path, source))
}

/// Writes the run's page (`--html`).
pub fn write_html(report: &RunReport, path: &Path) -> Result<(), LoadError> {
    super::html::write(report, path).map_err(|source| html_error(path, source))
}

fn html_error(path: &Path, source: io::Error) -> LoadError {
    LoadError::HtmlPath {
        path: path.display().to_string(),
        source,
    }
}
