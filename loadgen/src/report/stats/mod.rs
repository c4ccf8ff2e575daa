//! The statistics under the bench's summary, as criterion's stats/: [`aggregate`] makes
//! each model's mean and 95% interval over blocks at a point ([`aggregate::Grid`]),
//! [`verdict`] the paired ratios to a reference, their intervals, verdicts, tiers and
//! outliers. It computes and never renders; it imports nothing of the summary above it.

pub mod aggregate;
#[cfg(test)]
pub mod fixtures;
pub mod verdict;
