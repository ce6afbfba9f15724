//! `select-best`: the winning configuration of the training sweep.
//!
//! Each sweep child returns `{index, training_job_name, model_data_url, metrics,
//! hyperparameters, instance_type, attempts}` where `metrics` is SageMaker's
//! `FinalMetricDataList` (`[{"MetricName", "Value", ...}]`) or a plain `{"name": value}`
//! map. Children that failed (an `Error`/`Cause` object in a tolerant Map's result) or
//! lack the objective metric are skipped and listed; a non-finite value never wins.
//! Ties go to the lowest index, so the choice is deterministic.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::TriggerError;

/// Maximise or minimise the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum Goal {
    #[default]
    Maximize,
    Minimize,
}

/// The objective metric.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Objective {
    pub metric: String,
    #[serde(default)]
    pub goal: Goal,
}

/// Task input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SelectBestInput {
    pub candidates: Vec<Value>,
    pub objective: Objective,
    /// The sweep Map's `ToleratedFailurePercentage`, enforced here too: an engine that
    /// does not honour it (moto's interpreter) must not let a sweep where most
    /// configurations failed pick a winner from the few left.
    #[serde(default)]
    pub tolerated_failure_percentage: Option<f64>,
}

/// The objective's value in one candidate, if it has a finite one.
pub fn metric_value(candidate: &Value, metric: &str) -> Option<f64> {
    let v = match candidate.get("metrics")? {
        Value::Array(list) => list
            .iter()
            .find(|m| m.get("MetricName").and_then(Value::as_str) == Some(metric))
            .and_then(|m| m.get("Value")),
        Value::Object(map) => map.get(metric),
        _ => None,
    }?;
    finite(v)
}

/// A finite number, given as a JSON number or a numeric string (SageMaker's metric
/// lists carry both).
pub(crate) fn finite(v: &Value) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    x.is_finite().then_some(x)
}

/// Pick the best candidate. Output: `{"best": {...candidate, "metric", "value"},
/// "training_jobs": [every job name seen], "considered": n, "skipped": [...]}`.
pub fn select_best(input: &SelectBestInput) -> Result<Value, TriggerError> {
    let metric = input.objective.metric.as_str();
    let mut best: Option<(usize, f64)> = None;
    let mut skipped = Vec::new();
    let mut jobs = Vec::new();
    for (pos, c) in input.candidates.iter().enumerate() {
        if let Some(job) = c.get("training_job_name").and_then(Value::as_str) {
            jobs.push(job.to_string());
        }
        let Some(x) = metric_value(c, metric) else {
            let reason = if c.get("Error").is_some() {
                format!(
                    "failed: {}",
                    c.get("Error").and_then(Value::as_str).unwrap_or("?")
                )
            } else {
                format!("no finite value for {metric}")
            };
            skipped.push(json!({"position": pos, "index": c.get("index"), "reason": reason}));
            continue;
        };
        let better = match best {
            None => true,
            Some((_, b)) => match input.objective.goal {
                Goal::Maximize => x > b,
                Goal::Minimize => x < b,
            },
        };
        if better {
            best = Some((pos, x));
        }
    }
    // A child that failed: an `Error`/`Cause` object (AWS) or no result of its own
    // (moto's interpreter leaves a failed Distributed Map child's slot empty); a
    // finished child always carries its `index` (KeepMetrics).
    let failed = input
        .candidates
        .iter()
        .filter(|c| c.get("Error").is_some() || c.get("index").is_none_or(Value::is_null))
        .count();
    if let Some(t) = input.tolerated_failure_percentage {
        let n = input.candidates.len();
        // As Step Functions does: the Map fails when the failed share exceeds the limit.
        if n > 0 && (failed as f64) * 100.0 > t * (n as f64) {
            return Err(TriggerError::SweepFailed(format!(
                "{failed} of {n} configurations failed, more than the tolerated {t} %"
            )));
        }
    }
    let Some((pos, value)) = best else {
        return Err(TriggerError::NoCandidate(format!(
            "{} candidates, none with a finite {metric} ({} skipped)",
            input.candidates.len(),
            skipped.len()
        )));
    };
    let mut winner = input.candidates[pos].clone();
    if let Some(o) = winner.as_object_mut() {
        o.insert("metric".into(), json!(metric));
        o.insert("value".into(), json!(value));
    }
    Ok(json!({
        "best": winner,
        "training_jobs": jobs,
        "considered": input.candidates.len() - skipped.len(),
        "skipped": skipped,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cand(index: usize, acc: f64) -> Value {
        json!({"index": index, "training_job_name": format!("tg-r-c{index}"), "model_data_url": format!("s3://b/m{index}.tar.gz"),
               "metrics": [{"MetricName": "validation:accuracy", "Value": acc, "Timestamp": "2026-11-22T00:00:00Z"}]})
    }

    fn input(candidates: Vec<Value>, goal: Goal) -> SelectBestInput {
        SelectBestInput {
            candidates,
            objective: Objective {
                metric: "validation:accuracy".into(),
                goal,
            },
            tolerated_failure_percentage: None,
        }
    }

    #[test]
    fn picks_max_or_min_and_skips_failures() {
        let cs = vec![
            cand(0, 0.81),
            json!({"Error": "TrainingRecovery.Halted", "Cause": "{}"}),
            cand(2, 0.93),
            cand(3, 0.90),
        ];
        let out = select_best(&input(cs.clone(), Goal::Maximize)).unwrap();
        assert_eq!(out["best"]["index"], 2);
        assert_eq!(out["best"]["value"], 0.93);
        assert_eq!(out["considered"], 3);
        assert_eq!(
            out["skipped"][0]["reason"],
            "failed: TrainingRecovery.Halted"
        );
        assert_eq!(
            out["training_jobs"],
            json!(["tg-r-c0", "tg-r-c2", "tg-r-c3"])
        );
        let out = select_best(&input(cs, Goal::Minimize)).unwrap();
        assert_eq!(out["best"]["index"], 0);
    }

    #[test]
    fn metric_maps_strings_and_nan() {
        let c = json!({"metrics": {"validation:accuracy": "0.5"}});
        assert_eq!(metric_value(&c, "validation:accuracy"), Some(0.5));
        assert_eq!(
            metric_value(
                &json!({"metrics": {"validation:accuracy": "NaN"}}),
                "validation:accuracy"
            ),
            None
        );
        assert_eq!(
            metric_value(
                &json!({"metrics": [{"MetricName": "other", "Value": 1}]}),
                "validation:accuracy"
            ),
            None
        );
    }

    #[test]
    fn ties_go_to_the_first() {
        let out = select_best(&input(vec![cand(0, 0.9), cand(1, 0.9)], Goal::Maximize)).unwrap();
        assert_eq!(out["best"]["index"], 0);
    }

    #[test]
    fn nothing_to_pick_is_an_error() {
        use crate::error::ErrorName;
        let e = select_best(&input(vec![json!({"Error": "x"})], Goal::Maximize)).unwrap_err();
        assert_eq!(e.error_name(), "Pipeline.NoCandidate");
        assert!(select_best(&input(vec![], Goal::Maximize)).is_err());
    }

    #[test]
    fn the_sweeps_tolerated_failure_percentage_is_enforced() {
        use crate::error::ErrorName;
        let with = |cs: Vec<Value>, t: f64| SelectBestInput {
            tolerated_failure_percentage: Some(t),
            ..input(cs, Goal::Maximize)
        };
        let failed = || json!({"Error": "States.TaskFailed", "Cause": "halted"});
        // Half failed, 50 % tolerated: not more than the limit, the survivor wins.
        let out = select_best(&with(vec![cand(0, 0.9), failed()], 50.0)).unwrap();
        assert_eq!(out["best"]["index"], 0);
        // Two of three failed: more than 50 %.
        let e = select_best(&with(vec![cand(0, 0.9), failed(), failed()], 50.0)).unwrap_err();
        assert_eq!(e.error_name(), "Pipeline.SweepFailed");
        assert!(e.to_string().contains("2 of 3"), "{e}");
        // 0 % tolerated: any failure fails the sweep, as the Map would.
        let e = select_best(&with(vec![cand(0, 0.9), cand(1, 0.8), failed()], 0.0)).unwrap_err();
        assert_eq!(e.error_name(), "Pipeline.SweepFailed");
        // An empty slot (moto's failed child) counts as failed.
        let e = select_best(&with(vec![cand(0, 0.9), json!(null), json!({})], 50.0)).unwrap_err();
        assert!(e.to_string().contains("2 of 3"), "{e}");
        // A candidate without the metric is not a failure (it is skipped, not counted).
        let no_metric = json!({"index": 1, "metrics": {}});
        assert!(select_best(&with(vec![cand(0, 0.9), no_metric], 0.0)).is_ok());
    }

    proptest! {
        #[test]
        fn the_winner_is_never_beaten(values in proptest::collection::vec(-1e6f64..1e6, 1..20)) {
            let cs: Vec<Value> = values.iter().enumerate().map(|(i, v)| cand(i, *v)).collect();
            let out = select_best(&input(cs, Goal::Maximize)).unwrap();
            let w = out["best"]["value"].as_f64().unwrap();
            prop_assert!(values.iter().all(|v| *v <= w));
            let idx = out["best"]["index"].as_u64().unwrap() as usize;
            prop_assert!(values[..idx].iter().all(|v| *v < w), "earliest maximum");
        }
    }
}
