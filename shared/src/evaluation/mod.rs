//! The evaluation gate: the candidate model against the model in production, metric by
//! metric and slice by slice (issue 14; docs/evaluation.md).
//!
//! One number against absolute thresholds cannot tell a model that is better overall but
//! worse for one group of users, slower than the endpoint's SLA or too big for the
//! instance from a real improvement. So the evaluation job writes a report in the format
//! of `schemas/evaluation-report.schema.json` ([`report`]), the report of the model in
//! production is read back from the model registry, and [`gate::decide`] compares the
//! two row by row under a policy ([`policy`]: deploy-time settings an execution may only
//! tighten) and routes the candidate: auto-promote, a person decides, or reject and
//! investigate.
//!
//! Everything here is pure (no AWS): `trigger::read_evaluation` reads the reports and
//! finds the baseline in the registry, then calls this.

pub mod gate;
pub mod policy;
pub mod report;

#[cfg(test)]
mod tests;

use crate::error::{ErrorDoc, ErrorName};

pub use gate::{decide, Band, Baseline, Dimension, Route, Row, Status, Verdict};
pub use policy::{GatePolicy, GatePolicyRequest};
pub use report::{Goal, Report};

/// Errors of the evaluation gate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    /// The candidate's report breaks the report format (a missing or non-finite metric,
    /// a slice metric with no overall metric, a goal that disagrees with the objective).
    #[error("invalid evaluation report: {0}")]
    InvalidReport(String),
    /// A deploy-time gate setting does not parse or is out of range.
    #[error("evaluation gate is misconfigured: {0}")]
    Misconfigured(String),
}

impl ErrorName for EvaluationError {
    fn error_name(&self) -> &'static str {
        match self {
            EvaluationError::InvalidReport(_) => "Evaluation.InvalidReport",
            EvaluationError::Misconfigured(_) => "Evaluation.Misconfigured",
        }
    }
}

/// Error names this module raises.
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "Evaluation.InvalidReport", retryable: false, meaning: "read-evaluation: the candidate's evaluation report breaks schemas/evaluation-report.schema.json (no overall metrics, a non-number, the objective missing or with another goal, a slice metric that is not an overall metric, a repeated or 11th top feature, latency percentiles not in the order P50 <= P95 <= P99)" },
    ErrorDoc { name: "Evaluation.Misconfigured", retryable: false, meaning: "read-evaluation: a TRAINGUARD_EVAL_* gate setting is not a number or out of range (drops and overlap in [0, 1], limits above 0)" },
];
