//! The environment of a bench, beyond what every loadgen run records: CPU model, rustc, the
//! versions of the runtime crates the servers were built with, perf and the pinning; and the
//! machine's CPUs split between the servers and loadgen ([`split_cpus`]), and its clock.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::pin::CpuList;

use super::data::BenchEnvironment;
use crate::probe::Environment;

/// The workspace's lock file, read at build time: the crate versions the servers use.
const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");

/// The runtime crates behind the models.
const RUNTIME_CRATES: [&str; 10] = [
    "mio",
    "tokio",
    "async-std",
    "smol",
    "glommio",
    "may",
    "io-uring",
    "compio",
    "crossbeam-channel",
    "libc",
];

/// Reads the machine now.
pub fn current(
    perf: Option<String>,
    server_cpus: Option<String>,
    loadgen_cpus: Option<String>,
) -> BenchEnvironment {
    BenchEnvironment {
        base: Environment::current(),
        cpu_model: cpu_model(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
        rustc: Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        crates: crate_versions(CARGO_LOCK),
        perf,
        server_cpus,
        loadgen_cpus,
    }
}

/// The first `model name` of /proc/cpuinfo.
fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Versions of [`RUNTIME_CRATES`] in a Cargo.lock (several versions joined by a space).
fn crate_versions(lock: &str) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut name: Option<&str> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"'));
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if RUNTIME_CRATES.contains(&n) {
                let v = v.trim_matches('"');
                found
                    .entry(n.to_string())
                    .and_modify(|e| {
                        e.push(' ');
                        e.push_str(v)
                    })
                    .or_insert_with(|| v.to_string());
            }
        }
    }
    found
}

/// The wall clock in milliseconds since the Unix epoch, as raw.json records times.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// (server CPUs, loadgen CPUs): the first allowed CPU and the rest, when there are two or more.
/// Taken from the affinity this process had at the first call, before the bench pinned
/// itself, so that suites' baselines get the same split later.
pub fn split_cpus() -> (Option<CpuList>, Option<CpuList>) {
    static FIRST: std::sync::OnceLock<Option<CpuList>> = std::sync::OnceLock::new();
    let Some(allowed) = FIRST.get_or_init(|| CpuList::allowed().ok()) else {
        return (None, None);
    };
    match allowed.cpus() {
        [first, rest @ ..] if !rest.is_empty() => {
            let join = |c: &[usize]| {
                c.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (join(&[*first]).parse().ok(), join(rest).parse().ok())
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lock_and_cpuinfo() {
        let lock = "[[package]]\nname = \"tokio\"\nversion = \"1.54.1\"\n\n[[package]]\nname = \"mio\"\nversion = \"0.8.11\"\n[[package]]\nname = \"mio\"\nversion = \"1.2.4\"\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\n";
        let v = crate_versions(lock);
        assert_eq!(v["tokio"], "1.54.1");
        assert_eq!(v["mio"], "0.8.11 1.2.4");
        assert!(!v.contains_key("serde"));
        assert_eq!(
            cpu_model("processor: 0\nmodel name\t: AMD EPYC\n"),
            "AMD EPYC"
        );
        assert!(crate_versions(CARGO_LOCK).contains_key("tokio"));
    }
}
