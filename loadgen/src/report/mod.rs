//! The bench's summary (`loadgen report`), a layer above one run's report (`crate::run`).
//!
//! Arrows point one way, downwards:
//!
//! - [`summary`] reads a bench's raw.json and writes summary.md and its charts, its
//!   sections in order; it is the only file that knows every section;
//! - [`sections`], one file per section of summary.md behind one small trait; a section
//!   never imports another;
//! - under them: [`figures`] (what sections share: medians, labels, a grid's cells as
//!   Markdown), [`stats`] (means and intervals over blocks, the paired ratios and verdicts
//!   that rank models), [`svg`] (line charts, forest plots), [`studies`] (the figures the
//!   studies published), and `crate::md` (tables and numbers as Markdown).
//!
//! [`csv`] writes runs.csv, one row per record of raw.json, on the same floor as the
//! sections (beside them, importing none).
//! [`html`] computes the bench's page, report.html, on the same floor; no section imports
//! it, and `summary` writes it beside summary.md.
//!
//! [`compare_benches`] compares two bench folders (`loadgen compare A B`), on the same
//! floor; one run against another is `crate::run::compare_runs`.

pub mod compare_benches;
pub mod csv;
pub mod figures;
pub mod html;
pub mod sections;
pub mod stats;
pub mod studies;
pub mod summary;
pub mod svg;
