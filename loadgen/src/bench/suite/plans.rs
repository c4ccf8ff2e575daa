//! `plans`: the two JMeter plans of the PyYYC 2020 study, 1000 threads x 2000 loops and
//! 100 threads x 20000 loops with a 1 s ramp-up, reported like its table (throughput,
//! avg/min/max, error %, server CPU % and memory). `--scale` shrinks the loop counts (the
//! thread counts, which are the point of the plans, stay).

use super::spec::Suite;
use crate::bench::data::BenchConfig;
use crate::bench::names::{PointKind, SuiteName};
use crate::bench::point::{LoadFlag, Point};

/// (threads, loops) of the study's plans.
const PLANS: [(u64, u64); 2] = [(1000, 2000), (100, 20000)];

/// The PyYYC plans.
pub struct Plans;

impl Suite for Plans {
    fn name(&self) -> SuiteName {
        SuiteName::Plans
    }

    fn points(&self, c: &BenchConfig) -> Vec<Point> {
        PLANS
            .iter()
            .map(|&(threads, loops)| {
                let loops = ((loops as f64 * c.scale).round() as u64).max(1);
                Point {
                    point: format!("{threads}x{loops}"),
                    kind: PointKind::Plan,
                    conns: threads,
                    load: vec![
                        LoadFlag::Threads(threads),
                        LoadFlag::Loops(loops),
                        LoadFlag::Rampup(1.0),
                    ],
                    server_args: vec![],
                    processes: 1,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_shrinks_the_loops_only() {
        let p = Plans.points(&crate::bench::suite::spec::config(0.01));
        let names: Vec<_> = p.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(names, ["1000x20", "100x200"]);
        assert_eq!(p[0].conns, 1000);
        let full = Plans.points(&crate::bench::suite::spec::config(1.0));
        assert_eq!(full[1].point, "100x20000");
        assert_eq!(
            full[0].args(),
            ["--threads", "1000", "--loops", "2000", "--rampup", "1s"]
        );
    }
}
