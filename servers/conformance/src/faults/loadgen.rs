//! The real loadgen binary against misbehaving servers: one killed mid-run, one that
//! accepts and never replies, one that closes after one reply, one that returns wrong
//! bytes. Each run must end within its bound and classify every error in its JSON.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::testkit::{Server, binary};

use super::{CaseResult, Sizes};

/// The case's name.
pub const CASE: &str = "loadgen-vs-bad-servers";

/// What it checks, for the Markdown rendering.
pub const DESCRIPTION: &str = "The real loadgen (`--duration 1500ms --timeout 500ms --json`) \
     against a server killed mid-run, one that never replies, one that closes after one \
     reply and one that returns wrong bytes: it ends within duration + timeout + 3 s, every \
     error is classified (the kinds add up to the error count), and the expected kind is there.";

/// How each fake server misbehaves.
#[derive(Clone, Copy)]
enum Fake {
    NeverReply,
    OneReplyThenClose,
    WrongBytes,
}

/// Starts a fake server on a free loopback port; its threads live as long as the process
/// (the fault binary and test are short-lived).
fn fake_server(how: Fake) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake server");
    let addr = listener.local_addr().expect("local_addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_fake(stream, how));
        }
    });
    addr
}

fn serve_fake(mut s: TcpStream, how: Fake) {
    let mut buf = [0u8; 64 << 10];
    let mut replies = 0;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match how {
            Fake::NeverReply => {}
            Fake::OneReplyThenClose => {
                if replies == 1 {
                    return;
                }
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
                replies += 1;
            }
            Fake::WrongBytes => {
                buf[0] ^= 0xff;
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

const DURATION_MS: u64 = 1500;
const TIMEOUT_MS: u64 = 500;

/// Runs loadgen against every bad server and checks its ending and its JSON.
pub fn against_bad_servers(_sz: Sizes, r: &mut CaseResult) {
    let loadgen = binary("loadgen");
    let dir = std::env::temp_dir().join(format!("echolab-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // (name, port, expected error kinds (any of), whether some samples succeed)
    let killed = Server::start("epoll", &[]);
    let runs: Vec<(&str, SocketAddr, &[&str], bool)> = vec![
        (
            "killed-mid-run",
            killed.addr,
            &["refused", "reset", "early_close", "read_timeout"],
            true,
        ),
        (
            "never-replies",
            fake_server(Fake::NeverReply),
            &["read_timeout"],
            false,
        ),
        (
            "closes-after-one-reply",
            fake_server(Fake::OneReplyThenClose),
            &["early_close", "reset"],
            true,
        ),
        (
            "wrong-bytes",
            fake_server(Fake::WrongBytes),
            &["mismatch"],
            false,
        ),
    ];
    let mut killer = Some(thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        killed.signal(libc::SIGKILL);
        killed
    }));
    for (name, addr, kinds, some_ok) in runs {
        let json = dir.join(format!("{name}.json"));
        let started = Instant::now();
        let out = Command::new(&loadgen)
            .args(["--port", &addr.port().to_string()])
            .args(["--threads", "4", "--duration"])
            .arg(format!("{DURATION_MS}ms"))
            .arg("--timeout")
            .arg(format!("{TIMEOUT_MS}ms"))
            .args(["--summary-interval", "10s", "--json"])
            .arg(&json)
            .output();
        let took = started.elapsed();
        if name == "killed-mid-run" {
            drop(killer.take().map(|k| k.join()));
        }
        r.clients += 4;
        let bound = Duration::from_millis(DURATION_MS + TIMEOUT_MS + 3000);
        r.check(took <= bound, || {
            format!("{name}: loadgen took {took:?} (bound {bound:?})")
        });
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                r.failures.push(format!("{name}: cannot run loadgen: {e}"));
                continue;
            }
        };
        let report: serde_json::Value = match std::fs::read_to_string(&json)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
        {
            Some(v) => v,
            None => {
                r.failures.push(format!(
                    "{name}: no JSON report (exit {:?}): {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                ));
                continue;
            }
        };
        let get = |k: &str| report[k].as_u64().unwrap_or(0);
        let (ok, errors) = (get("ok"), get("errors"));
        r.bytes_sent += get("bytes_sent");
        r.bytes_back += get("bytes_received");
        let by_kind = report["errors_by_kind"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let classified: u64 = by_kind.values().filter_map(|v| v.as_u64()).sum();
        for (k, v) in &by_kind {
            if let Some(n) = v.as_u64().filter(|&n| n > 0) {
                *r.errors.entry(format!("{name}: {k}")).or_default() += n;
            }
        }
        let other = by_kind.get("other").and_then(|v| v.as_u64()).unwrap_or(0);
        r.notes.push(format!(
            "{name}: {ok} ok, {errors} errors, exit {:?}, {took:.1?}",
            out.status.code()
        ));
        r.check(errors > 0, || format!("{name}: no error reported"));
        r.check(classified == errors && other == 0, || {
            format!("{name}: {errors} errors but by kind {by_kind:?}")
        });
        let expected: u64 = kinds
            .iter()
            .map(|k| by_kind.get(*k).and_then(|v| v.as_u64()).unwrap_or(0))
            .sum();
        r.check(expected == errors, || {
            format!("{name}: expected only {kinds:?}, got {by_kind:?}")
        });
        r.check(some_ok == (ok > 0), || {
            format!(
                "{name}: {ok} samples ok (expected {})",
                if some_ok { "some" } else { "none" }
            )
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}
