//! Opening a server's connections, a few at a time, and reopening those a slice lost.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::{CONNECTS_IN_FLIGHT, Conn, Driver};

impl Driver {
    /// Adds a server and opens `n` connections to it, `CONNECTS_IN_FLIGHT` at a time,
    /// waiting up to `limit` in all. Returns its index and how many connections opened.
    pub fn add_server(&mut self, addr: SocketAddr, n: usize, limit: Duration) -> (usize, usize) {
        let server = self.servers.len();
        let start = self.conns.len();
        let now = Instant::now();
        for user in 0..n {
            self.conns.push(Conn {
                user,
                stream: None,
                connected: false,
                busy: false,
                written: 0,
                read: 0,
                due: now,
                sent: now,
                counted: false,
                queue: VecDeque::new(),
                ok: 0,
                max_wait_us: 0,
            });
        }
        self.servers.push((addr, start..start + n));
        let open = self.open_all(server, Instant::now() + limit);
        (server, open)
    }

    /// Connections of `server` that are open.
    pub fn open_count(&self, server: usize) -> usize {
        let range = self.servers[server].1.clone();
        self.conns[range].iter().filter(|c| c.connected).count()
    }

    /// Opens every closed connection of `server`, [`CONNECTS_IN_FLIGHT`] at a time, until
    /// `deadline`; returns how many are open.
    pub(super) fn open_all(&mut self, server: usize, deadline: Instant) -> usize {
        let (addr, range) = self.servers[server].clone();
        let mut next = range.start;
        let mut pending = 0usize;
        loop {
            while next < range.end && pending < CONNECTS_IN_FLIGHT {
                let c = &mut self.conns[next];
                if c.stream.is_none() {
                    // A failed connect leaves it closed: open_count says so.
                    if let Ok(s) = connect(&self.poll, addr, next) {
                        c.stream = Some(s);
                        pending += 1;
                    }
                }
                next += 1;
            }
            if (pending == 0 && next >= range.end) || Instant::now() >= deadline {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self
                .poll
                .poll(&mut self.events, Some(left.min(Duration::from_millis(50))))
                .is_err()
            {
                continue;
            }
            let tokens: Vec<usize> = self.events.iter().map(|e| e.token().0).collect();
            for idx in tokens {
                let connecting = self
                    .conns
                    .get(idx)
                    .is_some_and(|c| c.stream.is_some() && !c.connected);
                if connecting && self.finish_connect(idx).is_some() {
                    pending -= 1;
                }
            }
        }
        // Those still connecting at the deadline are given up.
        for c in &mut self.conns[range] {
            if !c.connected {
                c.stream = None;
            }
        }
        self.open_count(server)
    }

    /// A connecting socket became writable or reported an error: Some(true) when it is
    /// now open, Some(false) when it failed (closed), None while it still connects.
    pub(super) fn finish_connect(&mut self, idx: usize) -> Option<bool> {
        let c = &mut self.conns[idx];
        let s = c.stream.as_ref()?;
        match s.take_error() {
            Ok(None) if s.peer_addr().is_ok() => {
                c.connected = true;
                Some(true)
            }
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => {
                c.stream = None;
                Some(false)
            }
        }
    }
}

/// Starts a non-blocking connect to `addr` and registers it under `idx` for both directions.
fn connect(poll: &Poll, addr: SocketAddr, idx: usize) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let mut stream = TcpStream::from_std(socket.into());
    poll.registry().register(
        &mut stream,
        Token(idx),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(stream)
}
