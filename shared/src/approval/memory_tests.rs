//! The approval gate's logic on the in-memory AWS doubles (`crate::aws::memory`): the
//! paths the moto tests cannot reach cheaply (a token Step Functions no longer knows, a
//! notification) run here without a server. The HTTP and browser paths against moto are
//! in `tests/tests/approval_*.rs`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::identity::{Identity, IdentityKind};
use super::*;
use crate::aws::memory::{MemoryAws, TaskResult};

const BUCKET: &str = "approvals";
const PACKAGE: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:approvals";
const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAQ-task-token-of-the-wait-state";
const REVIEWER: &str = "arn:aws:iam::123456789012:user/reviewer";
const STARTER: &str = "arn:aws:iam::123456789012:user/starter";

fn service() -> (Arc<MemoryAws>, ApprovalService<MemoryAws>) {
    let aws = Arc::new(MemoryAws::default());
    aws.s3.create_bucket(BUCKET, false);
    aws.sagemaker
        .add_model_package(PACKAGE, "PendingManualApproval");
    aws.sns.create_topic(TOPIC);
    let config = ApprovalConfig {
        bucket: Some(BUCKET.into()),
        base_url: Some("https://approvals.example.com".into()),
        topic_arn: Some(TOPIC.into()),
        ..ApprovalConfig::default()
    };
    let service = ApprovalService::new(Arc::clone(&aws), config).unwrap();
    (aws, service)
}

fn request() -> Value {
    json!({
        "task_token": TOKEN,
        "execution_name": "run-7",
        "model_package_arn": PACKAGE,
        "metrics": {"auc": {"candidate": 0.91, "baseline": 0.88}},
        "approvers": [REVIEWER],
        "started_by": STARTER,
    })
}

fn by(arn: &str, id: &str, decision: Decision) -> DecideRequest {
    DecideRequest {
        approval_id: id.to_string(),
        identity: Identity::from_principal_arn(arn, IdentityKind::Sts),
        decision: Some(decision),
        comment: "looks good".into(),
        csrf_token: None,
        source_ip: None,
        user_agent: None,
        via: Via::Cli,
    }
}

fn audit_events(aws: &MemoryAws) -> Vec<String> {
    aws.s3
        .keys(BUCKET, "audit/")
        .iter()
        .map(|k| {
            let v: Value = serde_json::from_slice(&aws.s3.body(BUCKET, k).unwrap()).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_approval_resumes_the_execution_sets_the_registry_and_is_audited() {
    let (aws, service) = service();
    aws.sfn.wait_on(TOKEN);
    let created = service.create(request()).await.unwrap();

    // The notification carries the link and never the token.
    let sent = aws.sns.published();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].message.contains(&created.url),
        "{}",
        sent[0].message
    );
    assert!(!sent[0].message.contains(TOKEN));

    // The starter may not approve their own run; nothing moves.
    let refused = service
        .decide(by(STARTER, &created.approval_id, Decision::Approve))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Refusal::NotApprover | Refusal::SelfApproval),
        "{refused:?}"
    );
    assert_eq!(aws.sfn.result(TOKEN), None);

    let outcome = service
        .decide(by(REVIEWER, &created.approval_id, Decision::Approve))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Approved);
    let Some(TaskResult::Succeeded { output }) = aws.sfn.result(TOKEN) else {
        panic!("the execution was not resumed: {:?}", aws.sfn.calls());
    };
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["decision"], Status::Approved.as_str());
    assert_eq!(output["approval_id"], created.approval_id.as_str());
    assert_eq!(aws.sagemaker.model_package(PACKAGE).unwrap().0, "Approved");

    // The first decision stands.
    let again = service
        .decide(by(REVIEWER, &created.approval_id, Decision::Reject))
        .await
        .unwrap_err();
    assert_eq!(again, Refusal::AlreadyDecided(Status::Approved));
    assert_eq!(aws.sfn.calls(), ["SendTaskSuccess"]);

    let events = audit_events(&aws);
    for e in ["requested", "refused", "decided"] {
        assert!(events.iter().any(|x| x == e), "no `{e}` in {events:?}");
    }
}

#[tokio::test]
async fn a_token_step_functions_no_longer_knows_closes_the_approval_and_restores_the_registry() {
    // The wait state timed out (or the execution stopped): SendTaskSuccess answers
    // TaskDoesNotExist. The registry must go back to pending and the approval close.
    let (aws, service) = service();
    let created = service.create(request()).await.unwrap();
    let refused = service
        .decide(by(REVIEWER, &created.approval_id, Decision::Approve))
        .await
        .unwrap_err();
    assert!(matches!(refused, Refusal::NoLongerOpen(_)), "{refused:?}");
    assert_eq!(aws.sfn.calls(), ["SendTaskSuccess"]);
    assert_eq!(
        aws.sagemaker.model_package(PACKAGE).unwrap().0,
        "PendingManualApproval"
    );
    let rec = service.load(&created.approval_id).await.unwrap().unwrap();
    assert_eq!(rec.status, Status::Closed);
    assert!(
        rec.closed_reason
            .as_deref()
            .unwrap_or("")
            .contains("TaskDoesNotExist"),
        "{:?}",
        rec.closed_reason
    );
}

#[tokio::test]
async fn a_rejection_fails_the_wait_state_with_the_documented_error() {
    let (aws, service) = service();
    aws.sfn.wait_on(TOKEN);
    let created = service.create(request()).await.unwrap();
    service
        .decide(by(REVIEWER, &created.approval_id, Decision::Reject))
        .await
        .unwrap();
    let Some(TaskResult::Failed { error, cause }) = aws.sfn.result(TOKEN) else {
        panic!("no SendTaskFailure: {:?}", aws.sfn.calls());
    };
    assert_eq!(error, REJECTED_ERROR);
    assert!(cause.contains("looks good"), "{cause}");
    assert_eq!(aws.sagemaker.model_package(PACKAGE).unwrap().0, "Rejected");
}
