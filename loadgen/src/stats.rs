//! What a worker counts: samples by outcome, exact latency sums and extremes, and HDR
//! histograms (microseconds, 3 significant digits). Each worker owns its own; they are
//! merged at intervals and at the end, so nothing is locked per sample.
//!
//! In the open loop a third histogram holds loadgen's own send lateness: how long after
//! its due time a request whose connection was free went out. That is the client's delay,
//! not the server's, and it is counted so that a run whose client was the limit says so.

use std::io::Cursor;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Highest latency a histogram holds (one hour, in microseconds); longer ones saturate.
pub const HIST_MAX_US: u64 = 3_600_000_000;
/// Significant digits of the histograms.
pub const HIST_SIGFIG: u8 = 3;

/// How a sample failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Connection refused.
    Refused,
    /// Connect did not finish within `--timeout`.
    ConnectTimeout,
    /// Connection reset (ECONNRESET, EPIPE) during the exchange.
    Reset,
    /// The echo did not arrive complete within `--timeout`.
    ReadTimeout,
    /// The server closed before the whole echo arrived.
    EarlyClose,
    /// The echo differs from what was sent.
    Mismatch,
    /// Anything else (out of ports or descriptors, say).
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Refused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Reset,
        ErrorKind::ReadTimeout,
        ErrorKind::EarlyClose,
        ErrorKind::Mismatch,
        ErrorKind::Other,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::ConnectTimeout => "connect-timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::ReadTimeout => "read-timeout",
            ErrorKind::EarlyClose => "early-close",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::Other => "other",
        }
    }
}

/// Failed samples by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Connections refused (nothing listening on the port).
    pub refused: u64,
    /// Connects that did not finish within --timeout.
    pub connect_timeout: u64,
    /// Connections reset by the server during a sample.
    pub reset: u64,
    /// Echoes that did not arrive complete within --timeout.
    pub read_timeout: u64,
    /// Connections the server closed before the whole echo arrived.
    pub early_close: u64,
    /// Echoes whose bytes differ from what was sent.
    pub mismatch: u64,
    /// Any other socket error (out of local ports or descriptors, say).
    pub other: u64,
}

impl ErrorCounts {
    /// The count of one kind.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Refused => self.refused,
            ErrorKind::ConnectTimeout => self.connect_timeout,
            ErrorKind::Reset => self.reset,
            ErrorKind::ReadTimeout => self.read_timeout,
            ErrorKind::EarlyClose => self.early_close,
            ErrorKind::Mismatch => self.mismatch,
            ErrorKind::Other => self.other,
        }
    }

    pub(crate) fn get_mut(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::Refused => &mut self.refused,
            ErrorKind::ConnectTimeout => &mut self.connect_timeout,
            ErrorKind::Reset => &mut self.reset,
            ErrorKind::ReadTimeout => &mut self.read_timeout,
            ErrorKind::EarlyClose => &mut self.early_close,
            ErrorKind::Mismatch => &mut self.mismatch,
            ErrorKind::Other => &mut self.other,
        }
    }

    /// All failed samples.
    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|&k| self.get(k)).sum()
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &ErrorCounts) {
        for k in ErrorKind::ALL {
            *self.get_mut(k) += other.get(k);
        }
    }
}

/// Counts and exact latency figures without a histogram: what one `summary` line needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Samples whose echo arrived complete and correct.
    pub ok: u64,
    /// Failed samples by kind.
    pub errors: ErrorCounts,
    /// Sum of the latencies of the ok samples, microseconds.
    pub sum_us: u64,
    /// Smallest latency of an ok sample (u64::MAX when none).
    pub min_us: u64,
    /// Largest latency of an ok sample.
    pub max_us: u64,
    /// Open loop, timed run: requests that fell due in the counted window but never went
    /// out, their connection still waiting for an earlier echo when the run ended. They
    /// are not samples (nothing was sent, nothing timed); counted when a user finishes.
    pub unsent: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            ok: 0,
            errors: ErrorCounts::default(),
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            unsent: 0,
        }
    }
}

impl Tally {
    #[inline]
    fn ok(&mut self, us: u64) {
        self.ok += 1;
        self.sum_us += us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// Samples finished, ok or not.
    pub fn samples(&self) -> u64 {
        self.ok + self.errors.total()
    }

    /// Mean latency of ok samples in microseconds (0 when none).
    pub fn mean_us(&self) -> f64 {
        if self.ok == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.ok as f64
        }
    }

    /// Adds another tally.
    pub fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.errors.add(&o.errors);
        self.sum_us += o.sum_us;
        self.min_us = self.min_us.min(o.min_us);
        self.max_us = self.max_us.max(o.max_us);
        self.unsent += o.unsent;
    }
}

/// Everything a worker measured over a run.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Counts and exact latency figures.
    pub tally: Tally,
    /// Latency of ok samples from when each was due (closed loop: from its start).
    pub latency: Histogram<u64>,
    /// With `--rate`: latency from the actual send (not corrected for coordinated omission).
    pub raw: Option<Histogram<u64>>,
    /// With `--rate`: loadgen's own send lateness, microseconds: the actual send time minus
    /// the due time, for each counted request whose connection was free when it fell due
    /// (one that waited behind its connection's late reply is the server's delay, not the
    /// client's, and is left out). None for a closed loop and for stats read from reports
    /// written before it existed.
    pub lateness: Option<Histogram<u64>>,
    /// Payload and header bytes written.
    pub bytes_sent: u64,
    /// Echo bytes read.
    pub bytes_received: u64,
    /// Service per connection: how many ok samples each user got in the measured window.
    /// None for stats read from reports written before it existed.
    pub per_user: Option<PerUser>,
}

/// Ok samples per user over the measured window, and the longest any user waited, kept so
/// that runs on several processes or machines merge exactly.
#[derive(Debug, Clone)]
pub struct PerUser {
    /// One value per user: its ok samples (0 for a starved user).
    pub samples: Histogram<u64>,
    /// Sum over users of their ok samples squared (Jain's index).
    pub sum_sq: f64,
    /// Longest time any user waited for an echo, ok or failed (a timeout waits the whole
    /// limit), microseconds.
    pub max_wait_us: u64,
}

impl PerUser {
    /// No users yet.
    pub fn new() -> PerUser {
        PerUser {
            samples: Histogram::new_with_bounds(1, 1 << 36, HIST_SIGFIG)
                .expect("constant histogram bounds"),
            sum_sq: 0.0,
            max_wait_us: 0,
        }
    }

    /// One user's figures.
    pub fn user(&mut self, samples: u64, max_wait_us: u64) {
        self.samples.saturating_record(samples);
        self.sum_sq += (samples as f64).powi(2);
        self.max_wait_us = self.max_wait_us.max(max_wait_us);
    }

    /// Another part's users.
    pub fn add(&mut self, o: &PerUser) -> Result<(), StatsError> {
        self.samples
            .add(&o.samples)
            .map_err(|e| StatsError::Merge(format!("{e:?}")))?;
        self.sum_sq += o.sum_sq;
        self.max_wait_us = self.max_wait_us.max(o.max_wait_us);
        Ok(())
    }
}

impl Default for PerUser {
    fn default() -> Self {
        PerUser::new()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).expect("constant histogram bounds")
}

impl Stats {
    /// Empty stats; `raw` keeps the second (uncorrected) histogram.
    pub fn new(raw: bool) -> Stats {
        Stats {
            tally: Tally::default(),
            latency: histogram(),
            raw: raw.then(histogram),
            lateness: raw.then(histogram),
            bytes_sent: 0,
            bytes_received: 0,
            per_user: Some(PerUser::new()),
        }
    }

    /// Records an ok sample: `us` from its due time, `raw_us` from its send.
    #[inline]
    pub fn ok(&mut self, us: u64, raw_us: u64) {
        self.tally.ok(us);
        self.latency.saturating_record(us);
        if let Some(raw) = &mut self.raw {
            raw.saturating_record(raw_us);
        }
    }

    /// Records one request's send lateness (open loop), microseconds.
    #[inline]
    pub fn sent_late(&mut self, us: u64) {
        if let Some(h) = &mut self.lateness {
            h.saturating_record(us);
        }
    }

    /// Adds another worker's (or run's) stats: exact, histograms included.
    pub fn add(&mut self, o: &Stats) -> Result<(), StatsError> {
        self.tally.add(&o.tally);
        self.latency
            .add(&o.latency)
            .map_err(|e| StatsError::Merge(format!("{e:?}")))?;
        match (&mut self.raw, &o.raw) {
            (Some(a), Some(b)) => a.add(b).map_err(|e| StatsError::Merge(format!("{e:?}")))?,
            (None, None) => {}
            _ => return Err(StatsError::Merge("only one side has raw latencies".into())),
        }
        // A part without lateness figures (an older report) leaves the whole without them.
        match (&mut self.lateness, &o.lateness) {
            (Some(a), Some(b)) => a.add(b).map_err(|e| StatsError::Merge(format!("{e:?}")))?,
            _ => self.lateness = None,
        }
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        // A part without per-user figures (an older report) leaves the whole without them.
        match (&mut self.per_user, &o.per_user) {
            (Some(a), Some(b)) => a.add(b)?,
            _ => self.per_user = None,
        }
        Ok(())
    }
}

/// Counting per sample; a [`Tally`] of the current interval beside the run's [`Stats`].
#[derive(Debug)]
pub struct Recorder {
    /// The whole run so far.
    pub total: Stats,
    /// The current summary interval.
    pub interval: Tally,
}

impl Recorder {
    /// An empty recorder.
    pub fn new(raw: bool) -> Recorder {
        Recorder {
            total: Stats::new(raw),
            interval: Tally::default(),
        }
    }

    /// An ok sample.
    #[inline]
    pub fn ok(&mut self, us: u64, raw_us: u64) {
        self.total.ok(us, raw_us);
        self.interval.ok(us);
    }

    /// A request went out `us` microseconds after its due time (open loop).
    #[inline]
    pub fn sent_late(&mut self, us: u64) {
        self.total.sent_late(us);
    }

    /// Open loop: `n` requests fell due in the counted window and were never sent.
    pub fn unsent(&mut self, n: u64) {
        self.total.tally.unsent += n;
        self.interval.unsent += n;
    }

    /// A failed sample.
    pub fn error(&mut self, kind: ErrorKind) {
        *self.total.tally.errors.get_mut(kind) += 1;
        *self.interval.errors.get_mut(kind) += 1;
    }

    /// Ends the current interval and returns its tally.
    pub fn take_interval(&mut self) -> Tally {
        std::mem::take(&mut self.interval)
    }
}

/// A histogram that cannot be decoded or merged.
#[derive(Debug, Error)]
pub enum StatsError {
    #[error("bad histogram: {0}")]
    Decode(String),
    #[error("histograms do not merge: {0}")]
    Merge(String),
}

/// Encodes a histogram as HdrHistogram's compressed V2 format in base64 (what
/// HdrHistogram's own tools and log files use).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes what [`encode_histogram`] wrote.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, StatsError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| StatsError::Decode(e.to_string()))?;
    Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|e| StatsError::Decode(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_exact() {
        let mut a = Stats::new(false);
        let mut b = Stats::new(false);
        for us in [10, 20, 30] {
            a.ok(us, us);
        }
        b.ok(5, 5);
        b.tally.errors.reset = 2;
        a.add(&b).unwrap();
        assert_eq!(a.tally.ok, 4);
        assert_eq!(a.tally.samples(), 6);
        assert_eq!(a.tally.sum_us, 65);
        assert_eq!((a.tally.min_us, a.tally.max_us), (5, 30));
        assert_eq!(a.latency.len(), 4);
    }

    #[test]
    fn histogram_round_trip() {
        let mut s = Stats::new(true);
        for us in 1..5000 {
            s.ok(us, us / 2);
        }
        let back = decode_histogram(&encode_histogram(&s.latency)).unwrap();
        assert_eq!(back, s.latency);
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn recorder_splits_intervals() {
        let mut r = Recorder::new(false);
        r.ok(100, 100);
        r.error(ErrorKind::Mismatch);
        let first = r.take_interval();
        r.ok(300, 300);
        assert_eq!(first.samples(), 2);
        assert_eq!(first.errors.mismatch, 1);
        assert_eq!(r.interval.samples(), 1);
        assert_eq!(r.total.tally.samples(), 3);
        assert_eq!(r.total.tally.mean_us(), 200.0);
    }

    #[test]
    fn lateness_is_kept_in_the_open_loop_and_merges() {
        let mut closed = Stats::new(false);
        closed.sent_late(5);
        assert!(closed.lateness.is_none());
        let mut a = Stats::new(true);
        let mut b = Stats::new(true);
        a.sent_late(3);
        b.sent_late(40);
        a.add(&b).unwrap();
        let h = a.lateness.as_ref().unwrap();
        assert_eq!((h.len(), h.max()), (2, 40));
        // A part from before lateness was kept leaves the whole without it.
        let mut old = Stats::new(true);
        old.lateness = None;
        a.add(&old).unwrap();
        assert!(a.lateness.is_none());
    }

    #[test]
    fn per_user_service_merges_exactly() {
        let mut a = PerUser::new();
        for (n, wait) in [(10, 500), (0, 5_000_000), (12, 700)] {
            a.user(n, wait);
        }
        let mut b = PerUser::new();
        b.user(11, 900);
        a.add(&b).unwrap();
        assert_eq!(a.samples.len(), 4);
        assert_eq!(a.samples.count_between(0, 0), 1, "the starved user");
        assert_eq!(a.sum_sq, 100.0 + 144.0 + 121.0);
        assert_eq!(a.max_wait_us, 5_000_000);
        // A part without per-user figures leaves the merge without them.
        let mut s = Stats::new(false);
        let mut old = Stats::new(false);
        old.per_user = None;
        s.add(&old).unwrap();
        assert!(s.per_user.is_none());
    }
}
