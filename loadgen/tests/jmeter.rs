//! Real JMeter runs the bundled plan (jmeter/echo.jmx, through scripts/run-jmeter.sh) against
//! real servers: threads x loops samples and not one error on two models, every sample
//! an error against a closed port, and in distributed mode (scripts/jmeter-distributed.sh:
//! two JMeter servers on 127.0.0.2 and 127.0.0.3 under a controller on 127.0.0.1) engines x
//! threads x loops samples without an error. Success is read from JMeter's `summary =` line and its
//! results file, never from its exit status (which is 0 even when the plan did not load).
//!
//! JMeter is installed by `make deps` (scripts/jmeter-setup.sh); without it these tests fail,
//! they do not skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::testkit::Server;
use loadgen::RunReport;
use loadgen::jtl::{self, ImportOptions};
use loadgen::run::text::SummaryLine;

/// One JMeter at a time: each is a JVM with a few hundred MB and a shutdown port.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadgen is in the workspace")
        .to_path_buf()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the plan against 127.0.0.1:`port`; returns the JTL as a report and JMeter's final
/// `summary =` line.
fn jmeter(
    name: &str,
    port: u16,
    threads: u64,
    loops: u64,
    extra: &[&str],
) -> (RunReport, SummaryLine) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let check = Command::new("bash")
        .arg(root().join("scripts/jmeter-setup.sh"))
        .args(["--no-install", "--version"])
        .output()
        .expect("run scripts/jmeter-setup.sh");
    assert!(
        check.status.success(),
        "JMeter is needed for this test and was not found or is not usable; install it with \
         `make deps` (scripts/jmeter-setup.sh: Debian's jmeter and jmeter-tcp as root, or a \
         JMeter 5.x on PATH or in $JMETER):\n{}",
        text(&check.stderr)
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jmeter-{name}"));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new("bash")
        .arg(root().join("scripts/run-jmeter.sh"))
        .arg(&out)
        .arg(format!("-Jport={port}"))
        .arg(format!("-Jthreads={threads}"))
        .arg(format!("-Jloops={loops}"))
        .args(extra)
        .env("JMETER_TIMEOUT", "120")
        .output()
        .expect("run scripts/run-jmeter.sh");
    let said = format!(
        "JMeter {}:\n{}\n{}",
        text(&check.stdout).trim(),
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(run.status.success(), "run-jmeter.sh failed: {said}");
    let console = std::fs::read_to_string(out.join("console.txt")).expect("console.txt");
    let summary =
        jtl::final_summary(&console).unwrap_or_else(|| panic!("no `summary =` line: {said}"));
    let opts = ImportOptions {
        threads: Some(threads),
        loops: Some(loops),
        generator: "jmeter".into(),
        ..ImportOptions::default()
    };
    let report = jtl::import(&out.join("results.jtl"), &opts)
        .unwrap_or_else(|e| panic!("the JTL does not import: {e}\n{said}"));
    (report, summary)
}

fn clean_run(model: &str) {
    let server = Server::start(model, &[]);
    let (threads, loops) = (10, 100);
    let (r, summary) = jmeter(model, server.addr.port(), threads, loops, &[]);
    let n = threads * loops;
    assert_eq!(
        (summary.samples, summary.errors),
        (n, 0),
        "JMeter's summary line"
    );
    assert_eq!(
        (r.samples, r.ok, r.errors),
        (n, n, 0),
        "the JTL: {:?}",
        r.errors_by_kind
    );
    assert_eq!(r.users_started, threads);
    assert_eq!(
        r.run.settings.message_size, 64,
        "the echoed line is 64 bytes"
    );
}

#[test]
fn epoll_echoes_every_sample() {
    clean_run("epoll");
}

#[test]
fn tokio_echoes_every_sample() {
    clean_run("tokio");
}

#[test]
fn a_closed_port_fails_every_sample() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (threads, loops) = (4, 5);
    let (r, summary) = jmeter(
        "closed",
        port,
        threads,
        loops,
        &["-Jconnect_timeout=1000", "-Jread_timeout=1000"],
    );
    let n = threads * loops;
    assert_eq!((summary.samples, summary.errors), (n, n));
    assert_eq!((r.samples, r.ok, r.errors), (n, 0, n));
    assert_eq!(r.errors_by_kind.refused, n);
}

/// JMeter's distributed mode (scripts/jmeter-distributed.sh): a controller on 127.0.0.1
/// drives two JMeter servers on 127.0.0.2 and 127.0.0.3 with `-R`, each running the whole
/// plan (10 threads x 100 loops) against one echo server; the controller merges their
/// samples into one summary and one JTL, which loadgen imports.
#[test]
fn two_jmeter_servers_run_the_plan_against_one_echo_server() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start("epoll", &[]);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jmeter-distributed");
    let run = Command::new("bash")
        .arg(root().join("scripts/jmeter-distributed.sh"))
        .arg(&out)
        .arg(server.addr.port().to_string())
        .args(["-Gthreads=10", "-Gloops=100"])
        .env("JMETER_TIMEOUT", "180")
        .output()
        .expect("run scripts/jmeter-distributed.sh");
    let logs = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let said = format!(
        "{}\n{}\nengine 127.0.0.2: {}\nengine 127.0.0.3: {}",
        text(&run.stdout),
        text(&run.stderr),
        logs("server-127.0.0.2.log"),
        logs("server-127.0.0.3.log"),
    );
    assert!(run.status.success(), "jmeter-distributed.sh failed: {said}");
    let console = logs("console.txt");
    assert!(
        console.contains("Configuring remote engine: 127.0.0.2:1099")
            && console.contains("Configuring remote engine: 127.0.0.3:1099"),
        "the controller drives both engines: {said}"
    );
    let summary =
        jtl::final_summary(&console).unwrap_or_else(|| panic!("no `summary =` line: {said}"));
    let n = 2 * 10 * 100;
    assert_eq!(
        (summary.samples, summary.errors),
        (n, 0),
        "JMeter's merged summary: {said}"
    );
    let opts = ImportOptions {
        threads: Some(20),
        loops: Some(100),
        generator: "jmeter".into(),
        ..ImportOptions::default()
    };
    let r = jtl::import(&out.join("results.jtl"), &opts)
        .unwrap_or_else(|e| panic!("the JTL does not import: {e}\n{said}"));
    assert_eq!(
        (r.samples, r.ok, r.errors),
        (n, n, 0),
        "the merged JTL: {:?}",
        r.errors_by_kind
    );
    assert_eq!(r.run.planned_samples, Some(n));
}
