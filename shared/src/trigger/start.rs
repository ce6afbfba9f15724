//! From a decoded event to `StartExecution` calls.
//!
//! [`plan`] is pure: it decides which executions to start, with which names and inputs,
//! and which objects to ignore (folder markers, keys outside the data prefix, empty
//! objects). [`start_all`] runs the plan through an [`ExecutionStarter`];
//! `ExecutionAlreadyExists` is a duplicate delivery, reported as success.

use std::future::Future;

use serde_json::{json, Value};

use super::event::{ObjectCreated, ScheduleTick, TriggerEvent};
use super::{name, TriggerError};
use crate::aws::classify_sdk_error;
use crate::error::CommonError;

/// Which new objects start a run, and over what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerMode {
    /// Every new object starts a run over that object (`TRAINGUARD_TRIGGER_ON=object`).
    Object,
    /// Only a marker object (e.g. `_SUCCESS`) starts a run, over the directory holding it
    /// (`TRAINGUARD_TRIGGER_ON=marker:_SUCCESS`): for datasets written as many parts.
    Marker(String),
}

/// Settings (environment variables in Lambda).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerConfig {
    /// `TRAINGUARD_STATE_MACHINE_ARN`.
    pub state_machine_arn: Option<String>,
    /// `TRAINGUARD_DATA_BUCKET`: what scheduled runs train on.
    pub data_bucket: Option<String>,
    /// `TRAINGUARD_DATA_PREFIX` (default `data/`): objects elsewhere are ignored; scheduled
    /// runs take the whole prefix.
    pub data_prefix: String,
    /// `TRAINGUARD_TRIGGER_ON`: `object` (default) or `marker:<file name>`.
    pub mode: TriggerMode,
    /// `TRAINGUARD_PIPELINE_PARAMETERS`: a JSON object passed as the execution's
    /// `parameters` (overrides of the state machine's defaults).
    pub parameters: Option<Value>,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            state_machine_arn: None,
            data_bucket: None,
            data_prefix: "data/".into(),
            mode: TriggerMode::Object,
            parameters: None,
        }
    }
}

impl TriggerConfig {
    /// Read the settings from the environment.
    pub fn from_env() -> Result<Self, TriggerError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mode = match var("TRAINGUARD_TRIGGER_ON").as_deref() {
            None | Some("object") => TriggerMode::Object,
            Some(m) => match m.strip_prefix("marker:") {
                Some(file) if !file.is_empty() && !file.contains('/') => {
                    TriggerMode::Marker(file.to_string())
                }
                _ => {
                    return Err(TriggerError::Misconfigured(format!(
                        "TRAINGUARD_TRIGGER_ON={m:?}: expected object or marker:<file name>"
                    )))
                }
            },
        };
        let parameters = match var("TRAINGUARD_PIPELINE_PARAMETERS") {
            None => None,
            Some(s) => match serde_json::from_str::<Value>(&s) {
                Ok(v @ Value::Object(_)) => Some(v),
                _ => {
                    return Err(TriggerError::Misconfigured(
                        "TRAINGUARD_PIPELINE_PARAMETERS must be a JSON object".into(),
                    ))
                }
            },
        };
        Ok(TriggerConfig {
            state_machine_arn: var("TRAINGUARD_STATE_MACHINE_ARN"),
            data_bucket: var("TRAINGUARD_DATA_BUCKET"),
            data_prefix: var("TRAINGUARD_DATA_PREFIX").unwrap_or_else(|| "data/".into()),
            mode,
            parameters,
        })
    }
}

/// One decision of the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Start an execution with this name and input.
    Start { name: String, input: Value },
    /// Nothing to start, and why.
    Ignore { what: String, reason: String },
}

/// Decide what to start. Pure.
pub fn plan(event: &TriggerEvent, cfg: &TriggerConfig) -> Result<Vec<Plan>, TriggerError> {
    match event {
        TriggerEvent::Nothing(why) => Ok(vec![Plan::Ignore {
            what: "event".into(),
            reason: why.clone(),
        }]),
        TriggerEvent::Objects(objs) => Ok(objs.iter().map(|o| plan_object(o, cfg)).collect()),
        TriggerEvent::Schedule(tick) => Ok(vec![plan_schedule(tick, cfg)?]),
    }
}

fn plan_object(o: &ObjectCreated, cfg: &TriggerConfig) -> Plan {
    let what = format!("s3://{}/{}", o.bucket, o.key);
    let ignore = |reason: &str| Plan::Ignore {
        what: what.clone(),
        reason: reason.to_string(),
    };
    if o.key.ends_with('/') {
        return ignore("a folder marker, not data");
    }
    if !o.key.starts_with(&cfg.data_prefix) {
        return ignore(&format!("outside the data prefix {:?}", cfg.data_prefix));
    }
    let file = o.key.rsplit('/').next().unwrap_or("");
    let prefix = match &cfg.mode {
        TriggerMode::Object => {
            if o.size == Some(0) {
                return ignore("an empty object");
            }
            o.key.clone()
        }
        TriggerMode::Marker(marker) => {
            if file != marker {
                return ignore(&format!(
                    "not the marker {marker:?}: the run starts when the marker lands"
                ));
            }
            o.key[..o.key.len() - file.len()].to_string()
        }
    };
    let input = json!({
        "trigger": {
            "type": "new-data",
            "source": o.channel,
            "bucket": o.bucket,
            "key": o.key,
            "version_id": o.version_id,
            "etag": o.etag,
            "size": o.size,
            "event_time": o.event_time,
            "event_id": o.event_id,
            "started_by": "pipeline-trigger",
        },
        "data": {"bucket": o.bucket, "prefix": prefix},
    });
    Plan::Start {
        name: name::for_object(o),
        input: with_parameters(input, cfg),
    }
}

fn plan_schedule(tick: &ScheduleTick, cfg: &TriggerConfig) -> Result<Plan, TriggerError> {
    let bucket = cfg.data_bucket.clone().ok_or_else(|| {
        TriggerError::Misconfigured(
            "TRAINGUARD_DATA_BUCKET is not set: a scheduled run needs its data".into(),
        )
    })?;
    let input = json!({
        "trigger": {
            "type": "schedule",
            "source": "schedule",
            "rule": tick.rule,
            "event_time": tick.time,
            "event_id": tick.event_id,
            "started_by": "pipeline-trigger",
        },
        "data": {"bucket": bucket, "prefix": cfg.data_prefix},
    });
    Ok(Plan::Start {
        name: name::for_schedule(tick),
        input: with_parameters(input, cfg),
    })
}

fn with_parameters(mut input: Value, cfg: &TriggerConfig) -> Value {
    if let (Some(p), Some(o)) = (&cfg.parameters, input.as_object_mut()) {
        o.insert("parameters".into(), p.clone());
    }
    input
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

/// The real one.
#[derive(Debug, Clone)]
pub struct SfnStarter(pub aws_sdk_sfn::Client);

/// How much earlier than our request an execution must have started to count as one
/// that existed before it (clock skew between this function and Step Functions).
const IDEMPOTENT_REPLY_SKEW: std::time::Duration = std::time::Duration::from_secs(2);

/// Step Functions answers StartExecution with the same name and the same input as a
/// running execution with that execution, without an error (S3 may deliver one event
/// twice, byte for byte). Its `startDate` then predates the request: that is how a
/// duplicate with identical input that raced past the DescribeExecution check is told
/// from a new execution.
fn started_before(start_date_ms: Option<i64>, asked: std::time::SystemTime) -> bool {
    let Some(ms) = start_date_ms else {
        return false;
    };
    let asked_ms = asked
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ms < asked_ms - IDEMPOTENT_REPLY_SKEW.as_millis() as i64
}

impl ExecutionStarter for SfnStarter {
    async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, CommonError> {
        // A duplicate delivery usually finds its execution already there. Asking first
        // tells it apart even when its input is identical, which StartExecution would
        // answer without an error. Any failure here (not found, or no permission) just
        // goes on to StartExecution, which decides.
        let arn = execution_arn(state_machine_arn, name);
        if self
            .0
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .is_ok()
        {
            return Ok(StartOutcome::AlreadyExists);
        }
        let asked = std::time::SystemTime::now();
        match self
            .0
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(out) if started_before(out.start_date().to_millis().ok(), asked) => {
                Ok(StartOutcome::AlreadyExists)
            }
            Ok(out) => Ok(StartOutcome::Started {
                execution_arn: out.execution_arn().to_string(),
            }),
            Err(e) => {
                if e.as_service_error()
                    .map(|s| s.is_execution_already_exists())
                    .unwrap_or(false)
                {
                    Ok(StartOutcome::AlreadyExists)
                } else {
                    Err(classify_sdk_error(&e, &format!("StartExecution {name}")))
                }
            }
        }
    }
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
pub async fn start_all<S: ExecutionStarter>(
    starter: &S,
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
            Plan::Start { name, input } => {
                let sm = cfg.state_machine_arn.as_deref().ok_or_else(|| {
                    TriggerError::Misconfigured("TRAINGUARD_STATE_MACHINE_ARN is not set".into())
                })?;
                let body = input.to_string();
                let (arn, started, duplicate) = match starter.start(sm, &name, &body).await? {
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
    use super::super::event::decode;
    use super::*;
    use crate::error::ErrorName;
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

    fn cfg() -> TriggerConfig {
        TriggerConfig {
            state_machine_arn: Some(
                "arn:aws:states:us-east-1:123456789012:stateMachine:tg-pipeline".into(),
            ),
            data_bucket: Some("art-bkt".into()),
            ..TriggerConfig::default()
        }
    }

    fn s3_event(key: &str, size: i64) -> Value {
        json!({"Records": [{
            "eventTime": "2026-11-22T00:10:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "X"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
            "responseElements": {}, "s3": {"bucket": {"name": "art-bkt"},
            "object": {"key": key, "size": size, "eTag": "e1", "versionId": "v1", "sequencer": "01"}}}]})
    }

    fn eb_event(key: &str) -> Value {
        json!({"version": "0", "id": "ev-1", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-22T00:10:00Z",
               "detail": {"bucket": {"name": "art-bkt"}, "object": {"key": key, "size": 10, "etag": "e1", "version-id": "v1"}}})
    }

    #[tokio::test]
    async fn duplicate_deliveries_start_one_execution() {
        let sfn = FakeSfn::default();
        let c = cfg();
        let first = start_all(
            &sfn,
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

    #[test]
    fn the_input_carries_the_trigger_context() {
        let plans = plan(&decode(&eb_event("data/day/x.csv")).unwrap(), &cfg()).unwrap();
        let Plan::Start { input, .. } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(input["trigger"]["type"], "new-data");
        assert_eq!(input["trigger"]["source"], "eventbridge");
        assert_eq!(input["trigger"]["version_id"], "v1");
        assert_eq!(
            input["data"],
            json!({"bucket": "art-bkt", "prefix": "data/day/x.csv"})
        );
        assert!(input.get("parameters").is_none());
    }

    #[test]
    fn ignored_objects() {
        let c = cfg();
        for (key, size) in [("data/", 0), ("other/x.csv", 5), ("data/empty.csv", 0)] {
            let plans = plan(&decode(&s3_event(key, size)).unwrap(), &c).unwrap();
            assert!(matches!(plans[0], Plan::Ignore { .. }), "{key}");
        }
    }

    #[test]
    fn marker_mode_runs_over_the_directory() {
        let c = TriggerConfig {
            mode: TriggerMode::Marker("_SUCCESS".into()),
            ..cfg()
        };
        let plans = plan(
            &decode(&eb_event("data/2026-11-22/part-0001.csv")).unwrap(),
            &c,
        )
        .unwrap();
        assert!(matches!(plans[0], Plan::Ignore { .. }));
        let plans = plan(&decode(&eb_event("data/2026-11-22/_SUCCESS")).unwrap(), &c).unwrap();
        let Plan::Start { input, .. } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(input["data"]["prefix"], "data/2026-11-22/");
    }

    #[test]
    fn schedule_needs_a_data_bucket() {
        let tick = decode(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T00:00:00Z",
                                   "resources": ["arn:aws:events:us-east-1:1:rule/r"], "detail": {}}))
        .unwrap();
        let c = TriggerConfig {
            parameters: Some(json!({"sweep": []})),
            ..cfg()
        };
        let plans = plan(&tick, &c).unwrap();
        let Plan::Start { input, name } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(
            input["data"],
            json!({"bucket": "art-bkt", "prefix": "data/"})
        );
        assert_eq!(input["trigger"]["type"], "schedule");
        assert_eq!(input["parameters"], json!({"sweep": []}));
        assert!(name.starts_with("scheduled-"));
        let e = plan(
            &tick,
            &TriggerConfig {
                data_bucket: None,
                ..cfg()
            },
        )
        .unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
    }

    #[tokio::test]
    async fn without_a_state_machine_nothing_starts() {
        let c = TriggerConfig {
            state_machine_arn: None,
            ..cfg()
        };
        let plans = plan(&decode(&eb_event("data/x.csv")).unwrap(), &c).unwrap();
        let e = start_all(&FakeSfn::default(), plans, &c).await.unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
    }
}
