//! The names of what a bench or a test can start: the workspace's models (one
//! `servers/<model>` crate each, binary `echo-<model>`) and the studies' Python baselines.
//! Always compiled: loadgen's bench reads them as well as the tests.

/// Every model, in the order of DESIGN.md's table.
pub const MODELS: [&str; 10] = [
    "thread",
    "epoll",
    "tokio",
    "tokio-callback",
    "async-std",
    "smol",
    "glommio",
    "may",
    "uring",
    "compio",
];

/// The studies' Python servers (`baselines/python/echo-<name>`), in the order of
/// DESIGN.md's baselines: not models of the workspace, but started the same way.
pub const BASELINES: [&str; 9] = [
    "py-asyncio",
    "py-asyncio-proto",
    "py-asyncio-sock",
    "py-asyncio-buffered",
    "py-uvloop",
    "py-uvloop-proto",
    "py-selectors",
    "py-thread",
    "py-gevent",
];

/// Whether `model` names one of the [`BASELINES`].
pub fn is_baseline(model: &str) -> bool {
    BASELINES.contains(&model)
}
