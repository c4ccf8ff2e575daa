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
//! - Framed mode is the same loop with a per-connection state machine (header, payload,
//!   reply): the payload is read straight into the connection's `FrameBuf` and the reply
//!   is written from it, with no copy.
//! - `--threads N` runs N independent loops, each with its own SO_REUSEPORT listener.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::echo::inside_frame;
use common::frame::{FrameBuf, HEADER_LEN};
use common::{Config, ConnGuard, Echo, Mode};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

fn main() -> ExitCode {
    common::run("epoll", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let listeners = if config.threads == 1 {
        vec![common::net::bind(config.addr, config.reuse_port)?]
    } else {
        common::net::bind_reuse_port(config.addr, config.threads)?
    };
    let addr: SocketAddr = listeners[0].local_addr()?;
    let loops: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            std::thread::Builder::new()
                .name(format!("loop-{i}"))
                .spawn(move || event_loop(listener, config.echo))
        })
        .collect::<io::Result<_>>()?;
    common::ready(addr, config.threads);
    for handle in loops {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("an event loop panicked"))??;
    }
    Ok(())
}

/// One connection: the socket and what it still owes its client.
struct Conn {
    stream: TcpStream,
    state: State,
    /// The client's FIN has been seen (EPOLLRDHUP): a short read no longer proves there
    /// is nothing left to read, because the end of stream itself raises no new edge.
    peer_closed: bool,
    _guard: ConnGuard,
}

/// Where a connection is in its echo.
enum State {
    /// Raw mode: only the bytes the socket did not take yet.
    Raw { unsent: Vec<u8> },
    /// Framed mode: the frame being read or written back.
    Framed(Framing),
}

/// A framed connection's state machine.
struct Framing {
    frame: FrameBuf,
    stage: Stage,
    /// Bytes of the current stage done: header or payload read, or reply written.
    filled: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Payload,
    Reply,
}

/// What a connection needs next.
enum Next {
    /// Nothing until its next readiness event.
    Wait,
    /// Another turn without an event: its last read filled the buffer.
    Again,
    /// Close it: the client finished and everything was echoed.
    Close,
}

fn event_loop(listener: std::net::TcpListener, echo: Echo) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().context("epoll_create")?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;

    let mut conns: Slab<Conn> = Slab::with_capacity(1024);
    let mut buf = vec![0u8; echo.buffer_size];
    let mut events = Events::with_capacity(1024);
    let mut again: Vec<usize> = Vec::new();
    // Set while accept() is paused after running out of descriptors.
    let mut accept_resumes: Option<Instant> = None;

    loop {
        let timeout = if !again.is_empty() {
            Some(Duration::ZERO)
        } else {
            accept_resumes.map(|t| t.saturating_duration_since(Instant::now()))
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        }
        if accept_resumes.is_some_and(|t| Instant::now() >= t) {
            // Registering again reports the listener readable if connections are waiting.
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            accept_resumes = None;
        }

        let turn = std::mem::take(&mut again);
        for event in events.iter() {
            match event.token() {
                LISTENER => {
                    if let Some(pause) = accept_all(&mut listener, &mut conns, &poll, echo.mode)? {
                        poll.registry().deregister(&mut listener)?;
                        accept_resumes = Some(Instant::now() + pause);
                    }
                }
                Token(key) => {
                    if event.is_read_closed() {
                        if let Some(conn) = conns.get_mut(key) {
                            conn.peer_closed = true;
                        }
                    }
                    let readable =
                        event.is_readable() || event.is_read_closed() || event.is_error();
                    service(&mut conns, key, &mut buf, readable, &mut again, &poll);
                }
            }
        }
        for key in turn {
            // A key may have been closed and reused since; an extra read then just finds
            // nothing (WouldBlock), so no bookkeeping is needed to tell the two apart.
            service(&mut conns, key, &mut buf, true, &mut again, &poll);
        }
    }
}

/// Accepts until the backlog is empty. Returns how long to pause accepting when accept()
/// ran out of a resource (the listener is then deregistered so the loop does not spin).
fn accept_all(
    listener: &mut TcpListener,
    conns: &mut Slab<Conn>,
    poll: &Poll,
    mode: Mode,
) -> io::Result<Option<Duration>> {
    loop {
        match listener.accept() {
            Ok((mut stream, _peer)) => {
                let entry = conns.vacant_entry();
                // READABLE | WRITABLE once, for the connection's life: edge-triggered
                // registrations never need re-arming.
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = poll
                    .registry()
                    .register(&mut stream, Token(entry.key()), interest)
                {
                    common::conn::error(&e);
                    continue;
                }
                let state = match mode {
                    Mode::Raw => State::Raw { unsent: Vec::new() },
                    Mode::Framed { max_frame } => State::Framed(Framing {
                        frame: FrameBuf::new(max_frame),
                        stage: Stage::Header,
                        filled: 0,
                    }),
                };
                entry.insert(Conn {
                    stream,
                    state,
                    peer_closed: false,
                    _guard: ConnGuard::open(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => {
                let pause = common::net::accept_failed(&e);
                if !pause.is_zero() {
                    return Ok(Some(pause));
                }
            }
        }
    }
}

/// Serves one connection for one turn and closes it when it is done or broken.
fn service(
    conns: &mut Slab<Conn>,
    key: usize,
    buf: &mut [u8],
    readable: bool,
    again: &mut Vec<usize>,
    poll: &Poll,
) {
    let Some(conn) = conns.get_mut(key) else {
        return;
    };
    match echo(conn, buf, readable) {
        Ok(Next::Wait) => {}
        Ok(Next::Again) => again.push(key),
        Ok(Next::Close) => close(conns, key, poll),
        Err(e) => {
            common::conn::error(&e);
            close(conns, key, poll);
        }
    }
}

fn close(conns: &mut Slab<Conn>, key: usize, poll: &Poll) {
    let mut conn = conns.remove(key);
    // Closing the socket removes it from epoll too; deregistering first keeps mio's
    // bookkeeping exact. Failure here changes nothing for the client.
    let _ = poll.registry().deregister(&mut conn.stream);
}

/// One turn of one connection.
fn echo(conn: &mut Conn, buf: &mut [u8], readable: bool) -> io::Result<Next> {
    match &mut conn.state {
        State::Raw { unsent } => {
            raw_turn(&mut conn.stream, unsent, buf, readable, conn.peer_closed)
        }
        State::Framed(f) => framed_turn(&mut conn.stream, f, readable, conn.peer_closed),
    }
}

/// Raw mode: first pay what is owed, then read once into the loop's buffer and echo.
fn raw_turn(
    stream: &mut TcpStream,
    unsent: &mut Vec<u8>,
    buf: &mut [u8],
    readable: bool,
    peer_closed: bool,
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
        ReadOutcome::Bytes(0) => return Ok(Next::Close), // EOF, nothing owed: half-close done
        ReadOutcome::Bytes(n) => n,
        ReadOutcome::Not(next) => return Ok(next),
    };
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
) -> io::Result<Next> {
    let mut read_now = readable;
    if f.stage == Stage::Reply {
        if !send_reply(stream, f)? {
            return Ok(Next::Wait);
        }
        read_now = true; // reading was paused during the reply
    }
    if !read_now {
        return Ok(Next::Wait);
    }
    let target = match f.stage {
        Stage::Header => &mut f.frame.header_mut()[f.filled..],
        _ => &mut f.frame.payload_mut()[f.filled..],
    };
    let wanted = target.len();
    let n = match read_once(stream, target)? {
        ReadOutcome::Bytes(0) if f.stage == Stage::Header && f.filled == 0 => {
            return Ok(Next::Close);
        }
        ReadOutcome::Bytes(0) => return Err(inside_frame(io::ErrorKind::UnexpectedEof.into())),
        ReadOutcome::Bytes(n) => n,
        ReadOutcome::Not(next) => return Ok(next),
    };
    f.filled += n;
    if f.stage == Stage::Header && f.filled == HEADER_LEN {
        f.frame.start_frame()?;
        (f.stage, f.filled) = (Stage::Payload, 0);
    }
    if f.stage == Stage::Payload && f.filled == f.frame.payload_mut().len() {
        (f.stage, f.filled) = (Stage::Reply, 0);
        if !send_reply(stream, f)? {
            return Ok(Next::Wait);
        }
    }
    Ok(after_read(n == wanted, peer_closed))
}

/// Writes what is left of the frame; true once it is all sent (back to reading headers).
fn send_reply(stream: &mut TcpStream, f: &mut Framing) -> io::Result<bool> {
    f.filled += write_some(stream, &f.frame.frame()[f.filled..])?;
    if f.filled < f.frame.frame().len() {
        return Ok(false); // the next writable edge brings us back
    }
    (f.stage, f.filled) = (Stage::Header, 0);
    Ok(true)
}

/// The outcome of one non-blocking read.
enum ReadOutcome {
    Bytes(usize),
    Not(Next),
}

fn read_once(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<ReadOutcome> {
    match stream.read(buf) {
        Ok(n) => Ok(ReadOutcome::Bytes(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::Not(Next::Wait)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::Not(Next::Again)),
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

/// Writes as much of `data` as the socket takes now; returns how much that was.
fn write_some(stream: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < data.len() {
        match stream.write(&data[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
