//! The bench's plan, step by step: a fresh-server run ([`Slot`]) or an interleaved point's
//! group of models ([`Step::Group`]), with what each is expected to take; which models can
//! run a point ([`runnable`]); and the seeded order of models in a block ([`block_order`]).

use super::data::{self, BenchConfig};
use super::names::SuiteName;
use super::point::Point;
use super::suite::spec::Suite;

/// One step of the plan: a fresh-server run, or a group of an interleaved point.
pub enum Step<'a> {
    /// One model at one point on a fresh server.
    Run(Slot<'a>),
    Group {
        /// Its suite.
        suite: &'a dyn Suite,
        /// Its point.
        point: Point,
        /// The models of this group, every one's server up at once.
        models: Vec<String>,
        /// Which group of the point (from 1).
        group: u32,
        /// Counted rounds of slices.
        rounds: u32,
        /// The suite's baselines run before it (its first point's first group).
        baselines_first: bool,
    },
}

impl Step<'_> {
    /// Records it writes: one run, or one per model per counted round.
    pub fn records(&self) -> usize {
        match self {
            Step::Run(_) => 1,
            Step::Group { models, rounds, .. } => models.len() * *rounds as usize,
        }
    }

    /// Its expected length in seconds, for the time left: a run's warm-up and window plus
    /// about 0.4 s to start and stop its server; a group's slices (the uncounted round
    /// included) plus a second to start its servers and open their connections.
    pub fn estimate_s(&self, config: &BenchConfig) -> f64 {
        match self {
            Step::Run(slot) => slot.point.warmup().as_secs_f64() + config.duration_s + 0.4,
            Step::Group {
                point,
                models,
                rounds,
                ..
            } => {
                let sl = config.slicing.unwrap_or(data::SliceSettings {
                    warmup_ms: 20.0,
                    measured_ms: 30.0,
                    drain_limit_ms: 0.0,
                });
                let slice = (sl.warmup_ms + sl.measured_ms) / 1e3 + 0.01;
                let n = models.len() as f64;
                let perf_round = if config.perf { 1.2 } else { 0.0 };
                1.0 + point.conns as f64 * 1e-4 * n
                    + n * (slice * (f64::from(*rounds) + 1.0) + perf_round)
            }
        }
    }

    /// Whether its suite's baselines run before it.
    pub fn baselines_first(&self) -> bool {
        match self {
            Step::Run(slot) => slot.baselines_first,
            Step::Group {
                baselines_first, ..
            } => *baselines_first,
        }
    }

    /// Its suite, and the block its baselines are recorded in.
    pub fn suite_and_block(&self) -> (&dyn Suite, u32) {
        match self {
            Step::Run(slot) => (slot.suite, slot.block),
            Step::Group { suite, .. } => (*suite, 1),
        }
    }
}

/// One planned run.
pub struct Slot<'a> {
    pub suite: &'a dyn Suite,
    pub point: Point,
    pub block: u32,
    pub position: u32,
    pub model: String,
    /// The suite's baselines run before this one (each block of its first point).
    pub baselines_first: bool,
}

/// The models that can run `point` of `suite`, and one note per reason for those that
/// cannot (`the spread suite's p2-exclusive does not run tokio, smol (--accept exclusive:
/// ...)`), models named in their order. A variant is asked about as its model.
pub fn runnable(
    suite: &dyn Suite,
    point: &Point,
    models: &[String],
    config: &BenchConfig,
) -> (Vec<String>, Vec<String>) {
    let mut here = Vec::new();
    let mut refused: Vec<(String, Vec<String>)> = Vec::new();
    for m in models {
        match suite.refuses(point, config.base_model(m)) {
            None => here.push(m.clone()),
            Some(why) => match refused.iter_mut().find(|(w, _)| *w == why) {
                Some((_, ms)) => ms.push(m.clone()),
                None => refused.push((why, vec![m.clone()])),
            },
        }
    }
    let notes = refused
        .into_iter()
        .map(|(why, ms)| {
            format!(
                "the {} suite's {} does not run {} ({why}): not supported",
                suite.name(),
                point.point,
                ms.join(", ")
            )
        })
        .collect();
    (here, notes)
}

/// The order of `n` models in one block of one point: a permutation drawn from the bench's
/// seed, the suite, the point and the block, so that a recorded seed replays every order.
pub fn block_order(seed: u64, suite: SuiteName, point: &str, block: u32, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    crate::rng::Rng::keyed(seed, &[suite.as_str(), point], u64::from(block)).shuffle(&mut order);
    order
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::suite::spread::Spread;

    #[test]
    fn the_plan_leaves_out_what_a_model_refuses_with_a_note() {
        let mut config = crate::bench::suite::spec::config(1.0);
        config.variants = vec![crate::bench::data::Variant {
            name: "epoll-b".into(),
            model: "epoll".into(),
            env: vec![],
            server_args: vec!["--buffer-size=4KiB".into()],
            bin: None,
        }];
        let points = Spread.points(&config);
        let models: Vec<String> = ["epoll", "tokio", "smol"].map(String::from).into();
        let (here, notes) = runnable(&Spread, &points[1], &models, &config);
        assert_eq!(here, ["epoll"]);
        let with_variant: Vec<String> = ["epoll-b", "tokio"].map(String::from).into();
        let (here, _) = runnable(&Spread, &points[1], &with_variant, &config);
        assert_eq!(here, ["epoll-b"], "a variant can do what its model can");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with(
                "the spread suite's p2-exclusive does not run tokio, smol (--accept exclusive: \
                 its runtime's epoll descriptor is private"
            ),
            "{}",
            notes[0]
        );
        assert!(notes[0].ends_with("): not supported"), "{}", notes[0]);
        let (here, notes) = runnable(&Spread, &points[0], &models, &config);
        assert_eq!(here, models);
        assert!(notes.is_empty());
    }
}
