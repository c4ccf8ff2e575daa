//! Exact merging of runs: counts and byte totals add, histograms merge bucket by bucket, and
//! every derived figure (percentiles, mean, throughput) is computed again from the sums.
//! Used by `loadgen merge` (runs from several machines) and by a `--procs` parent.

use thiserror::Error;

use crate::run::report::{Interval, Meta, RunReport};
use crate::stats::StatsError;

/// Runs that cannot be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("cannot merge runs with different {0}")]
    Incompatible(&'static str),
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// Merges reports of runs that measured the same kind of load at the same time.
///
/// Settings that define the load (message size, framing, loops or duration, connection
/// reuse) must agree; users and rates add up. The wall time is the longest part's. The
/// server figures are the first part's that has them: the server is one process, and adding
/// its CPU once per part would count it several times.
pub fn merge(reports: &[RunReport]) -> Result<RunReport, MergeError> {
    let (first, rest) = reports.split_first().ok_or(MergeError::Empty)?;
    let mut stats = first.stats()?;
    let mut meta: Meta = first.meta();
    for r in rest {
        let (a, b) = (&meta.run.settings, &r.run.settings);
        // A JMeter run (imported) and a loadgen run are compared side by side, not added up.
        if a.generator != b.generator {
            return Err(MergeError::Incompatible("load generators"));
        }
        let checks: [(&'static str, bool); 7] = [
            ("message sizes", a.message_size == b.message_size),
            ("framing", a.framed == b.framed),
            ("loop counts", a.loops == b.loops),
            ("durations", a.duration_s == b.duration_s),
            ("warm-ups", a.warmup_s == b.warmup_s),
            ("connection reuse", a.reuse == b.reuse),
            ("half-close", a.half_close == b.half_close),
        ];
        if let Some((what, _)) = checks.iter().find(|(_, same)| !same) {
            return Err(MergeError::Incompatible(what));
        }
        let same_interval = a.summary_interval_s == b.summary_interval_s;
        if meta.run.settings.rate.is_some() != r.run.settings.rate.is_some() {
            return Err(MergeError::Incompatible("open/closed loop modes"));
        }
        stats.add(&r.stats()?)?;
        let s = &mut meta.run.settings;
        s.threads += r.run.settings.threads;
        s.rate = s.rate.zip(r.run.settings.rate).map(|(x, y)| x + y);
        s.procs += r.run.settings.procs;
        for addr in &r.run.settings.source_addrs {
            if !s.source_addrs.contains(addr) {
                s.source_addrs.push(addr.clone());
            }
        }
        let (run, part) = (&mut meta.run, &r.run);
        run.parts += part.parts;
        run.started_unix_ms = run.started_unix_ms.min(part.started_unix_ms);
        run.elapsed_s = run.elapsed_s.max(part.elapsed_s);
        run.planned_samples = run
            .planned_samples
            .zip(part.planned_samples)
            .map(|(x, y)| x + y);
        meta.users = (
            meta.users.0 + r.users_started,
            meta.users.1 + r.users_finished,
        );
        meta.loadgen_cpu.add(&r.loadgen_cpu);
        if meta.server.is_none() {
            meta.server = r.server.clone();
            meta.run.settings.server_pid = r.run.settings.server_pid;
            meta.run
                .settings
                .server_pids
                .clone_from(&r.run.settings.server_pids);
        }
        meta.intervals = if same_interval {
            add_intervals(&meta.intervals, &r.intervals)
        } else {
            Vec::new()
        };
    }
    Ok(RunReport::build(meta, &stats))
}

/// Adds interval figures index by index (the parts' intervals have the same length).
fn add_intervals(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => {
                let ok = |v: &Interval| (v.samples - v.errors) as f64;
                let weight = ok(x) + ok(y);
                Interval {
                    at_s: x.at_s.max(y.at_s),
                    elapsed_s: x.elapsed_s.max(y.elapsed_s),
                    samples: x.samples + y.samples,
                    errors: x.errors + y.errors,
                    mean_us: if weight > 0.0 {
                        (x.mean_us * ok(x) + y.mean_us * ok(y)) / weight
                    } else {
                        0.0
                    },
                    min_us: match (x.samples > x.errors, y.samples > y.errors) {
                        (true, true) => x.min_us.min(y.min_us),
                        (true, false) => x.min_us,
                        _ => y.min_us,
                    },
                    max_us: x.max_us.max(y.max_us),
                    active: x.active + y.active,
                    started: x.started + y.started,
                    finished: x.finished + y.finished,
                }
            }
            (Some(x), None) | (None, Some(x)) => *x,
            (None, None) => unreachable!("index below the longer length"),
        })
        .collect()
}
