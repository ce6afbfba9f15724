//! A sweep that mixes every outcome in one run (issue 16): five configurations, of
//! which one runs out of GPU memory and recovers at a smaller batch, one diverges (NaN
//! loss) and recovers at a lower learning rate, one exhausts the instance ladder and
//! halts, and two succeed at once. One failure in five is within the sweep's 50 %
//! `ToleratedFailurePercentage`, so the run goes on with the best survivor by the
//! stub's reported accuracy, which is the configuration that diverged first.
//!
//! Each configuration gets its behaviour from the SageMaker stub's `overrides`
//! (tests/e2e/router.py), matched on a `sweep_member` hyperparameter the recovery
//! carries along unchanged.

use super::*;

pub(super) async fn mixed_sweep(stack: Arc<Stack>) {
    let t = train_state();
    let name = "e2e-sweep-mixed";
    // One rung and a floor of 64: a configuration that still runs out of memory at
    // batch 64 has nowhere left to go (the ladder runs out); 256 -> 128 -> 64 fits.
    let training = json!({"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainguard-train:latest", "instance_type": "ml.g5.xlarge",
                          "instance_count": 1, "volume_size_gb": 50, "spot": true, "max_runtime_seconds": 3600, "max_wait_seconds": 7200,
                          "metric_definitions": [{"Name": "validation:accuracy", "Regex": "acc: ([0-9.]+)"}]});
    let policy = json!({"min_batch_size": 64, "instance_ladder": [{"instance_type": "ml.g5.xlarge", "gpus": 1, "gpu_memory_gib": 24.0}]});
    let member = |id: &str, batch: &str, lr: &str| json!({"hyperparameters": {"batch_size": batch, "learning_rate": lr, "sweep_member": id}});
    let sweep = json!([
        member("oom", "256", "0.001"),
        member("diverges", "64", "0.15"),
        member("exhausts", "64", "0.001"),
        member("plain-a", "64", "0.001"),
        member("plain-b", "64", "0.002"),
    ]);
    // Accuracy by member; the one that exhausts the ladder would have been the best,
    // had it ever finished.
    let accuracy = [
        ("oom", 0.93),
        ("diverges", 0.96),
        ("exhausts", 0.99),
        ("plain-a", 0.91),
        ("plain-b", 0.94),
    ];
    let mut overrides: Vec<Value> = accuracy
        .iter()
        .map(|(id, acc)| json!({"when": {"sweep_member": id}, "set": {"accuracy": acc}}))
        .collect();
    overrides
        .push(json!({"when": {"sweep_member": "exhausts"}, "set": {"oom_above_batch_size": 0}}));
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"training": training, "recovery_policy": policy, "sweep": sweep,
                   "endpoint": endpoint_params("scn-sweep-mixed")}),
            json!({"training": {"oom_above_batch_size": 64, "nan_loss_above_learning_rate": 0.1,
                                "overrides": overrides},
                   "evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {path:?}"
    );
    assert_subsequence(
        &path,
        &["TrainingSweep", "SelectBest", "Evaluate", "Deployed"],
        name,
    );
    let children = stack.children_of(&arn, "TrainingSweep").await;
    assert_eq!(
        children.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "{children:?}"
    );
    let statuses: Vec<&str> = children.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    );
    let hp = |c: &MapChild, k: &str| -> Vec<String> {
        c.training_requests()
            .iter()
            .map(|r| hyperparameter(r, k))
            .collect()
    };
    // OOM: batch halved twice, then the model.
    let oom = &children[0];
    assert_eq!(hp(oom, "batch_size"), ["256", "128", "64"]);
    assert_subsequence(
        &oom.path(),
        &[
            t,
            "AdjustBatchSize",
            "ApplyRecoveryPlan",
            t,
            "AdjustBatchSize",
            "ApplyRecoveryPlan",
            t,
            "KeepMetrics",
        ],
        "the OOM configuration",
    );
    // Divergence: the learning rate halved once, same batch, then the model.
    let diverged = &children[1];
    let rates: Vec<f64> = hp(diverged, "learning_rate")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(rates, [0.15, 0.075], "learning rate halved once");
    assert_eq!(hp(diverged, "batch_size"), ["64", "64"]);
    assert_eq!(
        diverged.path().last().map(String::as_str),
        Some("KeepMetrics")
    );
    // The ladder runs out: one attempt at the floor on the only rung, then halt.
    let exhausted = &children[2];
    assert_eq!(exhausted.error.as_deref(), Some("TrainingRecovery.Halted"));
    assert_eq!(
        exhausted.path().last().map(String::as_str),
        Some("TrainingHalted"),
        "{:?}",
        exhausted.path()
    );
    assert_eq!(hp(exhausted, "batch_size"), ["64"]);
    let last = exhausted.task_payloads("AdjustBatchSize").pop().unwrap();
    assert_eq!(
        last["halt_reason"], "TrainingRecovery.LadderExhausted",
        "{last}"
    );
    // The two plain ones: one job each, no recovery.
    for c in &children[3..] {
        assert_eq!(c.training_requests().len(), 1, "{:?}", c.path());
        assert!(!c.path().iter().any(|p| p == "AdjustBatchSize"));
    }
    // Every member kept its tag through its retries (what the stub matched on).
    for (c, (id, _)) in children.iter().zip(accuracy) {
        assert!(hp(c, "sweep_member").iter().all(|m| m == id), "{id}");
    }
    // One of five failed: within the tolerated 50 %; the best survivor is the one that
    // diverged and recovered (0.96), not the failed one the table rates higher.
    let best = task_payload(&stack.history(&arn).await, "SelectBest");
    let winner = diverged.training_requests().pop().unwrap()["TrainingJobName"].clone();
    assert_eq!(best["considered"], 4, "{best}");
    assert_eq!(best["skipped"].as_array().map(Vec::len), Some(1), "{best}");
    assert_eq!(best["best"]["index"], 1, "{best}");
    assert_eq!(best["best"]["value"], 0.96, "{best}");
    assert_eq!(best["best"]["training_job_name"], winner, "{best}");
    let (_, meta) = registered_package(&stack, &arn).await.expect("registered");
    assert_eq!(meta["trainguard:training_job"], winner);
}
