//! One loop per thread, each on a listener of its own: the setup of the models that run a
//! hand-written loop or a single-threaded runtime on every thread (epoll, uring, compio),
//! written once.
//!
//! `--threads 1` binds one listener (SO_REUSEPORT only with `--reuse-port`), `--threads N`
//! binds N on one port with SO_REUSEPORT, so that the kernel spreads connections across
//! them ([`crate::net`], which also hands out a prefork worker's inherited listener).
//! Each thread makes its loop, the readiness line follows once every loop is made (a loop
//! that cannot be made is the server's error, before the line), and the threads then
//! serve until the process is signalled.

use std::io;
use std::net::TcpListener;

use crate::args::Config;
use crate::lifecycle::ready;
use crate::net::{bind, bind_reuse_port};

/// Serves `config` on `--threads` threads named `{name}-{i}`. On each, `setup` makes the
/// loop from the thread's listener (on that thread, so that thread-bound state such as an
/// io_uring with SINGLE_ISSUER belongs to it) and returns what runs it; that runs until
/// the process exits, and its error, or a panic, ends the server.
pub fn serve<S, R>(config: &Config, name: &str, setup: S) -> anyhow::Result<()>
where
    S: Fn(TcpListener) -> anyhow::Result<R> + Clone + Send + 'static,
    R: FnOnce() -> anyhow::Result<()>,
{
    let listeners = if config.threads == 1 {
        vec![bind(config.addr, config.reuse_port)?]
    } else {
        bind_reuse_port(config.addr, config.threads)?
    };
    let addr = listeners[0].local_addr()?;
    // Each thread says whether its loop could be made before the server says it is ready.
    let (made, loop_made) = std::sync::mpsc::channel();
    let threads: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let (setup, made) = (setup.clone(), made.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || match setup(listener) {
                    Ok(run) => {
                        let _ = made.send(Ok(()));
                        run()
                    }
                    Err(e) => {
                        // The server fails with it (below), before its readiness line.
                        let _ = made.send(Err(e));
                        Ok(())
                    }
                })
        })
        .collect::<io::Result<_>>()?;
    for _ in 0..threads.len() {
        match loop_made.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => anyhow::bail!("a {name} thread ended before its loop was made"),
        }
    }
    ready(addr, config.threads);
    for handle in threads {
        let thread = handle.thread().name().unwrap_or(name).to_string();
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("{thread} panicked"))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ServerArgs;
    use clap::Parser;

    fn config(threads: &str) -> Config {
        let args =
            ServerArgs::try_parse_from(["echo", "--addr", "127.0.0.1:0", "--threads", threads]);
        args.unwrap().into_config().unwrap()
    }

    #[test]
    fn a_loop_that_cannot_be_made_fails_the_server() {
        let err = serve(
            &config("2"),
            "test",
            |_listener| -> anyhow::Result<fn() -> anyhow::Result<()>> { anyhow::bail!("no ring") },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no ring");
    }

    #[test]
    fn every_thread_serves_its_own_listener_on_one_port() {
        let (tx, rx) = std::sync::mpsc::channel();
        let result = serve(&config("3"), "test", move |listener| {
            let tx = tx.clone();
            Ok(move || {
                let name = std::thread::current().name().map(String::from);
                tx.send((name, listener.local_addr()?.port()))?;
                Ok(())
            })
        });
        result.unwrap();
        let mut seen: Vec<_> = rx.try_iter().collect();
        seen.sort();
        assert_eq!(seen.len(), 3);
        assert!(
            seen.iter()
                .all(|(_, port)| *port == seen[0].1 && *port != 0)
        );
        let names: Vec<_> = seen.iter().map(|(n, _)| n.clone().unwrap()).collect();
        assert_eq!(names, ["test-0", "test-1", "test-2"]);
    }
}
