//! IAM as AWS enforces it, through the real binaries (issue 13).
//!
//! The local stack (tests/e2e/stack.py) runs moto with IAM enforced and the template's own
//! roles (tests/e2e/iam.py); each function calls AWS only with its role's session (the
//! router signs its requests again, tests/e2e/router.py `Identities`). Here one needed action
//! is taken away from a live role, and the real binary, invoked as Step Functions or S3 /
//! EventBridge invoke it, meets the failure AWS would give:
//!
//! - saga-compensator without `sagemaker:DeleteEndpointConfig`: the compensation of a
//!   failed deployment ends `Compensation.Incomplete`, its message naming the action and the
//!   role, and the endpoint config is still there; with the whole role the same compensation
//!   completes (so the role, not the test, is what fails).
//! - pipeline-trigger without `states:StartExecution`, invoked asynchronously: the start
//!   fails, Lambda retries it twice, and the event lands in the failures queue that
//!   template.yaml gives the function (DeadLetterConfig), with Lambda's RequestID /
//!   ErrorCode / ErrorMessage attributes. cargo lambda watch has no asynchronous invocation
//!   and moto's Lambda needs Docker, so the router plays it as AWS documents it (see
//!   router.py `_invoke_async`, which cites the documentation); the retry delays are
//!   shortened from AWS's one and two minutes.
//!
//! Needs the binaries built (`cargo build --workspace --bins`) and the venvs from
//! scripts/setup.sh (.venv-sam for the SAM translation).

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{
    ContainerDefinition, ProductionVariant, ProductionVariantInstanceType,
};
use serde_json::{json, Value};
use trainguard_tests::local_stack::LocalStack;
use trainguard_tests::workspace_root;

/// A model, its endpoint config and an endpoint on it, made by the harness (as the
/// pipeline's deployment stage would have made them).
async fn deployment(sm: &aws_sdk_sagemaker::Client, model: &str, config: &str, endpoint: &str) {
    sm.create_model()
        .model_name(model)
        .execution_role_arn("arn:aws:iam::123456789012:role/trainguard-hosting")
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/trainguard-serve:latest")
                .build(),
        )
        .send()
        .await
        .expect("model");
    sm.create_endpoint_config()
        .endpoint_config_name(config)
        .production_variants(
            ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name(model)
                .initial_instance_count(1)
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .build(),
        )
        .send()
        .await
        .expect("endpoint config");
    sm.create_endpoint()
        .endpoint_name(endpoint)
        .endpoint_config_name(config)
        .send()
        .await
        .expect("endpoint");
}

fn compensation(bucket: &str, exec: &str, model: &str, config: &str, endpoint: &str) -> Value {
    json!({
        "stage": "deployment", "execution_name": exec, "bucket": bucket,
        "resources": {"endpoint_name": endpoint, "endpoint_created": true,
                      "new_endpoint_config": config, "model_name": model}
    })
}

/// The messages in an SQS queue, read as the harness's admin user (boto3 on moto: the
/// test crate has no SQS client), with their message attributes.
fn receive(stack: &LocalStack, queue_url: &str) -> Vec<Value> {
    let admin = &stack.info["admin"];
    let script = r#"
import boto3, json, sys
c = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
r = c.receive_message(QueueUrl=sys.argv[4], MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1)
print(json.dumps(r.get("Messages", [])))
"#;
    let out = Command::new(workspace_root().join(".venv/bin/python"))
        .args(["-c", script])
        .arg(stack.info["moto_endpoint"].as_str().unwrap())
        .arg(admin["access_key_id"].as_str().unwrap())
        .arg(admin["secret_access_key"].as_str().unwrap())
        .arg(queue_url)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "receive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("messages JSON")
}

#[tokio::test]
async fn a_call_outside_the_role_fails_the_real_binary_with_the_action_named() {
    let stack = LocalStack::start("iam-enforced").await;
    assert_eq!(stack.info["iam_enforced"], true, "the stack enforces IAM");
    let conf = stack.admin_config().await;
    let sm = aws_sdk_sagemaker::Client::new(&conf);
    let bucket = stack.info["bucket"].as_str().unwrap().to_string();

    // 1. saga-compensator with its whole template role: the failed deployment is undone
    //    (ListEndpoints, DescribeEndpoint, DeleteEndpoint, DeleteEndpointConfig, DeleteModel).
    deployment(&sm, "tg-iam-a", "trainguard-iam-a", "trainguard-iam-a").await;
    let (ok, out) = stack
        .invoke(
            "saga-compensator",
            &compensation(
                &bucket,
                "iam-a",
                "tg-iam-a",
                "trainguard-iam-a",
                "trainguard-iam-a",
            ),
        )
        .await;
    assert!(ok, "with its whole role the compensation completes: {out}");
    let done: Vec<&str> = out["done"]
        .as_array()
        .unwrap_or_else(|| panic!("no done list: {out}"))
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert!(
        done.contains(&"endpoint-config.delete:trainguard-iam-a"),
        "{done:?}"
    );

    // 2. The same compensation once the role no longer grants DeleteEndpointConfig.
    stack.revoke("saga-compensator", "sagemaker:DeleteEndpointConfig");
    deployment(&sm, "tg-iam-b", "trainguard-iam-b", "trainguard-iam-b").await;
    let (ok, out) = stack
        .invoke(
            "saga-compensator",
            &compensation(
                &bucket,
                "iam-b",
                "tg-iam-b",
                "trainguard-iam-b",
                "trainguard-iam-b",
            ),
        )
        .await;
    assert!(!ok, "the compensation cannot complete: {out}");
    assert_eq!(out["errorType"], "Compensation.Incomplete", "{out}");
    let msg = out["errorMessage"].as_str().unwrap_or_default();
    assert!(
        msg.contains("not authorized to perform: sagemaker:DeleteEndpointConfig"),
        "the failure names the missing action: {msg}"
    );
    assert!(
        msg.contains("assumed-role/trainguard-saga-compensator"),
        "and the role that lacks it: {msg}"
    );
    assert!(
        sm.describe_endpoint_config()
            .endpoint_config_name("trainguard-iam-b")
            .send()
            .await
            .is_ok(),
        "the endpoint config it could not delete is still there"
    );
    assert!(
        sm.describe_endpoint()
            .endpoint_name("trainguard-iam-b")
            .send()
            .await
            .is_err(),
        "what the role still allows was done (the endpoint is gone)"
    );

    // 3. pipeline-trigger, invoked asynchronously as S3/EventBridge invoke it, cannot start
    //    the execution: after Lambda's retries the event is in the template's failures queue.
    stack.revoke("pipeline-trigger", "states:StartExecution");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let sample = std::fs::read(workspace_root().join("events/data/sample.csv")).unwrap();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("data/iam/sample.csv")
        .body(sample.clone().into())
        .send()
        .await
        .expect("put data");
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(
            workspace_root().join("events/pipeline-trigger/eventbridge-object-created.json"),
        )
        .unwrap(),
    )
    .unwrap();
    event["detail"]["bucket"]["name"] = json!(bucket);
    event["detail"]["object"]["key"] = json!("data/iam/sample.csv");
    event["detail"]["object"]["size"] = json!(sample.len());
    event["detail"]["object"]["etag"] = json!(put.e_tag().unwrap().trim_matches('"'));
    event["detail"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("version-id");
    let async_cfg = &stack.info["async"]["pipeline-trigger"];
    assert_eq!(
        async_cfg["dead_letter_queue_arn"], stack.info["trigger_dlq_arn"],
        "the DLQ is the one template.yaml names (DeadLetterConfig), resolved by stack.py"
    );
    assert_eq!(
        async_cfg["max_retry_attempts"], 2,
        "template.yaml EventInvokeConfig"
    );
    let queue = async_cfg["dead_letter_queue_url"].as_str().unwrap();
    assert!(receive(&stack, queue).is_empty(), "the queue starts empty");
    assert_eq!(
        stack.invoke_async("pipeline-trigger", &event).await,
        202,
        "Lambda accepts an asynchronous event at once"
    );
    let t0 = Instant::now();
    let messages = loop {
        let m = receive(&stack, queue);
        if !m.is_empty() {
            break m;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no message in the failures queue after 120 s; router log:\n{}",
            stack.router_log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(messages.len(), 1, "one event, one message: {messages:?}");
    let m = &messages[0];
    let body: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
    assert_eq!(body, event, "the DLQ gets the event itself");
    let attrs = &m["MessageAttributes"];
    assert_eq!(attrs["ErrorCode"]["DataType"], "Number");
    assert_eq!(attrs["ErrorCode"]["StringValue"], "200", "a function error");
    assert!(attrs["RequestID"]["StringValue"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let err = attrs["ErrorMessage"]["StringValue"].as_str().unwrap();
    assert!(
        err.contains("states:StartExecution"),
        "the error names the denied action: {err}"
    );
    assert!(err.len() <= 1024, "at most 1 KB");
    let log = stack.router_log();
    let attempts = log
        .lines()
        .filter(|l| l.contains("async pipeline-trigger") && l.contains("attempt"))
        .count();
    assert_eq!(attempts, 3, "one attempt and two retries:\n{log}");
}
