//! One run's page (`loadgen --html FILE`): the report's figures as the summary lines give
//! them, the `summary +` lines, the latency percentile curve from the run's HDR histogram
//! (with `--rate`, the one from each actual send beside it) and the intervals over time.
//! Drawn by `crate::html`; every figure is the [`RunReport`]'s.

use std::io;
use std::path::Path;

use super::report::{Latency, RunReport};
use crate::html::{
    self, Axis, Block, Cell, LineChart, Page, Section, Series, SwitchOption, Table,
    percentile_series,
};
use crate::stats::{ErrorKind, decode_histogram};

/// Writes one run's page to `path`.
pub fn write(report: &RunReport, path: &Path) -> io::Result<()> {
    std::fs::write(path, html::render(&page(report)))
}

/// One run's page.
pub fn page(r: &RunReport) -> Page {
    let s = &r.run.settings;
    let stop = match (s.loops, s.duration_s) {
        (Some(l), _) => format!("{l} loops"),
        (None, Some(d)) => format!("{d} s"),
        (None, None) => "-".into(),
    };
    let mut header = vec![
        (
            "run".to_string(),
            format!(
                "{} users x {stop}, {}-byte messages{}{} to {}",
                s.threads,
                s.message_size,
                if s.framed { ", framed" } else { "" },
                s.rate
                    .map_or(String::new(), |rate| format!(", open loop at {rate}/s")),
                s.target
            ),
        ),
        (
            "generator".into(),
            format!("{} {}", s.generator, r.loadgen_version),
        ),
        (
            "machine".into(),
            format!(
                "{} ({}, {} CPUs online)",
                r.run.environment.hostname, r.run.environment.kernel, r.run.environment.cpus_online
            ),
        ),
        (
            "elapsed".into(),
            format!(
                "{:.3} s (warm-up {} s not counted)",
                r.run.elapsed_s, s.warmup_s
            ),
        ),
    ];
    if !r.run.environment.command.is_empty() {
        header.push(("command".into(), r.run.environment.command.join(" ")));
    }
    let mut sections = vec![figures(r)];
    sections.extend(percentiles(r));
    sections.extend(over_time(r));
    Page {
        page: "run",
        title: "loadgen run".into(),
        header,
        links: vec![],
        sections,
    }
}

fn row(name: &str, v: impl Into<Cell>) -> Vec<Cell> {
    vec![Cell::from(name), v.into()]
}

fn latency_rows(rows: &mut Vec<Vec<Cell>>, what: &str, l: &Latency) {
    for (name, v) in [
        ("min", l.min),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p95", l.p95),
        ("p99", l.p99),
        ("p99.9", l.p999),
        ("max", l.max),
    ] {
        rows.push(row(&format!("{what} {name}, us"), v));
    }
    rows.push(row(&format!("{what} mean, us"), l.mean));
}

/// The figures of the summary lines and the report under them.
fn figures(r: &RunReport) -> Section {
    let mut rows = vec![
        row("samples", r.samples),
        row("ok", r.ok),
        row("errors", r.errors),
    ];
    if let Some(planned) = r.run.planned_samples {
        rows.push(row("planned samples", planned));
    }
    if r.unsent > 0 {
        rows.push(row("never sent (connection busy)", r.unsent));
    }
    for kind in ErrorKind::ALL {
        let n = r.errors_by_kind.get(kind);
        if n > 0 {
            rows.push(row(&format!("errors: {}", kind.name()), n));
        }
    }
    rows.push(row("samples/s", r.throughput_per_s));
    rows.push(row("ok/s", r.ok_per_s));
    rows.push(row("payload MB/s", r.payload_mb_per_s));
    latency_rows(&mut rows, "latency", &r.latency_us);
    if let Some(raw) = &r.raw_latency_us {
        latency_rows(&mut rows, "latency from the send", raw);
    }
    if let Some(late) = &r.send_lateness_us {
        rows.push(row("send lateness p50, us", late.p50));
        rows.push(row("send lateness p99, us", late.p99));
    }
    rows.push(row("loadgen CPU us/sample", r.loadgen_cpu_us_per_sample));
    if let Some(server) = &r.server {
        rows.push(row(
            "server CPU %",
            server.cpu_user_pct + server.cpu_system_pct,
        ));
        rows.push(row("server CPU us/sample", r.server_cpu_us_per_sample));
        rows.push(row("server RSS at the end, KiB", server.rss_kib));
        rows.push(row("server threads", server.threads));
    }
    if let Some(f) = &r.fairness {
        rows.push(row("fairness: Jain's index", f.jain));
        rows.push(row("fairness: fewest samples of a user", f.min));
        rows.push(row("fairness: median samples", f.median));
        rows.push(row("fairness: most samples", f.max));
        rows.push(row("fairness: starved users", f.starved));
    }
    let intervals: Vec<Vec<Cell>> = r
        .intervals
        .iter()
        .map(|i| {
            vec![
                Cell::from(i.at_s),
                Cell::from(i.samples),
                Cell::from(i.errors),
                Cell::from(if i.elapsed_s > 0.0 {
                    i.samples as f64 / i.elapsed_s
                } else {
                    0.0
                }),
                Cell::from(i.mean_us),
                Cell::from(i.min_us),
                Cell::from(i.max_us),
                Cell::from(i.active),
            ]
        })
        .collect();
    let mut blocks = vec![Block::Table(Table {
        class: "summary".into(),
        attrs: vec![],
        columns: vec!["figure".into(), "value".into()],
        rows,
    })];
    if !intervals.is_empty() {
        blocks.push(Block::Heading {
            text: "summary + lines".into(),
        });
        blocks.push(Block::Table(Table {
            class: "intervals".into(),
            attrs: vec![],
            columns: [
                "at, s",
                "samples",
                "errors",
                "samples/s",
                "mean, us",
                "min, us",
                "max, us",
                "active users",
            ]
            .map(String::from)
            .to_vec(),
            rows: intervals,
        }));
    }
    Section {
        id: "figures".into(),
        title: "Figures".into(),
        text: vec![],
        blocks,
    }
}

/// The percentile curve of the run (and, with `--rate`, of the raw latencies from each
/// actual send); None without a sample.
fn percentiles(r: &RunReport) -> Option<Section> {
    let mut chart = LineChart::new(
        "latency".into(),
        "latency by percentile (with --rate: corrected for coordinated omission, from each request's due time, and raw, from its actual send)".into(),
        Axis::nines("percentile"),
        Axis::log("latency, us"),
    );
    let corrected = if r.raw_histogram.is_some() {
        "corrected: from the due time"
    } else {
        "latency"
    };
    let raw = r.raw_histogram.as_ref().zip(r.raw_latency_us.as_ref());
    for (name, h) in [
        (corrected, Some((&r.histogram, &r.latency_us))),
        ("raw: from the actual send", raw),
    ] {
        let Some((h, l)) = h else { continue };
        if let Ok(h) = decode_histogram(h) {
            let s = percentile_series(name, &h, (l.min, l.max));
            if !s.x.is_empty() {
                chart.series.push(s);
            }
        }
    }
    chart.has_points().then(|| Section {
        id: "latency".into(),
        title: "Latency percentiles".into(),
        text: vec![
            "From the run's HDR histogram; the x axis is in nines, the last point the largest latency."
                .into(),
        ],
        blocks: vec![Block::Line(chart)],
    })
}

/// The `summary +` intervals' figures over the run.
pub fn over_time_charts(r: &RunReport) -> Vec<LineChart> {
    type Pick = fn(&super::report::Interval) -> f64;
    let figures: [(&str, &str, Pick); 5] = [
        ("throughput", "samples/s", |i| {
            if i.elapsed_s > 0.0 {
                i.samples as f64 / i.elapsed_s
            } else {
                0.0
            }
        }),
        ("mean-latency", "mean latency, us", |i| i.mean_us),
        ("max-latency", "largest latency, us", |i| i.max_us as f64),
        ("errors", "failed samples", |i| i.errors as f64),
        ("active", "users running", |i| i.active as f64),
    ];
    figures
        .iter()
        .map(|(key, unit, f)| {
            let mut c = LineChart::new(
                format!("time-{key}"),
                format!("{unit} over the run"),
                Axis::linear("seconds from the start"),
                Axis::linear(unit),
            );
            let mut s = Series::named(unit);
            for i in &r.intervals {
                s.push(i.at_s, f(i));
            }
            c.series.push(s);
            c
        })
        .filter(|c| c.has_points())
        .collect()
}

fn over_time(r: &RunReport) -> Option<Section> {
    let options = over_time_charts(r)
        .into_iter()
        .map(|c| SwitchOption {
            name: c.y.label.clone(),
            blocks: vec![Block::Line(c)],
        })
        .collect();
    let blocks = html::switch("figure", options);
    (!blocks.is_empty()).then(|| Section {
        id: "over-time".into(),
        title: "Over time".into(),
        text: vec!["One point per summary + interval.".into()],
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;

    fn report() -> RunReport {
        let mut stats = Stats::new(false);
        for us in 1..=1000u64 {
            stats.ok(us * 10, us * 10);
        }
        let mut r = super::super::report::test_report(&stats);
        r.intervals = (1..=4)
            .map(|k| super::super::report::Interval {
                at_s: f64::from(k),
                elapsed_s: 1.0,
                samples: 250,
                errors: 0,
                mean_us: 5000.0,
                min_us: 10,
                max_us: 10_000,
                active: 10,
                started: 10,
                finished: 0,
            })
            .collect();
        r
    }

    #[test]
    fn the_percentile_curve_rises_to_the_largest_latency() {
        let r = report();
        let p = page(&r);
        let Some(Block::Line(c)) = p
            .sections
            .iter()
            .find(|s| s.id == "latency")
            .map(|s| &s.blocks[0])
        else {
            panic!("a latency chart");
        };
        let s = &c.series[0];
        assert!(s.y.windows(2).all(|w| w[0] <= w[1]), "{:?}", s.y);
        assert!(s.x.windows(2).all(|w| w[0] < w[1]), "{:?}", s.x);
        assert_eq!(*s.y.last().unwrap(), r.latency_us.max as f64);
        assert_eq!(s.y[0], r.latency_us.min as f64);
        // 1000 samples: three nines, four points a nine, and 0%.
        assert_eq!(s.x.len(), 13);
    }

    #[test]
    fn over_time_has_one_point_per_interval() {
        let r = report();
        let charts = over_time_charts(&r);
        assert_eq!(charts.len(), 5);
        for c in &charts {
            assert_eq!(c.series[0].x, vec![1.0, 2.0, 3.0, 4.0]);
        }
        assert_eq!(charts[0].series[0].y, vec![250.0; 4]);
    }

    #[test]
    fn the_page_renders_with_its_figures() {
        let html = html::render(&page(&report()));
        assert!(html.contains("\"page\":\"run\""));
        assert!(html.contains("\"class\":\"summary\""));
    }
}
