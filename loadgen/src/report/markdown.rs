//! summary.md from a bench's raw.json: the seed studies' tables per suite (messages/s as
//! mean +- 95% interval, relative speed, p50/p95 latency, server CPU per message, CPU % at
//! a fixed rate, system calls per message, user share of CPU, RSS per connection; the PyYYC
//! plans' table), the charts, the environment and the exact command. Every number comes
//! from the data; nothing is typed by hand.

use std::fmt::Write as _;

use super::aggregate::{Cell, Grid};
use super::sections::{headline, pingpong, plans};
use crate::bench::data::{BenchResults, RunRecord, RunStatus};

/// A table from a header and rows; the first column is left-aligned, the others right.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        s.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    s.push('\n');
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

/// A number with thousands separators and `decimals` decimals.
pub fn num(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// Microseconds as milliseconds with sensible precision.
pub(crate) fn ms(us: f64) -> String {
    let m = us / 1000.0;
    match m {
        m if m < 10.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => num(m, 0),
    }
}

/// `mean ± interval` (just the mean for one round); `-` when there is nothing.
pub(super) fn pm(c: Option<Cell>, decimals: usize) -> String {
    match c {
        Some(Cell {
            mean,
            ci95: Some(ci),
            ..
        }) => format!("{} ± {}", num(mean, decimals), num(ci, decimals)),
        Some(c) => num(c.mean, decimals),
        None => "-".into(),
    }
}

pub(super) fn mean(c: Option<Cell>, f: impl Fn(f64) -> String) -> String {
    c.map_or("-".into(), |c| f(c.mean))
}

/// A run's figure, if it has it.
pub(super) type Figure = fn(&RunRecord) -> Option<f64>;

pub(super) fn lat(r: &RunRecord, pick: fn(&crate::run::report::Latency) -> u64) -> Option<f64> {
    let rep = r.report.as_ref()?;
    (rep.ok > 0).then(|| pick(&rep.latency_us) as f64)
}

/// One row per model, one column per point: `f` gives a run's figure, `show` a cell's text.
pub(super) fn grid_table(
    g: &Grid,
    f: impl Fn(&RunRecord) -> Option<f64> + Copy,
    show: impl Fn(Option<Cell>) -> String,
) -> String {
    let mut header = vec!["model".to_string()];
    header.extend(
        g.points
            .iter()
            .map(|p| format!("{} conns", num(g.conns(p) as f64, 0))),
    );
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(g.points.iter().map(|p| show(g.cell(m, p, f))));
            row
        })
        .collect();
    table(&header, &rows)
}

/// `read_timeout 205, reset 3`: the kinds that occurred.
fn error_kinds(e: &crate::stats::ErrorCounts) -> String {
    match serde_json::to_value(e) {
        Ok(serde_json::Value::Object(kinds)) => kinds
            .iter()
            .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{e:?}"),
    }
}

fn problems(r: &BenchResults, s: &mut String) {
    let mut rows = Vec::new();
    for run in &r.runs {
        let what = match &run.status {
            RunStatus::Ok => match &run.report {
                Some(rep) if rep.errors > 0 => {
                    format!(
                        "{} sample errors: {}",
                        rep.errors,
                        error_kinds(&rep.errors_by_kind)
                    )
                }
                _ => continue,
            },
            other => format!("{other:?}"),
        };
        rows.push(vec![
            run.model.clone(),
            format!("{} {}", run.suite, run.point),
            run.block.to_string(),
            what.replace('|', "/"),
        ]);
    }
    if !rows.is_empty() {
        let header: Vec<String> = ["model", "point", "block", "what happened"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let _ = writeln!(
            s,
            "## Runs with errors or failures\n\nFailed runs are left out of the tables above.\n\n{}",
            table(&header, &rows)
        );
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
                c.suites.join(","),
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

/// The whole summary.md; `charts` are (file, caption) of the SVGs beside it.
pub fn summary(
    r: &BenchResults,
    charts: &[(String, String)],
    reference: &str,
    margin: f64,
) -> String {
    let mut s = String::from("# echolab bench\n\n");
    let _ = writeln!(
        s,
        "Made with:\n\n```sh\n{}\n```\n",
        shell_words(&r.config.command)
    );
    let _ = writeln!(
        s,
        "Rendered from raw.json by `loadgen report` ({} runs{}). {}perf's tracepoints add a little server CPU of their own.\n",
        r.runs.len(),
        if r.complete {
            ""
        } else {
            "; the bench did not finish"
        },
        super::design::sentence(r),
    );
    // A run of other suites only (`make bench-mixed`) has no main table to show.
    if r.runs.iter().any(|run| run.suite == "pingpong") {
        let _ = writeln!(s, "## Main table\n\n{}", headline(r, reference, margin));
        if r.config.is_blocked() {
            let _ = writeln!(
                s,
                "Means over blocks; in brackets each model's ratio to {reference} and its verdict (see Verdicts below: a verdict needs the whole 95% interval to clear 1 by more than {}%).\n",
                margin * 100.0
            );
        }
    }
    for (file, caption) in charts {
        let _ = writeln!(s, "![{caption}]({file})\n");
    }
    super::design::section(r, reference, margin, &mut s);
    super::ranking::section(r, reference, margin, &mut s);
    super::baselines::section(r, margin, &mut s);
    super::variants::section(r, margin, &mut s);
    pingpong(r, &mut s);
    plans(r, &mut s);
    super::frames::section(r, &mut s);
    super::mixed::section(r, &mut s);
    super::spread::section(r, &mut s);
    problems(r, &mut s);
    environment(r, &mut s);
    for note in &r.notes {
        let _ = writeln!(s, "Note: {note}\n");
    }
    s
}

/// A command line as one could paste it into a shell.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_tables() {
        assert_eq!(num(1234567.891, 1), "1,234,567.9");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(num(-1000.0, 0), "-1,000");
        assert_eq!(ms(1234.0), "1.23");
        assert_eq!(ms(123_456.0), "123");
        let t = table(
            &["model".into(), "x".into()],
            &[vec!["epoll".into(), "1".into()]],
        );
        assert_eq!(t, "| model | x |\n|---|---:|\n| epoll | 1 |\n");
        assert_eq!(shell_words(&["a b".into(), "c".into()]), "'a b' c");
    }
}
