//! The candidate-vs-baseline table shown to reviewers.
//!
//! Evaluation steps report metrics in different shapes; three are accepted:
//! - columns: `{"candidate": {"auc": 0.91}, "baseline": {"auc": 0.90}, "thresholds": {"auc": 0.85}}`
//! - rows: `{"auc": {"candidate": 0.91, "baseline": 0.90, "threshold": 0.85}}`
//!   (`value` for `candidate`, optional `higher_is_better`)
//! - flat: `{"auc": 0.91}` (candidate only).
//!
//! A threshold is a number (a minimum, or a maximum for losses/errors) or `{"min","max"}`.

use serde::Serialize;
use serde_json::{Map, Value};

/// One metric for the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub name: String,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Within the threshold(s); `None` when there is no threshold or no value.
    pub passed: Option<bool>,
}

/// Names whose smaller values are better, so a bare-number threshold is a maximum.
fn lower_is_better(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["loss", "error", "rmse", "mae", "mse", "latency", "logloss"]
        .iter()
        .any(|k| n.contains(k))
}

fn threshold(
    name: &str,
    t: Option<&Value>,
    higher_is_better: Option<bool>,
) -> (Option<f64>, Option<f64>) {
    match t {
        Some(Value::Number(n)) => {
            let v = n.as_f64();
            if higher_is_better.unwrap_or(!lower_is_better(name)) {
                (v, None)
            } else {
                (None, v)
            }
        }
        Some(Value::Object(o)) => (
            o.get("min").and_then(Value::as_f64),
            o.get("max").and_then(Value::as_f64),
        ),
        _ => (None, None),
    }
}

fn row(
    name: &str,
    candidate: Option<f64>,
    baseline: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> MetricRow {
    let passed = match (candidate, min, max) {
        (Some(_), None, None) | (None, _, _) => None,
        (Some(c), lo, hi) => {
            Some(lo.map(|l| c >= l).unwrap_or(true) && hi.map(|h| c <= h).unwrap_or(true))
        }
    };
    MetricRow {
        name: name.to_string(),
        candidate,
        baseline,
        min,
        max,
        passed,
    }
}

/// The table rows, sorted by metric name; unknown shapes give no rows.
pub fn metric_rows(metrics: &Value) -> Vec<MetricRow> {
    let Some(obj) = metrics.as_object() else {
        return Vec::new();
    };
    if let Some(Value::Object(cand)) = obj.get("candidate") {
        let empty = Map::new();
        let base = obj
            .get("baseline")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let thr = obj
            .get("thresholds")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut names: Vec<&String> = cand.keys().chain(base.keys()).chain(thr.keys()).collect();
        names.sort();
        names.dedup();
        return names
            .into_iter()
            .map(|n| {
                let (min, max) = threshold(n, thr.get(n), None);
                row(
                    n,
                    cand.get(n).and_then(Value::as_f64),
                    base.get(n).and_then(Value::as_f64),
                    min,
                    max,
                )
            })
            .collect();
    }
    let mut rows: Vec<MetricRow> = obj
        .iter()
        .filter_map(|(n, v)| match v {
            Value::Number(x) => Some(row(n, x.as_f64(), None, None, None)),
            Value::Object(o) => {
                let cand = o
                    .get("candidate")
                    .or_else(|| o.get("value"))
                    .and_then(Value::as_f64);
                let base = o.get("baseline").and_then(Value::as_f64);
                let hib = o.get("higher_is_better").and_then(Value::as_bool);
                let (min, max) =
                    threshold(n, o.get("threshold").or_else(|| o.get("thresholds")), hib);
                Some(row(n, cand, base, min, max))
            }
            _ => None,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_shape() {
        let rows = metric_rows(&json!({
            "candidate": {"auc": 0.91, "logloss": 0.30},
            "baseline": {"auc": 0.90, "logloss": 0.28},
            "thresholds": {"auc": 0.85, "logloss": 0.29}
        }));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            row("auc", Some(0.91), Some(0.90), Some(0.85), None)
        );
        assert_eq!(rows[0].passed, Some(true));
        assert_eq!(rows[1].max, Some(0.29), "loss threshold is a maximum");
        assert_eq!(rows[1].passed, Some(false));
    }

    #[test]
    fn row_and_flat_shapes() {
        let rows = metric_rows(&json!({
            "f1": {"value": 0.7, "baseline": 0.72, "threshold": {"min": 0.75}},
            "latency_ms": {"candidate": 12.0, "threshold": 20, "higher_is_better": false},
            "n": 1000,
            "note": "ignored"
        }));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["f1", "latency_ms", "n"]);
        assert_eq!(rows[0].passed, Some(false));
        assert_eq!(rows[1].passed, Some(true));
        assert_eq!(rows[2].passed, None);
        assert!(metric_rows(&json!(null)).is_empty());
        assert!(metric_rows(&json!([1, 2])).is_empty());
    }
}
