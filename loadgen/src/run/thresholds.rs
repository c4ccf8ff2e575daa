//! `--fail-if` checked against a finished run: what a run, a merge and an import do after
//! printing the report. The thresholds themselves (grammar, parsing) are
//! [`crate::threshold`]'s.

use super::report::RunReport;
use crate::threshold::{Checked, Metric, Threshold, Unit};

/// Checks the thresholds against a finished report, keeps the result in it (its
/// `thresholds`) and writes one line per crossed threshold to `out`: what a run, a merge and
/// an import do after printing the report.
pub fn apply(
    thresholds: &[Threshold],
    report: &mut RunReport,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    report.thresholds = check(thresholds, report);
    for crossed in report.thresholds.iter().filter(|c| c.crossed) {
        writeln!(out, "{crossed}")?;
    }
    Ok(())
}

/// Checks every threshold against a finished run.
pub fn check(thresholds: &[Threshold], r: &RunReport) -> Vec<Checked> {
    thresholds.iter().map(|t| check_one(t, r)).collect()
}

fn check_one(t: &Threshold, r: &RunReport) -> Checked {
    let l = &r.latency_us;
    let latency = |v: u64| (r.ok > 0).then_some(v as f64);
    let observed = match (t.metric, t.unit) {
        (Metric::P50, _) => latency(l.p50),
        (Metric::P90, _) => latency(l.p90),
        (Metric::P95, _) => latency(l.p95),
        (Metric::P99, _) => latency(l.p99),
        (Metric::P999, _) => latency(l.p999),
        (Metric::Mean, _) => (r.ok > 0).then_some(l.mean),
        (Metric::Max, _) => latency(l.max),
        (Metric::Errors, Unit::Percent) => Some(if r.requests() == 0 {
            0.0
        } else {
            r.failed() as f64 * 100.0 / r.requests() as f64
        }),
        (Metric::Errors, _) => Some(r.failed() as f64),
        (Metric::Rate, _) => Some(r.ok_per_s),
    };
    Checked {
        threshold: t.text.clone(),
        metric: t.metric,
        op: t.op,
        limit: t.limit,
        unit: t.unit,
        observed,
        crossed: observed.is_none_or(|v| t.op.holds(v, t.limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::{parse, parse_all};

    fn one(s: &str) -> Threshold {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn report(ok: u64, errors: u64, p99_us: u64, ok_per_s: f64) -> RunReport {
        let mut stats = crate::stats::Stats::new(false);
        for _ in 0..ok {
            stats.ok(100, 100);
        }
        stats.tally.errors.refused = errors;
        let mut r = crate::run::report::test_report(&stats);
        r.latency_us.p99 = p99_us;
        r.ok_per_s = ok_per_s;
        r
    }

    #[test]
    fn crossed_when_the_comparison_holds() {
        let r = report(999, 1, 7000, 999.0);
        let t = parse_all(&[
            "p99>5ms,p99>10ms,errors>0.1%,errors>0.05%,errors>=1,rate<1000,rate<10".into(),
        ])
        .unwrap();
        let c = check(&t, &r);
        let crossed: Vec<bool> = c.iter().map(|c| c.crossed).collect();
        assert_eq!(crossed, [true, false, false, true, true, true, false]);
        assert_eq!(c[0].observed, Some(7000.0));
        assert!((c[2].observed.unwrap() - 0.1).abs() < 1e-9, "{:?}", c[2]);
        assert_eq!(
            c[0].to_string(),
            "threshold crossed: p99>5ms (p99 was 7.000 ms)"
        );
        assert_eq!(
            c[6].to_string(),
            "threshold passed: rate<10 (rate was 999.0/s)"
        );
    }

    #[test]
    fn a_latency_without_ok_samples_is_crossed() {
        let r = report(0, 10, 0, 0.0);
        let c = check(&[one("p99>5ms"), one("errors>100")], &r);
        assert_eq!(c[0].observed, None);
        assert!(c[0].crossed);
        assert!(!c[1].crossed);
        assert_eq!(
            c[0].to_string(),
            "threshold crossed: p99>5ms (no ok sample, so no p99)"
        );
    }

    #[test]
    fn checked_thresholds_are_plain_json() {
        let mut r = report(10, 0, 7000, 10.0);
        r.latency_us.p999 = 7000;
        let c = check(&[one("p99.9 >= 1ms")], &r);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v[0]["threshold"], "p99.9 >= 1ms");
        assert_eq!(v[0]["metric"], "p99.9");
        assert_eq!(v[0]["op"], ">=");
        assert_eq!(v[0]["unit"], "us");
        assert_eq!(v[0]["limit"], 1000.0);
        assert_eq!(v[0]["crossed"], true);
        let back: Vec<Checked> = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
