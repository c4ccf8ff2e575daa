//! `loadgen report DIR`: reads DIR/raw.json, draws every section's charts and writes
//! summary.md, its sections in the order below, and the page report.html (`super::html`);
//! with `--readme FILE`, also puts a link and the main table into FILE between two marker
//! lines (`--baselines-readme`: the baselines' section). The only file that knows every
//! section (`TOP`, `BODY`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::csv;
use super::figures::shell_words;
use super::html::page;
use super::sections::baselines::{self, Baselines, README_BEGIN, README_END};
use super::sections::design::{self, HowMeasured};
use super::sections::environment::Environment;
use super::sections::failed_runs::FailedRuns;
use super::sections::fixed_rate::FixedRate;
use super::sections::frames::Frames;
use super::sections::main_table::{self, MainTable};
use super::sections::mixed::Mixed;
use super::sections::pingpong::Pingpong;
use super::sections::plans::Plans;
use super::sections::spread::Spread;
use super::sections::variants::Variants;
use super::sections::verdicts::Verdicts;
use super::sections::{Bench, ChartFile, Section};
use crate::bench::data::{BenchResults, DataError};
use crate::opts::ReportArgs;

/// The sections above the charts that summary.md shows under the main table.
const TOP: [&dyn Section; 1] = [&MainTable];

/// The sections below those charts, in order: a new suite is one line here.
const BODY: [&dyn Section; 12] = [
    &HowMeasured,
    &Verdicts,
    &Baselines,
    &Variants,
    &Pingpong,
    &FixedRate,
    &Plans,
    &Frames,
    &Mixed,
    &Spread,
    &FailedRuns,
    &Environment,
];

/// Marks the start of the generated part of a README.
pub const BEGIN: &str = "<!-- latest-run:begin -->";
/// Marks its end.
pub const END: &str = "<!-- latest-run:end -->";

/// A report that cannot be made.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--reference: '{0}' is not one of the bench's models ({1})")]
    UnknownReference(String, String),
    #[error("--margin must be a fraction above 0 and below 1 (0.03 is 3%)")]
    BadMargin,
    #[error("--max-error-pct must be a percentage from 0 to 100")]
    BadMaxErrorPct,
    #[error("--baselines-readme: this bench ran no Python baseline (loadgen bench --baselines)")]
    NoBaselines,
}

impl ReportError {
    /// True for input that cannot be used (exit 2).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            ReportError::Data(_)
                | ReportError::UnknownReference(..)
                | ReportError::BadMargin
                | ReportError::BadMaxErrorPct
                | ReportError::NoBaselines
        )
    }
}

/// The verdicts' reference and margin for `results`: the given ones, checked, else the
/// bench's own.
pub fn verdict_settings<'a>(
    results: &'a BenchResults,
    reference: Option<&'a str>,
    margin: Option<f64>,
) -> Result<(&'a str, f64), ReportError> {
    let reference = reference.unwrap_or(&results.config.reference);
    let margin = margin.unwrap_or(results.config.margin);
    let known = results.config.models.iter().any(|m| m == reference)
        || results.runs.iter().any(|r| r.model == reference);
    if !known {
        return Err(ReportError::UnknownReference(
            reference.to_string(),
            results.config.models.join(", "),
        ));
    }
    if !(margin > 0.0 && margin < 1.0) {
        return Err(ReportError::BadMargin);
    }
    Ok((reference, margin))
}

/// Every section's charts, in the sections' order.
pub fn charts(b: &Bench) -> Vec<ChartFile> {
    TOP.iter().chain(&BODY).flat_map(|s| s.charts(b)).collect()
}

/// The whole summary.md; `charts` are the SVGs beside it, those with a caption shown under
/// the main table.
pub fn markdown(b: &Bench, charts: &[ChartFile]) -> String {
    let mut s = intro(b.results);
    for section in TOP {
        section.markdown(b, &mut s);
    }
    for c in charts {
        if let Some(caption) = &c.caption {
            let _ = writeln!(s, "![{caption}]({})\n", c.file);
        }
    }
    for section in BODY {
        section.markdown(b, &mut s);
    }
    for note in &b.results.notes {
        let _ = writeln!(s, "Note: {note}\n");
    }
    s
}

/// The opening: title, the command that made the bench, how its runs were made.
fn intro(r: &BenchResults) -> String {
    let mut s = String::from("# echolab bench\n\n");
    let _ = writeln!(
        s,
        "Made with:\n\n```sh\n{}\n```\n",
        shell_words(&r.config.command)
    );
    let _ = writeln!(
        s,
        "Rendered from raw.json by `loadgen report` ({} runs{}). {}perf's tracepoints add a little server CPU of their own.\n",
        r.runs.len(),
        if r.complete {
            ""
        } else {
            "; the bench did not finish"
        },
        design::sentence(r),
    );
    s
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Renders DIR/raw.json into DIR; returns the files written.
pub fn render_dir(args: &ReportArgs) -> Result<Vec<PathBuf>, ReportError> {
    let mut results = BenchResults::read(&args.dir.join("raw.json"))?;
    if let Some(pct) = args.max_error_pct {
        if !(0.0..=100.0).contains(&pct) {
            return Err(ReportError::BadMaxErrorPct);
        }
        results.config.max_error_pct = pct;
    }
    let (reference, margin) = verdict_settings(&results, args.reference.as_deref(), args.margin)?;
    if args.baselines_readme.is_some() && !baselines::any(&results) {
        return Err(ReportError::NoBaselines);
    }
    let bench = Bench {
        results: &results,
        reference,
        margin,
    };
    let charts = charts(&bench);
    let mut written = Vec::new();
    for c in &charts {
        let path = args.dir.join(&c.file);
        write(&path, &c.svg)?;
        written.push(path);
    }
    let path = args.dir.join("summary.md");
    write(&path, &markdown(&bench, &charts))?;
    written.push(path);
    let path = args.dir.join(csv::FILE);
    write(&path, &csv::runs(&results))?;
    let path = args.dir.join("report.html");
    write(
        &path,
        &crate::html::render(&page(&results, reference, margin)),
    )?;
    written.push(path);
    let runs = format!(
        "{} runs{}",
        results.runs.len(),
        if results.complete { "" } else { ", incomplete" }
    );
    if let Some(readme) = &args.readme {
        let body = main_table::headline(&results, reference, margin);
        let marks = (BEGIN, END);
        update_readme(readme, &args.dir, marks, "Latest run", &runs, &body)?;
        written.push(readme.clone());
    }
    if let Some(readme) = &args.baselines_readme {
        let body = baselines::body(&results, margin);
        let marks = (README_BEGIN, README_END);
        update_readme(
            readme,
            &args.dir,
            marks,
            "Run with the baselines",
            &runs,
            &body,
        )?;
        written.push(readme.clone());
    }
    Ok(written)
}

/// Puts into `readme`, between the `marks`, a link to the bench in `dir` after `what`, the
/// count of its `runs`, and `body`.
fn update_readme(
    readme: &Path,
    dir: &Path,
    (begin, end): (&str, &str),
    what: &str,
    runs: &str,
    body: &str,
) -> Result<(), ReportError> {
    let old = read_or_empty(readme)?;
    let link = relative(dir, readme.parent().unwrap_or(Path::new("")));
    let section = format!(
        "{begin}\n{what}: [{link}]({link}/summary.md), rendered from its raw.json by `loadgen report` ({runs}).\n\n{body}{end}"
    );
    write(readme, &splice_between(&old, &section, begin, end))
}

/// A file's text, empty when it does not exist yet.
fn read_or_empty(path: &Path) -> Result<String, ReportError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ReportError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// `dir` relative to `base` when it lies under it.
fn relative(dir: &Path, base: &Path) -> String {
    let d = dir.strip_prefix(base).unwrap_or(dir);
    d.display().to_string().trim_end_matches('/').to_string()
}

/// `text` with the part between `begin` and `end` replaced by `section` (which holds the
/// markers itself), appended when there is none.
fn splice_between(text: &str, section: &str, begin: &str, end: &str) -> String {
    match (text.find(begin), text.find(end)) {
        (Some(a), Some(b)) if b > a => format!("{}{section}{}", &text[..a], &text[b + end.len()..]),
        _ => {
            let sep = if text.is_empty() || text.ends_with("\n\n") {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{text}{sep}{section}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(text: &str, section: &str) -> String {
        splice_between(text, section, BEGIN, END)
    }

    #[test]
    fn splices_between_markers() {
        let first = splice(
            "# Results\n",
            "<!-- latest-run:begin -->\nA<!-- latest-run:end -->",
        );
        assert_eq!(
            first,
            "# Results\n\n<!-- latest-run:begin -->\nA<!-- latest-run:end -->\n"
        );
        let second = splice(
            &first,
            "<!-- latest-run:begin -->\nB<!-- latest-run:end -->",
        );
        assert_eq!(
            second,
            "# Results\n\n<!-- latest-run:begin -->\nB<!-- latest-run:end -->\n"
        );
        assert_eq!(
            relative(Path::new("results/2026-x"), Path::new("results")),
            "2026-x"
        );
        assert_eq!(shell_words(&["a b".into(), "c".into()]), "'a b' c");
    }
}
