//! Training failure recovery: the batch-size-adjuster.
//!
//! A SageMaker training job run by `sagemaker:createTrainingJob.sync` fails; the state
//! machine's `Catch` hands the caught `{"Error","Cause"}`, the job's CreateTrainingJob
//! parameters, the recovery policy and the attempt history to [`recover`], which
//! returns a [`Decision`]: retry now, wait then retry, or halt, with the class, the
//! evidence, the patch for the next CreateTrainingJob call and the full next parameters.
//!
//! - [`shapes`]: decoding what Step Functions hands over (job failure, API error, text);
//! - [`classify`]: Transient / Resource / Data / Logic / Unknown, with evidence;
//! - [`logs`]: the CloudWatch Logs tail when the FailureReason is cut or says nothing;
//! - [`policy`]: the knobs and their defaults (instance ladder included);
//! - [`plan`]: OOM resizing, ladder, spot fallback, waits, learning-rate reductions;
//! - [`naming`]: a new valid, unique, deterministic job name for every retry.
//!
//! Halting is a *result* (`action: "halt"` with a `halt_reason` such as
//! `TrainingRecovery.LadderExhausted`), not an error: the ASL routes it to compensation
//! with a Choice state. Errors are raised only for input that cannot be acted on
//! (`InputError.*`) and for a transient failure reading the logs (`Transient.Throttled`,
//! so the ASL retries the invocation instead of halting a run over a log hiccup).

pub mod classify;
pub mod logs;
pub mod metrics;
pub mod naming;
pub mod plan;
pub mod policy;
pub mod shapes;

use serde_json::{Map, Value};

use crate::error::{CommonError, ErrorDoc, ErrorName};
pub use classify::{Classification, Evidence, EvidenceSource, FailureClass, FailureKind};
pub use logs::{InMemoryLogs, LogSource, NoLogs, StreamTail, TRAINING_LOG_GROUP};
pub use plan::{Action, AttemptRecord, Decision, HaltReason};
pub use policy::Policy;
pub use shapes::{CaughtError, FailureSource};

/// Errors of the batch-size-adjuster.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The `policy` object does not decode or its numbers make no sense.
    #[error("invalid recovery policy: {0}")]
    InvalidPolicy(String),
    /// The failed job's parameters cannot be planned from (no name, non-numeric batch,
    /// a job that did not fail).
    #[error("invalid training job: {0}")]
    InvalidTrainingJob(String),
    /// A common failure (missing field, malformed event, transient log read).
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl ErrorName for TrainingError {
    fn error_name(&self) -> &'static str {
        match self {
            TrainingError::InvalidPolicy(_) => "InputError.InvalidRecoveryPolicy",
            TrainingError::InvalidTrainingJob(_) => "InputError.InvalidTrainingJob",
            TrainingError::Common(e) => e.error_name(),
        }
    }
}

/// Error names this module raises beyond the common ones (`InputError.InvalidEvent`,
/// `InputError.MissingField`, `Transient.Throttled`). The `TrainingRecovery.*` halt
/// reasons are results, not errors, and are documented in `docs/batch-size-adjuster.md`.
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc {
        name: "InputError.InvalidRecoveryPolicy",
        retryable: false,
        meaning: "the batch-size-adjuster policy does not decode or has impossible values (factor <= 1, min batch 0, ...)",
    },
    ErrorDoc {
        name: "InputError.InvalidTrainingJob",
        retryable: false,
        meaning: "the failed job's parameters cannot be planned from (no TrainingJobName, non-numeric batch size, a job that completed)",
    },
];

/// The decoded task input.
#[derive(Debug, Clone)]
pub struct RecoveryInput {
    pub caught: CaughtError,
    pub training_job: Option<Map<String, Value>>,
    pub policy: Policy,
    pub history: Vec<AttemptRecord>,
    pub execution_name: Option<String>,
}

impl RecoveryInput {
    /// Decode `{"error", "training_job", "policy", "history", "execution_name"}`.
    /// Unknown fields are ignored. A bare `{"Error","Cause"}` object (what a `Catch`
    /// writes) is accepted as the `error` itself.
    pub fn from_value(v: &Value) -> Result<Self, TrainingError> {
        let Value::Object(o) = v else {
            return Err(CommonError::InvalidInput(format!(
                "the task input must be an object, got {}",
                shapes::type_name(v)
            ))
            .into());
        };
        let error_v = o
            .get("error")
            .or_else(|| {
                o.get("Error")
                    .filter(|_| o.contains_key("Cause"))
                    .map(|_| v)
            })
            .ok_or_else(|| CommonError::MissingField("error".into()))?;
        let caught = CaughtError::from_value(error_v)?;
        let training_job = match o.get("training_job") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                return Err(CommonError::InvalidInput(format!(
                    "training_job must be an object, got {}",
                    shapes::type_name(other)
                ))
                .into())
            }
        };
        let policy = match o.get("policy") {
            None | Some(Value::Null) => Policy::default(),
            Some(p) => serde_json::from_value::<Policy>(p.clone())
                .map_err(|e| TrainingError::InvalidPolicy(e.to_string()))?,
        };
        policy.validate().map_err(TrainingError::InvalidPolicy)?;
        let history = match o.get("history") {
            None | Some(Value::Null) => Vec::new(),
            Some(h) => serde_json::from_value::<Vec<AttemptRecord>>(h.clone())
                .map_err(|e| CommonError::InvalidInput(format!("history: {e}")))?,
        };
        Ok(RecoveryInput {
            caught,
            training_job,
            policy,
            history,
            execution_name: crate::lambda::execution_name(v),
        })
    }
}

/// Classify the failure, reading the job's logs when the FailureReason is cut or says
/// nothing. Returns the classification, notes about how it was reached, and the decoded
/// source.
pub async fn diagnose<L: LogSource>(
    caught: &CaughtError,
    policy: &Policy,
    logs: &L,
) -> Result<(Classification, Vec<String>, FailureSource), TrainingError> {
    let source = shapes::parse_cause(caught);
    if let FailureSource::Job(d) = &source {
        if d.status.eq_ignore_ascii_case("Completed") {
            return Err(TrainingError::InvalidTrainingJob(format!(
                "training job {} completed; there is nothing to recover",
                d.name
            )));
        }
    }
    let mut notes = Vec::new();
    let mut c = classify::classify_source(&source);
    if let FailureSource::Job(d) = &source {
        if classify::needs_log_fallback(&source, &c) && !d.name.is_empty() {
            let why =
                if d.failure_reason.chars().count() >= classify::FAILURE_REASON_TRUNCATION_HINT {
                    "FailureReason is cut at 1024 characters"
                } else {
                    "FailureReason does not say what failed"
                };
            match logs
                .job_tails(&d.name, policy.log_tail_lines, policy.log_max_streams)
                .await
            {
                Ok(tails) if tails.is_empty() => notes.push(format!(
                    "{why}; no log streams found for {} in {TRAINING_LOG_GROUP}",
                    d.name
                )),
                Ok(tails) => match best_of_tails(&tails) {
                    Some(from_logs) => {
                        notes.push(format!(
                            "{why}; decided from the tail of {} in {TRAINING_LOG_GROUP}",
                            from_logs.evidence.log_stream.as_deref().unwrap_or("?")
                        ));
                        c = from_logs;
                    }
                    None => notes.push(format!(
                        "{why}; the tails of {} log stream(s) matched no rule either",
                        tails.len()
                    )),
                },
                Err(e @ CommonError::Transient(_)) => return Err(e.into()),
                Err(e) => notes.push(format!(
                    "{why}; the logs could not be read ({})",
                    e.error_name()
                )),
            }
        }
    }
    Ok((c, notes, source))
}

/// The strongest classification over several hosts' tails: the one whose rule comes
/// first in [`classify::RULES`], ties going to the first stream by name.
pub fn best_of_tails(tails: &[StreamTail]) -> Option<Classification> {
    let priority = |c: &Classification| {
        classify::RULES
            .iter()
            .position(|r| r.id == c.evidence.rule)
            .unwrap_or(usize::MAX)
    };
    tails
        .iter()
        .filter_map(|t| {
            let mut c =
                classify::classify_text(&t.lines.join("\n"), EvidenceSource::CloudWatchLogs)?;
            c.evidence.log_stream = Some(t.stream.clone());
            Some(c)
        })
        .min_by_key(priority)
}

/// Decode the task input, diagnose the failure and plan the next step.
pub async fn recover<L: LogSource>(input: &Value, logs: &L) -> Result<Decision, TrainingError> {
    let req = RecoveryInput::from_value(input)?;
    decide(&req, logs).await
}

/// [`recover`] on an already decoded input.
pub async fn decide<L: LogSource>(
    req: &RecoveryInput,
    logs: &L,
) -> Result<Decision, TrainingError> {
    let (classification, notes, source) = diagnose(&req.caught, &req.policy, logs).await?;
    let (params, spot_interruptions) = match (&req.training_job, &source) {
        (Some(p), FailureSource::Job(d)) => (p.clone(), d.spot_interruptions()),
        (Some(p), _) => (p.clone(), 0),
        (None, FailureSource::Job(d)) => (
            shapes::create_params_from_describe(d),
            d.spot_interruptions(),
        ),
        (None, _) => return Err(CommonError::MissingField("training_job".into()).into()),
    };
    plan::plan(plan::PlanInput {
        classification,
        params: &params,
        history: &req.history,
        policy: &req.policy,
        execution_name: req.execution_name.as_deref(),
        spot_interruptions,
        notes,
    })
}

#[cfg(test)]
mod tests;
