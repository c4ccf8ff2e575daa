//! Starting and stopping the processes a bench runs (servers, perf): each is registered
//! while it lives, so that Ctrl-C (SIGINT) or SIGTERM stops them all before loadgen exits.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::pin::CpuList;
use common::readiness::parse_ready_line;

use crate::probe;

/// How long a server may take to print its readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Processes started and not yet reaped.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Sends `sig` to a process.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill() with a pid this process started and a valid signal number.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Records a started process, so that an interrupt stops it.
pub fn register(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Forgets a reaped process.
pub fn unregister(pid: u32) {
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
}

/// On SIGINT or SIGTERM: SIGTERM every registered process, give them a moment, SIGKILL
/// what is left, and exit 130. Installed once.
pub fn stop_children_on_interrupt() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        let mut signals = match signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                result = Err(e);
                return;
            }
        };
        thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let pids = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone();
                crate::out::warn(format_args!(
                    "loadgen bench: interrupted (signal {sig}); stopping {} process(es)",
                    pids.len()
                ));
                pids.iter().for_each(|&p| signal(p, libc::SIGTERM));
                thread::sleep(Duration::from_millis(500));
                pids.iter().for_each(|&p| signal(p, libc::SIGKILL));
                std::process::exit(130);
            }
        });
    });
    result
}

/// A server started by the bench.
pub struct ServerProc {
    child: Child,
    /// Its port (from the readiness line).
    pub port: u16,
    /// Its readiness line.
    pub ready_line: String,
    stderr: Arc<Mutex<String>>,
}

impl ServerProc {
    /// Starts `bin` on 127.0.0.1:`port` (0: any free port) with `args`, on `cpus` when
    /// given, and waits for its readiness line. The error says what went wrong, with
    /// stderr's tail.
    pub fn start(
        bin: &Path,
        port: u16,
        args: &[String],
        env: &[(String, String)],
        cpus: Option<&CpuList>,
    ) -> Result<ServerProc, String> {
        let mut cmd = Command::new(bin);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(args);
        if let Some(cpus) = cpus {
            cmd.arg("--pin").arg(cpus.to_string());
            let cpus = cpus.clone();
            // The bench itself is pinned to the other CPUs; the child must be allowed the
            // server's before its own --pin check runs.
            // SAFETY: only sched_setaffinity, a plain system call, runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    cpus.pin_current_thread()
                        .map_err(|e| std::io::Error::other(e.to_string()))
                });
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        register(child.id());
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                if s.len() > 64 * 1024 {
                    let cut = s.len() - 16 * 1024;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                    s.drain(..cut);
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open (and drained) while the server lives.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut server = ServerProc {
            child,
            port: 0,
            ready_line: String::new(),
            stderr,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                server.stop();
                return Err(format!(
                    "no readiness line within {READY_TIMEOUT:?}; stderr: {}",
                    server.stderr_tail()
                ));
            }
        };
        match parse_ready_line(&line) {
            Some(addr) => {
                server.port = addr.port();
                server.ready_line = line.trim_end().to_string();
                Ok(server)
            }
            None => {
                thread::sleep(Duration::from_millis(100));
                let exit = server.stop();
                Err(format!(
                    "bad readiness line {line:?} ({exit}); stderr: {}",
                    server.stderr_tail()
                ))
            }
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its stderr.
    pub fn stderr_tail(&self) -> String {
        let s = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = s.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// None while it runs; how it ended once it exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait: {e}")),
        }
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; says how it ended.
    pub fn stop(&mut self) -> String {
        if let Some(done) = self.exited() {
            unregister(self.pid());
            return format!("had exited: {done}");
        }
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let how = loop {
            if let Some(done) = self.exited() {
                break done;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break format!("killed: no exit within {STOP_TIMEOUT:?} of SIGTERM");
            }
            thread::sleep(Duration::from_millis(5));
        };
        unregister(self.pid());
        how
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop();
        }
    }
}

/// Highest RSS and VSZ of some processes (added up), sampled every 100 ms on a thread until
/// stopped (at once: the thread waits on a channel, not in a sleep).
pub struct MemoryWatch {
    stop: std::sync::mpsc::Sender<()>,
    handle: thread::JoinHandle<(u64, u64)>,
}

impl MemoryWatch {
    /// Starts watching `pids`.
    pub fn start(pids: Vec<u32>) -> MemoryWatch {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let handle = thread::spawn(move || {
            let mut peak = (0u64, 0u64);
            loop {
                if let Some((rss_pages, vsize)) = probe::memory_all(&pids) {
                    peak.0 = peak.0.max(rss_pages * crate::sys::page_size() / 1024);
                    peak.1 = peak.1.max(vsize / 1024);
                }
                match stopped.recv_timeout(Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
            // One last reading, after the load.
            if let Some((rss_pages, vsize)) = probe::memory_all(&pids) {
                peak.0 = peak.0.max(rss_pages * crate::sys::page_size() / 1024);
                peak.1 = peak.1.max(vsize / 1024);
            }
            peak
        });
        MemoryWatch { stop, handle }
    }

    /// Stops and returns (peak RSS KiB, peak VSZ KiB), after one last reading.
    pub fn finish(self) -> (u64, u64) {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or((0, 0))
    }
}

/// The server processes of one run: one, or several sharing one port with `--reuse-port`
/// (past one process's open-file limit), all on the same CPUs.
pub struct ServerGroup {
    procs: Vec<ServerProc>,
}

impl ServerGroup {
    /// Starts `count` servers with `args` and `env` added to the environment: the first on
    /// a free port, the others on the same port, each waited for in turn. With one,
    /// `--reuse-port` is not added.
    pub fn start(
        bin: &Path,
        count: u32,
        args: &[String],
        env: &[(String, String)],
        cpus: Option<&CpuList>,
    ) -> Result<ServerGroup, String> {
        let mut args = args.to_vec();
        if count > 1 {
            args.push("--reuse-port".into());
        }
        let mut group = ServerGroup { procs: Vec::new() };
        for i in 0..count {
            let port = group.procs.first().map_or(0, |p| p.port);
            match ServerProc::start(bin, port, &args, env, cpus) {
                Ok(p) => group.procs.push(p),
                Err(why) if count > 1 => return Err(format!("server process {}: {why}", i + 1)),
                Err(why) => return Err(why),
            }
        }
        Ok(group)
    }

    /// The port they share.
    pub fn port(&self) -> u16 {
        self.procs[0].port
    }

    /// Their process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(ServerProc::pid).collect()
    }

    /// The first one's readiness line (the others differ only in nothing).
    pub fn ready_line(&self) -> String {
        self.procs[0].ready_line.clone()
    }

    /// None while all run; how the first to exit ended, with its stderr's tail.
    pub fn exited(&mut self) -> Option<String> {
        let many = self.procs.len() > 1;
        self.procs.iter_mut().enumerate().find_map(|(i, p)| {
            let exit = p.exited()?;
            let which = if many {
                format!("server process {}: ", i + 1)
            } else {
                String::new()
            };
            Some(format!("{which}{exit}; stderr: {}", p.stderr_tail()))
        })
    }

    /// Stops them all.
    pub fn stop(&mut self) {
        self.procs.iter_mut().for_each(|p| {
            p.stop();
        });
    }
}

/// `pids` followed by each one's child processes (/proc/PID/task/PID/children), in order
/// and without repeats: a prefork server's workers beside their parent.
pub fn with_children(pids: Vec<u32>) -> Vec<u32> {
    let mut all = pids.clone();
    for pid in pids {
        let path = format!("/proc/{pid}/task/{pid}/children");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for child in text
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            if !all.contains(&child) {
                all.push(child);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_join_their_parent() {
        // A shell whose only child is a sleep, as a prefork parent and its worker.
        let mut sh = Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut all = with_children(vec![sh.id()]);
        while all.len() < 2 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
            all = with_children(vec![sh.id()]);
        }
        let _ = Command::new("pkill")
            .args(["-P", &sh.id().to_string()])
            .status();
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0], sh.id());
        assert_eq!(
            with_children(vec![u32::MAX]),
            [u32::MAX],
            "a gone pid is kept, alone"
        );
    }
}
