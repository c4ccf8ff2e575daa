//! `pingpong`: the asyncio ping-pong study (koder-ua). 64-byte messages, one in flight per
//! connection, for a fixed time at each connection count; then one open-loop run at a fixed
//! offered rate over 100 connections, so that every model is compared at the same load by
//! the CPU it needs (as monoio's benchmark does).

use super::{Point, Suite, secs};
use crate::bench::data::BenchConfig;

/// Connections of the fixed-rate run.
const RATE_CONNS: u64 = 100;

/// The ping-pong sweep plus the fixed-rate run.
pub struct PingPong;

impl Suite for PingPong {
    fn name(&self) -> &'static str {
        "pingpong"
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        let duration = secs(c.duration_s);
        let mut points: Vec<Point> = c
            .conns
            .iter()
            .map(|&n| Point {
                point: n.to_string(),
                kind: "sweep",
                conns: n,
                args: vec![
                    "--threads".into(),
                    n.to_string(),
                    "--duration".into(),
                    duration.clone(),
                    "--message-size".into(),
                    "64".into(),
                ],
                server_args: vec![],
            })
            .collect();
        let rate = (c.rate_fixed * c.scale).round().max(1.0);
        points.push(Point {
            point: format!("rate-{rate}"),
            kind: "fixed-rate",
            conns: RATE_CONNS,
            args: vec![
                "--threads".into(),
                RATE_CONNS.to_string(),
                "--duration".into(),
                duration,
                "--message-size".into(),
                "64".into(),
                "--rate".into(),
                rate.to_string(),
            ],
            server_args: vec![],
        });
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_count_then_the_fixed_rate() {
        let p = PingPong.points(&crate::bench::suite::config(0.5));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(names, ["10", "100", "rate-25000"]);
        assert_eq!(p[2].kind, "fixed-rate");
        assert!(p[0].args.contains(&"2s".to_string()));
    }
}
