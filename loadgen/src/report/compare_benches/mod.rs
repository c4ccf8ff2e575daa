//! `loadgen compare A B` for two bench folders ([`ratios`]: several side by side): before and after a change (a tokio upgrade,
//! a server patch). Two benches ran at different times, and this machine's speed differs
//! from one hour to the next by more than most changes, so their raw figures are not
//! compared. What is compared is each model's ratio to a reference model both benches ran
//! (epoll by default): within a bench that ratio is paired (same blocks or rounds), so
//! the machine's moment cancels there, and only the ratio's own noise is left. Per point,
//! metric and model: B's ratio over A's (the difference of the mean paired log-ratios),
//! with an interval that combines both benches' intervals (Welch's, unpaired), and a
//! verdict by the benches' margin rule. For a change measured in one run, paired with the
//! build before it, use `loadgen bench --variant NAME=MODEL:bin=PATH` instead.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::bench::data::{BenchResults, DataError, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::table;
use crate::report::stats::verdict::{self, Interval, Metric, Verdict};

pub mod html;
pub mod ratios;

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
    #[error(
        "the benches share no reference: A ran {a}, B ran {b}; a comparison of two runs goes through a model both ran at the same points (give --reference MODEL)"
    )]
    NoReference { a: String, b: String },
    #[error("--reference {0}: not run at any point of {1}")]
    ReferenceMissing(String, String),
    #[error("cannot write --html {path}: {source}")]
    Html {
        path: String,
        source: std::io::Error,
    },
}

/// The runs of a point in the blocked design (the ones verdicts pair).
fn runs_at<'a>(r: &'a BenchResults, suite: SuiteName, point: &str) -> Vec<&'a RunRecord> {
    r.runs
        .iter()
        .filter(|x| x.suite == suite && x.point == point && x.position.is_some())
        .collect()
}

/// How a point's runs were made: loadgen's flags, the server processes and the slices.
fn how(runs: &[&RunRecord], r: &BenchResults) -> (Vec<String>, BTreeSet<u32>, Option<String>) {
    let args = runs.first().map(|x| x.args.clone()).unwrap_or_default();
    let procs = runs.iter().map(|x| x.server_procs).collect();
    let sliced = runs.iter().any(|x| x.slice.is_some());
    let slices = sliced.then(|| match r.config.slicing {
        Some(sl) => format!("{} ms + {} ms slices", sl.warmup_ms, sl.measured_ms),
        None => "slices".into(),
    });
    (args, procs, slices)
}

/// The first flag two command lines give differently (`--duration 1s and 3s`), or both
/// lines when they differ otherwise.
fn flag_difference(a: &[String], b: &[String]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    match at {
        Some(i) if i > 0 && a[i - 1].starts_with("--") && a.len() == b.len() => {
            format!("{} {} and {}", a[i - 1], a[i], b[i])
        }
        _ => format!("{} and {}", a.join(" "), b.join(" ")),
    }
}

/// The first way a shared point was made differently in the two benches, if any (points
/// only one of them ran are not compared, and may differ).
fn mismatch(
    a: &BenchResults,
    b: &BenchResults,
    points: &[(SuiteName, String, PointKind)],
) -> Option<String> {
    for &(suite, ref point, _) in points {
        let (ha, hb) = (
            how(&runs_at(a, suite, point), a),
            how(&runs_at(b, suite, point), b),
        );
        let at = format!("{suite} {point}");
        if ha.1 != hb.1 {
            let list =
                |s: &BTreeSet<u32>| s.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            return Some(format!(
                "{at}: --server-procs {} and {}",
                list(&ha.1),
                list(&hb.1)
            ));
        }
        if ha.2 != hb.2 {
            let say = |s: &Option<String>| {
                s.clone()
                    .unwrap_or_else(|| "blocks of fresh servers".into())
            };
            return Some(format!("{at}: {} and {}", say(&ha.2), say(&hb.2)));
        }
        if ha.0 != hb.0 {
            return Some(format!("{at}: {}", flag_difference(&ha.0, &hb.0)));
        }
    }
    None
}

/// One row of the comparison: a model at a point and metric.
#[derive(Debug, Clone)]
pub struct Change {
    /// Suite.
    pub suite: SuiteName,
    /// Point.
    pub point: String,
    /// The metric.
    pub metric: Metric,
    /// Model.
    pub model: String,
    /// Its ratio to the reference in A (paired within A).
    pub a: Interval,
    /// Its ratio to the reference in B.
    pub b: Interval,
    /// B's ratio over A's, unpaired.
    pub interval: Interval,
    /// The verdict of B against A.
    pub verdict: Verdict,
}

/// The comparison of two benches.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The model both ratios are taken to.
    pub reference: String,
    /// Every model, point and metric both benches have, in A's order.
    pub rows: Vec<Change>,
    /// Points only one of the two ran (not compared).
    pub unshared: Vec<String>,
}

impl Comparison {
    /// Rows whose verdict is better or worse.
    pub fn decisive(&self) -> usize {
        self.rows
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Better | Verdict::Worse))
            .count()
    }
}

/// The model whose ratios are compared: `given`, else A's reference where B ran it too,
/// else B's where A ran it.
fn shared_reference(
    a: &BenchResults,
    b: &BenchResults,
    given: Option<&str>,
) -> Result<String, CompareError> {
    let ran =
        |r: &BenchResults, m: &str| r.runs.iter().any(|x| x.model == m && x.position.is_some());
    if let Some(m) = given {
        return match (ran(a, m), ran(b, m)) {
            (true, true) => Ok(m.to_string()),
            (false, false) => Err(CompareError::ReferenceMissing(m.into(), "A or B".into())),
            (false, true) => Err(CompareError::ReferenceMissing(m.into(), "A".into())),
            (true, false) => Err(CompareError::ReferenceMissing(m.into(), "B".into())),
        };
    }
    [a.config.reference.as_str(), b.config.reference.as_str()]
        .into_iter()
        .find(|m| ran(a, m) && ran(b, m))
        .map(str::to_string)
        .ok_or_else(|| CompareError::NoReference {
            a: a.config.reference.clone(),
            b: b.config.reference.clone(),
        })
}

/// Every model, point and metric the two benches share, through their ratios to the
/// shared reference.
pub fn changes(
    a: &BenchResults,
    b: &BenchResults,
    margin: f64,
    reference: Option<&str>,
) -> Result<Comparison, CompareError> {
    let reference = shared_reference(a, b, reference)?;
    let in_b = verdict::blocked_points(b);
    let in_a = verdict::blocked_points(a);
    let shared: Vec<(SuiteName, String, PointKind)> =
        in_a.iter().filter(|p| in_b.contains(p)).cloned().collect();
    let unshared: Vec<String> = in_a
        .iter()
        .chain(in_b.iter().filter(|p| !in_a.contains(p)))
        .filter(|p| !shared.contains(p))
        .map(|(s, p, _)| format!("{s} {p}"))
        .collect();
    if let Some(why) = mismatch(a, b, &shared) {
        return Err(CompareError::Mismatch(why));
    }
    let mut rows = Vec::new();
    for &(suite, ref point, kind) in &shared {
        for metric in verdict::metrics_for(suite, kind) {
            for model in a.config.models.iter().filter(|m| **m != reference) {
                let logs = |r: &BenchResults| {
                    verdict::paired_log_ratios(r, suite, point, &metric, model, &reference)
                };
                let (la, lb) = (logs(a), logs(b));
                let (Some(ia), Some(ib), Some(iv)) = (
                    verdict::paired(&la),
                    verdict::paired(&lb),
                    verdict::unpaired(&la, &lb),
                ) else {
                    continue;
                };
                // A model with too many errors in either bench has no speed to compare.
                let errs = |r: &BenchResults| {
                    verdict::at_point(r, suite, point, metric, &reference, margin)
                        .rows
                        .iter()
                        .any(|x| &x.model == model && x.verdict == Verdict::Errors)
                };
                let verdict = if errs(a) || errs(b) {
                    Verdict::Errors
                } else {
                    verdict::judge(&iv, margin, metric.better)
                };
                rows.push(Change {
                    suite,
                    point: point.clone(),
                    metric,
                    model: model.clone(),
                    a: ia,
                    b: ib,
                    interval: iv,
                    verdict,
                });
            }
        }
    }
    if rows.is_empty() {
        return Err(CompareError::Nothing);
    }
    Ok(Comparison {
        reference,
        rows,
        unshared,
    })
}

/// The Markdown: what is compared, in one line; the table; how to read it.
pub fn markdown(a_name: &str, b_name: &str, c: &Comparison, margin: f64) -> String {
    let r = &c.reference;
    let header: Vec<String> = [
        "suite".to_string(),
        "point".into(),
        "metric".into(),
        "model".into(),
        format!("A: ratio to {r}"),
        format!("B: ratio to {r}"),
        "B / A [95% interval]".into(),
        "verdict (B against A)".into(),
    ]
    .to_vec();
    let body: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|x| {
            vec![
                x.suite.to_string(),
                x.point.clone(),
                x.metric.label.into(),
                x.model.clone(),
                format!("{} ({})", x.a.cell(), x.a.n),
                format!("{} ({})", x.b.cell(), x.b.n),
                x.interval.cell(),
                x.verdict.word(&x.metric).into(),
            ]
        })
        .collect();
    let mut s = format!(
        "A: {a_name}\nB: {b_name}\n\nAn unpaired comparison of two runs made at different times: each model's ratio to {r}, paired within each run, B's over A's.\n\n"
    );
    s.push_str(&table(&header, &body));
    let _ = writeln!(
        s,
        "\n{} of {} cells decisive. A ratio cell: the geometric mean of the model's per-block (or per-round) ratios to {r} in that bench, its 95% interval, and in brackets the blocks or rounds paired. B / A: the ratio of the two, its interval combining both benches' (Welch's t interval: the two benches' blocks are not paired); B is better or worse only when it clears 1 by more than {m}%, equivalent when it lies within 1 ± {m}%, inconclusive otherwise. What the machine did between the two runs cancels in the ratios; what it did to one model and not to {r} does not. **errors**: more of the model's samples failed in A or B than the bench allows (`--max-error-pct`), so its speed is not compared.",
        c.decisive(),
        c.rows.len(),
        m = margin * 100.0,
    );
    if !c.unshared.is_empty() {
        let _ = writeln!(
            s,
            "\nRan in one bench only, not compared: {}.",
            c.unshared.join(", ")
        );
    }
    s
}

/// Reads `a/raw.json` and `b/raw.json` and compares them: the comparison and its margin
/// (given, else A's).
pub fn compare(
    a: &Path,
    b: &Path,
    margin: Option<f64>,
    reference: Option<&str>,
) -> Result<(Comparison, f64), CompareError> {
    let ra = BenchResults::read(&a.join("raw.json"))?;
    let rb = BenchResults::read(&b.join("raw.json"))?;
    let margin = margin.unwrap_or(ra.config.margin);
    if !(margin > 0.0 && margin < 1.0) {
        return Err(CompareError::BadMargin);
    }
    Ok((changes(&ra, &rb, margin, reference)?, margin))
}

/// Reads `a/raw.json` and `b/raw.json` and renders the comparison.
pub fn compare_dirs(
    a: &Path,
    b: &Path,
    margin: Option<f64>,
    reference: Option<&str>,
) -> Result<String, CompareError> {
    let (c, margin) = compare(a, b, margin, reference)?;
    Ok(markdown(
        &a.display().to_string(),
        &b.display().to_string(),
        &c,
        margin,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::fixtures::synthetic;

    fn scaled(mut r: BenchResults, model: Option<&str>, by: f64) -> BenchResults {
        for x in r
            .runs
            .iter_mut()
            .filter(|x| model.is_none_or(|m| x.model == m))
        {
            x.messages_per_s = x.messages_per_s.map(|v| v * by);
        }
        r
    }

    #[test]
    fn a_change_of_one_model_is_called_through_its_ratio_to_the_reference() {
        let a = synthetic(10);
        let b = scaled(synthetic(10), Some("fast"), 2.0);
        let c = changes(&a, &b, 0.03, None).unwrap();
        assert_eq!(c.reference, "epoll");
        let row = |m: &str| c.rows.iter().find(|x| x.model == m).unwrap();
        assert_eq!(row("fast").verdict, Verdict::Better);
        assert!((row("fast").interval.ratio - 2.0).abs() < 1e-9);
        assert!(
            c.rows.iter().all(|x| x.model != "epoll"),
            "the reference has no row"
        );
        assert_eq!(c.decisive(), 1);
        let md = markdown("a", "b", &c, 0.03);
        insta::assert_snapshot!(md);
    }

    #[test]
    fn a_slower_hour_is_not_a_change() {
        // Every server 25% slower in B (the machine's hour): every ratio stays where it was.
        let a = synthetic(10);
        let b = scaled(synthetic(10), None, 0.75);
        let c = changes(&a, &b, 0.03, None).unwrap();
        assert_eq!(c.decisive(), 0, "{:?}", c.rows);
        assert!(c.rows.iter().all(|x| (x.interval.ratio - 1.0).abs() < 1e-9));
    }

    #[test]
    fn benches_without_a_shared_reference_are_refused() {
        let a = synthetic(6);
        let mut b = synthetic(6);
        b.runs.retain(|x| x.model != "epoll");
        b.config.reference = "same".into();
        // A's reference is missing from B; B's ("same") is in A: that one is used.
        assert_eq!(changes(&a, &b, 0.03, None).unwrap().reference, "same");
        b.runs.retain(|x| x.model != "same");
        let e = changes(&a, &b, 0.03, None).unwrap_err();
        assert!(matches!(e, CompareError::NoReference { .. }), "{e}");
        assert!(
            e.to_string().starts_with("the benches share no reference"),
            "{e}"
        );
        let e = changes(&a, &synthetic(6), 0.03, Some("nope")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--reference nope: not run at any point of A or B"
        );
        let e = changes(&a, &b, 0.03, Some("epoll")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--reference epoll: not run at any point of B"
        );
    }

    #[test]
    fn only_the_points_compared_must_be_made_the_same_way() {
        let a = synthetic(6);
        // B also ran a point A did not, with four server processes: not compared, fine.
        let mut b = synthetic(6);
        let extra: Vec<RunRecord> = b
            .runs
            .iter()
            .map(|x| {
                let mut y = x.clone();
                y.point = "60000".into();
                y.server_procs = 4;
                y
            })
            .collect();
        b.runs.extend(extra);
        let c = changes(&a, &b, 0.03, None).unwrap();
        assert_eq!(c.unshared, ["pingpong 60000"]);
        insta::assert_snapshot!("one_point_in_b_only", markdown("a", "b", &c, 0.03));
        // The shared point with other server processes is refused.
        for x in b.runs.iter_mut().filter(|x| x.point == "100") {
            x.server_procs = 2;
        }
        let e = changes(&a, &b, 0.03, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("pingpong 100: --server-procs 1 and 2"),
            "{e}"
        );
        let mut d = synthetic(6);
        for x in &mut d.runs {
            x.args = vec!["--duration".into(), "9s".into()];
        }
        let e = changes(&a, &d, 0.03, None).unwrap_err();
        assert!(e.to_string().contains("--duration 9s"), "{e}");
    }
}
