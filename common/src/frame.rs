//! Framed mode (`--framed`): each message is an 8-byte big-endian length, then that many
//! bytes; the reply is the same frame.
//!
//! The payload is read straight into one buffer sized from the header (no chunk list, no
//! concatenation) and the buffer is reused for the next frame whenever it is large
//! enough, so a server allocates only when a frame is larger than any before it. Header
//! and payload sit side by side, so the reply leaves in one write.

use std::io;

use thiserror::Error;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;

/// A frame the server will not take; the connection that sent it is closed.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("frame of {len} bytes is over --max-frame {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("cannot allocate a {len}-byte frame buffer")]
    NoMemory { len: u64 },
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> io::Error {
        let kind = match e {
            FrameError::TooLarge { .. } => io::ErrorKind::InvalidData,
            FrameError::NoMemory { .. } => io::ErrorKind::OutOfMemory,
        };
        io::Error::new(kind, e)
    }
}

/// The header for a payload of `len` bytes.
pub fn header(len: u64) -> [u8; HEADER_LEN] {
    len.to_be_bytes()
}

/// One connection's frame buffer: `[header | payload]`, grown only when a frame is larger
/// than every frame before it, never shrunk, never allocated per frame.
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    max_frame: u64,
    len: usize,
}

impl FrameBuf {
    /// An empty buffer that refuses payloads over `max_frame` bytes.
    pub fn new(max_frame: u64) -> FrameBuf {
        FrameBuf {
            buf: vec![0; HEADER_LEN],
            max_frame,
            len: 0,
        }
    }

    /// Where the next header is read to.
    pub fn header_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..HEADER_LEN]
    }

    /// Reads the header in place, checks it, and makes room for the payload. Returns the
    /// payload length. A failed allocation is an error for this connection, not a crash.
    pub fn start_frame(&mut self) -> Result<usize, FrameError> {
        let mut raw = [0u8; HEADER_LEN];
        raw.copy_from_slice(&self.buf[..HEADER_LEN]);
        let len = u64::from_be_bytes(raw);
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        // A length the address space cannot hold (possible only with a --max-frame
        // beyond what the flags accept, but FrameBuf is public) is out of memory, not
        // an overflow (found by fuzz/frame_header).
        let total = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(HEADER_LEN))
            .ok_or(FrameError::NoMemory { len })?;
        if self.buf.len() < total {
            self.buf
                .try_reserve_exact(total - self.buf.len())
                .map_err(|_| FrameError::NoMemory { len })?;
            // Zero-filled once, when the buffer grows; reused as-is afterwards.
            self.buf.resize(total, 0);
        }
        self.len = len as usize;
        Ok(self.len)
    }

    /// The payload of the current frame, to read into.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[HEADER_LEN..HEADER_LEN + self.len]
    }

    /// The whole current frame (header and payload), to write back.
    pub fn frame(&self) -> &[u8] {
        &self.buf[..HEADER_LEN + self.len]
    }

    /// Bytes the buffer holds now (its high-water mark).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of the current frame, header included (the reply's length).
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.len
    }

    /// Takes the whole buffer out, for runtimes that own a buffer while the kernel reads
    /// into it or writes from it (completion-based: compio). Header at `..HEADER_LEN`,
    /// the current payload after it; every byte is initialised. Give it back with
    /// [`FrameBuf::put_back`] before calling anything else on this `FrameBuf`.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Puts back the buffer [`FrameBuf::take`] took out.
    pub fn put_back(&mut self, buf: Vec<u8>) {
        debug_assert!(buf.len() >= HEADER_LEN);
        self.buf = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(buf: &mut FrameBuf, len: u64) -> Result<usize, FrameError> {
        buf.header_mut().copy_from_slice(&header(len));
        buf.start_frame()
    }

    #[test]
    fn grows_only_for_larger_frames() {
        let mut buf = FrameBuf::new(1 << 20);
        assert_eq!(frame_of(&mut buf, 1000).unwrap(), 1000);
        buf.payload_mut().fill(7);
        assert_eq!(buf.frame().len(), 1008);
        assert_eq!(&buf.frame()[..8], &header(1000));
        let grown = buf.capacity();
        let ptr = buf.frame().as_ptr();
        assert_eq!(frame_of(&mut buf, 10).unwrap(), 10);
        assert_eq!(frame_of(&mut buf, 1000).unwrap(), 1000);
        assert_eq!(
            buf.capacity(),
            grown,
            "a frame that fits must not grow the buffer"
        );
        assert_eq!(buf.frame().as_ptr(), ptr, "nor move it");
        assert_eq!(frame_of(&mut buf, 0).unwrap(), 0);
        assert_eq!(buf.frame(), &header(0));
    }

    #[test]
    fn refuses_frames_over_the_limit() {
        let mut buf = FrameBuf::new(100);
        assert_eq!(frame_of(&mut buf, 100).unwrap(), 100);
        assert!(matches!(
            frame_of(&mut buf, 101),
            Err(FrameError::TooLarge { len: 101, .. })
        ));
        assert!(matches!(
            frame_of(&mut buf, u64::MAX),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_length_near_u64_max_is_refused_not_overflowed() {
        let mut buf = FrameBuf::new(u64::MAX);
        for len in [u64::MAX, u64::MAX - 7, u64::MAX - 8] {
            let err = frame_of(&mut buf, len).unwrap_err();
            assert!(matches!(err, FrameError::NoMemory { .. }), "{len}: {err}");
        }
        assert_eq!(frame_of(&mut buf, 3).unwrap(), 3);
    }

    #[test]
    fn an_impossible_allocation_is_an_error_not_an_abort() {
        let mut buf = FrameBuf::new(u64::MAX);
        let err = frame_of(&mut buf, 1 << 62).unwrap_err();
        assert!(matches!(err, FrameError::NoMemory { .. }), "{err}");
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::OutOfMemory);
    }
}
