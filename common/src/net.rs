//! The servers' listening sockets (bound fresh, or inherited in a prefork worker) and what
//! to do when accept() fails. The sockets' options and their shutdown at SIGTERM live in
//! [`crate::listeners`].

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::RawFd;
use std::time::Duration;

use crate::listeners::{bind_fresh_on_one_port, remember, stopping};
use crate::log::RateLimited;

/// Binds one blocking listener with SO_REUSEADDR (so a restart does not wait out
/// TIME_WAIT), TCP_NODELAY, and SO_REUSEPORT when asked, and remembers it for the signal
/// path's shutdown (`crate::listeners`, where the options are explained).
///
/// In a prefork worker (`--processes`) nothing is bound: this is the listener the worker
/// inherited from the parent, which bound it with these options.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> anyhow::Result<TcpListener> {
    let listener = match crate::prefork::inherited(true) {
        Some(inherited) => inherited?,
        None => crate::listeners::bind_fresh(addr, reuse_port)?,
    };
    remember(&listener);
    Ok(listener)
}

/// Binds `n` listeners on one address with SO_REUSEPORT, for models that give each
/// executor its own listener (the kernel spreads connections across them). With port 0
/// the first bind picks the port and the others join it.
///
/// In a prefork worker the first is the listener it inherited, and the others are clones of
/// it (`--accept shared|exclusive`: every thread waits on the one queue) or new
/// SO_REUSEPORT listeners on its port (`--accept reuseport`).
pub fn bind_reuse_port(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<TcpListener>> {
    let listeners = match crate::prefork::inherited(true) {
        Some(first) => {
            let mut listeners = vec![first?];
            for _ in 1..n {
                listeners.push(crate::prefork::inherited(false).expect("in a worker")?);
            }
            listeners
        }
        None => bind_fresh_on_one_port(addr, n)?,
    };
    listeners.iter().for_each(remember);
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
/// - any error once SIGTERM has shut the listeners down ([`stopping`]): not logged,
///   [`STOPPING_PAUSE`], as the process is exiting.
pub fn accept_failed(err: &io::Error) -> Duration {
    if stopping() {
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

/// Writes as much of `data` as a non-blocking socket takes now and returns how much that
/// was: `WouldBlock` stops early (the rest waits for writability), `Interrupted` retries, a
/// zero-length write is `WriteZero`, anything else is the connection's error. The readiness
/// loops (epoll, reactor-pool) write through it.
pub fn write_some(socket: &mut impl io::Write, data: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < data.len() {
        match socket.write(&data[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
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
