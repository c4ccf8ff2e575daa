//! One run's report: [`report`] holds the data ([`report::RunReport`], with every setting,
//! figure and HDR histogram), [`text`] renders it as JMeter summariser lines and the rest,
//! [`json`] writes and reads it, [`compare_runs`] sets runs side by side (`loadgen compare`
//! with report files). The bench's summary (`crate::report`) is a layer above this one.

pub mod compare_runs;
pub mod json;
pub mod report;
pub mod text;

pub use report::RunReport;
