//! Logging to stderr (stdout carries only the readiness line), with a rate limit for
//! errors that can come in floods: accept failures and per-connection errors are logged
//! at most once a second, with a count of what was left out.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

static PROGRAM: OnceLock<String> = OnceLock::new();
static START: OnceLock<Instant> = OnceLock::new();

/// Names the program in every log line (`echo-epoll: ...`). Called once at start-up.
pub fn init(program: &str) {
    let _ = PROGRAM.set(program.to_string());
    let _ = START.set(Instant::now());
}

/// The program name given to [`init`].
pub fn program() -> &'static str {
    PROGRAM.get().map(String::as_str).unwrap_or("echolab")
}

/// Writes one line to stderr, prefixed with the program name (see [`write_line`]).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::write_line(format_args!($($arg)*))
    };
}

/// Writes `PROGRAM: LINE` to stderr. A line that cannot be written (stderr's reader gone,
/// a full disk) is dropped on purpose: the standard printing macros would panic there, and
/// a server must never die of its own logging, nor a signal handler stop before it exits.
pub fn write_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(io::stderr().lock(), "{}: {line}", program());
}

fn millis_since_start() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A log line that is written at most once a second; calls in between are counted and
/// the count is reported with the next line written.
pub struct RateLimited {
    what: &'static str,
    /// Milliseconds since start of the last line written, plus one (0: never).
    last: AtomicU64,
    total: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimited {
    /// A limiter for one kind of event, named in its lines.
    pub const fn new(what: &'static str) -> Self {
        RateLimited {
            what,
            last: AtomicU64::new(0),
            total: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Counts one event and logs it unless a line was written less than a second ago.
    pub fn record(&self, err: &io::Error) {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let now = millis_since_start() + 1;
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now >= last + 1000;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let skipped = self.suppressed.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                log!(
                    "{}: {err} ({total} so far, {skipped} not logged since the last line)",
                    self.what
                );
            } else {
                log!("{}: {err} ({total} so far)", self.what);
            }
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events recorded so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
