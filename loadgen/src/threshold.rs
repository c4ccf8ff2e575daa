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
//!
//! This file reads the flag; [`crate::run::thresholds`] checks a finished run against it.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

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
    /// Whether `observed OP limit` holds (the threshold is crossed).
    pub fn holds(self, observed: f64, limit: f64) -> bool {
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
}
