//! The bench's summary (`loadgen report`), a layer above one run's report (`crate::run`).
//!
//! A bench's results (`crate::bench::data`) are rendered by [`render`] (`loadgen report`):
//! [`aggregate`] makes means and 95% intervals over blocks, [`verdict`] the paired ratios
//! and verdicts that rank models ([`ranking`] renders them, [`forest`] plots them),
//! [`markdown`] the tables of summary.md, [`chart`] the SVG charts; [`baselines`] puts the
//! Python baselines' ratios beside those the studies published ([`studies`]).

pub mod aggregate;
pub mod baselines;
pub mod chart;
pub mod compare_bench;
pub mod compare_ratios;
pub mod design;
pub mod forest;
pub mod frames;
pub mod markdown;
pub mod mixed;
pub mod ranking;
pub mod render;
pub mod sections;
pub mod spread;
pub mod studies;
pub mod variants;
pub mod verdict;
