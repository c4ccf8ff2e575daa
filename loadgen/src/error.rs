//! Why loadgen could not do what it was asked, and the exit codes: [`Error`](enum@Error)
//! gathers the errors of every subcommand, each module's own type, and says which are bad
//! input (exit 2) and which a run that could not be carried out (exit 1). Failed samples
//! are never errors: they are counted in the report.

use std::io;

use thiserror::Error;

use crate::bench::BenchError;
use crate::jtl::JtlError;
use crate::merge::MergeError;
use crate::plan::error::PlanError;
use crate::report::compare_benches::CompareError;
use crate::report::summary::ReportError;
use crate::run::json::JsonError;
use crate::run::load::LoadError;
use crate::stream::StreamError;
use crate::threshold::ThresholdError;

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
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Jtl(#[from] JtlError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    CompareBench(#[from] CompareError),
    #[error("`loadgen compare` takes report files, or exactly two bench folders: {0}")]
    CompareArgs(String),
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
}

impl Error {
    /// 2 for bad input (nothing was sent), 1 for a run that could not be carried out.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plan(_) | Error::Merge(_) | Error::Threshold(_) => EXIT_USAGE,
            Error::Load(e) if e.is_input() => EXIT_USAGE,
            Error::Json(JsonError::Read { .. } | JsonError::Parse { .. }) => EXIT_USAGE,
            Error::Json(JsonError::Format { .. }) => EXIT_USAGE,
            Error::Bench(BenchError::Config(_)) => EXIT_USAGE,
            Error::Report(e) if e.is_input() => EXIT_USAGE,
            Error::CompareBench(_) | Error::CompareArgs(_) => EXIT_USAGE,
            Error::Stream(e) if e.is_input() => EXIT_USAGE,
            _ => 1,
        }
    }
}
