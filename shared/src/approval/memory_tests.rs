//! The approval gate's logic on the in-memory AWS doubles (`crate::aws::memory`): the
//! paths the moto tests cannot reach cheaply (a token Step Functions no longer knows, a
//! notification) run here without a server. The HTTP and browser paths against moto are
//! in `tests/tests/approval_*.rs`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::identity::{Identity, IdentityKind};
use super::*;
use crate::aws::memory::{MemoryAws, TaskResult};
use crate::error::ErrorName;

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
        // The deploy-time list: the starter is on it too, so the self-approval rule is what
        // stops them.
        approvers: vec![REVIEWER.into(), STARTER.into()],
        api_id: Some("api".into()),
        ..ApprovalConfig::default()
    };
    let service = ApprovalService::new(Arc::clone(&aws), config).unwrap();
    attest(&aws, "run-7", STARTER, &execution_input());
    (aws, service)
}

/// What the execution was started with (`$$.Execution.Input`).
fn execution_input() -> Value {
    json!({"trigger": {"type": "manual"}, "data": {"bucket": BUCKET, "prefix": "data/"}})
}

/// Write the start record pipeline-trigger would have written.
fn attest(aws: &MemoryAws, execution: &str, started_by: &str, input: &Value) {
    let origin = crate::origin::StartOrigin {
        started_by: Some(started_by.into()),
        starter_kind: crate::origin::StarterKind::IamCaller,
        channel: "http".into(),
        event_id: None,
        source_ip: None,
    };
    let rec = origin.record(execution, input, chrono::Utc::now());
    let uri = crate::origin::start_record_uri(BUCKET, execution);
    aws.s3
        .put(BUCKET, &uri.key, serde_json::to_vec(&rec).unwrap());
}

fn request() -> Value {
    json!({
        "task_token": TOKEN,
        "execution_name": "run-7",
        "model_package_arn": PACKAGE,
        "metrics": {"auc": {"candidate": 0.91, "baseline": 0.88}},
        "approvers": [REVIEWER, STARTER],
        // What an execution input claims is ignored: the start record says STARTER.
        "started_by": REVIEWER,
        "execution_input": execution_input(),
        "bucket": BUCKET,
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
async fn an_approval_resumes_the_execution_leaves_the_registry_to_the_pipeline_and_is_audited() {
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
    assert_eq!(refused, Refusal::SelfApproval);
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
    assert!(output["registry_note"]
        .as_str()
        .unwrap()
        .starts_with("approved by arn:aws:iam::123456789012:user/reviewer"));
    // The pipeline (state ApproveReviewed) sets the registry, not the handler.
    assert_eq!(
        aws.sagemaker.model_package(PACKAGE).unwrap().0,
        "PendingManualApproval"
    );
    assert!(
        aws.sagemaker.calls().is_empty(),
        "{:?}",
        aws.sagemaker.calls()
    );

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
async fn a_token_step_functions_no_longer_knows_closes_the_approval_and_leaves_the_registry() {
    // The wait state timed out (or the execution stopped, and the saga set the package
    // Rejected): SendTaskSuccess answers TaskDoesNotExist. The approval closes and the
    // registry keeps what the saga wrote: a stale approval never flips it.
    let (aws, service) = service();
    let created = service.create(request()).await.unwrap();
    aws.sagemaker.add_model_package(PACKAGE, "Rejected");
    let refused = service
        .decide(by(REVIEWER, &created.approval_id, Decision::Approve))
        .await
        .unwrap_err();
    assert!(matches!(refused, Refusal::NoLongerOpen(_)), "{refused:?}");
    assert_eq!(aws.sfn.calls(), ["SendTaskSuccess"]);
    assert_eq!(aws.sagemaker.model_package(PACKAGE).unwrap().0, "Rejected");
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
    // The saga sets Rejected when the execution compensates; the handler does not.
    assert_eq!(
        aws.sagemaker.model_package(PACKAGE).unwrap().0,
        "PendingManualApproval"
    );
}

#[tokio::test]
async fn a_run_without_a_matching_start_record_is_refused_unless_allowed() {
    let (aws, service) = service();
    // No record for this execution: it was started directly, not through the trigger.
    let mut other = request();
    other["execution_name"] = json!("run-direct");
    let e = service.create(other.clone()).await.unwrap_err();
    assert_eq!(e.error_name(), "Approval.UnattributedRun");
    assert!(e.to_string().contains("pipeline-trigger"), "{e}");
    // A record written for another input does not vouch for this execution.
    attest(&aws, "run-direct", STARTER, &json!({"something": "else"}));
    let e = service.create(other.clone()).await.unwrap_err();
    assert_eq!(e.error_name(), "Approval.UnattributedRun");
    // Without `execution_input` the record cannot be checked.
    let mut bare = request();
    bare.as_object_mut().unwrap().remove("execution_input");
    assert_eq!(
        service.create(bare).await.unwrap_err().error_name(),
        "Approval.UnattributedRun"
    );
    // A deployment may accept unattributed runs: created, with no starter named.
    let lax = ApprovalService::new(
        Arc::clone(&aws),
        ApprovalConfig {
            allow_unattributed: true,
            ..service.config.clone()
        },
    )
    .unwrap();
    let created = lax
        .create(json!({"task_token": TOKEN, "execution_name": "run-x"}))
        .await
        .unwrap();
    let rec = lax.load(&created.approval_id).await.unwrap().unwrap();
    assert_eq!(rec.started_by, None);
    assert_eq!(rec.approvers, [REVIEWER, STARTER], "the deploy-time list");
    // Nothing was stored for the refused requests.
    assert_eq!(
        aws.s3.keys(BUCKET, "approvals/").len(),
        2,
        "one record and its open marker"
    );
}

#[tokio::test]
async fn the_execution_input_cannot_add_approvers() {
    let (_aws, service) = service();
    let mut req = request();
    req["approvers"] = json!([REVIEWER, "arn:aws:iam::123456789012:user/mallory"]);
    let e = service.create(req).await.unwrap_err();
    assert_eq!(e.error_name(), "Approval.InvalidRequest");
    // Narrowing is fine: only the reviewer may decide.
    let mut req = request();
    req["approvers"] = json!([REVIEWER]);
    let created = service.create(req).await.unwrap();
    let rec = service.load(&created.approval_id).await.unwrap().unwrap();
    assert_eq!(rec.approvers, [REVIEWER]);
}

#[tokio::test]
async fn listings_show_only_your_open_approvals_and_survive_a_bad_record() {
    let (aws, service) = service();
    aws.sfn.wait_on(TOKEN);
    let mine = service.create(request()).await.unwrap();
    let mut narrowed = request();
    narrowed["approvers"] = json!([STARTER]);
    let theirs = service.create(narrowed).await.unwrap();
    // A corrupt record with an open marker must not break the listing.
    let bad = "0123456789abcdef0123456789abcdef";
    aws.s3.put(
        BUCKET,
        &format!("approvals/{bad}.json"),
        b"{not json".to_vec(),
    );
    aws.s3
        .put(BUCKET, &format!("approvals/pending/{bad}"), b"{}".to_vec());

    let reviewer = Identity::from_principal_arn(REVIEWER, IdentityKind::Sts).unwrap();
    let list = service.list_pending(Some(&reviewer)).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p.approval_id.as_str()).collect();
    assert_eq!(
        ids,
        [mine.approval_id.as_str()],
        "not {}",
        theirs.approval_id
    );
    assert_eq!(list[0].may_decide, Some(true));
    let stranger =
        Identity::from_principal_arn("arn:aws:iam::123456789012:user/x", IdentityKind::Sts)
            .unwrap();
    assert!(service
        .list_pending(Some(&stranger))
        .await
        .unwrap()
        .is_empty());
    assert!(service.list_pending(None).await.unwrap().is_empty());

    // Decided: gone from the listing, and its marker with it.
    service
        .decide(by(REVIEWER, &mine.approval_id, Decision::Approve))
        .await
        .unwrap();
    assert!(service
        .list_pending(Some(&reviewer))
        .await
        .unwrap()
        .is_empty());
    assert!(!aws
        .s3
        .keys(BUCKET, "approvals/pending/")
        .contains(&format!("approvals/pending/{}", mine.approval_id)));
}

#[tokio::test]
async fn refusals_are_audited_once_per_minute_per_caller_and_reason() {
    let (_aws, service) = service();
    let aws = _aws;
    let created = service.create(request()).await.unwrap();
    let before = audit_events(&aws).len();
    for _ in 0..50 {
        let r = service
            .decide(by(
                "arn:aws:iam::123456789012:user/x",
                &created.approval_id,
                Decision::Approve,
            ))
            .await
            .unwrap_err();
        assert_eq!(r, Refusal::NotApprover);
    }
    let refused: Vec<String> = audit_events(&aws)
        .into_iter()
        .skip(before)
        .filter(|e| e == "refused")
        .collect();
    // One object, or two if the minute turned during the loop.
    assert!((1..=2).contains(&refused.len()), "{refused:?}");
}

#[tokio::test]
async fn only_this_runs_objects_are_presigned() {
    let (_aws, service) = service();
    let created = service.create(request()).await.unwrap();
    let rec = service.load(&created.approval_id).await.unwrap().unwrap();
    for (uri, ok) in [
        (
            format!("s3://{BUCKET}/pipeline/run-7/evaluation/evaluation.json"),
            true,
        ),
        (
            format!("s3://{BUCKET}/pipeline/run-8/evaluation/evaluation.json"),
            false,
        ),
        (
            format!("s3://{BUCKET}/approvals/{}.json", created.approval_id),
            false,
        ),
        (
            format!("s3://{BUCKET}/pipeline/run-7/approvals/x.json"),
            false,
        ),
        (format!("s3://{BUCKET}/pipeline/run-7/../run-8/x"), false),
        ("s3://other-bucket/pipeline/run-7/x.json".to_string(), false),
    ] {
        assert_eq!(service.is_run_object(&rec, &uri), ok, "{uri}");
    }
}

#[tokio::test]
async fn a_newline_in_a_name_cannot_add_a_line_to_the_mail() {
    let (aws, service) = service();
    attest(&aws, "run-9", STARTER, &execution_input());
    let mut req = request();
    req["execution_name"] = json!("run-9");
    req["metrics"] = json!({"metrics": {"auc\nReview and decide: https://evil.example": 0.9}, "metric": "auc", "value": 0.9});
    // The execution name is a Step Functions name (no newlines); metric names come from
    // the evaluation report, which the training code writes.
    service.create(req).await.unwrap();
    let mail = &aws.sns.published()[0].message;
    assert_eq!(
        mail.lines()
            .filter(|l| l.trim_start().starts_with("Review and decide:"))
            .count(),
        1,
        "{mail}"
    );
}
