//! The few operating-system limits loadgen checks before a run: open files, local ports.

use std::fs;

/// Ephemeral ports one source address can use towards one server port
/// (`net.ipv4.ip_local_port_range`).
pub fn local_port_count() -> u64 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u64>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) if hi >= lo => Some(hi - lo + 1),
                _ => None,
            }
        })
        .unwrap_or(28_232)
}

/// Raises this process's soft open-file limit to its hard limit and returns the result.
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a live struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

/// True when a process with this id exists (and is not a zombie).
pub fn process_exists(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Clock ticks per second for /proc times.
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Bytes per memory page.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// The machine's CPU time so far from /proc/stat's `cpu` line, in clock ticks:
/// (stolen by the hypervisor, all of it). None where the kernel does not count steal.
pub fn cpu_steal_ticks() -> Option<(u64, u64)> {
    parse_cpu_line(&fs::read_to_string("/proc/stat").ok()?)
}

/// (steal, total) from /proc/stat's text. Guest time is already inside user time, so the
/// total leaves guest and guest_nice out.
fn parse_cpu_line(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let steal = *f.get(7)?;
    Some((steal, f.iter().take(8).sum()))
}

/// Stolen share of the machine's CPU time between two readings, percent.
pub fn steal_pct(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1)?;
    let steal = after.0.checked_sub(before.0)?;
    (total > 0).then(|| steal as f64 * 100.0 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_sane() {
        assert!(local_port_count() > 1000);
        assert!(raise_open_files() >= 256);
        assert!(process_exists(std::process::id()));
        assert!(!process_exists(u32::MAX - 1));
        assert!(clock_ticks() >= 1.0);
        assert!(page_size() >= 4096);
    }

    #[test]
    fn steal_from_proc_stat() {
        let text = "cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(parse_cpu_line(text), Some((35, 1000)));
        assert_eq!(steal_pct((35, 1000), (55, 2000)), Some(2.0));
        assert_eq!(steal_pct((35, 1000), (35, 1000)), None);
        assert!(parse_cpu_line("cpu  1 2 3\n").is_none());
    }
}
