//! The process's listening sockets at the lowest level: binding one, remembering the ones
//! served on, and shutting them all down at once when SIGINT/SIGTERM comes, which is also
//! when [`stopping`] turns true. [`crate::net`] builds the servers' binding on this, and
//! [`crate::prefork`]'s parent binds with it before it forks.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};

/// Listen backlog asked for; the kernel caps it at net.core.somaxconn.
pub const BACKLOG: i32 = 4096;

/// Binds one blocking listener with SO_REUSEADDR (so a restart does not wait out
/// TIME_WAIT), TCP_NODELAY, and SO_REUSEPORT when asked. It is not remembered
/// ([`remember`]): the caller decides whether it is served on.
///
/// Linux copies TCP_NODELAY from a listener to every socket it accepts, so setting it
/// here gives every model's connections the same option without a syscall per accept.
pub(crate) fn bind_fresh(addr: SocketAddr, reuse_port: bool) -> anyhow::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("cannot create a TCP socket")?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind {addr}"))?;
    socket
        .listen(BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok(socket.into())
}

/// Binds `n` listeners on one address with SO_REUSEPORT ([`bind_fresh`]); with port 0 the
/// first bind picks the port and the others join it.
pub(crate) fn bind_fresh_on_one_port(
    addr: SocketAddr,
    n: usize,
) -> anyhow::Result<Vec<TcpListener>> {
    let first = bind_fresh(addr, true)?;
    let actual = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..n {
        listeners.push(bind_fresh(actual, true)?);
    }
    Ok(listeners)
}

/// The listening descriptors this process serves on, shut down by [`stop_listening`].
static LISTENING: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Set by [`stop_listening`] before it shuts the listeners down.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Notes a listener this process serves on, for [`stop_listening`].
pub(crate) fn remember(listener: &TcpListener) {
    let mut fds = LISTENING.lock().unwrap_or_else(|e| e.into_inner());
    fds.push(listener.as_raw_fd());
}

/// True once SIGINT/SIGTERM has come: the listeners are shut down and the process is
/// exiting. An accept that fails now is the shutdown's doing, not a fault
/// (`crate::net::accept_failed`), and a model that gives up serving now leaves the exit
/// (status 0) to the signal path.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Relaxed)
}

/// Stops every listener of this process at once (the signal path calls it before exit),
/// after setting [`stopping`]: `shutdown(SHUT_RDWR)` on a listening socket takes it out of
/// the LISTEN state, so the kernel refuses new connections (RST), drops the ones in its
/// accept queue, and fails the accepts pending on it.
///
/// Closing the descriptor is not enough for the completion-based models (uring, compio,
/// glommio): an accept pending in an io_uring holds a reference to the socket, which stays
/// listening, and completes handshakes, until the kernel tears the ring down, after the
/// process has exited (connections completed up to 7 ms after exit, the client getting
/// EOF without an echo). Shutting the socket down does not wait for the ring. With a
/// listener shared by prefork workers it stops the port for all of them, which is what
/// SIGTERM asks of each. A descriptor number reused since (the listener dropped early) at
/// worst gets its connection shut down at exit.
pub fn stop_listening() {
    STOPPING.store(true, Ordering::Relaxed);
    let fds = LISTENING.lock().unwrap_or_else(|e| e.into_inner());
    for &fd in fds.iter() {
        // SAFETY: shutdown() takes any descriptor; on one that is not a socket it fails.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}
