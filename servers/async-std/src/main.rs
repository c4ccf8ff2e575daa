//! echo-async-std: async/await streams on async-std - the same shape as echo-tokio on
//! async-std's global executor and its `async-io` reactor.
//!
//! Run: `make run-server MODEL=async-std`, then `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - async-std is unmaintained upstream (its authors point to smol); it stays here for
//!   comparison with older studies.
//! - Its executor is global: the number of worker threads is read once from the
//!   `ASYNC_STD_THREAD_COUNT` environment variable, so `--threads` is passed that way.
//! - Each task owns its read buffer across `.await`; `write_all` gives backpressure
//!   (the loop is `common::echo::stream`, shared with the other futures-io models, and
//!   the gated accept loop is `common::accept`'s).

use std::process::ExitCode;
use std::sync::Arc;

use async_std::net::TcpListener;
use common::Config;
use common::accept::accept_loop;
use common::limit::AsyncGate;

common::count_allocations!();

fn main() -> ExitCode {
    common::run("async-std", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    // SAFETY: set before async-std starts its executor, while the only other thread
    // (the signal waiter) never reads the environment.
    unsafe { std::env::set_var("ASYNC_STD_THREAD_COUNT", config.threads.to_string()) };
    // The accept loop is a task on the executor too: `block_on` alone would run it on
    // the main thread, a second thread beside the one worker, which (pinned to the same
    // CPU) preempted the worker's CPU work on every accept.
    async_std::task::block_on(async_std::task::spawn(async move {
        let listener = common::net::bind(config.addr, config.reuse_port)?;
        let listener = TcpListener::from(listener);
        common::ready(listener.local_addr()?, config.threads);
        let gate = config.max_conns.map(|n| Arc::new(AsyncGate::new(n)));
        let echo = config.echo;
        let accept = || listener.accept();
        let spawn = |(stream, _peer), guard, pass| {
            async_std::task::spawn(async move {
                let _pass = pass;
                common::echo::stream(stream, echo, async_std::task::sleep, guard).await
            });
        };
        match accept_loop(gate, accept, spawn, async_std::task::sleep).await {}
    }))
}
