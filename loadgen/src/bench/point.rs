//! A suite's load point, typed: its name, kind and connections, the loadgen settings it runs
//! with as [`LoadFlag`]s in the order the suite gives them, and the server flags it adds.
//! The runner sets the flags on [`LoadArgs`] and checks them into a plan, as the command
//! line would; raw.json records them as the flags they are written as
//! (`--threads 100 --duration 10s`), so that a point can be run again by hand.

use std::time::Duration;

use common::units::format_size;

use crate::bench::names::PointKind;
use crate::opts::LoadArgs;

/// One loadgen setting of a point, as a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadFlag {
    /// `--threads N`: connections (virtual users).
    Threads(u64),
    /// `--loops L`: samples per user.
    Loops(u64),
    /// `--duration`, in seconds.
    Duration(f64),
    /// `--warmup`, in seconds.
    Warmup(f64),
    /// `--rampup`, in seconds.
    Rampup(f64),
    /// `--timeout`, in seconds.
    Timeout(f64),
    /// `--message-size`, in bytes (written `1MiB` where it is a whole number of them).
    MessageSize(u64),
    /// `--rate R`: requests per second, all users together.
    Rate(f64),
    /// `--framed`.
    Framed,
    /// `--no-reuse`.
    NoReuse,
    /// `--half-close`.
    HalfClose,
}

impl LoadFlag {
    /// The flag as loadgen's command line takes it: its name, then its value if it has one.
    pub fn argv(self) -> Vec<String> {
        let (name, value) = match self {
            LoadFlag::Threads(n) => ("--threads", Some(n.to_string())),
            LoadFlag::Loops(n) => ("--loops", Some(n.to_string())),
            LoadFlag::Duration(s) => ("--duration", Some(secs(s))),
            LoadFlag::Warmup(s) => ("--warmup", Some(secs(s))),
            LoadFlag::Rampup(s) => ("--rampup", Some(secs(s))),
            LoadFlag::Timeout(s) => ("--timeout", Some(secs(s))),
            LoadFlag::MessageSize(b) => ("--message-size", Some(format_size(b))),
            LoadFlag::Rate(r) => ("--rate", Some(r.to_string())),
            LoadFlag::Framed => ("--framed", None),
            LoadFlag::NoReuse => ("--no-reuse", None),
            LoadFlag::HalfClose => ("--half-close", None),
        };
        std::iter::once(name.to_string()).chain(value).collect()
    }

    /// Sets the flag's field of `args`, to the value the command line would give it.
    pub fn apply(self, args: &mut LoadArgs) {
        match self {
            LoadFlag::Threads(n) => args.threads = n,
            LoadFlag::Loops(n) => args.loops = Some(n),
            LoadFlag::Duration(s) => args.duration = Some(Duration::from_secs_f64(s)),
            LoadFlag::Warmup(s) => args.warmup = Duration::from_secs_f64(s),
            LoadFlag::Rampup(s) => args.rampup = Duration::from_secs_f64(s),
            LoadFlag::Timeout(s) => args.timeout = Duration::from_secs_f64(s),
            LoadFlag::MessageSize(b) => args.message_size = b,
            LoadFlag::Rate(r) => args.rate = Some(r),
            LoadFlag::Framed => args.framed = true,
            LoadFlag::NoReuse => args.no_reuse = true,
            LoadFlag::HalfClose => args.half_close = true,
        }
    }
}

/// Seconds as loadgen reads them (`2.5s`): the shortest decimal that reads back as the same
/// number, so that the flag and the value say the same.
pub fn secs(s: f64) -> String {
    format!("{s}s")
}

/// One load point of a suite, the same for every model.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Name within the suite: a table column (`100`, `rate-50000`, `1000x2000`).
    pub point: String,
    /// What sort of load it is (`sweep`, `fixed-rate`, `plan`, ...).
    pub kind: PointKind,
    /// Connections (virtual users).
    pub conns: u64,
    /// loadgen settings, in the order the suite gives them; the runner adds the target,
    /// `--server-pid` and the spread over processes and source addresses.
    pub load: Vec<LoadFlag>,
    /// Server flags for this point beyond the suite's (`--max-conns 12`, `--cpu-work 5ms`).
    pub server_args: Vec<String>,
    /// Prefork workers each server forks (`--processes`, among `server_args`); 1 without.
    pub processes: usize,
}

impl Point {
    /// The loadgen flags, as raw.json records them (`args`).
    pub fn args(&self) -> Vec<String> {
        self.load.iter().flat_map(|f| f.argv()).collect()
    }

    /// loadgen's defaults with this point's settings.
    pub fn load_args(&self) -> LoadArgs {
        let mut args = LoadArgs::default();
        for f in &self.load {
            f.apply(&mut args);
        }
        args
    }

    /// The warm-up no figure counts (zero without one).
    pub fn warmup(&self) -> Duration {
        self.load_args().warmup
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::Opts;
    use clap::Parser;

    /// Every flag sets what the command line sets from the flag as written.
    #[test]
    fn a_flag_sets_what_its_argv_would() {
        let flags = [
            LoadFlag::Threads(48),
            LoadFlag::MessageSize(16 << 20),
            LoadFlag::Duration(3.3333333333333335),
            LoadFlag::Warmup(0.7),
            LoadFlag::Rampup(1.0),
            LoadFlag::Timeout(7.0),
            LoadFlag::Rate(50000.0),
            LoadFlag::Framed,
            LoadFlag::NoReuse,
            LoadFlag::HalfClose,
        ];
        let point = Point {
            point: "p".into(),
            kind: PointKind::Sweep,
            conns: 48,
            load: flags.to_vec(),
            server_args: vec![],
            processes: 1,
        };
        let argv = point.args();
        assert_eq!(
            argv[..8],
            [
                "--threads",
                "48",
                "--message-size",
                "16MiB",
                "--duration",
                "3.3333333333333335s",
                "--warmup",
                "0.7s"
            ]
        );
        let parsed = Opts::parse_from(std::iter::once("loadgen".to_string()).chain(argv)).load;
        assert_eq!(format!("{:?}", point.load_args()), format!("{parsed:?}"));
        let loops = Point {
            load: vec![LoadFlag::Loops(2000)],
            ..point
        };
        let parsed = Opts::parse_from(["loadgen", "--loops", "2000"]).load;
        assert_eq!(format!("{:?}", loops.load_args()), format!("{parsed:?}"));
    }
}
