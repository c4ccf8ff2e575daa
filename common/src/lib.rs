//! The echolab server contract, written once for every model.
//!
//! A server's `main.rs` holds its concurrency model and little else:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     common::run("mymodel", |config| {
//!         let listener = common::net::bind(config.addr, config.reuse_port)?;
//!         common::ready(listener.local_addr()?, config.threads);
//!         // ... accept and echo, the model's own way ...
//!         Ok(())
//!     })
//! }
//! ```
//!
//! [`run`] parses and checks the flags ([`ServerArgs`] into [`Config`]), names the program
//! in log lines, forks the workers under `--processes` ([`prefork`]), pins the process when
//! `--pin` is given, and installs the SIGINT/SIGTERM handler; [`ready`] prints the readiness
//! line that tools and tests wait for (in a worker, it tells the parent instead). Both are
//! [`lifecycle`]'s.
//!
//! The plumbing the models share is here too, each piece once: the listener per thread
//! of the loop models ([`per_thread`]), the gated accept loop of the futures-based
//! runtimes ([`accept`]; tokio's is `tokio_serve`, feature `tokio`), the idle checks of
//! the hand-written loops ([`idle`]), and the echo loops themselves ([`echo`]).
//!
//! This file only declares the modules and re-exports what every server names; the
//! modules import from each other, never from here.

pub mod accept;
#[cfg(feature = "mio")]
pub mod alarm;
pub mod alloc;
pub mod args;
pub mod conn;
pub mod echo;
pub mod frame;
pub mod idle;
pub mod lifecycle;
pub mod limit;
pub mod listeners;
pub mod log;
pub mod models;
pub mod net;
pub mod per_thread;
pub mod pin;
pub mod prefork;
pub mod readbuf;
pub mod readiness;
pub mod service;
#[cfg(feature = "testkit")]
pub mod testkit;
#[cfg(feature = "tokio")]
pub mod tokio_serve;
pub mod units;
pub mod work;

pub use args::{Config, EchoSettings, Mode, ServerArgs};
pub use conn::ConnGuard;
pub use lifecycle::{ready, run};
pub use listeners::stopping;
pub use work::Workload;
