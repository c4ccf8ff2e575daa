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
//! - `--idle-timeout`: one check per connection in a timer heap (as echo-epoll); the
//!   turn's wait carries the next due time as its timeout, so no timer SQE is needed.
//! - accept() out of descriptors (EMFILE): logged at most once a second, accepting
//!   resumes after `common::net::ACCEPT_PAUSE`, carried by the wait's timeout.
//! - `--threads N`: N loops, each with its own ring and SO_REUSEPORT listener.
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
mod pool;

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::echo::inside_frame;
use common::frame::HEADER_LEN;
use common::idle::IdleChecks;
use common::work::spin;
use common::{Config, EchoSettings, Mode};
use conn::{Conn, Raw, Stage, State};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use pool::Pool;
use slab::Slab;

/// SQ entries asked for per ring, and CQ entries (the kernel rounds both to powers of 2).
const SQ_ENTRIES: u32 = 4096;
const CQ_ENTRIES: u32 = 4 * SQ_ENTRIES;
/// The fewest SQ entries a ring is shrunk to under a small RLIMIT_MEMLOCK.
const MIN_SQ_ENTRIES: u32 = 64;

/// How often a loop at the `--max-conns` cap looks again when the cap is shared with other
/// loops (`--threads`), whose closes it does not see. Its own closes accept at once.
const CAP_RECHECK: Duration = Duration::from_millis(5);

/// What a completion is for: the top byte of its user_data; the rest is a slab key.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const TIMER: u64 = 4;
/// Cancel requests: their completions carry nothing the loop needs.
const CANCEL: u64 = 5;

fn user_data(kind: u64, key: usize) -> u64 {
    kind << 56 | key as u64
}

common::count_allocations!();

fn main() -> ExitCode {
    common::run("uring", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let (echo, max_conns) = (config.echo, config.max_conns);
    let cap_shared = config.threads > 1;
    let (sq, cq) = ring_sizes(config.threads);
    // The ring is made on the thread that submits to it (SINGLE_ISSUER).
    common::per_thread::serve(&config, "ring", move |listener| {
        let event_loop = EventLoop::new(listener, echo, max_conns, cap_shared, sq, cq)?;
        Ok(move || event_loop.run())
    })
}

/// A non-blocking recv(2) into `buf`, outside the ring: what the socket holds now.
fn recv_now(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: recv into a buffer we own, of its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Bytes of locked memory one ring of `sq` SQ and `cq` CQ entries costs (SQEs, the SQ
/// index array, CQEs, the rings' headers, page-rounded) plus its pool's entry ring.
fn ring_bytes(sq: u32, cq: u32) -> u64 {
    let page = 4096u64;
    let round = |b: u64| b.div_ceil(page) * page;
    let sqes = round(sq as u64 * 64);
    let sq_ring = round(sq as u64 * 4 + 64);
    let cq_ring = round(cq as u64 * 16 + 64);
    let pool_ring = round(pool::MAX_BUFFERS as u64 * 16);
    sqes + sq_ring + cq_ring + pool_ring
}

/// Ring sizes that fit `threads` rings under RLIMIT_MEMLOCK; says so in one line when the
/// defaults do not fit (or when even the smallest rings do not, before trying them).
fn ring_sizes(threads: usize) -> (u32, u32) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    let limit = if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        libc::RLIM_INFINITY
    };
    let (mut sq, mut cq) = (SQ_ENTRIES, CQ_ENTRIES);
    let fits =
        |sq, cq| limit == libc::RLIM_INFINITY || ring_bytes(sq, cq) * threads as u64 <= limit;
    while !fits(sq, cq) && sq > MIN_SQ_ENTRIES {
        (sq, cq) = (sq / 2, cq / 2);
    }
    if (sq, cq) != (SQ_ENTRIES, CQ_ENTRIES) || !fits(sq, cq) {
        common::log!(
            "RLIMIT_MEMLOCK {} KiB does not hold {threads} rings of {SQ_ENTRIES} SQ/{CQ_ENTRIES} \
             CQ entries ({} KiB each): using {sq}/{cq}{}",
            limit / 1024,
            ring_bytes(SQ_ENTRIES, CQ_ENTRIES) / 1024,
            if fits(sq, cq) {
                ""
            } else {
                ", which does not fit either (raise ulimit -l)"
            }
        );
    }
    (sq, cq)
}

/// Makes a ring with SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN, falling back to
/// COOP_TASKRUN alone, then to no flags, with one line (per process) saying so.
fn new_ring(sq: u32, cq: u32) -> io::Result<IoUring> {
    static FELL_BACK: AtomicBool = AtomicBool::new(false);
    let mut full = IoUring::builder();
    full.setup_cqsize(cq)
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun();
    let first = match full.build(sq) {
        Ok(ring) => return Ok(ring),
        Err(e) => e,
    };
    let mut coop = IoUring::builder();
    coop.setup_cqsize(cq).setup_coop_taskrun();
    let (ring, used) = match coop.build(sq) {
        Ok(ring) => (ring, "COOP_TASKRUN"),
        Err(_) => (
            IoUring::builder().setup_cqsize(cq).build(sq)?,
            "no setup flags",
        ),
    };
    if !FELL_BACK.swap(true, Ordering::Relaxed) {
        common::log!(
            "the kernel refused SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN ({first}); using {used}"
        );
    }
    Ok(ring)
}

struct EventLoop {
    // Dropped before the pool: the kernel reads the pool's entries until the ring goes.
    ring: IoUring,
    /// Raw mode's provided buffers (framed mode reads into each connection's FrameBuf).
    pool: Option<Pool>,
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
    /// Connections whose recv found the pool empty, re-armed when buffers come back.
    starved: Vec<usize>,
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
        sq: u32,
        cq: u32,
    ) -> anyhow::Result<EventLoop> {
        let ring = new_ring(sq, cq).context("io_uring_setup")?;
        let pool = match echo.mode {
            Mode::Raw => {
                let count = pool::buffer_count(echo.buffer_size);
                Some(
                    Pool::new(&ring.submitter(), count, echo.buffer_size)
                        .context("provided-buffer ring")?,
                )
            }
            Mode::Framed { .. } => None,
        };
        Ok(EventLoop {
            ring,
            pool,
            listener,
            conns: Slab::with_capacity(1024),
            next_id: 0,
            echo,
            max_conns,
            cap_shared,
            accept_armed: false,
            accept_retry: None,
            starved: Vec::new(),
            idle_checks: IdleChecks::new(echo.idle_timeout),
            completions: Vec::with_capacity(1024),
            now: Instant::now(),
        })
    }

    fn run(mut self) -> anyhow::Result<()> {
        self.arm_accept()?;
        loop {
            if let Some(pool) = &mut self.pool {
                pool.commit();
            }
            self.submit_and_wait()?;
            self.now = Instant::now();
            let mut completions = std::mem::take(&mut self.completions);
            completions.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for &(data, res, flags) in &completions {
                let key = (data & ((1 << 56) - 1)) as usize;
                match data >> 56 {
                    ACCEPT => self.on_accept(res, flags)?,
                    RECV => self.on_recv(key, res, flags)?,
                    SEND => self.on_send(key, res)?,
                    TIMER => self.on_timer(key)?,
                    _ => {} // a cancel request's own completion
                }
            }
            completions.clear();
            self.completions = completions;
            if self.accept_retry.is_some_and(|t| self.now >= t) {
                self.accept_retry = None;
                self.arm_accept()?;
            }
            self.feed_starved()?;
            self.close_idle()?;
        }
    }

    /// The turn's one system call: submits what was queued and waits for at least one
    /// completion, or for the next idle check or accept retry.
    fn submit_and_wait(&mut self) -> anyhow::Result<()> {
        let due = [self.idle_checks.next_due(), self.accept_retry]
            .into_iter()
            .flatten()
            .min();
        let result = match due {
            None => self.ring.submit_and_wait(1),
            Some(due) => {
                let ts = types::Timespec::from(due.saturating_duration_since(Instant::now()));
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timed out (a due time), interrupted, or completions to reap first.
                Some(libc::ETIME | libc::EINTR | libc::EBUSY) => Ok(()),
                _ => Err(e).context("io_uring_enter"),
            },
        }
    }

    /// Queues one SQE; when the SQ ring is full, submits what it holds first.
    ///
    /// # Safety
    /// Every buffer and timespec `sqe` points to must stay valid until its completion
    /// (the rules in the crate header: pool buffers held by the connection, its boxed
    /// FrameBuf and timespec, freed only when no operation is in flight).
    unsafe fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps what `sqe` points to alive (see above).
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
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
        unsafe { self.push(sqe.user_data(user_data(ACCEPT, 0)))? };
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
                    // SAFETY: a cancel points to nothing.
                    let cancel = opcode::AsyncCancel::new(user_data(ACCEPT, 0)).build();
                    unsafe { self.push(cancel.user_data(user_data(CANCEL, 0)))? };
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
        if conn.recv_armed || conn.closing {
            return Ok(());
        }
        let fd = types::Fd(conn.fd.as_raw_fd());
        let sqe = match &mut conn.state {
            State::Raw(raw) => {
                if raw.eof || raw.unsent > self.echo.buffer_size {
                    return Ok(());
                }
                if !self.pool.as_ref().is_some_and(Pool::has_free) {
                    if !conn.starved {
                        conn.starved = true;
                        self.starved.push(key);
                    }
                    return Ok(());
                }
                opcode::RecvMulti::new(fd, pool::GROUP).build()
            }
            State::Framed(f) => {
                let target = match f.stage {
                    Stage::Header => &mut f.frame.header_mut()[f.filled..],
                    Stage::Payload => &mut f.frame.payload_mut()[f.filled..],
                    Stage::Waiting | Stage::Reply => return Ok(()),
                };
                let len = target.len().min(u32::MAX as usize) as u32;
                opcode::Recv::new(fd, target.as_mut_ptr(), len).build()
            }
        };
        conn.recv_armed = true;
        conn.recv_cancelled = false;
        conn.inflight += 1;
        // SAFETY: the pool's buffers outlive the ring; a frame buffer lives in the boxed
        // connection state until the recv completes (freed only at inflight 0).
        unsafe { self.push(sqe.user_data(user_data(RECV, key))) }
    }

    /// Re-arms the recvs that found the pool empty, now that buffers came back.
    fn feed_starved(&mut self) -> io::Result<()> {
        while !self.starved.is_empty() && self.pool.as_ref().is_some_and(Pool::has_free) {
            let key = self.starved.swap_remove(0);
            if let Some(conn) = self.conns.get_mut(key) {
                conn.starved = false;
                self.start_recv(key)?;
            }
        }
        Ok(())
    }

    fn on_recv(&mut self, key: usize, res: i32, flags: u32) -> io::Result<()> {
        let now = self.now;
        let buffer_size = self.echo.buffer_size;
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let last = !cqueue::more(flags);
        if last {
            conn.recv_armed = false;
            conn.inflight -= 1;
        }
        if let (Some(bid), Some(pool)) = (cqueue::buffer_select(flags), self.pool.as_mut()) {
            pool.taken();
            match &mut conn.state {
                State::Raw(raw) if res > 0 && !conn.closing => {
                    raw.queue.push_back((bid, 0, res as u32));
                    raw.unsent += res as usize;
                    conn.last_input = now;
                }
                _ => pool.give_back(bid),
            }
        }
        if conn.closing {
            return self.free_if_done(key);
        }
        if matches!(conn.state, State::Framed(_)) {
            return self.on_frame_recv(key, res);
        }
        let State::Raw(raw) = &mut conn.state else {
            return Ok(());
        };
        if last {
            match res {
                0 => raw.eof = true,
                r if r > 0 => {}
                r if r == -libc::ENOBUFS || r == -libc::ECANCELED => {}
                r => return self.close(key, Some(io::Error::from_raw_os_error(-r))),
            }
        }
        if !conn.sending && !raw.queue.is_empty() {
            self.send_next(key)?;
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let State::Raw(raw) = &conn.state else {
            return Ok(());
        };
        if raw.eof && raw.queue.is_empty() && !conn.sending {
            return self.close(key, None);
        }
        if conn.recv_armed && !conn.recv_cancelled && raw.unsent > buffer_size {
            // Backpressure: stop receiving until the client has read what it is owed.
            conn.recv_cancelled = true;
            let cancel = opcode::AsyncCancel::new(user_data(RECV, key)).build();
            // SAFETY: a cancel points to nothing.
            unsafe { self.push(cancel.user_data(user_data(CANCEL, key)))? };
        } else if !conn.recv_armed {
            // Ended by the pool running dry, by a cancel, or by the kernel: re-arm (it
            // stays off while over the limit, and waits in `starved` while the pool is
            // empty).
            self.start_recv(key)?;
        }
        Ok(())
    }

    /// Sends the oldest unsent bytes of a raw connection, straight from their buffer.
    fn send_next(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let (State::Raw(raw), Some(pool)) = (&conn.state, &self.pool) else {
            return Ok(());
        };
        let Some(&(bid, off, len)) = raw.queue.front() else {
            return Ok(());
        };
        // SAFETY: offset and length lie within the buffer the recv filled.
        let ptr = unsafe { pool.ptr(bid).add(off as usize) };
        let sqe = opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        conn.sending = true;
        conn.inflight += 1;
        // SAFETY: the buffer is the connection's until this send completes.
        unsafe { self.push(sqe.user_data(user_data(SEND, key))) }
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
        match &mut conn.state {
            State::Raw(raw) => {
                raw.unsent -= sent;
                let Some(front) = raw.queue.front_mut() else {
                    return Ok(()); // nothing was queued: cannot happen, harmless if it did
                };
                front.1 += sent as u32;
                front.2 -= sent as u32;
                if front.2 == 0 {
                    let bid = front.0;
                    raw.queue.pop_front();
                    if let Some(pool) = &mut self.pool {
                        pool.give_back(bid);
                    }
                }
                let (more, eof) = (!raw.queue.is_empty(), raw.eof);
                if more {
                    self.send_next(key)?;
                } else if eof {
                    return self.close(key, None);
                }
                self.start_recv(key)
            }
            State::Framed(f) => {
                f.filled += sent;
                if f.filled < f.frame.frame().len() {
                    return self.send_reply(key);
                }
                if let Some(reply) = f.reply.take() {
                    reply.sent();
                }
                (f.stage, f.filled) = (Stage::Header, 0);
                // Read on at once: the next request, or a FIN sent with this one.
                self.start_recv(key)
            }
        }
    }

    /// A framed connection's recv completed: header or payload bytes, or its end.
    fn on_frame_recv(&mut self, key: usize, res: i32) -> io::Result<()> {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let State::Framed(f) = &mut conn.state else {
            return Ok(());
        };
        if res < 0 {
            return self.close(key, Some(io::Error::from_raw_os_error(-res)));
        }
        if res == 0 {
            if f.stage == Stage::Header && f.filled == 0 {
                return self.close(key, None); // closed between frames: a clean end
            }
            let e = inside_frame(io::ErrorKind::UnexpectedEof.into());
            return self.close(key, Some(e));
        }
        conn.last_input = now;
        if f.stage == Stage::Header && f.filled == 0 {
            f.started = common::service::start();
        }
        f.filled += res as usize;
        if f.stage == Stage::Header {
            if f.filled < HEADER_LEN {
                return self.start_recv(key);
            }
            match f.frame.start_frame() {
                Err(e) => return self.close(key, Some(e.into())),
                Ok(0) => {}
                Ok(_) => {
                    (f.stage, f.filled) = (Stage::Payload, 0);
                    // The payload often came with its header: read what is there now, in
                    // this turn, rather than in a recv submitted for the next one.
                    match recv_now(conn.fd.as_raw_fd(), f.frame.payload_mut()) {
                        Ok(0) => {
                            let e = inside_frame(io::ErrorKind::UnexpectedEof.into());
                            return self.close(key, Some(e));
                        }
                        Ok(n) => f.filled = n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return self.close(key, Some(e)),
                    }
                    if f.filled < f.frame.payload_mut().len() {
                        return self.start_recv(key);
                    }
                }
            }
        } else if f.filled < f.frame.payload_mut().len() {
            return self.start_recv(key);
        }
        // The request is complete: its work runs here, on the loop (that is the model).
        match self.echo.workload {
            Some(w) if !w.wait.is_zero() => {
                spin(w.cpu / 2);
                f.stage = Stage::Waiting;
                (f.wait_began, f.part) = (Instant::now(), 1);
                self.arm_timer(key)
            }
            _ => self.finish_request(key),
        }
    }

    /// Submits the timeout for the next part of the backend wait, timed from the start
    /// of the wait so that a late part shortens the next.
    fn arm_timer(&mut self, key: usize) -> io::Result<()> {
        let (Some(conn), Some(w)) = (self.conns.get_mut(key), self.echo.workload) else {
            return Ok(());
        };
        let State::Framed(f) = &mut conn.state else {
            return Ok(());
        };
        let due = w.part_due(f.wait_began, f.part);
        f.timeout = types::Timespec::from(due.saturating_duration_since(Instant::now()));
        let sqe = opcode::Timeout::new(&f.timeout).build();
        conn.timer = true;
        conn.inflight += 1;
        // SAFETY: the timespec lives in the boxed state until the timeout completes.
        unsafe { self.push(sqe.user_data(user_data(TIMER, key))) }
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
        let (State::Framed(f), Some(w)) = (&mut conn.state, self.echo.workload) else {
            return Ok(());
        };
        if f.part < w.splits {
            f.part += 1;
            return self.arm_timer(key);
        }
        self.finish_request(key)
    }

    /// The last half of the CPU work, then the reply, sent from the frame buffer.
    fn finish_request(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let State::Framed(f) = &mut conn.state else {
            return Ok(());
        };
        if let Some(w) = self.echo.workload {
            spin(w.cpu - w.cpu / 2);
        }
        (f.stage, f.filled) = (Stage::Reply, 0);
        // Marked before the send that may deliver the last byte (see common::service).
        f.reply = Some(common::service::replying(f.started.take()));
        self.send_reply(key)
    }

    fn send_reply(&mut self, key: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let State::Framed(f) = &mut conn.state else {
            return Ok(());
        };
        let rest = &f.frame.frame()[f.filled..];
        let len = rest.len().min(u32::MAX as usize) as u32;
        let sqe = opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), rest.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        conn.sending = true;
        conn.inflight += 1;
        // SAFETY: the frame buffer lives in the boxed state until the send completes.
        unsafe { self.push(sqe.user_data(user_data(SEND, key))) }
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
            let cancel = opcode::AsyncCancel::new(user_data(kind, key)).build();
            // SAFETY: a cancel points to nothing.
            unsafe { self.push(cancel.user_data(user_data(CANCEL, key)))? };
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
        if let (State::Raw(Raw { queue, .. }), Some(pool)) = (&conn.state, &mut self.pool) {
            for &(bid, _, _) in queue {
                pool.give_back(bid);
            }
        }
        if conn.starved {
            self.starved.retain(|&k| k != key);
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
