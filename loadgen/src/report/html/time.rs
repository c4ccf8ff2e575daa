//! The latency percentile curves, one per model at each point from its runs' HDR
//! histograms merged (at an open-loop point the histogram counts from each request's due
//! time: coordinated omission corrected), and the measurement block by block: throughput,
//! server CPU, loadgen's CPU and steal, where drift and noise show.

use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};
use crate::html::{self, Axis, Block, LineChart, Section, Series, SwitchOption};
use crate::report::figures::label;
use crate::stats::decode_histogram;

/// Every point that has runs, in the order they first ran: suite, point, kind.
fn points(r: &BenchResults) -> Vec<(SuiteName, String, PointKind)> {
    let mut out: Vec<(SuiteName, String, PointKind)> = Vec::new();
    for x in &r.runs {
        if !out.iter().any(|(s, p, _)| *s == x.suite && *p == x.point) {
            out.push((x.suite, x.point.clone(), x.kind));
        }
    }
    out
}

/// The models that ran at a point, in the bench's order.
fn models<'a>(r: &'a BenchResults, suite: SuiteName, point: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for m in r.config.models.iter().map(String::as_str).chain(
        r.runs
            .iter()
            .filter(|x| x.suite == suite && x.point == point)
            .map(|x| x.model.as_str()),
    ) {
        if !out.contains(&m)
            && r.runs
                .iter()
                .any(|x| x.suite == suite && x.point == point && x.model == m)
        {
            out.push(m);
        }
    }
    out
}

fn runs_of<'a>(
    r: &'a BenchResults,
    suite: SuiteName,
    point: &'a str,
    model: &'a str,
) -> impl Iterator<Item = &'a RunRecord> + 'a {
    r.runs
        .iter()
        .filter(move |x| x.suite == suite && x.point == point && x.model == model)
}

/// The percentile curve of a model at a point: its ok runs' histograms added up; None
/// without one (or with one that does not decode).
pub fn merged_curve(
    r: &BenchResults,
    suite: SuiteName,
    point: &str,
    model: &str,
) -> Option<Series> {
    let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
    let (mut min, mut max) = (u64::MAX, 0);
    for x in runs_of(r, suite, point, model).filter(|x| x.status == RunStatus::Ok) {
        let Some(rep) = x.report.as_ref().filter(|p| p.ok > 0) else {
            continue;
        };
        let h = decode_histogram(&rep.histogram).ok()?;
        (min, max) = (min.min(rep.latency_us.min), max.max(rep.latency_us.max));
        match &mut merged {
            Some(m) => m.add(&h).ok()?,
            None => merged = Some(h),
        }
    }
    let h = merged?;
    let s = html::percentile_series(&label(model), &h, (min, max));
    (!s.x.is_empty()).then_some(s)
}

/// The latency percentile curves, a point at a time.
pub fn percentiles(r: &BenchResults) -> Option<Section> {
    let mut options = Vec::new();
    for (suite, point, kind) in points(r) {
        let mut chart = LineChart::new(
            format!("latency-{suite}-{point}"),
            format!(
                "{suite} {point}: latency by percentile{}",
                if kind == PointKind::FixedRate {
                    " (from each request's due time: coordinated omission corrected)"
                } else {
                    ""
                }
            ),
            Axis::nines("percentile"),
            Axis::log("latency, us"),
        );
        chart.series = models(r, suite, &point)
            .into_iter()
            .filter_map(|m| merged_curve(r, suite, &point, m))
            .collect();
        if chart.has_points() {
            options.push(SwitchOption {
                name: format!("{suite} {point}"),
                blocks: vec![Block::Line(chart)],
            });
        }
    }
    let blocks = html::switch("point", options);
    (!blocks.is_empty()).then(|| Section {
        id: "latency".into(),
        title: "Latency percentiles".into(),
        text: vec![
            "Each model's runs at a point added up into one HDR histogram; the x axis is in \
             nines (90%, 99%, 99.9%, ...), the last point the largest latency."
                .into(),
        ],
        blocks,
    })
}

/// A figure the over-time charts show of a run.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Short name, in the chart's name.
    pub key: &'static str,
    /// What it is, in the title and on the switch.
    pub what: &'static str,
    /// The y axis's label, with the unit.
    pub unit: &'static str,
    /// The figure of a run.
    pub value: fn(&RunRecord) -> Option<f64>,
}

/// Throughput, server CPU, loadgen CPU and steal.
pub const OVER_TIME: [Figure; 4] = [
    Figure {
        key: "throughput",
        what: "throughput",
        unit: "messages/s (frames: frames/s)",
        value: |x| x.messages_per_s,
    },
    Figure {
        key: "server-cpu",
        what: "server CPU",
        unit: "server CPU, % of one CPU",
        value: |x| x.server_cpu_pct(),
    },
    Figure {
        key: "loadgen-cpu",
        what: "loadgen CPU",
        unit: "loadgen CPU, % of one CPU",
        value: |x| x.loadgen_cpu_pct(),
    },
    Figure {
        key: "steal",
        what: "steal",
        unit: "steal, % of all CPUs",
        value: |x| x.steal_pct,
    },
];

/// One figure of every model at a point, block by block (slice by slice): one entry per
/// run that ended well and has the figure, in block order.
pub fn over_time_chart(r: &BenchResults, suite: SuiteName, point: &str, f: Figure) -> LineChart {
    let mut chart = LineChart::new(
        format!("time-{suite}-{point}-{}", f.key),
        format!("{suite} {point}: {} block by block", f.what),
        Axis::linear("block (round of slices)"),
        Axis::linear(f.unit),
    );
    for m in models(r, suite, point) {
        let mut v: Vec<(u32, f64)> = runs_of(r, suite, point, m)
            .filter(|x| x.status == RunStatus::Ok)
            .filter_map(|x| Some((x.block, (f.value)(x)?)))
            .filter(|(_, y)| y.is_finite())
            .collect();
        v.sort_by_key(|(b, _)| *b);
        let mut s = Series::named(&label(m));
        for (b, y) in v {
            s.push(f64::from(b), y);
        }
        if !s.x.is_empty() {
            chart.series.push(s);
        }
    }
    chart
}

/// The measurement over time at every point run in two blocks or more.
pub fn over_time(r: &BenchResults) -> Option<Section> {
    let mut options = Vec::new();
    for (suite, point, _) in points(r) {
        let blocks: std::collections::BTreeSet<u32> = r
            .runs
            .iter()
            .filter(|x| x.suite == suite && x.point == point)
            .map(|x| x.block)
            .collect();
        if blocks.len() < 2 {
            continue;
        }
        let metrics: Vec<SwitchOption> = OVER_TIME
            .iter()
            .map(|&m| over_time_chart(r, suite, &point, m))
            .zip(OVER_TIME)
            .filter(|(c, _)| c.has_points())
            .map(|(c, f)| SwitchOption {
                name: f.what.into(),
                blocks: vec![Block::Line(c)],
            })
            .collect();
        let inner = html::switch("figure", metrics);
        if !inner.is_empty() {
            options.push(SwitchOption {
                name: format!("{suite} {point}"),
                blocks: inner,
            });
        }
    }
    let blocks = html::switch("point", options);
    (!blocks.is_empty()).then(|| Section {
        id: "over-time".into(),
        title: "The measurement over time".into(),
        text: vec![
            "Every run (or interleaved slice) in the order of its block: a trend across blocks \
             is drift, a scatter within them is noise; steal is CPU time the hypervisor took."
                .into(),
        ],
        blocks,
    })
}
