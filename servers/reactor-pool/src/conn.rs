//! One connection of the loop: what it reads is cut into units (a read chunk, or a whole
//! frame read with `common::frame::FrameBuf`) that go to the pool, and the replies that
//! come back wait in `slots`, in the order the units were read, until they are written.
//! `slots` is the reorder buffer: one slot per unit not yet written, `None` while its
//! worker has it; replies are written only from the front, so a reply that overtook an
//! earlier one waits for it.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Instant;

use common::echo::inside_frame;
use common::frame::{FrameBuf, HEADER_LEN};
use common::net::write_some;
use common::{ConnGuard, EchoSettings, Mode};
use mio::net::TcpStream;

use crate::pool::Unit;

/// Reads per connection per step: a connection that keeps its socket full is served
/// again next turn, after the others.
const READS_PER_STEP: usize = 4;

/// Raw mode's spare unit buffers, kept by the loop: a written reply's buffer takes the
/// next read chunk, so ping-pong allocates nothing per message. At most this many, of at
/// most [`FREE_BUFFER_BYTES`] each (4 MiB in all): a larger chunk's buffer is freed.
const FREE_BUFFERS: usize = 1024;
const FREE_BUFFER_BYTES: usize = 4 << 10;

pub struct Conn {
    pub stream: TcpStream,
    /// Distinguishes this connection from a later one in the same slab slot.
    pub id: u64,
    /// The next unit's place in order.
    next_seq: u64,
    /// Units not yet written, from the oldest: `None` while a worker has it.
    slots: VecDeque<Option<Unit>>,
    /// Bytes of the front reply already written.
    written: usize,
    /// Bytes in `slots`: handed to workers or waiting to be written. Reading stops while
    /// this is at the bound (`--buffer-size`).
    owed: usize,
    /// The socket may hold unread input: set by a readiness event, cleared by a read that
    /// finds nothing or less than it asked for (mio registers edge-triggered: input that
    /// arrives after it raises a new event).
    pub readable: bool,
    /// The client has closed its side (a read returned 0).
    eof: bool,
    /// A readiness event said the client closed its side (or the socket failed): reads
    /// go on until they return 0 or an error.
    pub peer_closed: bool,
    framing: Option<Framing>,
    /// A read returned data since the loop last looked (`--idle-timeout`).
    pub input_seen: bool,
    /// When the loop last saw input, or the connection stopped waiting for it.
    pub last_input: Instant,
    _guard: ConnGuard,
}

/// Framed mode: the frame being read, and a spare buffer (a reply's, once written) to
/// read the next large frame into without allocating.
struct Framing {
    frame: FrameBuf,
    payload: bool,
    filled: usize,
    started: Option<Instant>,
    spare: Option<Vec<u8>>,
}

/// What a step asks of the loop.
pub enum Next {
    /// Nothing until the next event or reply.
    Wait,
    /// Serve it again next turn (it stopped reading with input left).
    Again,
    /// Close it: the client has finished and every reply was written.
    Close,
}

impl Conn {
    pub fn new(stream: TcpStream, id: u64, echo: EchoSettings, now: Instant) -> Conn {
        let framing = match echo.mode {
            Mode::Raw => None,
            Mode::Framed { max_frame } => Some(Framing {
                frame: FrameBuf::new(max_frame),
                payload: false,
                filled: 0,
                started: None,
                spare: None,
            }),
        };
        Conn {
            stream,
            id,
            next_seq: 0,
            slots: VecDeque::new(),
            written: 0,
            owed: 0,
            readable: true,
            eof: false,
            peer_closed: false,
            framing,
            input_seen: false,
            last_input: now,
            _guard: ConnGuard::open(),
        }
    }

    /// True while nothing is owed to the client: only then can it be idle.
    pub fn waits_for_input(&self) -> bool {
        self.slots.is_empty()
    }

    /// A worker's reply to unit `seq`: into its slot. Returns false if it came before an
    /// earlier unit's reply (it waits in the reorder buffer).
    pub fn reply(&mut self, unit: Unit, first_seq: u64) -> bool {
        let at = (unit.seq - first_seq) as usize;
        let in_order = self.slots.iter().take(at).all(Option::is_some);
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = Some(unit);
        }
        in_order
    }

    /// The place in order of the oldest unit not yet written.
    pub fn first_seq(&self) -> u64 {
        self.next_seq - self.slots.len() as u64
    }

    /// One step: write the replies that are ready, in order, then read while the bound
    /// allows, handing each complete unit to `send`. Raw mode's unit buffers come from
    /// and go back to `free`.
    pub fn step(
        &mut self,
        bound: usize,
        buf: &mut [u8],
        free: &mut Vec<Vec<u8>>,
        mut send: impl FnMut(Unit),
    ) -> io::Result<Next> {
        self.flush(free)?;
        let mut reads = 0;
        while self.readable && !self.eof && self.owed < bound {
            if reads == READS_PER_STEP {
                return Ok(Next::Again);
            }
            reads += 1;
            let unit = match &mut self.framing {
                None => self.read_raw(buf, free)?,
                Some(_) => self.read_frame()?,
            };
            if let Some(unit) = unit {
                self.owed += unit.len;
                self.slots.push_back(None);
                self.next_seq += 1;
                send(unit);
            }
        }
        if self.eof && self.slots.is_empty() {
            return Ok(Next::Close);
        }
        Ok(Next::Wait)
    }

    /// Writes the ready replies from the front, as far as the socket takes them.
    fn flush(&mut self, free: &mut Vec<Vec<u8>>) -> io::Result<()> {
        while let Some(Some(unit)) = self.slots.front() {
            // Marked before the write that may send the last byte (see common::service).
            let reply = common::service::replying(unit.started);
            self.written += write_some(&mut self.stream, &unit.buf[self.written..unit.len])?;
            if self.written < unit.len {
                return Ok(()); // the next writable event brings us back
            }
            reply.sent();
            let Some(Some(unit)) = self.slots.pop_front() else {
                unreachable!("the front slot was checked above");
            };
            self.owed -= unit.len;
            self.written = 0;
            match &mut self.framing {
                // Kept to read the next frame into, if it is the larger buffer.
                Some(f) if f.spare.as_ref().is_none_or(|s| s.len() < unit.buf.len()) => {
                    f.spare = Some(unit.buf);
                }
                Some(_) => {}
                None if free.len() < FREE_BUFFERS && unit.buf.capacity() <= FREE_BUFFER_BYTES => {
                    free.push(unit.buf)
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Raw mode: one read into the loop's buffer; what came is one unit, copied into a
    /// spare buffer from `free`.
    fn read_raw(&mut self, buf: &mut [u8], free: &mut Vec<Vec<u8>>) -> io::Result<Option<Unit>> {
        let Some(n) = self.read_once(buf)? else {
            return Ok(None);
        };
        let mut unit = free.pop().unwrap_or_default();
        unit.clear();
        unit.extend_from_slice(&buf[..n]);
        Ok(Some(self.unit(unit, n, None)))
    }

    /// Framed mode: one read into the header or the payload; a unit once the frame is
    /// whole.
    fn read_frame(&mut self) -> io::Result<Option<Unit>> {
        let Some(f) = self.framing.as_mut() else {
            return Ok(None);
        };
        let target = if f.payload {
            &mut f.frame.payload_mut()[f.filled..]
        } else {
            &mut f.frame.header_mut()[f.filled..]
        };
        let at_start = !f.payload && f.filled == 0;
        let wanted = target.len();
        let n = match self.stream.read(target) {
            Ok(0) if at_start => {
                self.eof = true;
                return Ok(None);
            }
            Ok(0) => return Err(inside_frame(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        };
        self.input_seen = true;
        after_read(&mut self.readable, self.peer_closed, n < wanted);
        if at_start {
            f.started = common::service::start();
        }
        f.filled += n;
        if !f.payload && f.filled == HEADER_LEN {
            // A spare buffer larger than the frame's own takes the header: the next frame
            // reuses the last reply's buffer instead of growing a new one.
            if let Some(spare) = f.spare.as_mut().filter(|s| s.len() > f.frame.capacity()) {
                let current = f.frame.take();
                spare[..HEADER_LEN].copy_from_slice(&current[..HEADER_LEN]);
                f.frame.put_back(std::mem::replace(spare, current));
            }
            f.frame.start_frame()?;
            (f.payload, f.filled) = (true, 0);
        }
        if !f.payload || f.filled < f.frame.payload_mut().len() {
            return Ok(None);
        }
        // Whole: the buffer goes to the pool with the frame, and the next frame is read
        // into the spare (or a header-sized new one).
        let len = f.frame.frame_len();
        let next = f.spare.take().unwrap_or_else(|| vec![0; HEADER_LEN]);
        let buf = f.frame.take();
        f.frame.put_back(next);
        let started = f.started.take();
        (f.payload, f.filled) = (false, 0);
        Ok(Some(self.unit(buf, len, started)))
    }

    fn unit(&self, buf: Vec<u8>, len: usize, started: Option<Instant>) -> Unit {
        Unit {
            key: 0,
            id: self.id,
            seq: self.next_seq,
            buf,
            len,
            started,
        }
    }

    /// One read: the byte count, or `None` (nothing there, or the end of stream).
    fn read_once(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.stream.read(buf) {
            Ok(0) => {
                self.eof = true;
                Ok(None)
            }
            Ok(n) => {
                self.input_seen = true;
                after_read(&mut self.readable, self.peer_closed, n < buf.len());
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// After a read that returned data: a short one drained the socket, and input that
/// arrives later raises a new edge - unless the client's close was seen already, whose
/// end of stream is still to be read and raises nothing more.
fn after_read(readable: &mut bool, peer_closed: bool, short: bool) {
    if short && !peer_closed {
        *readable = false;
    }
}
