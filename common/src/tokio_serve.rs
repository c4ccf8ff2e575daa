//! The tokio servers' runtime and accept loop, written once (feature `tokio`): echo-tokio
//! and echo-tokio-callback differ only in what serves a connection, so this is where the
//! runtime is chosen, the listener made ready and `--max-conns` taken before accept().

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::args::Config;
use crate::conn::ConnGuard;
use crate::lifecycle::ready;
use crate::net::{accept_failed, bind};

/// Serves `config` on tokio: the current-thread runtime for `--threads 1` (one thread, like
/// asyncio's loop), the multi-thread runtime with N workers otherwise. Each accepted
/// connection becomes a task running `conn(stream, guard)`; under `--max-conns` a place
/// is taken (tokio's semaphore) before accepting and held until that task ends (see
/// [`serve_in_place`] for how the task hands it on).
pub fn serve<F, Fut>(config: &Config, conn: F) -> anyhow::Result<()>
where
    F: Fn(TcpStream, ConnGuard) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let listener = bind(config.addr, config.reuse_port)?;
        listener.set_nonblocking(true)?;
        let listener = Arc::new(TcpListener::from_std(listener)?);
        ready(listener.local_addr()?, config.threads);
        let gate = config.max_conns.map(|n| Arc::new(Semaphore::new(n)));
        loop {
            // Under --max-conns, wait for a free place before accepting.
            let pass = match &gate {
                Some(gate) => Some(Arc::clone(gate).acquire_owned().await?),
                None => None,
            };
            match listener.accept().await {
                Ok((stream, _peer)) => match pass {
                    None => {
                        tokio::spawn(conn(stream, ConnGuard::open()));
                    }
                    Some(pass) => {
                        let (listener, conn) = (Arc::clone(&listener), conn.clone());
                        tokio::spawn(serve_in_place(stream, pass, listener, conn));
                    }
                },
                Err(e) => tokio::time::sleep(accept_failed(&e)).await,
            }
        }
    })
}

/// Serves connections on one place under `--max-conns`, one after another: when a
/// connection ends and the backlog already holds the next one, this task accepts it at
/// once and serves it, keeping the place. Only when the backlog is empty does the place
/// go back to the semaphore and the accept loop.
///
/// Given back at every close, the place would reach the next connection late: the accept
/// loop runs after the tasks already queued (those whose timers fell due meanwhile), then
/// spawns a task that queues behind them again - while the connection it serves has
/// waited in the backlog longer than any of them.
async fn serve_in_place<F, Fut>(
    mut stream: TcpStream,
    _pass: OwnedSemaphorePermit,
    listener: Arc<TcpListener>,
    conn: F,
) where
    F: Fn(TcpStream, ConnGuard) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        conn(stream, ConnGuard::open()).await;
        match accept_now(&listener) {
            Some(Ok((next, _peer))) => stream = next,
            // Nobody waiting, or an accept error: the accept loop deals with both.
            _ => return,
        }
    }
}

/// An accept that does not wait: `None` when the backlog is empty (as far as tokio's
/// readiness knows). The accept future is polled once and dropped, which leaves no waker
/// behind; the accept loop keeps its own.
fn accept_now(listener: &TcpListener) -> Option<io::Result<(TcpStream, SocketAddr)>> {
    match pin!(listener.accept()).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(accepted) => Some(accepted),
        Poll::Pending => None,
    }
}
