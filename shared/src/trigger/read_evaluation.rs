//! `read-evaluation`: read the evaluation job's report and the report of the model in
//! production (found by [`crate::registry`]), compare them, and decide the evaluation gate's route.
//!
//! The candidate's report is `evaluation/evaluation.json` under the execution's prefix,
//! in the format of `schemas/evaluation-report.schema.json` (docs/evaluation.md). The
//! baseline is the newest Approved package of the model package group registered for
//! the endpoint this run deploys to (`trainguard:endpoint` in its
//! `CustomerMetadataProperties`): one group may feed several endpoints, and the model
//! to beat is the one serving where this one will serve. Its report is the package's
//! `ModelMetrics.ModelQuality.Statistics` (RegisterModel attaches each run's report
//! there, so the next run compares against it). The comparison and the route are
//! [`crate::evaluation::decide`]'s.
//!
//! The policy is the deployment's: the absolute thresholds (`TRAINGUARD_PROMOTE_THRESHOLD`
//! / `TRAINGUARD_REVIEW_THRESHOLD`) and the comparison limits (`TRAINGUARD_EVAL_*`), from
//! the template. An execution's `thresholds` and `evaluation_gate` can only make them
//! stricter ([`Thresholds::tightened`], [`GatePolicy::tightened`]). Whoever may start an
//! execution cannot lower the bar, nor pick the baseline: the group is a deploy-time
//! substitution, and a new endpoint name has no baseline but also replaces no model.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::select_best::{Goal, Objective};
use super::TriggerError;
use crate::aws::S3Store;
use crate::evaluation::{self, Baseline, GatePolicy, GatePolicyRequest, Report, Route};
use crate::storage::S3Uri;

/// Largest report read (the task output stays small whatever the report holds).
pub const MAX_REPORT_BYTES: usize = 1 << 20;
/// At most this many comparison rows go into the task output (Step Functions passes at
/// most 256 KB between states): every failed, new or unmeasured row first, then the
/// others in order; `rows_omitted` says how many were left out.
pub const MAX_ROWS: usize = 120;

/// Task input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReadEvaluationInput {
    pub report_uri: String,
    pub objective: Objective,
    /// The thresholds the execution asks for (`$.config.thresholds`): a request, applied
    /// only where stricter than the deployment's.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// A person must review whatever the value (drift was flagged).
    #[serde(default)]
    pub review_required: bool,
    /// The model package group (the template's, substituted into the ASL). Without it
    /// there is no registry to look in: the first-model rule applies.
    #[serde(default)]
    pub model_package_group: Option<String>,
    /// The endpoint this run deploys to (`config.endpoint.name`).
    #[serde(default)]
    pub endpoint_name: Option<String>,
    /// The comparison limits the execution asks for (`config.evaluation_gate`): applied
    /// only where stricter than the deployment's.
    #[serde(default)]
    pub gate: Option<GatePolicyRequest>,
}

/// The gate's two thresholds on the objective: at or beyond `promote` the model goes
/// live without review; at or beyond `review` a person decides; short of it, reject.
/// "Beyond" follows the objective's goal (higher for Maximize, lower for Minimize).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub promote: f64,
    pub review: f64,
}

impl Thresholds {
    /// The stricter of the deployment's and the requested thresholds, each separately.
    pub fn tightened(deploy: Thresholds, requested: Option<Thresholds>, goal: Goal) -> Thresholds {
        let Some(r) = requested.filter(|r| r.promote.is_finite() && r.review.is_finite()) else {
            return deploy;
        };
        let stricter = |a: f64, b: f64| match goal {
            Goal::Maximize => a.max(b),
            Goal::Minimize => a.min(b),
        };
        Thresholds {
            promote: stricter(deploy.promote, r.promote),
            review: stricter(deploy.review, r.review),
        }
    }
}

/// The absolute thresholds' route for the objective (pure), in words a reviewer reads:
/// what decides the first model, and a floor under every comparison.
pub fn route(value: f64, t: Thresholds, goal: Goal, review_required: bool) -> (Route, String) {
    let meets = |limit: f64| match goal {
        Goal::Maximize => value >= limit,
        Goal::Minimize => value <= limit,
    };
    let (promote, review) = (meets(t.promote), meets(t.review));
    match (promote, review, review_required) {
        (true, _, false) => (
            Route::Auto,
            format!("objective {value} meets the promote threshold {}", t.promote),
        ),
        (true, _, true) => (
            Route::Human,
            format!(
                "objective {value} meets the promote threshold {}, but drift was flagged: a person reviews it",
                t.promote
            ),
        ),
        (false, true, _) => (
            Route::Human,
            format!(
                "objective {value} is in the review band (review {}, promote {})",
                t.review, t.promote
            ),
        ),
        (false, false, _) => (
            Route::Reject,
            format!(
                "objective {value} misses the review threshold {}",
                t.review
            ),
        ),
    }
}

fn goal(g: Goal) -> evaluation::Goal {
    match g {
        Goal::Maximize => evaluation::Goal::Maximize,
        Goal::Minimize => evaluation::Goal::Minimize,
    }
}

fn values(r: &Report) -> Map<String, Value> {
    r.overall
        .iter()
        .map(|(k, m)| (k.clone(), json!(m.value)))
        .collect()
}

/// Check the candidate's report, compare it with the baseline and decide the route
/// (pure). Output: `{"metric", "goal", "value", "metrics", "baseline", "thresholds",
/// "route", "reason", "report_uri", "comparison": {...}, "policy": {...}}` (see
/// docs/pipeline-trigger.md and docs/evaluation.md).
pub fn gate(
    report: &Value,
    input: &ReadEvaluationInput,
    deploy: Option<Thresholds>,
    policy: &GatePolicy,
    baseline: &Baseline,
) -> Result<Value, TriggerError> {
    let bad = |e: evaluation::EvaluationError| match e {
        evaluation::EvaluationError::InvalidReport(why) => TriggerError::Evaluation(
            evaluation::EvaluationError::InvalidReport(format!("{}: {why}", input.report_uri)),
        ),
        e => TriggerError::Evaluation(e),
    };
    let candidate = Report::parse(report).map_err(bad)?;
    let g = input.objective.goal;
    let metric = &input.objective.metric;
    let value = candidate
        .overall
        .get(metric)
        .map(|m| m.value)
        .ok_or_else(|| {
            bad(evaluation::EvaluationError::InvalidReport(format!(
                "the objective {metric:?} is not among the overall metrics"
            )))
        })?;
    let t = match deploy {
        Some(d) => Thresholds::tightened(d, input.thresholds, g),
        // No deploy-time policy (a local run without the template): the request decides.
        None => input.thresholds.ok_or_else(|| {
            TriggerError::Misconfigured(
                "no thresholds: set TRAINGUARD_PROMOTE_THRESHOLD and TRAINGUARD_REVIEW_THRESHOLD"
                    .into(),
            )
        })?,
    };
    let policy = policy.tightened(input.gate);
    // The floor: what the absolute thresholds alone say (drift is applied once, below).
    let floor = route(value, t, g, false);
    let v = evaluation::decide(
        &candidate,
        metric,
        goal(g),
        baseline,
        &policy,
        floor,
        input.review_required,
    )
    .map_err(bad)?;
    let baseline_values = match baseline {
        Baseline::Report { report, .. } => values(report),
        _ => Map::new(),
    };
    Ok(json!({
        "metric": metric, "goal": g, "value": value,
        "metrics": values(&candidate), "baseline": baseline_values,
        "thresholds": t, "route": v.route, "reason": v.reason,
        "report_uri": input.report_uri,
        "comparison": {
            "band": v.band, "baseline_package": v.baseline_package,
            // Set by `read_evaluation`, which read it.
            "baseline_report_uri": null,
            "passed": v.passed, "failed": v.failed, "not_compared": v.not_compared,
            "rows_omitted": v.rows.len().saturating_sub(MAX_ROWS),
            "rows": trim_rows(v.rows),
        },
        "policy": policy,
    }))
}

/// The rows kept under [`MAX_ROWS`], in their order: those a reviewer must see (failed,
/// new, unmeasured) first, then the rest.
fn trim_rows(rows: Vec<evaluation::Row>) -> Vec<evaluation::Row> {
    if rows.len() <= MAX_ROWS {
        return rows;
    }
    let must = |r: &evaluation::Row| {
        r.passed == Some(false)
            || r.status == evaluation::Status::New
            || r.status == evaluation::Status::Unmeasured
    };
    let mut keep = vec![false; rows.len()];
    let mut n = 0;
    for pass in [true, false] {
        for (i, r) in rows.iter().enumerate() {
            if n < MAX_ROWS && !keep[i] && (!pass || must(r)) {
                keep[i] = true;
                n += 1;
            }
        }
    }
    rows.into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// Read a JSON object of at most [`MAX_REPORT_BYTES`].
pub async fn read_json(store: &S3Store, uri: &S3Uri) -> Result<Value, TriggerError> {
    let info = store.head(uri).await?;
    if info.size as usize > MAX_REPORT_BYTES {
        return Err(TriggerError::InvalidEvaluationReport(format!(
            "{uri}: {} bytes, more than {MAX_REPORT_BYTES}",
            info.size
        )));
    }
    let bytes = store.get(uri).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TriggerError::InvalidEvaluationReport(format!("{uri}: not JSON: {e}")))
}

/// Read the candidate's report, compare it with the baseline (read from the registry by
/// [`crate::registry::baseline`], with its report's URI) and decide against the
/// deployment's policy.
pub async fn read_evaluation(
    store: &S3Store,
    input: &ReadEvaluationInput,
    deploy: Option<Thresholds>,
    policy: &GatePolicy,
    (base, base_uri): (Baseline, Option<String>),
) -> Result<Value, TriggerError> {
    let uri = S3Uri::parse(&input.report_uri)?;
    let report = read_json(store, &uri).await?;
    let mut out = gate(&report, input, deploy, policy, &base)?;
    out["comparison"]["baseline_report_uri"] = json!(base_uri);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;

    fn objective() -> Objective {
        Objective {
            metric: "validation:accuracy".into(),
            goal: Goal::Maximize,
        }
    }

    /// A report in the format, with the objective at `acc` and an f1 beside it.
    fn report(acc: f64, f1: f64) -> Value {
        json!({"schema_version": 1, "overall": {
            "validation:accuracy": {"value": acc, "goal": "maximize"},
            "f1": {"value": f1, "goal": "maximize"}}})
    }

    fn input(thresholds: Option<Thresholds>, review_required: bool) -> ReadEvaluationInput {
        ReadEvaluationInput {
            report_uri: "s3://b/e.json".into(),
            objective: objective(),
            thresholds,
            review_required,
            model_package_group: None,
            endpoint_name: None,
            gate: None,
        }
    }

    const DEPLOY: Thresholds = Thresholds {
        promote: 0.9,
        review: 0.8,
    };

    fn first(
        r: &Value,
        i: &ReadEvaluationInput,
        d: Option<Thresholds>,
    ) -> Result<Value, TriggerError> {
        gate(r, i, d, &GatePolicy::default(), &Baseline::None)
    }

    #[test]
    fn a_report_the_gate_cannot_read_is_an_error() {
        for r in [
            json!({}),
            json!([1]),
            json!({"metric": "validation:accuracy", "value": 0.93}),
            json!({"schema_version": 1, "overall": {"loss": {"value": 1, "goal": "minimize"}}}),
            json!({"schema_version": 1, "overall": {"validation:accuracy": {"value": "NaN", "goal": "maximize"}}}),
        ] {
            let e = first(&r, &input(None, false), Some(DEPLOY)).unwrap_err();
            assert_eq!(e.error_name(), "Evaluation.InvalidReport", "{r}");
            assert!(e.to_string().contains("s3://b/e.json"), "{e}");
        }
    }

    #[test]
    fn every_absolute_route() {
        let g = Goal::Maximize;
        assert_eq!(route(0.95, DEPLOY, g, false).0, Route::Auto);
        assert_eq!(
            route(0.9, DEPLOY, g, false).0,
            Route::Auto,
            "at the threshold"
        );
        assert_eq!(route(0.95, DEPLOY, g, true).0, Route::Human, "drift");
        assert_eq!(route(0.85, DEPLOY, g, false).0, Route::Human);
        assert_eq!(route(0.8, DEPLOY, g, true).0, Route::Human);
        assert_eq!(route(0.79, DEPLOY, g, false).0, Route::Reject);
        assert_eq!(route(0.79, DEPLOY, g, true).0, Route::Reject);
        // Lower is better for a loss.
        let loss = Thresholds {
            promote: 0.2,
            review: 0.3,
        };
        assert_eq!(route(0.1, loss, Goal::Minimize, false).0, Route::Auto);
        assert_eq!(route(0.25, loss, Goal::Minimize, false).0, Route::Human);
        assert_eq!(route(0.31, loss, Goal::Minimize, false).0, Route::Reject);
        let (_, why) = route(0.85, DEPLOY, g, false);
        assert!(why.contains("review band") && why.contains("0.85"), "{why}");
    }

    #[test]
    fn an_execution_can_tighten_the_thresholds_but_never_loosen_them() {
        let r = report(0.85, 0.8);
        // Asking for promote 0 (auto-promote everything) changes nothing.
        let lax = Thresholds {
            promote: 0.0,
            review: 0.0,
        };
        let out = first(&r, &input(Some(lax), false), Some(DEPLOY)).unwrap();
        assert_eq!(out["route"], "human");
        assert_eq!(out["thresholds"], json!({"promote": 0.9, "review": 0.8}));
        // Asking for a stricter review threshold applies it.
        let strict = Thresholds {
            promote: 0.95,
            review: 0.86,
        };
        let out = first(&r, &input(Some(strict), false), Some(DEPLOY)).unwrap();
        assert_eq!(out["route"], "reject");
        assert_eq!(out["thresholds"], json!({"promote": 0.95, "review": 0.86}));
        // For a loss, stricter is lower.
        let t = Thresholds::tightened(
            Thresholds {
                promote: 0.2,
                review: 0.3,
            },
            Some(Thresholds {
                promote: 0.5,
                review: 0.1,
            }),
            Goal::Minimize,
        );
        assert_eq!((t.promote, t.review), (0.2, 0.1));
        // A NaN request is ignored, not a way around the floor.
        let nan = Thresholds {
            promote: f64::NAN,
            review: 0.0,
        };
        assert_eq!(
            Thresholds::tightened(DEPLOY, Some(nan), Goal::Maximize),
            DEPLOY
        );
        // Without a deploy-time policy the request decides; with neither, an error.
        let out = first(&r, &input(Some(strict), false), None).unwrap();
        assert_eq!(out["route"], "reject");
        let e = first(&r, &input(None, false), None).unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
        // The comparison limits too: a request for a looser drop changes nothing, a
        // stricter one applies.
        let mut i = input(None, false);
        i.gate = Some(GatePolicyRequest {
            max_metric_drop: Some(0.5),
            max_segment_drop: Some(0.01),
            ..Default::default()
        });
        let out = first(&r, &i, Some(DEPLOY)).unwrap();
        assert_eq!(out["policy"]["max_metric_drop"], 0.02);
        assert_eq!(out["policy"]["max_segment_drop"], 0.01);
    }

    #[test]
    fn the_output_carries_the_comparison_the_page_shows() {
        let base = Baseline::Report {
            package: "arn:pkg/1".into(),
            report: Box::new(Report::parse(&report(0.86, 0.86)).unwrap()),
        };
        let out = gate(
            &report(0.91, 0.85),
            &input(None, false),
            Some(DEPLOY),
            &GatePolicy::default(),
            &base,
        )
        .unwrap();
        assert_eq!(out["goal"], "Maximize");
        assert_eq!(out["value"], 0.91);
        assert_eq!(
            out["metrics"],
            json!({"validation:accuracy": 0.91, "f1": 0.85})
        );
        assert_eq!(
            out["baseline"],
            json!({"validation:accuracy": 0.86, "f1": 0.86})
        );
        // Both rows pass (f1 -1.2 % is within 2 %) and the objective improved.
        assert_eq!(out["route"], "auto", "{}", out["reason"]);
        assert_eq!(out["comparison"]["band"], "improved");
        assert_eq!(out["comparison"]["baseline_package"], "arn:pkg/1");
        assert_eq!(out["comparison"]["passed"], 2);
        let rows = out["comparison"]["rows"].as_array().unwrap();
        assert!(
            rows.iter()
                .any(|r| r["name"] == "f1" && r["status"] == "held" && r["passed"] == true),
            "{rows:?}"
        );
        assert_eq!(out["report_uri"], "s3://b/e.json");
        // No baseline: the first-model rule, the absolute thresholds decide.
        let out = first(&report(0.85, 0.8), &input(None, false), Some(DEPLOY)).unwrap();
        assert_eq!(out["baseline"], json!({}));
        assert_eq!(out["route"], "human");
        assert_eq!(out["comparison"]["band"], "first_model");
        assert!(
            out["reason"].as_str().unwrap().contains("review band"),
            "{}",
            out["reason"]
        );
    }

    #[test]
    fn a_large_comparison_keeps_every_failed_row_within_the_output_bound() {
        // 100 slices x 2 metrics: 200 segment rows; the candidate fails the last 30 slices.
        let mk = |drop_from: usize| {
            let mut r = report(0.9, 0.9);
            r["segments"] = (0..100)
                .map(|i| {
                    let v = if i >= drop_from { 0.5 } else { 0.9 };
                    (
                        format!("s{i:03}"),
                        json!({"metrics": {"validation:accuracy": v, "f1": 0.9}}),
                    )
                })
                .collect::<Map<String, Value>>()
                .into();
            r
        };
        let base = Baseline::Report {
            package: "arn:pkg/1".into(),
            report: Box::new(Report::parse(&mk(100)).unwrap()),
        };
        let out = gate(
            &mk(70),
            &input(None, false),
            Some(DEPLOY),
            &GatePolicy::default(),
            &base,
        )
        .unwrap();
        let rows = out["comparison"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), MAX_ROWS);
        assert!(out["comparison"]["rows_omitted"].as_u64().unwrap() > 0);
        let failed = rows.iter().filter(|r| r["passed"] == false).count();
        assert_eq!(failed as u64, out["comparison"]["failed"].as_u64().unwrap());
        assert!(failed >= 30, "{failed}");
        assert!(serde_json::to_vec(&out).unwrap().len() < 64 * 1024);
    }
}
