//! Running a compensation plan: decide, act, record; and the dry-run preview.
//!
//! Every action goes through the same three steps:
//! 1. **decide** from the resource's current state (Describe…): already in the target
//!    state ("already gone" is success), must wait (an endpoint still updating, a
//!    training job still stopping), must refuse (the resource is not this execution's),
//!    or act;
//! 2. **act** (Stop…, Update…, Delete…), retrying throttling; a "not found" or
//!    "conflict" reply sends it back to *decide*, since a concurrent change may have
//!    done the work already;
//! 3. **record** the completed action in the journal (a conditional write that also
//!    renews the run's lease), or record the failure.
//!
//! One failed action does not stop the others; dependencies are expressed through
//! state instead (the endpoint config is deleted only once no endpoint uses it, S3
//! artifacts only once every training job has stopped), so a later retry picks up
//! exactly what is left.
//!
//! This file holds what every part shares: the [`Compensator`] itself and its
//! settings, and the vocabulary of one action's steps (`Decision`, `Outcome`).
//! The parts, one job each, depend on this file; between them the dependencies run one
//! way only (`run`, `preview` and `metrics` use `report`'s types, `step` uses
//! `s3_artifacts`'s `DeleteResult`), so the module graph stays without circles:
//!
//! - `run`: [`Compensator::execute`], the loop over the plan (lease, act, record, release);
//! - `step`: one action's decide → act → re-decide, dispatching on the kind of action;
//! - `training`, `s3_artifacts`, `model_package`, `model`, `endpoint`: what deciding and acting
//!   mean for each kind of resource;
//! - `preview`: [`Compensator::preview`], the read-only dry run;
//! - `report`: the run's [`Report`] and its result types;
//! - `metrics`: the EMF documents of a run and of each action.

use std::time::Duration;

use super::input::Request;
use super::retry::Retry;
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::lambda::Deadline;

mod endpoint;
mod metrics;
mod model;
mod model_package;
mod preview;
mod report;
mod run;
mod s3_artifacts;
mod step;
mod training;

pub use preview::{Preview, PreviewItem};
pub use report::{ActionFailure, ActionResult, Report};
pub use s3_artifacts::DELETE_BATCH;

/// Runs compensation plans through an [`S3Ops`] and a [`SageMakerOps`].
pub struct Compensator<S, M> {
    s3: S,
    sagemaker: M,
    deadline: Deadline,
    base_delay: Duration,
    function: String,
}

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    pub fn new(s3: S, sagemaker: M) -> Self {
        Compensator {
            s3,
            sagemaker,
            deadline: Deadline::none(),
            base_delay: Duration::from_millis(200),
            function: "saga-compensator".into(),
        }
    }

    /// Stop cleanly (reporting what remains) when this deadline passes.
    pub fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// The first retry's delay (doubled each retry); tests use a millisecond.
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    pub fn s3(&self) -> &S {
        &self.s3
    }

    pub fn sagemaker(&self) -> &M {
        &self.sagemaker
    }

    fn retry(&self, req: &Request) -> Retry {
        Retry::new(req.options.max_attempts, self.base_delay)
    }
}

/// What the current state of a resource calls for (step 1).
#[derive(Debug)]
enum Decision {
    Act(String),
    Already(String),
    Wait(String),
    Refuse(String),
}

/// How one action ended (after step 2), as the journal and the report file it.
#[derive(Debug)]
enum Outcome {
    Done(String),
    Already(String),
    Waiting(String),
    Failed { error: String, retryable: bool },
}

impl Outcome {
    /// The outcome as logs and metrics name it.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Done(_) => "done",
            Outcome::Already(_) => "skipped",
            Outcome::Waiting(_) => "waiting",
            Outcome::Failed { .. } => "failed",
        }
    }
}

fn failed_from(e: &AwsError) -> Outcome {
    Outcome::Failed {
        error: e.to_string(),
        retryable: op_retryable(e),
    }
}

/// Whether running again may help: not for access denied or a rejected request.
fn op_retryable(e: &AwsError) -> bool {
    !matches!(e.kind, AwsErrorKind::AccessDenied | AwsErrorKind::Invalid)
}
