//! How each point was measured: the design that ran it (interleaved slices or blocks of
//! fresh servers), its rounds and slices, how busy loadgen itself was, and what the
//! reference's twin (a second copy of the same binary) says "no difference" looks like.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, Design, RunRecord};
use crate::md::{num, row, table};
use crate::report::figures::median;
use crate::report::stats::verdict::{self, Verdict};

/// One sentence for the summary's opening: how the runs were made.
pub fn sentence(r: &BenchResults) -> String {
    let sliced = r.runs.iter().any(|x| x.slice.is_some());
    let fresh = r
        .runs
        .iter()
        .any(|x| x.slice.is_none() && x.position.is_some());
    let mut s = String::from("Servers and loadgen were pinned to separate CPUs. ");
    if sliced {
        s.push_str(
            "At the interleaved points every server stayed up for the whole point and loadgen visited them in short slices, in a fresh seeded order per round; server CPU there is read from /proc/PID/task/*/schedstat (nanoseconds, every thread) at the edges of each measured part, with the server idle. ",
        );
    }
    if fresh || !sliced {
        s.push_str("Elsewhere each run started its server fresh; ");
        if r.runs
            .iter()
            .any(|x| x.slice.is_none() && x.server_cpu_ns.is_some())
        {
            s.push_str("its server CPU comes from perf's task-clock over the run's measured window (switched on at the warm-up's end, off when the load ends): nanoseconds, every thread, exited ones included. ");
        } else {
            s.push_str(
                "its server CPU comes from /proc in clock ticks (10 ms), so short runs give coarse CPU figures. ",
            );
        }
    }
    s
}

/// The section.
pub struct HowMeasured;

impl Section for HowMeasured {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, b.reference, b.margin, s);
    }
}

/// The section: one row per point run in blocks or rounds.
fn section(r: &BenchResults, reference: &str, margin: f64, s: &mut String) {
    let points = verdict::blocked_points(r);
    if points.is_empty() || !r.config.is_blocked() {
        return;
    }
    s.push_str("## How each point was measured\n\n");
    if let Some(sl) = r
        .config
        .slicing
        .filter(|_| r.config.design == Design::Interleaved)
    {
        let _ = writeln!(
            s,
            "**Interleaved** points: every server of the point started once and stayed up; loadgen opened the point's connections to each and ran rounds. A round visits every server once, in an order drawn from the seed, for a slice: {} ms of warm-up (not counted), a quiesce in which the warm-up's replies come in, then the measured part: {} ms of sending and a drain in which the last replies come in (at most {} ms; a later reply is a read timeout). Every counted sample started and finished inside the measured part, and the server's CPU is read idle at both its edges, so that CPU is exactly the CPU of those samples. Before the pairing, each round's slices are freed of the machine's drift within the round: a straight line through the round's residuals (each slice's log figure less its model's median over rounds) against the slices' start times is subtracted from them; the shuffled order puts every model early and late alike, so the line takes nothing from a model's level. A round uncounted by any verdict runs first: each server's first visit at the point's load, in which perf counts its system calls (perf's tracepoints cost CPU per call, so the counted rounds run without them). A model's pairs are its rounds. Slices are short bursts after idle; how far each model's ratio moves between 30 ms slices and sustained load was measured in results/2026-12-05-vm/validation, and README's model table names the models it moved for. **Blocks** points: each run starts its server fresh and measures one window; a block runs every model once in a shuffled order.\n",
            num(sl.warmup_ms, 0),
            num(sl.measured_ms, 0),
            num(sl.drain_limit_ms, 0),
        );
    }
    let twin = r.config.twin.as_deref();
    let mut header = row(&[
        "point",
        "design",
        "rounds or blocks",
        "measured per slice or run, s (median)",
        "loadgen CPU % (median)",
    ]);
    if let Some(t) = twin {
        header.push(format!("{t} / {reference}"));
    }
    let mut rows = Vec::new();
    for &(suite, ref point, kind) in &points {
        let runs: Vec<&RunRecord> = r
            .runs
            .iter()
            .filter(|x| x.suite == suite && &x.point == point && x.position.is_some())
            .collect();
        let groups = runs.iter().filter_map(|x| x.slice.map(|sl| sl.group)).max();
        let design = match groups {
            Some(1) => "interleaved".to_string(),
            Some(g) => format!("interleaved, {g} groups with {reference}"),
            None => "blocks".to_string(),
        };
        let rounds = runs
            .iter()
            .filter_map(|x| x.slice.map(|sl| sl.round))
            .max()
            .unwrap_or_else(|| r.config.blocks_of(suite));
        let measured = median(
            runs.iter()
                .filter_map(|x| match x.slice {
                    Some(sl) => Some(sl.measured_s),
                    None => x.report.as_ref().map(|rep| rep.run.elapsed_s),
                })
                .collect(),
        );
        let loadgen = median(runs.iter().filter_map(|x| x.loadgen_cpu_pct()).collect());
        let mut row = vec![
            format!("{suite} {point}"),
            design,
            rounds.to_string(),
            measured.map_or("-".into(), |v| num(v, 3)),
            loadgen.map_or("-".into(), |v| num(v, 0)),
        ];
        if let Some(t) = twin {
            let cells: Vec<String> = verdict::metrics_for(suite, kind)
                .into_iter()
                .filter_map(|m| {
                    let pv = verdict::at_point(r, suite, point, m, reference, margin);
                    let row = pv.rows.iter().find(|x| x.model == t)?;
                    let iv = row.interval?;
                    Some(format!(
                        "{}: {} {}",
                        m.label,
                        iv.cell(),
                        row.verdict_cell(&m)
                    ))
                })
                .collect();
            row.push(if cells.is_empty() {
                "-".into()
            } else {
                cells.join("; ")
            });
        }
        rows.push(row);
    }
    let _ = writeln!(s, "{}", table(&header, &rows));
    if let Some(t) = twin {
        // (interleaved?, verdict) of every point and metric the twin has a row at.
        let judged: Vec<(bool, Verdict)> = points
            .iter()
            .flat_map(|&(suite, ref point, kind)| {
                let sliced = r
                    .runs
                    .iter()
                    .any(|x| x.suite == suite && &x.point == point && x.slice.is_some());
                verdict::metrics_for(suite, kind)
                    .into_iter()
                    .filter_map(move |m| {
                        let pv = verdict::at_point(r, suite, point, m, reference, margin);
                        pv.rows
                            .iter()
                            .find(|x| x.model == t)
                            .map(|x| (sliced, x.verdict))
                    })
            })
            .collect();
        let said = |sliced: bool| {
            let v: Vec<Verdict> = judged
                .iter()
                .filter(|(s, _)| *s == sliced)
                .map(|(_, v)| *v)
                .collect();
            let equivalent = v.iter().filter(|x| **x == Verdict::Equivalent).count();
            let decisive = v
                .iter()
                .filter(|x| matches!(x, Verdict::Better | Verdict::Worse))
                .count();
            (v.len(), equivalent, decisive)
        };
        let (n_i, eq_i, dec_i) = said(true);
        let (n_b, eq_b, dec_b) = said(false);
        let mut parts = Vec::new();
        if n_i > 0 {
            parts.push(format!(
                "equivalent in {eq_i} of the {n_i} verdicts at interleaved points"
            ));
        }
        if n_b > 0 {
            parts.push(format!(
                "in {eq_b} of the {n_b} at points run in blocks (fewer than {} blocks are always inconclusive)",
                verdict::MIN_BLOCKS
            ));
        }
        let decisive = dec_i + dec_b;
        let _ = writeln!(
            s,
            "**{t}** is a second copy of {reference}'s binary, run as a model of its own: it must come out equivalent. Here it is {}{}.\n",
            parts.join(", and "),
            if decisive > 0 {
                format!(
                    "; it is called faster or slower in {decisive}: there the intervals are narrower than what separates two copies of one server on this machine, so read the other verdicts of those points with that in mind"
                )
            } else {
                String::new()
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bench_from_before_interleaving_says_it_ran_in_blocks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let r = BenchResults::read(&root.join("results/2026-12-02-vm/bench/raw.json")).unwrap();
        assert_eq!(r.config.design, Design::Blocks);
        assert!(r.config.slicing.is_none() && r.config.twin.is_none());
        let mut s = String::new();
        section(&r, "epoll", 0.03, &mut s);
        let opening = sentence(&r);
        insta::assert_snapshot!(s);
        insta::assert_snapshot!("opening", opening);
    }
}
