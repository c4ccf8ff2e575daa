//! `loadgen compare --ratios DIR DIR ...`: several bench folders side by side, each model's
//! ratio to the reference as each bench measured it (paired within that bench, with its
//! 95% interval). Two benches made hours apart, or with other designs or slice lengths,
//! meet different noise; their raw figures differ with the hour, but a model's ratio to
//! the reference should not. The last column says whether every interval of the row
//! shares a common value (a ratio that moved between the benches shows up as "no").

use std::fmt::Write as _;
use std::path::Path;

use super::CompareError;
use crate::bench::data::BenchResults;
use crate::md::table;
use crate::report::stats::verdict::{self, Interval, Verdict};

/// Whether some value lies in every interval (intervals of fewer than two blocks are
/// unbounded and agree with anything).
pub fn overlap(ivs: &[Interval]) -> bool {
    let lo = ivs.iter().map(|iv| iv.lo).fold(f64::MIN, f64::max);
    let hi = ivs.iter().map(|iv| iv.hi).fold(f64::MAX, f64::min);
    lo <= hi
}

/// Each folder's name in the table: its last component, or its last two where the last
/// ones are alike (`bench-1/bench`, `bench-2/bench`).
fn column_names(dirs: &[&Path]) -> Vec<String> {
    let tail = |d: &Path, parts: usize| {
        let c: Vec<String> = d
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        c[c.len().saturating_sub(parts)..].join("/")
    };
    let last: Vec<String> = dirs.iter().map(|d| tail(d, 1)).collect();
    let alike = (1..last.len()).any(|i| last[..i].contains(&last[i]));
    if alike {
        dirs.iter().map(|d| tail(d, 2)).collect()
    } else {
        last
    }
}

/// The Markdown of the comparison of `dirs` (two or more bench folders whose references
/// are the same model).
pub fn compare_ratio_dirs(dirs: &[&Path]) -> Result<String, CompareError> {
    let benches: Vec<BenchResults> = dirs
        .iter()
        .map(|d| BenchResults::read(&d.join("raw.json")))
        .collect::<Result<_, _>>()?;
    let Some(first) = benches.first() else {
        return Err(CompareError::Nothing);
    };
    let reference = first.config.reference.clone();
    if let Some(b) = benches.iter().find(|b| b.config.reference != reference) {
        return Err(CompareError::Mismatch(format!(
            "references {reference} and {}",
            b.config.reference
        )));
    }
    let names = column_names(dirs);
    let mut s = format!(
        "# Ratios to {reference}, bench by bench\n\nEach cell: a model's ratio to {reference} as that bench measured it (geometric mean of its paired per-block or per-round ratios, 95% Student-t interval) and its verdict. **agree**: every interval of the row shares a value.\n\n| bench | design | made with |\n|---|---|---|\n"
    );
    for (name, b) in names.iter().zip(&benches) {
        let _ = writeln!(
            s,
            "| {name} | {} | `{}` |",
            match b.config.slicing {
                Some(sl) => format!(
                    "interleaved, {} ms + {} ms slices",
                    sl.warmup_ms, sl.measured_ms
                ),
                None => format!("blocks of {} s runs", b.config.duration_s),
            },
            b.config.command.join(" ")
        );
    }
    s.push('\n');
    let mut rows_total = 0usize;
    let mut agreeing = 0usize;
    let mut contradicting: Vec<String> = Vec::new();
    for (suite, point, kind) in verdict::blocked_points(first) {
        for metric in verdict::metrics_for(suite, kind) {
            let per: Vec<verdict::PointVerdicts> = benches
                .iter()
                .map(|b| verdict::at_point(b, suite, &point, metric, &reference, b.config.margin))
                .collect();
            let mut header = vec!["model".to_string()];
            header.extend(names.iter().cloned());
            header.push("agree".into());
            let mut rows = Vec::new();
            for model in &first.config.models {
                if *model == reference {
                    continue;
                }
                let mut row = vec![model.clone()];
                let mut ivs = Vec::new();
                for pv in &per {
                    match pv.rows.iter().find(|r| &r.model == model) {
                        Some(r) => match r.interval {
                            Some(iv) => {
                                row.push(format!("{} {}", iv.cell(), r.verdict_cell(&metric)));
                                ivs.push(iv);
                            }
                            None => row.push("-".into()),
                        },
                        None => row.push("-".into()),
                    }
                }
                if ivs.len() < 2 {
                    continue;
                }
                let agree = overlap(&ivs);
                rows_total += 1;
                agreeing += usize::from(agree);
                let said: Vec<Verdict> = per
                    .iter()
                    .filter_map(|pv| pv.rows.iter().find(|r| &r.model == model))
                    .map(|r| r.verdict)
                    .collect();
                if said.contains(&Verdict::Better) && said.contains(&Verdict::Worse) {
                    contradicting.push(format!("{suite} {point} {} {model}", metric.label));
                }
                row.push(if agree { "yes" } else { "no" }.into());
                rows.push(row);
            }
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "## {suite} {point}: {}\n\n{}",
                metric.label,
                table(&header, &rows)
            );
        }
    }
    if rows_total == 0 {
        return Err(CompareError::Nothing);
    }

    let _ = writeln!(
        s,
        "In all, {agreeing} of {rows_total} rows agree ({:.0}%). Rows in which one bench says better and another worse: {}.",
        agreeing as f64 * 100.0 / rows_total as f64,
        if contradicting.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", contradicting.len(), contradicting.join("; "))
        }
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: f64, hi: f64) -> Interval {
        Interval {
            ratio: (lo + hi) / 2.0,
            lo,
            hi,
            median: (lo + hi) / 2.0,
            n: 10,
        }
    }

    #[test]
    fn intervals_agree_when_one_value_lies_in_all() {
        assert!(overlap(&[iv(0.9, 1.0), iv(0.95, 1.05), iv(0.99, 1.2)]));
        assert!(!overlap(&[iv(0.9, 0.95), iv(0.96, 1.0)]));
        assert!(overlap(&[iv(0.9, 0.95), iv(0.0, f64::INFINITY)]));
    }

    #[test]
    fn folders_are_named_by_as_much_of_their_path_as_tells_them_apart() {
        let (a, b) = (Path::new("r/bench-1/bench"), Path::new("r/bench-2/bench"));
        assert_eq!(column_names(&[a, b]), ["bench-1/bench", "bench-2/bench"]);
        let (c, d) = (Path::new("r/slice-30ms"), Path::new("r/blocks-3s"));
        assert_eq!(column_names(&[c, d]), ["slice-30ms", "blocks-3s"]);
    }
}
