//! One record of raw.json: [`RunRecord`], one model at one point of one suite in one block
//! or round, with how it ended ([`RunStatus`]), its one-run report and what the bench
//! measured beside it: the server's system calls, its own service times, a prefork
//! server's workers' shares, an interleaved slice's figures.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bench::names::{PointKind, SuiteName};
use crate::run::report::RunReport;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum RunStatus {
    /// The server started, the load ran, the server was alive at the end.
    Ok,
    /// The server did not start or printed no readiness line; the text says why.
    ServerFailed(String),
    /// The server exited during the run; the text has its exit status and stderr's tail.
    ServerDied(String),
    /// loadgen refused or could not carry out the load; the text says why.
    LoadFailed(String),
}

/// One model at one point of one suite in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Suite (`pingpong`, `plans`; written as its name).
    pub suite: SuiteName,
    /// Point within the suite (`10`, `rate-50000`, `1000x2000`): what a table column is.
    pub point: String,
    /// Kind of point: `sweep` (closed loop, timed), `fixed-rate` (open loop), `plan`
    /// (loop-counted), ... ([`PointKind`], written as its name).
    pub kind: PointKind,
    /// Connections (virtual users).
    pub conns: u64,
    /// Block, from 1 (older files: round).
    #[serde(alias = "round")]
    pub block: u32,
    /// Place of this run in its block's shuffled order, from 1; None in files from before
    /// blocks were shuffled.
    #[serde(default)]
    pub position: Option<u32>,
    /// Wall-clock start of the run (server start), Unix time in milliseconds.
    #[serde(default)]
    pub started_unix_ms: Option<u64>,
    /// Server CPU over the measured window from perf's task-clock, nanoseconds, all its
    /// threads (exited ones included); None without perf, when /proc's 10 ms ticks are used.
    #[serde(default)]
    pub server_cpu_ns: Option<u64>,
    /// CPU time the hypervisor stole from this machine over the run (/proc/stat), as a
    /// percentage of all CPUs' wall time; None where the kernel does not count it.
    #[serde(default)]
    pub steal_pct: Option<f64>,
    /// Model.
    pub model: String,
    /// How it ended.
    pub status: RunStatus,
    /// The server's readiness line.
    pub ready_line: Option<String>,
    /// loadgen's flags for this run (target and --server-pid added by the bench).
    pub args: Vec<String>,
    /// The server's flags for this run (besides port and pinning).
    #[serde(default)]
    pub server_args: Vec<String>,
    /// Server processes sharing the port (`--reuse-port`); figures add them up.
    #[serde(default = "one")]
    pub server_procs: u32,
    /// Echoed messages per second: ok samples over the run's wall time.
    pub messages_per_s: Option<f64>,
    /// Payload megabytes (10^6 bytes) per second, one way: for a model, ok messages x
    /// message size over the run's wall time (the report's payload_mb_per_s); for a
    /// baseline, what the tool measured (iperf3's received bits/s / 8e6, loadgen stream's).
    #[serde(default)]
    pub mb_per_s: Option<f64>,
    /// Server resident memory just before the load, KiB.
    pub rss_start_kib: Option<u64>,
    /// Highest server resident memory seen (sampled every 100 ms), KiB.
    pub rss_peak_kib: Option<u64>,
    /// Highest server virtual size seen (sampled every 100 ms), KiB.
    pub vsz_peak_kib: Option<u64>,
    /// Server system calls from perf, None without perf.
    pub syscalls: Option<Syscalls>,
    /// Everything loadgen measured, server CPU, RSS/VSZ at the end and context switches included.
    pub report: Option<RunReport>,
    /// The server's own service times (its `--stats-file`, read after it stopped), for
    /// suites that ask for them (`mixed`); they leave out any wait in the listen backlog.
    #[serde(default)]
    pub service: Option<ServiceTimes>,
    /// The interleaved design's slice this record is (None for a fresh-server run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<SliceFigures>,
    /// Each prefork worker's connections and requests (`--processes P`, from the stats
    /// file's parts), for suites that run prefork servers (`spread`); None otherwise and in
    /// files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<Workers>,
}

/// One slice of the interleaved design: where it fell and what it cost beside the
/// record's figures (which cover its measured part only).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SliceFigures {
    /// Round, from 1. The record's `block` is the pairing key: the round, offset by the
    /// rounds of earlier groups when the point ran in groups.
    pub round: u32,
    /// Group of servers, from 1 (a point whose connections to every server do not fit in
    /// loadgen's open files runs in groups, each with the reference).
    pub group: u32,
    /// The warm-up as it ran, seconds.
    pub warmup_s: f64,
    /// The measured part: from its first send to its last reply, seconds.
    pub measured_s: f64,
    /// Of which the drain: from the end of sending to the last reply, seconds.
    pub drain_s: f64,
    /// loadgen's event loop's CPU over the measured part, nanoseconds.
    pub loadgen_cpu_ns: u64,
    /// Connections open when the measured part began.
    pub connected: u64,
    /// Samples given up at the drain limit (read timeouts; their connections closed).
    pub abandoned: u64,
}

impl SliceFigures {
    /// loadgen's share of its CPU over the measured part, percent.
    pub fn loadgen_cpu_pct(&self) -> f64 {
        if self.measured_s > 0.0 {
            self.loadgen_cpu_ns as f64 / 1e9 / self.measured_s * 100.0
        } else {
            0.0
        }
    }
}

/// How a prefork server's workers shared a run: the counts from the stats file part each
/// worker wrote at SIGTERM (`--stats-file F` -> `F.worker-<i>`), in worker order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workers {
    /// One entry per worker, worker 0 first.
    pub workers: Vec<WorkerCounts>,
}

/// One prefork worker's share of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerCounts {
    /// Connections it accepted, over the whole run (they open during the warm-up).
    pub connections: u64,
    /// Requests it answered in full, after the warm-up (`--stats-warmup`).
    pub requests: u64,
}

impl Workers {
    /// Reads the parts of `processes` workers beside the stats file `path` and removes
    /// them; None when any is missing or unreadable (a worker died, say), since the shares
    /// of the others would then be wrong.
    pub fn take(path: &Path, processes: usize) -> Option<Workers> {
        let parts: Vec<_> = (0..processes)
            .map(|i| common::prefork::part_path(path, i))
            .collect();
        let workers: Option<Vec<WorkerCounts>> = parts
            .iter()
            .map(|p| {
                let text = fs::read_to_string(p).ok()?;
                serde_json::from_str(&text).ok()
            })
            .collect();
        for p in &parts {
            let _ = fs::remove_file(p);
        }
        workers.map(|workers| Workers { workers })
    }

    /// Connections accepted by all workers.
    pub fn connections(&self) -> u64 {
        self.workers.iter().map(|w| w.connections).sum()
    }

    /// Requests answered by all workers.
    pub fn requests(&self) -> u64 {
        self.workers.iter().map(|w| w.requests).sum()
    }

    /// The busiest worker's share of the connections over the mean share (1 when even,
    /// P when one worker of P took them all); None without any.
    pub fn connections_max_mean(&self) -> Option<f64> {
        max_over_mean(self.workers.iter().map(|w| w.connections))
    }

    /// The busiest worker's share of the requests over the mean share.
    pub fn requests_max_mean(&self) -> Option<f64> {
        max_over_mean(self.workers.iter().map(|w| w.requests))
    }
}

/// The largest of some counts over their mean: the largest share over the mean share 1/n.
/// None when there are none or they add up to 0.
pub fn max_over_mean(counts: impl Iterator<Item = u64>) -> Option<f64> {
    let (mut n, mut sum, mut max) = (0u64, 0u64, 0u64);
    for c in counts {
        n += 1;
        sum += c;
        max = max.max(c);
    }
    (sum > 0).then(|| max as f64 * n as f64 / sum as f64)
}

/// A server's own per-request service times, first byte read to last byte written
/// (`--stats-file`, written by the server at SIGTERM), microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceTimes {
    /// Requests answered in full.
    pub requests: u64,
    /// Mean.
    pub mean_us: f64,
    /// Smallest.
    pub min_us: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// `--stats-warmup`: requests that began this soon after the first were left out
    /// (0, or missing in files from before it existed: none were).
    #[serde(default)]
    pub warmup_us: u64,
}

impl ServiceTimes {
    /// Reads a server's stats file and removes it; None when it is missing or unreadable
    /// (the server died, say).
    pub fn take(path: &Path) -> Option<ServiceTimes> {
        let text = fs::read_to_string(path).ok()?;
        let _ = fs::remove_file(path);
        serde_json::from_str(&text).ok()
    }
}

/// Server system calls over a run, counted by `perf stat` tracepoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Syscalls {
    /// Every system call entry (raw_syscalls:sys_enter).
    pub total: u64,
    /// total over ok messages.
    pub per_message: f64,
    /// Counts of the watched system calls, largest first (zeros left out).
    pub top: Vec<(String, u64)>,
}

impl RunRecord {
    /// A record with nothing measured yet (status Ok), for the runner and the suites'
    /// baselines to fill in.
    pub fn blank(
        suite: SuiteName,
        point: &str,
        kind: PointKind,
        conns: u64,
        block: u32,
        model: &str,
    ) -> RunRecord {
        RunRecord {
            suite,
            point: point.into(),
            kind,
            conns,
            block,
            position: None,
            started_unix_ms: None,
            server_cpu_ns: None,
            steal_pct: None,
            model: model.into(),
            status: RunStatus::Ok,
            ready_line: None,
            args: Vec::new(),
            server_args: Vec::new(),
            server_procs: 1,
            messages_per_s: None,
            mb_per_s: None,
            rss_start_kib: None,
            rss_peak_kib: None,
            vsz_peak_kib: None,
            syscalls: None,
            report: None,
            service: None,
            slice: None,
            workers: None,
        }
    }

    /// Server user share of its CPU time, percent.
    pub fn user_share_pct(&self) -> Option<f64> {
        let cpu = &self.report.as_ref()?.server.as_ref()?.cpu;
        (cpu.total_s() > 0.0).then(|| cpu.user_s / cpu.total_s() * 100.0)
    }

    /// Server CPU (user + system) as a percentage of one CPU.
    pub fn server_cpu_pct(&self) -> Option<f64> {
        let s = self.report.as_ref()?.server.as_ref()?;
        match self.server_cpu_ns {
            Some(ns) if s.window_s > 0.0 => Some(ns as f64 / 1e9 / s.window_s * 100.0),
            _ => Some(s.cpu_user_pct + s.cpu_system_pct),
        }
    }

    /// Server CPU seconds over the measured window: perf's task-clock when it was counted,
    /// else /proc's user + system ticks.
    pub fn server_cpu_s(&self) -> Option<f64> {
        match self.server_cpu_ns {
            Some(ns) => Some(ns as f64 / 1e9),
            None => Some(self.report.as_ref()?.server.as_ref()?.cpu.total_s()),
        }
    }

    /// Server CPU microseconds per message (nanosecond counter when there is one).
    pub fn cpu_us_per_message(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        let cpu = self.server_cpu_s()?;
        (r.ok > 0).then(|| cpu * 1e6 / r.ok as f64)
    }

    /// p99 latency of the ok samples, microseconds.
    pub fn p99_us(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        (r.ok > 0).then_some(r.latency_us.p99 as f64)
    }

    /// loadgen's own send lateness p99 (open loop), microseconds; None for a closed loop,
    /// a run with no request sent on its schedule, or a record from before it was measured.
    pub fn send_lateness_p99_us(&self) -> Option<f64> {
        let late = self.report.as_ref()?.send_lateness_us?;
        (late.count > 0).then_some(late.p99 as f64)
    }

    /// A run whose send lateness p99 is more than this share of its p99 latency was held
    /// back by loadgen, not only by the server.
    pub const LATE_SENDER_SHARE: f64 = 0.10;

    /// True when loadgen's own send lateness p99 exceeds [`Self::LATE_SENDER_SHARE`] of
    /// the run's measured p99 latency: its p99 then partly measures the client, and a
    /// fixed-rate p99 verdict should leave it out. False when either figure is missing.
    pub fn late_sender(&self) -> bool {
        match (self.send_lateness_p99_us(), self.p99_us()) {
            (Some(late), Some(p99)) => late > Self::LATE_SENDER_SHARE * p99,
            _ => false,
        }
    }

    /// Steal above this share of the machine's CPU time makes a run's figures suspect.
    pub const STEAL_FLAG_PCT: f64 = 2.0;

    /// True when the hypervisor took noticeable CPU time during the run.
    pub fn had_steal(&self) -> bool {
        self.steal_pct.is_some_and(|s| s >= Self::STEAL_FLAG_PCT)
    }

    /// Server memory per connection: peak RSS minus RSS before the load, bytes.
    pub fn rss_per_conn_bytes(&self) -> Option<f64> {
        let (start, peak) = (self.rss_start_kib?, self.rss_peak_kib?);
        (self.conns > 0).then(|| peak.saturating_sub(start) as f64 * 1024.0 / self.conns as f64)
    }

    /// loadgen's CPU share over the measured part, percent of one CPU: its event loop's
    /// over a slice, its process's over a run's elapsed time.
    pub fn loadgen_cpu_pct(&self) -> Option<f64> {
        match self.slice {
            Some(sl) => Some(sl.loadgen_cpu_pct()),
            None => self
                .report
                .as_ref()
                .map(|rep| rep.loadgen_cpu.total_s() / rep.run.elapsed_s.max(1e-9) * 100.0),
        }
    }

    /// Error share, percent: failed samples plus open-loop requests never sent (their
    /// connection still busy when the run ended), over samples plus those.
    pub fn error_pct(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        (r.requests() > 0).then(|| r.failed() as f64 * 100.0 / r.requests() as f64)
    }
}

/// serde default for counts of processes that older results did not record.
pub(super) fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_whose_send_lateness_is_over_a_tenth_of_its_p99_is_a_late_sender() {
        let record = |late_us: &[u64]| {
            let mut stats = crate::stats::Stats::new(!late_us.is_empty());
            for _ in 0..100 {
                stats.ok(1000, 900);
            }
            for &us in late_us {
                stats.sent_late(us);
            }
            let mut r = RunRecord::blank(
                SuiteName::PingPong,
                "50000/s",
                PointKind::FixedRate,
                100,
                0,
                "epoll",
            );
            r.report = Some(crate::run::report::test_report(&stats));
            r
        };
        let on_time = record(&[5; 100]);
        assert_eq!(on_time.send_lateness_p99_us(), Some(5.0));
        assert!(!on_time.late_sender());
        let late = record(&[150; 100]);
        assert_eq!(late.send_lateness_p99_us(), Some(150.0));
        assert!(late.late_sender(), "150 us of a 1000 us p99");
        let closed = record(&[]);
        assert_eq!(closed.send_lateness_p99_us(), None);
        assert!(!closed.late_sender());
        assert!(
            !RunRecord::blank(
                SuiteName::PingPong,
                "x",
                PointKind::FixedRate,
                1,
                0,
                "epoll"
            )
            .late_sender()
        );
    }

    #[test]
    fn max_over_mean_is_the_busiest_share_over_the_even_one() {
        let mm = |v: &[u64]| max_over_mean(v.iter().copied());
        assert_eq!(mm(&[24, 24]), Some(1.0));
        assert_eq!(mm(&[48, 0]), Some(2.0));
        assert_eq!(mm(&[48, 0, 0, 0]), Some(4.0));
        // 30 of 48 over 4 workers: a share of 62.5% against 25%.
        assert_eq!(mm(&[30, 6, 6, 6]), Some(2.5));
        assert_eq!(mm(&[0, 0]), None);
        assert_eq!(mm(&[]), None);
        let w = Workers {
            workers: vec![
                WorkerCounts {
                    connections: 36,
                    requests: 300,
                },
                WorkerCounts {
                    connections: 12,
                    requests: 100,
                },
            ],
        };
        assert_eq!((w.connections(), w.requests()), (48, 400));
        assert_eq!(w.connections_max_mean(), Some(1.5));
        assert_eq!(w.requests_max_mean(), Some(1.5));
    }

    #[test]
    fn worker_parts_are_read_and_removed() {
        let dir = std::env::temp_dir().join(format!("workers-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".service.json");
        // The fields a server's stats part holds (common::service), and more.
        for (i, (c, r)) in [(30u64, 250u64), (18, 150)].iter().enumerate() {
            let part = common::prefork::part_path(&path, i);
            let text = format!(
                "{{\"what\": \"x\", \"requests\": {r}, \"mean_us\": 1.5, \"connections\": {c}, \"histogram\": [[1, {r}]]}}"
            );
            fs::write(part, text).unwrap();
        }
        let w = Workers::take(&path, 2).unwrap();
        assert_eq!(
            w.workers,
            [
                WorkerCounts {
                    connections: 30,
                    requests: 250
                },
                WorkerCounts {
                    connections: 18,
                    requests: 150
                }
            ]
        );
        assert!(!common::prefork::part_path(&path, 0).exists());
        // A missing part (a worker that died): no counts at all, and nothing left behind.
        fs::write(
            common::prefork::part_path(&path, 0),
            "{\"requests\": 1, \"connections\": 1}",
        )
        .unwrap();
        assert_eq!(Workers::take(&path, 2), None);
        assert!(!common::prefork::part_path(&path, 0).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
