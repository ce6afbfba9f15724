//! `trainguard approvals list`, `trainguard approve|reject <id> --comment ...`.
//!
//! For reviewers at a terminal with IAM credentials: the identity is the caller's STS
//! identity (GetCallerIdentity), checked against the approval's list exactly like the
//! page's, and the decision goes through the same library call (record, registry,
//! SendTask*, audit) with `via: cli`.
//!
//! With `--json`: `approvals list` prints `{"pending": [...]}`; a decision prints the
//! decided record's summary (`approval_id`, `status`, `reviewer`, `decided_at`, ...) or,
//! refused (exit 1), `{"refused": {"code", "http_status", "message"}}`.

use std::process::ExitCode;

use std::sync::Arc;
use trainguard::approval::{ApprovalConfig, ApprovalService, DecideRequest, Decision, Via};

use trainguard::approval::caller_identity;
use trainguard::aws::sdk::SdkAws;
use trainguard::aws::Clients;
use trainguard::ErrorName;

use crate::output::Output;

#[derive(clap::Args, Debug)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: ApprovalsAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum ApprovalsAction {
    /// List pending, unexpired approvals (newest first).
    List {
        /// The approvals bucket.
        #[arg(long, env = "TRAINGUARD_APPROVAL_BUCKET")]
        bucket: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The approval id (from the notification link or `approvals list`).
    pub id: String,
    /// Why: recorded with the decision and sent to the pipeline.
    #[arg(long, default_value = "")]
    pub comment: String,
    /// The approvals bucket.
    #[arg(long, env = "TRAINGUARD_APPROVAL_BUCKET")]
    pub bucket: String,
}

async fn service(
    bucket: &str,
    out: Output,
) -> Result<(ApprovalService<SdkAws>, Clients), ExitCode> {
    let mut config = ApprovalConfig::from_env();
    config.bucket = Some(bucket.to_string());
    let clients = Clients::from_env().await;
    match ApprovalService::new(Arc::new(SdkAws::new(&clients)), config) {
        Ok(s) => Ok((s, clients)),
        Err(e) => Err(out.fail(e.error_name(), &e.to_string())),
    }
}

pub async fn run_list(a: ApprovalsArgs, out: Output) -> ExitCode {
    let ApprovalsAction::List { bucket } = a.action;
    let (svc, clients) = match service(&bucket, out).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let viewer = caller_identity(&clients.config).await.ok();
    match svc.list_pending(viewer.as_ref()).await {
        Ok(list) if out.json => {
            out.emit(&serde_json::json!({ "pending": list }));
            ExitCode::SUCCESS
        }
        Ok(list) => {
            if list.is_empty() {
                println!("no pending approvals");
            }
            for p in list {
                let may = match p.may_decide {
                    Some(true) => "you may decide",
                    Some(false) => "not yours to decide",
                    None => "",
                };
                println!(
                    "{}  {}  expires {}  {}  {}",
                    p.approval_id,
                    p.execution_name.as_deref().unwrap_or("-"),
                    p.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    p.model_package_arn.as_deref().unwrap_or("-"),
                    may
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => out.fail(e.error_name(), &e.to_string()),
    }
}

pub async fn run_decide(a: DecideArgs, approve: bool, out: Output) -> ExitCode {
    let (svc, clients) = match service(&a.bucket, out).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let identity = match caller_identity(&clients.config).await {
        Ok(i) => Some(i),
        Err(e) => return out.fail(e.error_name(), &format!("could not tell who you are: {e}")),
    };
    let req = DecideRequest {
        approval_id: a.id.trim().to_string(),
        identity,
        decision: Some(if approve {
            Decision::Approve
        } else {
            Decision::Reject
        }),
        comment: a.comment.trim().to_string(),
        csrf_token: None,
        source_ip: None,
        user_agent: Some(format!("trainguard-cli/{}", env!("CARGO_PKG_VERSION"))),
        via: Via::Cli,
    };
    match svc.decide(req).await {
        Ok(decided) if out.json => {
            out.emit(&decided);
            ExitCode::SUCCESS
        }
        Ok(decided) => {
            println!(
                "{} {} by {} at {}",
                decided.approval_id,
                decided.status.as_str(),
                decided.reviewer,
                decided.decided_at.to_rfc3339()
            );
            ExitCode::SUCCESS
        }
        Err(r) => {
            eprintln!(
                "refused[{}] (HTTP {}): {}",
                r.code(),
                r.status(),
                r.message()
            );
            if out.json {
                out.emit(&serde_json::json!({"refused": {
                    "code": r.code(),
                    "http_status": r.status(),
                    "message": r.message(),
                }}));
            }
            ExitCode::from(1)
        }
    }
}
