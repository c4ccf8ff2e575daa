//! Listening sockets and what to do when accept() fails.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};

use crate::log::RateLimited;

/// Listen backlog asked for; the kernel caps it at net.core.somaxconn.
pub const BACKLOG: i32 = 4096;

/// Binds one blocking listener with SO_REUSEADDR (so a restart does not wait out
/// TIME_WAIT), TCP_NODELAY, and SO_REUSEPORT when asked.
///
/// Linux copies TCP_NODELAY from a listener to every socket it accepts, so setting it
/// here gives every model's connections the same option without a syscall per accept.
///
/// In a prefork worker (`--processes`) nothing is bound: this is the listener the worker
/// inherited from the parent, which bound it with these options.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> anyhow::Result<TcpListener> {
    let listener = match crate::prefork::inherited(true) {
        Some(inherited) => inherited?,
        None => bind_fresh(addr, reuse_port)?,
    };
    remember(&listener);
    Ok(listener)
}

/// The listening descriptors this process serves on, shut down by [`stop_listening`].
static LISTENING: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

fn remember(listener: &TcpListener) {
    let mut fds = LISTENING.lock().unwrap_or_else(|e| e.into_inner());
    fds.push(listener.as_raw_fd());
}

/// Forgets the listeners remembered so far (a prefork worker or parent, once the
/// listeners bound before the fork are dropped).
pub(crate) fn forget_listeners() {
    LISTENING.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Stops every listener of this process at once (the signal path calls it before exit):
/// `shutdown(SHUT_RDWR)` on a listening socket takes it out of the LISTEN state, so the
/// kernel refuses new connections (RST), drops the ones in its accept queue, and fails the
/// accepts pending on it.
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
    let fds = LISTENING.lock().unwrap_or_else(|e| e.into_inner());
    for &fd in fds.iter() {
        // SAFETY: shutdown() takes any descriptor; on one that is not a socket it fails.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}

/// [`bind`] without the prefork worker's inherited listener.
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

/// Binds `n` listeners on one address with SO_REUSEPORT, for models that give each
/// executor its own listener (the kernel spreads connections across them). With port 0
/// the first bind picks the port and the others join it.
///
/// In a prefork worker the first is the listener it inherited, and the others are clones of
/// it (`--accept shared|exclusive`: every thread waits on the one queue) or new
/// SO_REUSEPORT listeners on its port (`--accept reuseport`).
pub fn bind_reuse_port(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<TcpListener>> {
    if let Some(first) = crate::prefork::inherited(true) {
        let mut listeners = vec![first?];
        for _ in 1..n {
            listeners.push(crate::prefork::inherited(false).expect("in a worker")?);
        }
        listeners.iter().for_each(remember);
        return Ok(listeners);
    }
    let first = bind(addr, true)?;
    let actual = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..n {
        listeners.push(bind(actual, true)?);
    }
    Ok(listeners)
}

/// Registers a listener in a mio event loop for reading, under `token`. In a prefork worker
/// with `--accept exclusive` it is then re-added with EPOLLEXCLUSIVE, so that a connection
/// wakes one of the workers' loops, not all of them. EPOLLEXCLUSIVE can only be given when
/// a descriptor is added, and mio does not offer it: the descriptor is deleted and added
/// again on mio's epoll descriptor, with the events mio asks for (EPOLLIN, edge-triggered;
/// EPOLLRDHUP is not allowed with EPOLLEXCLUSIVE and means nothing on a listener) and the
/// token as the event's data, as mio reads it.
#[cfg(feature = "mio")]
pub fn register_listener(
    registry: &mio::Registry,
    listener: &mut mio::net::TcpListener,
    token: mio::Token,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    registry.register(listener, token, mio::Interest::READABLE)?;
    if crate::prefork::accept_mode() != Some(crate::prefork::Accept::Exclusive) {
        return Ok(());
    }
    let (epfd, fd) = (registry.as_raw_fd(), listener.as_raw_fd());
    let mut event = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET | libc::EPOLLEXCLUSIVE) as u32,
        u64: token.0 as u64,
    };
    // SAFETY: epoll_ctl on mio's epoll descriptor and our listener, with an event we own.
    unsafe {
        if libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) != 0
            || libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// An accept(2) that does not wait, on a listener whose descriptor is non-blocking (a
/// completion-based model's, whose own accepts go through its ring): the next connection
/// in the backlog, or `None` when it is empty or the accept failed (the model's accept
/// loop meets and handles the error on its next accept).
pub fn accept_now(listener: RawFd) -> Option<std::net::TcpStream> {
    let (addr, len) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: accept4 on a descriptor, asking for no peer address.
    let fd = unsafe { libc::accept4(listener, addr, len, libc::SOCK_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new descriptor that only we own.
    Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

static ACCEPT_ERRORS: RateLimited = RateLimited::new("accept failed");

/// Pause after accept() ran out of a resource (descriptors, buffers, memory): retrying at
/// once would spin on the same error while the backlog stays full.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Pause after an accept failed because the server is stopping (longer than the exit takes).
pub const STOPPING_PAUSE: Duration = Duration::from_secs(1);

/// Handles a failed accept(): logs it (at most once a second) and says how long to
/// wait before accepting again. `WouldBlock` is not a failure and must be handled by
/// the caller.
///
/// - out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause
///   [`ACCEPT_PAUSE`], since nothing changes until a connection closes;
/// - an error that belongs to one pending connection (ECONNABORTED, EPROTO, EPERM) or an
///   interrupted call: retry at once, the next accept() is for another connection;
/// - any error once SIGTERM has shut the listeners down ([`stop_listening`]): not logged,
///   [`STOPPING_PAUSE`], as the process is exiting.
pub fn accept_failed(err: &io::Error) -> Duration {
    if crate::stopping() {
        // The signal path shut the listener down and is about to exit: not a failure to
        // log, and no reason to try again soon.
        return STOPPING_PAUSE;
    }
    if err.kind() == io::ErrorKind::Interrupted {
        return Duration::ZERO;
    }
    ACCEPT_ERRORS.record(err);
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => ACCEPT_PAUSE,
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_port_listeners_share_one_port() {
        let ls = bind_reuse_port("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = ls[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(ls.iter().all(|l| l.local_addr().unwrap().port() == port));
    }

    #[test]
    fn accepted_sockets_inherit_nodelay() {
        let l = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn port_in_use_is_an_error_naming_the_address() {
        let a = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let err = bind(a.local_addr().unwrap(), false).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot bind 127.0.0.1:"),
            "{err:#}"
        );
    }

    #[test]
    fn accept_pauses_only_when_out_of_resources() {
        assert_eq!(
            accept_failed(&io::Error::from_raw_os_error(libc::EMFILE)),
            ACCEPT_PAUSE
        );
        assert_eq!(
            accept_failed(&io::Error::from_raw_os_error(libc::ENFILE)),
            ACCEPT_PAUSE
        );
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(accept_failed(&aborted), Duration::ZERO);
        assert_eq!(
            accept_failed(&io::ErrorKind::Interrupted.into()),
            Duration::ZERO
        );
    }
}
