//! The echo loops, written once for every model whose streams share a trait: blocking
//! `std::io` streams (OS threads, may's coroutines) and `futures-io` streams (async-std,
//! smol, glommio). tokio has its own I/O traits, and the readiness-loop models (epoll,
//! tokio-callback) are state machines, so those keep loops of the same shape themselves.
//!
//! Raw mode: read up to one buffer, write all of it back, repeat; stop at end of stream.
//! The buffer is the connection's own [`ReadBuf`]: one page at first, doubling when a
//! read fills it, up to `--buffer-size`.
//! Nothing new is read while an echo is still being written, so a client that never
//! reads holds at most one buffer of server memory (backpressure).
//!
//! Framed mode: read the 8-byte header, then the payload straight into the connection's
//! [`FrameBuf`] (sized from the header, reused while large enough), write the frame back.
//! A frame over `--max-frame`, a buffer that cannot be allocated, or a close in the middle
//! of a frame ends that connection with one (rate-limited) log line. With a workload
//! (`--cpu-work`, `--backend-wait`), each frame's work runs between reading and replying,
//! the wait done with the `sleep` the model passes in; with `--stats-file` each frame's
//! service time is recorded from its first byte read to its last byte written.

use std::future::Future;
use std::io::{self, Read, Write};
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::args::{EchoSettings, Mode};
use crate::conn::ConnGuard;
use crate::frame::FrameBuf;
use crate::readbuf::ReadBuf;
use crate::service;
use crate::work::Workload;

/// Echoes a blocking stream until the client closes it; counts an error that ends it.
/// `sleep` is the model's blocking sleep (for the backend wait). The guard marks the
/// connection open until this returns.
pub fn blocking<S: Read + Write>(
    mut stream: S,
    echo: EchoSettings,
    sleep: impl Fn(Duration),
    _guard: ConnGuard,
) {
    let result = match echo.mode {
        Mode::Raw => raw_blocking(&mut stream, echo.buffer_size),
        Mode::Framed { max_frame } => framed_blocking(&mut stream, max_frame, echo.workload, sleep),
    };
    if let Err(e) = result {
        crate::conn::error(&idle_or(e, echo.idle_timeout));
    }
}

/// `--idle-timeout` for blocking streams is the socket's read timeout (SO_RCVTIMEO, set
/// by the model): a read that times out fails with `WouldBlock` (or `TimedOut`), which
/// is the idle timeout when one is set.
fn idle_or(e: io::Error, idle: Option<Duration>) -> io::Error {
    match idle {
        Some(after)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            crate::conn::idle_timeout(after)
        }
        _ => e,
    }
}

/// Waits for `read`, or fails with the idle timeout once `idle` has passed (the model's
/// own timer, `sleep`). Without `--idle-timeout` it is `read` itself, at no cost.
pub async fn within_idle<T, F>(
    read: impl Future<Output = io::Result<T>>,
    idle: Option<Duration>,
    sleep: impl Fn(Duration) -> F,
) -> io::Result<T>
where
    F: Future,
{
    match idle {
        None => read.await,
        Some(after) => {
            let timeout = async {
                sleep(after).await;
                Err(crate::conn::idle_timeout(after))
            };
            futures_lite::future::or(read, timeout).await
        }
    }
}

fn raw_blocking(stream: &mut (impl Read + Write), buffer_size: usize) -> io::Result<()> {
    let mut buf = ReadBuf::new(buffer_size);
    loop {
        let n = match stream.read(buf.space()) {
            Ok(0) => return Ok(()), // client closed its side; everything was echoed
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(buf.filled(n))?;
        buf.grow_if_full(n);
    }
}

fn framed_blocking(
    stream: &mut (impl Read + Write),
    max_frame: u64,
    workload: Option<Workload>,
    sleep: impl Fn(Duration),
) -> io::Result<()> {
    let mut frame = FrameBuf::new(max_frame);
    loop {
        let header = frame.header_mut();
        let n = match stream.read(&mut header[..]) {
            Ok(0) => return Ok(()), // closed between frames: a clean end
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let started = service::start();
        stream.read_exact(&mut header[n..]).map_err(inside_frame)?;
        frame.start_frame()?;
        stream
            .read_exact(frame.payload_mut())
            .map_err(inside_frame)?;
        if let Some(w) = workload {
            w.run_blocking(&sleep);
        }
        let reply = service::replying(started);
        stream.write_all(frame.frame())?;
        reply.sent();
    }
}

/// Echoes an async (`futures-io`) stream until the client closes it; counts an error
/// that ends it. `sleep` is the runtime's timer (for the backend wait). Buffers are
/// owned by the task across `.await` points.
pub async fn stream<S, F>(
    mut stream: S,
    echo: EchoSettings,
    sleep: impl Fn(Duration) -> F,
    _guard: ConnGuard,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Future,
{
    let result = match echo.mode {
        Mode::Raw => raw_stream(&mut stream, echo.buffer_size, echo.idle_timeout, sleep).await,
        Mode::Framed { max_frame } => {
            framed_stream(
                &mut stream,
                max_frame,
                echo.workload,
                echo.idle_timeout,
                sleep,
            )
            .await
        }
    };
    if let Err(e) = result {
        crate::conn::error(&e);
    }
}

async fn raw_stream<S, F>(
    stream: &mut S,
    buffer_size: usize,
    idle: Option<Duration>,
    sleep: impl Fn(Duration) -> F,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Future,
{
    let mut buf = ReadBuf::new(buffer_size);
    loop {
        let n = within_idle(stream.read(buf.space()), idle, &sleep).await?;
        if n == 0 {
            return Ok(()); // client closed its side; everything was echoed
        }
        stream.write_all(buf.filled(n)).await?;
        buf.grow_if_full(n);
    }
}

async fn framed_stream<S, F>(
    stream: &mut S,
    max_frame: u64,
    workload: Option<Workload>,
    idle: Option<Duration>,
    sleep: impl Fn(Duration) -> F,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Future,
{
    let mut frame = FrameBuf::new(max_frame);
    loop {
        let header = frame.header_mut();
        let n = within_idle(stream.read(&mut header[..]), idle, &sleep).await?;
        if n == 0 {
            return Ok(()); // closed between frames: a clean end
        }
        let started = service::start();
        // Inside a frame too: a client that stalls mid-frame (slowloris) is closed like
        // one that stalls between frames.
        read_exact_within(stream, &mut header[n..], idle, &sleep)
            .await
            .map_err(inside_frame)?;
        frame.start_frame()?;
        read_exact_within(stream, frame.payload_mut(), idle, &sleep)
            .await
            .map_err(inside_frame)?;
        if let Some(w) = workload {
            w.run_async(&sleep).await;
        }
        let reply = service::replying(started);
        stream.write_all(frame.frame()).await?;
        reply.sent();
    }
}

/// `read_exact`, where each read (not the whole frame, which may be large and slow)
/// must come within the idle timeout.
async fn read_exact_within<S, F>(
    stream: &mut S,
    buf: &mut [u8],
    idle: Option<Duration>,
    sleep: impl Fn(Duration) -> F,
) -> io::Result<()>
where
    S: AsyncRead + Unpin,
    F: Future,
{
    if idle.is_none() {
        return stream.read_exact(buf).await;
    }
    let mut done = 0;
    while done < buf.len() {
        match within_idle(stream.read(&mut buf[done..]), idle, &sleep).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => done += n,
        }
    }
    Ok(())
}

/// Names an end of stream inside a frame for what it is: a truncated frame.
pub fn inside_frame(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a frame",
        )
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;
    use crate::frame::header;

    const RAW: EchoSettings = EchoSettings {
        mode: Mode::Raw,
        buffer_size: 4096,
        workload: None,
        idle_timeout: None,
    };
    const FRAMED: EchoSettings = EchoSettings {
        mode: Mode::Framed { max_frame: 1 << 20 },
        buffer_size: 4096,
        workload: None,
        idle_timeout: None,
    };

    fn no_sleep(_: Duration) {}

    async fn no_async_sleep(_: Duration) {}

    fn frames(sizes: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            out.extend_from_slice(&header(len));
            out.extend((0..len).map(|b| (b as usize + i) as u8));
        }
        out
    }

    #[test]
    fn framed_echo_returns_every_frame_whole() {
        let input = frames(&[0, 1, 5000, 0, 70_000, 3]);
        let mut script = Script {
            input: input.clone(),
            pos: 0,
            chunk: 999,
            output: vec![],
        };
        blocking(&mut script, FRAMED, no_sleep, ConnGuard::open());
        assert_eq!(script.output, input);
        let mut script = Script {
            input: input.clone(),
            pos: 0,
            chunk: 3,
            output: vec![],
        };
        futures_lite::future::block_on(stream(
            &mut script,
            FRAMED,
            no_async_sleep,
            ConnGuard::open(),
        ));
        assert_eq!(script.output, input);
    }

    #[test]
    fn framed_echo_stops_at_a_bad_frame_after_echoing_the_good_ones() {
        let good = frames(&[10, 20]);
        for bad in [
            frames(&[2 << 20]),
            frames(&[100])[..50].to_vec(),
            header(5)[..3].to_vec(),
        ] {
            let mut input = good.clone();
            input.extend_from_slice(&bad);
            let before = crate::conn::counts().2;
            let mut script = Script {
                input,
                pos: 0,
                chunk: 64,
                output: vec![],
            };
            blocking(&mut script, FRAMED, no_sleep, ConnGuard::open());
            assert_eq!(script.output, good);
            assert!(
                crate::conn::counts().2 > before,
                "the bad frame is counted as an error"
            );
        }
    }

    /// A stream that yields `input` in `chunk`-sized reads and records what is written.
    struct Script {
        input: Vec<u8>,
        pos: usize,
        chunk: usize,
        output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.input.len() - self.pos);
            buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn blocking_echo_returns_every_byte_in_order() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut script = Script {
            input: input.clone(),
            pos: 0,
            chunk: 777,
            output: vec![],
        };
        blocking(&mut script, RAW, no_sleep, ConnGuard::open());
        assert_eq!(script.output, input);
    }

    /// The async twin of [`Script`].
    impl AsyncRead for Script {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Read::read(self.get_mut(), buf))
        }
    }

    impl AsyncWrite for Script {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Write::write(self.get_mut(), buf))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn async_echo_returns_every_byte_in_order() {
        let input: Vec<u8> = (0..50_000u32).map(|i| (i * 13) as u8).collect();
        let mut script = Script {
            input: input.clone(),
            pos: 0,
            chunk: 1000,
            output: vec![],
        };
        futures_lite::future::block_on(stream(&mut script, RAW, no_async_sleep, ConnGuard::open()));
        assert_eq!(script.output, input);
    }
}
