//! Framed mode's path through the loop: one frame at a time, read with single-shot recvs
//! straight into the connection's `FrameBuf` (header, then payload), worked on, and sent
//! back from the same buffer.
//!
//! When the header's recv completes, the payload bytes already on the socket are read at
//! once with a non-blocking recv(2), in the same turn (a recv SQE would wait for the next
//! turn's enter); only what has not arrived yet is left to a recv SQE. The request's CPU
//! work runs on the loop, blocking it, as in echo-epoll; the backend wait is an io_uring
//! timeout per part. The buffer and the timeout's timespec are boxed in the connection's
//! state, so the slab may move connections while operations are in flight.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use common::Workload;
use common::echo::inside_frame;
use common::frame::HEADER_LEN;
use common::work::spin;
use io_uring::{opcode, types};

use crate::conn::{Conn, Outcome, Stage, State};
use crate::ring::{RECV, Ring, SEND, TIMER};

/// Arms one single-shot recv into what the current stage still lacks: the header or the
/// payload (nothing while the request is worked on or its reply is being sent).
pub fn start_recv(ring: &mut Ring, conn: &mut Conn, key: usize) -> io::Result<()> {
    if conn.recv_armed || conn.closing {
        return Ok(());
    }
    let fd = types::Fd(conn.fd.as_raw_fd());
    let State::Framed(f) = &mut conn.state else {
        return Ok(());
    };
    let target = match f.stage {
        Stage::Header => &mut f.frame.header_mut()[f.filled..],
        Stage::Payload => &mut f.frame.payload_mut()[f.filled..],
        Stage::Waiting | Stage::Reply => return Ok(()),
    };
    let len = target.len().min(u32::MAX as usize) as u32;
    let sqe = opcode::Recv::new(fd, target.as_mut_ptr(), len).build();
    // SAFETY: the frame buffer lives in the boxed connection state until the recv
    // completes (freed only at inflight 0).
    unsafe { ring.submit(conn, RECV, key, sqe) }
}

/// A recv completed with `res`: header or payload bytes, or the connection's end. A
/// complete request is worked on and answered.
pub fn on_recv(
    ring: &mut Ring,
    conn: &mut Conn,
    key: usize,
    res: i32,
    (now, workload): (Instant, Option<Workload>),
) -> io::Result<Outcome> {
    let fd = conn.fd.as_raw_fd();
    let State::Framed(f) = &mut conn.state else {
        return Ok(Outcome::Open);
    };
    if res < 0 {
        return Ok(Outcome::Close(Some(io::Error::from_raw_os_error(-res))));
    }
    if res == 0 {
        if f.stage == Stage::Header && f.filled == 0 {
            return Ok(Outcome::Close(None)); // closed between frames: a clean end
        }
        let e = inside_frame(io::ErrorKind::UnexpectedEof.into());
        return Ok(Outcome::Close(Some(e)));
    }
    conn.last_input = now;
    if f.stage == Stage::Header && f.filled == 0 {
        f.started = common::service::start();
    }
    f.filled += res as usize;
    if f.stage == Stage::Header {
        if f.filled < HEADER_LEN {
            return start_recv(ring, conn, key).map(|()| Outcome::Open);
        }
        match f.frame.start_frame() {
            Err(e) => return Ok(Outcome::Close(Some(e.into()))),
            Ok(0) => {}
            Ok(_) => {
                (f.stage, f.filled) = (Stage::Payload, 0);
                // The payload often came with its header: read what is there now, in
                // this turn, rather than in a recv submitted for the next one.
                match recv_now(fd, f.frame.payload_mut()) {
                    Ok(0) => {
                        let e = inside_frame(io::ErrorKind::UnexpectedEof.into());
                        return Ok(Outcome::Close(Some(e)));
                    }
                    Ok(n) => f.filled = n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Ok(Outcome::Close(Some(e))),
                }
                if f.filled < f.frame.payload_mut().len() {
                    return start_recv(ring, conn, key).map(|()| Outcome::Open);
                }
            }
        }
    } else if f.filled < f.frame.payload_mut().len() {
        return start_recv(ring, conn, key).map(|()| Outcome::Open);
    }
    // The request is complete: its work runs here, on the loop (that is the model).
    match workload {
        Some(w) if !w.wait.is_zero() => {
            spin(w.cpu / 2);
            f.stage = Stage::Waiting;
            (f.wait_began, f.part) = (Instant::now(), 1);
            arm_timer(ring, conn, key, w)?;
        }
        _ => finish_request(ring, conn, key, workload)?,
    }
    Ok(Outcome::Open)
}

/// A send of `sent` bytes of the reply completed: send the rest, or read the next request.
pub fn on_send(ring: &mut Ring, conn: &mut Conn, key: usize, sent: usize) -> io::Result<()> {
    let State::Framed(f) = &mut conn.state else {
        return Ok(());
    };
    f.filled += sent;
    if f.filled < f.frame.frame().len() {
        return send_reply(ring, conn, key);
    }
    if let Some(reply) = f.reply.take() {
        reply.sent();
    }
    (f.stage, f.filled) = (Stage::Header, 0);
    // Read on at once: the next request, or a FIN sent with this one.
    start_recv(ring, conn, key)
}

/// A part of the backend wait is over: wait the next, or finish the request.
pub fn on_timer(
    ring: &mut Ring,
    conn: &mut Conn,
    key: usize,
    workload: Option<Workload>,
) -> io::Result<()> {
    let (State::Framed(f), Some(w)) = (&mut conn.state, workload) else {
        return Ok(());
    };
    if f.part < w.splits {
        f.part += 1;
        return arm_timer(ring, conn, key, w);
    }
    finish_request(ring, conn, key, workload)
}

/// Submits the timeout for the next part of the backend wait, timed from the start
/// of the wait so that a late part shortens the next.
fn arm_timer(ring: &mut Ring, conn: &mut Conn, key: usize, w: Workload) -> io::Result<()> {
    let State::Framed(f) = &mut conn.state else {
        return Ok(());
    };
    let due = w.part_due(f.wait_began, f.part);
    f.timeout = types::Timespec::from(due.saturating_duration_since(Instant::now()));
    let sqe = opcode::Timeout::new(&f.timeout).build();
    // SAFETY: the timespec lives in the boxed state until the timeout completes.
    unsafe { ring.submit(conn, TIMER, key, sqe) }
}

/// The last half of the CPU work, then the reply, sent from the frame buffer.
fn finish_request(
    ring: &mut Ring,
    conn: &mut Conn,
    key: usize,
    workload: Option<Workload>,
) -> io::Result<()> {
    let State::Framed(f) = &mut conn.state else {
        return Ok(());
    };
    if let Some(w) = workload {
        spin(w.cpu - w.cpu / 2);
    }
    (f.stage, f.filled) = (Stage::Reply, 0);
    // Marked before the send that may deliver the last byte (see common::service).
    f.reply = Some(common::service::replying(f.started.take()));
    send_reply(ring, conn, key)
}

fn send_reply(ring: &mut Ring, conn: &mut Conn, key: usize) -> io::Result<()> {
    let State::Framed(f) = &conn.state else {
        return Ok(());
    };
    let rest = &f.frame.frame()[f.filled..];
    let len = rest.len().min(u32::MAX as usize) as u32;
    let sqe = opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), rest.as_ptr(), len)
        .flags(libc::MSG_NOSIGNAL)
        .build();
    // SAFETY: the frame buffer lives in the boxed state until the send completes.
    unsafe { ring.submit(conn, SEND, key, sqe) }
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
