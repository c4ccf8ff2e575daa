//! Suites: what load each model gets. A suite is one module behind [`Suite`] (in [`spec`]):
//! it turns the bench's settings into points (`crate::bench::point`), each a set of
//! typed loadgen settings; the runner starts the servers, adds the target and
//! `--server-pid`, measures and records. Adding a suite (`frames`, `mixed`, `spread`) is one
//! new module, one [`SuiteName`] and one line in [`by_name`].

pub mod frames;
pub mod mixed;
pub mod pingpong;
pub mod plans;
pub mod spec;
pub mod spread;

pub use spec::Suite;
#[cfg(test)]
pub(crate) use spec::config;

use crate::bench::names::SuiteName;

pub use frames::Frames;
pub use mixed::Mixed;
pub use pingpong::PingPong;
pub use plans::Plans;
pub use spread::Spread;

/// The suite called `name`.
pub fn by_name(name: SuiteName) -> Box<dyn Suite> {
    match name {
        SuiteName::PingPong => Box::new(PingPong),
        SuiteName::Plans => Box::new(Plans),
        SuiteName::Frames => Box::new(Frames),
        SuiteName::Mixed => Box::new(Mixed),
        SuiteName::Spread => Box::new(Spread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_is_called_its_name() {
        for name in SuiteName::ALL {
            assert_eq!(by_name(name).name(), name);
        }
    }
}
