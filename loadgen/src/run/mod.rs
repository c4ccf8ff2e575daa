//! One run's report: [`report`] holds the data ([`report::RunReport`], with every setting,
//! figure and HDR histogram), [`text`] renders it as JMeter summariser lines and the rest,
//! [`json`] writes and reads it, [`csv`] writes its intervals (`--csv`), [`thresholds`]
//! checks it against `--fail-if`, [`compare_runs`] sets runs side by side (`loadgen
//! compare` with report files), and [`load`] runs a load and makes its report, [`html`]
//! its `--html` page. The bench (`crate::bench`) and its summary (`crate::report`) are
//! layers above this one.

pub mod compare_runs;
pub mod csv;
pub mod html;
pub mod json;
pub mod load;
pub mod report;
pub mod text;
pub mod thresholds;

pub use report::RunReport;
