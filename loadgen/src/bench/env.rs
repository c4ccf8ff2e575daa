//! The environment of a bench, beyond what every loadgen run records: CPU model, rustc, the
//! versions of the runtime crates the servers were built with, perf and the pinning.

use std::collections::BTreeMap;
use std::process::Command;

use super::data::BenchEnvironment;
use crate::probe::Environment;

/// The workspace's lock file, read at build time: the crate versions the servers use.
const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");

/// The runtime crates behind the models.
const RUNTIME_CRATES: [&str; 9] = [
    "mio",
    "tokio",
    "async-std",
    "smol",
    "glommio",
    "may",
    "io-uring",
    "compio",
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
