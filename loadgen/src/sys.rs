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
}
