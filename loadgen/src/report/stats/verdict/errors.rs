//! Errors as a figure of their own: each model's error share at a point (failed samples
//! and open-loop requests never sent, over all requests, percent) and its paired difference from the reference's, in percentage points
//! over the blocks (rounds) both have, with a Student-t 95% interval. A model is judged to
//! have *fewer errors* or *more errors* only when the interval clears 0 by more than
//! [`ERROR_MARGIN_PTS`] (one error in a thousand samples: below it an error share is noise
//! of a dropped connection or two), *the same* when it lies within ± that margin,
//! inconclusive otherwise and below [`super::interval::MIN_BLOCKS`] blocks.

use std::collections::BTreeMap;

use super::interval::{Estimate, MIN_BLOCKS};
use crate::bench::data::RunRecord;

/// Margin of the error verdicts, percentage points.
pub const ERROR_MARGIN_PTS: f64 = 0.1;

/// The error share of some runs: their failed requests over their requests, percent (an
/// open-loop request never sent counts as both); None without a request.
pub fn share<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> Option<f64> {
    let (errors, samples) = runs
        .into_iter()
        .filter_map(|r| r.report.as_ref())
        .fold((0u64, 0u64), |(e, s), rep| {
            (e + rep.failed(), s + rep.requests())
        });
    (samples > 0).then(|| errors as f64 * 100.0 / samples as f64)
}

/// What the paired difference in error share says of a model against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorVerdict {
    /// It is the reference.
    Reference,
    /// Fewer errors by more than the margin.
    Fewer,
    /// More errors by more than the margin.
    More,
    /// Within the margin either way.
    Same,
    /// Neither, or too few blocks.
    Inconclusive,
    /// No block with a share of both.
    NoData,
}

impl ErrorVerdict {
    /// The words in a table.
    pub fn word(self) -> &'static str {
        match self {
            ErrorVerdict::Reference => "reference",
            ErrorVerdict::Fewer => "fewer errors",
            ErrorVerdict::More => "more errors",
            ErrorVerdict::Same => "same errors",
            ErrorVerdict::Inconclusive => "inconclusive",
            ErrorVerdict::NoData => "no data",
        }
    }
}

/// One model's errors at a point.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// Model.
    pub model: String,
    /// Its error share over all its runs at the point, percent.
    pub share: Option<f64>,
    /// Open-loop requests of those runs never sent (in the share as failed requests).
    pub unsent: u64,
    /// Mean paired difference from the reference, points, with its 95% interval
    /// (mean, lo, hi); lo and hi infinite with fewer than two blocks.
    pub difference: Option<(f64, f64, f64)>,
    /// Blocks paired with the reference.
    pub blocks: usize,
    /// The verdict.
    pub verdict: ErrorVerdict,
}

/// The error rows of every model at a point, given each model's runs there (model ->
/// runs), against `reference`.
pub fn rows(by_model: &BTreeMap<&str, Vec<&RunRecord>>, reference: &str) -> Vec<ErrorRow> {
    let per_block = |runs: &[&RunRecord]| -> BTreeMap<u32, f64> {
        runs.iter()
            .filter_map(|r| r.error_pct().map(|p| (r.block, p)))
            .collect()
    };
    let empty = Vec::new();
    let reference_blocks = per_block(by_model.get(reference).unwrap_or(&empty));
    by_model
        .iter()
        .map(|(model, runs)| {
            let mine = per_block(runs);
            let diffs: Vec<f64> = mine
                .iter()
                .filter_map(|(b, p)| reference_blocks.get(b).map(|q| p - q))
                .collect();
            let est = Estimate::of(&diffs);
            let difference = est.map(|e| {
                let (lo, hi) = e.bounds().unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
                (e.mean_log, lo, hi)
            });
            let verdict = match difference {
                _ if *model == reference => ErrorVerdict::Reference,
                None => ErrorVerdict::NoData,
                Some(_) if diffs.len() < MIN_BLOCKS => ErrorVerdict::Inconclusive,
                Some((_, lo, hi)) => judge(lo, hi),
            };
            ErrorRow {
                model: model.to_string(),
                share: share(runs.iter().copied()),
                unsent: runs
                    .iter()
                    .filter_map(|r| r.report.as_ref())
                    .map(|rep| rep.unsent)
                    .sum(),
                difference,
                blocks: diffs.len(),
                verdict,
            }
        })
        .collect()
}

/// The margin rule on an interval of a difference in points.
fn judge(lo: f64, hi: f64) -> ErrorVerdict {
    if hi < -ERROR_MARGIN_PTS {
        ErrorVerdict::Fewer
    } else if lo > ERROR_MARGIN_PTS {
        ErrorVerdict::More
    } else if lo >= -ERROR_MARGIN_PTS && hi <= ERROR_MARGIN_PTS {
        ErrorVerdict::Same
    } else {
        ErrorVerdict::Inconclusive
    }
}
