//! `trainguard compensate`: run the saga compensation for a failed stage by hand.
//!
//! The plan (each action and what it would do given the current state) is printed on
//! stderr first (not with `--quiet`); `--dry-run` stops there. stdout gets a one-line
//! summary, or with `--json` the preview or the run's `{done, skipped, failed,
//! remaining}` report (what the Lambda returns).
//! Exit codes: 0 nothing remains, 1 something remains (`Compensation.Incomplete`),
//! 2 unusable input. While acting, progress on stderr (the action under way, objects
//! deleted; see [`crate::progress`]).

use std::process::ExitCode;

use serde_json::{json, Value};
use trainguard::aws::sdk::{SdkS3, SdkSageMaker};
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::saga::{Compensator, Options, Preview, Request};
use trainguard::ErrorName;

use crate::output::Output;
use crate::progress::{watch_compensation, Progress};

#[derive(clap::Args, Debug)]
pub struct CompensateArgs {
    /// The failed stage: data, training, evaluation or deployment.
    #[arg(long)]
    pub stage: String,
    /// The Step Functions execution name (its artifacts live under pipeline/<name>/).
    #[arg(long = "execution", visible_alias = "execution-name")]
    pub execution: String,
    /// The pipeline bucket.
    #[arg(long)]
    pub bucket: String,
    /// The execution's prefix (default pipeline/<execution>/; must lie under it).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Show the plan and the current state; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A training job of this execution (repeat for several).
    #[arg(long = "training-job")]
    pub training_jobs: Vec<String>,
    /// The model package registered by this execution.
    #[arg(long)]
    pub model_package_arn: Option<String>,
    /// The endpoint the deployment touched.
    #[arg(long)]
    pub endpoint_name: Option<String>,
    /// The endpoint config the endpoint ran before the deployment.
    #[arg(long)]
    pub previous_endpoint_config: Option<String>,
    /// The endpoint config the deployment created.
    #[arg(long)]
    pub new_endpoint_config: Option<String>,
    /// The SageMaker Model the deployment created (`tg-<run id>`): deleted once the new
    /// endpoint config is gone.
    #[arg(long)]
    pub model_name: Option<String>,
    /// This execution created the endpoint (delete it instead of rolling it back).
    #[arg(long)]
    pub endpoint_created: bool,
    /// Delete every object version and delete marker (versioned buckets).
    #[arg(long)]
    pub versioned_bucket: bool,
    /// Delete the model package instead of setting it to Rejected.
    #[arg(long)]
    pub delete_model_package: bool,
    /// The model package's ApprovalDescription (default: which stage failed and why).
    #[arg(long)]
    pub approval_description: Option<String>,
    /// The caught error's name, for the record (e.g. States.TaskFailed).
    #[arg(long)]
    pub error: Option<String>,
    /// The caught error's cause, for the record.
    #[arg(long)]
    pub cause: Option<String>,
}

impl CompensateArgs {
    /// The task input the Lambda function would receive.
    fn to_input(&self) -> Value {
        let mut options = json!({"dry_run": self.dry_run});
        if self.versioned_bucket {
            options["versioned_bucket"] = json!(true);
        }
        if self.delete_model_package {
            options["delete_model_package"] = json!(true);
        }
        if let Some(d) = &self.approval_description {
            options["approval_description"] = json!(d);
        }
        let mut input = json!({
            "stage": self.stage,
            "execution_name": self.execution,
            "bucket": self.bucket,
            "resources": {
                "training_jobs": self.training_jobs,
                "model_package_arn": self.model_package_arn,
                "endpoint_name": self.endpoint_name,
                "previous_endpoint_config": self.previous_endpoint_config,
                "new_endpoint_config": self.new_endpoint_config,
                "model_name": self.model_name,
                "endpoint_created": self.endpoint_created,
            },
            "options": options,
        });
        if let Some(p) = &self.prefix {
            input["prefix"] = json!(p);
        }
        if self.error.is_some() || self.cause.is_some() {
            input["error"] = json!({"Error": self.error, "Cause": self.cause});
        }
        input
    }
}

fn print_plan(p: &Preview) {
    eprintln!(
        "Compensation plan for execution {} (failed stage: {}); journal {}",
        p.execution_name, p.stage, p.journal_uri
    );
    if let Some(l) = &p.lease {
        eprintln!("  note: the journal lease is {l}; a run now would wait for it");
    }
    if p.plan.is_empty() {
        eprintln!("  nothing to undo for this stage");
    }
    for (i, item) in p.plan.iter().enumerate() {
        eprintln!("  {:>2}. [{}] {}", i + 1, item.stage, item.description);
        eprintln!("      {}: {}", item.state, item.detail);
    }
}

pub async fn run(a: CompensateArgs, out: Output) -> ExitCode {
    let req = match Request::from_json(&a.to_input(), Options::from_env()) {
        Ok(r) => r,
        Err(e) => return out.fail(e.error_name(), &e.to_string()),
    };
    let clients = Clients::from_env().await;
    let compensator = Compensator::new(
        SdkS3::new(S3Store::new(clients.s3)),
        SdkSageMaker::new(clients.sagemaker),
    );
    let preview = match compensator.preview(&req).await {
        Ok(p) => p,
        Err(e) => return out.fail(e.error_name(), &e.to_string()),
    };
    if !out.quiet {
        print_plan(&preview);
    }
    if req.options.dry_run {
        if out.json {
            out.emit(&preview);
        } else {
            println!(
                "dry run: {} action(s) planned, nothing changed",
                preview.plan.len()
            );
        }
        return ExitCode::SUCCESS;
    }
    out.note("Acting…");
    let acting = watch_compensation(
        Progress::start("compensating", out.progress_here()),
        compensator.execute(&req),
    );
    let report = match acting.await {
        Ok(r) => r,
        Err(e) => return out.fail(e.error_name(), &e.to_string()),
    };
    if out.json {
        out.emit(&report);
    } else {
        println!(
            "{}: {} done, {} skipped (already done), {} objects deleted, {} remaining",
            if report.is_complete() {
                "complete"
            } else {
                "incomplete"
            },
            report.done.len(),
            report.skipped.len(),
            report.objects_deleted,
            report.remaining.len()
        );
    }
    if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error[Compensation.Incomplete]: {}",
            report.incomplete_message()
        );
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompensateArgs,
    }

    #[test]
    fn flags_become_the_task_input() {
        let cli = Cli::parse_from([
            "x",
            "--stage",
            "deployment",
            "--execution",
            "run-1",
            "--bucket",
            "bkt",
            "--dry-run",
            "--training-job",
            "j1",
            "--training-job",
            "j2",
            "--endpoint-name",
            "ep",
            "--previous-endpoint-config",
            "c1",
            "--new-endpoint-config",
            "c2",
            "--model-name",
            "tg-1",
            "--error",
            "States.TaskFailed",
        ]);
        let req = Request::from_json(&cli.args.to_input(), Options::default()).unwrap();
        assert!(req.options.dry_run);
        assert_eq!(req.resources.training_jobs, ["j1", "j2"]);
        assert_eq!(req.resources.model_name.as_deref(), Some("tg-1"));
        assert_eq!(
            req.resources.previous_endpoint_config.as_deref(),
            Some("c1")
        );
        assert_eq!(req.prefix, "pipeline/run-1/");
        assert_eq!(req.error.unwrap().error, "States.TaskFailed");
    }
}
