//! The `spread` suite in summary.md: per number of prefork workers, a table of every model
//! in every accept mode (each worker's connections and share of the requests, busiest
//! first; the busiest share over the mean share for both; end-to-end p50 and p99;
//! requests/s), modes a model cannot do marked as not supported, and the paragraphs that
//! say, from those figures, where one worker ran hot and what each accept mode did about
//! it. Figures over several blocks are medians.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::BenchResults;
use crate::bench::names::SuiteName;
use crate::bench::suite::mixed::{CPU_MS, WAIT_MS};
use crate::bench::suite::spread::{self, ACCEPTS, CONNS, RAMPUP_S};
use crate::md::{ms_or_dash, num, row, table};

mod findings;
mod runs;

use findings::findings;
use runs::{Slot, SpreadRuns, ratio};

/// The table of one worker count.
fn workers_table(x: &SpreadRuns, processes: u32) -> String {
    let header = row(&[
        "model",
        "accept",
        "connections per worker",
        "conns max/mean",
        "requests per worker",
        "requests max/mean",
        "p50 ms",
        "p99 ms",
        "requests/s",
    ]);
    let mut rows = Vec::new();
    for m in &x.models {
        for accept in ACCEPTS {
            let mut row = vec![m.clone(), accept.name().to_string()];
            match x.slot(m, processes, accept) {
                Slot::NotSupported => {
                    row.push("not supported".into());
                    row.extend(std::iter::repeat_n("-".to_string(), 6));
                }
                Slot::NoData(failed) => {
                    row.push(if failed > 0 {
                        format!("no data ({failed} run(s) failed)")
                    } else {
                        "not run".into()
                    });
                    row.extend(std::iter::repeat_n("-".to_string(), 6));
                }
                Slot::Figures(f) => {
                    let conns: Vec<String> = f.conns.iter().map(|c| num(*c, 0)).collect();
                    let shares: Vec<String> = f
                        .shares
                        .iter()
                        .map(|s| format!("{:.0}%", s * 100.0))
                        .collect();
                    let hot = if f.hot() { " (**hot**)" } else { "" };
                    row.extend([
                        conns.join(" / "),
                        ratio(f.conns_max_mean),
                        shares.join(" / "),
                        format!("{}{hot}", ratio(f.requests_max_mean)),
                        ms_or_dash(f.p50_us),
                        ms_or_dash(f.p99_us),
                        f.requests_per_s.map_or("-".into(), |v| num(v, 1)),
                    ]);
                }
            }
            rows.push(row);
        }
    }
    table(&header, &rows)
}

/// The section.
pub struct Spread;

impl Section for Spread {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, s);
    }
}

/// The section of summary.md (nothing when the bench ran no `spread` point).
fn section(r: &BenchResults, s: &mut String) {
    let x = SpreadRuns::new(r);
    if x.runs.is_empty() {
        return;
    }
    let (measured, warmup) = spread::timing(&r.config);
    let _ = writeln!(
        s,
        "## spread\n\nHow a prefork server's workers (`--processes P`) share the load in each accept mode (`--accept`: `shared`, one listener every worker waits on; `exclusive`, the same listener with an exclusive wake-up such as EPOLLEXCLUSIVE; `reuseport`, one SO_REUSEPORT listener per worker, the kernel hashing each connection to one), as in the gevent notebook, where one worker of several on a shared socket took nearly every connection. The mixed workload ({cpu} ms of CPU and {wait} ms of backend wait per request); {conns} connections opened evenly over {rampup} s and kept, one 64-byte framed request in flight each; {measured} s measured after a {warmup} s warm-up; every worker pinned to the server CPU(s) {cpus}; {blocks} block(s). Each worker's connections (accepted over the whole run) and requests (answered after the warm-up) come from the stats file part it writes at exit; p50 and p99 are loadgen's, end to end. Busiest worker first; max/mean is the busiest worker's share over the mean share 1/P (1 is even, P is one worker taking everything); over several blocks, medians.\n",
        cpu = num(CPU_MS, 0),
        wait = num(WAIT_MS, 0),
        conns = CONNS,
        rampup = RAMPUP_S,
        cpus = r
            .environment
            .server_cpus
            .as_deref()
            .unwrap_or("(not pinned)"),
        blocks = r.config.blocks_of(SuiteName::Spread),
    );
    for &p in &x.processes {
        let _ = writeln!(s, "### {p} workers\n\n{}", workers_table(&x, p));
    }
    let one_cpu = r
        .environment
        .server_cpus
        .as_deref()
        .and_then(|c| c.parse::<common::pin::CpuList>().ok())
        .is_some_and(|c| c.cpus().len() == 1);
    findings(&x, one_cpu, s);
    let bad = x.mismatched();
    if bad.is_empty() {
        let _ = writeln!(
            s,
            "In every run with worker counts, the workers' connections add up to the run's {CONNS}.\n"
        );
    } else {
        let list: Vec<String> = bad
            .iter()
            .map(|r| {
                format!(
                    "{} {} block {} ({})",
                    r.model,
                    r.point,
                    r.block,
                    r.workers.as_ref().map_or(0, |w| w.connections())
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "In {} run(s) the workers' connections do not add up to {CONNS} (reconnects after errors, or a worker that died): {}.\n",
            bad.len(),
            list.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data::{RunRecord, RunStatus, WorkerCounts, Workers};
    use crate::bench::names::PointKind;
    use crate::report::sections::new_lines;

    /// A finished spread run with these per-worker (connections, requests) and loadgen's
    /// p50 (p99 twice that), made from JSON as the mixed tests make theirs.
    fn run(model: &str, point: &str, block: u32, workers: &[(u64, u64)], p50_ms: f64) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "suite": "spread",
            "point": point,
            "kind": PointKind::Spread,
            "conns": CONNS,
            "block": block,
            "model": model,
            "status": RunStatus::Ok,
            "ready_line": null,
            "args": [],
            "messages_per_s": 200.0,
            "rss_start_kib": null,
            "rss_peak_kib": null,
            "vsz_peak_kib": null,
            "syscalls": null,
            "report": null,
        }))
        .expect("a run record");
        let mut rep = test_report();
        rep.latency_us.p50 = (p50_ms * 1000.0) as u64;
        rep.latency_us.p99 = (p50_ms * 2000.0) as u64;
        r.report = Some(rep);
        r.workers = Some(Workers {
            workers: workers
                .iter()
                .map(|&(connections, requests)| WorkerCounts {
                    connections,
                    requests,
                })
                .collect(),
        });
        r
    }

    fn test_report() -> crate::run::report::RunReport {
        let mut stats = crate::stats::Stats::new(false);
        stats.ok(1000, 1000);
        crate::run::report::test_report(&stats)
    }

    fn results() -> BenchResults {
        let mut config = crate::bench::suite::config(1.0);
        config.models = vec!["epoll".into(), "tokio".into()];
        config.blocks = 3;
        let mut runs = Vec::new();
        for block in 1..=3 {
            // epoll: shared piles 40 of 48 connections and 80% of the requests on one worker
            // (max/mean 1.67 and 1.6); exclusive does the same; reuseport is even.
            runs.push(run(
                "epoll",
                "p2-shared",
                block,
                &[(8, 200), (40, 800)],
                100.0,
            ));
            runs.push(run(
                "epoll",
                "p2-exclusive",
                block,
                &[(40, 800), (8, 200)],
                110.0,
            ));
            runs.push(run(
                "epoll",
                "p2-reuseport",
                block,
                &[(25, 520), (23, 480)],
                60.0,
            ));
            // tokio: exclusive refused, so not run; shared and reuseport even enough.
            runs.push(run(
                "tokio",
                "p2-shared",
                block,
                &[(24, 500), (24, 500)],
                70.0,
            ));
            runs.push(run(
                "tokio",
                "p2-reuseport",
                block,
                &[(26, 540), (22, 460)],
                65.0,
            ));
            // 4 workers: epoll shared has one of four take nearly everything.
            let p50 = 90.0 + f64::from(block);
            runs.push(run(
                "epoll",
                "p4-shared",
                block,
                &[(45, 900), (1, 40), (1, 30), (1, 30)],
                p50,
            ));
            runs.push(run(
                "epoll",
                "p4-reuseport",
                block,
                &[(12, 250), (12, 250), (12, 250), (12, 250)],
                61.0,
            ));
        }
        // A failed run is no data, not a figure.
        let mut failed = run("tokio", "p4-shared", 1, &[], 1.0);
        failed.status = RunStatus::ServerFailed("no readiness line".into());
        failed.workers = None;
        runs.push(failed);
        BenchResults::of_runs(config, runs)
    }

    #[test]
    fn section_has_a_table_per_worker_count_and_findings_from_the_data() {
        let mut s = String::new();
        section(&results(), &mut s);
        insta::assert_snapshot!(s);
        let row = |m: &str, a: &str, nth: usize| {
            s.lines()
                .filter(|l| l.starts_with(&format!("| {m} | {a} |")))
                .nth(nth)
                .unwrap_or_else(|| panic!("no row {m} {a} in {s}"))
                .to_string()
        };
        assert_eq!(
            row("epoll", "shared", 0),
            "| epoll | shared | 40 / 8 | 1.67 | 80% / 20% | 1.60 (**hot**) | 100 | 200 | 200.0 |"
        );
        assert_eq!(
            row("epoll", "reuseport", 0),
            "| epoll | reuseport | 25 / 23 | 1.04 | 52% / 48% | 1.04 | 60.0 | 120 | 200.0 |"
        );
        assert!(
            row("tokio", "exclusive", 0).contains("| not supported |"),
            "{s}"
        );
        assert!(
            row("tokio", "shared", 1).contains("no data (1 run(s) failed)"),
            "{s}"
        );
        // The median over the three blocks: p50 91, 92, 93 ms -> 92.
        assert!(
            row("epoll", "shared", 1).contains("| 45 / 1 / 1 / 1 | 3.75 |"),
            "{s}"
        );
        assert!(
            row("epoll", "shared", 1).contains("| 3.60 (**hot**) | 92.0 | 184 |"),
            "{s}"
        );
        let mut pinned = results();
        pinned.environment.server_cpus = Some("0".into());
        let mut p = String::new();
        section(&pinned, &mut p);
        insta::assert_snapshot!("pinned_lines", new_lines(&s, &p));
    }

    #[test]
    fn counts_that_do_not_add_up_are_named() {
        let mut r = results();
        r.runs
            .push(run("epoll", "p2-shared", 4, &[(30, 10), (20, 10)], 50.0));
        let mut s = String::new();
        section(&r, &mut s);
        let mut before = String::new();
        section(&results(), &mut before);
        insta::assert_snapshot!(new_lines(&before, &s));
    }

    #[test]
    fn nothing_without_the_suite() {
        let mut r = results();
        r.runs.clear();
        let mut s = String::new();
        section(&r, &mut s);
        assert!(s.is_empty());
    }
}
