//! Framed mode's header and parser (common::frame) and the shared framed echo loop
//! (common::echo) on arbitrary bytes: the first 8 bytes pick --max-frame, the rest is
//! what a client sends. Nothing may panic; what comes back must be the leading run of
//! whole, valid frames of the input, byte for byte.

#![no_main]

use std::io::{self, Read, Write};
use std::time::Duration;

use common::frame::{FrameBuf, HEADER_LEN, header};
use common::{ConnGuard, EchoSettings, Mode};
use libfuzzer_sys::fuzz_target;

/// A client that sends `input` in pieces of `chunk` bytes and records the replies.
struct Client<'a> {
    input: &'a [u8],
    chunk: usize,
    output: Vec<u8>,
}

impl Read for Client<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Client<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The whole frames at the start of `input` that are at most `max` long.
fn expected(mut input: &[u8], max: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while input.len() >= HEADER_LEN {
        let len = u64::from_be_bytes(input[..HEADER_LEN].try_into().unwrap());
        if len > max || len > (input.len() - HEADER_LEN) as u64 {
            break;
        }
        let end = HEADER_LEN + len as usize;
        out.extend_from_slice(&input[..end]);
        input = &input[end..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    // Any --max-frame, even ones the flags refuse (FrameBuf is a public type); kept
    // small enough most of the time that frames are accepted and echoed.
    let raw_max = u64::from_be_bytes(data[..8].try_into().unwrap());
    let max = if raw_max & 1 == 0 { raw_max % 4096 } else { raw_max };
    let chunk = 1 + data[8] as usize % 64;
    let input = &data[9..];

    // The parser alone: a header, checked, and room made. Lengths from 1 GiB up to
    // isize::MAX are left to common's unit tests: there the allocation itself is tried,
    // and under AddressSanitizer a refused one aborts instead of returning an error.
    let len = input
        .get(..HEADER_LEN)
        .map(|h| u64::from_be_bytes(h.try_into().unwrap()));
    if len.is_some_and(|len| len <= 1 << 30 || len > isize::MAX as u64) {
        let mut buf = FrameBuf::new(max);
        buf.header_mut().copy_from_slice(&input[..HEADER_LEN]);
        if let Ok(len) = buf.start_frame() {
            assert_eq!(buf.payload_mut().len(), len);
            assert_eq!(&buf.frame()[..HEADER_LEN], &header(len as u64));
        }
    }

    // The echo loop, as a server runs it, only for lengths it can hold in memory.
    if max > 1 << 20 {
        return;
    }
    let echo = EchoSettings {
        mode: Mode::Framed { max_frame: max },
        buffer_size: 4096,
        workload: None,
        idle_timeout: None,
    };
    let mut client = Client {
        input,
        chunk,
        output: Vec::new(),
    };
    common::echo::blocking(&mut client, echo, |_: Duration| {}, ConnGuard::open());
    assert_eq!(client.output, expected(input, max));
});
