//! The bench's page, report.html: every figure computed here from raw.json with the
//! statistics the summary uses (`super::stats`, `super::figures`, `super::studies`), handed
//! to `crate::html` as a [`Page`] whose script only draws it. No section imports this
//! module; `super::summary` writes the page beside summary.md.
//!
//! The page's sections, each left out when the bench has nothing for it: the verdicts
//! (`verdicts`: a forest plot and a sortable table per point and metric, and the
//! baselines beside the studies' ratios), the sweep against connections, fairness, frames
//! against the loopback limit and the mixed suite's knee (`sweeps`), the latency
//! percentile curves and the measurement block by block (`time`), then the problems.

mod sweeps;
mod time;
mod verdicts;

use super::figures::shell_words;
use crate::bench::data::{BenchResults, RunStatus};
use crate::html::{Block, Cell, Link, Page, Section, Table};

/// The bench's page.
pub fn page(results: &BenchResults, reference: &str, margin: f64) -> Page {
    let mut sections = Vec::new();
    sections.extend(verdicts::section(results, reference, margin));
    sections.extend(sweeps::against_connections(results));
    sections.extend(time::percentiles(results));
    sections.extend(time::over_time(results));
    sections.extend(sweeps::fairness(results));
    sections.extend(sweeps::frames(results));
    sections.extend(sweeps::mixed(results));
    sections.extend(verdicts::baselines(results, margin));
    sections.extend(problems(results));
    Page {
        page: "bench",
        title: "echolab bench".into(),
        header: header(results, reference, margin),
        links: vec![
            Link {
                href: "raw.json".into(),
                text: format!("raw.json ({} runs)", results.runs.len()),
            },
            Link {
                href: "runs.csv".into(),
                text: "runs.csv (every run, every figure)".into(),
            },
            Link {
                href: "summary.md".into(),
                text: "summary.md".into(),
            },
        ],
        sections,
    }
}

/// The environment and the design: what a reader needs before any figure.
fn header(r: &BenchResults, reference: &str, margin: f64) -> Vec<(String, String)> {
    let env = &r.environment;
    let mut h = vec![
        ("CPU".to_string(), cpu(r)),
        (
            "kernel".into(),
            format!("{} ({})", env.base.kernel, env.base.hostname),
        ),
        (
            "pinning".into(),
            match (&env.server_cpus, &env.loadgen_cpus) {
                (Some(s), Some(l)) => format!("servers on CPUs {s}, loadgen on CPUs {l}"),
                _ => "none".into(),
            },
        ),
        ("steal".into(), steal(r)),
        ("design".into(), design(r)),
        (
            "verdicts".into(),
            format!(
                "ratios to {reference}, margin {}%, errors above {}% judged on errors alone",
                margin * 100.0,
                r.config.max_error_pct
            ),
        ),
        ("command".into(), shell_words(&r.config.command)),
        (
            "loadgen".into(),
            format!(
                "{}; {} runs{}",
                r.loadgen_version,
                r.runs.len(),
                if r.complete {
                    ""
                } else {
                    ", the bench did not finish"
                }
            ),
        ),
    ];
    if let Some(rustc) = &env.rustc {
        h.push(("rustc".into(), rustc.clone()));
    }
    h
}

fn cpu(r: &BenchResults) -> String {
    let b = &r.environment.base;
    format!(
        "{} ({} online, {} allowed)",
        if r.environment.cpu_model.is_empty() {
            "unknown"
        } else {
            &r.environment.cpu_model
        },
        b.cpus_online,
        b.cpus_allowed
    )
}

/// The hypervisor's steal over the runs: median, largest, runs over the flag.
fn steal(r: &BenchResults) -> String {
    let mut v: Vec<f64> = r.runs.iter().filter_map(|x| x.steal_pct).collect();
    if v.is_empty() {
        return "not counted".into();
    }
    v.sort_by(f64::total_cmp);
    let flagged = r.runs.iter().filter(|x| x.had_steal()).count();
    format!(
        "median {:.2}%, largest {:.2}% of all CPUs; {flagged} of {} runs at {}% or more",
        v[v.len() / 2],
        v[v.len() - 1],
        v.len(),
        crate::bench::data::RunRecord::STEAL_FLAG_PCT
    )
}

fn design(r: &BenchResults) -> String {
    let c = &r.config;
    let mut s = format!("{}, {} blocks", c.design.name(), c.blocks);
    if let Some(sl) = &c.slicing {
        s += &format!(
            ", slices of {} ms warm-up + {} ms measured",
            sl.warmup_ms, sl.measured_ms
        );
    }
    match c.seed {
        Some(seed) => s += &format!(", seed {seed}"),
        None => s += ", one fixed order (no seed)",
    }
    s + &format!(
        "; models {}; suites {}",
        c.models.join(", "),
        c.suites
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Runs that failed or had failed samples, and the bench's notes.
fn problems(r: &BenchResults) -> Option<Section> {
    let rows: Vec<Vec<Cell>> = r
        .runs
        .iter()
        .filter(|x| x.status != RunStatus::Ok || x.report.as_ref().is_some_and(|p| p.errors > 0))
        .map(|x| {
            let (status, detail) = match &x.status {
                RunStatus::Ok => ("ok", String::new()),
                RunStatus::ServerFailed(d) => ("server failed", d.clone()),
                RunStatus::ServerDied(d) => ("server died", d.clone()),
                RunStatus::LoadFailed(d) => ("load failed", d.clone()),
            };
            let errors = x.report.as_ref().map(|p| p.errors);
            vec![
                Cell::from(format!("{} {}", x.suite, x.point)),
                Cell::from(x.model.as_str()),
                Cell::from(u64::from(x.block)),
                Cell::from(status),
                Cell::from(errors.map(|e| e as f64)),
                Cell::from(x.error_pct()),
                Cell::from(detail.lines().next().unwrap_or("").to_string()),
            ]
        })
        .collect();
    if rows.is_empty() && r.notes.is_empty() {
        return None;
    }
    let mut blocks = Vec::new();
    if !rows.is_empty() {
        blocks.push(Block::Table(Table {
            class: "problems".into(),
            attrs: vec![],
            columns: [
                "point", "model", "block", "status", "errors", "errors %", "detail",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }));
    }
    if !r.notes.is_empty() {
        blocks.push(Block::List {
            items: r.notes.clone(),
        });
    }
    Some(Section {
        id: "problems".into(),
        title: "Problems".into(),
        text: vec!["Runs that ended badly or had failed samples, and what the bench noted.".into()],
        blocks,
    })
}

#[cfg(test)]
mod tests;
