//! Which compensating actions a failed stage needs, in which order.
//!
//! A later stage's compensation includes the earlier stages', in reverse order: a failed
//! deployment first puts the endpoint back, then undoes evaluation, then training. Each
//! action has a stable id (kind + resource), which is what the journal records, so the
//! same resource is never acted on twice even when two stages name it (the model
//! package is deregistered by both deployment and evaluation compensation: once).

use serde::Serialize;

use super::input::{Request, Stage};

/// One compensating action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// StopTrainingJob if the job is still running.
    StopTrainingJob { job: String },
    /// Delete every object (or every version) under `prefix`, once none of
    /// `wait_for_jobs` can still upload into it.
    DeleteS3Prefix {
        prefix: String,
        versions: bool,
        wait_for_jobs: Vec<String>,
    },
    /// UpdateModelPackage → `Rejected` with an `ApprovalDescription` (keeps the audit trail).
    RejectModelPackage {
        package: String,
        description: String,
    },
    /// DeleteModelPackage.
    DeleteModelPackage { package: String },
    /// UpdateEndpoint back to the configuration it ran before.
    RollbackEndpoint {
        endpoint: String,
        previous_config: String,
        new_config: Option<String>,
    },
    /// DeleteEndpoint (this execution created it).
    DeleteEndpoint {
        endpoint: String,
        new_config: String,
    },
    /// DeleteEndpointConfig once no endpoint uses it.
    DeleteEndpointConfig { config: String },
    /// DeleteModel (the deployment's `tg-<run_id>`), once `wait_for_config`, the
    /// endpoint config that names it, is gone: an endpoint still creating or updating
    /// from that config needs the model to provision its instances.
    DeleteModel {
        model: String,
        wait_for_config: Option<String>,
    },
}

impl Action {
    /// The stable id the journal records.
    pub fn id(&self) -> String {
        match self {
            Action::StopTrainingJob { job } => format!("training-job.stop:{job}"),
            Action::DeleteS3Prefix {
                prefix,
                versions: false,
                ..
            } => format!("s3.delete:{prefix}"),
            Action::DeleteS3Prefix {
                prefix,
                versions: true,
                ..
            } => format!("s3.delete-versions:{prefix}"),
            Action::RejectModelPackage { package, .. } => format!("model-package.reject:{package}"),
            Action::DeleteModelPackage { package } => format!("model-package.delete:{package}"),
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                ..
            } => {
                format!("endpoint.rollback:{endpoint}->{previous_config}")
            }
            Action::DeleteEndpoint { endpoint, .. } => format!("endpoint.delete:{endpoint}"),
            Action::DeleteEndpointConfig { config } => format!("endpoint-config.delete:{config}"),
            Action::DeleteModel { model, .. } => format!("model.delete:{model}"),
        }
    }

    /// The kind of action (a bounded set: used as a log field and metric property).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::StopTrainingJob { .. } => "stop_training_job",
            Action::DeleteS3Prefix { .. } => "delete_s3_prefix",
            Action::RejectModelPackage { .. } => "reject_model_package",
            Action::DeleteModelPackage { .. } => "delete_model_package",
            Action::RollbackEndpoint { .. } => "rollback_endpoint",
            Action::DeleteEndpoint { .. } => "delete_endpoint",
            Action::DeleteEndpointConfig { .. } => "delete_endpoint_config",
            Action::DeleteModel { .. } => "delete_model",
        }
    }

    /// One line for people (the dry-run plan, logs).
    pub fn describe(&self, bucket: &str) -> String {
        match self {
            Action::StopTrainingJob { job } => {
                format!("stop training job {job} if it is still running")
            }
            Action::DeleteS3Prefix {
                prefix,
                versions,
                wait_for_jobs,
            } => format!(
                "delete {} under s3://{bucket}/{prefix}{}",
                if *versions {
                    "every object version and delete marker"
                } else {
                    "every object"
                },
                if wait_for_jobs.is_empty() {
                    String::new()
                } else {
                    format!(
                        " once training jobs {} have stopped",
                        wait_for_jobs.join(", ")
                    )
                }
            ),
            Action::RejectModelPackage { package, .. } => {
                format!("set model package {package} to Rejected (ApprovalDescription says why)")
            }
            Action::DeleteModelPackage { package } => format!("delete model package {package}"),
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                ..
            } => {
                format!("roll endpoint {endpoint} back to endpoint config {previous_config} (UpdateEndpoint)")
            }
            Action::DeleteEndpoint { endpoint, .. } => {
                format!("delete endpoint {endpoint} (created by this execution)")
            }
            Action::DeleteEndpointConfig { config } => {
                format!("delete endpoint config {config} once no endpoint uses it")
            }
            Action::DeleteModel {
                model,
                wait_for_config,
            } => match wait_for_config {
                Some(c) => format!("delete model {model} once endpoint config {c} is gone"),
                None => format!("delete model {model}"),
            },
        }
    }
}

/// An action with the stage whose compensation asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub id: String,
    pub stage: Stage,
    pub action: Action,
}

/// Longest `ApprovalDescription` SageMaker accepts.
pub const APPROVAL_DESCRIPTION_MAX: usize = 1024;

/// The default `ApprovalDescription`: which execution, which stage, which error.
pub fn approval_description(req: &Request) -> String {
    let text = match &req.options.approval_description {
        Some(d) => d.clone(),
        None => {
            let mut s = format!(
                "Rejected by trainguard saga-compensator: the {} stage of execution {} failed",
                req.stage, req.execution_name
            );
            if let Some(e) = &req.error {
                let name = if e.error.is_empty() {
                    "error"
                } else {
                    &e.error
                };
                if e.cause.is_empty() {
                    s.push_str(&format!(" ({name})"));
                } else {
                    s.push_str(&format!(" ({name}: {})", e.cause));
                }
            }
            s
        }
    };
    truncate_chars(&text, APPROVAL_DESCRIPTION_MAX)
}

/// At most `max` characters, cut on a character boundary, marked with `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The actions for the failed stage and every earlier one, latest stage first,
/// without duplicates.
pub fn plan(req: &Request) -> Vec<PlannedAction> {
    let mut out: Vec<PlannedAction> = Vec::new();
    let r = &req.resources;
    for stage in Stage::ALL.iter().rev().filter(|s| **s <= req.stage) {
        let mut actions = Vec::new();
        match stage {
            Stage::Deployment => {
                if let Some(endpoint) = &r.endpoint_name {
                    if r.endpoint_created {
                        if let Some(new_config) = &r.new_endpoint_config {
                            actions.push(Action::DeleteEndpoint {
                                endpoint: endpoint.clone(),
                                new_config: new_config.clone(),
                            });
                        }
                    } else if let Some(prev) = &r.previous_endpoint_config {
                        actions.push(Action::RollbackEndpoint {
                            endpoint: endpoint.clone(),
                            previous_config: prev.clone(),
                            new_config: r.new_endpoint_config.clone(),
                        });
                    }
                }
                if let Some(cfg) = &r.new_endpoint_config {
                    actions.push(Action::DeleteEndpointConfig {
                        config: cfg.clone(),
                    });
                }
                // After the config that names it, which it waits for.
                if let Some(model) = &r.model_name {
                    actions.push(Action::DeleteModel {
                        model: model.clone(),
                        wait_for_config: r.new_endpoint_config.clone(),
                    });
                }
                actions.extend(deregister(req));
            }
            Stage::Evaluation => {
                actions.push(delete_prefix(req, "evaluation/", Vec::new()));
                actions.extend(deregister(req));
            }
            Stage::Training => {
                // Newest job first: it is the one most likely still running.
                for job in r.training_jobs.iter().rev() {
                    actions.push(Action::StopTrainingJob { job: job.clone() });
                }
                // A stopping job still uploads its model and last checkpoint: the
                // deletions wait until every job has stopped.
                actions.push(delete_prefix(req, "model/", r.training_jobs.clone()));
                actions.push(delete_prefix(req, "checkpoints/", r.training_jobs.clone()));
            }
            // The engineered features (FeatureEngineering's Processing job, whose Catch
            // is the data stage's) are derived data a new run writes again. Training
            // jobs only read them and never upload there, so, unlike `model/` and
            // `checkpoints/`, nothing waits for the jobs (which a data-stage plan does
            // not stop).
            Stage::Data => {
                actions.push(delete_prefix(req, "features/", Vec::new()));
            }
        }
        for action in actions {
            let id = action.id();
            if !out.iter().any(|p| p.id == id) {
                out.push(PlannedAction {
                    id,
                    stage: *stage,
                    action,
                });
            }
        }
    }
    out
}

fn delete_prefix(req: &Request, child: &str, wait_for_jobs: Vec<String>) -> Action {
    Action::DeleteS3Prefix {
        prefix: format!("{}{child}", req.prefix),
        versions: req.options.versioned_bucket,
        wait_for_jobs,
    }
}

fn deregister(req: &Request) -> Option<Action> {
    let package = req.resources.model_package_arn.clone()?;
    Some(if req.options.delete_model_package {
        Action::DeleteModelPackage { package }
    } else {
        Action::RejectModelPackage {
            package,
            description: approval_description(req),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::input::Options;
    use super::*;
    use serde_json::json;

    fn request(stage: &str) -> Request {
        Request::from_json(
            &json!({
                "stage": stage, "execution_name": "run-7", "bucket": "bkt",
                "resources": {
                    "training_jobs": ["run-7-train-1", "run-7-train-2"],
                    "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
                    "endpoint_name": "churn", "previous_endpoint_config": "churn-cfg-6",
                    "new_endpoint_config": "churn-cfg-7", "model_name": "tg-3f2a9c01"
                },
                "error": {"Error": "States.TaskFailed", "Cause": "endpoint update failed"}
            }),
            Options::default(),
        )
        .unwrap()
    }

    fn ids(stage: &str) -> Vec<String> {
        plan(&request(stage)).into_iter().map(|p| p.id).collect()
    }

    #[test]
    fn data_stage_deletes_only_the_features() {
        assert_eq!(ids("data"), ["s3.delete:pipeline/run-7/features/"]);
        // Every later stage ends with it too: the earliest stage's undo comes last.
        for stage in ["training", "evaluation", "deployment"] {
            assert!(ids(stage).ends_with(&ids("data")), "{stage}");
        }
    }

    #[test]
    fn training_stops_jobs_before_deleting_artifacts() {
        assert_eq!(
            ids("training"),
            [
                "training-job.stop:run-7-train-2",
                "training-job.stop:run-7-train-1",
                "s3.delete:pipeline/run-7/model/",
                "s3.delete:pipeline/run-7/checkpoints/",
                "s3.delete:pipeline/run-7/features/",
            ]
        );
    }

    #[test]
    fn deployment_includes_earlier_stages_in_reverse_order_once() {
        let all = ids("deployment");
        assert_eq!(
            all,
            [
                "endpoint.rollback:churn->churn-cfg-6",
                "endpoint-config.delete:churn-cfg-7",
                "model.delete:tg-3f2a9c01",
                "model-package.reject:arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
                "s3.delete:pipeline/run-7/evaluation/",
                "training-job.stop:run-7-train-2",
                "training-job.stop:run-7-train-1",
                "s3.delete:pipeline/run-7/model/",
                "s3.delete:pipeline/run-7/checkpoints/",
                "s3.delete:pipeline/run-7/features/",
            ]
        );
        // A later stage's plan contains the earlier stage's, and training's comes last.
        let eval = ids("evaluation");
        assert!(
            eval.iter().all(|id| all.contains(id)),
            "{all:?} vs {eval:?}"
        );
        assert!(all.ends_with(&ids("training")));
        assert!(eval.ends_with(&ids("training")));
    }

    #[test]
    fn every_s3_prefix_is_under_the_execution() {
        for stage in ["data", "training", "evaluation", "deployment"] {
            for p in plan(&request(stage)) {
                if let Action::DeleteS3Prefix { prefix, .. } = &p.action {
                    assert!(
                        prefix.starts_with("pipeline/run-7/") && prefix.ends_with('/'),
                        "{prefix}"
                    );
                }
            }
        }
    }

    #[test]
    fn created_endpoint_is_deleted_and_options_switch_kinds() {
        let mut r = request("deployment");
        r.resources.endpoint_created = true;
        r.options.delete_model_package = true;
        r.options.versioned_bucket = true;
        let ids: Vec<String> = plan(&r).into_iter().map(|p| p.id).collect();
        assert_eq!(ids[0], "endpoint.delete:churn");
        assert!(ids.iter().any(|i| i.starts_with("model-package.delete:")));
        assert!(ids
            .iter()
            .any(|i| i == "s3.delete-versions:pipeline/run-7/checkpoints/"));
    }

    #[test]
    fn approval_description_says_why_and_fits() {
        let r = request("evaluation");
        let d = approval_description(&r);
        assert!(d.contains("evaluation stage of execution run-7"), "{d}");
        assert!(
            d.contains("States.TaskFailed: endpoint update failed"),
            "{d}"
        );
        let mut long = r.clone();
        long.error = Some(crate::caught::CaughtError {
            error: "E".into(),
            cause: "é".repeat(5000),
        });
        let d = approval_description(&long);
        assert_eq!(d.chars().count(), APPROVAL_DESCRIPTION_MAX);
        assert!(d.ends_with('…'));
    }
}
