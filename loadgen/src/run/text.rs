//! The text report: JMeter summariser lines, then the figures JMeter does not print.
//!
//! `summary +` / `summary =` lines follow JMeter's `Summariser.format` exactly: samples
//! right-aligned in 6, elapsed as hh:mm:ss (rounded seconds), rate with one decimal in 6
//! (`******` when nothing elapsed), Avg/Min/Max in whole milliseconds in 5, errors in 5 and
//! their share with two decimals; `+` lines add Active/Started/Finished users. One
//! difference: JMeter averages failed samples' times in too, loadgen's figures are those of
//! the ok samples (errors are counted, their times are not latencies).
//!
//! An open-loop run adds a line for loadgen's own send lateness (actual send - due time),
//! so a run whose client was late says so beside the latencies it charged to the server.

use std::fmt::Write as _;
use std::time::Duration;

use super::report::{Latency, RunReport, SendLateness, Settings};
use crate::stats::{ErrorKind, Tally};

/// `hh:mm:ss` of whole seconds, as JMeter's `JOrphanUtils.formatDuration`.
fn hms(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// One summariser line: `kind` is `+` (an interval, with users) or `=` (the run so far).
pub fn summary_line(
    kind: char,
    t: &Tally,
    elapsed: Duration,
    users: Option<(u64, u64, u64)>,
) -> String {
    let n = t.samples();
    let ms = elapsed.as_millis() as u64;
    let rate = if !elapsed.is_zero() && n > 0 {
        format!("{:>6.1}", n as f64 / elapsed.as_secs_f64())
    } else if n == 0 {
        format!("{:>6.1}", 0.0)
    } else {
        "******".into()
    };
    let avg = t.sum_us.checked_div(t.ok).unwrap_or(0) / 1000;
    let min = if t.ok == 0 { 0 } else { t.min_us / 1000 };
    let err = t.errors.total();
    let pct = if n == 0 {
        0.0
    } else {
        err as f64 * 100.0 / n as f64
    };
    let mut line = format!(
        "summary {kind} {n:>6} in {} = {rate}/s Avg: {avg:>5} Min: {min:>5} Max: {:>5} Err: {err:>5} ({pct:.2}%)",
        hms((ms + 500) / 1000),
        t.max_us / 1000,
    );
    if let Some((active, started, finished)) = users {
        let _ = write!(
            line,
            " Active: {active} Started: {started} Finished: {finished}"
        );
    }
    line
}

/// A summariser line read back into its numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryLine {
    /// `+` or `=`.
    pub kind: char,
    /// Samples.
    pub samples: u64,
    /// Elapsed whole seconds (JMeter 2.x's `0.2s` rounded).
    pub elapsed_s: u64,
    /// Samples per second (None for `******`).
    pub rate: Option<f64>,
    /// Avg, Min, Max in milliseconds.
    pub avg_ms: u64,
    /// Min in milliseconds.
    pub min_ms: u64,
    /// Max in milliseconds.
    pub max_ms: u64,
    /// Failed samples.
    pub errors: u64,
    /// Their share in percent.
    pub error_pct: f64,
    /// Active, Started, Finished (on `+` lines).
    pub users: Option<(u64, u64, u64)>,
}

/// Parses a line written by [`summary_line`] (or by JMeter's summariser).
pub fn parse_summary_line(line: &str) -> Option<SummaryLine> {
    let line = line.trim();
    let at = line.find("summary ")?;
    // Skip "summary" (JMeter's log prefix, if any, is before `at`).
    let mut it = line[at..].split_whitespace().skip(1);
    let kind = it
        .next()?
        .chars()
        .next()
        .filter(|c| *c == '+' || *c == '=')?;
    let samples = it.next()?.parse().ok()?;
    (it.next()? == "in").then_some(())?;
    let elapsed_s = parse_elapsed(it.next()?)?;
    (it.next()? == "=").then_some(())?;
    let rate = it.next()?.strip_suffix("/s")?;
    let rate = if rate.starts_with('*') {
        None
    } else {
        Some(rate.parse().ok()?)
    };
    let mut field = |name: &str| -> Option<u64> {
        (it.next()? == name).then_some(())?;
        it.next()?.parse().ok()
    };
    let avg_ms = field("Avg:")?;
    let min_ms = field("Min:")?;
    let max_ms = field("Max:")?;
    let errors = field("Err:")?;
    let pct = it
        .next()?
        .strip_prefix('(')?
        .strip_suffix("%)")?
        .parse()
        .ok()?;
    let users = match it.next() {
        Some("Active:") => {
            let active = it.next()?.parse().ok()?;
            (it.next()? == "Started:").then_some(())?;
            let started = it.next()?.parse().ok()?;
            (it.next()? == "Finished:").then_some(())?;
            Some((active, started, it.next()?.parse().ok()?))
        }
        Some(_) => return None,
        None => None,
    };
    Some(SummaryLine {
        kind,
        samples,
        elapsed_s,
        rate,
        avg_ms,
        min_ms,
        max_ms,
        errors,
        error_pct: pct,
        users,
    })
}

/// A summariser line's elapsed time in whole seconds: `00:01:05` (JMeter 3 and later, and
/// loadgen), or JMeter 2.x's seconds, `65s` or `0.2s` (rounded).
fn parse_elapsed(token: &str) -> Option<u64> {
    if let Some(secs) = token.strip_suffix('s') {
        let secs: f64 = secs.parse().ok()?;
        // Past u64 seconds it is not a summary line (as below).
        return (secs >= 0.0 && secs.round() < u64::MAX as f64).then(|| secs.round() as u64);
    }
    let mut parts = token.split(':').map(|p| p.parse::<u64>());
    let (h, m, s) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    parts.next().is_none().then_some(())?;
    // Checked: an elapsed time past u64 seconds is not a summary line (fuzz/summary_line).
    h.checked_mul(3600)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(s)
}

/// The live progress line (only shown on a terminal).
pub fn progress_line(
    elapsed: Duration,
    samples: u64,
    errors: u64,
    started: u64,
    done: u64,
) -> String {
    let s = elapsed.as_secs_f64().max(1e-9);
    format!(
        "[{}] {samples} samples ({:.0}/s), {errors} errors, {} users active, {done} finished",
        hms(elapsed.as_secs()),
        samples as f64 / s,
        started - done,
    )
}

/// The line printed before the run starts.
pub fn header(s: &Settings) -> String {
    let stop = match (s.loops, s.duration_s) {
        (Some(l), _) => format!("{l} loops"),
        (None, Some(d)) => fmt_secs(d),
        _ => "?".into(),
    };
    let mut line = format!(
        "loadgen {}: {} users x {stop}, {}-byte {}messages to {}",
        env!("CARGO_PKG_VERSION"),
        s.threads,
        s.message_size,
        if s.framed { "framed " } else { "" },
        s.target,
    );
    if s.rampup_s > 0.0 {
        let _ = write!(line, ", ramp-up {}", fmt_secs(s.rampup_s));
    }
    if s.warmup_s > 0.0 {
        let _ = write!(line, " after a {} warm-up", fmt_secs(s.warmup_s));
    }
    if let Some(r) = s.rate {
        let _ = write!(line, ", open loop at {r} requests/s");
    }
    if !s.reuse {
        line.push_str(", new connection per sample");
    }
    if s.half_close {
        line.push_str(" (half-closed after the request)");
    }
    let _ = write!(
        line,
        ", timeout {}, {} worker(s)",
        fmt_secs(s.timeout_s),
        s.workers
    );
    if s.procs > 1 {
        let _ = write!(line, " in each of {} processes", s.procs);
    }
    line
}

fn fmt_secs(s: f64) -> String {
    if s >= 1.0 && s.fract() == 0.0 {
        format!("{s}s")
    } else {
        format!("{}ms", (s * 1000.0 * 1000.0).round() / 1000.0)
    }
}

fn latency_line(label: &str, l: &Latency) -> String {
    format!(
        "{label} p50 {} p90 {} p95 {} p99 {} p99.9 {} max {} (min {}, mean {:.1})",
        l.p50, l.p90, l.p95, l.p99, l.p999, l.max, l.min, l.mean
    )
}

/// loadgen's own delay in sending, open loop.
fn lateness_line(l: &SendLateness) -> String {
    format!(
        "send lateness us (loadgen's own: actual send - due, {} requests sent with their \
         connection free): p50 {} p99 {} max {}",
        l.count, l.p50, l.p99, l.max
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The final `summary =` line and everything after it.
pub fn render(r: &RunReport) -> String {
    let tally = r.tally();
    let elapsed = Duration::from_secs_f64(r.run.elapsed_s.max(0.0));
    let mut o = String::new();
    let _ = writeln!(o, "{}", summary_line('=', &tally, elapsed, None));
    let planned = match r.run.planned_samples {
        Some(p) => format!("{p} planned, "),
        None => String::new(),
    };
    let unsent = match r.unsent {
        0 => String::new(),
        n => format!(
            ", {n} never sent (due while their connection still waited for an earlier echo)"
        ),
    };
    let _ = writeln!(
        o,
        "samples: {planned}{} completed ({} ok, {} errors){unsent}, users {} started, {} finished",
        r.samples, r.ok, r.errors, r.users_started, r.users_finished
    );
    match &r.raw_latency_us {
        None => {
            let _ = writeln!(o, "{}", latency_line("latency us:", &r.latency_us));
        }
        Some(raw) => {
            let _ = writeln!(
                o,
                "{}",
                latency_line("latency us, from due time (corrected):", &r.latency_us)
            );
            let _ = writeln!(
                o,
                "{}",
                latency_line("latency us, from actual send (raw):    ", raw)
            );
            let _ = writeln!(
                o,
                "corrected vs raw: corrected counts from when each request was due, so time a \
                 request waited behind a late reply is included; a gap between the two means \
                 the server stalled, which the raw figures hide (coordinated omission)"
            );
        }
    }
    if let Some(l) = &r.send_lateness_us {
        let _ = writeln!(o, "{}", lateness_line(l));
    }
    if let Some(f) = &r.fairness {
        let _ = writeln!(o, "{}", fairness_line(f));
    }
    if r.errors == 0 {
        let _ = writeln!(o, "errors: none");
    } else {
        let kinds: Vec<String> = ErrorKind::ALL
            .iter()
            .map(|&k| format!("{} {}", k.name(), r.errors_by_kind.get(k)))
            .collect();
        let _ = writeln!(o, "errors: {}", kinds.join(", "));
    }
    let secs = r.run.elapsed_s.max(1e-9);
    let _ = writeln!(
        o,
        "throughput: {:.1} samples/s over {:.3} s; {:.2} MB/s sent, {:.2} MB/s received",
        r.throughput_per_s,
        r.run.elapsed_s,
        r.bytes_sent as f64 / secs / 1e6,
        r.bytes_received as f64 / secs / 1e6
    );
    if r.run.settings.framed {
        let _ = writeln!(
            o,
            "frames: {:.2} frames/s ok, {:.2} MB/s of payload one way ({}-byte frames whole \
             and checked, headers not counted; MB = 10^6 bytes)",
            r.ok_per_s, r.payload_mb_per_s, r.run.settings.message_size
        );
    }
    let c = &r.loadgen_cpu;
    // An imported JMeter run has no loadgen CPU to show.
    if r.run.settings.generator == "loadgen" {
        let _ = writeln!(
            o,
            "loadgen cpu: user {:.2} s, system {:.2} s ({:.1}% of one CPU), {:.2} us per sample; \
             context switches {} voluntary, {} involuntary",
            c.user_s,
            c.system_s,
            c.total_s() / secs * 100.0,
            r.loadgen_cpu_us_per_sample,
            c.voluntary_ctxt_switches,
            c.involuntary_ctxt_switches
        );
    }
    if let Some(s) = &r.server {
        let _ = writeln!(
            o,
            "server pid {}: cpu user {:.1}% system {:.1}% (of one CPU, as top), {:.2} us per \
             sample; rss {}, vsz {}; {} threads; context switches {} voluntary, {} involuntary{}",
            s.pid,
            s.cpu_user_pct,
            s.cpu_system_pct,
            r.server_cpu_us_per_sample.unwrap_or(0.0),
            mib(s.rss_kib),
            mib(s.vsz_kib),
            s.threads,
            s.cpu.voluntary_ctxt_switches,
            s.cpu.involuntary_ctxt_switches,
            if s.alive_at_end {
                ""
            } else {
                " (it exited during the run)"
            }
        );
    }
    if r.run.parts > 1 {
        let _ = writeln!(
            o,
            "merged {} runs exactly: counts added, histograms merged",
            r.run.parts
        );
    }
    o
}

/// The per-connection line: samples per user, starved users, Jain's index, longest wait.
pub fn fairness_line(f: &super::report::Fairness) -> String {
    format!(
        "per connection: {} users, ok samples per user min {} / p1 {} / median {} / max {}, {} with none, Jain's index {:.3}, longest wait for an echo {:.1} ms",
        f.users,
        f.min,
        f.p1,
        f.median,
        f.max,
        f.starved,
        f.jain,
        f.max_wait_us as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally() -> Tally {
        let mut t = Tally {
            ok: 998,
            sum_us: 998 * 1500,
            min_us: 400,
            max_us: 12_300,
            ..Tally::default()
        };
        t.errors.reset = 2;
        t
    }

    #[test]
    fn open_loop_reports_its_send_lateness_and_a_closed_loop_does_not() {
        let mut open = crate::stats::Stats::new(true);
        open.ok(100, 90);
        for us in [2, 3, 4, 250] {
            open.sent_late(us);
        }
        let text = render(&crate::run::report::test_report(&open));
        let line = text.lines().find(|l| l.starts_with("send lateness us"));
        assert_eq!(
            line,
            Some(
                "send lateness us (loadgen's own: actual send - due, 4 requests sent with \
                 their connection free): p50 3 p99 250 max 250"
            )
        );
        let mut closed = crate::stats::Stats::new(false);
        closed.ok(100, 100);
        let text = render(&crate::run::report::test_report(&closed));
        assert!(!text.contains("send lateness"));
    }

    #[test]
    fn jmeter_format() {
        let line = summary_line(
            '+',
            &tally(),
            Duration::from_millis(1002),
            Some((10, 10, 0)),
        );
        assert_eq!(
            line,
            "summary +   1000 in 00:00:01 =  998.0/s Avg:     1 Min:     0 Max:    12 \
             Err:     2 (0.20%) Active: 10 Started: 10 Finished: 0"
        );
        let total = summary_line('=', &tally(), Duration::from_secs(3725), None);
        assert!(
            total.starts_with("summary =   1000 in 01:02:05 =    0.3/s"),
            "{total}"
        );
    }

    #[test]
    fn summary_line_parses_back() {
        let t = tally();
        let line = summary_line('+', &t, Duration::from_millis(2500), Some((3, 5, 2)));
        let p = parse_summary_line(&line).unwrap();
        assert_eq!(p.kind, '+');
        assert_eq!(p.samples, t.samples());
        assert_eq!(p.elapsed_s, 3);
        assert_eq!(p.rate, Some(400.0));
        assert_eq!((p.avg_ms, p.min_ms, p.max_ms), (1, 0, 12));
        assert_eq!(p.errors, 2);
        assert_eq!(p.error_pct, 0.2);
        assert_eq!(p.users, Some((3, 5, 2)));
        let zero = summary_line('=', &t, Duration::ZERO, None);
        assert!(zero.contains("******/s"), "{zero}");
        assert_eq!(parse_summary_line(&zero).unwrap().rate, None);
        assert!(parse_summary_line("summary + x in 00:00:01").is_none());
    }

    #[test]
    fn parses_a_real_jmeter_line() {
        let l = "2024-01-01 12:00:00,000 INFO o.a.j.r.Summariser: summary =  25000 in 00:00:30 \
                 =  833.2/s Avg:    11 Min:     0 Max:  1043 Err:     0 (0.00%)";
        let p = parse_summary_line(l).unwrap();
        assert_eq!((p.samples, p.elapsed_s, p.max_ms), (25000, 30, 1043));
        assert_eq!(p.users, None);
    }

    #[test]
    fn parses_jmeter_2_13_elapsed_seconds() {
        // JMeter 2.13 prints seconds, 3.0 and later hh:mm:ss.
        let l = "summary =    1000 in     2s =  498.5/s Avg:     0 Min:     0 Max:    31 Err:     0 (0.00%)";
        let p = parse_summary_line(l).unwrap();
        assert_eq!((p.samples, p.elapsed_s, p.rate), (1000, 2, Some(498.5)));
        let l = "summary +      9 in   0.5s =   18.4/s Avg:     1 Min:     0 Max:     8 Err:     0 (0.00%) Active: 0 Started: 2 Finished: 2";
        let p = parse_summary_line(l).unwrap();
        assert_eq!((p.kind, p.samples, p.elapsed_s), ('+', 9, 1));
        assert_eq!(p.users, Some((0, 2, 2)));
        let l = "summary = 2000000 in 00:01:05 = 30769.2/s Avg:    31 Min:     0 Max:  1043 Err:     3 (0.00%)";
        assert_eq!(parse_summary_line(l).unwrap().elapsed_s, 65);
        assert!(
            parse_summary_line(
                "summary = 5 in 1:2:3:4 = 1.0/s Avg: 0 Min: 0 Max: 0 Err: 0 (0.00%)"
            )
            .is_none()
        );
        assert!(
            parse_summary_line("summary = 5 in xs = 1.0/s Avg: 0 Min: 0 Max: 0 Err: 0 (0.00%)")
                .is_none()
        );
        for bad in ["1e300s", "NaNs", "-1s"] {
            let l = format!("summary = 5 in {bad} = 1.0/s Avg: 0 Min: 0 Max: 0 Err: 0 (0.00%)");
            assert!(parse_summary_line(&l).is_none(), "{l}");
        }
    }
}
