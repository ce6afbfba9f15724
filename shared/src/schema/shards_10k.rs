//! Issue 16: a Distributed Map over 10,000 objects observes each object and
//! `MergeValidation` merges the partial results. The merge must give what one pass over
//! every object gives (the module docs of [`super::stats`]): rows, nulls, null ratios,
//! offending-value counts, min/max and distinct counts exactly (exact below the tracking
//! bound, "more than the bound" past it), in any order and tree shape of the merges; the
//! examples are the first `max_examples` in merge order, so they equal the single pass's
//! when the shards are merged in object order ([`PartialResult::merge_in_object_order`],
//! what `MergeValidation` does) and are genuine offending values otherwise.

use std::collections::{BTreeMap, HashSet};

use super::stats::{Cardinality, ColumnStats, ObjectSummary, PartialResult, SchemaColumn};
use super::values::mix64;

const SHARDS: usize = 10_000;
const MAX_EXAMPLES: usize = 5;
const LIMIT: u64 = 1_000;

/// SplitMix64, deterministic so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// One cell of an object: null, text that is not a number, or a number (out of range
/// above 900).
#[derive(Clone, Copy)]
enum Cell {
    Null,
    Bad(u64),
    Num(i64),
}

/// Columns: `v` (nulls, type errors, out-of-range values; 4,000 possible values, past
/// the distinct bound), `k` (at most 700 distinct values, exact).
struct Object {
    name: String,
    rows: Vec<(Cell, u64)>,
}

fn gen_object(rng: &mut Rng, i: usize) -> Object {
    let rows = (0..rng.below(7))
        .map(|_| {
            let v = match rng.below(25) {
                0 | 1 => Cell::Null,
                2 => Cell::Bad(rng.below(1_000)),
                _ => Cell::Num(rng.below(4_000) as i64 - 3_000),
            };
            (v, rng.below(700))
        })
        .collect();
    Object {
        name: format!("s3://b/data/part-{i:05}.csv"),
        rows,
    }
}

/// Observe `objects` in one pass (the validator's `observe` over a prefix, per cell).
fn observe(objects: &[Object]) -> PartialResult {
    let mut v = ColumnStats::new(LIMIT);
    let mut k = ColumnStats::new(LIMIT);
    let mut summaries = Vec::new();
    let mut rows = 0;
    for o in objects {
        for (row, (cell, key)) in o.rows.iter().enumerate() {
            let row = row as u64 + 1;
            v.rows += 1;
            k.rows += 1;
            match *cell {
                Cell::Null => v.nulls += 1,
                Cell::Bad(b) => v
                    .type_errors
                    .add(MAX_EXAMPLES, &o.name, row, || format!("x{b}")),
                Cell::Num(x) => {
                    v.distinct.insert(mix64(x as u64));
                    if x > 900 {
                        v.out_of_range
                            .add(MAX_EXAMPLES, &o.name, row, || x.to_string());
                    } else {
                        v.observe_number(x as f64);
                    }
                }
            }
            k.distinct.insert(mix64(*key));
            k.observe_number(*key as f64);
        }
        rows += o.rows.len() as u64;
        summaries.push(ObjectSummary {
            object: o.name.clone(),
            format: "csv".into(),
            rows: o.rows.len() as u64,
        });
    }
    PartialResult {
        version: 1,
        contract_fingerprint: "contract".into(),
        rows,
        objects: summaries,
        schema: ["v", "k"]
            .map(|n| SchemaColumn {
                name: n.into(),
                arrow_type: None,
            })
            .to_vec(),
        columns: BTreeMap::from([("v".to_string(), v), ("k".to_string(), k)]),
    }
}

fn tree_merge(parts: &[PartialResult], rng: &mut Rng) -> PartialResult {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let mid = 1 + rng.below(parts.len() as u64 - 1) as usize;
    let (l, r) = parts.split_at(mid);
    let mut acc = tree_merge(l, rng);
    acc.merge(tree_merge(r, rng), MAX_EXAMPLES).unwrap();
    acc
}

fn assert_matches(
    merged: &PartialResult,
    single: &PartialResult,
    genuine: &HashSet<(String, u64, String)>,
) {
    assert_eq!(merged.rows, single.rows);
    assert_eq!(merged.objects.len(), SHARDS);
    let mut objects: Vec<_> = merged.objects.iter().map(|o| &o.object).collect();
    objects.sort();
    let expected: Vec<_> = single.objects.iter().map(|o| &o.object).collect();
    assert_eq!(objects, expected, "every object once");
    for (name, s) in &single.columns {
        let m = &merged.columns[name];
        assert_eq!(
            (m.rows, m.nulls, m.min, m.max),
            (s.rows, s.nulls, s.min, s.max),
            "{name}"
        );
        assert_eq!(m.null_ratio(), s.null_ratio(), "{name}");
        assert_eq!(m.distinct.count(), s.distinct.count(), "{name}");
        for (mc, sc) in [
            (&m.type_errors, &s.type_errors),
            (&m.out_of_range, &s.out_of_range),
            (&m.not_allowed, &s.not_allowed),
        ] {
            assert_eq!(mc.count, sc.count, "{name}");
            assert_eq!(
                mc.examples.len(),
                MAX_EXAMPLES.min(mc.count as usize),
                "{name}"
            );
            for e in &mc.examples {
                assert!(
                    genuine.contains(&(e.object.clone(), e.row, e.value.clone())),
                    "{name}: {e:?} is not an offending value"
                );
            }
        }
    }
}

#[test]
fn ten_thousand_partials_merge_to_the_single_pass_result() {
    let mut rng = Rng(0x7661_6c69_6461_7465);
    let objects: Vec<Object> = (0..SHARDS).map(|i| gen_object(&mut rng, i)).collect();
    let single = observe(&objects);
    // What the generator guarantees the test covers.
    let (v, k) = (&single.columns["v"], &single.columns["k"]);
    assert_eq!(v.distinct.count(), Cardinality::MoreThan(LIMIT));
    assert!(matches!(k.distinct.count(), Cardinality::Exact(n) if n > 600 && n <= 700));
    assert!(v.nulls > 0 && v.type_errors.count > MAX_EXAMPLES as u64);
    assert!(v.out_of_range.count > MAX_EXAMPLES as u64);
    let genuine: HashSet<(String, u64, String)> = objects
        .iter()
        .flat_map(|o| {
            o.rows.iter().enumerate().filter_map(|(row, (cell, _))| {
                let value = match *cell {
                    Cell::Bad(b) => format!("x{b}"),
                    Cell::Num(x) if x > 900 => x.to_string(),
                    _ => return None,
                };
                Some((o.name.clone(), row as u64 + 1, value))
            })
        })
        .collect();

    // Through JSON, as each Distributed Map child writes it under reports/schema-parts/.
    let mut parts: Vec<PartialResult> = objects
        .iter()
        .map(|o| {
            serde_json::from_slice(&serde_json::to_vec(&observe(std::slice::from_ref(o))).unwrap())
                .unwrap()
        })
        .collect();

    // In object order, left to right: equal to the single pass, examples included.
    let mut folded = parts[0].clone();
    for p in &parts[1..] {
        folded.merge(p.clone(), MAX_EXAMPLES).unwrap();
    }
    assert_eq!(folded, single);

    // Random order, left to right; then a random tree over another random order.
    for round in 0..2 {
        for i in (1..parts.len()).rev() {
            parts.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let merged = if round == 0 {
            let mut acc = parts[0].clone();
            for p in &parts[1..] {
                acc.merge(p.clone(), MAX_EXAMPLES).unwrap();
            }
            acc
        } else {
            tree_merge(&parts, &mut rng)
        };
        assert_matches(&merged, &single, &genuine);
    }
    // In whatever order they come (a listing of unpadded part-<index>.json keys is not
    // the objects' order), MergeValidation's merge equals the single pass exactly.
    let merged = PartialResult::merge_in_object_order(parts, MAX_EXAMPLES)
        .unwrap()
        .unwrap();
    assert_eq!(merged, single, "merged in object order, examples included");
}
