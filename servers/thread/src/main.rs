//! echo-thread: blocking I/O, one OS thread per connection - the classic threaded server
//! (Python's `socketserver.ThreadingTCPServer`, Java's thread-per-request).
//!
//! Run: `make run-server MODEL=thread`, then `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - Each connection gets its own thread with a small stack ([`STACK_SIZE`]); the kernel
//!   schedules them preemptively and a blocked `read` or `write` parks only that thread.
//!   With 64 KiB stacks (of which a few KiB are ever touched) ~19k connections fit.
//! - The read buffer lives on the heap, one per connection, so the stack stays small.
//! - Backpressure is free: `write_all` blocks until the client reads, and nothing more is
//!   read meanwhile (the loop is `common::echo::blocking`, shared with echo-may).
//! - `--threads N` sets how many threads block in `accept()` on the shared listener.
//! - `--idle-timeout` is the socket's read timeout (SO_RCVTIMEO): the blocked `read`
//!   itself gives up, no timer thread is involved.
//! - The backend wait of framed mode's workload is a plain blocking sleep: the kernel
//!   runs other threads meanwhile, preemptively, also while one spins its CPU work.

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use common::limit::Gate;
use common::{Config, ConnGuard, EchoSettings};

/// Stack per connection thread: the echo loop needs a few KiB; the buffer is on the heap.
const STACK_SIZE: usize = 64 << 10;

common::count_allocations!();

fn main() -> ExitCode {
    common::run("thread", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let listener = Arc::new(common::net::bind(config.addr, config.reuse_port)?);
    common::ready(listener.local_addr()?, config.threads);
    let gate = config.max_conns.map(Gate::new);
    let acceptors: Vec<_> = (0..config.threads)
        .map(|_| {
            let listener = Arc::clone(&listener);
            let gate = gate.clone();
            std::thread::spawn(move || accept_loop(&listener, config.echo, gate))
        })
        .collect();
    for acceptor in acceptors {
        acceptor
            .join()
            .map_err(|_| anyhow::anyhow!("an accepting thread panicked"))?;
    }
    Ok(())
}

fn accept_loop(listener: &TcpListener, echo: EchoSettings, gate: Option<Arc<Gate>>) {
    loop {
        // Under --max-conns, wait for a free place before accepting.
        let pass = gate.as_ref().map(Gate::enter);
        match listener.accept() {
            Ok((stream, _peer)) => {
                let guard = ConnGuard::open();
                // --idle-timeout is the socket's read timeout: a blocked read gives up.
                if let Err(e) = stream.set_read_timeout(echo.idle_timeout) {
                    common::conn::error(&e);
                    continue;
                }
                let spawned = std::thread::Builder::new()
                    .stack_size(STACK_SIZE)
                    .spawn(move || {
                        let _pass = pass;
                        common::echo::blocking(stream, echo, std::thread::sleep, guard)
                    });
                // Out of threads or memory: this connection is dropped (closed), counted,
                // and the server goes on with the others.
                if let Err(e) = spawned {
                    common::conn::error(&e);
                }
            }
            Err(e) => std::thread::sleep(common::net::accept_failed(&e)),
        }
    }
}
