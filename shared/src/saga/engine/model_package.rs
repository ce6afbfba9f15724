//! The model package a failed execution registered: set it to `Rejected` (keeping the
//! audit trail, the default) or delete it.
//!
//! Both are single SageMaker calls whose target state is readable with one Describe,
//! which is all this file decides from.

use super::{Compensator, Decision};
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::saga::retry::Retry;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Decide `RejectModelPackage`: act unless it is already `Rejected` or gone.
    pub(super) async fn decide_reject_model_package(
        &self,
        package: &str,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match retry.run(|| sm.describe_model_package(package)).await {
            Ok(s) if s == "Rejected" => Ok(Decision::Already("already Rejected".into())),
            Ok(s) => Ok(Decision::Act(format!("model package is {s}"))),
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                Ok(Decision::Already("not found: already gone".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Decide `DeleteModelPackage`: act while it exists.
    pub(super) async fn decide_delete_model_package(
        &self,
        package: &str,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match retry.run(|| sm.describe_model_package(package)).await {
            Ok(s) => Ok(Decision::Act(format!("model package exists ({s})"))),
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                Ok(Decision::Already("not found: already gone".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Act on `RejectModelPackage`.
    pub(super) async fn act_reject_model_package(
        &self,
        package: &str,
        description: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry
            .run(|| sm.set_model_package_status(package, "Rejected", description))
            .await?;
        Ok("model package set to Rejected".into())
    }

    /// Act on `DeleteModelPackage`.
    pub(super) async fn act_delete_model_package(
        &self,
        package: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry.run(|| sm.delete_model_package(package)).await?;
        Ok("model package deleted".into())
    }
}
