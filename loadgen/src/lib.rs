//! loadgen: echolab's load generator. It measures every echo server the same way.
//!
//! A *thread* is a JMeter virtual user: it owns a connection (a new one per sample with
//! `--no-reuse`), sends one message, reads the whole echo, checks every byte, records the
//! latency and repeats, for `--loops` samples or for `--duration`. Users start evenly over
//! `--rampup`. Underneath, an event-driven engine (one mio loop per `--workers` thread)
//! runs thousands of users on a few threads and costs about one `send` and one `recv` per
//! message, so that loadgen is never the bottleneck. `--rate R` switches to an open loop
//! whose latencies count from each request's due time (coordinated omission corrected).
//!
//! Run `echo-epoll --addr 127.0.0.1:7000`, then:
//!
//! ```text
//! loadgen --threads 1000 --loops 2000 --rampup 1s      # the PyYYC plan
//! loadgen --threads 100 --duration 10s --server-pid $(pidof echo-epoll)
//! ```
//!
//! Output: JMeter summariser lines (`summary +` per interval, `summary =` at the end), then
//! planned vs completed samples, latency percentiles in microseconds, errors by kind, and the
//! server's CPU, memory and context switches. `--json FILE` keeps it all, HDR histograms
//! included, so that `loadgen merge` can add runs up exactly.
//!
//! The library is driven the way the binary drives it (and the tests too):
//!
//! ```no_run
//! use clap::Parser;
//! let opts = loadgen::Opts::parse_from(["loadgen", "--threads", "10", "--loops", "100"]);
//! let outcome = loadgen::run(opts).expect("run");
//! assert_eq!(outcome.into_report().expect("a load run's report").samples, 1000);
//! ```
//!
//! Modules, each importing only those below it: [`cli`] (the one dispatch: [`run()`], a
//! `match` over the subcommands) over [`error`] (every subcommand's error, exit codes);
//! [`report`] (`loadgen report`: the bench's summary, [`report::summary`]) over [`bench`](mod@bench)
//! (`loadgen bench`: suites over every model) over the run layer: [`run`](mod@run) (one
//! run: its load, report, text, JSON, `--fail-if` checks) over [`engine`] (workers and
//! users), [`procs`] and [`merge`] (runs added up), [`plan`] (checked settings, with
//! [`addrs`]), [`opts`] (flags), [`stats`] (counts, histograms), [`probe`] (/proc) and
//! [`threshold`] (`--fail-if` read); [`md`] (Markdown helpers) is the floor of both the
//! summary and one run's compare, [`csv`] (CSV quoting) the floor of both CSV files
//! (runs.csv, `--csv`), and [`html`] (one self-contained page: its shell, script and
//! styles) the floor of the HTML pages of a bench, a run and a comparison.
//! This file only declares the modules and re-exports what outside users need.

pub mod addrs;
pub mod bench;
pub mod cli;
pub mod csv;
pub mod engine;
pub mod error;
pub mod html;
pub mod jtl;
pub mod md;
pub mod merge;
pub mod opts;
pub mod out;
pub mod plan;
pub mod probe;
pub mod procs;
pub mod report;
pub mod rng;
pub mod run;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod threshold;
pub mod wait;

pub use cli::{Outcome, run, run_to};
pub use error::{EXIT_THRESHOLD, EXIT_USAGE, Error};
pub use opts::{
    BenchArgs, Command, CompareArgs, ImportJtlArgs, LoadArgs, MergeArgs, Opts, ReportArgs,
    StreamArgs,
};
pub use plan::{Plan, PlanError};
pub use run::RunReport;
