//! Tiers that follow from the verdicts: a model's tier is 1 + the longest chain of models
//! that beat it by the verdict rule (their paired interval clears 1 by more than the
//! margin), so a model worse than another is always in a later tier, and models no one
//! beats share tier 1. Imports nothing.

/// Tiers of `n` models given `worse(i, j)`: true when model i is worse than model j by
/// the rule. Tier 1 is the best. A cycle (possible only with models paired over
/// different blocks) stops the count after `n` rounds rather than looping.
pub fn from_relation(n: usize, worse: impl Fn(usize, usize) -> bool) -> Vec<usize> {
    let beaten_by: Vec<Vec<usize>> = (0..n)
        .map(|i| (0..n).filter(|&j| j != i && worse(i, j)).collect())
        .collect();
    let mut tier = vec![1; n];
    for _ in 0..n {
        let mut changed = false;
        for i in 0..n {
            let t = 1 + beaten_by[i].iter().map(|&j| tier[j]).max().unwrap_or(0);
            if t > tier[i] {
                tier[i] = t.min(n);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    tier
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_of_wins_makes_tiers() {
        // 0 beats 1 beats 2; 3 beats nobody and is beaten by 0 only.
        let worse = |i: usize, j: usize| matches!((i, j), (1, 0) | (2, 1) | (2, 0) | (3, 0));
        assert_eq!(from_relation(4, worse), vec![1, 2, 3, 2]);
        // Nobody beats anybody: one tier.
        assert_eq!(from_relation(3, |_, _| false), vec![1, 1, 1]);
        // A cycle ends.
        let cycle = |i: usize, j: usize| (i + 1) % 3 == j;
        assert!(from_relation(3, cycle).iter().all(|t| *t <= 3));
    }
}
