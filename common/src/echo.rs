//! The raw echo loop, written once for every model whose streams share a trait: blocking
//! `std::io` streams (OS threads, may's coroutines) and `futures-io` streams (async-std,
//! smol, glommio). tokio has its own I/O traits, so its servers keep their own loop of
//! the same shape.
//!
//! The loop: read up to one buffer, write all of it back, repeat; stop at end of stream.
//! Nothing new is read while an echo is still being written, so a client that never
//! reads holds at most one buffer of server memory (backpressure).

use std::io::{self, Read, Write};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ConnGuard;

/// Echoes a blocking stream until the client closes it; counts an error that ends it.
/// The guard marks the connection open until this returns.
pub fn blocking<S: Read + Write>(mut stream: S, buffer_size: usize, _guard: ConnGuard) {
    let mut buf = vec![0u8; buffer_size];
    let result = (|| -> io::Result<()> {
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => return Ok(()), // client closed its side; everything was echoed
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            stream.write_all(&buf[..n])?;
        }
    })();
    if let Err(e) = result {
        crate::conn::error(&e);
    }
}

/// Echoes an async (`futures-io`) stream until the client closes it; counts an error
/// that ends it. The buffer is owned by the task across `.await` points.
pub async fn stream<S>(mut stream: S, buffer_size: usize, _guard: ConnGuard)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; buffer_size];
    let result = async {
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(()); // client closed its side; everything was echoed
            }
            stream.write_all(&buf[..n]).await?;
        }
    };
    if let Err(e) = result.await {
        crate::conn::error(&e);
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

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
        blocking(&mut script, 4096, ConnGuard::open());
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
        futures_lite::future::block_on(stream(&mut script, 4096, ConnGuard::open()));
        assert_eq!(script.output, input);
    }
}
