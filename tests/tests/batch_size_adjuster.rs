//! The CloudWatch Logs fallback of the batch-size-adjuster against moto's real
//! CloudWatch Logs API: log group `/aws/sagemaker/TrainingJobs`, one stream per host
//! named `<job>/algo-<k>-<epoch>`, only the tail read, sibling jobs' streams ignored.
//! Plus the CLI reading the same logs with `--fetch-logs`.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::{json, Value};
use trainguard::aws::sdk::CloudWatchLogs;
use trainguard::training::{
    recover, Action, EvidenceSource, FailureClass, FailureKind, TRAINING_LOG_GROUP,
};
use trainguard_tests::*;

async fn put_stream(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    lines: &[String],
) {
    client
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("create stream");
    // Current timestamps: moto drops events that look too old.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 60_000;
    let events: Vec<InputLogEvent> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(m)
                .build()
                .expect("event")
        })
        .collect();
    for chunk in events.chunks(500) {
        client
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(chunk.to_vec()))
            .send()
            .await
            .expect("put events");
    }
}

fn filler(n: usize, what: &str) -> Vec<String> {
    (0..n)
        .map(|i| format!("[{what}] epoch 2 step {i} loss 0.{i:03}"))
        .collect()
}

fn task_input(job: &str) -> Value {
    json!({
        "error": {"Error": "States.TaskFailed", "Cause": json!({
            "TrainingJobName": job, "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
            "FailureReason": "AlgorithmError: , exit code: 1"}).to_string()},
        "training_job": {
            "TrainingJobName": job,
            "HyperParameters": {"per_device_train_batch_size": "32", "gradient_accumulation_steps": "1", "learning_rate": "0.0002"},
            "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 100},
            "CheckpointConfig": {"S3Uri": "s3://bucket/pipeline/exec-moto/checkpoints/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400}
        },
        "execution_name": "exec-moto"
    })
}

#[tokio::test]
async fn log_fallback_against_moto() {
    let moto = MotoServer::start();
    let clients = moto.clients().await;
    let cw = &clients.logs;
    cw.create_log_group()
        .log_group_name(TRAINING_LOG_GROUP)
        .send()
        .await
        .expect("create group");

    // Job 1: host 2 recovered from an early OOM probe, then the loss went NaN at the end.
    // Only the tail counts, so the decision is Logic, not OOM.
    let job1 = "bert-ft-moto-1";
    let mut algo1 = filler(260, "algo-1");
    algo1.push("[rank0]:[E] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=88, OpType=ALLREDUCE)".into());
    put_stream(
        cw,
        TRAINING_LOG_GROUP,
        &format!("{job1}/algo-1-1763700000"),
        &algo1,
    )
    .await;
    let mut algo2 = vec!["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB (probe, retrying smaller)".to_string()];
    algo2.extend(filler(600, "algo-2"));
    algo2.push("ValueError: loss is nan at step 601".into());
    algo2.push("Traceback (most recent call last):".into());
    put_stream(
        cw,
        TRAINING_LOG_GROUP,
        &format!("{job1}/algo-2-1763700000"),
        &algo2,
    )
    .await;
    // A sibling job whose name extends job 1's: its streams must not be read.
    put_stream(
        cw,
        TRAINING_LOG_GROUP,
        "bert-ft-moto-10/algo-1-1763700000",
        &["RuntimeError: CUDA error: out of memory".to_string()],
    )
    .await;

    let logs = CloudWatchLogs::new(cw.clone());
    let d = recover(&task_input(job1), &logs).await.expect("decision");
    assert_eq!(
        (d.class, d.kind),
        (FailureClass::Logic, FailureKind::NanLoss),
        "{d:#?}"
    );
    assert_eq!(d.evidence.source, EvidenceSource::CloudWatchLogs);
    assert_eq!(
        d.evidence.log_stream.as_deref(),
        Some("bert-ft-moto-1/algo-2-1763700000")
    );
    assert_eq!(d.evidence.excerpt, "ValueError: loss is nan at step 601");
    assert_eq!(d.action, Action::Retry);
    assert_eq!(
        d.training_job.as_ref().unwrap()["HyperParameters"]["learning_rate"],
        "0.0001"
    );

    // Job 2: the OOM is in the tail of host 1; host 2 shows the NCCL fallout.
    let job2 = "bert-ft-moto-2";
    let mut a1 = filler(300, "algo-1");
    a1.push("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 22.19 GiB of which 4.50 MiB is free.".into());
    put_stream(
        cw,
        TRAINING_LOG_GROUP,
        &format!("{job2}/algo-1-1763700100"),
        &a1,
    )
    .await;
    let mut a2 = filler(300, "algo-2");
    a2.push("torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error".into());
    put_stream(
        cw,
        TRAINING_LOG_GROUP,
        &format!("{job2}/algo-2-1763700100"),
        &a2,
    )
    .await;
    let d = recover(&task_input(job2), &logs).await.expect("decision");
    assert_eq!(d.kind, FailureKind::GpuOutOfMemory);
    assert_eq!(
        d.evidence.log_stream.as_deref(),
        Some("bert-ft-moto-2/algo-1-1763700100")
    );
    let hp = &d.training_job.as_ref().unwrap()["HyperParameters"];
    assert_eq!(
        (
            hp["per_device_train_batch_size"].as_str(),
            hp["gradient_accumulation_steps"].as_str()
        ),
        (Some("16"), Some("2"))
    );

    // Job 3: no streams at all; and a group that does not exist. Both halt with the
    // reason in the notes instead of failing the invocation.
    let d = recover(&task_input("never-logged"), &logs)
        .await
        .expect("decision");
    assert_eq!(d.action, Action::Halt);
    assert!(
        d.notes.iter().any(|n| n.contains("no log streams found")),
        "{:?}",
        d.notes
    );
    let missing = CloudWatchLogs::with_group(cw.clone(), "/aws/sagemaker/NoSuchGroup");
    let d = recover(&task_input(job1), &missing)
        .await
        .expect("decision");
    assert_eq!(d.action, Action::Halt);
    assert!(
        d.notes.iter().any(|n| n.contains("StorageError.NotFound")),
        "{:?}",
        d.notes
    );

    // The CLI reads the same logs with --fetch-logs.
    let exe = binary_path("trainguard");
    assert!(
        exe.exists(),
        "{} missing: build the workspace binaries first (scripts/test.sh does)",
        exe.display()
    );
    let dir = output_dir("batch-size-adjuster");
    let input_path = dir.join("job2.json");
    std::fs::write(&input_path, task_input(job2).to_string()).unwrap();
    let out = std::process::Command::new(&exe)
        .args(["classify-failure", "--fetch-logs", "--json"])
        .arg(&input_path)
        .envs(moto.env())
        .output()
        .expect("run trainguard");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(v["kind"], "GpuOutOfMemory");
    assert_eq!(v["evidence"]["source"], "CloudWatchLogs");
}
