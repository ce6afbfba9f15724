//! Training jobs: stop one this execution started, and tell whether any can still
//! write into S3.
//!
//! A training job is the first thing compensated (it costs money while it runs) and the
//! one the S3 cleanup waits for (a job still stopping may upload more artifacts), so
//! both questions about a job's state are answered here.

use super::{Compensator, Decision};
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::saga::retry::Retry;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Decide `StopTrainingJob`: act while the job is `InProgress`; a stopping,
    /// finished or missing job needs nothing.
    pub(super) async fn decide_stop_training_job(
        &self,
        job: &str,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match retry.run(|| sm.describe_training_job(job)).await {
            Ok(s) if s == "InProgress" => Ok(Decision::Act(format!("training job is {s}"))),
            Ok(s) if s == "Stopping" => Ok(Decision::Already("already stopping".into())),
            Ok(s) => Ok(Decision::Already(format!("already {s}"))),
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                Ok(Decision::Already("not found: already gone".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Act on `StopTrainingJob`.
    pub(super) async fn act_stop_training_job(
        &self,
        job: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry.run(|| sm.stop_training_job(job)).await?;
        Ok("StopTrainingJob sent; the job is stopping".into())
    }

    /// Some(reason) while any of `jobs` can still write into S3.
    pub(super) async fn jobs_still_running(
        &self,
        jobs: &[String],
        retry: &Retry,
    ) -> Result<Option<String>, AwsError> {
        for job in jobs {
            match retry
                .run(|| self.sagemaker.describe_training_job(job))
                .await
            {
                Ok(status) if status == "InProgress" || status == "Stopping" => {
                    return Ok(Some(format!(
                        "training job {job} is {status}; it may still upload into the prefix"
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind == AwsErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
