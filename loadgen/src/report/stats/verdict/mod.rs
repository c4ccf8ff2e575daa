//! Verdicts: which model is faster, slower, or cannot be told apart from the reference.
//!
//! A bench runs every point in blocks, each block running every model once in a shuffled
//! order (or in interleaved rounds, a round being a block here). The noise of a moment on
//! a small shared machine hits a block's runs alike, so the figure that ranks a model is
//! its per-block ratio to the reference model (epoll by default), not its raw mean. Per
//! point and metric:
//!
//! - the ratio is the geometric mean of the per-block ratios, with a 95% Student-t
//!   interval on the mean of their logs ([`interval::paired`]; t with blocks - 1 degrees
//!   of freedom, which holds 95% coverage from 5 blocks up where a percentile bootstrap
//!   fell to about 92%), plus their median;
//! - errors first: a model whose error share at the point (errors over samples, all its
//!   runs) is above `--max-error-pct` gets no verdict on speed or cost there
//!   ([`Verdict::Errors`]): its ok/s and CPU per ok message count only what did not fail.
//!   Error shares are compared on their own ([`errors`]);
//! - the verdict: better (faster, cheaper) or worse only when the interval clears 1 by more
//!   than the margin δ; equivalent when it lies within 1 ± δ; inconclusive otherwise, and
//!   always below [`MIN_BLOCKS`] blocks;
//! - tiers ([`tiers`]): 1 + the longest chain of models that beat a model by the same rule
//!   on their own paired ratio, so a model worse than another is never in its tier or above;
//! - outliers ([`outliers`]): judged on each model's paired log-ratios, flagged, never
//!   dropped; a block where the reference itself was off is named once as its own;
//! - CPU per message takes one source per point: perf's nanosecond count where any run at
//!   the point has one (a run without it is missing, never filled in from /proc's ticks),
//!   /proc's 10 ms ticks for every run only where none has it ([`CpuSource`]);
//! - client-bound: a messages/s verdict is marked where loadgen's own median CPU share over
//!   the model's runs at the point is [`CLIENT_BOUND_PCT`] or more: the client may have set
//!   the pace, and CPU per message says more there.

use std::collections::BTreeMap;

use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::bench::names::{PointKind, SuiteName};

pub mod errors;
pub mod figures;
pub mod interval;
pub mod outliers;
pub mod tiers;

use figures::paired_logs;
pub use figures::{CpuSource, line};
pub use interval::{Estimate, Interval, MIN_BLOCKS, difference, median, paired, unpaired};
pub use outliers::{OUTLIER_MADS, Outlier};

/// loadgen's median CPU share (percent of one CPU) over a model's runs at a point at or
/// above which its messages/s verdict is marked client-bound.
pub const CLIENT_BOUND_PCT: f64 = 90.0;

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better (messages/s, MB/s).
    Higher,
    /// Less is better (CPU per message, latency).
    Lower,
}

/// A figure that ranks models.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Short name (in seeds and file names).
    pub key: &'static str,
    /// What a table heading calls it.
    pub label: &'static str,
    /// Which way is better.
    pub better: Better,
    /// The figure of one run.
    pub value: fn(&RunRecord) -> Option<f64>,
    /// Verdict words: (better, worse).
    pub words: (&'static str, &'static str),
}

/// Messages (echoes, requests) per second.
pub const MSG_S: Metric = Metric {
    key: "msg-s",
    label: "messages/s",
    better: Better::Higher,
    value: |r| r.messages_per_s,
    words: ("faster", "slower"),
};
/// Requests per second (the mixed suite's messages).
pub const REQ_S: Metric = Metric {
    key: "req-s",
    label: "requests/s",
    better: Better::Higher,
    value: |r| r.messages_per_s,
    words: ("faster", "slower"),
};
/// Server CPU per message.
pub const CPU_MSG: Metric = Metric {
    key: "cpu-msg",
    label: "server CPU us/message",
    better: Better::Lower,
    value: RunRecord::cpu_us_per_message,
    words: ("cheaper", "costlier"),
};
/// p99 latency.
/// A run whose own send lateness was over a tenth of its p99 has none here
/// ([`RunRecord::late_sender`]): its p99 partly measured loadgen.
pub const P99: Metric = Metric {
    key: "p99",
    label: "p99 latency",
    better: Better::Lower,
    value: |r| if r.late_sender() { None } else { r.p99_us() },
    words: ("lower", "higher"),
};
/// Payload MB/s one way.
pub const MB_S: Metric = Metric {
    key: "mb-s",
    label: "payload MB/s",
    better: Better::Higher,
    value: |r| r.mb_per_s,
    words: ("faster", "slower"),
};

impl Metric {
    /// True for server CPU per message, whose figures take one source per point.
    pub fn is_server_cpu(&self) -> bool {
        self.key == CPU_MSG.key
    }
}

/// The metrics that rank models at a suite's points of one kind.
pub fn metrics_for(suite: SuiteName, kind: PointKind) -> Vec<Metric> {
    match (suite, kind) {
        (SuiteName::PingPong, PointKind::FixedRate) => vec![CPU_MSG, P99],
        (SuiteName::PingPong, _) | (SuiteName::Plans, _) => vec![MSG_S, CPU_MSG],
        (SuiteName::Frames, PointKind::Frames) => vec![MB_S],
        (SuiteName::Mixed, _) => vec![REQ_S],
        _ => vec![],
    }
}

/// What the interval says of a model against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the reference.
    Reference,
    /// Better by more than the margin (faster, cheaper).
    Better,
    /// Worse by more than the margin.
    Worse,
    /// Within the margin either way.
    Equivalent,
    /// Neither.
    Inconclusive,
    /// No block had figures of both.
    NoData,
    /// Its error share at the point is above the bench's `--max-error-pct`: no verdict on
    /// speed or cost, its ok figures counting only what did not fail.
    Errors,
}

/// The margin rule (inconclusive below [`MIN_BLOCKS`] blocks, whatever the interval).
pub fn judge(iv: &Interval, margin: f64, better: Better) -> Verdict {
    if iv.n < MIN_BLOCKS {
        return Verdict::Inconclusive;
    }
    let (above, below) = (iv.lo > 1.0 + margin, iv.hi < 1.0 - margin);
    match (above, below, better) {
        (true, _, Better::Higher) | (_, true, Better::Lower) => Verdict::Better,
        (true, _, Better::Lower) | (_, true, Better::Higher) => Verdict::Worse,
        _ if iv.lo >= 1.0 - margin && iv.hi <= 1.0 + margin => Verdict::Equivalent,
        _ => Verdict::Inconclusive,
    }
}

impl Verdict {
    /// The word for a metric ("faster", "cheaper", "equivalent").
    pub fn word(self, m: &Metric) -> &'static str {
        match self {
            Verdict::Reference => "reference",
            Verdict::Better => m.words.0,
            Verdict::Worse => m.words.1,
            Verdict::Equivalent => "equivalent",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NoData => "no data",
            Verdict::Errors => "errors",
        }
    }
}

/// One model at one point and metric.
#[derive(Debug, Clone)]
pub struct Row {
    /// Model.
    pub model: String,
    /// Its ratio to the reference over the blocks both have figures for.
    pub interval: Option<Interval>,
    /// Blocks in which it beat the reference.
    pub wins: usize,
    /// Blocks paired with the reference.
    pub blocks: usize,
    /// Blocks run at this point in which it has no figure (failed, or none to count).
    pub missing: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// Tier, from 1 (the best): 1 + the longest chain of models that beat it by the
    /// verdict rule; 0 (none) without an interval or with [`Verdict::Errors`].
    pub tier: usize,
    /// Its error share over its runs at the point, percent.
    pub error_pct: Option<f64>,
    /// loadgen's median CPU share over its runs (slices) at the point, percent of one CPU.
    pub loadgen_cpu_pct: Option<f64>,
}

impl Row {
    /// The verdict's words: `faster`, `errors 45%`, `slower (client-bound)`.
    pub fn verdict_cell(&self, m: &Metric) -> String {
        match self.verdict {
            Verdict::Errors => format!("errors {}%", pct(self.error_pct.unwrap_or(0.0))),
            v if v != Verdict::Reference && self.client_bound(m) => {
                format!("{} (client-bound)", v.word(m))
            }
            v => v.word(m).to_string(),
        }
    }

    /// True for a messages/s figure where loadgen's median CPU share over the model's runs
    /// at the point is [`CLIENT_BOUND_PCT`] or more: the client may have set the pace.
    pub fn client_bound(&self, m: &Metric) -> bool {
        m.better == Better::Higher
            && m.key != MB_S.key
            && self.loadgen_cpu_pct.is_some_and(|p| p >= CLIENT_BOUND_PCT)
    }
}

/// A share in percent with as many decimals as it needs to be seen (45, 1.5, 0.02).
pub fn pct(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The verdicts at one point for one metric.
#[derive(Debug, Clone)]
pub struct PointVerdicts {
    /// Suite.
    pub suite: SuiteName,
    /// Point name.
    pub point: String,
    /// Kind of point (None when no run was there).
    pub kind: Option<PointKind>,
    /// Connections.
    pub conns: u64,
    /// The metric.
    pub metric: Metric,
    /// Reference model.
    pub reference: String,
    /// Rows, best first; models without figures last.
    pub rows: Vec<Row>,
    /// Blocks flagged as outliers, on the paired log-ratios.
    pub outliers: Vec<Outlier>,
    /// Where server CPU figures came from, for a metric of server CPU.
    pub cpu_source: Option<CpuSource>,
    /// p99: ok runs left out because loadgen's own send lateness p99 was over a tenth of
    /// theirs ([`RunRecord::late_sender`]).
    pub late_sender_runs: usize,
    /// The error shares and their verdicts, reference included, in the rows' order.
    pub errors: Vec<errors::ErrorRow>,
    /// The error share above which a model gets [`Verdict::Errors`], percent.
    pub max_error_pct: f64,
}

/// Figures of every model at a point for a metric ([`figures::of_point`]).
fn figures(
    results: &BenchResults,
    suite: SuiteName,
    point: &str,
    metric: &Metric,
) -> BTreeMap<String, BTreeMap<u32, f64>> {
    figures::of_point(results, suite, point, metric.value, metric.is_server_cpu())
}

/// `model`'s per-block (or per-round) ln(model / reference) at a point, as the verdicts
/// pair them (an interleaved point's drift taken out first), in block order.
pub fn paired_log_ratios(
    results: &BenchResults,
    suite: SuiteName,
    point: &str,
    metric: &Metric,
    model: &str,
    reference: &str,
) -> Vec<f64> {
    let fig = figures(results, suite, point, metric);
    match (fig.get(model), fig.get(reference)) {
        (Some(m), Some(r)) => paired_logs(m, r).into_values().collect(),
        _ => Vec::new(),
    }
}

/// The verdicts at one point for one metric, against `reference` with margin `margin`; a
/// model whose error share there is above the bench's `max_error_pct` is judged on its
/// errors alone.
pub fn at_point(
    results: &BenchResults,
    suite: SuiteName,
    point: &str,
    metric: Metric,
    reference: &str,
    margin: f64,
) -> PointVerdicts {
    let fig = figures(results, suite, point, &metric);
    let runs_here: Vec<&RunRecord> = results
        .runs
        .iter()
        .filter(|r| r.suite == suite && r.point == point && r.position.is_some())
        .collect();
    let max_error_pct = results.config.max_error_pct;
    let by_model: BTreeMap<&str, Vec<&RunRecord>> = results
        .config
        .models
        .iter()
        .map(|m| {
            let runs: Vec<&RunRecord> = runs_here
                .iter()
                .filter(|r| &r.model == m)
                .copied()
                .collect();
            (m.as_str(), runs)
        })
        .filter(|(_, runs)| !runs.is_empty())
        .collect();
    let empty = BTreeMap::new();
    let reference_figs = fig.get(reference).unwrap_or(&empty);
    let mut log_ratios: BTreeMap<String, BTreeMap<u32, f64>> = BTreeMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for m in results
        .config
        .models
        .iter()
        .filter(|m| by_model.contains_key(m.as_str()))
    {
        let runs = &by_model[m.as_str()];
        let mine = fig.get(m).unwrap_or(&empty);
        let pairs = paired_logs(mine, reference_figs);
        let logs: Vec<f64> = pairs.values().copied().collect();
        let interval = paired(&logs);
        let wins = logs
            .iter()
            .filter(|l| match metric.better {
                Better::Higher => **l > 0.0,
                Better::Lower => **l < 0.0,
            })
            .count();
        let error_pct = errors::share(runs.iter().copied());
        let verdict = match &interval {
            _ if error_pct.is_some_and(|e| e > max_error_pct) => Verdict::Errors,
            _ if m == reference => Verdict::Reference,
            None => Verdict::NoData,
            Some(iv) => judge(iv, margin, metric.better),
        };
        let cpu: Vec<f64> = runs.iter().filter_map(|r| r.loadgen_cpu_pct()).collect();
        rows.push(Row {
            model: m.clone(),
            interval,
            wins,
            blocks: logs.len(),
            missing: runs.len().saturating_sub(mine.len()),
            verdict,
            tier: 0,
            error_pct,
            loadgen_cpu_pct: (!cpu.is_empty()).then(|| median(&cpu)),
        });
        if verdict != Verdict::Errors {
            log_ratios.insert(m.clone(), pairs);
        }
    }
    // Tiers from the pairwise rule among the models with an interval and few errors.
    let ranked: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].interval.is_some() && rows[i].verdict != Verdict::Errors)
        .collect();
    let worse = |i: usize, j: usize| {
        let (a, b) = (&rows[ranked[i]].model, &rows[ranked[j]].model);
        is_worse(&fig, a, b, margin, metric.better)
    };
    let tiers = tiers::from_relation(ranked.len(), worse);
    for (k, &i) in ranked.iter().enumerate() {
        rows[i].tier = tiers[k];
    }
    // Tier by tier, best first within one: the highest (or lowest) ratio; untiered last.
    let key = |r: &Row| {
        let ratio = match (&r.interval, metric.better) {
            (None, _) => f64::INFINITY,
            (Some(iv), Better::Higher) => -iv.ratio,
            (Some(iv), Better::Lower) => iv.ratio,
        };
        (if r.tier == 0 { usize::MAX } else { r.tier }, ratio)
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let order: BTreeMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.model.as_str(), i))
        .collect();
    let mut error_rows = errors::rows(&by_model, reference);
    error_rows.sort_by_key(|e| order.get(e.model.as_str()).copied().unwrap_or(usize::MAX));
    let first = runs_here.first();
    PointVerdicts {
        suite,
        point: point.into(),
        kind: first.map(|r| r.kind),
        conns: first.map_or(0, |r| r.conns),
        metric,
        reference: reference.into(),
        outliers: outliers::judge(&log_ratios, reference),
        cpu_source: metric.is_server_cpu().then(|| {
            CpuSource::of(
                runs_here
                    .iter()
                    .copied()
                    .filter(|r| r.status == RunStatus::Ok),
            )
        }),
        late_sender_runs: if metric.key == P99.key {
            runs_here
                .iter()
                .filter(|r| r.status == RunStatus::Ok && r.late_sender())
                .count()
        } else {
            0
        },
        errors: error_rows,
        max_error_pct,
        rows,
    }
}

/// True when model `a` is worse than `b` by the verdict rule on their own paired ratio,
/// read either way round (a over b worse, or b over a better: the margin is not quite
/// symmetric in a ratio, 1 - δ against 1 / (1 + δ), and either reading is a verdict).
fn is_worse(
    fig: &BTreeMap<String, BTreeMap<u32, f64>>,
    a: &str,
    b: &str,
    margin: f64,
    better: Better,
) -> bool {
    let empty = BTreeMap::new();
    let (fa, fb) = (fig.get(a).unwrap_or(&empty), fig.get(b).unwrap_or(&empty));
    let verdict = |x, y| {
        let logs: Vec<f64> = paired_logs(x, y).into_values().collect();
        paired(&logs).map(|iv| judge(&iv, margin, better))
    };
    verdict(fa, fb) == Some(Verdict::Worse) || verdict(fb, fa) == Some(Verdict::Better)
}

/// (suite, point, kind) of every point run in blocks, suite by suite in the bench's order
/// and point by point in the order they ran.
pub fn blocked_points(results: &BenchResults) -> Vec<(SuiteName, String, PointKind)> {
    let mut out: Vec<(SuiteName, String, PointKind)> = Vec::new();
    for &suite in &results.config.suites {
        for run in results
            .runs
            .iter()
            .filter(|x| x.suite == suite && x.position.is_some())
        {
            if !out.iter().any(|(s, p, _)| *s == suite && p == &run.point) {
                out.push((suite, run.point.clone(), run.kind));
            }
        }
    }
    out
}

/// Every point's verdicts, suite by suite in the bench's order, for every ranking metric.
pub fn all(results: &BenchResults, reference: &str, margin: f64) -> Vec<PointVerdicts> {
    let mut out = Vec::new();
    for (suite, point, kind) in blocked_points(results) {
        for metric in metrics_for(suite, kind) {
            out.push(at_point(results, suite, &point, metric, reference, margin));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
