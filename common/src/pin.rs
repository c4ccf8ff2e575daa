//! CPU pinning: `--pin 1`, `--pin 2-3`, `--pin 0,2`. Benchmarks pin the server and the
//! load generator to different CPUs so that they do not steal each other's time.

use std::fmt;
use std::io;
use std::str::FromStr;

use thiserror::Error;

/// A non-empty, sorted, de-duplicated list of CPU numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

/// Why a CPU list could not be read or used.
#[derive(Debug, Error)]
pub enum PinError {
    #[error("'{0}' is not a CPU list (examples: 1, 2-3, 0,2)")]
    Syntax(String),
    #[error("CPU {cpu} is not available here (this process may use CPUs {allowed})")]
    Unavailable { cpu: usize, allowed: CpuList },
    #[error("sched_setaffinity: {0}")]
    Os(#[from] io::Error),
}

/// Highest CPU number a `cpu_set_t` can hold.
const MAX_CPU: usize = libc::CPU_SETSIZE as usize - 1;

impl CpuList {
    /// The CPUs, ascending.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// The CPU this process may run on now (its affinity mask).
    pub fn allowed() -> io::Result<CpuList> {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let cpus = (0..=MAX_CPU)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect();
        Ok(CpuList(cpus))
    }

    /// Fails unless every listed CPU is one this process may run on.
    pub fn check_online(&self) -> Result<(), PinError> {
        let allowed = CpuList::allowed()?;
        match self.0.iter().find(|c| !allowed.0.contains(c)) {
            Some(&cpu) => Err(PinError::Unavailable { cpu, allowed }),
            None => Ok(()),
        }
    }

    /// Pins the calling thread to all listed CPUs. Threads it starts later inherit this.
    pub fn pin_current_thread(&self) -> Result<(), PinError> {
        set_affinity(&self.0)
    }

    /// Pins the calling thread to the `index`-th listed CPU (round-robin), for models
    /// that run one executor per CPU.
    pub fn pin_current_thread_to_nth(&self, index: usize) -> Result<(), PinError> {
        set_affinity(&[self.0[index % self.0.len()]])
    }
}

fn set_affinity(cpus: &[usize]) -> Result<(), PinError> {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays in bounds because parsing caps
    // every CPU at MAX_CPU.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

impl FromStr for CpuList {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PinError::Syntax(s.to_string());
        let cpu = |t: &str| -> Result<usize, PinError> {
            let n: usize = t.trim().parse().map_err(|_| bad())?;
            if n > MAX_CPU { Err(bad()) } else { Ok(n) }
        };
        let mut cpus = Vec::new();
        for part in s.split(',') {
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (cpu(lo)?, cpu(hi)?);
                    if lo > hi {
                        return Err(bad());
                    }
                    cpus.extend(lo..=hi);
                }
                None => cpus.push(cpu(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            if i > 0 && start != self.0[0] {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        assert_eq!("1".parse::<CpuList>().unwrap().cpus(), &[1]);
        assert_eq!("2-4".parse::<CpuList>().unwrap().cpus(), &[2, 3, 4]);
        assert_eq!(
            "3,0,1-2,3".parse::<CpuList>().unwrap().cpus(),
            &[0, 1, 2, 3]
        );
        for bad in ["", "a", "3-1", "1,,2", "-1", "99999"] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_compactly() {
        for s in ["0", "0-3", "0,2", "0-1,4-5,7"] {
            assert_eq!(s.parse::<CpuList>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn current_affinity_is_allowed_and_can_be_set() {
        let allowed = CpuList::allowed().unwrap();
        assert!(!allowed.cpus().is_empty());
        allowed.check_online().unwrap();
        std::thread::spawn(move || allowed.pin_current_thread_to_nth(0).unwrap())
            .join()
            .unwrap();
    }
}
