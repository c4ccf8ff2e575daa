//! The figures the studies published, as data: what the baselines section of a report puts
//! beside this machine's ratios. Every figure here was read in the source named with it;
//! where a study's figures could not be found, [`NOT_FOUND`] says so instead of a number.
//!
//! A published ratio is a pair of the study's own figures, model over unit, measured in
//! the same study on the same machine: the ratio is what can be compared across a decade
//! of hardware, Python and kernels, not the figures themselves.

use crate::bench::names::SuiteName;

/// Where figures come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// Short name in a table cell.
    pub key: &'static str,
    /// What was measured and where in the source the figures are.
    pub citation: &'static str,
    /// The source itself.
    pub url: &'static str,
}

/// The asyncio ping-pong study: 64-byte ping-pong for 30 s, Python pinned to one core,
/// 7 runs per point on a local server.
pub const KODER_UA: Source = Source {
    key: "koder-ua",
    citation: "koder-ua/network_ping_test, perf_report.md, \"Локальный сервер\" table (local \
               server, messages/s, 64-byte ping-pong; Python 3.5.1, uvloop 0.4.28, Xeon \
               E3-1231 v3); the Python functions are the echoing side, cpp_epoll and cpp_th \
               its C++ epoll and thread-per-connection counterparts",
    url: "https://github.com/koder-ua/network_ping_test/blob/master/perf_report.md",
};

/// Pitrou's post opening the async-sig thread on large I/O: 100 MB frames echoed with
/// asyncio's Protocol framing (Python 3.6).
pub const ASYNC_SIG_PITROU: Source = Source {
    key: "async-sig (Pitrou)",
    citation: "Antoine Pitrou, \"APIs for high-bandwidth large I/O?\", async-sig, 2017-10-18: \
               100 MB frames over an echo client/server using asyncio's Protocol, Python 3.6: \
               vanilla asyncio 350 MB/s, asyncio + uvloop 600 MB/s",
    url: "https://mail.python.org/pipermail/async-sig/2017-October/000392.html",
};

/// Beazley's reply in the same thread, with Pitrou's asyncio benchmark on his machine.
pub const ASYNC_SIG_BEAZLEY: Source = Source {
    key: "async-sig (Beazley)",
    citation: "David Beazley, same thread, 2017-10-20: Pitrou's asyncio benchmark (Protocol \
               framing, 100 MB frames) on his machine: vanilla asyncio 145 MB/s, asyncio + \
               uvloop 340 MB/s",
    url: "https://mail.python.org/pipermail/async-sig/2017-October/000393.html",
};

/// Every source with figures.
pub const SOURCES: [Source; 3] = [KODER_UA, ASYNC_SIG_PITROU, ASYNC_SIG_BEAZLEY];

/// Studies (or figures asked for) that have no entry here, and why.
pub const NOT_FOUND: [&str; 3] = [
    "PyYYC 2020 echo benchmark (JMeter plans): its published table could not be found, so \
     the plans points have no published ratio",
    "uvloop blog post (magic.io/blog/uvloop-blazing-fast-python-networking, 2016): its echo \
     figures are charts, and the rows of the benchmark report beside it \
     (magic.io/blog/uvloop-blazing-fast-python-networking/tcp-bench.html) are not labelled \
     with their servers in the copy read, so none is cited",
    "async-sig thread: a 950 MB/s figure for read-into framing was not found in the two \
     messages read (Pitrou's opening post and Beazley's reply)",
];

/// One published ratio: `model` over `unit` at a point of a suite, each an echolab name
/// for the study's own server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    /// Where it comes from.
    pub source: Source,
    /// Suite and point of echolab it corresponds to.
    pub suite: SuiteName,
    /// Point name within the suite (`1000`, `100MiB`).
    pub point: &'static str,
    /// The echolab server standing for the study's model.
    pub model: &'static str,
    /// The study's name for it.
    pub theirs: &'static str,
    /// The echolab server standing for the study's unit.
    pub unit: &'static str,
    /// The study's name for the unit.
    pub their_unit: &'static str,
    /// The study's figure for the model.
    pub figure: f64,
    /// The study's figure for the unit.
    pub unit_figure: f64,
}

impl Published {
    /// The published ratio, model over unit.
    pub fn ratio(&self) -> f64 {
        self.figure / self.unit_figure
    }
}

/// Connection counts of the koder-ua local table that echolab's sweep also runs.
const KODER_POINTS: [&str; 4] = ["10", "100", "1000", "10000"];

/// The koder-ua local-server table, thousands of messages/s at 10, 100, 1k and 10k
/// connections (None: "---" in the study). Its uvloop_sock row has no echolab server and
/// is left out; asyncio_sock has a figure at 10 connections only (the study excluded the
/// others, see its "Особенности").
const KODER_LOCAL: [(&str, &str, [Option<f64>; 4]); 10] = [
    (
        "py-asyncio",
        "asyncio",
        [Some(33.0), Some(38.0), Some(34.0), Some(26.0)],
    ),
    (
        "py-asyncio-proto",
        "asyncio_proto",
        [Some(76.0), Some(85.0), Some(83.0), Some(86.0)],
    ),
    (
        "py-asyncio-sock",
        "asyncio_sock",
        [Some(78.0), None, None, None],
    ),
    (
        "epoll",
        "cpp_epoll",
        [Some(420.0), Some(450.0), Some(360.0), Some(240.0)],
    ),
    (
        "thread",
        "cpp_th",
        [Some(290.0), Some(280.0), Some(170.0), Some(130.0)],
    ),
    (
        "py-gevent",
        "gevent",
        [Some(64.0), Some(73.0), Some(62.0), Some(65.0)],
    ),
    (
        "py-selectors",
        "selector",
        [Some(220.0), Some(230.0), Some(210.0), Some(170.0)],
    ),
    (
        "py-thread",
        "thread",
        [Some(220.0), Some(200.0), Some(120.0), Some(78.0)],
    ),
    (
        "py-uvloop",
        "uvloop",
        [Some(100.0), Some(110.0), Some(83.0), Some(47.0)],
    ),
    (
        "py-uvloop-proto",
        "uvloop_proto",
        [Some(260.0), Some(300.0), Some(230.0), Some(130.0)],
    ),
];

/// Every published ratio, in the order of the tables above.
pub fn all() -> Vec<Published> {
    let mut out = Vec::new();
    let (unit, their_unit, unit_figures) = KODER_LOCAL[0];
    for (i, point) in KODER_POINTS.iter().enumerate() {
        let Some(unit_figure) = unit_figures[i] else {
            continue;
        };
        for &(model, theirs, figures) in &KODER_LOCAL[1..] {
            if let Some(figure) = figures[i] {
                out.push(Published {
                    source: KODER_UA,
                    suite: SuiteName::PingPong,
                    point,
                    model,
                    theirs,
                    unit,
                    their_unit,
                    figure,
                    unit_figure,
                });
            }
        }
    }
    for (source, uvloop, asyncio) in [
        (ASYNC_SIG_PITROU, 600.0, 350.0),
        (ASYNC_SIG_BEAZLEY, 340.0, 145.0),
    ] {
        out.push(Published {
            source,
            suite: SuiteName::Frames,
            point: "100MiB",
            model: "py-uvloop-proto",
            theirs: "asyncio + uvloop (Protocol)",
            unit: "py-asyncio-proto",
            their_unit: "vanilla asyncio (Protocol)",
            figure: uvloop,
            unit_figure: asyncio,
        });
    }
    out
}

/// The published ratios at one point.
pub fn at(suite: SuiteName, point: &str) -> Vec<Published> {
    all()
        .into_iter()
        .filter(|p| p.suite == suite && p.point == point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::models::{BASELINES, MODELS};

    #[test]
    fn every_published_pair_names_servers_echolab_runs() {
        let known = |m: &str| MODELS.contains(&m) || BASELINES.contains(&m);
        for p in all() {
            assert!(known(p.model) && known(p.unit), "{p:?}");
            assert!(p.figure > 0.0 && p.unit_figure > 0.0, "{p:?}");
            assert!(SOURCES.contains(&p.source));
        }
    }

    #[test]
    fn ratios_are_the_studies_figures_divided() {
        // koder-ua, local server, 1k connections: uvloop_proto 230k, asyncio 34k.
        let at_1k = at(SuiteName::PingPong, "1000");
        let uvp = at_1k.iter().find(|p| p.model == "py-uvloop-proto").unwrap();
        assert!((uvp.ratio() - 230.0 / 34.0).abs() < 1e-12);
        assert_eq!(uvp.unit, "py-asyncio");
        // asyncio_sock has a local figure at 10 connections only.
        assert!(at_1k.iter().all(|p| p.model != "py-asyncio-sock"));
        assert!(
            at(SuiteName::PingPong, "10")
                .iter()
                .any(|p| p.model == "py-asyncio-sock")
        );
        let frames = at(SuiteName::Frames, "100MiB");
        assert_eq!(frames.len(), 2);
        assert!((frames[0].ratio() - 600.0 / 350.0).abs() < 1e-12);
        assert!(
            at(SuiteName::Plans, "1000x2000").is_empty(),
            "PyYYC's table was not found"
        );
    }
}
