//! Suites: what load each model gets. A suite is one module behind [`Suite`] (in [`spec`]):
//! it turns the bench's settings into points (`crate::bench::point`), each a set of
//! typed loadgen settings; the runner starts the servers, adds the target and
//! `--server-pid`, measures and records. Adding a suite (`frames`, `mixed`, `spread`) is one
//! new module and one line in [`by_name`].

pub mod frames;
pub mod mixed;
pub mod pingpong;
pub mod plans;
pub mod spec;
pub mod spread;

#[cfg(test)]
pub(crate) use spec::config;
pub use spec::{SUITES, Suite};

pub use frames::Frames;
pub use mixed::Mixed;
pub use pingpong::PingPong;
pub use plans::Plans;
pub use spread::Spread;

/// The suite called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Suite>> {
    match name {
        "pingpong" => Some(Box::new(PingPong)),
        "plans" => Some(Box::new(Plans)),
        "frames" => Some(Box::new(Frames)),
        "mixed" => Some(Box::new(Mixed)),
        "spread" => Some(Box::new(Spread)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_suite_exists() {
        for name in SUITES {
            assert_eq!(by_name(name).map(|s| s.name()), Some(name));
        }
        assert!(by_name("nope").is_none());
    }
}
