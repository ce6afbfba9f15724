//! The gate's limits: deploy-time settings (`TRAINGUARD_EVAL_*`, from the template's
//! parameters), which an execution's `config.evaluation_gate` may only tighten, the rule
//! the absolute thresholds follow too: whoever may start an execution cannot lower the bar.

use serde::{Deserialize, Serialize};

use super::EvaluationError;

/// The limits one comparison uses. Drops are relative to the baseline's value (0.02 is
/// 2 %), in the metric's goal direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GatePolicy {
    /// An overall metric that drops more than this fails its row (default 0.02).
    pub max_metric_drop: f64,
    /// A slice metric that drops more than this fails its row (default 0.05).
    pub max_segment_drop: f64,
    /// The objective dropping more than this is "far below" the baseline: reject and
    /// investigate, whatever else improved (default 0.10). Between `max_metric_drop` and
    /// this it is "below".
    pub far_below_drop: f64,
    /// A fairness gap (best slice minus worst slice of a metric) that widens by more than
    /// this, in the metric's own units, fails its row (default 0.02).
    pub max_fairness_gap_increase: f64,
    /// The top-10 feature sets of candidate and baseline must overlap at least this much
    /// (Jaccard index |A∩B| / |A∪B|; default 0.5, i.e. 7 of 10 features shared).
    pub min_importance_overlap: f64,
    /// The endpoint's SLA on P99 inference time, ms (hard limit; `None`: not checked).
    pub latency_p99_ms: Option<f64>,
    /// The deployment instance's room for the artifact and the loaded model (hard limits).
    pub max_artifact_bytes: Option<f64>,
    pub max_memory_bytes: Option<f64>,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            max_metric_drop: 0.02,
            max_segment_drop: 0.05,
            far_below_drop: 0.10,
            max_fairness_gap_increase: 0.02,
            min_importance_overlap: 0.5,
            latency_p99_ms: None,
            max_artifact_bytes: None,
            max_memory_bytes: None,
        }
    }
}

/// What an execution asks for (`config.evaluation_gate`): each field applies only where
/// stricter than the deployment's; non-finite values are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct GatePolicyRequest {
    pub max_metric_drop: Option<f64>,
    pub max_segment_drop: Option<f64>,
    pub far_below_drop: Option<f64>,
    pub max_fairness_gap_increase: Option<f64>,
    pub min_importance_overlap: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub max_artifact_bytes: Option<f64>,
    pub max_memory_bytes: Option<f64>,
}

/// The environment variable of each setting, with its range.
pub const ENV: &[(&str, &str)] = &[
    ("TRAINGUARD_EVAL_MAX_METRIC_DROP", "0..1, default 0.02"),
    ("TRAINGUARD_EVAL_MAX_SEGMENT_DROP", "0..1, default 0.05"),
    ("TRAINGUARD_EVAL_FAR_BELOW_DROP", "0..1, default 0.10"),
    (
        "TRAINGUARD_EVAL_MAX_FAIRNESS_GAP_INCREASE",
        ">= 0, default 0.02",
    ),
    (
        "TRAINGUARD_EVAL_MIN_IMPORTANCE_OVERLAP",
        "0..1, default 0.5",
    ),
    ("TRAINGUARD_EVAL_LATENCY_P99_MS", "> 0, unset: not checked"),
    (
        "TRAINGUARD_EVAL_MAX_ARTIFACT_BYTES",
        "> 0, unset: not checked",
    ),
    (
        "TRAINGUARD_EVAL_MAX_MEMORY_BYTES",
        "> 0, unset: not checked",
    ),
];

impl GatePolicy {
    /// Read the settings through `var` (the environment in Lambda); unset or blank means
    /// the default.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<GatePolicy, EvaluationError> {
        let num =
            |k: &str, lo: f64, hi: f64, open_lo: bool| -> Result<Option<f64>, EvaluationError> {
                let Some(v) = var(k).filter(|v| !v.trim().is_empty()) else {
                    return Ok(None);
                };
                match v.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() && x <= hi && (x > lo || (!open_lo && x == lo)) => {
                        Ok(Some(x))
                    }
                    _ => Err(EvaluationError::Misconfigured(format!(
                        "{k}={v:?}: expected a number in {}{lo}, {hi}]",
                        if open_lo { "(" } else { "[" }
                    ))),
                }
            };
        let d = GatePolicy::default();
        let p = GatePolicy {
            max_metric_drop: num("TRAINGUARD_EVAL_MAX_METRIC_DROP", 0.0, 1.0, false)?
                .unwrap_or(d.max_metric_drop),
            max_segment_drop: num("TRAINGUARD_EVAL_MAX_SEGMENT_DROP", 0.0, 1.0, false)?
                .unwrap_or(d.max_segment_drop),
            far_below_drop: num("TRAINGUARD_EVAL_FAR_BELOW_DROP", 0.0, 1.0, false)?
                .unwrap_or(d.far_below_drop),
            max_fairness_gap_increase: num(
                "TRAINGUARD_EVAL_MAX_FAIRNESS_GAP_INCREASE",
                0.0,
                f64::MAX,
                false,
            )?
            .unwrap_or(d.max_fairness_gap_increase),
            min_importance_overlap: num("TRAINGUARD_EVAL_MIN_IMPORTANCE_OVERLAP", 0.0, 1.0, false)?
                .unwrap_or(d.min_importance_overlap),
            latency_p99_ms: num("TRAINGUARD_EVAL_LATENCY_P99_MS", 0.0, f64::MAX, true)?,
            max_artifact_bytes: num("TRAINGUARD_EVAL_MAX_ARTIFACT_BYTES", 0.0, f64::MAX, true)?,
            max_memory_bytes: num("TRAINGUARD_EVAL_MAX_MEMORY_BYTES", 0.0, f64::MAX, true)?,
        };
        if p.far_below_drop < p.max_metric_drop {
            return Err(EvaluationError::Misconfigured(format!(
                "TRAINGUARD_EVAL_FAR_BELOW_DROP {} is below TRAINGUARD_EVAL_MAX_METRIC_DROP {}: \"far below\" must start where \"below\" does or later",
                p.far_below_drop, p.max_metric_drop
            )));
        }
        Ok(p)
    }

    /// The deployment's policy with the execution's requests applied where stricter:
    /// smaller drops, gap increases and limits, a larger overlap. A limit the deployment
    /// does not set is set by a request (any limit is stricter than none).
    pub fn tightened(self, r: Option<GatePolicyRequest>) -> GatePolicy {
        let Some(r) = r else { return self };
        let ok = |x: Option<f64>| x.filter(|x| x.is_finite() && *x >= 0.0);
        let lower = |d: f64, x: Option<f64>| ok(x).map_or(d, |x| d.min(x));
        let limit = |d: Option<f64>, x: Option<f64>| match (d, ok(x).filter(|x| *x > 0.0)) {
            (Some(d), Some(x)) => Some(d.min(x)),
            (d, x) => d.or(x),
        };
        GatePolicy {
            max_metric_drop: lower(self.max_metric_drop, r.max_metric_drop),
            max_segment_drop: lower(self.max_segment_drop, r.max_segment_drop),
            far_below_drop: lower(self.far_below_drop, r.far_below_drop),
            max_fairness_gap_increase: lower(
                self.max_fairness_gap_increase,
                r.max_fairness_gap_increase,
            ),
            min_importance_overlap: ok(r.min_importance_overlap)
                .filter(|x| *x <= 1.0)
                .map_or(self.min_importance_overlap, |x| {
                    self.min_importance_overlap.max(x)
                }),
            latency_p99_ms: limit(self.latency_p99_ms, r.latency_p99_ms),
            max_artifact_bytes: limit(self.max_artifact_bytes, r.max_artifact_bytes),
            max_memory_bytes: limit(self.max_memory_bytes, r.max_memory_bytes),
        }
    }
}
