//! `spread`: how a prefork server's workers share the load, in the gevent notebook's
//! setting. The notebook's point was that epoll routes connections unfairly between worker
//! processes waiting on one listening socket (a gunicorn bug let one worker accept nearly
//! everything) and that SO_REUSEPORT fixes it. Here every model runs as a prefork server
//! (`--processes P`, P = 2 and 4 workers, all on the server CPU) in each accept mode
//! (`--accept shared|exclusive|reuseport`, see [`common::prefork`]) under the mixed
//! workload (5 ms of CPU and 55 ms of backend wait per request, as in [`super::mixed`]).
//!
//! Load: [`CONNS`] kept connections, one 64-byte framed request in flight each, opened
//! evenly over a [`RAMPUP_S`] ramp-up, so that each new connection arrives while the workers
//! are in whatever state the earlier ones left them: idle, serving, or waiting on their
//! backend. Which worker accepts it is what the accept mode decides. Counting starts after
//! the ramp-up and half a second more (the warm-up), when every connection is open.
//!
//! Measured: each worker's connections (accepted over the whole run) and requests
//! (answered after the warm-up), from the stats file part every worker writes
//! (`--stats-file F` -> `F.worker-<i>`, read into the record's `workers`), and loadgen's
//! end-to-end p50 and p99.
//!
//! Modes a model cannot do are not run: `--accept exclusive` needs EPOLLEXCLUSIVE or an
//! equivalent, which [`common::prefork::exclusive_support`] says for each model (the one
//! list the servers themselves check); the bench skips those slots with a note and the
//! report shows them as not supported.
//!
//! Length: each run lasts the warm-up (1.5 s) plus half of `--duration`, about 3 s more for
//! the server's start and stop and perf: 6 points for the five models that can do every
//! mode and 4 for the five that cannot, 50 runs a block. `make bench-spread` runs
//! `--duration 6s` (3 s measured) in 2 blocks.

use common::prefork::{Accept, Exclusive, exclusive_support};

use super::mixed::{CPU_MS, SPLITS, WAIT_MS};
use super::spec::Suite;
use crate::bench::data::BenchConfig;
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::point::{LoadFlag, Point};

/// Worker processes of the points.
pub const PROCESSES: [u32; 2] = [2, 4];
/// Accept modes of the points, in the order they run.
pub const ACCEPTS: [Accept; 3] = [Accept::Shared, Accept::Exclusive, Accept::Reuseport];
/// Connections of every point: the mixed workload's knee (60 ms / 5 ms = 12 connections
/// keep one CPU busy) times the most workers, 4. With an even split every worker has 12,
/// enough to keep a CPU of its own busy, so a worker that gets more than its share is
/// overloaded whatever the machine; on the one server CPU here all of them share, the
/// server is saturated and the split decides whose connections wait.
pub const CONNS: u64 = 48;
/// Ramp-up over which the connections open, seconds (the PyYYC plans' 1 s).
pub const RAMPUP_S: f64 = 1.0;
/// Warm-up after the ramp-up before counting starts, seconds.
const SETTLE_S: f64 = 0.5;
/// Payload bytes of each request.
const MESSAGE: u64 = 64;

/// Prefork workers under the mixed workload, in every accept mode.
pub struct Spread;

/// (measured, warm-up) seconds of each run for these settings.
pub fn timing(c: &BenchConfig) -> (f64, f64) {
    (c.duration_s / 2.0, RAMPUP_S + SETTLE_S)
}

/// The name of the point of `processes` workers in `accept` mode (`p2-shared`).
pub fn point_name(processes: u32, accept: Accept) -> String {
    format!("p{processes}-{}", accept.name())
}

/// The workers and accept mode of a point's name; None for a name not made by
/// [`point_name`].
pub fn parse_point(name: &str) -> Option<(u32, Accept)> {
    let (p, mode) = name.strip_prefix('p')?.split_once('-')?;
    let accept = ACCEPTS.into_iter().find(|a| a.name() == mode)?;
    Some((p.parse().ok().filter(|&p| p > 1)?, accept))
}

/// Why `model` cannot serve in `accept` mode, or None when it can: the servers' own
/// declared capability, so the bench skips exactly what a server would refuse (exit 2).
pub fn refusal(model: &str, accept: Accept) -> Option<&'static str> {
    match (accept, exclusive_support(model)) {
        (Accept::Exclusive, Exclusive::Unsupported(why)) => Some(why),
        _ => None,
    }
}

impl Suite for Spread {
    fn name(&self) -> SuiteName {
        SuiteName::Spread
    }

    fn framed(&self) -> bool {
        true
    }

    /// The stats file's parts are where each worker's counts come from.
    fn service_times(&self) -> bool {
        true
    }

    /// The baselines take no --processes, --accept, --cpu-work or --stats-file.
    fn takes_python_baselines(&self) -> bool {
        false
    }

    fn refuses(&self, point: &Point, model: &str) -> Option<String> {
        let (_, accept) = parse_point(&point.point)?;
        refusal(model, accept).map(|why| format!("--accept {}: {why}", accept.name()))
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        let (measured, warmup) = timing(c);
        let mut points = Vec::new();
        for p in PROCESSES {
            for accept in ACCEPTS {
                let load = vec![
                    LoadFlag::Framed,
                    LoadFlag::MessageSize(MESSAGE),
                    LoadFlag::Threads(CONNS),
                    LoadFlag::Rampup(RAMPUP_S),
                    LoadFlag::Duration(measured),
                    LoadFlag::Warmup(warmup),
                ];
                let server_args: Vec<String> = vec![
                    "--processes".into(),
                    p.to_string(),
                    "--accept".into(),
                    accept.name().into(),
                    "--cpu-work".into(),
                    format!("{CPU_MS}ms"),
                    "--backend-wait".into(),
                    format!("{WAIT_MS}ms"),
                    "--splits".into(),
                    SPLITS.to_string(),
                ];
                points.push(Point {
                    point: point_name(p, accept),
                    kind: PointKind::Spread,
                    conns: CONNS,
                    load,
                    server_args,
                    processes: p as usize,
                });
            }
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_workers_in_every_accept_mode() {
        let p = Spread.points(&crate::bench::suite::spec::config(1.0));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(
            names,
            [
                "p2-shared",
                "p2-exclusive",
                "p2-reuseport",
                "p4-shared",
                "p4-exclusive",
                "p4-reuseport"
            ]
        );
        assert!(
            p.iter()
                .all(|p| p.kind == PointKind::Spread && p.conns == CONNS)
        );
        assert_eq!(
            p[4].server_args,
            [
                "--processes",
                "4",
                "--accept",
                "exclusive",
                "--cpu-work",
                "5ms",
                "--backend-wait",
                "55ms",
                "--splits",
                "5"
            ]
        );
        // The test config runs 2 s: 1 s measured after the ramp-up and half a second.
        let flag = |p: &Point, f: &str| {
            let args = p.args();
            let i = args.iter().position(|a| a == f).unwrap();
            args[i + 1].clone()
        };
        assert_eq!(flag(&p[0], "--threads"), "48");
        assert_eq!(flag(&p[0], "--rampup"), "1s");
        assert_eq!(flag(&p[0], "--duration"), "1s");
        assert_eq!(flag(&p[0], "--warmup"), "1.5s");
        // Kept connections: opened over the ramp-up, not one per request.
        assert!(!p[0].args().contains(&"--no-reuse".to_string()));
        assert_eq!((p[0].processes, p[4].processes), (2, 4));
        assert!(Spread.framed() && Spread.service_times() && !Spread.takes_python_baselines());
        // Every point's settings make a plan, and the flags recorded for it are ones
        // loadgen takes.
        for point in &p {
            crate::plan::Plan::from_args(&point.load_args()).unwrap();
            let mut argv = vec!["loadgen".to_string()];
            argv.extend(point.args());
            <crate::opts::Opts as clap::Parser>::try_parse_from(&argv).unwrap();
        }
    }

    #[test]
    fn point_names_round_trip() {
        for p in PROCESSES {
            for a in ACCEPTS {
                assert_eq!(parse_point(&point_name(p, a)), Some((p, a)));
            }
        }
        for bad in ["p1-shared", "2-shared", "p2-sideways", "p2", "px-shared"] {
            assert_eq!(parse_point(bad), None, "{bad}");
        }
    }

    #[test]
    fn exclusive_is_refused_only_where_the_servers_refuse_it() {
        let points = Spread.points(&crate::bench::suite::spec::config(1.0));
        let refused = |model: &str| -> Vec<String> {
            points
                .iter()
                .filter(|p| Spread.refuses(p, model).is_some())
                .map(|p| p.point.clone())
                .collect()
        };
        for m in ["tokio", "tokio-callback", "async-std", "smol", "may"] {
            assert_eq!(refused(m), ["p2-exclusive", "p4-exclusive"], "{m}");
            let why = Spread.refuses(&points[1], m).unwrap();
            assert!(
                why.starts_with("--accept exclusive: its runtime's epoll"),
                "{why}"
            );
        }
        for m in [
            "thread",
            "epoll",
            "glommio",
            "uring",
            "compio",
            "pool",
            "reactor-pool",
        ] {
            assert!(refused(m).is_empty(), "{m}");
        }
        assert_eq!(refusal("tokio", Accept::Reuseport), None);
    }
}
