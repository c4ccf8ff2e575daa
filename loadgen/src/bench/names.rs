//! The names raw.json and the summary know suites and points by: [`SuiteName`] (a family of
//! load points, `--suite`) and [`PointKind`] (what sort of load a point is). Each is written
//! in raw.json, on the command line and in the summary as the same lowercase text it always
//! was (`pingpong`, `fixed-rate`), so files from before they were typed load unchanged.
//!
//! It imports nothing of the crate, so that every part of the bench and of the summary can
//! name a suite or a kind without an arrow back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A suite's name. The variants are declared in the order of their text (`frames` <
/// `mixed` < `pingpong` < `plans` < `spread`), so that a map keyed by them (raw.json's
/// `suite_blocks`) is ordered as it was when keyed by the text; [`SuiteName::ALL`] is the
/// order they run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteName {
    /// `frames`: large frames, with the loopback limit beside them.
    Frames,
    /// `mixed`: requests with CPU work and a backend wait.
    Mixed,
    /// `pingpong`: the connection sweep and the fixed-rate run.
    PingPong,
    /// `plans`: the JMeter-style plans, loop-counted.
    Plans,
    /// `spread`: prefork workers' shares of connections and requests.
    Spread,
}

impl SuiteName {
    /// Every suite, in the order they run when named (the default `--suite` list leaves out
    /// `mixed`, which takes a quarter of an hour a round, and `spread`, about five minutes).
    pub const ALL: [SuiteName; 5] = [
        SuiteName::PingPong,
        SuiteName::Plans,
        SuiteName::Frames,
        SuiteName::Mixed,
        SuiteName::Spread,
    ];

    /// Its text: on the command line, in raw.json and in the summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            SuiteName::Frames => "frames",
            SuiteName::Mixed => "mixed",
            SuiteName::PingPong => "pingpong",
            SuiteName::Plans => "plans",
            SuiteName::Spread => "spread",
        }
    }

    /// Every suite's text in run order, joined by `sep` (for error messages).
    pub fn list(sep: &str) -> String {
        SuiteName::ALL.map(SuiteName::as_str).join(sep)
    }
}

/// The kind of a load point.
///
/// Declared in the order of their text, as [`SuiteName`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    /// `cap`: the mixed suite's point run with and without `--max-conns`.
    Cap,
    /// `fixed-rate`: open loop, a fixed offered rate.
    FixedRate,
    /// `frames`: one frame size of the frames suite.
    Frames,
    /// `loopback`: the loopback limit (iperf3, `loadgen stream`), no model.
    Loopback,
    /// `plan`: a loop-counted plan.
    Plan,
    /// `spread`: prefork workers in one accept mode.
    Spread,
    /// `sweep`: closed loop, timed, at one connection count.
    Sweep,
}

impl PointKind {
    /// Every kind, in the order of their text.
    pub const ALL: [PointKind; 7] = [
        PointKind::Cap,
        PointKind::FixedRate,
        PointKind::Frames,
        PointKind::Loopback,
        PointKind::Plan,
        PointKind::Spread,
        PointKind::Sweep,
    ];

    /// Its text, in raw.json and in the summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            PointKind::Cap => "cap",
            PointKind::FixedRate => "fixed-rate",
            PointKind::Frames => "frames",
            PointKind::Loopback => "loopback",
            PointKind::Plan => "plan",
            PointKind::Spread => "spread",
            PointKind::Sweep => "sweep",
        }
    }
}

impl fmt::Display for SuiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Display for PointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A name that is no suite's or no kind's; it holds the text given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl FromStr for SuiteName {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<SuiteName, UnknownName> {
        SuiteName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

impl FromStr for PointKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<PointKind, UnknownName> {
        PointKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_display_from_str_and_serde() {
        for s in SuiteName::ALL {
            assert_eq!(s.to_string().parse(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<SuiteName>(&format!("\"{s}\"")).unwrap(),
                s
            );
        }
        for k in PointKind::ALL {
            assert_eq!(k.to_string().parse(), Ok(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
            assert_eq!(
                serde_json::from_str::<PointKind>(&format!("\"{k}\"")).unwrap(),
                k
            );
        }
        assert_eq!(PointKind::FixedRate.as_str(), "fixed-rate");
        assert_eq!("nope".parse::<SuiteName>(), Err(UnknownName("nope".into())));
    }

    #[test]
    fn order_is_the_order_of_the_text() {
        let mut suites = SuiteName::ALL;
        suites.sort();
        assert!(suites.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        let mut kinds = PointKind::ALL;
        kinds.sort();
        assert_eq!(kinds, PointKind::ALL);
        assert!(kinds.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    }

    #[test]
    fn run_order_is_the_old_list() {
        assert_eq!(
            SuiteName::list(", "),
            "pingpong, plans, frames, mixed, spread"
        );
    }
}
