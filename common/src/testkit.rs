//! Test support (feature `testkit`): find the server binaries Cargo built, start one on
//! port 0, wait for its readiness line, look at its /proc entries, and stop it.
//!
//! Used by the conformance suite and by loadgen's tests, so that both start servers the
//! same way. Binaries are (re)built once per test process with the test's own profile,
//! so a test never runs a stale server. The model and baseline names are
//! [`crate::models`]'s, re-exported here for the tests that take them from the kit.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::readiness::parse_ready_line;

pub use crate::models::{BASELINES, MODELS, is_baseline};

/// The folder of the Python baselines in this checkout.
pub fn baselines_dir() -> PathBuf {
    let common = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    common.parent().unwrap_or(common).join("baselines/python")
}

/// The program of `model`: `echo-<model>` built by Cargo ([`binary`]) for a model, the
/// script in [`baselines_dir`] for a baseline.
pub fn server_program(model: &str) -> PathBuf {
    if is_baseline(model) {
        baselines_dir().join(format!("echo-{model}"))
    } else {
        binary(&format!("echo-{model}"))
    }
}

/// How long a server may take to print its readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The profile directory this test binary was built in (`target/debug`, say).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test binary has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Path of the binary `echo-<model>` (or any workspace binary named `name`), built with
/// this test's profile the first time it is asked for.
pub fn binary(name: &str) -> PathBuf {
    let dir = profile_dir();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashSet::new);
    if !built.contains(name) {
        let profile = dir
            .file_name()
            .and_then(|p| p.to_str())
            .unwrap_or("debug")
            .to_string();
        let profile = if profile == "debug" {
            "dev".to_string()
        } else {
            profile
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--profile",
                &profile,
                "--bin",
                name,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build --bin {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.insert(name.to_string());
    }
    dir.join(name)
}

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens (from its readiness line).
    pub addr: SocketAddr,
    /// The readiness line itself.
    pub ready_line: String,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr into `stderr`; done once every holder of the pipe is gone.
    stderr_reader: std::thread::JoinHandle<()>,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `echo-<model>` (or a baseline, see [`server_program`]) on 127.0.0.1:0 with
    /// extra `args` (and the model's [`crate::models::default_args`] unless they give
    /// `--threads`) and waits until it is ready.
    pub fn start(model: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(server_program(model));
        if !args.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        if !args.contains(&"--threads") {
            cmd.args(crate::models::default_args(model));
        }
        Self::spawn(cmd.args(args))
    }

    /// Starts a prepared command (a server binary) and waits for its readiness line.
    pub fn spawn(cmd: &mut Command) -> Server {
        Self::spawn_with_stderr(cmd, None)
    }

    /// [`Server::start`] with the server's stderr going to `stderr` (a file such as
    /// /dev/full, or a pipe nobody reads) instead of the test; [`Server::stderr`] is then
    /// empty.
    pub fn start_with_stderr(model: &str, args: &[&str], stderr: Stdio) -> Server {
        let mut cmd = Command::new(server_program(model));
        if !args.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        if !args.contains(&"--threads") {
            cmd.args(crate::models::default_args(model));
        }
        Self::spawn_with_stderr(cmd.args(args), Some(stderr))
    }

    fn spawn_with_stderr(cmd: &mut Command, to: Option<Stdio>) -> Server {
        let captured = to.is_none();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(to.unwrap_or_else(Stdio::piped))
            .spawn()
            .expect("start server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take();
        assert_eq!(err_pipe.is_some(), captured);
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let Some(mut err_pipe) = err_pipe else {
                return;
            };
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout piped");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send((line, reader));
        });
        let (line, reader) = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(got) => got,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no readiness line within {READY_TIMEOUT:?}; stderr: {}",
                    stderr.lock().unwrap()
                );
            }
        };
        let addr = parse_ready_line(&line).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "bad readiness line {line:?}; stderr: {}",
                stderr.lock().unwrap()
            )
        });
        Server {
            child,
            addr,
            ready_line: line.trim_end().to_string(),
            stderr,
            stderr_reader,
            _stdout: reader,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Resident set size in KiB (VmRSS), or None once the process is gone.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Number of open file descriptors (entries of /proc/PID/fd).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends a signal (libc::SIGTERM, say).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill() with a pid we own and a valid signal number.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits up to `limit` for the process to exit; None if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // What it wrote last may still be in the pipe: let the reader take it in
                // (it ends when the server and its workers are gone; at most half a
                // second, as an orphan could hold the pipe).
                let drained = deadline.min(Instant::now() + Duration::from_millis(500));
                while !self.stderr_reader.is_finished() && Instant::now() < drained {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// True while the process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a `Vm...:` field of /proc/PID/status, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
