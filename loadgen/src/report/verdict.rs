//! Verdicts: which model is faster, slower, or cannot be told apart from the reference.
//!
//! A bench runs every point in blocks, each block running every model once in a shuffled
//! order. The noise of a moment on a small shared machine hits a block's runs alike, so
//! the figure that ranks a model is its per-block ratio to the reference model (epoll by
//! default), not its raw mean. Per point and metric:
//!
//! - the ratio is the geometric mean of the per-block ratios, with a 95% percentile
//!   bootstrap interval over blocks ([`RESAMPLES`] resamples, a fixed seed, so the same
//!   raw.json gives the same intervals anywhere), plus their median;
//! - the verdict: better (faster, cheaper) or worse only when the interval clears 1 by more
//!   than the margin δ; equivalent when it lies within 1 ± δ; inconclusive otherwise;
//! - tiers: models sorted best first; a model starts a new tier only when its paired ratio
//!   to the first model of the current tier is worse by the same rule, so models that
//!   cannot be told apart share a tier;
//! - outliers: a run whose figure lies more than 10 robust standard deviations from its
//!   model's median at that point (hyperfine's rule, 14.826 median absolute deviations) is
//!   flagged, never dropped.

use std::collections::BTreeMap;

use crate::bench::data::{BenchResults, RunRecord, RunStatus};
use crate::rng::Rng;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 4000;
/// Seed of every bootstrap ("echolab" in ASCII), mixed with what the interval is of.
pub const BOOTSTRAP_SEED: u64 = 0x0065_6368_6f6c_6162;
/// Fewest paired blocks for a verdict other than inconclusive: below it a bootstrap has
/// too few distinct resamples to give a 95% interval worth the name.
pub const MIN_BLOCKS: usize = 5;
/// Median absolute deviations from the median that make a run an outlier (10 robust
/// standard deviations).
pub const OUTLIER_MADS: f64 = 14.826;

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
pub const P99: Metric = Metric {
    key: "p99",
    label: "p99 latency",
    better: Better::Lower,
    value: RunRecord::p99_us,
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

/// The metrics that rank models at a suite's points of one kind.
pub fn metrics_for(suite: &str, kind: &str) -> Vec<Metric> {
    match (suite, kind) {
        ("pingpong", "fixed-rate") => vec![CPU_MSG, P99],
        ("pingpong", _) | ("plans", _) => vec![MSG_S, CPU_MSG],
        ("frames", "frames") => vec![MB_S],
        ("mixed", _) => vec![REQ_S],
        _ => vec![],
    }
}

/// A ratio over blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Geometric mean of the per-block ratios.
    pub ratio: f64,
    /// Lower end of its 95% bootstrap interval (0 with fewer than two blocks).
    pub lo: f64,
    /// Upper end (infinite with fewer than two blocks).
    pub hi: f64,
    /// Median of the per-block ratios.
    pub median: f64,
    /// Blocks it is made of.
    pub n: usize,
}

impl Interval {
    /// Half the interval's width as a fraction of the ratio (0.05: +/- 5%).
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0 / self.ratio
    }

    /// `R [LO, HI]` with three decimals.
    pub fn cell(&self) -> String {
        if self.n < 2 {
            return format!("{:.3} [-, -]", self.ratio);
        }
        format!("{:.3} [{:.3}, {:.3}]", self.ratio, self.lo, self.hi)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The median of some values (they must not be empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The value at quantile `q` of sorted values (linear between neighbours).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * f,
        None => sorted[i],
    }
}

/// The geometric mean of per-block ratios given as natural logs, with its bootstrap
/// interval; None without a block.
pub fn bootstrap(log_ratios: &[f64], rng: &mut Rng) -> Option<Interval> {
    let n = log_ratios.len();
    if n == 0 {
        return None;
    }
    let ratio = mean(log_ratios).exp();
    let med = median(log_ratios).exp();
    if n < 2 {
        return Some(Interval {
            ratio,
            lo: 0.0,
            hi: f64::INFINITY,
            median: med,
            n,
        });
    }
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| log_ratios[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Some(Interval {
        ratio,
        lo: quantile(&means, 0.025).exp(),
        hi: quantile(&means, 0.975).exp(),
        median: med,
        n,
    })
}

/// The ratio of two independent samples' geometric means (B over A, as natural logs),
/// each resampled on its own: for runs that were not paired (two benches).
pub fn bootstrap_unpaired(a: &[f64], b: &[f64], rng: &mut Rng) -> Option<Interval> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let ratio = (mean(b) - mean(a)).exp();
    let med = (median(b) - median(a)).exp();
    if a.len() < 2 || b.len() < 2 {
        return Some(Interval {
            ratio,
            lo: 0.0,
            hi: f64::INFINITY,
            median: med,
            n: a.len().min(b.len()),
        });
    }
    let resample = |v: &[f64], rng: &mut Rng| {
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| resample(b, rng) - resample(a, rng))
        .collect();
    diffs.sort_by(f64::total_cmp);
    Some(Interval {
        ratio,
        lo: quantile(&diffs, 0.025).exp(),
        hi: quantile(&diffs, 0.975).exp(),
        median: med,
        n: a.len().min(b.len()),
    })
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
    /// Tier, from 1 (the best); models that cannot be told apart share one.
    pub tier: usize,
}

/// A run flagged as an outlier.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    /// Model.
    pub model: String,
    /// Block.
    pub block: u32,
    /// Its figure.
    pub value: f64,
    /// Its model's median at the point.
    pub median: f64,
}

/// The verdicts at one point for one metric.
#[derive(Debug, Clone)]
pub struct PointVerdicts {
    /// Suite.
    pub suite: String,
    /// Point name.
    pub point: String,
    /// Kind of point.
    pub kind: String,
    /// Connections.
    pub conns: u64,
    /// The metric.
    pub metric: Metric,
    /// Reference model.
    pub reference: String,
    /// Rows, best first; models without figures last.
    pub rows: Vec<Row>,
    /// Runs flagged as outliers.
    pub outliers: Vec<Outlier>,
}

/// Figures of every model at a point: model -> block -> value (ok runs with a positive,
/// finite figure). At an interleaved point, each round's figures are first freed of the
/// machine's drift within the round ([`detrend`]).
fn figures(
    results: &BenchResults,
    suite: &str,
    point: &str,
    metric: &Metric,
) -> BTreeMap<String, BTreeMap<u32, f64>> {
    let mut found: Vec<Figure> = Vec::new();
    for r in results.runs.iter().filter(|r| {
        r.suite == suite && r.point == point && r.position.is_some() && r.status == RunStatus::Ok
    }) {
        if let Some(v) = (metric.value)(r).filter(|v| v.is_finite() && *v > 0.0) {
            found.push(Figure {
                model: r.model.clone(),
                block: r.block,
                at: r
                    .started_unix_ms
                    .map_or(f64::from(r.position.unwrap_or(0)), |ms| ms as f64 / 1e3),
                log: v.ln(),
                sliced: r.slice.is_some(),
            });
        }
    }
    if !found.is_empty() && found.iter().all(|f| f.sliced) {
        detrend(&mut found);
    }
    let mut out: BTreeMap<String, BTreeMap<u32, f64>> = BTreeMap::new();
    for f in found {
        out.entry(f.model).or_default().insert(f.block, f.log.exp());
    }
    out
}

/// One model's figure in one block or round, as a natural log.
struct Figure {
    model: String,
    block: u32,
    /// When it ran: seconds (Unix), or its place in the block where no time was recorded.
    at: f64,
    log: f64,
    sliced: bool,
}

/// Least-squares line `y = a + b x` through some points, as (a, b); None with fewer than
/// three or no spread in x.
pub fn line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The machine's drift within each interleaved round, taken out of its slices' figures.
/// A round lasts about a second, over which this machine's speed wanders; pairing a model
/// with the reference in the same round cancels what the two share, not what changed
/// between their slices. Each slice's residual is its log figure less its model's median
/// over rounds (so the models' own levels never enter); a straight line through a round's
/// residuals against the slices' start times is the drift, and it is subtracted from every
/// slice of the round. The shuffled order puts every model early and late alike, so the
/// line takes nothing from a model's level; it takes from the ratios the part of the noise
/// that moved steadily through the round.
fn detrend(found: &mut [Figure]) {
    let mut by_model: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for f in found.iter() {
        by_model.entry(&f.model).or_default().push(f.log);
    }
    let level: BTreeMap<String, f64> = by_model
        .into_iter()
        .map(|(m, v)| (m.to_string(), median(&v)))
        .collect();
    let blocks: std::collections::BTreeSet<u32> = found.iter().map(|f| f.block).collect();
    for block in blocks {
        let t0 = found
            .iter()
            .filter(|f| f.block == block)
            .map(|f| f.at)
            .fold(f64::INFINITY, f64::min);
        let points: Vec<(f64, f64)> = found
            .iter()
            .filter(|f| f.block == block)
            .map(|f| (f.at - t0, f.log - level[&f.model]))
            .collect();
        let Some((a, b)) = line(&points) else {
            continue;
        };
        for f in found.iter_mut().filter(|f| f.block == block) {
            f.log -= a + b * (f.at - t0);
        }
    }
}

/// Per-block ln(a / b) over the blocks both have.
fn paired_logs(a: &BTreeMap<u32, f64>, b: &BTreeMap<u32, f64>) -> Vec<f64> {
    a.iter()
        .filter_map(|(blk, va)| b.get(blk).map(|vb| (va / vb).ln()))
        .collect()
}

/// `model`'s per-block (or per-round) ln(model / reference) at a point, as the verdicts
/// pair them (an interleaved point's drift taken out first), in block order.
pub fn paired_log_ratios(
    results: &BenchResults,
    suite: &str,
    point: &str,
    metric: &Metric,
    model: &str,
    reference: &str,
) -> Vec<f64> {
    let fig = figures(results, suite, point, metric);
    match (fig.get(model), fig.get(reference)) {
        (Some(m), Some(r)) => paired_logs(m, r),
        _ => Vec::new(),
    }
}

/// The bootstrap generator for one interval.
fn rng_for(suite: &str, point: &str, metric: &Metric, a: &str, b: &str) -> Rng {
    Rng::keyed(BOOTSTRAP_SEED, &[suite, point, metric.key, a, b], 0)
}

/// Runs more than [`OUTLIER_MADS`] median absolute deviations from their model's median.
pub fn outliers(values: &BTreeMap<u32, f64>) -> Vec<(u32, f64, f64)> {
    let v: Vec<f64> = values.values().copied().collect();
    if v.len() < 3 {
        return Vec::new();
    }
    let med = median(&v);
    let mad = median(&v.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
    if mad <= 0.0 {
        return Vec::new();
    }
    values
        .iter()
        .filter(|(_, x)| (*x - med).abs() > OUTLIER_MADS * mad)
        .map(|(b, x)| (*b, *x, med))
        .collect()
}

/// The verdicts at one point for one metric, against `reference` with margin `margin`.
pub fn at_point(
    results: &BenchResults,
    suite: &str,
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
    let empty = BTreeMap::new();
    let reference_figs = fig.get(reference).unwrap_or(&empty);
    let mut rows: Vec<Row> = results
        .config
        .models
        .iter()
        .filter(|m| runs_here.iter().any(|r| &r.model == *m))
        .map(|m| {
            let mine = fig.get(m).unwrap_or(&empty);
            let ran = runs_here.iter().filter(|r| &r.model == m).count();
            let logs = paired_logs(mine, reference_figs);
            let interval = bootstrap(&logs, &mut rng_for(suite, point, &metric, m, reference));
            let wins = logs
                .iter()
                .filter(|l| match metric.better {
                    Better::Higher => **l > 0.0,
                    Better::Lower => **l < 0.0,
                })
                .count();
            let verdict = match &interval {
                _ if m == reference => Verdict::Reference,
                None => Verdict::NoData,
                Some(iv) => judge(iv, margin, metric.better),
            };
            Row {
                model: m.clone(),
                interval,
                wins,
                blocks: logs.len(),
                missing: ran.saturating_sub(mine.len()),
                verdict,
                tier: 0,
            }
        })
        .collect();
    // Best first: the one with the highest (or lowest) ratio.
    let key = |r: &Row| match (&r.interval, metric.better) {
        (None, _) => f64::INFINITY,
        (Some(iv), Better::Higher) => -iv.ratio,
        (Some(iv), Better::Lower) => iv.ratio,
    };
    rows.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let mut tier = 0;
    let mut leader: Option<String> = None;
    for row in rows.iter_mut() {
        if row.interval.is_none() {
            continue;
        }
        let starts = match &leader {
            None => true,
            Some(l) => {
                let logs = paired_logs(
                    fig.get(&row.model).unwrap_or(&empty),
                    fig.get(l).unwrap_or(&empty),
                );
                let iv = bootstrap(&logs, &mut rng_for(suite, point, &metric, &row.model, l));
                iv.is_some_and(|iv| judge(&iv, margin, metric.better) == Verdict::Worse)
            }
        };
        if starts {
            tier += 1;
            leader = Some(row.model.clone());
        }
        row.tier = tier;
    }
    let outliers = fig
        .iter()
        .flat_map(|(m, values)| {
            outliers(values)
                .into_iter()
                .map(move |(block, value, median)| Outlier {
                    model: m.clone(),
                    block,
                    value,
                    median,
                })
        })
        .collect();
    let first = runs_here.first();
    PointVerdicts {
        suite: suite.into(),
        point: point.into(),
        kind: first.map(|r| r.kind.clone()).unwrap_or_default(),
        conns: first.map_or(0, |r| r.conns),
        metric,
        reference: reference.into(),
        rows,
        outliers,
    }
}

/// (suite, point, kind) of every point run in blocks, suite by suite in the bench's order
/// and point by point in the order they ran.
pub fn blocked_points(results: &BenchResults) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for suite in &results.config.suites {
        for run in results
            .runs
            .iter()
            .filter(|x| &x.suite == suite && x.position.is_some())
        {
            if !out.iter().any(|(s, p, _)| s == suite && p == &run.point) {
                out.push((suite.clone(), run.point.clone(), run.kind.clone()));
            }
        }
    }
    out
}

/// Every point's verdicts, suite by suite in the bench's order, for every ranking metric.
pub fn all(results: &BenchResults, reference: &str, margin: f64) -> Vec<PointVerdicts> {
    let mut out = Vec::new();
    for (suite, point, kind) in blocked_points(results) {
        for metric in metrics_for(&suite, &kind) {
            out.push(at_point(results, &suite, &point, metric, reference, margin));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::data::BenchConfig;

    /// Normal noise from the generator (Box-Muller).
    fn normal(rng: &mut Rng) -> f64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn intervals_cover_a_known_ratio() {
        // 300 synthetic benches of 12 blocks: a true ratio of 1.10 and 5% noise per run.
        let truth: f64 = 1.10;
        let mut noise = Rng::new(42);
        let mut covered = 0;
        for k in 0..300 {
            let logs: Vec<f64> = (0..12)
                .map(|_| truth.ln() + 0.05 * normal(&mut noise))
                .collect();
            let iv = bootstrap(&logs, &mut Rng::new(k)).unwrap();
            assert!(iv.lo < iv.ratio && iv.ratio < iv.hi);
            if iv.lo <= truth && truth <= iv.hi {
                covered += 1;
            }
        }
        // A percentile bootstrap over 12 blocks is a little narrow: about 92% here.
        assert!((260..=295).contains(&covered), "covered {covered} of 300");
    }

    #[test]
    fn same_seed_same_interval() {
        let logs = [0.1, 0.05, 0.12, 0.08, 0.02, 0.09];
        let a = bootstrap(&logs, &mut Rng::new(5)).unwrap();
        let b = bootstrap(&logs, &mut Rng::new(5)).unwrap();
        assert_eq!(a, b);
        assert!((a.ratio - (logs.iter().sum::<f64>() / 6.0).exp()).abs() < 1e-12);
        let one = bootstrap(&[0.1], &mut Rng::new(5)).unwrap();
        assert_eq!((one.lo, one.hi), (0.0, f64::INFINITY));
        assert_eq!(one.cell(), "1.105 [-, -]");
        assert!(bootstrap(&[], &mut Rng::new(5)).is_none());
    }

    #[test]
    fn verdicts_follow_the_margin() {
        let iv = |lo, hi| Interval {
            ratio: (lo + hi) / 2.0,
            lo,
            hi,
            median: (lo + hi) / 2.0,
            n: 10,
        };
        let m = 0.03;
        use Better::*;
        assert_eq!(judge(&iv(1.04, 1.10), m, Higher), Verdict::Better);
        assert_eq!(judge(&iv(1.04, 1.10), m, Lower), Verdict::Worse);
        assert_eq!(judge(&iv(0.90, 0.96), m, Higher), Verdict::Worse);
        assert_eq!(judge(&iv(0.90, 0.96), m, Lower), Verdict::Better);
        // Clears 1 but not 1 + margin: not enough to call.
        assert_eq!(judge(&iv(1.01, 1.05), m, Higher), Verdict::Inconclusive);
        assert_eq!(judge(&iv(0.98, 1.02), m, Higher), Verdict::Equivalent);
        assert_eq!(judge(&iv(0.90, 1.10), m, Higher), Verdict::Inconclusive);
        assert_eq!(iv(0.9, 1.1).cell(), "1.000 [0.900, 1.100]");
        // Two blocks call nothing, however narrow their interval.
        let two = Interval {
            n: 2,
            ..iv(1.10, 1.20)
        };
        assert_eq!(judge(&two, m, Higher), Verdict::Inconclusive);
        assert!((iv(0.9, 1.1).half_width() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn unpaired_ratio_of_two_samples() {
        let a: Vec<f64> = [100.0f64, 102.0, 98.0, 101.0]
            .iter()
            .map(|v| v.ln())
            .collect();
        let b: Vec<f64> = [120.0f64, 118.0, 123.0, 121.0]
            .iter()
            .map(|v| v.ln())
            .collect();
        let iv = bootstrap_unpaired(&a, &b, &mut Rng::new(1)).unwrap();
        assert!(iv.lo > 1.1 && iv.hi < 1.3, "{iv:?}");
        assert!(bootstrap_unpaired(&a, &[], &mut Rng::new(1)).is_none());
    }

    #[test]
    fn outliers_by_median_absolute_deviation() {
        let v: BTreeMap<u32, f64> = [100.0, 101.0, 99.0, 100.5, 99.5, 300.0]
            .iter()
            .enumerate()
            .map(|(i, x)| (i as u32 + 1, *x))
            .collect();
        assert_eq!(outliers(&v), vec![(6, 300.0, 100.25)]);
        let flat: BTreeMap<u32, f64> = (1..5).map(|b| (b, 7.0)).collect();
        assert!(outliers(&flat).is_empty());
    }

    /// A bench of `blocks` blocks: epoll at 100 msg/s, `fast` 20% faster, `same` equal,
    /// `slow` 20% slower, with 3% noise per run that each block shares in part.
    pub(crate) fn synthetic(blocks: u32) -> BenchResults {
        let models = ["epoll", "fast", "same", "slow"];
        let factor = [1.0, 1.2, 1.0, 0.8];
        let mut noise = Rng::new(9);
        let mut runs = Vec::new();
        for block in 1..=blocks {
            let shared = 1.0 + 0.10 * normal(&mut noise);
            for (i, m) in models.iter().enumerate() {
                let mut r = RunRecord::blank("pingpong", "100", "sweep", 100, block, m);
                r.position = Some(i as u32 + 1);
                r.messages_per_s =
                    Some(100.0 * factor[i] * shared * (1.0 + 0.01 * normal(&mut noise)));
                runs.push(r);
            }
        }
        let mut config = crate::bench::suite::config(1.0);
        config.suites = vec!["pingpong".into()];
        config.models = models.map(String::from).to_vec();
        BenchResults::of_runs(BenchConfig { blocks, ..config }, runs)
    }

    /// A slice of `model` at ping-pong 100 conns, at place `pos` (from 0) of `round`, the
    /// places 50 ms apart and the rounds a second.
    fn slice_record(model: &str, round: u32, pos: usize) -> RunRecord {
        let mut r = RunRecord::blank("pingpong", "100", "sweep", 100, round, model);
        r.position = Some(pos as u32 + 1);
        r.started_unix_ms = Some(u64::from(round) * 1000 + pos as u64 * 50);
        r.slice = Some(crate::bench::data::SliceFigures {
            round,
            group: 1,
            warmup_s: 0.02,
            measured_s: 0.03,
            drain_s: 0.0,
            loadgen_cpu_ns: 0,
            connected: 100,
            abandoned: 0,
        });
        r
    }

    /// An interleaved bench of `rounds` rounds: epoll, its twin, `slow` (10% fewer
    /// messages/s) and seven more at epoll's speed, in a shuffled order per round, 50 ms a
    /// slice, the machine's speed drifting steadily through each round by up to `drift`
    /// (a new slope each round) plus 1% noise per slice.
    fn interleaved(rounds: u32, drift: f64) -> BenchResults {
        let mut models = vec!["epoll", "epoll-twin", "slow"];
        let more = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
        models.extend(more);
        let mut noise = Rng::new(3);
        let mut runs = Vec::new();
        for round in 1..=rounds {
            let slope = drift * normal(&mut noise);
            let mut order: Vec<usize> = (0..models.len()).collect();
            Rng::new(u64::from(round)).shuffle(&mut order);
            for (pos, &i) in order.iter().enumerate() {
                let m = models[i];
                let mut r = slice_record(m, round, pos);
                let level = if m == "slow" { 0.9 } else { 1.0 };
                let moment = (slope * pos as f64 / models.len() as f64).exp();
                r.messages_per_s = Some(1e5 * level * moment * (1.0 + 0.01 * normal(&mut noise)));
                runs.push(r);
            }
        }
        let mut config = crate::bench::suite::config(1.0);
        config.suites = vec!["pingpong".into()];
        config.models = models.iter().map(|m| m.to_string()).collect();
        BenchResults::of_runs(config, runs)
    }

    #[test]
    fn detrended_intervals_cover_a_known_ratio_through_wandering_noise() {
        // 120 synthetic interleaved benches of 30 rounds of 8 models: `slow` at 0.9 of the
        // reference, the machine's speed an AR(1) walk from slice to slice (0.8 a step, 5%
        // standing deviation, what this VM shows at 30 ms slices) plus 1% of noise a slice.
        let truth: f64 = 0.9;
        let models = ["epoll", "slow", "m1", "m2", "m3", "m4", "m5", "m6"];
        let mut noise = Rng::new(17);
        let mut covered = 0;
        let trials = 120;
        for k in 0..trials {
            let mut walk = 0.0;
            let mut runs = Vec::new();
            for round in 1..=30u32 {
                let mut order: Vec<usize> = (0..models.len()).collect();
                noise.shuffle(&mut order);
                for (pos, &i) in order.iter().enumerate() {
                    walk = 0.8 * walk + 0.6 * 0.05 * normal(&mut noise);
                    let mut r = slice_record(models[i], round, pos);
                    let level = if models[i] == "slow" { truth } else { 1.0 };
                    r.messages_per_s = Some(1e5 * level * (walk + 0.01 * normal(&mut noise)).exp());
                    runs.push(r);
                }
            }
            let mut config = crate::bench::suite::config(1.0);
            config.models = models.iter().map(|m| m.to_string()).collect();
            let bench = BenchResults::of_runs(config, runs);
            let fig = figures(&bench, "pingpong", "100", &MSG_S);
            let logs = paired_logs(&fig["slow"], &fig["epoll"]);
            let iv = bootstrap(&logs, &mut Rng::new(k)).unwrap();
            if iv.lo <= truth && truth <= iv.hi {
                covered += 1;
            }
        }
        // The percentile bootstrap's own shortfall (about 92-93% over 12 blocks, nearer 95%
        // over 30) and no more: the line through each round takes no coverage away.
        assert!(
            (106..=119).contains(&covered),
            "covered {covered} of {trials}"
        );
    }

    #[test]
    fn drift_within_a_round_is_taken_out_of_interleaved_slices() {
        // 20% drift through a round would swamp a 10% difference in a plain pairing: the
        // reference's slice and a model's lie up to a round apart.
        let r = interleaved(30, 0.2);
        let pv = at_point(&r, "pingpong", "100", MSG_S, "epoll", 0.03);
        let row = |m: &str| pv.rows.iter().find(|x| x.model == m).unwrap().clone();
        let slow = row("slow").interval.unwrap();
        assert!(slow.lo < 0.9 && 0.9 < slow.hi, "{slow:?}");
        assert!(slow.half_width() < 0.015, "{slow:?}");
        assert_eq!(row("slow").verdict, Verdict::Worse);
        let twin = row("epoll-twin");
        assert_eq!(twin.verdict, Verdict::Equivalent, "{twin:?}");
        // The same figures as fresh-server blocks (no slices) are paired as they are.
        let mut blocks = r.clone();
        for x in &mut blocks.runs {
            x.slice = None;
        }
        let plain = at_point(&blocks, "pingpong", "100", MSG_S, "epoll", 0.03);
        let wide = plain
            .rows
            .iter()
            .find(|x| x.model == "slow")
            .unwrap()
            .interval
            .unwrap();
        assert!(
            wide.half_width() > 3.0 * slow.half_width(),
            "{wide:?} vs {slow:?}"
        );
        // Without drift, nothing moves but the noise.
        let calm = interleaved(30, 0.0);
        let pv = at_point(&calm, "pingpong", "100", MSG_S, "epoll", 0.03);
        let slow = pv.rows.iter().find(|x| x.model == "slow").unwrap();
        let iv = slow.interval.unwrap();
        assert!((iv.ratio - 0.9).abs() < 0.01, "{iv:?}");
    }

    #[test]
    fn paired_blocks_rank_through_shared_noise() {
        // The shared 10% noise would hide a 0% vs 20% difference in raw means over a few
        // runs; the per-block ratios cancel it.
        let r = synthetic(12);
        let pv = at_point(&r, "pingpong", "100", MSG_S, "epoll", 0.03);
        let order: Vec<&str> = pv.rows.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(order[0], "fast");
        assert_eq!(order[3], "slow");
        let row = |m: &str| pv.rows.iter().find(|r| r.model == m).unwrap();
        assert_eq!(row("fast").verdict, Verdict::Better);
        assert_eq!(row("slow").verdict, Verdict::Worse);
        assert_eq!(row("epoll").verdict, Verdict::Reference);
        assert_eq!(row("same").verdict, Verdict::Equivalent);
        assert_eq!(row("fast").wins, 12);
        assert_eq!((row("fast").tier, row("slow").tier), (1, 3));
        assert_eq!(row("same").tier, row("epoll").tier);
        let iv = row("fast").interval.unwrap();
        assert!(iv.lo < 1.2 && 1.2 < iv.hi, "{iv:?}");
        // Another reference turns the ratios around.
        let pv = at_point(&r, "pingpong", "100", MSG_S, "fast", 0.03);
        assert!(
            pv.rows
                .iter()
                .all(|r| r.model == "fast" || r.verdict == Verdict::Worse)
        );
    }
}
