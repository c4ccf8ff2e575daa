//! The `## Baselines` section of summary.md: the studies' Python servers (baselines/python)
//! as the unit the studies used. Per point of the ping-pong sweep, the plans and the
//! frames, every server's figure as a ratio to py-asyncio's in the same block (the
//! verdicts' paired ratios and Student-t intervals, [`verdict::at_point`] with
//! py-asyncio as the reference), beside the ratio a study published for the same pair
//! ([`studies`]). Pairs a study published against another unit (the async-sig
//! thread's asyncio Protocol) follow in a table of their own.

use std::fmt::Write as _;

use common::models::is_baseline;

use super::{Bench, Section};
use crate::bench::data::BenchResults;
use crate::bench::names::{PointKind, SuiteName};
use crate::md::table;
use crate::report::figures::label;
use crate::report::stats::verdict::{self, Metric, PointVerdicts};
use crate::report::studies::{self, Published};

/// The studies' unit: asyncio streams, the default way to use asyncio.
pub const UNIT: &str = "py-asyncio";
/// Begins the baselines section a README gets with `--baselines-readme`.
pub const README_BEGIN: &str = "<!-- baselines:begin -->";
/// Ends it.
pub const README_END: &str = "<!-- baselines:end -->";

/// True when the bench ran any baseline.
pub fn any(r: &BenchResults) -> bool {
    r.config.models.iter().any(|m| is_baseline(m))
}

/// The figure the section compares at a suite's points of one kind.
fn metric_for(suite: SuiteName, kind: PointKind) -> Option<Metric> {
    match (suite, kind) {
        (SuiteName::PingPong, PointKind::Sweep) | (SuiteName::Plans, _) => Some(verdict::MSG_S),
        (SuiteName::Frames, PointKind::Frames) => Some(verdict::MB_S),
        _ => None,
    }
}

/// (suite, point, kind) of every point the section covers, in the bench's order.
fn points(r: &BenchResults) -> Vec<(SuiteName, String, PointKind)> {
    verdict::blocked_points(r)
        .into_iter()
        .filter(|&(suite, _, kind)| metric_for(suite, kind).is_some())
        .collect()
}

/// `R [LO, HI]` of `model` in verdicts against some unit, or `-`.
fn ratio_cell(pv: &PointVerdicts, model: &str) -> (String, usize) {
    pv.rows
        .iter()
        .find(|row| row.model == model)
        .and_then(|row| row.interval.map(|iv| (iv.cell(), row.blocks)))
        .unwrap_or_else(|| ("-".into(), 0))
}

/// A published ratio as a cell: `6.76 (koder-ua: uvloop_proto / asyncio)`.
fn published_cell(p: &Published) -> String {
    format!(
        "{:.2} ({}: {} / {})",
        p.ratio(),
        p.source.key,
        p.theirs,
        p.their_unit
    )
}

/// The tables of one point; empty when none applies.
fn point_tables(
    r: &BenchResults,
    suite: SuiteName,
    point: &str,
    kind: PointKind,
    margin: f64,
) -> String {
    let Some(metric) = metric_for(suite, kind) else {
        return String::new();
    };
    let ran = |m: &str| {
        r.runs
            .iter()
            .any(|x| x.suite == suite && x.point == point && x.model == m && x.position.is_some())
    };
    let published = studies::at(suite, point);
    let mut s = String::new();
    if ran(UNIT) {
        let pv = verdict::at_point(r, suite, point, metric, UNIT, margin);
        let header: Vec<String> = [
            "model".to_string(),
            format!("{} ratio to {UNIT} [95% interval]", metric.label),
            "blocks".into(),
            format!("published ratio to {UNIT}'s counterpart"),
        ]
        .to_vec();
        let rows: Vec<Vec<String>> = pv
            .rows
            .iter()
            .map(|row| {
                let (cell, blocks) = ratio_cell(&pv, &row.model);
                let study = published
                    .iter()
                    .filter(|p| p.unit == UNIT && p.model == row.model)
                    .map(published_cell)
                    .collect::<Vec<_>>();
                vec![
                    label(&row.model),
                    if row.model == UNIT {
                        "1 (unit)".into()
                    } else {
                        cell
                    },
                    blocks.to_string(),
                    if study.is_empty() {
                        "-".into()
                    } else {
                        study.join("; ")
                    },
                ]
            })
            .collect();
        s.push_str(&table(&header, &rows));
        s.push('\n');
    }
    // Published pairs with another unit, when both servers ran.
    let others: Vec<&Published> = published
        .iter()
        .filter(|p| p.unit != UNIT && ran(p.model) && ran(p.unit))
        .collect();
    if !others.is_empty() {
        let header: Vec<String> = [
            "pair".to_string(),
            format!("{} ratio here [95% interval]", metric.label),
            "blocks".into(),
            "published ratio".into(),
        ]
        .to_vec();
        let rows: Vec<Vec<String>> = others
            .iter()
            .map(|p| {
                let pv = verdict::at_point(r, suite, point, metric, p.unit, margin);
                let (cell, blocks) = ratio_cell(&pv, p.model);
                vec![
                    format!("{} / {}", p.model, p.unit),
                    cell,
                    blocks.to_string(),
                    published_cell(p),
                ]
            })
            .collect();
        s.push_str(&table(&header, &rows));
        s.push('\n');
    }
    s
}

/// The section's body (no heading): what it shows, the tables point by point, the
/// sources and what could not be found.
pub fn body(r: &BenchResults, margin: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The studies' own servers, rerun here: baselines/python/echo-py-<name>, one Python \
         3.11 server per model the studies measured, on echolab's contract, pinned and \
         measured like the Rust models. Per point, every server's figure as a ratio to \
         {UNIT} (asyncio streams, the studies' unit) in the same block: the geometric mean \
         of the per-block ratios with its 95% Student-t interval, as in the verdicts. Beside \
         it, the same ratio as a study published it, from that study's own figures; a study \
         ran on other hardware, another Python and another kernel, so compare the order \
         and the size of the gaps, not the digits.\n"
    );
    if !r.config.models.iter().any(|m| m == UNIT) {
        let _ = writeln!(
            s,
            "{UNIT} did not run in this bench: there are no ratios to the studies' unit.\n"
        );
    }
    for (suite, point, kind) in points(r) {
        let tables = point_tables(r, suite, &point, kind, margin);
        if !tables.is_empty() {
            let unit = if suite == SuiteName::PingPong {
                " conns"
            } else {
                ""
            };
            let _ = write!(s, "### {suite} {point}{unit}\n\n{tables}");
        }
    }
    s.push_str("Sources of the published ratios:\n\n");
    for source in studies::SOURCES {
        let _ = writeln!(s, "- {}: {} <{}>", source.key, source.citation, source.url);
    }
    s.push_str("\nNot cited, because no figure could be found to cite:\n\n");
    for line in studies::NOT_FOUND {
        let _ = writeln!(s, "- {line}");
    }
    s.push('\n');
    s
}

/// The section, when the bench ran any baseline.
pub struct Baselines;

impl Section for Baselines {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, b.margin, s);
    }
}

/// The whole section, when the bench ran any baseline.
fn section(r: &BenchResults, margin: f64, s: &mut String) {
    if any(r) {
        let _ = write!(s, "## Baselines: ratios to {UNIT}\n\n{}", body(r, margin));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data::{BenchConfig, RunRecord};

    /// Four blocks at 1,000 connections: py-asyncio at 30k msg/s, py-uvloop-proto 4x
    /// faster, epoll 10x; and frames of 100 MiB for the two Protocol servers.
    fn results() -> BenchResults {
        let models = ["epoll", "py-asyncio", "py-uvloop-proto", "py-asyncio-proto"];
        let factor = [10.0, 1.0, 4.0, 2.0];
        let mut runs = Vec::new();
        for block in 1..=4 {
            let noise = 1.0 + 0.01 * f64::from(block);
            for (i, m) in models.iter().enumerate() {
                let mut r = RunRecord::blank(
                    SuiteName::PingPong,
                    "1000",
                    PointKind::Sweep,
                    1000,
                    block,
                    m,
                );
                r.position = Some(i as u32 + 1);
                r.messages_per_s = Some(30_000.0 * factor[i] * noise);
                runs.push(r);
            }
            for (m, mb) in [("py-asyncio-proto", 300.0), ("py-uvloop-proto", 450.0)] {
                let mut r =
                    RunRecord::blank(SuiteName::Frames, "100MiB", PointKind::Frames, 1, block, m);
                r.position = Some(1);
                r.mb_per_s = Some(mb * noise);
                runs.push(r);
            }
        }
        let mut config = crate::bench::suite::config(1.0);
        config.suites = vec![SuiteName::PingPong, SuiteName::Frames];
        config.models = models.map(String::from).to_vec();
        BenchResults::of_runs(
            BenchConfig {
                blocks: 4,
                ..config
            },
            runs,
        )
    }

    #[test]
    fn ratios_to_py_asyncio_beside_the_published_ones() {
        let body = body(&results(), 0.03);
        insta::assert_snapshot!(body);
        let row = |m: &str| {
            body.lines()
                .find(|l| l.starts_with(&format!("| {m} ")))
                .unwrap_or_else(|| panic!("no row for {m}: {body}"))
                .to_string()
        };
        assert!(row("epoll").contains("| 10.000 ["), "{}", row("epoll"));
        // koder-ua local, 1k connections: cpp_epoll 360k over asyncio 34k.
        assert!(row("epoll").contains("10.59 (koder-ua: cpp_epoll / asyncio)"));
        assert!(row("py-uvloop-proto (baseline)").contains("| 4.000 ["));
        assert!(row("py-uvloop-proto (baseline)").contains("6.76 (koder-ua: uvloop_proto"));
        assert!(row("py-asyncio (baseline)").contains("1 (unit)"));
        // Frames: the async-sig pair against asyncio's Protocol, ours and both published.
        let pairs: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("| py-uvloop-proto / py-asyncio-proto"))
            .collect();
        assert_eq!(pairs.len(), 2, "{body}");
        assert!(pairs[0].contains("| 1.500 [") && pairs[0].contains("1.71 (async-sig (Pitrou)"));
        assert!(pairs[1].contains("2.34 (async-sig (Beazley)"));
    }

    #[test]
    fn no_section_without_baselines_and_a_line_without_the_unit() {
        let mut r = results();
        let mut s = String::new();
        r.config.models = vec!["epoll".into()];
        section(&r, 0.03, &mut s);
        assert!(s.is_empty());
        r.config.models = vec!["epoll".into(), "py-uvloop-proto".into()];
        r.runs.retain(|x| x.model != UNIT);
        section(&r, 0.03, &mut s);
        insta::assert_snapshot!(s);
    }
}
