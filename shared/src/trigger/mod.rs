//! The pipeline's own function (`pipeline-trigger`): it starts executions and runs the
//! state machine's two small steps that need code.
//!
//! - **Start** ([`event`], [`name`], [`start`]): an S3 event notification, an EventBridge
//!   "Object Created" event or a scheduled event becomes one `StartExecution` per new
//!   object (or schedule tick) with the trigger context in the execution input. The
//!   execution name is derived from bucket, key and version (or ETag), so a duplicate
//!   delivery of the same object version, whichever channel brings it, names the same
//!   execution and starts nothing new: `ExecutionAlreadyExists` counts as success.
//! - **`select-best`** ([`select`]): the best configuration of the training sweep by the
//!   objective metric (JSONPath has no argmax).
//! - **`fingerprint`** ([`fingerprint`]): the SHA-256 of the training data, recorded on
//!   the model package for lineage.
//! - **`read-evaluation`** ([`evaluation`]): the evaluation report, checked, for the
//!   evaluation gate (a missing objective value is an error, never a pass).

pub mod evaluation;
pub mod event;
pub mod fingerprint;
pub mod name;
pub mod select;
pub mod start;

use serde_json::Value;

use crate::error::{CommonError, ErrorDoc, ErrorName};

pub use event::{decode, ObjectCreated, ScheduleTick, TriggerEvent};
pub use start::{
    plan, start_all, ExecutionStarter, Plan, SfnStarter, StartOutcome, TriggerConfig, TriggerMode,
};

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
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl ErrorName for TriggerError {
    fn error_name(&self) -> &'static str {
        match self {
            TriggerError::Misconfigured(_) => "Trigger.Misconfigured",
            TriggerError::NoCandidate(_) => "Pipeline.NoCandidate",
            TriggerError::InvalidEvaluationReport(_) => "Pipeline.InvalidEvaluationReport",
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
    ErrorDoc { name: "Pipeline.InvalidEvaluationReport", retryable: false, meaning: "read-evaluation: the evaluation report is not JSON, larger than 1 MB, or has no finite value for the objective metric" },
    ErrorDoc { name: "Lambda.ServiceException", retryable: true, meaning: "(Step Functions Lambda integration) the Lambda service had an internal error; the state machine retries it" },
    ErrorDoc { name: "Lambda.AWSLambdaException", retryable: true, meaning: "(Step Functions Lambda integration) a generic Lambda service error; the state machine retries it" },
    ErrorDoc { name: "Lambda.SdkClientException", retryable: true, meaning: "(Step Functions Lambda integration) the invoke call did not reach Lambda; the state machine retries it" },
    ErrorDoc { name: "Lambda.TooManyRequestsException", retryable: true, meaning: "(Step Functions Lambda integration) Lambda throttled the invoke; the state machine retries it" },
    ErrorDoc { name: "SageMaker.AmazonSageMakerException", retryable: true, meaning: "(Step Functions SageMaker integration) a SageMaker API call was refused (throttling and other unmodelled codes); the job was not created, so the state machine retries the same request" },
];

/// Which kind of request the function received.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An S3 / EventBridge / schedule event: start executions.
    Trigger(TriggerEvent),
    /// `{"task": "select-best", ...}` from the state machine.
    SelectBest(select::SelectBestInput),
    /// `{"task": "fingerprint", ...}` from the state machine.
    Fingerprint(fingerprint::FingerprintInput),
    /// `{"task": "read-evaluation", ...}` from the state machine.
    ReadEvaluation(evaluation::ReadEvaluationInput),
}

/// Tell the request kinds apart by shape: a `task` field is a state machine step;
/// anything else must be an event.
pub fn classify(input: &Value) -> Result<Request, CommonError> {
    match input.get("task").and_then(Value::as_str) {
        Some("select-best") => Ok(Request::SelectBest(parse(input)?)),
        Some("fingerprint") => Ok(Request::Fingerprint(parse(input)?)),
        Some("read-evaluation") => Ok(Request::ReadEvaluation(parse(input)?)),
        Some(other) => Err(CommonError::InvalidInput(format!(
            "unknown task {other:?} (expected select-best, fingerprint or read-evaluation)"
        ))),
        None => Ok(Request::Trigger(event::decode(input)?)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, CommonError> {
    serde_json::from_value(input.clone()).map_err(|e| {
        let msg = e.to_string();
        match msg.strip_prefix("missing field `") {
            Some(rest) => {
                CommonError::MissingField(rest.split('`').next().unwrap_or(rest).to_string())
            }
            None => CommonError::InvalidInput(msg),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_by_shape() {
        assert!(matches!(
            classify(
                &json!({"task": "select-best", "candidates": [], "objective": {"metric": "m"}})
            )
            .unwrap(),
            Request::SelectBest(_)
        ));
        assert!(matches!(
            classify(&json!({"task": "fingerprint", "data": "s3://bkt/x"})).unwrap(),
            Request::Fingerprint(_)
        ));
        let e = classify(&json!({"task": "nope"})).unwrap_err();
        assert_eq!(e.error_name(), "InputError.InvalidEvent");
        let e = classify(&json!({"task": "fingerprint"})).unwrap_err();
        assert_eq!(e.error_name(), "InputError.MissingField");
        assert!(e.to_string().contains("data"), "{e}");
    }

    #[test]
    fn every_variant_is_documented() {
        for e in [
            TriggerError::Misconfigured(String::new()),
            TriggerError::NoCandidate(String::new()),
            TriggerError::InvalidEvaluationReport(String::new()),
            TriggerError::Common(CommonError::Transient(String::new())),
        ] {
            // This module's own table, or the common one it passes through.
            assert!(
                ERRORS
                    .iter()
                    .chain(crate::error::ERRORS)
                    .any(|d| d.name == e.error_name()),
                "{}",
                e.error_name()
            );
        }
    }
}
