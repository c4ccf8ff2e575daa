use super::*;
use crate::report::stats::fixtures::{
    client_bound, interleaved, late_sender, normal, reference_off_in_block_9, slice_record,
    synthetic, with_errors, with_samples,
};
use crate::rng::Rng;

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
fn outliers_by_median_absolute_deviation() {
    let v: BTreeMap<u32, f64> = [100.0, 101.0, 99.0, 100.5, 99.5, 300.0]
        .iter()
        .enumerate()
        .map(|(i, x)| (i as u32 + 1, *x))
        .collect();
    assert_eq!(outliers::by_deviation(&v), vec![(6, 300.0, 100.25)]);
    let flat: BTreeMap<u32, f64> = (1..5).map(|b| (b, 7.0)).collect();
    assert!(outliers::by_deviation(&flat).is_empty());
}

#[test]
fn detrended_intervals_cover_a_known_ratio_through_wandering_noise() {
    // 400 synthetic interleaved benches of 30 rounds of 8 models: `slow` at 0.9 of the
    // reference, the machine's speed an AR(1) walk from slice to slice (0.8 a step, 5%
    // standing deviation, what this VM shows at 30 ms slices) plus 1% of noise a slice.
    let truth: f64 = 0.9;
    let models = ["epoll", "slow", "m1", "m2", "m3", "m4", "m5", "m6"];
    let mut noise = Rng::new(17);
    let mut covered = 0;
    let trials = 400;
    for _ in 0..trials {
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
        let fig = figures(&bench, SuiteName::PingPong, "100", &MSG_S);
        let logs = paired_logs(&fig["slow"], &fig["epoll"]);
        let logs: Vec<f64> = logs.into_values().collect();
        let iv = paired(&logs).unwrap();
        if iv.lo <= truth && truth <= iv.hi {
            covered += 1;
        }
    }
    // Measured: 373 of 400 (93.25%) with the t interval; the walk carries over from one
    // round into the next, so the rounds' log-ratios are not quite independent and the
    // interval falls a little short of 95% (one standard error of the share is 1.25
    // points). The band: 90-97.5%.
    assert!(
        (360..=390).contains(&covered),
        "covered {covered} of {trials}"
    );
}

#[test]
fn drift_within_a_round_is_taken_out_of_interleaved_slices() {
    // 20% drift through a round would swamp a 10% difference in a plain pairing: the
    // reference's slice and a model's lie up to a round apart.
    let r = interleaved(30, 0.2);
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
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
    let plain = at_point(&blocks, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
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
    let pv = at_point(&calm, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    let slow = pv.rows.iter().find(|x| x.model == "slow").unwrap();
    let iv = slow.interval.unwrap();
    assert!((iv.ratio - 0.9).abs() < 0.01, "{iv:?}");
}

#[test]
fn paired_blocks_rank_through_shared_noise() {
    // The shared 10% noise would hide a 0% vs 20% difference in raw means over a few
    // runs; the per-block ratios cancel it.
    let r = synthetic(12);
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
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
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "fast", 0.03);
    assert!(
        pv.rows
            .iter()
            .all(|r| r.model == "fast" || r.verdict == Verdict::Worse)
    );
}

#[test]
fn a_model_with_errors_gets_its_error_share_not_a_speed_verdict() {
    // `slow` fails 45% of its samples: its ok/s is low because of it, not its speed.
    // One error in 2000 for `same`: under 1%, judged as before.
    let mut r = with_errors(10);
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    let row = |m: &str| pv.rows.iter().find(|x| x.model == m).unwrap().clone();
    assert_eq!(row("slow").verdict, Verdict::Errors);
    assert_eq!(row("slow").verdict_cell(&MSG_S), "errors 45%");
    assert_eq!(row("slow").tier, 0);
    assert_eq!(pv.rows.last().unwrap().model, "slow");
    assert_eq!(row("same").verdict, Verdict::Equivalent);
    assert_eq!(row("fast").verdict, Verdict::Better);
    let err = |m: &str| pv.errors.iter().find(|x| x.model == m).unwrap().clone();
    assert_eq!(err("slow").verdict, errors::ErrorVerdict::More);
    assert_eq!(err("slow").share, Some(45.0));
    let (d, lo, hi) = err("slow").difference.unwrap();
    assert!((d - 45.0).abs() < 1e-9 && lo <= d && d <= hi);
    assert_eq!(err("fast").verdict, errors::ErrorVerdict::Same);
    assert_eq!(err("epoll").verdict, errors::ErrorVerdict::Reference);
    // A looser limit gives `slow` its speed verdict back.
    r.config.max_error_pct = 50.0;
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    let slow = pv.rows.iter().find(|x| x.model == "slow").unwrap();
    assert_eq!(slow.verdict, Verdict::Worse);
}

#[test]
fn older_raw_json_without_an_error_limit_loads_with_one_percent() {
    let mut v = serde_json::to_value(synthetic(2)).unwrap();
    v["config"].as_object_mut().unwrap().remove("max_error_pct");
    let back: BenchResults = serde_json::from_value(v).unwrap();
    assert_eq!(back.config.max_error_pct, 1.0);
}

/// model -> block -> ln ratio for `models` over 12 blocks, each model's own noise
/// alternating ±1% around its level.
fn log_ratios(models: &[(&str, f64)]) -> BTreeMap<String, BTreeMap<u32, f64>> {
    models
        .iter()
        .enumerate()
        .map(|(k, (m, level))| {
            let blocks = (1..=12u32)
                .map(|b| {
                    let wobble = 0.01 * if (b + k as u32) % 2 == 0 { 1.0 } else { -1.0 };
                    (b, level.ln() + wobble * f64::from(1 + b % 3))
                })
                .collect();
            (m.to_string(), blocks)
        })
        .collect()
}

#[test]
fn outliers_are_judged_on_paired_ratios() {
    // Block 4 ran every model 2.5 times faster (the machine was quiet): in raw figures
    // every model's block 4 is far off, in ratios nothing is.
    let models = ["epoll", "fast", "same", "slow"];
    let mut r = synthetic(12);
    for run in r.runs.iter_mut().filter(|x| x.block == 4) {
        run.messages_per_s = run.messages_per_s.map(|v| v * 2.5);
    }
    let raw = figures(&r, SuiteName::PingPong, "100", &MSG_S);
    assert!(
        models
            .iter()
            .all(|m| !outliers::by_deviation(&raw[*m]).is_empty())
    );
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    assert!(pv.outliers.is_empty(), "{:?}", pv.outliers);
    // One model off in one block: that model, that block.
    let mut lr = log_ratios(&[("fast", 1.2), ("same", 1.0), ("slow", 0.8)]);
    *lr.get_mut("slow").unwrap().get_mut(&7).unwrap() += 0.7;
    let found = outliers::judge(&lr, "epoll");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].model.as_str(), found[0].block), ("slow", 7));
    assert!(!found[0].of_reference);
}

#[test]
fn a_reference_outlier_is_named_once_as_the_references() {
    // The reference ran half as fast in block 9: every model's ratio doubles there.
    let r = reference_off_in_block_9(12);
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    assert_eq!(pv.outliers.len(), 1, "{:?}", pv.outliers);
    let o = &pv.outliers[0];
    assert!(
        o.of_reference && o.model == "epoll" && o.block == 9,
        "{o:?}"
    );
    assert!((o.value - 0.5).abs() < 0.05, "{o:?}");
    // Four of five models' ratios up in block 5, the fifth's down: the reference's, and
    // the fifth's own.
    let mut lr = log_ratios(&[("a", 1.0), ("b", 1.1), ("c", 0.9), ("d", 1.2), ("e", 1.0)]);
    for (m, shift) in [("a", 0.5), ("b", 0.5), ("c", 0.6), ("d", 0.5), ("e", -0.9)] {
        *lr.get_mut(m).unwrap().get_mut(&5).unwrap() += shift;
    }
    let found = outliers::judge(&lr, "epoll");
    let named: Vec<(&str, u32, bool)> = found
        .iter()
        .map(|o| (o.model.as_str(), o.block, o.of_reference))
        .collect();
    assert_eq!(
        named,
        vec![("epoll", 5, true), ("e", 5, false)],
        "{found:?}"
    );
}

/// Tiers never contradict the pairwise verdicts: where the rule says a model is worse
/// than another (on their own paired ratio, either way round), its tier is later; and the
/// rows' verdicts against the reference agree with the reference's tier.
fn assert_tiers_follow_verdicts(r: &BenchResults) -> usize {
    let mut checked = 0;
    for (suite, point, kind) in blocked_points(r) {
        for metric in metrics_for(suite, kind) {
            let pv = at_point(
                r,
                suite,
                &point,
                metric,
                &r.config.reference,
                r.config.margin,
            );
            let fig = figures(r, suite, &point, &metric);
            let tiered: Vec<&Row> = pv.rows.iter().filter(|x| x.tier > 0).collect();
            for a in &tiered {
                for b in &tiered {
                    let worse = is_worse(&fig, &a.model, &b.model, r.config.margin, metric.better);
                    if worse {
                        assert!(
                            a.tier > b.tier,
                            "{suite} {point} {}: {} (tier {}) is worse than {} (tier {})",
                            metric.key,
                            a.model,
                            a.tier,
                            b.model,
                            b.tier
                        );
                    }
                    checked += 1;
                }
            }
            let Some(reference) = pv.rows.iter().find(|x| x.verdict == Verdict::Reference) else {
                continue;
            };
            for row in &tiered {
                match row.verdict {
                    Verdict::Worse => {
                        assert!(row.tier > reference.tier, "{suite} {point} {:?}", pv.rows)
                    }
                    Verdict::Better => assert!(row.tier < reference.tier, "{suite} {point}"),
                    _ => {}
                }
            }
            // Rows read best tier first.
            assert!(tiered.windows(2).all(|w| w[0].tier <= w[1].tier));
        }
    }
    checked
}

#[test]
fn tiers_never_contradict_the_verdicts_on_synthetic_benches() {
    assert!(assert_tiers_follow_verdicts(&synthetic(12)) > 0);
    assert!(assert_tiers_follow_verdicts(&interleaved(30, 0.1)) > 0);
    let pv = at_point(
        &synthetic(12),
        SuiteName::PingPong,
        "100",
        MSG_S,
        "epoll",
        0.03,
    );
    let tier = |m: &str| pv.rows.iter().find(|x| x.model == m).unwrap().tier;
    assert_eq!(
        (tier("fast"), tier("epoll"), tier("same"), tier("slow")),
        (1, 2, 2, 3)
    );
}

#[test]
fn tiers_never_contradict_the_verdicts_on_committed_benches() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut checked = 0;
    for dir in [
        "2026-12-05-vm/bench-1/bench",
        "2026-12-05-vm/bench-2/bench",
        "2026-12-02-vm/bench",
        "2026-12-02-vm/bench-full",
    ] {
        let path = root.join(dir).join("raw.json");
        let r = BenchResults::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += assert_tiers_follow_verdicts(&r);
    }
    assert!(checked > 1000, "{checked} pairs");
}

#[test]
fn a_saturated_client_marks_messages_per_second_client_bound() {
    let r = client_bound();
    let pv = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    let slow = pv.rows.iter().find(|x| x.model == "slow").unwrap();
    assert!(
        (slow.loadgen_cpu_pct.unwrap() - 95.0).abs() < 0.5,
        "{slow:?}"
    );
    assert_eq!(slow.verdict_cell(&MSG_S), "slower (client-bound)");
    let twin = pv.rows.iter().find(|x| x.model == "epoll-twin").unwrap();
    assert!(!twin.client_bound(&MSG_S));
    // CPU per message is never marked: it is what the reader is sent to.
    assert!(!slow.client_bound(&CPU_MSG));
}

#[test]
fn a_point_takes_server_cpu_from_one_source() {
    // Every run counted 1000 ok messages (8 ms of CPU: 8 us each); even blocks' runs have perf's count, odd ones
    // only /proc's ticks (here none): the odd ones are missing, never filled in.
    let mut r = synthetic(10);
    for run in &mut r.runs {
        with_samples(run, 1000, 0);
        run.server_cpu_ns = (run.block % 2 == 0).then_some(8_000_000);
    }
    let pv = at_point(&r, SuiteName::PingPong, "100", CPU_MSG, "epoll", 0.03);
    assert_eq!(pv.cpu_source, Some(CpuSource::Nanoseconds));
    let fast = pv.rows.iter().find(|x| x.model == "fast").unwrap();
    assert_eq!((fast.blocks, fast.missing), (5, 5));
    assert_eq!(CpuSource::Nanoseconds.us_per_message(&r.runs[4]), Some(8.0));
    assert_eq!(
        CpuSource::of(r.runs.iter().filter(|x| x.block % 2 == 1)),
        CpuSource::Ticks
    );
}

#[test]
fn fixed_rate_p99_leaves_out_runs_whose_sender_was_late() {
    // p99 of 100 us everywhere (`slow` 150 us); loadgen's send lateness p99 5 us, except in
    // the first three blocks of `slow`, where it was 40 us: over a tenth of that p99.
    let r = late_sender();
    let pv = at_point(&r, SuiteName::PingPong, "100", P99, "epoll", 0.03);
    assert_eq!(pv.late_sender_runs, 3);
    let slow = pv.rows.iter().find(|x| x.model == "slow").unwrap();
    assert_eq!((slow.blocks, slow.missing), (7, 3));
    assert_eq!(slow.verdict, Verdict::Worse);
    // Other metrics keep every run.
    let cpu = at_point(&r, SuiteName::PingPong, "100", MSG_S, "epoll", 0.03);
    assert_eq!(cpu.late_sender_runs, 0);
}
