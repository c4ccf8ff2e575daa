//! The `## Variants` section of summary.md: models run under other settings
//! (`loadgen bench --variant NAME=MODEL:KEY=VALUE:--flag=value`), each a model of its own in
//! the same shuffled blocks as the model with its defaults. Per point and figure, a
//! variant's paired per-block ratio to its model (the verdicts' t interval,
//! [`verdict::at_point`] with the model as the reference), so a setting's effect is
//! told apart from the noise as models are.
//!
//! When glommio ran, `### glommio's cost` follows: its system calls per message, which
//! calls, at every point, beside epoll's and uring's where they ran; what each glommio
//! setting did; and a paragraph, rendered from those figures, on why its cost is what it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Bench, Section};
use crate::bench::data::{BenchResults, RunRecord, RunStatus, Variant};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{num, table};
use crate::report::figures::median;
use crate::report::stats::verdict::{self, Better, Metric, PointVerdicts, Verdict};

/// System calls per message, counted by perf over the measured window.
pub const SYSCALLS_MSG: Metric = Metric {
    key: "sys-msg",
    label: "system calls/message",
    better: Better::Lower,
    value: |r| r.syscalls.as_ref().map(|s| s.per_message),
    words: ("fewer", "more"),
};

/// Calls that move a socket's bytes themselves (readiness-style I/O).
const RECV_CALLS: [&str; 2] = ["recvfrom", "read"];
/// Calls that send a socket's bytes themselves.
const SEND_CALLS: [&str; 2] = ["sendto", "write"];
/// glommio's model name.
const GLOMMIO: &str = "glommio";

/// The figures a point ranks by, then system calls per message when perf counted them.
fn metrics(r: &BenchResults, suite: SuiteName, kind: PointKind) -> Vec<Metric> {
    let mut m = verdict::metrics_for(suite, kind);
    if r.runs
        .iter()
        .any(|x| x.suite == suite && x.syscalls.is_some())
    {
        m.push(SYSCALLS_MSG);
    }
    m
}

/// Ok runs of `model` at a point.
fn ok_runs<'a>(
    r: &'a BenchResults,
    suite: SuiteName,
    point: &'a str,
    model: &'a str,
) -> impl Iterator<Item = &'a RunRecord> {
    r.runs.iter().filter(move |x| {
        x.suite == suite && x.point == point && x.model == model && x.status == RunStatus::Ok
    })
}

/// Median of a metric over a model's ok runs at a point.
fn median_of(
    r: &BenchResults,
    suite: SuiteName,
    point: &str,
    model: &str,
    m: &Metric,
) -> Option<f64> {
    median(
        ok_runs(r, suite, point, model)
            .filter_map(|x| (m.value)(x))
            .collect(),
    )
}

/// A figure with as many decimals as it needs to show three digits or so.
fn figure(v: f64) -> String {
    let d = if v >= 1000.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    num(v, d)
}

/// `R [LO, HI] word` of `model` in `pv`, or `-`.
fn ratio_cell(pv: &PointVerdicts, model: &str) -> String {
    pv.rows
        .iter()
        .find(|row| row.model == model)
        .and_then(|row| {
            row.interval
                .map(|iv| format!("{} {}", iv.cell(), row.verdict_cell(&pv.metric)))
        })
        .unwrap_or_else(|| "-".into())
}

/// The variants of each model that has some, in the order the bench ran them.
fn by_model(r: &BenchResults) -> BTreeMap<&str, Vec<&Variant>> {
    let mut out: BTreeMap<&str, Vec<&Variant>> = BTreeMap::new();
    for v in &r.config.variants {
        out.entry(v.model.as_str()).or_default().push(v);
    }
    out
}

/// The section, when the bench ran any variant.
pub struct Variants;

impl Section for Variants {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, b.margin, s);
    }
}

/// The whole section; nothing when the bench ran no variant.
fn section(r: &BenchResults, margin: f64, s: &mut String) {
    if r.config.variants.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Variants\n\nEach variant is its model's program started with other settings, run as a model of its own in the same shuffled blocks. Cells: the variant's figure over its model's in the same block (geometric mean over blocks, 95% Student-t interval) and the verdict, with the margin of {}% and at least {} blocks as for models.\n",
        margin * 100.0,
        verdict::MIN_BLOCKS
    );
    for (model, variants) in by_model(r) {
        let settings: Vec<Vec<String>> = variants
            .iter()
            .map(|v| vec![v.name.clone(), format!("`{}`", v.settings())])
            .collect();
        let _ = writeln!(
            s,
            "### {model}\n\n{}",
            table(&["variant".into(), "settings".into()], &settings)
        );
        let mut header = vec![
            "point".to_string(),
            "figure".into(),
            format!("{model} (median)"),
        ];
        header.extend(variants.iter().map(|v| format!("{} / {model}", v.name)));
        let mut rows = Vec::new();
        for (suite, point, kind) in verdict::blocked_points(r) {
            for m in metrics(r, suite, kind) {
                let pv = verdict::at_point(r, suite, &point, m, model, margin);
                let mut row = vec![
                    format!("{suite} {point}"),
                    m.label.to_string(),
                    median_of(r, suite, &point, model, &m).map_or("-".into(), figure),
                ];
                row.extend(variants.iter().map(|v| ratio_cell(&pv, &v.name)));
                rows.push(row);
            }
        }
        let _ = writeln!(s, "{}", table(&header, &rows));
    }
    glommio(r, margin, s);
}

/// Calls per message of one run's per-call counts: (all watched calls as text, receive
/// calls, send calls, io_uring_enter), or None without counts.
fn breakdown(x: &RunRecord) -> Option<(String, f64, f64, f64)> {
    let sc = x.syscalls.as_ref().filter(|sc| !sc.top.is_empty())?;
    let ok = x.report.as_ref()?.ok.max(1) as f64;
    let per = |names: &[&str]| {
        sc.top
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, c)| *c as f64 / ok)
            .sum::<f64>()
    };
    let text = sc
        .top
        .iter()
        .map(|(n, c)| format!("{n} {:.2}", *c as f64 / ok))
        .collect::<Vec<_>>()
        .join(", ");
    Some((
        text,
        per(&RECV_CALLS),
        per(&SEND_CALLS),
        per(&["io_uring_enter"]),
    ))
}

/// The last run of `model` at a point that counted calls one by one (a first block).
fn counted<'a>(
    r: &'a BenchResults,
    suite: SuiteName,
    point: &'a str,
    model: &'a str,
) -> Option<&'a RunRecord> {
    ok_runs(r, suite, point, model)
        .filter(|x| breakdown(x).is_some())
        .last()
}

/// `### glommio's cost`: its calls, its settings, and why, from the figures.
fn glommio(r: &BenchResults, margin: f64, s: &mut String) {
    let ran = |m: &str| {
        r.runs
            .iter()
            .any(|x| x.model == m && x.status == RunStatus::Ok)
    };
    if !ran(GLOMMIO) {
        return;
    }
    let variants: Vec<&Variant> = r
        .config
        .variants
        .iter()
        .filter(|v| v.model == GLOMMIO)
        .collect();
    let mut shown: Vec<&str> = vec![GLOMMIO];
    shown.extend(variants.iter().map(|v| v.name.as_str()));
    shown.extend(["epoll", "uring"].into_iter().filter(|m| ran(m)));
    let pingpong: Vec<(SuiteName, String, PointKind)> = verdict::blocked_points(r)
        .into_iter()
        .filter(|&(suite, _, _)| suite == SuiteName::PingPong)
        .collect();
    let mut rows = Vec::new();
    for &(suite, ref point, _) in &pingpong {
        for m in &shown {
            let calls = median_of(r, suite, point, m, &SYSCALLS_MSG);
            let cpu = median_of(r, suite, point, m, &verdict::CPU_MSG);
            if calls.is_none() && cpu.is_none() {
                continue;
            }
            let which = counted(r, suite, point, m)
                .and_then(breakdown)
                .map_or("-".into(), |b| b.0);
            rows.push(vec![
                point.clone(),
                m.to_string(),
                calls.map_or("-".into(), |v| num(v, 2)),
                which,
                cpu.map_or("-".into(), |v| num(v, 2)),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### glommio's cost\n\nPing-pong points: system calls per message (median over blocks), which calls (the watched ones, counted one by one in a point's first block) and server CPU per message (median, us).\n\n{}",
        table(
            &[
                "point".into(),
                "model".into(),
                "calls/msg".into(),
                "calls per message, by call".into(),
                "CPU us/msg".into(),
            ],
            &rows
        )
    );
    // What glommio's own counts say it does.
    let mut said = Vec::new();
    let mut plain_io = Vec::new();
    for &(suite, ref point, _) in &pingpong {
        if let Some((_, recv, send, enter)) = counted(r, suite, point, GLOMMIO).and_then(breakdown)
        {
            said.push(format!(
                "{recv:.2} receive, {send:.2} send and {enter:.2} io_uring_enter calls per message at {point}"
            ));
            plain_io.push(recv + send);
        }
    }
    if said.is_empty() {
        return;
    }
    let mut p = format!("glommio made {}.", said.join("; "));
    if plain_io.iter().all(|&v| v >= 1.5) {
        p.push_str(
            " It moves every message's bytes with plain recv and send system calls, as the epoll loop does, and uses its io_uring for waiting only: glommio 0.9's TCP stream tries a plain recv or send first and arms a ring request only when that would block (its \"yolo\" path in net/stream.rs, which has no switch for TCP), so each message costs a readiness loop's two system calls plus the ring's bookkeeping, and a wake-up costs its park path (flushing its rings).",
        );
        if let Some(u) = pingpong
            .iter()
            .filter_map(|&(suite, ref point, _)| {
                Some((point, median_of(r, suite, point, "uring", &SYSCALLS_MSG)?))
            })
            .map(|(point, v)| format!("{} at {point}", num(v, 2)))
            .reduce(|a, b| format!("{a}, {b}"))
        {
            let _ = write!(
                p,
                " The completion loop on the same kernel (uring: multishot receive into provided buffers) made {u} system calls per message."
            );
        }
    } else {
        p.push_str(
            " Its receive and send calls are fewer than one each per message at some point: there the ring carries some of the I/O itself.",
        );
    }
    // Where each message pays a wake-up, the ring's calls are the difference.
    for &(suite, ref point, kind) in &pingpong {
        let Some((_, _, _, enter)) = counted(r, suite, point, GLOMMIO).and_then(breakdown) else {
            continue;
        };
        if kind == PointKind::FixedRate && enter >= 1.0 {
            let _ = write!(
                p,
                " At the fixed rate ({point}), where most messages find the server idle and pay a wake-up, the ring adds {enter:.2} io_uring_enter calls per message: each park and wake-up submits and waits on its rings."
            );
            if let (Some(g), Some(e)) = (
                median_of(r, suite, point, GLOMMIO, &SYSCALLS_MSG),
                median_of(r, suite, point, "epoll", &SYSCALLS_MSG),
            ) {
                let _ = write!(
                    p,
                    " In all, {} system calls per message there against epoll's {}.",
                    num(g, 2),
                    num(e, 2)
                );
            }
        }
    }
    // What the settings did, from the verdicts against glommio's defaults.
    if !variants.is_empty() {
        let (mut better, mut worse, mut judged) = (Vec::new(), Vec::new(), 0usize);
        let mut plain: Option<(f64, f64)> = None;
        for &(suite, ref point, _) in &pingpong {
            let cpu = verdict::at_point(r, suite, point, verdict::CPU_MSG, GLOMMIO, margin);
            for v in &variants {
                if let Some(row) = cpu.rows.iter().find(|row| row.model == v.name) {
                    let cell = format!("{} at {point} ({})", v.name, ratio_cell(&cpu, &v.name));
                    match row.verdict {
                        Verdict::Better => better.push(cell),
                        Verdict::Worse => worse.push(cell),
                        _ => {}
                    }
                    if row.interval.is_some_and(|iv| iv.n >= verdict::MIN_BLOCKS) {
                        judged += 1;
                    }
                }
                if let Some((_, recv, send, _)) =
                    counted(r, suite, point, &v.name).and_then(breakdown)
                {
                    let io = recv + send;
                    plain = Some(plain.map_or((io, io), |(lo, hi)| (lo.min(io), hi.max(io))));
                }
            }
        }
        let names = variants
            .iter()
            .map(|v| format!("{} (`{}`)", v.name, v.settings()))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            p,
            " Settings tried, each against the defaults in the same blocks: {names}."
        );
        if judged == 0 {
            let _ = write!(
                p,
                " With fewer than {} blocks no setting's effect on server CPU per message can be told from the noise.",
                verdict::MIN_BLOCKS
            );
        } else {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join("; ")
                }
            };
            let _ = write!(
                p,
                " Server CPU per message, by the verdicts' rule: cheaper than the defaults: {}; costlier: {}; every other setting and point equivalent or inconclusive.",
                list(&better),
                list(&worse)
            );
        }
        if let Some((lo, hi)) = plain {
            let _ = write!(
                p,
                " Under every setting glommio still made {} to {} receive and send calls per message{}",
                num(lo, 2),
                num(hi, 2),
                if lo >= 1.5 {
                    ": none of them changes how it moves the bytes, only how it waits."
                } else {
                    "."
                }
            );
        }
    }
    // Against epoll, at each point: the defaults and the cheapest setting.
    if ran("epoll") {
        let mut vs = Vec::new();
        for &(suite, ref point, _) in &pingpong {
            let pv = verdict::at_point(r, suite, point, verdict::CPU_MSG, "epoll", margin);
            let best = std::iter::once(GLOMMIO)
                .chain(variants.iter().map(|v| v.name.as_str()))
                .filter_map(|m| {
                    let row = pv.rows.iter().find(|row| row.model == m)?;
                    Some((m, row.interval?))
                })
                .min_by(|a, b| a.1.ratio.total_cmp(&b.1.ratio));
            if let Some((m, iv)) = best {
                vs.push(format!("{} {} ({m})", point, iv.cell()));
            }
        }
        if !vs.is_empty() {
            let _ = write!(
                p,
                " Its cheapest configuration's server CPU per message over epoll's, per point: {}.",
                vs.join("; ")
            );
        }
    }
    let _ = writeln!(s, "{p}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data::Syscalls;
    use crate::report::stats::verdict::MIN_BLOCKS;

    /// A loadgen report of 1000 ok messages.
    fn report() -> crate::run::report::RunReport {
        let mut stats = crate::stats::Stats::new(false);
        stats.ok(1000, 1000);
        let mut r = crate::run::report::test_report(&stats);
        r.ok = 1000;
        r
    }

    /// A bench of epoll, glommio and a glommio variant at a ping-pong point and the fixed
    /// rate over `blocks` blocks: the variant uses `cpu_factor` times glommio's CPU; at the
    /// fixed rate glommio makes 4 io_uring_enter calls per message, epoll one epoll_wait.
    fn bench(cpu_factor: f64, blocks: u32) -> BenchResults {
        let mut config = crate::bench::suite::config(1.0);
        config.suites = vec![SuiteName::PingPong];
        config.models = vec!["epoll".into(), "glommio".into(), "glommio-spin".into()];
        config.variants = vec![Variant {
            name: "glommio-spin".into(),
            model: "glommio".into(),
            env: vec![("ECHO_GLOMMIO_SPIN".into(), "50us".into())],
            server_args: vec![],
            bin: None,
        }];
        let mut r = BenchResults::of_runs(config, vec![]);
        for (point, kind, wake) in [
            ("100", PointKind::Sweep, 0),
            ("rate-50000", PointKind::FixedRate, 1000),
        ] {
            for block in 1..=blocks {
                let wobble = 1.0 + 0.01 * f64::from(block % 3);
                let io = [("recvfrom", 1000), ("sendto", 1000)];
                for (model, cpu_ns, more) in [
                    ("epoll", 4_000.0, ("epoll_wait", wake)),
                    ("glommio", 8_000.0, ("io_uring_enter", 20 + 4 * wake)),
                    (
                        "glommio-spin",
                        8_000.0 * cpu_factor,
                        ("io_uring_enter", 10 + 4 * wake),
                    ),
                ] {
                    let mut x =
                        RunRecord::blank(SuiteName::PingPong, point, kind, 100, block, model);
                    x.position = Some(1);
                    x.report = Some(report());
                    x.messages_per_s = Some(1000.0);
                    let ok = 1000u64;
                    x.server_cpu_ns = Some((cpu_ns * wobble * ok as f64 / 1000.0) as u64);
                    let calls: Vec<(&str, u64)> = io
                        .iter()
                        .copied()
                        .chain([more])
                        .filter(|c| c.1 > 0)
                        .collect();
                    let total: u64 = calls.iter().map(|(_, c)| c).sum();
                    x.syscalls = Some(Syscalls {
                        total,
                        per_message: total as f64 / ok as f64,
                        top: if block == 1 {
                            calls.iter().map(|(n, c)| (n.to_string(), *c)).collect()
                        } else {
                            vec![]
                        },
                    });
                    r.runs.push(x);
                }
            }
        }
        r
    }

    #[test]
    fn variants_are_compared_with_their_model_and_glommio_explained() {
        let mut s = String::new();
        section(&bench(0.5, MIN_BLOCKS as u32 + 1), 0.03, &mut s);
        let mut same = String::new();
        section(&bench(1.0, MIN_BLOCKS as u32 + 1), 0.03, &mut same);
        let mut few = String::new();
        section(&bench(0.5, 2), 0.03, &mut few);
        insta::assert_snapshot!("fewer_blocks", few);
        insta::assert_snapshot!("same_cost", same);
        insta::assert_snapshot!("half_the_cost", s);
    }

    #[test]
    fn no_variants_no_section() {
        let mut r = bench(1.0, 2);
        r.config.variants.clear();
        let mut s = String::new();
        section(&r, 0.03, &mut s);
        assert!(s.is_empty());
    }
}
