//! Process measurements from /proc: CPU time (user and system), memory, threads and context
//! switches of the server (`--server-pid`) and of loadgen itself, plus the environment
//! basics recorded with every result.

use std::fs;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::sys;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// When it was read.
    pub at: Instant,
    /// CPU time in user mode, clock ticks.
    pub utime: u64,
    /// CPU time in kernel mode, clock ticks.
    pub stime: u64,
    /// Threads.
    pub threads: u64,
    /// Virtual size, bytes.
    pub vsize: u64,
    /// Resident pages.
    pub rss_pages: u64,
    /// Voluntary context switches, summed over its threads.
    pub voluntary: u64,
    /// Involuntary context switches, summed over its threads.
    pub involuntary: u64,
    /// False for a zombie: it exited and waits to be reaped.
    pub alive: bool,
}

/// Parses the fields of `/proc/PID/stat` that loadgen uses:
/// (utime, stime, num_threads, vsize, rss).
pub fn parse_stat(text: &str) -> Option<(u64, u64, u64, u64, u64)> {
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is f[N - 3].
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)?, field(15)?, field(20)?, field(23)?, field(24)?))
}

/// Sums `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` over a process's threads.
fn context_switches(pid: u32) -> (u64, u64) {
    let mut total = (0, 0);
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return total;
    };
    for task in tasks.flatten() {
        let Ok(status) = fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let value = |l: &str| l.split_whitespace().nth(1)?.parse::<u64>().ok();
            if line.starts_with("voluntary_ctxt_switches:") {
                total.0 += value(line).unwrap_or(0);
            } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                total.1 += value(line).unwrap_or(0);
            }
        }
    }
    total
}

/// Reads a process now; None once it is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = text[text.rfind(')')? + 1..].split_whitespace().next()?;
    let (utime, stime, threads, vsize, rss_pages) = parse_stat(&text)?;
    let (voluntary, involuntary) = context_switches(pid);
    Some(ProcSample {
        at: Instant::now(),
        utime,
        stime,
        threads,
        vsize,
        rss_pages,
        voluntary,
        involuntary,
        alive: state != "Z",
    })
}

/// (resident pages, virtual size in bytes) of several processes added up, from their
/// /proc/PID/stat alone: what a frequent memory sampler needs, without reading every
/// thread's status as [`sample`] does (thousands of files for a thread-per-connection
/// server, on the CPU loadgen runs on). None when any of them is gone.
pub fn memory_all(pids: &[u32]) -> Option<(u64, u64)> {
    pids.iter().try_fold((0, 0), |(rss, vsz), &p| {
        let text = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let (_, _, _, vsize, rss_pages) = parse_stat(&text)?;
        Some((rss + rss_pages, vsz + vsize))
    })
}

/// Several processes read now and added up (threads, memory, CPU, context switches); None
/// when the list is empty or any of them is gone. `alive` only when all are.
pub fn sample_all(pids: &[u32]) -> Option<ProcSample> {
    let mut samples = pids.iter().map(|&p| sample(p));
    let mut sum = samples.next()??;
    for s in samples {
        let s = s?;
        sum.utime += s.utime;
        sum.stime += s.stime;
        sum.threads += s.threads;
        sum.vsize += s.vsize;
        sum.rss_pages += s.rss_pages;
        sum.voluntary += s.voluntary;
        sum.involuntary += s.involuntary;
        sum.alive &= s.alive;
    }
    Some(sum)
}

/// CPU time a process spent over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Seconds of CPU in user mode.
    pub user_s: f64,
    /// Seconds of CPU in kernel mode (system calls, network stack).
    pub system_s: f64,
    /// Voluntary context switches (it waited), over its threads alive at the end.
    pub voluntary_ctxt_switches: u64,
    /// Involuntary context switches (it was preempted).
    pub involuntary_ctxt_switches: u64,
}

impl CpuUsage {
    /// CPU seconds between two readings of one process.
    pub fn between(a: &ProcSample, b: &ProcSample) -> CpuUsage {
        let hz = sys::clock_ticks();
        CpuUsage {
            user_s: b.utime.saturating_sub(a.utime) as f64 / hz,
            system_s: b.stime.saturating_sub(a.stime) as f64 / hz,
            voluntary_ctxt_switches: b.voluntary.saturating_sub(a.voluntary),
            involuntary_ctxt_switches: b.involuntary.saturating_sub(a.involuntary),
        }
    }

    /// Adds another process's usage (a `--procs` child, a merged run).
    pub fn add(&mut self, o: &CpuUsage) {
        self.user_s += o.user_s;
        self.system_s += o.system_s;
        self.voluntary_ctxt_switches += o.voluntary_ctxt_switches;
        self.involuntary_ctxt_switches += o.involuntary_ctxt_switches;
    }

    /// User plus system seconds.
    pub fn total_s(&self) -> f64 {
        self.user_s + self.system_s
    }
}

/// The server process over the run (`--server-pid`); several are added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerUsage {
    /// Its process id (the first one's, when there were several).
    pub pid: u32,
    /// How many processes the figures add up (several share a port with --reuse-port).
    #[serde(default = "one")]
    pub processes: u32,
    /// CPU seconds and context switches during the run.
    pub cpu: CpuUsage,
    /// User CPU as a percentage of one CPU over the run, as top shows it.
    pub cpu_user_pct: f64,
    /// System CPU as a percentage of one CPU over the run.
    pub cpu_system_pct: f64,
    /// Resident memory at the end, KiB.
    pub rss_kib: u64,
    /// Virtual memory size at the end, KiB.
    pub vsz_kib: u64,
    /// Threads at the end.
    pub threads: u64,
    /// Seconds between the two readings.
    pub window_s: f64,
    /// False when the process was gone at the end (figures then cover up to its last reading).
    pub alive_at_end: bool,
}

fn one() -> u32 {
    1
}

impl ServerUsage {
    /// The change between a reading before the run and one after (or the last one that
    /// could be taken, when the server died).
    pub fn between(pid: u32, a: &ProcSample, b: &ProcSample, alive: bool) -> ServerUsage {
        let cpu = CpuUsage::between(a, b);
        let window = b.at.saturating_duration_since(a.at).as_secs_f64().max(1e-9);
        ServerUsage {
            pid,
            processes: 1,
            cpu,
            cpu_user_pct: cpu.user_s / window * 100.0,
            cpu_system_pct: cpu.system_s / window * 100.0,
            rss_kib: b.rss_pages * sys::page_size() / 1024,
            vsz_kib: b.vsize / 1024,
            threads: b.threads,
            window_s: window,
            alive_at_end: alive,
        }
    }
}

/// The machine a run went on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Host name.
    pub hostname: String,
    /// Kernel release (uname -r).
    pub kernel: String,
    /// CPUs online.
    pub cpus_online: usize,
    /// CPUs this process may run on (its affinity, e.g. under taskset).
    pub cpus_allowed: usize,
    /// Open-file limit of the process.
    pub open_files_limit: u64,
    /// Local port range size (net.ipv4.ip_local_port_range).
    pub local_ports: u64,
    /// Most process and thread ids the kernel hands out (kernel.pid_max): a machine-wide
    /// cap on threads, so on the thread-per-connection model's connections.
    #[serde(default)]
    pub pid_max: u64,
    /// The command line.
    pub command: Vec<String>,
}

impl Environment {
    /// Reads the environment of this process.
    pub fn current() -> Environment {
        let read = |p: &str| {
            fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        // SAFETY: sysconf has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        Environment {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus_online: online.max(1) as usize,
            cpus_allowed: std::thread::available_parallelism().map_or(1, |n| n.get()),
            open_files_limit: sys::raise_open_files(),
            local_ports: sys::local_port_count(),
            pid_max: read("/proc/sys/kernel/pid_max").parse().unwrap_or(0),
            command: std::env::args().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_spaces_in_the_name() {
        let line = "4242 (echo (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 120 0 0 20 0 3 0 12345 10485760 512 18446744073709551615";
        assert_eq!(parse_stat(line), Some((250, 120, 3, 10_485_760, 512)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_itself() {
        let a = sample(std::process::id()).expect("own /proc entry");
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = sample(std::process::id()).unwrap();
        assert!(b.threads >= 1);
        assert!(b.rss_pages > 0);
        let u = ServerUsage::between(1, &a, &b, true);
        assert!(u.cpu.total_s() >= 0.0 && u.vsz_kib > 0);
        assert!(sample(u32::MAX - 1).is_none());
    }
}
