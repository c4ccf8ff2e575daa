//! The loop's alarm clock: a timerfd in the epoll set, armed for the loop's next due time
//! (backend-wait parts, idle checks, accept re-checks). epoll_wait's own timeout counts
//! whole milliseconds (mio rounds it up), which made every backend wait end up to a
//! millisecond late; a timerfd is set in nanoseconds and fires within the kernel's timer
//! slack (50 us by default). It costs one `timerfd_settime` when the earliest due time
//! changes and one `read` when it fires; a loop without timers never touches it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

pub struct Alarm {
    fd: OwnedFd,
    /// The due time it is armed for, if any.
    armed: Option<Instant>,
}

impl Alarm {
    /// A disarmed alarm, registered with `registry` under `token`.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Alarm> {
        // SAFETY: timerfd_create takes no pointers; a valid descriptor is owned below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Alarm { fd, armed: None })
    }

    /// Arms it for `due` (None disarms it), unless it is armed for that already.
    pub fn set(&mut self, due: Option<Instant>) -> io::Result<()> {
        if due == self.armed {
            return Ok(());
        }
        // A zero it_value disarms a timerfd, so a time already past is 1 ns away.
        let left = due.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1))
        });
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is a timerfd we own; spec outlives the call, and a null
        // old_value is allowed.
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        self.armed = due;
        Ok(())
    }

    /// It fired: clears its count (so the next expiry raises a new edge) and notes that it
    /// is no longer armed.
    pub fn fired(&mut self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a buffer of 8. WouldBlock (already cleared)
        // needs nothing done.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        self.armed = None;
    }
}
