//! One run's results as data: [`RunReport`] holds every setting, every figure and the HDR
//! histograms. A run, a `--procs` parent and `loadgen merge` all build their report
//! through [`RunReport::build`], so their figures are computed the same way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Stop};
use crate::probe::{CpuUsage, Environment, ServerUsage};
use crate::stats::{ErrorCounts, Stats, StatsError, Tally, decode_histogram, encode_histogram};

/// Layout version of the JSON file.
pub const FORMAT: u32 = 1;

/// The settings of a run, as checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// What made the samples: `loadgen`, or JMeter for a results file read by
    /// `loadgen import-jtl` (`jmeter`, `jmeter 2.13`).
    #[serde(default = "loadgen_name")]
    pub generator: String,
    /// Server host as given.
    pub host: String,
    /// Server address used.
    pub target: String,
    /// Virtual users (summed over merged runs).
    pub threads: u64,
    /// Samples per user, for loop-counted runs.
    pub loops: Option<u64>,
    /// Length of a timed run in seconds.
    pub duration_s: Option<f64>,
    /// Ramp-up in seconds.
    pub rampup_s: f64,
    /// Warm-up in seconds: samples that ended before it (with a rate: were due before it)
    /// are in no figure, and elapsed_s starts after it.
    #[serde(default)]
    pub warmup_s: f64,
    /// Payload bytes per message.
    pub message_size: u64,
    /// 8-byte length header before each payload.
    pub framed: bool,
    /// One connection per user (false: a new connection per sample).
    pub reuse: bool,
    /// The sending side was shut down after each sample's message (`--half-close`).
    #[serde(default)]
    pub half_close: bool,
    /// Open-loop rate in requests per second (summed over merged runs).
    pub rate: Option<f64>,
    /// Connect and echo limit per sample, seconds.
    pub timeout_s: f64,
    /// Event-loop threads per process.
    pub workers: usize,
    /// Source addresses bound, round-robin.
    pub source_addrs: Vec<String>,
    /// Processes the users were split over.
    pub procs: usize,
    /// Seconds between `summary +` lines.
    pub summary_interval_s: f64,
    /// The measured server process, if any (the first, when there were several).
    pub server_pid: Option<u32>,
    /// Every measured server process (several share a port with --reuse-port).
    #[serde(default)]
    pub server_pids: Vec<u32>,
}

/// serde: leave a count out of the JSON while it is 0 (older files have no such key).
fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn loadgen_name() -> String {
    "loadgen".into()
}

impl Settings {
    /// The settings of a plan.
    pub fn of(plan: &Plan) -> Settings {
        Settings {
            host: plan.host.clone(),
            target: plan.target.to_string(),
            threads: plan.users,
            loops: match plan.stop {
                Stop::Loops(l) => Some(l),
                Stop::Duration(_) => None,
            },
            duration_s: match plan.stop {
                Stop::Duration(d) => Some(d.as_secs_f64()),
                Stop::Loops(_) => None,
            },
            rampup_s: plan.rampup.as_secs_f64(),
            warmup_s: plan.warmup.as_secs_f64(),
            message_size: plan.message_size as u64,
            framed: plan.framed,
            reuse: plan.reuse,
            half_close: plan.half_close,
            rate: plan.rate,
            timeout_s: plan.timeout.as_secs_f64(),
            workers: plan.workers,
            source_addrs: plan.source_addrs.iter().map(|a| a.to_string()).collect(),
            procs: plan.procs,
            summary_interval_s: plan.summary_interval.as_secs_f64(),
            server_pid: plan.server_pids.first().copied(),
            server_pids: plan.server_pids.clone(),
            generator: loadgen_name(),
        }
    }
}

/// Latency figures of the ok samples, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Smallest (exact).
    pub min: u64,
    /// Mean (exact: sum / count).
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest (exact).
    pub max: u64,
    /// Sum of all latencies (exact; JMeter's Avg is sum / count).
    pub sum: u64,
}

impl Latency {
    fn of(h: &hdrhistogram::Histogram<u64>, t: Option<&Tally>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let (min, max, sum) = match t {
            Some(t) => (t.min_us, t.max_us, t.sum_us),
            None => (h.min(), h.max(), (h.mean() * h.len() as f64).round() as u64),
        };
        // A percentile is its bucket's highest value, which may lie above the exact maximum.
        let q = |x: f64| h.value_at_quantile(x).clamp(min, max);
        Latency {
            min,
            mean: sum as f64 / h.len() as f64,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max,
            sum,
        }
    }
}

/// loadgen's own send lateness in the open loop, microseconds: how long after its due time
/// a request whose connection was free actually went out. Large figures mean the client,
/// not the server, set the latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SendLateness {
    /// Requests measured (counted, sent on their schedule with their connection free).
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl SendLateness {
    fn of(h: &hdrhistogram::Histogram<u64>) -> SendLateness {
        if h.is_empty() {
            return SendLateness::default();
        }
        let q = |x: f64| h.value_at_quantile(x).min(h.max());
        SendLateness {
            count: h.len(),
            p50: q(0.50),
            p99: q(0.99),
            max: h.max(),
        }
    }
}

/// One `summary +` line's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Seconds from the start of the run to the end of the interval.
    pub at_s: f64,
    /// Length of the interval, seconds.
    pub elapsed_s: f64,
    /// Samples finished in it.
    pub samples: u64,
    /// Failed samples in it.
    pub errors: u64,
    /// Mean latency of its ok samples, microseconds.
    pub mean_us: f64,
    /// Smallest latency, microseconds (0 when none).
    pub min_us: u64,
    /// Largest latency, microseconds.
    pub max_us: u64,
    /// Users running at its end.
    pub active: u64,
    /// Users started by its end.
    pub started: u64,
    /// Users finished by its end.
    pub finished: u64,
}

impl Interval {
    /// An interval's figures from its tally.
    pub fn new(t: &Tally, at: Duration, took: Duration, users: (u64, u64, u64)) -> Interval {
        Interval {
            at_s: at.as_secs_f64(),
            elapsed_s: took.as_secs_f64(),
            samples: t.samples(),
            errors: t.errors.total(),
            mean_us: t.mean_us(),
            min_us: if t.ok == 0 { 0 } else { t.min_us },
            max_us: t.max_us,
            active: users.0,
            started: users.1,
            finished: users.2,
        }
    }
}

/// What ran, on what machine, when and for how long: the part of a [`RunReport`] that the
/// statistics do not give, and that [`Meta`] hands to [`RunReport::build`] as it is.
///
/// The report writes these fields inline (`#[serde(flatten)]`), in this order, where they
/// always stood. `intervals`, `loadgen_cpu` and `server` also pass from [`Meta`] into the
/// report unchanged but are not here: in the JSON they stand after the figures, apart from
/// these and from each other (`loadgen_cpu_us_per_sample` comes between `loadgen_cpu` and
/// `server`), and a flattened struct's fields are written together, so moving them in
/// would reorder every report written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The settings.
    pub settings: Settings,
    /// The machine (for merged reports, the first part's).
    pub environment: Environment,
    /// How many runs (processes or machines) this report adds up.
    pub parts: u32,
    /// Wall-clock start, Unix time in milliseconds (for merged reports, the earliest).
    pub started_unix_ms: u64,
    /// Seconds from the start to the end of the last sample (for merged reports, the longest part).
    pub elapsed_s: f64,
    /// Samples the plan asked for: threads x loops, or rate x duration; none for a closed-loop timed run.
    pub planned_samples: Option<u64>,
}

/// Everything about one run (or several merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Layout version of this file.
    pub format: u32,
    /// Version of the loadgen that wrote it.
    pub loadgen_version: String,
    /// What ran, on what machine, when and for how long: its fields stand here in the JSON,
    /// one level up, as they did before they were a struct.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Samples finished: ok plus errors.
    pub samples: u64,
    /// Samples whose echo arrived complete and byte-for-byte correct.
    pub ok: u64,
    /// Failed samples, all kinds.
    pub errors: u64,
    /// Failed samples by kind.
    pub errors_by_kind: ErrorCounts,
    /// Open loop, timed run: requests that fell due in the measured window but never went
    /// out, because their connection still waited for an earlier echo when the run ended
    /// (k6 calls them dropped iterations). Not in `samples`; the bench counts them as
    /// failed in a run's error share. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsent: u64,
    /// Users that began at least one sample.
    pub users_started: u64,
    /// Users that finished all their samples.
    pub users_finished: u64,
    /// Samples per second over elapsed_s.
    pub throughput_per_s: f64,
    /// Ok samples (whole, checked echoes) per second over elapsed_s: frames/s with --framed.
    #[serde(default)]
    pub ok_per_s: f64,
    /// Payload megabytes (10^6 bytes) echoed per second, one way: ok samples x message size
    /// / elapsed_s; headers and failed samples are not counted.
    #[serde(default)]
    pub payload_mb_per_s: f64,
    /// Bytes written, headers included.
    pub bytes_sent: u64,
    /// Echo bytes read.
    pub bytes_received: u64,
    /// Latency of ok samples from when each was due (closed loop: from its start; with --no-reuse the connect included).
    pub latency_us: Latency,
    /// With --rate: latency from the actual send, not corrected for coordinated omission.
    pub raw_latency_us: Option<Latency>,
    /// latency_us's HDR histogram (HdrHistogram compressed V2, base64), for exact merging.
    pub histogram: String,
    /// raw_latency_us's HDR histogram, with --rate.
    pub raw_histogram: Option<String>,
    /// With --rate: loadgen's own send lateness (absent for a closed loop and in reports
    /// from before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lateness_us: Option<SendLateness>,
    /// send_lateness_us's HDR histogram, for exact merging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lateness_histogram: Option<String>,
    /// The `summary +` lines' figures.
    pub intervals: Vec<Interval>,
    /// loadgen's own CPU time over the run (summed over its processes).
    pub loadgen_cpu: CpuUsage,
    /// loadgen CPU microseconds per sample.
    pub loadgen_cpu_us_per_sample: f64,
    /// The server process over the run, with --server-pid.
    pub server: Option<ServerUsage>,
    /// Server CPU microseconds per sample, with --server-pid.
    pub server_cpu_us_per_sample: Option<f64>,
    /// Service per connection over the measured window (absent in reports from before it).
    #[serde(default)]
    pub fairness: Option<Fairness>,
    /// `--fail-if`: every threshold with the run's figure and whether it was crossed (absent
    /// without --fail-if).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::threshold::Checked>,
}

/// How evenly the users were served over the measured window: a starved connection shows
/// here (no samples, a long wait) even when the mean looks fine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    /// Users.
    pub users: u64,
    /// Users that got no ok sample in the window.
    pub starved: u64,
    /// Fewest ok samples a user got.
    pub min: u64,
    /// 1st percentile of ok samples per user.
    pub p1: u64,
    /// Median.
    pub median: u64,
    /// Most.
    pub max: u64,
    /// Jain's fairness index of samples per user, (sum x)^2 / (n sum x^2): 1 when every
    /// user got the same, 1/n when one got everything.
    pub jain: f64,
    /// Longest time any user waited for an echo (ok or failed), microseconds.
    pub max_wait_us: u64,
    /// Sum over users of their samples squared (for exact merging).
    pub sum_sq: f64,
    /// Samples per user as an HDR histogram (compressed V2, base64), for exact merging.
    pub histogram: String,
}

impl Fairness {
    /// Users that got fewer ok samples than `share` of the best-served user's (0.01: under
    /// 1%), read from the per-user histogram; None when it cannot be read. A pool that
    /// serves 8 of 100 connections leaves the other 92 here, although each may get one echo
    /// when the served ones close at the end and `starved` (none at all) misses them.
    pub fn underserved(&self, share: f64) -> Option<u64> {
        let h = decode_histogram(&self.histogram).ok()?;
        let limit = self.max as f64 * share;
        Some(
            h.iter_recorded()
                .filter(|v| (v.value_iterated_to() as f64) < limit)
                .map(|v| v.count_at_value())
                .sum(),
        )
    }

    /// The figures of per-user statistics; `ok` is the sum of their samples.
    pub fn of(p: &crate::stats::PerUser, ok: u64) -> Option<Fairness> {
        let h = &p.samples;
        let users = h.len();
        if users == 0 {
            return None;
        }
        let q = |x: f64| h.value_at_quantile(x).clamp(h.min(), h.max());
        Some(Fairness {
            users,
            starved: h.count_between(0, 0),
            min: h.min(),
            p1: q(0.01),
            median: q(0.5),
            max: h.max(),
            jain: if p.sum_sq > 0.0 {
                (ok as f64).powi(2) / (users as f64 * p.sum_sq)
            } else {
                0.0
            },
            max_wait_us: p.max_wait_us,
            sum_sq: p.sum_sq,
            histogram: encode_histogram(h),
        })
    }

    /// The per-user statistics back.
    pub fn per_user(&self) -> Result<crate::stats::PerUser, StatsError> {
        Ok(crate::stats::PerUser {
            samples: decode_histogram(&self.histogram)?,
            sum_sq: self.sum_sq,
            max_wait_us: self.max_wait_us,
        })
    }
}

/// What a report is built from besides the statistics: the run's [`RunInfo`], which the
/// report holds as it is, and the rest of what it is given.
#[derive(Debug, Clone)]
pub struct Meta {
    /// What ran, where, when and for how long.
    pub run: RunInfo,
    /// Users started and finished (the report's `users_started` and `users_finished`).
    pub users: (u64, u64),
    /// Interval figures.
    pub intervals: Vec<Interval>,
    /// loadgen's CPU.
    pub loadgen_cpu: CpuUsage,
    /// The server's usage.
    pub server: Option<ServerUsage>,
}

impl RunReport {
    /// Computes every figure from the statistics.
    pub fn build(meta: Meta, stats: &Stats) -> RunReport {
        let t = &stats.tally;
        let samples = t.samples();
        let per_sample = |s: f64| {
            if samples == 0 {
                0.0
            } else {
                s * 1e6 / samples as f64
            }
        };
        let per_s = |x: f64| {
            if meta.run.elapsed_s > 0.0 {
                x / meta.run.elapsed_s
            } else {
                0.0
            }
        };
        RunReport {
            format: FORMAT,
            loadgen_version: env!("CARGO_PKG_VERSION").into(),
            samples,
            ok: t.ok,
            errors: t.errors.total(),
            errors_by_kind: t.errors,
            unsent: t.unsent,
            users_started: meta.users.0,
            users_finished: meta.users.1,
            throughput_per_s: if meta.run.elapsed_s > 0.0 {
                samples as f64 / meta.run.elapsed_s
            } else {
                0.0
            },
            ok_per_s: per_s(t.ok as f64),
            payload_mb_per_s: per_s(t.ok as f64 * meta.run.settings.message_size as f64 / 1e6),
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            latency_us: Latency::of(&stats.latency, Some(t)),
            raw_latency_us: stats.raw.as_ref().map(|h| Latency::of(h, None)),
            histogram: encode_histogram(&stats.latency),
            raw_histogram: stats.raw.as_ref().map(encode_histogram),
            send_lateness_us: stats.lateness.as_ref().map(SendLateness::of),
            send_lateness_histogram: stats.lateness.as_ref().map(encode_histogram),
            intervals: meta.intervals,
            loadgen_cpu: meta.loadgen_cpu,
            loadgen_cpu_us_per_sample: per_sample(meta.loadgen_cpu.total_s()),
            server_cpu_us_per_sample: meta.server.as_ref().map(|s| per_sample(s.cpu.total_s())),
            server: meta.server,
            fairness: stats.per_user.as_ref().and_then(|p| Fairness::of(p, t.ok)),
            thresholds: Vec::new(),
            run: meta.run,
        }
    }

    /// The counts and exact latency figures back from the report.
    pub fn tally(&self) -> Tally {
        Tally {
            ok: self.ok,
            errors: self.errors_by_kind,
            sum_us: self.latency_us.sum,
            min_us: if self.ok == 0 {
                u64::MAX
            } else {
                self.latency_us.min
            },
            max_us: self.latency_us.max,
            unsent: self.unsent,
        }
    }

    /// Failed requests: failed samples plus, in the open loop, requests never sent.
    pub fn failed(&self) -> u64 {
        self.errors + self.unsent
    }

    /// Requests the run made or owed: samples plus, in the open loop, requests never sent.
    pub fn requests(&self) -> u64 {
        self.samples + self.unsent
    }

    /// The statistics back from the report: exact counts and sums, decoded histograms.
    pub fn stats(&self) -> Result<Stats, StatsError> {
        let mut s = Stats::new(false);
        s.latency = decode_histogram(&self.histogram)?;
        s.raw = self
            .raw_histogram
            .as_deref()
            .map(decode_histogram)
            .transpose()?;
        s.lateness = self
            .send_lateness_histogram
            .as_deref()
            .map(decode_histogram)
            .transpose()?;
        s.tally = self.tally();
        s.bytes_sent = self.bytes_sent;
        s.bytes_received = self.bytes_received;
        s.per_user = self.fairness.as_ref().map(Fairness::per_user).transpose()?;
        if s.latency.len() != self.ok {
            return Err(StatsError::Decode(format!(
                "histogram holds {} samples but the report says {} ok",
                s.latency.len(),
                self.ok
            )));
        }
        Ok(s)
    }

    /// The part of the report that is not derived from the statistics.
    pub fn meta(&self) -> Meta {
        Meta {
            run: self.run.clone(),
            users: (self.users_started, self.users_finished),
            intervals: self.intervals.clone(),
            loadgen_cpu: self.loadgen_cpu,
            server: self.server.clone(),
        }
    }
}

/// The report of a one-user, 1 s run (`loadgen --duration 1s`) holding the samples in
/// `stats`, for tests of what reads reports.
#[cfg(test)]
pub(crate) fn test_report(stats: &crate::stats::Stats) -> RunReport {
    use clap::Parser;
    let opts = crate::opts::Opts::parse_from(["loadgen", "--duration", "1s"]);
    let plan = crate::plan::Plan::from_args(&opts.load).expect("a plan");
    let meta = Meta {
        run: RunInfo {
            settings: Settings::of(&plan),
            environment: crate::probe::Environment::default(),
            parts: 1,
            started_unix_ms: 0,
            elapsed_s: 1.0,
            planned_samples: None,
        },
        users: (1, 1),
        intervals: vec![],
        loadgen_cpu: crate::probe::CpuUsage::default(),
        server: None,
    };
    RunReport::build(meta, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::PerUser;

    #[test]
    fn fairness_of_users_and_back() {
        // Four users, one of them starved (no sample, a 5 s wait).
        let mut a = PerUser::new();
        a.user(10, 500);
        a.user(0, 5_000_000);
        a.user(12, 700);
        a.user(11, 900);
        let f = Fairness::of(&a, 33).unwrap();
        assert_eq!((f.users, f.starved, f.min, f.max), (4, 1, 0, 12));
        assert!((f.jain - 33.0 * 33.0 / (4.0 * 365.0)).abs() < 1e-12);
        let back = f.per_user().unwrap();
        assert_eq!(back.samples.len(), 4);
        assert_eq!((back.sum_sq, back.max_wait_us), (a.sum_sq, a.max_wait_us));
    }

    #[test]
    fn a_pools_waiting_connections_are_underserved_though_none_is_starved() {
        // 8 connections served 15,000 times each, 92 once (when the served ones closed).
        let mut pool = PerUser::new();
        for _ in 0..8 {
            pool.user(15_000, 100);
        }
        for _ in 0..92 {
            pool.user(1, 1_300_000);
        }
        let f = Fairness::of(&pool, 8 * 15_000 + 92).unwrap();
        assert_eq!(f.starved, 0);
        assert_eq!(f.underserved(0.01), Some(92));
        // Served alike within a factor of two: nobody is under 1% of the best-served.
        let mut fair = PerUser::new();
        for k in 0..100 {
            fair.user(1_000 + 10 * k, 100);
        }
        let f = Fairness::of(&fair, (0..100).map(|k| 1_000 + 10 * k).sum()).unwrap();
        assert_eq!(f.underserved(0.01), Some(0));
    }
}
