//! The JSON form of a [`RunReport`]: written with `--json FILE`, read by `loadgen merge` and
//! by a `--procs` parent reading its children.

use std::fs;
use std::path::Path;

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
    #[error("{path} is not a loadgen result: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path} has format {found}; this loadgen reads format {FORMAT}")]
    Format { path: String, found: u32 },
}

/// Writes the report, pretty-printed, replacing the file.
pub fn write(report: &RunReport, path: &Path) -> Result<(), JsonError> {
    let text = serde_json::to_string_pretty(report).expect("a report always serializes");
    fs::write(path, text + "\n").map_err(|source| JsonError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a report written by [`write`].
pub fn read(path: &Path) -> Result<RunReport, JsonError> {
    let name = || path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| JsonError::Read {
        path: name(),
        source,
    })?;
    let report: RunReport = serde_json::from_str(&text).map_err(|source| JsonError::Parse {
        path: name(),
        source,
    })?;
    if report.format != FORMAT {
        return Err(JsonError::Format {
            path: name(),
            found: report.format,
        });
    }
    Ok(report)
}
