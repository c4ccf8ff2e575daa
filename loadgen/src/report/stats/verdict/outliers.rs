//! Outliers, judged on the paired log-ratios: a block in which a model's ratio to the
//! reference lies more than [`OUTLIER_MADS`] median absolute deviations from its median
//! ratio (hyperfine's rule, 10 robust standard deviations). A block in which every model
//! ran fast or slow moves every ratio alike and so flags nothing; a block in which most
//! models' ratios moved the same way is the reference's own, named once as such.
//! Flagged, never dropped. Imports nothing above it but [`super::interval`].

use std::collections::BTreeMap;

use super::interval::median;

/// Median absolute deviations from the median that make a ratio an outlier (10 robust
/// standard deviations).
pub const OUTLIER_MADS: f64 = 14.826;

/// A block flagged as an outlier.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    /// Model: the reference where `of_reference`.
    pub model: String,
    /// Block.
    pub block: u32,
    /// Its ratio to the reference in that block; for the reference's own outlier, its
    /// figure over its usual one as the models' ratios tell it (2.0: twice as high).
    pub value: f64,
    /// The model's median ratio at the point (1 for the reference's own).
    pub median: f64,
    /// True when the reference's run was the odd one: most models' ratios moved the same
    /// way in that block.
    pub of_reference: bool,
}

/// Entries more than [`OUTLIER_MADS`] median absolute deviations from the median of their
/// map, as (block, value, median); none with fewer than three or no spread.
pub fn by_deviation(values: &BTreeMap<u32, f64>) -> Vec<(u32, f64, f64)> {
    let v: Vec<f64> = values.values().copied().collect();
    if v.len() < 3 {
        return Vec::new();
    }
    let med = median(&v);
    let mad = median(&v.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
    if mad <= 0.0 {
        return Vec::new();
    }
    values
        .iter()
        .filter(|(_, x)| (*x - med).abs() > OUTLIER_MADS * mad)
        .map(|(b, x)| (*b, *x, med))
        .collect()
}

/// The outliers of a point from each non-reference model's per-block log-ratios to the
/// reference (model -> block -> ln ratio). A block is the reference's own outlier when at
/// least two models are flagged in it the same way and they are more than half of the
/// models with a ratio there; their flags are then folded into that one, and a model
/// flagged the other way in that block stays its own.
pub fn judge(logs: &BTreeMap<String, BTreeMap<u32, f64>>, reference: &str) -> Vec<Outlier> {
    let mut flags: BTreeMap<u32, Vec<(String, f64, f64)>> = BTreeMap::new();
    for (model, by_block) in logs.iter().filter(|(m, _)| m.as_str() != reference) {
        for (block, log, med) in by_deviation(by_block) {
            flags
                .entry(block)
                .or_default()
                .push((model.clone(), log, med));
        }
    }
    let mut out = Vec::new();
    for (block, flagged) in flags {
        let present = logs
            .iter()
            .filter(|(m, b)| m.as_str() != reference && b.contains_key(&block))
            .count();
        // The reference's own when more than half the models moved the same way; the
        // ones that moved the other way stay their own.
        let (up, down): (Vec<_>, Vec<_>) = flagged.into_iter().partition(|(_, log, med)| log > med);
        let (theirs, rest) = if up.len() >= 2 && 2 * up.len() > present {
            (up, down)
        } else if down.len() >= 2 && 2 * down.len() > present {
            (down, up)
        } else {
            (Vec::new(), up.into_iter().chain(down).collect())
        };
        if !theirs.is_empty() {
            let shifts: Vec<f64> = theirs.iter().map(|(_, log, med)| log - med).collect();
            out.push(Outlier {
                model: reference.to_string(),
                block,
                value: (-median(&shifts)).exp(),
                median: 1.0,
                of_reference: true,
            });
        }
        out.extend(rest.into_iter().map(|(model, log, med)| Outlier {
            model,
            block,
            value: log.exp(),
            median: med.exp(),
            of_reference: false,
        }));
    }
    out
}
