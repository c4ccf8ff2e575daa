//! The server's own service time per request (`--stats-file`): from the first byte of a
//! request read to the last byte of its reply written, so it excludes any wait in the
//! listen backlog. Written on exit as JSON.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// One histogram for the process. Its lock is taken once per request and only while
/// `--stats-file` is given; at the request rates of the workload runs it is uncontended.
static HISTOGRAM: Mutex<Option<Histogram<u64>>> = Mutex::new(None);

fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 us to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Turns recording on (done once at start-up when `--stats-file` is given).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The start of a request, if service times are being recorded.
pub fn start() -> Option<Instant> {
    ENABLED.load(Ordering::Relaxed).then(Instant::now)
}

/// Records a request that started at `started` (from [`start`]) and has just been
/// answered.
pub fn finish(started: Option<Instant>) {
    if let Some(t) = started {
        let us = t.elapsed().as_micros().max(1) as u64;
        let mut h = HISTOGRAM.lock().unwrap_or_else(|e| e.into_inner());
        h.get_or_insert_with(new_histogram).saturating_record(us);
    }
}

/// Writes the percentiles (microseconds) as JSON.
pub fn write(path: &Path) -> std::io::Result<()> {
    let all = HISTOGRAM
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(new_histogram);
    let q = |p: f64| all.value_at_quantile(p);
    let json = format!(
        "{{\n  \"what\": \"server service time per request, first byte read to last byte \
         written, microseconds\",\n  \"requests\": {},\n  \"mean_us\": {:.1},\n  \
         \"min_us\": {},\n  \"p50_us\": {},\n  \"p90_us\": {},\n  \"p95_us\": {},\n  \
         \"p99_us\": {},\n  \"p999_us\": {},\n  \"max_us\": {}\n}}\n",
        all.len(),
        all.mean(),
        all.min(),
        q(0.5),
        q(0.9),
        q(0.95),
        q(0.99),
        q(0.999),
        all.max()
    );
    std::fs::write(path, json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn records_across_threads_and_writes_percentiles() {
        enable();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10 {
                        let t = start();
                        std::thread::sleep(Duration::from_millis(1));
                        finish(t);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let path = std::env::temp_dir().join(format!("service-{}.json", std::process::id()));
        write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let field = |name: &str| -> u64 {
            let rest = text.split(&format!("\"{name}\": ")).nth(1).unwrap();
            rest.split([',', '\n']).next().unwrap().parse().unwrap()
        };
        // Other tests in this process may record too: lower bounds only.
        assert!(field("requests") >= 30, "{text}");
        assert!(field("max_us") >= 1000, "{text}");
    }
}
