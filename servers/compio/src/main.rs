//! echo-compio: async/await streams on compio, a completion-based runtime with owned
//! buffers - the stream style of echo-tokio, on io_uring instead of readiness.
//!
//! Run: `make run-server MODEL=compio` (`--threads N` for N runtimes), then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - Owned buffers: a read hands the buffer to the kernel and gets it back with the
//!   result (`BufResult`), so the task cannot touch it while the operation is in flight.
//!   Raw mode passes one `Vec` back and forth between `read` and `write_all`; framed mode
//!   lends the connection's `FrameBuf` storage out for each read and write (`Part`).
//! - Driver: compio's io_uring proactor, with SINGLE_ISSUER | COOP_TASKRUN |
//!   DEFER_TASKRUN (each runtime is one thread that alone submits), queue capacity
//!   1024, no SQPOLL, no provided-buffer pool; a kernel that refuses the flags gets one
//!   line on stderr and a runtime without them. compio submits what the tasks queued
//!   and waits in one io_uring_enter per poll of its driver.
//! - `--threads N` runs N single-threaded runtimes (compio is thread-per-core), each with
//!   its own SO_REUSEPORT listener (`common::per_thread`); tasks never migrate.
//! - Backpressure: `write_all(..).await` suspends the task until the client reads; the
//!   next read is only submitted after it.
//! - The backend wait and `--idle-timeout` use compio's timers; `--max-conns` is the
//!   gate of `common::accept`'s accept loop, taken before accept(); a connection's task,
//!   when it ends, accepts the next waiting connection itself (non-blocking) and serves
//!   it on the same place, as echo-tokio does, so a freed place goes straight to the
//!   backlog.
//! - Raw mode's buffer starts at one page and doubles when a read fills it, up to
//!   `--buffer-size` (`common::readbuf::grown`), as the other stream models' do.

use std::convert::Infallible;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::accept::accept_loop;
use common::echo::inside_frame;
use common::frame::{FrameBuf, HEADER_LEN};
use common::limit::AsyncGate;
use common::{Config, ConnGuard, EchoSettings, Mode, Workload, readbuf};
use compio::BufResult;
use compio::buf::{IoBuf, IoBufMut, SetLen};
use compio::driver::ProactorBuilder;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::{Runtime, RuntimeBuilder};

common::count_allocations!();

fn main() -> ExitCode {
    common::run("compio", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    // One cap for the whole server, shared by the runtimes.
    let gate = config.max_conns.map(|n| Arc::new(AsyncGate::new(n)));
    let echo = config.echo;
    common::per_thread::serve(&config, "compio", move |listener| {
        // Non-blocking, so that common::net::accept_now() never waits (the ring's accept
        // still does: the kernel polls for it). Set before the runtime starts.
        listener.set_nonblocking(true)?;
        let runtime = runtime()?;
        let gate = gate.clone();
        Ok(move || {
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                match serve_listener(listener, echo, gate).await {}
            })
        })
    })
}

/// A runtime on io_uring with the single-thread setup flags, or without them (one line
/// per process, however many runtimes).
fn runtime() -> io::Result<Runtime> {
    static FELL_BACK: AtomicBool = AtomicBool::new(false);
    let mut proactor = ProactorBuilder::new();
    proactor
        .single_issuer(true)
        .coop_taskrun(true)
        .defer_taskrun(true);
    match RuntimeBuilder::new().with_proactor(proactor).build() {
        Ok(runtime) => Ok(runtime),
        Err(e) => {
            if !FELL_BACK.swap(true, Ordering::Relaxed) {
                common::log!(
                    "the kernel refused SINGLE_ISSUER|COOP_TASKRUN|DEFER_TASKRUN ({e}); \
                     using compio's default driver"
                );
            }
            Runtime::new()
        }
    }
}

/// The gated accept loop of `common::accept`, on compio's accept, tasks and timer.
async fn serve_listener(
    listener: TcpListener,
    echo: EchoSettings,
    gate: Option<Arc<AsyncGate>>,
) -> Infallible {
    let fd = listener.as_raw_fd();
    let accept = || listener.accept();
    let spawn = |(stream, _peer), guard, pass| {
        compio::runtime::spawn(serve_in_place(stream, guard, echo, pass, fd)).detach();
    };
    accept_loop(gate, accept, spawn, compio::time::sleep).await
}

/// Serves `stream`, then, under `--max-conns` (with a pass), the connections already
/// waiting in the backlog one after another on the same place, as common::tokio_serve
/// does: the place freed by a close goes straight to the next connection instead of back
/// through the gate and the accept loop, which would reach it only after the tasks queued
/// meanwhile. With an empty backlog the pass goes back to the gate.
async fn serve_in_place<P>(
    mut stream: TcpStream,
    mut guard: ConnGuard,
    echo: EchoSettings,
    pass: Option<P>,
    listener: RawFd,
) {
    loop {
        serve_conn(stream, echo, guard).await;
        // Non-blocking (the listener is set so in `serve`; the ring's accept still waits
        // on it): nobody waiting, or an error, which the accept loop meets next.
        let next = pass
            .as_ref()
            .and_then(|_| common::net::accept_now(listener));
        match next.map(TcpStream::from_std) {
            Some(Ok(next)) => (stream, guard) = (next, ConnGuard::open()),
            _ => return,
        }
    }
}

async fn serve_conn(stream: TcpStream, echo: EchoSettings, _guard: ConnGuard) {
    let result = match echo.mode {
        Mode::Raw => raw(stream, echo.buffer_size, echo.idle_timeout).await,
        Mode::Framed { max_frame } => {
            framed(stream, max_frame, echo.workload, echo.idle_timeout).await
        }
    };
    if let Err(e) = result {
        common::conn::error(&e);
    }
}

async fn raw(mut stream: TcpStream, buffer_size: usize, idle: Option<Duration>) -> io::Result<()> {
    // One page at first, doubled by each read that fills it, up to --buffer-size (the
    // rule of common::readbuf, on the Vec's capacity: a read fills capacity, not length).
    let mut buf = Vec::with_capacity(readbuf::FIRST.min(buffer_size));
    loop {
        // A read fills the buffer from its start and only ever raises its length: empty
        // it first, so the length is what this read brought.
        buf.clear();
        let (n, back) = read_within(&mut stream, buf, idle).await?;
        if n == 0 {
            return Ok(()); // client closed its side; everything was echoed
        }
        let BufResult(written, back) = stream.write_all(back).await;
        written?;
        buf = back;
        let size = readbuf::grown(buf.capacity(), n, buffer_size);
        if size > buf.capacity() {
            buf.clear();
            buf.reserve_exact(size);
        }
    }
}

async fn framed(
    mut stream: TcpStream,
    max_frame: u64,
    workload: Option<Workload>,
    idle: Option<Duration>,
) -> io::Result<()> {
    let mut frame = FrameBuf::new(max_frame);
    loop {
        let part = Part::new(frame.take(), 0..HEADER_LEN);
        let (n, part) = read_within(&mut stream, part, idle).await?;
        frame.put_back(part.buf);
        if n == 0 {
            return Ok(()); // closed between frames: a clean end
        }
        let started = common::service::start();
        fill(&mut stream, &mut frame, n..HEADER_LEN, idle).await?;
        let len = frame.start_frame()?;
        fill(&mut stream, &mut frame, HEADER_LEN..HEADER_LEN + len, idle).await?;
        if let Some(w) = workload {
            w.run_async(compio::time::sleep).await;
        }
        // Marked before the write: the client may have the reply (and signal the server)
        // before this task records it, and the stats file must not miss it.
        let reply = common::service::replying(started);
        let whole = Part::new(frame.take(), 0..frame.frame_len());
        let BufResult(written, whole) = stream.write_all(whole).await;
        frame.put_back(whole.buf);
        written?;
        reply.sent();
    }
}

/// A read, failing with the idle timeout if nothing comes within `idle`. An error ends
/// the connection, so the buffer comes back only with a result: a read cut short by the
/// timeout is dropped, and compio keeps its buffer until the kernel has let go of it.
async fn read_within<B: IoBufMut>(
    stream: &mut TcpStream,
    buf: B,
    idle: Option<Duration>,
) -> io::Result<(usize, B)> {
    let BufResult(n, buf) = match idle {
        None => stream.read(buf).await,
        Some(after) => compio::time::timeout(after, stream.read(buf))
            .await
            .map_err(|_| common::conn::idle_timeout(after))?,
    };
    Ok((n?, buf))
}

/// Reads exactly the bytes `range` of the frame buffer into it, each read within the
/// idle timeout.
async fn fill(
    stream: &mut TcpStream,
    frame: &mut FrameBuf,
    range: std::ops::Range<usize>,
    idle: Option<Duration>,
) -> io::Result<()> {
    let mut at = range.start;
    while at < range.end {
        let part = Part::new(frame.take(), at..range.end);
        let (n, part) = read_within(stream, part, idle)
            .await
            .map_err(inside_frame)?;
        frame.put_back(part.buf);
        match n {
            0 => return Err(inside_frame(io::ErrorKind::UnexpectedEof.into())),
            n => at += n,
        }
    }
    Ok(())
}

/// A range of the frame buffer's storage, lent to the kernel for one read or write.
/// Every byte of the storage is initialised (FrameBuf zero-fills it when it grows), so
/// a read's length needs no bookkeeping here: `fill` counts the bytes.
struct Part {
    buf: Vec<u8>,
    range: std::ops::Range<usize>,
}

impl Part {
    fn new(buf: Vec<u8>, range: std::ops::Range<usize>) -> Part {
        assert!(
            range.end <= buf.len(),
            "a part lies within the frame buffer"
        );
        Part { buf, range }
    }
}

impl IoBuf for Part {
    fn as_init(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

impl SetLen for Part {
    unsafe fn set_len(&mut self, _len: usize) {
        // Initialised already: nothing to record.
    }
}

impl IoBufMut for Part {
    fn as_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        let bytes = &mut self.buf[self.range.clone()];
        // SAFETY: initialised bytes viewed as maybe-uninitialised; the kernel writes
        // only bytes (never uninitialises them).
        unsafe { &mut *(bytes as *mut [u8] as *mut [MaybeUninit<u8>]) }
    }
}
