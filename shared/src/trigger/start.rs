//! Starting: the plan's executions through `StartExecution`.
//!
//! [`start_all`] runs the [`plan`](super::plan) through an [`ExecutionStarter`];
//! `ExecutionAlreadyExists` is a duplicate delivery, reported as success. The Step
//! Functions implementation is `crate::aws::sdk::SfnStarter`, in the AWS layer.

use std::future::Future;

use serde_json::{json, Value};

use super::config::TriggerConfig;
use super::plan::Plan;
use super::TriggerError;
use crate::error::CommonError;
use crate::origin::{start_record_uri, StartRecord};
use crate::storage::S3Uri;

/// What writing a start record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This call wrote it.
    New,
    /// A record was there already (an earlier delivery or a retry): it stands.
    Existing(StartRecord),
}

/// Where start records are written once (S3 with `If-None-Match: *`; in memory in tests).
pub trait StartRecorder {
    fn record(
        &self,
        uri: &S3Uri,
        record: &StartRecord,
    ) -> impl Future<Output = Result<Recorded, CommonError>> + Send;
}

/// What StartExecution said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution.
    Started { execution_arn: String },
    /// An execution with this name exists already: a duplicate delivery.
    AlreadyExists,
}

/// Something that starts executions (Step Functions, or an in-memory fake in tests).
pub trait ExecutionStarter {
    fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<StartOutcome, CommonError>> + Send;
}

/// How much earlier than our request an execution must have started to count as one
/// that existed before it (clock skew between this function and Step Functions).
const IDEMPOTENT_REPLY_SKEW: std::time::Duration = std::time::Duration::from_secs(2);

/// Step Functions answers StartExecution with the same name and the same input as a
/// running execution with that execution, without an error (S3 may deliver one event
/// twice, byte for byte). Its `startDate` then predates the request: that is how a
/// duplicate with identical input that raced past the DescribeExecution check is told
/// from a new execution.
pub(crate) fn started_before(start_date_ms: Option<i64>, asked: std::time::SystemTime) -> bool {
    let Some(ms) = start_date_ms else {
        return false;
    };
    let asked_ms = asked
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ms < asked_ms - IDEMPOTENT_REPLY_SKEW.as_millis() as i64
}

/// The ARN an execution of `state_machine_arn` named `name` has.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Run the plan. The output is `{"execution_arn", "started", "duplicate"}` for the first
/// execution (the common case is exactly one), plus every execution and every ignored
/// object.
///
/// Before each start, the run's start record ([`crate::origin`]) is written once. When a
/// record for that name exists already with another input (a second delivery of the same
/// object through another channel), that delivery owns the name and this one is a
/// duplicate: it starts nothing, so the execution always matches its record.
pub async fn start_all<S: ExecutionStarter, R: StartRecorder>(
    starter: &S,
    recorder: &R,
    plans: Vec<Plan>,
    cfg: &TriggerConfig,
) -> Result<Value, TriggerError> {
    let mut executions = Vec::new();
    let mut ignored = Vec::new();
    for p in plans {
        match p {
            Plan::Ignore { what, reason } => {
                tracing::info!(%what, %reason, "ignored");
                ignored.push(json!({"object": what, "reason": reason}));
            }
            Plan::Start {
                name,
                input,
                origin,
            } => {
                let sm = cfg.state_machine_arn.as_deref().ok_or_else(|| {
                    TriggerError::Misconfigured("TRAINGUARD_STATE_MACHINE_ARN is not set".into())
                })?;
                let bucket = cfg.require_artifacts_bucket()?;
                let record = origin.record(&name, &input, chrono::Utc::now());
                let owned = match recorder
                    .record(&start_record_uri(bucket, &name), &record)
                    .await?
                {
                    Recorded::New => true,
                    Recorded::Existing(prev) => prev.input_sha256 == record.input_sha256,
                };
                let body = input.to_string();
                let outcome = if owned {
                    starter.start(sm, &name, &body).await?
                } else {
                    StartOutcome::AlreadyExists
                };
                let (arn, started, duplicate) = match outcome {
                    StartOutcome::Started { execution_arn } => (execution_arn, true, false),
                    StartOutcome::AlreadyExists => (execution_arn(sm, &name), false, true),
                };
                tracing::info!(execution_name = %name, started, duplicate, "execution");
                executions.push(json!({"execution_arn": arn, "execution_name": name, "started": started, "duplicate": duplicate}));
            }
        }
    }
    let first = executions
        .first()
        .cloned()
        .unwrap_or_else(|| json!({"execution_arn": null, "started": false, "duplicate": false}));
    let mut out = first;
    if let Some(o) = out.as_object_mut() {
        o.insert("executions".into(), Value::Array(executions));
        o.insert("ignored".into(), Value::Array(ignored));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan;
    use super::super::plan::tests::{cfg, eb_event, s3_event};
    use super::*;
    use crate::error::ErrorName;
    use crate::events::decode;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Behaves like Step Functions for names: a second start with a known name is
    /// `ExecutionAlreadyExists` unless the input is identical (idempotent success).
    #[derive(Default)]
    struct FakeSfn {
        seen: Mutex<HashMap<String, String>>,
    }

    impl ExecutionStarter for FakeSfn {
        async fn start(
            &self,
            sm: &str,
            name: &str,
            input: &str,
        ) -> Result<StartOutcome, CommonError> {
            let mut seen = self.seen.lock().unwrap();
            match seen.get(name) {
                Some(prev) if prev == input => Ok(StartOutcome::Started {
                    execution_arn: execution_arn(sm, name),
                }),
                Some(_) => Ok(StartOutcome::AlreadyExists),
                None => {
                    seen.insert(name.to_string(), input.to_string());
                    Ok(StartOutcome::Started {
                        execution_arn: execution_arn(sm, name),
                    })
                }
            }
        }
    }

    /// Start records in memory, written once.
    #[derive(Default)]
    struct Records(Mutex<HashMap<String, StartRecord>>);

    impl StartRecorder for Records {
        async fn record(&self, uri: &S3Uri, r: &StartRecord) -> Result<Recorded, CommonError> {
            let mut m = self.0.lock().unwrap();
            match m.get(&uri.to_string()) {
                Some(prev) => Ok(Recorded::Existing(prev.clone())),
                None => {
                    m.insert(uri.to_string(), r.clone());
                    Ok(Recorded::New)
                }
            }
        }
    }

    #[tokio::test]
    async fn each_start_is_recorded_first_with_its_input_digest() {
        let (sfn, records) = (FakeSfn::default(), Records::default());
        let c = cfg();
        let out = start_all(
            &sfn,
            &records,
            plan(&decode(&s3_event("data/x.csv", 10)).unwrap(), &c).unwrap(),
            &c,
        )
        .await
        .unwrap();
        let name = out["execution_name"].as_str().unwrap();
        let m = records.0.lock().unwrap();
        let rec = &m[&format!("s3://art-bkt/pipeline/{name}/start.json")];
        assert_eq!(rec.started_by.as_deref(), Some("X"));
        let input: Value = serde_json::from_str(&sfn.seen.lock().unwrap()[name]).unwrap();
        assert_eq!(rec.input_sha256, crate::origin::input_digest(&input));
    }

    #[tokio::test]
    async fn duplicate_deliveries_start_one_execution() {
        let sfn = FakeSfn::default();
        let records = Records::default();
        let c = cfg();
        let first = start_all(
            &sfn,
            &records,
            plan(&decode(&s3_event("data/x.csv", 10)).unwrap(), &c).unwrap(),
            &c,
        )
        .await
        .unwrap();
        assert_eq!(first["started"], true);
        assert_eq!(first["duplicate"], false);
        // The same version through EventBridge: other input, same name.
        let again = start_all(
            &sfn,
            &records,
            plan(&decode(&eb_event("data/x.csv")).unwrap(), &c).unwrap(),
            &c,
        )
        .await
        .unwrap();
        assert_eq!(again["started"], false);
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["execution_arn"], first["execution_arn"]);
        assert_eq!(sfn.seen.lock().unwrap().len(), 1);
        let arn = first["execution_arn"].as_str().unwrap();
        assert!(
            arn.starts_with(
                "arn:aws:states:us-east-1:123456789012:execution:tg-pipeline:new-x-csv-"
            ),
            "{arn}"
        );
    }

    #[test]
    fn an_idempotent_reply_is_told_by_its_earlier_start_date() {
        let asked = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_000);
        // Started a minute before we asked: the running execution Step Functions returned.
        assert!(started_before(Some(1_800_000_000_000 - 60_000), asked));
        // Started as we asked, within clock skew either way: a new execution.
        assert!(!started_before(Some(1_800_000_000_000 - 1_500), asked));
        assert!(!started_before(Some(1_800_000_000_000 + 300), asked));
        assert!(!started_before(None, asked));
    }

    #[tokio::test]
    async fn without_a_state_machine_nothing_starts() {
        let c = TriggerConfig {
            state_machine_arn: None,
            ..cfg()
        };
        let plans = plan(&decode(&eb_event("data/x.csv")).unwrap(), &c).unwrap();
        let e = start_all(&FakeSfn::default(), &Records::default(), plans, &c)
            .await
            .unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
    }
}
