//! Raw mode's path through the loop: one multishot recv per connection into the
//! provided-buffer pool, and sends straight from the pool buffers the recvs filled.
//!
//! A pool buffer belongs to the kernel while it sits in the buffer ring; a recv completion
//! hands it to one connection, which queues it and gives it back when the send of its last
//! byte completes. A connection has at most one send in flight, so bytes never reorder.
//! Backpressure: while a connection's unsent bytes exceed `--buffer-size` its recv is
//! cancelled, and re-armed once sends bring them back under. A recv that finds the pool
//! empty waits in [`RawPath`]'s starved list until buffers come back.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use anyhow::Context;
use io_uring::{cqueue, opcode, types};
use slab::Slab;

use crate::conn::{Conn, Outcome, Raw, State};
use crate::pool::{self, Pool};
use crate::ring::{RECV, Ring, SEND};

/// What raw mode adds to a loop: the pool and the connections waiting for its buffers.
pub struct RawPath {
    pool: Pool,
    /// Connections whose recv found the pool empty, re-armed when buffers come back.
    starved: Vec<usize>,
    /// `--buffer-size`: each pool buffer's size, and the bound on a connection's unsent
    /// bytes.
    buffer_size: usize,
}

impl RawPath {
    /// Registers a pool of `--buffer-size` buffers with `ring`.
    pub fn new(ring: &Ring, buffer_size: usize) -> anyhow::Result<RawPath> {
        let count = pool::buffer_count(buffer_size);
        let pool =
            Pool::new(&ring.submitter(), count, buffer_size).context("provided-buffer ring")?;
        Ok(RawPath {
            pool,
            starved: Vec::new(),
            buffer_size,
        })
    }

    /// Publishes the buffers given back this turn, before the turn's submit.
    pub fn commit(&mut self) {
        self.pool.commit();
    }

    /// Arms the connection's multishot recv into the pool, unless it is armed already, the
    /// client has sent its FIN, the connection owes more than `--buffer-size`, or the pool
    /// is empty (then it waits in the starved list).
    pub fn start_recv(&mut self, ring: &mut Ring, conn: &mut Conn, key: usize) -> io::Result<()> {
        if conn.recv_armed || conn.closing {
            return Ok(());
        }
        let State::Raw(raw) = &conn.state else {
            return Ok(());
        };
        if raw.eof || raw.unsent > self.buffer_size {
            return Ok(());
        }
        if !self.pool.has_free() {
            if !conn.starved {
                conn.starved = true;
                self.starved.push(key);
            }
            return Ok(());
        }
        let sqe = opcode::RecvMulti::new(types::Fd(conn.fd.as_raw_fd()), pool::GROUP).build();
        // SAFETY: the pool's buffers outlive the ring.
        unsafe { ring.submit(conn, RECV, key, sqe) }
    }

    /// Re-arms the recvs that found the pool empty, now that buffers came back.
    pub fn feed_starved(&mut self, ring: &mut Ring, conns: &mut Slab<Conn>) -> io::Result<()> {
        while !self.starved.is_empty() && self.pool.has_free() {
            let key = self.starved.swap_remove(0);
            if let Some(conn) = conns.get_mut(key) {
                conn.starved = false;
                self.start_recv(ring, conn, key)?;
            }
        }
        Ok(())
    }

    /// A recv completed with `(res, flags)`: queue the bytes it brought, start sending
    /// them, and keep receiving within the backpressure bound.
    pub fn on_recv(
        &mut self,
        ring: &mut Ring,
        conn: &mut Conn,
        key: usize,
        (res, flags): (i32, u32),
        now: Instant,
    ) -> io::Result<Outcome> {
        let State::Raw(raw) = &mut conn.state else {
            return Ok(Outcome::Open);
        };
        if let Some(bid) = cqueue::buffer_select(flags) {
            self.pool.taken();
            if res > 0 && !conn.closing {
                raw.queue.push_back((bid, 0, res as u32));
                raw.unsent += res as usize;
                conn.last_input = now;
            } else {
                self.pool.give_back(bid);
            }
        }
        if conn.closing {
            return Ok(Outcome::Release);
        }
        if !cqueue::more(flags) {
            match res {
                0 => raw.eof = true,
                r if r > 0 => {}
                r if r == -libc::ENOBUFS || r == -libc::ECANCELED => {}
                r => return Ok(Outcome::Close(Some(io::Error::from_raw_os_error(-r)))),
            }
        }
        if !conn.sending && !raw.queue.is_empty() {
            self.send_next(ring, conn, key)?;
        }
        let State::Raw(raw) = &conn.state else {
            return Ok(Outcome::Open);
        };
        if raw.eof && raw.queue.is_empty() && !conn.sending {
            return Ok(Outcome::Close(None));
        }
        if conn.recv_armed && !conn.recv_cancelled && raw.unsent > self.buffer_size {
            // Backpressure: stop receiving until the client has read what it is owed.
            conn.recv_cancelled = true;
            ring.cancel(RECV, key)?;
        } else if !conn.recv_armed {
            // Ended by the pool running dry, by a cancel, or by the kernel: re-arm (it
            // stays off while over the limit, and waits in `starved` while the pool is
            // empty).
            self.start_recv(ring, conn, key)?;
        }
        Ok(Outcome::Open)
    }

    /// Sends the oldest unsent bytes of the connection, straight from their buffer.
    fn send_next(&mut self, ring: &mut Ring, conn: &mut Conn, key: usize) -> io::Result<()> {
        let State::Raw(raw) = &conn.state else {
            return Ok(());
        };
        let Some(&(bid, off, len)) = raw.queue.front() else {
            return Ok(());
        };
        // SAFETY: offset and length lie within the buffer the recv filled.
        let ptr = unsafe { self.pool.ptr(bid).add(off as usize) };
        let sqe = opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        // SAFETY: the buffer is the connection's until this send completes.
        unsafe { ring.submit(conn, SEND, key, sqe) }
    }

    /// A send of `sent` bytes completed: give back the buffer it emptied, send the next
    /// one, or close after the client's FIN once everything is echoed.
    pub fn on_send(
        &mut self,
        ring: &mut Ring,
        conn: &mut Conn,
        key: usize,
        sent: usize,
    ) -> io::Result<Outcome> {
        let State::Raw(raw) = &mut conn.state else {
            return Ok(Outcome::Open);
        };
        raw.unsent -= sent;
        let Some(front) = raw.queue.front_mut() else {
            return Ok(Outcome::Open); // nothing was queued: cannot happen, harmless if it did
        };
        front.1 += sent as u32;
        front.2 -= sent as u32;
        if front.2 == 0 {
            let bid = front.0;
            raw.queue.pop_front();
            self.pool.give_back(bid);
        }
        let (more, eof) = (!raw.queue.is_empty(), raw.eof);
        if more {
            self.send_next(ring, conn, key)?;
        } else if eof {
            return Ok(Outcome::Close(None));
        }
        self.start_recv(ring, conn, key)?;
        Ok(Outcome::Open)
    }

    /// A connection is freed: its pool buffers go back to the ring, and it no longer
    /// waits for them.
    pub fn release(&mut self, key: usize, conn: &Conn) {
        if let State::Raw(Raw { queue, .. }) = &conn.state {
            for &(bid, _, _) in queue {
                self.pool.give_back(bid);
            }
        }
        if conn.starved {
            self.starved.retain(|&k| k != key);
        }
    }
}
