//! The `frames` suite in summary.md and its chart: payload MB/s one way per model and frame
//! size (mean ± 95% interval over blocks), the same against the loopback limit measured in
//! the same bench (iperf3 and `loadgen stream`), frames/s, server CPU per MB and server RSS
//! before the load and at its peak.

use std::fmt::Write as _;

use common::units::parse_size;

use super::{Bench, ChartFile, Section};
use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::suite::frames::{IPERF3, LOOPBACK, STREAM};
use crate::md::{num, row, table};
use crate::report::figures::{Figure, mean, pm};
use crate::report::stats::aggregate::{Cell, Grid};
use crate::report::svg::chart::Chart;

/// The frame size of a point (`16MiB`), MiB.
fn mib_of(point: &str) -> f64 {
    parse_size(point).map_or(0.0, |b| b as f64 / f64::from(1 << 20))
}

/// Server CPU (user + system) per megabyte of payload echoed, milliseconds.
fn cpu_ms_per_mb(r: &RunRecord) -> Option<f64> {
    let rep = r.report.as_ref()?;
    let cpu = rep.server.as_ref()?.cpu.total_s();
    let mb = rep.ok as f64 * rep.run.settings.message_size as f64 / 1e6;
    (mb > 0.0).then(|| cpu * 1e3 / mb)
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

/// The loopback limit measured by `tool` over the rounds, and why it is missing if it is.
fn limit(r: &BenchResults, tool: &str) -> (Option<Cell>, Option<String>) {
    let g = Grid::new(r, SuiteName::Frames, PointKind::Loopback);
    let cell = g.cell(tool, LOOPBACK, |r| r.mb_per_s);
    let why = r
        .runs
        .iter()
        .filter(|x| {
            x.suite == SuiteName::Frames && x.kind == PointKind::Loopback && x.model == tool
        })
        .find_map(|x| match &x.status {
            RunStatus::Ok => None,
            RunStatus::ServerFailed(w) | RunStatus::ServerDied(w) | RunStatus::LoadFailed(w) => {
                Some(w.replace('|', "/"))
            }
        });
    (cell, why)
}

/// Frames per run at a point (from its loadgen flags).
fn frames_per_run(r: &BenchResults, point: &str) -> Option<u64> {
    let run = r.runs.iter().find(|x| {
        x.suite == SuiteName::Frames && x.kind == PointKind::Frames && x.point == point
    })?;
    let i = run.args.iter().position(|a| a == "--loops")?;
    run.args.get(i + 1)?.parse().ok()
}

/// One row per model, one column per frame size.
fn by_size(g: &Grid, cell: impl Fn(&str, &str) -> String) -> String {
    let mut header = vec!["model".to_string()];
    header.extend(g.points.iter().cloned());
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(g.points.iter().map(|p| cell(m, p)));
            row
        })
        .collect();
    table(&header, &rows)
}

/// The section and its chart.
pub struct Frames;

impl Section for Frames {
    fn markdown(&self, b: &Bench, s: &mut String) {
        section(b.results, s);
    }

    fn charts(&self, b: &Bench) -> Vec<ChartFile> {
        chart(b.results)
            .map(|c| {
                ChartFile::shown(
                    "frames-throughput.svg",
                    "frames: payload MB/s one way vs frame size",
                    &c,
                )
            })
            .into_iter()
            .collect()
    }
}

/// The `## frames` section (nothing when the bench ran no frames).
fn section(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, SuiteName::Frames, PointKind::Frames);
    if g.is_empty() {
        return;
    }
    let counts: Vec<String> = g
        .points
        .iter()
        .map(|p| frames_per_run(r, p).map_or(format!("{p} ?"), |n| format!("{n} x {p}")))
        .collect();
    let _ = writeln!(
        s,
        "## frames\n\nLength-prefixed frames echoed over one connection, one frame in flight \
         ({} per run, {} block(s)); loadgen reads each echo whole and checks every byte. MB/s \
         is payload one way: frames x frame size / wall time, in 10^6 bytes per second. Each \
         payload byte crosses loopback twice (there and back), one direction at a time, so \
         an echo's MB/s is set against the one-way loopback limit measured in the same bench, \
         before each block's frames.\n",
        counts.join(", "),
        r.config.blocks_of(SuiteName::Frames)
    );

    let (iperf, iperf_why) = limit(r, IPERF3);
    let (stream, stream_why) = limit(r, STREAM);
    let how = |tool: &str| -> String {
        r.runs
            .iter()
            .find(|x| {
                x.suite == SuiteName::Frames && x.kind == PointKind::Loopback && x.model == tool
            })
            .map(|x| {
                let words = match tool {
                    IPERF3 => format!(
                        "`iperf3 {}` against `iperf3 {}` (128 KiB writes)",
                        x.args.join(" "),
                        x.server_args.join(" ")
                    ),
                    _ => format!("`loadgen {}`", x.args.join(" ")),
                };
                words.replace('|', "/")
            })
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = [(IPERF3, iperf, iperf_why), (STREAM, stream, stream_why)]
        .into_iter()
        .map(|(tool, cell, why)| {
            vec![
                tool.to_string(),
                pm(cell, 0),
                cell.map_or(0, |c| c.n).to_string(),
                match why {
                    Some(w) if cell.is_none() => format!("not measured: {w}"),
                    Some(w) => format!("{} (a round failed: {w})", how(tool)),
                    None => how(tool),
                },
            ]
        })
        .collect();
    let header = row(&["one way", "MB/s (mean ± 95% interval)", "blocks", "how"]);
    let _ = writeln!(
        s,
        "### Loopback limit, one way (sender where loadgen runs, receiver where a server runs)\n\n{}",
        table(&header, &rows)
    );

    let _ = writeln!(
        s,
        "### Payload MB/s one way (mean ± 95% interval over blocks)\n\n{}",
        by_size(&g, |m, p| pm(g.cell(m, p, |r| r.mb_per_s), 0))
    );
    let ratio = |c: Option<Cell>, base: Option<Cell>| match (c, base) {
        (Some(c), Some(b)) if b.mean > 0.0 => format!("{:.2}", c.mean / b.mean),
        _ => "-".into(),
    };
    let _ = writeln!(
        s,
        "### Against the loopback limit: x iperf3 / x loadgen stream (means over blocks)\n\n{}",
        by_size(&g, |m, p| {
            let c = g.cell(m, p, |r| r.mb_per_s);
            format!("{} / {}", ratio(c, iperf), ratio(c, stream))
        })
    );
    let sections: [(&str, Figure, usize); 2] = [
        ("Frames per second", |r| r.messages_per_s, 2),
        (
            "Server CPU (user + system) per MB of payload echoed, ms",
            cpu_ms_per_mb,
            3,
        ),
    ];
    for (title, f, d) in sections {
        let _ = writeln!(
            s,
            "### {title} (mean over blocks)\n\n{}",
            by_size(&g, |m, p| mean(g.cell(m, p, f), |v| num(v, d)))
        );
    }
    let _ = writeln!(
        s,
        "### Server RSS before the load -> peak during it, MiB (mean over blocks)\n\nThe peak \
         is sampled every 100 ms over the whole run. A server that reads each frame into one \
         reused buffer peaks about one frame above its start however many frames it echoes; \
         one that allocates per frame, or keeps what it read, climbs with the frame count.\n\n{}",
        by_size(&g, |m, p| {
            let start = g.cell(m, p, |r| mib(r.rss_start_kib));
            let peak = g.cell(m, p, |r| mib(r.rss_peak_kib));
            match (start, peak) {
                (Some(a), Some(b)) => format!(
                    "{} -> {} (+{:.2} frames)",
                    num(a.mean, 1),
                    num(b.mean, 1),
                    (b.mean - a.mean) / mib_of(p).max(1e-9)
                ),
                _ => "-".into(),
            }
        })
    );
}

/// The chart: MB/s against frame size per model, with the loopback limits as flat lines.
fn chart(r: &BenchResults) -> Option<Chart> {
    let g = Grid::new(r, SuiteName::Frames, PointKind::Frames);
    if g.is_empty() {
        return None;
    }
    let xs: Vec<f64> = g.points.iter().map(|p| mib_of(p)).collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let mut series: Vec<(String, Vec<(f64, f64)>)> = g
        .models
        .iter()
        .map(|m| {
            let pts = g
                .points
                .iter()
                .zip(&xs)
                .filter_map(|(p, &x)| Some((x, g.cell(m, p, |r| r.mb_per_s)?.mean)))
                .collect();
            (m.clone(), pts)
        })
        .collect();
    let bars: Vec<Vec<(f64, f64, f64)>> = g
        .models
        .iter()
        .map(|m| {
            g.points
                .iter()
                .zip(&xs)
                .filter_map(|(p, &x)| {
                    let c = g.cell(m, p, |r| r.mb_per_s)?;
                    Some((x, c.mean - c.ci95?, c.mean + c.ci95?))
                })
                .collect()
        })
        .collect();
    for (tool, label) in [(IPERF3, "iperf3 one way"), (STREAM, "loadgen stream")] {
        if let (Some(c), _) = limit(r, tool) {
            series.push((label.into(), vec![(lo, c.mean), (hi, c.mean)]));
        }
    }
    Some(Chart {
        title: "frames: payload MB/s one way (mean over blocks, 95% interval)".into(),
        x_label: "frame size, MiB (log scale)".into(),
        y_label: "MB/s".into(),
        log_x: true,
        log_y: false,
        series,
        bars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data::BenchConfig;
    use crate::bench::suite::Frames;
    use crate::bench::suite::Suite;

    fn results() -> BenchResults {
        let config = BenchConfig {
            models: vec!["epoll".into(), "tokio".into()],
            blocks: 2,
            ..crate::bench::suite::config(1.0)
        };
        let mut runs = Vec::new();
        for round in 1..=2 {
            let mut stream = RunRecord::blank(
                SuiteName::Frames,
                LOOPBACK,
                PointKind::Loopback,
                1,
                round,
                STREAM,
            );
            stream.mb_per_s = Some(2000.0 + f64::from(round));
            stream.args = vec!["stream".into(), "--chunk".into(), "1MiB".into()];
            runs.push(stream);
            if round == 1 {
                let mut iperf = RunRecord::blank(
                    SuiteName::Frames,
                    LOOPBACK,
                    PointKind::Loopback,
                    1,
                    round,
                    IPERF3,
                );
                iperf.status = RunStatus::LoadFailed("iperf3 is not installed".into());
                runs.push(iperf);
            }
            for p in Frames.points(&config) {
                for (m, mb) in [("epoll", 1000.0), ("tokio", 500.0)] {
                    let mut x = RunRecord::blank(
                        SuiteName::Frames,
                        &p.point,
                        PointKind::Frames,
                        1,
                        round,
                        m,
                    );
                    x.args = p.args();
                    x.mb_per_s = Some(mb);
                    x.messages_per_s = Some(mb * 1e6 / (mib_of(&p.point) * 1048576.0));
                    x.rss_start_kib = Some(2048);
                    x.rss_peak_kib = Some(2048 + (mib_of(&p.point) * 1024.0) as u64);
                    runs.push(x);
                }
            }
        }
        BenchResults::of_runs(config, runs)
    }

    #[test]
    fn the_section_sets_every_model_against_the_limit() {
        let r = results();
        let mut s = String::new();
        section(&r, &mut s);
        // Against the limit: 1000 / mean(2001, 2002); iperf3 missing, said once.
        insta::assert_snapshot!(s);
        let c = chart(&r).unwrap();
        let names: Vec<&str> = c.series.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["epoll", "tokio", "loadgen stream"]);
        assert_eq!(
            c.series[0].1,
            [(1.0, 1000.0), (16.0, 1000.0), (100.0, 1000.0)]
        );
        assert_eq!(c.series[2].1[1], (100.0, 2001.5));
    }

    #[test]
    fn no_frames_no_section() {
        let mut r = results();
        r.runs.clear();
        let mut s = String::new();
        section(&r, &mut s);
        assert!(s.is_empty() && chart(&r).is_none());
    }
}
