//! `--procs P`: runs the plan in P child loadgen processes, each with `--part I/P` (every
//! P-th user, scheduled as in one process) and `--json` to a temporary file, then merges
//! their results exactly. Past ~19.9k connections one process runs out of descriptors.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::plan::Plan;
use crate::run::json;
use crate::run::report::RunReport;

/// Children that could not be run or read.
#[derive(Debug, Error)]
pub enum ProcsError {
    #[error("cannot find loadgen's own executable: {0}")]
    Exe(std::io::Error),
    #[error("cannot create a temporary directory {path}: {source}")]
    TempDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start child process {index}: {source}")]
    Spawn {
        index: usize,
        source: std::io::Error,
    },
    #[error("child process {index} failed ({status}) and wrote no result")]
    Child { index: usize, status: String },
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the children and returns their reports, in part order.
pub fn run_children(plan: &Plan) -> Result<Vec<RunReport>, ProcsError> {
    let exe = std::env::current_exe().map_err(ProcsError::Exe)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("loadgen-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| ProcsError::TempDir {
        path: dir.display().to_string(),
        source,
    })?;
    let dir = TempDir(dir);
    let mut children = Vec::new();
    for index in 0..plan.procs {
        let file = dir.0.join(format!("part-{index}.json"));
        let child = Command::new(&exe)
            .args(plan.child_args(index, &file))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| ProcsError::Spawn { index, source })?;
        children.push((index, child, file));
    }
    let mut reports = Vec::new();
    let mut first_error = None;
    for (index, mut child, file) in children {
        let status = child.wait();
        match json::read(&file) {
            Ok(r) => reports.push(r),
            Err(_) => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                first_error.get_or_insert(ProcsError::Child { index, status });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}
