use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::{ArrayRef, Float64Array, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::drift::correction::Correction;
use crate::drift::ks::Alternative;
use crate::profile::{ProfileBuilder, ProfileOptions};

fn numeric_batch(cols: &[(&str, Vec<Option<f64>>)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, _)| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = cols
        .iter()
        .map(|(_, v)| Arc::new(Float64Array::from(v.clone())) as ArrayRef)
        .collect();
    RecordBatch::try_new(schema, arrays).unwrap()
}

fn text_batch(name: &str, v: Vec<Option<&str>>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(v)) as ArrayRef]).unwrap()
}

fn build(
    batches: &[RecordBatch],
    source: &str,
    baseline: Option<&Profile>,
    opts: ProfileOptions,
) -> Profile {
    let mut b = ProfileBuilder::new(opts, source).unwrap();
    if let Some(base) = baseline {
        b = b.against(base);
    }
    for x in batches {
        b.push(x).unwrap();
    }
    b.finish()
}

fn normals(rng: &mut StdRng, n: usize, mean: f64) -> Vec<Option<f64>> {
    (0..n)
        .map(|_| {
            // Box-Muller: enough for tests, no extra dependency.
            let u1: f64 = 1.0 - rng.gen::<f64>();
            let u2: f64 = rng.gen();
            Some(mean + (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos())
        })
        .collect()
}

#[test]
fn sample_vs_all_statistic_equals_ks_2samp_on_the_full_data() {
    let mut rng = StdRng::seed_from_u64(5);
    // Heavy ties: values on a 0.25 grid.
    let grid = |rng: &mut StdRng, n: usize, shift: i32| -> Vec<Option<f64>> {
        (0..n)
            .map(|_| Some(f64::from(rng.gen_range(0..40) + shift) / 4.0))
            .collect()
    };
    let opts = ProfileOptions {
        sample_size: 64,
        max_categories: 10,
    };
    let base = build(
        &[numeric_batch(&[("x", grid(&mut rng, 500, 0))])],
        "b",
        None,
        opts,
    );
    let cur_vals = grid(&mut rng, 3000, 3);
    let cur = build(
        &[numeric_batch(&[("x", cur_vals.clone())])],
        "c",
        Some(&base),
        opts,
    );
    let (FeatureStats::Numeric(b), FeatureStats::Numeric(c)) =
        (&base.features[0].stats, &cur.features[0].stats)
    else {
        panic!()
    };
    let a = c.against.as_ref().unwrap();
    let (ext, n1, n2) = extremes_against(&b.sample, &a.equal, &a.between).unwrap();
    let mut all: Vec<f64> = cur_vals.iter().map(|v| v.unwrap()).collect();
    all.sort_by(f64::total_cmp);
    let direct = ks::extremes_sorted(&b.sample, &all);
    assert_eq!((n1, n2), (64, 3000));
    assert_eq!(ext.max_s, direct.max_s);
    assert_eq!(ext.min_s, direct.min_s);
}

#[test]
fn shifted_numeric_feature_drifts_and_stable_one_does_not() {
    let mut rng = StdRng::seed_from_u64(11);
    let opts = ProfileOptions::default();
    let base = build(
        &[numeric_batch(&[
            ("a", normals(&mut rng, 20_000, 0.0)),
            ("b", normals(&mut rng, 20_000, 0.0)),
        ])],
        "b",
        None,
        opts,
    );
    let cur = build(
        &[numeric_batch(&[
            ("a", normals(&mut rng, 20_000, 1.0)),
            ("b", normals(&mut rng, 20_000, 0.0)),
        ])],
        "c",
        Some(&base),
        opts,
    );
    let cfg = DriftConfig {
        critical: vec!["a".into()],
        ..Default::default()
    };
    let rep = check(&base, &cur, &cfg).unwrap();
    let a = &rep.features[0];
    assert_eq!(a.compared.as_deref(), Some("sample-vs-all"));
    assert_eq!((a.n_baseline, a.n_current), (Some(2048), Some(20_000)));
    assert!(a.drifted && a.significant, "{a:?}");
    assert!(a.effect.as_ref().unwrap().value.unwrap() > 0.8);
    assert!(!rep.features[1].drifted, "{:?}", rep.features[1]);
    assert!(rep.verdict.drift_detected);
    assert_eq!(rep.verdict.critical_drifted, vec!["a".to_string()]);
    assert_eq!(rep.verdict.drifted_count, 1);
    // Without the critical mark, 1 of 2 features drifting meets the 0.5 share.
    let rep = check(
        &base,
        &cur,
        &DriftConfig {
            share_threshold: 0.6,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!rep.verdict.drift_detected);
}

#[test]
fn tiny_shift_at_scale_is_significant_but_gated_by_effect_size() {
    let mut rng = StdRng::seed_from_u64(3);
    let opts = ProfileOptions {
        sample_size: 50_000,
        max_categories: 10,
    };
    let base = build(
        &[numeric_batch(&[("x", normals(&mut rng, 100_000, 0.0))])],
        "b",
        None,
        opts,
    );
    let cur = build(
        &[numeric_batch(&[("x", normals(&mut rng, 100_000, 0.05))])],
        "c",
        Some(&base),
        opts,
    );
    let rep = check(&base, &cur, &DriftConfig::default()).unwrap();
    let f = &rep.features[0];
    assert!(f.significant, "{f:?}");
    assert!(!f.drifted, "a 0.05 sd shift is below the 0.1 gate: {f:?}");
    let rep = check(
        &base,
        &cur,
        &DriftConfig {
            numeric_effect: Effect::None,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(rep.features[0].drifted);
}

#[test]
fn categorical_new_and_vanished_categories_are_explicit() {
    let opts = ProfileOptions::default();
    let base = build(
        &[text_batch(
            "c",
            [vec![Some("a"); 500], vec![Some("b"); 500]].concat(),
        )],
        "b",
        None,
        opts,
    );
    let cur = build(
        &[text_batch(
            "c",
            [vec![Some("a"); 400], vec![Some("z"); 600]].concat(),
        )],
        "c",
        Some(&base),
        opts,
    );
    let rep = check(&base, &cur, &DriftConfig::default()).unwrap();
    let f = &rep.features[0];
    assert_eq!(f.test.as_deref(), Some("chi-square"));
    assert_eq!(f.new_categories, vec!["z".to_string()]);
    assert!(f.statistic.unwrap().is_infinite());
    assert_eq!(f.pvalue, Some(0.0));
    assert!(f.drifted);
    assert!(f
        .categories
        .iter()
        .any(|r| r.category == "b" && r.baseline == 500 && r.current == 0));
    // Serialises (the infinite statistic becomes null).
    let json = String::from_utf8(rep.to_json()).unwrap();
    assert!(json.contains("\"statistic\": null"));
}

#[test]
fn missing_all_null_constant_and_empty_features_have_documented_results() {
    let opts = ProfileOptions::default();
    let n = 200;
    let base = build(
        &[numeric_batch(&[
            ("gone", vec![Some(1.0); n]),
            ("nulls", (0..n).map(|i| Some(i as f64)).collect()),
            ("constant", vec![Some(7.0); n]),
            ("moved_constant", vec![Some(7.0); n]),
            ("empty", vec![None; n]),
        ])],
        "b",
        None,
        opts,
    );
    let cur = build(
        &[numeric_batch(&[
            ("nulls", vec![None; n]),
            ("constant", vec![Some(7.0); n]),
            ("moved_constant", vec![Some(8.0); n]),
            ("empty", vec![None; n]),
            ("extra", vec![Some(1.0); n]),
        ])],
        "c",
        Some(&base),
        opts,
    );
    let rep = check(&base, &cur, &DriftConfig::default()).unwrap();
    let by = |name: &str| rep.features.iter().find(|f| f.name == name).unwrap();
    assert_eq!(by("gone").status, Status::Missing);
    assert!(by("gone").drifted);
    assert_eq!(by("nulls").status, Status::AllNull);
    assert!(by("nulls").drifted);
    assert_eq!(by("constant").status, Status::Tested);
    assert_eq!(by("constant").statistic, Some(0.0));
    assert!(!by("constant").drifted);
    assert_eq!(by("moved_constant").statistic, Some(1.0));
    assert!(by("moved_constant").drifted, "{:?}", by("moved_constant"));
    assert_eq!(by("empty").status, Status::Empty);
    assert_eq!(rep.verdict.missing_features, vec!["gone".to_string()]);
    assert_eq!(rep.verdict.new_features, vec!["extra".to_string()]);
    assert_eq!(rep.verdict.features_checked, 4);
    // Not counting missing features.
    let rep = check(
        &base,
        &cur,
        &DriftConfig {
            missing_is_drift: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rep.verdict.features_checked, 3);
}

#[test]
fn empty_current_data_and_bad_config_are_errors() {
    use crate::ErrorName;
    let opts = ProfileOptions::default();
    let base = build(
        &[numeric_batch(&[("x", vec![Some(1.0), Some(2.0)])])],
        "b",
        None,
        opts,
    );
    let empty = build(&[numeric_batch(&[("x", vec![])])], "c", None, opts);
    assert_eq!(
        check(&base, &empty, &DriftConfig::default())
            .unwrap_err()
            .error_name(),
        "DataError.EmptyDataset"
    );
    let e = check(
        &base,
        &base,
        &DriftConfig {
            alpha: 1.5,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.error_name(), "InputError.InvalidDriftConfig");
    let cfg: Result<DriftConfig, _> = serde_json::from_str(
        r#"{"alpha": 0.01, "numeric_effect": "ks_d", "features": {"x": {"threshold": 0.2, "critical": true}}}"#,
    );
    let cfg = cfg.unwrap();
    assert!(cfg.is_critical("x"));
    assert!(serde_json::from_str::<DriftConfig>(r#"{"alpah": 0.01}"#).is_err());
}

/// The false-alarm rate at a million rows: identically distributed baseline and current
/// data, 1,000,000 rows each, through the real builder (reservoir, against-baseline counts)
/// and the real check, over many seeds. At α = 0.05 the number of false alarms out of 40
/// runs is Binomial(40, 0.05) if the test is calibrated (mean 2; P(X >= 7) < 0.004).
///
/// The same data also shows why the sample's size must be the n of the test: pretending the
/// baseline sample stood for all 1,000,000 baseline rows (what a sketch-as-data KS does)
/// makes most runs false alarms, so this test fails for that mistake.
#[test]
fn false_alarm_rate_at_a_million_rows_stays_at_alpha() {
    const ROWS: usize = 1_000_000;
    const SEEDS: u64 = 40;
    const BATCH: usize = 1 << 16;
    let opts = ProfileOptions::default();
    let uniform_batches = |rng: &mut StdRng| -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut left = ROWS;
        while left > 0 {
            let n = left.min(BATCH);
            let v: Vec<f64> = (0..n).map(|_| rng.gen::<f64>()).collect();
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
            out.push(
                RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(v)) as ArrayRef])
                    .unwrap(),
            );
            left -= n;
        }
        out
    };
    let cfg = DriftConfig {
        correction: Correction::None,
        numeric_effect: Effect::None,
        ..Default::default()
    };
    let (mut alarms, mut naive_alarms) = (0, 0);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let base = build(
            &uniform_batches(&mut rng),
            &format!("base-{seed}"),
            None,
            opts,
        );
        let cur = build(
            &uniform_batches(&mut rng),
            &format!("cur-{seed}"),
            Some(&base),
            opts,
        );
        let rep = check(&base, &cur, &cfg).unwrap();
        let f = &rep.features[0];
        assert_eq!(f.compared.as_deref(), Some("sample-vs-all"));
        assert_eq!((f.n_baseline, f.n_current), (Some(2048), Some(ROWS as u64)));
        if f.drifted {
            alarms += 1;
        }
        let naive = ks::ks_pvalue(
            f.statistic.unwrap(),
            1,
            ROWS as u64,
            ROWS as u64,
            Alternative::TwoSided,
            Method::Auto,
        );
        if naive.pvalue < 0.05 {
            naive_alarms += 1;
        }
    }
    assert!(
        alarms <= 6,
        "{alarms} false alarms in {SEEDS} runs at alpha 0.05"
    );
    assert!(
        naive_alarms >= 30,
        "treating the sample as 1M rows should false-alarm; got {naive_alarms}"
    );
}

/// Calibration of the p-values themselves over many more runs: the baseline's sample of
/// 2,048 against 20,000 current values (the asymptotic regime), uniform data. Under the
/// null the share of p-values below α is α (Binomial(2000, α) bounds at ~4.5 sd).
#[test]
fn sample_based_p_values_are_calibrated() {
    let mut rng = StdRng::seed_from_u64(77);
    let runs = 2000;
    let (mut below05, mut below20) = (0, 0);
    for _ in 0..runs {
        let mut a: Vec<f64> = (0..2048).map(|_| rng.gen::<f64>()).collect();
        let mut b: Vec<f64> = (0..20_000).map(|_| rng.gen::<f64>()).collect();
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let r = ks::ks_2samp_sorted(&a, &b, Alternative::TwoSided, Method::Auto).unwrap();
        assert_eq!(r.method, Method::Asymp);
        if r.pvalue < 0.05 {
            below05 += 1;
        }
        if r.pvalue < 0.20 {
            below20 += 1;
        }
    }
    // 0.05 * 2000 = 100 ± 9.7; 0.2 * 2000 = 400 ± 17.9
    assert!((55..=145).contains(&below05), "{below05}");
    assert!((320..=480).contains(&below20), "{below20}");
}
