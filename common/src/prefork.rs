//! Prefork (`--processes P`, `--accept MODE`): gunicorn's and nginx's model, for every
//! server without code of its own. [`crate::lifecycle::run`] calls [`start`] before anything else
//! happens in the process (no signal thread, no runtime, no pinning thread), so the
//! process is single-threaded and `fork` is safe. The parent binds, forks P workers and
//! supervises them; each worker carries on into the model's `serve` as a one-process server
//! would, and its [`crate::net::bind`] / [`crate::net::bind_reuse_port`] hand out the
//! listener it inherited instead of binding.
//!
//! Accept modes:
//! - `shared`: one listener, inherited by every worker; each waits on it its own way.
//! - `exclusive`: the same listener, waited on with an exclusive wake-up: one waiter per
//!   connection instead of all of them (see [`exclusive_support`] for which models can).
//! - `reuseport`: one SO_REUSEPORT listener per worker; the kernel hashes each connection
//!   to one of them (a worker with `--threads T` binds T-1 more on the same port).
//!
//! The parent prints the one readiness line once every worker is listening, forwards
//! SIGTERM/SIGINT to the workers as SIGTERM, waits for them (SIGKILL after
//! [`STOP_GRACE`]) and exits 0. A worker that dies while serving is logged and not
//! replaced: the server serves on with the rest (a bench must see a crash, not have it
//! hidden by a restart), and exits 1 when none is left. Workers get PR_SET_PDEATHSIG, so
//! killing the parent with SIGKILL takes them with it.
//!
//! `--stats-file PATH`: worker i writes `PATH.worker-<i>` at SIGTERM (the same JSON, with
//! its connection count and histogram), and the parent merges them into PATH. The parts are
//! kept: they say how the requests and connections were shared between the workers.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::args::Config;
pub use crate::args::{Accept, MAX_PROCESSES};
use crate::log;

/// What a model can do for `--accept exclusive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusive {
    /// Its accept is an exclusive wake-up already, so `shared` and `exclusive` are the
    /// same thing; the text says why.
    Native(&'static str),
    /// It sets EPOLLEXCLUSIVE on the listener in its own epoll set
    /// ([`crate::net::register_listener`]).
    Epoll,
    /// It cannot: `--accept exclusive` is refused; the text says why.
    Unsupported(&'static str),
}

/// Whether `model` can accept with an exclusive wake-up: a declared capability, checked
/// before anything is bound, and read by the bench to know which accept modes to run.
///
/// - thread, pool: a blocking accept() sleeps on the listener as an exclusive waiter
///   (inet_csk_wait_for_connect), so one thread wakes per connection.
/// - glommio, uring, compio: io_uring's IORING_OP_ACCEPT arms its poll with
///   EPOLLEXCLUSIVE (`poll_exclusive` in io_uring/opdef.c).
/// - epoll, reactor-pool: mio's epoll descriptor is reachable, so the listener is re-added with
///   EPOLLEXCLUSIVE.
/// - tokio, tokio-callback, async-std, smol, may: the runtime's epoll descriptor is
///   private and registers the listener without EPOLLEXCLUSIVE; there is no equivalent.
pub fn exclusive_support(model: &str) -> Exclusive {
    const IORING: &str = "io_uring's accept arms its poll with EPOLLEXCLUSIVE";
    match model {
        "thread" | "pool" => Exclusive::Native("a blocking accept() is an exclusive wait"),
        "glommio" | "uring" | "compio" => Exclusive::Native(IORING),
        "epoll" | "reactor-pool" => Exclusive::Epoll,
        _ => Exclusive::Unsupported(
            "its runtime's epoll descriptor is private, so EPOLLEXCLUSIVE cannot be set",
        ),
    }
}

/// Descriptors the parent keeps for itself besides one pipe per worker (and, while
/// forking in reuseport mode, one listener per worker).
const SPARE_FDS: u64 = 16;
/// How long the parent waits for its workers after forwarding SIGTERM before it kills them.
pub const STOP_GRACE: Duration = Duration::from_millis(900);

/// Checks `--processes` and `--accept` against the model's capability and this process's
/// limits (open files, processes). Bad input: the caller prints it and exits 2.
pub fn check(model: &str, config: &Config) -> anyhow::Result<()> {
    let p = config.processes;
    if config.accept == Accept::Exclusive {
        if let Exclusive::Unsupported(why) = exclusive_support(model) {
            bail!("--accept exclusive: echo-{model} cannot do it ({why}); use shared or reuseport");
        }
    }
    if p == 1 {
        return Ok(());
    }
    let fds = p as u64
        * if config.accept == Accept::Reuseport {
            2
        } else {
            1
        }
        + SPARE_FDS;
    if let Some(limit) = rlimit(libc::RLIMIT_NOFILE) {
        if fds > limit {
            bail!(
                "--processes {p}: the parent needs {fds} open files with --accept {} and the \
                 limit is {limit}",
                config.accept.name()
            );
        }
    }
    if let Some(limit) = rlimit(libc::RLIMIT_NPROC) {
        if p as u64 >= limit {
            bail!("--processes {p}: the process limit (RLIMIT_NPROC) is {limit}");
        }
    }
    Ok(())
}

/// A soft resource limit, None when unlimited.
fn rlimit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    let rc = unsafe { libc::getrlimit(resource, &mut rl) };
    (rc == 0 && rl.rlim_cur != libc::RLIM_INFINITY).then_some(rl.rlim_cur)
}

/// What a worker keeps from the parent.
struct Worker {
    /// From 0.
    index: usize,
    accept: Accept,
    /// The listener it inherited; [`crate::net::bind`] hands out clones.
    listener: TcpListener,
    /// Write end of its readiness pipe; taken (and written) by [`notify_ready`]. The
    /// parent reads end-of-file on it when the worker exits.
    ready: Mutex<Option<File>>,
}

static WORKER: OnceLock<Worker> = OnceLock::new();

/// The accept mode, in a worker process; None in a server without `--processes`.
pub fn accept_mode() -> Option<Accept> {
    WORKER.get().map(|w| w.accept)
}

/// In a worker: a clone of the listener it inherited (`first`), or for another of its
/// threads, a clone again (shared, exclusive) or a new SO_REUSEPORT listener on the same
/// port (reuseport). None outside a worker.
pub(crate) fn inherited(first: bool) -> Option<anyhow::Result<TcpListener>> {
    let w = WORKER.get()?;
    Some(if first || w.accept != Accept::Reuseport {
        w.listener
            .try_clone()
            .context("cannot clone the inherited listener")
    } else {
        w.listener
            .local_addr()
            .map_err(anyhow::Error::from)
            .and_then(|addr| crate::listeners::bind_fresh(addr, true))
    })
}

/// In a worker, tells the parent that it is listening and returns true; false outside one
/// (the caller prints the readiness line itself).
pub(crate) fn notify_ready() -> bool {
    let Some(w) = WORKER.get() else {
        return false;
    };
    // The warm-up of `--stats-warmup` runs from here, as in every other worker.
    crate::service::start_warmup_clock();
    let mut pipe = w.ready.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = pipe.as_mut() {
        // The parent reads one byte; it keeps its end open while it lives.
        if let Err(e) = f.write_all(b"r") {
            log!(
                "worker {}: cannot tell the parent it is ready: {e}",
                w.index
            );
        }
    }
    true
}

/// The stats file of worker `index` for `--stats-file path`.
pub fn part_path(path: &Path, index: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".worker-{index}"));
    PathBuf::from(s)
}

/// What [`start`] made of this process.
pub enum Role {
    /// A worker: carry on into the model's serve with this config.
    Worker(Box<Config>),
    /// The parent, done: exit with this.
    Parent(ExitCode),
}

/// Blocks or unblocks SIGINT and SIGTERM for the calling (only) thread.
fn mask_signals(how: libc::c_int) {
    // SAFETY: a sigset we own, filled by sigemptyset/sigaddset, passed to pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, SIGINT);
        libc::sigaddset(&mut set, SIGTERM);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// A forked worker, seen from the parent.
struct Child {
    index: usize,
    pid: libc::pid_t,
    /// Read end of its readiness pipe.
    pipe: File,
    ready: bool,
    /// Its wait status once reaped.
    exit: Option<libc::c_int>,
}

/// Binds and forks `config.processes` workers. Returns in each worker with its config
/// (`--stats-file` turned into its part), and in the parent once the server has stopped.
/// `model` names it in the readiness line. Must be called while the process has one thread.
pub fn start(model: &str, config: Config) -> Role {
    match fork_workers(&config) {
        Ok(Forked::Worker(index)) => {
            let mut config = config;
            config.stats_file = config.stats_file.map(|p| part_path(&p, index));
            Role::Worker(Box::new(config))
        }
        Ok(Forked::Parent(children)) => Role::Parent(supervise(model, &config, children)),
        Err(e) => {
            log!("error: {e:#}");
            Role::Parent(ExitCode::FAILURE)
        }
    }
}

enum Forked {
    Worker(usize),
    Parent(Supervisor),
}

/// The parent's side: its workers and the pipe its signal handlers write to.
struct Supervisor {
    children: Vec<Child>,
    signals: UnixStream,
    addr: SocketAddr,
}

fn fork_workers(config: &Config) -> anyhow::Result<Forked> {
    let p = config.processes;
    if let Some(cpus) = &config.pin {
        // Every worker inherits it; each pins itself again in prepare(), as one process does.
        cpus.pin_current_thread()?;
    }
    if config.echo.workload.is_some() {
        // Once, before the workers exist: P calibrations at once would share the CPUs.
        crate::work::calibrate();
    }
    let mut listeners = match config.accept {
        Accept::Reuseport => crate::listeners::bind_fresh_on_one_port(config.addr, p)?,
        Accept::Shared | Accept::Exclusive => {
            vec![crate::listeners::bind_fresh(
                config.addr,
                config.reuse_port,
            )?]
        }
    };
    let addr = listeners[0].local_addr()?;
    // A signal between the forks and the parent's handlers is held until they exist.
    mask_signals(libc::SIG_BLOCK);
    let parent = std::process::id() as libc::pid_t;
    let mut children: Vec<Child> = Vec::with_capacity(p);
    for index in 0..p {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two descriptors we pass.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            let e = std::io::Error::last_os_error();
            kill_all(&mut children);
            bail!("cannot make a pipe for worker {index}: {e}");
        }
        // SAFETY: both descriptors were just made and are owned here.
        let (read, write) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        // SAFETY: the process has one thread (see `start`), so the child's memory is
        // consistent; it runs ordinary Rust code afterwards, as any fork()ed process can.
        match unsafe { libc::fork() } {
            -1 => {
                let e = std::io::Error::last_os_error();
                kill_all(&mut children);
                bail!("cannot fork worker {index}: {e}");
            }
            0 => {
                // The worker: nothing of the parent's but its own listener and pipe end.
                drop(read);
                children.clear();
                let listener = if config.accept == Accept::Reuseport {
                    listeners.swap_remove(index)
                } else {
                    listeners.swap_remove(0)
                };
                // Its serving code remembers the listeners it takes from here on (the
                // parent's binds are never remembered: it serves on none of them).
                drop(listeners);
                // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                // SAFETY: getppid has no preconditions.
                if unsafe { libc::getppid() } != parent {
                    // The parent died before the line above: nobody supervises us.
                    std::process::exit(1);
                }
                mask_signals(libc::SIG_UNBLOCK);
                let _ = WORKER.set(Worker {
                    index,
                    accept: config.accept,
                    listener,
                    ready: Mutex::new(Some(write)),
                });
                return Ok(Forked::Worker(index));
            }
            pid => {
                drop(write);
                children.push(Child {
                    index,
                    pid,
                    pipe: read,
                    ready: false,
                    exit: None,
                });
            }
        }
    }
    // The workers hold the listeners now; the parent accepts nothing (and keeps no
    // listening socket alive after its workers have shut theirs down at SIGTERM).
    drop(listeners);
    let (signals, write) = UnixStream::pair()?;
    signals.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    for sig in [SIGINT, SIGTERM] {
        let w = write.try_clone()?;
        signal_hook::low_level::pipe::register(sig, w)?;
    }
    drop(write);
    mask_signals(libc::SIG_UNBLOCK);
    Ok(Forked::Parent(Supervisor {
        children,
        signals,
        addr,
    }))
}

/// SIGKILLs and reaps every child still running.
fn kill_all(children: &mut [Child]) {
    for c in children.iter().filter(|c| c.exit.is_none()) {
        // SAFETY: kill() on a child of ours.
        unsafe { libc::kill(c.pid, libc::SIGKILL) };
    }
    for c in children.iter_mut().filter(|c| c.exit.is_none()) {
        c.exit = Some(reap(c.pid, true).unwrap_or(0));
    }
}

/// waitpid on one child: blocking, or not (None while it runs).
fn reap(pid: libc::pid_t, block: bool) -> Option<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a child of ours, with a status we own.
        let rc = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
        match rc {
            0 => return None,
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            -1 => return Some(0),
            _ => return Some(status),
        }
    }
}

/// A wait status in words.
fn describe(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status}")
    }
}

/// What woke the parent.
enum Event {
    Signal,
    /// A worker's pipe: a readiness byte, or end-of-file (it exited).
    Worker(usize),
}

impl Supervisor {
    /// Waits for a signal or for a live worker's pipe to become readable.
    fn wait(&self) -> Event {
        let live: Vec<usize> = (0..self.children.len())
            .filter(|&i| self.children[i].exit.is_none())
            .collect();
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals.as_raw_fd())
            .chain(live.iter().map(|&i| self.children[i].pipe.as_raw_fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        loop {
            // SAFETY: poll on descriptors we own, in a vector that outlives the call.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if rc < 0 {
                // EINTR: a signal arrived; its byte is in the pipe.
                continue;
            }
            if fds[0].revents != 0 {
                return Event::Signal;
            }
            if let Some(k) = fds[1..].iter().position(|f| f.revents != 0) {
                return Event::Worker(live[k]);
            }
        }
    }

    /// Reads a worker's pipe after [`Self::wait`]: true for its readiness byte, false when
    /// it exited (reaped, its status kept).
    fn read_worker(&mut self, i: usize) -> bool {
        let c = &mut self.children[i];
        let mut byte = [0u8; 1];
        match c.pipe.read(&mut byte) {
            Ok(1) => {
                c.ready = true;
                true
            }
            _ => {
                c.exit = Some(reap(c.pid, true).unwrap_or(0));
                false
            }
        }
    }

    fn live(&self) -> usize {
        self.children.iter().filter(|c| c.exit.is_none()).count()
    }

    /// SIGTERM to every live worker, then SIGKILL to those left after [`STOP_GRACE`].
    fn stop(&mut self) {
        for c in self.children.iter().filter(|c| c.exit.is_none()) {
            // SAFETY: kill() on a child of ours.
            unsafe { libc::kill(c.pid, SIGTERM) };
        }
        let deadline = Instant::now() + STOP_GRACE;
        while self.live() > 0 && Instant::now() < deadline {
            for c in self.children.iter_mut().filter(|c| c.exit.is_none()) {
                c.exit = reap(c.pid, false);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let left = self.live();
        if left > 0 {
            log!("{left} worker(s) still running {STOP_GRACE:?} after SIGTERM: killing them");
            kill_all(&mut self.children);
        }
    }
}

fn supervise(model: &str, config: &Config, mut sup: Supervisor) -> ExitCode {
    let p = sup.children.len();
    // Until every worker is listening: one that exits first ends the server.
    while sup.children.iter().any(|c| !c.ready) {
        match sup.wait() {
            Event::Signal => {
                sup.stop();
                return ExitCode::SUCCESS;
            }
            Event::Worker(i) => {
                if !sup.read_worker(i) {
                    let c = &sup.children[i];
                    log!(
                        "worker {} (pid {}) exited before it was listening ({}); stopping the \
                         other {}",
                        c.index,
                        c.pid,
                        describe(c.exit.unwrap_or(0)),
                        p - 1
                    );
                    kill_all(&mut sup.children);
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "listening on {} model={model} threads={} processes={p} accept={}",
            sup.addr,
            config.threads,
            config.accept.name()
        );
        let _ = out.flush();
    }
    loop {
        match sup.wait() {
            Event::Signal => break,
            Event::Worker(i) => {
                if sup.read_worker(i) {
                    continue;
                }
                let live = sup.live();
                let c = &sup.children[i];
                log!(
                    "worker {} (pid {}) exited while serving ({}); {live} of {p} workers left, \
                     not restarted",
                    c.index,
                    c.pid,
                    describe(c.exit.unwrap_or(0))
                );
                if live == 0 {
                    log!("no worker left: exiting");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let mut drain = [0u8; 16];
    let _ = (&sup.signals).read(&mut drain);
    sup.stop();
    if let Some(path) = &config.stats_file {
        let parts: Vec<PathBuf> = (0..p).map(|i| part_path(path, i)).collect();
        if let Err(e) = crate::service::merge(&parts, path) {
            log!("cannot write {}: {e:#}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_after_the_file() {
        assert_eq!(
            part_path(Path::new("/tmp/s.json"), 3),
            PathBuf::from("/tmp/s.json.worker-3")
        );
    }

    #[test]
    fn only_some_models_refuse_exclusive() {
        for m in ["thread", "glommio", "uring", "compio"] {
            assert!(matches!(exclusive_support(m), Exclusive::Native(_)), "{m}");
        }
        assert_eq!(exclusive_support("epoll"), Exclusive::Epoll);
        for m in ["tokio", "tokio-callback", "async-std", "smol", "may"] {
            assert!(
                matches!(exclusive_support(m), Exclusive::Unsupported(_)),
                "{m}"
            );
        }
    }

    #[test]
    fn wait_statuses_read_as_words() {
        assert_eq!(describe(3 << 8), "exit status 3");
        assert_eq!(describe(libc::SIGKILL), "killed by signal 9");
    }
}
