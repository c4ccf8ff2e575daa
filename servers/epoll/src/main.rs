//! echo-epoll: the non-blocking readiness loop - one thread, one epoll instance, every
//! connection a small state machine (what select/selectors servers and nginx do).
//!
//! Run: `make run-server MODEL=epoll` (or `echo-epoll --addr 127.0.0.1:7000`), then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - One read buffer for the whole loop, not one per connection: a connection owns only
//!   the bytes the kernel would not take yet (`unsent`), so an idle connection costs a
//!   socket and a slab slot.
//! - Level-triggered service. mio registers sockets edge-triggered, so the loop keeps the
//!   level-triggered contract itself: each turn reads a connection at most once, and a
//!   connection whose read filled the buffer (it may hold more) is served again next turn
//!   without waiting for an event. A short read proves the socket was drained, so the
//!   loop waits for the next edge instead of paying for a `recv` that would return
//!   `WouldBlock`: about two syscalls per echoed message (recv + send) plus a shared
//!   `epoll_wait`, like a hand-written level-triggered C loop.
//! - Backpressure: while a connection has unsent bytes the loop does not read from it,
//!   so a client that never reads holds at most one buffer of server memory.
//! - Framed mode is the same loop with a per-connection state machine (`conn.rs`:
//!   header, payload, work, reply): the payload is read straight into the connection's
//!   `FrameBuf` and the reply is written from it, with no copy. The request's CPU work
//!   runs on the loop and blocks it, as a real handler's would; the backend wait is a
//!   timer in the loop's own timer heap, which arms a timerfd (`common::alarm`:
//!   epoll_wait's own timeout counts whole milliseconds). A turn runs the due timers first and again
//!   after its I/O, so a request whose wait is over finishes before new ones start (as
//!   libuv runs timers before polling).
//! - `--max-conns N`: at N open connections the loop stops calling accept(), so new
//!   connections wait in the kernel's backlog; when one closes the loop accepts at once.
//!   The listener stays in epoll (no epoll_ctl per connection).
//!   A connection just accepted is read in the same turn: its first request is usually
//!   there already (the client sent it while waiting in the backlog). One accepted
//!   because a reply's close freed its place is read before the other timers then due:
//!   its request has waited longer than any of them.
//! - After a reply the connection is read at once: a client that sent its FIN with the
//!   request (loadgen's `--half-close`) is closed, and its place freed, in the same step.
//! - `--threads N` runs N independent loops, each with its own SO_REUSEPORT listener
//!   (`common::per_thread`).
//! - `--idle-timeout`: one check per connection in a second timer heap
//!   (`common::idle::IdleChecks`, shared with echo-uring); input only stamps the
//!   connection with the loop's clock, and a due check that finds a newer stamp re-arms
//!   itself, so busy connections cost no heap work per message.

mod conn;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::alarm::Alarm;
use common::idle::IdleChecks;
use common::{Config, EchoSettings};
use conn::{Conn, Next};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);
const ALARM: Token = Token(usize::MAX - 1);

/// How often a loop at the `--max-conns` cap looks again when the cap is shared with other
/// loops (`--threads`), whose closes raise no event here. A loop's own close accepts at
/// once.
const CAP_RECHECK: Duration = Duration::from_millis(5);

common::count_allocations!();

fn main() -> ExitCode {
    common::run("epoll", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let (echo, max_conns) = (config.echo, config.max_conns);
    let cap_shared = config.threads > 1;
    common::per_thread::serve(&config, "loop", move |listener| {
        let event_loop = EventLoop::new(listener, echo, max_conns, cap_shared)?;
        Ok(move || event_loop.run())
    })
}

struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    /// accept() ran out of a resource: none until `accept_retry`.
    accept_paused: bool,
    /// When to call accept() without a listener event: the end of a pause, or the next
    /// look at a cap shared with other loops.
    accept_retry: Option<Instant>,
    /// Other loops share the `--max-conns` cap.
    cap_shared: bool,
    max_conns: Option<usize>,
    conns: Slab<Conn>,
    next_id: u64,
    echo: EchoSettings,
    /// The loop's one read buffer (raw mode).
    buf: Vec<u8>,
    /// Connections to serve next turn without waiting for an event.
    again: Vec<usize>,
    /// Connections accepted this turn, read before it ends.
    fresh: Vec<usize>,
    /// Wakes epoll_wait at the next due time.
    alarm: Alarm,
    /// Backend-wait timers: (due, slab key, connection id).
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Idle checks (`--idle-timeout`), one per connection. Data arriving does not touch
    /// them; a check that finds newer input re-arms itself for the new due time.
    idle_checks: IdleChecks,
    /// The loop's clock: read once per epoll_wait wake-up.
    now: Instant,
}

impl EventLoop {
    fn new(
        listener: std::net::TcpListener,
        echo: EchoSettings,
        max_conns: Option<usize>,
        cap_shared: bool,
    ) -> anyhow::Result<Self> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new().context("epoll_create")?;
        // EPOLLEXCLUSIVE under `--processes P --accept exclusive`.
        common::net::register_listener(poll.registry(), &mut listener, LISTENER)?;
        let alarm = Alarm::new(poll.registry(), ALARM).context("timerfd")?;
        Ok(EventLoop {
            poll,
            listener,
            accept_paused: false,
            accept_retry: None,
            cap_shared,
            max_conns,
            conns: Slab::with_capacity(1024),
            next_id: 0,
            echo,
            buf: vec![0u8; echo.buffer_size],
            again: Vec::new(),
            fresh: Vec::new(),
            alarm,
            timers: BinaryHeap::new(),
            idle_checks: IdleChecks::new(echo.idle_timeout),
            now: Instant::now(),
        })
    }

    fn run(mut self) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            if let Some(due) = self.next_due() {
                self.alarm.arm(due)?;
            }
            let timeout = (!self.again.is_empty()).then_some(Duration::ZERO);
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("epoll_wait"),
            }
            let now = Instant::now();
            self.now = now;
            if self.accept_retry.is_some_and(|t| now >= t) {
                (self.accept_retry, self.accept_paused) = (None, false);
                // The listener's edges while paused or capped were not acted on.
                self.accept_all()?;
            }
            self.run_timers()?;
            let turn = std::mem::take(&mut self.again);
            for event in events.iter() {
                match event.token() {
                    ALARM => {} // a wake-up for the timers, which run by the clock
                    LISTENER => self.accept_all()?,
                    Token(key) => {
                        if event.is_read_closed() {
                            if let Some(conn) = self.conns.get_mut(key) {
                                conn.peer_closed = true;
                            }
                        }
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.serve(key, |conn, buf| conn.turn(buf, readable))?;
                    }
                }
            }
            for key in turn {
                // A key may have been closed and reused since; an extra read then just
                // finds nothing (WouldBlock), so no bookkeeping is needed to tell apart.
                self.serve(key, |conn, buf| conn.turn(buf, true))?;
            }
            self.serve_fresh()?;
            self.run_timers()?;
            self.close_idle()?;
        }
    }

    /// Serves the backend-wait timers due by now. Called at the start of a turn and again
    /// at its end, with the clock read each time: the turn's CPU work takes milliseconds,
    /// and a wait that ended meanwhile should not queue behind the next turn's new input.
    fn run_timers(&mut self) -> io::Result<()> {
        if self.timers.is_empty() {
            return Ok(()); // ping-pong: no clock read per turn
        }
        let now = Instant::now();
        while let Some(&Reverse((due, key, id))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            if self.conns.get(key).is_some_and(|c| c.id == id) {
                self.serve(key, |conn, _| conn.timer_due())?;
                // A reply under --max-conns may have closed its connection and accepted
                // the next one from the backlog: that request has waited longer than any
                // timer now due, so it starts before them.
                self.serve_fresh()?;
            }
        }
        Ok(())
    }

    /// Reads the connections accepted since the last call (their first request is
    /// usually there already); accepting may go on while they are served (a close
    /// under the cap).
    fn serve_fresh(&mut self) -> io::Result<()> {
        while !self.fresh.is_empty() {
            for key in std::mem::take(&mut self.fresh) {
                self.serve(key, |conn, buf| conn.turn(buf, true))?;
            }
        }
        Ok(())
    }

    /// Closes the connections whose idle check is due and that have had no input for
    /// `--idle-timeout`; re-arms the others.
    fn close_idle(&mut self) -> io::Result<()> {
        let Some(idle) = self.idle_checks.after() else {
            return Ok(());
        };
        let (now, conns) = (self.now, &mut self.conns);
        let due = self.idle_checks.due(now, |key, id| {
            let conn = conns.get_mut(key).filter(|c| c.id == id)?;
            if !conn.waits_for_input() {
                // Busy writing or in a backend wait: idle time starts when waiting does.
                conn.last_input = now;
            }
            Some(conn.last_input)
        });
        for key in due {
            common::conn::error(&common::conn::idle_timeout(idle));
            self.close(key)?;
        }
        Ok(())
    }

    /// The next due time of a timer, idle check or accept re-check: the alarm's setting.
    fn next_due(&self) -> Option<Instant> {
        [
            self.timers.peek().map(|Reverse((due, _, _))| *due),
            self.idle_checks.next_due(),
            self.accept_retry,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Accepts until the backlog is empty, the cap is reached, or accept() runs out of
    /// a resource (then accepting pauses, so the loop does not spin on the error). The
    /// listener stays in epoll throughout: at the cap, or paused, its edges are only
    /// noted by this returning early, and a close or the retry time calls this again.
    fn accept_all(&mut self) -> io::Result<()> {
        if self.accept_paused {
            return Ok(());
        }
        loop {
            if self
                .max_conns
                .is_some_and(|max| common::conn::open_now() >= max)
            {
                if self.cap_shared && self.accept_retry.is_none() {
                    self.accept_retry = Some(Instant::now() + CAP_RECHECK);
                }
                return Ok(());
            }
            match self.listener.accept() {
                Ok((mut stream, _peer)) => {
                    let entry = self.conns.vacant_entry();
                    // READABLE | WRITABLE once, for the connection's life: edge-triggered
                    // registrations never need re-arming.
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    let token = Token(entry.key());
                    if let Err(e) = self.poll.registry().register(&mut stream, token, interest) {
                        common::conn::error(&e);
                        continue;
                    }
                    self.next_id += 1;
                    let key = entry.key();
                    entry.insert(Conn::new(stream, self.next_id, self.echo, self.now));
                    self.fresh.push(key);
                    self.idle_checks.watch(key, self.next_id, self.now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    let pause = common::net::accept_failed(&e);
                    if !pause.is_zero() {
                        self.accept_paused = true;
                        self.accept_retry = Some(Instant::now() + pause);
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Runs one step of one connection and acts on what it needs next.
    fn serve(
        &mut self,
        key: usize,
        step: impl FnOnce(&mut Conn, &mut [u8]) -> io::Result<Next>,
    ) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let result = step(conn, &mut self.buf);
        if conn.input_seen {
            conn.input_seen = false;
            conn.last_input = self.now;
        }
        match result {
            Ok(Next::Wait) => {}
            Ok(Next::Again) => self.again.push(key),
            Ok(Next::Timer(delay)) => {
                self.timers
                    .push(Reverse((Instant::now() + delay, key, conn.id)))
            }
            Ok(Next::Close) => self.close(key)?,
            Err(e) => {
                common::conn::error(&e);
                self.close(key)?;
            }
        }
        Ok(())
    }

    fn close(&mut self, key: usize) -> io::Result<()> {
        let mut conn = self.conns.remove(key);
        // Closing the socket removes it from epoll too; deregistering first keeps mio's
        // bookkeeping exact. Failure here changes nothing for the client.
        let _ = self.poll.registry().deregister(&mut conn.stream);
        drop(conn);
        if self.max_conns.is_some() {
            // A place is free, and under the cap the backlog is where the next clients
            // wait: take one now (its listener edge came while the loop was full).
            self.accept_all()?;
        }
        Ok(())
    }
}
