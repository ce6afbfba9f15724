//! Every routing rule of the gate, and the report checks (pure; no AWS).

use serde_json::{json, Value};

use super::gate::{relative_change, Band, Baseline, Dimension, Route, Status};
use super::policy::{GatePolicy, GatePolicyRequest};
use super::report::{Goal, Report};
use super::{decide, EvaluationError};
use crate::error::ErrorName;

const OBJ: &str = "accuracy";

/// A report: accuracy/f1 (maximize) and log_loss (minimize), two slices, latency, size
/// and ten features f0..f9.
fn report(acc: f64, f1: f64, loss: f64, slices: (f64, f64), p99: f64) -> Value {
    json!({
        "schema_version": 1,
        "overall": {
            "accuracy": {"value": acc, "goal": "maximize"},
            "f1": {"value": f1, "goal": "maximize"},
            "log_loss": {"value": loss, "goal": "minimize"}
        },
        "segments": {
            "sex=female": {"rows": 100, "metrics": {"accuracy": slices.0}},
            "sex=male": {"rows": 120, "metrics": {"accuracy": slices.1}}
        },
        "latency_ms": {"p50": p99 / 4.0, "p95": p99 / 2.0, "p99": p99},
        "size": {"artifact_bytes": 1000, "memory_bytes": 4000},
        "feature_importance": (0..10).map(|i| json!({"feature": format!("f{i}"), "importance": 1.0 / (i as f64 + 1.0)})).collect::<Vec<_>>()
    })
}

fn parse(v: &Value) -> Report {
    Report::parse(v).unwrap()
}

fn policy() -> GatePolicy {
    GatePolicy {
        latency_p99_ms: Some(100.0),
        max_artifact_bytes: Some(10_000.0),
        max_memory_bytes: Some(8_000.0),
        ..GatePolicy::default()
    }
}

fn base() -> Baseline {
    Baseline::Report {
        package: "arn:aws:sagemaker:us-east-1:1:model-package/g/1".into(),
        report: Box::new(parse(&report(0.90, 0.88, 0.30, (0.89, 0.91), 50.0))),
    }
}

const PASS_FLOOR: (Route, &str) = (Route::Auto, "objective meets the promote threshold");

fn run(cand: &Value, baseline: &Baseline) -> super::Verdict {
    run_with(cand, baseline, &policy(), false)
}

fn run_with(cand: &Value, baseline: &Baseline, p: &GatePolicy, drift: bool) -> super::Verdict {
    decide(
        &parse(cand),
        OBJ,
        Goal::Maximize,
        baseline,
        p,
        (PASS_FLOOR.0, PASS_FLOOR.1.into()),
        drift,
    )
    .unwrap()
}

fn row<'a>(
    v: &'a super::Verdict,
    dim: Dimension,
    name: &str,
    slice: Option<&str>,
) -> &'a super::Row {
    v.rows
        .iter()
        .find(|r| r.dimension == dim && r.name == name && r.slice.as_deref() == slice)
        .unwrap_or_else(|| panic!("no row {dim:?} {name} {slice:?} in {:#?}", v.rows))
}

#[test]
fn relative_change_follows_the_goal() {
    assert!((relative_change(Goal::Maximize, 0.88, 0.90) + 0.0222).abs() < 1e-3);
    assert!((relative_change(Goal::Minimize, 0.33, 0.30) + 0.1).abs() < 1e-9);
    assert!((relative_change(Goal::Minimize, 0.27, 0.30) - 0.1).abs() < 1e-9);
    // No scale at 0: the absolute difference.
    assert_eq!(relative_change(Goal::Maximize, 0.5, 0.0), 0.5);
}

#[test]
fn every_row_improved_and_no_limit_broken_promotes() {
    let v = run(&report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0), &base());
    assert_eq!(v.route, Route::Auto, "{}", v.reason);
    assert_eq!(v.band, Band::Improved);
    assert_eq!(v.failed, 0);
    // 3 overall + 2 segment + 1 fairness + 1 importance rows compared.
    assert_eq!(v.passed, 7, "{:#?}", v.rows);
    let acc = row(&v, Dimension::Overall, "accuracy", None);
    assert_eq!(acc.status, Status::Improved);
    assert!((acc.change.unwrap() - (0.92 - 0.90) / 0.90).abs() < 1e-12);
    assert_eq!(
        row(&v, Dimension::Latency, "p99_ms", None).status,
        Status::WithinLimit
    );
    assert_eq!(
        row(&v, Dimension::Latency, "p50_ms", None).status,
        Status::Info
    );
    assert_eq!(
        v.baseline_package.as_deref(),
        Some("arn:aws:sagemaker:us-east-1:1:model-package/g/1")
    );
}

#[test]
fn drops_within_tolerance_pass_but_auto_needs_the_objective_at_least_the_baselines() {
    // f1 1.1 % worse (< 2 %), slices within 5 %: every row passes, objective equal.
    let v = run(&report(0.90, 0.87, 0.30, (0.89, 0.91), 60.0), &base());
    assert_eq!(row(&v, Dimension::Overall, "f1", None).status, Status::Held);
    assert_eq!(v.route, Route::Auto, "{}", v.reason);
    assert_eq!(v.band, Band::WithinTolerance);
    // The objective 1.1 % worse: every row passes, but production is better on what the
    // pipeline optimises, so a person decides.
    let v = run(&report(0.89, 0.90, 0.28, (0.89, 0.91), 60.0), &base());
    assert_eq!(v.failed, 0);
    assert_eq!(
        (v.route, v.band),
        (Route::Human, Band::WithinTolerance),
        "{}",
        v.reason
    );
    assert!(v.reason.contains("accuracy -1.1 %"), "{}", v.reason);
}

#[test]
fn mixed_rows_go_to_a_person_with_the_rows_that_failed() {
    // Overall better, but the female slice drops 6.7 % (> 5 %) and the gap widens.
    let v = run(&report(0.91, 0.90, 0.28, (0.83, 0.95), 60.0), &base());
    assert_eq!(v.route, Route::Human, "{}", v.reason);
    let seg = row(&v, Dimension::Segment, "accuracy", Some("sex=female"));
    assert_eq!((seg.status, seg.passed), (Status::Degraded, Some(false)));
    assert_eq!(
        row(&v, Dimension::Segment, "accuracy", Some("sex=male")).status,
        Status::Improved
    );
    let gap = row(&v, Dimension::Fairness, "accuracy gap", None);
    assert_eq!(gap.status, Status::Degraded);
    assert!(
        (gap.candidate.unwrap() - 0.12).abs() < 1e-9 && (gap.baseline.unwrap() - 0.02).abs() < 1e-9
    );
    assert_eq!(v.failed, 2);
    assert!(
        v.reason.contains("2 of 7 compared rows failed") && v.reason.contains("[sex=female]"),
        "{}",
        v.reason
    );
    // An overall drop of more than 2 % on a metric that is not the objective: mixed too.
    let v = run(&report(0.91, 0.85, 0.28, (0.90, 0.92), 60.0), &base());
    assert_eq!(
        row(&v, Dimension::Overall, "f1", None).status,
        Status::Degraded
    );
    assert_eq!(v.route, Route::Human);
}

#[test]
fn all_degraded_is_rejected() {
    // Everything worse beyond tolerance, objective only 3.3 % down (the "below" band).
    let mut c = report(0.87, 0.80, 0.40, (0.78, 0.83), 60.0);
    c["feature_importance"] = json!((10..20)
        .map(|i| json!({"feature": format!("f{i}"), "importance": 1.0}))
        .collect::<Vec<_>>());
    let v = run(&c, &base());
    assert_eq!(v.band, Band::Below);
    assert_eq!(v.passed, 0, "{:#?}", v.rows);
    assert_eq!(v.route, Route::Reject, "{}", v.reason);
    assert!(
        v.reason.contains("every compared row degraded"),
        "{}",
        v.reason
    );
}

#[test]
fn far_below_the_baseline_is_rejected_whatever_else_improved() {
    // Objective 11 % down; f1 and loss better.
    let v = run(&report(0.80, 0.95, 0.20, (0.89, 0.91), 60.0), &base());
    assert_eq!(
        (v.route, v.band),
        (Route::Reject, Band::FarBelow),
        "{}",
        v.reason
    );
    assert!(v.reason.contains("far-below"), "{}", v.reason);
    // 5 % down: below, not far below, and the other rows passed: a person decides.
    let v = run(&report(0.855, 0.95, 0.20, (0.89, 0.91), 60.0), &base());
    assert_eq!(
        (v.route, v.band),
        (Route::Human, Band::Below),
        "{}",
        v.reason
    );
}

#[test]
fn a_hard_limit_broken_rejects_an_otherwise_better_model() {
    let v = run(&report(0.95, 0.95, 0.20, (0.94, 0.96), 150.0), &base());
    let p99 = row(&v, Dimension::Latency, "p99_ms", None);
    assert_eq!(
        (p99.status, p99.hard, p99.limit),
        (Status::OverLimit, true, Some(100.0))
    );
    assert_eq!(v.route, Route::Reject);
    assert!(
        v.reason.contains("hard limit broken: p99_ms 150 > 100"),
        "{}",
        v.reason
    );
    // Memory above the instance's capacity, with no baseline at all.
    let mut c = report(0.95, 0.95, 0.20, (0.94, 0.96), 60.0);
    c["size"]["memory_bytes"] = json!(9000);
    let v = run(&c, &Baseline::None);
    assert_eq!(
        row(&v, Dimension::Size, "memory_bytes", None).status,
        Status::OverLimit
    );
    assert_eq!(v.route, Route::Reject, "{}", v.reason);
}

#[test]
fn a_limit_that_is_set_but_not_measured_keeps_a_person_in_the_loop() {
    let mut c = report(0.95, 0.95, 0.20, (0.94, 0.96), 60.0);
    c.as_object_mut().unwrap().remove("latency_ms");
    let v = run(&c, &base());
    assert_eq!(
        row(&v, Dimension::Latency, "p99_ms", None).status,
        Status::Unmeasured
    );
    assert_eq!(v.route, Route::Human, "{}", v.reason);
    assert!(v.reason.contains("not measured: p99_ms"), "{}", v.reason);
    // No limit set: the P99 row is shown beside the baseline's, not judged.
    let v = run_with(
        &report(0.95, 0.95, 0.20, (0.94, 0.96), 500.0),
        &base(),
        &GatePolicy::default(),
        false,
    );
    assert_eq!(
        row(&v, Dimension::Latency, "p99_ms", None).status,
        Status::Info
    );
    assert_eq!(v.route, Route::Auto);
}

#[test]
fn the_first_model_is_decided_by_the_absolute_thresholds() {
    let c = report(0.95, 0.95, 0.20, (0.94, 0.96), 60.0);
    let p = policy();
    for floor in [Route::Auto, Route::Human, Route::Reject] {
        let v = decide(
            &parse(&c),
            OBJ,
            Goal::Maximize,
            &Baseline::None,
            &p,
            (floor, "absolute".into()),
            false,
        )
        .unwrap();
        assert_eq!((v.route, v.band), (floor, Band::FirstModel));
        assert!(
            v.reason.contains("first model") && v.reason.contains("absolute"),
            "{}",
            v.reason
        );
        // Only the limit rows: nothing to compare with.
        assert!(v
            .rows
            .iter()
            .all(|r| matches!(r.dimension, Dimension::Latency | Dimension::Size)));
    }
}

#[test]
fn an_unusable_baseline_report_is_a_failed_row_and_at_most_human() {
    let b = Baseline::Unusable {
        package: "arn:p/1".into(),
        why: "NoSuchKey".into(),
    };
    let v = run(&report(0.95, 0.95, 0.20, (0.94, 0.96), 60.0), &b);
    assert_eq!(
        (v.route, v.band),
        (Route::Human, Band::BaselineUnusable),
        "{}",
        v.reason
    );
    let r = v
        .rows
        .iter()
        .find(|r| r.dimension == Dimension::Baseline)
        .unwrap();
    assert_eq!(r.passed, Some(false));
    assert!(r.name.contains("NoSuchKey"));
    // A baseline report without the pipeline's objective cannot place the candidate either.
    let mut old = report(0.90, 0.88, 0.30, (0.89, 0.91), 50.0);
    old["overall"].as_object_mut().unwrap().remove("accuracy");
    old["segments"] = json!({});
    let b = Baseline::Report {
        package: "arn:p/2".into(),
        report: Box::new(parse(&old)),
    };
    let v = run(&report(0.95, 0.95, 0.20, (0.94, 0.96), 60.0), &b);
    assert_eq!(
        (v.route, v.band),
        (Route::Human, Band::BaselineUnusable),
        "{}",
        v.reason
    );
}

#[test]
fn missing_metrics_and_slices_fail_and_new_ones_are_not_a_silent_pass() {
    // The candidate stopped reporting f1 and the male slice.
    let mut c = report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0);
    c["overall"].as_object_mut().unwrap().remove("f1");
    c["segments"].as_object_mut().unwrap().remove("sex=male");
    let v = run(&c, &base());
    assert_eq!(
        row(&v, Dimension::Overall, "f1", None).status,
        Status::Missing
    );
    assert_eq!(
        row(&v, Dimension::Segment, "accuracy", Some("sex=male")).status,
        Status::Missing
    );
    assert_eq!(v.route, Route::Human, "{}", v.reason);
    // A slice and a metric production never reported: shown as new, and no auto-promote.
    let mut c = report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0);
    c["overall"]["auc"] = json!({"value": 0.97, "goal": "maximize"});
    c["segments"]["age<25"] = json!({"metrics": {"accuracy": 0.5}});
    let v = run(&c, &base());
    assert_eq!(
        row(&v, Dimension::Segment, "accuracy", Some("age<25")).status,
        Status::New
    );
    assert_eq!(row(&v, Dimension::Overall, "auc", None).passed, None);
    assert_eq!(v.route, Route::Human, "{}", v.reason);
    assert!(
        v.reason
            .contains("not compared: auc new, accuracy [age<25] new"),
        "{}",
        v.reason
    );
    assert_eq!(v.not_compared, 2);
}

#[test]
fn the_top_features_must_overlap() {
    let mut c = report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0);
    // 6 of 10 shared: Jaccard 6/14 = 0.43 < 0.5.
    c["feature_importance"] = json!((4..14)
        .map(|i| json!({"feature": format!("f{i}"), "importance": 1.0}))
        .collect::<Vec<_>>());
    let v = run(&c, &base());
    let r = row(&v, Dimension::Importance, "top-10 overlap", None);
    assert!((r.candidate.unwrap() - 6.0 / 14.0).abs() < 1e-12);
    assert_eq!(r.status, Status::Degraded);
    assert_eq!(v.route, Route::Human);
    // 7 of 10: 7/13 = 0.54, passes.
    c["feature_importance"] = json!((3..13)
        .map(|i| json!({"feature": format!("f{i}"), "importance": 1.0}))
        .collect::<Vec<_>>());
    let v = run(&c, &base());
    assert_eq!(
        row(&v, Dimension::Importance, "top-10 overlap", None).status,
        Status::Held
    );
    assert_eq!(v.route, Route::Auto, "{}", v.reason);
}

#[test]
fn the_absolute_thresholds_and_drift_still_cap_a_better_model() {
    let c = parse(&report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0));
    let p = policy();
    let v = decide(
        &c,
        OBJ,
        Goal::Maximize,
        &base(),
        &p,
        (Route::Human, "in the review band".into()),
        false,
    )
    .unwrap();
    assert_eq!(v.route, Route::Human);
    assert!(v.reason.contains("but in the review band"), "{}", v.reason);
    let v = decide(
        &c,
        OBJ,
        Goal::Maximize,
        &base(),
        &p,
        (Route::Reject, "misses review".into()),
        false,
    )
    .unwrap();
    assert_eq!(v.route, Route::Reject);
    let v = run_with(
        &report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0),
        &base(),
        &p,
        true,
    );
    assert_eq!(v.route, Route::Human);
    assert!(v.reason.contains("drift"), "{}", v.reason);
}

#[test]
fn a_minimised_objective_reads_the_other_way() {
    let c = parse(&report(0.92, 0.90, 0.25, (0.91, 0.93), 60.0));
    let v = decide(
        &c,
        "log_loss",
        Goal::Minimize,
        &base(),
        &policy(),
        (Route::Auto, String::new()),
        false,
    )
    .unwrap();
    assert_eq!((v.route, v.band), (Route::Auto, Band::Improved));
    // 0.34 against 0.30 is 13 % worse: far below.
    let c = parse(&report(0.92, 0.90, 0.34, (0.91, 0.93), 60.0));
    let v = decide(
        &c,
        "log_loss",
        Goal::Minimize,
        &base(),
        &policy(),
        (Route::Auto, String::new()),
        false,
    )
    .unwrap();
    assert_eq!((v.route, v.band), (Route::Reject, Band::FarBelow));
}

#[test]
fn bad_reports_are_named_errors() {
    let good = report(0.9, 0.9, 0.3, (0.9, 0.9), 10.0);
    let cases: Vec<(Value, &str)> = vec![
        (json!([1]), "not a JSON object"),
        (json!({"overall": {}}), "schema_version"),
        (
            json!({"schema_version": 2, "overall": {}}),
            "schema_version is 2",
        ),
        (
            json!({"schema_version": 1, "overall": {}}),
            "no overall metrics",
        ),
        (json!({"schema_version": 1}), "overall"),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": "NaN", "goal": "maximize"}}}),
            "invalid type",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": null, "goal": "maximize"}}}),
            "invalid type",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "up"}}}),
            "unknown variant",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "maximize"}},
                "segments": {"x": {"metrics": {"b": 0.5}}}}),
            "not an overall metric",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "maximize"}},
                "segments": {"x": {"metrics": {}}}}),
            "no metrics",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "maximize"}},
                "latency_ms": {"p50": 5, "p95": 4, "p99": 6}}),
            "out of order",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "maximize"}},
                "feature_importance": [{"feature": "x", "importance": 1}, {"feature": "x", "importance": 0.5}]}),
            "twice",
        ),
        (
            json!({"schema_version": 1, "overall": {"a": {"value": 1, "goal": "maximize"}},
                "feature_importance": (0..11).map(|i| json!({"feature": format!("f{i}"), "importance": 1})).collect::<Vec<_>>()}),
            "top 10",
        ),
    ];
    for (v, want) in cases {
        let e = Report::parse(&v).unwrap_err();
        assert_eq!(e.error_name(), "Evaluation.InvalidReport");
        assert!(e.to_string().contains(want), "{v}: {e}");
    }
    // Unknown top-level keys are kept for people, not an error.
    let mut extra = good.clone();
    extra["model"] = json!({"training_job": "j"});
    extra["x-notes"] = json!("anything");
    assert!(Report::parse(&extra).is_ok());
    // The objective missing from the candidate, or with the other goal.
    let c = parse(&good);
    let e = decide(
        &c,
        "auc",
        Goal::Maximize,
        &Baseline::None,
        &policy(),
        (Route::Auto, String::new()),
        false,
    )
    .unwrap_err();
    assert!(
        matches!(e, EvaluationError::InvalidReport(_)) && e.to_string().contains("\"auc\""),
        "{e}"
    );
    let e = decide(
        &c,
        "accuracy",
        Goal::Minimize,
        &Baseline::None,
        &policy(),
        (Route::Auto, String::new()),
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("goal"), "{e}");
}

#[test]
fn the_policy_comes_from_the_deployment_and_an_execution_only_tightens_it() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        GatePolicy::from_vars(env(&[])).unwrap(),
        GatePolicy::default()
    );
    let p = GatePolicy::from_vars(env(&[
        ("TRAINGUARD_EVAL_MAX_METRIC_DROP", "0.01"),
        ("TRAINGUARD_EVAL_LATENCY_P99_MS", "120"),
        ("TRAINGUARD_EVAL_MAX_MEMORY_BYTES", " 6442450944 "),
    ]))
    .unwrap();
    assert_eq!(
        (p.max_metric_drop, p.latency_p99_ms, p.max_memory_bytes),
        (0.01, Some(120.0), Some(6442450944.0))
    );
    for bad in [
        &[("TRAINGUARD_EVAL_MAX_METRIC_DROP", "2")][..],
        &[("TRAINGUARD_EVAL_MAX_SEGMENT_DROP", "-0.1")],
        &[("TRAINGUARD_EVAL_MIN_IMPORTANCE_OVERLAP", "NaN")],
        &[("TRAINGUARD_EVAL_LATENCY_P99_MS", "0")],
        &[("TRAINGUARD_EVAL_MAX_ARTIFACT_BYTES", "lots")],
        &[("TRAINGUARD_EVAL_FAR_BELOW_DROP", "0.01")],
    ] {
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(bad.to_vec().into_boxed_slice());
        let e = GatePolicy::from_vars(env(pairs)).unwrap_err();
        assert_eq!(e.error_name(), "Evaluation.Misconfigured", "{bad:?}");
    }
    let deploy = policy();
    // Looser requests change nothing.
    let lax = GatePolicyRequest {
        max_metric_drop: Some(0.5),
        max_segment_drop: Some(1.0),
        far_below_drop: Some(1.0),
        max_fairness_gap_increase: Some(9.0),
        min_importance_overlap: Some(0.0),
        latency_p99_ms: Some(1e9),
        max_artifact_bytes: Some(f64::NAN),
        max_memory_bytes: Some(-1.0),
    };
    assert_eq!(deploy.tightened(Some(lax)), deploy);
    // Stricter ones apply, and a limit the deployment lacks is set by the request.
    let strict = GatePolicyRequest {
        max_metric_drop: Some(0.01),
        min_importance_overlap: Some(0.8),
        latency_p99_ms: Some(40.0),
        ..GatePolicyRequest::default()
    };
    let t = GatePolicy::default().tightened(Some(strict));
    assert_eq!(
        (
            t.max_metric_drop,
            t.min_importance_overlap,
            t.latency_p99_ms
        ),
        (0.01, 0.8, Some(40.0))
    );
    // And they change the route: the 60 ms P99 now breaks the requested 40 ms.
    let v = run_with(
        &report(0.92, 0.90, 0.28, (0.91, 0.93), 60.0),
        &base(),
        &deploy.tightened(Some(strict)),
        false,
    );
    assert_eq!(v.route, Route::Reject);
}

#[test]
fn the_reason_stays_short_enough_for_the_registry() {
    // Long slice names on every failed row: the reason is cut, the rows are whole.
    let long = "s".repeat(120);
    let mut b = report(0.90, 0.88, 0.30, (0.89, 0.91), 50.0);
    let mut c = report(0.91, 0.90, 0.28, (0.89, 0.91), 60.0);
    for i in 0..8 {
        b["segments"][format!("{long}{i}")] = json!({"metrics": {"accuracy": 0.9, "f1": 0.9}});
        c["segments"][format!("{long}{i}")] = json!({"metrics": {"accuracy": 0.5, "f1": 0.5}});
    }
    let base = Baseline::Report {
        package: "p".into(),
        report: Box::new(parse(&b)),
    };
    let v = run(&c, &base);
    assert_eq!(v.route, Route::Human);
    assert!(
        v.reason.chars().count() <= super::gate::MAX_REASON,
        "{}",
        v.reason.len()
    );
    assert!(v.rows.iter().filter(|r| r.passed == Some(false)).count() >= 16);
}
