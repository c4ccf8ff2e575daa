//! The JSON form of a [`RunReport`]: written with `--json FILE`, read by `loadgen merge` and
//! by a `--procs` parent reading its children.

use std::fs;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::{FORMAT, RunReport};

/// A result file that cannot be written or read.
#[derive(Debug, Error)]
pub enum JsonError {
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
    #[error("{path} is not a {what}: {source}")]
    Parse {
        path: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{path} has format {found}; this loadgen reads format {expected}")]
    Format {
        path: String,
        found: u32,
        expected: u32,
    },
}

/// Writes `value` pretty-printed to `path`, replacing it.
pub fn write_file<T: Serialize>(value: &T, path: &Path) -> Result<(), JsonError> {
    let text = serde_json::to_string_pretty(value).expect("results always serialize");
    fs::write(path, text + "\n").map_err(|source| JsonError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `value` to `path` as one line of JSON, replacing it.
pub fn write_file_compact<T: Serialize>(value: &T, path: &Path) -> Result<(), JsonError> {
    let text = serde_json::to_string(value).expect("results always serialize");
    fs::write(path, text + "\n").map_err(|source| JsonError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a `what` (for messages) from `path`, refusing any `format_of` but `expected`.
pub fn read_file<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
    format_of: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<T, JsonError> {
    let name = || path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| JsonError::Read {
        path: name(),
        source,
    })?;
    let value: T = serde_json::from_str(&text).map_err(|source| JsonError::Parse {
        path: name(),
        what,
        source,
    })?;
    match format_of(&value) {
        found if found == expected => Ok(value),
        found => Err(JsonError::Format {
            path: name(),
            found,
            expected,
        }),
    }
}

/// Writes the report, pretty-printed, replacing the file.
pub fn write(report: &RunReport, path: &Path) -> Result<(), JsonError> {
    write_file(report, path)
}

/// Reads a report written by [`write`].
pub fn read(path: &Path) -> Result<RunReport, JsonError> {
    read_file(path, "loadgen result", |r: &RunReport| r.format, FORMAT)
}
