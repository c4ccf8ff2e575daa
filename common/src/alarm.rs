//! An alarm for a mio event loop: a timerfd in the poll set, for wake-ups finer than
//! epoll_wait's own timeout, which counts whole milliseconds (mio rounds it up, so every
//! timer would fire up to a millisecond late). A timerfd is set in nanoseconds and fires
//! within the kernel's timer slack (50 us by default). Used by loadgen's open-loop
//! schedule and by the epoll server's timers (`--backend-wait`, idle checks).
//!
//! Arming costs one `timerfd_settime`, and only when the due time changes. A fired alarm
//! is never read: re-arming resets its expiry count, and each expiry raises a new edge
//! for mio's edge-triggered registration, so the wake-up itself is the whole message.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A timerfd registered with a poll set.
#[derive(Debug)]
pub struct Alarm {
    fd: OwnedFd,
    /// The time it is armed for, if any.
    armed: Option<Instant>,
}

impl Alarm {
    /// A disarmed alarm, registered with `registry` under `token`.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Alarm> {
        // SAFETY: timerfd_create with valid flags; the descriptor is owned right away.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Alarm { fd, armed: None })
    }

    /// Makes the alarm go off at `at` (at once if that has passed), unless it is armed
    /// for that already.
    pub fn arm(&mut self, at: Instant) -> io::Result<()> {
        if self.armed == Some(at) {
            return Ok(());
        }
        // A zero it_value would disarm it: a time already past is 1 ns away.
        let d = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a pointer to a live itimerspec; no old value wanted.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = Some(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    #[test]
    fn wakes_the_poll_at_the_time_it_is_armed_for() {
        let mut poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), Token(7)).unwrap();
        let mut events = Events::with_capacity(4);
        let started = Instant::now();
        alarm.arm(started + Duration::from_millis(20)).unwrap();
        // Armed again for the same time: nothing changes.
        alarm.arm(started + Duration::from_millis(20)).unwrap();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(7)));
        assert!(started.elapsed() >= Duration::from_millis(20));
        // Never read, re-armed for a time already past: it goes off again at once.
        alarm.arm(started).unwrap();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(7)));
    }
}
