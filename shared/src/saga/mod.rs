//! The saga compensator: undo what a failed pipeline stage left behind, idempotently.
//!
//! A Step Functions Catch handler calls it with the failed stage, the execution's name,
//! bucket and prefix, and the resources the stages produced. It plans the compensating
//! actions for that stage and every earlier one, latest first ([`plan`]), then carries
//! them out ([`engine`]): training jobs stopped, S3 artifacts under the execution's own
//! prefix deleted (paginated, batched, versioned buckets optional), the model package
//! set to `Rejected` (or deleted), the endpoint rolled back or deleted and the new
//! endpoint config deleted once unused.
//!
//! Running it twice, or after a partial run, ends in the same state: every action
//! treats "already gone" as success, and a journal under the execution's prefix
//! ([`journal`]) records completed actions, guarded by a lease taken and renewed with
//! S3 conditional writes so two concurrent runs cannot both act.
//!
//! AWS is reached through the AWS layer's traits ([`crate::aws::S3Ops`],
//! [`crate::aws::SageMakerOps`]), so the engine runs the same against the SDK, the
//! in-memory doubles and fault injection.

pub mod engine;
pub mod input;
pub mod journal;
pub mod plan;
pub mod progress;
pub mod retry;

pub use engine::{ActionFailure, ActionResult, Compensator, Preview, PreviewItem, Report};
pub use input::{CaughtError, Options, Request, Resources, Stage};
pub use plan::{plan, Action, PlannedAction};

use crate::error::{CommonError, ErrorDoc, ErrorName};

/// Everything that can go wrong in the saga compensator.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// Input decoding, missing fields, bad URIs, storage failures.
    #[error(transparent)]
    Common(#[from] CommonError),
    #[error("invalid stage: {0}")]
    InvalidStage(String),
    #[error("invalid execution name: {0}")]
    InvalidExecutionName(String),
    #[error("{0}")]
    PrefixOutsideExecution(String),
    #[error("invalid resource: {0}")]
    InvalidResource(String),
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Some compensating actions remain (failed, waiting, or blocked by another run).
    #[error("{0}")]
    Incomplete(String),
    /// The journal object exists but is not a journal.
    #[error("{0}")]
    JournalCorrupt(String),
}

impl ErrorName for SagaError {
    fn error_name(&self) -> &'static str {
        match self {
            SagaError::Common(e) => e.error_name(),
            SagaError::InvalidStage(_) => "InputError.InvalidStage",
            SagaError::InvalidExecutionName(_) => "InputError.InvalidExecutionName",
            SagaError::PrefixOutsideExecution(_) => "InputError.PrefixOutsideExecution",
            SagaError::InvalidResource(_) => "InputError.InvalidSagaResource",
            SagaError::InvalidOption(_) => "InputError.InvalidSagaOption",
            SagaError::Incomplete(_) => "Compensation.Incomplete",
            SagaError::JournalCorrupt(_) => "Compensation.JournalCorrupt",
        }
    }
}

/// Error names this module can raise (see [`crate::catalog`]); it also raises
/// the common `InputError.MissingField`, `InputError.InvalidEvent`,
/// `InputError.InvalidUri` and `StorageError.*`.
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc {
        name: "InputError.InvalidStage",
        retryable: false,
        meaning: "`stage` is not one of data, training, evaluation, deployment",
    },
    ErrorDoc {
        name: "InputError.InvalidExecutionName",
        retryable: false,
        meaning: "the execution name is not a valid Step Functions execution name (it becomes an S3 path segment)",
    },
    ErrorDoc {
        name: "InputError.PrefixOutsideExecution",
        retryable: false,
        meaning: "the given prefix is not the execution's own pipeline/<execution-name>/ or under it; nothing is touched",
    },
    ErrorDoc {
        name: "InputError.InvalidSagaResource",
        retryable: false,
        meaning: "a training job, endpoint, endpoint config or model package name/ARN in `resources` is malformed or contradictory",
    },
    ErrorDoc {
        name: "InputError.InvalidSagaOption",
        retryable: false,
        meaning: "an `options` value is out of range (lease_seconds 1..=86400, max_attempts 1..=20)",
    },
    ErrorDoc {
        name: "Compensation.Incomplete",
        retryable: true,
        meaning: "some compensating actions failed, are waiting for AWS, or another run holds the journal lease; the message lists what remains",
    },
    ErrorDoc {
        name: "Compensation.JournalCorrupt",
        retryable: false,
        meaning: "the journal object pipeline/<execution>/saga/journal.json exists but is not a saga journal",
    },
];

/// Run (or, with `options.dry_run`, preview) a compensation and encode the task output.
/// `emit_metrics` prints the EMF documents (the Lambda handler); the CLI leaves it off.
pub async fn compensate<S: crate::aws::S3Ops, M: crate::aws::SageMakerOps>(
    compensator: &Compensator<S, M>,
    req: &Request,
    emit_metrics: bool,
) -> Result<serde_json::Value, SagaError> {
    if req.options.dry_run {
        let preview = compensator.preview(req).await?;
        return to_json(&preview);
    }
    let report = compensator.execute(req).await?;
    if emit_metrics {
        for m in &report.metrics {
            m.emit();
        }
    }
    let report = report.into_result()?;
    to_json(&report)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, SagaError> {
    serde_json::to_value(v)
        .map_err(|e| SagaError::Common(CommonError::Storage(format!("encoding the output: {e}"))))
}

#[cfg(test)]
mod tests;
