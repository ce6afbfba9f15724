//! Every sample event in `events/<function>/` decodes through the decoder its function's
//! handler calls first, so the files `cargo lambda invoke --data-file` is pointed at (and
//! the docs quote) never drift from the code. A new file in a function's folder is
//! decoded too, and a new folder fails the test until it is given its decoder here.

use serde_json::Value;

use crate::approval::http::{is_http_event, parse_decision_body};
use crate::approval::ApprovalRequest;
use crate::drift::task::{parse_config, TaskInput};
use crate::schema::service::{decode, ServiceConfig};
use crate::schema::Contract;
use crate::trigger::{self, Request, TriggerConfig, TriggerMode};

/// Decode one sample as its function does; Err says why not.
fn decode_sample(function: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match function {
        "schema-validator" if name == "contract.json" => Contract::from_json(bytes)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "schema-validator" => {
            let cfg = ServiceConfig {
                contract_uri: Some("s3://samples/contracts/features.json".into()),
                report_bucket: None,
                report_prefix: "reports/schema/".into(),
            };
            decode(&v, &cfg).map(|_| ()).map_err(|e| e.to_string())
        }
        "drift-detector" => {
            let input: TaskInput = serde_json::from_value(v).map_err(|e| e.to_string())?;
            input.locations().map_err(|e| e.to_string())?;
            parse_config(&input.config)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "batch-size-adjuster" => {
            futures::executor::block_on(crate::training::recover(&v, &crate::training::NoLogs))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "saga-compensator" => {
            crate::saga::Request::from_json(&v, crate::saga::Options::from_lookup(|_| None))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "approval-handler" if is_http_event(&v) => {
            let req: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
                serde_json::from_value(v).map_err(|e| e.to_string())?;
            if req.request_context.http.method == http::Method::POST {
                parse_decision_body(&req)
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))?;
            }
            Ok(())
        }
        "approval-handler" => {
            let req: ApprovalRequest = serde_json::from_value(v).map_err(|e| e.to_string())?;
            req.validate(chrono::Utc::now(), 86_400)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "pipeline-trigger" => {
            let cfg = TriggerConfig {
                state_machine_arn: Some(
                    "arn:aws:states:us-east-1:123456789012:stateMachine:trainguard".into(),
                ),
                data_bucket: Some("samples".into()),
                data_prefix: "data/".into(),
                mode: TriggerMode::Object,
                api_id: Some("local".into()),
                artifacts_bucket: Some("samples".into()),
                ..TriggerConfig::default()
            };
            match trigger::classify(&v).map_err(|e| e.to_string())? {
                Request::Trigger(event) => trigger::plan(&event, &cfg)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Request::SelectBest(req) => trigger::select_best::select_best(&req)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Request::Manual(event) => trigger::manual::plan_manual(&event, &cfg)
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
                Request::Fingerprint(_) | Request::ReadEvaluation(_) => Ok(()),
            }
        }
        other => Err(format!(
            "no decoder for events/{other}/: add one to sample_events.rs"
        )),
    }
}

#[test]
fn every_sample_event_decodes_as_its_function_decodes_it() {
    let root = crate::test_support::repo_path("events");
    let mut failures = Vec::new();
    let mut decoded = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "data"))
        .collect();
    dirs.sort();
    for dir in &dirs {
        let function = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no sample event", dir.display());
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            match decode_sample(&function, &name, &std::fs::read(&file).unwrap()) {
                Ok(()) => decoded += 1,
                Err(e) => failures.push(format!("events/{function}/{name}: {e}")),
            }
        }
    }
    assert_eq!(dirs.len(), 6, "one folder per function");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(decoded >= 28, "only {decoded} samples decoded");
}
