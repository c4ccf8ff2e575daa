//! One connection of the completion loop: its socket, the operations it has in flight,
//! and what it still owes its client. The loop (main.rs) and its raw and framed paths
//! (raw.rs, framed.rs) turn completions into the next submissions; this file holds the
//! state those decisions read, and what a path's step asks of the loop ([`Outcome`]).

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Instant;

use common::frame::FrameBuf;
use common::service::Reply;
use common::{ConnGuard, EchoSettings, Mode};
use io_uring::types::Timespec;

/// What the loop does with a connection after a path has handled one of its completions.
#[must_use]
pub enum Outcome {
    /// Nothing: the path has submitted what comes next.
    Open,
    /// Close it, logging the error that ended it, if any.
    Close(Option<io::Error>),
    /// It is closing and one of its operations has completed: free it once none is left.
    Release,
}

/// One accepted connection.
pub struct Conn {
    pub fd: OwnedFd,
    /// Tells this connection from a later one in the same slab slot (idle checks).
    pub id: u64,
    /// Submissions whose last completion has not come yet. The slot (and every buffer
    /// an operation points into) is freed only when this is 0.
    pub inflight: u32,
    /// A recv is armed: the multishot one (raw) or a single-shot one (framed).
    pub recv_armed: bool,
    /// The multishot recv was asked to stop (backpressure); its last completion is due.
    pub recv_cancelled: bool,
    /// Waiting in the loop's list of connections whose recv found the pool empty.
    pub starved: bool,
    /// A send is in flight (at most one, so bytes never reorder).
    pub sending: bool,
    /// A backend-wait timeout is in flight.
    pub timer: bool,
    /// Being closed: no new submissions, freed once `inflight` is 0.
    pub closing: bool,
    /// When the loop last saw bytes from the client (`--idle-timeout`).
    pub last_input: Instant,
    pub state: State,
    _guard: ConnGuard,
}

/// What a connection's bytes are waiting for.
pub enum State {
    Raw(Raw),
    Framed(Box<Framed>),
}

/// Raw mode: received pool buffers, oldest first, not yet echoed in full.
#[derive(Default)]
pub struct Raw {
    /// (buffer id, offset of the first unsent byte, unsent bytes).
    pub queue: VecDeque<(u16, u32, u32)>,
    /// Sum of the queue's unsent bytes: over `--buffer-size`, receiving stops.
    pub unsent: usize,
    /// The client sent its FIN: close once everything is echoed.
    pub eof: bool,
}

/// Framed mode: one frame at a time, read into and written from the `FrameBuf`.
/// Boxed, so that the buffer and the timespec the kernel reads stay put while the slab
/// moves connections.
pub struct Framed {
    pub frame: FrameBuf,
    pub stage: Stage,
    /// Bytes of the current stage done: header or payload read, or reply sent.
    pub filled: usize,
    /// When the current request's first byte was read (`--stats-file`).
    pub started: Option<Instant>,
    /// The reply being sent, recorded once its last byte is.
    pub reply: Option<Reply>,
    /// When the backend wait began (its parts are timed from here), and the part next due.
    pub wait_began: Instant,
    pub part: u32,
    /// The backend-wait timeout's duration, read by the kernel at submit.
    pub timeout: Timespec,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    Header,
    Payload,
    Waiting,
    Reply,
}

impl Conn {
    pub fn new(fd: OwnedFd, id: u64, echo: EchoSettings, now: Instant) -> Conn {
        let state = match echo.mode {
            Mode::Raw => State::Raw(Raw::default()),
            Mode::Framed { max_frame } => State::Framed(Box::new(Framed {
                frame: FrameBuf::new(max_frame),
                stage: Stage::Header,
                filled: 0,
                started: None,
                reply: None,
                wait_began: now,
                part: 0,
                timeout: Timespec::new(),
            })),
        };
        Conn {
            fd,
            id,
            inflight: 0,
            recv_armed: false,
            recv_cancelled: false,
            starved: false,
            sending: false,
            timer: false,
            closing: false,
            last_input: now,
            state,
            _guard: ConnGuard::open(),
        }
    }

    /// True while the connection waits for its client's bytes (nothing owed, no backend
    /// wait): only then can it be idle.
    pub fn waits_for_input(&self) -> bool {
        match &self.state {
            State::Raw(r) => r.unsent == 0,
            State::Framed(f) => matches!(f.stage, Stage::Header | Stage::Payload),
        }
    }
}
