//! A server process from start to exit: [`run`] parses and checks the flags
//! ([`ServerArgs`] into [`Config`]), names the program in log lines, forks the workers
//! under `--processes` ([`crate::prefork`]), pins the process when `--pin` is given,
//! installs the SIGINT/SIGTERM handler and calls the model's `serve`; [`ready`] prints
//! the readiness line that tools and tests wait for (in a worker, it tells the parent
//! instead). At the signal the listeners are shut down ([`stop_listening`]) and the
//! process exits.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::args::{Config, ServerArgs};
use crate::listeners::{stop_listening, stopping};
use crate::{alloc, conn, log, prefork, service, work};

static MODEL: OnceLock<&'static str> = OnceLock::new();

/// Longest the signal path waits for its farewell line to be written (stderr may be a
/// pipe nobody reads) before it exits without it.
const FAREWELL_WAIT: Duration = Duration::from_millis(200);

/// Exit code for flags that cannot be used (the same as clap's).
const EXIT_USAGE: u8 = 2;

/// Runs one server: checks the flags, prepares the process, then calls `serve`, which
/// binds, calls [`ready`] and serves until the process is signalled.
///
/// Bad flags print one line on stderr and exit 2; an error from `serve` (a port in use,
/// say) prints its chain on one line and exits 1.
pub fn run(model: &'static str, serve: impl FnOnce(Config) -> anyhow::Result<()>) -> ExitCode {
    let _ = MODEL.set(model);
    log::init(&format!("echo-{model}"));
    alloc::enable_from_env();
    let args = match ServerArgs::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            log!("{first} (see --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let config = match args
        .into_config()
        .and_then(|c| prefork::check(model, &c).map(|()| c))
    {
        Ok(config) => config,
        Err(e) => {
            log!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Prefork before prepare(): its signal thread, and any runtime, must not exist yet.
    let config = if config.processes > 1 {
        match prefork::start(model, config) {
            prefork::Role::Worker(config) => *config,
            prefork::Role::Parent(code) => return code,
        }
    } else {
        config
    };
    let result = prepare(&config).and_then(|()| serve(config));
    if stopping() {
        // The signal path shut the listeners down, which may end a model's loop with an
        // error: its exit (0, or 1 if the stats file cannot be written) is the one to take.
        loop {
            std::thread::park();
        }
    }
    if let Err(e) = result {
        log!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn prepare(config: &Config) -> anyhow::Result<()> {
    if let Some(cpus) = &config.pin {
        // Pin before any thread starts, so every thread the model starts inherits it.
        cpus.pin_current_thread()?;
    }
    if config.echo.workload.is_some() {
        work::calibrate();
    }
    if config.stats_file.is_some() {
        service::enable(config.stats_warmup);
    }
    exit_on_signal(config.stats_file.clone())
}

/// SIGINT/SIGTERM: stop accepting, close every connection and exit 0, within a second.
///
/// One thread waits for the signal, shuts every listener down ([`stop_listening`]: no
/// connection completes from then on, even where an io_uring still holds an accept) and
/// ends the process; the kernel then closes every connection at once. That is the same for
/// every model, needs no cooperation from a runtime that may be busy, and cannot hang on a
/// stuck connection. Nothing on this path depends on stderr: the farewell line is written
/// by a thread of its own and given [`FAREWELL_WAIT`] (a write to a pipe nobody reads
/// blocks), and a line that cannot be written is dropped ([`log::write_line`]).
fn exit_on_signal(stats_file: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .stack_size(64 << 10)
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                stop_listening();
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                let (open, accepted, errors) = conn::counts();
                let mut code = 0;
                if let Some(path) = &stats_file {
                    if let Err(e) = service::write(path) {
                        code = 1;
                        farewell(format!("cannot write {}: {e}", path.display()));
                    }
                }
                if code == 0 {
                    farewell(format!(
                        "{name}: closing {open} open connections and exiting \
                         ({accepted} accepted, {errors} ended in an error)"
                    ));
                }
                std::process::exit(code);
            }
        })?;
    Ok(())
}

/// Logs `line` from a thread of its own, waiting at most [`FAREWELL_WAIT`] for it.
fn farewell(line: String) {
    let (done, written) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("farewell".into())
        .stack_size(64 << 10)
        .spawn(move || {
            log!("{line}");
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = written.recv_timeout(FAREWELL_WAIT);
    }
}

/// Prints the readiness line, `listening on ADDR model=MODEL threads=N`, and flushes it.
/// Nothing else ever goes to stdout. In a prefork worker it tells the parent instead, which
/// prints `listening on ADDR model=MODEL threads=N processes=P accept=MODE` once every
/// worker is listening.
pub fn ready(addr: SocketAddr, threads: usize) {
    if prefork::notify_ready() {
        return;
    }
    let model = MODEL.get().copied().unwrap_or("unknown");
    let mut out = std::io::stdout().lock();
    // If stdout is closed nobody is waiting for the line; serving goes on regardless.
    let _ = writeln!(out, "listening on {addr} model={model} threads={threads}");
    let _ = out.flush();
}
