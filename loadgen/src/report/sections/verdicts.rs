//! The `## Verdicts` section of summary.md, rendered from [`verdict`]: per point and
//! metric, a table sorted best first (model, ratio `R [LO, HI]`, wins/blocks, verdict, tier),
//! the interval half-widths the bench reached, flagged outlier runs and runs with steal.

use std::fmt::Write as _;

use super::{Bench, ChartFile, Section};
use crate::bench::data::BenchResults;
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{num, row, table};
use crate::report::figures::{label, median};
use crate::report::stats::verdict::{self, PointVerdicts, Verdict};
use crate::report::svg::forest;

/// How a point is named in a heading: `pingpong 100 conns`, `frames 16MiB`.
pub fn point_title(pv: &PointVerdicts) -> String {
    match (pv.suite, pv.kind) {
        (SuiteName::PingPong, Some(PointKind::Sweep)) => {
            format!("pingpong {} conns", num(pv.conns as f64, 0))
        }
        (SuiteName::PingPong, Some(PointKind::FixedRate)) => format!(
            "pingpong {} msg/s over {} conns",
            num(
                pv.point
                    .trim_start_matches("rate-")
                    .parse::<f64>()
                    .unwrap_or(0.0),
                0
            ),
            pv.conns
        ),
        (SuiteName::Mixed, Some(PointKind::Sweep)) => format!("mixed {} conns", pv.conns),
        _ => format!("{} {}", pv.suite, pv.point),
    }
}

/// The table of one point and metric.
pub fn point_table(pv: &PointVerdicts) -> String {
    let header = row(&[
        "model",
        "ratio [95% interval]",
        "wins/blocks",
        "verdict",
        "tier",
        "median ratio",
    ]);
    let rows: Vec<Vec<String>> = pv
        .rows
        .iter()
        .map(|r| {
            let verdict = match r.verdict {
                Verdict::NoData => format!("no data ({} run(s) without a figure)", r.missing),
                _ => {
                    let w = r.verdict_cell(&pv.metric);
                    if r.missing > 0 {
                        format!("{w} ({} block(s) without a figure)", r.missing)
                    } else {
                        w
                    }
                }
            };
            vec![
                label(&r.model),
                r.interval.map_or("-".into(), |iv| iv.cell()),
                if r.verdict == Verdict::Reference {
                    format!("-/{}", r.blocks)
                } else {
                    format!("{}/{}", r.wins, r.blocks)
                },
                verdict,
                if r.tier > 0 {
                    r.tier.to_string()
                } else {
                    "-".into()
                },
                r.interval
                    .map_or("-".into(), |iv| format!("{:.3}", iv.median)),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// Most blocks (rounds) a non-reference model of a point was paired with the reference in.
pub fn paired_blocks(pv: &PointVerdicts) -> usize {
    pv.rows
        .iter()
        .filter(|r| r.model != pv.reference)
        .map(|r| r.blocks)
        .max()
        .unwrap_or_default()
}

/// Median interval half-width over the non-reference models of a point with at least
/// [`verdict::MIN_BLOCKS`] paired blocks, percent.
pub fn median_half_width(pv: &PointVerdicts) -> Option<f64> {
    let hw: Vec<f64> = pv
        .rows
        .iter()
        .filter(|r| r.model != pv.reference)
        .filter_map(|r| {
            r.interval
                .filter(|iv| iv.n >= verdict::MIN_BLOCKS)
                .map(|iv| iv.half_width())
        })
        .collect();
    median(hw).map(|m| m * 100.0)
}

/// The section.
pub struct Verdicts;

impl Section for Verdicts {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, b.reference, b.margin, s);
    }

    /// One forest plot per point and ranking metric.
    fn charts(&self, b: &Bench) -> Vec<ChartFile> {
        if !b.results.config.is_blocked() {
            return Vec::new();
        }
        verdict::all(b.results, b.reference, b.margin)
            .iter()
            .map(|pv| {
                let title = format!("{}: {}", point_title(pv), pv.metric.label);
                ChartFile {
                    file: forest::file_name(pv),
                    svg: forest::svg(pv, &title, b.margin),
                    caption: None,
                }
            })
            .collect()
    }
}

/// The whole section.
fn section(r: &BenchResults, reference: &str, margin: f64, s: &mut String) {
    s.push_str("## Verdicts\n\n");
    if !r.config.is_blocked() {
        s.push_str(
            "This bench predates verdicts: its rounds ran the models in one fixed order, not \
             in shuffled blocks, so their runs are not paired and no model is ranked here. \
             Re-run it with `loadgen bench` (blocks of shuffled models) for verdicts.\n\n",
        );
        return;
    }
    let all = verdict::all(r, reference, margin);
    let _ = writeln!(
        s,
        "Each point ran in blocks of fresh servers or in interleaved rounds (see How each point was measured; a round is a block below); a block runs every model once, in an order drawn afresh from the seed ({seed}), so the noise of a moment hits one block's models alike. A model's **ratio** is the geometric mean of its per-block ratios to **{reference}** (the reference), with a 95% Student-t interval on the mean of their logs (blocks - 1 degrees of freedom); **wins/blocks** counts the blocks in which it beat {reference}. **Verdict**: better (faster, or cheaper for CPU per message, lower for p99) or worse only when the whole interval clears 1 by more than the margin δ = {pct}%; *equivalent* when the interval lies within 1 ± δ; *inconclusive* otherwise, and always with fewer than {min_blocks} blocks. A model's **tier** is 1 + the longest chain of models that beat it by the same rule on their own paired ratio, so a model worse than another is never in its tier or above it. **Errors** come first: a model whose error share at a point is above {max_err}% of its samples gets no verdict on speed or cost there, only its error share (its ok/s and CPU per ok message count only what did not fail); error shares are compared with the reference's under Errors. A messages/s verdict marked *(client-bound)* is one where loadgen itself used {client}% of a CPU or more (median over the model's runs): the client may have set the pace, and CPU per message says more there. Nothing ran between the models of a block but the bench itself.\n",
        seed = r.config.seed.unwrap_or_default(),
        max_err = verdict::pct(r.config.max_error_pct),
        client = verdict::CLIENT_BOUND_PCT,
        pct = margin * 100.0,
        min_blocks = verdict::MIN_BLOCKS,
    );
    // Half-widths first: they say how far this machine let the bench see.
    let header = row(&["point", "metric", "blocks", "median half-width"]);
    let rows: Vec<Vec<String>> = all
        .iter()
        .filter(|pv| paired_blocks(pv) >= verdict::MIN_BLOCKS)
        .map(|pv| {
            vec![
                point_title(pv),
                pv.metric.label.to_string(),
                paired_blocks(pv).to_string(),
                median_half_width(pv).map_or("-".into(), |h| format!("±{h:.1}%")),
            ]
        })
        .collect();
    let sharpness = if rows.is_empty() {
        format!(
            "No point ran the {} blocks a verdict needs: every verdict below is inconclusive, whatever its interval.\n",
            verdict::MIN_BLOCKS
        )
    } else {
        table(&header, &rows)
    };
    let _ = writeln!(
        s,
        "### How sharp the intervals are\n\nMedian over the models of the interval's half-width, as a share of the ratio; **blocks** counts the blocks (rounds) paired with the reference, and points with fewer than {} are left out.\n\n{sharpness}",
        verdict::MIN_BLOCKS,
    );
    for pv in &all {
        let _ = writeln!(
            s,
            "### {}: {}\n\n{}\n![forest plot: {} ratios to {reference}]({})\n",
            point_title(pv),
            pv.metric.label,
            point_table(pv),
            pv.metric.label,
            forest::file_name(pv),
        );
        notes(pv, s);
    }
    errors_section(&all, s);
    let stolen: Vec<String> = r
        .runs
        .iter()
        .filter(|x| x.had_steal())
        .map(|x| {
            format!(
                "{} {} {} block {} ({:.1}%)",
                x.suite,
                x.point,
                x.model,
                x.block,
                x.steal_pct.unwrap_or(0.0)
            )
        })
        .collect();
    let counted = r.runs.iter().filter(|x| x.steal_pct.is_some()).count();
    if counted > 0 {
        let _ = writeln!(
            s,
            "### Steal\n\n{} of {counted} runs had at least {}% of the machine's CPU time stolen by the hypervisor (/proc/stat){}\n",
            stolen.len(),
            crate::bench::data::RunRecord::STEAL_FLAG_PCT,
            if stolen.is_empty() {
                ".".to_string()
            } else {
                format!(": {}.", stolen.join(", "))
            }
        );
    }
}

/// What follows a point's table: client-bound models, where CPU figures came from and
/// the outliers.
fn notes(pv: &PointVerdicts, s: &mut String) {
    let bound: Vec<String> = pv
        .rows
        .iter()
        .filter(|r| r.client_bound(&pv.metric))
        .map(|r| label(&r.model))
        .collect();
    if !bound.is_empty() {
        let _ = writeln!(
            s,
            "Client-bound: loadgen used {}% of a CPU or more against {}, so their messages/s may be loadgen's limit rather than the server's; see CPU per message at this point.\n",
            verdict::CLIENT_BOUND_PCT,
            bound.join(", ")
        );
    }
    if let Some(source) = pv.cpu_source {
        let _ = writeln!(s, "Server CPU from {}.\n", source.words());
    }
    if pv.late_sender_runs > 0 {
        let _ = writeln!(
            s,
            "{} of this point's runs are left out of these p99 verdicts: loadgen's own send lateness p99 was over {}% of the run's p99, so that p99 partly measured the client (counted as missing above).\n",
            pv.late_sender_runs,
            crate::bench::data::RunRecord::LATE_SENDER_SHARE * 100.0
        );
    }
    if pv.outliers.is_empty() {
        return;
    }
    let list: Vec<String> = pv
        .outliers
        .iter()
        .map(|o| {
            if o.of_reference {
                format!(
                    "the reference {} itself in block {} (×{} its usual figure, as most models' ratios moved together)",
                    o.model,
                    o.block,
                    num(o.value, 2)
                )
            } else {
                format!(
                    "{} in block {} (ratio {} against its median {})",
                    o.model,
                    o.block,
                    num(o.value, 3),
                    num(o.median, 3)
                )
            }
        })
        .collect();
    let _ = writeln!(
        s,
        "Outlier blocks (a ratio to {} over {} median absolute deviations from the model's median ratio; kept): {}.\n",
        pv.reference,
        verdict::OUTLIER_MADS,
        list.join("; ")
    );
}

/// Error shares at every point where any model had an error, one table a point (once,
/// whatever the metrics).
fn errors_section(all: &[PointVerdicts], s: &mut String) {
    let mut seen: Vec<(SuiteName, &str)> = Vec::new();
    let mut tables = String::new();
    for pv in all {
        if seen.contains(&(pv.suite, pv.point.as_str())) {
            continue;
        }
        seen.push((pv.suite, &pv.point));
        if !pv.errors.iter().any(|e| e.share.is_some_and(|p| p > 0.0)) {
            continue;
        }
        let header = row(&[
            "model",
            "error share",
            "difference, points [95% interval]",
            "blocks",
            "verdict",
        ]);
        let rows: Vec<Vec<String>> = pv
            .errors
            .iter()
            .map(|e| {
                vec![
                    label(&e.model),
                    e.share
                        .map_or("-".into(), |p| format!("{}%", verdict::pct(p))),
                    match e.difference {
                        Some((d, lo, hi)) if lo.is_finite() => {
                            format!("{d:+.2} [{lo:+.2}, {hi:+.2}]")
                        }
                        Some((d, _, _)) => format!("{d:+.2} [-, -]"),
                        None => "-".into(),
                    },
                    e.blocks.to_string(),
                    e.verdict.word().to_string(),
                ]
            })
            .collect();
        let _ = writeln!(
            tables,
            "#### {}\n\n{}",
            point_title(pv),
            table(&header, &rows)
        );
        let unsent: Vec<String> = pv
            .errors
            .iter()
            .filter(|e| e.unsent > 0)
            .map(|e| format!("{} {}", label(&e.model), num(e.unsent as f64, 0)))
            .collect();
        if !unsent.is_empty() {
            let _ = writeln!(
                tables,
                "Open-loop requests never sent, counted as failed in the shares above (each fell due while its connection still waited for an earlier echo, until the run ended): {}.\n",
                unsent.join(", ")
            );
        }
    }
    let _ = writeln!(
        s,
        "### Errors\n\nA model's error share is its errors over its samples at a point (all its runs or slices). Its difference from {reference}'s is the mean over paired blocks of the two shares' difference in percentage points, with a 95% Student-t interval; *fewer errors* or *more errors* only when the interval clears 0 by more than {margin} points (one error in a thousand samples), *same errors* when it lies within ± that. Above {max}% a model gets no speed or cost verdict at the point.\n",
        reference = all
            .first()
            .map_or("the reference", |pv| pv.reference.as_str()),
        margin = verdict::errors::ERROR_MARGIN_PTS,
        max = verdict::pct(all.first().map_or(1.0, |pv| pv.max_error_pct)),
    );
    if tables.is_empty() {
        s.push_str("No model had an error at any point.\n\n");
    } else {
        s.push_str(&tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::new_lines;
    use crate::report::stats::fixtures::{
        client_bound, interleaved, late_sender, reference_off_in_block_9, synthetic, with_errors,
    };

    fn render(r: &BenchResults) -> String {
        let mut s = String::new();
        section(r, "epoll", 0.03, &mut s);
        s
    }

    #[test]
    fn section_has_a_table_per_point_with_exact_ratio_cells() {
        let s = render(&synthetic(10));
        insta::assert_snapshot!(s);
        let fast = s.lines().find(|l| l.starts_with("| fast |")).unwrap();
        let cells: Vec<&str> = fast.split(" | ").collect();
        let ratio = cells[1];
        // R [LO, HI] with three decimals.
        let ok = ratio.len() == "1.200 [1.190, 1.210]".len()
            && ratio.as_bytes()[1] == b'.'
            && ratio.contains(" [")
            && ratio.ends_with(']');
        assert!(ok, "{ratio}");
        assert_eq!(cells[2], "10/10");
        assert_eq!(cells[3], "faster");
    }

    #[test]
    fn older_benches_say_they_predate_verdicts() {
        let mut r = synthetic(3);
        r.config.seed = None;
        for run in &mut r.runs {
            run.position = None;
        }
        let s = render(&r);
        insta::assert_snapshot!(s);
    }

    #[test]
    fn a_model_over_the_error_limit_shows_its_error_share() {
        insta::assert_snapshot!(render(&with_errors(10)));
    }

    #[test]
    fn open_loop_requests_never_sent_are_named_under_the_error_table() {
        let mut r = with_errors(10);
        for run in r.runs.iter_mut().filter(|x| x.model == "fast") {
            run.report.as_mut().unwrap().unsent = 30;
        }
        let s = render(&r);
        assert!(
            s.contains("counted as failed in the shares above (each fell due while its connection still waited for an earlier echo, until the run ended): fast 300."),
            "{s}"
        );
        // 30 of 1,030 requests: 2.9%, over the 1% limit.
        assert!(
            s.contains("| fast | 2.9% | +2.91 [+2.91, +2.91] | 10 | more errors |"),
            "{s}"
        );
        assert!(
            s.contains("| fast | 1.203 [1.191, 1.216] | 10/10 | errors 2.9% |"),
            "{s}"
        );
        assert!(!render(&with_errors(10)).contains("never sent"));
    }

    #[test]
    fn a_reference_outlier_is_named_as_the_references() {
        let s = render(&reference_off_in_block_9(12));
        insta::assert_snapshot!(new_lines(&render(&synthetic(12)), &s));
    }

    #[test]
    fn a_saturated_client_is_named() {
        let s = render(&client_bound());
        insta::assert_snapshot!(new_lines(&render(&interleaved(10, 0.0)), &s));
    }

    /// The "How sharp the intervals are" part of a section.
    fn how_sharp(s: &str) -> String {
        let sharp = s.split("### How sharp").nth(1).unwrap();
        format!("### How sharp{}", sharp.split("\n### ").next().unwrap())
    }

    #[test]
    fn how_sharp_counts_paired_blocks_and_leaves_out_thin_points() {
        // 4 blocks: under the 5 a verdict needs, so the point is not in the table.
        let four = how_sharp(&render(&synthetic(4)));
        let six = how_sharp(&render(&synthetic(6)));
        insta::assert_snapshot!("four_blocks", four);
        insta::assert_snapshot!("six_blocks", six);
    }

    #[test]
    fn runs_whose_sender_was_late_are_counted_out_of_p99() {
        insta::assert_snapshot!(render(&late_sender()));
    }
}
