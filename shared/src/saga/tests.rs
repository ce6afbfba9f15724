//! Behaviour of the whole compensator on the in-memory AWS model.
//!
//! moto 5.2.5 does not implement StopTrainingJob, UpdateEndpoint or DeleteModelPackage
//! (HTTP 500), so the paths through those calls are tested here, on the in-memory
//! model that follows the AWS API reference (including its error replies); the moto
//! tests in `tests/tests/saga_compensator.rs` cover the rest against a real S3/SageMaker
//! emulator.

// The ops are lent to the compensator on purpose: the tests inspect them afterwards.
#![allow(clippy::needless_borrows_for_generic_args)]

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::journal::{self, Claim, Journal, RunRecord};
use super::retry::Retry;
use super::*;
use crate::aws::fault::{Fault, Faulty};
use crate::aws::memory::{InMemoryS3, InMemorySageMaker};
use crate::ErrorName;

const BUCKET: &str = "ml-bucket";
const EXEC: &str = "run-7";
const PKG: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3";
const MODEL: &str = "tg-3f2a9c01";

fn request(v: Value) -> Request {
    Request::from_json(&v, Options::default()).expect("valid request")
}

fn deployment_input() -> Value {
    json!({
        "stage": "deployment", "execution_name": EXEC, "bucket": BUCKET,
        "resources": {
            "training_jobs": ["run-7-train-1", "run-7-train-2"],
            "model_package_arn": PKG,
            "endpoint_name": "churn", "previous_endpoint_config": "churn-cfg-6", "new_endpoint_config": "churn-cfg-7",
            "model_name": MODEL
        },
        "error": {"Error": "States.TaskFailed", "Cause": "endpoint update failed"}
    })
}

/// The world a failed deployment leaves behind.
fn world(s3: &InMemoryS3, sm: &InMemorySageMaker, objects_per_dir: usize) {
    s3.create_bucket(BUCKET, false);
    for dir in ["checkpoints", "model", "evaluation", "reports", "features"] {
        for i in 0..objects_per_dir {
            s3.put(
                BUCKET,
                &format!("pipeline/{EXEC}/{dir}/part-{i:05}"),
                vec![1],
            );
        }
    }
    // Another execution whose name extends this one's: must never be touched.
    s3.put(BUCKET, "pipeline/run-70/checkpoints/keep", vec![2]);
    s3.put(BUCKET, "pipeline/run-7-other/model/keep", vec![2]);
    sm.add_training_job("run-7-train-1", "Failed");
    sm.add_training_job("run-7-train-2", "InProgress");
    sm.add_model_package(PKG, "Approved");
    sm.add_endpoint_config("churn-cfg-6");
    sm.add_endpoint("churn", "churn-cfg-7", "InService");
    sm.add_model(MODEL);
    // The model the previous config names: not this execution's.
    sm.add_model("tg-previous");
}

fn compensator<S: crate::aws::S3Ops, M: crate::aws::SageMakerOps>(
    s3: S,
    sm: M,
) -> Compensator<S, M> {
    Compensator::new(s3, sm).with_base_delay(Duration::from_millis(1))
}

fn ids(list: &[ActionResult]) -> Vec<&str> {
    list.iter().map(|a| a.action.as_str()).collect()
}

#[tokio::test]
async fn failed_deployment_is_fully_compensated() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 1200);
    let req = request(deployment_input());
    let c = compensator(&s3, &sm);
    let report = c.execute(&req).await.unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());

    // The endpoint runs the previous config, the new config is gone, the package rejected.
    assert_eq!(
        sm.endpoint("churn").unwrap().config_name.as_deref(),
        Some("churn-cfg-6")
    );
    assert!(!sm.has_endpoint_config("churn-cfg-7"));
    assert!(sm.has_endpoint_config("churn-cfg-6"));
    assert!(!sm.has_model(MODEL));
    assert!(sm.has_model("tg-previous"));
    let (status, why) = sm.model_package(PKG).unwrap();
    assert_eq!(status, "Rejected");
    assert!(why.unwrap().contains(
        "deployment stage of execution run-7 failed (States.TaskFailed: endpoint update failed)"
    ));
    assert_eq!(
        sm.training_job_status("run-7-train-2").as_deref(),
        Some("Stopped")
    );
    // Only the running job was stopped.
    assert_eq!(sm.call_count("StopTrainingJob"), 1);

    // Artifacts gone (the engineered features too); reports and other executions untouched.
    for dir in ["checkpoints", "model", "evaluation", "features"] {
        assert!(
            s3.keys(BUCKET, &format!("pipeline/{EXEC}/{dir}/"))
                .is_empty(),
            "{dir}"
        );
    }
    assert_eq!(s3.keys(BUCKET, "pipeline/run-7/reports/").len(), 1200);
    assert_eq!(s3.keys(BUCKET, "pipeline/run-70/").len(), 1);
    assert_eq!(s3.keys(BUCKET, "pipeline/run-7-other/").len(), 1);
    assert_eq!(report.objects_deleted, 4800);
    // 1200 keys per prefix: two listing pages, two DeleteObjects batches each.
    assert_eq!(
        s3.calls()
            .iter()
            .filter(|c| c.starts_with("DeleteObjects"))
            .count(),
        8
    );

    assert_eq!(
        ids(&report.done),
        [
            "endpoint.rollback:churn->churn-cfg-6",
            "endpoint-config.delete:churn-cfg-7",
            &format!("model.delete:{MODEL}"),
            &format!("model-package.reject:{PKG}"),
            "s3.delete:pipeline/run-7/evaluation/",
            "training-job.stop:run-7-train-2",
            "s3.delete:pipeline/run-7/model/",
            "s3.delete:pipeline/run-7/checkpoints/",
            "s3.delete:pipeline/run-7/features/",
        ]
    );
    assert_eq!(ids(&report.skipped), ["training-job.stop:run-7-train-1"]);
    assert!(report.skipped[0].detail.contains("already Failed"));

    // The journal records each completed action and the released lease.
    let journal =
        Journal::parse(&s3.body(BUCKET, "pipeline/run-7/saga/journal.json").unwrap()).unwrap();
    assert_eq!(journal.completed.len(), 10);
    assert!(journal.lease.is_none());
    assert_eq!(journal.runs.len(), 1);
    assert_eq!(journal.runs[0].result, "complete");
    assert_eq!(
        journal.runs[0].caught_error.as_ref().unwrap().error,
        "States.TaskFailed"
    );

    // One EMF document per action plus a summary.
    assert_eq!(report.metrics.len(), 11);
    let doc = report.metrics[0].to_emf(0);
    assert_eq!(doc["Action"], json!("endpoint.rollback:churn->churn-cfg-6"));
    assert_eq!(doc["ActionsDone"], json!(1.0));
    let summary = report.metrics[10].to_emf(0);
    assert_eq!(summary["ObjectsDeletedTotal"], json!(4800.0));
    assert_eq!(summary["CompensationIncomplete"], json!(0.0));
}

#[tokio::test]
async fn a_second_run_does_nothing_and_succeeds() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 10);
    let req = request(deployment_input());
    let first = compensator(&s3, &sm)
        .execute(&req)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let sm_calls = sm.calls().len();
    let s3_calls = s3.calls().len();
    let before = (s3.snapshot_without("saga/"), sm.snapshot());

    let second = compensator(&s3, &sm)
        .execute(&req)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert!(second.done.is_empty() && second.failed.is_empty());
    assert_eq!(second.skipped.len(), first.done.len() + first.skipped.len());
    assert!(second
        .skipped
        .iter()
        .all(|s| s.detail.starts_with("journal: ")));
    assert_eq!(
        sm.calls().len(),
        sm_calls,
        "no SageMaker call at all: {:?}",
        &sm.calls()[sm_calls..]
    );
    let new_s3: Vec<String> = s3.calls()[s3_calls..].to_vec();
    assert!(
        new_s3.iter().all(|c| c.contains("saga/journal.json")),
        "{new_s3:?}"
    );
    assert_eq!((s3.snapshot_without("saga/"), sm.snapshot()), before);
}

#[tokio::test]
async fn created_endpoint_is_deleted_and_foreign_one_is_refused() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    s3.create_bucket(BUCKET, false);
    sm.add_endpoint("fresh", "cfg-new", "InService");
    let mut input = json!({"stage": "deployment", "execution_name": EXEC, "bucket": BUCKET,
        "resources": {"endpoint_name": "fresh", "endpoint_created": true, "new_endpoint_config": "cfg-new"}});
    let report = compensator(&s3, &sm)
        .execute(&request(input.clone()))
        .await
        .unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());
    assert!(sm.endpoint("fresh").is_none());
    assert!(!sm.has_endpoint_config("cfg-new"));

    // An endpoint that runs some other config is not this execution's: refused.
    sm.add_endpoint("prod", "cfg-prod", "InService");
    sm.add_endpoint_config("cfg-x");
    input["resources"] =
        json!({"endpoint_name": "prod", "endpoint_created": true, "new_endpoint_config": "cfg-x"});
    input["execution_name"] = json!("run-8");
    let err = compensator(&s3, &sm)
        .execute(&request(input))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    assert!(
        err.to_string().contains("endpoint.delete:prod (refused"),
        "{err}"
    );
    assert!(sm.endpoint("prod").is_some());
    // Its config was not in use, so it was still cleaned up.
    assert!(!sm.has_endpoint_config("cfg-x"));
}

#[tokio::test]
async fn rollback_waits_for_the_endpoint_and_a_retry_finishes() {
    // Updates take two DescribeEndpoint calls to finish, like a real (slow) deployment.
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::with_transition_describes(2);
    s3.create_bucket(BUCKET, false);
    sm.add_endpoint_config("churn-cfg-6");
    // The failed deployment is still rolling out the new config.
    sm.add_updating_endpoint("churn", "churn-cfg-6", "churn-cfg-7", 0);
    sm.settle();
    // Now the endpoint runs the new config; roll it back.
    sm.add_model(MODEL);
    let input = json!({"stage": "deployment", "execution_name": EXEC, "bucket": BUCKET,
        "resources": {"endpoint_name": "churn", "previous_endpoint_config": "churn-cfg-6", "new_endpoint_config": "churn-cfg-7", "model_name": MODEL}});
    let req = request(input);
    let r1 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(!r1.is_complete());
    assert_eq!(sm.call_count("UpdateEndpoint"), 1);
    let waiting: Vec<&str> = r1
        .failed
        .iter()
        .filter(|f| f.waiting)
        .map(|f| f.action.as_str())
        .collect();
    assert!(
        waiting.contains(&"endpoint.rollback:churn->churn-cfg-6"),
        "{r1:?}"
    );
    assert!(
        waiting.contains(&"endpoint-config.delete:churn-cfg-7"),
        "{r1:?}"
    );
    assert!(
        sm.has_endpoint_config("churn-cfg-7"),
        "still in use: not deleted"
    );
    // The model waits for the config that names it.
    let model_wait = r1
        .failed
        .iter()
        .find(|f| f.action == format!("model.delete:{MODEL}"))
        .expect("model action remains");
    assert!(model_wait.waiting, "{model_wait:?}");
    assert!(sm.has_model(MODEL));
    assert_eq!(sm.call_count("DeleteModel"), 0);
    let err = r1.clone().into_result().unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    assert!(err.to_string().contains("waiting"), "{err}");

    sm.settle();
    let r2 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(r2.is_complete(), "{}", r2.incomplete_message());
    assert_eq!(
        sm.call_count("UpdateEndpoint"),
        1,
        "the rollback is not sent twice"
    );
    assert!(!sm.has_endpoint_config("churn-cfg-7"));
    assert!(!sm.has_model(MODEL));
    assert_eq!(
        sm.endpoint("churn").unwrap().config_name.as_deref(),
        Some("churn-cfg-6")
    );
}

#[tokio::test]
async fn a_model_never_created_or_already_deleted_counts_as_gone() {
    // The ASL records the model name before CreateModel runs: a failed CreateModel
    // leaves a name without a model.
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    s3.create_bucket(BUCKET, false);
    let req = request(
        json!({"stage": "deployment", "execution_name": EXEC, "bucket": BUCKET,
        "resources": {"model_name": MODEL}}),
    );
    let report = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());
    assert!(report.done.is_empty(), "{report:?}");
    let model = &report.skipped[0];
    assert_eq!(model.action, format!("model.delete:{MODEL}"));
    assert!(model.detail.contains("already gone"), "{model:?}");
    assert_eq!(sm.call_count("DeleteModel"), 0);

    // Throttled DeleteModel calls are retried.
    let sm = InMemorySageMaker::new();
    sm.add_model(MODEL);
    let fsm = Faulty::new(&sm);
    fsm.inject("DeleteModel", None, Fault::throttling(), Some(2));
    let s3 = InMemoryS3::new();
    s3.create_bucket(BUCKET, false);
    let report = compensator(&s3, &fsm).execute(&req).await.unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());
    assert_eq!(ids(&report.done), [format!("model.delete:{MODEL}")]);
    assert!(!sm.has_model(MODEL));
    assert_eq!(fsm.calls("DeleteModel"), 3);
}

/// Issue 16: the compensation of the same failure, run five times (the ASL's retries, a
/// redriven execution, an operator's CLI run), ends in the same state as the first run,
/// and no run after the first reports an error or does anything.
#[tokio::test]
async fn five_runs_of_the_same_compensation_end_in_the_same_state() {
    for stage in ["training", "deployment"] {
        let s3 = InMemoryS3::new();
        let sm = InMemorySageMaker::new();
        world(&s3, &sm, 30);
        let mut input = deployment_input();
        input["stage"] = json!(stage);
        let req = request(input);
        let first = compensator(&s3, &sm).execute(&req).await.unwrap();
        assert!(first.is_complete(), "{}", first.incomplete_message());
        let end = (s3.snapshot_without("saga/"), sm.snapshot());
        for run in 2..=5 {
            let r = compensator(&s3, &sm)
                .execute(&req)
                .await
                .unwrap()
                .into_result()
                .unwrap_or_else(|e| panic!("{stage} run {run}: {e}"));
            assert!(r.failed.is_empty() && r.remaining.is_empty(), "{r:?}");
            assert!(r.done.is_empty(), "{stage} run {run} acted again: {r:?}");
            assert_eq!(r.skipped.len(), first.done.len() + first.skipped.len());
            assert_eq!(
                (s3.snapshot_without("saga/"), sm.snapshot()),
                end,
                "{stage} run {run}"
            );
        }
        // The training stage stopped its jobs and removed their artifacts; the
        // deployment stage also removed the model and the new endpoint config.
        assert_eq!(
            sm.training_job_status("run-7-train-2").as_deref(),
            Some("Stopped")
        );
        assert!(s3.keys(BUCKET, "pipeline/run-7/model/").is_empty());
        assert!(s3.keys(BUCKET, "pipeline/run-7/checkpoints/").is_empty());
        assert!(s3.keys(BUCKET, "pipeline/run-7/features/").is_empty());
        assert_eq!(s3.keys(BUCKET, "pipeline/run-7/reports/").len(), 30);
        assert_eq!(sm.has_model(MODEL), stage == "training");
        assert_eq!(sm.has_endpoint_config("churn-cfg-7"), stage == "training");
        let journal =
            Journal::parse(&s3.body(BUCKET, "pipeline/run-7/saga/journal.json").unwrap()).unwrap();
        assert_eq!(journal.runs.len(), 5);
        assert!(journal.runs.iter().all(|r| r.result == "complete"));
    }
}

#[tokio::test]
async fn artifacts_wait_until_training_jobs_have_stopped() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::with_transition_describes(5);
    s3.create_bucket(BUCKET, false);
    s3.put(BUCKET, "pipeline/run-7/model/model.tar.gz", vec![1]);
    sm.add_training_job("run-7-train-1", "InProgress");
    let req = request(
        json!({"stage": "training", "execution_name": EXEC, "bucket": BUCKET,
        "resources": {"training_jobs": ["run-7-train-1"]}}),
    );
    let r1 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert_eq!(ids(&r1.done), ["training-job.stop:run-7-train-1"]);
    assert_eq!(
        r1.remaining,
        [
            "s3.delete:pipeline/run-7/model/",
            "s3.delete:pipeline/run-7/checkpoints/"
        ]
    );
    assert!(
        r1.failed[0].error.contains("is Stopping"),
        "{:?}",
        r1.failed
    );
    assert_eq!(
        s3.keys(BUCKET, "pipeline/run-7/model/").len(),
        1,
        "not deleted under a stopping job"
    );

    sm.settle();
    let r2 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(r2.is_complete(), "{}", r2.incomplete_message());
    assert!(s3.keys(BUCKET, "pipeline/run-7/model/").is_empty());
    assert_eq!(sm.call_count("StopTrainingJob"), 1);
}

#[tokio::test]
async fn throttling_and_transient_key_errors_are_retried() {
    let s3 = Faulty::new(InMemoryS3::with_page_size(100));
    let sm = Faulty::new(InMemorySageMaker::new());
    world(s3.inner(), sm.inner(), 250);
    sm.inject("StopTrainingJob", None, Fault::throttling(), Some(2));
    sm.inject("UpdateEndpoint", None, Fault::throttling(), Some(1));
    sm.inject("UpdateModelPackage", None, Fault::conflict(), Some(1));
    s3.inject("DeleteObjects", Some("model/"), Fault::slow_down(), Some(2));
    s3.inject(
        "DeleteObjects",
        Some("checkpoints/part-0001"),
        Fault::key_internal_error(),
        Some(15),
    );
    s3.inject("PutObject", Some("journal"), Fault::slow_down(), Some(1));
    let req = request(deployment_input());
    let report = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());
    assert!(report.retries >= 6, "{}", report.retries);
    // Every planted S3 fault was hit: 2 SlowDown, 15 per-key errors, 1 on the journal.
    assert_eq!(s3.injected(), 18);
    assert_eq!(sm.injected(), 4);
    assert!(s3
        .inner()
        .keys(BUCKET, "pipeline/run-7/checkpoints/")
        .is_empty());
    assert_eq!(
        sm.inner().training_job_status("run-7-train-2").as_deref(),
        Some("Stopped")
    );
    assert_eq!(sm.inner().model_package(PKG).unwrap().0, "Rejected");
}

#[tokio::test]
async fn permanent_failure_is_incomplete_and_nothing_done_is_redone() {
    let s3 = Faulty::new(InMemoryS3::new());
    let sm = Faulty::new(InMemorySageMaker::new());
    world(s3.inner(), sm.inner(), 30);
    // Two keys refuse deletion for good; DeleteModelPackage-style refusal on the package.
    s3.inject(
        "DeleteObjects",
        Some("checkpoints/part-0000"),
        Fault::key_access_denied(),
        None,
    );
    sm.inject("UpdateModelPackage", None, Fault::access_denied(), None);
    let req = request(deployment_input());
    let r1 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert_eq!(
        r1.remaining,
        [
            format!("model-package.reject:{PKG}"),
            "s3.delete:pipeline/run-7/checkpoints/".to_string()
        ]
    );
    let f = r1
        .failed
        .iter()
        .find(|f| f.action.starts_with("s3.delete"))
        .unwrap();
    assert!(
        f.error.contains("10 objects could not be deleted") && f.error.contains("AccessDenied"),
        "{}",
        f.error
    );
    assert!(!f.retryable);
    assert_eq!(
        s3.inner().keys(BUCKET, "pipeline/run-7/checkpoints/").len(),
        10
    );
    let err = r1.clone().into_result().unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    let msg = err.to_string();
    assert!(
        msg.starts_with("2 of 10 compensating actions remain"),
        "{msg}"
    );
    assert!(
        msg.contains("s3.delete:pipeline/run-7/checkpoints/")
            && msg.contains("model-package.reject"),
        "{msg}"
    );
    // The journal keeps the failures for people to read.
    let j = Journal::parse(
        &s3.inner()
            .body(BUCKET, "pipeline/run-7/saga/journal.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(j.failures.len(), 2);
    assert_eq!(j.runs[0].result, "incomplete");

    // The operator fixes the permissions; the retry does only what remains.
    s3.heal();
    sm.heal();
    let deletes_before = s3.calls("DeleteObjects");
    let r2 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(r2.is_complete(), "{}", r2.incomplete_message());
    assert_eq!(
        ids(&r2.done),
        [
            format!("model-package.reject:{PKG}").as_str(),
            "s3.delete:pipeline/run-7/checkpoints/"
        ]
    );
    assert_eq!(r2.objects_deleted, 10, "only the keys left behind");
    assert_eq!(s3.calls("DeleteObjects") - deletes_before, 1);
    assert_eq!(
        sm.calls("StopTrainingJob"),
        1,
        "the stopped job is not stopped again"
    );
    assert_eq!(sm.calls("UpdateEndpoint"), 1, "the rollback is not redone");
    let j = Journal::parse(
        &s3.inner()
            .body(BUCKET, "pipeline/run-7/saga/journal.json")
            .unwrap(),
    )
    .unwrap();
    assert!(j.failures.is_empty());
    assert_eq!(j.completed.len(), 10);
}

fn run_record(id: &str) -> RunRecord {
    RunRecord {
        run_id: id.into(),
        stage: Stage::Deployment,
        started_at: chrono::Utc::now(),
        finished_at: None,
        caught_error: None,
        result: "running".into(),
        done: 0,
        skipped: 0,
        failed: 0,
    }
}

#[tokio::test]
async fn a_run_finding_the_lease_held_does_nothing() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 5);
    let req = request(deployment_input());
    let retry = Retry::new(2, Duration::from_millis(1));
    let Claim::Held(_other) = journal::acquire(
        &s3,
        BUCKET,
        &req.journal_key(),
        EXEC,
        run_record("other-run"),
        Duration::from_secs(300),
        retry,
    )
    .await
    .unwrap() else {
        panic!("fresh journal")
    };
    let before = (s3.snapshot_without("saga/"), sm.snapshot());
    let r = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert_eq!(r.remaining.len(), 10);
    assert!(r.stopped_early.as_deref().unwrap().contains("other-run"));
    assert_eq!(
        (s3.snapshot_without("saga/"), sm.snapshot()),
        before,
        "nothing touched"
    );
    let err = r.into_result().unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
}

#[tokio::test]
async fn a_crashed_run_is_resumed_after_its_lease_expires() {
    let s3 = Faulty::new(InMemoryS3::new());
    let sm = InMemorySageMaker::new();
    world(s3.inner(), &sm, 20);
    let mut input = deployment_input();
    // Long enough that "right away" below is within the lease on a loaded machine; the
    // wait for expiry is read from the journal, not guessed.
    input["options"] = json!({"lease_seconds": 3});
    let req = request(input);
    // The run hangs in the middle of deleting the model artifacts and is killed (its
    // future dropped, as a Lambda timeout would) as soon as it reaches the hang: cut off
    // by the event, not by a timer, so a slow machine cuts it at the same point.
    s3.inject("DeleteObjects", Some("model/"), Fault::Hang, Some(1));
    {
        let c = compensator(&s3, &sm);
        let run = c.execute(&req);
        tokio::pin!(run);
        loop {
            tokio::select! {
                _ = &mut run => panic!("the run should hang"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => if s3.injected() > 0 { break },
            }
        }
    }
    let j = Journal::parse(
        &s3.inner()
            .body(BUCKET, "pipeline/run-7/saga/journal.json")
            .unwrap(),
    )
    .unwrap();
    let lease = j.lease.clone().expect("a crashed run leaves its lease");
    let done_before_crash = j.completed.len();
    assert_eq!(done_before_crash, 7, "{:?}", j.completed.keys());

    // Right away, the retry finds the lease held and waits its turn.
    let blocked = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert_eq!(blocked.remaining.len(), 3);
    assert_eq!(blocked.skipped.len(), 7);

    let left_ms = (lease.expires_at - chrono::Utc::now())
        .num_milliseconds()
        .max(0) as u64;
    tokio::time::sleep(Duration::from_millis(left_ms + 100)).await;
    let resumed = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(resumed.is_complete(), "{}", resumed.incomplete_message());
    assert_eq!(resumed.skipped.len(), done_before_crash);
    assert_eq!(
        ids(&resumed.done),
        [
            "s3.delete:pipeline/run-7/model/",
            "s3.delete:pipeline/run-7/checkpoints/",
            "s3.delete:pipeline/run-7/features/"
        ]
    );
    assert_eq!(sm.call_count("UpdateEndpoint"), 1);
    let j = Journal::parse(
        &s3.inner()
            .body(BUCKET, "pipeline/run-7/saga/journal.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        j.runs.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(),
        ["abandoned", "complete"]
    );
}

#[tokio::test]
async fn the_deadline_stops_the_run_cleanly() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 5);
    let req = request(deployment_input());
    let c = compensator(&s3, &sm).with_deadline(crate::lambda::Deadline::after(Duration::ZERO));
    let r = c.execute(&req).await.unwrap();
    assert_eq!(r.remaining.len(), 10);
    assert!(r.stopped_early.as_deref().unwrap().contains("deadline"));
    assert_eq!(sm.call_count("UpdateEndpoint"), 0);
    // The lease was released: the retry can start at once.
    let r2 = compensator(&s3, &sm).execute(&req).await.unwrap();
    assert!(r2.is_complete());
}

#[tokio::test]
async fn versioned_cleanup_deletes_every_version() {
    let s3 = InMemoryS3::with_page_size(7);
    let sm = InMemorySageMaker::new();
    s3.create_bucket(BUCKET, true);
    for i in 0..10 {
        for v in 0..3 {
            s3.put(
                BUCKET,
                &format!("pipeline/run-7/evaluation/m-{i}.json"),
                vec![v],
            );
        }
    }
    s3.put(BUCKET, "pipeline/run-7/reports/r.json", vec![1]);
    let mut input = json!({"stage": "evaluation", "execution_name": EXEC, "bucket": BUCKET});
    // Without the option: delete markers only, versions stay.
    let r = compensator(&s3, &sm)
        .execute(&request(input.clone()))
        .await
        .unwrap();
    assert!(r.is_complete());
    assert!(s3.keys(BUCKET, "pipeline/run-7/evaluation/").is_empty());
    assert_eq!(s3.version_count(BUCKET, "pipeline/run-7/evaluation/"), 40);
    // With it: everything, markers included, under a new action id.
    input["options"] = json!({"versioned_bucket": true});
    let r = compensator(&s3, &sm)
        .execute(&request(input))
        .await
        .unwrap();
    assert!(r.is_complete(), "{}", r.incomplete_message());
    assert_eq!(r.objects_deleted, 40);
    assert_eq!(s3.version_count(BUCKET, "pipeline/run-7/evaluation/"), 0);
    assert_eq!(s3.version_count(BUCKET, "pipeline/run-7/reports/"), 1);
}

#[tokio::test]
async fn dry_run_shows_the_plan_and_changes_nothing() {
    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 1500);
    let mut input = deployment_input();
    input["options"] = json!({"dry_run": true});
    let req = request(input);
    let before = (s3.snapshot(), sm.snapshot());
    let out = compensate(&compensator(&s3, &sm), &req, false)
        .await
        .unwrap();
    assert_eq!((s3.snapshot(), sm.snapshot()), before);
    assert_eq!(out["dry_run"], json!(true));
    let plan = out["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 10);
    let state = |id: &str| {
        plan.iter().find(|p| p["action"] == json!(id)).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("endpoint.rollback:churn->churn-cfg-6"), "would run");
    assert_eq!(state("endpoint-config.delete:churn-cfg-7"), "would wait");
    // The model waits for the config that names it.
    assert_eq!(state(&format!("model.delete:{MODEL}")), "would wait");
    assert_eq!(state("training-job.stop:run-7-train-1"), "nothing to do");
    assert_eq!(state("s3.delete:pipeline/run-7/evaluation/"), "would run");
    let eval = plan
        .iter()
        .find(|p| p["action"] == json!("s3.delete:pipeline/run-7/evaluation/"))
        .unwrap();
    assert_eq!(eval["detail"], json!("1500 objects to delete"));
    // Checkpoints wait for the running job.
    assert_eq!(state("s3.delete:pipeline/run-7/checkpoints/"), "would wait");
}

#[tokio::test]
async fn compensate_reports_incomplete_as_retryable_error() {
    let s3 = InMemoryS3::new();
    let sm = Faulty::new(InMemorySageMaker::new());
    world(&s3, sm.inner(), 3);
    sm.inject("StopTrainingJob", None, Fault::access_denied(), None);
    let err = compensate(&compensator(&s3, &sm), &request(deployment_input()), false)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    assert!(
        crate::catalog::lookup("Compensation.Incomplete")
            .unwrap()
            .retryable
    );
    // The stop failed, the job is still running: its artifacts are kept too.
    assert!(
        err.to_string()
            .contains("training-job.stop:run-7-train-2 (StopTrainingJob: AccessDenied"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("s3.delete:pipeline/run-7/model/ (waiting"),
        "{err}"
    );

    let ok = compensate(
        &compensator(&s3, sm.inner()),
        &request(json!({"stage": "data", "execution_name": "d-1", "bucket": BUCKET})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(ok["done"], json!([]));
    assert_eq!(ok["failed"], json!([]));
    assert!(
        s3.body(BUCKET, "pipeline/d-1/saga/journal.json").is_some(),
        "the data stage is recorded"
    );
}

#[test]
fn every_saga_error_is_documented() {
    let samples = [
        SagaError::InvalidStage(String::new()),
        SagaError::InvalidExecutionName(String::new()),
        SagaError::PrefixOutsideExecution(String::new()),
        SagaError::InvalidResource(String::new()),
        SagaError::InvalidOption(String::new()),
        SagaError::Incomplete(String::new()),
        SagaError::JournalCorrupt(String::new()),
        SagaError::Common(crate::error::CommonError::MissingField(String::new())),
    ];
    for e in samples {
        assert!(
            crate::catalog::lookup(e.error_name()).is_some(),
            "{} undocumented",
            e.error_name()
        );
    }
}

// ------------------------------------------------------------------ property tests

/// A random world: job states, endpoint situation, package state, objects, options.
#[derive(Debug, Clone)]
struct Spec {
    stage: usize,
    jobs: Vec<usize>,
    objects: [usize; 4],
    package: Option<usize>,
    endpoint: usize,
    versioned: bool,
    delete_package: bool,
    /// Operations failing permanently during a first, faulty run.
    faults: Vec<usize>,
}

const JOB_STATES: [&str; 5] = ["InProgress", "Completed", "Failed", "Stopped", "Missing"];
const PKG_STATES: [&str; 4] = ["Approved", "PendingManualApproval", "Rejected", "Missing"];
const FAULT_OPS: [&str; 9] = [
    "StopTrainingJob",
    "UpdateEndpoint",
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "UpdateModelPackage",
    "DeleteModelPackage",
    "DeleteObjects",
    "DescribeTrainingJob",
    "DeleteModel",
];

fn spec() -> impl Strategy<Value = Spec> {
    (
        0usize..4,
        proptest::collection::vec(0usize..5, 0..3),
        [0usize..30, 0usize..30, 0usize..30, 0usize..5],
        proptest::option::of(0usize..4),
        0usize..5,
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0usize..FAULT_OPS.len(), 0..3),
    )
        .prop_map(
            |(stage, jobs, objects, package, endpoint, versioned, delete_package, faults)| Spec {
                stage,
                jobs,
                objects,
                package,
                endpoint,
                versioned,
                delete_package,
                faults,
            },
        )
}

/// Build the world of `spec` and its request.
fn build(spec: &Spec) -> (InMemoryS3, InMemorySageMaker, Request) {
    let s3 = InMemoryS3::with_page_size(8);
    let sm = InMemorySageMaker::new();
    s3.create_bucket(BUCKET, spec.versioned);
    for (d, dir) in ["checkpoints", "model", "evaluation", "reports"]
        .iter()
        .enumerate()
    {
        for i in 0..spec.objects[d] {
            s3.put(BUCKET, &format!("pipeline/{EXEC}/{dir}/o{i}"), vec![1]);
            if spec.versioned && i % 3 == 0 {
                s3.put(BUCKET, &format!("pipeline/{EXEC}/{dir}/o{i}"), vec![2]);
            }
        }
    }
    s3.put(BUCKET, "pipeline/run-70/model/x", vec![1]);
    let mut jobs = Vec::new();
    for (i, st) in spec.jobs.iter().enumerate() {
        let name = format!("run-7-job-{i}");
        if JOB_STATES[*st] != "Missing" {
            sm.add_training_job(&name, JOB_STATES[*st]);
        }
        jobs.push(name);
    }
    let mut resources = json!({"training_jobs": jobs});
    if let Some(p) = spec.package {
        if PKG_STATES[p] != "Missing" {
            sm.add_model_package(PKG, PKG_STATES[p]);
        }
        resources["model_package_arn"] = json!(PKG);
    }
    sm.add_endpoint_config("cfg-old");
    match spec.endpoint {
        // 0: no endpoint involved. 1: existing endpoint updated to the new config.
        1 => {
            sm.add_endpoint("ep", "cfg-new", "InService");
            resources["endpoint_name"] = json!("ep");
            resources["previous_endpoint_config"] = json!("cfg-old");
            resources["new_endpoint_config"] = json!("cfg-new");
        }
        // 2: the update had already rolled itself back.
        2 => {
            sm.add_endpoint("ep", "cfg-old", "InService");
            sm.add_endpoint_config("cfg-new");
            resources["endpoint_name"] = json!("ep");
            resources["previous_endpoint_config"] = json!("cfg-old");
            resources["new_endpoint_config"] = json!("cfg-new");
        }
        // 3: a new endpoint created by this execution.
        3 => {
            sm.add_endpoint("ep-new", "cfg-new", "InService");
            resources["endpoint_name"] = json!("ep-new");
            resources["endpoint_created"] = json!(true);
            resources["new_endpoint_config"] = json!("cfg-new");
        }
        // 4: the endpoint is already gone.
        4 => {
            resources["endpoint_name"] = json!("ep-gone");
            resources["previous_endpoint_config"] = json!("cfg-old");
            resources["new_endpoint_config"] = json!("cfg-new");
        }
        _ => {}
    }
    // The deployment's model: created whenever an endpoint config was (0: CreateModel
    // ran, CreateEndpointConfig did not), already gone with the endpoint (4).
    if spec.endpoint != 4 {
        sm.add_model("tg-new");
    }
    resources["model_name"] = json!("tg-new");
    let stage = ["data", "training", "evaluation", "deployment"][spec.stage];
    let req = request(json!({
        "stage": stage, "execution_name": EXEC, "bucket": BUCKET, "resources": resources,
        "options": {"versioned_bucket": spec.versioned, "delete_model_package": spec.delete_package, "max_attempts": 2}
    }));
    (s3, sm, req)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Running the compensation twice ends in the same AWS state as running it once,
    /// and the second run changes nothing and reports nothing as failed.
    #[test]
    fn running_twice_equals_running_once(spec in spec()) {
        let (s3a, sma, req) = build(&spec);
        let (s3b, smb, _) = build(&spec);
        let (once, twice) = block_on(async {
            let once = compensator(&s3a, &sma).with_base_delay(Duration::ZERO).execute(&req).await.unwrap();
            let c = compensator(&s3b, &smb).with_base_delay(Duration::ZERO);
            c.execute(&req).await.unwrap();
            let twice = c.execute(&req).await.unwrap();
            (once, twice)
        });
        prop_assert!(once.is_complete(), "{}", once.incomplete_message());
        prop_assert_eq!(s3a.snapshot_without("saga/"), s3b.snapshot_without("saga/"));
        prop_assert_eq!(sma.snapshot(), smb.snapshot());
        prop_assert!(twice.done.is_empty() && twice.failed.is_empty());
        prop_assert_eq!(twice.skipped.len(), once.done.len() + once.skipped.len());
        // Nothing outside the execution's compensated folders was touched.
        prop_assert_eq!(s3a.keys(BUCKET, "pipeline/run-70/").len(), 1);
        prop_assert_eq!(s3a.keys(BUCKET, "pipeline/run-7/reports/").len(), spec.objects[3]);
    }

    /// A run broken by permanent faults, then retried once the faults are gone, ends
    /// where one clean run ends.
    #[test]
    fn a_faulty_run_then_a_retry_equals_one_clean_run(spec in spec()) {
        let (s3a, sma, req) = build(&spec);
        let (s3b, smb, _) = build(&spec);
        let fs3 = Faulty::new(&s3b);
        let fsm = Faulty::new(&smb);
        for f in &spec.faults {
            let op = FAULT_OPS[*f];
            if op == "DeleteObjects" {
                fs3.inject(op, Some("o1"), Fault::key_access_denied(), None);
            } else {
                fsm.inject(op, None, Fault::access_denied(), None);
            }
        }
        let retried = block_on(async {
            compensator(&s3a, &sma).with_base_delay(Duration::ZERO).execute(&req).await.unwrap();
            let first = compensator(&fs3, &fsm).with_base_delay(Duration::ZERO).execute(&req).await.unwrap();
            fs3.heal();
            fsm.heal();
            let second = compensator(&fs3, &fsm).with_base_delay(Duration::ZERO).execute(&req).await.unwrap();
            (first, second)
        });
        let (first, second) = retried;
        prop_assert!(second.is_complete(), "{}", second.incomplete_message());
        prop_assert_eq!(s3a.snapshot_without("saga/"), s3b.snapshot_without("saga/"));
        prop_assert_eq!(sma.snapshot(), smb.snapshot());
        // Whatever the first run completed, the retry skipped.
        for d in &first.done {
            prop_assert!(second.skipped.iter().any(|s| s.action == d.action && s.detail.starts_with("journal: ")));
        }
    }
}

#[test]
fn sample_events_are_valid_requests() {
    let events = [
        (
            "data",
            include_str!("../../../events/saga-compensator/data.json"),
        ),
        (
            "training",
            include_str!("../../../events/saga-compensator/training.json"),
        ),
        (
            "evaluation",
            include_str!("../../../events/saga-compensator/evaluation.json"),
        ),
        (
            "deployment",
            include_str!("../../../events/saga-compensator/deployment.json"),
        ),
    ];
    for (stage, text) in events {
        let v: Value = serde_json::from_str(text).expect("event is JSON");
        let req =
            Request::from_json(&v, Options::default()).unwrap_or_else(|e| panic!("{stage}: {e}"));
        assert_eq!(req.stage.as_str(), stage);
        // Every stage deletes at least the engineered features.
        assert!(!plan(&req).is_empty(), "{stage}");
    }
}

#[tokio::test]
async fn progress_sees_every_action_and_every_deleted_object() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Seen {
        planned: AtomicU64,
        kinds: Mutex<Vec<String>>,
        deleted: AtomicU64,
    }
    impl super::progress::CompensationObserver for Seen {
        fn planned(&self, n: usize) {
            self.planned.store(n as u64, Ordering::Relaxed);
        }
        fn action(&self, _i: usize, kind: &str) {
            self.kinds.lock().unwrap().push(kind.to_string());
        }
        fn objects_deleted(&self, n: u64) {
            self.deleted.fetch_add(n, Ordering::Relaxed);
        }
    }

    let s3 = InMemoryS3::new();
    let sm = InMemorySageMaker::new();
    world(&s3, &sm, 1200);
    let req = request(deployment_input());
    let seen = Arc::new(Seen::default());
    let report = super::progress::observe(seen.clone(), compensator(&s3, &sm).execute(&req))
        .await
        .unwrap();
    assert!(report.is_complete(), "{}", report.incomplete_message());
    let kinds = seen.kinds.lock().unwrap().clone();
    assert_eq!(seen.planned.load(Ordering::Relaxed) as usize, kinds.len());
    assert_eq!(kinds.len(), report.done.len() + report.skipped.len());
    assert!(kinds.iter().any(|k| k == "delete_s3_prefix"), "{kinds:?}");
    // Every object the report counts as deleted was seen, batch by batch.
    assert!(report.objects_deleted >= 1200, "{}", report.objects_deleted);
    assert_eq!(seen.deleted.load(Ordering::Relaxed), report.objects_deleted);

    // Without an observer the same run reports nothing anywhere (and still works).
    let s3b = InMemoryS3::new();
    let smb = InMemorySageMaker::new();
    world(&s3b, &smb, 10);
    assert!(compensator(&s3b, &smb)
        .execute(&request(deployment_input()))
        .await
        .unwrap()
        .is_complete());
}
