//! `read-evaluation`: read the evaluation job's report and hand the gate a checked number.
//!
//! The evaluation container writes `evaluation/evaluation.json` under the execution's
//! prefix: `{"metric": "<name>", "value": <number>, "metrics": {"<name>": <number>, ...},
//! ...}`. The objective's value is `value` when `metric` names the objective, else
//! `metrics[<objective>]`. A report without a finite value for the objective is an error
//! (`Pipeline.InvalidEvaluationReport`): a gate comparing a missing number must not pass.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::select_best::{finite, Objective};
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
}

/// Check a report (pure). Output `{"metric", "value", "metrics", "report_uri"}`.
pub fn check_report(
    report: &Value,
    objective: &Objective,
    report_uri: &str,
) -> Result<Value, TriggerError> {
    let bad = |why: String| TriggerError::InvalidEvaluationReport(format!("{report_uri}: {why}"));
    let obj = report
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let metrics: Map<String, Value> = obj
        .get("metrics")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| finite(v).map(|x| (k.clone(), json!(x))))
                .take(MAX_METRICS)
                .collect()
        })
        .unwrap_or_default();
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
    Ok(
        json!({"metric": objective.metric, "value": value, "metrics": metrics, "report_uri": report_uri}),
    )
}

/// Read and check the report.
pub async fn read_evaluation(
    store: &S3Store,
    input: &ReadEvaluationInput,
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
    check_report(&report, &input.objective, &input.report_uri)
}

#[cfg(test)]
mod tests {
    use super::super::select_best::Goal;
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
}
