//! Shared pieces of the approval-handler tests: a moto server whose Step Functions
//! interpreter runs a real `lambda:invoke.waitForTaskToken` state machine, the tests'
//! Lambda router (`trainguard_tests::lambda_router::LambdaRouter`) serving its invoke
//! with the real handler logic, API Gateway v2 event builders, and a log capture to
//! prove no task token is ever logged.
//!
//! Why a router: moto's interpreter sends every service-integration call, the Lambda
//! invoke included, to `http://localhost:$MOTO_PORT`. Starting moto with `MOTO_PORT`
//! pointing at the router lets the invoke reach `approval::handle_event` with the
//! exact payload the ASL builds (`$$.Task.Token` included), so the token travels the real
//! path: execution → handler → S3 record → SendTask* → execution resumes. Nothing reads
//! the token from the execution history.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trainguard::approval::{handle_event, ApprovalConfig, ApprovalService};
use trainguard::aws::sdk::SdkAws;
use trainguard::aws::Clients;
use trainguard_tests::lambda_router::LambdaRouter;
use trainguard_tests::*;

// ---------------------------------------------------------------- log capture

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Install (once per test binary) a JSON subscriber capturing every log line, at the
/// production level for dependencies and `debug` for trainguard.
pub fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,trainguard=debug"))
            .with_writer(move || BufWriter(w.clone()))
            .try_init()
            .expect("install the capturing subscriber");
        buf
    });
}

/// Everything logged so far in this test binary.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get().expect("init_logs first").lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- API Gateway events

/// Who the (simulated) API Gateway authorizer says the caller is.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Nobody,
    /// JWT authorizer claims: (sub, verified email).
    Jwt(&'a str, &'a str),
    /// JWT authorizer claims exactly as given (API Gateway passes them as strings).
    JwtClaims(&'a Value),
    /// IAM authorization: the caller's ARN.
    Iam(&'a str),
    /// IAM authorization: the caller's ARN and unique id (`userId`, e.g. `AROA…:session`).
    IamWithId(&'a str, &'a str),
}

/// An HTTP API payload-v2 event, as API Gateway would send it after its authorizer.
pub fn apigw_event(
    method: &str,
    path: &str,
    who: Who<'_>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), json!(v));
    }
    let mut ctx = json!({
        "accountId": "123456789012", "apiId": "api", "domainName": "approvals.example.com",
        "requestId": "req", "routeKey": "$default", "stage": "$default", "time": "22/Nov/2026:00:00:00 +0000",
        "timeEpoch": 0,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "approval-test/1.0"}
    });
    match who {
        Who::Nobody => {}
        Who::Jwt(sub, email) => {
            ctx["authorizer"] = json!({"jwt": {"claims": {"sub": sub, "email": email, "email_verified": "true", "iss": "https://idp.example.com"}, "scopes": null}})
        }
        Who::JwtClaims(claims) => {
            ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}})
        }
        Who::Iam(arn) => {
            ctx["authorizer"] = json!({"iam": {"accountId": "123456789012", "userArn": arn, "callerId": "AIDA", "userId": "AIDA"}})
        }
        Who::IamWithId(arn, id) => {
            ctx["authorizer"] = json!({"iam": {"accountId": "123456789012", "userArn": arn, "callerId": id, "userId": id}})
        }
    }
    let mut ev = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": h, "requestContext": ctx, "isBase64Encoded": false
    });
    if let Some(b) = body {
        ev["body"] = json!(b);
    }
    ev
}

// ---------------------------------------------------------------- the fixture

pub const ALICE: (&str, &str) = ("sub-alice", "alice@example.org");
pub const BOB: (&str, &str) = ("sub-bob", "bob@example.org");
pub const CAROL: (&str, &str) = ("sub-carol", "carol@example.org");
pub const CI_ROLE: &str = "arn:aws:sts::123456789012:assumed-role/ReleaseBot/ci";
/// The approvers the deployment allows (`TRAINGUARD_APPROVERS`).
pub const DEPLOY_APPROVERS: &[&str] = &[
    ALICE.1,
    "group:ml-leads",
    "arn:aws:iam::123456789012:role/ReleaseBot",
    MOTO_CLI_ARN,
    CLI_REVIEWER_ARN,
];
/// The IAM user `tests/tests/cli.rs` reviews as: created in moto's IAM, its requests signed
/// by the real CLI and verified by the API Gateway stand-in (`trainguard_tests::api_gateway`).
pub const CLI_REVIEWER_ARN: &str = "arn:aws:iam::123456789012:user/trainguard-reviewer";
/// The HTTP API the handler answers (`TRAINGUARD_APPROVAL_API_ID`); [`apigw_event`] sends it.
pub const API_ID: &str = "api";
/// What moto's STS GetCallerIdentity answers for the test credentials.
pub const MOTO_CLI_ARN: &str = "arn:aws:sts::123456789012:user/moto";

/// moto + the waiting state machine + the handler behind the Lambda router.
pub struct Fixture {
    pub moto: MotoServer,
    pub clients: Clients,
    pub service: Arc<ApprovalService<SdkAws>>,
    pub bucket: String,
    pub topic_arn: String,
    pub state_machine_arn: String,
    pub package_arn: String,
    /// Every reply the handler gave the state machine's invoke.
    pub invocations: Arc<Mutex<Vec<String>>>,
}

/// The state machine: one `.waitForTaskToken` task passing the contract's fields.
pub fn definition() -> String {
    json!({
        "Comment": "approval gate (test)",
        "StartAt": "WaitForApproval",
        "States": {
            "WaitForApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "approval-handler",
                    "Payload": {
                        "task_token.$": "$$.Task.Token",
                        "execution_name.$": "$$.Execution.Name",
                        "model_package_arn.$": "$.model_package_arn",
                        "metrics.$": "$.metrics",
                        "drift.$": "$.drift",
                        "report_uri.$": "$.report_uri",
                        "started_by.$": "$.started_by",
                        "approvers.$": "$.approvers",
                        "expires_in_seconds.$": "$.expires_in_seconds",
                        "bucket.$": "$.bucket",
                        "entered_at.$": "$$.State.EnteredTime",
                        "execution_input.$": "$$.Execution.Input"
                    }
                },
                "TimeoutSeconds": 3600,
                "End": true
            }
        }
    })
    .to_string()
}

impl Fixture {
    /// Start everything; `base_url` is where the page is served (the browser test's
    /// local server) or a placeholder.
    pub async fn start(base_url: &str) -> Fixture {
        init_logs();
        let router = LambdaRouter::bind().await;
        let router_port = router.port().to_string();
        let moto = MotoServer::start_with_env(&[("MOTO_PORT", router_port.as_str())]);
        moto.enable_sfn_execution().await;
        let clients = moto.clients().await;
        let bucket = unique_bucket("approvals");
        create_bucket(&clients, &bucket).await;
        let topic_arn = clients
            .sns
            .create_topic()
            .name("model-approvals")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let config = ApprovalConfig {
            bucket: Some(bucket.clone()),
            base_url: Some(base_url.trim_end_matches('/').to_string()),
            topic_arn: Some(topic_arn.clone()),
            // The deploy-time policy (the template's Reviewers); `input` names a subset.
            approvers: DEPLOY_APPROVERS.iter().map(|a| a.to_string()).collect(),
            api_id: Some(API_ID.into()),
            ..ApprovalConfig::default()
        };
        let service =
            Arc::new(ApprovalService::new(Arc::new(SdkAws::new(&clients)), config).unwrap());
        let invocations = router.replies();
        let handler = service.clone();
        router
            .function("approval-handler", move |event| {
                let service = handler.clone();
                async move { Ok(handle_event(&service, event).await?) }
            })
            .spawn();

        let state_machine_arn = clients
            .sfn
            .create_state_machine()
            .name(format!("approval-gate-{}", &bucket[bucket.len() - 8..]))
            .definition(definition())
            .role_arn("arn:aws:iam::123456789012:role/states")
            .send()
            .await
            .unwrap()
            .state_machine_arn;

        clients
            .sagemaker
            .create_model_package_group()
            .model_package_group_name("churn")
            .send()
            .await
            .unwrap();
        let package_arn = clients
            .sagemaker
            .create_model_package()
            .model_package_group_name("churn")
            .model_approval_status(
                aws_sdk_sagemaker::types::ModelApprovalStatus::PendingManualApproval,
            )
            .send()
            .await
            .unwrap()
            .model_package_arn
            .unwrap();
        Fixture {
            moto,
            clients,
            service,
            bucket,
            topic_arn,
            state_machine_arn,
            package_arn,
            invocations,
        }
    }

    /// A fresh model package (one per approval, so each test sees its own status).
    pub async fn new_package(&self) -> String {
        self.clients
            .sagemaker
            .create_model_package()
            .model_package_group_name("churn")
            .model_approval_status(
                aws_sdk_sagemaker::types::ModelApprovalStatus::PendingManualApproval,
            )
            .send()
            .await
            .unwrap()
            .model_package_arn
            .unwrap()
    }

    pub async fn package_status(&self, arn: &str) -> String {
        self.clients
            .sagemaker
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
            .unwrap()
            .model_approval_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    }

    /// The pipeline's input for the approval state.
    pub fn input(&self, package_arn: &str, expires_in_seconds: u64) -> Value {
        json!({
            "model_package_arn": package_arn,
            "metrics": {
                "candidate": {"auc": 0.912, "f1": 0.803, "logloss": 0.281},
                "baseline": {"auc": 0.897, "f1": 0.790, "logloss": 0.295},
                "thresholds": {"auc": 0.85, "f1": 0.75, "logloss": 0.35}
            },
            "drift": {"drift_detected": true, "drifted_features": ["tenure_months"],
                      "report_uri": format!("s3://{}/pipeline/x/reports/drift.json", self.bucket),
                      "html_report_uri": format!("s3://{}/pipeline/x/reports/drift.html", self.bucket)},
            "report_uri": format!("s3://{}/pipeline/x/evaluation/report.json", self.bucket),
            "started_by": BOB.1,
            // People by email, programs by role (any session of it), the CLI's moto identity.
            "approvers": [ALICE.1, "group:ml-leads", "arn:aws:iam::123456789012:role/ReleaseBot", MOTO_CLI_ARN],
            "expires_in_seconds": expires_in_seconds,
            "bucket": self.bucket,
        })
    }

    /// Write the run's start record as pipeline-trigger does before it starts an
    /// execution (`trainguard::origin`): the input's `started_by` is the authenticated
    /// starter here. The handler reads the starter from this record only.
    pub async fn attest_start(&self, name: &str, input: &Value) {
        let origin = trainguard::origin::StartOrigin {
            started_by: input["started_by"].as_str().map(str::to_string),
            starter_kind: trainguard::origin::StarterKind::IamCaller,
            channel: "http".into(),
            event_id: None,
            source_ip: None,
        };
        let record = origin.record(name, input, chrono::Utc::now());
        let uri = trainguard::origin::start_record_uri(&self.bucket, name);
        put_object(
            &self.clients,
            &self.bucket,
            &uri.key,
            serde_json::to_vec(&record).unwrap(),
        )
        .await;
    }

    /// Start an execution (its start record first, as the trigger does) and wait until
    /// the handler has stored its approval; returns (execution ARN, approval id, the raw
    /// stored record).
    ///
    /// [`Fixture::input`]'s report links name `pipeline/x/`; they are moved under this
    /// execution's prefix, as the shipped ASL always names the run's own objects (the
    /// handler presigns nothing else).
    pub async fn start_and_wait(&self, name: &str, mut input: Value) -> (String, String, Value) {
        replace_in_strings(&mut input, "/pipeline/x/", &format!("/pipeline/{name}/"));
        self.attest_start(name, &input).await;
        let exec = self
            .clients
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .unwrap()
            .execution_arn;
        let prefix = format!("pipeline/{name}/approvals/");
        let start = Instant::now();
        loop {
            let keys = list_keys(&self.clients, &self.bucket, &prefix).await;
            if let Some(k) = keys.first() {
                let id = k
                    .trim_start_matches(&prefix)
                    .trim_end_matches(".json")
                    .to_string();
                let raw = get_object(&self.clients, &self.bucket, &format!("approvals/{id}.json"))
                    .await
                    .unwrap();
                return (exec, id, serde_json::from_slice(&raw).unwrap());
            }
            if start.elapsed() > Duration::from_secs(60) {
                let h = self
                    .clients
                    .sfn
                    .get_execution_history()
                    .execution_arn(&exec)
                    .send()
                    .await
                    .unwrap();
                panic!(
                    "no approval record for {name} after 60 s; history: {:?}",
                    h.events()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Wait until the execution leaves RUNNING.
    pub async fn wait_done(
        &self,
        exec: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        let start = Instant::now();
        loop {
            let d = self
                .clients
                .sfn
                .describe_execution()
                .execution_arn(exec)
                .send()
                .await
                .unwrap();
            if d.status != aws_sdk_sfn::types::ExecutionStatus::Running {
                return d;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "execution {exec} still RUNNING after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every SNS message published (moto keeps them on the topic; read via its API).
    pub async fn sns_messages(&self) -> Vec<String> {
        let data: Value =
            serde_json::from_str(&self.moto.get("/moto-api/data.json").await).unwrap();
        let mut out = Vec::new();
        for topic in data["sns"]["Topic"].as_array().cloned().unwrap_or_default() {
            for n in topic["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                // (message_id, message, subject, attributes, group_id)
                out.push(format!(
                    "{} {}",
                    n[2].as_str().unwrap_or(""),
                    n[1].as_str().unwrap_or("")
                ));
            }
        }
        out
    }

    /// Every audit entry written so far.
    pub async fn audit_events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for k in list_keys(&self.clients, &self.bucket, "audit/approvals/").await {
            let raw = get_object(&self.clients, &self.bucket, &k).await.unwrap();
            out.push(serde_json::from_slice(&raw).unwrap());
        }
        out
    }

    /// The raw stored record.
    pub async fn record(&self, id: &str) -> Value {
        let raw = get_object(&self.clients, &self.bucket, &format!("approvals/{id}.json"))
            .await
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    /// Run one API Gateway event through the handler; (status, headers, body).
    pub async fn http(&self, event: Value) -> (u16, Value, String) {
        let out = handle_event(&self.service, event).await.unwrap();
        (
            out["statusCode"].as_u64().unwrap() as u16,
            out["headers"].clone(),
            out["body"].as_str().unwrap_or("").to_string(),
        )
    }
}

/// The value of `name="csrf_token"` in a page.
pub fn csrf_from_page(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// Assert that `token` appears in none of the texts (logs, URLs, notifications, pages).
pub fn assert_no_token(token: &str, what: &str, text: &str) {
    assert!(token.len() > 16, "suspiciously short token {token:?}");
    assert!(!text.contains(token), "the task token leaked into {what}");
}

// ---------------------------------------------------------------- the shipped request

/// The approval request exactly as the shipped state machine sends it, captured from a
/// real end-to-end run (pipeline_e2e, `drift_forces_review`, refreshes it with
/// `TRAINGUARD_UPDATE_FIXTURES=1`; the task token is a placeholder).
pub const SHIPPED_REQUEST: &str = "tests/fixtures/approval/shipped-request.json";

/// [`SHIPPED_REQUEST`], parsed.
pub fn shipped_request() -> Value {
    trainguard_tests::json_shape::read_fixture(&workspace_root().join(SHIPPED_REQUEST))
}

/// The request the shipped state machine sends for a candidate compared with a model in
/// production (pipeline_e2e, `evaluation_gate::mixed_rows_go_to_review`, refreshes it with
/// `TRAINGUARD_UPDATE_FIXTURES=1`): overall, slice, fairness, importance, latency and
/// size rows, some failed.
pub const SHIPPED_COMPARISON: &str = "tests/fixtures/approval/shipped-comparison.json";

/// Every string in `v` with `from` replaced by `to`.
fn replace_in_strings(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_in_strings(x, from, to)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_in_strings(x, from, to)),
        _ => {}
    }
}

impl Fixture {
    /// [`Fixture::input`] with the `metrics`, `drift` and `report_uri` of
    /// [`SHIPPED_REQUEST`], so a test renders what the pipeline really sends rather than a
    /// shape made up for it. The captured run's objects
    /// (`s3://<its bucket>/pipeline/<its execution>/…`) are moved to this fixture's bucket
    /// and `execution_name`, as the shipped ASL always names the run's own objects.
    pub fn input_from_fixture(
        &self,
        execution_name: &str,
        package_arn: &str,
        expires_in_seconds: u64,
    ) -> Value {
        self.input_from(
            SHIPPED_REQUEST,
            execution_name,
            package_arn,
            expires_in_seconds,
        )
    }

    /// [`Fixture::input_from_fixture`] from another captured request (`fixture`, a path
    /// under the workspace).
    pub fn input_from(
        &self,
        fixture: &str,
        execution_name: &str,
        package_arn: &str,
        expires_in_seconds: u64,
    ) -> Value {
        let mut input = self.input(package_arn, expires_in_seconds);
        let shipped = trainguard_tests::json_shape::read_fixture(&workspace_root().join(fixture));
        let from = format!(
            "s3://{}/pipeline/{}/",
            shipped["bucket"].as_str().unwrap_or_default(),
            shipped["execution_name"].as_str().unwrap_or_default()
        );
        let to = format!("s3://{}/pipeline/{execution_name}/", self.bucket);
        for part in ["metrics", "drift", "report_uri"] {
            input[part] = shipped[part].clone();
            replace_in_strings(&mut input[part], &from, &to);
        }
        input
    }
}
