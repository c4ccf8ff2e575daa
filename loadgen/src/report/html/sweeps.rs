//! The figures against connections, each a mean over the blocks with its 95% interval
//! (`Grid` and `Cell`, as summary.md's tables): the ping-pong sweep's messages/s, server CPU
//! and system calls per message, p50 and p99; fairness per connection; frames against the
//! loopback limit; the mixed suite's knee.

use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};
use crate::html::{self, Axis, Block, Cell, LineChart, Section, Series, SwitchOption, Table};
use crate::report::figures::{label, lat};
use crate::report::stats::aggregate::{Cell as Mean, Grid};

/// A chart of `f` against connections for every model of a grid, with intervals.
fn chart_of(
    g: &Grid,
    name: String,
    title: &str,
    y: Axis,
    f: &dyn Fn(&RunRecord) -> Option<f64>,
) -> LineChart {
    let mut c = LineChart::new(name, title.into(), Axis::log("connections"), y);
    for m in &g.models {
        let mut s = Series::named(&label(m));
        for p in &g.points {
            if let Some(cell) = g.cell(m, p, f) {
                let (lo, hi) = bounds(&cell);
                s.push_interval(g.conns(p) as f64, cell.mean, lo, hi);
            }
        }
        if !s.x.is_empty() {
            c.series.push(s);
        }
    }
    c
}

/// A mean's 95% interval (its range from one block).
fn bounds(c: &Mean) -> (f64, f64) {
    match c.ci95 {
        Some(h) => (c.mean - h, c.mean + h),
        None => (c.min, c.max),
    }
}

fn option(name: &str, chart: LineChart) -> Option<SwitchOption> {
    chart.has_points().then(|| SwitchOption {
        name: name.into(),
        blocks: vec![Block::Line(chart)],
    })
}

/// The ping-pong sweep against connections; None without a sweep point.
pub fn against_connections(r: &BenchResults) -> Option<Section> {
    let g = Grid::new(r, SuiteName::PingPong, PointKind::Sweep);
    if g.is_empty() {
        return None;
    }
    let cpu = g.cpu_us_per_message();
    let options: Vec<SwitchOption> = [
        option(
            "messages/s",
            chart_of(
                &g,
                "pingpong-msg-s".into(),
                "messages/s against connections",
                Axis::linear("messages/s"),
                &|x| x.messages_per_s,
            ),
        ),
        option(
            "server CPU/message",
            chart_of(
                &g,
                "pingpong-cpu-msg".into(),
                "server CPU per message",
                Axis::linear("server CPU us/message"),
                &cpu,
            ),
        ),
        option(
            "system calls/message",
            chart_of(
                &g,
                "pingpong-syscalls-msg".into(),
                "server system calls per message",
                Axis::linear("system calls/message"),
                &|x| x.syscalls.as_ref().map(|s| s.per_message),
            ),
        ),
        option(
            "p50",
            chart_of(
                &g,
                "pingpong-p50".into(),
                "median latency against connections",
                Axis::log("p50 latency, us"),
                &|x| lat(x, |l| l.p50),
            ),
        ),
        option(
            "p99",
            chart_of(
                &g,
                "pingpong-p99".into(),
                "p99 latency against connections",
                Axis::log("p99 latency, us"),
                &|x| lat(x, |l| l.p99),
            ),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let blocks = html::switch("metric", options);
    (!blocks.is_empty()).then(|| Section {
        id: "sweep".into(),
        title: "Ping-pong against connections".into(),
        text: vec![
            "Means over the blocks with their 95% intervals (whiskers); hover a point for its \
             figures."
                .into(),
        ],
        blocks,
    })
}

/// How evenly each model served its connections: Jain's index against connections, and
/// the per-connection distribution of samples at every point.
pub fn fairness(r: &BenchResults) -> Option<Section> {
    let mut keys: Vec<(SuiteName, String, String, u64)> = Vec::new();
    for x in &r.runs {
        let has = x.report.as_ref().is_some_and(|p| p.fairness.is_some());
        let key = (x.suite, x.point.clone(), x.model.clone(), x.conns);
        if has && x.status == RunStatus::Ok && !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return None;
    }
    let rows: Vec<Vec<Cell>> = keys
        .iter()
        .map(|(suite, point, model, conns)| {
            let f: Vec<_> = r
                .runs
                .iter()
                .filter(|x| {
                    x.suite == *suite
                        && &x.point == point
                        && &x.model == model
                        && x.status == RunStatus::Ok
                })
                .filter_map(|x| x.report.as_ref()?.fairness.as_ref())
                .collect();
            let med = |v: Vec<f64>| crate::report::figures::median(v);
            vec![
                Cell::from(format!("{suite} {point}")),
                Cell::from(label(model)),
                Cell::from(*conns),
                Cell::from(f.len() as u64),
                Cell::from(med(f.iter().map(|x| x.jain).collect())),
                Cell::from(f.iter().map(|x| x.min).min().map(|v| v as f64)),
                Cell::from(med(f.iter().map(|x| x.p1 as f64).collect())),
                Cell::from(med(f.iter().map(|x| x.median as f64).collect())),
                Cell::from(f.iter().map(|x| x.max).max().map(|v| v as f64)),
                Cell::from(f.iter().map(|x| x.starved).max().map(|v| v as f64)),
                Cell::from(
                    f.iter()
                        .map(|x| x.max_wait_us)
                        .max()
                        .map(|v| v as f64 / 1000.0),
                ),
            ]
        })
        .collect();
    let mut blocks = Vec::new();
    let g = Grid::new(r, SuiteName::PingPong, PointKind::Sweep);
    let jain = |x: &RunRecord| Some(x.report.as_ref()?.fairness.as_ref()?.jain);
    let mut chart = LineChart::new(
        "fairness-jain".into(),
        "Jain's fairness index of samples per connection (1: every connection served alike)".into(),
        Axis::log("connections"),
        Axis::linear("Jain's index"),
    );
    for m in &g.models {
        let mut s = Series::named(&label(m));
        for p in &g.points {
            if let Some(c) = g.cell(m, p, jain) {
                s.push_interval(g.conns(p) as f64, c.mean, c.min, c.max);
            }
        }
        if !s.x.is_empty() {
            chart.series.push(s);
        }
    }
    if chart.has_points() {
        blocks.push(Block::Line(chart));
    }
    blocks.push(Block::Table(Table {
        class: "fairness".into(),
        attrs: vec![],
        columns: [
            "point",
            "model",
            "connections",
            "runs",
            "Jain (median)",
            "fewest samples",
            "p1 (median)",
            "median (median)",
            "most samples",
            "starved (most)",
            "longest wait, ms",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));
    Some(Section {
        id: "fairness".into(),
        title: "Fairness per connection".into(),
        text: vec![
            "Samples per connection over each run's measured window: the whiskers of the chart \
             span the runs' lowest and highest index; the table gives the distribution's \
             figures over the runs."
                .into(),
        ],
        blocks,
    })
}

/// Frame size in MiB from a frames point's name (`16MiB`).
fn mib(point: &str) -> Option<f64> {
    point.strip_suffix("MiB")?.parse().ok()
}

/// The frames suite's MB/s per model and size, the loopback limit as a line across.
pub fn frames(r: &BenchResults) -> Option<Section> {
    let g = Grid::new(r, SuiteName::Frames, PointKind::Frames);
    if g.is_empty() {
        return None;
    }
    let mut chart = LineChart::new(
        "frames-mb-s".into(),
        "payload MB/s one way by frame size, against the loopback limit".into(),
        Axis::log("frame size, MiB"),
        Axis::linear("payload MB/s"),
    );
    let sizes: Vec<f64> = g.points.iter().filter_map(|p| mib(p)).collect();
    for m in &g.models {
        let mut s = Series::named(&label(m));
        for p in &g.points {
            if let (Some(x), Some(c)) = (mib(p), g.cell(m, p, |x| x.mb_per_s)) {
                let (lo, hi) = bounds(&c);
                s.push_interval(x, c.mean, lo, hi);
            }
        }
        if !s.x.is_empty() {
            chart.series.push(s);
        }
    }
    let limits = Grid::new(r, SuiteName::Frames, PointKind::Loopback);
    let (lo_x, hi_x) = sizes
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    for m in &limits.models {
        for p in &limits.points {
            if let (Some(c), true) = (limits.cell(m, p, |x| x.mb_per_s), hi_x > 0.0) {
                let mut s = Series::named(&format!("loopback: {m}"));
                s.push(lo_x, c.mean);
                if hi_x > lo_x {
                    s.push(hi_x, c.mean);
                }
                chart.series.push(s);
            }
        }
    }
    chart.has_points().then(|| Section {
        id: "frames".into(),
        title: "Frames against the loopback limit".into(),
        text: vec![
            "Mean payload MB/s over the blocks with 95% intervals; the flat lines are what one \
             connection moves over loopback with nothing but a sink at the other end."
                .into(),
        ],
        blocks: vec![Block::Line(chart)],
    })
}

/// The mixed suite's sweep: requests/s flattening and p99 climbing where each model meets
/// its knee.
pub fn mixed(r: &BenchResults) -> Option<Section> {
    let g = Grid::new(r, SuiteName::Mixed, PointKind::Sweep);
    if g.points.len() < 2 {
        return None;
    }
    let options: Vec<SwitchOption> = [
        option(
            "requests/s",
            chart_of(
                &g,
                "mixed-req-s".into(),
                "mixed workload: requests/s against connections",
                Axis::linear("requests/s"),
                &|x| x.messages_per_s,
            ),
        ),
        option(
            "p99",
            chart_of(
                &g,
                "mixed-p99".into(),
                "mixed workload: p99 latency against connections",
                Axis::log("p99 latency, us"),
                &|x| lat(x, |l| l.p99),
            ),
        ),
        option(
            "server's own p99",
            chart_of(
                &g,
                "mixed-service-p99".into(),
                "mixed workload: the server's own p99 service time",
                Axis::log("service p99, us"),
                &|x| x.service.as_ref().map(|s| s.p99_us as f64),
            ),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let blocks = html::switch("metric", options);
    (!blocks.is_empty()).then(|| Section {
        id: "mixed".into(),
        title: "Mixed workload: the knee".into(),
        text: vec![
            "Where requests/s stops growing with connections and p99 turns up is the model's \
             knee. Means over the blocks with 95% intervals."
                .into(),
        ],
        blocks,
    })
}
