//! The interleaved design's load: one event loop (a mio `Poll` on loadgen's CPU) holding a
//! point's connections to every server at once, and driving one server at a time for a
//! slice while the others' connections sit idle.
//!
//! A slice on one server:
//!
//! 1. **warm-up**: its connections ping-pong (or follow the open-loop schedule) for the
//!    warm-up time; nothing is counted;
//! 2. **quiesce**: no new sends; the replies still outstanding arrive (they are not counted);
//! 3. the server is idle: its CPU (every thread, nanoseconds), loadgen's own and the
//!    machine's steal are read, and the measured part begins (`t0`);
//! 4. **measured**: every connection sends at once and carries on for the measured time;
//!    with a rate, requests fall due on a schedule from `t0`, each on the next connection
//!    in turn, and wait for their connection when it is busy (latency counts from the due
//!    time: coordinated omission corrected);
//! 5. **drain**: no new sends (a request due within the measured time still goes); the
//!    replies outstanding arrive; the measured part ends at the last of them (`t1`);
//! 6. CPU, loadgen's CPU and steal are read again, the server idle once more.
//!
//! So every counted sample started and finished inside `[t0, t1]`, and the server's CPU
//! over that span is the CPU of exactly those samples: nothing straddles an edge. A reply
//! that has not come within the drain limit is a read timeout (counted only when its
//! sample was), and its connection is closed, so a late reply can never be taken for a
//! later sample's; a closed connection is opened again at the start of its server's next
//! slice.
//!
//! The loop's cost is kept off the measurement: a turn waits with `epoll_pwait2`
//! ([`crate::wait`]), whose nanosecond timeout wakes it at the next due time (no timerfd
//! to re-arm), serves every request due by then (reading the clock again before it
//! stops), reads each echo with one `recv` (see [`Driver::read`]) and allocates nothing.
//! An open-loop request sent with its connection free records loadgen's own send
//! lateness (actual send - due); one that waited for its busy connection does not.

mod open;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll};

use super::cpu;
use crate::engine::Message;
use crate::engine::user::classify_io;
use crate::stats::{ErrorKind, PerUser, Stats};
use crate::wait::Waiter;

/// Bytes read per `recv` at most.
const READ_BUFFER: usize = 64 << 10;
/// Connects in flight at once while a server's connections open: more would overflow a
/// listen backlog and wait a second for SYN retransmission.
const CONNECTS_IN_FLIGHT: usize = 128;

/// How a slice is cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slicing {
    /// Load before the measured part, not counted.
    pub warmup: Duration,
    /// The measured part's sending time.
    pub measured: Duration,
    /// Longest wait for outstanding replies, at the quiesce and at the drain.
    pub drain_limit: Duration,
}

/// What load a slice offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Every connection keeps one message in flight.
    Closed,
    /// Requests fall due at this many per second over all the server's connections.
    Open { rate: f64 },
}

/// Called at the edges of the measured part, the server idle: `true` before `t0` is read,
/// `false` after `t1` (perf's counters switched on and off there).
pub type Edge<'a> = &'a mut dyn FnMut(bool);

/// What one slice measured.
#[derive(Debug)]
pub struct SliceOutcome {
    /// The counted samples: ok, errors by kind, latency, samples per connection.
    pub stats: Stats,
    /// Wall-clock start of the slice, Unix ms.
    pub started_unix_ms: u64,
    /// The warm-up as it ran (to the quiesce).
    pub warmup_s: f64,
    /// `t1 - t0`: from the measured part's first send to its last reply (at least its
    /// sending time).
    pub measured_s: f64,
    /// From the end of sending to the last reply.
    pub drain_s: f64,
    /// The server's CPU over `[t0, t1]` (its threads, read idle at both edges); None when
    /// its processes could not be read.
    pub server_cpu_ns: Option<u64>,
    /// loadgen's event loop's own CPU over the measured part.
    pub loadgen_cpu_ns: u64,
    /// The machine's (steal, total) clock ticks at `t0` and `t1` (/proc/stat).
    pub steal_ticks: Option<((u64, u64), (u64, u64))>,
    /// Connections of the server that were open when the measured part began.
    pub connected: usize,
    /// Samples given up at the drain limit (their connections closed).
    pub abandoned: u64,
}

/// One connection to one server.
struct Conn {
    /// Its number among its server's connections: the message pattern's offset.
    user: usize,
    stream: Option<TcpStream>,
    connected: bool,
    /// A message is out (or going out) and its echo not yet whole.
    busy: bool,
    written: usize,
    read: usize,
    due: Instant,
    sent: Instant,
    /// The current sample belongs to the measured part.
    counted: bool,
    /// Open loop: due times waiting for this connection.
    queue: VecDeque<Instant>,
    /// Ok samples and longest wait in the measured part (fairness).
    ok: u64,
    max_wait_us: u64,
}

/// Where the active server's slice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warm,
    Quiesce,
    Measure,
    Drain,
}

/// A point's connections to every server, and the loop that drives them.
pub struct Driver {
    poll: Poll,
    /// For opening connections (mio's own poll).
    events: Events,
    /// For the slices' turns: deadlines to the microsecond, one system call a wake-up.
    waiter: Waiter,
    msg: Message,
    conns: Vec<Conn>,
    /// Each server's address and its range in `conns`.
    servers: Vec<(SocketAddr, std::ops::Range<usize>)>,
    buf: Vec<u8>,
    /// One turn's events as (connection, readable, writable), reused across turns.
    ready: Vec<(usize, bool, bool)>,
}

/// An open-loop schedule: request `k` falls due at `from + k / rate`.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    from: Instant,
    /// The next request's number.
    next: u64,
    rate: f64,
}

impl Schedule {
    /// When request `k` falls due.
    fn at(&self, k: u64) -> Instant {
        self.from + Duration::from_secs_f64(k as f64 / self.rate)
    }
}

/// The active slice's state beside the driver.
struct Slice {
    server: usize,
    phase: Phase,
    load: Load,
    stats: Stats,
    /// Open loop: the schedule while it runs.
    schedule: Option<Schedule>,
    /// Sending stops for due times at or after this.
    send_until: Instant,
    busy: usize,
    last_done: Option<Instant>,
}

impl Driver {
    /// A driver for messages of `message_size` bytes (raw, unframed), with no connection.
    /// Create it on the thread that runs its slices (that thread's timer slack is set).
    pub fn new(message_size: usize) -> io::Result<Driver> {
        let poll = Poll::new()?;
        Ok(Driver {
            poll,
            events: Events::with_capacity(1024),
            waiter: Waiter::new(1024, true),
            msg: Message::new(message_size, false),
            conns: Vec::new(),
            servers: Vec::new(),
            buf: vec![0; READ_BUFFER],
            ready: Vec::with_capacity(1024),
        })
    }

    /// Runs one slice on `server` (whose processes are `pids`) and returns what its
    /// measured part measured.
    pub fn slice(
        &mut self,
        server: usize,
        pids: &[u32],
        load: Load,
        cut: &Slicing,
        edge: Edge,
    ) -> SliceOutcome {
        let started_unix_ms = crate::bench::env::now_ms();
        let begin = Instant::now();
        // Connections lost in an earlier slice come back first (inside the warm-up).
        let range = self.servers[server].1.clone();
        if self.conns[range.clone()].iter().any(|c| !c.connected) {
            self.open_all(server, begin + cut.warmup.max(Duration::from_millis(100)));
        }
        let mut sl = Slice {
            server,
            phase: Phase::Warm,
            load,
            stats: Stats::new(matches!(load, Load::Open { .. })),
            schedule: None,
            send_until: begin + cut.warmup,
            busy: 0,
            last_done: None,
        };
        // 1. Warm-up.
        let warm_from = Instant::now();
        sl.send_until = warm_from + cut.warmup;
        self.kick(&mut sl, warm_from);
        let until = sl.send_until;
        self.run_until(&mut sl, until);
        // 2. Quiesce: the warm-up's replies come in, uncounted; its waiting dues are dropped.
        sl.phase = Phase::Quiesce;
        sl.schedule = None;
        self.drop_queues(server);
        let warmup_s = warm_from.elapsed().as_secs_f64();
        self.drain(&mut sl, Instant::now() + cut.drain_limit);
        // 3. The edge: the server idle.
        edge(true);
        let cpu0 = cpu::tasks_ns(pids);
        let steal0 = crate::sys::cpu_steal_ticks();
        let lg0 = cpu::this_thread_ns();
        for c in &mut self.conns[range.clone()] {
            c.ok = 0;
            c.max_wait_us = 0;
        }
        let connected = self.open_count(server);
        // 4. Measured.
        let t0 = Instant::now();
        sl.phase = Phase::Measure;
        sl.send_until = t0 + cut.measured;
        sl.last_done = None;
        self.kick(&mut sl, t0);
        let until = sl.send_until;
        self.run_until(&mut sl, until);
        // 5. Drain.
        sl.phase = Phase::Drain;
        let stop = Instant::now();
        let abandoned = self.drain(&mut sl, stop + cut.drain_limit);
        sl.schedule = None;
        // The measured part ends at its last reply, and never before its sending time ended
        // (an open loop whose last reply came early still offered load until then).
        let t1 = sl.last_done.unwrap_or(stop).max(sl.send_until);
        // 6. The edge again.
        let lg1 = cpu::this_thread_ns();
        let cpu1 = cpu::tasks_ns(pids);
        let steal1 = crate::sys::cpu_steal_ticks();
        edge(false);
        self.drop_queues(server);
        let mut per_user = PerUser::new();
        for c in &self.conns[range] {
            per_user.user(c.ok, c.max_wait_us);
        }
        sl.stats.per_user = Some(per_user);
        SliceOutcome {
            stats: sl.stats,
            started_unix_ms,
            warmup_s,
            measured_s: (t1 - t0).as_secs_f64(),
            drain_s: t1.saturating_duration_since(stop).as_secs_f64(),
            server_cpu_ns: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
            loadgen_cpu_ns: lg1.saturating_sub(lg0),
            steal_ticks: steal0.zip(steal1),
            connected,
            abandoned,
        }
    }

    /// Starts a phase that sends: every idle connection sends at once (closed loop), or
    /// the schedule starts at `from` (open loop).
    fn kick(&mut self, sl: &mut Slice, from: Instant) {
        match sl.load {
            Load::Closed => {
                for idx in self.servers[sl.server].1.clone() {
                    if self.conns[idx].connected && !self.conns[idx].busy {
                        self.send(sl, idx, from, from);
                    }
                }
            }
            Load::Open { rate } => {
                sl.schedule = Some(Schedule {
                    from,
                    next: 0,
                    rate,
                })
            }
        }
    }

    /// Sends the open-loop requests due by `now`, each to the next connection in turn.
    fn due(&mut self, sl: &mut Slice, now: Instant) {
        let Some(mut schedule) = sl.schedule else {
            return;
        };
        let range = self.servers[sl.server].1.clone();
        let n = range.len() as u64;
        let mut now = now;
        loop {
            let at = schedule.at(schedule.next);
            if at >= sl.send_until || n == 0 {
                break;
            }
            if at > now {
                // Sending takes microseconds: a due time that passed meanwhile goes out in
                // this turn, not after another arm and wait.
                now = Instant::now();
                if at > now {
                    break;
                }
            }
            let idx = range.start + (schedule.next % n) as usize;
            schedule.next += 1;
            if !self.conns[idx].connected {
                continue;
            }
            if self.conns[idx].busy {
                // It waits behind its connection's reply: the server's delay, not loadgen's.
                self.conns[idx].queue.push_back(at);
            } else {
                // Sent with its connection free: whatever it is late by is loadgen's own.
                let sent = Instant::now();
                if matches!(sl.phase, Phase::Measure | Phase::Drain) {
                    sl.stats
                        .sent_late(micros(sent.saturating_duration_since(at)));
                }
                self.send(sl, idx, at, sent);
            }
        }
        sl.schedule = Some(schedule);
    }

    /// The next open-loop due time while the schedule runs.
    fn next_due(&self, sl: &Slice) -> Option<Instant> {
        let at = sl.schedule.map(|s| s.at(s.next))?;
        (at < sl.send_until).then_some(at)
    }

    /// Due times still waiting for a connection of `server` are dropped.
    fn drop_queues(&mut self, server: usize) {
        for idx in self.servers[server].1.clone() {
            self.conns[idx].queue.clear();
        }
    }

    /// Runs the loop while sending, until `until`.
    fn run_until(&mut self, sl: &mut Slice, until: Instant) {
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            self.turn(sl, until);
        }
    }

    /// Waits for the outstanding replies until `deadline` (open loop: the requests due
    /// before the end of sending still go out); those still missing then are given up
    /// and their connections closed. Returns how many were given up.
    fn drain(&mut self, sl: &mut Slice, deadline: Instant) -> u64 {
        // Open loop: what fell due before the end of sending goes out first.
        self.due(sl, Instant::now());
        loop {
            let queued = self.servers[sl.server]
                .1
                .clone()
                .any(|i| !self.conns[i].queue.is_empty());
            if sl.busy == 0 && !queued {
                return 0;
            }
            if Instant::now() >= deadline {
                break;
            }
            self.turn(sl, deadline);
        }
        let mut given_up = 0;
        for idx in self.servers[sl.server].1.clone() {
            let c = &mut self.conns[idx];
            c.queue.clear();
            if c.busy {
                given_up += 1;
                if c.counted {
                    sl.stats.tally.errors.read_timeout += 1;
                }
                c.busy = false;
                sl.busy -= 1;
                c.stream = None;
                c.connected = false;
            }
        }
        given_up
    }

    /// One wait and what it brought; open-loop requests that fell due are sent.
    fn turn(&mut self, sl: &mut Slice, wake: Instant) {
        let mut wake = wake;
        if let Some(at) = self.next_due(sl) {
            // The waiter wakes the loop to the microsecond, in the wait's own system call
            // (`crate::wait`); epoll_wait's timeout counts whole milliseconds.
            wake = wake.min(at);
        }
        // The events are copied out (the handlers need `&mut self`) into a buffer kept
        // across turns: no allocation per turn.
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        match self.waiter.wait(&mut self.poll, wake) {
            Ok(events) => ready.extend(events.iter().map(|r| (r.token, r.readable, r.writable))),
            Err(_) => {
                self.ready = ready;
                return;
            }
        }
        for &(idx, readable, writable) in &ready {
            if idx >= self.conns.len() {
                continue;
            }
            if !self.conns[idx].connected {
                if writable || readable {
                    let _ = self.finish_connect(idx);
                }
                continue;
            }
            if writable {
                self.write_more(sl, idx);
            }
            if readable {
                self.read(sl, idx);
            }
        }
        self.ready = ready;
        self.due(sl, Instant::now());
    }

    /// Starts a sample on connection `idx`: due at `due`, sent now.
    fn send(&mut self, sl: &mut Slice, idx: usize, due: Instant, now: Instant) {
        let counted = matches!(sl.phase, Phase::Measure | Phase::Drain);
        let c = &mut self.conns[idx];
        c.busy = true;
        c.written = 0;
        c.read = 0;
        c.due = due;
        c.sent = now;
        c.counted = counted;
        sl.busy += 1;
        self.write_more(sl, idx);
    }

    /// Writes what is left of the message; a would-block waits for the next writable event.
    fn write_more(&mut self, sl: &mut Slice, idx: usize) {
        let len = self.msg.len();
        loop {
            let c = &mut self.conns[idx];
            if !c.busy || c.written >= len {
                return;
            }
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            match self.msg.write_from(stream, c.user, c.written) {
                Ok(0) => return self.fail(sl, idx, ErrorKind::Reset),
                Ok(n) => {
                    c.written += n;
                    if c.counted {
                        sl.stats.bytes_sent += n as u64;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(sl, idx, classify_io(&e)),
            }
        }
    }

    /// Reads what arrived, checking every byte against the message.
    ///
    /// mio registers sockets edge-triggered (EPOLLET), and on Linux every arrival of data
    /// wakes the socket's wait queue and so raises a new edge, whether or not earlier bytes
    /// were read. Reading on until `WouldBlock` is then not needed to be woken again: a
    /// read shorter than the buffer found the receive queue empty (tcp_recvmsg takes all
    /// there is), and after a whole echo nothing more is owed (the server sends only what
    /// it got; stray bytes would come with the next echo's edge and fail its check). So the
    /// loop stops there, one `recv` per echo instead of two.
    fn read(&mut self, sl: &mut Slice, idx: usize) {
        let len = self.msg.len();
        loop {
            let c = &mut self.conns[idx];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            match stream.read(&mut self.buf) {
                Ok(0) => {
                    let kind = ErrorKind::EarlyClose;
                    if c.busy {
                        return self.fail(sl, idx, kind);
                    }
                    c.stream = None;
                    c.connected = false;
                    return;
                }
                Ok(n) => {
                    if !c.busy
                        || c.read + n > len
                        || !self.msg.matches(c.user, c.read, &self.buf[..n])
                    {
                        // Bytes nobody asked for, or not the ones sent.
                        if c.busy {
                            return self.fail(sl, idx, ErrorKind::Mismatch);
                        }
                        c.stream = None;
                        c.connected = false;
                        return;
                    }
                    c.read += n;
                    if c.counted {
                        sl.stats.bytes_received += n as u64;
                    }
                    let short = n < self.buf.len();
                    if c.read == len {
                        self.complete(sl, idx);
                        return;
                    }
                    if short {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if c.busy {
                        return self.fail(sl, idx, classify_io(&e));
                    }
                    c.stream = None;
                    c.connected = false;
                    return;
                }
            }
        }
    }

    /// A whole echo arrived: record it, then send the next (closed loop, or a waiting due
    /// time) while the phase sends.
    fn complete(&mut self, sl: &mut Slice, idx: usize) {
        let now = Instant::now();
        let c = &mut self.conns[idx];
        c.busy = false;
        sl.busy -= 1;
        if c.counted {
            let us = micros(now - c.due);
            sl.stats.ok(us, micros(now - c.sent));
            c.ok += 1;
            c.max_wait_us = c.max_wait_us.max(us);
            sl.last_done = Some(now);
        }
        let sending = matches!(sl.phase, Phase::Warm | Phase::Measure) && now < sl.send_until;
        match sl.load {
            Load::Closed if sending => self.send(sl, idx, now, now),
            Load::Open { .. } if sl.phase != Phase::Quiesce => {
                if let Some(due) = self.conns[idx].queue.pop_front() {
                    self.send(sl, idx, due, now);
                }
            }
            _ => {}
        }
    }

    /// The sample on `idx` failed: counted (when it belongs to the measured part) and its
    /// connection closed.
    fn fail(&mut self, sl: &mut Slice, idx: usize, kind: ErrorKind) {
        let c = &mut self.conns[idx];
        if c.busy {
            c.busy = false;
            sl.busy -= 1;
            if c.counted {
                *sl.stats.tally.errors.get_mut(kind) += 1;
                sl.last_done = Some(Instant::now());
            }
        }
        c.queue.clear();
        c.stream = None;
        c.connected = false;
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}
