//! The fixture corpus of real training failure messages
//! (`tests/fixtures/training-failures/corpus.json`), each with the public page it came
//! from, classified in one table-driven test. Negative entries (NCCL/CUDA "invalid
//! argument", segfaults, messages that say nothing) must stay unknown.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use trainguard::training::{diagnose, CaughtError, EvidenceSource, InMemoryLogs, NoLogs, Policy};
use trainguard_tests::workspace_root;

fn corpus() -> Vec<Value> {
    let path = workspace_root().join("tests/fixtures/training-failures/corpus.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("corpus.json is JSON");
    doc["entries"].as_array().expect("entries").clone()
}

/// The sagemaker-training-toolkit's FailureReason format for a failed entry point
/// (`_CalledProcessError.__str__`), behind SageMaker's `AlgorithmError: ` prefix.
fn in_failure_reason(message: &str) -> String {
    format!("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"{message}\"\nCommand \"/opt/conda/bin/python3.10 train.py\"")
}

fn describe_cause(name: &str, fields: Value) -> String {
    let mut d = json!({
        "TrainingJobName": name,
        "TrainingJobArn": format!("arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"),
        "TrainingJobStatus": "Failed",
        "SecondaryStatus": "Failed",
    });
    for (k, v) in fields.as_object().unwrap() {
        d[k] = v.clone();
    }
    d.to_string()
}

#[tokio::test]
async fn every_corpus_entry_is_classified_as_expected() {
    let entries = corpus();
    let policy = Policy::default();
    let mut wrong = Vec::new();
    let (mut positives, mut negatives) = (0, 0);
    let mut frameworks = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for e in &entries {
        let id = e["id"].as_str().unwrap();
        let source = e["source"].as_str().unwrap_or_default();
        assert!(
            source.starts_with("https://"),
            "{id}: every message needs its public source"
        );
        let message = e["message"].as_str().unwrap_or_default();
        let job = format!("corpus-{id}");
        let mut logs = InMemoryLogs::default();
        let caught = match e["shape"].as_str().unwrap() {
            "failure_reason" => {
                let reason = if e["wrap_in_failure_reason"].as_bool() == Some(true) {
                    in_failure_reason(message)
                } else {
                    message.to_string()
                };
                CaughtError {
                    error: "States.TaskFailed".into(),
                    cause: describe_cause(&job, json!({"FailureReason": reason})),
                }
            }
            "log_tail" => {
                logs = logs.with_stream(
                    &format!("{job}/algo-1-1763700000"),
                    &format!("epoch 1 step 10 loss 0.9\n{message}"),
                );
                CaughtError {
                    error: "States.TaskFailed".into(),
                    cause: describe_cause(
                        &job,
                        json!({"FailureReason": "AlgorithmError: , exit code: 1"}),
                    ),
                }
            }
            "api_error" => CaughtError {
                error: e["error"].as_str().unwrap().into(),
                cause: message.into(),
            },
            "text" => CaughtError {
                error: String::new(),
                cause: message.into(),
            },
            "describe" => CaughtError {
                error: "States.TaskFailed".into(),
                cause: describe_cause(&job, e["describe"].clone()),
            },
            other => panic!("{id}: unknown shape {other}"),
        };
        let (c, notes, _) = diagnose(&caught, &policy, &logs)
            .await
            .unwrap_or_else(|err| panic!("{id}: {err}"));
        let got = (
            serde_json::to_value(c.class).unwrap(),
            serde_json::to_value(c.kind).unwrap(),
        );
        let want = (
            e["expected"]["class"].clone(),
            e["expected"]["kind"].clone(),
        );
        if got != want {
            wrong.push(format!(
                "{id}: expected {want:?}, got {got:?} (rule {}, excerpt {:?})",
                c.evidence.rule, c.evidence.excerpt
            ));
            continue;
        }
        if e["shape"] == "log_tail" {
            assert_eq!(
                c.evidence.source,
                EvidenceSource::CloudWatchLogs,
                "{id}: {notes:?}"
            );
        }
        if want.0 == "Unknown" {
            negatives += 1;
        } else {
            positives += 1;
            assert!(!c.evidence.excerpt.is_empty(), "{id}: no evidence");
            frameworks.insert(e["framework"].as_str().unwrap().to_string());
            kinds.insert(want.1.as_str().unwrap().to_string());
        }
        // The same entry without logs never decides differently for non-log shapes.
        if e["shape"] != "log_tail" {
            let (again, _, _) = diagnose(&caught, &policy, &NoLogs).await.unwrap();
            assert_eq!(again, c, "{id}");
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    assert!(positives >= 25, "only {positives} positive messages");
    assert!(negatives >= 5, "only {negatives} negative messages");
    for fw in [
        "pytorch",
        "tensorflow",
        "jax",
        "xgboost",
        "rapids",
        "sagemaker",
    ] {
        assert!(frameworks.contains(fw), "no {fw} message in the corpus");
    }
    for k in [
        "GpuOutOfMemory",
        "HostOutOfMemory",
        "QuotaExceeded",
        "InsufficientCapacity",
        "MissingInput",
        "InvalidData",
        "NanLoss",
        "SpotInterruption",
        "MaxRuntimeExceeded",
        "ServiceError",
    ] {
        assert!(kinds.contains(k), "no {k} message in the corpus");
    }
}

#[test]
fn corpus_ids_are_unique() {
    let entries = corpus();
    let ids: BTreeSet<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), entries.len());
}
