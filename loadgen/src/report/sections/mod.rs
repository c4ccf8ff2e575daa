//! The sections of summary.md, one file each, behind one small trait: a section yields its
//! Markdown and the charts it draws ([`Section`]), so a new suite is one file here and one
//! line in `super::summary`, which orders them. A section never imports another section;
//! what two of them share lives below them (`crate::md`, `super::figures`, `super::stats`,
//! `super::svg`), as hyperfine's formats stand on export/markup.rs.

use crate::bench::data::BenchResults;
use crate::report::svg::chart::{self, Chart};

pub mod baselines;
pub mod design;
pub mod environment;
pub mod failed_runs;
pub mod fixed_rate;
pub mod frames;
pub mod main_table;
pub mod mixed;
pub mod pingpong;
pub mod plans;
pub mod spread;
pub mod variants;
pub mod verdicts;

/// What every section is rendered from: the bench, and the reference and margin of the
/// verdicts.
#[derive(Debug, Clone, Copy)]
pub struct Bench<'a> {
    /// The bench's raw.json.
    pub results: &'a BenchResults,
    /// Reference model of the verdicts.
    pub reference: &'a str,
    /// Margin of the verdicts, a fraction (0.03 is 3%).
    pub margin: f64,
}

/// An SVG file a section draws beside summary.md.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartFile {
    /// File name in the bench's folder.
    pub file: String,
    /// The SVG document.
    pub svg: String,
    /// The caption summary.md shows it under, below the main table; None where the
    /// section's own text links it.
    pub caption: Option<String>,
}

impl ChartFile {
    /// A line chart summary.md shows under the main table, with `caption`.
    pub fn shown(file: &str, caption: &str, c: &Chart) -> ChartFile {
        ChartFile {
            file: file.into(),
            svg: chart::svg(c),
            caption: Some(caption.into()),
        }
    }

    /// A line chart the section's own text links.
    pub fn linked(file: String, c: &Chart) -> ChartFile {
        ChartFile {
            file,
            svg: chart::svg(c),
            caption: None,
        }
    }
}

/// One section of summary.md.
pub trait Section {
    /// Appends its Markdown, ending in a blank line, to `out`; nothing where the bench ran
    /// nothing it shows.
    fn markdown(&self, b: &Bench, out: &mut String);

    /// The charts it draws (none by default).
    fn charts(&self, _b: &Bench) -> Vec<ChartFile> {
        Vec::new()
    }
}

/// A section's Markdown for `r`, against epoll with a margin of 3%.
#[cfg(test)]
pub fn render(section: &dyn Section, r: &BenchResults) -> String {
    let mut s = String::new();
    let b = Bench {
        results: r,
        reference: "epoll",
        margin: 0.03,
    };
    section.markdown(&b, &mut s);
    s
}

/// The lines of `after` that `before` does not have, in order: what a change to a bench
/// adds to a section, for a test to snapshot on its own.
#[cfg(test)]
pub fn new_lines(before: &str, after: &str) -> String {
    let old: std::collections::BTreeSet<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().filter(|l| !old.contains(l)).collect();
    new.join("\n")
}
