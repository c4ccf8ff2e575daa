//! `mixed`: the gevent notebook's experiment. Every request costs the server 5 ms of CPU
//! (a real spin on the serving thread, half before and half after the wait) and 55 ms of
//! backend wait (in 5 parts, the model's own non-blocking way), so a fraction p = 55/60 of
//! a request can overlap with others and the speedup over one connection is bounded by
//! Amdahl's 1/(1-p) = 12: one server CPU serves at most 1/5 ms = 200 requests/s, reached
//! at 60/5 = 12 connections (the knee).
//!
//! Points: closed-loop sweeps over 1, 3, 5, ... 23 connections (one 64-byte framed request
//! in flight each), then 50 users twice: uncapped, and with `--max-conns 12` so that the
//! server serves only as many connections as keep its CPU busy and the rest wait in the
//! listen backlog. Those two open a connection per request (`--no-reuse`): the cap counts
//! connections, and with kept connections the first 12 users would hold their places for
//! the whole run while the other 38 waited in the backlog until it ended. Each client
//! shuts down its sending side after its request (`--half-close`, the echo protocol's
//! "Connection: close"), so the server closes as soon as it has replied, as an HTTP
//! server does after a `Connection: close` response; otherwise every place would stay
//! taken for a client round trip after each reply, waiting for the client's FIN. The server
//! writes its own service times (`--stats-file`), which leave the backlog wait out;
//! loadgen's latencies include it (and the connect).
//!
//! Length: each run measures for half of `--duration` after a warm-up of a tenth of it (at
//! least 200 ms) that is not counted. At the default 10 s that is 1 s + 5 s, about 7 s per
//! run with the server's start and stop: 14 points x 8 models, about 13 minutes a round.

use super::spec::Suite;
use crate::bench::data::BenchConfig;
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::point::{LoadFlag, Point};

/// CPU work per request.
pub const CPU_MS: f64 = 5.0;
/// Backend wait per request.
pub const WAIT_MS: f64 = 55.0;
/// Parts the wait is split into.
pub const SPLITS: u32 = 5;
/// Connections of the sweep: 1, 3, 5, ... 23 (odd counts, past the knee at 12).
pub const SWEEP: [u64; 12] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23];
/// Connections of the cap comparison.
pub const CAP_CONNS: u64 = 50;
/// `--max-conns` of the capped run: the knee, 60 / 5.
pub const CAP: u64 = 12;
/// Payload bytes of each request.
const MESSAGE: u64 = 64;

/// The workload sweep and the cap comparison.
pub struct Mixed;

/// Name of the capped point (`50-max12`).
pub fn capped_point() -> String {
    format!("{CAP_CONNS}-max{CAP}")
}

/// The parallel fraction of a request, p = wait / (cpu + wait), and Amdahl's bound 1/(1-p).
pub fn amdahl() -> (f64, f64) {
    // 1/(1-p) is (cpu + wait) / cpu, computed that way so that it is exactly 12.
    (WAIT_MS / (CPU_MS + WAIT_MS), (CPU_MS + WAIT_MS) / CPU_MS)
}

/// (measured, warm-up) seconds of each run for these settings.
pub fn timing(c: &BenchConfig) -> (f64, f64) {
    (c.duration_s / 2.0, (c.duration_s / 10.0).max(0.2))
}

impl Suite for Mixed {
    fn name(&self) -> SuiteName {
        SuiteName::Mixed
    }

    fn framed(&self) -> bool {
        true
    }

    fn service_times(&self) -> bool {
        true
    }

    /// The baselines take no --cpu-work, --backend-wait, --max-conns or --stats-file.
    fn takes_python_baselines(&self) -> bool {
        false
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        let (measured, warmup) = timing(c);
        let workload: Vec<String> = [
            "--cpu-work".to_string(),
            format!("{CPU_MS}ms"),
            "--backend-wait".into(),
            format!("{WAIT_MS}ms"),
            "--splits".into(),
            SPLITS.to_string(),
        ]
        .into();
        let point = |name: String, kind: PointKind, conns: u64, extra: &[String]| {
            let mut load = vec![
                LoadFlag::Framed,
                LoadFlag::MessageSize(MESSAGE),
                LoadFlag::Threads(conns),
                LoadFlag::Duration(measured),
                LoadFlag::Warmup(warmup),
            ];
            if kind == PointKind::Cap {
                // The cap counts connections: with one kept per user, 12 users would
                // hold their places all run and 38 would wait in the backlog until it
                // ends. A connection per request makes it a cap on requests in service;
                // the request's FIN lets the server close right after its reply.
                load.extend([LoadFlag::NoReuse, LoadFlag::HalfClose]);
            }
            Point {
                point: name,
                kind,
                conns,
                load,
                server_args: [&workload[..], extra].concat(),
                processes: 1,
            }
        };
        let sweep = c.mixed_conns.as_deref().unwrap_or(&SWEEP);
        let mut points: Vec<Point> = sweep
            .iter()
            .map(|&n| point(n.to_string(), PointKind::Sweep, n, &[]))
            .collect();
        points.push(point(CAP_CONNS.to_string(), PointKind::Cap, CAP_CONNS, &[]));
        points.push(point(
            capped_point(),
            PointKind::Cap,
            CAP_CONNS,
            &["--max-conns".into(), CAP.to_string()],
        ));
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_odd_counts_then_compares_the_cap() {
        let p = Mixed.points(&crate::bench::suite::spec::config(1.0));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(
            names,
            [
                "1", "3", "5", "7", "9", "11", "13", "15", "17", "19", "21", "23", "50", "50-max12"
            ]
        );
        assert!(p[..12].iter().all(|p| p.kind == PointKind::Sweep));
        assert!(
            p[12..]
                .iter()
                .all(|p| p.kind == PointKind::Cap && p.conns == 50)
        );
        let workload = [
            "--cpu-work",
            "5ms",
            "--backend-wait",
            "55ms",
            "--splits",
            "5",
        ];
        assert_eq!(p[0].server_args, workload);
        assert_eq!(p[12].server_args, workload);
        assert_eq!(p[13].server_args[6..], ["--max-conns", "12"]);
        // The test config runs 2 s: 1 s measured after a 200 ms warm-up.
        let flag = |p: &Point, f: &str| {
            let args = p.args();
            let i = args.iter().position(|a| a == f).unwrap();
            args[i + 1].clone()
        };
        assert_eq!(flag(&p[3], "--threads"), "7");
        assert_eq!(flag(&p[3], "--duration"), "1s");
        assert_eq!(flag(&p[3], "--warmup"), "0.2s");
        assert_eq!(p[0].args()[..3], ["--framed", "--message-size", "64"]);
        let one_shot = |p: &Point| {
            p.args()
                .ends_with(&["--no-reuse".into(), "--half-close".into()])
        };
        assert!(!one_shot(&p[11]) && one_shot(&p[12]) && one_shot(&p[13]));
        assert!(Mixed.framed() && Mixed.service_times());
    }

    #[test]
    fn the_amdahl_bound_is_twelve() {
        let (p, bound) = amdahl();
        assert!((p - 55.0 / 60.0).abs() < 1e-12);
        assert!((1.0 / (1.0 - p) - bound).abs() < 1e-9);
        assert_eq!(bound, 12.0);
        assert_eq!(CAP as f64, bound);
    }
}
