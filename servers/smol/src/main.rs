//! echo-smol: async/await streams on smol - the same shape as echo-tokio on smol's small
//! executor and the `async-io` reactor (async-std's maintained successor).
//!
//! Run: `make run-server MODEL=smol`, then `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - One `Executor` shared by `--threads` threads, each running it inside `block_on`;
//!   a thread blocked in `block_on` also drives the reactor when nothing else does, so
//!   with one thread the whole server is a single-threaded loop.
//! - Each task owns its read buffer across `.await`; `write_all` gives backpressure
//!   (the loop is `common::echo::stream`, shared with the other futures-io models, and
//!   the gated accept loop is `common::accept`'s).

use std::process::ExitCode;
use std::sync::Arc;

use common::Config;
use common::accept::accept_loop;
use common::limit::AsyncGate;
use smol::net::TcpListener;
use smol::{Async, Executor, Timer};

common::count_allocations!();

fn main() -> ExitCode {
    common::run("smol", serve)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let executor = Arc::new(Executor::new());
    let listener = common::net::bind(config.addr, config.reuse_port)?;
    let listener = TcpListener::from(Async::new(listener)?);
    common::ready(listener.local_addr()?, config.threads);
    for i in 1..config.threads {
        let executor = Arc::clone(&executor);
        std::thread::Builder::new()
            .name(format!("smol-{i}"))
            .spawn(move || smol::block_on(executor.run(smol::future::pending::<()>())))?;
    }
    let spawner = Arc::clone(&executor);
    let gate = config.max_conns.map(|n| Arc::new(AsyncGate::new(n)));
    let echo = config.echo;
    let accept = || listener.accept();
    let spawn = |(stream, _peer), guard, pass| {
        let sleep = |d| Timer::after(d);
        let echo = common::echo::stream(stream, echo, sleep, guard);
        spawner
            .spawn(async move {
                let _pass = pass;
                echo.await
            })
            .detach();
    };
    let accept =
        executor.run(async move { match accept_loop(gate, accept, spawn, Timer::after).await {} });
    smol::block_on(accept)
}
