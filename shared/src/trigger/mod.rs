//! The pipeline's own function (`pipeline-trigger`): it starts executions and runs the
//! state machine's three small steps that need code. One module per job:
//!
//! - [`request`]: tells a state machine step (`task` field) from an event.
//! - **Starting executions**: [`crate::events`] decodes an S3 event notification, an
//!   EventBridge "Object Created" event or a scheduled event into one model;
//!   [`plan`] chooses what to start (one execution per new object or schedule tick, the
//!   trigger context in its input) under the settings of [`config`]; [`execution_name`]
//!   names it from bucket, key and version (or ETag), so a duplicate delivery of the same
//!   object version, whichever channel brings it, names the same execution; [`start`]
//!   calls `StartExecution` (`ExecutionAlreadyExists` counts as success).
//! - **`select-best`** ([`select_best`]): the best configuration of the training sweep by
//!   the objective metric (JSONPath has no argmax).
//! - **`fingerprint`** ([`fingerprint`]): the SHA-256 of the training data, recorded on
//!   the model package for lineage.
//! - **`read-evaluation`** ([`read_evaluation`]): the candidate's evaluation report against
//!   the production model's from the registry, compared and routed by
//!   [`crate::evaluation`] (a report it cannot read is an error, never a pass).

pub mod config;
pub mod execution_name;
pub mod fingerprint;
pub mod manual;
pub mod plan;
pub mod read_evaluation;
pub mod request;
pub mod select_best;
pub mod start;

use crate::error::{CommonError, ErrorDoc, ErrorName};

pub use crate::events::{decode, ObjectCreated, ScheduleTick, TriggerEvent};
pub use config::{TriggerConfig, TriggerMode};
pub use plan::{plan, Plan};
pub use request::{classify, Request};
pub use start::{start_all, ExecutionStarter, Recorded, StartOutcome, StartRecorder};

/// Errors of the pipeline function.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The function's configuration is missing or invalid (state machine ARN, data bucket).
    #[error("pipeline-trigger is misconfigured: {0}")]
    Misconfigured(String),
    /// No candidate of the training sweep reported the objective metric.
    #[error("no training candidate reported the objective metric: {0}")]
    NoCandidate(String),
    /// The evaluation report is missing its objective value, not JSON, or too large.
    #[error("invalid evaluation report: {0}")]
    InvalidEvaluationReport(String),
    #[error("the training sweep failed: {0}")]
    SweepFailed(String),
    /// The evaluation gate's own errors (the candidate's report, the gate's settings).
    #[error(transparent)]
    Evaluation(#[from] crate::evaluation::EvaluationError),
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl ErrorName for TriggerError {
    fn error_name(&self) -> &'static str {
        match self {
            TriggerError::Misconfigured(_) => "Trigger.Misconfigured",
            TriggerError::NoCandidate(_) => "Pipeline.NoCandidate",
            TriggerError::InvalidEvaluationReport(_) => "Pipeline.InvalidEvaluationReport",
            TriggerError::SweepFailed(_) => "Pipeline.SweepFailed",
            TriggerError::Evaluation(e) => e.error_name(),
            TriggerError::Common(c) => c.error_name(),
        }
    }
}

/// Error names this module raises, and the Step Functions integration names the state
/// machine matches in its `Retry` blocks (documented here so the catalog covers every name
/// in the ASL's `ErrorEquals`).
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "Trigger.Misconfigured", retryable: false, meaning: "pipeline-trigger lacks TRAINGUARD_STATE_MACHINE_ARN (or, for scheduled runs, TRAINGUARD_DATA_BUCKET), or a setting does not parse" },
    ErrorDoc { name: "Pipeline.NoCandidate", retryable: false, meaning: "select-best: no configuration of the training sweep reported the objective metric (all failed, or the metric name is wrong)" },
    ErrorDoc { name: "Pipeline.SweepFailed", retryable: false, meaning: "select-best: more configurations of the training sweep failed than the sweep's ToleratedFailurePercentage allows (enforced there too, for engines that do not)" },
    ErrorDoc { name: "Pipeline.InvalidEvaluationReport", retryable: false, meaning: "read-evaluation: the candidate's evaluation report (or the production model's, which then only sends the run to a person) is not JSON or larger than 1 MB; a report that parses but breaks the format is Evaluation.InvalidReport" },
    ErrorDoc { name: "Lambda.ServiceException", retryable: true, meaning: "(Step Functions Lambda integration) the Lambda service had an internal error; the state machine retries it" },
    ErrorDoc { name: "Lambda.AWSLambdaException", retryable: true, meaning: "(Step Functions Lambda integration) a generic Lambda service error; the state machine retries it" },
    ErrorDoc { name: "Lambda.SdkClientException", retryable: true, meaning: "(Step Functions Lambda integration) the invoke call did not reach Lambda; the state machine retries it" },
    ErrorDoc { name: "Lambda.TooManyRequestsException", retryable: true, meaning: "(Step Functions Lambda integration) Lambda throttled the invoke; the state machine retries it" },
    ErrorDoc { name: "SageMaker.AmazonSageMakerException", retryable: true, meaning: "(Step Functions SageMaker integration) a SageMaker API call was refused (throttling and other unmodelled codes); the job was not created, so the state machine retries the same request" },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_documented() {
        for e in [
            TriggerError::Misconfigured(String::new()),
            TriggerError::NoCandidate(String::new()),
            TriggerError::InvalidEvaluationReport(String::new()),
            TriggerError::SweepFailed(String::new()),
            TriggerError::Common(CommonError::Transient(String::new())),
            TriggerError::Evaluation(crate::evaluation::EvaluationError::InvalidReport(
                String::new(),
            )),
        ] {
            // This module's own table, or the common one it passes through.
            assert!(
                ERRORS
                    .iter()
                    .chain(crate::error::ERRORS)
                    .chain(crate::evaluation::ERRORS)
                    .any(|d| d.name == e.error_name()),
                "{}",
                e.error_name()
            );
        }
    }
}
