//! echo-reactor-pool: half-sync/half-async (POSA2) - one readiness loop owns every socket
//! and does all the I/O, and a pool of worker threads does the work: Netty's boss/worker
//! event loop with a business `EventExecutorGroup`, a libevent or libuv loop with a thread
//! pool, nginx's thread pools.
//!
//! Run: `make run-server MODEL=reactor-pool ARGS="--threads 2"`, then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - The loop (mio, on the main thread) accepts, reads and writes. Each complete unit it
//!   reads - a read chunk in raw mode, a whole frame in framed mode (`common::frame`) - is
//!   tagged with its connection's key, id and a sequence number. At the end of each turn
//!   the loop hands what the turn read to the pool of `--threads` workers over a crossbeam
//!   channel (`pool.rs`), in at most `--threads` batches: one channel operation and at most
//!   one wake-up per batch, not per message. A worker runs each request's workload, if any
//!   (`common::work`: CPU spin, and the backend wait as a blocking sleep, since a worker is
//!   a plain thread) and sends the units back over a second channel: a batch without work
//!   whole, a unit with work as soon as it is done. It wakes the loop (`mio::Waker`, an
//!   eventfd write) only if the loop sleeps. When messages come one at a time the
//!   hand-off still costs two thread switches a message (loop to worker and back); in
//!   exchange the loop goes on accepting and reading while the work runs elsewhere.
//! - Order per connection: several workers may finish one connection's units out of
//!   order, so each connection keeps a reorder buffer (`conn.rs`: one slot per unit not yet
//!   written, in sequence order) and writes only from its front. Replies that arrive early
//!   are counted in `--stats-file` (`out_of_order`), as are the hand-offs (`handoffs`).
//! - Backpressure: a connection is not read while the bytes it owes - in the pool or
//!   written only in part - reach `--buffer-size`, so a client that never reads holds at
//!   most about two buffers of server memory. That bound per connection is what bounds
//!   the channels too (they are unbounded, so the loop never blocks on a hand-off). A
//!   unit's buffer comes back with its reply and is reused: raw mode's from a free list,
//!   framed mode's as the connection's next frame buffer, so framed mode allocates only
//!   for a frame larger than any before it.
//! - `--max-conns N`: at N open connections the loop stops calling accept(); a close
//!   accepts again at once. `--idle-timeout`: `common::idle::IdleChecks`, as echo-epoll; a
//!   connection that owes replies is not idle.
//! - Prefork: each process has its loop and its pool; `--accept exclusive` registers the
//!   listener with EPOLLEXCLUSIVE (`common::net::register_listener`).

mod conn;
mod pool;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::idle::IdleChecks;
use common::{Config, EchoSettings};
use conn::{Conn, Next};
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use pool::{Batch, LoopWake, Unit};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);
const WAKER: Token = Token(usize::MAX - 1);
/// Emptied batches kept for reuse; more are freed.
const SPARE_BATCHES: usize = 64;

/// Units handed to the pool.
static HANDOFFS: AtomicU64 = AtomicU64::new(0);
/// Replies that came back before an earlier reply of their connection.
static OUT_OF_ORDER: AtomicU64 = AtomicU64::new(0);

common::count_allocations!();

fn main() -> ExitCode {
    common::run("reactor-pool", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let listener = common::net::bind(config.addr, config.reuse_port)?;
    let addr = listener.local_addr()?;
    common::service::counter("handoffs", &HANDOFFS);
    common::service::counter("out_of_order", &OUT_OF_ORDER);
    let mut event_loop = EventLoop::new(listener, config.echo, config.max_conns, config.threads)?;
    let (units, jobs) = crossbeam_channel::unbounded();
    let (replies, done) = crossbeam_channel::unbounded();
    let waker = Waker::new(event_loop.poll.registry(), WAKER).context("eventfd")?;
    let wake = Arc::new(LoopWake::new(waker));
    pool::start(
        config.threads,
        config.echo.workload,
        jobs,
        replies,
        Arc::clone(&wake),
    )?;
    common::ready(addr, config.threads);
    event_loop.run(&units, &done, &wake)
}

struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    /// accept() ran out of a resource: none until then.
    accept_paused_until: Option<Instant>,
    max_conns: Option<usize>,
    conns: Slab<Conn>,
    next_id: u64,
    echo: EchoSettings,
    /// The loop's one read buffer (raw mode).
    buf: Vec<u8>,
    /// Raw mode's spare unit buffers.
    free: Vec<Vec<u8>>,
    /// Connections to serve next turn without waiting for an event.
    again: Vec<usize>,
    /// The units read this turn, handed to the pool at its end in at most `threads`
    /// batches.
    pending: Vec<Unit>,
    threads: usize,
    /// Batches back from the pool, emptied, to send the next turn's units in.
    spare_batches: Vec<Batch>,
    idle_checks: IdleChecks,
    now: Instant,
}

impl EventLoop {
    fn new(
        listener: std::net::TcpListener,
        echo: EchoSettings,
        max_conns: Option<usize>,
        threads: usize,
    ) -> anyhow::Result<Self> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new().context("epoll_create")?;
        // EPOLLEXCLUSIVE under `--processes P --accept exclusive`.
        common::net::register_listener(poll.registry(), &mut listener, LISTENER)?;
        Ok(EventLoop {
            poll,
            listener,
            accept_paused_until: None,
            max_conns,
            conns: Slab::with_capacity(1024),
            next_id: 0,
            echo,
            buf: vec![0u8; echo.buffer_size],
            free: Vec::new(),
            again: Vec::new(),
            pending: Vec::new(),
            threads: threads.max(1),
            spare_batches: Vec::new(),
            idle_checks: IdleChecks::new(echo.idle_timeout),
            now: Instant::now(),
        })
    }

    fn run(
        &mut self,
        units: &Sender<Batch>,
        done: &Receiver<Batch>,
        wake: &LoopWake,
    ) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let mut timeout = if self.again.is_empty() {
                self.next_due()
                    .map(|due| due.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if timeout != Some(Duration::ZERO) {
                // From here a worker's reply wakes the loop; one sent before is taken now.
                wake.park();
                if !done.is_empty() {
                    timeout = Some(Duration::ZERO);
                }
            }
            let polled = self.poll.poll(&mut events, timeout);
            wake.unpark();
            match polled {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("epoll_wait"),
            }
            self.now = Instant::now();
            if self.accept_paused_until.is_some_and(|t| self.now >= t) {
                self.accept_paused_until = None;
                self.accept_all()?;
            }
            let turn = std::mem::take(&mut self.again);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all()?,
                    WAKER => {} // the replies are taken below, every turn
                    Token(key) => {
                        if let Some(conn) = self.conns.get_mut(key) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                conn.readable = true;
                            }
                            if event.is_read_closed() || event.is_error() {
                                conn.peer_closed = true;
                            }
                        }
                        self.serve(key)?;
                    }
                }
            }
            self.take_replies(done)?;
            for key in turn {
                self.serve(key)?;
            }
            self.close_idle()?;
            self.hand_over(units);
        }
    }

    /// Hands this turn's units to the pool: in one batch for one worker, else cut into
    /// at most `threads` batches of consecutive units, one per worker that may be free.
    fn hand_over(&mut self, units: &Sender<Batch>) {
        let n = self.pending.len();
        if n == 0 {
            return;
        }
        HANDOFFS.fetch_add(n as u64, Ordering::Relaxed);
        let size = n.div_ceil(n.min(self.threads));
        let mut pending = self.pending.drain(..);
        while pending.len() > 0 {
            let mut batch = self.spare_batches.pop().unwrap_or_default();
            batch.extend(pending.by_ref().take(size));
            // The workers live as long as the process.
            let _ = units.send(batch);
        }
    }

    /// Puts every reply that has come back into its connection's reorder buffer and
    /// writes what is in order.
    fn take_replies(&mut self, done: &Receiver<Batch>) -> io::Result<()> {
        while let Ok(mut batch) = done.try_recv() {
            for unit in batch.drain(..) {
                let key = unit.key;
                let Some(conn) = self.conns.get_mut(key).filter(|c| c.id == unit.id) else {
                    continue; // its connection has closed
                };
                let first = conn.first_seq();
                if !conn.reply(unit, first) {
                    OUT_OF_ORDER.fetch_add(1, Ordering::Relaxed);
                }
                self.serve(key)?;
            }
            if self.spare_batches.len() < SPARE_BATCHES {
                self.spare_batches.push(batch);
            }
        }
        Ok(())
    }

    /// Runs one step of one connection: write what is ready, read what the bound allows.
    fn serve(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let pending = &mut self.pending;
        let send = |mut unit: Unit| {
            unit.key = key;
            pending.push(unit);
        };
        let result = conn.step(self.echo.buffer_size, &mut self.buf, &mut self.free, send);
        if conn.input_seen {
            conn.input_seen = false;
            conn.last_input = self.now;
        }
        match result {
            Ok(Next::Wait) => {}
            Ok(Next::Again) => self.again.push(key),
            Ok(Next::Close) => self.close(key)?,
            Err(e) => {
                common::conn::error(&e);
                self.close(key)?;
            }
        }
        Ok(())
    }

    /// Closes the connections idle past `--idle-timeout`.
    fn close_idle(&mut self) -> io::Result<()> {
        let Some(idle) = self.idle_checks.after() else {
            return Ok(());
        };
        let (now, conns) = (self.now, &mut self.conns);
        let due = self.idle_checks.due(now, |key, id| {
            let conn = conns.get_mut(key).filter(|c| c.id == id)?;
            if !conn.waits_for_input() {
                conn.last_input = now; // idle time starts when the replies are written
            }
            Some(conn.last_input)
        });
        for key in due {
            common::conn::error(&common::conn::idle_timeout(idle));
            self.close(key)?;
        }
        Ok(())
    }

    /// The next idle check or the end of an accept pause: the longest the loop waits.
    fn next_due(&self) -> Option<Instant> {
        [self.idle_checks.next_due(), self.accept_paused_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Accepts until the backlog is empty, the cap is reached, or accept() runs out of a
    /// resource (then it pauses). Each new connection is served at once: its first
    /// request is usually there already.
    fn accept_all(&mut self) -> io::Result<()> {
        while self.accept_paused_until.is_none() {
            if self
                .max_conns
                .is_some_and(|max| common::conn::open_now() >= max)
            {
                return Ok(()); // a close accepts again
            }
            match self.listener.accept() {
                Ok((mut stream, _peer)) => {
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    // Edge-triggered, READABLE | WRITABLE once for the connection's life.
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self
                        .poll
                        .registry()
                        .register(&mut stream, Token(key), interest)
                    {
                        common::conn::error(&e);
                        continue;
                    }
                    self.next_id += 1;
                    entry.insert(Conn::new(stream, self.next_id, self.echo, self.now));
                    self.idle_checks.watch(key, self.next_id, self.now);
                    self.again.push(key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    let pause = common::net::accept_failed(&e);
                    if !pause.is_zero() {
                        self.accept_paused_until = Some(Instant::now() + pause);
                    }
                }
            }
        }
        Ok(())
    }

    fn close(&mut self, key: usize) -> io::Result<()> {
        let mut conn = self.conns.remove(key);
        // Its units still in the pool come back to a connection that is gone (another
        // id), and are dropped there.
        let _ = self.poll.registry().deregister(&mut conn.stream);
        drop(conn);
        if self.max_conns.is_some() {
            self.accept_all()?;
        }
        Ok(())
    }
}
