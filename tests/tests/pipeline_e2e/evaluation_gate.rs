//! The evaluation gate against the model in production (issue 14), on the local stack:
//! a baseline package is registered Approved in moto's model registry for the
//! scenario's endpoint, with its evaluation report in S3 as
//! `ModelMetrics.ModelQuality.Statistics`; the SageMaker stub writes the candidate's
//! report; the real pipeline-trigger finds the baseline (ListModelPackages, then
//! DescribeModelPackage), compares and routes, and the shipped ASL follows the route.

use super::*;

/// A report in the format of schemas/evaluation-report.schema.json: the objective
/// (`validation:accuracy`), f1 and log_loss, two slices, latency and size, and the top
/// ten features `f<first>`..`f<first+9>`.
fn eval_report(acc: f64, f1: f64, loss: f64, slices: (f64, f64), p99: f64, first: usize) -> Value {
    json!({
        "schema_version": 1,
        "overall": {
            "validation:accuracy": {"value": acc, "goal": "maximize"},
            "f1": {"value": f1, "goal": "maximize"},
            "log_loss": {"value": loss, "goal": "minimize"}
        },
        "segments": {
            "contract=monthly": {"rows": 60, "metrics": {"validation:accuracy": slices.0, "f1": slices.0}},
            "contract=yearly": {"rows": 40, "metrics": {"validation:accuracy": slices.1, "f1": slices.1}}
        },
        "latency_ms": {"p50": p99 / 4.0, "p95": p99 / 2.0, "p99": p99},
        "size": {"artifact_bytes": 2_000_000, "memory_bytes": 50_000_000},
        "feature_importance": (first..first + 10)
            .map(|i| json!({"feature": format!("f{i}"), "importance": 1.0 / (i as f64 + 1.0)}))
            .collect::<Vec<_>>()
    })
}

/// Production's report for every scenario here.
fn production_report() -> Value {
    eval_report(0.90, 0.88, 0.30, (0.89, 0.91), 40.0, 0)
}

/// Register, as a previous run would have, an Approved package of the stack's group for
/// `endpoint` whose report is `report`; its ARN.
async fn register_baseline(stack: &Stack, endpoint: &str, report: &Value) -> String {
    let key = format!("pipeline/baseline-{endpoint}/evaluation/evaluation.json");
    stack.put(&key, report.to_string().into_bytes()).await;
    let uri = format!("s3://{}/{key}", stack.bucket());
    let group = stack.info["model_package_group"].as_str().unwrap();
    let quality = aws_sdk_sagemaker::types::ModelQuality::builder()
        .statistics(
            aws_sdk_sagemaker::types::MetricsSource::builder()
                .content_type("application/json")
                .s3_uri(&uri)
                .build(),
        )
        .build();
    let out = stack
        .sm
        .create_model_package()
        .model_package_group_name(group)
        .model_package_description(format!("production model of {endpoint}"))
        .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Approved)
        .model_metrics(
            aws_sdk_sagemaker::types::ModelMetrics::builder()
                .model_quality(quality)
                .build(),
        )
        .customer_metadata_properties("trainguard:endpoint", endpoint)
        .send()
        .await
        .expect("register the baseline package");
    out.model_package_arn().unwrap().to_string()
}

fn rows(out: &Value) -> &Vec<Value> {
    out["comparison"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no comparison rows in {out}"))
}

fn row<'a>(out: &'a Value, dimension: &str, name: &str, slice: Option<&str>) -> &'a Value {
    rows(out)
        .iter()
        .find(|r| {
            r["dimension"] == dimension
                && r["name"] == name
                && r.get("slice").and_then(Value::as_str) == slice
        })
        .unwrap_or_else(|| panic!("no {dimension} row {name} {slice:?} in {out}"))
}

/// Better than production on every row: auto-promoted and deployed, registered with its
/// report as ModelMetrics, and from then on the newest Approved package of the endpoint,
/// the baseline of the next run.
pub(super) async fn better_than_production_promotes(stack: Arc<Stack>) {
    let name = "e2e-eval-better";
    let endpoint = "scn-eval-better";
    let baseline = register_baseline(stack.as_ref(), endpoint, &production_report()).await;
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params(endpoint)}),
            json!({"evaluation": {"report": eval_report(0.93, 0.90, 0.27, (0.92, 0.94), 35.0, 1)}}),
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
            "Evaluate",
            "ReadEvaluation",
            "EvaluationGate",
            "MarkAutoPromote",
            "RegisterModel",
            "AutoApprove",
            "Deployed",
        ],
        name,
    );
    let history = stack.history(&arn).await;
    let out = task_payload(&history, "ReadEvaluation");
    assert_eq!(out["route"], "auto", "{out}");
    assert_eq!(out["comparison"]["band"], "improved");
    assert_eq!(out["comparison"]["baseline_package"], json!(baseline));
    assert_eq!(
        out["comparison"]["baseline_report_uri"],
        json!(format!(
            "s3://{}/pipeline/baseline-{endpoint}/evaluation/evaluation.json",
            stack.bucket()
        ))
    );
    assert_eq!(out["baseline"]["validation:accuracy"], 0.90);
    // 3 overall, 4 slice, 2 fairness rows and the importance overlap (9 of 11: 0.82).
    assert_eq!(
        (
            out["comparison"]["passed"].as_u64(),
            out["comparison"]["failed"].as_u64()
        ),
        (Some(10), Some(0)),
        "{out}"
    );
    let overlap = row(&out, "importance", "top-10 overlap", None);
    assert!(
        (overlap["candidate"].as_f64().unwrap() - 9.0 / 11.0).abs() < 1e-9,
        "{overlap}"
    );
    assert_eq!(row(&out, "overall", "log_loss", None)["status"], "improved");
    // Registered with its report attached, for the next run to compare against.
    let (package, meta) = registered_package(&stack, &arn).await.expect("registered");
    assert_eq!(meta["trainguard:endpoint"], endpoint);
    assert_eq!(meta["trainguard:evaluation_band"], "improved");
    let d = stack
        .sm
        .describe_model_package()
        .model_package_name(&package)
        .send()
        .await
        .unwrap();
    let stats = d
        .model_metrics()
        .and_then(|m| m.model_quality())
        .and_then(|q| q.statistics())
        .and_then(|s| s.s3_uri())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        stats,
        format!(
            "s3://{}/pipeline/{name}/evaluation/evaluation.json",
            stack.bucket()
        )
    );
    // The endpoint key survives the approval (written again by AutoApprove).
    assert_eq!(
        d.customer_metadata_properties()
            .and_then(|m| m.get("trainguard:endpoint"))
            .map(String::as_str),
        Some(endpoint)
    );
    assert_eq!(approval_status(&stack, &package).await, "Approved");
    // The next run of this endpoint compares with this package: what read-evaluation's
    // lookup answers now, through the real binary.
    let (ok, next) = stack
        .invoke(
            "pipeline-trigger",
            &json!({"task": "read-evaluation", "report_uri": stats, "objective": {"metric": "validation:accuracy", "goal": "Maximize"},
                    "model_package_group": stack.info["model_package_group"], "endpoint_name": endpoint,
                    "execution_name": "e2e-eval-next"}),
        )
        .await;
    assert!(ok, "{next}");
    assert_eq!(
        next["comparison"]["baseline_package"],
        json!(package),
        "{next}"
    );
    // Itself against itself: every row held, nothing improved.
    assert_eq!(next["comparison"]["band"], "within_tolerance", "{next}");
}

/// Better overall, but one slice 7.9 % worse and the gap between the slices wider: a
/// person decides, and the approval record shows which rows passed and failed.
pub(super) async fn mixed_rows_go_to_review(stack: Arc<Stack>) {
    let name = "e2e-eval-mixed";
    let endpoint = "scn-eval-mixed";
    register_baseline(stack.as_ref(), endpoint, &production_report()).await;
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params(endpoint)}),
            json!({"evaluation": {"report": eval_report(0.92, 0.90, 0.28, (0.82, 0.96), 35.0, 0)}}),
        )
        .await;
    let id = stack.approval_id(name, &arn).await;
    assert_subsequence(
        &stack.path(&arn).await,
        &[
            "ReadEvaluation",
            "EvaluationGate",
            "MarkHumanReview",
            "RegisterModel",
            "ApprovalGate",
        ],
        name,
    );
    let history = stack.history(&arn).await;
    let out = task_payload(&history, "ReadEvaluation");
    assert_eq!(out["route"], "human", "{out}");
    let monthly = row(
        &out,
        "segment",
        "validation:accuracy",
        Some("contract=monthly"),
    );
    assert_eq!(
        (monthly["status"].as_str(), monthly["passed"].as_bool()),
        (Some("degraded"), Some(false)),
        "{monthly}"
    );
    assert_eq!(
        row(&out, "fairness", "validation:accuracy gap", None)["passed"],
        false
    );
    assert_eq!(
        row(&out, "overall", "validation:accuracy", None)["passed"],
        true
    );
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("[contract=monthly]"),
        "{out}"
    );
    // What the reviewer gets: the approval record carries the comparison as sent.
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
    assert_eq!(record["metrics"]["comparison"], out["comparison"]);
    // The browser test renders this request: TRAINGUARD_UPDATE_FIXTURES=1 rewrites it from
    // this run (the ApprovalGate's payload as scheduled, the token replaced).
    let fixture = workspace_root().join("tests/fixtures/approval/shipped-comparison.json");
    if json_shape::updating_fixtures() {
        let mut sent = history
            .iter()
            .filter_map(|e| e.task_scheduled_event_details())
            .filter_map(|d| serde_json::from_str::<Value>(d.parameters()).ok())
            .map(|p| p["Payload"].clone())
            .find(|p| p.get("task_token").is_some())
            .expect("the ApprovalGate's payload");
        sent["task_token"] = json!("<task-token>");
        json_shape::write_fixture(&fixture, &sent);
    }
    json_shape::assert_same_shape(
        &format!("{name}: approvals/{id}.json against {}", fixture.display()),
        &json!({"metrics": json_shape::read_fixture(&fixture)["metrics"]}),
        &json!({"metrics": record["metrics"]}),
    );
    stack.decide(&id, "reject").await;
    stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &["Approval.Rejected"],
            &["ApprovalGate", "Compensate"],
        )
        .await;
}

/// Better on every metric, but its P99 (150 ms) breaks the SLA the execution asks for
/// (60 ms, a tightening the deployment accepts): rejected, an investigation published
/// with the whole comparison, nothing registered, the run compensated.
pub(super) async fn hard_limit_rejects_and_investigates(stack: Arc<Stack>) {
    let name = "e2e-eval-reject";
    let endpoint = "scn-eval-reject";
    register_baseline(stack.as_ref(), endpoint, &production_report()).await;
    let arn = stack
        .start_execution(
            name,
            stack.sample.clone(),
            json!({"endpoint": endpoint_params(endpoint), "evaluation_gate": {"latency_p99_ms": 60, "max_metric_drop": 0.5}}),
            json!({"evaluation": {"report": eval_report(0.95, 0.93, 0.20, (0.94, 0.96), 150.0, 0)}}),
        )
        .await;
    let path = stack
        .expect_failure(
            &arn,
            name,
            "Pipeline.EvaluationFailed",
            &[
                "Evaluation.BelowThreshold",
                "hard limit broken: p99_ms 150 > 60",
            ],
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
    assert!(!path.iter().any(|p| p == "RegisterModel"), "{path:?}");
    let history = stack.history(&arn).await;
    let out = task_payload(&history, "ReadEvaluation");
    assert_eq!(out["route"], "reject");
    // The request could tighten the SLA, not loosen the metric drop.
    assert_eq!(out["policy"]["latency_p99_ms"].as_f64(), Some(60.0));
    assert_eq!(out["policy"]["max_metric_drop"], 0.02);
    let p99 = row(&out, "latency", "p99_ms", None);
    assert_eq!(
        (p99["status"].as_str(), p99["hard"].as_bool()),
        (Some("over_limit"), Some(true))
    );
    // The investigation went out (SNS accepted it), carrying the comparison.
    assert!(
        published_after(&history, "NotifyInvestigation"),
        "no investigation published"
    );
    let sent = history
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .filter(|d| d.resource_type() == "sns")
        .filter_map(|d| serde_json::from_str::<Value>(d.parameters()).ok())
        .find(|p| {
            p["Subject"]
                .as_str()
                .is_some_and(|s| s.contains("investigate"))
        })
        .expect("the investigation's publish");
    let message = match &sent["Message"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
        m => m.clone(),
    };
    assert_eq!(message["kind"], "evaluation.investigation");
    assert_eq!(message["execution"], json!(arn));
    assert_eq!(message["comparison"], out["comparison"]);
    let done = compensator_actions(&stack, &arn, "done").await;
    assert!(
        done.contains(&format!("s3.delete:pipeline/{name}/model/")),
        "{done:?}"
    );
}
