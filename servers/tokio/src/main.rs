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
//!   its buffer (the price of the stream style; see echo-tokio-callback for the other):
//!   a `common::readbuf::ReadBuf`, one page that grows to `--buffer-size` under bursts.
//! - Backpressure: `write_all(..).await` suspends the task until the client reads.
//! - The backend wait is `tokio::time::sleep`; `--max-conns` is tokio's semaphore, and a
//!   task whose connection ends takes the next one from the backlog itself, keeping its
//!   place (`common::tokio_serve`).
//! - `--idle-timeout` races each read against a `tokio::time::sleep` (tokio's timer
//!   wheel); without it reads are awaited bare.
//! - Framed mode reads the payload straight into the connection's `FrameBuf` with
//!   `read_exact`, and writes header and payload back with one `write_all`.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use common::echo::inside_frame;
use common::frame::FrameBuf;
use common::readbuf::ReadBuf;
use common::{Config, ConnGuard, EchoSettings, Mode, Workload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

common::count_allocations!();

fn main() -> ExitCode {
    common::run("tokio", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let echo = config.echo;
    common::tokio_serve::serve(&config, move |stream, guard| {
        serve_conn(stream, echo, guard)
    })
}

async fn serve_conn(stream: TcpStream, echo: EchoSettings, _guard: ConnGuard) {
    let result = match echo.mode {
        Mode::Raw => raw(stream, echo.buffer_size, echo.idle_timeout).await,
        Mode::Framed { max_frame } => {
            framed(stream, max_frame, echo.workload, echo.idle_timeout).await
        }
    };
    if let Err(e) = result {
        common::conn::error(&e);
    }
}

async fn raw(mut stream: TcpStream, buffer_size: usize, idle: Option<Duration>) -> io::Result<()> {
    let mut buf = ReadBuf::new(buffer_size);
    loop {
        let n = within_idle(stream.read(buf.space()), idle).await?;
        if n == 0 {
            return Ok(()); // client closed its side; everything was echoed
        }
        stream.write_all(buf.filled(n)).await?;
        buf.grow_if_full(n);
    }
}

async fn framed(
    mut stream: TcpStream,
    max_frame: u64,
    workload: Option<Workload>,
    idle: Option<Duration>,
) -> io::Result<()> {
    let mut frame = FrameBuf::new(max_frame);
    loop {
        let header = frame.header_mut();
        let n = within_idle(stream.read(&mut header[..]), idle).await?;
        if n == 0 {
            return Ok(()); // closed between frames: a clean end
        }
        let started = common::service::start();
        read_exact_within(&mut stream, &mut header[n..], idle)
            .await
            .map_err(inside_frame)?;
        frame.start_frame()?;
        read_exact_within(&mut stream, frame.payload_mut(), idle)
            .await
            .map_err(inside_frame)?;
        if let Some(w) = workload {
            w.run_async(tokio::time::sleep).await;
        }
        // Marked before the write: the client may have the reply (and signal the server)
        // before this task records it, and the stats file must not miss it.
        let reply = common::service::replying(started);
        stream.write_all(frame.frame()).await?;
        reply.sent();
    }
}

/// A read that fails with the idle timeout if nothing comes within `idle`.
async fn within_idle<T>(
    read: impl Future<Output = io::Result<T>>,
    idle: Option<Duration>,
) -> io::Result<T> {
    common::echo::within_idle(read, idle, tokio::time::sleep).await
}

/// `read_exact`, where each read (not the whole frame, which may be large) must come
/// within the idle timeout.
async fn read_exact_within(
    stream: &mut TcpStream,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> io::Result<()> {
    if idle.is_none() {
        return stream.read_exact(buf).await.map(drop);
    }
    let mut done = 0;
    while done < buf.len() {
        match within_idle(stream.read(&mut buf[done..]), idle).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => done += n,
        }
    }
    Ok(())
}
