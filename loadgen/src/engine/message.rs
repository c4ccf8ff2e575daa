//! The bytes every user sends and expects back: an optional 8-byte length header and a
//! window into one shared payload pattern, so that each user's message differs from its
//! neighbours' and a byte delivered to the wrong connection is caught.

use std::io::{self, IoSlice, Write};

/// Payload bytes cycle with this period; user `g` starts at offset `g % PERIOD`, so two users'
/// messages differ and a byte delivered to the wrong connection is caught.
pub const PERIOD: usize = 251;

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
        let pattern = (0..size + PERIOD).map(|i| (i % PERIOD) as u8).collect();
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

    fn payload(&self, offset: usize) -> &[u8] {
        &self.pattern[offset..offset + self.size]
    }

    /// Writes from position `pos` of user-offset `offset`'s message; one syscall.
    pub(super) fn write_from(
        &self,
        w: &mut impl Write,
        offset: usize,
        pos: usize,
    ) -> io::Result<usize> {
        let payload = self.payload(offset);
        let h = self.header.len();
        if pos < h {
            w.write_vectored(&[IoSlice::new(&self.header[pos..]), IoSlice::new(payload)])
        } else {
            w.write(&payload[pos - h..])
        }
    }

    /// True when `data` equals the message's bytes at `pos..`.
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
        let payload = self.payload(offset);
        let start = pos - h;
        start + data.len() <= payload.len() && data == &payload[start..start + data.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_check_every_byte() {
        let m = Message::new(1000, true);
        assert_eq!(m.len(), 1008);
        let mut wire = Vec::new();
        let mut pos = 0;
        while pos < m.len() {
            pos += m.write_from(&mut wire, 7, pos).unwrap();
        }
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
}
