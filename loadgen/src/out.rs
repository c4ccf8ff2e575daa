//! loadgen's own output, which never stops a run: progress and summary lines go to stdout
//! through [`Lenient`], warnings to stderr through [`warn`], and a write that fails is
//! dropped on purpose rather than panicking (`println!`) or aborting a bench an hour in
//! (`?`). `loadgen bench ... | head` reads the first lines and closes the pipe; the bench
//! carries on and its raw.json, the data, is written as ever.

use std::fmt;
use std::io::{self, Write};

/// Writes one line to stderr; a line that cannot be written is dropped (a closed pipe, a
/// full disk), never a panic: a signal handler that warns must still go on to stop.
pub fn warn(line: fmt::Arguments) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A writer that passes everything on until a write fails, then drops the rest: it never
/// returns an error (an interrupted write is retried).
pub struct Lenient<W: Write> {
    inner: W,
    lost: Option<io::Error>,
}

impl<W: Write> Lenient<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Lenient<W> {
        Lenient { inner, lost: None }
    }

    /// The error that ended the output, if one did.
    pub fn lost(&self) -> Option<&io::Error> {
        self.lost.as_ref()
    }

    /// One line on stderr when the output was lost other than by its reader leaving
    /// (`| head` closing the pipe is the reader's choice and needs no word): true then.
    pub fn report_loss(&self) -> bool {
        match &self.lost {
            Some(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                warn(format_args!(
                    "loadgen: standard output could not be written ({e}); the rest of it was dropped"
                ));
                true
            }
            _ => false,
        }
    }
}

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.lost.is_some() {
            return Ok(buf.len());
        }
        loop {
            match self.inner.write(buf) {
                Ok(0) if !buf.is_empty() => {
                    self.lost = Some(io::ErrorKind::WriteZero.into());
                    return Ok(buf.len());
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.lost = Some(e);
                    return Ok(buf.len());
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.lost.is_none()
            && let Err(e) = self.inner.flush()
        {
            self.lost = Some(e);
        }
        Ok(())
    }
}

/// Fails early, before any load or work, when an output file (`--json`, `--csv`, `--html`)
/// cannot be written: opens it for appending, creating it, and closes it again.
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails as a pipe whose reader has gone.
    struct Closing {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_after_the_reader_left_is_dropped_without_an_error() {
        let mut out = Lenient::new(Closing {
            room: 10,
            got: Vec::new(),
        });
        writeln!(out, "first line").unwrap();
        writeln!(out, "second line, nobody reads it").unwrap();
        out.flush().unwrap();
        assert_eq!(out.inner.got, b"first line");
        assert_eq!(
            out.lost().map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
        // The reader's choice: no word on stderr.
        assert!(!out.report_loss());
        let mut full = Lenient::new(io::sink());
        full.lost = Some(io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(full.report_loss());
    }
}
