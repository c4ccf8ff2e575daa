//! System calls and CPU time of a server over a run's measured window, from `perf stat`:
//! its task-clock (CPU nanoseconds of every thread, exited ones included: the counters are
//! inherited and an exiting thread's count is added to its parent's), every system call
//! entry (`raw_syscalls:sys_enter`) and, where asked, a short list of the calls an echo
//! server makes. perf starts with its counters disabled (`-D -1`) and the bench switches
//! them on at the end of the warm-up and off when the load ends, through perf's control
//! descriptors, waiting for perf's acknowledgement each time: the window is the one every
//! other figure of the run counts.
//! A list rather than `syscalls:sys_enter_*`: one counter per call and thread would cost
//! hundreds of descriptors per thread.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::data::record::Syscalls;
use super::server::{register, signal, unregister};

/// The system calls whose counts are kept: those that carry an echo server's work. Each
/// tracepoint costs perf about 40 ms to close, so the list is short.
const WATCHED: [&str; 10] = [
    "read",
    "write",
    "recvfrom",
    "sendto",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "io_uring_enter",
    "futex",
    "sched_yield",
];

/// Where the kernel lists its tracepoints.
const TRACEFS: &str = "/sys/kernel/tracing/events";

/// How many of the watched calls a run keeps.
const TOP: usize = 5;

/// `perf --version`, or None when perf cannot count tracepoints here.
pub fn available() -> Option<String> {
    let out = Command::new("perf")
        .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v = Command::new("perf").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&v.stdout).trim().to_string())
}

/// How long perf may take to acknowledge a command (attaching to a server's threads first).
const ACK_LIMIT: Duration = Duration::from_secs(3);

/// A running `perf stat -p PID`, counters off until [`Control::enable`].
pub struct PerfStat {
    child: Child,
    out: PathBuf,
}

/// The bench's end of perf's control and acknowledgement pipes.
pub struct Control {
    ctl: File,
    ack: File,
}

/// What perf counted over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// System calls, None when perf printed no raw_syscalls count.
    pub syscalls: Option<Syscalls>,
    /// CPU time of all the server's threads, nanoseconds (task-clock).
    pub cpu_ns: Option<u64>,
}

/// A pipe as (read end, write end), both close-on-exec.
fn pipe() -> Option<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Some(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl PerfStat {
    /// Starts perf on `pids` (added up) into `out` (a CSV file) with its counters off.
    /// `breakdown` adds one counter per watched system call (each costs perf about 40 ms
    /// to close, so the bench asks for them in a point's first block only).
    pub fn start(pids: &[u32], out: &Path, breakdown: bool) -> Option<(PerfStat, Control)> {
        let pids = pids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // A tracepoint this kernel lacks would make perf refuse them all: keep those that exist.
        let events = WATCHED
            .iter()
            .map(|s| format!("syscalls:sys_enter_{s}"))
            .filter(|e| breakdown && Path::new(TRACEFS).join(e.replace(':', "/")).is_dir())
            .collect::<Vec<_>>();
        let (ctl_read, ctl_write) = pipe()?;
        let (ack_read, ack_write) = pipe()?;
        let (child_ctl, child_ack) = (ctl_read.as_raw_fd(), ack_write.as_raw_fd());
        let mut cmd = Command::new("perf");
        cmd.args(["stat", "-x,", "-o"])
            .arg(out)
            .args(["-D", "-1", "--control"])
            .arg(format!("fd:{child_ctl},{child_ack}"))
            .args(["-e", "task-clock,raw_syscalls:sys_enter"]);
        if !events.is_empty() {
            cmd.args(["-e", &events.join(",")]);
        }
        cmd.arg("-p")
            .arg(pids)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only fcntl, a plain system call, runs between fork and exec: perf's two
        // pipe ends lose close-on-exec so that perf inherits them.
        unsafe {
            cmd.pre_exec(move || {
                for fd in [child_ctl, child_ack] {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().ok()?;
        register(child.id());
        drop((ctl_read, ack_write));
        Some((
            PerfStat {
                child,
                out: out.to_path_buf(),
            },
            Control {
                ctl: File::from(ctl_write),
                ack: File::from(ack_read),
            },
        ))
    }

    /// Stops perf (SIGINT, as Ctrl-C on perf stat) and reads its counts for `messages`.
    pub fn finish(mut self, messages: u64) -> Counts {
        signal(self.child.id(), libc::SIGINT);
        let _ = self.child.wait();
        unregister(self.child.id());
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let _ = std::fs::remove_file(&self.out);
        parse(&text, messages)
    }
}

impl Control {
    /// Turns the counters on; true once perf acknowledged it (it has attached).
    pub fn enable(&mut self) -> bool {
        self.command("enable")
    }

    /// Turns the counters off; true once perf acknowledged it.
    pub fn disable(&mut self) -> bool {
        self.command("disable")
    }

    fn command(&mut self, what: &str) -> bool {
        if self.ctl.write_all(format!("{what}\n").as_bytes()).is_err() {
            return false;
        }
        let deadline = Instant::now() + ACK_LIMIT;
        let mut got = Vec::new();
        // perf answers "ack\n" and a NUL.
        while !got.windows(4).any(|w| w == b"ack\n") {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.ack.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            if ms == 0 || unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
                return false;
            }
            let mut buf = [0u8; 16];
            match self.ack.read(&mut buf) {
                Ok(0) | Err(_) => return false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        true
    }
}

/// Reads `perf stat -x,` output: `count,unit,event,...` per line.
pub fn parse(text: &str, messages: u64) -> Counts {
    let mut total = None;
    let mut cpu_ns = None;
    let mut top = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (f.first(), f.get(2)) else {
            continue;
        };
        if *event == "task-clock" {
            // msec with decimals
            cpu_ns = count
                .parse::<f64>()
                .ok()
                .map(|ms| (ms * 1e6).round() as u64);
            continue;
        }
        let Ok(count) = count.parse::<u64>() else {
            continue; // "<not counted>" or "<not supported>"
        };
        if *event == "raw_syscalls:sys_enter" {
            total = Some(count);
        } else if let Some(name) = event.strip_prefix("syscalls:sys_enter_") {
            if count > 0 {
                top.push((name.to_string(), count));
            }
        }
    }
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP);
    Counts {
        syscalls: total.map(|total| Syscalls {
            total,
            per_message: if messages > 0 {
                total as f64 / messages as f64
            } else {
                0.0
            },
            top,
        }),
        cpu_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perf_csv() {
        let text = "# started on Sat\n\n868.44,msec,task-clock,868435445,100.00,0.445,CPUs utilized\n\
                    191868,,raw_syscalls:sys_enter,508321087,100.00,,\n\
                    0,,syscalls:sys_enter_read,508321087,100.00,,\n\
                    81544,,syscalls:sys_enter_recvfrom,508321087,100.00,,\n\
                    <not counted>,,syscalls:sys_enter_futex,0,100.00,,\n\
                    81534,,syscalls:sys_enter_sendto,508321087,100.00,,\n";
        let c = parse(text, 81534);
        assert_eq!(c.cpu_ns, Some(868_440_000));
        let s = c.syscalls.unwrap();
        assert_eq!(s.total, 191868);
        assert_eq!(
            s.top,
            [("recvfrom".into(), 81544), ("sendto".into(), 81534)]
        );
        assert!((s.per_message - 191868.0 / 81534.0).abs() < 1e-9);
        assert_eq!(parse("# nothing\n", 1), Counts::default());
    }
}
