//! `loadgen bench` and `loadgen report` end to end at tiny scale: two models, two connection
//! counts, one round of a second each (perf when it works here), then the report; raw.json
//! and summary.md must hold every model and every figure. Plus the bench's bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::testkit::binary;
use loadgen::bench::data::{BenchResults, RunStatus};

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
            "--rounds",
            "1",
            "--scale",
            "0.002",
            "--rate-fixed",
            "100000",
        ],
    );
    assert!(raw.complete);
    assert_eq!(raw.config.models, MODELS);
    // 2 sweep points + 1 fixed rate + 2 plans, for each model.
    assert_eq!(raw.runs.len(), 5 * MODELS.len());
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
        // Syscalls are counted exactly when perf works here, and then at least one per echo.
        assert_eq!(r.syscalls.is_some(), raw.environment.perf.is_some());
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
    ] {
        assert!(md.contains(needle), "summary.md lacks {needle:?}:\n{md}");
    }
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
    let frames: Vec<_> = raw.runs.iter().filter(|r| r.kind == "frames").collect();
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
            .find(|r| r.kind == "loopback" && r.model == m)
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
    assert!(!out.exists(), "bad input created {o}");
}
