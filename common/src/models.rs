//! The names of what a bench or a test can start: the workspace's models (one
//! `servers/<model>` crate each, binary `echo-<model>`) and the studies' Python baselines.
//! Always compiled: loadgen's bench reads them as well as the tests.

/// Every model, in the order of DESIGN.md's table.
pub const MODELS: [&str; 12] = [
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
    "pool",
    "reactor-pool",
];

/// Flags `model` is started with when nothing else sets them: by the test kit when a test
/// gives no `--threads` (`crate::testkit::Server::start`) and by loadgen's bench when a
/// variant gives none. A pool serves one connection per worker and makes the others wait:
/// started with the most workers the flag takes, it serves every case of the suites (up to
/// 500 connections open at once) and every point of `make bench` (up to 1,000) as the
/// other models do, so those test the contract and measure the model, not the pool's size;
/// the pool's own cases test its queue, and the bench's variants with `--threads` its size.
pub fn default_args(model: &str) -> &'static [&'static str] {
    match model {
        "pool" => &["--threads", "1024"],
        _ => &[],
    }
}

/// Whether `model`'s `--threads` workers are plain threads that each block through a
/// request's whole backend wait (a sleep), so that no more requests are in service at once
/// than there are workers: the two pools.
pub fn workers_block(model: &str) -> bool {
    matches!(model, "pool" | "reactor-pool")
}

/// The most connections `model` serves at once when started with [`default_args`] (the
/// pool's workers; the rest wait unread); `None` for a model that serves every
/// connection it accepts. idle-rss measures a pool with this many.
pub fn serves_at_most(model: &str) -> Option<usize> {
    match default_args(model) {
        ["--threads", n] => n.parse().ok(),
        _ => None,
    }
}

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
