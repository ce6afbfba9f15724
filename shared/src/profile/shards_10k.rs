//! Issue 16: a Distributed Map over 10,000 objects profiles each shard and `MergeProfiles`
//! merges them. The merged profile must be the single-pass profile on every part the
//! module docs call exact, within rounding on `mean`/`std`, and a uniform sample of the
//! whole (checked against the DKW bound) for the sample and the quantiles read off it,
//! whatever the order and the tree shape of the merges.

use super::tests::batch;
use super::*;

const SHARDS: usize = 10_000;
const OPTS: ProfileOptions = ProfileOptions {
    sample_size: 128,
    max_categories: 10,
};

/// SplitMix64: a deterministic generator, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Row = (Option<f64>, Option<i64>, Option<&'static str>);
const CATS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

/// 0..=5 rows per shard: nulls, NaN and ±inf in `x`, nulls in `k` and `c`. `x` moves with
/// the shard's index (shards are not alike), so a sample that over-represents some shards
/// is far from the whole data's distribution.
fn shard_rows(rng: &mut Rng, shard: u64) -> Vec<Row> {
    (0..rng.below(6))
        .map(|_| {
            let x = match rng.below(20) {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(if rng.below(2) == 0 {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                }),
                _ => Some((rng.below(4_000) as f64 + shard as f64 - 8_000.0) / 8.0),
            };
            let k = (rng.below(10) != 0).then(|| rng.below(50) as i64);
            let c = (rng.below(8) != 0).then(|| CATS[rng.below(8) as usize]);
            (x, k, c)
        })
        .collect()
}

fn to_batch(rows: &[Row]) -> arrow_array::RecordBatch {
    let x: Vec<_> = rows.iter().map(|r| r.0).collect();
    let k: Vec<_> = rows.iter().map(|r| r.1).collect();
    let c: Vec<_> = rows.iter().map(|r| r.2).collect();
    batch(&x, &k, &c)
}

fn build(rows: &[Row], source: &str, base: &Profile) -> Profile {
    let mut b = ProfileBuilder::new(OPTS, source).unwrap().against(base);
    b.push(&to_batch(rows)).unwrap();
    b.finish()
}

/// Merge `parts` as a random binary tree (a random split point at every level).
fn tree_merge(parts: &[Profile], rng: &mut Rng) -> Profile {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let mid = 1 + rng.below(parts.len() as u64 - 1) as usize;
    let (l, r) = parts.split_at(mid);
    tree_merge(l, rng).merge(&tree_merge(r, rng)).unwrap()
}

fn numeric(p: &Profile, name: &str) -> NumericProfile {
    match &p.feature(name).unwrap().stats {
        FeatureStats::Numeric(n) => n.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn assert_close(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
            "{what}: {a} vs {b}"
        ),
        (a, b) => assert_eq!(a, b, "{what}"),
    }
}

/// The merged profile against the single pass over the same rows (`data`: the finite
/// values of each numeric feature, sorted).
fn assert_matches_single_pass(merged: &Profile, single: &Profile, data: &[(&str, Vec<f64>)]) {
    assert_eq!(merged.rows, single.rows);
    assert_eq!(merged.sources_total, SHARDS as u64);
    assert_eq!(merged.sources.len(), MAX_SOURCES_LISTED);
    let names = |p: &Profile| {
        let mut v: Vec<_> = p.features.iter().map(|f| f.name.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(names(merged), names(single));
    for (name, values) in data {
        let (m, s) = (numeric(merged, name), numeric(single, name));
        // Exact under merge.
        assert_eq!(
            (m.count, m.nulls, m.infinite, m.min, m.max),
            (s.count, s.nulls, s.infinite, s.min, s.max),
            "{name}"
        );
        assert_eq!(m.count, values.len() as u64, "{name}");
        assert_eq!(
            m.against
                .as_ref()
                .map(|a| (&a.baseline_sample, &a.equal, &a.between)),
            s.against
                .as_ref()
                .map(|a| (&a.baseline_sample, &a.equal, &a.between)),
            "{name}: against-baseline counts"
        );
        // Equal up to rounding.
        assert_close(m.mean, s.mean, &format!("{name} mean"));
        assert_close(m.std, s.std, &format!("{name} std"));
        // The sample: full size, sorted, drawn from the data (as a multiset), the
        // quantiles are the sample's.
        assert_eq!(m.sample.len(), OPTS.sample_size.min(values.len()), "{name}");
        assert!(m.sample.windows(2).all(|w| w[0] <= w[1]), "{name}");
        let (vals, mult) = distinct_sorted(&m.sample);
        for (v, k) in vals.iter().zip(mult) {
            let lo = values.partition_point(|x| x < v);
            let hi = values.partition_point(|x| x <= v);
            assert!(
                k as usize <= hi - lo,
                "{name}: {v} sampled {k}× but in the data {}×",
                hi - lo
            );
        }
        assert_eq!(m.quantiles, sample_quantiles(&m.sample), "{name}");
        // Uniform: the KS distance between the sample's and the data's distribution
        // functions is within the DKW bound for n = sample size at δ = 1e-6 (a sample
        // without replacement concentrates at least as well). A merge that weighed its
        // sides by anything but their counts would fail this by far: the sample would
        // come mostly from the last shards folded in.
        let n = m.sample.len() as f64;
        let bound = ((2.0f64 / 1e-6).ln() / (2.0 * n)).sqrt();
        let total = values.len() as f64;
        let mut d: f64 = 0.0;
        for (i, v) in m.sample.iter().enumerate() {
            let f_data_hi = values.partition_point(|x| x <= v) as f64 / total;
            let f_data_lo = values.partition_point(|x| x < v) as f64 / total;
            d = d
                .max((f_data_hi - (i + 1) as f64 / n).abs())
                .max((f_data_lo - i as f64 / n).abs());
        }
        assert!(d <= bound, "{name}: KS distance {d} > DKW bound {bound}");
    }
    // Categories fit in max_categories: the counts are exact.
    assert_eq!(merged.feature("c"), single.feature("c"));
}

#[test]
fn ten_thousand_shards_merge_to_the_single_pass_profile() {
    let mut rng = Rng(0x7261_696e_6775_6172);
    let base = {
        let mut b = ProfileBuilder::new(OPTS, "baseline").unwrap();
        let rows: Vec<Row> = (0..2_000)
            .flat_map(|i| shard_rows(&mut rng, i * 5))
            .collect();
        b.push(&to_batch(&rows)).unwrap();
        b.finish()
    };
    let shards: Vec<Vec<Row>> = (0..SHARDS)
        .map(|i| shard_rows(&mut rng, i as u64))
        .collect();
    let all: Vec<Row> = shards.iter().flatten().copied().collect();
    assert!(shards.iter().any(Vec::is_empty), "some shards have no rows");
    let single = build(&all, "single", &base);
    let finite = |f: &dyn Fn(&Row) -> Option<f64>| {
        let mut v: Vec<f64> = all.iter().filter_map(f).filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let data = [
        ("x", finite(&|r: &Row| r.0)),
        ("k", finite(&|r: &Row| r.1.map(|v| v as f64))),
    ];
    let mut parts: Vec<Profile> = shards
        .iter()
        .enumerate()
        .map(|(i, rows)| build(rows, &format!("part-{i:05}"), &base))
        .collect();
    // As MergeProfiles reads them back from S3 (every 100th: the JSON round trip of
    // each is the cost of this test, and merge_equals_profile_of_concatenation covers it).
    for p in parts.iter_mut().step_by(100) {
        *p = Profile::from_profile_json(&p.to_json()).unwrap();
    }

    // Left to right, as merge_all does, in a random order of the shards.
    for i in (1..parts.len()).rev() {
        parts.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let folded = Profile::merge_all(&parts).unwrap().unwrap();
    assert_matches_single_pass(&folded, &single, &data);

    // A random tree over another random order.
    for i in (1..parts.len()).rev() {
        parts.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let tree = tree_merge(&parts, &mut rng);
    assert_matches_single_pass(&tree, &single, &data);
}
