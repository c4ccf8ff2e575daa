//! Pass/fail thresholds (`--fail-if`), as k6's thresholds and Gatling's assertions: a run
//! that crosses one still prints its whole report, then one line per crossed threshold,
//! and exits 3.
//!
//! Grammar: a comma-separated list of `METRIC OP VALUE` (spaces allowed around each part;
//! the flag may be repeated):
//!
//! | metric | what | value |
//! |---|---|---|
//! | `p50` `p90` `p95` `p99` `p99.9` `mean` `max` | latency of the ok samples | a number with `us`, `ms` or `s` (`5ms`, `250us`, `1.5s`) |
//! | `errors` | failed samples | a share of all samples with `%` (`0.1%`), or a count (`0`) |
//! | `rate` | ok samples per second over the run | a number, `/s` optional (`10000`, `2.5e4/s`) |
//!
//! `OP` is `>`, `>=`, `<` or `<=`, and the threshold is *crossed* when `observed OP value`
//! holds: `p99>5ms` fails a run whose p99 is over 5 ms. A latency threshold of a run without
//! one ok sample is crossed (there is no latency to show it is under).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::run::report::RunReport;

/// A `--fail-if` list that cannot be read: one line, what is wrong and an example.
#[derive(Debug, Error, PartialEq)]
#[error("--fail-if '{text}': {reason}")]
pub struct ThresholdError {
    /// The condition as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// What a threshold looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    #[serde(rename = "p99.9")]
    P999,
    Mean,
    Max,
    /// Failed samples, as a share or a count (see [`Unit`]).
    Errors,
    /// Ok samples per second.
    Rate,
}

impl Metric {
    const NAMES: [(&'static str, Metric); 9] = [
        ("p50", Metric::P50),
        ("p90", Metric::P90),
        ("p95", Metric::P95),
        ("p99", Metric::P99),
        ("p99.9", Metric::P999),
        ("mean", Metric::Mean),
        ("max", Metric::Max),
        ("errors", Metric::Errors),
        ("rate", Metric::Rate),
    ];

    /// The name as written in `--fail-if`.
    pub fn name(self) -> &'static str {
        Metric::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_latency(self) -> bool {
        !matches!(self, Metric::Errors | Metric::Rate)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// The unit a threshold's limit and observed value are in (in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Microseconds (every latency, whatever unit it was written in).
    Us,
    /// Percent of all samples.
    Percent,
    /// A number of samples.
    Count,
    /// Per second.
    PerS,
}

/// One parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As given, without surrounding spaces.
    pub text: String,
    /// What it looks at.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The limit's unit.
    pub unit: Unit,
}

/// A threshold checked against a run (kept in the JSON report, `thresholds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    /// The condition as given (`p99>5ms`).
    pub threshold: String,
    /// `p50`, `p90`, `p95`, `p99`, `p99.9`, `mean`, `max`, `errors` or `rate`.
    pub metric: Metric,
    /// `>`, `>=`, `<` or `<=`.
    pub op: Op,
    /// The limit, in `unit` (a latency in microseconds: `5ms` is 5000).
    pub limit: f64,
    /// `us`, `percent`, `count` or `per_s`.
    pub unit: Unit,
    /// The run's figure in `unit`; none for a latency of a run without ok samples.
    pub observed: Option<f64>,
    /// Whether `observed op limit` held (or the figure is missing): the run failed it.
    pub crossed: bool,
}

impl fmt::Display for Checked {
    /// `threshold crossed: p99>5ms (p99 was 7.120 ms)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.crossed { "crossed" } else { "passed" };
        write!(f, "threshold {verdict}: {} ", self.threshold)?;
        let name = self.metric.name();
        match (self.observed, self.unit) {
            (None, _) => write!(f, "(no ok sample, so no {name})"),
            (Some(v), Unit::Us) => write!(f, "({name} was {:.3} ms)", v / 1000.0),
            (Some(v), Unit::Percent) => write!(f, "({name} was {v:.3}%)"),
            (Some(v), Unit::Count) => write!(f, "({name} was {v})"),
            (Some(v), Unit::PerS) => write!(f, "({name} was {v:.1}/s)"),
        }
    }
}

/// Parses every `--fail-if` given (each a comma-separated list).
pub fn parse_all(lists: &[String]) -> Result<Vec<Threshold>, ThresholdError> {
    let mut v = Vec::new();
    for list in lists {
        for part in list.split(',') {
            v.push(parse(part)?);
        }
    }
    Ok(v)
}

/// Parses one `METRIC OP VALUE`.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let text = text.trim();
    let err = |reason: String| ThresholdError {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(err(
            "an empty condition; expected e.g. 'p99>5ms,errors>0.1%,rate<10000'".into(),
        ));
    }
    let at = text.find(['<', '>']).ok_or_else(|| {
        err("no comparison: expected METRIC OP VALUE, OP one of > >= < <= (e.g. p99>5ms)".into())
    })?;
    let (name, rest) = text.split_at(at);
    let (op, value) = match rest.as_bytes() {
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', ..] => (Op::Gt, &rest[1..]),
        _ => (Op::Lt, &rest[1..]),
    };
    let name = name.trim();
    let value = value.trim();
    let metric = Metric::NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, m)| m)
        .ok_or_else(|| {
            let names: Vec<&str> = Metric::NAMES.iter().map(|(n, _)| *n).collect();
            err(format!(
                "unknown metric '{name}'; metrics: {}",
                names.join(", ")
            ))
        })?;
    let number = |s: &str, what: &str| -> Result<f64, ThresholdError> {
        match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(err(format!(
                "'{value}' is not {what} (a number of 0 or more)"
            ))),
        }
    };
    let (limit, unit) = if metric.is_latency() {
        let (digits, scale) = if let Some(n) = value.strip_suffix("us") {
            (n, 1.0)
        } else if let Some(n) = value.strip_suffix("ms") {
            (n, 1e3)
        } else if let Some(n) = value.strip_suffix('s') {
            (n, 1e6)
        } else {
            return Err(err(format!(
                "a latency needs a unit, us, ms or s (e.g. {name}{}5ms)",
                op.symbol()
            )));
        };
        (number(digits, "a latency")? * scale, Unit::Us)
    } else if metric == Metric::Errors {
        match value.strip_suffix('%') {
            Some(n) => {
                let p = number(n, "a percentage")?;
                if p > 100.0 {
                    return Err(err(format!("{value} is more than 100%")));
                }
                (p, Unit::Percent)
            }
            None => {
                let n = number(value, "a count")?;
                if n.fract() != 0.0 {
                    return Err(err(format!(
                        "{value} is not a whole count (a share needs %, e.g. errors>0.1%)"
                    )));
                }
                (n, Unit::Count)
            }
        }
    } else {
        let n = value.strip_suffix("/s").unwrap_or(value);
        (number(n, "a rate")?, Unit::PerS)
    };
    Ok(Threshold {
        text: text.to_string(),
        metric,
        op,
        limit,
        unit,
    })
}

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
        (Metric::Errors, Unit::Percent) => Some(if r.samples == 0 {
            0.0
        } else {
            r.errors as f64 * 100.0 / r.samples as f64
        }),
        (Metric::Errors, _) => Some(r.errors as f64),
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

    fn one(s: &str) -> Threshold {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_documented_example_parses() {
        let v = parse_all(&["p99>5ms,errors>0.1%,rate<10000".into()]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].metric, v[0].op, v[0].limit),
            (Metric::P99, Op::Gt, 5000.0)
        );
        assert_eq!(
            (v[1].metric, v[1].unit, v[1].limit),
            (Metric::Errors, Unit::Percent, 0.1)
        );
        assert_eq!(
            (v[2].metric, v[2].op, v[2].unit),
            (Metric::Rate, Op::Lt, Unit::PerS)
        );
        assert_eq!(v[2].limit, 10000.0);
    }

    #[test]
    fn units_operators_and_spaces() {
        assert_eq!(one("p50 >= 250us").limit, 250.0);
        assert_eq!(one("p50 >= 250us").op, Op::Ge);
        assert_eq!(one("max<=1.5s").limit, 1.5e6);
        assert_eq!(one("max<=1.5s").op, Op::Le);
        assert_eq!(one("p99.9>2ms").metric, Metric::P999);
        assert_eq!(one("mean > 0.5ms").limit, 500.0);
        let e = one("errors>0");
        assert_eq!((e.unit, e.limit), (Unit::Count, 0.0));
        assert_eq!(one("rate<2.5e4/s").limit, 25000.0);
        let v = parse_all(&["p99>5ms".into(), "errors>0".into()]).unwrap();
        assert_eq!(v.len(), 2, "the flag may be repeated");
    }

    #[test]
    fn malformed_conditions_are_one_line_each() {
        for bad in [
            "",
            "p99>5ms,",
            "p99",
            "p99=5ms",
            "p98>5ms",
            "p99>5",
            "p99>ms",
            "p99>-1ms",
            "p99>5ks",
            "errors>",
            "errors>101%",
            "errors>1.5",
            "rate<fast",
            "rate<inf",
            ">5ms",
        ] {
            let e = parse_all(&[bad.into()]).expect_err(&format!("'{bad}' should be refused"));
            let line = e.to_string();
            assert!(line.starts_with("--fail-if '"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
        let e = parse("p99>5").unwrap_err();
        assert!(e.reason.contains("us, ms or s"), "{e}");
        let e = parse("latency>5ms").unwrap_err();
        assert!(
            e.reason.contains("p99"),
            "the known metrics are listed: {e}"
        );
    }

    fn report(ok: u64, errors: u64, p99_us: u64, ok_per_s: f64) -> RunReport {
        use crate::probe::{CpuUsage, Environment};
        use crate::run::report::{Meta, Settings};
        use crate::stats::Stats;
        use clap::Parser;
        let opts = crate::Opts::parse_from(["loadgen", "--loops", "1"]);
        let plan = crate::Plan::from_args(&opts.load).unwrap();
        let mut stats = Stats::new(false);
        for _ in 0..ok {
            stats.ok(100, 100);
        }
        stats.tally.errors.refused = errors;
        let meta = Meta {
            settings: Settings::of(&plan),
            environment: Environment::default(),
            parts: 1,
            started_unix_ms: 0,
            elapsed_s: 1.0,
            planned_samples: None,
            users: (1, 1),
            intervals: vec![],
            loadgen_cpu: CpuUsage::default(),
            server: None,
        };
        let mut r = RunReport::build(meta, &stats);
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
