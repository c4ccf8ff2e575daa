//! Waiting on a mio `Poll` until an instant, to the microsecond, in one system call.
//!
//! mio's `Poll::poll` calls `epoll_wait`, whose timeout counts whole milliseconds (mio
//! rounds up): an open-loop request would go out up to a millisecond late. The loops used
//! to add a timerfd ([`common::alarm::Alarm`]) to the poll set for that, which costs a
//! `timerfd_settime` per due time besides the `epoll_wait`, at 50,000 requests/s about one
//! of every four system calls loadgen made. `epoll_pwait2` (Linux 5.11) takes its timeout
//! in nanoseconds, so the wait itself wakes at the due time: one call per wake-up.
//!
//! Its sleep, like `nanosleep`'s, ends within the thread's timer slack (50 us by default),
//! so a precise waiter sets its thread's slack to [`SLACK`] with `PR_SET_TIMERSLACK`
//! (a timerfd, by contrast, ignores the slack). Where `epoll_pwait2` is missing (ENOSYS)
//! the waiter falls back to the timerfd alarm and mio's own poll, as before.
//!
//! Even so, a sleeping thread on this VM wakes 5-10 us after its timer (lateness p50 8 us,
//! p99 11 us at 50,000 requests/s), which is a tenth of an echo's p99 there: a precise
//! waiter sleeps until [`LEAD`] before the deadline and, when it wakes before the deadline
//! with nothing to do (rarely: the lead is below the usual wake-up latency), spins on the
//! clock for the rest, so that a request goes out at its due time, not one wake-up after.
//!
//! Both read the same epoll instance, so sockets stay registered through mio as they are;
//! only the reading of events is done here, into (token, readable, writable) triples.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::alarm::Alarm;
use mio::{Events, Poll, Token};

/// Timer slack of a precise waiter's thread: how late a timed wake-up may come so that the
/// kernel can serve nearby timers with one interrupt.
pub const SLACK: Duration = Duration::from_micros(2);

/// How long before its deadline a precise waiter's sleep ends (see the module's header):
/// below the usual wake-up latency, so that the spin after it is short and rare.
pub const LEAD: Duration = Duration::from_micros(6);

/// The token the fallback alarm is registered under; callers number their sources below it.
pub const ALARM: Token = Token(usize::MAX);

/// One readiness event: the token, and whether a read or a write may make progress (an
/// error or hang-up counts as both, so that the next call reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The token the source was registered with.
    pub token: usize,
    /// Readable, read side closed, or an error.
    pub readable: bool,
    /// Writable, write side closed, or an error.
    pub writable: bool,
}

/// Waits on a `Poll` until events come or a deadline passes.
pub struct Waiter {
    raw: Vec<libc::epoll_event>,
    ready: Vec<Ready>,
    /// Set when `epoll_pwait2` is missing: mio's poll with the timerfd alarm.
    fallback: Option<(Events, Option<Alarm>)>,
    precise: bool,
}

impl Waiter {
    /// A waiter for up to `capacity` events per call. `precise`: deadlines are kept to the
    /// microsecond (the thread's timer slack is set to [`SLACK`]; call this on the thread
    /// that waits); otherwise they may come up to a millisecond late, as with mio.
    pub fn new(capacity: usize, precise: bool) -> Waiter {
        if precise {
            set_timer_slack(SLACK);
        }
        let capacity = capacity.max(1);
        Waiter {
            raw: vec![libc::epoll_event { events: 0, u64: 0 }; capacity],
            ready: Vec::with_capacity(capacity),
            fallback: None,
            precise,
        }
    }

    /// Waits until an event comes or `deadline` passes (at once if it has), and returns
    /// the events. An interrupted wait returns no events.
    pub fn wait(&mut self, poll: &mut Poll, deadline: Instant) -> io::Result<&[Ready]> {
        self.ready.clear();
        let timeout = deadline.saturating_duration_since(Instant::now());
        if self.fallback.is_none() {
            let lead = if self.precise { LEAD } else { Duration::ZERO };
            match self.pwait2(poll, timeout.saturating_sub(lead)) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => self.fall_back(poll)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(&self.ready),
                Err(e) => return Err(e),
                Ok(()) => {
                    if self.ready.is_empty() {
                        // Woken early with nothing to do: the rest of the lead on the clock.
                        while Instant::now() < deadline {
                            std::hint::spin_loop();
                        }
                    }
                    return Ok(&self.ready);
                }
            }
        }
        let Some((events, alarm)) = &mut self.fallback else {
            return Ok(&self.ready);
        };
        if let Some(alarm) = alarm {
            alarm.arm(deadline)?;
        }
        match poll.poll(events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(&self.ready),
            Err(e) => return Err(e),
        }
        for e in events.iter().filter(|e| e.token() != ALARM) {
            let err = e.is_error();
            self.ready.push(Ready {
                token: e.token().0,
                readable: e.is_readable() || e.is_read_closed() || err,
                writable: e.is_writable() || e.is_write_closed() || err,
            });
        }
        Ok(&self.ready)
    }

    /// From now on, waits with mio's poll (and, when precise, the timerfd alarm).
    fn fall_back(&mut self, poll: &Poll) -> io::Result<()> {
        let alarm = if self.precise {
            Some(Alarm::new(poll.registry(), ALARM)?)
        } else {
            None
        };
        self.fallback = Some((Events::with_capacity(self.raw.len()), alarm));
        Ok(())
    }

    fn pwait2(&mut self, poll: &Poll, timeout: Duration) -> io::Result<()> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: epoll_pwait2 on mio's live epoll descriptor, writing at most raw.len()
        // events into `raw`, with a pointer to a live timespec and no signal mask. Called
        // through syscall(2) so that no particular C library version is needed.
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                poll.as_raw_fd(),
                self.raw.as_mut_ptr(),
                self.raw.len() as libc::c_int,
                &ts as *const libc::timespec,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let hup = (libc::EPOLLHUP | libc::EPOLLERR) as u32;
        let readable = (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP) as u32 | hup;
        let writable = libc::EPOLLOUT as u32 | hup;
        for e in &self.raw[..n as usize] {
            let (flags, token) = (e.events, e.u64);
            self.ready.push(Ready {
                token: token as usize,
                readable: flags & readable != 0,
                writable: flags & writable != 0,
            });
        }
        Ok(())
    }
}

/// Sets the calling thread's timer slack; a failure only leaves the default (50 us).
fn set_timer_slack(slack: Duration) {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes the slack in nanoseconds as its only argument
    // and touches nothing but the calling thread.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            slack.as_nanos() as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn wakes_no_sooner_than_its_deadline_and_reports_readiness() {
        waits_and_reports(false);
    }

    #[test]
    fn the_fallback_without_epoll_pwait2_behaves_the_same() {
        waits_and_reports(true);
    }

    fn waits_and_reports(fallback: bool) {
        let mut poll = Poll::new().unwrap();
        let mut w = Waiter::new(8, true);
        if fallback {
            w.fall_back(&poll).unwrap();
        }
        let start = Instant::now();
        let ready = w
            .wait(&mut poll, start + Duration::from_micros(300))
            .unwrap();
        assert!(ready.is_empty());
        let took = start.elapsed();
        assert!(took >= Duration::from_micros(300), "{took:?}");

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut server = mio::net::TcpStream::from_std(server);
        poll.registry()
            .register(&mut server, Token(3), mio::Interest::READABLE)
            .unwrap();
        client.write_all(b"x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let ready = w.wait(&mut poll, deadline).unwrap().to_vec();
        assert_eq!(
            ready,
            [Ready {
                token: 3,
                readable: true,
                writable: false
            }]
        );
        assert!(Instant::now() < deadline);
    }
}
