//! Benches made up for the tests of the summary and its statistics: a blocked bench with
//! a model 20% faster, one as fast and one 20% slower than epoll ([`synthetic`]), and an
//! interleaved one with a drifting machine ([`interleaved`]). Test code only; it stands
//! below every test that uses it, so no test imports another file's tests.

use crate::bench::data::{BenchConfig, BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::rng::Rng;

/// Normal noise from the generator (Box-Muller).
pub(crate) fn normal(rng: &mut Rng) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
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
            let mut r =
                RunRecord::blank(SuiteName::PingPong, "100", PointKind::Sweep, 100, block, m);
            r.position = Some(i as u32 + 1);
            r.messages_per_s = Some(100.0 * factor[i] * shared * (1.0 + 0.01 * normal(&mut noise)));
            runs.push(r);
        }
    }
    let mut config = crate::bench::suite::config(1.0);
    config.suites = vec![SuiteName::PingPong];
    config.models = models.map(String::from).to_vec();
    BenchResults::of_runs(BenchConfig { blocks, ..config }, runs)
}

/// A slice of `model` at ping-pong 100 conns, at place `pos` (from 0) of `round`, the
/// places 50 ms apart and the rounds a second.
pub(crate) fn slice_record(model: &str, round: u32, pos: usize) -> RunRecord {
    let mut r = RunRecord::blank(
        SuiteName::PingPong,
        "100",
        PointKind::Sweep,
        100,
        round,
        model,
    );
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
pub(crate) fn interleaved(rounds: u32, drift: f64) -> BenchResults {
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
    config.suites = vec![SuiteName::PingPong];
    config.models = models.iter().map(|m| m.to_string()).collect();
    BenchResults::of_runs(config, runs)
}

/// A run's report with `samples` samples of which `errors` failed.
pub(crate) fn with_samples(r: &mut RunRecord, samples: u64, errors: u64) {
    let mut rep = crate::run::report::test_report(&crate::stats::Stats::new(false));
    rep.samples = samples;
    rep.ok = samples - errors;
    rep.errors = errors;
    r.report = Some(rep);
}

/// [`synthetic`] with runs of 1000 samples in which `slow` failed 450 (45%), and one run of
/// `same` with one error in 2000 (under the 1% limit).
pub(crate) fn with_errors(blocks: u32) -> BenchResults {
    let mut r = synthetic(blocks);
    for run in &mut r.runs {
        let errors = if run.model == "slow" { 450 } else { 0 };
        with_samples(run, 1000, errors);
    }
    for run in r.runs.iter_mut().filter(|x| x.model == "same").take(1) {
        with_samples(run, 2000, 1);
    }
    r
}

/// [`synthetic`] in which the reference ran half as fast in block 9: every model's ratio
/// doubles there.
pub(crate) fn reference_off_in_block_9(blocks: u32) -> BenchResults {
    let mut r = synthetic(blocks);
    for run in r
        .runs
        .iter_mut()
        .filter(|x| x.block == 9 && x.model == "epoll")
    {
        run.messages_per_s = run.messages_per_s.map(|v| v * 0.5);
    }
    r
}

/// [`interleaved`] (10 rounds, no drift) in which loadgen used 95% of a CPU against `slow`
/// and 50% against every other model.
pub(crate) fn client_bound() -> BenchResults {
    let mut r = interleaved(10, 0.0);
    for run in &mut r.runs {
        let busy = if run.model == "slow" { 0.95 } else { 0.5 };
        if let Some(sl) = run.slice.as_mut() {
            sl.loadgen_cpu_ns = (busy * sl.measured_s * 1e9) as u64;
        }
    }
    r
}

/// [`synthetic`] (10 blocks) as a fixed-rate point: p99 of 100 us everywhere (`slow` 150
/// us); loadgen's send lateness p99 5 us, except in the first three blocks of `slow`, where
/// it was 40 us: over a tenth of that p99.
pub(crate) fn late_sender() -> BenchResults {
    let mut r = synthetic(10);
    for run in &mut r.runs {
        run.kind = PointKind::FixedRate;
        with_samples(run, 1000, 0);
        let rep = run.report.as_mut().unwrap();
        rep.latency_us.p99 = if run.model == "slow" { 150 } else { 100 };
        let late = if run.model == "slow" && run.block <= 3 {
            40
        } else {
            5
        };
        rep.send_lateness_us = Some(crate::run::report::SendLateness {
            count: 1000,
            p50: 2,
            p99: late,
            max: 60,
        });
    }
    r
}
