//! echo-tokio: async/await streams on tokio - one task per connection written as if it
//! were blocking code (`read`, then `write_all`), multiplexed by tokio's epoll reactor.
//!
//! Run: `make run-server MODEL=tokio` (add `-- --threads 4` style flags through ARGS),
//! then `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - `--threads 1` runs tokio's current-thread runtime (one thread, no work stealing, like
//!   asyncio's loop); `--threads N` the multi-thread runtime with N workers.
//! - Each task owns its read buffer across `.await` points, so an idle connection keeps
//!   its buffer (the price of the stream style; see echo-tokio-callback for the other).
//! - Backpressure: `write_all(..).await` suspends the task until the client reads.

use std::io;
use std::process::ExitCode;

use common::{Config, ConnGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> ExitCode {
    common::run("tokio", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
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
        let listener = common::net::bind(config.addr, config.reuse_port)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        common::ready(listener.local_addr()?, config.threads);
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    let guard = ConnGuard::open();
                    tokio::spawn(serve_conn(stream, config.buffer_size, guard));
                }
                Err(e) => tokio::time::sleep(common::net::accept_failed(&e)).await,
            }
        }
    })
}

async fn serve_conn(stream: TcpStream, buffer_size: usize, _guard: ConnGuard) {
    if let Err(e) = echo(stream, buffer_size).await {
        common::conn::error(&e);
    }
}

async fn echo(mut stream: TcpStream, buffer_size: usize) -> io::Result<()> {
    let mut buf = vec![0u8; buffer_size];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // client closed its side; everything was echoed
        }
        stream.write_all(&buf[..n]).await?;
    }
}
