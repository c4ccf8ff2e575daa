//! Connection accounting shared by every model: how many are open, how many were served,
//! and how many ended in an error. A connection's error is counted and logged (rate
//! limited), and never stops the server.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::log::RateLimited;

static OPEN: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static ERRORS: RateLimited = RateLimited::new("connection error");

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

/// Counts and logs (at most once a second) the error that ended one connection.
pub fn error(err: &io::Error) {
    ERRORS.record(err);
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
