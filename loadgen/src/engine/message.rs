//! The bytes every user sends and expects back: an optional 8-byte length header and a
//! payload from one repeating pattern, so that each user's message differs from its
//! neighbours' and a byte delivered to the wrong connection is caught.
//!
//! The payload is never built whole: byte `p` of user `g`'s payload is `(g + p) % 251`, so
//! any run of it is a slice of one short pattern (at most [`WINDOW`] plus a period long)
//! starting at `(g + p) % 251`. A 100 MiB message costs 1 MiB of memory, and both the
//! writes and the check read that same megabyte, which stays in cache.

use std::io::{self, IoSlice, Write};

/// Payload bytes cycle with this period; user `g` starts at offset `g % PERIOD`, so two users'
/// messages differ and a byte delivered to the wrong connection is caught. 251 is prime, so
/// no power-of-two chunk size lines up with it: a chunk lost, repeated or moved by anything
/// but a multiple of 251 bytes leaves the bytes after it out of step and fails the check.
pub const PERIOD: usize = 251;

/// Most payload bytes one write sends and one comparison covers.
pub const WINDOW: usize = 1 << 20;

/// The bytes every user sends: an optional 8-byte length header and a payload window into one
/// shared pattern.
#[derive(Debug)]
pub struct Message {
    header: Vec<u8>,
    pattern: Vec<u8>,
    size: usize,
}

impl Message {
    /// A message of `size` payload bytes, framed or raw.
    pub fn new(size: usize, framed: bool) -> Message {
        let header = if framed {
            (size as u64).to_be_bytes().to_vec()
        } else {
            Vec::new()
        };
        let pattern = (0..size.min(WINDOW) + PERIOD)
            .map(|i| (i % PERIOD) as u8)
            .collect();
        Message {
            header,
            pattern,
            size,
        }
    }

    /// Bytes on the wire per message, header included (never 0).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.header.len() + self.size
    }

    /// Payload bytes `p..` of user-offset `offset`'s message, at most [`WINDOW`] of them.
    fn payload_from(&self, offset: usize, p: usize) -> &[u8] {
        let start = (offset + p) % PERIOD;
        let n = (self.size - p).min(WINDOW);
        &self.pattern[start..start + n]
    }

    /// Writes from position `pos` of user-offset `offset`'s message; one syscall.
    pub(crate) fn write_from(
        &self,
        w: &mut impl Write,
        offset: usize,
        pos: usize,
    ) -> io::Result<usize> {
        let h = self.header.len();
        if pos < h {
            w.write_vectored(&[
                IoSlice::new(&self.header[pos..]),
                IoSlice::new(self.payload_from(offset, 0)),
            ])
        } else {
            w.write(self.payload_from(offset, pos - h))
        }
    }

    /// True when `data` equals the message's bytes at `pos..`: every byte is compared, the
    /// header's and the payload's (a `memcmp` against the cached pattern, far cheaper than
    /// the `recv` that brought the bytes in).
    pub fn matches(&self, offset: usize, pos: usize, data: &[u8]) -> bool {
        let h = self.header.len();
        let mut data = data;
        let mut pos = pos;
        if pos < h {
            let n = (h - pos).min(data.len());
            if data[..n] != self.header[pos..pos + n] {
                return false;
            }
            data = &data[n..];
            pos += n;
        }
        let mut p = pos - h;
        if p + data.len() > self.size {
            return false; // bytes past the end of the message
        }
        while !data.is_empty() {
            let expected = self.payload_from(offset, p);
            let n = expected.len().min(data.len());
            if data[..n] != expected[..n] {
                return false;
            }
            data = &data[n..];
            p += n;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole message as bytes, written the way a user writes it.
    fn wire(m: &Message, offset: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        let mut pos = 0;
        while pos < m.len() {
            pos += m.write_from(&mut wire, offset, pos).unwrap();
        }
        wire
    }

    #[test]
    fn messages_check_every_byte() {
        let m = Message::new(1000, true);
        assert_eq!(m.len(), 1008);
        let wire = wire(&m, 7);
        assert_eq!(&wire[..8], &1000u64.to_be_bytes());
        assert!(m.matches(7, 0, &wire));
        assert!(m.matches(7, 5, &wire[5..20]));
        assert!(!m.matches(8, 0, &wire), "another user's payload differs");
        let mut bad = wire.clone();
        bad[500] ^= 1;
        assert!(!m.matches(7, 0, &bad));
        assert!(
            !m.matches(7, 1000, &wire[..20]),
            "bytes past the end are wrong"
        );
    }

    #[test]
    fn large_messages_are_written_and_checked_in_windows() {
        let size = 3 * WINDOW + 12_345;
        let m = Message::new(size, true);
        assert!(
            m.pattern.len() <= WINDOW + PERIOD,
            "the pattern stays small"
        );
        let wire = wire(&m, 200);
        assert_eq!(wire.len(), size + 8);
        let expected: Vec<u8> = (0..size).map(|p| ((200 + p) % PERIOD) as u8).collect();
        assert_eq!(&wire[8..], &expected[..], "byte p is (offset + p) % 251");
        assert!(m.matches(200, 0, &wire));
        // Any split of the echo into reads checks the same.
        let mut pos = 0;
        for chunk in wire.chunks(300_007) {
            assert!(m.matches(200, pos, chunk), "at {pos}");
            pos += chunk.len();
        }
        // One flipped byte anywhere, a chunk dropped or repeated: caught.
        let mut bad = wire.clone();
        bad[2 * WINDOW + 77] ^= 0x40;
        assert!(!m.matches(200, 0, &bad));
        let mut dropped = wire[..WINDOW].to_vec();
        dropped.extend_from_slice(&wire[WINDOW + 4096..]);
        assert!(!m.matches(200, 0, &dropped[..wire.len() - 5000]));
        let mut repeated = wire[..WINDOW + 65_536].to_vec();
        repeated.extend_from_slice(&wire[WINDOW..]);
        assert!(!m.matches(200, 0, &repeated[..wire.len()]));
    }
}
