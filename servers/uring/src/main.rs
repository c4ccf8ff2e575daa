//! echo-uring: a hand-written io_uring completion loop - the completion-based analogue of
//! echo-epoll's readiness loop. One thread, one ring, every connection a small state
//! machine driven by completions instead of readiness.
//!
//! Run: `make run-server MODEL=uring` (or `echo-uring --addr 127.0.0.1:7000`), then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! The loop: one multishot accept on the listener; one multishot recv per connection
//! into the ring's provided buffers (`pool.rs`); sends as SQEs; and one
//! `io_uring_enter` per turn, which submits everything the last turn queued and waits
//! for the next completions. A busy turn handles hundreds of completions for that one
//! system call.
//!
//! This file is the model: the turn, accepting, and a connection's life from accept to
//! free. Beside it: the ring's setup and submissions (`ring.rs`), raw mode's path
//! (`raw.rs`) and framed mode's (`framed.rs`), which turn a connection's completions
//! into its next submissions, and the state they share (`conn.rs`, `pool.rs`). Arrows
//! point one way: main.rs -> raw.rs, framed.rs -> ring.rs, conn.rs, pool.rs.
//!
//! Buffer ownership (what keeps the kernel and the loop from touching the same bytes):
//! - Raw mode: a pool buffer belongs to the kernel while it sits in the buffer ring. A
//!   recv completion hands it to one connection, which sends from it in place (no copy)
//!   and gives it back to the ring when the send of its last byte completes. Buffers
//!   queue per connection in arrival order, and a connection has at most one send in
//!   flight, so bytes never reorder.
//! - Framed mode: the payload is read straight into the connection's `FrameBuf` with
//!   single-shot recvs (header, then payload), and the reply is sent from it. When the
//!   header's recv completes, the payload bytes already on the socket are read at once
//!   with a non-blocking recv(2), in the same turn (a recv SQE would wait for the next
//!   turn's enter); only what has not arrived yet is left to a recv SQE. The buffer
//!   is boxed with the connection's other kernel-visible state (the timeout's timespec),
//!   so the slab may move connections while operations are in flight.
//! - A connection's slot, and whatever its operations point into, is freed only after
//!   the last of them has completed: closing shuts the socket down and cancels them,
//!   then waits for their completions.
//!
//! Backpressure: while a connection's unsent bytes exceed `--buffer-size` its multishot
//! recv is cancelled, and re-armed once sends bring them back under. The pool bounds the
//! whole loop's read memory: a recv that finds it empty ends (ENOBUFS) and is re-armed
//! when buffers come back.
//!
//! The rest of the contract:
//! - The workload's backend wait is an io_uring timeout per part; the CPU work runs on the
//!   loop, blocking it, as in echo-epoll.
//! - `--max-conns N`: single-shot accepts, submitted only while fewer than N are open;
//!   a close submits the next one.
//! - `--idle-timeout`: one check per connection in a timer heap
//!   (`common::idle::IdleChecks`, as echo-epoll); the turn's wait carries the next due
//!   time as its timeout, so no timer SQE is needed.
//! - accept() out of descriptors (EMFILE): logged at most once a second, accepting
//!   resumes after `common::net::ACCEPT_PAUSE`, carried by the wait's timeout.
//! - `--threads N`: N loops, each with its own ring and SO_REUSEPORT listener
//!   (`common::per_thread`).
//! - Ring setup asks for SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN (completions are
//!   processed only inside the loop's own enter); a kernel that refuses is logged in
//!   one line and the ring is made with what it takes.
//! - RLIMIT_MEMLOCK: the kernel charges ring memory to it. A ring of 4096 SQEs and 16384
//!   CQEs is about 0.53 MiB, plus the pool's ring of entries (4 KiB; 64 KiB counted, for
//!   the largest pool), so the default 8 MiB holds 13 loops; with more, the rings shrink
//!   to fit and one line says so at start (a ring that still cannot be made is an error
//!   before the readiness line). The pool's buffers are plain memory, not locked. The
//!   kernel counts locked memory per user, so server processes of one user (`--reuse-port`
//!   runs) share the limit, and a ring's memory is uncharged a moment after its process
//!   exits, not at once. Nothing locked grows with connections: at 19,900 a turn may
//!   queue more SQEs than the ring holds, and the loop then submits early (an extra
//!   enter); completions that overflow the CQ ring wait in the kernel
//!   (IORING_FEAT_NODROP), so nothing is lost.

mod conn;
mod framed;
mod pool;
mod raw;
mod ring;

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::idle::IdleChecks;
use common::{Config, EchoSettings, Mode};
use conn::{Conn, Outcome, State};
use io_uring::{cqueue, opcode, types};
use raw::RawPath;
use ring::{ACCEPT, RECV, Ring, SEND, TIMER, user_data};
use slab::Slab;

/// How often a loop at the `--max-conns` cap looks again when the cap is shared with other
/// loops (`--threads`), whose closes it does not see. Its own closes accept at once.
const CAP_RECHECK: Duration = Duration::from_millis(5);

common::count_allocations!();

fn main() -> ExitCode {
    common::run("uring", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let (echo, max_conns) = (config.echo, config.max_conns);
    let cap_shared = config.threads > 1;
    let (sq, cq) = ring::sizes(config.threads);
    // The ring is made on the thread that submits to it (SINGLE_ISSUER).
    common::per_thread::serve(&config, "ring", move |listener| {
        let event_loop = EventLoop::new(listener, echo, max_conns, cap_shared, (sq, cq))?;
        Ok(move || event_loop.run())
    })
}

struct EventLoop {
    // Dropped before the pool (in `raw`): the kernel reads the pool's entries until the
    // ring goes.
    ring: Ring,
    /// Raw mode's provided buffers (framed mode reads into each connection's FrameBuf).
    raw: Option<RawPath>,
    listener: TcpListener,
    conns: Slab<Conn>,
    next_id: u64,
    echo: EchoSettings,
    max_conns: Option<usize>,
    cap_shared: bool,
    /// An accept (multishot, or single-shot under --max-conns) is in flight.
    accept_armed: bool,
    /// No accept until then: a pause after running out of descriptors, or the next look
    /// at a cap shared with other loops.
    accept_retry: Option<Instant>,
    /// Idle checks (`--idle-timeout`), as in echo-epoll.
    idle_checks: IdleChecks,
    /// This turn's completions: (user_data, result, flags).
    completions: Vec<(u64, i32, u32)>,
    /// The loop's clock, read once per wake-up.
    now: Instant,
}

impl EventLoop {
    fn new(
        listener: TcpListener,
        echo: EchoSettings,
        max_conns: Option<usize>,
        cap_shared: bool,
        (sq, cq): (u32, u32),
    ) -> anyhow::Result<EventLoop> {
        let ring = Ring::new(sq, cq)?;
        let raw = match echo.mode {
            Mode::Raw => Some(RawPath::new(&ring, echo.buffer_size)?),
            Mode::Framed { .. } => None,
        };
        Ok(EventLoop {
            ring,
            raw,
            listener,
            conns: Slab::with_capacity(1024),
            next_id: 0,
            echo,
            max_conns,
            cap_shared,
            accept_armed: false,
            accept_retry: None,
            idle_checks: IdleChecks::new(echo.idle_timeout),
            completions: Vec::with_capacity(1024),
            now: Instant::now(),
        })
    }

    fn run(mut self) -> anyhow::Result<()> {
        self.arm_accept()?;
        loop {
            if let Some(raw) = &mut self.raw {
                raw.commit();
            }
            // The turn's one system call: it waits for a completion, or for the next idle
            // check or accept retry.
            let due = [self.idle_checks.next_due(), self.accept_retry]
                .into_iter()
                .flatten()
                .min();
            self.ring.submit_and_wait(due)?;
            self.now = Instant::now();
            let mut completions = std::mem::take(&mut self.completions);
            self.ring.reap(&mut completions);
            for &(data, res, flags) in &completions {
                match ring::op_of(data) {
                    (ACCEPT, _) => self.on_accept(res, flags)?,
                    (RECV, key) => self.on_recv(key, res, flags)?,
                    (SEND, key) => self.on_send(key, res)?,
                    (TIMER, key) => self.on_timer(key)?,
                    _ => {} // a cancel request's own completion
                }
            }
            completions.clear();
            self.completions = completions;
            if self.accept_retry.is_some_and(|t| self.now >= t) {
                self.accept_retry = None;
                self.arm_accept()?;
            }
            if let Some(raw) = &mut self.raw {
                raw.feed_starved(&mut self.ring, &mut self.conns)?;
            }
            self.close_idle()?;
        }
    }

    fn at_cap(&self) -> bool {
        self.max_conns
            .is_some_and(|max| common::conn::open_now() >= max)
    }

    /// Submits an accept unless one is in flight, accepting is paused, or the cap is
    /// reached: a multishot accept without `--max-conns`, a single-shot one under it (so
    /// that connections over the cap wait in the backlog, not in the server).
    fn arm_accept(&mut self) -> io::Result<()> {
        if self.accept_armed || self.accept_retry.is_some() {
            return Ok(());
        }
        if self.at_cap() {
            if self.cap_shared {
                self.accept_retry = Some(self.now + CAP_RECHECK);
            }
            return Ok(());
        }
        let fd = types::Fd(self.listener.as_raw_fd());
        let sqe = if self.max_conns.is_some() {
            opcode::Accept::new(fd, std::ptr::null_mut(), std::ptr::null_mut())
                .flags(libc::SOCK_CLOEXEC)
                .build()
        } else {
            opcode::AcceptMulti::new(fd)
                .flags(libc::SOCK_CLOEXEC)
                .build()
        };
        // SAFETY: no buffers (no peer address asked for).
        unsafe { self.ring.push(sqe.user_data(user_data(ACCEPT, 0)))? };
        self.accept_armed = true;
        Ok(())
    }

    fn on_accept(&mut self, res: i32, flags: u32) -> io::Result<()> {
        if !cqueue::more(flags) {
            self.accept_armed = false;
        }
        if res >= 0 {
            // SAFETY: a successful accept's result is a new descriptor that only we own.
            let fd = unsafe { OwnedFd::from_raw_fd(res) };
            self.next_id += 1;
            let key = self
                .conns
                .insert(Conn::new(fd, self.next_id, self.echo, self.now));
            self.idle_checks.watch(key, self.next_id, self.now);
            self.start_recv(key)?;
        } else {
            let pause = common::net::accept_failed(&io::Error::from_raw_os_error(-res));
            if !pause.is_zero() {
                // Out of descriptors: nothing changes until a connection closes, and
                // retrying at once would spin on the same error.
                self.accept_retry = Some(self.now + pause);
                if self.accept_armed {
                    self.ring.cancel(ACCEPT, 0)?;
                }
            }
        }
        if !self.accept_armed {
            self.arm_accept()?;
        }
        Ok(())
    }

    /// Arms the connection's recv: the multishot one into the pool (raw), or one
    /// single-shot recv into the frame buffer (framed).
    fn start_recv(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        match (&conn.state, &mut self.raw) {
            (State::Raw(_), Some(raw)) => raw.start_recv(&mut self.ring, conn, key),
            (State::Raw(_), None) => Ok(()), // no raw connection without the raw path
            (State::Framed(_), _) => framed::start_recv(&mut self.ring, conn, key),
        }
    }

    fn on_recv(&mut self, key: usize, res: i32, flags: u32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if !cqueue::more(flags) {
            conn.recv_armed = false;
            conn.inflight -= 1;
        }
        let outcome = match (&conn.state, &mut self.raw) {
            (State::Raw(_), Some(raw)) => {
                raw.on_recv(&mut self.ring, conn, key, (res, flags), self.now)?
            }
            (State::Raw(_), None) => Outcome::Open,
            (State::Framed(_), _) if conn.closing => Outcome::Release,
            (State::Framed(_), _) => {
                let now_and_work = (self.now, self.echo.workload);
                framed::on_recv(&mut self.ring, conn, key, res, now_and_work)?
            }
        };
        self.settle(key, outcome)
    }

    fn on_send(&mut self, key: usize, res: i32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        conn.sending = false;
        conn.inflight -= 1;
        if conn.closing {
            return self.free_if_done(key);
        }
        if res <= 0 {
            let e = if res == 0 {
                io::ErrorKind::WriteZero.into()
            } else {
                io::Error::from_raw_os_error(-res)
            };
            return self.close(key, Some(e));
        }
        let sent = res as usize;
        let outcome = match (&conn.state, &mut self.raw) {
            (State::Raw(_), Some(raw)) => raw.on_send(&mut self.ring, conn, key, sent)?,
            (State::Raw(_), None) => Outcome::Open,
            (State::Framed(_), _) => {
                framed::on_send(&mut self.ring, conn, key, sent)?;
                Outcome::Open
            }
        };
        self.settle(key, outcome)
    }

    fn on_timer(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        conn.timer = false;
        conn.inflight -= 1;
        if conn.closing {
            return self.free_if_done(key);
        }
        framed::on_timer(&mut self.ring, conn, key, self.echo.workload)
    }

    /// Acts on what a path's step asked of the loop.
    fn settle(&mut self, key: usize, outcome: Outcome) -> io::Result<()> {
        match outcome {
            Outcome::Open => Ok(()),
            Outcome::Close(err) => self.close(key, err),
            Outcome::Release => self.free_if_done(key),
        }
    }

    /// Ends a connection, logging (rate-limited) the error that ended it, if any. With
    /// nothing in flight it is freed now; otherwise the socket is shut down and its
    /// operations cancelled, and it is freed when the last of them completes.
    fn close(&mut self, key: usize, err: Option<io::Error>) -> io::Result<()> {
        if let Some(e) = &err {
            common::conn::error(e);
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        conn.closing = true;
        if conn.inflight == 0 {
            return self.free_if_done(key);
        }
        // Wakes a pending recv (end of stream) and send (EPIPE) at once; the cancels
        // cover a timeout and anything the shutdown does not reach.
        // SAFETY: shutdown on a descriptor we own; a failure changes nothing here.
        unsafe { libc::shutdown(conn.fd.as_raw_fd(), libc::SHUT_RDWR) };
        let kinds = [
            (conn.recv_armed, RECV),
            (conn.sending, SEND),
            (conn.timer, TIMER),
        ];
        for (_, kind) in kinds.into_iter().filter(|(on, _)| *on) {
            self.ring.cancel(kind, key)?;
        }
        Ok(())
    }

    /// Frees a closing connection's slot once nothing is in flight: its pool buffers go
    /// back to the ring, its socket closes, and under the cap the next one is accepted.
    fn free_if_done(&mut self, key: usize) -> io::Result<()> {
        if self.conns.get(key).is_none_or(|c| c.inflight > 0) {
            return Ok(());
        }
        let conn = self.conns.remove(key);
        if let Some(raw) = &mut self.raw {
            raw.release(key, &conn);
        }
        drop(conn);
        if self.max_conns.is_some() {
            // A place is free: the next client waits in the backlog.
            self.arm_accept()?;
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
            let conn = conns.get_mut(key).filter(|c| c.id == id && !c.closing)?;
            if !conn.waits_for_input() {
                // Owed bytes or in a backend wait: idle time starts when waiting does.
                conn.last_input = now;
            }
            Some(conn.last_input)
        });
        for key in due {
            self.close(key, Some(common::conn::idle_timeout(idle)))?;
        }
        Ok(())
    }
}
