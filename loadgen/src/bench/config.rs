//! `loadgen bench`'s flags checked and turned into a [`BenchConfig`]: known suites and
//! models, connection counts one process can hold, server binaries present, a results
//! folder that does not exist yet. Anything wrong is one clear error before a server starts.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::testkit::MODELS;
use thiserror::Error;

use super::data::BenchConfig;
use super::suite::{SUITES, by_name};
use crate::opts::BenchArgs;

/// Most connections one loadgen process (and one server process) may hold: the open-file
/// limit here is 20000, less a margin for the process's own descriptors.
pub const MAX_CONNS: u64 = 19_900;

/// Bench settings that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("unknown suite '{0}'; suites: {list}", list = SUITES.join(", "))]
    UnknownSuite(String),
    #[error("unknown model '{0}'; models: all, {list}", list = MODELS.join(", "))]
    UnknownModel(String),
    #[error("'{0}' is not a connection count (1 to {MAX_CONNS})")]
    BadConns(String),
    #[error(
        "{0} connections is more than one process can hold ({MAX_CONNS}); several server \
         processes (--server-procs) are not implemented yet"
    )]
    TooManyConns(u64),
    #[error("--{0} must be positive")]
    NotPositive(&'static str),
    #[error("{0} exists already; give another --out")]
    OutExists(String),
    #[error(
        "{path} not found: build the servers first with `cargo build --release` (or give --bin-dir)"
    )]
    MissingBinary { path: String },
}

/// Checks the flags. `command` is the command line to record.
pub fn check(args: &BenchArgs, command: Vec<String>) -> Result<BenchConfig, ConfigError> {
    let suites = list(&args.suite)
        .map(|s| {
            by_name(s)
                .map(|_| s.to_string())
                .ok_or_else(|| ConfigError::UnknownSuite(s.into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let models = if args.models.trim() == "all" {
        MODELS.iter().map(|m| m.to_string()).collect()
    } else {
        list(&args.models)
            .map(|m| {
                MODELS
                    .contains(&m)
                    .then(|| m.to_string())
                    .ok_or_else(|| ConfigError::UnknownModel(m.into()))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let conns = list(&args.conns)
        .map(|c| match c.replace('_', "").parse::<u64>() {
            Ok(0) | Err(_) => Err(ConfigError::BadConns(c.into())),
            Ok(n) if n > MAX_CONNS => Err(ConfigError::TooManyConns(n)),
            Ok(n) => Ok(n),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if suites.is_empty() {
        return Err(ConfigError::UnknownSuite(args.suite.clone()));
    }
    if models.is_empty() {
        return Err(ConfigError::UnknownModel(args.models.clone()));
    }
    if conns.is_empty() {
        return Err(ConfigError::BadConns(args.conns.clone()));
    }
    if args.duration.is_zero() {
        return Err(ConfigError::NotPositive("duration"));
    }
    if args.rounds == 0 {
        return Err(ConfigError::NotPositive("rounds"));
    }
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        return Err(ConfigError::NotPositive("scale"));
    }
    if !(args.rate_fixed > 0.0 && args.rate_fixed.is_finite()) {
        return Err(ConfigError::NotPositive("rate-fixed"));
    }
    let out = args.out.clone().unwrap_or_else(default_out);
    if out.exists() {
        return Err(ConfigError::OutExists(out.display().to_string()));
    }
    let bin_dir = args.bin_dir.clone().unwrap_or_else(default_bin_dir);
    for m in &models {
        let path = bin_dir.join(format!("echo-{m}"));
        if !path.is_file() {
            return Err(ConfigError::MissingBinary {
                path: path.display().to_string(),
            });
        }
    }
    Ok(BenchConfig {
        suites,
        models,
        conns,
        duration_s: args.duration.as_secs_f64(),
        rounds: args.rounds,
        scale: args.scale,
        rate_fixed: args.rate_fixed,
        bin_dir: bin_dir.display().to_string(),
        out: out.display().to_string(),
        perf: !args.no_perf,
        command,
    })
}

/// The non-empty items of a comma-separated list.
fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

/// loadgen's own folder: target/release when it is the release build.
fn default_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// results/<date>-<host>/bench, the date in UTC (the run folder may hold other
/// measurements of the same day, such as `make idle-rss`).
fn default_out() -> PathBuf {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim().split('.').next().unwrap_or("host").to_string();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!(
        "results/{}-{host}/bench",
        civil_date(secs / 86_400)
    ))
}

/// YYYY-MM-DD of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::{Command, Opts};
    use clap::Parser;

    fn args(extra: &[&str]) -> BenchArgs {
        let mut v = vec![
            "loadgen",
            "bench",
            "--out",
            "/nonexistent/x",
            "--bin-dir",
            "/",
        ];
        v.extend_from_slice(extra);
        match Opts::parse_from(v).command {
            Some(Command::Bench(b)) => b,
            _ => unreachable!(),
        }
    }

    fn err(extra: &[&str]) -> String {
        check(&args(extra), vec![]).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_is_one_clear_error() {
        assert!(err(&["--models", "epoll,nope"]).starts_with("unknown model 'nope'"));
        assert!(err(&["--suite", "frames"]).starts_with("unknown suite 'frames'"));
        assert!(err(&["--conns", "10,60000"]).contains("60000 connections is more than"));
        assert!(err(&["--conns", "ten"]).contains("'ten' is not a connection count"));
        assert!(err(&["--rounds", "0"]).contains("--rounds must be positive"));
        assert!(err(&["--models", "epoll"]).contains("cargo build --release"));
        let exists = check(
            &{
                let mut a = args(&[]);
                a.out = Some(PathBuf::from("/"));
                a
            },
            vec![],
        );
        assert!(exists.unwrap_err().to_string().contains("exists already"));
    }

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_513), "2026-03-01");
    }
}
