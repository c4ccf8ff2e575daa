//! CPU time to the nanosecond, read at any moment: a server's over every thread of every
//! process (`/proc/PID/task/TID/schedstat`, whose first field is the nanoseconds a task
//! has spent on a CPU) and loadgen's own thread (`CLOCK_THREAD_CPUTIME_ID`). The
//! interleaved design reads them at the edges of each measured part, when the server is
//! idle (every reply drained), so a reading that takes a few milliseconds over a thousand
//! threads costs nothing that is counted.
//!
//! A thread that exits between two readings takes its time with it; the servers measured
//! here keep their threads for their whole life (their pools grow and stay).

use std::fs;

/// CPU nanoseconds of every thread of `pids` now; None when none of them can be read (all
/// gone).
pub fn tasks_ns(pids: &[u32]) -> Option<u64> {
    let mut total = 0u64;
    let mut seen = false;
    for pid in pids {
        let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in dir.flatten() {
            let path = task.path().join("schedstat");
            if let Some(ns) = fs::read_to_string(path)
                .ok()
                .as_deref()
                .and_then(first_field)
            {
                total += ns;
                seen = true;
            }
        }
    }
    seen.then_some(total)
}

/// The first number of a schedstat line (`on-CPU ns, waiting ns, timeslices`).
fn first_field(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// CPU nanoseconds of the calling thread.
pub fn this_thread_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which lives for the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    #[test]
    fn schedstat_lines() {
        assert_eq!(first_field("123456 789 10\n"), Some(123_456));
        assert_eq!(first_field(""), None);
        assert_eq!(
            tasks_ns(&[u32::MAX - 1]),
            None,
            "a gone pid reads as nothing"
        );
    }

    #[test]
    fn a_process_that_burns_a_known_amount_is_measured_to_it() {
        // A child that burns 300 ms of its own CPU time (by its process clock) each time it
        // is told to, then says so and waits: read before and after one burn.
        let script = "import sys, time\n\
                      print('ready', flush=True)\n\
                      for line in sys.stdin:\n\
                      \x20   t = time.process_time()\n\
                      \x20   while time.process_time() - t < 0.3: pass\n\
                      \x20   print('done', flush=True)\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (installed by scripts/deps.sh)");
        let pid = child.id();
        let mut stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        let before = tasks_ns(&[pid]).unwrap();
        let mine = this_thread_ns();
        writeln!(stdin, "go").unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "done");
        let burnt = tasks_ns(&[pid]).unwrap() - before;
        drop(stdin);
        let _ = child.wait();
        // 300 ms burnt, plus the few instructions around the loop and the print.
        assert!(
            (300_000_000..330_000_000).contains(&burnt),
            "measured {burnt} ns for a 300 ms burn"
        );
        // Waiting on a pipe costs this thread next to nothing.
        assert!(this_thread_ns() - mine < 50_000_000);
    }
}
