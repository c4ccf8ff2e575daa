//! The real binary: bad input, the summary line against the JSON, --procs, merge, exit codes.

mod support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::testkit::Server;
use loadgen::report::json;
use loadgen::report::text::parse_summary_line;

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("run loadgen")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bad_input_exits_2_with_one_line_and_sends_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cases: &[&[&str]] = &[
        &["--threads", "0", "--loops", "10"],
        &["--threads", "99999999", "--loops", "10"],
        &["--threads", "-3", "--loops", "10"],
        &["--loops", "0"],
        &["--threads", "10"],
        &["--loops", "5", "--duration", "1s"],
        &["--loops", "5", "--message-size", "0"],
        &["--loops", "5", "--message-size", "300MiB"],
        &["--loops", "5", "--message-size", "lots"],
        &["--loops", "5", "--host", "10.20.30.40"],
        &["--loops", "5", "--host", "203.0.113.7"],
        &["--loops", "5", "--source-addrs", "192.168.0.1-192.168.0.4"],
        &["--loops", "5", "--timeout", "5"],
        &["--loops", "5", "--rate", "-1"],
        &["--loops", "5", "--rate", "100", "--rampup", "1s"],
        &["--loops", "5", "--procs", "0"],
        &["--loops", "5", "--json", "/nonexistent-dir/x.json"],
        &["--loops", "5", "--no-such-flag"],
        &["--loops", "5", "--half-close"],
    ];
    for case in cases {
        let mut args = vec!["--port", &port];
        args.extend_from_slice(case);
        let out = loadgen(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case:?}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{case:?} should print one line: {err}"
        );
        assert!(err.starts_with("loadgen: "), "{case:?}: {err}");
        assert!(out.stdout.is_empty(), "{case:?}: {}", text(&out.stdout));
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("bad input must send nothing, got a connection: {other:?}"),
    }
}

#[test]
fn the_summary_line_parses_back_into_the_json_figures() {
    let server = Server::start("epoll", &[]);
    let file = temp("summary.json");
    let port = server.addr.port().to_string();
    let f = file.to_str().unwrap();
    let out = loadgen(&[
        "--port",
        &port,
        "--threads",
        "4",
        "--loops",
        "300",
        "--json",
        f,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let r = json::read(&file).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("summary ="))
        .unwrap_or_else(|| panic!("no summary = line in {stdout}"));
    let s = parse_summary_line(line).unwrap();
    assert_eq!(s.samples, r.samples);
    assert_eq!(s.samples, 1200);
    assert_eq!(s.errors, r.errors);
    assert_eq!(s.error_pct, 0.0);
    assert_eq!(s.avg_ms, r.latency_us.sum / r.ok / 1000);
    assert_eq!(s.min_ms, r.latency_us.min / 1000);
    assert_eq!(s.max_ms, r.latency_us.max / 1000);
    assert_eq!(s.elapsed_s, r.elapsed_s.round() as u64);
    if let Some(rate) = s.rate {
        assert!(
            (rate - r.throughput_per_s).abs() <= 0.05 + r.throughput_per_s * 1e-3,
            "{line}"
        );
    }
    assert!(
        stdout.contains("samples: 1200 planned, 1200 completed"),
        "{stdout}"
    );
    assert!(stdout.contains("latency us: p50 "), "{stdout}");
    // Not a terminal: no progress line, no escape codes.
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}

#[test]
fn procs_splits_users_over_children_and_merges_them_exactly() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let file = temp("procs.json");
    let f = file.to_str().unwrap();
    let pid = server.pid().to_string();
    let out = loadgen(&[
        "--port",
        &port,
        "--threads",
        "6",
        "--loops",
        "50",
        "--procs",
        "2",
        "--json",
        f,
        "--server-pid",
        &pid,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{stdout}",
        text(&out.stderr)
    );
    let r = json::read(&file).unwrap();
    assert_eq!((r.samples, r.ok, r.parts), (300, 300, 2));
    assert_eq!(r.settings.threads, 6);
    assert_eq!(r.settings.procs, 2);
    assert_eq!(r.users_finished, 6);
    assert!(r.server.is_some());
    assert!(stdout.contains("merged 2 runs"), "{stdout}");
    assert!(stdout.contains("server pid"), "{stdout}");
}

#[test]
fn merge_command_adds_runs_up() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let (a, b, c) = (temp("ma.json"), temp("mb.json"), temp("mc.json"));
    for (f, threads) in [(&a, "3"), (&b, "2")] {
        let out = loadgen(&[
            "--port",
            &port,
            "--threads",
            threads,
            "--loops",
            "40",
            "--json",
            f.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = loadgen(&["merge", &s(&a), &s(&b), "--json", &s(&c)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let merged = json::read(&c).unwrap();
    assert_eq!(merged.samples, 200);
    assert_eq!(merged.settings.threads, 5);
    let line = text(&out.stdout);
    let line = line.lines().find(|l| l.starts_with("summary =")).unwrap();
    assert_eq!(parse_summary_line(line).unwrap().samples, 200);

    let out = loadgen(&["merge", &s(&a), "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

#[test]
fn no_server_exits_1_after_counting_refusals() {
    let addr = support::closed_port();
    let port = addr.port().to_string();
    let out = loadgen(&["--port", &port, "--threads", "2", "--loops", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("refused 20"), "{stdout}");
    assert!(text(&out.stderr).contains("no sample succeeded"));
}

#[test]
fn help_documents_the_flags() {
    let out = loadgen(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in [
        "--threads",
        "--loops",
        "--duration",
        "--rampup",
        "--rate",
        "--procs",
        "--json",
        "--no-reuse",
        "--half-close",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(!help.contains("--part"), "internal flag shown");
}
