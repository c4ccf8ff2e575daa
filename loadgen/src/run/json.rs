//! The JSON form of a [`RunReport`]: written with `--json FILE`, read by `loadgen merge` and
//! by a `--procs` parent reading its children.
//!
//! Fields added after the format was fixed (`send_lateness_us` and its histogram, say) are
//! left out where they do not apply and default when absent, so older files still load.

use std::fs;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::report::{FORMAT, RunReport};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;

    #[test]
    fn send_lateness_is_written_for_an_open_loop_only_and_older_files_load() {
        let mut open = Stats::new(true);
        open.ok(100, 90);
        open.sent_late(7);
        let report = crate::run::report::test_report(&open);
        let value = serde_json::to_value(&report).unwrap();
        let late = &value["send_lateness_us"];
        assert_eq!(
            (late["p50"].as_u64(), late["p99"].as_u64()),
            (Some(7), Some(7))
        );
        assert_eq!(late["max"].as_u64(), Some(7));
        let back: RunReport = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.stats().unwrap().lateness, open.lateness);

        let closed = crate::run::report::test_report(&Stats::new(false));
        let value = serde_json::to_value(&closed).unwrap();
        assert!(value.get("send_lateness_us").is_none());
        assert!(value.get("send_lateness_histogram").is_none());

        // A file from before lateness was measured.
        let mut older = serde_json::to_value(&report).unwrap();
        let fields = older.as_object_mut().unwrap();
        fields.remove("send_lateness_us");
        fields.remove("send_lateness_histogram");
        let back: RunReport = serde_json::from_value(older).unwrap();
        assert_eq!(back.send_lateness_us, None);
        assert!(back.stats().unwrap().lateness.is_none());
    }

    /// A report with every optional part present: open loop, send lateness, fairness, a
    /// server and a checked threshold.
    fn full_report() -> RunReport {
        let mut stats = Stats::new(true);
        stats.ok(120, 95);
        stats.ok(4_000, 3_100);
        stats.sent_late(7);
        let mut users = crate::stats::PerUser::new();
        users.user(2, 4_000);
        stats.per_user = Some(users);
        let mut report = crate::run::report::test_report(&stats);
        report.server = Some(crate::probe::ServerUsage::default());
        report.server_cpu_us_per_sample = Some(0.0);
        let limits = crate::threshold::parse_all(&["p99>5ms".into()]).unwrap();
        report.thresholds = crate::run::thresholds::check(&limits, &report);
        report
    }

    /// The top-level keys of a pretty-printed report, in the order written.
    fn top_level_keys(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split_once("\":").map(|(key, _)| key))
            .collect()
    }

    #[test]
    fn a_report_writes_its_keys_in_the_documented_order() {
        // The run's facts are a struct of their own (`RunInfo`, flattened): in the file they
        // stand inline, where they always stood. A reorder here changes every report.
        let text = serde_json::to_string_pretty(&full_report()).unwrap();
        assert_eq!(
            top_level_keys(&text),
            [
                "format",
                "loadgen_version",
                "settings",
                "environment",
                "parts",
                "started_unix_ms",
                "elapsed_s",
                "planned_samples",
                "samples",
                "ok",
                "errors",
                "errors_by_kind",
                "users_started",
                "users_finished",
                "throughput_per_s",
                "ok_per_s",
                "payload_mb_per_s",
                "bytes_sent",
                "bytes_received",
                "latency_us",
                "raw_latency_us",
                "histogram",
                "raw_histogram",
                "send_lateness_us",
                "send_lateness_histogram",
                "intervals",
                "loadgen_cpu",
                "loadgen_cpu_us_per_sample",
                "server",
                "server_cpu_us_per_sample",
                "fairness",
                "thresholds",
            ]
        );
    }

    #[test]
    fn a_report_read_back_writes_the_same_bytes() {
        let mut report = full_report();
        report.run.elapsed_s = 0.1 + 0.2;
        report.throughput_per_s = 1.0 / 3.0;
        let text = serde_json::to_string_pretty(&report).unwrap();
        let back: RunReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
    }

    #[test]
    fn requests_never_sent_are_written_after_the_error_kinds_only_when_there_are_some() {
        let mut report = full_report();
        assert!(!serde_json::to_string(&report).unwrap().contains("unsent"));
        report.unsent = 7;
        let text = serde_json::to_string_pretty(&report).unwrap();
        let keys = top_level_keys(&text);
        let at = keys.iter().position(|k| *k == "errors_by_kind").unwrap();
        assert_eq!(keys[at + 1], "unsent");
        let back: RunReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.unsent, 7);
        assert_eq!(
            (back.failed(), back.requests()),
            (report.errors + 7, report.samples + 7)
        );
    }

    #[test]
    fn fields_absent_from_older_files_default() {
        let mut value = serde_json::to_value(full_report()).unwrap();
        let fields = value.as_object_mut().unwrap();
        for key in [
            "planned_samples",
            "ok_per_s",
            "payload_mb_per_s",
            "fairness",
        ] {
            fields.remove(key);
        }
        let settings = fields["settings"].as_object_mut().unwrap();
        for key in ["generator", "warmup_s", "half_close", "server_pids"] {
            settings.remove(key);
        }
        let back: RunReport = serde_json::from_value(value).unwrap();
        assert_eq!(back.run.planned_samples, None);
        assert_eq!((back.ok_per_s, back.payload_mb_per_s), (0.0, 0.0));
        assert_eq!(back.fairness, None);
        let s = &back.run.settings;
        assert_eq!(s.generator, "loadgen");
        assert_eq!((s.warmup_s, s.half_close), (0.0, false));
        assert!(s.server_pids.is_empty());
    }
}
