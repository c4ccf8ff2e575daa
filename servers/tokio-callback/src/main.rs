//! echo-tokio-callback: protocol callbacks over a transport - the asyncio `Protocol` /
//! Twisted style - driven by tokio's readiness events instead of async streams.
//!
//! Run: `make run-server MODEL=tokio-callback`, then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - The application is a [`Protocol`]: plain synchronous callbacks
//!   (`connection_made`, `data_received`, `eof_received`, `connection_lost`) that write to
//!   a [`Transport`]. Only the driver below awaits anything.
//! - Because `data_received` runs to completion, the read buffer is never held across an
//!   `.await`: one buffer per worker thread serves every connection, and a connection
//!   owns only the bytes its transport could not send yet.
//! - Backpressure as in asyncio's flow control: while the transport holds unsent bytes,
//!   the driver stops reading from that connection and waits until it is writable.
//! - `--threads 1` uses tokio's current-thread runtime, `--threads N` N workers.

use std::cell::RefCell;
use std::io;
use std::process::ExitCode;

use common::{Config, ConnGuard};
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};

/// The application side of a connection, called by the driver as events happen.
trait Protocol {
    /// The connection is established; `transport` is how to write to it.
    fn connection_made(&mut self, _transport: &mut Transport) {}
    /// Some bytes arrived (any amount: a message may come in pieces).
    fn data_received(&mut self, data: &[u8], transport: &mut Transport);
    /// The client closed its side. By default, close ours once everything is sent.
    fn eof_received(&mut self, transport: &mut Transport) {
        transport.close();
    }
    /// The connection is gone: `None` after an orderly close, else the error.
    fn connection_lost(&mut self, _error: Option<&io::Error>) {}
}

/// The echo protocol: everything received is written back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8], transport: &mut Transport) {
        transport.write(data);
    }
}

/// Writing side of a connection. `write` never blocks: what the socket does not take now
/// is kept and sent when the socket becomes writable.
struct Transport {
    stream: TcpStream,
    unsent: Vec<u8>,
    closing: bool,
    error: Option<io::Error>,
}

impl Transport {
    /// Sends `data` now if the socket takes it, else keeps the rest for later.
    fn write(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let mut rest = data;
        if self.unsent.is_empty() {
            match self.stream.try_write(data) {
                Ok(n) => rest = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        self.unsent.extend_from_slice(rest);
    }

    /// Closes the connection once every written byte has been sent.
    fn close(&mut self) {
        self.closing = true;
    }

    /// Sends as much of the kept bytes as the socket takes now.
    fn flush(&mut self) -> io::Result<()> {
        match self.stream.try_write(&self.unsent) {
            Ok(n) => {
                self.unsent.drain(..n);
                if self.unsent.is_empty() {
                    self.unsent = Vec::new(); // only unsent bytes are kept per connection
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

thread_local! {
    /// The read buffer of this worker thread, shared by all its connections.
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn main() -> ExitCode {
    common::run("tokio-callback", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let listener = common::net::bind(config.addr, config.reuse_port)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        common::ready(listener.local_addr()?, config.threads);
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    let guard = ConnGuard::open();
                    tokio::spawn(drive(stream, Echo, config.buffer_size, guard));
                }
                Err(e) => tokio::time::sleep(common::net::accept_failed(&e)).await,
            }
        }
    })
}

/// Turns readiness events into protocol callbacks until the connection ends.
async fn drive(stream: TcpStream, mut protocol: impl Protocol, buffer_size: usize, _g: ConnGuard) {
    let mut transport = Transport {
        stream,
        unsent: Vec::new(),
        closing: false,
        error: None,
    };
    protocol.connection_made(&mut transport);
    let result = run_transport(&mut transport, &mut protocol, buffer_size).await;
    if let Err(e) = &result {
        common::conn::error(e);
    }
    protocol.connection_lost(result.as_ref().err());
}

async fn run_transport(
    t: &mut Transport,
    protocol: &mut impl Protocol,
    buffer_size: usize,
) -> io::Result<()> {
    loop {
        if let Some(e) = t.error.take() {
            return Err(e);
        }
        if !t.unsent.is_empty() {
            // Reading is paused until the client has taken what it is owed.
            t.stream.writable().await?;
            t.flush()?;
            continue;
        }
        if t.closing {
            return Ok(());
        }
        t.stream.readable().await?;
        let read = READ_BUF.with_borrow_mut(|buf| {
            buf.resize(buffer_size, 0);
            let n = match t.stream.try_read(buf) {
                Ok(0) => {
                    protocol.eof_received(t);
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) => return Err(e),
            };
            if n < buf.len() {
                // A short read drained the socket: forget the readiness now, as tokio's
                // own streams do, instead of paying for a read that would block.
                let _ = t.stream.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
            }
            protocol.data_received(&buf[..n], t);
            Ok(())
        });
        match read {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // spurious wake-up
            Err(e) => return Err(e),
        }
    }
}
