//! The SageMaker Model a failed deployment created (`tg-<run_id>`, state `CreateModel`).
//!
//! The ASL records its name before `CreateModel` runs, so the model may never have
//! existed: not found is "already gone". It is deleted only once the endpoint config
//! that names it is gone, since an endpoint still creating or updating from that config
//! needs the model to provision instances; the config's own action waits for its
//! endpoints, so the two run in order across retries.

use super::{Compensator, Decision};
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::saga::retry::Retry;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Decide `DeleteModel`: gone → done; the config naming it still exists → wait;
    /// else act.
    pub(super) async fn decide_delete_model(
        &self,
        model: &str,
        wait_for_config: Option<&str>,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match retry.run(|| sm.describe_model(model)).await {
            Ok(()) => {}
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                return Ok(Decision::Already("not found: already gone".into()))
            }
            Err(e) => return Err(e),
        }
        if let Some(config) = wait_for_config {
            match retry.run(|| sm.describe_endpoint_config(config)).await {
                Ok(()) => {
                    return Ok(Decision::Wait(format!(
                        "endpoint config {config} still names model {model}"
                    )))
                }
                Err(e) if e.kind == AwsErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Decision::Act("model exists".into()))
    }

    /// Act on `DeleteModel`.
    pub(super) async fn act_delete_model(
        &self,
        model: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry.run(|| sm.delete_model(model)).await?;
        Ok("model deleted".into())
    }
}
