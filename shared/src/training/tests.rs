//! Planner behaviour end to end (decode → diagnose → plan), without AWS, plus the
//! property tests the issue asks for.

use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::training::naming::is_valid_job_name;

fn job(hp: Value, instance: &str) -> Value {
    json!({
        "TrainingJobName": "bert-ft-2026-11-21",
        "AlgorithmSpecification": {"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/train:1", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "HyperParameters": hp,
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CheckpointConfig": {"S3Uri": "s3://bucket/pipeline/exec-1/checkpoints/"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/pipeline/exec-1/model/"}
    })
}

fn failed_cause(name: &str, reason: &str) -> String {
    json!({
        "TrainingJobName": name,
        "TrainingJobArn": format!("arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"),
        "TrainingJobStatus": "Failed",
        "SecondaryStatus": "Failed",
        "FailureReason": reason,
    })
    .to_string()
}

const OOM_REASON: &str = "AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 22.19 GiB of which 4.50 MiB is free.\"\nCommand \"/opt/conda/bin/python3.10 train.py\"";

fn input(cause: String, job: Value, policy: Value, history: Value) -> Value {
    json!({
        "error": {"Error": "States.TaskFailed", "Cause": cause},
        "training_job": job,
        "policy": policy,
        "history": history,
        "execution_name": "exec-1",
    })
}

fn run(v: &Value) -> Result<Decision, TrainingError> {
    futures::executor::block_on(recover(v, &NoLogs))
}

fn hp_of(d: &Decision) -> Map<String, Value> {
    d.training_job.as_ref().unwrap()["HyperParameters"]
        .as_object()
        .unwrap()
        .clone()
}

fn oom_input(hp: Value, instance: &str, policy: Value) -> Value {
    input(
        failed_cause("bert-ft-2026-11-21", OOM_REASON),
        job(hp, instance),
        policy,
        json!([]),
    )
}

#[test]
fn oom_halves_the_batch_and_keeps_the_global_batch_with_accumulation() {
    let d = run(&oom_input(json!({"per_device_train_batch_size": "32", "gradient_accumulation_steps": "2", "learning_rate": "3e-5"}), "ml.g5.xlarge", json!({}))).unwrap();
    assert_eq!(d.action, Action::Retry);
    assert_eq!(
        (d.class, d.kind),
        (FailureClass::Resource, FailureKind::GpuOutOfMemory)
    );
    assert_eq!(d.evidence.rule, "pytorch-cuda-oom");
    assert_eq!(d.attempt, 1);
    let hp = hp_of(&d);
    assert_eq!(hp["per_device_train_batch_size"], "16");
    assert_eq!(hp["gradient_accumulation_steps"], "4");
    assert_eq!(
        hp["learning_rate"], "3e-5",
        "LR untouched when the global batch is kept"
    );
    let next = d.training_job.as_ref().unwrap();
    let name = next["TrainingJobName"].as_str().unwrap();
    assert!(
        is_valid_job_name(name) && name.starts_with("bert-ft-2026-11-21-r1-"),
        "{name}"
    );
    assert_eq!(
        next["CheckpointConfig"]["S3Uri"],
        "s3://bucket/pipeline/exec-1/checkpoints/"
    );
    assert_eq!(
        next["RoleArn"], "arn:aws:iam::123456789012:role/sm",
        "untouched members are carried"
    );
    assert_eq!(d.patch["TrainingJobName"], name);
    assert!(
        d.notes.iter().any(|n| n.contains("32×2 = 16×4 = 64")),
        "{:?}",
        d.notes
    );
    assert_eq!(d.history.len(), 1);
    assert_eq!(d.history[0].batch_size, Some(32));
}

#[test]
fn oom_without_accumulation_scales_the_learning_rate_and_says_so() {
    let d = run(&oom_input(
        json!({"batch_size": "64", "lr": "0.0004"}),
        "ml.g5.xlarge",
        json!({}),
    ))
    .unwrap();
    let hp = hp_of(&d);
    assert_eq!(hp["batch_size"], "32");
    assert_eq!(hp["lr"], "0.0002");
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("gradient accumulation unavailable") && n.contains("Linear")),
        "{:?}",
        d.notes
    );
    let d = run(&oom_input(
        json!({"batch_size": "64", "lr": "0.0004"}),
        "ml.g5.xlarge",
        json!({"lr_scaling": "sqrt"}),
    ))
    .unwrap();
    let lr: f64 = hp_of(&d)["lr"].as_str().unwrap().parse().unwrap();
    assert!((lr - 0.0004 * 0.5f64.sqrt()).abs() < 1e-12, "{lr}");
    // `always`: the script accepts the accumulation name even when unset.
    let d = run(&oom_input(
        json!({"batch_size": "64", "lr": "0.0004"}),
        "ml.g5.xlarge",
        json!({"gradient_accumulation": "always"}),
    ))
    .unwrap();
    let hp = hp_of(&d);
    assert_eq!(
        (
            hp["batch_size"].as_str(),
            hp["gradient_accumulation_steps"].as_str(),
            hp["lr"].as_str()
        ),
        (Some("32"), Some("2"), Some("0.0004"))
    );
}

#[test]
fn rounding_to_a_multiple_of_eight() {
    let d = run(&oom_input(
        json!({"batch_size": "24", "gradient_accumulation_steps": "1"}),
        "ml.g5.xlarge",
        json!({"round_batch_to_multiple_of": 8}),
    ))
    .unwrap();
    let hp = hp_of(&d);
    assert_eq!(
        (
            hp["batch_size"].as_str(),
            hp["gradient_accumulation_steps"].as_str()
        ),
        (Some("8"), Some("3"))
    );
}

#[test]
fn below_the_minimum_climbs_the_ladder_and_restores_the_batch() {
    // The first attempt ran batch 8; the second (batch 2) fails again at min 2.
    let history = json!([{"attempt": 1, "failed_job": "bert-ft-2026-11-21", "class": "Resource", "kind": "GpuOutOfMemory",
                          "action": "retry", "batch_size": 8, "grad_accum": 1, "instance_type": "ml.g5.xlarge"}]);
    let hp = json!({"batch_size": "2", "gradient_accumulation_steps": "4"});
    let mut j = job(hp, "ml.g5.xlarge");
    j["TrainingJobName"] = json!("bert-ft-2026-11-21-r1-0123abcd");
    let v = input(
        failed_cause("bert-ft-2026-11-21-r1-0123abcd", OOM_REASON),
        j,
        json!({"min_batch_size": 2}),
        history,
    );
    let d = run(&v).unwrap();
    assert_eq!(d.action, Action::Retry);
    assert_eq!(d.attempt, 2);
    let next = d.training_job.as_ref().unwrap();
    // ml.g6.xlarge has the same 24 GB per GPU: skipped.
    assert_eq!(next["ResourceConfig"]["InstanceType"], "ml.g6e.xlarge");
    assert_eq!(next["ResourceConfig"]["VolumeSizeInGB"], 50);
    assert_eq!(next["HyperParameters"]["batch_size"], "8");
    assert_eq!(next["HyperParameters"]["gradient_accumulation_steps"], "1");
    assert!(next["TrainingJobName"]
        .as_str()
        .unwrap()
        .starts_with("bert-ft-2026-11-21-r2-"));
}

#[test]
fn ladder_exhausted_and_off_ladder_halt_with_a_name() {
    let d = run(&oom_input(
        json!({"batch_size": "1"}),
        "ml.g6e.xlarge",
        json!({}),
    ))
    .unwrap();
    assert_eq!(d.action, Action::Halt);
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.LadderExhausted")
    );
    assert!(d.training_job.is_none() && d.patch.is_empty());
    let d = run(&oom_input(
        json!({"batch_size": "1"}),
        "ml.m5.large",
        json!({}),
    ))
    .unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.LadderExhausted")
    );
    assert!(d.message.contains("not on the instance ladder"));
    // A custom ladder overrides the default.
    let d = run(&oom_input(json!({"batch_size": "1"}), "ml.m5.large", json!({"instance_ladder": [
        {"instance_type": "ml.m5.large", "gpu_memory_gib": 1}, {"instance_type": "ml.m5.xlarge", "gpu_memory_gib": 2}]}))).unwrap();
    assert_eq!(
        d.training_job.unwrap()["ResourceConfig"]["InstanceType"],
        "ml.m5.xlarge"
    );
}

#[test]
fn no_batch_hyperparameter_goes_straight_to_the_ladder() {
    let d = run(&oom_input(
        json!({"epochs": "3"}),
        "ml.g4dn.xlarge",
        json!({}),
    ))
    .unwrap();
    assert_eq!(
        d.training_job.as_ref().unwrap()["ResourceConfig"]["InstanceType"],
        "ml.g5.xlarge"
    );
    assert!(d.notes[0].contains("no batch-size hyperparameter"));
}

fn spot_cause(name: &str, interruptions: usize) -> String {
    let mut t = vec![json!({"Status": "Starting"}), json!({"Status": "Training"})];
    for _ in 0..interruptions {
        t.push(json!({"Status": "Interrupted"}));
        t.push(json!({"Status": "Training"}));
    }
    json!({"TrainingJobName": name, "TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxWaitTimeExceeded",
           "EnableManagedSpotTraining": true, "SecondaryStatusTransitions": t}).to_string()
}

#[test]
fn spot_falls_back_to_on_demand_after_three_interruptions() {
    let mut j = job(json!({"batch_size": "8"}), "ml.g5.xlarge");
    j["EnableManagedSpotTraining"] = json!(true);
    j["StoppingCondition"] = json!({"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200});
    let d = run(&input(
        spot_cause("bert-ft-2026-11-21", 1),
        j.clone(),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(
        (d.class, d.kind, d.action),
        (
            FailureClass::Transient,
            FailureKind::SpotInterruption,
            Action::WaitThenRetry
        )
    );
    assert_eq!(
        d.training_job.as_ref().unwrap()["EnableManagedSpotTraining"],
        true
    );
    // Two interruptions inside this job plus one before: three.
    let history = json!([{"attempt": 1, "failed_job": "x", "class": "Transient", "kind": "SpotInterruption", "action": "wait-then-retry", "spot_interruptions": 1}]);
    let d = run(&input(
        spot_cause("bert-ft-2026-11-21", 2),
        j,
        json!({}),
        history,
    ))
    .unwrap();
    assert_eq!(d.action, Action::Retry);
    let next = d.training_job.unwrap();
    assert_eq!(next["EnableManagedSpotTraining"], false);
    assert_eq!(
        next["StoppingCondition"],
        json!({"MaxRuntimeInSeconds": 3600})
    );
    assert_eq!(
        next["CheckpointConfig"]["S3Uri"],
        "s3://bucket/pipeline/exec-1/checkpoints/"
    );
}

#[test]
fn quota_waits_with_backoff_then_halts() {
    let api = |history: Value| {
        json!({
            "error": {"Error": "SageMaker.ResourceLimitExceededException",
                      "Cause": "The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request an increase for this quota. (Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceLimitExceeded; Request ID: 6f1b...; Proxy: null)"},
            "training_job": job(json!({"batch_size": "8"}), "ml.p4d.24xlarge"),
            "history": history,
        })
    };
    let d = run(&api(json!([]))).unwrap();
    assert_eq!(
        (d.class, d.kind, d.action, d.wait_seconds),
        (
            FailureClass::Resource,
            FailureKind::QuotaExceeded,
            Action::WaitThenRetry,
            600
        )
    );
    assert_eq!(
        serde_json::to_value(&d).unwrap()["action"],
        "wait-then-retry"
    );
    let rec = json!({"attempt": 1, "failed_job": "x", "class": "Resource", "kind": "QuotaExceeded", "action": "wait-then-retry"});
    let d = run(&api(json!([rec.clone()]))).unwrap();
    assert_eq!(d.wait_seconds, 1200);
    let d = run(&api(json!([
        rec.clone(),
        rec.clone(),
        rec.clone(),
        rec.clone(),
        rec.clone(),
        rec
    ])))
    .unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.WaitsExhausted")
    );
}

#[test]
fn nan_loss_lowers_the_learning_rate_a_bounded_number_of_times() {
    let reason = "AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"ValueError: Model diverged with loss = NaN.\"";
    let v = |history: Value, hp: Value| {
        input(
            failed_cause("bert-ft-2026-11-21", reason),
            job(hp, "ml.g5.xlarge"),
            json!({}),
            history,
        )
    };
    let d = run(&v(json!([]), json!({"learning_rate": "0.001"}))).unwrap();
    assert_eq!((d.class, d.action), (FailureClass::Logic, Action::Retry));
    assert_eq!(hp_of(&d)["learning_rate"], "0.0005");
    let rec = json!({"attempt": 1, "failed_job": "x", "class": "Logic", "kind": "NanLoss", "action": "retry"});
    let d = run(&v(
        json!([rec.clone(), rec]),
        json!({"learning_rate": "0.00025"}),
    ))
    .unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.DivergenceUnresolved")
    );
    let d = run(&v(json!([]), json!({"epochs": "3"}))).unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.Unrecoverable")
    );
}

#[test]
fn data_and_unknown_failures_halt_with_evidence() {
    let reason = "ClientError: Data download failed:Unable to download object s3://b/train.csv (AccessDenied: Access Denied)";
    let d = run(&input(
        failed_cause("j", reason),
        job(json!({}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!((d.class, d.action), (FailureClass::Data, Action::Halt));
    assert_eq!(d.halt_reason.as_deref(), Some("TrainingRecovery.DataError"));
    assert!(d.evidence.excerpt.contains("Data download failed"));
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["training_job"], Value::Null);
    let d = run(&input(
        failed_cause("j", "AlgorithmError: , exit code: 1"),
        job(json!({}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(
        (d.class, d.halt_reason.as_deref()),
        (
            FailureClass::Unknown,
            Some("TrainingRecovery.Unrecoverable")
        )
    );
    assert!(
        d.notes.iter().any(|n| n.contains("no log streams found")),
        "{:?}",
        d.notes
    );
}

#[test]
fn max_runtime_is_not_success() {
    let cause = json!({"TrainingJobName": "j", "TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"}).to_string();
    let d = run(&input(
        cause.clone(),
        job(json!({}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(
        (d.kind, d.action),
        (FailureKind::MaxRuntimeExceeded, Action::Retry)
    );
    let mut j = job(json!({}), "ml.g5.xlarge");
    j.as_object_mut().unwrap().remove("CheckpointConfig");
    let d = run(&input(cause, j, json!({}), json!([]))).unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.MaxRuntimeExceeded")
    );
}

#[test]
fn attempts_are_bounded() {
    let rec = json!({"attempt": 1, "failed_job": "x", "class": "Resource", "kind": "GpuOutOfMemory", "action": "retry"});
    let d = run(&input(
        failed_cause("j", OOM_REASON),
        job(json!({"batch_size": "64"}), "ml.g5.xlarge"),
        json!({"max_attempts": 2}),
        json!([rec.clone(), rec]),
    ))
    .unwrap();
    assert_eq!(
        d.halt_reason.as_deref(),
        Some("TrainingRecovery.AttemptsExhausted")
    );
}

#[test]
fn logs_decide_when_the_failure_reason_says_nothing() {
    let v = input(
        failed_cause("job-7", "AlgorithmError: , exit code: 1"),
        job(json!({"batch_size": "16"}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    );
    let logs = InMemoryLogs::default()
        .with_stream("job-7/algo-1-1763700000", "epoch 3 step 100 loss 0.41\n[rank0] NCCL watchdog timeout")
        .with_stream("job-7/algo-2-1763700000", "epoch 3 step 100\nRuntimeError: CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported")
        .with_stream("job-70/algo-1-1763700000", "RuntimeError: DataLoader worker (pid 1) is killed by signal: Killed.");
    let d = futures::executor::block_on(recover(&v, &logs)).unwrap();
    assert_eq!(d.kind, FailureKind::GpuOutOfMemory);
    assert_eq!(d.evidence.source, EvidenceSource::CloudWatchLogs);
    assert_eq!(
        d.evidence.log_stream.as_deref(),
        Some("job-7/algo-2-1763700000")
    );
    assert_eq!(
        d.evidence.excerpt,
        "RuntimeError: CUDA error: out of memory"
    );
    assert!(d.notes[0].contains("decided from the tail"));
}

struct FailingLogs(CommonError);

impl LogSource for FailingLogs {
    fn job_tails(
        &self,
        _: &str,
        _: usize,
        _: usize,
    ) -> impl std::future::Future<Output = Result<Vec<StreamTail>, CommonError>> + Send {
        let e = match &self.0 {
            CommonError::Transient(m) => CommonError::Transient(m.clone()),
            other => CommonError::AccessDenied(other.to_string()),
        };
        async move { Err(e) }
    }
}

#[test]
fn a_transient_log_failure_is_retried_not_halted() {
    let v = input(
        failed_cause("job-7", "AlgorithmError: , exit code: 1"),
        job(json!({}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    );
    let e = futures::executor::block_on(recover(
        &v,
        &FailingLogs(CommonError::Transient("throttled".into())),
    ))
    .unwrap_err();
    assert_eq!(e.error_name(), "Transient.Throttled");
    let d = futures::executor::block_on(recover(
        &v,
        &FailingLogs(CommonError::AccessDenied("no".into())),
    ))
    .unwrap();
    assert_eq!(d.action, Action::Halt);
    assert!(
        d.notes[0].contains("StorageError.AccessDenied"),
        "{:?}",
        d.notes
    );
}

#[test]
fn input_errors_have_documented_names() {
    let name = |v: Value| run(&v).unwrap_err().error_name();
    assert_eq!(name(json!({"training_job": {}})), "InputError.MissingField");
    assert_eq!(name(json!([1])), "InputError.InvalidEvent");
    assert_eq!(
        name(
            json!({"error": {"Error": "E", "Cause": "x"}, "policy": {"batch_reduction_factor": 0.5}})
        ),
        "InputError.InvalidRecoveryPolicy"
    );
    assert_eq!(
        name(json!({"error": {"Error": "E", "Cause": "x"}, "policy": {"max_attempts": "many"}})),
        "InputError.InvalidRecoveryPolicy"
    );
    assert_eq!(
        name(json!({"error": {"Error": "E", "Cause": "CUDA out of memory"}})),
        "InputError.MissingField"
    );
    let done = json!({"TrainingJobName": "j", "TrainingJobStatus": "Completed"}).to_string();
    assert_eq!(
        name(input(
            done,
            job(json!({}), "ml.g5.xlarge"),
            json!({}),
            json!([])
        )),
        "InputError.InvalidTrainingJob"
    );
    assert_eq!(
        name(oom_input(
            json!({"batch_size": "big"}),
            "ml.g5.xlarge",
            json!({})
        )),
        "InputError.InvalidTrainingJob"
    );
    assert_eq!(
        name(json!({"error": {"Error": "E", "Cause": "x"}, "history": 3})),
        "InputError.InvalidEvent"
    );
    for n in [
        "InputError.InvalidRecoveryPolicy",
        "InputError.InvalidTrainingJob",
        "InputError.MissingField",
        "InputError.InvalidEvent",
        "Transient.Throttled",
    ] {
        assert!(crate::catalog::lookup(n).is_some(), "{n} undocumented");
    }
}

#[test]
fn a_bare_catch_object_with_a_describe_cause_is_enough() {
    let mut describe: Map<String, Value> =
        serde_json::from_str(&failed_cause("bert-ft-2026-11-21", OOM_REASON)).unwrap();
    for (k, v) in job(json!({"batch_size": "8"}), "ml.g5.xlarge")
        .as_object()
        .unwrap()
    {
        describe.entry(k.clone()).or_insert(v.clone());
    }
    let v = json!({"Error": "States.TaskFailed", "Cause": Value::Object(describe).to_string()});
    let d = run(&v).unwrap();
    let next = d.training_job.unwrap();
    assert_eq!(next["HyperParameters"]["batch_size"], "4");
    assert!(next.get("TrainingJobArn").is_none() && next.get("FailureReason").is_none());
}

#[test]
fn non_string_hyperparameters_are_fixed_and_noted() {
    let d = run(&input(
        json!({"TrainingJobName": "j", "TrainingJobStatus": "Failed", "FailureReason": "InternalServerError: We encountered an internal error. Please try again."}).to_string(),
        job(json!({"epochs": 3, "batch_size": "8"}), "ml.g5.xlarge"),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(
        (d.kind, d.action, d.wait_seconds),
        (FailureKind::ServiceError, Action::WaitThenRetry, 60)
    );
    assert_eq!(hp_of(&d)["epochs"], "3");
    assert!(d.notes.iter().any(|n| n.contains("converted to strings")));
}

#[test]
fn halt_reasons_are_documented() {
    let doc = include_str!("../../../docs/batch-size-adjuster.md");
    for r in HaltReason::ALL {
        assert!(
            doc.contains(r.name()),
            "{} missing from docs/batch-size-adjuster.md (Halt reasons)",
            r.name()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Property tests

fn oom_case(b: u64, accum: Option<u64>, lr: bool) -> Value {
    let mut hp = json!({"batch_size": b.to_string()});
    if let Some(a) = accum {
        hp["gradient_accumulation_steps"] = json!(a.to_string());
    }
    if lr {
        hp["learning_rate"] = json!("0.001");
    }
    hp
}

fn policy_strategy() -> impl Strategy<Value = Value> {
    (1.1f64..8.0, 1u64..64, prop::option::of(prop::sample::select(vec![2u64, 4, 8])), 0u32..10, prop::bool::ANY).prop_map(
        |(factor, min, round, max_attempts, sqrt)| {
            json!({"batch_reduction_factor": factor, "min_batch_size": min, "round_batch_to_multiple_of": round,
                   "max_attempts": max_attempts, "lr_scaling": if sqrt {"sqrt"} else {"linear"}})
        },
    )
}

fn parse_hp(d: &Decision, k: &str) -> Option<u64> {
    d.training_job
        .as_ref()?
        .get("HyperParameters")?
        .get(k)?
        .as_str()?
        .parse()
        .ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batch_never_drops_below_the_minimum(b in 1u64..4096, accum in prop::option::of(1u64..16), policy in policy_strategy()) {
        let min = policy["min_batch_size"].as_u64().unwrap();
        let v = input(failed_cause("j", OOM_REASON), job(oom_case(b, accum, true), "ml.g4dn.xlarge"), policy, json!([]));
        let d = run(&v).unwrap();
        if let Some(nb) = parse_hp(&d, "batch_size") {
            prop_assert!(nb >= min || nb >= b, "batch {b} -> {nb} below min {min}");
            prop_assert!(nb >= 1);
        }
    }

    #[test]
    fn global_batch_is_kept_when_accumulation_is_available(b in 1u64..4096, accum in 1u64..16, policy in policy_strategy()) {
        let v = input(failed_cause("j", OOM_REASON), job(oom_case(b, Some(accum), true), "ml.g4dn.xlarge"), policy, json!([]));
        let d = run(&v).unwrap();
        if d.action != Action::Halt && !d.patch.contains_key("ResourceConfig") {
            let nb = parse_hp(&d, "batch_size").unwrap();
            let na = parse_hp(&d, "gradient_accumulation_steps").unwrap();
            prop_assert_eq!(nb * na, b * accum);
            prop_assert!(nb < b, "the per-device batch must shrink");
            prop_assert_eq!(d.training_job.as_ref().unwrap()["HyperParameters"]["learning_rate"].as_str(), Some("0.001"));
        }
    }

    #[test]
    fn repeated_failures_halt_within_the_bound_with_valid_unique_names(
        b in 1u64..512, accum in prop::option::of(1u64..8), policy in policy_strategy(), quota in prop::bool::ANY
    ) {
        let max_attempts = policy["max_attempts"].as_u64().unwrap() as usize;
        let mut params = job(oom_case(b, accum, true), "ml.g4dn.xlarge");
        let mut history = json!([]);
        let mut names = HashSet::new();
        names.insert(params["TrainingJobName"].as_str().unwrap().to_string());
        let mut steps = 0;
        loop {
            steps += 1;
            prop_assert!(steps <= max_attempts + 1, "no halt after {steps} decisions");
            let name = params["TrainingJobName"].as_str().unwrap().to_string();
            let v = if quota {
                json!({"error": {"Error": "SageMaker.ResourceLimitExceededException", "Cause": "account-level service limit"},
                       "training_job": params.clone(), "policy": policy.clone(), "history": history.clone(), "execution_name": "e"})
            } else {
                input(failed_cause(&name, OOM_REASON), params.clone(), policy.clone(), history.clone())
            };
            let d = run(&v).unwrap();
            prop_assert_eq!(d.attempt as usize, steps);
            prop_assert_eq!(d.history.len(), steps);
            if d.action == Action::Halt {
                prop_assert!(d.training_job.is_none());
                break;
            }
            let next = d.training_job.clone().unwrap();
            let new_name = next["TrainingJobName"].as_str().unwrap().to_string();
            prop_assert!(is_valid_job_name(&new_name), "{new_name}");
            prop_assert!(names.insert(new_name.clone()), "name {new_name} reused");
            params = Value::Object(next);
            history = serde_json::to_value(&d.history).unwrap();
        }
    }

    #[test]
    fn the_same_input_gives_the_same_plan(b in 1u64..4096, accum in prop::option::of(1u64..16), policy in policy_strategy(), reason in prop::sample::select(vec![
        OOM_REASON, "ResourceExhaustedError: OOM when allocating tensor", "loss is nan", "ClientError: Data download failed", "AlgorithmError: , exit code: 1"
    ])) {
        let v = input(failed_cause("job-x", reason), job(oom_case(b, accum, true), "ml.g5.xlarge"), policy, json!([]));
        let a = serde_json::to_string(&run(&v).unwrap()).unwrap();
        let b2 = serde_json::to_string(&run(&v.clone()).unwrap()).unwrap();
        prop_assert_eq!(a.clone(), b2);
        prop_assert!(a.len() < 32 * 1024);
    }
}
