//! The cases run against every model. Each starts its own server on port 0, drives it,
//! and records checks and figures in a [`CaseResult`].

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::frame::header;
use common::testkit::{Server, binary, proc_status_kib};

use super::{CaseResult, Sizes, cpu_time};
use crate::{Rng, pattern_byte, reset};

/// A case: model, sizes, where to record.
type Case = fn(&str, Sizes, &mut CaseResult);

/// Every per-model case, in run order.
pub const MODEL_CASES: [(&str, Case); 8] = [
    ("resets", resets),
    ("fd-exhaustion", fd_exhaustion),
    ("slowloris", slowloris),
    ("slow-readers", slow_readers),
    ("framed-garbage", framed_garbage),
    ("sigterm-under-load", sigterm_under_load),
    ("unwritable-stderr", unwritable_stderr),
    ("no-connection-after-exit", no_connection_after_exit),
];

/// One line on what a case does and expects (for the Markdown rendering).
pub fn describe(case: &str) -> &'static str {
    match case {
        "resets" => {
            "Connections reset (SO_LINGER 0) at random points mid-transfer, beside healthy \
             clients whose echoes must stay byte-exact; descriptors return to where they were."
        }
        "fd-exhaustion" => {
            "Server under a 256 open-file limit, flooded with 400 clients: existing \
             connections keep echoing, accept failures logged at most once a second, CPU \
             low while full (window: 2 s), accepting again once the clients leave."
        }
        "slowloris" => {
            "Idle connections that never send: closed after `--idle-timeout 1s` (not \
             before); without the flag, no CPU over 2 s (the window) and none closed."
        }
        "slow-readers" => {
            "Clients that write as fast as they can and read slowly (8 KiB per 10 ms): \
             every byte comes back in order, and server RSS growth stays under \
             16 MiB + 256 KiB per connection."
        }
        "framed-garbage" => {
            "`--framed --max-frame 1MiB`: random headers, lengths over the maximum, \
             truncated frames and zero-length frames, each on its own connection, while a \
             healthy framed client keeps round-tripping."
        }
        "sigterm-under-load" => {
            "SIGTERM while clients ping-pong as fast as they can: exit 0 within 1 s, no \
             panic on stderr."
        }
        "unwritable-stderr" => {
            "stderr on /dev/full, then on a pipe whose reader has gone: `--framed --max-frame \
             1KiB` sent 4 KiB headers (each a log line that cannot be written) closes only \
             those connections, the server echoes on, and SIGTERM ends it with exit 0 within \
             1 s."
        }
        "no-connection-after-exit" => {
            "Clients ping-pong when SIGTERM comes; once the server (and, with `--processes \
             2`, its workers, in every accept mode the model can do) has exited 0, connects \
             back to back for 100 ms: none may complete (clients = runs, errors = \
             connections completed after exit)."
        }
        super::loadgen::CASE => super::loadgen::DESCRIPTION,
        _ => "",
    }
}

/// Client I/O timeout: long enough for a loaded 2-core box, short enough to end a case.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn kind(e: &io::Error) -> String {
    format!("{:?}", e.kind())
}

/// The server's descriptors once the count has stopped changing.
fn settled_fds(server: &Server) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = server.open_fds();
    let mut same = 0;
    while same < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        let now = server.open_fds();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

/// Checks common to every case's end: alive, still echoing, no panic; records RSS,
/// descriptors and stderr.
fn finish(server: &mut Server, fds_before: usize, r: &mut CaseResult) {
    finish_with(server, fds_before, r, echo_once)
}

fn finish_with(
    server: &mut Server,
    fds_before: usize,
    r: &mut CaseResult,
    echo: fn(SocketAddr) -> io::Result<()>,
) {
    let alive = server.is_running();
    r.check(alive, || "the server died".into());
    if alive {
        r.check(echo(server.addr).is_ok(), || {
            "the server no longer echoes a fresh client".into()
        });
        let after = settled_fds(server);
        r.fds_after = Some(after);
        r.check(after <= fds_before + 2, || {
            format!("descriptors not released: {fds_before} before, {after} after")
        });
        r.peak_rss_kib = proc_status_kib(server.pid(), "VmHWM:");
    }
    let stderr = server.stderr();
    r.stderr_lines = Some(stderr.lines().count());
    r.check(!stderr.contains("panicked"), || {
        format!("panic on stderr: {}", first_lines(&stderr))
    });
}

fn first_lines(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" / ")
}

fn echo_once_framed(addr: SocketAddr) -> io::Result<()> {
    let mut s = connect(addr)?;
    let mut frame = header(12).to_vec();
    frame.extend(b"still there?");
    s.write_all(&frame)?;
    let mut got = vec![0u8; frame.len()];
    s.read_exact(&mut got)?;
    if got != frame {
        return Err(io::Error::other("wrong echo"));
    }
    Ok(())
}

fn echo_once(addr: SocketAddr) -> io::Result<()> {
    let mut s = connect(addr)?;
    s.write_all(b"still there?")?;
    let mut got = [0u8; 12];
    s.read_exact(&mut got)?;
    if &got != b"still there?" {
        return Err(io::Error::other("wrong echo"));
    }
    Ok(())
}

/// Echoes `len` pattern bytes (written in random splits by one thread, read and checked
/// by another); returns the bytes that came back right.
fn healthy_echo(addr: SocketAddr, len: u64, seed: u64) -> Result<u64, String> {
    let stream = connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sender = thread::spawn(move || -> io::Result<()> {
        let mut rng = Rng::new(seed);
        let mut sent = 0u64;
        let mut chunk = Vec::new();
        while sent < len {
            let n = rng.range(1, 16 << 10).min((len - sent) as usize);
            chunk.clear();
            chunk.extend((sent..sent + n as u64).map(pattern_byte));
            writer.write_all(&chunk)?;
            sent += n as u64;
        }
        writer.shutdown(Shutdown::Write)
    });
    let mut reader = stream;
    let mut got = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Some(i) = (0..n).find(|&i| buf[i] != pattern_byte(got + i as u64)) {
                    break Err(format!("byte {} differs", got + i as u64));
                }
                got += n as u64;
            }
            Err(e) => break Err(format!("read after {got} bytes: {e}")),
        }
    };
    let sent = sender.join().map_err(|_| "writer panicked".to_string())?;
    result?;
    sent.map_err(|e| format!("write: {e}"))?;
    if got != len {
        return Err(format!("{got} of {len} bytes came back"));
    }
    Ok(got)
}

/// Healthy clients beside a fault: `n` threads, each echoing `bytes`.
fn spawn_healthy(
    addr: SocketAddr,
    n: usize,
    bytes: u64,
) -> Vec<thread::JoinHandle<Result<u64, String>>> {
    (0..n)
        .map(|i| thread::spawn(move || healthy_echo(addr, bytes, 1000 + i as u64)))
        .collect()
}

fn join_healthy(
    handles: Vec<thread::JoinHandle<Result<u64, String>>>,
    bytes: u64,
    r: &mut CaseResult,
) {
    for (i, h) in handles.into_iter().enumerate() {
        r.clients += 1;
        r.bytes_sent += bytes;
        match h.join() {
            Ok(Ok(got)) => r.bytes_back += got,
            Ok(Err(e)) => r.failures.push(format!("healthy client {i}: {e}")),
            Err(_) => r.failures.push(format!("healthy client {i} panicked")),
        }
    }
}

/// Connections that reset at random points mid-transfer, beside healthy clients.
fn resets(model: &str, sz: Sizes, r: &mut CaseResult) {
    let mut server = Server::start(model, &[]);
    let addr = server.addr;
    let fds_before = settled_fds(&server);
    r.fds_before = Some(fds_before);
    let healthy = spawn_healthy(addr, sz.healthy, sz.healthy_bytes);
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let workers = 4;
    let resetters: Vec<_> = (0..workers)
        .map(|w| {
            let (errors, sent) = (Arc::clone(&errors), Arc::clone(&sent));
            let count = sz.resetters / workers + usize::from(w < sz.resetters % workers);
            thread::spawn(move || {
                let mut rng = Rng::new(77 + w as u64);
                for _ in 0..count {
                    if let Err(e) = reset_one(addr, &mut rng, &sent) {
                        *errors.lock().unwrap().entry(kind(&e)).or_default() += 1;
                    }
                }
            })
        })
        .collect();
    for h in resetters {
        let _ = h.join();
    }
    r.clients += sz.resetters as u64;
    r.bytes_sent += sent.load(Ordering::Relaxed);
    join_healthy(healthy, sz.healthy_bytes, r);
    let errors = std::mem::take(&mut *errors.lock().unwrap());
    r.check(errors.keys().all(|k| k != "ConnectionRefused"), || {
        format!("resetting clients were refused: {errors:?}")
    });
    r.merge_errors(errors);
    finish(&mut server, fds_before, r);
}

/// One connection reset (SO_LINGER 0) at a random point: before sending, after sending
/// part of a message, after reading part of its echo, or with a large echo in flight.
fn reset_one(addr: SocketAddr, rng: &mut Rng, sent: &AtomicU64) -> io::Result<()> {
    let mut s = connect(addr)?;
    let stage = rng.range(0, 3);
    if stage >= 1 {
        let len = if stage == 3 {
            256 << 10
        } else {
            rng.range(1, 64 << 10)
        };
        let data = rng.bytes(len);
        // A large write may not fit before the server's echo fills our buffer: write
        // what fits without blocking for long.
        s.set_write_timeout(Some(Duration::from_millis(200)))?;
        let n = match s.write(&data) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        sent.fetch_add(n as u64, Ordering::Relaxed);
        if stage == 2 && n > 0 {
            let mut buf = vec![0u8; rng.range(1, n)];
            s.read_exact(&mut buf)?;
            if buf[..] != data[..buf.len()] {
                return Err(io::Error::other("wrong echo before the reset"));
            }
        }
    }
    reset(s)
}

/// Sets the open-file limit in the child before exec.
fn with_fd_limit(cmd: &mut Command, limit: u64) {
    // SAFETY: the closure runs between fork and exec and calls only setrlimit, which is
    // async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Descriptor exhaustion: a low open-file limit and more clients than it allows.
fn fd_exhaustion(model: &str, sz: Sizes, r: &mut CaseResult) {
    let mut cmd = Command::new(binary(&format!("echo-{model}")));
    cmd.args(["--addr", "127.0.0.1:0"])
        .args(common::models::default_args(model));
    with_fd_limit(&mut cmd, sz.fd_limit);
    let mut server = Server::spawn(&mut cmd);
    let addr = server.addr;
    let started = Instant::now();
    let mut existing: Vec<TcpStream> = (0..10).map(|_| connect(addr).unwrap()).collect();
    let mut rng = Rng::new(9);
    let mut round_trip = |s: &mut TcpStream, r: &mut CaseResult| {
        let msg = rng.bytes(1000);
        r.bytes_sent += 1000;
        let mut got = vec![0u8; 1000];
        match s.write_all(&msg).and_then(|()| s.read_exact(&mut got)) {
            Ok(()) if got == msg => r.bytes_back += 1000,
            Ok(()) => r
                .failures
                .push("an existing connection got a wrong echo".into()),
            Err(e) => r
                .failures
                .push(format!("an existing connection failed: {e}")),
        }
    };
    for s in &mut existing {
        round_trip(s, r);
    }
    let fds_before = settled_fds(&server);
    r.fds_before = Some(fds_before);
    // The flood: non-blocking connects, so those left in (or beyond) the backlog do not
    // hold this thread.
    let mut flood = Vec::new();
    for _ in 0..sz.fd_clients {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("client socket");
        sock.set_nonblocking(true).expect("non-blocking");
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => r.error(kind(&e)),
        }
        flood.push(sock);
    }
    r.clients += (existing.len() + flood.len()) as u64;
    thread::sleep(Duration::from_millis(500));
    let peak = server.open_fds();
    r.fds_peak = Some(peak);
    r.check(peak as u64 + 16 >= sz.fd_limit, || {
        format!("the limit was never reached: {peak} descriptors")
    });
    let window = Duration::from_secs(2);
    let before = cpu_time(server.pid());
    thread::sleep(window);
    let used = cpu_time(server.pid()) - before;
    r.cpu_window_ms = Some(used.as_millis() as u64);
    r.window_ms = Some(window.as_millis() as u64);
    r.check(used <= Duration::from_millis(300), || {
        format!("{used:?} of CPU over {window:?} while full (accept spinning?)")
    });
    for s in &mut existing {
        round_trip(s, r);
    }
    let full_for = started.elapsed();
    let accept_lines = server
        .stderr()
        .lines()
        .filter(|l| l.contains("accept"))
        .count();
    r.notes.push(format!(
        "{accept_lines} accept-failure lines in {full_for:.1?}"
    ));
    r.check(accept_lines >= 1, || {
        "accept failures are not logged".into()
    });
    r.check(accept_lines as u64 <= full_for.as_secs() + 2, || {
        format!("{accept_lines} accept-failure lines in {full_for:?}: more than one a second")
    });
    drop(flood);
    // Accepting again: the backlog drains (each closed client is accepted and closed),
    // then a new client is served.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut served = false;
    while !served && Instant::now() < deadline {
        served = echo_once(addr).is_ok();
        if !served {
            thread::sleep(Duration::from_millis(100));
        }
    }
    r.check(served, || {
        "no new client served after the flood left".into()
    });
    drop(existing);
    finish(&mut server, fds_before, r);
}

/// Idle connections that never send: closed after --idle-timeout; free without it.
fn slowloris(model: &str, sz: Sizes, r: &mut CaseResult) {
    // With the timeout.
    let mut server = Server::start(model, &["--idle-timeout", "1s"]);
    let fds_before = settled_fds(&server);
    r.fds_before = Some(fds_before);
    let opened = Instant::now();
    let idle: Vec<TcpStream> = (0..sz.idle)
        .filter_map(|_| connect(server.addr).map_err(|e| r.error(kind(&e))).ok())
        .collect();
    r.clients += idle.len() as u64;
    thread::sleep(Duration::from_millis(500).saturating_sub(opened.elapsed()));
    r.fds_peak = Some(server.open_fds());
    let early = idle.iter().filter(|s| !still_open(s)).count();
    r.check(early == 0, || {
        format!("{early} idle connections closed before the timeout")
    });
    let mut open = 0;
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match s.read(&mut [0u8; 1]) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            _ => open += 1,
        }
    }
    let all_closed = opened.elapsed();
    r.notes.push(format!(
        "with --idle-timeout 1s: all closed {all_closed:.1?} after opening"
    ));
    r.check(open == 0, || {
        format!("{open} idle connections never closed")
    });
    finish(&mut server, fds_before, r);
    drop(server);

    // Without it: nothing happens, at no cost.
    let server = Server::start(model, &[]);
    let idle: Vec<TcpStream> = (0..sz.idle)
        .filter_map(|_| connect(server.addr).map_err(|e| r.error(kind(&e))).ok())
        .collect();
    r.clients += idle.len() as u64;
    let _ = echo_once(server.addr);
    thread::sleep(Duration::from_millis(300));
    let window = Duration::from_secs(2);
    let before = cpu_time(server.pid());
    thread::sleep(window);
    let used = cpu_time(server.pid()) - before;
    r.cpu_window_ms = Some(used.as_millis() as u64);
    r.window_ms = Some(window.as_millis() as u64);
    r.check(used <= Duration::from_millis(200), || {
        format!(
            "{used:?} of CPU over {window:?} with {} idle connections",
            sz.idle
        )
    });
    let closed = idle.iter().filter(|s| !still_open(s)).count();
    r.check(closed == 0, || {
        format!("{closed} idle connections closed without --idle-timeout")
    });
}

/// True if nothing (no data, no end of stream, no reset) is waiting on `s`.
fn still_open(s: &TcpStream) -> bool {
    let _ = s.set_nonblocking(true);
    let open = matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    let _ = s.set_nonblocking(false);
    open
}

/// Per-connection RSS bound for slow readers, beyond a fixed allowance.
const SLOW_RSS_PER_CONN_KIB: u64 = 256;
/// Fixed RSS allowance for slow readers (runtime growth, allocator caches).
const SLOW_RSS_BASE_KIB: u64 = 16 << 10;

/// Clients that write fast and read slowly: backpressure bounds server memory, and every
/// byte still comes back in order.
fn slow_readers(model: &str, sz: Sizes, r: &mut CaseResult) {
    let mut server = Server::start(model, &[]);
    let addr = server.addr;
    let fds_before = settled_fds(&server);
    r.fds_before = Some(fds_before);
    let rss_start = server.rss_kib().unwrap_or(0);
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..sz.slow_readers)
        .map(|_| thread::spawn(move || slow_reader(addr, sz.slow_bytes)))
        .collect();
    let sampler = {
        let (done, pid) = (Arc::clone(&done), server.pid());
        thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(proc_status_kib(pid, "VmRSS:").unwrap_or(0));
                thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    for (i, c) in clients.into_iter().enumerate() {
        r.clients += 1;
        r.bytes_sent += sz.slow_bytes;
        match c.join() {
            Ok(Ok(n)) => r.bytes_back += n,
            Ok(Err(e)) => r.failures.push(format!("slow reader {i}: {e}")),
            Err(_) => r.failures.push(format!("slow reader {i} panicked")),
        }
    }
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    let growth = peak.saturating_sub(rss_start);
    let bound = SLOW_RSS_BASE_KIB + SLOW_RSS_PER_CONN_KIB * sz.slow_readers as u64;
    r.notes.push(format!(
        "RSS {rss_start} KiB at start, {peak} KiB at peak: {} KiB per connection",
        growth / sz.slow_readers.max(1) as u64
    ));
    r.check(growth <= bound, || {
        format!(
            "RSS grew {growth} KiB with {} slow readers (bound {bound} KiB)",
            sz.slow_readers
        )
    });
    finish(&mut server, fds_before, r);
}

/// One slow reader: writes `len` pattern bytes as fast as the socket takes them, reads
/// at most 8 KiB every 10 ms and checks every byte.
fn slow_reader(addr: SocketAddr, len: u64) -> Result<u64, String> {
    let stream = connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_write_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sender = thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || -> io::Result<()> {
            let mut sent = 0u64;
            let mut chunk = Vec::with_capacity(64 << 10);
            while sent < len {
                let n = (64 << 10).min(len - sent);
                chunk.clear();
                chunk.extend((sent..sent + n).map(pattern_byte));
                writer.write_all(&chunk)?;
                sent += n;
            }
            writer.shutdown(Shutdown::Write)
        })
        .map_err(|e| e.to_string())?;
    let mut reader = stream;
    let mut buf = [0u8; 8 << 10];
    let mut got = 0u64;
    let result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Some(i) = (0..n).find(|&i| buf[i] != pattern_byte(got + i as u64)) {
                    break Err(format!("byte {} differs", got + i as u64));
                }
                got += n as u64;
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => break Err(format!("read after {got} bytes: {e}")),
        }
    };
    let sent = sender.join().map_err(|_| "writer panicked".to_string())?;
    result?;
    sent.map_err(|e| format!("write: {e}"))?;
    if got != len {
        return Err(format!("{got} of {len} bytes came back"));
    }
    Ok(got)
}

/// Largest frame the garbage case's server accepts.
const GARBAGE_MAX_FRAME: u64 = 1 << 20;

/// Framed garbage on its own connections beside a healthy framed client.
fn framed_garbage(model: &str, sz: Sizes, r: &mut CaseResult) {
    let mut server = Server::start(model, &["--framed", "--max-frame", "1MiB"]);
    let addr = server.addr;
    let fds_before = settled_fds(&server);
    r.fds_before = Some(fds_before);
    let stop = Arc::new(AtomicBool::new(false));
    let healthy = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || -> Result<(u64, u64), String> {
            let mut s = connect(addr).map_err(|e| e.to_string())?;
            let mut rng = Rng::new(3);
            let (mut frames, mut bytes) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) || frames == 0 {
                let len = rng.range(0, 64 << 10);
                let mut frame = header(len as u64).to_vec();
                frame.extend(rng.bytes(len));
                s.write_all(&frame)
                    .map_err(|e| format!("frame {frames}: {e}"))?;
                let mut got = vec![0u8; frame.len()];
                s.read_exact(&mut got)
                    .map_err(|e| format!("frame {frames}: {e}"))?;
                if got != frame {
                    return Err(format!("frame {frames} came back different"));
                }
                frames += 1;
                bytes += frame.len() as u64;
            }
            Ok((frames, bytes))
        })
    };
    let mut rng = Rng::new(21);
    let mut kinds = BTreeMap::<&str, u64>::new();
    for i in 0..sz.garbage {
        let (name, outcome) = garbage_one(addr, i % 4, &mut rng);
        r.clients += 1;
        *kinds.entry(name).or_default() += 1;
        match outcome {
            Ok((sent, back)) => {
                r.bytes_sent += sent;
                r.bytes_back += back;
            }
            Err(e) => {
                if r.failures.len() < 10 {
                    r.failures.push(format!("{name} client {i}: {e}"));
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    r.clients += 1;
    match healthy.join() {
        Ok(Ok((frames, bytes))) => {
            r.bytes_sent += bytes;
            r.bytes_back += bytes;
            r.notes.push(format!(
                "healthy client: {frames} frames round-tripped; garbage clients {kinds:?}"
            ));
        }
        Ok(Err(e)) => r.failures.push(format!("healthy framed client: {e}")),
        Err(_) => r.failures.push("healthy framed client panicked".into()),
    }
    finish_with(&mut server, fds_before, r, echo_once_framed);
}

/// One garbage connection of kind `k`; returns (bytes sent, bytes back) if the server
/// did what it should.
fn garbage_one(
    addr: SocketAddr,
    k: usize,
    rng: &mut Rng,
) -> (&'static str, Result<(u64, u64), String>) {
    let run = |s: &mut TcpStream, rng: &mut Rng| -> Result<(u64, u64), String> {
        let e = |e: io::Error| e.to_string();
        match k {
            // Random header: top byte forced non-zero, so the length is far over the max.
            0 | 1 => {
                let mut msg = if k == 0 {
                    let mut h = rng.bytes(8);
                    h[0] |= 0x80;
                    h
                } else {
                    header(GARBAGE_MAX_FRAME + 1 + rng.range(0, 1 << 30) as u64).to_vec()
                };
                let extra = rng.range(0, 100);
                msg.extend(rng.bytes(extra));
                s.write_all(&msg).map_err(e)?;
                let back = expect_closed(s)?;
                if back > 0 {
                    return Err(format!("{back} bytes echoed for an oversized frame"));
                }
                Ok((msg.len() as u64, 0))
            }
            // Truncated: header, part of the payload, then our FIN.
            2 => {
                let len = rng.range(2, 5000);
                let mut msg = header(len as u64).to_vec();
                let part = rng.range(0, len - 1);
                msg.extend(rng.bytes(part));
                s.write_all(&msg).map_err(e)?;
                s.shutdown(Shutdown::Write).map_err(e)?;
                let back = expect_closed(s)?;
                if back > 0 {
                    return Err(format!("{back} bytes echoed for a truncated frame"));
                }
                Ok((msg.len() as u64, 0))
            }
            // Zero-length frames, then a small one: all echoed exactly.
            _ => {
                let mut msg = Vec::new();
                for _ in 0..3 {
                    msg.extend(header(0));
                }
                msg.extend(header(5));
                msg.extend(b"hello");
                s.write_all(&msg).map_err(e)?;
                let mut got = vec![0u8; msg.len()];
                s.read_exact(&mut got).map_err(e)?;
                if got != msg {
                    return Err("zero-length frames came back different".into());
                }
                Ok((msg.len() as u64, got.len() as u64))
            }
        }
    };
    let name = ["random-header", "over-max", "truncated", "zero-length"][k.min(3)];
    let outcome = connect(addr)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|mut s| run(&mut s, rng));
    (name, outcome)
}

/// Reads until the server closes (end of stream or reset); returns the bytes read
/// before. An error if it is still open after 10 s.
fn expect_closed(s: &mut TcpStream) -> Result<u64, String> {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut n = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k as u64,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(n),
            Err(e) => return Err(format!("not closed by the server: {e}")),
        }
    }
}

/// SIGTERM while clients ping-pong as fast as they can.
fn sigterm_under_load(model: &str, sz: Sizes, r: &mut CaseResult) {
    let mut server = Server::start(model, &[]);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let round_trips = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..sz.load_clients)
        .map(|_| {
            let (stop, round_trips) = (Arc::clone(&stop), Arc::clone(&round_trips));
            thread::spawn(move || -> Option<io::Error> {
                let mut s = match connect(addr) {
                    Ok(s) => s,
                    Err(e) => return Some(e),
                };
                let msg = [7u8; 64];
                let mut got = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = s.write_all(&msg).and_then(|()| s.read_exact(&mut got)) {
                        return Some(e);
                    }
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                None
            })
        })
        .collect();
    r.clients = sz.load_clients as u64;
    thread::sleep(Duration::from_secs(1));
    let before = round_trips.load(Ordering::Relaxed);
    r.check(before > 0, || "no round trip before SIGTERM".into());
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(1));
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    r.notes.push(format!(
        "{before} round trips before SIGTERM; exited after {took:.0?}"
    ));
    match status {
        Some(s) => r.check(s.success(), || format!("exit status {s}")),
        None => r.failures.push("still running 1 s after SIGTERM".into()),
    }
    for c in clients {
        if let Ok(Some(e)) = c.join() {
            r.error(kind(&e));
        }
    }
    let n = round_trips.load(Ordering::Relaxed);
    r.bytes_sent = n * 64;
    r.bytes_back = n * 64;
    let stderr = server.stderr();
    r.stderr_lines = Some(stderr.lines().count());
    r.check(!stderr.contains("panicked"), || {
        format!("panic on stderr: {}", first_lines(&stderr))
    });
}

/// stderr where no write succeeds; provoked log lines; SIGTERM still exits 0 within 1 s.
fn unwritable_stderr(model: &str, _sz: Sizes, r: &mut CaseResult) {
    for kind in crate::UNWRITABLE_STDERR {
        let stderr = match crate::unwritable_stderr(kind) {
            Ok(s) => s,
            Err(e) => {
                r.failures.push(format!("{kind}: {e}"));
                continue;
            }
        };
        let args = ["--framed", "--max-frame", "1KiB"];
        let mut server = Server::start_with_stderr(model, &args, stderr);
        for _ in 0..3 {
            r.clients += 1;
            let closed = connect(server.addr).and_then(|mut s| {
                s.write_all(&header(4096))?;
                r.bytes_sent += 8;
                expect_closed(&mut s).map_err(io::Error::other)
            });
            if let Err(e) = closed {
                r.failures
                    .push(format!("{kind}: a header over --max-frame: {e}"));
            }
        }
        r.clients += 1;
        r.check(echo_once_framed(server.addr).is_ok(), || {
            format!("{kind}: no echo after the log lines")
        });
        let signalled = Instant::now();
        server.signal(libc::SIGTERM);
        match server.wait_exit(Duration::from_secs(1)) {
            Some(s) => r.check(s.success(), || format!("{kind}: exit status {s}")),
            None => r
                .failures
                .push(format!("{kind}: still running 1 s after SIGTERM")),
        }
        r.notes.push(format!(
            "{kind}: exited {:.0?} after SIGTERM",
            signalled.elapsed()
        ));
    }
}

/// After SIGTERM and exit, no connection completes on the port (one process, then prefork).
fn no_connection_after_exit(model: &str, sz: Sizes, r: &mut CaseResult) {
    use common::prefork::{Exclusive, exclusive_support};
    let mut runs: Vec<Vec<&str>> = vec![vec![]];
    if !common::models::is_baseline(model) {
        runs.push(vec!["--processes", "2", "--accept", "shared"]);
        runs.push(vec!["--processes", "2", "--accept", "reuseport"]);
        if !matches!(exclusive_support(model), Exclusive::Unsupported(_)) {
            runs.push(vec!["--processes", "2", "--accept", "exclusive"]);
        }
    }
    for args in runs {
        let what = if args.is_empty() {
            "one process".to_string()
        } else {
            args.join(" ")
        };
        let mut server = Server::start(model, &args);
        let workers = super::children(server.pid());
        let addr = server.addr;
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..sz.load_clients.min(20))
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || -> u64 {
                    let Ok(mut s) = connect(addr) else { return 0 };
                    let (msg, mut got, mut n) = ([9u8; 64], [0u8; 64], 0);
                    while !stop.load(Ordering::Relaxed)
                        && s.write_all(&msg)
                            .and_then(|()| s.read_exact(&mut got))
                            .is_ok()
                    {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        r.clients += 1;
        thread::sleep(Duration::from_millis(200));
        server.signal(libc::SIGTERM);
        match server.wait_exit(Duration::from_secs(2)) {
            Some(s) => r.check(s.success(), || format!("{what}: exit status {s}")),
            None => r
                .failures
                .push(format!("{what}: still running 2 s after SIGTERM")),
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while workers
            .iter()
            .any(|w| std::path::Path::new(&format!("/proc/{w}")).exists())
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(1));
        }
        let completed = crate::connections_completing(addr);
        stop.store(true, Ordering::Relaxed);
        let round_trips: u64 = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
        r.bytes_sent += round_trips * 64;
        r.bytes_back += round_trips * 64;
        for _ in 0..completed {
            r.error("completed after exit");
        }
        r.check(completed == 0, || {
            format!("{what}: {completed} connections completed after exit")
        });
        r.notes.push(format!(
            "{what}: {round_trips} round trips before SIGTERM, {completed} connections \
             completed after exit"
        ));
    }
}
