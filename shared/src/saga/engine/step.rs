//! One action's steps: decide from the resource's state, act, and decide again after a
//! "not found" or "conflict" reply (see the `engine` module docs).
//!
//! The sequence is the same for every kind of action, so it is written once here; what
//! deciding and acting mean for each kind lives in that kind's module (`training`,
//! `model_package`, `model`, `endpoint`, `s3_artifacts`), and this file only dispatches to them.

use super::s3_artifacts::DeleteResult;
use super::{failed_from, Compensator, Decision, Outcome};
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::saga::input::Request;
use crate::saga::journal::JournalHandle;
use crate::saga::plan::{Action, PlannedAction};
use crate::saga::retry::Retry;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Decide, act, and re-decide after a "not found"/"conflict" reply.
    pub(super) async fn perform(
        &self,
        pa: &PlannedAction,
        req: &Request,
        retry: &Retry,
        handle: Option<&mut JournalHandle<'_, S>>,
    ) -> (Outcome, Option<DeleteResult>) {
        if let Action::DeleteS3Prefix {
            prefix,
            versions,
            wait_for_jobs,
        } = &pa.action
        {
            return self
                .perform_delete_prefix(req, prefix, *versions, wait_for_jobs, retry, handle)
                .await;
        }
        let outcome = match self.decide(&pa.action, retry).await {
            Err(e) => failed_from(&e),
            Ok(Decision::Already(d)) => Outcome::Already(d),
            Ok(Decision::Wait(w)) => Outcome::Waiting(w),
            Ok(Decision::Refuse(r)) => Outcome::Failed {
                error: format!("refused: {r}"),
                retryable: false,
            },
            Ok(Decision::Act(_)) => self.act_and_check(&pa.action, retry).await,
        };
        (outcome, None)
    }

    /// Act; after a "not found" or "conflict" reply decide again (a concurrent change
    /// may have done the work, or the resource may be busy), and retry the act itself
    /// after a conflict while the resource still needs it (ConflictException is
    /// SageMaker's reply to a concurrent modification).
    async fn act_and_check(&self, action: &Action, retry: &Retry) -> Outcome {
        let mut attempt = 1;
        loop {
            match self.act(action, retry).await {
                Ok(done) => {
                    return match action {
                        // The rollback counts as done only once the endpoint runs the previous config.
                        Action::RollbackEndpoint {
                            previous_config, ..
                        } => match self.decide(action, retry).await {
                            Ok(Decision::Already(_)) => {
                                Outcome::Done(format!("rolled back to {previous_config}"))
                            }
                            Ok(Decision::Wait(w))
                            | Ok(Decision::Act(w))
                            | Ok(Decision::Refuse(w)) => Outcome::Waiting(format!("{done}; {w}")),
                            Err(e) => Outcome::Waiting(format!("{done}; could not check it: {e}")),
                        },
                        _ => Outcome::Done(done),
                    };
                }
                Err(e) if matches!(e.kind, AwsErrorKind::NotFound | AwsErrorKind::Conflict) => {
                    match self.decide(action, retry).await {
                        Ok(Decision::Already(d)) => return Outcome::Already(d),
                        Ok(Decision::Wait(w)) => return Outcome::Waiting(w),
                        Ok(Decision::Refuse(r)) => {
                            return Outcome::Failed {
                                error: format!("refused: {r}"),
                                retryable: false,
                            }
                        }
                        Ok(Decision::Act(_))
                            if e.kind == AwsErrorKind::Conflict && attempt < retry.max_attempts =>
                        {
                            tracing::warn!(operation = %e.operation, attempt, "conflict; retrying");
                            retry.pause(attempt).await;
                            attempt += 1;
                        }
                        Ok(Decision::Act(_)) | Err(_) => return failed_from(&e),
                    }
                }
                Err(e) => return failed_from(&e),
            }
        }
    }

    /// Step 1 for every kind but the S3 cleanup (which decides as it deletes).
    pub(super) async fn decide(
        &self,
        action: &Action,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        match action {
            Action::StopTrainingJob { job } => self.decide_stop_training_job(job, retry).await,
            Action::RejectModelPackage { package, .. } => {
                self.decide_reject_model_package(package, retry).await
            }
            Action::DeleteModelPackage { package } => {
                self.decide_delete_model_package(package, retry).await
            }
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                new_config,
            } => {
                self.decide_rollback_endpoint(
                    endpoint,
                    previous_config,
                    new_config.as_deref(),
                    retry,
                )
                .await
            }
            Action::DeleteEndpoint {
                endpoint,
                new_config,
            } => {
                self.decide_delete_endpoint(endpoint, new_config, retry)
                    .await
            }
            Action::DeleteEndpointConfig { config } => {
                self.decide_delete_endpoint_config(config, retry).await
            }
            Action::DeleteModel {
                model,
                wait_for_config,
            } => {
                self.decide_delete_model(model, wait_for_config.as_deref(), retry)
                    .await
            }
            Action::DeleteS3Prefix { .. } => Ok(Decision::Act("delete objects".into())),
        }
    }

    /// Step 2: the call that changes the resource; returns what it did.
    async fn act(&self, action: &Action, retry: &Retry) -> Result<String, AwsError> {
        match action {
            Action::StopTrainingJob { job } => self.act_stop_training_job(job, retry).await,
            Action::RejectModelPackage {
                package,
                description,
            } => {
                self.act_reject_model_package(package, description, retry)
                    .await
            }
            Action::DeleteModelPackage { package } => {
                self.act_delete_model_package(package, retry).await
            }
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                ..
            } => {
                self.act_rollback_endpoint(endpoint, previous_config, retry)
                    .await
            }
            Action::DeleteEndpoint { endpoint, .. } => {
                self.act_delete_endpoint(endpoint, retry).await
            }
            Action::DeleteEndpointConfig { config } => {
                self.act_delete_endpoint_config(config, retry).await
            }
            Action::DeleteModel { model, .. } => self.act_delete_model(model, retry).await,
            Action::DeleteS3Prefix { .. } => Ok(String::new()),
        }
    }
}
