//! The checked form of a load run: flags ([`LoadArgs`]) in, a [`Plan`] out, or one clear
//! [`PlanError`] line (exit code 2) before any load is sent.
//!
//! The plan also answers the engine's scheduling questions (which users this process runs,
//! when each starts, when each request is due) so that `--procs` children, which get the
//! whole plan plus `--part I/P`, schedule their share exactly as one process would.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::addrs::{parse_source_addrs, resolve};
use crate::opts::LoadArgs;
use crate::sys;
use crate::threshold::{self, Threshold};

pub mod error;

pub use error::PlanError;
use error::range_err;

/// Most users in one plan: more is a typo, not a test.
pub const MAX_USERS: u64 = 1_000_000;
/// Most loops per user.
pub const MAX_LOOPS: u64 = 1_000_000_000;
/// Most samples one plan may ask for (users x loops).
pub const MAX_SAMPLES: u64 = 1_000_000_000_000;
/// Largest message: the server contract's frame limit (`--max-frame` default).
pub const MAX_MESSAGE: u64 = 256 << 20;
/// Longest run, ramp-up, timeout or interval.
pub const MAX_TIME: Duration = Duration::from_secs(24 * 3600);
/// Most event-loop threads.
pub const MAX_WORKERS: usize = 256;
/// Most child processes for `--procs`.
pub const MAX_PROCS: usize = 64;
/// Descriptors a process keeps for itself besides one per user.
const SPARE_FDS: u64 = 64;

/// When the users stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Each user runs this many samples.
    Loops(u64),
    /// Users start no new sample after this time from the start.
    Duration(Duration),
}

/// A checked load run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The host as given.
    pub host: String,
    /// The server address (always loopback).
    pub target: SocketAddr,
    /// Users in the whole plan (all processes together).
    pub users: u64,
    /// Loops or duration.
    pub stop: Stop,
    /// Users start evenly over this time.
    pub rampup: Duration,
    /// Samples that end this soon after the start are not counted (timed runs only); the
    /// run lasts warm-up + duration.
    pub warmup: Duration,
    /// Payload bytes per message.
    pub message_size: usize,
    /// 8-byte length header before each payload.
    pub framed: bool,
    /// Keep one connection per user (false: a new connection per sample).
    pub reuse: bool,
    /// Shut down the sending side once a sample's message is sent (with `reuse` false).
    pub half_close: bool,
    /// Open-loop rate in requests per second, all users together.
    pub rate: Option<f64>,
    /// Connect and echo limit per sample.
    pub timeout: Duration,
    /// Event-loop threads in this process.
    pub workers: usize,
    /// Source addresses to bind, round-robin by user (empty: let the kernel choose).
    pub source_addrs: Vec<IpAddr>,
    /// Child processes to split the users over (1: run here).
    pub procs: usize,
    /// This process runs the users `g` with `g % part.1 == part.0`.
    pub part: (usize, usize),
    /// How often to print `summary +`.
    pub summary_interval: Duration,
    /// Server processes to measure, added up (several share a port with --reuse-port).
    pub server_pids: Vec<u32>,
    /// Where to write the JSON result.
    pub json: Option<PathBuf>,
    /// Where to write the intervals as CSV.
    pub csv: Option<PathBuf>,
    /// `--fail-if`: checked against the finished run (by the parent with `--procs`).
    pub fail_if: Vec<Threshold>,
}

fn check_time(flag: &'static str, d: Duration, allow_zero: bool) -> Result<(), PlanError> {
    if (d.is_zero() && !allow_zero) || d > MAX_TIME {
        let low = if allow_zero { "0s" } else { "more than 0s" };
        return Err(range_err(
            flag,
            format!("{d:?}"),
            format!("{low} up to 24h"),
        ));
    }
    Ok(())
}

impl Plan {
    /// Checks the flags. Nothing is sent to any server here.
    pub fn from_args(a: &LoadArgs) -> Result<Plan, PlanError> {
        let fail_if = threshold::parse_all(&a.fail_if)?;
        if a.threads == 0 || a.threads > MAX_USERS {
            return Err(range_err(
                "--threads",
                a.threads,
                format!("1 to {MAX_USERS}"),
            ));
        }
        let stop = match (a.loops, a.duration) {
            (Some(_), Some(_)) => {
                return Err(PlanError::Conflict(
                    "--loops and --duration conflict: give one".into(),
                ));
            }
            (Some(l), None) => {
                if l == 0 || l > MAX_LOOPS {
                    return Err(range_err("--loops", l, format!("1 to {MAX_LOOPS}")));
                }
                if l.saturating_mul(a.threads) > MAX_SAMPLES {
                    return Err(PlanError::Limit(format!(
                        "--threads {} x --loops {l} is more than {MAX_SAMPLES} samples",
                        a.threads
                    )));
                }
                Stop::Loops(l)
            }
            (None, Some(d)) => {
                check_time("--duration", d, false)?;
                Stop::Duration(d)
            }
            (None, None) => return Err(PlanError::NoStop),
        };
        check_time("--rampup", a.rampup, true)?;
        check_time("--warmup", a.warmup, true)?;
        if !a.warmup.is_zero() && a.duration.is_none() {
            return Err(PlanError::Conflict(
                "--warmup needs --duration: a loop-counted plan counts every sample".into(),
            ));
        }
        check_time("--timeout", a.timeout, false)?;
        check_time("--summary-interval", a.summary_interval, false)?;
        if a.summary_interval < Duration::from_millis(100) {
            return Err(range_err(
                "--summary-interval",
                format!("{:?}", a.summary_interval),
                "at least 100ms",
            ));
        }
        if a.message_size == 0 || a.message_size > MAX_MESSAGE {
            return Err(range_err(
                "--message-size",
                a.message_size,
                "1 byte to 256MiB (the frame limit)",
            ));
        }
        if let Some(r) = a.rate {
            if !(r.is_finite() && r > 0.0 && r <= 1e8) {
                return Err(range_err(
                    "--rate",
                    r,
                    "more than 0 and at most 1e8 requests/s",
                ));
            }
            if !a.rampup.is_zero() {
                return Err(PlanError::Conflict(
                    "--rate and --rampup conflict: the rate schedule already staggers the users \
                     (user k's first request is due at k/R)"
                        .into(),
                ));
            }
        }
        if a.procs == 0 || a.procs > MAX_PROCS {
            return Err(range_err("--procs", a.procs, format!("1 to {MAX_PROCS}")));
        }
        if a.procs as u64 > a.threads {
            return Err(PlanError::Conflict(format!(
                "--procs {} is more than --threads {}",
                a.procs, a.threads
            )));
        }
        let part = match &a.part {
            None => (0, 1),
            Some(p) => {
                if a.procs != 1 {
                    return Err(PlanError::Conflict("--part and --procs conflict".into()));
                }
                parse_part(p)?
            }
        };
        let target = resolve(&a.host, a.port)?;
        let source_addrs = match &a.source_addrs {
            None => Vec::new(),
            Some(s) => parse_source_addrs(s)?,
        };
        if source_addrs.iter().any(|s| s.is_ipv4() != target.is_ipv4()) {
            return Err(PlanError::Conflict(format!(
                "--source-addrs and --host {} are of different IP families",
                a.host
            )));
        }
        // Ports are shared by every process on the machine, so this counts all users.
        let ports = sys::local_port_count();
        let sources = source_addrs.len().max(1) as u64;
        if a.threads > sources * ports {
            return Err(PlanError::Limit(format!(
                "--threads {} needs more than the {ports} local ports of {sources} source \
                 address(es): add addresses with --source-addrs 127.0.0.1-127.0.0.{}",
                a.threads,
                a.threads.div_ceil(ports).min(254)
            )));
        }
        let share = users_in_part(a.threads, part) / a.procs as u64
            + u64::from(users_in_part(a.threads, part) % a.procs as u64 != 0);
        let files = sys::raise_open_files();
        if share + SPARE_FDS > files {
            return Err(PlanError::Limit(format!(
                "{share} connections in one process need {} open files, the limit is {files}: \
                 use --procs {}",
                share + SPARE_FDS,
                (a.threads / files.saturating_sub(SPARE_FDS).max(1) + 1).min(MAX_PROCS as u64)
            )));
        }
        let workers = match a.workers {
            Some(w) if w == 0 || w > MAX_WORKERS => {
                return Err(range_err("--workers", w, format!("1 to {MAX_WORKERS}")));
            }
            Some(w) => w,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let workers = workers.min(share.min(MAX_WORKERS as u64) as usize).max(1);
        if let Some(&gone) = a.server_pid.iter().find(|&&p| !sys::process_exists(p)) {
            return Err(range_err("--server-pid", gone, "a running process"));
        }
        Ok(Plan {
            host: a.host.clone(),
            target,
            users: a.threads,
            stop,
            rampup: a.rampup,
            warmup: a.warmup,
            message_size: a.message_size as usize,
            framed: a.framed,
            reuse: !a.no_reuse,
            half_close: a.half_close,
            rate: a.rate,
            timeout: a.timeout,
            workers,
            source_addrs,
            procs: a.procs,
            part,
            summary_interval: a.summary_interval,
            server_pids: a.server_pid.clone(),
            json: a.json.clone(),
            csv: a.csv.clone(),
            fail_if,
        })
    }

    /// Global indices of the users this process runs.
    pub fn my_users(&self) -> impl Iterator<Item = u64> + use<> {
        let (index, count) = self.part;
        (index as u64..self.users).step_by(count)
    }

    /// When user `g` starts, from the start of the run: `g x rampup / N`, or with `--rate`
    /// the due time of its first request.
    pub fn start_offset(&self, g: u64) -> Duration {
        match self.rate {
            Some(_) => self.due_offset(g, 0),
            None => self.rampup.mul_f64(g as f64 / self.users as f64),
        }
    }

    /// With `--rate R`: when request `j` of user `g` is due. Requests are numbered
    /// `k = g + j x N` and request `k` is due at `k / R`, so they are evenly spaced overall.
    pub fn due_offset(&self, g: u64, j: u64) -> Duration {
        let rate = self.rate.unwrap_or(1.0);
        Duration::from_secs_f64((g as f64 + j as f64 * self.users as f64) / rate)
    }

    /// Samples the plan asks of this process: users x loops, or rate x duration; None for a
    /// closed-loop timed run.
    pub fn planned_samples(&self) -> Option<u64> {
        let mine = users_in_part(self.users, self.part);
        match (self.stop, self.rate) {
            (Stop::Loops(l), _) => Some(mine * l),
            (Stop::Duration(d), Some(r)) => {
                // Requests k = g + j*N with w <= k/R < w + d (w: the warm-up, whose
                // requests are not counted), for this process's users.
                let first = requests_before(self.warmup, r);
                let end = requests_before(self.warmup + d, r);
                let before = |k: u64, g: u64| k.saturating_sub(g).div_ceil(self.users);
                Some(
                    self.my_users()
                        .map(|g| before(end, g) - before(first, g))
                        .sum(),
                )
            }
            (Stop::Duration(_), None) => None,
        }
    }

    /// The flags that make a child process run part `index` of this plan with `--procs`.
    pub fn child_args(&self, index: usize, json: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--host".into(),
            self.host.clone(),
            "--port".into(),
            self.target.port().to_string(),
            "--threads".into(),
            self.users.to_string(),
            "--rampup".into(),
            format!("{}ns", self.rampup.as_nanos()),
            "--warmup".into(),
            format!("{}ns", self.warmup.as_nanos()),
            "--message-size".into(),
            self.message_size.to_string(),
            "--timeout".into(),
            format!("{}ns", self.timeout.as_nanos()),
            "--summary-interval".into(),
            format!("{}ns", self.summary_interval.as_nanos()),
            "--part".into(),
            format!("{index}/{}", self.procs),
            "--json".into(),
            json.display().to_string(),
        ];
        match self.stop {
            Stop::Loops(l) => v.extend(["--loops".into(), l.to_string()]),
            Stop::Duration(d) => v.extend(["--duration".into(), format!("{}ns", d.as_nanos())]),
        }
        if let Some(r) = self.rate {
            v.extend(["--rate".into(), format!("{r}")]);
        }
        if self.framed {
            v.push("--framed".into());
        }
        if !self.reuse {
            v.push("--no-reuse".into());
        }
        if self.half_close {
            v.push("--half-close".into());
        }
        let workers = self.workers.div_ceil(self.procs).max(1);
        v.extend(["--workers".into(), workers.to_string()]);
        if !self.source_addrs.is_empty() {
            let list: Vec<String> = self.source_addrs.iter().map(|a| a.to_string()).collect();
            v.extend(["--source-addrs".into(), list.join(",")]);
        }
        v
    }
}

/// Users `g < users` with `g % count == index`.
fn users_in_part(users: u64, (index, count): (usize, usize)) -> u64 {
    users.saturating_sub(index as u64).div_ceil(count as u64)
}

fn parse_part(s: &str) -> Result<(usize, usize), PlanError> {
    let bad = || range_err("--part", s, "I/P with I < P");
    let (i, p) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.parse().map_err(|_| bad())?;
    let p: usize = p.parse().map_err(|_| bad())?;
    if p == 0 || i >= p || p > MAX_PROCS {
        return Err(bad());
    }
    Ok((i, p))
}

/// The open-loop requests `k` due before `t` at `rate` requests/s: those with
/// `k / rate < t`, i.e. ceil(t x rate). A product that floating point puts a hair above a
/// whole number (2.2 s x 50,000/s) is that number: request 110,000 is due at 2.2 s, not
/// before it, as the engine's clock (whole nanoseconds) has it.
fn requests_before(t: Duration, rate: f64) -> u64 {
    let x = t.as_secs_f64() * rate;
    let whole = x.round();
    if (x - whole).abs() < 1e-6 {
        whole as u64
    } else {
        x.ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::Opts;
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<Plan, PlanError> {
        let mut v = vec!["loadgen"];
        v.extend_from_slice(args);
        Plan::from_args(&Opts::parse_from(v).load)
    }

    #[test]
    fn seed_plans_check() {
        let p = plan(&["--threads", "1000", "--loops", "2000", "--rampup", "1s"]).unwrap();
        assert_eq!(p.planned_samples(), Some(2_000_000));
        assert_eq!(p.target, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(p.start_offset(500), Duration::from_millis(500));
        assert!(plan(&["--threads", "100", "--loops", "20000"]).is_ok());
    }

    #[test]
    fn bad_numbers_are_refused() {
        for args in [
            &["--threads", "0", "--loops", "1"][..],
            &["--threads", "2000000", "--loops", "1"],
            &["--loops", "0"],
            &["--message-size", "0", "--loops", "1"],
            &["--message-size", "257MiB", "--loops", "1"],
            &["--duration", "0s"],
            &["--rate", "0", "--loops", "1"],
            &["--rate", "10", "--rampup", "1s", "--loops", "1"],
            &["--threads", "2", "--procs", "3", "--loops", "1"],
            &["--workers", "0", "--loops", "1"],
            &["--port", "0", "--loops", "1"],
            &[],
        ] {
            let err = plan(args).expect_err(&format!("{args:?} should be refused"));
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn only_loopback_hosts() {
        assert!(matches!(
            plan(&["--host", "10.1.2.3", "--loops", "1"]),
            Err(PlanError::NotLoopback { .. })
        ));
        assert!(plan(&["--host", "127.0.0.2", "--loops", "1"]).is_ok());
        assert!(plan(&["--host", "::1", "--loops", "1"]).is_ok());
        assert!(plan(&["--host", "localhost", "--loops", "1"]).is_ok());
    }

    #[test]
    fn parts_cover_every_user_once() {
        let p = plan(&["--threads", "10", "--loops", "3", "--part", "1/3"]).unwrap();
        assert_eq!(p.my_users().collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(p.planned_samples(), Some(9));
        let whole = plan(&["--threads", "10", "--loops", "3", "--procs", "3"]).unwrap();
        let args = whole.child_args(2, std::path::Path::new("/tmp/x.json"));
        let mut argv = vec!["loadgen".to_string()];
        argv.extend(args);
        let child = Plan::from_args(&Opts::parse_from(argv).load).unwrap();
        assert_eq!(child.my_users().collect::<Vec<_>>(), vec![2, 5, 8]);
        assert_eq!(child.stop, whole.stop);
        assert_eq!(child.timeout, whole.timeout);
    }

    #[test]
    fn rate_schedule_is_evenly_spaced() {
        let p = plan(&["--threads", "4", "--duration", "1s", "--rate", "100"]).unwrap();
        assert_eq!(p.due_offset(0, 0), Duration::ZERO);
        assert_eq!(p.due_offset(1, 0), Duration::from_millis(10));
        assert_eq!(p.due_offset(0, 1), Duration::from_millis(40));
        // 100 requests due in [0, 1s).
        assert_eq!(p.planned_samples(), Some(100));
    }

    #[test]
    fn a_window_ending_on_a_due_time_leaves_that_request_out() {
        // 2.2 s x 50,000/s is a hair above 110,000 in floating point: the 110,000th request
        // from t0 is due exactly at the end, so it is not in the window.
        let args = ["--threads", "100", "--duration", "2s", "--warmup", "200ms"];
        let p = plan(&[&args[..], &["--rate", "50000"]].concat()).unwrap();
        assert_eq!(p.planned_samples(), Some(100_000));
    }

    #[test]
    fn warmup_is_for_timed_runs_and_leaves_its_requests_out() {
        let args = [
            "--threads",
            "4",
            "--duration",
            "1s",
            "--rate",
            "100",
            "--warmup",
            "250ms",
        ];
        let p = plan(&args).unwrap();
        assert_eq!(p.warmup, Duration::from_millis(250));
        // The requests due in [250ms, 1250ms): 100 of them, spread over the users.
        assert_eq!(p.planned_samples(), Some(100));
        let part = plan(&[&args[..], &["--part", "1/4"]].concat()).unwrap();
        assert_eq!(part.planned_samples(), Some(25));
        let args = p.child_args(0, std::path::Path::new("/tmp/x.json"));
        assert!(args.windows(2).any(|w| w == ["--warmup", "250000000ns"]));
        let err = plan(&["--loops", "10", "--warmup", "1s"]).unwrap_err();
        assert!(
            err.to_string().contains("--warmup needs --duration"),
            "{err}"
        );
        assert!(plan(&["--duration", "1s", "--warmup", "25h"]).is_err());
        assert_eq!(plan(&["--duration", "1s"]).unwrap().warmup, Duration::ZERO);
    }
}
