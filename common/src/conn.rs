//! Connection accounting shared by every model: how many are open, how many were served,
//! and how many ended in an error. A connection's error is counted and logged (rate
//! limited), and never stops the server.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::log::RateLimited;

static OPEN: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static ERRORS: RateLimited = RateLimited::new("connection error");
static IDLE: RateLimited = RateLimited::new("idle timeout");

/// Why a connection was closed under `--idle-timeout`: its client sent nothing for this
/// long. Carried inside an `io::Error` (kind `TimedOut`) so every model ends the
/// connection the way it ends one for any other error, and [`error`] tells them apart.
#[derive(Debug, thiserror::Error)]
#[error("closed a connection that sent nothing for {0:?}")]
pub struct IdleTimeout(pub Duration);

/// The error that ends a connection idle for `after` (`--idle-timeout`).
pub fn idle_timeout(after: Duration) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, IdleTimeout(after))
}

/// True for the error made by [`idle_timeout`].
pub fn is_idle_timeout(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<IdleTimeout>())
}

/// Held for as long as a connection is being served; dropping it marks the connection
/// closed. Costs two atomic operations per connection, nothing per message.
#[derive(Debug)]
#[must_use = "the connection counts as open only while its guard lives"]
pub struct ConnGuard(());

impl ConnGuard {
    /// Marks one accepted connection as open.
    pub fn open() -> ConnGuard {
        OPEN.fetch_add(1, Ordering::Relaxed);
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        ConnGuard(())
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts and logs (at most once a second) the error that ended one connection. Idle
/// timeouts are counted and logged apart: they are the server's decision, not a fault.
pub fn error(err: &io::Error) {
    if is_idle_timeout(err) {
        IDLE.record(err);
    } else {
        ERRORS.record(err);
    }
}

/// Connections closed by `--idle-timeout` since start.
pub fn idle_closed() -> u64 {
    IDLE.total()
}

/// Connections open now, accepted since start, and ended by an error since start.
pub fn counts() -> (u64, u64, u64) {
    (
        OPEN.load(Ordering::Relaxed),
        ACCEPTED.load(Ordering::Relaxed),
        ERRORS.total(),
    )
}

/// Connections open now, in the whole process (for `--max-conns` in loop models).
pub fn open_now() -> usize {
    OPEN.load(Ordering::Relaxed) as usize
}
