//! The server's own service time per request (`--stats-file`): from the first byte of a
//! request read to the last byte of its reply written, so it excludes any wait in the
//! listen backlog. Written on exit as JSON.
//!
//! What the file holds: every request whose reply was written in full before the exit
//! signal, and none that was not. A reply's last byte can reach the client before the
//! serving thread records it (the client may read it, and send SIGTERM, while that thread
//! waits for a CPU between its `write` and the record), so a server marks a reply as
//! *being sent* ([`replying`]) before the write that may finish it, and records it after
//! ([`Reply::sent`]). At exit, [`write`] waits for the replies being sent to be recorded
//! (at most [`GRACE`], for a write stuck on a client that does not read) before it reads
//! the histogram. Recording before the write instead would count replies that were never
//! delivered and leave the write itself out of the service time.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// One histogram for the process. Its lock is taken once per request and only while
/// `--stats-file` is given; at the request rates of the workload runs it is uncontended.
static HISTOGRAM: Mutex<Option<Histogram<u64>>> = Mutex::new(None);
/// Replies whose last write may have reached the client but which are not recorded yet.
static REPLYING: AtomicUsize = AtomicUsize::new(0);
/// `--stats-warmup`, in nanoseconds.
static WARMUP_NS: AtomicU64 = AtomicU64::new(0);
/// When the first request began.
static FIRST: OnceLock<Instant> = OnceLock::new();
/// Requests sent in full but left out as warm-up.
static LEFT_OUT: AtomicU64 = AtomicU64::new(0);

/// A model's own counters (`counter`), written into the stats file as `"counters"`.
static COUNTERS: Mutex<Vec<(&'static str, &'static AtomicU64)>> = Mutex::new(Vec::new());

/// Longest wait at exit for replies being sent to be recorded. Well under the contract's
/// one second to exit; a reply that is really on its way is recorded in microseconds.
pub const GRACE: Duration = Duration::from_millis(300);

fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 us to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Turns recording on (done once at start-up when `--stats-file` is given), leaving out
/// the requests that begin within `warmup` of the first.
pub fn enable(warmup: Duration) {
    WARMUP_NS.store(warmup.as_nanos() as u64, Ordering::Relaxed);
    ENABLED.store(true, Ordering::Relaxed);
}

/// The start of a request, if service times are being recorded.
pub fn start() -> Option<Instant> {
    ENABLED.load(Ordering::Relaxed).then(|| {
        let now = Instant::now();
        FIRST.get_or_init(|| now);
        now
    })
}

/// Starts the `--stats-warmup` clock now, unless a request has started it already. A
/// prefork worker calls it when it is listening ([`crate::prefork`]), so that every worker's
/// warm-up ends at about the same moment: counted from each worker's own first request, a
/// worker that got its first connection late would leave out requests that its siblings
/// count, and the workers' shares of the requests would be skewed by the measurement.
pub fn start_warmup_clock() {
    FIRST.get_or_init(Instant::now);
}

/// Adds a model's own counter to the stats file, as `"counters": {"name": value}` (the
/// pool's full-queue hand-offs, say). Prefork parts are summed, except a counter whose
/// name ends in `_max`, of which the largest is kept.
pub fn counter(name: &'static str, value: &'static AtomicU64) {
    COUNTERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name, value));
}

/// The registered counters' values now.
fn counters_now() -> Vec<(String, u64)> {
    let counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
    counters
        .iter()
        .map(|(name, v)| (name.to_string(), v.load(Ordering::Relaxed)))
        .collect()
}

/// Whether a request that began at `started` counts: not within `warmup` of `first`.
fn past_warmup(started: Instant, first: Instant, warmup: Duration) -> bool {
    started.saturating_duration_since(first) >= warmup
}

/// A reply being sent: made with [`replying`] just before a write that may send its last
/// byte. [`Reply::sent`] records it; dropping it instead (the write failed, or sent only
/// part of the reply) records nothing.
#[derive(Debug)]
#[must_use = "a reply is recorded by Reply::sent"]
pub struct Reply {
    started: Option<Instant>,
}

/// Marks the reply to a request that started at `started` (from [`start`]) as being sent:
/// call it before the write that may finish the reply, so that the exit-time [`write`]
/// waits for its record.
pub fn replying(started: Option<Instant>) -> Reply {
    if started.is_some() {
        REPLYING.fetch_add(1, Ordering::SeqCst);
    }
    Reply { started }
}

impl Reply {
    /// The whole reply was written: records its service time.
    pub fn sent(mut self) {
        if let Some(t) = self.started.take() {
            let warmup = Duration::from_nanos(WARMUP_NS.load(Ordering::Relaxed));
            if FIRST
                .get()
                .is_none_or(|&first| past_warmup(t, first, warmup))
            {
                let us = t.elapsed().as_micros().max(1) as u64;
                let mut h = HISTOGRAM.lock().unwrap_or_else(|e| e.into_inner());
                h.get_or_insert_with(new_histogram).saturating_record(us);
            } else {
                LEFT_OUT.fetch_add(1, Ordering::Relaxed);
            }
            REPLYING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if self.started.is_some() {
            REPLYING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Writes the percentiles (microseconds) as JSON, once the replies being sent are
/// recorded (or [`GRACE`] has passed). Besides the percentiles the file holds the
/// connections this process accepted and the histogram itself (`[value_us, count]` pairs),
/// so that the parts of prefork workers merge exactly ([`merge`]).
pub fn write(path: &Path) -> std::io::Result<()> {
    let deadline = Instant::now() + GRACE;
    while REPLYING.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let all = HISTOGRAM
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(new_histogram);
    let totals = Totals {
        connections: crate::conn::counts().1,
        warmup_us: WARMUP_NS.load(Ordering::Relaxed) / 1000,
        left_out: LEFT_OUT.load(Ordering::Relaxed),
        counters: counters_now(),
    };
    std::fs::write(path, render(&all, &totals))
}

/// The counts a stats file holds besides the histogram.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    connections: u64,
    warmup_us: u64,
    left_out: u64,
    /// The model's own counters ([`counter`]), in the order registered.
    counters: Vec<(String, u64)>,
}

impl Totals {
    /// Adds a prefork part's counters: summed, or the largest for a `_max` counter.
    fn add_counters(&mut self, part: &[(String, u64)]) {
        for (name, value) in part {
            match self.counters.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) if name.ends_with("_max") => *v = (*v).max(*value),
                Some((_, v)) => *v += value,
                None => self.counters.push((name.clone(), *value)),
            }
        }
    }
}

/// The `"counters": {..},` line, empty without counters.
fn render_counters(counters: &[(String, u64)]) -> String {
    if counters.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = counters
        .iter()
        .map(|(name, v)| format!("\"{name}\": {v}"))
        .collect();
    format!("\"counters\": {{{}}},\n  ", pairs.join(", "))
}

/// The counters of a stats file's `"counters"` line (none without one).
fn parse_counters(text: &str) -> Option<Vec<(String, u64)>> {
    let Some(rest) = text.split("\"counters\": {").nth(1) else {
        return Some(Vec::new());
    };
    let inner = rest.split('}').next()?;
    inner
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, v) = pair.split_once(": ")?;
            Some((name.trim_matches('"').to_string(), v.parse().ok()?))
        })
        .collect()
}

fn render(all: &Histogram<u64>, t: &Totals) -> String {
    let q = |p: f64| all.value_at_quantile(p);
    let pairs: Vec<String> = all
        .iter_recorded()
        .map(|v| format!("[{}, {}]", v.value_iterated_to(), v.count_at_value()))
        .collect();
    format!(
        "{{\n  \"what\": \"server service time per request, first byte read to last byte \
         written, microseconds\",\n  \"requests\": {},\n  \"mean_us\": {:.1},\n  \
         \"min_us\": {},\n  \"p50_us\": {},\n  \"p90_us\": {},\n  \"p95_us\": {},\n  \
         \"p99_us\": {},\n  \"p999_us\": {},\n  \"max_us\": {},\n  \
         \"warmup_us\": {},\n  \"warmup_left_out\": {},\n  \"connections\": {},\n  \
         {}{}\"histogram\": [{}]\n}}\n",
        all.len(),
        all.mean(),
        all.min(),
        q(0.5),
        q(0.9),
        q(0.95),
        q(0.99),
        q(0.999),
        all.max(),
        t.warmup_us,
        t.left_out,
        t.connections,
        render_counters(&t.counters),
        allocations(),
        pairs.join(", ")
    )
}

/// The allocation counts' lines, when the process counts them ([`crate::alloc`]).
fn allocations() -> String {
    match crate::alloc::counts() {
        Some((all, large)) => {
            format!("\"allocations\": {all},\n  \"large_allocations\": {large},\n  ")
        }
        None => String::new(),
    }
}

/// The number after `"name": ` in a stats file.
fn field(text: &str, name: &str) -> Option<u64> {
    let rest = text.split(&format!("\"{name}\": ")).nth(1)?;
    rest.split([',', '\n']).next()?.trim().parse().ok()
}

/// Reads a stats file written by [`write`] back into its histogram and totals.
fn parse(text: &str) -> Option<(Histogram<u64>, Totals)> {
    let list = text
        .split("\"histogram\": [")
        .nth(1)?
        .split(']')
        .collect::<Vec<_>>();
    let mut h = new_histogram();
    // "[v, c], [v, c]]": every piece but the last two ends one pair.
    for pair in list.iter().take(list.len().saturating_sub(2)) {
        let pair = pair.trim_start_matches([',', ' ', '[']);
        let (v, c) = pair.split_once(", ")?;
        h.record_n(v.parse().ok()?, c.parse().ok()?).ok()?;
    }
    let totals = Totals {
        connections: field(text, "connections")?,
        warmup_us: field(text, "warmup_us")?,
        left_out: field(text, "warmup_left_out")?,
        counters: parse_counters(text)?,
    };
    (h.len() == field(text, "requests")?).then_some((h, totals))
}

/// Merges the stats files of prefork workers (`parts`) into one at `path`, in the same
/// format: histograms added, connections and left-out requests summed. The parts are kept
/// (they say how the work was shared). A missing part (a worker that died or was killed)
/// is logged and left out; none at all, or an unreadable one, is an error.
pub fn merge(parts: &[std::path::PathBuf], path: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut all = new_histogram();
    let mut totals = Totals::default();
    let mut found = 0;
    for part in parts {
        let Ok(text) = std::fs::read_to_string(part) else {
            crate::log!("{} is missing: its worker wrote no stats", part.display());
            continue;
        };
        let (h, t) =
            parse(&text).with_context(|| format!("{} is not a stats file", part.display()))?;
        all.add(&h).context("cannot add histograms")?;
        totals.connections += t.connections;
        totals.left_out += t.left_out;
        totals.add_counters(&t.counters);
        totals.warmup_us = t.warmup_us;
        found += 1;
    }
    if found == 0 {
        anyhow::bail!("no worker wrote its stats file part");
    }
    std::fs::write(path, render(&all, &totals)).context("cannot write it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Writes the file and returns one of its numeric fields.
    fn written(name: &str, tag: &str) -> u64 {
        let path = std::env::temp_dir().join(format!("service-{tag}-{}.json", std::process::id()));
        write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let rest = text.split(&format!("\"{name}\": ")).nth(1).unwrap();
        rest.split([',', '\n']).next().unwrap().parse().unwrap()
    }

    #[test]
    fn records_across_threads_and_writes_percentiles() {
        enable(Duration::ZERO);
        let threads: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10 {
                        let t = start();
                        std::thread::sleep(Duration::from_millis(1));
                        replying(t).sent();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Other tests in this process may record too: lower bounds only.
        assert!(written("requests", "a") >= 30);
        assert!(written("max_us", "b") >= 1000);
    }

    #[test]
    fn parts_merge_exactly() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        for v in [10u64, 20, 3000, 65_000] {
            a.record(v).unwrap();
        }
        b.record_n(61_234, 5).unwrap();
        let t = |connections| Totals {
            connections,
            warmup_us: 200_000,
            left_out: 1,
            counters: vec![("queue_full".into(), connections), ("depth_max".into(), 7)],
        };
        let (ra, rb) = (render(&a, &t(3)), render(&b, &t(2)));
        let (back, totals) = parse(&ra).unwrap();
        assert_eq!((back, totals), (a.clone(), t(3)));
        let dir = std::env::temp_dir().join(format!("merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let parts = [dir.join("s.worker-0"), dir.join("s.worker-1")];
        std::fs::write(&parts[0], &ra).unwrap();
        std::fs::write(&parts[1], &rb).unwrap();
        merge(&parts, &dir.join("s")).unwrap();
        let merged = std::fs::read_to_string(dir.join("s")).unwrap();
        let (h, totals) = parse(&merged).unwrap();
        let mut both = a.clone();
        both.add(&b).unwrap();
        assert_eq!(h, both);
        assert_eq!((totals.connections, totals.left_out), (5, 2));
        let counters = vec![("queue_full".into(), 5), ("depth_max".into(), 7)];
        assert_eq!(
            totals.counters, counters,
            "summed, and the largest of a _max"
        );
        assert_eq!(field(&merged, "requests"), Some(9));
        assert_eq!(field(&merged, "max_us"), Some(both.max()));
        // An empty histogram round-trips too; a part that is not a stats file is an error.
        assert!(parse(&render(&new_histogram(), &t(0))).is_some());
        std::fs::write(&parts[1], "{}").unwrap();
        assert!(merge(&parts, &dir.join("s")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn requests_within_the_warmup_of_the_first_are_left_out() {
        let first = Instant::now();
        let warmup = Duration::from_millis(500);
        assert!(!past_warmup(first, first, warmup));
        assert!(!past_warmup(
            first + Duration::from_millis(499),
            first,
            warmup
        ));
        assert!(past_warmup(first + warmup, first, warmup));
        assert!(past_warmup(first, first, Duration::ZERO));
    }

    #[test]
    fn exit_write_waits_for_a_reply_being_sent() {
        enable(Duration::ZERO);
        // A reply whose last byte may already be with the client, not yet recorded: the
        // file must not be written without it.
        let reply = replying(start());
        let recording = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&recording);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            flag.store(true, Ordering::SeqCst);
            reply.sent();
        });
        written("requests", "c");
        assert!(
            recording.load(Ordering::SeqCst),
            "the file was written before the reply was recorded"
        );
        sender.join().unwrap();
        // A reply that was not sent in full is dropped unrecorded and holds nothing up.
        drop(replying(start()));
        drop(replying(None));
    }
}
