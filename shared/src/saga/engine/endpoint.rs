//! The endpoint a failed deploy touched: roll it back to the configuration it ran
//! before (or delete it when this execution created it), then delete the new endpoint
//! config once no endpoint uses it.
//!
//! Endpoints are the one resource that changes state slowly and can be changed by
//! someone else meanwhile, so deciding here means reading the status (wait while it
//! updates), checking the endpoint still runs this execution's config (refuse to undo
//! another deployment), and looking for other users before deleting a config.

use super::{Compensator, Decision};
use crate::aws::{AwsError, AwsErrorKind, S3Ops, SageMakerOps};
use crate::saga::retry::Retry;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Decide `RollbackEndpoint`: already done once the endpoint runs
    /// `previous_config`; wait while it updates; refuse over another deployment or a
    /// failed endpoint.
    pub(super) async fn decide_rollback_endpoint(
        &self,
        endpoint: &str,
        previous_config: &str,
        new_config: Option<&str>,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        let st = match retry.run(|| sm.describe_endpoint(endpoint)).await {
            Ok(st) => st,
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                return Ok(Decision::Already(
                    "endpoint not found: nothing to roll back".into(),
                ))
            }
            Err(e) => return Err(e),
        };
        let current = st.config_name.clone().unwrap_or_default();
        Ok(match st.status.as_str() {
            "InService" | "OutOfService" if current == previous_config => {
                Decision::Already(format!("endpoint already runs {previous_config}"))
            }
            "InService" | "OutOfService" => match new_config {
                Some(n) if n != current => Decision::Refuse(format!(
                    "endpoint {endpoint} now runs {current}, which is neither this execution's {n} nor the previous {previous_config}; not rolling back over another deployment"
                )),
                _ => Decision::Act(format!("endpoint runs {current} ({})", st.status)),
            },
            "Failed" | "UpdateRollbackFailed" => Decision::Refuse(format!(
                "endpoint {endpoint} is {}; it cannot be updated and needs an operator",
                st.status
            )),
            "Deleting" => Decision::Already("endpoint is being deleted: nothing to roll back".into()),
            other => Decision::Wait(format!(
                "endpoint {endpoint} is {other}{}",
                st.pending_config_name.as_deref().map(|p| format!(" (deploying {p})")).unwrap_or_default()
            )),
        })
    }

    /// Decide `DeleteEndpoint`: act only while the endpoint runs (or deploys) this
    /// execution's `new_config`.
    pub(super) async fn decide_delete_endpoint(
        &self,
        endpoint: &str,
        new_config: &str,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        let st = match retry.run(|| sm.describe_endpoint(endpoint)).await {
            Ok(st) => st,
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                return Ok(Decision::Already("not found: already deleted".into()))
            }
            Err(e) => return Err(e),
        };
        if st.status == "Deleting" {
            return Ok(Decision::Already("already being deleted".into()));
        }
        let ours = st.config_name.as_deref() == Some(new_config)
            || st.pending_config_name.as_deref() == Some(new_config);
        Ok(if ours {
            Decision::Act(format!("endpoint is {} with {new_config}", st.status))
        } else {
            Decision::Refuse(format!(
                "endpoint {endpoint} runs {}, not this execution's {new_config}; refusing to delete an endpoint this execution did not create",
                st.config_name.as_deref().unwrap_or("an unknown config")
            ))
        })
    }

    /// Decide `DeleteEndpointConfig`: wait while any endpoint (not being deleted) runs
    /// or deploys it.
    pub(super) async fn decide_delete_endpoint_config(
        &self,
        config: &str,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match retry.run(|| sm.describe_endpoint_config(config)).await {
            Ok(()) => {}
            Err(e) if e.kind == AwsErrorKind::NotFound => {
                return Ok(Decision::Already("not found: already deleted".into()))
            }
            Err(e) => return Err(e),
        }
        let mut users = Vec::new();
        for name in retry.run(|| sm.list_endpoints()).await? {
            match retry.run(|| sm.describe_endpoint(&name)).await {
                Ok(st) => {
                    let uses = st.config_name.as_deref() == Some(config)
                        || st.pending_config_name.as_deref() == Some(config);
                    if uses && st.status != "Deleting" {
                        users.push(format!("{name} ({})", st.status));
                    }
                }
                Err(e) if e.kind == AwsErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(if users.is_empty() {
            Decision::Act("no endpoint uses it".into())
        } else {
            Decision::Wait(format!(
                "endpoint config {config} is still used by {}",
                users.join(", ")
            ))
        })
    }

    /// Act on `RollbackEndpoint`: start the update (done once `decide` sees it).
    pub(super) async fn act_rollback_endpoint(
        &self,
        endpoint: &str,
        previous_config: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry
            .run(|| sm.update_endpoint(endpoint, previous_config))
            .await?;
        Ok(format!("UpdateEndpoint to {previous_config} started"))
    }

    /// Act on `DeleteEndpoint`.
    pub(super) async fn act_delete_endpoint(
        &self,
        endpoint: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry.run(|| sm.delete_endpoint(endpoint)).await?;
        Ok("DeleteEndpoint sent".into())
    }

    /// Act on `DeleteEndpointConfig`.
    pub(super) async fn act_delete_endpoint_config(
        &self,
        config: &str,
        retry: &Retry,
    ) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        retry.run(|| sm.delete_endpoint_config(config)).await?;
        Ok("endpoint config deleted".into())
    }
}
