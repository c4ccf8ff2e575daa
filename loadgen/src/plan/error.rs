//! Why a plan cannot run: [`PlanError`], one line each (exit code 2), raised by the plan's
//! checks and by [`crate::addrs`]'s checks of where load may go.

use thiserror::Error;

use crate::threshold::ThresholdError;

/// Why a plan cannot run. Each renders as one line.
#[derive(Debug, Error, PartialEq)]
pub enum PlanError {
    #[error("{flag} {value}: expected {expected}")]
    Range {
        flag: &'static str,
        value: String,
        expected: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("give --loops N or --duration DUR (e.g. --threads 100 --loops 20000)")]
    NoStop,
    #[error(
        "{what} {addr} is not a loopback address: loadgen only sends load to 127.0.0.0/8 and ::1"
    )]
    NotLoopback { what: &'static str, addr: String },
    #[error("cannot resolve --host {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("{0}")]
    Limit(String),
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
}

/// A [`PlanError::Range`]: `FLAG VALUE: expected EXPECTED`.
pub(crate) fn range_err(
    flag: &'static str,
    value: impl ToString,
    expected: impl ToString,
) -> PlanError {
    PlanError::Range {
        flag,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
