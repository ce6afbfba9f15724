//! The evaluation report (`schemas/evaluation-report.schema.json`, format version 1):
//! what an evaluation job writes and what the model registry keeps beside each package.
//!
//! [`Report::parse`] checks what the schema says and what a schema cannot: numbers are
//! finite, every slice metric is an overall metric (the slice has no goal of its own),
//! feature names are distinct, P50 <= P95 <= P99. A report that fails is
//! `Evaluation.InvalidReport`: a gate comparing numbers it could not read must not pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EvaluationError;

/// The format version this code reads.
pub const SCHEMA_VERSION: u64 = 1;
/// At most this many overall metrics, slices and top features.
pub const MAX_METRICS: usize = 50;
pub const MAX_SEGMENTS: usize = 100;
pub const TOP_FEATURES: usize = 10;
/// At most this many metrics per slice.
pub const MAX_SLICE_METRICS: usize = 20;
const MAX_NAME: usize = 128;

/// Whether larger or smaller values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    #[default]
    #[serde(alias = "Maximize")]
    Maximize,
    #[serde(alias = "Minimize")]
    Minimize,
}

/// One overall metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub value: f64,
    pub goal: Goal,
}

/// One slice of the holdout set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub metrics: BTreeMap<String, f64>,
}

/// Inference time of one request, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// What the model needs on the instance.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    #[serde(default)]
    pub artifact_bytes: Option<u64>,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// One of the top features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Importance {
    pub feature: String,
    pub importance: f64,
}

/// A checked report. Keys the gate does not read (`model`, anything new) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u64,
    pub overall: BTreeMap<String, Metric>,
    #[serde(default)]
    pub segments: BTreeMap<String, Segment>,
    #[serde(default)]
    pub latency_ms: Option<Latency>,
    #[serde(default)]
    pub size: Option<Size>,
    #[serde(default)]
    pub feature_importance: Vec<Importance>,
}

impl Report {
    /// Parse and check a report; the error says which field is wrong.
    pub fn parse(v: &Value) -> Result<Report, EvaluationError> {
        let bad = |why: String| EvaluationError::InvalidReport(why);
        if !v.is_object() {
            return Err(bad("not a JSON object".into()));
        }
        match v.get("schema_version").and_then(Value::as_u64) {
            Some(SCHEMA_VERSION) => {}
            other => {
                return Err(bad(format!(
                    "schema_version is {}, expected {SCHEMA_VERSION} (schemas/evaluation-report.schema.json)",
                    other.map_or_else(|| "missing".to_string(), |n| n.to_string())
                )))
            }
        }
        let r: Report = serde_json::from_value(v.clone()).map_err(|e| bad(e.to_string()))?;
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), EvaluationError> {
        let bad = |why: String| Err(EvaluationError::InvalidReport(why));
        let name_ok = |n: &str| !n.trim().is_empty() && n.chars().count() <= MAX_NAME;
        if self.overall.is_empty() {
            return bad("no overall metrics".into());
        }
        if self.overall.len() > MAX_METRICS {
            return bad(format!(
                "{} overall metrics, at most {MAX_METRICS}",
                self.overall.len()
            ));
        }
        for (n, m) in &self.overall {
            if !name_ok(n) {
                return bad(format!(
                    "overall metric name {n:?} is empty or longer than {MAX_NAME}"
                ));
            }
            if !m.value.is_finite() {
                return bad(format!("overall.{n} is not a finite number"));
            }
        }
        if self.segments.len() > MAX_SEGMENTS {
            return bad(format!(
                "{} segments, at most {MAX_SEGMENTS}",
                self.segments.len()
            ));
        }
        for (s, seg) in &self.segments {
            if !name_ok(s) {
                return bad(format!(
                    "segment name {s:?} is empty or longer than {MAX_NAME}"
                ));
            }
            if seg.metrics.is_empty() {
                return bad(format!("segment {s:?} has no metrics"));
            }
            if seg.metrics.len() > MAX_SLICE_METRICS {
                return bad(format!(
                    "segment {s:?} has {} metrics, at most {MAX_SLICE_METRICS}",
                    seg.metrics.len()
                ));
            }
            for (n, x) in &seg.metrics {
                if !self.overall.contains_key(n) {
                    return bad(format!(
                        "segment {s:?} reports {n:?}, which is not an overall metric (a slice metric takes its goal from there)"
                    ));
                }
                if !x.is_finite() {
                    return bad(format!("segments.{s}.{n} is not a finite number"));
                }
            }
        }
        if let Some(l) = self.latency_ms {
            if ![l.p50, l.p95, l.p99]
                .iter()
                .all(|x| x.is_finite() && *x >= 0.0)
            {
                return bad("latency_ms: every percentile must be a number >= 0".into());
            }
            if !(l.p50 <= l.p95 && l.p95 <= l.p99) {
                return bad(format!(
                    "latency_ms out of order: p50 {} p95 {} p99 {}",
                    l.p50, l.p95, l.p99
                ));
            }
        }
        if self.feature_importance.len() > TOP_FEATURES {
            return bad(format!(
                "{} features in feature_importance, the top {TOP_FEATURES} at most",
                self.feature_importance.len()
            ));
        }
        let mut seen = BTreeSet::new();
        for f in &self.feature_importance {
            if !name_ok(&f.feature) || !f.importance.is_finite() {
                return bad(format!(
                    "feature_importance entry {:?} is not a named, finite importance",
                    f.feature
                ));
            }
            if !seen.insert(f.feature.as_str()) {
                return bad(format!(
                    "feature {:?} is listed twice in feature_importance",
                    f.feature
                ));
            }
        }
        Ok(())
    }

    /// The top feature names.
    pub fn top_features(&self) -> BTreeSet<&str> {
        self.feature_importance
            .iter()
            .map(|f| f.feature.as_str())
            .collect()
    }
}
