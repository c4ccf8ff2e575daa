//! `loadgen report DIR`: reads DIR/raw.json and writes what each output [`Format`] renders
//! from it (the SVG charts, then summary.md that embeds them); with `--readme FILE`, also
//! puts a link and the main table into FILE between two marker lines.

use std::fs;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::aggregate::Grid;
use super::chart::{self, Chart};
use super::markdown;
use crate::bench::data::{BenchResults, DataError, RunRecord};
use crate::opts::ReportArgs;

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
    let (reference, margin) = super::ranking::settings(results, reference, margin);
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

/// One way of rendering a bench: (file name, contents) pairs to write into its folder.
pub trait Format {
    /// The files.
    fn files(&self, results: &BenchResults) -> Vec<(String, String)>;
}

/// The SVG charts.
pub struct Charts;

/// summary.md, embedding the charts, with verdicts against `reference` at `margin`.
pub struct Markdown<'a> {
    /// Reference model of the verdicts.
    pub reference: &'a str,
    /// Margin of the verdicts.
    pub margin: f64,
}

/// One forest plot per point and ranking metric.
pub struct Forests<'a> {
    /// Reference model of the verdicts.
    pub reference: &'a str,
    /// Margin of the verdicts.
    pub margin: f64,
}

impl Format for Forests<'_> {
    fn files(&self, r: &BenchResults) -> Vec<(String, String)> {
        if !r.config.is_blocked() {
            return Vec::new();
        }
        super::verdict::all(r, self.reference, self.margin)
            .iter()
            .map(|pv| {
                let title = format!("{}: {}", super::ranking::point_title(pv), pv.metric.label);
                (
                    super::forest::file_name(pv),
                    super::forest::svg(pv, &title, self.margin),
                )
            })
            .collect()
    }
}

/// (file, caption, chart) for every chart the results allow.
fn charts(r: &BenchResults) -> Vec<(String, String, Chart)> {
    let mut all = pingpong_charts(r);
    all.extend(super::frames::charts(r));
    all
}

/// The ping-pong sweep's charts.
fn pingpong_charts(r: &BenchResults) -> Vec<(String, String, Chart)> {
    let g = Grid::new(r, "pingpong", "sweep");
    if g.is_empty() {
        return Vec::new();
    }
    let line = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        g.models
            .iter()
            .map(|m| {
                let pts = g
                    .points
                    .iter()
                    .filter_map(|p| Some((g.conns(p) as f64, g.cell(m, p, f)?.mean)))
                    .collect();
                (m.clone(), pts)
            })
            .collect()
    };
    // 95% intervals of the means over blocks, as error bars.
    let bars = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<Vec<(f64, f64, f64)>> {
        g.models
            .iter()
            .map(|m| {
                g.points
                    .iter()
                    .filter_map(|p| {
                        let c = g.cell(m, p, f)?;
                        let hw = c.ci95?;
                        Some((g.conns(p) as f64, c.mean - hw, c.mean + hw))
                    })
                    .collect()
            })
            .collect()
    };
    let p95 = |r: &RunRecord| {
        let rep = r.report.as_ref()?;
        (rep.ok > 0).then(|| rep.latency_us.p95 as f64 / 1000.0)
    };
    vec![
        (
            "pingpong-throughput.svg".into(),
            "messages/s vs connections".into(),
            Chart {
                title: "pingpong: messages/s (mean over blocks, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "messages/s".into(),
                log_x: true,
                log_y: false,
                series: line(&|r: &RunRecord| r.messages_per_s),
                bars: bars(&|r: &RunRecord| r.messages_per_s),
            },
        ),
        (
            "pingpong-p95.svg".into(),
            "p95 latency vs connections".into(),
            Chart {
                title: "pingpong: p95 latency, ms (mean over blocks, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "p95 latency, ms (log scale)".into(),
                log_x: true,
                log_y: true,
                series: line(&p95),
                bars: bars(&p95),
            },
        ),
        (
            "pingpong-cpu-per-msg.svg".into(),
            "server CPU us per message vs connections".into(),
            Chart {
                title: "pingpong: server CPU us per message (mean, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "us of CPU per message".into(),
                log_x: true,
                log_y: false,
                series: line(&g.cpu_us_per_message()),
                bars: bars(&g.cpu_us_per_message()),
            },
        ),
    ]
}

impl Format for Charts {
    fn files(&self, r: &BenchResults) -> Vec<(String, String)> {
        charts(r)
            .into_iter()
            .map(|(f, _, c)| (f, chart::svg(&c)))
            .collect()
    }
}

impl Format for Markdown<'_> {
    fn files(&self, r: &BenchResults) -> Vec<(String, String)> {
        let embedded: Vec<(String, String)> =
            charts(r).into_iter().map(|(f, c, _)| (f, c)).collect();
        vec![(
            "summary.md".into(),
            markdown::summary(r, &embedded, self.reference, self.margin),
        )]
    }
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
    if args.baselines_readme.is_some() && !super::baselines::any(&results) {
        return Err(ReportError::NoBaselines);
    }
    let mut written = Vec::new();
    let markdown = Markdown { reference, margin };
    let forests = Forests { reference, margin };
    let formats: [&dyn Format; 4] = [&Charts, &super::mixed::Charts, &forests, &markdown];
    for format in formats {
        for (name, text) in format.files(&results) {
            let path = args.dir.join(name);
            write(&path, &text)?;
            written.push(path);
        }
    }
    if let Some(readme) = &args.readme {
        let old = read_or_empty(readme)?;
        let link = relative(&args.dir, readme.parent().unwrap_or(Path::new("")));
        let section = format!(
            "{BEGIN}\nLatest run: [{link}]({link}/summary.md), rendered from its raw.json by `loadgen report` ({} runs{}).\n\n{}{END}",
            results.runs.len(),
            if results.complete { "" } else { ", incomplete" },
            super::sections::headline(&results, reference, margin)
        );
        write(readme, &splice(&old, &section))?;
        written.push(readme.clone());
    }
    if let Some(readme) = &args.baselines_readme {
        use super::baselines::{README_BEGIN, README_END};
        let old = read_or_empty(readme)?;
        let link = relative(&args.dir, readme.parent().unwrap_or(Path::new("")));
        let section = format!(
            "{README_BEGIN}\nRun with the baselines: [{link}]({link}/summary.md), rendered from its raw.json by `loadgen report` ({} runs{}).\n\n{}{README_END}",
            results.runs.len(),
            if results.complete { "" } else { ", incomplete" },
            super::baselines::body(&results, margin)
        );
        write(
            readme,
            &splice_between(&old, &section, README_BEGIN, README_END),
        )?;
        written.push(readme.clone());
    }
    Ok(written)
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

/// `text` with its marked part replaced by `section` (appended when there is none).
fn splice(text: &str, section: &str) -> String {
    splice_between(text, section, BEGIN, END)
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
    }
}
