//! The tokio servers' runtime and accept loop, written once (feature `tokio`): echo-tokio
//! and echo-tokio-callback differ only in what serves a connection, so this is where the
//! runtime is chosen, the listener made ready and `--max-conns` taken before accept().

use std::future::Future;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::{Config, ConnGuard};

/// Serves `config` on tokio: the current-thread runtime for `--threads 1` (one thread, like
/// asyncio's loop), the multi-thread runtime with N workers otherwise. Each accepted
/// connection becomes a task running `conn(stream, guard)`; under `--max-conns` a place
/// is taken (tokio's semaphore) before accepting and held until that task ends.
pub fn serve<F, Fut>(config: &Config, conn: F) -> anyhow::Result<()>
where
    F: Fn(TcpStream, ConnGuard) -> Fut,
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
        let listener = crate::net::bind(config.addr, config.reuse_port)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        crate::ready(listener.local_addr()?, config.threads);
        let gate = config.max_conns.map(|n| Arc::new(Semaphore::new(n)));
        loop {
            // Under --max-conns, wait for a free place before accepting.
            let pass = match &gate {
                Some(gate) => Some(Arc::clone(gate).acquire_owned().await?),
                None => None,
            };
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    let served = conn(stream, ConnGuard::open());
                    tokio::spawn(async move {
                        let _pass = pass;
                        served.await
                    });
                }
                Err(e) => tokio::time::sleep(crate::net::accept_failed(&e)).await,
            }
        }
    })
}
