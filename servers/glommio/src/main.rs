//! echo-glommio: thread-per-core executors on io_uring (glommio) - the Seastar model.
//!
//! Run: `make run-server MODEL=glommio` (`--threads N` for N executors), then
//! `printf 'hello\n' | nc -q1 127.0.0.1 7000`.
//!
//! What is special about it:
//! - `--threads N` starts N independent executors, each pinned to its own CPU (the
//!   `--pin` list, or CPUs 0..N) with its own SO_REUSEPORT listener: nothing is shared
//!   between them, and the kernel spreads connections across the listeners.
//! - I/O goes through each executor's io_uring. For sockets glommio first tries the
//!   plain non-blocking `recv`/`send` (it usually succeeds) and falls back to an io_uring
//!   poll when the socket is not ready, so the read buffer is a normal `Vec` owned by
//!   the task; no buffer has to be handed to the kernel for the duration of an operation.
//! - Tasks are `!Send` and never migrate; the echo loop is `common::echo::stream`, the
//!   gated accept loop `common::accept`'s, the backend wait glommio's timer (an io_uring
//!   timeout).
//! - glommio locks memory for its rings: the default 8 MiB RLIMIT_MEMLOCK is enough for
//!   the small `io_memory` set below.
//! - glommio's own settings, for measuring them (`loadgen bench --variant`), come from the
//!   environment since no other model has them: `ECHO_GLOMMIO_SPIN` (spin this long
//!   before parking, e.g. `50us`; default: park at once), `ECHO_GLOMMIO_RING_DEPTH`
//!   (entries per ring; glommio's default 128) and `ECHO_GLOMMIO_PREEMPT` (how often a
//!   task queue yields; default 100ms). A bad value is one line and exit 1 before binding.

use std::convert::Infallible;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::accept::accept_loop;
use common::limit::AsyncGate;
use common::{Config, EchoSettings};
use glommio::net::TcpListener;
use glommio::{CpuSet, LocalExecutorPoolBuilder, PoolPlacement};

/// Memory glommio pre-registers per executor for its own I/O buffers (file I/O, mostly):
/// small, so that several executors stay under the default RLIMIT_MEMLOCK.
const IO_MEMORY: usize = 512 << 10;

common::count_allocations!();

fn main() -> ExitCode {
    common::run("glommio", serve)
}

/// glommio's settings from the environment (see the header); `None` keeps glommio's own.
#[derive(Debug, Default)]
struct Tuning {
    spin: Option<Duration>,
    ring_depth: Option<usize>,
    preempt: Option<Duration>,
}

impl Tuning {
    fn from_env() -> anyhow::Result<Tuning> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let duration = |name: &str| -> anyhow::Result<Option<Duration>> {
            var(name)
                .map(|v| {
                    common::units::parse_duration(&v)
                        .map_err(|e| anyhow::anyhow!("{name}={v}: {e}"))
                })
                .transpose()
        };
        let ring_depth = var("ECHO_GLOMMIO_RING_DEPTH")
            .map(|v| match v.trim().parse::<usize>() {
                Ok(n) if (1..=32768).contains(&n) => Ok(n),
                _ => Err(anyhow::anyhow!(
                    "ECHO_GLOMMIO_RING_DEPTH={v}: expected 1 to 32768 entries"
                )),
            })
            .transpose()?;
        Ok(Tuning {
            spin: duration("ECHO_GLOMMIO_SPIN")?.filter(|d| !d.is_zero()),
            ring_depth,
            preempt: duration("ECHO_GLOMMIO_PREEMPT")?,
        })
    }

    fn apply(&self, mut pool: LocalExecutorPoolBuilder) -> LocalExecutorPoolBuilder {
        if let Some(spin) = self.spin {
            pool = pool.spin_before_park(spin);
        }
        if let Some(depth) = self.ring_depth {
            pool = pool.ring_depth(depth);
        }
        if let Some(preempt) = self.preempt {
            pool = pool.preempt_timer(preempt);
        }
        pool
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let tuning = Tuning::from_env()?;
    if tuning.spin.is_some() || tuning.ring_depth.is_some() || tuning.preempt.is_some() {
        common::log!("glommio settings from the environment: {tuning:?}");
    }
    // Bind here, before the executors start, so port 0 resolves once and a bad address
    // fails before anything runs.
    let listeners = common::net::bind_reuse_port(config.addr, config.threads)?;
    let addr = listeners[0].local_addr()?;
    // glommio's accept first tries accept() with O_NONBLOCK set and then restores the
    // listener's flags. Prefork workers share one listener's file status flags, so one
    // worker's restore could leave another's try blocking the executor in accept():
    // non-blocking from the start, the try changes nothing (the ring's accept still waits).
    for l in &listeners {
        l.set_nonblocking(true)?;
    }
    let fds: Vec<i32> = listeners.into_iter().map(IntoRawFd::into_raw_fd).collect();
    let placement = match &config.pin {
        Some(cpus) => {
            let sets = (0..config.threads)
                .map(|i| {
                    let cpu = cpus.cpus()[i % cpus.cpus().len()];
                    CpuSet::online().map(|set| set.filter(|l| l.cpu == cpu))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(glommio_error)?;
            PoolPlacement::Custom(sets)
        }
        None => PoolPlacement::MaxSpread(config.threads, None),
    };
    let echo = config.echo;
    // One cap for the whole server, shared by the executors.
    let gate = config.max_conns.map(|n| Arc::new(AsyncGate::new(n)));
    let executors = tuning
        .apply(LocalExecutorPoolBuilder::new(placement))
        .name("echo")
        .io_memory(IO_MEMORY)
        .on_all_shards(move || {
            let fd = fds[glommio::executor().id() - 1];
            let gate = gate.clone();
            async move {
                // SAFETY: `fd` is a bound, listening socket whose ownership moved here
                // (into_raw_fd above); each executor takes a different one.
                let listener = unsafe { TcpListener::from_raw_fd(fd) };
                serve_listener(listener, echo, gate).await
            }
        })
        .map_err(glommio_error)?;
    common::ready(addr, config.threads);
    for result in executors.join_all() {
        result.map_err(|e| anyhow::anyhow!("executor failed: {e}"))?;
    }
    Ok(())
}

/// glommio's errors may carry a non-`Sync` payload, which anyhow cannot hold.
fn glommio_error<T>(e: glommio::GlommioError<T>) -> anyhow::Error {
    anyhow::anyhow!("glommio: {e}")
}

/// The gated accept loop of `common::accept`, on glommio's accept, tasks and timer. A
/// connection's task is local to the executor (glommio's tasks never migrate).
async fn serve_listener(
    listener: TcpListener,
    echo: EchoSettings,
    gate: Option<Arc<AsyncGate>>,
) -> Infallible {
    let accept = || async { listener.accept().await.map_err(std::io::Error::from) };
    let spawn = |stream, guard, pass| {
        let echo = common::echo::stream(stream, echo, glommio::timer::sleep, guard);
        glommio::spawn_local(async move {
            let _pass = pass;
            echo.await
        })
        .detach();
    };
    accept_loop(gate, accept, spawn, glommio::timer::sleep).await
}
