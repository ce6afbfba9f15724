use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::{ArrayRef, Float64Array, Int64Array, NullArray, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;

use super::*;

/// A batch with a float column `x`, an int column `k` and a text column `c`.
pub(crate) fn batch(x: &[Option<f64>], k: &[Option<i64>], c: &[Option<&str>]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("k", DataType::Int64, true),
        Field::new("c", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x.to_vec())),
        Arc::new(Int64Array::from(k.to_vec())),
        Arc::new(StringArray::from(c.to_vec())),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

fn profile_of(batches: &[RecordBatch], source: &str, opts: ProfileOptions) -> Profile {
    let mut b = ProfileBuilder::new(opts, source).unwrap();
    for x in batches {
        b.push(x).unwrap();
    }
    b.finish()
}

fn num(p: &Profile, name: &str) -> NumericProfile {
    match &p.feature(name).unwrap().stats {
        FeatureStats::Numeric(n) => n.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn cat(p: &Profile, name: &str) -> CategoricalProfile {
    match &p.feature(name).unwrap().stats {
        FeatureStats::Categorical(c) => c.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn profiles_numeric_and_categorical_columns() {
    let b = batch(
        &[
            Some(1.0),
            Some(f64::NAN),
            None,
            Some(3.0),
            Some(f64::INFINITY),
        ],
        &[Some(1), Some(2), Some(2), None, Some(5)],
        &[Some("a"), Some("b"), Some("a"), None, Some("c")],
    );
    let p = profile_of(&[b], "mem", ProfileOptions::default());
    assert_eq!(p.rows, 5);
    let x = num(&p, "x");
    assert_eq!((x.count, x.nulls, x.infinite), (2, 2, 1));
    assert_eq!((x.min, x.max, x.mean), (Some(1.0), Some(3.0), Some(2.0)));
    assert_eq!(x.std, Some(1.0));
    assert_eq!(x.sample, vec![1.0, 3.0]);
    let k = num(&p, "k");
    assert_eq!((k.count, k.nulls), (4, 1));
    let c = cat(&p, "c");
    assert_eq!(c.count, 4);
    assert_eq!(c.nulls, 1);
    assert_eq!(c.categories.get("a"), Some(&2));
    // Round trip through JSON.
    let back = Profile::from_baseline_json(&p.to_json()).unwrap();
    assert_eq!(back, p);
    // Left for a look (and a JSON Schema check) in the system temp directory.
    let _ = std::fs::write(
        std::env::temp_dir().join("trainguard-profile-example.json"),
        p.to_json(),
    );
}

#[test]
fn categories_past_the_limit_go_to_other() {
    let names: Vec<String> = (0..30).map(|i| format!("v{i:02}")).collect();
    // v00 appears 30 times, v01 29 times, ...: the top 5 are v00..v04.
    let mut vals = Vec::new();
    for (i, n) in names.iter().enumerate() {
        for _ in 0..(30 - i) {
            vals.push(Some(n.as_str()));
        }
    }
    let xs = vec![Some(0.0); vals.len()];
    let ks = vec![Some(0); vals.len()];
    let p = profile_of(
        &[batch(&xs, &ks, &vals)],
        "m",
        ProfileOptions {
            sample_size: 10,
            max_categories: 5,
        },
    );
    let c = cat(&p, "c");
    assert_eq!(
        c.categories.keys().cloned().collect::<Vec<_>>(),
        vec!["v00", "v01", "v02", "v03", "v04"]
    );
    assert_eq!(
        c.other,
        (0..30).map(|i| 30 - i).sum::<u64>() - (30 + 29 + 28 + 27 + 26)
    );
}

#[test]
fn corrupt_and_foreign_documents_are_refused_with_names() {
    use crate::ErrorName;
    for (bad, needle) in [
        (&b"{not json"[..], "not valid JSON"),
        (
            &br#"{"version": 2, "kind": "trainguard.profile"}"#[..],
            "version 2",
        ),
        (&br#"{"kind": "x"}"#[..], "no \"version\""),
        (
            &br#"{"version": 1, "kind": "trainguard.profile", "rows": 1}"#[..],
            "does not match",
        ),
    ] {
        let e = Profile::from_baseline_json(bad).unwrap_err();
        assert_eq!(e.error_name(), "DataError.InvalidBaseline");
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A sample that is not sorted violates the invariants.
    let mut p = profile_of(
        &[batch(
            &[Some(2.0), Some(1.0)],
            &[Some(1), Some(2)],
            &[Some("a"), Some("b")],
        )],
        "m",
        ProfileOptions::default(),
    );
    if let FeatureStats::Numeric(n) = &mut p.features[0].stats {
        n.sample = vec![2.0, 1.0];
    }
    let e = Profile::from_profile_json(&p.to_json()).unwrap_err();
    assert_eq!(e.error_name(), "DataError.InvalidProfile");
}

#[test]
fn column_changing_type_is_a_type_conflict() {
    use crate::ErrorName;
    let mut b = ProfileBuilder::new(ProfileOptions::default(), "m").unwrap();
    b.push(&batch(&[Some(1.0)], &[Some(1)], &[Some("a")]))
        .unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
    let other = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec!["q"])) as ArrayRef],
    )
    .unwrap();
    let e = b.push(&other).unwrap_err();
    assert_eq!(e.error_name(), "DataError.TypeConflict");
}

#[test]
fn null_typed_column_then_text_becomes_categorical() {
    let s1 = Arc::new(Schema::new(vec![Field::new("z", DataType::Null, true)]));
    let b1 = RecordBatch::try_new(s1, vec![Arc::new(NullArray::new(3)) as ArrayRef]).unwrap();
    let s2 = Arc::new(Schema::new(vec![Field::new("z", DataType::Utf8, true)]));
    let b2 = RecordBatch::try_new(
        s2,
        vec![Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef],
    )
    .unwrap();
    let p = profile_of(&[b1, b2], "m", ProfileOptions::default());
    let c = cat(&p, "z");
    assert_eq!((c.count, c.nulls), (1, 4));
}

#[test]
fn against_counts_place_values_on_and_between_sample_points() {
    let base = profile_of(
        &[batch(
            &[Some(1.0), Some(2.0), Some(2.0), Some(4.0)],
            &[None; 4],
            &[None; 4],
        )],
        "b",
        ProfileOptions::default(),
    );
    let cur = {
        let mut b = ProfileBuilder::new(ProfileOptions::default(), "c")
            .unwrap()
            .against(&base);
        b.push(&batch(
            &[
                Some(0.0),
                Some(1.0),
                Some(1.5),
                Some(2.0),
                Some(3.0),
                Some(9.0),
                Some(9.0),
            ],
            &[None; 7],
            &[None; 7],
        ))
        .unwrap();
        b.finish()
    };
    let a = num(&cur, "x").against.unwrap();
    // distinct baseline values 1, 2, 4
    assert_eq!(a.equal, vec![1, 1, 0]);
    assert_eq!(a.between, vec![1, 1, 1, 2]);
}

fn arb_rows() -> impl Strategy<Value = Vec<(Option<f64>, Option<i64>, Option<String>)>> {
    let x = prop_oneof![
        3 => (-1000i32..1000).prop_map(|v| Some(v as f64 / 8.0)),
        1 => Just(None),
        1 => Just(Some(f64::NAN)),
    ];
    let k = prop_oneof![4 => (0i64..20).prop_map(Some), 1 => Just(None)];
    let c = prop_oneof![4 => "[a-e]".prop_map(Some), 1 => Just(None)];
    prop::collection::vec((x, k, c), 0..300)
}

fn to_batch(rows: &[(Option<f64>, Option<i64>, Option<String>)]) -> RecordBatch {
    let x: Vec<Option<f64>> = rows.iter().map(|r| r.0).collect();
    let k: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
    let c: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
    batch(&x, &k, &c)
}

fn assert_exact_parts_equal(m: &Profile, whole: &Profile) {
    assert_eq!(m.rows, whole.rows);
    for f in &whole.features {
        let g = m.feature(&f.name).unwrap();
        match (&f.stats, &g.stats) {
            (FeatureStats::Numeric(w), FeatureStats::Numeric(x)) => {
                assert_eq!(
                    (x.count, x.nulls, x.infinite, x.min, x.max),
                    (w.count, w.nulls, w.infinite, w.min, w.max),
                    "{}",
                    f.name
                );
                assert_eq!(x.sample.len(), w.sample.len(), "{}", f.name);
                match (x.mean, w.mean) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}")
                    }
                    (a, b) => assert_eq!(a, b),
                }
                match (x.std, w.std) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}")
                    }
                    (a, b) => assert_eq!(a, b),
                }
                assert_eq!(
                    x.against.as_ref().map(|a| (&a.equal, &a.between)),
                    w.against.as_ref().map(|a| (&a.equal, &a.between))
                );
            }
            (FeatureStats::Categorical(w), FeatureStats::Categorical(x)) => {
                assert_eq!(x, w, "{}", f.name)
            }
            (a, b) => panic!("type mismatch {a:?} {b:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// merge(profile(a), profile(b)) == profile(a ++ b) on the exact parts, and the merged
    /// sample is drawn from a ∪ b.
    #[test]
    fn merge_equals_profile_of_concatenation(a in arb_rows(), b in arb_rows(), with_base in any::<bool>()) {
        let opts = ProfileOptions { sample_size: 16, max_categories: 10 };
        let base = profile_of(&[to_batch(&[(Some(0.5), Some(3), Some("a".into())), (Some(2.0), Some(7), None)])], "base", opts);
        let build = |rows: &[(Option<f64>, Option<i64>, Option<String>)], src: &str| {
            let mut bld = ProfileBuilder::new(opts, src).unwrap();
            if with_base { bld = bld.against(&base); }
            bld.push(&to_batch(rows)).unwrap();
            bld.finish()
        };
        let pa = build(&a, "shard-a");
        let pb = build(&b, "shard-b");
        let whole = {
            let mut all = a.clone();
            all.extend(b.iter().cloned());
            build(&all, "whole")
        };
        let merged = pa.merge(&pb).unwrap();
        assert_exact_parts_equal(&merged, &whole);
        // Every sampled value comes from one of the shards.
        for f in &merged.features {
            if let FeatureStats::Numeric(n) = &f.stats {
                let pool: Vec<f64> = a.iter().chain(b.iter()).filter_map(|r| if f.name == "x" { r.0 } else { r.1.map(|v| v as f64) }).filter(|v| v.is_finite()).collect();
                for v in &n.sample {
                    prop_assert!(pool.contains(v), "{} not in the data", v);
                }
            }
        }
        // The merge survives a JSON round trip (serde_json's default float parser may
        // return 17-digit values 1 ulp off, so the exact parts are compared).
        assert_exact_parts_equal(&Profile::from_profile_json(&merged.to_json()).unwrap(), &merged);
    }
}
