//! One event loop: a mio `Poll`, its users, and a timer heap that sets the poll timeout.
//!
//! Timers never cost a syscall: user start times (ramp-up), open-loop due times, the
//! summary-interval tick, the end of a timed run and the timeout sweep all become the
//! timeout of the next wait. Per-sample timeouts are not kept in the heap (that would be a
//! push per message); a sweep over the users, every tenth of `--timeout` (between 1 ms and
//! 100 ms), fails the samples whose deadline passed.
//!
//! The wait is `epoll_pwait2` ([`crate::wait`]), whose timeout is in nanoseconds: the open
//! loop's due times wake it to the microsecond (its thread's timer slack is set to a few
//! microseconds), with one system call per wake-up. `epoll_wait`'s whole milliseconds
//! would send requests up to a millisecond late and charge that to the server; the timerfd
//! that fixed it cost a `timerfd_settime` per due time. A wake-up serves every timer due
//! by then, reading the clock again before it gives up, so that due times passed while it
//! was sending go out in the same turn.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use mio::Poll;

use super::message::Message;
use super::user::{Ctx, Schedule, User};
use crate::plan::{Plan, Stop};
use crate::stats::{Recorder, Stats, Tally};
use crate::wait::Waiter;

/// When the main thread's watch for a run whose every sample is refused ends even without a
/// sample (connects that hang, a long ramp-up); the workers stop publishing counts for it then.
pub const REFUSED_WATCH_END: Duration = Duration::from_secs(2);

/// Bytes read per `recv` at most: one buffer per worker, shared by its users.
const READ_BUFFER: usize = 256 << 10;

/// What a worker tells the main thread.
#[derive(Debug)]
pub enum Report {
    /// Summary interval `k` ended.
    Tick {
        worker: usize,
        k: u64,
        tally: Tally,
        started: u64,
        finished: u64,
    },
    /// Every user is done; `tally` is the unfinished interval `k`.
    Done {
        worker: usize,
        k: u64,
        tally: Tally,
        started: u64,
        finished: u64,
        stats: Box<Stats>,
    },
    /// The worker could not run.
    Failed { worker: usize, error: io::Error },
}

/// Live counts for the progress line, published once per loop turn.
#[derive(Debug, Default)]
pub struct Progress {
    /// Samples finished (ok or not).
    pub samples: AtomicU64,
    /// Failed samples.
    pub errors: AtomicU64,
    /// Samples refused (nothing listening): for the early warning of a run against a
    /// closed port.
    pub refused: AtomicU64,
    /// Users started.
    pub started: AtomicU64,
    /// Users finished.
    pub finished: AtomicU64,
}

/// What one worker runs.
pub struct Spec {
    /// Worker number.
    pub index: usize,
    /// Global indices of its users.
    pub users: Vec<u64>,
    /// Start of the run, common to all workers.
    pub t0: Instant,
    /// The plan.
    pub plan: Arc<Plan>,
    /// The message, shared by all workers.
    pub msg: Arc<Message>,
    /// Source addresses.
    pub sources: Arc<[IpAddr]>,
    /// Publish live counts (for the progress line) each loop turn.
    pub live: bool,
}

/// Runs one worker to the end and reports to `tx`.
pub fn run(spec: Spec, tx: Sender<Report>, progress: Arc<Progress>) {
    let index = spec.index;
    if let Err(error) = event_loop(spec, &tx, &progress) {
        let _ = tx.send(Report::Failed {
            worker: index,
            error,
        });
    }
}

fn event_loop(spec: Spec, tx: &Sender<Report>, progress: &Progress) -> io::Result<()> {
    let plan = &spec.plan;
    let mut poll = Poll::new()?;
    let t0 = spec.t0;
    let mut ctx = Ctx {
        registry: poll.registry().try_clone()?,
        buf: vec![0; READ_BUFFER.min(spec.msg.len()).max(1)],
        msg: Arc::clone(&spec.msg),
        rec: Recorder::new(plan.rate.is_some()),
        timers: BinaryHeap::with_capacity(spec.users.len()),
        target: plan.target,
        sources: Arc::clone(&spec.sources),
        timeout: plan.timeout,
        reuse: plan.reuse,
        half_close: plan.half_close,
        loops: match plan.stop {
            Stop::Loops(l) => Some(l),
            Stop::Duration(_) => None,
        },
        end: match plan.stop {
            Stop::Duration(d) => Some(t0 + plan.warmup + d),
            Stop::Loops(_) => None,
        },
        count_from: t0 + plan.warmup,
        schedule: plan.rate.map(|rate| Schedule {
            t0,
            users: plan.users,
            rate,
        }),
        started: 0,
        finished: 0,
        now: t0,
    };
    // Open loop: due times are kept to the microsecond (see `crate::wait`).
    let mut waiter = Waiter::new(1024, plan.rate.is_some());
    let mut users: Vec<User> = spec.users.iter().map(|&g| User::new(g, t0)).collect();
    for (idx, u) in users.iter().enumerate() {
        ctx.timers
            .push(Reverse((t0 + plan.start_offset(u.global), idx)));
    }
    let sweep_every =
        (plan.timeout / 10).clamp(Duration::from_millis(1), Duration::from_millis(100));
    let mut next_sweep = t0 + sweep_every;
    let mut k = 0u64;
    let mut next_tick = t0 + plan.summary_interval;
    let mut ended = false;
    let watch_end = t0 + REFUSED_WATCH_END;

    while ctx.finished < users.len() as u64 {
        let mut wake = next_sweep.min(next_tick);
        if let Some(&Reverse((at, _))) = ctx.timers.peek() {
            wake = wake.min(at);
        }
        if let (Some(end), false) = (ctx.end, ended) {
            wake = wake.min(end);
        }
        let ready = waiter.wait(&mut poll, wake)?;
        let now = Instant::now();
        ctx.now = now;
        for r in ready {
            if let Some(u) = users.get_mut(r.token) {
                u.on_event(&mut ctx, r.token, r.readable, r.writable);
            }
        }
        // Every timer due by now is served in this turn. The clock is read again when the
        // next one is not due by the wake-up's time: sending takes microseconds, and a due
        // time that passed meanwhile goes out now instead of after another arm and wait.
        let mut clock = now;
        while let Some(&Reverse((at, idx))) = ctx.timers.peek() {
            if at > clock {
                clock = Instant::now();
                if at > clock {
                    break;
                }
            }
            ctx.timers.pop();
            users[idx].on_timer(&mut ctx, idx, at, clock);
        }
        if now >= next_sweep {
            for (idx, u) in users.iter_mut().enumerate() {
                u.check_timeout(&mut ctx, idx, now);
            }
            next_sweep = now + sweep_every;
        }
        if !ended && ctx.end.is_some_and(|e| now >= e) {
            ended = true;
            for u in users.iter_mut() {
                u.on_end(&mut ctx);
            }
        }
        if now >= next_tick && ctx.finished < users.len() as u64 {
            let _ = tx.send(Report::Tick {
                worker: spec.index,
                k,
                tally: ctx.rec.take_interval(),
                started: ctx.started,
                finished: ctx.finished,
            });
            k += 1;
            next_tick += plan.summary_interval;
        }
        // Published for the progress line, and over the first moments of every run for the
        // main thread's check that not every sample is being refused.
        if spec.live || now < watch_end {
            let t = &ctx.rec.total.tally;
            progress.samples.store(t.samples(), Ordering::Relaxed);
            progress.errors.store(t.errors.total(), Ordering::Relaxed);
            progress.refused.store(t.errors.refused, Ordering::Relaxed);
            progress.started.store(ctx.started, Ordering::Relaxed);
            progress.finished.store(ctx.finished, Ordering::Relaxed);
        }
    }
    let tally = ctx.rec.take_interval();
    if let Some(per_user) = &mut ctx.rec.total.per_user {
        for u in &users {
            let (samples, wait) = u.service();
            per_user.user(samples, wait);
        }
    }
    let _ = tx.send(Report::Done {
        worker: spec.index,
        k,
        tally,
        started: ctx.started,
        finished: ctx.finished,
        stats: Box::new(ctx.rec.total),
    });
    Ok(())
}
