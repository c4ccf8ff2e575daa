//! The `mixed` suite in summary.md: per model, throughput, speedup over one connection
//! against Amdahl's bound 1/(1-p), server CPU and latency at each concurrency, with a
//! speedup chart and a latency chart; the targets checked; the `--max-conns` comparison at
//! 50 connections (end-to-end latency from loadgen, service time from the server); and the
//! two paragraphs that explain them, their figures rendered from the data.

use std::fmt::Write as _;

use super::{Bench, ChartFile, Section};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::SuiteName;
use crate::bench::suite::mixed::{CAP, CAP_CONNS, CPU_MS, SPLITS, WAIT_MS, amdahl, capped_point};
use crate::md::{ms, ms_or_dash, num, row, table};
use crate::report::figures::{lat, mean, pm};

mod charts;
mod paragraphs;
mod runs;

use charts::charts;
use paragraphs::{cap_paragraph, pool_paragraph, thread_paragraph};
use runs::{
    MixedRuns, PREEMPTIVE, latency_file, requests_per_s, service, speedup_file, unloaded_us,
};

/// Targets for committed results: speedup within this share of 1/(1-p) from 13 connections.
const SPEEDUP_TOLERANCE: f64 = 0.10;
/// p50 within this share of the unloaded 60 ms up to 11 connections.
const P50_TOLERANCE: f64 = 0.10;
/// With the cap, served requests' p99 at most this many times the unloaded 60 ms.
const CAPPED_P99_FACTOR: f64 = 1.2;
/// With the cap, throughput within this share of the uncapped peak.
const CAPPED_THROUGHPUT_TOLERANCE: f64 = 0.05;

/// What the servers' service times cover: since `--stats-warmup`, the measured part only.
fn service_span(r: &BenchResults) -> &'static str {
    let mut files = r.runs.iter().filter_map(|run| run.service.as_ref());
    match files.next() {
        Some(first) if first.warmup_us > 0 && files.all(|f| f.warmup_us > 0) => {
            "leave out the requests that began during the warm-up, as the other figures do"
        }
        _ => "cover the whole run, warm-up included",
    }
}

/// The section and its charts.
pub struct Mixed;

impl Section for Mixed {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, s);
    }

    fn charts(&self, b: &Bench) -> Vec<ChartFile> {
        charts(b.results)
    }
}

/// The section of summary.md (nothing when the bench ran no `mixed` point).
fn section(r: &BenchResults, s: &mut String) {
    let x = MixedRuns::new(r);
    if x.sweep.is_empty() && x.cap.is_empty() {
        return;
    }
    let (p, bound) = amdahl();
    let (measured, warmup) = crate::bench::suite::mixed::timing(&r.config);
    let _ = writeln!(
        s,
        "## mixed\n\nEvery request costs the server {cpu} ms of CPU (a real spin on the serving thread, half before and half after the wait) and {wait} ms of backend wait in {SPLITS} parts (the model's own timer or sleep). A fraction p = {wait}/{total} of each request can overlap with others, so the speedup over one connection is bounded by Amdahl's 1/(1-p) = {bound}: one server CPU does at most {max_rps} requests/s of this work, reached at {bound} connections. 64-byte framed requests, one in flight per connection, closed loop; {measured} s measured per run after a {warmup} s warm-up that is not counted, {rounds} block(s). Server CPU counts from the warm-up's end; the server's own service times (first byte read to last byte written, from its `--stats-file`) {service_span}.\n",
        cpu = num(CPU_MS, 0),
        wait = num(WAIT_MS, 0),
        total = num(CPU_MS + WAIT_MS, 0),
        bound = num(bound, 0),
        max_rps = num(1000.0 / CPU_MS, 0),
        rounds = r.config.blocks_of(SuiteName::Mixed),
        service_span = service_span(r),
    );
    debug_assert!(p > 0.0 && p < 1.0);
    targets(&x, s);
    cap_table(&x, s);
    cap_paragraph(&x, s);
    thread_paragraph(&x, s);
    pool_paragraph(r, &x, s);
    per_model(&x, s);
}

fn per_model(x: &MixedRuns, s: &mut String) {
    let header = row(&[
        "conns",
        "requests/s",
        "speedup",
        "of min(N, 1/(1-p))",
        "server CPU %",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "service p50 ms",
        "service p99 ms",
    ]);
    let (_, bound) = amdahl();
    for m in x.models() {
        let rows: Vec<Vec<String>> = x
            .sweep
            .points
            .iter()
            .map(|p| {
                let n = x.sweep.conns(p) as f64;
                let speedup = x.speedup(&m, p);
                let c = |f: fn(&RunRecord) -> Option<f64>| x.sweep.cell(&m, p, f);
                vec![
                    num(n, 0),
                    pm(c(requests_per_s), 1),
                    speedup.map_or("-".into(), |v| format!("x{v:.2}")),
                    speedup.map_or("-".into(), |v| format!("{:.0}%", v / n.min(bound) * 100.0)),
                    mean(c(RunRecord::server_cpu_pct), |v| num(v, 1)),
                    mean(c(|r| lat(r, |l| l.p50)), ms),
                    mean(c(|r| lat(r, |l| l.p95)), ms),
                    mean(c(|r| lat(r, |l| l.p99)), ms),
                    ms_or_dash(x.at(&m, p, service(|s| s.p50_us))),
                    ms_or_dash(x.at(&m, p, service(|s| s.p99_us))),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "### {m}\n\n{}\n![{m}: speedup vs connections]({})\n![{m}: latency vs connections]({})\n",
            table(&header, &rows),
            speedup_file(&m),
            latency_file(&m)
        );
    }
}

/// Each model against the targets set for committed results.
fn targets(x: &MixedRuns, s: &mut String) {
    let (_, bound) = amdahl();
    let unloaded = unloaded_us();
    let capped = capped_point();
    let mut rows = Vec::new();
    for m in x.models() {
        let past_knee: Vec<f64> = x
            .sweep
            .points
            .iter()
            .filter(|p| x.sweep.conns(p) as f64 > bound)
            .filter_map(|p| x.speedup(&m, p))
            .collect();
        let low_speedup = past_knee.iter().copied().reduce(f64::min);
        let p50_off = x
            .sweep
            .points
            .iter()
            .filter(|p| (x.sweep.conns(p) as f64) < bound)
            .filter_map(|p| x.at(&m, p, |r| lat(r, |l| l.p50)))
            .map(|v| (v - unloaded) / unloaded)
            .reduce(|a, b| if b.abs() > a.abs() { b } else { a });
        let capped_p99 = x.at_cap(&m, &capped, service(|s| s.p99_us));
        let capped_rps = x.at_cap(&m, &capped, requests_per_s);
        let share = capped_rps.zip(x.uncapped_peak(&m)).map(|(c, u)| c / u);
        let verdict = |ok: Option<bool>| match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let applies = m != PREEMPTIVE;
        let mark = |ok: Option<bool>| {
            if applies {
                verdict(ok).to_string()
            } else {
                format!("({})", verdict(ok))
            }
        };
        rows.push(vec![
            if applies {
                m.clone()
            } else {
                format!("{m} (preemptive)")
            },
            low_speedup.map_or("-".into(), |v| format!("x{v:.2}")),
            mark(low_speedup.map(|v| v >= bound * (1.0 - SPEEDUP_TOLERANCE))),
            p50_off.map_or("-".into(), |v| format!("{:+.1}%", v * 100.0)),
            mark(p50_off.map(|v| v.abs() <= P50_TOLERANCE)),
            ms_or_dash(capped_p99),
            verdict(capped_p99.map(|v| v <= unloaded * CAPPED_P99_FACTOR)).into(),
            share.map_or("-".into(), |v| format!("{:.1}%", v * 100.0)),
            verdict(share.map(|v| v >= 1.0 - CAPPED_THROUGHPUT_TOLERANCE)).into(),
        ]);
    }
    let header: Vec<String> = [
        "model".to_string(),
        format!("lowest speedup past {} conns", num(bound, 0)),
        format!(
            "within {:.0}% of x{}",
            SPEEDUP_TOLERANCE * 100.0,
            num(bound, 0)
        ),
        format!(
            "worst p50 vs {} ms below {} conns",
            ms(unloaded),
            num(bound, 0)
        ),
        format!("within {:.0}%", P50_TOLERANCE * 100.0),
        format!("service p99 ms, --max-conns {CAP}"),
        format!("at most {CAPPED_P99_FACTOR} x {} ms", ms(unloaded)),
        "capped requests/s of uncapped peak".into(),
        format!("within {:.0}%", CAPPED_THROUGHPUT_TOLERANCE * 100.0),
    ]
    .into();
    let _ = writeln!(
        s,
        "### Targets\n\nCooperative models should reach within {:.0}% of x{} past the knee and keep p50 within {:.0}% of the unloaded {} ms below it (the thread model's verdicts are in parentheses: the targets are for cooperative models); with `--max-conns {CAP}` at {CAP_CONNS} connections, every model's served requests should keep p99 within {CAPPED_P99_FACTOR} x {} ms at no more than {:.0}% less throughput than its uncapped peak.\n\n{}",
        SPEEDUP_TOLERANCE * 100.0,
        num(bound, 0),
        P50_TOLERANCE * 100.0,
        ms(unloaded),
        ms(unloaded),
        CAPPED_THROUGHPUT_TOLERANCE * 100.0,
        table(&header, &rows)
    );
}

fn cap_table(x: &MixedRuns, s: &mut String) {
    let header = row(&[
        "model",
        "server",
        "requests/s",
        "end-to-end p50 ms",
        "end-to-end p99 ms",
        "service p50 ms",
        "service p99 ms",
        "server CPU %",
    ]);
    let mut rows = Vec::new();
    for m in x.models() {
        for (p, label) in [
            (CAP_CONNS.to_string(), "uncapped".to_string()),
            (capped_point(), format!("--max-conns {CAP}")),
        ] {
            let c = |f: fn(&RunRecord) -> Option<f64>| x.cap.cell(&m, &p, f);
            if c(requests_per_s).is_none() {
                continue;
            }
            rows.push(vec![
                m.clone(),
                label,
                pm(c(requests_per_s), 1),
                mean(c(|r| lat(r, |l| l.p50)), ms),
                mean(c(|r| lat(r, |l| l.p99)), ms),
                ms_or_dash(x.at_cap(&m, &p, service(|s| s.p50_us))),
                ms_or_dash(x.at_cap(&m, &p, service(|s| s.p99_us))),
                mean(c(RunRecord::server_cpu_pct), |v| num(v, 1)),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    let half_close = if x.half_closed() {
        ", and each client shuts down its sending side after its request (`--half-close`, the echo protocol's `Connection: close`), so that the server closes as soon as it has replied and its place goes to the next connection at once, not a client round trip later when the client's FIN arrives"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "### {CAP_CONNS} connections, uncapped and with --max-conns {CAP}\n\nBoth runs open a connection per request (`--no-reuse`), so that the cap, which counts connections, caps the requests in service{half_close}. End-to-end latency is loadgen's, from the connect to the whole echo (it includes any wait in the listen backlog); service time is the server's own, from the first byte it read to the last byte it wrote.\n\n{}",
        table(&header, &rows)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data::{RunStatus, ServiceTimes};
    use crate::report::sections::new_lines;
    use crate::run::report::RunReport;
    use crate::stats::Stats;

    /// A loadgen report whose p50/p95/p99 are `p50` ms and 1.1 and 1.2 times that.
    fn report(p50: f64) -> RunReport {
        let mut stats = Stats::new(false);
        stats.ok(1000, 1000);
        let mut r = crate::run::report::test_report(&stats);
        r.latency_us.p50 = (p50 * 1000.0) as u64;
        r.latency_us.p95 = (p50 * 1100.0) as u64;
        r.latency_us.p99 = (p50 * 1200.0) as u64;
        r
    }

    /// A finished mixed run: `rps` requests/s, loadgen p50 and server service p99 in ms.
    /// Made from JSON, so that fields other suites add (with serde defaults) need no
    /// change here.
    fn run(model: &str, point: &str, conns: u64, rps: f64, p50: f64, svc99: f64) -> RunRecord {
        let service = ServiceTimes {
            requests: 100,
            p50_us: (svc99 * 900.0) as u64,
            p99_us: (svc99 * 1000.0) as u64,
            ..ServiceTimes::default()
        };
        serde_json::from_value(serde_json::json!({
            "suite": "mixed",
            "point": point,
            "kind": if conns == CAP_CONNS { "cap" } else { "sweep" },
            "conns": conns,
            "round": 1,
            "model": model,
            "status": RunStatus::Ok,
            "ready_line": null,
            "args": [],
            "messages_per_s": rps,
            "rss_start_kib": null,
            "rss_peak_kib": null,
            "vsz_peak_kib": null,
            "syscalls": null,
            "report": report(p50),
            "service": service,
        }))
        .expect("a run record")
    }

    fn results() -> BenchResults {
        let mut config = crate::bench::suite::config(1.0);
        config.models = vec!["epoll".into(), "thread".into()];
        let mut runs = Vec::new();
        // epoll on target: x12 past the knee, p50 at 60 ms below it, the cap keeping
        // service p99 at 62 ms. thread misses the speedup (x9.6) and the capped p99.
        for (model, top, capped99) in [("epoll", 200.0, 62.0), ("thread", 160.0, 90.0)] {
            runs.push(run(model, "1", 1, 16.5, 60.5, 61.0));
            runs.push(run(model, "11", 11, 180.0, 61.0, 61.0));
            runs.push(run(model, "13", 13, top, 64.0, 64.0));
            runs.push(run(model, "23", 23, top, 115.0, 115.0));
            runs.push(run(model, "50", 50, top, 250.0, 260.0));
            runs.push(run(model, "50-max12", 50, top * 0.99, 250.0, capped99));
        }
        BenchResults::of_runs(config, runs)
    }

    #[test]
    fn section_has_tables_targets_and_paragraphs_from_the_data() {
        let r = results();
        let mut s = String::new();
        section(&r, &mut s);
        // Per model: a row per concurrency, speedup over one connection, the charts; the
        // cap table and paragraph: Little's law from the measured throughput.
        insta::assert_snapshot!(s);
        // Targets: epoll meets all; thread's speedup misses (in parentheses), its
        // capped p99 misses.
        let row = |m: &str| {
            s.lines()
                .find(|l| l.starts_with(&format!("| {m}")))
                .unwrap()
        };
        assert_eq!(
            row("epoll"),
            "| epoll | x12.12 | yes | +1.7% | yes | 62.0 | yes | 99.0% | yes |"
        );
        assert!(
            row("thread (preemptive)").contains("| x9.70 | (**no**) |"),
            "{s}"
        );
        assert!(
            row("thread (preemptive)").contains("| 90.0 | **no** |"),
            "{s}"
        );
        // Files from servers that left the warm-up out say so.
        let mut warmed = r.clone();
        for run in &mut warmed.runs {
            run.service.as_mut().unwrap().warmup_us = 200_000;
        }
        let mut w = String::new();
        section(&warmed, &mut w);
        insta::assert_snapshot!("warm_up_left_out", new_lines(&s, &w));
        // Nothing for a bench without the suite.
        let mut none = String::new();
        let mut other = r.clone();
        other.runs.clear();
        section(&other, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn a_pool_whose_workers_block_is_named_with_its_bound() {
        let mut r = results();
        // reactor-pool with its one worker, and with 16 (a bound of 267 requests/s, above
        // what the CPU does: not named).
        for (model, threads, rps) in [
            ("reactor-pool", 1, 16.9_f64),
            ("reactor-pool-16", 16, 199.0),
        ] {
            for (point, conns) in [("1", 1), ("11", 11), ("23", 23)] {
                let mut run = run(
                    model,
                    point,
                    conns,
                    rps.min(16.5 * conns as f64),
                    70.0,
                    70.0,
                );
                run.ready_line = Some(format!(
                    "listening on 127.0.0.1:7000 model=reactor-pool threads={threads}"
                ));
                r.runs.push(run);
            }
        }
        r.config
            .models
            .extend(["reactor-pool".into(), "reactor-pool-16".into()]);
        r.config.variants.push(
            serde_json::from_value(serde_json::json!({
                "name": "reactor-pool-16", "model": "reactor-pool", "env": [],
                "server_args": ["--threads=16"]
            }))
            .unwrap(),
        );
        let r = BenchResults::of_runs(r.config.clone(), r.runs.clone());
        let mut s = String::new();
        section(&r, &mut s);
        let line = s
            .lines()
            .find(|l| l.starts_with("**Pools whose workers block.**"));
        let line = line.unwrap_or_else(|| panic!("{s}"));
        assert!(
            line.contains(
                "wait: reactor-pool with 1 worker, about 16.7 requests/s (measured peak 16.9). "
            ),
            "{line}"
        );
        assert!(!line.contains("reactor-pool-16"), "{line}");
        assert!(line.contains("200/s x 60 ms = 12 (Little's law)"), "{line}");
        // Without a blocking pool, no paragraph.
        let mut plain = String::new();
        section(&results(), &mut plain);
        assert!(!plain.contains("Pools whose workers block"));
    }

    #[test]
    fn one_speedup_and_one_latency_chart_per_model() {
        let files = charts(&results());
        let names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(
            names,
            [
                "mixed-speedup-epoll.svg",
                "mixed-latency-epoll.svg",
                "mixed-speedup-thread.svg",
                "mixed-latency-thread.svg"
            ]
        );
        assert_eq!(files[0].svg.matches("<polyline").count(), 2);
        assert!(files[0].svg.contains("min(N, 1/(1-p) = 12)"));
        assert_eq!(files[1].svg.matches("<polyline").count(), 4);
        assert!(files.iter().all(|f| f.caption.is_none()));
        assert!(
            charts(&BenchResults {
                runs: vec![],
                ..results()
            })
            .is_empty()
        );
    }
}
