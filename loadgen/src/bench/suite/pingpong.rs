//! `pingpong`: the asyncio ping-pong study (koder-ua). 64-byte messages, one in flight per
//! connection, for a fixed time at each connection count; then one open-loop run at a fixed
//! offered rate over 100 connections, so that every model is compared at the same load by
//! the CPU it needs (as monoio's benchmark does). Every run starts with a warm-up that no
//! figure counts: the connections are opened in it (tens of thousands take seconds), so the
//! figures are the steady state, as in the study.

use super::spec::Suite;
use crate::bench::data::BenchConfig;
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::point::{LoadFlag, Point};

/// Connections of the fixed-rate run.
const RATE_CONNS: u64 = 100;

/// Warm-up before a run's figures count: 0.3 s, plus 60 us per connection (connect()
/// costs about 20 us here, the server's accept as much again), at most five. Short,
/// because what ranks models is the number of blocks, not the length of each run.
fn warmup(conns: u64) -> f64 {
    ((0.3 + conns as f64 * 60e-6) * 10.0).round().min(50.0) / 10.0
}

/// The ping-pong sweep plus the fixed-rate run.
pub struct PingPong;

impl Suite for PingPong {
    fn name(&self) -> SuiteName {
        SuiteName::PingPong
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        let duration = c.duration_s;
        let mut points: Vec<Point> = c
            .conns
            .iter()
            .map(|&n| Point {
                point: n.to_string(),
                kind: PointKind::Sweep,
                conns: n,
                load: vec![
                    LoadFlag::Threads(n),
                    LoadFlag::Duration(duration),
                    LoadFlag::Warmup(warmup(n)),
                    LoadFlag::MessageSize(64),
                ],
                server_args: vec![],
                processes: 1,
            })
            .collect();
        let rate = c.rate_fixed.round().max(1.0);
        points.push(Point {
            point: format!("rate-{rate}"),
            kind: PointKind::FixedRate,
            conns: RATE_CONNS,
            load: vec![
                LoadFlag::Threads(RATE_CONNS),
                LoadFlag::Duration(duration),
                LoadFlag::Warmup(warmup(RATE_CONNS)),
                LoadFlag::MessageSize(64),
                LoadFlag::Rate(rate),
            ],
            server_args: vec![],
            processes: 1,
        });
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_count_then_the_fixed_rate() {
        let p = PingPong.points(&crate::bench::suite::spec::config(0.5));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(
            names,
            ["10", "100", "rate-50000"],
            "--scale leaves the rate alone"
        );
        assert_eq!(p[2].kind, PointKind::FixedRate);
        assert_eq!(
            p[0].args(),
            [
                "--threads",
                "10",
                "--duration",
                "2s",
                "--warmup",
                "0.3s",
                "--message-size",
                "64"
            ]
        );
        assert_eq!(p[2].args()[8..], ["--rate", "50000"]);
        assert_eq!(warmup(10), 0.3);
        assert_eq!(warmup(1000), 0.4);
        assert_eq!(warmup(19_900), 1.5);
        assert_eq!(warmup(60_000), 3.9);
    }
}
