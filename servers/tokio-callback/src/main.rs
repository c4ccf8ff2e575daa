//! echo-tokio-callback: protocol callbacks over a transport - the asyncio `Protocol` /
//! Twisted style - driven by tokio's readiness events instead of async streams.
//!
//! Run: `make run-server MODEL=tokio-callback`, then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - The application is a [`Protocol`]: plain synchronous callbacks
//!   (`connection_made`, `data_received`, `eof_received`, `connection_lost`) that write to
//!   a [`Transport`]. Only the driver below awaits anything.
//! - Because `data_received` runs to completion, the read buffer is never held across an
//!   `.await`: one buffer per worker thread serves every connection, and a connection
//!   owns only the bytes its transport could not send yet.
//! - Backpressure as in asyncio's flow control: while the transport holds unsent bytes,
//!   the driver stops reading from that connection and waits until it is writable.
//! - Framed mode is asyncio's `BufferedProtocol`: the protocol hands out its own buffer
//!   (`get_buffer`) so each payload is read straight into the frame buffer. Like asyncio,
//!   the transport copies whatever the socket does not take at once into its own buffer
//!   (kept, not reallocated, between frames): that copy is the callback style's cost.
//! - The backend wait of framed mode's workload is a timer callback (asyncio's
//!   `call_later`): the protocol asks the transport for one and gets `timer_fired`.
//! - `--threads 1` uses tokio's current-thread runtime, `--threads N` N workers.
//! - `--idle-timeout`: the driver waits for readability only until a deadline that
//!   every read of data pushes back (tokio's timer).

use std::cell::RefCell;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::frame::{FrameBuf, HEADER_LEN};
use common::work::spin;
use common::{Config, ConnGuard, Mode, Workload};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// The application side of a connection, called by the driver as events happen.
trait Protocol {
    /// The connection is established; `transport` is how to write to it.
    fn connection_made(&mut self, _transport: &mut Transport) {}
    /// Where the next bytes should be read to: the protocol's own buffer (asyncio's
    /// `BufferedProtocol`), or `None` to get them through `data_received` from the
    /// driver's shared read buffer.
    fn get_buffer(&mut self) -> Option<&mut [u8]> {
        None
    }
    /// `n` bytes were read into the buffer `get_buffer` returned.
    fn buffer_updated(&mut self, _n: usize, _transport: &mut Transport) {}
    /// Some bytes arrived (any amount: a message may come in pieces).
    fn data_received(&mut self, _data: &[u8], _transport: &mut Transport) {}
    /// The client closed its side. By default, close ours once everything is sent.
    fn eof_received(&mut self, transport: &mut Transport) {
        transport.close();
    }
    /// The timer set with `Transport::call_later` is due.
    fn timer_fired(&mut self, _transport: &mut Transport) {}
    /// The connection is gone: `None` after an orderly close, else the error.
    fn connection_lost(&mut self, _error: Option<&io::Error>) {}
}

/// The echo protocol: everything received is written back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8], transport: &mut Transport) {
        transport.write(data);
    }
}

/// The framed echo protocol: header, then payload, read in place; then the request's
/// work (CPU spin, backend wait as timer callbacks, CPU spin); the frame goes back whole.
struct FramedEcho {
    frame: FrameBuf,
    /// Bytes of the header (before the length is known) or payload read so far.
    filled: usize,
    /// Payload length once the header is complete.
    payload: Option<usize>,
    workload: Option<Workload>,
    /// Parts of the backend wait still to come for the current request.
    waits_left: u32,
    /// When the current request's backend wait began: its parts are timed from here.
    wait_began: Instant,
    /// When the current request's first byte was read (with --stats-file).
    started: Option<Instant>,
}

impl FramedEcho {
    fn new(max_frame: u64, workload: Option<Workload>) -> FramedEcho {
        FramedEcho {
            frame: FrameBuf::new(max_frame),
            filled: 0,
            payload: None,
            workload,
            waits_left: 0,
            wait_began: Instant::now(),
            started: None,
        }
    }

    /// The last half of the CPU work, then the reply; ready for the next header.
    fn reply(&mut self, transport: &mut Transport) {
        if let Some(w) = self.workload {
            spin(w.cpu - w.cpu / 2);
        }
        let reply = common::service::replying(self.started.take());
        transport.write(self.frame.frame());
        reply.sent();
        (self.payload, self.filled) = (None, 0);
    }
}

impl Protocol for FramedEcho {
    fn get_buffer(&mut self) -> Option<&mut [u8]> {
        Some(match self.payload {
            None => &mut self.frame.header_mut()[self.filled..],
            Some(_) => &mut self.frame.payload_mut()[self.filled..],
        })
    }

    fn buffer_updated(&mut self, n: usize, transport: &mut Transport) {
        if self.payload.is_none() && self.filled == 0 {
            self.started = common::service::start();
        }
        self.filled += n;
        if self.payload.is_none() && self.filled == HEADER_LEN {
            match self.frame.start_frame() {
                Ok(len) => (self.payload, self.filled) = (Some(len), 0),
                Err(e) => return transport.abort(e.into()),
            }
        }
        if self.payload != Some(self.filled) {
            return;
        }
        match self.workload {
            Some(w) => {
                spin(w.cpu / 2);
                if w.wait.is_zero() {
                    return self.reply(transport);
                }
                self.waits_left = w.splits;
                self.wait_began = Instant::now();
                transport.call_later(w.wait_part());
            }
            None => self.reply(transport),
        }
    }

    fn timer_fired(&mut self, transport: &mut Transport) {
        self.waits_left -= 1;
        match self.workload {
            // Timed from the start of the wait: a late timer (tokio's wheel rounds up
            // to a millisecond) shortens the next part instead of delaying the reply.
            Some(w) if self.waits_left > 0 => {
                let due = w.part_due(self.wait_began, w.splits - self.waits_left + 1);
                transport.call_later(due.saturating_duration_since(Instant::now()));
            }
            _ => self.reply(transport),
        }
    }

    fn eof_received(&mut self, transport: &mut Transport) {
        if self.filled > 0 || self.payload.is_some() {
            let e = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a frame",
            );
            return transport.abort(e);
        }
        transport.close();
    }
}

/// Writing side of a connection. `write` never blocks: what the socket does not take now
/// is kept and sent when the socket becomes writable.
struct Transport {
    stream: TcpStream,
    /// Bytes written but not yet sent are `unsent[sent..]`. Sent bytes are skipped, not
    /// moved out: draining the front of a 100 MiB reply after every partial write would
    /// copy what is left each time (asyncio's bytearray drops its front in O(1) too).
    unsent: Vec<u8>,
    sent: usize,
    closing: bool,
    error: Option<io::Error>,
    timer: Option<tokio::time::Instant>,
}

impl Transport {
    /// Sends `data` now if the socket takes it, else keeps the rest for later.
    fn write(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let mut rest = data;
        if !self.has_unsent() {
            match self.stream.try_write(data) {
                Ok(n) => rest = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        self.unsent.extend_from_slice(rest);
    }

    /// Closes the connection once every written byte has been sent.
    fn close(&mut self) {
        self.closing = true;
    }

    /// Calls the protocol's `timer_fired` after `delay` (asyncio's `loop.call_later`).
    /// Reading pauses until then: the request in progress is not finished.
    fn call_later(&mut self, delay: Duration) {
        self.timer = Some(tokio::time::Instant::now() + delay);
    }

    /// Closes the connection at once, for `error`.
    fn abort(&mut self, error: io::Error) {
        self.error = Some(error);
    }

    /// True while written bytes wait to be sent.
    fn has_unsent(&self) -> bool {
        self.sent < self.unsent.len()
    }

    /// Sends as much of the kept bytes as the socket takes now.
    fn flush(&mut self) -> io::Result<()> {
        match self.stream.try_write(&self.unsent[self.sent..]) {
            Ok(n) => {
                self.sent += n;
                if !self.has_unsent() {
                    // Emptied but kept (not freed), so a connection that was backpressured
                    // once does not allocate again for every large write.
                    self.unsent.clear();
                    self.sent = 0;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

thread_local! {
    /// The read buffer of this worker thread, shared by all its connections.
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

common::count_allocations!();

fn main() -> ExitCode {
    common::run("tokio-callback", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let echo = config.echo;
    let limits = Limits {
        buffer_size: echo.buffer_size,
        idle: echo.idle_timeout,
    };
    common::tokio_serve::serve(&config, move |stream, guard| async move {
        match echo.mode {
            Mode::Raw => drive(stream, Echo, limits, guard).await,
            Mode::Framed { max_frame } => {
                let protocol = FramedEcho::new(max_frame, echo.workload);
                drive(stream, protocol, limits, guard).await
            }
        }
    })
}

/// What the driver needs besides the protocol.
#[derive(Clone, Copy)]
struct Limits {
    /// Size of the shared read buffer (raw mode).
    buffer_size: usize,
    /// `--idle-timeout`: close the connection when no byte arrives for this long.
    idle: Option<Duration>,
}

/// Turns readiness events into protocol callbacks until the connection ends.
async fn drive(stream: TcpStream, mut protocol: impl Protocol, limits: Limits, _g: ConnGuard) {
    let mut transport = Transport {
        stream,
        unsent: Vec::new(),
        sent: 0,
        closing: false,
        error: None,
        timer: None,
    };
    protocol.connection_made(&mut transport);
    let result = run_transport(&mut transport, &mut protocol, limits).await;
    if let Err(e) = &result {
        common::conn::error(e);
    }
    protocol.connection_lost(result.as_ref().err());
}

async fn run_transport(
    t: &mut Transport,
    protocol: &mut impl Protocol,
    limits: Limits,
) -> io::Result<()> {
    // When the connection counts as idle if nothing arrives before (asyncio servers do
    // this with a `call_later` handle pushed back on every `data_received`).
    let idle_due = |idle: Duration| tokio::time::Instant::now() + idle;
    let mut deadline = limits.idle.map(idle_due);
    loop {
        if let Some(e) = t.error.take() {
            return Err(e);
        }
        if t.has_unsent() {
            // Reading is paused until the client has taken what it is owed.
            t.stream.writable().await?;
            t.flush()?;
            // Idle means waiting for input: the clock starts again when waiting does.
            deadline = limits.idle.map(idle_due);
            continue;
        }
        if let Some(due) = t.timer.take() {
            tokio::time::sleep_until(due).await;
            protocol.timer_fired(t);
            deadline = limits.idle.map(idle_due);
            continue;
        }
        if t.closing {
            return Ok(());
        }
        match (deadline, limits.idle) {
            (Some(due), Some(idle)) => {
                tokio::time::timeout_at(due, t.stream.readable())
                    .await
                    .map_err(|_| common::conn::idle_timeout(idle))??;
            }
            _ => t.stream.readable().await?,
        }
        let read = match protocol.get_buffer() {
            Some(own) => read_into(t, own).inspect(|&n| match n {
                0 => protocol.eof_received(t),
                n => protocol.buffer_updated(n, t),
            }),
            None => READ_BUF.with_borrow_mut(|buf| {
                buf.resize(limits.buffer_size, 0);
                read_into(t, buf).inspect(|&n| match n {
                    0 => protocol.eof_received(t),
                    n => protocol.data_received(&buf[..n], t),
                })
            }),
        };
        match read {
            Ok(0) => {}
            Ok(_) => deadline = limits.idle.map(idle_due),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // spurious wake-up
            Err(e) => return Err(e),
        }
    }
}

/// One non-blocking read into `buf`. A short read drained the socket: its readiness is
/// forgotten now, as tokio's own streams do, instead of paying for a read that would
/// block.
fn read_into(t: &mut Transport, buf: &mut [u8]) -> io::Result<usize> {
    let n = t.stream.try_read(buf)?;
    if 0 < n && n < buf.len() {
        let _ = t.stream.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
    Ok(n)
}
