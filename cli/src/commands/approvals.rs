//! `trainguard approvals list`, `trainguard approve|reject <id> --comment ...`.
//!
//! For reviewers at a terminal: both call the approval service's IAM routes on its HTTP
//! API (`GET <api>/iam/approvals`, `POST <api>/iam/approvals/{id}/decision`), signed with
//! SigV4 using the caller's AWS credentials (see [`crate::approval_api`]). API Gateway
//! verifies the signature and tells the function who is calling; the function checks
//! that caller against the approval's list exactly as for the page, and decides
//! (record, registry, SendTask*, audit with `via: http`).
//!
//! Why not the SDK on the reviewer's machine: that needed read access to the approval
//! records, which hold the Step Functions task token, and `states:SendTaskSuccess`, so a
//! reviewer could have resumed the execution directly, with no check and no audit. Now
//! a reviewer needs only `execute-api:Invoke` on the two IAM routes; only the function
//! can touch the records and the execution.
//!
//! Configuration: `--api-url` / `TRAINGUARD_APPROVAL_API_URL`, the API's base URL
//! (https; http only for loopback hosts); region and credentials from the standard AWS
//! environment. There is no `--bucket` any more: the CLI never reads S3.
//!
//! With `--json`: `approvals list` prints the API's `{"pending": [...]}`; a decision prints
//! its reply (`approval_id`, `status`, `reviewer`, `decided_at`) or, refused (exit 1),
//! `{"refused": {"code", "http_status", "message"}}`: the service's refusal code, or
//! `access_denied` when API Gateway itself refused the request (a bad signature, unknown
//! credentials, no `execute-api:Invoke`). Unreachable or failing API: exit 2 with
//! `Transient.Throttled`; unusable URL, region or credentials: `Approval.Misconfigured`.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::Value;
use trainguard::approval::{is_valid_id, Refusal};
use trainguard::ErrorName;

use crate::approval_api::{ApprovalApi, Failure, Refused};
use crate::output::Output;

/// Where the approval API is.
#[derive(clap::Args, Debug)]
pub struct ApiArgs {
    /// Base URL of the approval HTTP API, e.g.
    /// https://abc123.execute-api.eu-west-1.amazonaws.com (the stack's ApprovalApiUrl).
    #[arg(long, env = "TRAINGUARD_APPROVAL_API_URL")]
    pub api_url: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: ApprovalsAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum ApprovalsAction {
    /// List pending, unexpired approvals (newest first).
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The approval id (from the notification link or `approvals list`).
    pub id: String,
    /// Why: recorded with the decision and sent to the pipeline.
    #[arg(long, default_value = "")]
    pub comment: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

async fn api(args: &ApiArgs, out: Output) -> Result<ApprovalApi, ExitCode> {
    ApprovalApi::from_env(args.api_url.as_deref())
        .await
        .map_err(|e| out.fail(e.error_name(), &e.to_string()))
}

/// Print a refusal (stderr always; stdout too with `--json`) and return exit 1.
fn refused(r: &Refused, out: Output) -> ExitCode {
    let hint = if r.code == "access_denied" {
        " (API Gateway refused the signed request: check the AWS credentials in use and that they may call execute-api:Invoke on the approval API)"
    } else {
        ""
    };
    eprintln!(
        "refused[{}] (HTTP {}): {}{hint}",
        r.code, r.http_status, r.message
    );
    if out.json {
        out.emit(&serde_json::json!({ "refused": r }));
    }
    ExitCode::from(1)
}

fn failed(f: Failure, out: Output) -> ExitCode {
    match f {
        Failure::Refused(r) => refused(&r, out),
        Failure::Error(e) => out.fail(e.error_name(), &e.to_string()),
    }
}

/// A timestamp from a reply, for human output.
fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One line of `approvals list` (the layout the command always had).
fn list_line(p: &Value) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("-");
    let may = match p.get("may_decide").and_then(Value::as_bool) {
        Some(true) => "you may decide",
        Some(false) => "not yours to decide",
        None => "",
    };
    let expires = time(&p["expires_at"])
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into());
    format!(
        "{}  {}  expires {}  {}  {}",
        s("approval_id"),
        s("execution_name"),
        expires,
        s("model_package_arn"),
        may
    )
}

pub async fn run_list(a: ApprovalsArgs, out: Output) -> ExitCode {
    let ApprovalsAction::List { api: args } = a.action;
    let api = match api(&args, out).await {
        Ok(api) => api,
        Err(code) => return code,
    };
    let doc = match api.list().await {
        Ok(doc) => doc,
        Err(f) => return failed(f, out),
    };
    if out.json {
        out.emit(&doc);
        return ExitCode::SUCCESS;
    }
    let pending = doc["pending"].as_array().cloned().unwrap_or_default();
    if pending.is_empty() {
        println!("no pending approvals");
    }
    for p in &pending {
        println!("{}", list_line(p));
    }
    ExitCode::SUCCESS
}

pub async fn run_decide(a: DecideArgs, approve: bool, out: Output) -> ExitCode {
    let id = a.id.trim();
    // The id becomes a path segment: refuse anything that is not one, as the service would.
    if !is_valid_id(id) {
        let r = Refusal::UnknownId;
        return refused(
            &Refused {
                code: r.code().into(),
                http_status: r.status(),
                message: format!("{} ({id:?} is not an approval id)", r.message()),
            },
            out,
        );
    }
    let api = match api(&a.api, out).await {
        Ok(api) => api,
        Err(code) => return code,
    };
    let doc = match api.decide(id, approve, a.comment.trim()).await {
        Ok(doc) => doc,
        Err(f) => return failed(f, out),
    };
    if out.json {
        out.emit(&doc);
        return ExitCode::SUCCESS;
    }
    let s = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or("-");
    let at = time(&doc["decided_at"])
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| s("decided_at").to_string());
    println!(
        "{} {} by {} at {at}",
        s("approval_id"),
        s("status"),
        s("reviewer")
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_lines_keep_their_layout() {
        let p = json!({
            "approval_id": "ab12", "execution_name": "run-1",
            "expires_at": "2026-11-22T10:15:30.5Z",
            "model_package_arn": "arn:aws:sagemaker:eu-west-1:1:model-package/churn/3",
            "may_decide": true
        });
        assert_eq!(
            list_line(&p),
            "ab12  run-1  expires 2026-11-22 10:15 UTC  arn:aws:sagemaker:eu-west-1:1:model-package/churn/3  you may decide"
        );
        let sparse = json!({"approval_id": "cd34", "expires_at": "soon", "may_decide": false});
        assert_eq!(
            list_line(&sparse),
            "cd34  -  expires -  -  not yours to decide"
        );
    }
}
