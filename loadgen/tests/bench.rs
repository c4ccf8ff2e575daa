//! `loadgen bench` and `loadgen report` end to end at tiny scale: two models, two connection
//! counts, two blocks of a second each (perf when it works here), then the report; raw.json
//! and summary.md must hold every model and every figure, the blocks' shuffled orders and
//! the verdicts. `loadgen compare` on two bench folders, older raw.json files, and the
//! bench's, report's and compare's bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::testkit::binary;
use loadgen::bench::data::BenchResults;
use loadgen::bench::data::record::{RunRecord, RunStatus};
use loadgen::bench::interleave::round_order;
use loadgen::bench::names::{PointKind, SuiteName};
use loadgen::bench::schedule::block_order;

const MODELS: [&str; 2] = ["epoll", "tokio"];

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("run loadgen")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh, not yet existing folder under the temp dir.
fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The folder of the servers built with this test's profile.
fn bin_dir() -> PathBuf {
    let mut dir = PathBuf::new();
    for m in MODELS {
        dir = binary(&format!("echo-{m}"))
            .parent()
            .expect("binary has a folder")
            .to_path_buf();
    }
    dir
}

/// Runs `loadgen bench ARGS` with the test's servers into `out`, which must succeed, and
/// reads back its raw.json.
fn bench(out: &Path, args: &[&str]) -> BenchResults {
    let bins = bin_dir();
    let places = [
        "--bin-dir",
        bins.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let run = loadgen(&[&["bench"][..], args, &places].concat());
    assert!(
        run.status.success(),
        "bench failed: {}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    BenchResults::read(&out.join("raw.json")).expect("raw.json")
}

#[test]
fn bench_then_report_has_every_model_and_figure() {
    let out = out_dir("smoke");
    let raw = bench(
        &out,
        &[
            "--suite",
            "pingpong,plans",
            "--models",
            &MODELS.join(","),
            "--conns",
            "10,50",
            "--duration",
            "1s",
            "--blocks",
            "2,plans=1",
            "--seed",
            "7",
            "--scale",
            "0.002",
            "--rate-fixed",
            "200",
            "--design",
            "blocks",
        ],
    );
    assert!(raw.complete);
    assert_eq!(raw.config.models, MODELS);
    // (2 sweep points + 1 fixed rate) x 2 blocks + 2 plans x 1 block, for each model.
    assert_eq!(raw.runs.len(), 8 * MODELS.len());
    assert_eq!(raw.config.seed, Some(7));
    assert_eq!(
        (raw.config.blocks, raw.config.blocks_of(SuiteName::Plans)),
        (2, 1)
    );
    assert_eq!(raw.config.reference, "epoll");
    // Every block runs every model once, in the order the seed gives.
    for chunk in raw.runs.chunks(MODELS.len()) {
        let (suite, point, block) = (&chunk[0].suite, &chunk[0].point, chunk[0].block);
        assert!(
            chunk
                .iter()
                .all(|r| &r.suite == suite && &r.point == point && r.block == block)
        );
        let order = block_order(7, *suite, point, block, MODELS.len());
        for (pos, r) in chunk.iter().enumerate() {
            assert_eq!(r.position, Some(pos as u32 + 1));
            assert_eq!(r.model, MODELS[order[pos]], "{suite} {point} block {block}");
        }
        assert!(r_started_in_order(chunk));
    }
    for r in &raw.runs {
        assert_eq!(
            r.status,
            RunStatus::Ok,
            "{} {} {}",
            r.model,
            r.suite,
            r.point
        );
        let rep = r.report.as_ref().expect("a report");
        assert!(
            rep.ok > 0 && rep.errors == 0,
            "{} {}: {} ok",
            r.model,
            r.point,
            rep.ok
        );
        assert!(r.messages_per_s.unwrap() > 0.0);
        assert!(rep.server.as_ref().is_some_and(|s| s.alive_at_end));
        assert!(r.rss_peak_kib.unwrap() > 0 && r.vsz_peak_kib.unwrap() > 0);
        assert!(
            r.ready_line
                .as_deref()
                .unwrap()
                .contains(&format!("model={}", r.model))
        );
        // Syscalls and CPU nanoseconds are counted exactly when perf works here, and then
        // at least one system call per echo.
        assert_eq!(r.syscalls.is_some(), raw.environment.perf.is_some());
        assert_eq!(r.server_cpu_ns.is_some(), raw.environment.perf.is_some());
        assert!(r.server_cpu_ns.is_none_or(|ns| ns > 0));
        assert!(r.steal_pct.is_some_and(|s| (0.0..=100.0).contains(&s)));
        let fair = rep.fairness.as_ref().expect("per-connection figures");
        assert_eq!(fair.users, r.conns);
        assert!(fair.jain > 0.0 && fair.jain <= 1.0 + 1e-9 && fair.max >= fair.min);
        if let Some(s) = &r.syscalls {
            assert!(s.per_message >= 1.0, "{} syscalls/msg", s.per_message);
        }
    }
    let env = &raw.environment;
    assert!(env.base.cpus_online >= 1 && !env.base.kernel.is_empty());
    assert!(env.crates.contains_key("tokio"));
    assert_eq!(env.server_cpus.is_some(), env.base.cpus_online >= 2);

    let report = loadgen(&["report", out.to_str().unwrap()]);
    assert!(
        report.status.success(),
        "report failed: {}",
        text(&report.stderr)
    );
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    for needle in [
        "loadgen bench --suite pingpong,plans --models epoll,tokio",
        "## Main table",
        "Messages per second (mean ± 95% interval",
        "Speed relative to the slowest model",
        "Latency p50 / p95",
        "Server CPU microseconds (user + system) per message",
        "Server system calls per message",
        "User share of the server's CPU time",
        "Server RSS per connection",
        "Server CPU at a fixed offered load (200 msg/s",
        "| 10 conns | 50 conns |",
        "### 1000x4 (threads x loops)",
        "### 100x40 (threads x loops)",
        "## Environment",
        "pingpong-throughput.svg",
        "pingpong-p95.svg",
        "## Verdicts",
        "### Fairness per connection",
        "### pingpong 10 conns: messages/s",
        "### pingpong 200 msg/s over 100 conns: server CPU us/message",
        "### plans 1000x4: messages/s",
        "| model | ratio [95% interval] | wins/blocks | verdict | tier | median ratio |",
        "| epoll | 1.000 [1.000, 1.000] | -/2 | reference | ",
        "forest-pingpong-10-msg-s.svg",
    ] {
        assert!(md.contains(needle), "summary.md lacks {needle:?}:\n{md}");
    }
    let forest = std::fs::read_to_string(out.join("forest-pingpong-10-msg-s.svg")).unwrap();
    assert!(forest.contains(">tokio</text>") && forest.contains("ratio to epoll"));
    // Another reference, given to the report.
    let again = loadgen(&["report", out.to_str().unwrap(), "--reference", "tokio"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let md2 = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md2.contains("| tokio | 1.000 [1.000, 1.000] | -/2 | reference | "));

    // The same bench against itself: every model and point, nothing to call.
    let cmp = loadgen(&["compare", out.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(cmp.status.success(), "{}", text(&cmp.stderr));
    let table = text(&cmp.stdout);
    assert!(table.contains(
        "| suite | point | metric | model | A: ratio to epoll | B: ratio to epoll | B / A [95% interval] |"
    ));
    assert!(table.contains("An unpaired comparison of two runs made at different times"));
    for m in MODELS.iter().filter(|m| **m != "epoll") {
        assert!(
            table.contains(&format!("| pingpong | 10 | messages/s | {m} |")),
            "{table}"
        );
    }
    assert!(
        !table.contains("| faster |") && !table.contains("| slower |"),
        "{table}"
    );
    // A bench made with other settings cannot be compared with it.
    let other = out_dir("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut changed = raw.clone();
    changed.config.duration_s = 3.0;
    for run in &mut changed.runs {
        for a in &mut run.args {
            if a == "1s" {
                *a = "3s".into();
            }
        }
    }
    changed.write(&other.join("raw.json")).unwrap();
    bad(
        &["compare", out.to_str().unwrap(), other.to_str().unwrap()],
        "settings differ (pingpong 10: --duration 1s and 3s)",
    );
    bad(
        &[
            "compare",
            out.to_str().unwrap(),
            other.to_str().unwrap(),
            "--margin",
            "0",
        ],
        "--margin",
    );
    bad(
        &["report", out.to_str().unwrap(), "--reference", "nope"],
        "--reference: 'nope'",
    );
    bad(
        &["report", out.to_str().unwrap(), "--margin", "1.5"],
        "--margin",
    );
    let _ = std::fs::remove_dir_all(&other);
    for m in MODELS {
        // Every table has a row for every model (main, 7 pingpong, fixed rate, 2 plans).
        let rows = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {m} |")))
            .count();
        assert!(rows >= 11, "{m} has {rows} rows:\n{md}");
    }
    for svg in [
        "pingpong-throughput.svg",
        "pingpong-p95.svg",
        "pingpong-cpu-per-msg.svg",
    ] {
        let s = std::fs::read_to_string(out.join(svg)).expect(svg);
        assert!(
            s.starts_with("<svg") && MODELS.iter().all(|m| s.contains(&format!(">{m}</text>")))
        );
    }

    // A README section is replaced, not appended twice.
    let readme = out.join("README.md");
    std::fs::write(&readme, "# Results\n").unwrap();
    for _ in 0..2 {
        let r = loadgen(&[
            "report",
            out.to_str().unwrap(),
            "--readme",
            readme.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "{}", text(&r.stderr));
    }
    let readme = std::fs::read_to_string(&readme).unwrap();
    assert_eq!(readme.matches("<!-- latest-run:begin -->").count(), 1);
    assert!(readme.contains("| epoll |") && readme.starts_with("# Results\n"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn frames_bench_records_megabytes_and_the_loopback_limit() {
    let out = out_dir("frames");
    // At this scale only the 1 MiB point remains (2 frames); the baselines run 1 s each.
    let raw = bench(
        &out,
        &[
            "--suite",
            "frames",
            "--models",
            "epoll",
            "--rounds",
            "1",
            "--duration",
            "1s",
            "--scale",
            "0.001",
            "--no-perf",
        ],
    );
    let frames: Vec<_> = raw
        .runs
        .iter()
        .filter(|r| r.kind == PointKind::Frames)
        .collect();
    assert_eq!(frames.len(), 1);
    let f = frames[0];
    assert_eq!(
        (f.model.as_str(), f.point.as_str(), &f.status),
        ("epoll", "1MiB", &RunStatus::Ok)
    );
    assert!(f.server_args.contains(&"--framed".to_string()));
    let rep = f.report.as_ref().expect("a report");
    assert_eq!((rep.ok, rep.errors), (2, 0));
    assert_eq!(f.mb_per_s, Some(rep.payload_mb_per_s));
    assert!(f.mb_per_s.unwrap() > 0.0 && f.rss_peak_kib >= f.rss_start_kib);
    let base = |m: &str| {
        raw.runs
            .iter()
            .find(|r| r.kind == PointKind::Loopback && r.model == m)
    };
    let stream = base("loadgen-stream").expect("a stream baseline");
    assert!(stream.status == RunStatus::Ok && stream.mb_per_s.unwrap() > 0.0);
    let iperf = base("iperf3").expect("an iperf3 baseline, or why not");
    assert!(iperf.mb_per_s.is_some() || matches!(iperf.status, RunStatus::LoadFailed(_)));

    let report = loadgen(&["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    for needle in [
        "## frames",
        "2 x 1MiB",
        "| epoll | ",
        "Loopback limit, one way",
        "frames-throughput.svg",
    ] {
        assert!(md.contains(needle), "summary.md lacks {needle:?}:\n{md}");
    }
    let svg = std::fs::read_to_string(out.join("frames-throughput.svg")).expect("svg");
    assert!(svg.contains(">epoll</text>") && svg.contains(">loadgen stream</text>"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn interleaved_rounds_visit_every_server_in_the_seeded_order_with_a_twin() {
    let out = out_dir("interleaved");
    let raw = bench(
        &out,
        &[
            "--suite",
            "pingpong",
            "--models",
            &MODELS.join(","),
            "--twin",
            "--conns",
            "10,50",
            "--blocks",
            "3",
            "--slice",
            "60ms",
            "--slice-warmup",
            "30ms",
            "--seed",
            "11",
            "--rate-fixed",
            "500",
        ],
    );
    assert!(raw.complete);
    assert_eq!(raw.config.models, ["epoll", "epoll-twin", "tokio"]);
    assert_eq!(raw.config.twin.as_deref(), Some("epoll-twin"));
    let n = raw.config.models.len();
    // (2 sweep points + 1 fixed rate) x 3 rounds x 3 servers, one record per slice.
    assert_eq!(raw.runs.len(), 3 * 3 * n);
    for chunk in raw.runs.chunks(n) {
        let (point, block) = (&chunk[0].point, chunk[0].block);
        let order = round_order(11, SuiteName::PingPong, point, 1, block, n);
        for (pos, r) in chunk.iter().enumerate() {
            assert_eq!(
                r.model, raw.config.models[order[pos]],
                "{point} round {block}"
            );
            assert_eq!(r.position, Some(pos as u32 + 1));
            let sl = r.slice.expect("a slice");
            assert_eq!((sl.round, sl.group), (block, 1));
            assert!(sl.measured_s >= 0.06 && sl.warmup_s >= 0.03, "{sl:?}");
            assert_eq!(sl.connected, r.conns);
            assert_eq!(r.status, RunStatus::Ok, "{} {point}", r.model);
            let rep = r.report.as_ref().unwrap();
            assert!(
                rep.ok > 0 && rep.errors == 0,
                "{} {point}: {rep:?}",
                r.model
            );
            // Server CPU from schedstat in every slice, perf or not.
            assert!(r.server_cpu_ns.is_some_and(|ns| ns > 0));
            // System calls are counted in the uncounted first round, and shown on round 1.
            let perf = raw.environment.perf.is_some();
            assert_eq!(r.syscalls.is_some(), perf && block == 1, "{r:?}");
            assert_eq!(rep.fairness.as_ref().unwrap().users, r.conns);
        }
        assert!(r_started_in_order(chunk));
    }
    let report = loadgen(&["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    for needle in [
        "## How each point was measured",
        "**Interleaved** points",
        "| pingpong 10 | interleaved | 3 |",
        "epoll-twin / epoll",
        "**epoll-twin** is a second copy of epoll's binary",
        "| epoll-twin | ",
    ] {
        assert!(md.contains(needle), "summary.md lacks {needle:?}:\n{md}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs of one block started one after the other, in their positions' order.
fn r_started_in_order(chunk: &[RunRecord]) -> bool {
    chunk
        .windows(2)
        .all(|w| w[0].started_unix_ms <= w[1].started_unix_ms && w[0].started_unix_ms.is_some())
}

#[test]
fn older_raw_json_still_renders_and_says_it_predates_verdicts() {
    // The committed quick bench of 2026-11-21: rounds, no blocks, no seed.
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/2026-11-21-vm/bench/raw.json");
    let dir = out_dir("old");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&old, dir.join("raw.json")).expect("the committed raw.json");
    let report = loadgen(&["report", dir.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("## Main table") && md.contains("| epoll |"),
        "{md}"
    );
    assert!(md.contains("This bench predates verdicts"), "{md}");
    let raw = BenchResults::read(&dir.join("raw.json")).unwrap();
    assert!(raw.config.seed.is_none() && raw.runs.iter().all(|r| r.position.is_none()));
    assert_eq!(raw.config.blocks, 1, "rounds read as blocks");
    let _ = std::fs::remove_dir_all(&dir);
}

fn bad(args: &[&str], expect: &str) {
    let out = loadgen(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(expect), "{args:?}: {err}");
}

#[test]
fn bench_bad_input_is_one_line_and_exit_2() {
    let out = out_dir("bad");
    let o = out.to_str().unwrap();
    let missing = Path::new("/nonexistent-bins");
    let m = missing.to_str().unwrap();
    bad(
        &["bench", "--models", "epoll,nope", "--out", o],
        "unknown model 'nope'",
    );
    bad(
        &["bench", "--suite", "nope", "--out", o],
        "unknown suite 'nope'",
    );
    bad(
        &["bench", "--conns", "100,60000", "--out", o],
        "60000 connections",
    );
    bad(&["bench", "--out", "/", "--bin-dir", m], "exists already");
    bad(
        &["bench", "--models", "epoll", "--out", o, "--bin-dir", m],
        "cargo build --release",
    );
    bad(&["report", o], "cannot read");
    bad(
        &[
            "bench",
            "--models",
            "epoll,tokio",
            "--reference",
            "smol",
            "--out",
            o,
        ],
        "--reference: 'smol' is not one of the models run",
    );
    bad(&["bench", "--margin", "0", "--out", o], "--margin");
    bad(&["bench", "--blocks", "0", "--out", o], "--blocks: '0'");
    bad(
        &[
            "bench",
            "--slice",
            "20ms",
            "--slice-warmup",
            "50ms",
            "--out",
            o,
        ],
        "--slice (20 ms) is shorter than --slice-warmup (50 ms)",
    );
    bad(
        &["bench", "--models", "tokio,uring", "--twin", "--out", o],
        "--twin needs a reference",
    );
    bad(
        &["bench", "--design", "nope", "--out", o],
        "invalid value 'nope'",
    );
    bad(&["compare", o, "/"], "folder(s)");
    // Another build of a model: missing, or there and not executable.
    let spec = "epoll-before=epoll:bin=/nonexistent/echo-epoll";
    bad(
        &["bench", "--models", "epoll", "--variant", spec, "--out", o],
        "--variant 'epoll-before=epoll:bin=/nonexistent/echo-epoll': bin=/nonexistent/echo-epoll is not an executable file",
    );
    let plain = std::env::temp_dir().join(format!("not-executable-{}", std::process::id()));
    std::fs::write(&plain, b"#!/bin/sh\n").unwrap();
    let spec = format!("epoll-before=epoll:bin={}", plain.display());
    bad(
        &["bench", "--models", "epoll", "--variant", &spec, "--out", o],
        "is not an executable file",
    );
    let _ = std::fs::remove_file(&plain);
    assert!(!out.exists(), "bad input created {o}");
}
