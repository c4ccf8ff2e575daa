//! The echolab conformance suite: the same cases run against every server binary
//! (`tests/conformance.rs`), plus the client-side helpers those cases share.
//!
//! Run: `cargo test -p conformance` (one model: `cargo test -p conformance epoll::`).
//! The suite starts the real binaries Cargo builds, each on port 0, and asserts
//! behaviour only: byte-exact echo, concurrency, half-close, resets, backpressure,
//! signals and bad input. It never asserts speed.

pub mod faults;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a test client waits for any single read or write before failing the case.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The byte at offset `i` of a long pattern stream: lets a test check megabytes of echo
/// without keeping a copy of what it sent.
pub fn pattern_byte(i: u64) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16)).wrapping_mul(31) as u8
}

/// Connects with the suite's timeouts set.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `data` in pieces of random length (1 byte up to `max_piece`).
pub fn write_in_random_splits(
    mut w: impl Write,
    data: &[u8],
    rng: &mut Rng,
    max_piece: usize,
) -> io::Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        let piece = rng.range(1, max_piece.min(data.len() - sent));
        w.write_all(&data[sent..sent + piece])?;
        sent += piece;
    }
    Ok(())
}

/// Reads until end of stream.
pub fn read_to_end(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    r.read_to_end(&mut got)?;
    Ok(got)
}

/// Closes `stream` with a reset (SO_LINGER 0) instead of an orderly FIN.
pub fn reset(stream: TcpStream) -> io::Result<()> {
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    drop(stream);
    Ok(())
}

/// Where a server's stderr can go that no write succeeds on: `/dev/full` (every write fails
/// with ENOSPC) and `closed pipe` (a pipe whose read end is closed: EPIPE).
pub const UNWRITABLE_STDERR: [&str; 2] = ["/dev/full", "closed pipe"];

/// A server's stderr of one of the [`UNWRITABLE_STDERR`] kinds.
pub fn unwritable_stderr(kind: &str) -> io::Result<std::process::Stdio> {
    if kind == "/dev/full" {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
        return Ok(full.into());
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just made and are owned here; the read end is closed at once.
    let (read, write) = unsafe {
        use std::os::fd::{FromRawFd, OwnedFd};
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    drop(read);
    Ok(write.into())
}

/// Connections that complete on `addr` when tried back to back for 100 ms (at most 300):
/// after a server has exited, any at all means its port still completed handshakes (a
/// listener kept alive by an accept pending in an io_uring, say).
pub fn connections_completing(addr: SocketAddr) -> usize {
    let started = std::time::Instant::now();
    let mut completed = 0;
    for _ in 0..300 {
        if started.elapsed() > Duration::from_millis(100) {
            break;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            completed += 1;
        }
    }
    completed
}
