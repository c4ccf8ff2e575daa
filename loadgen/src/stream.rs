//! `loadgen stream`: the loopback limit, one way. One connection; one thread writes
//! `--chunk`-byte buffers as fast as the socket takes them, until `--bytes` are written or
//! `--duration` is up (whichever comes first), to loadgen's own discard sink (a thread that
//! reads into one `--chunk`-byte buffer and drops the bytes) or to a discard server already
//! listening on `--port`. Nothing is echoed or checked: this is the ceiling that an echo of
//! large frames is compared with, as `iperf3 -c` measures it, but with loadgen's own socket
//! settings (kernel defaults, TCP_NODELAY) and write sizes.
//!
//! The figure: with the own sink, bytes the sink read over the time from the first write to
//! the sink's end of stream; with an outside sink, bytes written over the time to the last
//! write returning (up to a socket buffer, a few MiB, may then still be in flight).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::pin::CpuList;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::addrs::resolve;
use crate::opts::StreamArgs;
use crate::plan::MAX_TIME;
use crate::probe::Environment;

/// Layout version of the JSON file.
pub const FORMAT: u32 = 1;
/// Largest --chunk.
pub const MAX_CHUNK: u64 = 256 << 20;

/// A stream that could not be measured.
#[derive(Debug, Error)]
pub enum StreamError {
    #[error("{0}")]
    Input(String),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl StreamError {
    /// True when the flags were wrong (nothing was sent).
    pub fn is_input(&self) -> bool {
        matches!(self, StreamError::Input(_))
    }
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> StreamError {
    move |source| StreamError::Io { what, source }
}

/// CPU time of one thread over the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadCpu {
    /// Seconds in user mode.
    pub user_s: f64,
    /// Seconds in the kernel.
    pub system_s: f64,
}

impl ThreadCpu {
    /// The calling thread's CPU time so far.
    fn now() -> ThreadCpu {
        // SAFETY: rusage is plain data; getrusage fills it for the calling thread.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
            return ThreadCpu::default();
        }
        let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        ThreadCpu {
            user_s: s(ru.ru_utime),
            system_s: s(ru.ru_stime),
        }
    }

    fn since(self, start: ThreadCpu) -> ThreadCpu {
        ThreadCpu {
            user_s: self.user_s - start.user_s,
            system_s: self.system_s - start.system_s,
        }
    }

    /// User plus system seconds.
    pub fn total_s(&self) -> f64 {
        self.user_s + self.system_s
    }
}

/// What a stream measured: `loadgen stream --json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// Layout version of this file.
    pub format: u32,
    /// Version of the loadgen that wrote it.
    pub loadgen_version: String,
    /// Where the bytes went.
    pub target: String,
    /// True when the sink was loadgen's own thread, false for an outside discard server.
    pub own_sink: bool,
    /// Bytes per write() (and per read() of the own sink).
    pub chunk_bytes: u64,
    /// --bytes: the most it would write.
    pub bytes_limit: u64,
    /// --duration: the longest it would write, seconds.
    pub duration_limit_s: f64,
    /// CPUs the writer was pinned to, if any.
    pub writer_cpus: Option<String>,
    /// CPUs the own sink was pinned to, if any.
    pub sink_cpus: Option<String>,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes the own sink read (None with an outside sink).
    pub bytes_received: Option<u64>,
    /// write() calls that wrote something.
    pub writes: u64,
    /// Seconds from the first write to the sink's end of stream (own sink) or to the last
    /// write returning (outside sink).
    pub elapsed_s: f64,
    /// Megabytes (10^6 bytes) per second one way: bytes received (own sink) or sent
    /// (outside sink) over elapsed_s.
    pub mb_per_s: f64,
    /// The writing thread's CPU time.
    pub writer_cpu: ThreadCpu,
    /// The own sink thread's CPU time.
    pub sink_cpu: Option<ThreadCpu>,
    /// The machine.
    pub environment: Environment,
}

/// What the writing thread did.
struct Written {
    bytes: u64,
    writes: u64,
    started: Instant,
    ended: Instant,
    cpu: ThreadCpu,
    error: Option<io::Error>,
}

/// What the own sink read.
struct Drained {
    bytes: u64,
    ended: Instant,
    cpu: ThreadCpu,
    error: Option<io::Error>,
}

fn check(a: &StreamArgs) -> Result<(), StreamError> {
    if a.bytes == 0 {
        return Err(StreamError::Input("--bytes must be at least 1".into()));
    }
    if a.chunk == 0 || a.chunk > MAX_CHUNK {
        return Err(StreamError::Input(format!(
            "--chunk {}: expected 1 byte to 256MiB",
            a.chunk
        )));
    }
    if a.duration.is_zero() || a.duration > MAX_TIME {
        return Err(StreamError::Input(format!(
            "--duration {:?}: expected more than 0s, up to 24h",
            a.duration
        )));
    }
    Ok(())
}

fn pin(cpus: Option<&CpuList>) -> Result<(), StreamError> {
    match cpus {
        Some(c) => c
            .pin_current_thread()
            .map_err(|e| StreamError::Input(format!("cannot pin to CPUs {c}: {e}"))),
        None => Ok(()),
    }
}

/// Streams as the flags say, printing a header and the result to `out`.
pub fn run(a: &StreamArgs, out: &mut dyn Write) -> Result<StreamReport, StreamError> {
    check(a)?;
    // Connect (and accept, for the own sink) here, so that a failure is reported before
    // any thread waits for a peer that never comes.
    let (conn, sink, target) = match a.port {
        Some(port) => {
            let addr = resolve(&a.host, port).map_err(|e| StreamError::Input(e.to_string()))?;
            let conn = TcpStream::connect(addr).map_err(io_err("cannot connect to the sink"))?;
            (conn, None, addr)
        }
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("cannot listen"))?;
            let addr: SocketAddr = listener.local_addr().map_err(io_err("cannot listen"))?;
            let conn = TcpStream::connect(addr).map_err(io_err("cannot connect to the sink"))?;
            let (sink, _) = listener.accept().map_err(io_err("cannot accept"))?;
            (conn, Some(sink), addr)
        }
    };
    conn.set_nodelay(true).map_err(io_err("TCP_NODELAY"))?;
    writeln!(
        out,
        "loadgen {} stream: one connection to {} {target}, writes of {} bytes, until {} bytes \
         or {:?}{}{}",
        env!("CARGO_PKG_VERSION"),
        if sink.is_some() {
            "loadgen's own sink on"
        } else {
            "the discard server on"
        },
        a.chunk,
        a.bytes,
        a.duration,
        a.pin
            .as_ref()
            .map(|c| format!(", writer on CPUs {c}"))
            .unwrap_or_default(),
        a.sink_cpu
            .as_ref()
            .map(|c| format!(", sink on CPUs {c}"))
            .unwrap_or_default(),
    )
    .map_err(io_err("cannot print"))?;

    let chunk = a.chunk as usize;
    let (written, drained) = std::thread::scope(|s| {
        let sink_cpus = a.sink_cpu.as_ref();
        let reader = sink.map(|sock| s.spawn(move || drain(sock, chunk, sink_cpus)));
        let writer = s.spawn(move || -> Result<Written, StreamError> {
            pin(a.pin.as_ref())?;
            Ok(write_all(conn, chunk, a.bytes, a.duration))
        });
        let written = writer.join().expect("the writer does not panic");
        // The writer shut its side down (or dropped the socket), so the sink sees its end.
        let drained = reader.map(|r| r.join().expect("the sink does not panic"));
        (written, drained)
    });
    let written = written?;
    let drained = drained.transpose()?;
    if let Some(e) = written.error {
        return Err(StreamError::Io {
            what: "write failed",
            source: e,
        });
    }
    if let Some(e) = drained.as_ref().and_then(|d| d.error.as_ref()) {
        return Err(StreamError::Io {
            what: "the sink's read failed",
            source: io::Error::new(e.kind(), e.to_string()),
        });
    }
    let (bytes, ended) = match &drained {
        Some(d) => (d.bytes, d.ended),
        None => (written.bytes, written.ended),
    };
    let elapsed_s = ended
        .saturating_duration_since(written.started)
        .as_secs_f64();
    let report = StreamReport {
        format: FORMAT,
        loadgen_version: env!("CARGO_PKG_VERSION").into(),
        target: target.to_string(),
        own_sink: drained.is_some(),
        chunk_bytes: a.chunk,
        bytes_limit: a.bytes,
        duration_limit_s: a.duration.as_secs_f64(),
        writer_cpus: a.pin.as_ref().map(ToString::to_string),
        sink_cpus: a.sink_cpu.as_ref().map(ToString::to_string),
        bytes_sent: written.bytes,
        bytes_received: drained.as_ref().map(|d| d.bytes),
        writes: written.writes,
        elapsed_s,
        mb_per_s: if elapsed_s > 0.0 {
            bytes as f64 / elapsed_s / 1e6
        } else {
            0.0
        },
        writer_cpu: written.cpu,
        sink_cpu: drained.as_ref().map(|d| d.cpu),
        environment: Environment::current(),
    };
    write!(out, "{}", render(&report)).map_err(io_err("cannot print"))?;
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report).expect("a report always serializes");
        std::fs::write(path, text + "\n").map_err(io_err("cannot write --json"))?;
    }
    Ok(report)
}

/// Writes `chunk`-byte buffers until `limit` bytes or `duration`, then shuts the sending
/// side down.
fn write_all(mut conn: TcpStream, chunk: usize, limit: u64, duration: Duration) -> Written {
    let cpu0 = ThreadCpu::now();
    let buf = vec![0x5a_u8; chunk];
    let started = Instant::now();
    let deadline = started + duration;
    let (mut bytes, mut writes, mut error) = (0u64, 0u64, None);
    while bytes < limit {
        let n = (limit - bytes).min(chunk as u64) as usize;
        match conn.write(&buf[..n]) {
            Ok(0) => {
                error = Some(io::ErrorKind::WriteZero.into());
                break;
            }
            Ok(w) => {
                bytes += w as u64;
                writes += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let _ = conn.shutdown(Shutdown::Write);
    Written {
        bytes,
        writes,
        started,
        ended: Instant::now(),
        cpu: ThreadCpu::now().since(cpu0),
        error,
    }
}

/// The own sink: reads until the end of stream, dropping the bytes.
fn drain(
    mut sock: TcpStream,
    chunk: usize,
    cpus: Option<&CpuList>,
) -> Result<Drained, StreamError> {
    pin(cpus)?;
    let cpu0 = ThreadCpu::now();
    let mut buf = vec![0u8; chunk];
    let (mut bytes, mut error) = (0u64, None);
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    Ok(Drained {
        bytes,
        ended: Instant::now(),
        cpu: ThreadCpu::now().since(cpu0),
        error,
    })
}

/// The result lines.
pub fn render(r: &StreamReport) -> String {
    let mut s = format!(
        "stream: {} bytes in {:.3} s = {:.1} MB/s one way ({:.2} Gbit/s); {} writes{}\n",
        r.bytes_received.unwrap_or(r.bytes_sent),
        r.elapsed_s,
        r.mb_per_s,
        r.mb_per_s * 8.0 / 1e3,
        r.writes,
        match r.bytes_received {
            Some(got) if got == r.bytes_sent => ", all read by the sink".to_string(),
            Some(got) => format!(", but the sink read {got} of {} bytes", r.bytes_sent),
            None =>
                " (timed at the writer: the last few MiB may still have been in flight)".to_string(),
        }
    );
    let pct = |c: &ThreadCpu| c.total_s() / r.elapsed_s.max(1e-9) * 100.0;
    let w = &r.writer_cpu;
    s += &format!(
        "cpu: writer user {:.2} s, system {:.2} s ({:.0}% of one CPU)",
        w.user_s,
        w.system_s,
        pct(w)
    );
    if let Some(k) = &r.sink_cpu {
        s += &format!(
            "; sink user {:.2} s, system {:.2} s ({:.0}%)",
            k.user_s,
            k.system_s,
            pct(k)
        );
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::{Command, Opts};
    use clap::Parser;

    fn args(extra: &[&str]) -> StreamArgs {
        let mut v = vec!["loadgen", "stream"];
        v.extend_from_slice(extra);
        match Opts::parse_from(v).command {
            Some(Command::Stream(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streams_every_byte_to_its_own_sink() {
        let mut out = Vec::new();
        let r = run(&args(&["--bytes", "8MiB", "--chunk", "100KiB"]), &mut out).unwrap();
        assert_eq!(r.bytes_sent, 8 << 20);
        assert_eq!(r.bytes_received, Some(8 << 20));
        assert!(r.own_sink && r.mb_per_s > 0.0 && r.elapsed_s > 0.0);
        assert_eq!(
            r.writes,
            (8 << 20) / (100 << 10) + 1,
            "full writes and a tail"
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("loadgen's own sink on 127.0.0.1:"), "{text}");
        assert!(text.contains("all read by the sink"), "{text}");
        let back: StreamReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn the_duration_bounds_the_stream() {
        let r = run(
            &args(&[
                "--bytes",
                "1000GiB",
                "--duration",
                "50ms",
                "--chunk",
                "64KiB",
            ]),
            &mut io::sink(),
        )
        .unwrap();
        assert!(r.bytes_sent < 1000 << 30);
        assert!(r.elapsed_s < 5.0, "{}", r.elapsed_s);
    }

    #[test]
    fn bad_input_is_refused_before_sending() {
        let err = |a: &[&str]| run(&args(a), &mut io::sink()).unwrap_err();
        assert!(err(&["--chunk", "0"]).is_input());
        assert!(err(&["--bytes", "0"]).is_input());
        assert!(err(&["--duration", "0s"]).is_input());
        let e = err(&["--port", "9", "--host", "192.0.2.1"]);
        assert!(
            e.is_input() && e.to_string().contains("not a loopback"),
            "{e}"
        );
        assert!(
            Opts::try_parse_from(["loadgen", "stream", "--port", "9", "--sink-cpu", "0"]).is_err()
        );
    }
}
