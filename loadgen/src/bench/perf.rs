//! System calls of a server over a run, from `perf stat` tracepoints: every entry
//! (`raw_syscalls:sys_enter`) and a short list of the calls an echo server makes, counted
//! per process with its threads (new ones included: the counters are inherited).
//! A list rather than `syscalls:sys_enter_*`: one counter per call and thread would cost
//! hundreds of descriptors per thread.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::data::Syscalls;
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

/// A running `perf stat -p PID`.
pub struct PerfStat {
    child: Child,
    out: PathBuf,
}

impl PerfStat {
    /// Starts counting the system calls of `pids` (added up) into `out` (a CSV file), from
    /// `delay` on (the run's warm-up, which no other figure counts either).
    pub fn start(pids: &[u32], out: &Path, delay: Duration) -> Option<PerfStat> {
        let pids = pids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // A tracepoint this kernel lacks would make perf refuse them all: keep those that exist.
        let events = WATCHED
            .iter()
            .map(|s| format!("syscalls:sys_enter_{s}"))
            .filter(|e| Path::new(TRACEFS).join(e.replace(':', "/")).is_dir())
            .collect::<Vec<_>>();
        let mut cmd = Command::new("perf");
        cmd.args(["stat", "-x,", "-o"])
            .arg(out)
            .args(["-e", "raw_syscalls:sys_enter"]);
        if !delay.is_zero() {
            cmd.arg("-D").arg(delay.as_millis().to_string());
        }
        if !events.is_empty() {
            cmd.args(["-e", &events.join(",")]);
        }
        let child = cmd
            .arg("-p")
            .arg(pids)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        register(child.id());
        // perf attaches to the threads before it counts; give it that moment.
        std::thread::sleep(Duration::from_millis(200));
        Some(PerfStat {
            child,
            out: out.to_path_buf(),
        })
    }

    /// Stops counting (SIGINT, as Ctrl-C on perf stat) and reads the counts for `messages`.
    pub fn finish(mut self, messages: u64) -> Option<Syscalls> {
        signal(self.child.id(), libc::SIGINT);
        let _ = self.child.wait();
        unregister(self.child.id());
        let text = std::fs::read_to_string(&self.out).ok()?;
        let _ = std::fs::remove_file(&self.out);
        parse(&text, messages)
    }
}

/// Reads `perf stat -x,` output: `count,unit,event,...` per line.
pub fn parse(text: &str, messages: u64) -> Option<Syscalls> {
    let mut total = None;
    let mut top = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (f.first(), f.get(2)) else {
            continue;
        };
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
    let total = total?;
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP);
    Some(Syscalls {
        total,
        per_message: if messages > 0 {
            total as f64 / messages as f64
        } else {
            0.0
        },
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perf_csv() {
        let text = "# started on Sat\n\n191868,,raw_syscalls:sys_enter,508321087,100.00,,\n\
                    0,,syscalls:sys_enter_read,508321087,100.00,,\n\
                    81544,,syscalls:sys_enter_recvfrom,508321087,100.00,,\n\
                    <not counted>,,syscalls:sys_enter_futex,0,100.00,,\n\
                    81534,,syscalls:sys_enter_sendto,508321087,100.00,,\n";
        let s = parse(text, 81534).unwrap();
        assert_eq!(s.total, 191868);
        assert_eq!(
            s.top,
            [("recvfrom".into(), 81544), ("sendto".into(), 81534)]
        );
        assert!((s.per_message - 191868.0 / 81534.0).abs() < 1e-9);
        assert!(parse("# nothing\n", 1).is_none());
    }
}
