//! `read-evaluation`: read the evaluation job's report, check it, and decide the
//! evaluation gate's route.
//!
//! The route (`auto`, `human`, `reject`) is decided here, not in the state machine's
//! Choice from execution input: the thresholds are the deployment's
//! (`TRAINGUARD_PROMOTE_THRESHOLD` / `TRAINGUARD_REVIEW_THRESHOLD`, from the template),
//! and an execution's own `thresholds` can only make them stricter, never looser
//! ([`Thresholds::tightened`]). Whoever may start an execution cannot lower the bar.
//!
//! The evaluation container writes `evaluation/evaluation.json` under the execution's
//! prefix: `{"metric": "<name>", "value": <number>, "metrics": {"<name>": <number>, ...},
//! ...}`. The objective's value is `value` when `metric` names the objective, else
//! `metrics[<objective>]`. A report without a finite value for the objective is an error
//! (`Pipeline.InvalidEvaluationReport`): a gate comparing a missing number must not pass.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::select_best::{finite, Goal, Objective};
use super::TriggerError;
use crate::aws::S3Store;
use crate::storage::S3Uri;

/// Largest report read (the task output stays small whatever the report holds).
pub const MAX_REPORT_BYTES: usize = 1 << 20;
/// At most this many numeric metrics are passed on to the state machine.
pub const MAX_METRICS: usize = 50;

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

/// Where the gate sends the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Register and approve without review.
    Auto,
    /// Register and wait for a person.
    Human,
    /// Do not register; compensate (`Evaluation.BelowThreshold`).
    Reject,
}

/// Decide the route (pure) and say why in words a reviewer reads on the page.
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

/// Check a report and decide its route (pure). Output: `{"metric", "goal", "value",
/// "metrics", "baseline", "thresholds", "route", "reason", "report_uri"}` (see
/// docs/pipeline-trigger.md).
pub fn gate(
    report: &Value,
    input: &ReadEvaluationInput,
    deploy: Option<Thresholds>,
) -> Result<Value, TriggerError> {
    let mut out = check_report(report, &input.objective, &input.report_uri)?;
    let value = out["value"].as_f64().unwrap_or(f64::NAN);
    let goal = input.objective.goal;
    let t = match deploy {
        Some(d) => Thresholds::tightened(d, input.thresholds, goal),
        // No deploy-time policy (a local run without the template): the request decides.
        None => input.thresholds.ok_or_else(|| {
            TriggerError::Misconfigured(
                "no thresholds: set TRAINGUARD_PROMOTE_THRESHOLD and TRAINGUARD_REVIEW_THRESHOLD"
                    .into(),
            )
        })?,
    };
    let (r, reason) = route(value, t, goal, input.review_required);
    if let Some(o) = out.as_object_mut() {
        o.insert("goal".into(), json!(goal));
        o.insert("thresholds".into(), json!(t));
        o.insert("route".into(), json!(r));
        o.insert("reason".into(), json!(reason));
    }
    Ok(out)
}

/// Check a report (pure). Output `{"metric", "value", "metrics", "baseline", "report_uri"}`.
pub fn check_report(
    report: &Value,
    objective: &Objective,
    report_uri: &str,
) -> Result<Value, TriggerError> {
    let bad = |why: String| TriggerError::InvalidEvaluationReport(format!("{report_uri}: {why}"));
    let obj = report
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let numbers = |key: &str| -> Map<String, Value> {
        obj.get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| finite(v).map(|x| (k.clone(), json!(x))))
                    .take(MAX_METRICS)
                    .collect()
            })
            .unwrap_or_default()
    };
    let metrics = numbers("metrics");
    // The model now serving, when the evaluation job compared with it.
    let baseline = numbers("baseline");
    let named = obj.get("metric").and_then(Value::as_str);
    let value = match named {
        Some(m) if m == objective.metric => obj.get("value").and_then(finite),
        _ => None,
    }
    .or_else(|| {
        obj.get("metrics")
            .and_then(|m| m.get(&objective.metric))
            .and_then(finite)
    })
    .ok_or_else(|| {
        bad(format!(
            "no finite value for the objective {:?}",
            objective.metric
        ))
    })?;
    Ok(json!({
        "metric": objective.metric, "value": value, "metrics": metrics,
        "baseline": baseline, "report_uri": report_uri,
    }))
}

/// Read the report, check it and decide the route against the deployment's thresholds.
pub async fn read_evaluation(
    store: &S3Store,
    input: &ReadEvaluationInput,
    deploy: Option<Thresholds>,
) -> Result<Value, TriggerError> {
    let uri = S3Uri::parse(&input.report_uri)?;
    let info = store.head(&uri).await?;
    if info.size as usize > MAX_REPORT_BYTES {
        return Err(TriggerError::InvalidEvaluationReport(format!(
            "{uri}: {} bytes, more than {MAX_REPORT_BYTES}",
            info.size
        )));
    }
    let bytes = store.get(&uri).await?;
    let report: Value = serde_json::from_slice(&bytes)
        .map_err(|e| TriggerError::InvalidEvaluationReport(format!("{uri}: not JSON: {e}")))?;
    gate(&report, input, deploy)
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

    #[test]
    fn value_or_metrics_map() {
        let r = json!({"metric": "validation:accuracy", "value": 0.93, "metrics": {"validation:accuracy": 0.93, "auc": "0.97", "bad": "x"}});
        let out = check_report(&r, &objective(), "s3://b/e.json").unwrap();
        assert_eq!(out["value"], 0.93);
        assert_eq!(
            out["metrics"],
            json!({"validation:accuracy": 0.93, "auc": 0.97})
        );
        let r = json!({"metrics": {"validation:accuracy": 0.8}});
        assert_eq!(check_report(&r, &objective(), "u").unwrap()["value"], 0.8);
        // `value` belongs to another metric: not the objective's.
        let r = json!({"metric": "loss", "value": 0.1, "metrics": {"validation:accuracy": 0.7}});
        assert_eq!(check_report(&r, &objective(), "u").unwrap()["value"], 0.7);
    }

    #[test]
    fn a_missing_or_non_finite_objective_is_an_error() {
        for r in [
            json!({}),
            json!({"metric": "validation:accuracy", "value": "NaN"}),
            json!([1]),
            json!({"metric": "loss", "value": 1}),
        ] {
            let e = check_report(&r, &objective(), "u").unwrap_err();
            assert_eq!(e.error_name(), "Pipeline.InvalidEvaluationReport", "{r}");
        }
    }

    fn input(thresholds: Option<Thresholds>, review_required: bool) -> ReadEvaluationInput {
        ReadEvaluationInput {
            report_uri: "s3://b/e.json".into(),
            objective: objective(),
            thresholds,
            review_required,
        }
    }

    const DEPLOY: Thresholds = Thresholds {
        promote: 0.9,
        review: 0.8,
    };

    #[test]
    fn every_route() {
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
        let r = json!({"metric": "validation:accuracy", "value": 0.85});
        // Asking for promote 0 (auto-promote everything) changes nothing.
        let lax = Thresholds {
            promote: 0.0,
            review: 0.0,
        };
        let out = gate(&r, &input(Some(lax), false), Some(DEPLOY)).unwrap();
        assert_eq!(out["route"], "human");
        assert_eq!(out["thresholds"], json!({"promote": 0.9, "review": 0.8}));
        // Asking for a stricter review threshold applies it.
        let strict = Thresholds {
            promote: 0.95,
            review: 0.86,
        };
        let out = gate(&r, &input(Some(strict), false), Some(DEPLOY)).unwrap();
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
        let out = gate(&r, &input(Some(strict), false), None).unwrap();
        assert_eq!(out["route"], "reject");
        let e = gate(&r, &input(None, false), None).unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
    }

    #[test]
    fn the_gate_output_carries_what_the_page_shows() {
        let r = json!({"metric": "validation:accuracy", "value": 0.87,
                       "metrics": {"validation:accuracy": 0.87, "f1": 0.85},
                       "baseline": {"validation:accuracy": 0.86, "f1": "0.86", "junk": "x"}});
        let out = gate(&r, &input(None, false), Some(DEPLOY)).unwrap();
        assert_eq!(out["goal"], "Maximize");
        assert_eq!(out["value"], 0.87);
        assert_eq!(
            out["baseline"],
            json!({"validation:accuracy": 0.86, "f1": 0.86})
        );
        assert_eq!(out["route"], "human");
        assert!(out["reason"].as_str().unwrap().contains("review band"));
        assert_eq!(out["report_uri"], "s3://b/e.json");
        let none = gate(
            &json!({"metrics": {"validation:accuracy": 0.99}}),
            &input(None, false),
            Some(DEPLOY),
        )
        .unwrap();
        assert_eq!(none["baseline"], json!({}));
        assert_eq!(none["route"], "auto");
    }
}
