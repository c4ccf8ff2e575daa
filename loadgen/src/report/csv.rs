//! runs.csv, which `loadgen report DIR` writes beside summary.md: one row per record of
//! raw.json (a fresh-server run, or a slice at an interleaved point), every figure the
//! bench measured, for a spreadsheet or a notebook. A floor under the summary, beside the
//! sections: it reads the bench's data and imports no section. The columns are [`COLUMNS`];
//! loadgen/README.md lists them.

use std::fmt::Display;

use crate::bench::data::BenchResults;
use crate::bench::data::record::{RunRecord, RunStatus};
use crate::csv::{self, Column, opt};
use crate::run::report::{Latency, RunReport};

/// The file's name in the bench folder.
pub const FILE: &str = "runs.csv";

/// runs.csv: a header row, then one row per record in raw.json's order.
pub fn runs(results: &BenchResults) -> String {
    csv::table(COLUMNS, &results.runs)
}

/// A figure of the run's report, empty without one.
fn rep<T: Display>(r: &RunRecord, f: fn(&RunReport) -> T) -> String {
    opt(r.report.as_ref().map(f))
}

/// A latency figure of the run's ok samples, empty when there were none.
fn lat(r: &RunRecord, f: fn(&Latency) -> u64) -> String {
    opt(r
        .report
        .as_ref()
        .filter(|x| x.ok > 0)
        .map(|x| f(&x.latency_us)))
}

/// The status's name as raw.json writes it.
fn status(s: &RunStatus) -> (&'static str, &str) {
    match s {
        RunStatus::Ok => ("ok", ""),
        RunStatus::ServerFailed(d) => ("server-failed", d),
        RunStatus::ServerDied(d) => ("server-died", d),
        RunStatus::LoadFailed(d) => ("load-failed", d),
    }
}

/// Every column of runs.csv, in order: the record's place, the interleaved slice's figures
/// (empty for a fresh-server run), the bench's figures, then the run's own report.
pub const COLUMNS: &[Column<RunRecord>] = &[
    ("suite", |r| r.suite.to_string()),
    ("point", |r| r.point.clone()),
    ("kind", |r| r.kind.to_string()),
    ("conns", |r| r.conns.to_string()),
    ("block", |r| r.block.to_string()),
    ("position", |r| opt(r.position)),
    ("model", |r| r.model.clone()),
    ("status", |r| status(&r.status).0.to_string()),
    ("status_detail", |r| status(&r.status).1.to_string()),
    ("started_unix_ms", |r| opt(r.started_unix_ms)),
    ("server_procs", |r| r.server_procs.to_string()),
    ("slice_round", |r| opt(r.slice.map(|s| s.round))),
    ("slice_group", |r| opt(r.slice.map(|s| s.group))),
    ("slice_warmup_s", |r| opt(r.slice.map(|s| s.warmup_s))),
    ("slice_measured_s", |r| opt(r.slice.map(|s| s.measured_s))),
    ("slice_drain_s", |r| opt(r.slice.map(|s| s.drain_s))),
    ("slice_loadgen_cpu_ns", |r| {
        opt(r.slice.map(|s| s.loadgen_cpu_ns))
    }),
    ("slice_connected", |r| opt(r.slice.map(|s| s.connected))),
    ("slice_abandoned", |r| opt(r.slice.map(|s| s.abandoned))),
    ("messages_per_s", |r| opt(r.messages_per_s)),
    ("mb_per_s", |r| opt(r.mb_per_s)),
    ("server_cpu_ns", |r| opt(r.server_cpu_ns)),
    ("server_cpu_s", |r| opt(r.server_cpu_s())),
    ("server_cpu_pct", |r| opt(r.server_cpu_pct())),
    ("server_cpu_us_per_msg", |r| opt(r.cpu_us_per_message())),
    ("server_user_share_pct", |r| opt(r.user_share_pct())),
    ("steal_pct", |r| opt(r.steal_pct)),
    ("rss_start_kib", |r| opt(r.rss_start_kib)),
    ("rss_peak_kib", |r| opt(r.rss_peak_kib)),
    ("vsz_peak_kib", |r| opt(r.vsz_peak_kib)),
    ("rss_per_conn_bytes", |r| opt(r.rss_per_conn_bytes())),
    ("syscalls", |r| opt(r.syscalls.as_ref().map(|s| s.total))),
    ("syscalls_per_msg", |r| {
        opt(r.syscalls.as_ref().map(|s| s.per_message))
    }),
    ("elapsed_s", |r| rep(r, |x| x.run.elapsed_s)),
    ("samples", |r| rep(r, |x| x.samples)),
    ("ok", |r| rep(r, |x| x.ok)),
    ("errors", |r| rep(r, |x| x.errors)),
    ("error_pct", |r| opt(r.error_pct())),
    ("ok_per_s", |r| rep(r, |x| x.ok_per_s)),
    ("latency_min_us", |r| lat(r, |l| l.min)),
    ("latency_mean_us", |r| {
        opt(r
            .report
            .as_ref()
            .filter(|x| x.ok > 0)
            .map(|x| x.latency_us.mean))
    }),
    ("latency_p50_us", |r| lat(r, |l| l.p50)),
    ("latency_p90_us", |r| lat(r, |l| l.p90)),
    ("latency_p95_us", |r| lat(r, |l| l.p95)),
    ("latency_p99_us", |r| lat(r, |l| l.p99)),
    ("latency_p999_us", |r| lat(r, |l| l.p999)),
    ("latency_max_us", |r| lat(r, |l| l.max)),
    ("loadgen_cpu_pct", |r| opt(r.loadgen_cpu_pct())),
    ("loadgen_cpu_user_s", |r| rep(r, |x| x.loadgen_cpu.user_s)),
    ("loadgen_cpu_system_s", |r| {
        rep(r, |x| x.loadgen_cpu.system_s)
    }),
    ("loadgen_cpu_us_per_sample", |r| {
        rep(r, |x| x.loadgen_cpu_us_per_sample)
    }),
    ("send_lateness_p50_us", |r| {
        opt(r
            .report
            .as_ref()
            .and_then(|x| x.send_lateness_us)
            .map(|l| l.p50))
    }),
    ("send_lateness_p99_us", |r| opt(r.send_lateness_p99_us())),
    ("send_lateness_max_us", |r| {
        opt(r
            .report
            .as_ref()
            .and_then(|x| x.send_lateness_us)
            .map(|l| l.max))
    }),
    ("fairness_users", |r| fair(r, |f| f.users.to_string())),
    ("fairness_starved", |r| fair(r, |f| f.starved.to_string())),
    ("fairness_min", |r| fair(r, |f| f.min.to_string())),
    ("fairness_p1", |r| fair(r, |f| f.p1.to_string())),
    ("fairness_median", |r| fair(r, |f| f.median.to_string())),
    ("fairness_max", |r| fair(r, |f| f.max.to_string())),
    ("fairness_jain", |r| fair(r, |f| f.jain.to_string())),
    ("fairness_max_wait_us", |r| {
        fair(r, |f| f.max_wait_us.to_string())
    }),
    ("service_requests", |r| opt(r.service.map(|s| s.requests))),
    ("service_mean_us", |r| opt(r.service.map(|s| s.mean_us))),
    ("service_p50_us", |r| opt(r.service.map(|s| s.p50_us))),
    ("service_p90_us", |r| opt(r.service.map(|s| s.p90_us))),
    ("service_p99_us", |r| opt(r.service.map(|s| s.p99_us))),
    ("service_p999_us", |r| opt(r.service.map(|s| s.p999_us))),
    ("service_max_us", |r| opt(r.service.map(|s| s.max_us))),
    ("workers", |r| {
        opt(r.workers.as_ref().map(|w| w.workers.len()))
    }),
    ("workers_connections_max_mean", |r| {
        opt(r.workers.as_ref().and_then(|w| w.connections_max_mean()))
    }),
    ("workers_requests_max_mean", |r| {
        opt(r.workers.as_ref().and_then(|w| w.requests_max_mean()))
    }),
    ("ready_line", |r| r.ready_line.clone().unwrap_or_default()),
];

/// A fairness figure of the run's report, empty without one.
fn fair(r: &RunRecord, f: fn(&crate::run::report::Fairness) -> String) -> String {
    r.report
        .as_ref()
        .and_then(|x| x.fairness.as_ref())
        .map_or_else(String::new, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::names::{PointKind, SuiteName};

    #[test]
    fn a_row_per_record_every_column_named_and_free_text_quoted() {
        let mut failed = RunRecord::blank(
            SuiteName::PingPong,
            "100",
            PointKind::Sweep,
            100,
            2,
            "epoll",
        );
        failed.status = RunStatus::ServerDied("exit 1, stderr:\n\"boom\"".into());
        let mut ran = failed.clone();
        ran.status = RunStatus::Ok;
        ran.messages_per_s = Some(12345.678);
        ran.steal_pct = Some(0.1 + 0.2);
        let rows = csv::parse(&csv::table(COLUMNS, [&failed, &ran]));
        assert_eq!(rows.len(), 3, "a header and two rows");
        assert!(rows.iter().all(|r| r.len() == COLUMNS.len()));
        let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
        assert_eq!(rows[0], header);
        let mut names = header.clone();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), header.len(), "no column named twice");
        let cell = |row: usize, name: &str| {
            let i = header.iter().position(|h| *h == name).unwrap();
            rows[row][i].as_str()
        };
        assert_eq!(cell(1, "status"), "server-died");
        assert_eq!(cell(1, "status_detail"), "exit 1, stderr:\n\"boom\"");
        assert_eq!(cell(1, "messages_per_s"), "");
        assert_eq!(cell(2, "messages_per_s"), "12345.678");
        assert_eq!(cell(2, "steal_pct"), "0.30000000000000004");
        assert_eq!(
            (cell(2, "suite"), cell(2, "kind"), cell(2, "block")),
            ("pingpong", "sweep", "2")
        );
        assert_eq!(cell(2, "latency_p99_us"), "", "no report, no latency");
    }
}
