//! A connection's own raw-mode read buffer, for the models where each connection (thread,
//! coroutine or task) holds one across its reads: it starts at one page and doubles
//! whenever a read fills it, up to `--buffer-size`.
//!
//! Why not `vec![0; buffer_size]` at once: at the 64 KiB default that buffer is zeroed
//! (and every page of it faulted in) before the first byte arrives. Measured here at
//! 60,000 connections (4 echo-tokio processes on one CPU, 64 B ping-pong), clearing those
//! pages was 58% of the server's CPU time (`clear_page_erms` under glibc's `memset`),
//! so the first echoes reached the last connections after loadgen's 5 s read timeout.
//! Models that share one buffer per loop (epoll, tokio-callback) or pooled buffers (uring)
//! never paid it. compio hands the kernel a `Vec`'s uninitialised capacity (owned buffers)
//! and grows that capacity by the same rule ([`grown`]), so that 1,000 connections do not
//! each hold 64 KiB from their first byte.
//!
//! A connection that once received a burst keeps its larger buffer: shrinking it again
//! would trade a reallocation per burst for memory the connection has shown it uses.

/// Bytes a connection's buffer starts with: one page.
pub const FIRST: usize = 4096;

/// The size a buffer of `size` bytes has after a read of `n` bytes into it: double when
/// the read filled it (more was probably waiting), up to `max`; the same otherwise.
pub fn grown(size: usize, n: usize, max: usize) -> usize {
    if n >= size && size < max {
        (size * 2).min(max)
    } else {
        size
    }
}

/// A read buffer that grows from [`FIRST`] bytes to `max` as reads fill it.
#[derive(Debug)]
pub struct ReadBuf {
    buf: Vec<u8>,
    max: usize,
}

impl ReadBuf {
    /// A buffer of [`FIRST`] bytes (or `max`, when that is smaller) that may grow to `max`.
    pub fn new(max: usize) -> ReadBuf {
        let max = max.max(1);
        ReadBuf {
            buf: vec![0; FIRST.min(max)],
            max,
        }
    }

    /// Where the next read goes: the whole buffer.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The first `n` bytes, just read.
    pub fn filled(&self, n: usize) -> &[u8] {
        &self.buf[..n]
    }

    /// Records that a read returned `n` bytes: one that filled the buffer doubles it
    /// (up to `max`), since more was probably waiting. Call after the bytes are echoed.
    pub fn grow_if_full(&mut self, n: usize) {
        let len = grown(self.buf.len(), n, self.max);
        if len > self.buf.len() {
            self.buf.resize(len, 0);
        }
    }

    /// The buffer's size now.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Never true: a buffer holds at least one byte.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_page_or_at_the_cap() {
        assert_eq!(ReadBuf::new(65536).len(), FIRST);
        assert_eq!(ReadBuf::new(100).len(), 100);
        assert_eq!(ReadBuf::new(0).len(), 1);
    }

    #[test]
    fn doubles_on_a_full_read_up_to_the_cap() {
        let mut b = ReadBuf::new(20_000);
        b.grow_if_full(100);
        assert_eq!(b.len(), 4096, "a short read leaves it");
        let sizes: Vec<usize> = (0..4)
            .map(|_| {
                let n = b.len();
                b.grow_if_full(n);
                b.len()
            })
            .collect();
        assert_eq!(sizes, [8192, 16384, 20_000, 20_000]);
    }

    #[test]
    fn growing_keeps_what_was_read() {
        let mut b = ReadBuf::new(1 << 16);
        b.space().fill(7);
        b.grow_if_full(FIRST);
        assert!(b.filled(FIRST).iter().all(|&x| x == 7));
    }
}
