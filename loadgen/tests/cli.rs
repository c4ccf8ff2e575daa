//! The real binary: bad input, the summary line against the JSON, --procs, merge, exit codes.

mod support;

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::testkit::Server;
use loadgen::run::json;
use loadgen::run::text::parse_summary_line;

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
        &["--loops", "5", "--csv", "/nonexistent-dir/x.csv"],
        &["--loops", "5", "--html", "/nonexistent-dir/x.html"],
        &["--loops", "5", "--no-such-flag"],
        &["--loops", "5", "--half-close"],
        &["--loops", "5", "--fail-if", "p99>5"],
        &["--loops", "5", "--fail-if", "latency>5ms"],
        &["--loops", "5", "--fail-if", "p99>5ms,,errors>0"],
        &["--loops", "5", "--fail-if", "errors>1.5"],
        &["--loops", "5", "--fail-if", ""],
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
    assert_eq!(s.elapsed_s, r.run.elapsed_s.round() as u64);
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
fn csv_has_a_header_and_a_row_per_summary_interval_as_the_json_has_them() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let (csv, json_file) = (temp("intervals.csv"), temp("intervals.json"));
    let out = loadgen(&[
        "--port",
        &port,
        "--threads",
        "4",
        "--duration",
        "1s",
        "--summary-interval",
        "250ms",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = json::read(&json_file).unwrap();
    let rows = loadgen::csv::parse(&std::fs::read_to_string(&csv).unwrap());
    assert_eq!(
        rows[0],
        [
            "at_s",
            "elapsed_s",
            "samples",
            "per_s",
            "mean_us",
            "min_us",
            "max_us",
            "errors",
            "active",
            "started",
            "finished"
        ]
    );
    assert!(r.intervals.len() >= 3, "{} intervals", r.intervals.len());
    assert_eq!(rows.len(), 1 + r.intervals.len());
    for (row, i) in rows[1..].iter().zip(&r.intervals) {
        assert_eq!(row[0], i.at_s.to_string());
        assert_eq!(row[1], i.elapsed_s.to_string());
        assert_eq!(row[2], i.samples.to_string());
        let per_s: f64 = row[3].parse().unwrap();
        assert_eq!(per_s, i.samples as f64 / i.elapsed_s);
        // Latency of the interval's ok samples: none, no figures.
        let latency = [
            i.mean_us.to_string(),
            i.min_us.to_string(),
            i.max_us.to_string(),
        ];
        let latency = latency.map(|l| {
            if i.samples > i.errors {
                l
            } else {
                String::new()
            }
        });
        assert_eq!(row[4..7], latency);
        let counts = [i.errors, i.active, i.started, i.finished];
        assert_eq!(row[7..], counts.map(|n| n.to_string()));
        assert_eq!((i.errors, i.started), (0, 4));
    }
    let samples: u64 = rows[1..].iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert!(
        samples > 0 && samples >= r.samples,
        "{samples} vs {}",
        r.samples
    );
}

#[test]
fn an_open_loop_run_reports_its_send_lateness_in_text_and_json() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let (open, closed) = (temp("open.json"), temp("closed.json"));
    let out = loadgen(&[
        "--port",
        &port,
        "--threads",
        "4",
        "--duration",
        "1s",
        "--rate",
        "400",
        "--json",
        open.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let r = json::read(&open).unwrap();
    let late = r.send_lateness_us.expect("send lateness with --rate");
    assert!(late.count > 0 && late.count <= r.ok, "{late:?} {stdout}");
    assert!(late.p50 <= late.p99 && late.p99 <= late.max, "{late:?}");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&open).unwrap()).unwrap();
    for field in ["p50", "p99", "max"] {
        assert!(raw["send_lateness_us"][field].is_u64(), "{field}: {raw}");
    }
    let line = format!(
        "send lateness us (loadgen's own: actual send - due, {} requests sent with their \
         connection free): p50 {} p99 {} max {}",
        late.count, late.p50, late.p99, late.max
    );
    assert!(stdout.lines().any(|l| l == line), "{stdout}");

    let out = loadgen(&[
        "--port",
        &port,
        "--threads",
        "2",
        "--loops",
        "20",
        "--json",
        closed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&closed).unwrap()).unwrap();
    assert!(raw.get("send_lateness_us").is_none(), "{raw}");
    assert!(!text(&out.stdout).contains("send lateness"));
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
    assert_eq!((r.samples, r.ok, r.run.parts), (300, 300, 2));
    assert_eq!(r.run.settings.threads, 6);
    assert_eq!(r.run.settings.procs, 2);
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
    assert_eq!(merged.run.settings.threads, 5);
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
fn a_run_against_a_closed_port_says_so_early_on_stderr_and_goes_on() {
    let addr = support::closed_port();
    let port = addr.port().to_string();
    // 2000 requests/s for 3 s: the first 1000 are refused within about half a second.
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--port", &port, "--threads", "2", "--duration", "3s"])
        .args(["--rate", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loadgen");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a line on stderr");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the warning comes while the run goes on, not at its end: {first}"
    );
    assert!(first.starts_with("loadgen: all "), "{first}");
    assert!(first.contains("were refused"), "{first}");
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    let out = child.wait_with_output().expect("wait");
    reader.join().expect("reader");
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(out.status.code(), Some(1), "{rest:?}");
    assert!(
        !rest.iter().any(|l| l.contains("were refused")),
        "one warning only: {rest:?}"
    );
    assert_eq!(rest, ["loadgen: no sample succeeded"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("samples: 6000 planned, 6000 completed"),
        "{stdout}"
    );
}

#[test]
fn crossed_thresholds_print_after_the_report_and_exit_3() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let file = temp("thresholds.json");
    let f = file.to_str().unwrap();
    let run = |fail_if: &str| {
        loadgen(&[
            "--port",
            &port,
            "--threads",
            "2",
            "--loops",
            "50",
            "--fail-if",
            fail_if,
            "--json",
            f,
        ])
    };
    // Every latency is at least 1 us and no run reaches 10^12 samples/s.
    let out = run("p99>0us, errors>0,rate<1e12/s");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let report_end = lines
        .iter()
        .position(|l| l.starts_with("throughput:"))
        .unwrap_or_else(|| panic!("the whole report: {stdout}"));
    assert!(stdout.contains("summary = "), "{stdout}");
    let tail: Vec<&str> = lines[report_end..]
        .iter()
        .copied()
        .filter(|l| l.starts_with("threshold"))
        .collect();
    assert_eq!(tail.len(), 2, "one line per crossed threshold: {stdout}");
    assert!(
        tail[0].starts_with("threshold crossed: p99>0us (p99 was "),
        "{stdout}"
    );
    assert!(
        tail[1].starts_with("threshold crossed: rate<1e12/s (rate was "),
        "{stdout}"
    );
    assert!(
        lines.last().unwrap().starts_with("threshold crossed: rate"),
        "{stdout}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let t = v["thresholds"].as_array().expect("thresholds in the JSON");
    let crossed: Vec<bool> = t.iter().map(|c| c["crossed"].as_bool().unwrap()).collect();
    assert_eq!(crossed, [true, false, true]);
    assert_eq!(t[1]["threshold"], "errors>0");
    assert_eq!(
        (t[1]["metric"].as_str(), t[1]["unit"].as_str()),
        (Some("errors"), Some("count"))
    );
    assert_eq!(t[1]["observed"], 0.0);
    assert_eq!(t[0]["limit"], 0.0);
    assert_eq!(json::read(&file).unwrap().thresholds.len(), 3);

    // Thresholds that hold: exit 0, no threshold line, recorded as not crossed.
    let out = run("errors>0,p99>=3600s,rate<1");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(!stdout.contains("threshold"), "{stdout}");
    let r = json::read(&file).unwrap();
    assert_eq!(r.thresholds.len(), 3);
    assert!(
        r.thresholds.iter().all(|c| !c.crossed),
        "{:?}",
        r.thresholds
    );

    // The same thresholds on a merge of runs (from several machines, say).
    let merged = temp("thresholds-merged.json");
    let m = merged.to_str().unwrap();
    let out = loadgen(&[
        "merge",
        f,
        f,
        "--fail-if",
        "errors>0,rate<1e12",
        "--json",
        m,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout.matches("threshold crossed: ").count(), 1, "{stdout}");
    assert!(
        stdout.contains("threshold crossed: rate<1e12 (rate was "),
        "{stdout}"
    );
    let r = json::read(&merged).unwrap();
    assert_eq!((r.samples, r.thresholds.len()), (200, 2));
    let out = loadgen(&["merge", f, "--fail-if", "p99>"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
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
        "--csv",
        "--no-reuse",
        "--half-close",
        "--fail-if",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(!help.contains("--part"), "internal flag shown");
}

/// `loadgen ... | head`: stdout's reader gone and stderr on a full disk; the run goes on
/// to its end, writes its JSON and exits as it would have, never a panic (101).
#[test]
fn output_nobody_can_read_never_stops_a_run() {
    let server = Server::start("epoll", &[]);
    let port = server.addr.port().to_string();
    let json_path = temp("unread.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--port",
            &port,
            "--threads",
            "4",
            "--loops",
            "500",
            "--json",
            json_path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .spawn()
        .unwrap();
    // The reader leaves before a line is read.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    let report = json::read(&json_path).unwrap();
    assert_eq!((report.samples, report.ok), (2000, 2000));
    // Bad input with stderr on /dev/full: still exit 2, not a panic.
    let status = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--threads", "0"])
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
