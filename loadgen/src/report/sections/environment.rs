//! The environment a bench ran in: CPU, kernel, host, rustc, crates, limits, pinning,
//! perf, the servers' folder and every setting of the bench.

use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::BenchResults;

/// The section.
pub struct Environment;

impl Section for Environment {
    fn markdown(&self, b: &Bench, s: &mut String) {
        environment(b.results, s);
    }
}

fn environment(r: &BenchResults, s: &mut String) {
    let e = &r.environment;
    let c = &r.config;
    let crates = e
        .crates
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = vec![
        vec![
            "CPU".into(),
            format!("{} ({} online)", e.cpu_model, e.base.cpus_online),
        ],
        vec!["kernel".into(), e.base.kernel.clone()],
        vec!["host".into(), e.base.hostname.clone()],
        vec!["rustc".into(), e.rustc.clone().unwrap_or("-".into())],
        vec!["crates".into(), crates],
        vec![
            "open-file limit".into(),
            e.base.open_files_limit.to_string(),
        ],
        vec![
            "kernel.pid_max (threads, machine-wide)".into(),
            e.base.pid_max.to_string(),
        ],
        vec![
            "pinning".into(),
            format!(
                "server CPUs {}, loadgen CPUs {}",
                e.server_cpus.as_deref().unwrap_or("not pinned"),
                e.loadgen_cpus.as_deref().unwrap_or("not pinned")
            ),
        ],
        vec!["perf".into(), e.perf.clone().unwrap_or("not used".into())],
        vec!["servers".into(), c.bin_dir.clone()],
        vec![
            "settings".into(),
            format!(
                "suites {}; models {}; conns {:?}; {}s per timed run; blocks {}{}; seed {}; reference {}; margin {}; scale {}; fixed rate {} msg/s",
                c.suites
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                c.models.join(","),
                c.conns,
                c.duration_s,
                c.blocks,
                c.suite_blocks
                    .iter()
                    .map(|(s, n)| format!(", {s} {n}"))
                    .collect::<String>(),
                c.seed
                    .map_or("none (predates blocks)".into(), |s| s.to_string()),
                c.reference,
                c.margin,
                c.scale,
                c.rate_fixed
            ),
        ],
    ];
    s.push_str("## Environment\n\n| | |\n|---|---|\n");
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::synthetic;

    #[test]
    fn the_machine_and_every_setting() {
        insta::assert_snapshot!(render(&Environment, &synthetic(2)));
    }
}
