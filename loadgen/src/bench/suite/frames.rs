//! `frames`: large length-prefixed frames, as in the async-sig thread on large I/O (Pitrou,
//! Beazley: 100 MB messages, read into a pre-sized buffer). Every model echoes frames of
//! 1 MiB, 16 MiB and 100 MiB over one connection, one frame in flight; loadgen reads each
//! echo whole and checks every byte. The figure is payload MB/s one way; the runner's RSS
//! before the load and at its peak show whether the server's memory stays flat across
//! the frames (one reused buffer) or grows with them.
//!
//! Each point runs a fixed number of frames (2000, 200 and 100 at `--scale 1`, about 2, 3.4
//! and 10.5 GB of payload; times `--scale`); a size whose count rounds to zero at this scale
//! is left out, so a tiny scale runs 1 MiB frames only. Before each block's frames, the
//! loopback limit one way is measured for `--duration` with iperf3 (when it is installed)
//! and with `loadgen stream`, pinned as a server and loadgen are, so every model's MB/s can
//! be read against the limit of the same machine at the same time.

use std::io::{self, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pin::CpuList;

use super::spec::Suite;
use crate::bench::data::BenchConfig;
use crate::bench::data::record::{RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::point::{LoadFlag, Point, secs};
use crate::bench::server::{register, unregister};
use crate::opts::StreamArgs;
use crate::stream::run as stream;

/// (point name, payload bytes, frames at --scale 1).
pub const SIZES: [(&str, u64, u64); 3] = [
    ("1MiB", 1 << 20, 2000),
    ("16MiB", 16 << 20, 200),
    ("100MiB", 100 << 20, 100),
];

/// Connections: one, so that a frame's bytes cross loopback one direction at a time, as
/// in the studies; the runner's RSS peak then holds one frame buffer.
const CONNS: u64 = 1;

/// Point of the loopback baselines (whose kind is [`PointKind::Loopback`]), named as
/// their kind.
pub const LOOPBACK: &str = PointKind::Loopback.as_str();
/// `model` of the iperf3 baseline.
pub const IPERF3: &str = "iperf3";
/// `model` of the `loadgen stream` baseline.
pub const STREAM: &str = "loadgen-stream";
/// Write size of the stream baseline (iperf3 keeps its default, 128 KiB).
const STREAM_CHUNK: &str = "1MiB";
const STREAM_CHUNK_BYTES: u64 = 1 << 20;
/// What the stream baseline may write: more than any --duration lets it, so time stops it.
const STREAM_BYTES: u64 = 1 << 40;

/// The frames suite.
pub struct Frames;

/// Frames of one size at this scale (0: the size is left out).
fn frames_at(base: u64, scale: f64) -> u64 {
    (base as f64 * scale).round() as u64
}

/// Per-echo limit: 5 s plus a second per 10 MB of frame, so that a slow model on a busy
/// machine is measured, not failed, while a hung server still fails in seconds.
fn timeout_for(bytes: u64) -> f64 {
    (5.0 + bytes as f64 / 10e6).ceil()
}

impl Suite for Frames {
    fn name(&self) -> SuiteName {
        SuiteName::Frames
    }

    fn framed(&self) -> bool {
        true
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        SIZES
            .iter()
            .filter_map(|&(name, bytes, base)| {
                let frames = frames_at(base, c.scale);
                (frames > 0).then(|| Point {
                    point: name.into(),
                    kind: PointKind::Frames,
                    conns: CONNS,
                    load: vec![
                        LoadFlag::Threads(CONNS),
                        LoadFlag::Loops(frames),
                        LoadFlag::Framed,
                        LoadFlag::MessageSize(bytes),
                        LoadFlag::Timeout(timeout_for(bytes)),
                    ],
                    server_args: vec![],
                    processes: 1,
                })
            })
            .collect()
    }

    fn baselines(&self, c: &BenchConfig, block: u32) -> Vec<RunRecord> {
        let (server, client) = crate::bench::env::split_cpus();
        let first = |l: Option<CpuList>| l.and_then(|l| l.cpus().first().copied());
        let cpus = (first(server), first(client));
        let mut out = Vec::new();
        match iperf3_version() {
            Some(_) => out.push(iperf3(c.duration_s, block, cpus)),
            // Said once, in the first block; later rounds have no iperf3 record.
            None if block == 1 => {
                let mut r = blank(IPERF3, block);
                r.status = RunStatus::LoadFailed(
                    "iperf3 is not installed (scripts/deps.sh installs it): no iperf3 baseline"
                        .into(),
                );
                out.push(r);
            }
            None => {}
        }
        out.push(stream_baseline(c.duration_s, block, cpus));
        out
    }
}

/// An empty baseline record.
fn blank(model: &str, block: u32) -> RunRecord {
    RunRecord::blank(
        SuiteName::Frames,
        LOOPBACK,
        PointKind::Loopback,
        1,
        block,
        model,
    )
}

/// `iperf3 --version`'s first line, or None when iperf3 cannot run here.
fn iperf3_version() -> Option<String> {
    let out = Command::new("iperf3").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or("iperf3").to_string())
}

/// One way MB/s (10^6 bytes/s) from `iperf3 -c -J`'s output: what the receiver got
/// (end.sum_received.bits_per_second / 8e6); iperf3's own error when it has one.
pub fn parse_iperf3(json: &str) -> Result<f64, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("iperf3 -J printed no JSON: {e}"))?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Err(format!("iperf3: {e}"));
    }
    v.pointer("/end/sum_received/bits_per_second")
        .and_then(serde_json::Value::as_f64)
        .map(|bps| bps / 8e6)
        .ok_or_else(|| "iperf3 -J has no end.sum_received.bits_per_second".into())
}

/// A command pinned to `cpu` (as the bench pins servers: before exec, so that a bench
/// pinned elsewhere can still place it).
fn pinned(program: &str, args: &[String], cpu: Option<usize>) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    if let Some(list) = cpu.and_then(|c| c.to_string().parse::<CpuList>().ok()) {
        // SAFETY: only sched_setaffinity, a plain system call, runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                list.pin_current_thread()
                    .map_err(|e| io::Error::other(e.to_string()))
            });
        }
    }
    cmd
}

/// A child killed and reaped when dropped, and known to the bench's Ctrl-C handler.
struct Reaped(Child);

impl Reaped {
    fn spawn(mut cmd: Command) -> io::Result<Reaped> {
        let child = cmd.spawn()?;
        register(child.id());
        Ok(Reaped(child))
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        unregister(self.0.id());
    }
}

/// The child's stdout once it exits; killed (and an error) if it runs past `limit`.
fn output_within(mut child: Reaped, limit: Duration) -> Result<String, String> {
    let stdout = child.0.stdout.take();
    // Read on the side, so that a chatty child never blocks on a full pipe while we wait.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout
            .map(|mut o| o.read_to_string(&mut text))
            .transpose()?;
        Ok::<_, io::Error>(text)
    });
    let deadline = Instant::now() + limit;
    loop {
        match child.0.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                drop(child); // kills it, which closes its stdout
                let _ = reader.join();
                return Err(format!("iperf3 -c ran past {limit:?} and was killed"));
            }
            Err(e) => return Err(format!("cannot wait for iperf3 -c: {e}")),
        }
    }
    drop(child);
    match reader.join() {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!("cannot read iperf3's output: {e}")),
        Err(_) => Err("the reader of iperf3's output panicked".into()),
    }
}

/// iperf3's one-way loopback figure: `iperf3 -s -1` on a free loopback port pinned as a
/// server is, `iperf3 -c -J -t N` pinned as loadgen is.
fn iperf3(
    duration_s: f64,
    block: u32,
    (server_cpu, client_cpu): (Option<usize>, Option<usize>),
) -> RunRecord {
    let mut r = blank(IPERF3, block);
    let port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => {
            r.status = RunStatus::LoadFailed(format!("no free port: {e}"));
            return r;
        }
    };
    let t = duration_s.ceil().max(1.0) as u64;
    r.server_args = ["-s", "-1", "-B", "127.0.0.1", "-p", &port.to_string()]
        .map(String::from)
        .to_vec();
    r.args = [
        "-c",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-J",
        "-t",
        &t.to_string(),
    ]
    .map(String::from)
    .to_vec();
    let mut server_cmd = pinned("iperf3", &r.server_args, server_cpu);
    server_cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let server = match Reaped::spawn(server_cmd) {
        Ok(s) => s,
        Err(e) => {
            r.status = RunStatus::ServerFailed(format!("cannot start iperf3 -s: {e}"));
            return r;
        }
    };
    // The server is ready when a client gets through: retry a refused connect for 3 s.
    let started = Instant::now();
    let result = loop {
        let mut cmd = pinned("iperf3", &r.args, client_cpu);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let client = match Reaped::spawn(cmd) {
            Ok(c) => c,
            Err(e) => break Err(format!("cannot start iperf3 -c: {e}")),
        };
        let json = match output_within(client, Duration::from_secs(t + 10)) {
            Ok(json) => json,
            Err(e) => break Err(e),
        };
        match parse_iperf3(&json) {
            Err(e)
                if e.contains("unable to connect")
                    && started.elapsed() < Duration::from_secs(3) =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => break other,
        }
    };
    drop(server);
    match result {
        Ok(mb) => r.mb_per_s = Some(mb),
        Err(e) => r.status = RunStatus::LoadFailed(e),
    }
    r
}

/// `loadgen stream` in-process: its sink where a server runs, its writer where loadgen does.
fn stream_baseline(duration_s: f64, block: u32, cpus: (Option<usize>, Option<usize>)) -> RunRecord {
    let mut r = blank(STREAM, block);
    let (args, settings) = stream_settings(duration_s, cpus);
    r.args = args;
    match settings.and_then(|a| stream(&a, &mut io::sink()).map_err(|e| e.to_string())) {
        Ok(s) => r.mb_per_s = Some(s.mb_per_s),
        Err(e) => r.status = RunStatus::LoadFailed(e),
    }
    r
}

/// The stream baseline's settings: as the flags raw.json records (`loadgen stream ...`), and
/// typed, for the library's run.
fn stream_settings(
    duration_s: f64,
    (server_cpu, client_cpu): (Option<usize>, Option<usize>),
) -> (Vec<String>, Result<StreamArgs, String>) {
    let mut args = vec![
        "stream".to_string(),
        "--bytes".into(),
        "1TiB".into(), // STREAM_BYTES
        "--duration".into(),
        secs(duration_s),
        "--chunk".into(),
        STREAM_CHUNK.into(),
    ];
    if let Some(c) = client_cpu {
        args.extend(["--pin".into(), c.to_string()]);
    }
    if let Some(c) = server_cpu {
        args.extend(["--sink-cpu".into(), c.to_string()]);
    }
    let cpu = |c: Option<usize>| {
        c.map(|c| c.to_string().parse::<CpuList>())
            .transpose()
            .map_err(|e| format!("cpu {c:?}: {e}"))
    };
    let settings = cpu(client_cpu).and_then(|pin| {
        Ok(StreamArgs {
            bytes: STREAM_BYTES,
            duration: Duration::from_secs_f64(duration_s),
            chunk: STREAM_CHUNK_BYTES,
            port: None,
            host: "127.0.0.1".into(),
            pin,
            sink_cpu: cpu(server_cpu)?,
            json: None,
        })
    });
    (args, settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::suite::spec::config;

    #[test]
    fn the_stream_baselines_recorded_flags_are_its_typed_settings() {
        for cpus in [(None, None), (Some(0), Some(1))] {
            let (args, typed) = stream_settings(1.5, cpus);
            let argv = std::iter::once("loadgen".to_string()).chain(args);
            let parsed = match <crate::opts::Opts as clap::Parser>::try_parse_from(argv) {
                Ok(crate::opts::Opts {
                    command: Some(crate::opts::Command::Stream(a)),
                    ..
                }) => a,
                other => panic!("not a stream command: {other:?}"),
            };
            assert_eq!(format!("{parsed:?}"), format!("{:?}", typed.unwrap()));
        }
    }

    #[test]
    fn every_size_with_frames_scaled() {
        let p = Frames.points(&config(1.0));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(names, ["1MiB", "16MiB", "100MiB"]);
        let arg = |p: &Point, flag: &str| {
            let args = p.args();
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1].clone()
        };
        assert_eq!(arg(&p[2], "--loops"), "100");
        assert_eq!(arg(&p[2], "--message-size"), "100MiB");
        assert_eq!(arg(&p[2], "--timeout"), "16s");
        assert_eq!(arg(&p[0], "--timeout"), "6s");
        assert!(
            p.iter()
                .all(|p| p.args().contains(&"--framed".into()) && p.conns == 1)
        );
        assert!(Frames.framed());

        let quick = Frames.points(&config(0.25));
        assert_eq!(arg(&quick[2], "--loops"), "25");
        // A tiny scale keeps only the sizes that still get a frame.
        let tiny = Frames.points(&config(0.001));
        assert_eq!(tiny.len(), 1);
        assert_eq!(
            (tiny[0].point.as_str(), arg(&tiny[0], "--loops")),
            ("1MiB", "2".into())
        );
    }

    #[test]
    fn iperf3_json_gives_received_megabytes_per_second() {
        let ok = r#"{"start": {}, "intervals": [],
            "end": {"sum_sent": {"bits_per_second": 16.2e9},
                    "sum_received": {"bytes": 6000000000, "bits_per_second": 16.0e9}}}"#;
        assert_eq!(parse_iperf3(ok), Ok(2000.0));
        let refused = r#"{"start": {}, "intervals": [], "end": {},
            "error": "unable to connect to server: Connection refused"}"#;
        assert_eq!(
            parse_iperf3(refused),
            Err("iperf3: unable to connect to server: Connection refused".into())
        );
        assert!(parse_iperf3("iperf3: parameter error").is_err());
        assert!(
            parse_iperf3(r#"{"end": {}}"#)
                .unwrap_err()
                .contains("sum_received")
        );
    }

    #[test]
    fn baselines_measure_the_loopback_or_say_why_not() {
        let mut c = config(1.0);
        c.duration_s = 0.2;
        let records = Frames.baselines(&c, 1);
        let stream = records.iter().find(|r| r.model == STREAM).unwrap();
        assert_eq!(stream.status, RunStatus::Ok);
        assert!(stream.mb_per_s.unwrap() > 0.0);
        assert_eq!(
            (stream.kind, stream.point.as_str()),
            (PointKind::Loopback, LOOPBACK)
        );
        let iperf = records.iter().find(|r| r.model == IPERF3).unwrap();
        match iperf3_version() {
            Some(_) => assert!(iperf.mb_per_s.is_some(), "{:?}", iperf.status),
            None => assert!(
                matches!(&iperf.status, RunStatus::LoadFailed(w) if w.contains("not installed"))
            ),
        }
    }
}
