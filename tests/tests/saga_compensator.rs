//! The saga compensator against moto: real S3 (pagination, DeleteObjects, conditional
//! writes) and real SageMaker calls where moto implements them.
//!
//! moto 5.2.5 answers HTTP 500 for StopTrainingJob, UpdateEndpoint and
//! DeleteModelPackage. Those paths are tested in `shared/src/saga/tests.rs` on the
//! in-memory model that follows the AWS API reference, and the real SDK calls for them
//! in `shared/src/saga/sdk.rs` with aws-smithy-mocks. Here, training jobs (which moto
//! completes at once) are never stopped, the model package is rejected (UpdateModelPackage)
//! and the deployment path used is "this execution created the endpoint"
//! (DeleteEndpoint + DeleteEndpointConfig).
//!
//! moto enforces IAM here ([`MotoServer::start_with_iam`]): the compensator runs with the
//! session of saga-compensator's role from template.yaml (tests/e2e/iam.py), the test's
//! own set-up and checks as an admin user. moto checks the actions of every call and the
//! resources of the S3 ones; the SageMaker resource patterns are checked by
//! tests/static/iam_actions.py.

// The ops are lent to the compensator on purpose: the tests inspect them afterwards.
#![allow(clippy::needless_borrows_for_generic_args)]

use std::time::Duration;

use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, ContainerDefinition, ModelApprovalStatus, OutputDataConfig,
    ProductionVariant, ProductionVariantInstanceType, ResourceConfig, StoppingCondition,
    TrainingInputMode, TrainingInstanceType,
};
use serde_json::{json, Value};
use trainguard::aws::fault::{Fault, Faulty};
use trainguard::aws::sdk::{SdkS3, SdkSageMaker};
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::saga::journal::Journal;
use trainguard::saga::{compensate, Compensator, Options, Request};
use trainguard::ErrorName;
use trainguard_tests::*;

/// moto with IAM enforced, a bucket, the harness's clients and the clients of
/// saga-compensator's template role (minus `without`).
async fn moto_as_saga(prefix: &str, without: &[&str]) -> (MotoServer, Clients, Clients, String) {
    let moto = MotoServer::start_with_iam();
    let admin = moto.clients().await;
    let bucket = unique_bucket(prefix);
    create_bucket(&admin, &bucket).await;
    let role = moto.role("saga-compensator", &bucket, &[], without);
    let saga = moto.clients_as(&role).await;
    (moto, admin, saga, bucket)
}

fn request(v: Value) -> Request {
    Request::from_json(&v, Options::default()).expect("valid request")
}

fn ops(clients: &Clients) -> (Faulty<SdkS3>, Faulty<SdkSageMaker>) {
    (
        Faulty::new(SdkS3::new(S3Store::new(clients.s3.clone()))),
        Faulty::new(SdkSageMaker::new(clients.sagemaker.clone())),
    )
}

/// Put `n` small objects named `<prefix>part-<i>` (32 at a time).
async fn put_many(clients: &Clients, bucket: &str, prefix: &str, n: usize) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let s3 = clients.s3.clone();
        let (bucket, key) = (bucket.to_string(), format!("{prefix}part-{i:05}"));
        set.spawn(async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(b"x".to_vec().into())
                .send()
                .await
                .expect("put");
        });
        if set.len() >= 32 {
            set.join_next().await.expect("task").expect("put task");
        }
    }
    while let Some(r) = set.join_next().await {
        r.expect("put task");
    }
}

async fn create_training_job(clients: &Clients, name: &str, bucket: &str) {
    clients
        .sagemaker
        .create_training_job()
        .training_job_name(name)
        .role_arn("arn:aws:iam::123456789012:role/sm")
        .algorithm_specification(
            AlgorithmSpecification::builder()
                .training_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1")
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .output_data_config(
            OutputDataConfig::builder()
                .s3_output_path(format!("s3://{bucket}/out/"))
                .build(),
        )
        .resource_config(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::MlM5Large)
                .instance_count(1)
                .volume_size_in_gb(10)
                .build(),
        )
        .stopping_condition(
            StoppingCondition::builder()
                .max_runtime_in_seconds(3600)
                .build(),
        )
        .send()
        .await
        .expect("create training job");
}

async fn create_model(clients: &Clients, name: &str) {
    clients
        .sagemaker
        .create_model()
        .model_name(name)
        .execution_role_arn("arn:aws:iam::123456789012:role/sm")
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1")
                .build(),
        )
        .send()
        .await
        .expect("model");
}

/// DescribeModel succeeds; any error is read as "gone" only when it says so.
async fn model_exists(clients: &Clients, name: &str) -> bool {
    match clients
        .sagemaker
        .describe_model()
        .model_name(name)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) => {
            let text = format!("{e:?}");
            assert!(text.contains("Could not find model"), "{text}");
            false
        }
    }
}

async fn journal(clients: &Clients, bucket: &str, exec: &str) -> Journal {
    let body = get_object(
        clients,
        bucket,
        &format!("pipeline/{exec}/saga/journal.json"),
    )
    .await
    .expect("journal exists");
    Journal::parse(&body).expect("journal parses")
}

#[tokio::test]
async fn training_cleanup_across_pages_touches_only_the_execution() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-pages", &[]).await;
    let exec = "run-7";
    put_many(&clients, &bucket, "pipeline/run-7/checkpoints/", 1500).await;
    put_many(&clients, &bucket, "pipeline/run-7/model/", 1100).await;
    put_many(&clients, &bucket, "pipeline/run-7/features/", 5).await;
    // Neighbours that must survive: the execution's reports, an execution whose name
    // extends this one's, and keys outside pipeline/.
    put_many(&clients, &bucket, "pipeline/run-7/reports/", 5).await;
    put_many(&clients, &bucket, "pipeline/run-70/checkpoints/", 5).await;
    put_many(&clients, &bucket, "pipeline/run-7-b/model/", 5).await;
    put_many(&clients, &bucket, "data/", 5).await;
    create_training_job(&clients, "run-7-train-1", &bucket).await;

    let (s3, sm) = ops(&saga);
    let c = Compensator::new(&s3, &sm).with_base_delay(Duration::from_millis(5));
    let req = request(json!({
        "stage": "training", "execution_name": exec, "bucket": bucket,
        "resources": {"training_jobs": ["run-7-train-1", "run-7-never-started"]},
        "error": {"Error": "States.TaskFailed", "Cause": "training failed"}
    }));
    let out = compensate(&c, &req, false).await.expect("complete");

    assert!(list_keys(&clients, &bucket, "pipeline/run-7/checkpoints/")
        .await
        .is_empty());
    assert!(list_keys(&clients, &bucket, "pipeline/run-7/model/")
        .await
        .is_empty());
    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/run-7/reports/")
            .await
            .len(),
        5
    );
    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/run-70/").await.len(),
        5
    );
    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/run-7-b/")
            .await
            .len(),
        5
    );
    assert_eq!(list_keys(&clients, &bucket, "data/").await.len(), 5);
    assert!(list_keys(&clients, &bucket, "pipeline/run-7/features/")
        .await
        .is_empty());
    assert_eq!(out["objects_deleted"], json!(2605));
    // Two listing pages and two DeleteObjects batches (<= 1000 keys) per artifact
    // prefix, one of each for the features.
    assert_eq!(s3.calls("ListObjectsV2"), 5);
    assert_eq!(s3.calls("DeleteObjects"), 5);
    // moto completes training jobs at once: nothing to stop; a job that never started is "already gone".
    assert_eq!(sm.calls("StopTrainingJob"), 0);
    let skipped: Vec<&str> = out["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["detail"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"already Completed"), "{skipped:?}");
    assert!(skipped.contains(&"not found: already gone"), "{skipped:?}");
    let done: Vec<&str> = out["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        done,
        [
            "s3.delete:pipeline/run-7/model/",
            "s3.delete:pipeline/run-7/checkpoints/",
            "s3.delete:pipeline/run-7/features/"
        ]
    );

    // The journal records every action; a second run does nothing and succeeds.
    let j = journal(&clients, &bucket, exec).await;
    assert_eq!(j.completed.len(), 5);
    assert!(j.lease.is_none());
    assert_eq!(j.runs[0].result, "complete");
    let (s3b, smb) = ops(&saga);
    let again = compensate(&Compensator::new(&s3b, &smb), &req, false)
        .await
        .expect("second run succeeds");
    assert_eq!(again["done"], json!([]));
    assert_eq!(again["failed"], json!([]));
    assert_eq!(again["skipped"].as_array().unwrap().len(), 5);
    assert_eq!(s3b.calls("DeleteObjects") + s3b.calls("ListObjectsV2"), 0);
    assert_eq!(
        smb.calls("DescribeTrainingJob"),
        0,
        "the journal answers, not SageMaker"
    );
    assert_eq!(journal(&clients, &bucket, exec).await.runs.len(), 2);
}

#[tokio::test]
async fn evaluation_rejects_the_model_package_and_deletes_its_artifacts() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-eval", &[]).await;
    put_many(&clients, &bucket, "pipeline/eval-1/evaluation/", 20).await;
    clients
        .sagemaker
        .create_model_package_group()
        .model_package_group_name("churn")
        .send()
        .await
        .expect("group");
    let arn = clients
        .sagemaker
        .create_model_package()
        .model_package_group_name("churn")
        .model_package_description("candidate")
        .model_approval_status(ModelApprovalStatus::PendingManualApproval)
        .send()
        .await
        .expect("package")
        .model_package_arn()
        .expect("arn")
        .to_string();

    let (s3, sm) = ops(&saga);
    let req = request(json!({
        "stage": "evaluation", "execution_name": "eval-1", "bucket": bucket,
        "resources": {"model_package_arn": arn},
        "error": {"Error": "States.TaskFailed", "Cause": "AUC 0.61 below the gate"}
    }));
    let out = compensate(&Compensator::new(&s3, &sm), &req, false)
        .await
        .expect("complete");
    let pkg = clients
        .sagemaker
        .describe_model_package()
        .model_package_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pkg.model_approval_status(),
        Some(&ModelApprovalStatus::Rejected)
    );
    let why = pkg.approval_description().unwrap_or_default();
    assert!(why.contains("evaluation stage of execution eval-1 failed (States.TaskFailed: AUC 0.61 below the gate)"), "{why}");
    assert!(list_keys(&clients, &bucket, "pipeline/eval-1/evaluation/")
        .await
        .is_empty());
    assert_eq!(out["done"].as_array().unwrap().len(), 2);
    assert_eq!(sm.calls("UpdateModelPackage"), 1);

    // Already rejected: a fresh compensation with a new journal finds nothing to do.
    let req2 = request(
        json!({"stage": "evaluation", "execution_name": "eval-2", "bucket": bucket,
        "resources": {"model_package_arn": arn}}),
    );
    let out2 = compensate(&Compensator::new(&s3, &sm), &req2, false)
        .await
        .expect("complete");
    assert_eq!(out2["done"], json!([]));
    assert_eq!(sm.calls("UpdateModelPackage"), 1);
}

#[tokio::test]
async fn created_endpoint_and_its_config_are_deleted() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-deploy", &[]).await;
    let sm = &clients.sagemaker;
    // This execution's model (tg-<run_id>) and someone else's.
    for (model, cfg) in [("tg-dep1", "cfg-7"), ("m-other", "cfg-other")] {
        create_model(&clients, model).await;
        sm.create_endpoint_config()
            .endpoint_config_name(cfg)
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("all")
                    .model_name(model)
                    .initial_instance_count(1)
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .build(),
            )
            .send()
            .await
            .expect("endpoint config");
    }
    sm.create_endpoint()
        .endpoint_name("ep-7")
        .endpoint_config_name("cfg-7")
        .send()
        .await
        .expect("endpoint");
    // Someone else's endpoint on the other config: untouched.
    sm.create_endpoint()
        .endpoint_name("ep-prod")
        .endpoint_config_name("cfg-other")
        .send()
        .await
        .expect("endpoint");

    let (s3o, smo) = ops(&saga);
    let req = request(json!({
        "stage": "deployment", "execution_name": "dep-1", "bucket": bucket,
        "resources": {"endpoint_name": "ep-7", "endpoint_created": true, "new_endpoint_config": "cfg-7", "model_name": "tg-dep1"}
    }));
    let c = Compensator::new(&s3o, &smo);
    let preview = c.preview(&request(json!({
        "stage": "deployment", "execution_name": "dep-1", "bucket": bucket, "options": {"dry_run": true},
        "resources": {"endpoint_name": "ep-7", "endpoint_created": true, "new_endpoint_config": "cfg-7"}
    })))
    .await
    .unwrap();
    assert_eq!(preview.plan[0].state, "would run");
    assert_eq!(
        preview.plan[1].state, "would wait",
        "cfg-7 is in use until ep-7 is gone"
    );
    assert_eq!(
        smo.calls("DeleteEndpoint"),
        0,
        "the preview changes nothing"
    );

    let out = compensate(&c, &req, false).await.expect("complete");
    let done: Vec<&str> = out["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        done,
        [
            "endpoint.delete:ep-7",
            "endpoint-config.delete:cfg-7",
            "model.delete:tg-dep1"
        ]
    );
    assert!(!model_exists(&clients, "tg-dep1").await);
    assert!(model_exists(&clients, "m-other").await);
    let e = sm
        .describe_endpoint()
        .endpoint_name("ep-7")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("Could not find endpoint"));
    assert!(sm
        .describe_endpoint_config()
        .endpoint_config_name("cfg-7")
        .send()
        .await
        .is_err());
    assert!(sm
        .describe_endpoint()
        .endpoint_name("ep-prod")
        .send()
        .await
        .is_ok());

    // Pointing the saga at an endpoint this execution did not create is refused.
    let req = request(json!({
        "stage": "deployment", "execution_name": "dep-2", "bucket": bucket,
        "resources": {"endpoint_name": "ep-prod", "endpoint_created": true, "new_endpoint_config": "cfg-7"}
    }));
    let err = compensate(&c, &req, false).await.unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    assert!(
        err.to_string().contains("endpoint.delete:ep-prod (refused"),
        "{err}"
    );
    assert!(sm
        .describe_endpoint()
        .endpoint_name("ep-prod")
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn faults_are_retried_and_a_permanent_one_leaves_exactly_what_remains() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-faults", &[]).await;
    put_many(&clients, &bucket, "pipeline/f-1/checkpoints/", 1200).await;
    put_many(&clients, &bucket, "pipeline/f-1/model/", 300).await;
    let (s3, sm) = ops(&saga);
    // Throttled twice, then transient per-key errors for ten keys, twice: all retried.
    s3.inject(
        "DeleteObjects",
        Some("checkpoints/"),
        Fault::slow_down(),
        Some(2),
    );
    s3.inject(
        "DeleteObjects",
        Some("checkpoints/part-0012"),
        Fault::key_internal_error(),
        Some(20),
    );
    s3.inject("ListObjectsV2", Some("model/"), Fault::slow_down(), Some(1));
    // Ten model keys are refused for good.
    s3.inject(
        "DeleteObjects",
        Some("model/part-0002"),
        Fault::key_access_denied(),
        None,
    );
    let req = request(json!({"stage": "training", "execution_name": "f-1", "bucket": bucket}));
    let c = Compensator::new(&s3, &sm).with_base_delay(Duration::from_millis(5));
    let err = compensate(&c, &req, false).await.unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    let msg = err.to_string();
    assert!(
        msg.starts_with("1 of 3 compensating actions remain"),
        "{msg}"
    );
    assert!(
        msg.contains("s3.delete:pipeline/f-1/model/ (10 objects could not be deleted"),
        "{msg}"
    );
    assert!(msg.contains("AccessDenied"), "{msg}");
    assert!(
        list_keys(&clients, &bucket, "pipeline/f-1/checkpoints/")
            .await
            .is_empty(),
        "retried to the end"
    );
    let left = list_keys(&clients, &bucket, "pipeline/f-1/model/").await;
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|k| k.contains("part-0002")));
    let j = journal(&clients, &bucket, "f-1").await;
    assert!(j
        .completed
        .contains_key("s3.delete:pipeline/f-1/checkpoints/"));
    assert!(j.failures["s3.delete:pipeline/f-1/model/"]
        .error
        .contains("AccessDenied"));

    // Permissions fixed: the retry deletes only the ten keys and never lists checkpoints again.
    s3.heal();
    let (s3b, smb) = ops(&saga);
    let out = compensate(&Compensator::new(&s3b, &smb), &req, false)
        .await
        .expect("complete now");
    assert_eq!(out["objects_deleted"], json!(10));
    assert_eq!(s3b.calls("DeleteObjects"), 1);
    assert_eq!(s3b.calls("ListObjectsV2"), 1);
    assert!(list_keys(&clients, &bucket, "pipeline/f-1/model/")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_crashed_run_is_resumed_without_redoing_what_it_cleaned() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-crash", &[]).await;
    put_many(&clients, &bucket, "pipeline/c-1/evaluation/", 50).await;
    put_many(&clients, &bucket, "pipeline/c-1/model/", 2100).await;
    put_many(&clients, &bucket, "pipeline/c-1/checkpoints/", 50).await;
    // Long enough that the immediate retry below sees the lease held however loaded
    // the machine is; the wait for its expiry is read from the journal, not guessed.
    let req = request(
        json!({"stage": "evaluation", "execution_name": "c-1", "bucket": bucket,
        "options": {"lease_seconds": 6}}),
    );

    // The first run deletes the evaluation artifacts and the first model batch, then
    // hangs in the second model batch and is killed (its future dropped, as a Lambda
    // timeout would).
    let (s3, sm) = ops(&saga);
    s3.inject_after("DeleteObjects", Some("model/"), Fault::Hang, None, 1);
    {
        let c = Compensator::new(&s3, &sm);
        let run = c.execute(&req);
        tokio::pin!(run);
        loop {
            tokio::select! {
                _ = &mut run => panic!("the run should hang"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => if s3.injected() > 0 { break },
            }
        }
    }

    // A retry right away finds the lease held and touches nothing.
    let (s3b, smb) = ops(&saga);
    let err = compensate(&Compensator::new(&s3b, &smb), &req, false)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "Compensation.Incomplete");
    assert!(
        err.to_string().contains("holds the saga journal lease"),
        "{err}"
    );
    assert_eq!(s3b.calls("DeleteObjects"), 0);

    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/c-1/model/")
            .await
            .len(),
        1100,
        "one batch went"
    );
    let j = journal(&clients, &bucket, "c-1").await;
    let lease = j.lease.expect("the crashed run's lease is still recorded");
    assert_eq!(
        j.completed.keys().collect::<Vec<_>>(),
        ["s3.delete:pipeline/c-1/evaluation/"]
    );

    // After the lease expires, the retry takes over and finishes.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let left_ms = (lease.expires_at.timestamp_millis() - now_ms).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(left_ms + 200)).await;
    let (s3c, smc) = ops(&saga);
    let out = compensate(&Compensator::new(&s3c, &smc), &req, false)
        .await
        .expect("resumed and complete");
    assert_eq!(
        out["objects_deleted"],
        json!(1150),
        "the 1100 model keys left and 50 checkpoints"
    );
    assert_eq!(s3c.calls("DeleteObjects"), 3);
    let skipped: Vec<&str> = out["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "s3.delete:pipeline/c-1/evaluation/",
            "s3.delete:pipeline/c-1/features/"
        ]
    );
    let j = journal(&clients, &bucket, "c-1").await;
    assert_eq!(
        j.runs.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(),
        ["abandoned", "complete"]
    );
    assert!(list_keys(&clients, &bucket, "pipeline/c-1/")
        .await
        .iter()
        .all(|k| k.contains("/saga/")));
}

#[tokio::test]
async fn versioned_bucket_cleanup_removes_every_version() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-versions", &[]).await;
    clients
        .s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    for _ in 0..3 {
        put_many(&clients, &bucket, "pipeline/v-1/evaluation/", 400).await;
    }
    put_many(&clients, &bucket, "pipeline/v-1/reports/", 3).await;
    let (s3, sm) = ops(&saga);
    let req = request(
        json!({"stage": "evaluation", "execution_name": "v-1", "bucket": bucket,
        "options": {"versioned_bucket": true}}),
    );
    let out = compensate(&Compensator::new(&s3, &sm), &req, false)
        .await
        .expect("complete");
    assert_eq!(out["objects_deleted"], json!(1200));
    let versions = clients
        .s3
        .list_object_versions()
        .bucket(&bucket)
        .prefix("pipeline/v-1/evaluation/")
        .send()
        .await
        .unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty());
    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/v-1/reports/")
            .await
            .len(),
        3
    );
    assert!(
        s3.calls("ListObjectVersions") >= 2,
        "1200 versions need two pages"
    );
}

#[tokio::test]
async fn a_prefix_outside_the_execution_is_refused_before_any_call() {
    let (_moto, clients, _saga, bucket) = moto_as_saga("saga-refuse", &[]).await;
    put_many(&clients, &bucket, "pipeline/other/model/", 3).await;
    let err = Request::from_json(
        &json!({"stage": "training", "execution_name": "mine", "bucket": bucket, "prefix": "pipeline/"}),
        Options::default(),
    )
    .unwrap_err();
    assert_eq!(err.error_name(), "InputError.PrefixOutsideExecution");
    assert_eq!(
        list_keys(&clients, &bucket, "pipeline/other/").await.len(),
        3
    );
}

/// Issue 16: the compensation of one failed deployment, run five times (the ASL's
/// retries, a redrive, an operator's CLI run), ends in the same state as the first run
/// and no later run reports an error. Run 4 runs without the journal (as if it had been
/// lost), so it decides from SageMaker's and S3's state alone and must find everything
/// already gone; run 5 reads the journal run 4 wrote.
#[tokio::test]
async fn five_runs_of_a_failed_deployment_end_in_the_same_state() {
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-five", &[]).await;
    let exec = "five-1";
    for dir in ["model", "checkpoints", "evaluation", "features", "reports"] {
        put_many(&clients, &bucket, &format!("pipeline/{exec}/{dir}/"), 30).await;
    }
    create_training_job(&clients, "five-1-train-1", &bucket).await;
    create_model(&clients, "tg-five1").await;
    let sm = &clients.sagemaker;
    sm.create_endpoint_config()
        .endpoint_config_name("ep-five-cfg")
        .production_variants(
            ProductionVariant::builder()
                .variant_name("all")
                .model_name("tg-five1")
                .initial_instance_count(1)
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .build(),
        )
        .send()
        .await
        .expect("endpoint config");
    sm.create_endpoint()
        .endpoint_name("ep-five")
        .endpoint_config_name("ep-five-cfg")
        .send()
        .await
        .expect("endpoint");
    let req = request(json!({
        "stage": "deployment", "execution_name": exec, "bucket": bucket,
        "resources": {"training_jobs": ["five-1-train-1"], "endpoint_name": "ep-five",
            "endpoint_created": true, "new_endpoint_config": "ep-five-cfg", "model_name": "tg-five1"},
        "error": {"Error": "States.TaskFailed", "Cause": "endpoint never came up"}
    }));

    // The end state: what is left under the execution's prefix (the journal aside)
    // and whether each SageMaker resource still exists.
    let state = || async {
        let mut keys = list_keys(&clients, &bucket, &format!("pipeline/{exec}/")).await;
        keys.retain(|k| !k.contains("/saga/"));
        let endpoint = sm
            .describe_endpoint()
            .endpoint_name("ep-five")
            .send()
            .await
            .is_ok();
        let config = sm
            .describe_endpoint_config()
            .endpoint_config_name("ep-five-cfg")
            .send()
            .await
            .is_ok();
        (
            keys,
            endpoint,
            config,
            model_exists(&clients, "tg-five1").await,
        )
    };

    let (s3o, smo) = ops(&saga);
    let first = compensate(&Compensator::new(&s3o, &smo), &req, false)
        .await
        .expect("first run completes");
    let end = state().await;
    assert_eq!(end.0.len(), 30, "only reports/ is kept: {:?}", end.0);
    assert!(end.0.iter().all(|k| k.contains("/reports/")), "{:?}", end.0);
    assert_eq!((end.1, end.2, end.3), (false, false, false));
    let actions =
        first["done"].as_array().unwrap().len() + first["skipped"].as_array().unwrap().len();

    for run in 2..=5 {
        if run == 4 {
            clients
                .s3
                .delete_object()
                .bucket(&bucket)
                .key(format!("pipeline/{exec}/saga/journal.json"))
                .send()
                .await
                .expect("delete journal");
        }
        let (s3o, smo) = ops(&saga);
        let out = compensate(&Compensator::new(&s3o, &smo), &req, false)
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert_eq!(out["failed"], json!([]), "run {run}");
        assert_eq!(out["remaining"], json!([]), "run {run}");
        assert_eq!(out["done"], json!([]), "run {run} acted again: {out}");
        assert_eq!(
            out["skipped"].as_array().unwrap().len(),
            actions,
            "run {run}"
        );
        assert_eq!(state().await, end, "run {run}");
        if run == 4 {
            // No journal: every action read AWS and found its target state.
            assert!(
                out["skipped"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|s| !s["detail"].as_str().unwrap().starts_with("journal:")),
                "{out}"
            );
            assert_eq!(smo.calls("DeleteModel") + smo.calls("DeleteEndpoint"), 0);
        }
    }
    assert_eq!(journal(&clients, &bucket, exec).await.runs.len(), 2);
}

/// Two compensators of the same failure at once (issue 16), on moto's real conditional
/// writes: both read the journal (there is none yet) before either writes it, so the
/// two `If-None-Match: *` PUTs race at S3 ([`trainguard_tests::rendezvous`] holds them
/// until both are ready). Exactly one takes the lease and acts; the other is refused
/// by S3, reads the journal again, finds the lease held and touches nothing
/// (`Compensation.Incomplete`). The end state equals that of one compensator alone on
/// an identical failure, and the loser, run again, finds everything done.
#[tokio::test]
async fn two_compensators_at_once_one_acts_the_other_finds_the_lease() {
    use trainguard_tests::rendezvous::{Race, Rendezvous};
    let (_moto, clients, saga, bucket) = moto_as_saga("saga-race", &[]).await;
    // Two identical failures: one raced, one compensated alone for comparison.
    for exec in ["race-1", "solo-1"] {
        put_many(&clients, &bucket, &format!("pipeline/{exec}/model/"), 1200).await;
        put_many(
            &clients,
            &bucket,
            &format!("pipeline/{exec}/checkpoints/"),
            40,
        )
        .await;
        put_many(&clients, &bucket, &format!("pipeline/{exec}/reports/"), 3).await;
    }
    let req = |exec: &str| {
        request(json!({
            "stage": "training", "execution_name": exec, "bucket": bucket,
            "error": {"Error": "States.TaskFailed", "Cause": "training failed"}
        }))
    };
    // The end state of an execution's prefix, the execution's name taken out, and the
    // journal's completed actions.
    let end_state = |exec: &'static str| {
        let (clients, bucket) = (&clients, &bucket);
        async move {
            let keys: Vec<String> = list_keys(clients, bucket, &format!("pipeline/{exec}/"))
                .await
                .into_iter()
                .filter(|k| !k.contains("/saga/"))
                .map(|k| k.replace(exec, "<exec>"))
                .collect();
            let j = journal(clients, bucket, exec).await;
            assert!(j.lease.is_none(), "{exec}: lease left behind");
            let done: Vec<String> = j
                .completed
                .keys()
                .map(|k| k.replace(exec, "<exec>"))
                .collect();
            (keys, done)
        }
    };

    let (s3o, smo) = ops(&saga);
    compensate(&Compensator::new(&s3o, &smo), &req("solo-1"), false)
        .await
        .expect("one compensator alone completes");
    let solo = end_state("solo-1").await;
    assert_eq!(solo.0.len(), 3, "only reports/ is kept: {:?}", solo.0);

    let race = Race::new("race-1/saga/journal.json", 2);
    let (s3a, sma) = ops(&saga);
    let (s3b, smb) = ops(&saga);
    let (ra, rb) = (
        Rendezvous::new(&s3a, race.clone()),
        Rendezvous::new(&s3b, race.clone()),
    );
    let (ca, cb) = (Compensator::new(&ra, &sma), Compensator::new(&rb, &smb));
    let raced = req("race-1");
    let (a, b) = tokio::join!(
        compensate(&ca, &raced, false),
        compensate(&cb, &raced, false)
    );
    assert_eq!(
        race.met(),
        2,
        "both first journal writes met: the race happened"
    );
    let (winner, loser, won, lost) = match (a, b) {
        (Ok(w), Err(l)) => (w, l, &s3a, &s3b),
        (Err(l), Ok(w)) => (w, l, &s3b, &s3a),
        (a, b) => panic!("exactly one compensator must act: {a:?} / {b:?}"),
    };
    assert_eq!(loser.error_name(), "Compensation.Incomplete");
    assert!(
        loser.to_string().contains("holds the saga journal lease"),
        "{loser}"
    );
    // The loser read the journal, lost the write, read it again: nothing else.
    assert_eq!(lost.calls("ListObjectsV2") + lost.calls("DeleteObjects"), 0);
    assert_eq!(lost.calls("PutObject"), 1);
    assert_eq!(lost.calls("GetObject"), 2);
    assert_eq!(winner["objects_deleted"], json!(1240), "{winner}");
    assert_eq!(
        won.calls("DeleteObjects"),
        3,
        "two model batches, one of checkpoints"
    );
    let j = journal(&clients, &bucket, "race-1").await;
    assert_eq!(
        j.runs.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(),
        ["complete"],
        "only the winner's run is recorded"
    );
    let raced_end = end_state("race-1").await;
    assert_eq!(
        raced_end, solo,
        "the race ends where one compensator alone ends"
    );

    // The loser's retry (Step Functions retries Compensation.Incomplete) finds it done.
    let (s3c, smc) = ops(&saga);
    let again = compensate(&Compensator::new(&s3c, &smc), &raced, false)
        .await
        .expect("the retry completes");
    assert_eq!(again["done"], json!([]), "{again}");
    assert_eq!(s3c.calls("DeleteObjects"), 0);
    assert_eq!(end_state("race-1").await, solo);
}
