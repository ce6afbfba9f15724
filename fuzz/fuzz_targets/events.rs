//! Every function's event decoding, on one JSON document: the Lambda runtime hands each
//! handler a `serde_json::Value`, and each handler's first step is a library decoder.
//! Every input goes through all six (most are refused by all but one, which is what an
//! event sent to the wrong function looks like):
//!
//! - schema-validator: `schema::service::decode` (task input, S3 notification,
//!   EventBridge "Object Created", `%XX`/`+` key decoding), and `Contract::from_json` +
//!   `check` on the same bytes (the contract is the other JSON it reads);
//! - drift-detector: `TaskInput` as its main.rs decodes it, the locations it parses
//!   and `parse_config`; `Profile::from_profile_json` on the bytes (profiles and
//!   baselines are read back from S3);
//! - batch-size-adjuster: `training::recover` with no logs (decode, classify, plan);
//! - saga-compensator: `saga::Request::from_json`;
//! - approval-handler: the HTTP API v2 shape (`is_http_event`, the request type,
//!   identity, body, cross-site check) or the approval request (`ApprovalRequest` +
//!   `validate`, the record and its metric rows);
//! - pipeline-trigger: `trigger::classify`, then `plan` for events and `select_best`.
//!
//! Errors must carry a documented name; only panics, hangs and huge allocations fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trainguard::approval::http::{
    cross_site_check, identity_from_context, is_http_event, parse_decision_body,
};
use trainguard::approval::{metric_rows, ApprovalRecord, ApprovalRequest, Decision};
use trainguard::drift::task::{parse_config, TaskInput};
use trainguard::schema::service::{decode, ServiceConfig};
use trainguard::schema::Contract;
use trainguard::trigger::{self, select_best, Request, TriggerConfig, TriggerMode};
use trainguard_fuzz::{block_on, check_name, BoundedAlloc};

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

fn schema_validator(v: &Value, bytes: &[u8]) {
    let cfg = ServiceConfig {
        contract_uri: Some("s3://fuzz-bucket/contracts/features.json".into()),
        report_bucket: None,
        report_prefix: "reports/schema/".into(),
    };
    if let Err(e) = decode(v, &cfg) {
        check_name(&e);
    }
    match Contract::from_json(bytes) {
        Ok(c) => {
            if let Err(e) = c.check() {
                check_name(&e);
            }
            let _ = c.fingerprint();
        }
        Err(e) => {
            check_name(&e);
        }
    }
}

fn drift_detector(v: &Value, bytes: &[u8]) {
    if let Ok(input) = serde_json::from_value::<TaskInput>(v.clone()) {
        if let Err(e) = input.locations() {
            check_name(&e);
        }
        if let Err(e) = parse_config(&input.config) {
            assert!(trainguard::catalog::lookup(e.name).is_some(), "{}", e.name);
        }
    }
    if let Err(e) = trainguard::profile::Profile::from_profile_json(bytes) {
        check_name(&e);
    }
}

fn batch_size_adjuster(v: &Value) {
    let logs = trainguard::training::NoLogs;
    if let Err(e) = block_on(trainguard::training::recover(v, &logs)) {
        check_name(&e);
    }
}

fn saga_compensator(v: &Value) {
    let options = trainguard::saga::Options::from_lookup(|_| None);
    if let Err(e) = trainguard::saga::Request::from_json(v, options) {
        check_name(&e);
    }
}

fn approval_handler(v: &Value) {
    if is_http_event(v) {
        let Ok(req) =
            serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(v.clone())
        else {
            return;
        };
        let _ = identity_from_context(&req.request_context);
        let _ = cross_site_check(&req.headers, Some("https://approvals.example.com"));
        if let Ok((form, _)) = parse_decision_body(&req) {
            let _ = form.decision.as_deref().and_then(Decision::parse);
        }
    } else if v.get("task_token").is_some() {
        let Ok(req) = serde_json::from_value::<ApprovalRequest>(v.clone()) else {
            return;
        };
        let now = chrono::Utc::now();
        match req.validate(now, 86_400) {
            Ok(expires_at) => {
                let rec = ApprovalRecord::new(&req, "fuzz".into(), now, expires_at);
                let _ = metric_rows(&rec.metrics);
                let _ = rec.public_view();
            }
            Err(e) => {
                check_name(&e);
            }
        }
    }
}

fn pipeline_trigger(v: &Value) {
    let cfg = TriggerConfig {
        state_machine_arn: Some(
            "arn:aws:states:us-east-1:123456789012:stateMachine:trainguard".into(),
        ),
        data_bucket: Some("fuzz-bucket".into()),
        data_prefix: "data/".into(),
        mode: TriggerMode::Object,
        api_id: Some("api".into()),
        artifacts_bucket: Some("fuzz-bucket".into()),
        ..TriggerConfig::default()
    };
    let marker = TriggerConfig {
        mode: TriggerMode::Marker("_SUCCESS".into()),
        ..cfg.clone()
    };
    match trigger::classify(v) {
        Ok(Request::Trigger(event)) => {
            for c in [&cfg, &marker] {
                if let Err(e) = trigger::plan(&event, c) {
                    check_name(&e);
                }
            }
        }
        Ok(Request::SelectBest(req)) => {
            if let Err(e) = select_best::select_best(&req) {
                check_name(&e);
            }
        }
        Ok(Request::Manual(event)) => {
            // Any HTTP event: a plan or a refusal, never a panic.
            let _ = trigger::manual::plan_manual(&event, &cfg);
        }
        Ok(_) => {}
        Err(e) => {
            check_name(&e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = trainguard::lambda::execution_name(&v);
    schema_validator(&v, data);
    drift_detector(&v, data);
    batch_size_adjuster(&v);
    saga_compensator(&v);
    approval_handler(&v);
    pipeline_trigger(&v);
});
