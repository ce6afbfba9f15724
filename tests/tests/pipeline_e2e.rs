//! The shipped state machine, end to end, on moto's ASL interpreter with the real
//! function binaries behind `cargo lambda watch` (see tests/e2e/ and docs/pipeline.md, "End to end, locally").
//!
//! One local stack (tests/e2e/stack.py) serves every scenario; each scenario is its own
//! execution with its own data prefix, endpoint name and SageMaker-stub behaviour, and
//! asserts the path of states taken (execution history) and its side effects in moto.
//! The scenarios run concurrently; a failure in one is reported with the others.
//!
//! Needs the binaries built (`cargo build --workspace --bins`, as scripts/test.sh does)
//! and the venv from scripts/setup.sh.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trainguard_tests::{coverage, http_client, json_shape, output_dir, workspace_root};

// Scenarios in files of their own (tests/tests/pipeline_e2e/).
#[path = "pipeline_e2e/evaluation_gate.rs"]
mod evaluation_gate;
#[path = "pipeline_e2e/mixed_sweep.rs"]
mod mixed_sweep;
#[path = "pipeline_e2e/scale_out.rs"]
mod scale_out;

/// The stack supervisor; it stops everything it started when its stdin closes.
struct Stack {
    child: Option<Child>,
    info: Value,
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    sm: aws_sdk_sagemaker::Client,
    router: String,
    sample: Vec<u8>,
    /// Where this run's Distributed Map children are recorded (see [`MAP_RUN_CHILDREN`]).
    children: PathBuf,
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take()); // EOF: the supervisor stops moto, the router and cargo lambda watch
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Stack {
    async fn start() -> Stack {
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} missing: run scripts/setup.sh",
            python.display()
        );
        for bin in [
            "schema-validator",
            "drift-detector",
            "batch-size-adjuster",
            "saga-compensator",
            "approval-handler",
            "pipeline-trigger",
        ] {
            let p = trainguard_tests::binary_path(bin);
            assert!(
                p.exists(),
                "{} missing: cargo build --workspace --bins first",
                p.display()
            );
        }
        let dir = output_dir("pipeline-e2e");
        let out: PathBuf = dir.join("stack.json");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(dir.join("stack.json.error"));
        // moto keeps no history of Distributed Map children; tests/e2e/moto_children
        // (a sitecustomize, active in the moto server only) writes one per child here,
        // a file of this run's own: the output directory is shared by every checkout
        // using the same target directory.
        let children = dir.join(format!("{MAP_RUN_CHILDREN}.{}", std::process::id()));
        let _ = std::fs::remove_file(&children);
        let python_path = std::env::join_paths(
            std::iter::once(root.join("tests/e2e/moto_children")).chain(
                std::env::var_os("PYTHONPATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ),
        )
        .unwrap();
        let child = Command::new(&python)
            .arg(root.join("tests/e2e/stack.py"))
            .args(["--out", out.to_str().unwrap()])
            .args(["--log-dir", dir.join("logs").to_str().unwrap()])
            .env("PYTHONPATH", python_path)
            .env("TRAINGUARD_E2E_MAP_RUN_CHILDREN", &children)
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/e2e/stack.py");
        let mut stack = Stack {
            child: Some(child),
            info: Value::Null,
            s3: dummy_s3(),
            sfn: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::Config::builder()
                    .behavior_version_latest()
                    .build(),
            ),
            sm: aws_sdk_sagemaker::Client::from_conf(
                aws_sdk_sagemaker::Config::builder()
                    .behavior_version_latest()
                    .build(),
            ),
            router: String::new(),
            sample: std::fs::read(root.join("events/data/sample.csv"))
                .expect("events/data/sample.csv"),
            children,
        };
        let t0 = Instant::now();
        while !out.exists() {
            let exited = stack.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "stack.py exited: {exited:?}; logs in {}",
                dir.join("logs").display()
            );
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "stack did not start in 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stack.info = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let endpoint = stack.info["moto_endpoint"].as_str().unwrap().to_string();
        // The harness's own IAM user (stack.py): moto enforces IAM, and no function uses it.
        let admin = &stack.info["admin"];
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                admin["access_key_id"].as_str().unwrap(),
                admin["secret_access_key"].as_str().unwrap(),
                None,
                None,
                "e2e-harness",
            ))
            .load()
            .await;
        stack.s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        stack.sfn = aws_sdk_sfn::Client::new(&conf);
        stack.sm = aws_sdk_sagemaker::Client::new(&conf);
        stack.router = stack.info["router_endpoint"].as_str().unwrap().to_string();
        stack
    }

    fn bucket(&self) -> &str {
        self.info["bucket"].as_str().unwrap()
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(self.bucket())
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put");
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            keys.extend(
                p.expect("list")
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys
    }

    /// Invoke a function the way Step Functions does (through the router, AWS's Invoke API).
    async fn invoke(&self, function: &str, payload: &Value) -> (bool, Value) {
        let reply = http_client::post_json(
            &self.router,
            &format!("/2015-03-31/functions/{function}/invocations"),
            &payload.to_string(),
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "invoke {function}: {}", reply.body);
        let failed = reply.header("x-amz-function-error").is_some();
        (
            !failed,
            serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body)),
        )
    }

    async fn faults(&self, body: Value) {
        let reply =
            http_client::post_json(&self.router, "/_e2e/faults", &body.to_string(), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.info["state_machine_arn"].as_str().unwrap().replacen(
                ":stateMachine:",
                ":execution:",
                1
            )
        )
    }

    /// Upload `data` as `data/<name>/sample.csv` and start an execution named `name` on
    /// that prefix, with a stub behaviour (written first: the stub reads it by execution
    /// name). The start goes through the real pipeline-trigger's manual-start route
    /// (`POST /iam/runs`, as API Gateway's IAM authorizer delivers it), so every run has
    /// the start record the approval gate reads its starter from.
    async fn start_execution(
        &self,
        name: &str,
        data: Vec<u8>,
        parameters: Value,
        behaviour: Value,
    ) -> String {
        self.start_execution_as(STARTER, name, data, parameters, behaviour)
            .await
    }

    /// [`Self::start_execution`] with the data prefix holding `objects` (file name,
    /// body), none at all for an empty prefix.
    async fn start_with_objects(
        &self,
        name: &str,
        objects: Vec<(String, Vec<u8>)>,
        parameters: Value,
        behaviour: Value,
    ) -> String {
        self.start_objects_as(STARTER, name, objects, parameters, behaviour)
            .await
    }

    /// [`Self::start_execution`] signed by `starter`.
    async fn start_execution_as(
        &self,
        starter: &str,
        name: &str,
        data: Vec<u8>,
        parameters: Value,
        behaviour: Value,
    ) -> String {
        self.start_objects_as(
            starter,
            name,
            vec![("sample.csv".into(), data)],
            parameters,
            behaviour,
        )
        .await
    }

    async fn start_objects_as(
        &self,
        starter: &str,
        name: &str,
        objects: Vec<(String, Vec<u8>)>,
        parameters: Value,
        behaviour: Value,
    ) -> String {
        let data_prefix = &data_prefix(name);
        for (file, body) in objects {
            self.put(&format!("{data_prefix}{file}"), body).await;
        }
        self.put(
            &format!("_e2e/{name}.json"),
            behaviour.to_string().into_bytes(),
        )
        .await;
        let body = json!({"name": name, "data": {"prefix": data_prefix}, "parameters": parameters});
        let event = json!({
            "version": "2.0", "routeKey": "POST /iam/runs", "rawPath": "/iam/runs", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "local", "domainName": "approvals.local.test",
                "authorizer": {"iam": {"accessKey": "AKIDSTARTER", "accountId": "123456789012", "callerId": "AIDASTARTER",
                                        "userArn": starter, "userId": "AIDASTARTER"}},
                "http": {"method": "POST", "path": "/iam/runs", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "e2e"},
                "requestId": format!("start-{name}"), "routeKey": "POST /iam/runs", "stage": "$default",
                "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 1795305600000u64
            },
            "body": body.to_string(),
            "isBase64Encoded": false
        });
        let (ok, out) = self.invoke("pipeline-trigger", &event).await;
        assert!(ok, "pipeline-trigger failed: {out}");
        assert_eq!(out["statusCode"], 202, "manual start refused: {out}");
        let reply: Value = serde_json::from_str(out["body"].as_str().unwrap_or("{}")).unwrap();
        assert_eq!(reply["started_by"], starter, "{reply}");
        reply["execution_arn"]
            .as_str()
            .unwrap_or_else(|| panic!("no execution_arn in {reply}"))
            .to_string()
    }

    async fn status(&self, arn: &str) -> (ExecutionStatus, Option<String>, Option<String>) {
        let d = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe execution");
        (
            d.status().clone(),
            d.error().map(str::to_string),
            d.cause().map(str::to_string),
        )
    }

    async fn wait_done(&self, arn: &str) -> (ExecutionStatus, Option<String>, Option<String>) {
        let t0 = Instant::now();
        loop {
            let s = self.status(arn).await;
            if s.0 != ExecutionStatus::Running {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "{arn} still running after 10 minutes: {:?}",
                self.path(arn).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn history(&self, arn: &str) -> Vec<HistoryEvent> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .expect("history");
            out.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return out;
            }
        }
    }

    /// The states entered, in order.
    async fn path(&self, arn: &str) -> Vec<String> {
        self.history(arn)
            .await
            .iter()
            .filter_map(|e| {
                e.state_entered_event_details()
                    .map(|d| d.name().to_string())
            })
            .collect()
    }

    /// The children of this execution's Distributed Maps (moto runs them inside the
    /// parent; tests/e2e/moto_children records a history per child), by Map state and
    /// item index.
    async fn children(&self, arn: &str) -> Vec<MapChild> {
        let runs = map_runs(&self.history(arn).await);
        let mut out: Vec<MapChild> = read_children(&self.children)
            .into_iter()
            .filter_map(|line| {
                let (state, _) = runs.iter().find(|(_, a)| *a == line.map_run_arn)?;
                Some(MapChild {
                    map_state: state.clone(),
                    ..line
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.map_state, a.index).cmp(&(&b.map_state, b.index)));
        out
    }

    /// The children of one Map state of this execution.
    async fn children_of(&self, arn: &str, map_state: &str) -> Vec<MapChild> {
        self.children(arn)
            .await
            .into_iter()
            .filter(|c| c.map_state == map_state)
            .collect()
    }

    /// Wait for `arn` to fail with `error` (the pipeline's name for the stage), a cause
    /// naming every one of `cause_has`, through `states` in order; its path.
    async fn expect_failure(
        &self,
        arn: &str,
        name: &str,
        error: &str,
        cause_has: &[&str],
        states: &[&str],
    ) -> Vec<String> {
        let (status, got, cause) = self.wait_done(arn).await;
        let path = self.path(arn).await;
        assert_eq!(status, ExecutionStatus::Failed, "{name}: {path:?}");
        assert_eq!(got.as_deref(), Some(error), "{name}: {cause:?}");
        let cause = cause.unwrap_or_default();
        for want in cause_has {
            assert!(
                cause.contains(want),
                "{name}: {want} not in the cause {cause}"
            );
        }
        assert_subsequence(&path, states, name);
        path
    }

    /// Wait for the execution's pending approval; its id.
    async fn approval_id(&self, name: &str, arn: &str) -> String {
        let t0 = Instant::now();
        loop {
            for key in self.keys("approvals/").await {
                // An open marker (approvals/pending/<id>) goes when its approval is
                // decided, maybe between the listing and the read: not a record anyway.
                let Ok(obj) = self
                    .s3
                    .get_object()
                    .bucket(self.bucket())
                    .key(&key)
                    .send()
                    .await
                else {
                    continue;
                };
                let body = obj.body.collect().await.unwrap();
                let rec: Value = serde_json::from_slice(&body.into_bytes()).unwrap_or(Value::Null);
                if rec["execution_name"] == name {
                    return rec["approval_id"]
                        .as_str()
                        .expect("approval_id")
                        .to_string();
                }
            }
            let (status, error, cause) = self.status(arn).await;
            assert_eq!(
                status,
                ExecutionStatus::Running,
                "{name} ended before its approval: {error:?} {cause:?} {:?}",
                self.path(arn).await
            );
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "no approval for {name}: {:?}",
                self.path(arn).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Decide through the real approval-handler, as an IAM-authorized reviewer; the
    /// decision must go through.
    async fn decide(&self, approval_id: &str, decision: &str) -> Value {
        let out = self.decide_raw(approval_id, decision).await;
        assert!(
            out["statusCode"].as_u64().is_some_and(|s| s < 300),
            "decision refused: {out}"
        );
        out
    }

    /// The approval-handler's HTTP reply to a decision by [`REVIEWER`], whatever it is.
    async fn decide_raw(&self, approval_id: &str, decision: &str) -> Value {
        let path = format!("/iam/approvals/{approval_id}/decision");
        let event = json!({
            "version": "2.0", "routeKey": "POST /iam/approvals/{id}/decision", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "local", "domainName": "approvals.local.test", "domainPrefix": "approvals",
                "authorizer": {"iam": {"accessKey": "AKIDEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
                                        "userArn": REVIEWER, "userId": "AIDAEXAMPLE"}},
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "e2e"},
                "requestId": "e2e", "routeKey": "POST /iam/approvals/{id}/decision", "stage": "$default",
                "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 1795305600000u64
            },
            "pathParameters": {"id": approval_id},
            "body": json!({"decision": decision, "comment": format!("e2e {decision}")}).to_string(),
            "isBase64Encoded": false
        });
        let (ok, out) = self.invoke("approval-handler", &event).await;
        assert!(ok, "approval-handler failed: {out}");
        out
    }

    /// The sample CSV with one column rewritten by `f(value, row)`.
    fn sample_with(&self, column: &str, f: impl Fn(&str, usize) -> String) -> Vec<u8> {
        rewrite_column(&self.sample, column, f)
    }
}

/// A CSV with one column rewritten by `f(value, row)`.
fn rewrite_column(csv: &[u8], column: &str, f: impl Fn(&str, usize) -> String) -> Vec<u8> {
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let idx = header
        .split(',')
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let mut out = format!("{header}\n");
    for (i, l) in lines.enumerate() {
        let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
        cells[idx] = f(&cells[idx], i);
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// Where a scenario's input data lives.
fn data_prefix(name: &str) -> String {
    format!("data/{name}/")
}

const REVIEWER: &str = "arn:aws:iam::123456789012:user/bob";
/// Who starts the scenarios' runs (through the manual-start route): not a reviewer.
const STARTER: &str = "arn:aws:iam::123456789012:user/carol";

fn dummy_s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .build(),
    )
}

fn assert_subsequence(path: &[String], expected: &[&str], what: &str) {
    let mut it = path.iter();
    for want in expected {
        assert!(
            it.any(|p| p == want),
            "{what}: expected {want} (in order {expected:?}) in the path {path:?}"
        );
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn endpoint_config(stack: &Stack, endpoint: &str) -> Option<(String, String)> {
    let d = stack
        .sm
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
        .ok()?;
    Some((
        d.endpoint_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        d.endpoint_config_name().unwrap_or_default().to_string(),
    ))
}

/// The model package this execution registered: its ARN (from the CreateModelPackage
/// result) and the CustomerMetadataProperties it was registered with (from the call's
/// parameters in the history). The metadata is read from the call, not from
/// DescribeModelPackage: moto 5.2.5's UpdateModelPackage drops every property when the
/// update does not name any, which AWS does not do, and the approval updates the package.
async fn registered_package(stack: &Stack, arn: &str) -> Option<(String, Value)> {
    let history = stack.history(arn).await;
    let params = history.iter().find_map(|e| {
        e.task_scheduled_event_details()
            .filter(|d| d.resource() == "createModelPackage")
            .map(|d| serde_json::from_str::<Value>(d.parameters()).unwrap_or(Value::Null))
    })?;
    let out = history.iter().find_map(|e| {
        e.task_succeeded_event_details()
            .filter(|d| d.resource() == "createModelPackage")
            .and_then(|d| d.output())
            .map(|o| serde_json::from_str::<Value>(o).unwrap_or(Value::Null))
    })?;
    Some((
        out["ModelPackageArn"].as_str()?.to_string(),
        params["CustomerMetadataProperties"].clone(),
    ))
}

/// The actions the saga-compensator listed under `list` (`done`, `skipped`) in its
/// successful reply(ies) for this execution.
async fn compensator_actions(stack: &Stack, arn: &str, list: &str) -> Vec<String> {
    let history = stack.history(arn).await;
    let mut out = Vec::new();
    for e in &history {
        let Some(d) = e.task_succeeded_event_details() else {
            continue;
        };
        let v: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap_or(Value::Null);
        let payload = &v["Payload"];
        if payload.get("remaining").is_none() {
            continue;
        }
        for a in payload[list].as_array().into_iter().flatten() {
            out.extend(a["action"].as_str().map(str::to_string));
        }
    }
    out
}

/// The SageMaker Model this execution's `CreateModel` made (`tg-<run_id>`, from the
/// call's parameters in the history), if it got that far.
async fn execution_model(stack: &Stack, arn: &str) -> Option<String> {
    stack.history(arn).await.iter().find_map(|e| {
        e.task_scheduled_event_details()
            .filter(|d| d.resource() == "createModel")
            .and_then(|d| serde_json::from_str::<Value>(d.parameters()).ok())
            .and_then(|p| p["ModelName"].as_str().map(str::to_string))
    })
}

/// Whether DescribeModel finds `name` (moto implements DescribeModel/DeleteModel).
async fn model_exists(stack: &Stack, name: &str) -> bool {
    stack
        .sm
        .describe_model()
        .model_name(name)
        .send()
        .await
        .is_ok()
}

/// A failed deployment's model is gone, the compensator deleted it (or found it
/// gone), and the blue endpoint's model, which is not this execution's, is kept; the
/// run's `features/` prefix is empty and was on the compensator's list (issue 16).
async fn assert_model_compensated(stack: &Stack, arn: &str, endpoint: Option<&str>) {
    let model = execution_model(stack, arn).await.expect("CreateModel ran");
    assert!(model.starts_with("tg-"), "{model}");
    assert!(!model_exists(stack, &model).await, "{model} left behind");
    let mut acted = compensator_actions(stack, arn, "done").await;
    acted.extend(compensator_actions(stack, arn, "skipped").await);
    assert!(
        acted.contains(&format!("model.delete:{model}")),
        "{acted:?}"
    );
    if let Some(endpoint) = endpoint {
        assert!(model_exists(stack, &format!("{endpoint}-blue-model")).await);
    }
    let name = arn.rsplit(':').next().unwrap_or_default();
    let features = format!("pipeline/{name}/features/");
    assert!(
        acted.contains(&format!("s3.delete:{features}")),
        "{acted:?}"
    );
    assert!(stack.keys(&features).await.is_empty());
}

async fn approval_status(stack: &Stack, package_arn: &str) -> String {
    stack
        .sm
        .describe_model_package()
        .model_package_name(package_arn)
        .send()
        .await
        .expect("model package in moto")
        .model_approval_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn endpoint_params(name: &str) -> Value {
    json!({"name": name, "instance_type": "ml.m5.large", "instance_count": 1, "max_polls": 20})
}

/// Where tests/e2e/moto_children writes the Distributed Map children's histories, under
/// the e2e output directory (`.<pid>` while the run lasts; the latest run's stays under
/// this name, next to `coverage.json`).
const MAP_RUN_CHILDREN: &str = "map-run-children.jsonl";

/// One Distributed Map child (one item of a map run), as tests/e2e/moto_children
/// recorded it: on AWS, a child execution with its own history.
#[derive(Debug, Clone)]
struct MapChild {
    /// The Map state that ran it (from the parent's `MapRunStarted`).
    map_state: String,
    map_run_arn: String,
    index: u64,
    /// `SUCCEEDED`, `FAILED` or `ABORTED`.
    status: String,
    error: Option<String>,
    /// `GetExecutionHistory` events, wire JSON.
    events: Vec<Value>,
}

impl MapChild {
    /// The states it entered, in order.
    fn path(&self) -> Vec<String> {
        coverage::entered(&self.child_events())
    }

    fn child_events(&self) -> Vec<coverage::Event> {
        self.events.iter().map(coverage::Event::from_json).collect()
    }

    /// The CreateTrainingJob requests its `Train` task made (the stub is a Lambda in the
    /// test copy: its scheduled input), in order.
    fn training_requests(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "LambdaFunctionScheduled")
            .filter_map(|e| e["lambdaFunctionScheduledEventDetails"]["input"].as_str())
            .filter_map(|i| serde_json::from_str::<Value>(i).ok())
            .filter(|r| r.get("TrainingJobName").is_some())
            .collect()
    }

    /// The `Payload` of every successful run of a Lambda task state, in order.
    fn task_payloads(&self, state: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut inside = false;
        for e in &self.events {
            let kind = e["type"].as_str().unwrap_or_default();
            if kind.ends_with("StateEntered") {
                inside = e["stateEnteredEventDetails"]["name"] == state;
            } else if inside && kind == "TaskSucceeded" {
                let out_json = e["taskSucceededEventDetails"]["output"]
                    .as_str()
                    .and_then(|o| serde_json::from_str::<Value>(o).ok())
                    .unwrap_or(Value::Null);
                out.push(out_json["Payload"].clone());
            }
        }
        out
    }
}

/// Every child recorded so far in `path` (all executions).
fn read_children(path: &Path) -> Vec<MapChild> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line without its newline is still being written (another map run).
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n') && !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad line {l:.200}: {e}", path.display()));
            MapChild {
                map_state: String::new(),
                map_run_arn: v["map_run_arn"].as_str().unwrap_or_default().to_string(),
                index: v["index"].as_u64().unwrap_or_default(),
                status: v["status"].as_str().unwrap_or_default().to_string(),
                error: v["error"].as_str().map(str::to_string),
                events: v["events"].as_array().cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// The map runs of an execution: (Map state, map run ARN), from `MapRunStarted`, which
/// follows its Map state's `MapStateEntered`.
fn map_runs(history: &[HistoryEvent]) -> Vec<(String, String)> {
    let mut state = String::new();
    let mut out = Vec::new();
    for e in history {
        if let Some(d) = e.state_entered_event_details() {
            state = d.name().to_string();
        }
        if let Some(d) = e.map_run_started_event_details() {
            if let Some(arn) = d.map_run_arn() {
                out.push((state.clone(), arn.to_string()));
            }
        }
    }
    out
}

/// The `Payload` of the first successful run of a Lambda task state of an execution.
fn task_payload(history: &[HistoryEvent], state: &str) -> Value {
    let mut inside = false;
    for e in history {
        if let Some(d) = e.state_entered_event_details() {
            inside = d.name() == state;
        } else if inside {
            if let Some(d) = e.task_succeeded_event_details() {
                let out: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap();
                return out["Payload"].clone();
            }
        }
    }
    panic!("no successful {state} in the history")
}

/// What a Lambda task scheduled: its `Payload` parameter, for the first run of `state`.
fn task_request(history: &[HistoryEvent], state: &str) -> Value {
    let mut inside = false;
    for e in history {
        if let Some(d) = e.state_entered_event_details() {
            inside = d.name() == state;
        } else if inside {
            if let Some(d) = e.task_scheduled_event_details() {
                let p: Value = serde_json::from_str(d.parameters()).unwrap();
                return p["Payload"].clone();
            }
        }
    }
    panic!("no {state} task scheduled in the history")
}

/// An SNS publish of the alert topic succeeded after `state` was entered.
fn published_after(history: &[HistoryEvent], state: &str) -> bool {
    let mut after = false;
    history.iter().any(|e| {
        if e.state_entered_event_details()
            .is_some_and(|d| d.name() == state)
        {
            after = true;
        }
        after
            && e.task_succeeded_event_details().is_some_and(|d| {
                d.resource_type() == "sns" && d.output().unwrap_or("").contains("MessageId")
            })
    })
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

fn hyperparameter(request: &Value, name: &str) -> String {
    request["HyperParameters"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no hyperparameter {name} in {request}"))
        .to_string()
}

// ------------------------------------------------------------------ scenarios

async fn happy_path(stack: Arc<Stack>) {
    let name = "e2e-happy";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-happy")}),
            json!({"evaluation": {"value": 0.95}}),
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
        &[
            "ValidateSchema",
            "DataQualityGate",
            "FingerprintData",
            "DriftCheck",
            "DriftGate",
            "TrainingSweep",
            "SelectBest",
            "Evaluate",
            "ReadEvaluation",
            "EvaluationGate",
            "MarkAutoPromote",
            "RegisterModel",
            "AutoApprove",
            "CreateModel",
            "CreateEndpointConfig",
            "FindCurrentEndpoint",
            "CreateEndpoint",
            "WaitForEndpoint",
            "DescribeEndpoint",
            "SmokeTest",
            "CleanupCheckpoints",
            "Deployed",
        ],
        name,
    );
    assert!(
        !path
            .iter()
            .any(|p| p == "ApprovalGate" || p.starts_with("Compensate")),
        "{path:?}"
    );
    // Deployed: the endpoint is InService on this run's configuration.
    let (st, cfg) = endpoint_config(&stack, "scn-happy")
        .await
        .expect("endpoint exists");
    assert_eq!(st, "InService");
    assert!(cfg.starts_with("scn-happy-"), "{cfg}");
    // Registered with lineage, then approved.
    let (package, meta) = registered_package(&stack, &arn)
        .await
        .unwrap_or_else(|| panic!("no model package registered by {arn}"));
    assert_eq!(meta["trainguard:execution_arn"], json!(arn));
    assert_eq!(
        meta["trainguard:training_data_sha256"],
        // A prefix is fingerprinted as the SHA-256 of its manifest, one line per object.
        json!(sha256_hex(
            format!(
                "{}  {}sample.csv  {}\n",
                sha256_hex(&stack.sample),
                data_prefix(name),
                stack.sample.len()
            )
            .as_bytes()
        )),
        "lineage: the data's SHA-256"
    );
    assert_eq!(meta["trainguard:code_commit"], "local-e2e");
    assert_eq!(meta["trainguard:objective_value"], "0.95");
    // No Approved model for this endpoint yet: the first-model rule (the absolute
    // thresholds: 0.95 clears promote 0.90) decided, and the package is this endpoint's
    // baseline from now on.
    assert_eq!(meta["trainguard:endpoint"], "scn-happy");
    assert_eq!(meta["trainguard:evaluation_band"], "first_model");
    assert_eq!(approval_status(&stack, &package).await, "Approved");
    // Reports written; checkpoints gone after success.
    let keys = stack.keys(&format!("pipeline/{name}/")).await;
    for want in [
        "reports/schema.json",
        "reports/drift/drift.json",
        "reports/data-manifest.json",
        "evaluation/evaluation.json",
    ] {
        assert!(
            keys.iter().any(|k| k.ends_with(want)),
            "no {want} in {keys:?}"
        );
    }
    assert!(
        stack
            .keys(&format!("pipeline/{name}/checkpoints/"))
            .await
            .is_empty(),
        "checkpoints left after success"
    );
}

async fn bad_data_halts(stack: Arc<Stack>) {
    let name = "e2e-bad-data";
    let data = stack.sample_with("age", |v, i| {
        if i % 3 == 0 {
            "-7".into()
        } else {
            v.to_string()
        }
    });
    let arn = stack
        .start_execution(name, data, json!({}), json!({}))
        .await;
    let (status, error, _) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(error.as_deref(), Some("DataQuality.Failed"));
    assert_subsequence(
        &path,
        &[
            "ValidateSchema",
            "DataQualityGate",
            "DataQualityFailedError",
            "AlertDataQuality",
            "DataQualityFailed",
        ],
        name,
    );
    assert!(
        !path.iter().any(|p| p == "TrainingSweep"),
        "nothing expensive may run: {path:?}"
    );
    // The alert went out (SNS accepted it: the task succeeded with a MessageId).
    let history = stack.history(&arn).await;
    let published = history.iter().any(|e| {
        e.task_succeeded_event_details().is_some_and(|d| {
            d.resource_type() == "sns" && d.output().unwrap_or("").contains("MessageId")
        })
    });
    assert!(published, "no alert published");
    assert!(stack
        .keys(&format!("pipeline/{name}/model/"))
        .await
        .is_empty());
}

async fn drift_forces_review(stack: Arc<Stack>) {
    let name = "e2e-drift";
    // Still valid data, but charges tripled: a distribution shift the schema allows.
    let data = stack.sample_with("monthly_charges", |v, _| {
        format!("{:.2}", v.parse::<f64>().unwrap_or(0.0) * 3.0 + 100.0)
    });
    let arn = stack
        .start_execution(
            name,
            data,
            // One feature of thirteen shifts, under the default share threshold (0.5):
            // it drifts the dataset because the pipeline marks it critical.
            json!({"endpoint": endpoint_params("scn-drift"), "drift": {"critical": ["monthly_charges"]}}),
            json!({"evaluation": {"value": 0.95}}),
        )
        .await;
    let id = stack.approval_id(name, &arn).await;
    let path = stack.path(&arn).await;
    assert_subsequence(
        &path,
        &[
            "DriftCheck",
            "DriftGate",
            "FlagForReview",
            "TrainingSweep",
            "EvaluationGate",
            "MarkHumanReview",
            "RegisterModel",
            "ApprovalGate",
        ],
        name,
    );
    assert!(
        !path.iter().any(|p| p == "MarkAutoPromote"),
        "an objective above the promote threshold must not skip review under drift"
    );
    // The approval page is built on what the shipped ASL really sends: the stored
    // approval's `metrics` and `drift` keep the shape of the fixture the browser test
    // renders. TRAINGUARD_UPDATE_FIXTURES=1 rewrites the fixture from this run: the
    // ApprovalGate's payload as scheduled, with a placeholder for the task token.
    let fixture = workspace_root().join("tests/fixtures/approval/shipped-request.json");
    if json_shape::updating_fixtures() {
        let mut sent = stack
            .history(&arn)
            .await
            .iter()
            .filter_map(|e| e.task_scheduled_event_details())
            .filter_map(|d| serde_json::from_str::<Value>(d.parameters()).ok())
            .map(|p| p["Payload"].clone())
            .find(|p| p.get("task_token").is_some())
            .expect("no TaskScheduled event carries the ApprovalGate's payload");
        sent["task_token"] = json!("<task-token>");
        json_shape::write_fixture(&fixture, &sent);
    }
    let record = stack
        .s3
        .get_object()
        .bucket(stack.bucket())
        .key(format!("approvals/{id}.json"))
        .send()
        .await
        .expect("the approval record");
    let record: Value =
        serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    let want = json_shape::read_fixture(&fixture);
    let parts = |v: &Value| json!({"metrics": v["metrics"], "drift": v["drift"]});
    json_shape::assert_same_shape(
        &format!("{name}: approvals/{id}.json against {}", fixture.display()),
        &parts(&want),
        &parts(&record),
    );
    stack.decide(&id, "approve").await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {:?}",
        stack.path(&arn).await
    );
    assert_eq!(
        endpoint_config(&stack, "scn-drift")
            .await
            .map(|x| x.0)
            .as_deref(),
        Some("InService")
    );
}

async fn oom_twice_then_success(stack: Arc<Stack>) {
    let name = "e2e-oom-recovers";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-oom")}),
            json!({"training": {"oom_above_batch_size": 64}, "evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {:?}",
        stack.path(&arn).await
    );
    // Three attempts: two OOM (partial artifacts), one model; batch 256 -> 128 -> 64.
    let keys = stack.keys(&format!("pipeline/{name}/model/")).await;
    let jobs: Vec<String> = keys
        .iter()
        .filter_map(|k| k.split('/').nth(3).map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(jobs.len(), 3, "{keys:?}");
    let mut batches = Vec::new();
    for job in &jobs {
        let d = stack
            .sm
            .describe_training_job()
            .training_job_name(job)
            .send()
            .await
            .expect("job in moto");
        let hp = d.hyper_parameters().cloned().unwrap_or_default();
        batches.push(
            hp.get("batch_size")
                .and_then(|b| b.parse::<u64>().ok())
                .unwrap_or(0),
        );
    }
    batches.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(batches, vec![256, 128, 64], "batch halved twice");
    assert_eq!(
        keys.iter().filter(|k| k.ends_with("partial.bin")).count(),
        2,
        "two OOM attempts"
    );
    assert_eq!(
        keys.iter().filter(|k| k.ends_with("model.tar.gz")).count(),
        1
    );
}

async fn oom_until_ladder_runs_out(stack: Arc<Stack>) {
    let name = "e2e-oom-exhausted";
    let training = json!({"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainguard-train:latest", "instance_type": "ml.g5.xlarge",
                          "instance_count": 1, "volume_size_gb": 50, "spot": true, "max_runtime_seconds": 3600, "max_wait_seconds": 7200,
                          "metric_definitions": [{"Name": "validation:accuracy", "Regex": "acc: ([0-9.]+)"}]});
    let policy = json!({"min_batch_size": 64, "instance_ladder": [{"instance_type": "ml.g5.xlarge", "gpus": 1, "gpu_memory_gib": 24.0}]});
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"training": training, "recovery_policy": policy}),
            json!({"training": {"oom_above_batch_size": 0}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(
        error.as_deref(),
        Some("Pipeline.TrainingFailed"),
        "{cause:?}"
    );
    assert_subsequence(
        &path,
        &[
            "TrainingSweep",
            "CompensateTraining",
            "Compensate",
            "NotifyFailure",
            "PipelineFailed",
        ],
        name,
    );
    // The compensator removed the run's checkpoints and artifacts (and nothing else).
    for sub in ["checkpoints/", "model/"] {
        let left = stack.keys(&format!("pipeline/{name}/{sub}")).await;
        assert!(left.is_empty(), "compensation left {left:?}");
    }
    assert!(
        !stack.keys(&data_prefix(name)).await.is_empty(),
        "input data untouched"
    );
    let done = compensator_actions(&stack, &arn, "done").await;
    for sub in ["checkpoints/", "model/"] {
        let action = format!("s3.delete:pipeline/{name}/{sub}");
        assert!(done.contains(&action), "{action} not in {done:?}");
    }
}

async fn reviewer_rejects(stack: Arc<Stack>) {
    let name = "e2e-rejected";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-reject")}),
            json!({"evaluation": {"value": 0.85}}),
        )
        .await;
    let id = stack.approval_id(name, &arn).await;
    stack.decide(&id, "reject").await;
    let path = stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &["Approval.Rejected"],
            &[
                "MarkHumanReview",
                "RegisterModel",
                "ApprovalGate",
                "CompensateEvaluation",
                "Compensate",
                "PipelineFailed",
            ],
        )
        .await;
    assert!(!path.iter().any(|p| p == "CreateModel"), "nothing deployed");
    // The model package of this run is Rejected.
    let (package, _) = registered_package(&stack, &arn)
        .await
        .unwrap_or_else(|| panic!("no model package registered by {arn}"));
    assert_eq!(approval_status(&stack, &package).await, "Rejected");
    assert_eq!(endpoint_config(&stack, "scn-reject").await, None);
}

/// The container images, thresholds and approvers are the deployment's: an execution
/// input asking for auto-promotion (thresholds 0) and another evaluation image still gets
/// a person and the deployed image, and that person may not be the one who started it.
async fn input_cannot_lower_the_bar_or_self_approve(stack: Arc<Stack>) {
    let name = "e2e-policy";
    let arn = stack
        .start_execution_as(
            REVIEWER,
            name,
            stack.sample.clone(),
            json!({
                "endpoint": endpoint_params("scn-policy"),
                "thresholds": {"promote": 0.0, "review": 0.0},
                "evaluation": {"image": "attacker.example/evil:latest", "instance_type": "ml.m5.xlarge", "max_runtime_seconds": 3600},
            }),
            json!({"evaluation": {"value": 0.85}}),
        )
        .await;
    let id = stack.approval_id(name, &arn).await;
    let path = stack.path(&arn).await;
    assert_subsequence(
        &path,
        &[
            "ReadEvaluation",
            "EvaluationGate",
            "MarkHumanReview",
            "ApprovalGate",
        ],
        name,
    );
    assert!(!path.iter().any(|p| p == "MarkAutoPromote"), "{path:?}");
    // The evaluation job ran the deployment's image, not the input's.
    let scheduled: Vec<String> = stack
        .history(&arn)
        .await
        .iter()
        .filter_map(|e| {
            e.task_scheduled_event_details()
                .map(|d| d.parameters().to_string())
                .or_else(|| {
                    e.lambda_function_scheduled_event_details()
                        .and_then(|d| d.input().map(str::to_string))
                })
        })
        // The job requests (they name an image); the approval request carries the whole
        // execution input for the start-record check, so it is not one of them.
        .filter(|p| {
            ["\"ImageUri\"", "\"TrainingImage\"", "\"Image\""]
                .iter()
                .any(|k| p.contains(k))
                && !p.contains("execution_input")
        })
        .collect();
    assert!(
        scheduled
            .iter()
            .any(|p| p.contains("trainguard-process:latest")),
        "no job ran the deployment's processing image"
    );
    if let Some(p) = scheduled.iter().find(|p| p.contains("attacker.example")) {
        panic!("a task was given the execution input's image: {p}");
    }
    // Bob started it (signed), so Bob may not approve it, though he is a reviewer.
    let out = stack.decide_raw(&id, "approve").await;
    assert_eq!(out["statusCode"], 403, "{out}");
    assert!(
        out["body"].as_str().unwrap().contains("self_approval"),
        "{out}"
    );
    assert_eq!(stack.status(&arn).await.0, ExecutionStatus::Running);
    stack
        .sfn
        .stop_execution()
        .execution_arn(&arn)
        .cause("e2e: nobody else may approve")
        .send()
        .await
        .expect("stop");
    let (package, _) = registered_package(&stack, &arn)
        .await
        .unwrap_or_else(|| panic!("no model package registered by {arn}"));
    assert_ne!(approval_status(&stack, &package).await, "Approved");
}

/// An execution input naming an approver outside the deployment's list fails the gate.
async fn input_cannot_add_approvers(stack: Arc<Stack>) {
    let name = "e2e-approvers";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-approvers"),
                   "approval": {"approvers": ["arn:aws:iam::123456789012:user/mallory"], "timeout_seconds": 3600, "heartbeat_seconds": 3599}}),
            json!({"evaluation": {"value": 0.85}}),
        )
        .await;
    stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &["Approval.InvalidRequest", "mallory"],
            &["ApprovalGate", "CompensateEvaluation", "PipelineFailed"],
        )
        .await;
    assert!(stack
        .keys(&format!("pipeline/{name}/approvals/"))
        .await
        .is_empty());
}

/// A run started around the trigger (a direct StartExecution) has no start record: the
/// gate cannot know who started it, so it refuses to open an approval.
async fn direct_start_is_unattributed(stack: Arc<Stack>) {
    let name = "e2e-direct";
    let data_prefix = data_prefix(name);
    stack
        .put(&format!("{data_prefix}sample.csv"), stack.sample.clone())
        .await;
    stack
        .put(
            &format!("_e2e/{name}.json"),
            json!({"evaluation": {"value": 0.85}})
                .to_string()
                .into_bytes(),
        )
        .await;
    let input = json!({
        // Claims to be started by someone else: the gate does not read this.
        "trigger": {"type": "manual", "source": "manual", "started_by": STARTER},
        "data": {"bucket": stack.bucket(), "prefix": data_prefix},
        "parameters": {"endpoint": endpoint_params("scn-direct")},
    });
    let arn = stack
        .sfn
        .start_execution()
        .state_machine_arn(stack.info["state_machine_arn"].as_str().unwrap())
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .expect("start execution")
        .execution_arn()
        .to_string();
    stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &["Approval.UnattributedRun"],
            &["ApprovalGate", "CompensateEvaluation", "PipelineFailed"],
        )
        .await;
}

/// An endpoint already serving a "blue" configuration: model, config, endpoint.
async fn blue_endpoint(stack: &Stack, endpoint: &str) -> String {
    let blue = format!("{endpoint}-blue");
    stack
        .sm
        .create_model()
        .model_name(format!("{blue}-model"))
        .execution_role_arn("arn:aws:iam::123456789012:role/x")
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image("img:blue")
                .build(),
        )
        .send()
        .await
        .unwrap();
    stack
        .sm
        .create_endpoint_config()
        .endpoint_config_name(&blue)
        .production_variants(
            aws_sdk_sagemaker::types::ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name(format!("{blue}-model"))
                .initial_instance_count(1)
                .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
                .build(),
        )
        .send()
        .await
        .unwrap();
    stack
        .sm
        .create_endpoint()
        .endpoint_name(endpoint)
        .endpoint_config_name(&blue)
        .send()
        .await
        .unwrap();
    blue
}

/// The endpoint configurations whose name starts with `prefix`.
async fn endpoint_configs(stack: &Stack, prefix: &str) -> Vec<String> {
    stack
        .sm
        .list_endpoint_configs()
        .name_contains(prefix)
        .send()
        .await
        .unwrap()
        .endpoint_configs()
        .iter()
        .map(|c| c.endpoint_config_name().unwrap_or_default().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Start a run that deploys onto `endpoint` (already serving blue) after `fault` was
/// set, wait for it, and check it failed in deployment. Returns its ARN and path.
async fn failed_deployment(
    stack: &Stack,
    name: &str,
    endpoint: &str,
    fault: Value,
) -> (String, Vec<String>) {
    stack.faults(fault).await;
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params(endpoint)}),
            json!({"evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(
        error.as_deref(),
        Some("Pipeline.DeploymentFailed"),
        "{cause:?}"
    );
    assert!(!path.iter().any(|p| p == "Deployed"), "{path:?}");
    (arn, path)
}

/// The new configuration comes up, but the smoke test gets a ModelError: the
/// compensator rolls the endpoint back to blue with UpdateEndpoint, deletes the new
/// configuration and rejects the model package.
async fn deployment_fails_rolls_back(stack: Arc<Stack>) {
    let name = "e2e-deploy-fails";
    let endpoint = "scn-deploy";
    let blue = blue_endpoint(&stack, endpoint).await;
    let (arn, path) =
        failed_deployment(&stack, name, endpoint, json!({"broken_models": [endpoint]})).await;
    assert_subsequence(
        &path,
        &[
            "FindCurrentEndpoint",
            "RecordPreviousConfig",
            "UpdateEndpoint",
            "DescribeEndpoint",
            "EndpointReady",
            "SmokeTest",
            "CompensateDeployment",
            "Compensate",
            "NotifyFailure",
            "PipelineFailed",
        ],
        name,
    );
    // Rolled back by the compensator: the endpoint serves the blue configuration again,
    // the new one is gone, and the package is Rejected.
    assert_eq!(
        endpoint_config(&stack, endpoint).await,
        Some(("InService".into(), blue.clone()))
    );
    assert_eq!(endpoint_configs(&stack, endpoint).await, vec![blue]);
    let done = compensator_actions(&stack, &arn, "done").await;
    assert!(
        done.iter().any(|a| a.starts_with("endpoint.rollback:")),
        "the compensator did the rollback itself: {done:?}"
    );
    let (package, _) = registered_package(&stack, &arn).await.expect("registered");
    assert_eq!(approval_status(&stack, &package).await, "Rejected");
    assert_model_compensated(&stack, &arn, Some(endpoint)).await;
}

/// The new configuration never passes its health checks: SageMaker rolls the update
/// back on its own (InService on blue, FailureReason set); the pipeline must not count
/// that as deployed, and the compensator finds the rollback already done.
async fn update_rolled_back_by_sagemaker(stack: Arc<Stack>) {
    let name = "e2e-update-fails";
    let endpoint = "scn-update";
    let blue = blue_endpoint(&stack, endpoint).await;
    let fault = json!({"endpoint_good_configs": {endpoint: [blue.clone()]}});
    let (arn, path) = failed_deployment(&stack, name, endpoint, fault).await;
    assert_subsequence(
        &path,
        &[
            "UpdateEndpoint",
            "DescribeEndpoint",
            "EndpointReady",
            "DeploymentFailedError",
            "CompensateDeployment",
            "Compensate",
            "PipelineFailed",
        ],
        name,
    );
    assert!(!path.iter().any(|p| p == "SmokeTest"), "{path:?}");
    let skipped = compensator_actions(&stack, &arn, "skipped").await;
    assert!(
        skipped.iter().any(|a| a.starts_with("endpoint.rollback:")),
        "SageMaker had rolled back already: {skipped:?}"
    );
    assert_eq!(
        endpoint_config(&stack, endpoint).await,
        Some(("InService".into(), blue.clone()))
    );
    assert_eq!(endpoint_configs(&stack, endpoint).await, vec![blue]);
    assert_model_compensated(&stack, &arn, Some(endpoint)).await;
}

async fn duplicate_event_starts_one_execution(stack: Arc<Stack>) {
    let key = "data/dup/part-0001.csv";
    stack.put(key, stack.sample.clone()).await;
    let head = stack
        .s3
        .head_object()
        .bucket(stack.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap_or("").trim_matches('"').to_string();
    let mut s3_event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("events/pipeline-trigger/s3-notification.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let rec = &mut s3_event["Records"][0]["s3"];
    rec["bucket"]["name"] = json!(stack.bucket());
    rec["object"] =
        json!({"key": key, "size": stack.sample.len(), "eTag": etag, "sequencer": "0A1B2C"});
    let (ok1, first) = stack.invoke("pipeline-trigger", &s3_event).await;
    let (ok2, second) = stack.invoke("pipeline-trigger", &s3_event).await;
    assert!(ok1 && ok2, "{first} {second}");
    assert_eq!(first["started"], true, "{first}");
    assert_eq!(second["started"], false, "{second}");
    assert_eq!(second["duplicate"], true);
    assert_eq!(first["execution_arn"], second["execution_arn"]);
    // The same object through EventBridge is the same execution too.
    let mut eb: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("events/pipeline-trigger/eventbridge-object-created.json"),
        )
        .unwrap(),
    )
    .unwrap();
    eb["detail"]["bucket"]["name"] = json!(stack.bucket());
    eb["detail"]["object"] = json!({"key": key, "size": stack.sample.len(), "etag": etag});
    let (ok3, third) = stack.invoke("pipeline-trigger", &eb).await;
    assert!(ok3, "{third}");
    assert_eq!(third["duplicate"], true, "{third}");
    let name = first["execution_name"].as_str().unwrap().to_string();
    let arn = stack.execution_arn(&name);
    assert_eq!(first["execution_arn"].as_str(), Some(arn.as_str()));
    let execs = stack
        .sfn
        .list_executions()
        .state_machine_arn(stack.info["state_machine_arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let same: Vec<_> = execs
        .executions()
        .iter()
        .filter(|e| e.name() == name)
        .collect();
    assert_eq!(same.len(), 1, "one execution named {name}");
    // Its input carries the trigger context.
    let d = stack
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(d.input().unwrap_or("{}")).unwrap();
    assert_eq!(input["trigger"]["type"], "new-data");
    assert_eq!(input["trigger"]["key"], key);
    assert_eq!(input["data"]["prefix"], key);
    let _ = stack.sfn.stop_execution().execution_arn(&arn).send().await;
}

// ------------------------------------------------- scenarios for the remaining states

/// The training task of a sweep child: `TrainInVpc` when the stack deploys a job VPC
/// (`TRAINGUARD_E2E_JOB_SECURITY=1`, see tests/e2e/stack.py).
fn train_state() -> &'static str {
    if job_security() {
        "TrainInVpc"
    } else {
        "Train"
    }
}

fn job_security() -> bool {
    std::env::var("TRAINGUARD_E2E_JOB_SECURITY").as_deref() == Ok("1")
}

/// The on-demand variant of the training parameters (the top-level key replaces the
/// default whole, so every field is given).
fn on_demand_training() -> Value {
    json!({"instance_type": "ml.g4dn.xlarge", "instance_count": 1, "volume_size_gb": 50, "spot": false,
           "max_runtime_seconds": 3600, "max_wait_seconds": 7200,
           "metric_definitions": [{"Name": "validation:accuracy", "Regex": "acc: ([0-9.]+)"}]})
}

/// Feature engineering on: a Processing job writes the features under the run's prefix,
/// and drift, training and evaluation read them instead of the raw data.
async fn feature_engineering(stack: Arc<Stack>) {
    let name = "e2e-features";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-features"),
                   "feature_engineering": {"enabled": true, "instance_type": "ml.m5.xlarge", "max_runtime_seconds": 3600}}),
            json!({"evaluation": {"value": 0.95}}),
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
        &[
            "FingerprintData",
            "FeatureEngineeringEnabled",
            "FeatureEngineering",
            "UseEngineeredFeatures",
            "ChooseDriftPath",
            "DriftCheck",
            "TrainingSweep",
            "Evaluate",
            "Deployed",
        ],
        name,
    );
    assert!(!path.iter().any(|p| p == "UseRawFeatures"), "{path:?}");
    let bucket = stack.bucket();
    let features = format!("s3://{bucket}/pipeline/{name}/features/");
    let raw = format!("s3://{bucket}/{}", data_prefix(name));
    // The job read the raw data and wrote the features where the run keeps them.
    let history = stack.history(&arn).await;
    let job: Value = history
        .iter()
        .filter_map(|e| e.lambda_function_scheduled_event_details())
        .filter_map(|d| serde_json::from_str::<Value>(d.input().unwrap_or("{}")).ok())
        .find(|r| {
            r["ProcessingJobName"]
                .as_str()
                .is_some_and(|n| n.ends_with("-features"))
        })
        .expect("no feature engineering job requested");
    assert_eq!(job["ProcessingInputs"][0]["S3Input"]["S3Uri"], json!(raw));
    assert_eq!(
        job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
        json!(features)
    );
    assert!(
        stack
            .keys(&format!("pipeline/{name}/features/"))
            .await
            .iter()
            .any(|k| k.ends_with("sample.csv")),
        "no features written"
    );
    // Drift, training and evaluation read the engineered features.
    assert_eq!(
        task_request(&history, "DriftCheck")["data"],
        json!(features)
    );
    let sweep = stack.children_of(&arn, "TrainingSweep").await;
    assert_eq!(sweep.len(), 1, "{sweep:?}");
    let train = &sweep[0].training_requests()[0];
    assert_eq!(
        train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
        json!(features)
    );
}

/// More objects than `DistributedThreshold` (5): validation and profiling run one child
/// per object and merge; the merged verdicts are exactly what one pass over the same
/// data gives.
async fn distributed_validation_and_profiling(stack: Arc<Stack>) {
    let name = "e2e-distributed";
    // Valid, with warnings (support_calls out of range) and a shifted feature, so the
    // merged results have something to agree on.
    let shifted = stack.sample_with("monthly_charges", |v, _| {
        format!("{:.2}", v.parse::<f64>().unwrap_or(0.0) * 3.0 + 100.0)
    });
    let data = rewrite_column(&shifted, "support_calls", |v, i| {
        if i % 7 == 0 {
            "150".into()
        } else {
            v.to_string()
        }
    });
    let text = String::from_utf8(data).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    let parts = 6;
    let objects: Vec<(String, Vec<u8>)> = (0..parts)
        .map(|p| {
            let body: String = rows
                .iter()
                .skip(p)
                .step_by(parts)
                .map(|r| format!("{r}\n"))
                .collect();
            (
                format!("part-{p}.csv"),
                format!("{header}\n{body}").into_bytes(),
            )
        })
        .collect();
    let arn = stack
        .start_with_objects(
            name,
            objects,
            json!({"endpoint": endpoint_params("scn-distributed")}),
            json!({"evaluation": {"value": 0.95}}),
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
        &[
            "CountDataObjects",
            "ChooseValidationPath",
            "ValidateSchemaDistributed",
            "MergeValidation",
            "DataQualityGate",
            "FingerprintData",
            "ChooseDriftPath",
            "ProfileFeaturesDistributed",
            "MergeProfiles",
            "DriftCheckMerged",
            "DriftGate",
            "TrainingSweep",
            "Deployed",
        ],
        name,
    );
    for inline in ["ValidateSchema", "DriftCheck"] {
        assert!(!path.iter().any(|p| p == inline), "{inline} in {path:?}");
    }
    // One child per object on each map, each entering its one state.
    for (map, state) in [
        ("ValidateSchemaDistributed", "ValidateObject"),
        ("ProfileFeaturesDistributed", "ProfileObject"),
    ] {
        let children = stack.children_of(&arn, map).await;
        assert_eq!(
            children.iter().map(|c| c.index).collect::<Vec<_>>(),
            (0..parts as u64).collect::<Vec<_>>(),
            "{map}"
        );
        for c in &children {
            assert_eq!(
                (c.status.as_str(), c.path()),
                ("SUCCEEDED", vec![state.to_string()])
            );
        }
    }
    // The merged verdicts equal one pass over the same objects.
    let history = stack.history(&arn).await;
    let bucket = stack.bucket();
    let prefix = format!("s3://{bucket}/{}", data_prefix(name));
    let merged = task_payload(&history, "MergeValidation");
    // Reports under pipeline/: the functions' roles write nowhere else (IAM is enforced).
    let (ok, single) = stack
        .invoke("schema-validator", &json!({"data": prefix, "contract": format!("s3://{bucket}/config/contract.json"),
                                            "report_uri": format!("s3://{bucket}/pipeline/e2e-single/{name}/schema.json")}))
        .await;
    assert!(ok, "{single}");
    assert_eq!(merged["rows"], 400, "{merged}");
    assert_eq!(merged["objects"], parts, "{merged}");
    assert_eq!(merged["violations"]["warning"], 1, "{merged}");
    assert_eq!(
        without(merged, &["report_uri"]),
        without(single, &["report_uri"]),
        "merged validation != single pass"
    );
    let merged = task_payload(&history, "DriftCheckMerged");
    let (ok, single) = stack
        .invoke("drift-detector", &json!({"task": "check", "data": prefix, "baseline": format!("s3://{bucket}/config/baseline.json"),
                                          "config": {}, "report_prefix": format!("s3://{bucket}/pipeline/e2e-single/{name}/drift/")}))
        .await;
    assert!(ok, "{single}");
    assert!(
        merged["drifted_features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "monthly_charges"),
        "{merged}"
    );
    let uris = ["report_uri", "html_report_uri"];
    assert_eq!(
        without(merged, &uris),
        without(single, &uris),
        "merged drift check != single pass"
    );
}

/// Three configurations, two of which diverge and halt: more than the sweep's 50 %
/// tolerated, so select-best fails the stage (`Pipeline.SweepFailed`) instead of
/// promoting the one survivor; moto's interpreter does not enforce the Map's limit.
async fn sweep_beyond_tolerated_failures(stack: Arc<Stack>) {
    let name = "e2e-sweep-fails";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-sweep-fails"),
                   "sweep": [{"hyperparameters": {"batch_size": "64", "learning_rate": "0.001"}},
                             {"hyperparameters": {"batch_size": "64", "learning_rate": "0.8"}},
                             {"hyperparameters": {"batch_size": "64", "learning_rate": "0.9"}}]}),
            json!({"training": {"nan_loss_above_learning_rate": 0.1}, "evaluation": {"value": 0.95}}),
        )
        .await;
    let path = stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.TrainingFailed",
            &["Pipeline.SweepFailed", "2 of 3"],
            &[
                "TrainingSweep",
                "SelectBest",
                "CompensateTraining",
                "Compensate",
                "PipelineFailed",
            ],
        )
        .await;
    assert!(!path.iter().any(|p| p == "RegisterModel"), "{path:?}");
}

/// Two configurations: one OOMs twice and recovers at batch 64, the other's loss goes
/// NaN at every learning rate the adjuster tries and halts. The sweep goes on with the
/// one that recovered.
async fn sweep_one_recovers_one_fails(stack: Arc<Stack>) {
    let t = train_state();
    let name = "e2e-sweep";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-sweep"),
                   "sweep": [{"hyperparameters": {"batch_size": "256", "learning_rate": "0.001"}},
                             {"hyperparameters": {"batch_size": "64", "learning_rate": "0.8"}}]}),
            json!({"training": {"oom_above_batch_size": 64, "nan_loss_above_learning_rate": 0.1},
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
    let sweep = stack.children_of(&arn, "TrainingSweep").await;
    assert_eq!(sweep.len(), 2, "{sweep:?}");
    let (recovered, halted) = (&sweep[0], &sweep[1]);
    assert_eq!(recovered.status, "SUCCEEDED");
    assert_subsequence(
        &recovered.path(),
        &[
            "PrepareSpotTrainingJob",
            t,
            "AdjustBatchSize",
            "RecoveryAction",
            "ApplyRecoveryPlan",
            t,
            "AdjustBatchSize",
            "ApplyRecoveryPlan",
            t,
            "KeepMetrics",
        ],
        "the OOM configuration",
    );
    let batches: Vec<String> = recovered
        .training_requests()
        .iter()
        .map(|r| hyperparameter(r, "batch_size"))
        .collect();
    assert_eq!(batches, ["256", "128", "64"]);
    assert_eq!(
        (halted.status.as_str(), halted.error.as_deref()),
        ("FAILED", Some("TrainingRecovery.Halted"))
    );
    assert_eq!(
        halted.path().last().map(String::as_str),
        Some("TrainingHalted"),
        "{:?}",
        halted.path()
    );
    assert!(!halted.path().iter().any(|p| p == "KeepMetrics"));
    let rates: Vec<f64> = halted
        .training_requests()
        .iter()
        .map(|r| hyperparameter(r, "learning_rate").parse().unwrap())
        .collect();
    assert_eq!(
        rates,
        [0.8, 0.4, 0.2],
        "learning rate halved twice, then halt"
    );
    let last = halted.task_payloads("AdjustBatchSize").pop().unwrap();
    assert_eq!(
        last["halt_reason"], "TrainingRecovery.DivergenceUnresolved",
        "{last}"
    );
    // The recovered configuration is the one evaluated and registered.
    let best = task_payload(&stack.history(&arn).await, "SelectBest");
    let recovered_job = recovered.training_requests().pop().unwrap()["TrainingJobName"].clone();
    assert_eq!(best["best"]["index"], 0, "{best}");
    assert_eq!(best["best"]["training_job_name"], recovered_job, "{best}");
    let (_, meta) = registered_package(&stack, &arn).await.expect("registered");
    assert_eq!(meta["trainguard:training_job"], recovered_job);
}

/// On-demand training meets a capacity shortage: the adjuster plans a wait (the
/// policy's capacity backoff), the run waits, then retries the same job and succeeds.
async fn capacity_shortage_waits_then_retries(stack: Arc<Stack>) {
    let t = train_state();
    let name = "e2e-capacity";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-capacity"), "training": on_demand_training(),
                   "recovery_policy": {"capacity_backoff": {"base_seconds": 300, "max_seconds": 3600, "multiplier": 2.0}}}),
            json!({"training": {"capacity_errors": 1}, "evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {path:?}"
    );
    let sweep = stack.children_of(&arn, "TrainingSweep").await;
    assert_eq!(sweep.len(), 1, "{sweep:?}");
    let child_path = sweep[0].path();
    assert_subsequence(
        &child_path,
        &[
            "PrepareTrainingJob",
            "PrepareOnDemandTrainingJob",
            t,
            "AdjustBatchSize",
            "RecoveryAction",
            "WaitBeforeRetry",
            "ApplyRecoveryPlan",
            t,
            "KeepMetrics",
        ],
        "on demand, capacity",
    );
    let count = |s: &str| child_path.iter().filter(|p| *p == s).count();
    assert_eq!(
        (
            count("PrepareSpotTrainingJob"),
            count(t),
            count("WaitBeforeRetry")
        ),
        (0, 2, 1),
        "{child_path:?}"
    );
    let plan = &sweep[0].task_payloads("AdjustBatchSize")[0];
    assert_eq!(
        (&plan["action"], &plan["kind"], &plan["wait_seconds"]),
        (
            &json!("wait-then-retry"),
            &json!("InsufficientCapacity"),
            &json!(300)
        ),
        "{plan}"
    );
    let jobs = sweep[0].training_requests();
    assert_eq!(jobs.len(), 2);
    for j in &jobs {
        assert_eq!(j["EnableManagedSpotTraining"], false, "{j}");
        assert!(
            j["StoppingCondition"].get("MaxWaitTimeInSeconds").is_none(),
            "{j}"
        );
    }
    // Waiting does not resize: the same instance and hyperparameters, a new name.
    assert_eq!(jobs[0]["ResourceConfig"], jobs[1]["ResourceConfig"]);
    assert_eq!(jobs[0]["HyperParameters"], jobs[1]["HyperParameters"]);
    assert!(
        jobs[1]["TrainingJobName"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "{}-r1-",
                jobs[0]["TrainingJobName"].as_str().unwrap()
            )),
        "{jobs:?}"
    );
}

/// Spot capacity keeps being taken away: the adjuster retries on spot after a wait
/// twice (the default policy's 3 interruptions), then falls back to on-demand, resuming
/// from the same checkpoints.
async fn spot_interruptions_fall_back_to_on_demand(stack: Arc<Stack>) {
    let t = train_state();
    let name = "e2e-spot";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-spot")}),
            json!({"training": {"spot_interrupted": true}, "evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {path:?}"
    );
    let sweep = stack.children_of(&arn, "TrainingSweep").await;
    assert_eq!(sweep.len(), 1, "{sweep:?}");
    let child = &sweep[0];
    assert_subsequence(
        &child.path(),
        &[
            "PrepareSpotTrainingJob",
            t,
            "WaitBeforeRetry",
            t,
            "WaitBeforeRetry",
            t,
            "AdjustBatchSize",
            "ApplyRecoveryPlan",
            t,
            "KeepMetrics",
        ],
        "spot",
    );
    let plans = child.task_payloads("AdjustBatchSize");
    let actions: Vec<&str> = plans
        .iter()
        .map(|p| p["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["wait-then-retry", "wait-then-retry", "retry"],
        "{plans:?}"
    );
    assert!(
        plans.iter().all(|p| p["kind"] == "SpotInterruption"),
        "{plans:?}"
    );
    let jobs = child.training_requests();
    let spot: Vec<bool> = jobs
        .iter()
        .map(|j| j["EnableManagedSpotTraining"].as_bool().unwrap())
        .collect();
    assert_eq!(spot, [true, true, true, false]);
    let last = jobs.last().unwrap();
    assert!(
        last["StoppingCondition"]
            .get("MaxWaitTimeInSeconds")
            .is_none(),
        "on-demand has no MaxWaitTimeInSeconds: {last}"
    );
    assert_eq!(
        last["CheckpointConfig"], jobs[0]["CheckpointConfig"],
        "resumes"
    );
    assert_eq!(
        child
            .path()
            .iter()
            .filter(|p| *p == "WaitBeforeRetry")
            .count(),
        2
    );
}

/// An objective below the deployment's review threshold (0.80) is rejected: nothing is
/// registered, the training and evaluation artifacts are removed, the failure alert goes
/// out.
async fn below_review_threshold_is_rejected(stack: Arc<Stack>) {
    let name = "e2e-below";
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params("scn-below")}),
            json!({"evaluation": {"value": 0.5}}),
        )
        .await;
    let path = stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &["Evaluation.BelowThreshold", "0.8"],
            &[
                "ReadEvaluation",
                "EvaluationGate",
                "EvaluationBelowThreshold",
                "NotifyInvestigation",
                "CompensateEvaluation",
                "Compensate",
                "NotifyFailure",
                "PipelineFailed",
            ],
        )
        .await;
    for never in ["MarkHumanReview", "MarkAutoPromote", "RegisterModel"] {
        assert!(!path.iter().any(|p| p == never), "{never} in {path:?}");
    }
    let done = compensator_actions(&stack, &arn, "done").await;
    for sub in ["evaluation/", "model/", "checkpoints/"] {
        let action = format!("s3.delete:pipeline/{name}/{sub}");
        assert!(done.contains(&action), "{action} not in {done:?}");
        let left = stack.keys(&format!("pipeline/{name}/{sub}")).await;
        assert!(left.is_empty(), "compensation left {left:?}");
    }
    let history = stack.history(&arn).await;
    assert!(published_after(&history, "NotifyFailure"));
    // The first model of its endpoint: rejected by the absolute thresholds alone.
    assert_eq!(
        task_payload(&history, "ReadEvaluation")["comparison"]["band"],
        "first_model"
    );
    assert_eq!(endpoint_config(&stack, "scn-below").await, None);
}

/// An empty data prefix halts before validation with `DataQuality.NoData` and an alert.
async fn no_data_halts(stack: Arc<Stack>) {
    let name = "e2e-no-data";
    let arn = stack
        .start_with_objects(name, vec![], json!({}), json!({}))
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(error.as_deref(), Some("DataQuality.NoData"), "{cause:?}");
    assert_eq!(
        path[path.len() - 5..],
        [
            "CountDataObjects",
            "ChooseValidationPath",
            "NoDataFound",
            "AlertDataQuality",
            "DataQualityFailed"
        ]
    );
    assert!(published_after(
        &stack.history(&arn).await,
        "AlertDataQuality"
    ));
}

/// A corrupt object is an error, not a verdict: the data stage is compensated and the
/// run fails with `Pipeline.DataFailed`, the validator's error as the cause.
async fn corrupt_data_is_compensated(stack: Arc<Stack>) {
    let name = "e2e-corrupt";
    let corrupt = b"PAR1\x00\x01not really parquet\xff\xfePAR1".to_vec();
    let arn = stack
        .start_with_objects(
            name,
            vec![("part-0.parquet".into(), corrupt)],
            json!({}),
            json!({}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(error.as_deref(), Some("Pipeline.DataFailed"), "{cause:?}");
    assert!(
        cause.unwrap_or_default().contains("DataError."),
        "the validator's error"
    );
    assert_subsequence(
        &path,
        &[
            "ValidateSchema",
            "CompensateData",
            "Compensate",
            "NotifyFailure",
            "PipelineFailed",
        ],
        name,
    );
    assert!(!path.iter().any(|p| p == "DataQualityGate"), "{path:?}");
    assert_eq!(
        stack.keys(&data_prefix(name)).await.len(),
        1,
        "the input is not touched"
    );
}

/// The new endpoint never leaves Creating: after `max_polls` the run gives up with
/// `Deployment.TimedOut`; the compensator deletes the endpoint it created and its
/// configuration and rejects the package.
async fn endpoint_never_in_service_times_out(stack: Arc<Stack>) {
    let name = "e2e-stuck";
    let endpoint = "scn-stuck";
    stack.faults(json!({"stuck_endpoints": [endpoint]})).await;
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": {"name": endpoint, "instance_type": "ml.m5.large", "instance_count": 1, "max_polls": 3}}),
            json!({"evaluation": {"value": 0.95}}),
        )
        .await;
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    assert_eq!(status, ExecutionStatus::Failed, "{path:?}");
    assert_eq!(error.as_deref(), Some("Pipeline.DeploymentFailed"));
    assert!(
        cause.unwrap_or_default().contains("Deployment.TimedOut"),
        "{path:?}"
    );
    assert_subsequence(
        &path,
        &[
            "CreateEndpoint",
            "RecordEndpointCreated",
            "WaitForEndpoint",
            "DescribeEndpoint",
            "EndpointReady",
            "DeploymentTimedOutError",
            "CompensateDeployment",
            "Compensate",
            "PipelineFailed",
        ],
        name,
    );
    assert_eq!(path.iter().filter(|p| *p == "DescribeEndpoint").count(), 3);
    assert!(!path.iter().any(|p| p == "SmokeTest"), "{path:?}");
    assert_eq!(
        endpoint_config(&stack, endpoint).await,
        None,
        "endpoint deleted"
    );
    assert!(endpoint_configs(&stack, endpoint).await.is_empty());
    let (package, _) = registered_package(&stack, &arn).await.expect("registered");
    assert_eq!(approval_status(&stack, &package).await, "Rejected");
    assert_model_compensated(&stack, &arn, None).await;
}

// ------------------------------------------------------------------ state coverage

/// Every execution of the run and every Distributed Map child, as coverage histories.
async fn coverage_histories(stack: &Stack) -> Vec<coverage::History> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = stack
            .sfn
            .list_executions()
            .state_machine_arn(stack.info["state_machine_arn"].as_str().unwrap())
            .set_next_token(token)
            .send()
            .await
            .expect("list executions");
        arns.extend(page.executions().iter().map(|e| {
            (
                e.name().to_string(),
                e.execution_arn().to_string(),
                e.status().clone(),
            )
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let children = read_children(&stack.children);
    let mut out = Vec::new();
    for (name, arn, status) in arns {
        let history = stack.history(&arn).await;
        // A finished execution's history ends with how it ended; anything else means the
        // engine lost events (moto 5.2.5 stops recording an execution's history after
        // some failure causes: see docs/pipeline.md), and its coverage would be wrong.
        if status != ExecutionStatus::Running {
            let last = history.last().map(|e| e.r#type().as_str().to_string());
            assert!(
                last.as_deref()
                    .is_some_and(|t| t.starts_with("Execution") && t != "ExecutionStarted"),
                "{name} is {status:?} but its history ends with {last:?}: events were lost"
            );
        }
        let runs = map_runs(&history);
        out.push(coverage::History {
            label: name.clone(),
            events: history.iter().map(coverage::Event::from_sdk).collect(),
        });
        for (state, run) in runs {
            let mine: Vec<&MapChild> = children.iter().filter(|c| c.map_run_arn == run).collect();
            for c in mine {
                out.push(coverage::History {
                    label: format!("{name}/{state}[{}]", c.index),
                    events: c.child_events(),
                });
            }
        }
    }
    out
}

/// Compare what the run entered with the shipped definition; write
/// `coverage.json` / `coverage.md`; the problems (states neither entered nor
/// allow-listed, stale allow-list entries).
async fn state_coverage(stack: &Stack) -> (coverage::Coverage, Vec<String>) {
    let root = workspace_root();
    let asl: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("statemachine/pipeline.asl.json")).unwrap(),
    )
    .unwrap();
    let def = coverage::Definition::from_asl(&asl).expect("the shipped definition");
    let exceptions_path = root.join("tests/e2e/coverage-exceptions.json");
    let exceptions = coverage::parse_exceptions(
        &serde_json::from_str(&std::fs::read_to_string(&exceptions_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", exceptions_path.display())),
    )
    .unwrap();
    let histories = coverage_histories(stack).await;
    assert!(
        histories.iter().any(|h| h.label.contains("/TrainingSweep[")),
        "no Distributed Map child histories in {}: is tests/e2e/moto_children on the moto server's PYTHONPATH?",
        stack.children.display()
    );
    let cov = coverage::Coverage::new(&def, &histories, &exceptions);
    let dir = output_dir("pipeline-e2e");
    std::fs::write(
        dir.join("coverage.json"),
        serde_json::to_string_pretty(&cov.to_json(&exceptions)).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("coverage.md"), cov.to_markdown()).unwrap();
    // The latest run's children, under a fixed name, next to the report.
    let _ = std::fs::rename(&stack.children, dir.join(MAP_RUN_CHILDREN));
    eprintln!(
        "e2e state coverage: {} ({})",
        cov.summary(),
        dir.join("coverage.md").display()
    );
    let problems = cov.problems(&exceptions);
    (cov, problems)
}

type BoxedScenario = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn boxed(f: impl std::future::Future<Output = ()> + Send + 'static) -> BoxedScenario {
    Box::pin(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipeline_end_to_end() {
    let stack = Arc::new(Stack::start().await);
    // Shared inputs: the data contract and the drift baseline (built by the real
    // drift-detector from the sample data).
    let contract = std::fs::read(workspace_root().join("events/schema-validator/contract.json"))
        .expect("contract");
    stack.put("config/contract.json", contract).await;
    // Within the drift-detector role's grants (IAM is enforced): it reads config/* and
    // writes pipeline/* only; publishing the baseline to config/ is the operator's step.
    stack
        .put("config/reference/sample.csv", stack.sample.clone())
        .await;
    let bucket = stack.bucket().to_string();
    let (ok, out) = stack
        .invoke("drift-detector", &json!({"task": "baseline", "data": format!("s3://{bucket}/config/reference/sample.csv"),
                                             "baseline": format!("s3://{bucket}/pipeline/_baseline/baseline.json")}))
        .await;
    assert!(ok, "baseline: {out}");
    stack
        .s3
        .copy_object()
        .bucket(&bucket)
        .key("config/baseline.json")
        .copy_source(format!("{bucket}/pipeline/_baseline/baseline.json"))
        .send()
        .await
        .expect("publish the baseline");

    type Scenario = fn(Arc<Stack>) -> BoxedScenario;
    let scenarios: Vec<(&str, Scenario)> = vec![
        ("happy path to a deployed endpoint", |s| {
            boxed(happy_path(s))
        }),
        ("bad data halts at the quality gate", |s| {
            boxed(bad_data_halts(s))
        }),
        ("drift forces human review", |s| {
            boxed(drift_forces_review(s))
        }),
        ("OOM twice, batch halved twice, success", |s| {
            boxed(oom_twice_then_success(s))
        }),
        ("OOM until the ladder runs out: compensation", |s| {
            boxed(oom_until_ladder_runs_out(s))
        }),
        ("reviewer rejects", |s| boxed(reviewer_rejects(s))),
        ("deployment fails: rolled back", |s| {
            boxed(deployment_fails_rolls_back(s))
        }),
        ("update does not come up: SageMaker rolls back", |s| {
            boxed(update_rolled_back_by_sagemaker(s))
        }),
        ("a duplicate S3 event starts one execution", |s| {
            boxed(duplicate_event_starts_one_execution(s))
        }),
        (
            "the input cannot lower the bar or approve its own run",
            |s| boxed(input_cannot_lower_the_bar_or_self_approve(s)),
        ),
        ("more sweep failures than tolerated fail the stage", |s| {
            boxed(sweep_beyond_tolerated_failures(s))
        }),
        ("the input cannot add approvers", |s| {
            boxed(input_cannot_add_approvers(s))
        }),
        ("a direct start is unattributed", |s| {
            boxed(direct_start_is_unattributed(s))
        }),
        (
            "feature engineering feeds drift, training and evaluation",
            |s| boxed(feature_engineering(s)),
        ),
        (
            "many objects: distributed validation and profiling, merged",
            |s| boxed(distributed_validation_and_profiling(s)),
        ),
        (
            "sweep: one configuration recovers from OOM, one halts",
            |s| boxed(sweep_one_recovers_one_fails(s)),
        ),
        ("capacity shortage: wait, then retry on demand", |s| {
            boxed(capacity_shortage_waits_then_retries(s))
        }),
        ("spot interruptions: fall back to on-demand", |s| {
            boxed(spot_interruptions_fall_back_to_on_demand(s))
        }),
        (
            "evaluation: better than production on every row, auto-promoted",
            |s| boxed(evaluation_gate::better_than_production_promotes(s)),
        ),
        (
            "evaluation: mixed rows against production, a person decides",
            |s| boxed(evaluation_gate::mixed_rows_go_to_review(s)),
        ),
        (
            "evaluation: a hard limit broken, rejected and investigated",
            |s| boxed(evaluation_gate::hard_limit_rejects_and_investigates(s)),
        ),
        ("evaluation below the review threshold is rejected", |s| {
            boxed(below_review_threshold_is_rejected(s))
        }),
        ("no data halts", |s| boxed(no_data_halts(s))),
        ("corrupt data: data stage compensated", |s| {
            boxed(corrupt_data_is_compensated(s))
        }),
        ("endpoint never in service: timed out, compensated", |s| {
            boxed(endpoint_never_in_service_times_out(s))
        }),
        (
            "sweep: OOM recovers, NaN recovers, ladder runs out, best survivor",
            |s| boxed(mixed_sweep::mixed_sweep(s)),
        ),
        ("scale-out: 1,100 objects, merged equals one pass", |s| {
            boxed(scale_out::scale_out(s))
        }),
        (
            "Catch paths: each service call failing the way the service fails it",
            |s| boxed(catch_paths(s)),
        ),
    ];
    let only = std::env::var("TRAINGUARD_E2E_ONLY").ok();
    let mut handles = Vec::new();
    for (what, f) in scenarios {
        if only.as_deref().is_some_and(|o| !what.contains(o)) {
            continue;
        }
        handles.push((what, tokio::spawn(f(stack.clone()))));
    }
    let mut failed = Vec::new();
    for (what, h) in handles {
        match h.await {
            Ok(()) => eprintln!("e2e ok: {what}"),
            Err(e) => {
                let msg = e.try_into_panic().ok().and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                });
                eprintln!("e2e FAILED: {what}: {}", msg.clone().unwrap_or_default());
                failed.push(format!("{what}: {}", msg.unwrap_or_default()));
            }
        }
    }
    // Every state of the shipped definition entered by some execution (or listed in
    // tests/e2e/coverage-exceptions.json with why the local stack cannot reach it).
    // Only a full run of the default deployment is held to it.
    let (_, problems) = state_coverage(&stack).await;
    if only.is_some() || job_security() {
        eprintln!("e2e state coverage not enforced: TRAINGUARD_E2E_ONLY / TRAINGUARD_E2E_JOB_SECURITY run a subset or another deployment");
    } else if !problems.is_empty() {
        failed.push(format!(
            "state coverage of statemachine/pipeline.asl.json ({}):\n  {}",
            output_dir("pipeline-e2e").join("coverage.md").display(),
            problems.join("\n  ")
        ));
    }
    assert!(
        failed.is_empty(),
        "{} scenario(s) failed (logs: {}):\n{}",
        failed.len(),
        stack.info["log_dir"],
        failed.join("\n")
    );
}

// ------------------------------------------------------------------ Catch paths

/// One Catch path taken on purpose: a service call of this execution fails the way the
/// service fails it (`failing_calls` in tests/e2e/router.py), and the run goes from
/// `states[0]` to `states[1]` (and on through the rest, in order).
struct CatchCase {
    name: &'static str,
    /// The router's `failing_calls` entries; `{name}` in a string is the execution name.
    faults: Value,
    /// Six objects (more than `DistributedThreshold`): the Distributed Map paths.
    distributed: bool,
    /// Data that fails the quality gate.
    bad_data: bool,
    /// Drifted data, so the run waits for a reviewer, who approves; the faults are set
    /// then, with `{approval}` the approval's id.
    review: bool,
    parameters: Value,
    behaviour: Value,
    /// The execution ends Succeeded (a catch into the success path) rather than Failed.
    succeeds: bool,
    states: &'static [&'static str],
}

fn with_name(v: &Value, name: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{name}", name)),
        Value::Array(a) => Value::Array(a.iter().map(|x| with_name(x, name)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), with_name(x, name)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn catch_cases() -> Vec<CatchCase> {
    let deploy = |name: &str| json!({"endpoint": endpoint_params(name)});
    let good = json!({"evaluation": {"value": 0.95}});
    let case = |name, faults, states| CatchCase {
        name,
        faults,
        distributed: false,
        bad_data: false,
        review: false,
        parameters: json!({}),
        behaviour: json!({}),
        succeeds: false,
        states,
    };
    let lambda = |function: &str, task: Option<&str>| {
        let mut m = json!({"execution_name": "{name}"});
        if let Some(t) = task {
            m["task"] = json!(t);
        }
        json!([{"call": function, "match": m}])
    };
    let sm = |target: &str| json!([{"call": target, "contains": "{name}"}]);
    vec![
        case(
            "e2e-catch-count",
            json!([{"call": "S3.GET", "contains": ["list-type=2", "data/{name}/"]}]),
            &["CountDataObjects", "CompensateData", "PipelineFailed"],
        ),
        CatchCase {
            distributed: true,
            ..case(
                "e2e-catch-merge-validation",
                lambda("schema-validator", Some("merge")),
                &["MergeValidation", "CompensateData"],
            )
        },
        CatchCase {
            bad_data: true,
            ..case(
                "e2e-catch-alert",
                json!([{"call": "SNS.Publish", "contains": ["{name}", "data quality gate failed"]}]),
                &["AlertDataQuality", "DataQualityFailed"],
            )
        },
        case(
            "e2e-catch-fingerprint",
            lambda("pipeline-trigger", Some("fingerprint")),
            &["FingerprintData", "CompensateData"],
        ),
        CatchCase {
            parameters: json!({"feature_engineering": {"enabled": true, "instance_type": "ml.m5.xlarge", "max_runtime_seconds": 3600}}),
            ..case(
                "e2e-catch-features",
                json!([{"call": "sagemaker-stub", "contains": ["{name}", "ProcessingJobName"],
                        "error": "Stub.TaskFailed", "message": "ProcessingJobStatus Failed: AlgorithmError: the features script exited with code 1"}]),
                &["FeatureEngineering", "CompensateData"],
            )
        },
        case(
            "e2e-catch-drift",
            lambda("drift-detector", Some("check")),
            &["DriftCheck", "CompensateData"],
        ),
        CatchCase {
            distributed: true,
            ..case(
                "e2e-catch-merge-profiles",
                lambda("drift-detector", Some("merge")),
                &["MergeProfiles", "CompensateData"],
            )
        },
        CatchCase {
            distributed: true,
            ..case(
                "e2e-catch-drift-merged",
                lambda("drift-detector", Some("check")),
                &["DriftCheckMerged", "CompensateData"],
            )
        },
        case(
            "e2e-catch-evaluate",
            json!([{"call": "sagemaker-stub", "contains": ["{name}", "ProcessingJobName"],
                    "error": "Stub.TaskFailed", "message": "ProcessingJobStatus Failed: AlgorithmError: the evaluation script exited with code 1"}]),
            &["Evaluate", "CompensateEvaluation"],
        ),
        case(
            "e2e-catch-read-eval",
            lambda("pipeline-trigger", Some("read-evaluation")),
            &["ReadEvaluation", "CompensateEvaluation"],
        ),
        CatchCase {
            behaviour: json!({"evaluation": {"value": 0.5}}),
            ..case(
                "e2e-catch-investigation",
                json!([{"call": "SNS.Publish", "contains": ["{name}", "investigate"]}]),
                &[
                    "NotifyInvestigation",
                    "CompensateEvaluation",
                    "PipelineFailed",
                ],
            )
        },
        case(
            "e2e-catch-register",
            sm("SageMaker.CreateModelPackage"),
            &["RegisterModel", "CompensateEvaluation"],
        ),
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-autoapprove"),
            ..case(
                "e2e-catch-autoapprove",
                sm("SageMaker.UpdateModelPackage"),
                &["AutoApprove", "CompensateEvaluation"],
            )
        },
        CatchCase {
            review: true,
            behaviour: good.clone(),
            parameters: json!({"endpoint": endpoint_params("scn-c-reviewed"), "drift": {"critical": ["monthly_charges"]}}),
            ..case(
                "e2e-catch-reviewed",
                json!([{"call": "SageMaker.UpdateModelPackage", "contains": "{approval}"}]),
                &["ApprovalGate", "ApproveReviewed", "CompensateEvaluation"],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-model"),
            ..case(
                "e2e-catch-model",
                sm("SageMaker.CreateModel"),
                &["CreateModel", "CompensateDeployment"],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-config"),
            ..case(
                "e2e-catch-config",
                sm("SageMaker.CreateEndpointConfig"),
                &["CreateEndpointConfig", "CompensateDeployment"],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-create"),
            ..case(
                "e2e-catch-create",
                sm("SageMaker.CreateEndpoint"),
                &["CreateEndpoint", "CompensateDeployment"],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-describe"),
            ..case(
                "e2e-catch-describe",
                // The first DescribeEndpoint is FindCurrentEndpoint's (no endpoint yet).
                json!([{"call": "SageMaker.DescribeEndpoint", "contains": "scn-c-describe", "skip": 1,
                        "error": "ValidationException", "message": "Could not find endpoint"}]),
                &["CreateEndpoint", "DescribeEndpoint", "CompensateDeployment"],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-update"),
            ..case(
                "e2e-catch-update",
                json!([{"call": "SageMaker.UpdateEndpoint", "contains": "scn-c-update"}]),
                &[
                    "FindCurrentEndpoint",
                    "UpdateEndpoint",
                    "CompensateDeployment",
                ],
            )
        },
        CatchCase {
            behaviour: good.clone(),
            parameters: deploy("scn-c-notify"),
            succeeds: true,
            ..case(
                "e2e-catch-notify",
                json!([{"call": "SNS.Publish", "contains": ["{name}", "model deployed"]}]),
                &["NotifySuccess", "Deployed"],
            )
        },
        // The compensator dies, then the failure alert cannot be sent: both catches.
        CatchCase {
            behaviour: json!({"training": {"oom_above_batch_size": 0}}),
            ..case(
                "e2e-catch-compensate",
                json!([{"call": "saga-compensator", "contains": "{name}"},
                       {"call": "SNS.Publish", "contains": ["{name}", "pipeline failed"]}]),
                &["Compensate", "NotifyFailure", "PipelineFailed"],
            )
        },
    ]
}

/// The sample split into `parts` objects (every `parts`-th row each).
fn split_sample(sample: &[u8], parts: usize) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8(sample.to_vec()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    (0..parts)
        .map(|p| {
            let body: String = rows
                .iter()
                .skip(p)
                .step_by(parts)
                .map(|r| format!("{r}\n"))
                .collect();
            (
                format!("part-{p}.csv"),
                format!("{header}\n{body}").into_bytes(),
            )
        })
        .collect()
}

async fn catch_case(stack: Arc<Stack>, c: CatchCase) {
    let name = c.name;
    let faults = with_name(&c.faults, name);
    for f in faults.as_array().unwrap() {
        if let Some(endpoint) = f["contains"].as_str().filter(|s| s.starts_with("scn-")) {
            if f["call"] == "SageMaker.UpdateEndpoint" {
                blue_endpoint(&stack, endpoint).await;
            }
        }
    }
    if !c.review {
        stack.faults(json!({"failing_calls": faults})).await;
    }
    let data = if c.review {
        stack.sample_with("monthly_charges", |v, _| {
            format!("{:.2}", v.parse::<f64>().unwrap_or(0.0) * 3.0 + 100.0)
        })
    } else if c.bad_data {
        stack.sample_with("age", |v, i| {
            if i % 3 == 0 {
                "-7".into()
            } else {
                v.to_string()
            }
        })
    } else {
        stack.sample.clone()
    };
    let objects = if c.distributed {
        split_sample(&data, 6)
    } else {
        vec![("sample.csv".into(), data)]
    };
    let arn = stack
        .start_with_objects(name, objects, c.parameters, c.behaviour)
        .await;
    if c.review {
        let id = stack.approval_id(name, &arn).await;
        let faults: Value =
            serde_json::from_str(&faults.to_string().replace("{approval}", &id)).unwrap();
        stack.faults(json!({"failing_calls": faults})).await;
        stack.decide(&id, "approve").await;
    }
    let (status, error, cause) = stack.wait_done(&arn).await;
    let path = stack.path(&arn).await;
    let want = if c.succeeds {
        ExecutionStatus::Succeeded
    } else {
        ExecutionStatus::Failed
    };
    assert_eq!(status, want, "{name}: {error:?} {cause:?} {path:?}");
    assert_subsequence(&path, c.states, name);
}

/// Every Catch path of the shipped definition the local stack can take, one execution
/// each (two for the compensation's own catches), concurrently.
async fn catch_paths(stack: Arc<Stack>) {
    let handles: Vec<_> = catch_cases()
        .into_iter()
        .map(|c| (c.name, tokio::spawn(catch_case(stack.clone(), c))))
        .collect();
    let mut failed = Vec::new();
    for (name, h) in handles {
        if let Err(e) = h.await {
            let msg = e.try_into_panic().ok().and_then(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            });
            failed.push(format!("{name}: {}", msg.unwrap_or_default()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
