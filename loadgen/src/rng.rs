//! A small deterministic random number generator (SplitMix64, Steele, Lea and Flood 2014):
//! the bench's shuffled model orders come from it, so
//! that a recorded seed gives the same order and the same intervals on any machine.

/// SplitMix64: 64 bits of state, every seed a full-period stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator from a seed and the words that name one use of it (a suite, a point, a
    /// block), so that each use gets its own stream whatever ran before it.
    pub fn keyed(seed: u64, words: &[&str], n: u64) -> Rng {
        // FNV-1a over the words, mixed with the seed and the number.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for w in words {
            for b in w.bytes().chain([0xff]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let mut r = Rng(seed ^ h);
        let mixed = r.next_u64() ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Rng(mixed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in 0..n (n > 0), without modulo bias worth speaking of for small n
    /// (Lemire's multiply-shift).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_shuffles_are_permutations() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut r = Rng::new(7);
        assert_ne!(r.next_u64(), r.next_u64());
        let mut v: Vec<usize> = (0..10).collect();
        Rng::keyed(1, &["pingpong", "100"], 3).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        let mut w: Vec<usize> = (0..10).collect();
        Rng::keyed(1, &["pingpong", "100"], 3).shuffle(&mut w);
        assert_eq!(v, w);
        let mut x: Vec<usize> = (0..10).collect();
        Rng::keyed(1, &["pingpong", "100"], 4).shuffle(&mut x);
        assert_ne!(v, x, "another block gets another order");
        // Every value of below() is reached and none past n.
        let mut seen = [0; 3];
        for _ in 0..300 {
            seen[r.below(3)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }
}
