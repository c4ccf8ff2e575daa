//! The accept loop of the futures-based runtimes (async-std, smol, compio, glommio),
//! written once; tokio's, with tokio's own semaphore, is `crate::tokio_serve`.
//!
//! Under `--max-conns` a place is taken from the gate *before* accept(), so connections
//! over the cap wait in the kernel's backlog, not in the server; the place goes with the
//! connection and is freed when whatever holds it is dropped. An accept that fails is
//! logged (at most once a second) and retried after the pause [`accept_failed`] says, on
//! the runtime's own timer; once SIGTERM has shut the listener down that pause outlasts the
//! exit. The loop knows no runtime: each model hands it its accept, its spawn and its
//! sleep.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::conn::ConnGuard;
use crate::limit::{AsyncGate, AsyncPass};
use crate::net::accept_failed;

/// Accepts connections for ever: waits for a place under the `gate` (`--max-conns`;
/// `None`: no cap), calls `accept`, and hands each connection to `spawn` with its
/// [`ConnGuard`] (opened as it is accepted) and its place, which `spawn` keeps for as long
/// as the connection is served. A failed accept waits `sleep(pause)` and tries again.
pub async fn accept_loop<S, A, AF, Sl, SlF>(
    gate: Option<Arc<AsyncGate>>,
    mut accept: A,
    mut spawn: impl FnMut(S, ConnGuard, Option<AsyncPass>),
    sleep: Sl,
) -> Infallible
where
    A: FnMut() -> AF,
    AF: Future<Output = io::Result<S>>,
    Sl: Fn(Duration) -> SlF,
    SlF: Future,
{
    loop {
        // Under --max-conns, wait for a free place before accepting.
        let pass = match &gate {
            Some(gate) => Some(gate.acquire_arc().await),
            None => None,
        };
        match accept().await {
            Ok(stream) => spawn(stream, ConnGuard::open(), pass),
            Err(e) => {
                sleep(accept_failed(&e)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;
    use std::cell::RefCell;

    /// Runs the loop over a script of accept results until the script is done.
    fn run(
        gate: Option<Arc<AsyncGate>>,
        script: Vec<io::Result<u32>>,
    ) -> (Vec<(u32, bool)>, Vec<Duration>, Vec<AsyncPass>) {
        let script = RefCell::new(script.into_iter());
        let (spawned, slept, held) = (
            RefCell::new(vec![]),
            RefCell::new(vec![]),
            RefCell::new(vec![]),
        );
        let accept = || {
            let next = script.borrow_mut().next();
            async move {
                match next {
                    Some(result) => result,
                    None => future::pending().await,
                }
            }
        };
        let spawn = |conn, _guard, pass: Option<AsyncPass>| {
            spawned.borrow_mut().push((conn, pass.is_some()));
            held.borrow_mut().extend(pass);
        };
        let sleep = |d| {
            slept.borrow_mut().push(d);
            future::ready(())
        };
        let serving = async { match accept_loop(gate, accept, spawn, sleep).await {} };
        // The loop never ends: poll it until it waits (on the script's end, or the gate).
        let _ = future::block_on(future::poll_once(serving));
        (spawned.into_inner(), slept.into_inner(), held.into_inner())
    }

    #[test]
    fn every_connection_is_spawned_and_errors_pause() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        let (spawned, slept, _) = run(None, vec![Ok(1), Err(emfile), Err(aborted), Ok(2)]);
        assert_eq!(spawned, [(1, false), (2, false)]);
        assert_eq!(slept, [crate::net::ACCEPT_PAUSE, Duration::ZERO]);
    }

    #[test]
    fn at_the_cap_the_loop_waits_before_accepting() {
        let gate = Arc::new(AsyncGate::new(2));
        let (spawned, _, held) = run(Some(Arc::clone(&gate)), vec![Ok(1), Ok(2), Ok(3)]);
        // Two places, two connections: the third is still in the backlog (the script).
        assert_eq!(spawned, [(1, true), (2, true)]);
        assert!(gate.try_acquire().is_none());
        drop(held);
        assert!(
            gate.try_acquire().is_some(),
            "a served connection's place comes back"
        );
    }
}
