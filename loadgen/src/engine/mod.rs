//! The load engine: `--workers` event-loop threads, users spread round-robin over them, and
//! the main thread collecting their interval tallies (for `summary +` lines and the live
//! progress line) and final statistics.

mod message;
pub(crate) mod user;
mod worker;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use thiserror::Error;

pub use message::{Message, PERIOD};
pub use worker::REFUSED_WATCH_END;
use worker::{Progress, Report, Spec};

use crate::plan::Plan;
use crate::run::report::Interval;
use crate::run::text;
use crate::stats::{Stats, StatsError, Tally};

/// A run whose every sample is refused (no server on the port) says so on stderr, once,
/// after [`REFUSED_SAMPLES`] samples or this long (with at least one sample), and carries
/// on. The main thread looks every [`REFUSED_CHECK`], and stops looking after
/// [`REFUSED_WATCH_END`] or at the first sample that was not refused.
pub const REFUSED_WATCH: Duration = Duration::from_secs(1);
/// How often the main thread looks, while it watches.
pub const REFUSED_CHECK: Duration = Duration::from_millis(100);
/// Samples, all refused, after which the warning need not wait for [`REFUSED_WATCH`].
pub const REFUSED_SAMPLES: u64 = 1000;

/// Why a run could not be carried out (a sample's failure is never one of these).
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("worker {worker} could not start: {error}")]
    Worker {
        worker: usize,
        error: std::io::Error,
    },
    #[error("cannot start a worker thread: {0}")]
    Spawn(std::io::Error),
    #[error("a worker thread stopped without reporting")]
    Lost,
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
}

/// What the engine measured.
#[derive(Debug)]
pub struct Outcome {
    /// All workers' statistics, merged.
    pub stats: Stats,
    /// From the start of the run (the end of the warm-up, if any) to the end of the last
    /// sample.
    pub elapsed: Duration,
    /// Users that began at least one sample.
    pub started: u64,
    /// Users that finished.
    pub finished: u64,
    /// The `summary +` intervals that were printed.
    pub intervals: Vec<Interval>,
}

/// Runs the plan's users of this process. Interval lines (and, when `live` is set, a
/// progress line) go to `out` while it runs. When every sample of the first second (or of
/// the first [`REFUSED_SAMPLES`]) was refused, one line on stderr says so and where loadgen
/// connects; the run goes on (JMeter's "continue").
pub fn run(plan: &Plan, out: &mut dyn Write, live: bool) -> Result<Outcome, EngineError> {
    let plan = Arc::new(plan.clone());
    let msg = Arc::new(Message::new(plan.message_size, plan.framed));
    let sources: Arc<[IpAddr]> = plan.source_addrs.clone().into();
    let workers = plan.workers;
    let mut shares = vec![Vec::new(); workers];
    for (i, g) in plan.my_users().enumerate() {
        shares[i % workers].push(g);
    }
    let progress: Vec<Arc<Progress>> = (0..workers).map(|_| Arc::default()).collect();
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for (index, users) in shares.into_iter().enumerate() {
        let spec = Spec {
            index,
            users,
            t0,
            plan: Arc::clone(&plan),
            msg: Arc::clone(&msg),
            sources: Arc::clone(&sources),
            live,
        };
        let (tx, p) = (tx.clone(), Arc::clone(&progress[index]));
        let h = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || worker::run(spec, tx, p))
            .map_err(EngineError::Spawn)?;
        handles.push(h);
    }
    drop(tx);

    let interval = plan.summary_interval;
    let mut pending: BTreeMap<u64, Tally> = BTreeMap::new();
    let mut ticks = vec![0u64; workers];
    let mut done_at: Vec<Option<u64>> = vec![None; workers];
    let mut counts = vec![(0u64, 0u64); workers];
    let mut stats = Stats::new(plan.rate.is_some());
    let mut printed = 0u64;
    let mut cumulative = Tally::default();
    let mut intervals = Vec::new();
    let mut shown_progress = false;
    let mut last_progress = t0;
    // Only one process of a --procs run warns.
    let mut watching_refusals = plan.part.0 == 0;

    while done_at.iter().any(Option::is_none) {
        let wait = if watching_refusals {
            REFUSED_CHECK
        } else if live {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(Report::Tick {
                worker,
                k,
                tally,
                started,
                finished,
            }) => {
                pending.entry(k).or_default().add(&tally);
                ticks[worker] = k + 1;
                counts[worker] = (started, finished);
            }
            Ok(Report::Done {
                worker,
                k,
                tally,
                started,
                finished,
                stats: s,
            }) => {
                pending.entry(k).or_default().add(&tally);
                done_at[worker] = Some(k);
                counts[worker] = (started, finished);
                stats.add(&s)?;
            }
            Ok(Report::Failed { worker, error }) => {
                return Err(EngineError::Worker { worker, error });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(EngineError::Lost),
        }
        // Print every interval that all workers have closed, while some are still running.
        loop {
            let k = printed;
            let closed = (0..workers).all(|w| ticks[w] > k || done_at[w].is_some_and(|d| d <= k));
            let running = (0..workers).any(|w| ticks[w] > k);
            if !(closed && running) {
                break;
            }
            let tally = pending.remove(&k).unwrap_or_default();
            cumulative.add(&tally);
            let (started, finished) = counts.iter().fold((0, 0), |(s, f), &(a, b)| (s + a, f + b));
            let users = (started - finished, started, finished);
            if shown_progress {
                write!(out, "\r\x1b[2K")?;
                shown_progress = false;
            }
            writeln!(
                out,
                "{}",
                text::summary_line('+', &tally, interval, Some(users))
            )?;
            if k > 0 {
                let so_far = interval * (k as u32 + 1);
                writeln!(
                    out,
                    "{}",
                    text::summary_line('=', &cumulative, so_far, None)
                )?;
            }
            out.flush()?;
            intervals.push(Interval::new(
                &tally,
                interval * (k as u32 + 1),
                interval,
                users,
            ));
            printed += 1;
        }
        if watching_refusals {
            watching_refusals = watch_refusals(&plan, &progress, t0.elapsed());
        }
        if live && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            let sum = |f: fn(&Progress) -> u64| progress.iter().map(|p| f(p)).sum::<u64>();
            let samples = sum(|p| p.samples.load(Ordering::Relaxed));
            let errors = sum(|p| p.errors.load(Ordering::Relaxed));
            let started = sum(|p| p.started.load(Ordering::Relaxed));
            let finished = sum(|p| p.finished.load(Ordering::Relaxed));
            let line = text::progress_line(t0.elapsed(), samples, errors, started, finished);
            write!(out, "\r\x1b[2K{line}")?;
            out.flush()?;
            shown_progress = true;
        }
    }
    // Interval lines count from the start (warm-up intervals show no samples); the
    // figures of the run count from the end of the warm-up.
    let wall = t0.elapsed();
    let elapsed = wall.saturating_sub(plan.warmup);
    if shown_progress {
        write!(out, "\r\x1b[2K")?;
    }
    for h in handles {
        h.join().map_err(|_| EngineError::Lost)?;
    }
    // The unfinished last interval, as JMeter prints it: only after earlier interval lines.
    let mut last = Tally::default();
    for p in pending.values() {
        last.add(p);
    }
    if printed > 0 && last.samples() > 0 {
        let took = wall.saturating_sub(interval * printed as u32);
        let (started, finished) = counts.iter().fold((0, 0), |(s, f), &(a, b)| (s + a, f + b));
        let users = (started - finished, started, finished);
        writeln!(out, "{}", text::summary_line('+', &last, took, Some(users)))?;
        intervals.push(Interval::new(&last, wall, took, users));
    }
    let (started, finished) = counts.iter().fold((0, 0), |(s, f), &(a, b)| (s + a, f + b));
    Ok(Outcome {
        stats,
        elapsed,
        started,
        finished,
        intervals,
    })
}

/// The early warning of a run against a port where nothing listens. Returns whether to
/// keep watching: until a sample is not refused, the warning is given, or the watch ends.
fn watch_refusals(plan: &Plan, progress: &[Arc<Progress>], elapsed: Duration) -> bool {
    let sum = |f: fn(&Progress) -> u64| progress.iter().map(|p| f(p)).sum::<u64>();
    let samples = sum(|p| p.samples.load(Ordering::Relaxed));
    let refused = sum(|p| p.refused.load(Ordering::Relaxed));
    if refused < samples {
        return false;
    }
    let due = samples >= REFUSED_SAMPLES || (samples > 0 && elapsed >= REFUSED_WATCH);
    if due {
        crate::out::warn(format_args!(
            "{}",
            refused_warning(samples, elapsed, plan.target)
        ));
        return false;
    }
    elapsed < REFUSED_WATCH_END
}

/// The warning's one line.
pub fn refused_warning(samples: u64, elapsed: Duration, target: SocketAddr) -> String {
    format!(
        "loadgen: all {samples} samples so far ({:.1} s) were refused: nothing is listening on \
         {target}; start a server there (e.g. `make run-server MODEL=epoll`) or give \
         --host/--port; the run goes on",
        elapsed.as_secs_f64()
    )
}
