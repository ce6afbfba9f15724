//! A fixed-size uniform random sample (reservoir) that can be merged.
//!
//! Why a sample and not a quantile sketch: a KS test computed on a sketch's quantiles as if
//! they were the full data treats a million rows as a million independent observations
//! while the sketch only holds a few thousand numbers' worth of information, and the test
//! raises false alarms (whylogs #684). A uniform sample without replacement of an i.i.d.
//! dataset is itself an i.i.d. sample of the same distribution, so a KS test run on the
//! sample, **with the sample's size as n**, is exactly as valid as on the full data, only
//! less powerful. That is what the drift check does.
//!
//! Building: Li's Algorithm L (1994) — after the reservoir fills, the index of the next
//! value to take is drawn directly, so a batch of a million values costs a few thousand
//! random draws, not a million.
//!
//! Merging: given uniform samples of size `k` from disjoint parts of sizes `n_a` and `n_b`,
//! draw how many of the merged sample come from part A from the hypergeometric
//! distribution (k draws without replacement from `n_a + n_b` items of which `n_a` are
//! A's), then take that many uniformly from A's sample and the rest from B's. The result is
//! a uniform sample of the union — the property a Step Functions Distributed Map over
//! thousands of shards relies on.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Builds a uniform sample of at most `capacity` values from a stream (Algorithm L).
#[derive(Debug, Clone)]
pub struct ReservoirBuilder {
    capacity: usize,
    seen: u64,
    values: Vec<f64>,
    rng: StdRng,
    w: f64,
    /// 0-based index (in the stream) of the next value to take once full.
    next: u64,
}

impl ReservoirBuilder {
    /// An empty reservoir of `capacity` values, its randomness from `seed`.
    pub fn new(capacity: usize, seed: u64) -> Self {
        ReservoirBuilder {
            capacity,
            seen: 0,
            values: Vec::with_capacity(capacity.min(1 << 16)),
            rng: StdRng::seed_from_u64(seed),
            w: 1.0,
            next: 0,
        }
    }

    fn draw_unit(&mut self) -> f64 {
        // (0, 1]: ln never sees zero.
        1.0 - self.rng.gen::<f64>()
    }

    fn advance(&mut self) {
        let k = self.capacity as f64;
        self.w *= (self.draw_unit().ln() / k).exp();
        let skip = (self.draw_unit().ln() / (1.0 - self.w).ln()).floor();
        let skip = if skip.is_finite() && skip >= 0.0 {
            skip.min(u64::MAX as f64 / 4.0) as u64
        } else {
            0
        };
        self.next = self.next.saturating_add(skip).saturating_add(1);
    }

    /// Offer a batch of values, in stream order.
    pub fn extend(&mut self, batch: &[f64]) {
        if self.capacity == 0 {
            self.seen += batch.len() as u64;
            return;
        }
        let mut rest = batch;
        // Fill phase.
        while self.values.len() < self.capacity {
            match rest.split_first() {
                Some((&v, tail)) => {
                    self.values.push(v);
                    self.seen += 1;
                    rest = tail;
                    if self.values.len() == self.capacity {
                        self.next = self.seen - 1;
                        self.advance();
                    }
                }
                None => return,
            }
        }
        // Skip phase: jump straight to the indices that replace a slot.
        let start = self.seen;
        let end = start + rest.len() as u64;
        while self.next < end {
            let v = rest[(self.next - start) as usize];
            let slot = self.rng.gen_range(0..self.capacity);
            self.values[slot] = v;
            self.advance();
        }
        self.seen = end;
    }

    /// The sample (sorted) and the number of values offered.
    pub fn finish(self) -> (Vec<f64>, u64) {
        let mut v = self.values;
        v.sort_unstable_by(f64::total_cmp);
        (v, self.seen)
    }
}

/// Merge two uniform samples of disjoint populations of sizes `n_a`, `n_b` into a uniform
/// sample of at most `capacity` values of the union. Both inputs must be uniform samples of
/// size `min(capacity, n)` of their population. The output is sorted.
pub fn merge(a: &[f64], n_a: u64, b: &[f64], n_b: u64, capacity: usize, seed: u64) -> Vec<f64> {
    let total = n_a + n_b;
    let k = (capacity as u64).min(total) as usize;
    if a.len() as u64 == n_a && b.len() as u64 == n_b && a.len() + b.len() <= capacity {
        // Both samples are the whole population and fit: keep everything.
        let mut out: Vec<f64> = a.iter().chain(b).copied().collect();
        out.sort_unstable_by(f64::total_cmp);
        return out;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    // Hypergeometric draw by direct simulation: k draws without replacement.
    let (mut left_a, mut left_all) = (n_a, total);
    let mut take_a = 0usize;
    for _ in 0..k {
        if left_all == 0 {
            break;
        }
        if rng.gen_range(0..left_all) < left_a {
            take_a += 1;
            left_a -= 1;
        }
        left_all -= 1;
    }
    let take_a = take_a.min(a.len());
    let take_b = (k - take_a).min(b.len());
    let mut out = choose(a, take_a, &mut rng);
    out.extend(choose(b, take_b, &mut rng));
    out.sort_unstable_by(f64::total_cmp);
    out
}

/// `m` values chosen uniformly without replacement (partial Fisher-Yates).
fn choose(values: &[f64], m: usize, rng: &mut StdRng) -> Vec<f64> {
    let mut pool = values.to_vec();
    let m = m.min(pool.len());
    for i in 0..m {
        let j = rng.gen_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(m);
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_until_full() {
        let mut r = ReservoirBuilder::new(10, 1);
        r.extend(&[3.0, 1.0, 2.0]);
        let (v, seen) = r.finish();
        assert_eq!(v, vec![1.0, 2.0, 3.0]);
        assert_eq!(seen, 3);
    }

    #[test]
    fn sample_is_uniform_over_positions() {
        // Each of 100 positions should be kept with probability 10/100; over 2000 runs
        // the count per position is Binomial(2000, 0.1): mean 200, sd 13.4.
        let mut hits = [0u32; 100];
        for seed in 0..2000u64 {
            let mut r = ReservoirBuilder::new(10, seed);
            let data: Vec<f64> = (0..100).map(|i| i as f64).collect();
            // Offer in uneven batches to exercise the batch boundaries.
            r.extend(&data[..7]);
            r.extend(&data[7..50]);
            r.extend(&data[50..]);
            let (v, seen) = r.finish();
            assert_eq!(seen, 100);
            assert_eq!(v.len(), 10);
            for x in v {
                hits[x as usize] += 1;
            }
        }
        for (i, h) in hits.iter().enumerate() {
            assert!((140..=260).contains(h), "position {i} kept {h} times");
        }
    }

    #[test]
    fn merged_sample_is_uniform_over_the_union() {
        // Part A has 30 values, part B 70; a merged sample of 10 should hold 3 from A on
        // average (hypergeometric), and every value should appear equally often.
        let a: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let b: Vec<f64> = (30..100).map(|i| i as f64).collect();
        let mut hits = [0u32; 100];
        for seed in 0..2000u64 {
            let mut ra = ReservoirBuilder::new(10, seed * 2 + 1);
            ra.extend(&a);
            let mut rb = ReservoirBuilder::new(10, seed * 2 + 2);
            rb.extend(&b);
            let (sa, na) = ra.finish();
            let (sb, nb) = rb.finish();
            let m = merge(&sa, na, &sb, nb, 10, seed);
            assert_eq!(m.len(), 10);
            for x in m {
                hits[x as usize] += 1;
            }
        }
        for (i, h) in hits.iter().enumerate() {
            assert!((140..=260).contains(h), "value {i} kept {h} times");
        }
    }

    #[test]
    fn small_parts_merge_to_their_union() {
        let m = merge(&[1.0, 5.0], 2, &[3.0], 1, 10, 7);
        assert_eq!(m, vec![1.0, 3.0, 5.0]);
    }
}
