//! The per-request workload of framed mode (`--cpu-work`, `--backend-wait`, `--splits`):
//! spin the CPU for half of the work, wait for the backend in `splits` parts, spin the
//! other half, then reply. The CPU part is real work on the serving thread (a blocked
//! loop is what the experiment measures); the wait is done the model's own way, so each
//! model passes its own sleep.

use std::future::Future;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What each framed request costs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// CPU work per request, half before and half after the wait.
    pub cpu: Duration,
    /// Backend wait per request.
    pub wait: Duration,
    /// Parts the wait is split into (at least 1).
    pub splits: u32,
}

impl Workload {
    /// One part of the backend wait.
    pub fn wait_part(&self) -> Duration {
        self.wait / self.splits
    }

    /// When part `k` (from 1) of a backend wait that began at `began` ends: at `k` parts
    /// from the start, not from the end of the part before. Timers fire late by up to
    /// their resolution (a millisecond for epoll_wait and tokio's wheel, rounded up), and
    /// timing each part from the last one's end would add that up once per part: 5 parts
    /// of 11 ms took about 60 ms. Timed from the start, a late part shortens the next one
    /// and the whole wait is late by at most one timer's lateness.
    pub fn part_due(&self, began: Instant, k: u32) -> Instant {
        began + self.wait * k.min(self.splits) / self.splits
    }

    /// Runs the workload with a blocking sleep (OS threads, coroutines).
    pub fn run_blocking(&self, sleep: impl Fn(Duration)) {
        spin(self.cpu / 2);
        if !self.wait.is_zero() {
            let began = Instant::now();
            for k in 1..=self.splits {
                // Some timers wake a little early (may's does): sleep again for the rest,
                // so every part ends no earlier than it should.
                let due = self.part_due(began, k);
                while let Some(left) = due.checked_duration_since(Instant::now()) {
                    if left.is_zero() {
                        break;
                    }
                    sleep(left);
                }
            }
        }
        spin(self.cpu - self.cpu / 2);
    }

    /// Runs the workload with an async sleep (the runtime's timer).
    pub async fn run_async<F: Future>(&self, sleep: impl Fn(Duration) -> F) {
        spin(self.cpu / 2);
        if !self.wait.is_zero() {
            let began = Instant::now();
            for k in 1..=self.splits {
                let due = self.part_due(began, k);
                while let Some(left) = due.checked_duration_since(Instant::now()) {
                    if left.is_zero() {
                        break;
                    }
                    sleep(left).await;
                }
            }
        }
        spin(self.cpu - self.cpu / 2);
    }
}

/// Iterations of [`burn`] per microsecond of this thread's CPU time, measured once.
fn iterations_per_us() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        // Timed with the thread's own CPU clock, so time spent preempted (other
        // processes, other tests) does not count; the fastest of a few trials is kept.
        let n = 200_000;
        (0..5)
            .map(|_| {
                let started = thread_cpu_time();
                black_box(burn(n));
                let used = thread_cpu_time().saturating_sub(started);
                n as f64 / used.as_secs_f64().max(1e-9) / 1e6
            })
            .fold(0.0, f64::max)
    })
}

/// CPU time this thread has used.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Measures the spin rate now, so the first request does not pay for it.
pub fn calibrate() {
    iterations_per_us();
}

/// Burns `d` of this thread's CPU time: arithmetic sized by the start-up calibration,
/// not a wall-clock check, so a preempted thread still does all of its work (as a real
/// handler would). The thread's CPU clock is read after each piece, so a request costs
/// `d` and a few syscalls: each piece is three quarters of what is left (all of it once
/// under [`LAST_PIECE`]). Burning all of `d` at the calibrated rate overshot whenever the
/// thread ran slower than during the calibration, which keeps the fastest of its trials:
/// spins of 2.5 ms took 2.54 to 2.58 ms here, 2-3% more CPU per request than asked.
pub fn spin(d: Duration) {
    if d.is_zero() {
        return;
    }
    let rate = iterations_per_us();
    let started = thread_cpu_time();
    let mut left = d;
    loop {
        let piece = if left > LAST_PIECE {
            left * 3 / 4
        } else {
            left
        };
        black_box(burn((piece.as_secs_f64() * 1e6 * rate) as u64 + 1));
        let used = thread_cpu_time().saturating_sub(started);
        match d.checked_sub(used) {
            Some(rest) if !rest.is_zero() => left = rest,
            _ => return,
        }
    }
}

/// Below this much left, [`spin`] burns the rest in one piece: a misjudged rate then
/// costs at most a few percent of it, a microsecond or so.
const LAST_PIECE: Duration = Duration::from_micros(40);

/// `n` rounds of a xorshift step: cheap, unpredictable, not optimised away.
fn burn(n: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_cpu_time() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    #[test]
    fn spin_burns_cpu_not_wall_time() {
        calibrate();
        let before = thread_cpu_time();
        spin(Duration::from_millis(20));
        let used = thread_cpu_time() - before;
        // A lower bound only (tests never assert speed): at least most of the work was
        // CPU time on this thread, so it is not a sleep.
        assert!(
            used >= Duration::from_millis(10),
            "spin(20ms) used {used:?} of CPU"
        );
    }

    #[test]
    fn parts_are_timed_from_the_start_of_the_wait() {
        let w = Workload {
            cpu: Duration::ZERO,
            wait: Duration::from_millis(55),
            splits: 5,
        };
        let t = Instant::now();
        assert_eq!(w.part_due(t, 1), t + Duration::from_millis(11));
        assert_eq!(w.part_due(t, 5), t + Duration::from_millis(55));
        assert_eq!(w.part_due(t, 9), t + Duration::from_millis(55));
        // A sleep that always oversleeps by 1 ms makes the next part shorter: the whole
        // wait is late by one oversleep, not five.
        let slept = std::cell::Cell::new(Duration::ZERO);
        let started = Instant::now();
        w.run_blocking(|d| {
            slept.set(slept.get() + d);
            std::thread::sleep(d + Duration::from_millis(1));
        });
        assert!(started.elapsed() >= Duration::from_millis(55));
        assert!(
            slept.get() < Duration::from_millis(52),
            "asked for {:?} of sleep",
            slept.get()
        );
    }

    #[test]
    fn workload_waits_in_parts_with_the_given_sleep() {
        let w = Workload {
            cpu: Duration::from_millis(2),
            wait: Duration::from_millis(30),
            splits: 3,
        };
        let parts = std::cell::RefCell::new(Vec::new());
        w.run_blocking(|d| {
            parts.borrow_mut().push(d);
            std::thread::sleep(d);
        });
        let parts = parts.into_inner();
        assert!(parts.len() >= 3, "{parts:?}");
        assert!(
            parts.iter().all(|&d| d <= Duration::from_millis(10)),
            "{parts:?}"
        );
        let started = Instant::now();
        futures_lite::future::block_on(w.run_async(|d| async move { std::thread::sleep(d) }));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
