//! The runs that failed or had sample errors, one row each: a failed run is left out of
//! every table above it, and this says so.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, RunStatus};
use crate::md::{row, table};

/// The section.
pub struct FailedRuns;

impl Section for FailedRuns {
    fn markdown(&self, b: &Bench, s: &mut String) {
        problems(b.results, s);
    }
}

/// `read_timeout 205, reset 3`: the kinds that occurred.
fn error_kinds(e: &crate::stats::ErrorCounts) -> String {
    match serde_json::to_value(e) {
        Ok(serde_json::Value::Object(kinds)) => kinds
            .iter()
            .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{e:?}"),
    }
}

fn problems(r: &BenchResults, s: &mut String) {
    let mut rows = Vec::new();
    for run in &r.runs {
        let what = match &run.status {
            RunStatus::Ok => match &run.report {
                Some(rep) if rep.errors > 0 => {
                    format!(
                        "{} sample errors: {}",
                        rep.errors,
                        error_kinds(&rep.errors_by_kind)
                    )
                }
                _ => continue,
            },
            other => format!("{other:?}"),
        };
        rows.push(vec![
            run.model.clone(),
            format!("{} {}", run.suite, run.point),
            run.block.to_string(),
            what.replace('|', "/"),
        ]);
    }
    if !rows.is_empty() {
        let header = row(&["model", "point", "block", "what happened"]);
        let _ = writeln!(
            s,
            "## Runs with errors or failures\n\nFailed runs are left out of the tables above.\n\n{}",
            table(&header, &rows)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::{synthetic, with_errors};

    #[test]
    fn a_row_per_run_with_errors_or_a_failure() {
        let mut r = with_errors(2);
        r.runs[0].status = RunStatus::ServerFailed("no readiness line".into());
        insta::assert_snapshot!(render(&FailedRuns, &r));
        assert_eq!(render(&FailedRuns, &synthetic(2)), "");
    }
}
