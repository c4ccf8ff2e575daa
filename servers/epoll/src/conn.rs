//! One connection of the readiness loop: a state machine advanced one turn at a time.
//! Raw mode keeps only unsent bytes; framed mode reads header and payload into the
//! connection's `FrameBuf`, runs the request's work (the wait is a loop timer), and
//! writes the frame back from the same buffer.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use common::echo::inside_frame;
use common::frame::{FrameBuf, HEADER_LEN};
use common::net::write_some;
use common::work::spin;
use common::{ConnGuard, EchoSettings, Mode, Workload};
use mio::net::TcpStream;

/// One connection: the socket and what it still owes its client.
pub struct Conn {
    pub stream: TcpStream,
    /// Distinguishes this connection from a later one in the same slab slot (timers).
    pub id: u64,
    state: State,
    /// The client's FIN has been seen (EPOLLRDHUP): a short read no longer proves there
    /// is nothing left to read, because the end of stream itself raises no new edge.
    pub peer_closed: bool,
    /// A read returned data since the loop last looked (`--idle-timeout`).
    pub input_seen: bool,
    /// When the loop last saw data from the client, or the connection stopped waiting for
    /// it (`--idle-timeout`).
    pub last_input: Instant,
    _guard: ConnGuard,
}

/// Where a connection is in its echo.
enum State {
    /// Raw mode: only the bytes the socket did not take yet.
    Raw { unsent: Vec<u8> },
    /// Framed mode: the frame being read, worked on, or written back.
    Framed(Framing),
}

/// A framed connection's state machine.
struct Framing {
    frame: FrameBuf,
    stage: Stage,
    /// Bytes of the current stage done: header or payload read, or reply written.
    filled: usize,
    workload: Option<Workload>,
    /// When the current request's first byte was read (with --stats-file).
    started: Option<Instant>,
    /// When the current request's backend wait began: its parts are timed from here.
    wait_began: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Payload,
    /// Waiting for the backend: this many timer parts are still to come.
    Waiting(u32),
    Reply,
}

/// What a connection needs next.
pub enum Next {
    /// Nothing until its next readiness event.
    Wait,
    /// Another turn without an event: its last read filled the buffer.
    Again,
    /// A loop timer after this delay (the backend wait), then `timer_due`.
    Timer(Duration),
    /// Close it: the client finished and everything was echoed.
    Close,
}

impl Conn {
    pub fn new(stream: TcpStream, id: u64, echo: EchoSettings, now: Instant) -> Conn {
        let state = match echo.mode {
            Mode::Raw => State::Raw { unsent: Vec::new() },
            Mode::Framed { max_frame } => State::Framed(Framing {
                frame: FrameBuf::new(max_frame),
                stage: Stage::Header,
                filled: 0,
                workload: echo.workload,
                started: None,
                wait_began: Instant::now(),
            }),
        };
        Conn {
            stream,
            id,
            state,
            peer_closed: false,
            input_seen: false,
            last_input: now,
            _guard: ConnGuard::open(),
        }
    }

    /// One turn: `readable` says whether a readiness event (or a full last read) asks
    /// for a read.
    pub fn turn(&mut self, buf: &mut [u8], readable: bool) -> io::Result<Next> {
        match &mut self.state {
            State::Raw { unsent } => raw_turn(
                &mut self.stream,
                unsent,
                buf,
                readable,
                self.peer_closed,
                &mut self.input_seen,
            ),
            State::Framed(f) => framed_turn(
                &mut self.stream,
                f,
                readable,
                self.peer_closed,
                &mut self.input_seen,
            ),
        }
    }

    /// True while the connection waits for its client's bytes (not writing a reply, not
    /// in a backend wait): only then can it be idle.
    pub fn waits_for_input(&self) -> bool {
        match &self.state {
            State::Raw { unsent } => unsent.is_empty(),
            State::Framed(f) => matches!(f.stage, Stage::Header | Stage::Payload),
        }
    }

    /// The backend-wait timer this connection asked for is due.
    pub fn timer_due(&mut self) -> io::Result<Next> {
        let State::Framed(f) = &mut self.state else {
            return Ok(Next::Wait);
        };
        match f.stage {
            Stage::Waiting(left) if left > 1 => {
                f.stage = Stage::Waiting(left - 1);
                // Part `splits - left + 2` is next, timed from the start of the wait so
                // that a late timer shortens it rather than delaying the reply.
                let next = f.workload.map_or(Instant::now(), |w| {
                    w.part_due(f.wait_began, w.splits - left + 2)
                });
                Ok(Next::Timer(next.saturating_duration_since(Instant::now())))
            }
            Stage::Waiting(_) => match reply(&mut self.stream, f)? {
                // Sent: read on at once, as after any reply. What follows a reply is
                // usually nothing yet, but a client that sent its FIN with the request
                // (one request per connection) is closed now, not a turn later.
                Next::Again => framed_turn(
                    &mut self.stream,
                    f,
                    true,
                    self.peer_closed,
                    &mut self.input_seen,
                ),
                next => Ok(next),
            },
            _ => Ok(Next::Wait),
        }
    }
}

/// Raw mode: first pay what is owed, then read once into the loop's buffer and echo.
fn raw_turn(
    stream: &mut TcpStream,
    unsent: &mut Vec<u8>,
    buf: &mut [u8],
    readable: bool,
    peer_closed: bool,
    input_seen: &mut bool,
) -> io::Result<Next> {
    let mut read_now = readable;
    if !unsent.is_empty() {
        let sent = write_some(stream, unsent)?;
        unsent.drain(..sent);
        if !unsent.is_empty() {
            return Ok(Next::Wait); // still full: the next writable edge brings us back
        }
        // Reading was paused; what arrived meanwhile raised its edge already, unseen.
        read_now = true;
        *unsent = Vec::new(); // give the memory back: only unsent bytes are kept
    }
    if !read_now {
        return Ok(Next::Wait);
    }
    let n = match read_once(stream, buf)? {
        Ok(0) => return Ok(Next::Close), // EOF, nothing owed: half-close done
        Ok(n) => n,
        Err(next) => return Ok(next),
    };
    *input_seen = true;
    let sent = write_some(stream, &buf[..n])?;
    if sent < n {
        unsent.extend_from_slice(&buf[sent..n]);
        return Ok(Next::Wait);
    }
    Ok(after_read(n == buf.len(), peer_closed))
}

/// Framed mode: finish a reply in progress, then read once into the header or payload.
fn framed_turn(
    stream: &mut TcpStream,
    f: &mut Framing,
    readable: bool,
    peer_closed: bool,
    input_seen: &mut bool,
) -> io::Result<Next> {
    let mut read_now = readable;
    match f.stage {
        Stage::Waiting(_) => return Ok(Next::Wait), // the timer brings us back
        Stage::Reply => {
            if !send_reply(stream, f)? {
                return Ok(Next::Wait);
            }
            read_now = true; // reading was paused during the reply
        }
        Stage::Header | Stage::Payload => {}
    }
    if !read_now {
        return Ok(Next::Wait);
    }
    // At most two reads a turn: a header that completes is followed by one read of the
    // payload it announces (they usually arrive in one segment), not by a turn's wait.
    for _ in 0..2 {
        let target = match f.stage {
            Stage::Header => &mut f.frame.header_mut()[f.filled..],
            _ => &mut f.frame.payload_mut()[f.filled..],
        };
        let wanted = target.len();
        let n = match read_once(stream, target)? {
            Ok(0) if f.stage == Stage::Header && f.filled == 0 => return Ok(Next::Close),
            Ok(0) => return Err(inside_frame(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(next) => return Ok(next),
        };
        *input_seen = true;
        if f.stage == Stage::Header && f.filled == 0 {
            f.started = common::service::start();
        }
        f.filled += n;
        let header_done = f.stage == Stage::Header && f.filled == HEADER_LEN;
        if header_done {
            f.frame.start_frame()?;
            (f.stage, f.filled) = (Stage::Payload, 0);
        }
        if f.stage == Stage::Payload && f.filled == f.frame.payload_mut().len() {
            // The request is complete: its work runs here, on the loop (that is the model).
            if let Some(w) = f.workload {
                spin(w.cpu / 2);
                if !w.wait.is_zero() {
                    f.stage = Stage::Waiting(w.splits);
                    f.wait_began = Instant::now();
                    return Ok(Next::Timer(w.wait_part()));
                }
            }
            return match reply(stream, f)? {
                Next::Again => Ok(after_read(n == wanted, peer_closed)),
                next => Ok(next),
            };
        }
        if !header_done {
            return Ok(after_read(n == wanted, peer_closed));
        }
    }
    // Two reads, both full: there may be more.
    Ok(Next::Again)
}

/// The last half of the CPU work, then the reply.
fn reply(stream: &mut TcpStream, f: &mut Framing) -> io::Result<Next> {
    if let Some(w) = f.workload {
        spin(w.cpu - w.cpu / 2);
    }
    (f.stage, f.filled) = (Stage::Reply, 0);
    // Sent in full: the next request may already be waiting, unannounced.
    Ok(if send_reply(stream, f)? {
        Next::Again
    } else {
        Next::Wait
    })
}

/// Writes what is left of the frame; true once it is all sent (back to reading headers).
fn send_reply(stream: &mut TcpStream, f: &mut Framing) -> io::Result<bool> {
    // Marked before the write that may send the last byte (the client may read it and
    // signal the server before the record); dropped unrecorded if it does not.
    let reply = common::service::replying(f.started);
    f.filled += write_some(stream, &f.frame.frame()[f.filled..])?;
    if f.filled < f.frame.frame().len() {
        return Ok(false); // the next writable edge brings us back
    }
    f.started = None;
    reply.sent();
    (f.stage, f.filled) = (Stage::Header, 0);
    Ok(true)
}

/// One non-blocking read: the byte count, or what to do when there was nothing to read.
fn read_once(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Result<usize, Next>> {
    match stream.read(buf) {
        Ok(n) => Ok(Ok(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Err(Next::Wait)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Err(Next::Again)),
        Err(e) => Err(e),
    }
}

/// After a read: serve the connection again next turn if its socket may hold more - a
/// read that filled its buffer, or a FIN known to be waiting behind the data.
fn after_read(filled_buffer: bool, peer_closed: bool) -> Next {
    if filled_buffer || peer_closed {
        Next::Again
    } else {
        Next::Wait
    }
}
