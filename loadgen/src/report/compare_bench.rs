//! `loadgen compare A B` for two bench folders: before and after a change (a tokio upgrade,
//! a server patch), every model at every point and ranking metric both share gets the
//! ratio B / A of its geometric means with a 95% bootstrap interval and a verdict by the
//! same margin rule as a bench's own verdicts. The two benches ran at different times, so
//! their runs are not paired: each side is resampled on its own, which makes the interval
//! wider than a paired one (a change has to clear the noise between hours too).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use super::markdown::{num, table};
use super::verdict::{self, Interval, Metric, Verdict};
use crate::bench::data::{BenchResults, DataError, RunStatus};
use crate::rng::Rng;

/// Two benches that cannot be compared.
#[derive(Debug, Error)]
pub enum CompareError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("the benches' settings differ ({0}): compare runs made the same way")]
    Mismatch(String),
    #[error("the benches share no model at any point")]
    Nothing,
    #[error("--margin must be a fraction above 0 and below 1 (0.03 is 3%)")]
    BadMargin,
}

/// The first setting that differs between two benches, if any.
fn mismatch(a: &BenchResults, b: &BenchResults) -> Option<String> {
    let (x, y) = (&a.config, &b.config);
    if x.duration_s != y.duration_s {
        return Some(format!(
            "--duration {}s and {}s",
            x.duration_s, y.duration_s
        ));
    }
    if x.scale != y.scale {
        return Some(format!("--scale {} and {}", x.scale, y.scale));
    }
    if x.server_procs != y.server_procs {
        return Some(format!(
            "--server-procs {} and {}",
            x.server_procs, y.server_procs
        ));
    }
    // The same point must have run with the same loadgen flags.
    let flags = |r: &BenchResults| -> BTreeMap<(String, String), Vec<String>> {
        r.runs
            .iter()
            .filter(|run| run.report.is_some())
            .map(|run| ((run.suite.clone(), run.point.clone()), run.args.clone()))
            .collect()
    };
    let (fa, fb) = (flags(a), flags(b));
    fa.iter().find_map(|(k, v)| {
        fb.get(k)
            .filter(|w| *w != v)
            .map(|w| format!("{} {}: {} and {}", k.0, k.1, v.join(" "), w.join(" ")))
    })
}

/// A model's figures at a point: natural logs of the ok runs' positive values.
fn logs(r: &BenchResults, suite: &str, point: &str, model: &str, m: &Metric) -> Vec<f64> {
    r.runs
        .iter()
        .filter(|x| {
            x.suite == suite && x.point == point && x.model == model && x.status == RunStatus::Ok
        })
        .filter_map(|x| (m.value)(x))
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::ln)
        .collect()
}

/// One row of the comparison.
#[derive(Debug, Clone)]
pub struct Change {
    /// Suite.
    pub suite: String,
    /// Point.
    pub point: String,
    /// The metric.
    pub metric: Metric,
    /// Model.
    pub model: String,
    /// Geometric mean in A, runs.
    pub a: (f64, usize),
    /// Geometric mean in B, runs.
    pub b: (f64, usize),
    /// B / A.
    pub interval: Interval,
    /// The verdict of B against A.
    pub verdict: Verdict,
}

/// Every model, point and metric the two benches share, in A's order.
pub fn changes(
    a: &BenchResults,
    b: &BenchResults,
    margin: f64,
) -> Result<Vec<Change>, CompareError> {
    if let Some(why) = mismatch(a, b) {
        return Err(CompareError::Mismatch(why));
    }
    let mut points: Vec<(String, String, String)> = Vec::new();
    for r in &a.runs {
        let key = (r.suite.clone(), r.point.clone(), r.kind.clone());
        if !points.contains(&key) {
            points.push(key);
        }
    }
    let mut out = Vec::new();
    for (suite, point, kind) in &points {
        for metric in verdict::metrics_for(suite, kind) {
            for model in &a.config.models {
                let (la, lb) = (
                    logs(a, suite, point, model, &metric),
                    logs(b, suite, point, model, &metric),
                );
                let mut rng = Rng::keyed(
                    verdict::BOOTSTRAP_SEED,
                    &[suite, point, metric.key, model],
                    1,
                );
                let Some(iv) = verdict::bootstrap_unpaired(&la, &lb, &mut rng) else {
                    continue;
                };
                let gm = |l: &[f64]| (l.iter().sum::<f64>() / l.len() as f64).exp();
                out.push(Change {
                    suite: suite.clone(),
                    point: point.clone(),
                    metric,
                    model: model.clone(),
                    a: (gm(&la), la.len()),
                    b: (gm(&lb), lb.len()),
                    interval: iv,
                    verdict: verdict::judge(&iv, margin, metric.better),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(CompareError::Nothing);
    }
    Ok(out)
}

/// The Markdown table, with a line on how to read it.
pub fn markdown(a_name: &str, b_name: &str, rows: &[Change], margin: f64) -> String {
    let header: Vec<String> = [
        "suite",
        "point",
        "metric",
        "model",
        "A",
        "B",
        "B / A [95% interval]",
        "verdict (B against A)",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            vec![
                c.suite.clone(),
                c.point.clone(),
                c.metric.label.into(),
                c.model.clone(),
                format!("{} ({} runs)", num(c.a.0, 2), c.a.1),
                format!("{} ({} runs)", num(c.b.0, 2), c.b.1),
                c.interval.cell(),
                c.verdict.word(&c.metric).into(),
            ]
        })
        .collect();
    let mut s = format!("A: {a_name}\nB: {b_name}\n\n");
    s.push_str(&table(&header, &body));
    let _ = writeln!(
        s,
        "\nA and B are geometric means over each bench's runs. The interval resamples each bench's runs on its own (the two were not paired), 95%, {} resamples; B is better or worse only when the interval clears 1 by more than {}%, equivalent when it lies within 1 ± {}%, inconclusive otherwise.",
        verdict::RESAMPLES,
        margin * 100.0,
        margin * 100.0
    );
    s
}

/// Reads `a/raw.json` and `b/raw.json` and renders the comparison.
pub fn compare_dirs(a: &Path, b: &Path, margin: Option<f64>) -> Result<String, CompareError> {
    let ra = BenchResults::read(&a.join("raw.json"))?;
    let rb = BenchResults::read(&b.join("raw.json"))?;
    let margin = margin.unwrap_or(ra.config.margin);
    if !(margin > 0.0 && margin < 1.0) {
        return Err(CompareError::BadMargin);
    }
    let rows = changes(&ra, &rb, margin)?;
    Ok(markdown(
        &a.display().to_string(),
        &b.display().to_string(),
        &rows,
        margin,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verdict::tests::synthetic;

    #[test]
    fn a_change_is_called_only_when_it_clears_the_noise() {
        let a = synthetic(10);
        let mut b = synthetic(10);
        for r in b.runs.iter_mut().filter(|r| r.model == "fast") {
            r.messages_per_s = r.messages_per_s.map(|v| v * 2.0);
        }
        let rows = changes(&a, &b, 0.03).unwrap();
        let row = |m: &str| rows.iter().find(|c| c.model == m).unwrap();
        assert_eq!(row("fast").verdict, Verdict::Better);
        assert!((row("fast").interval.ratio - 2.0).abs() < 1e-9);
        // The same data on both sides: no change can be called.
        assert_ne!(row("epoll").verdict, Verdict::Better);
        assert_ne!(row("epoll").verdict, Verdict::Worse);
        let md = markdown("a", "b", &rows, 0.03);
        assert!(
            md.contains("| pingpong | 100 | messages/s | fast |"),
            "{md}"
        );
        assert!(md.contains("2.000 ["), "{md}");
    }

    #[test]
    fn settings_must_match() {
        let a = synthetic(4);
        let mut b = synthetic(4);
        b.config.duration_s = 9.0;
        assert!(matches!(
            changes(&a, &b, 0.03),
            Err(CompareError::Mismatch(w)) if w.contains("--duration")
        ));
        let mut c = synthetic(4);
        c.runs.clear();
        assert!(matches!(changes(&a, &c, 0.03), Err(CompareError::Nothing)));
    }
}
