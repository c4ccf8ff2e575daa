//! One virtual user: a small state machine over one non-blocking connection.
//!
//! connect -> send the message -> read the echo, checking every byte -> record -> next
//! sample. On any error the sample is counted by kind, the connection is closed and the next
//! sample reconnects (JMeter's "continue").
//!
//! mio registers sockets edge-triggered, once, for READABLE | WRITABLE. The user keeps two
//! flags, `readable` and `writable`, that say whether the last readiness edge may still have
//! bytes or room behind it. A read shorter than asked proves the socket was drained, so the
//! user waits for the next edge instead of paying for a read that would return `WouldBlock`;
//! after writing a request it does not read speculatively either, it waits for the echo's
//! edge. That makes one `send` and one `recv` per message plus a share of `epoll_wait`.
//!
//! Open loop: a request whose due timer fired (its connection free) records loadgen's own
//! send lateness, the clock at the send minus the due time. A request that fell due while
//! its connection still waited for a reply goes out when the reply comes; that delay is
//! the server's and is left out of the lateness (it is in the corrected latency).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::message::{Message, PERIOD};
use crate::stats::{ErrorKind, Recorder};

/// What a worker lends its users while driving them.
pub struct Ctx {
    /// The worker's epoll instance.
    pub registry: Registry,
    /// One read buffer for all users of the worker.
    pub buf: Vec<u8>,
    /// The shared message pattern.
    pub msg: Arc<Message>,
    /// Counts and histograms.
    pub rec: Recorder,
    /// Start times and rate due times: (when, user index).
    pub timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Server address.
    pub target: SocketAddr,
    /// Source addresses, round-robin by user.
    pub sources: Arc<[IpAddr]>,
    /// Per-sample limit.
    pub timeout: Duration,
    /// New connection per sample when false.
    pub reuse: bool,
    /// Shut down the sending side once the message is sent (`--half-close`, only with a
    /// connection per sample).
    pub half_close: bool,
    /// Samples per user, when the run is counted in loops.
    pub loops: Option<u64>,
    /// No new samples from this instant on (duration runs; warm-up included).
    pub end: Option<Instant>,
    /// End of the warm-up: samples that end before it (open loop: are due before it) are
    /// not counted, nor are the bytes moved before it.
    pub count_from: Instant,
    /// With `--rate`: the open-loop schedule.
    pub schedule: Option<Schedule>,
    /// Users that began their first sample.
    pub started: u64,
    /// Users that are done.
    pub finished: u64,
    /// When the loop last woke from `epoll_wait`: the clock is read once per wake-up, not
    /// per message. A sample ends when the loop learns of its echo and the next one starts
    /// then; the events of one wake-up share the timestamp.
    pub now: Instant,
}

/// The open-loop schedule: request `k = g + j x users` is due at `t0 + k / rate` (the same
/// formula as [`crate::plan::Plan::due_offset`]).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Start of the run.
    pub t0: Instant,
    /// Users in the whole plan.
    pub users: u64,
    /// Requests per second, all users together.
    pub rate: f64,
}

impl Schedule {
    /// When request `j` of user `g` is due.
    pub fn due(&self, g: u64, j: u64) -> Instant {
        self.t0 + Duration::from_secs_f64((g as f64 + j as f64 * self.users as f64) / self.rate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a timer (ramp-up start, rate schedule).
    Idle,
    /// A sample is to begin now.
    Ready,
    /// Non-blocking connect in progress.
    Connecting,
    /// Sending the message and reading the echo.
    Exchanging,
    /// No more samples.
    Finished,
}

/// What the last step asks for.
enum Flow {
    Wait,
    Continue,
    Complete,
    Fail(ErrorKind),
}

/// One virtual user.
#[derive(Debug)]
pub struct User {
    /// Index in the whole plan (payload offset, source address, schedule).
    pub global: u64,
    /// Where its payload starts in the shared pattern.
    offset: usize,
    stream: Option<TcpStream>,
    phase: Phase,
    sent: usize,
    received: usize,
    /// The sending side is shut down (`--half-close`).
    shut: bool,
    readable: bool,
    writable: bool,
    due: Instant,
    sent_at: Instant,
    /// Open loop: the sample about to begin fell due with the connection free (its due
    /// timer fired), so any delay in sending it is loadgen's own.
    on_schedule: bool,
    deadline: Instant,
    done: u64,
    started: bool,
    /// Ok samples counted (after the warm-up).
    counted_ok: u64,
    /// Longest counted wait for an echo, ok or failed, microseconds.
    max_wait_us: u64,
}

impl User {
    /// A user waiting for its start timer.
    pub fn new(global: u64, now: Instant) -> User {
        User {
            global,
            offset: (global % PERIOD as u64) as usize,
            stream: None,
            phase: Phase::Idle,
            sent: 0,
            received: 0,
            shut: false,
            readable: false,
            writable: false,
            due: now,
            sent_at: now,
            on_schedule: false,
            deadline: now,
            done: 0,
            started: false,
            counted_ok: 0,
            max_wait_us: 0,
        }
    }

    /// (ok samples, longest wait for an echo in microseconds) over the measured window.
    pub fn service(&self) -> (u64, u64) {
        (self.counted_ok, self.max_wait_us)
    }

    /// Its start or due timer fired.
    pub fn on_timer(&mut self, ctx: &mut Ctx, idx: usize, at: Instant, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        // Closed loop: a sample starts when it starts. Open loop: it was due at `at`.
        self.due = if ctx.schedule.is_some() { at } else { now };
        self.on_schedule = ctx.schedule.is_some();
        self.phase = Phase::Ready;
        self.drive(ctx, idx);
    }

    /// A readiness event for its socket.
    pub fn on_event(&mut self, ctx: &mut Ctx, idx: usize, readable: bool, writable: bool) {
        self.readable |= readable;
        self.writable |= writable;
        if matches!(self.phase, Phase::Connecting | Phase::Exchanging) {
            self.drive(ctx, idx);
        }
    }

    /// Fails the sample in flight if its deadline passed.
    pub fn check_timeout(&mut self, ctx: &mut Ctx, idx: usize, now: Instant) {
        let kind = match self.phase {
            Phase::Connecting => ErrorKind::ConnectTimeout,
            Phase::Exchanging => ErrorKind::ReadTimeout,
            _ => return,
        };
        if now >= self.deadline {
            self.fail(ctx, idx, kind, now);
            self.drive(ctx, idx);
        }
    }

    /// The run reached its end: a user waiting for a timer stops now; one with a sample in
    /// flight stops after it.
    pub fn on_end(&mut self, ctx: &mut Ctx) {
        if self.phase == Phase::Idle {
            self.finish(ctx);
        }
    }

    /// Runs the state machine until it has to wait for an event or a timer.
    fn drive(&mut self, ctx: &mut Ctx, idx: usize) {
        loop {
            let flow = match self.phase {
                Phase::Ready => self.begin(ctx, idx),
                Phase::Connecting => self.connecting(),
                Phase::Exchanging => self.exchange(ctx),
                Phase::Idle | Phase::Finished => return,
            };
            match flow {
                Flow::Wait => return,
                Flow::Continue => {}
                Flow::Complete => {
                    let now = ctx.now;
                    let us = micros(now.saturating_duration_since(self.due));
                    let raw_us = micros(now.saturating_duration_since(self.sent_at));
                    if self.counted(ctx, now) {
                        ctx.rec.ok(us, raw_us);
                        self.counted_ok += 1;
                        self.max_wait_us = self.max_wait_us.max(raw_us);
                    }
                    if !ctx.reuse {
                        self.close();
                    }
                    self.next(ctx, idx, now);
                }
                Flow::Fail(kind) => self.fail(ctx, idx, kind, ctx.now),
            }
        }
    }

    /// Whether a sample ending `now` is counted: not in the warm-up. Closed loop: it
    /// ended after the warm-up. Open loop: it was due after it (so that the planned count,
    /// the requests due after the warm-up, is exact).
    fn counted(&self, ctx: &Ctx, now: Instant) -> bool {
        match ctx.schedule {
            Some(_) => self.due >= ctx.count_from,
            None => now >= ctx.count_from,
        }
    }

    fn fail(&mut self, ctx: &mut Ctx, idx: usize, kind: ErrorKind, now: Instant) {
        if self.counted(ctx, now) {
            ctx.rec.error(kind);
            let waited = micros(now.saturating_duration_since(self.sent_at));
            self.max_wait_us = self.max_wait_us.max(waited);
        }
        self.close();
        self.next(ctx, idx, now);
    }

    /// After a sample: stop, start the next one now, or wait for its due time.
    fn next(&mut self, ctx: &mut Ctx, idx: usize, now: Instant) {
        self.done += 1;
        if ctx.loops.is_some_and(|l| self.done >= l) || ctx.end.is_some_and(|e| now >= e) {
            self.finish(ctx);
            return;
        }
        match &ctx.schedule {
            None => {
                self.due = now;
                self.phase = Phase::Ready;
            }
            Some(schedule) => {
                let at = schedule.due(self.global, self.done);
                if at <= now {
                    // Late: send at once; its latency still counts from `at`.
                    self.due = at;
                    self.phase = Phase::Ready;
                } else if ctx.end.is_some_and(|e| at >= e) {
                    self.finish(ctx);
                } else {
                    self.phase = Phase::Idle;
                    ctx.timers.push(Reverse((at, idx)));
                }
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx) {
        self.count_unsent(ctx);
        self.close();
        self.phase = Phase::Finished;
        ctx.finished += 1;
    }

    /// Open loop, timed run: counts this user's requests from the next one on that fell
    /// due in the counted window (from the warm-up's end to the run's) and so were never
    /// sent: its connection was still waiting for an earlier echo when the run ended (a
    /// starved connection of a pool, say). A closed loop owes nothing.
    fn count_unsent(&self, ctx: &mut Ctx) {
        let (Some(schedule), Some(end)) = (ctx.schedule, ctx.end) else {
            return;
        };
        let mut unsent = 0;
        let mut j = self.done;
        loop {
            let at = schedule.due(self.global, j);
            if at >= end {
                break;
            }
            if at >= ctx.count_from {
                unsent += 1;
            }
            j += 1;
        }
        ctx.rec.unsent(unsent);
    }

    fn close(&mut self) {
        // Closing the descriptor also removes it from epoll (no other descriptor refers to
        // it), so no deregister call is spent on it.
        self.stream = None;
        self.readable = false;
        self.writable = false;
    }

    /// Starts a sample: connects if needed, else sends at once.
    fn begin(&mut self, ctx: &mut Ctx, idx: usize) -> Flow {
        if !self.started {
            self.started = true;
            ctx.started += 1;
        }
        // Open loop: the send happens now, perhaps after its due time, and the clock is read
        // for it (a vDSO call, no syscall): the wake-up's `now` is older by the events
        // handled before it. Closed loop: due is now.
        self.sent_at = match ctx.schedule {
            Some(_) => Instant::now().max(self.due),
            None => ctx.now.max(self.due),
        };
        if std::mem::take(&mut self.on_schedule) && self.due >= ctx.count_from {
            ctx.rec
                .sent_late(micros(self.sent_at.saturating_duration_since(self.due)));
        }
        self.deadline = self.sent_at + ctx.timeout;
        self.sent = 0;
        self.received = 0;
        self.shut = false;
        if self.stream.is_some() {
            self.phase = Phase::Exchanging;
            return Flow::Continue;
        }
        match connect(ctx, self.global, idx) {
            Ok(stream) => {
                self.stream = Some(stream);
                self.phase = Phase::Connecting;
                Flow::Wait
            }
            Err(e) => Flow::Fail(classify_connect(&e)),
        }
    }

    /// The connect finished (or failed) when the socket reports an error or becomes
    /// writable; on Linux a socket still connecting is never writable.
    fn connecting(&mut self) -> Flow {
        if !(self.readable || self.writable) {
            return Flow::Wait;
        }
        let Some(stream) = self.stream.as_ref() else {
            return Flow::Fail(ErrorKind::Other);
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return Flow::Fail(classify_connect(&e)),
            Ok(None) => {}
        }
        if !self.writable {
            self.readable = false;
            return Flow::Wait;
        }
        self.phase = Phase::Exchanging;
        Flow::Continue
    }

    /// Sends what is left of the message and reads what the socket holds of the echo.
    fn exchange(&mut self, ctx: &mut Ctx) -> Flow {
        let total = ctx.msg.len();
        let offset = self.offset;
        let Some(stream) = self.stream.as_mut() else {
            return Flow::Fail(ErrorKind::Other);
        };
        loop {
            let mut progressed = false;
            if self.sent < total && self.writable {
                match ctx.msg.write_from(stream, offset, self.sent) {
                    Ok(0) => return Flow::Fail(ErrorKind::Reset),
                    Ok(n) => {
                        self.sent += n;
                        if ctx.now >= ctx.count_from {
                            ctx.rec.total.bytes_sent += n as u64;
                        }
                        progressed = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => progressed = true,
                    Err(e) => return Flow::Fail(classify_io(&e)),
                }
            }
            if ctx.half_close && self.sent == total && !self.shut {
                // The whole request is out and no other follows on this connection: the
                // FIN goes after it, so the server learns that with the request itself.
                if let Err(e) = stream.shutdown(std::net::Shutdown::Write) {
                    return Flow::Fail(classify_io(&e));
                }
                self.shut = true;
            }
            if self.received < self.sent && self.readable {
                let want = ctx.buf.len().min(total - self.received);
                match stream.read(&mut ctx.buf[..want]) {
                    Ok(0) => return Flow::Fail(ErrorKind::EarlyClose),
                    Ok(n) => {
                        if !ctx.msg.matches(offset, self.received, &ctx.buf[..n]) {
                            return Flow::Fail(ErrorKind::Mismatch);
                        }
                        self.received += n;
                        if ctx.now >= ctx.count_from {
                            ctx.rec.total.bytes_received += n as u64;
                        }
                        progressed = true;
                        // Short read: drained, wait for the next edge. A complete echo also
                        // leaves nothing behind (the server sends only what it got).
                        if n < want || self.received == total {
                            self.readable = false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => progressed = true,
                    Err(e) => return Flow::Fail(classify_io(&e)),
                }
            }
            if self.received == total {
                return Flow::Complete;
            }
            if !progressed {
                return Flow::Wait;
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Starts a non-blocking connect and registers the socket, once, for both directions.
fn connect(ctx: &Ctx, global: u64, idx: usize) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(ctx.target),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    // Small messages go out at once; no Nagle delay on a partial tail of a large one.
    socket.set_tcp_nodelay(true)?;
    if !ctx.sources.is_empty() {
        let src = ctx.sources[(global % ctx.sources.len() as u64) as usize];
        if src.is_ipv4() {
            // Pick the port at connect time, by the full 4-tuple, not at bind time: each
            // source address then reaches the whole port range towards one server.
            bind_no_port(&socket)?;
        }
        socket.bind(&SocketAddr::new(src, 0).into())?;
    }
    match socket.connect(&ctx.target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let mut stream = TcpStream::from_std(socket.into());
    ctx.registry.register(
        &mut stream,
        Token(idx),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(stream)
}

fn bind_no_port(socket: &Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own with a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn classify_connect(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
        _ => classify_io(e),
    }
}

pub(crate) fn classify_io(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::TimedOut => ErrorKind::ReadTimeout,
        io::ErrorKind::UnexpectedEof => ErrorKind::EarlyClose,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(classify_connect(&refused), ErrorKind::Refused);
        let reset = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(classify_io(&reset), ErrorKind::Reset);
        let pipe = io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(classify_io(&pipe), ErrorKind::Reset);
        let ports = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(classify_connect(&ports), ErrorKind::Other);
    }
}
