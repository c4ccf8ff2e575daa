//! echo-may: stackful coroutines, one per connection (may) - gevent's model in Rust.
//!
//! Run: `make run-server MODEL=may`, then `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - The code is blocking-style, exactly like echo-thread (the loop is the same
//!   `common::echo::blocking`), but each connection is a coroutine with its own small
//!   stack, switched in user space when its socket would block; may's epoll-based
//!   scheduler runs them on `--threads` worker threads.
//! - The backend wait is may's coroutine sleep; `--max-conns` is may's semaphore (a
//!   std one would block the worker thread under the coroutines).
//! - Coroutine stacks are [`STACK_WORDS`] machine words; the read buffer is on the heap.
//! - may pins its workers to CPUs 0..N by default; that is turned off so `--pin` (applied
//!   to the whole process before may starts) decides placement, as for every model.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::process::ExitCode;
use std::sync::Arc;

use common::{Config, ConnGuard};
use may::net::TcpListener;
use may::sync::Semphore;

/// Coroutine stack size, in words (may's unit): 4096 words = 32 KiB on 64-bit machines.
const STACK_WORDS: usize = 0x1000;

common::count_allocations!();

fn main() -> ExitCode {
    common::run("may", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    may::config()
        .set_workers(config.threads)
        .set_stack_size(STACK_WORDS)
        .set_worker_pin(false);
    let listener = common::net::bind(config.addr, config.reuse_port)?;
    // SAFETY: the descriptor is a listening socket whose ownership moves to may.
    let listener = unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) };
    common::ready(listener.local_addr()?, config.threads);
    let echo = config.echo;
    let gate = config.max_conns.map(|n| Arc::new(Semphore::new(n)));
    // SAFETY (may's contract for `go!`): the coroutines neither touch thread-local
    // storage across blocking points nor block the worker thread with non-may calls.
    let acceptor = may::go!(move || {
        loop {
            // Under --max-conns, wait (as a coroutine) for a free place before accepting.
            if let Some(gate) = &gate {
                gate.wait();
            }
            match listener.accept() {
                Ok((stream, _peer)) => {
                    let guard = ConnGuard::open();
                    let gate = gate.clone();
                    may::go!(move || {
                        // --idle-timeout: may's own read timeout, a timer in its scheduler
                        // that wakes the parked coroutine.
                        match stream.set_read_timeout(echo.idle_timeout) {
                            Ok(()) => {
                                common::echo::blocking(stream, echo, may::coroutine::sleep, guard)
                            }
                            Err(e) => common::conn::error(&e),
                        }
                        if let Some(gate) = gate {
                            gate.post();
                        }
                    });
                }
                Err(e) => {
                    if let Some(gate) = &gate {
                        gate.post();
                    }
                    may::coroutine::sleep(common::net::accept_failed(&e))
                }
            }
        }
    });
    acceptor
        .join()
        .map_err(|_| anyhow::anyhow!("the accepting coroutine panicked"))?;
    Ok(())
}
