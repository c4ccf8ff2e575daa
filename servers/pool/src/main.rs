//! echo-pool: a fixed pool of blocking worker threads fed by one accept loop through a
//! bounded queue - Tomcat's blocking (BIO) connector, Apache's worker MPM, a Java fixed
//! `ExecutorService` or Python's `ThreadPoolExecutor` behind a blocking `accept()`.
//!
//! Run: `make run-server MODEL=pool ARGS="--threads 8"`, then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - `--threads N` is the pool: N workers, started once, each serving one connection at a
//!   time with blocking I/O until the client closes it (`common::echo::blocking`, the
//!   thread model's loop), then taking the next. At most N connections are served at
//!   once; the others wait. That caps threads and memory, and it starves every
//!   connection beyond the pool while the pool is busy: a client that holds its
//!   connection open holds a worker, whether it sends or not.
//! - The queue between the accept loop and the workers is a bounded crossbeam channel of
//!   [`QUEUE_PER_WORKER`] x N accepted connections. When it is full the accept loop blocks
//!   on it and stops calling `accept()`, so further clients wait in the kernel's listen
//!   backlog (their handshake completes there; Tomcat's `acceptCount`), and beyond the
//!   backlog the kernel drops their SYNs. Nothing is refused by the server. A connection in
//!   the queue is accepted (counted as open) but not read: its bytes wait in its socket.
//!   Measurable: `ss -ltn` shows the backlog (Recv-Q) on the port, and the hand-offs that
//!   found the queue full are counted in `--stats-file` (`queue_full`).
//! - `--max-conns M` is a pass taken before `accept()` (as in echo-thread), held from the
//!   queue to the connection's end, so at most M connections are queued or served.
//! - Backpressure is the blocking loop's: `write_all` blocks until the client reads, and
//!   nothing more is read meanwhile.
//! - `--idle-timeout` is the socket's read timeout (SO_RCVTIMEO), set at accept: it
//!   counts only while a worker waits to read, not while the connection is queued.
//! - Workers have small stacks ([`STACK_SIZE`]): their buffers are on the heap.

use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::limit::{Gate, Pass};
use common::{Config, ConnGuard, EchoSettings};
use crossbeam_channel::{Receiver, Sender, TrySendError};

/// Queue places per worker: with every worker busy, this many accepted connections per
/// worker wait in the queue before the accept loop blocks.
const QUEUE_PER_WORKER: usize = 1;

/// Stack per worker: the echo loop needs a few KiB; its buffers are on the heap.
const STACK_SIZE: usize = 64 << 10;

/// Hand-offs that found the queue full (the accept loop then blocked).
static QUEUE_FULL: AtomicU64 = AtomicU64::new(0);

/// One accepted connection on its way to a worker: the socket, its place in the open
/// count, and its `--max-conns` pass.
type Job = (TcpStream, ConnGuard, Option<Pass>);

common::count_allocations!();

fn main() -> ExitCode {
    common::run("pool", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let listener = common::net::bind(config.addr, config.reuse_port)?;
    common::service::counter("queue_full", &QUEUE_FULL);
    let (queue, jobs) = crossbeam_channel::bounded::<Job>(QUEUE_PER_WORKER * config.threads);
    // Ready once every worker runs and has set up its allocator state (glibc's cache per
    // thread, about half a KiB, made at a thread's first allocation): a thousand threads
    // take a while to start, and none of that should come after the readiness line.
    let started = Arc::new(Barrier::new(config.threads + 1));
    for i in 0..config.threads {
        let (jobs, echo, started) = (jobs.clone(), config.echo, Arc::clone(&started));
        std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(STACK_SIZE)
            .spawn(move || {
                drop(std::hint::black_box(Vec::<u8>::with_capacity(64)));
                started.wait();
                work(&jobs, echo)
            })?;
    }
    started.wait();
    common::ready(listener.local_addr()?, config.threads);
    let gate = config.max_conns.map(Gate::new);
    accept_loop(&listener, &queue, config.echo.idle_timeout, gate)
}

/// A worker: one connection at a time, each until it closes.
fn work(jobs: &Receiver<Job>, echo: EchoSettings) {
    for (stream, guard, pass) in jobs {
        common::echo::blocking(stream, echo, std::thread::sleep, guard);
        drop(pass);
    }
}

fn accept_loop(
    listener: &TcpListener,
    queue: &Sender<Job>,
    idle_timeout: Option<Duration>,
    gate: Option<Arc<Gate>>,
) -> anyhow::Result<()> {
    loop {
        // Under --max-conns, wait for a free place before accepting.
        let pass = gate.as_ref().map(Gate::enter);
        let stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                std::thread::sleep(common::net::accept_failed(&e));
                continue;
            }
        };
        let guard = ConnGuard::open();
        // --idle-timeout is the socket's read timeout: a blocked read gives up.
        if let Err(e) = stream.set_read_timeout(idle_timeout) {
            common::conn::error(&e);
            continue;
        }
        let job = (stream, guard, pass);
        let job = match queue.try_send(job) {
            Ok(()) => continue,
            Err(TrySendError::Full(job)) => job,
            Err(TrySendError::Disconnected(_)) => anyhow::bail!("every worker has ended"),
        };
        // Every worker busy and the queue full: block here, so the next clients wait in
        // the kernel's backlog.
        QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
        if queue.send(job).is_err() {
            anyhow::bail!("every worker has ended");
        }
    }
}
