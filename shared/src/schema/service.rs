//! What the schema-validator Lambda does, minus the runtime: decode the input (Step
//! Functions task input, S3 event notification, EventBridge "Object Created"), run the
//! validation, write the report to S3 and build the small output.
//!
//! # Task input
//!
//! ```json
//! {"task": "validate", "data": "s3://b/features/2024-06-01/", "contract": "s3://b/contracts/features.json",
//!  "report_uri": "s3://b/pipeline/exec-1/reports/schema.json", "execution_name": "exec-1"}
//! ```
//!
//! - `task`: `"validate"` (default), `"partial"` or `"merge"`.
//! - `data`: an `s3://` object or prefix, or an array of them (validated as one dataset).
//! - `contract`: `s3://` URI of the contract; defaults to `TRAINGUARD_CONTRACT_URI`.
//! - `report_uri`: where the full report goes; default
//!   `s3://<bucket>/pipeline/<execution_name>/reports/schema.json` with an execution name,
//!   else `s3://<bucket>/<TRAINGUARD_REPORT_PREFIX>/<time>-<object>.json`; `<bucket>` is
//!   `TRAINGUARD_REPORT_BUCKET` or the data's bucket.
//!
//! Output: `{"passed", "rows", "objects", "violations": {"error", "warning"},
//! "first_violations": [...], "report_uri"}`.
//!
//! # Fan-out for large datasets (Distributed Map)
//!
//! - `{"task": "partial", "data": "s3://b/k/part-7.parquet", "execution_name": ...}` observes
//!   one object and writes its mergeable [`PartialResult`] to `partial_uri` (default
//!   `<report dir>/schema-parts/<object name>-<hash>.json`); it returns the object's own
//!   verdict (without the dataset-level row-count check) plus `"partial_uri"`.
//! - `{"task": "merge", "results": [...], "execution_name": ...}` merges: `results` holds
//!   partial outputs (objects with `partial_uri`), bare `s3://` URIs, or inline partial
//!   results; or `results_prefix` names a prefix holding them (default, with an
//!   execution name: the `schema-parts/` directory above). The output is the dataset
//!   verdict, exactly as one `validate` over all objects would give it.

use serde::Deserialize;
use serde_json::{json, Value};

use super::contract::Contract;
use super::report::{evaluate, Report};
use super::stats::PartialResult;
use super::{observe_objects, reader_for, SchemaError};
use crate::aws::S3Store;
use crate::dataset::{DataError, DataReader};
use crate::error::CommonError;
use crate::events::TriggerEvent;
use crate::lambda::Deadline;
use crate::storage::{Location, S3Uri};

/// Configuration from the environment.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// `TRAINGUARD_CONTRACT_URI`: the contract for S3/EventBridge events (and the
    /// default for task inputs without one).
    pub contract_uri: Option<String>,
    /// `TRAINGUARD_REPORT_BUCKET`: bucket for reports (default: the data's bucket).
    pub report_bucket: Option<String>,
    /// `TRAINGUARD_REPORT_PREFIX`: key prefix for reports of runs without an execution
    /// name (default `reports/schema/`).
    pub report_prefix: String,
}

impl ServiceConfig {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        ServiceConfig {
            contract_uri: var("TRAINGUARD_CONTRACT_URI"),
            report_bucket: var("TRAINGUARD_REPORT_BUCKET"),
            report_prefix: var("TRAINGUARD_REPORT_PREFIX")
                .unwrap_or_else(|| "reports/schema/".into()),
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Validate,
    Partial {
        partial_uri: Option<S3Uri>,
    },
    Merge {
        results: Vec<Value>,
        results_prefix: Option<S3Uri>,
    },
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub task: Task,
    /// The data (objects or prefixes); empty for merges.
    pub data: Vec<S3Uri>,
    pub contract: S3Uri,
    pub report_uri: Option<S3Uri>,
    pub execution_name: Option<String>,
    /// Which input shape it came from: `task`, `s3`, `eventbridge`.
    pub source: &'static str,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct TaskInput {
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    data: Option<OneOrMany>,
    #[serde(default)]
    contract: Option<String>,
    #[serde(default)]
    report_uri: Option<String>,
    #[serde(default)]
    partial_uri: Option<String>,
    #[serde(default)]
    results: Option<Vec<Value>>,
    #[serde(default)]
    results_prefix: Option<String>,
}

fn invalid(msg: impl Into<String>) -> SchemaError {
    SchemaError::Common(CommonError::InvalidInput(msg.into()))
}

fn uri(s: &str) -> Result<S3Uri, SchemaError> {
    Ok(S3Uri::parse(s)?)
}

/// The objects an S3 event notification or an EventBridge "Object Created" event names,
/// through the one event decoder ([`crate::events`]); an event that names none (only
/// removals, a test event, a schedule tick) is refused: there is nothing to validate.
fn event_objects(input: &Value) -> Result<Vec<S3Uri>, SchemaError> {
    match crate::events::decode(input)? {
        TriggerEvent::Objects(objects) => Ok(objects
            .iter()
            .map(|o| S3Uri::new(&o.bucket, &o.key))
            .collect()),
        TriggerEvent::Nothing(why) => Err(invalid(format!("the event names no new object: {why}"))),
        TriggerEvent::Schedule(_) => Err(invalid("a scheduled event names no data to validate")),
    }
}

/// Decode any accepted input shape.
pub fn decode(input: &Value, cfg: &ServiceConfig) -> Result<Request, SchemaError> {
    let execution_name = crate::lambda::execution_name(input);
    let Some(obj) = input.as_object() else {
        return Err(invalid(format!(
            "expected a JSON object, got {}",
            crate::error::json_type_name(input)
        )));
    };
    let env_contract = || -> Result<S3Uri, SchemaError> {
        let c = cfg.contract_uri.as_deref().ok_or_else(|| {
            SchemaError::Common(CommonError::MissingField(
                "contract (or TRAINGUARD_CONTRACT_URI for S3/EventBridge events)".into(),
            ))
        })?;
        uri(c)
    };

    if obj.contains_key("Records") || obj.contains_key("detail-type") {
        return Ok(Request {
            task: Task::Validate,
            data: event_objects(input)?,
            contract: env_contract()?,
            report_uri: None,
            execution_name,
            source: if obj.contains_key("Records") {
                "s3"
            } else {
                "eventbridge"
            },
        });
    }

    let t: TaskInput =
        serde_json::from_value(input.clone()).map_err(|e| invalid(format!("task input: {e}")))?;
    let contract = match &t.contract {
        Some(c) => uri(c)?,
        None => env_contract()?,
    };
    let data: Vec<S3Uri> = match &t.data {
        Some(OneOrMany::One(s)) => vec![uri(s)?],
        Some(OneOrMany::Many(v)) => v.iter().map(|s| uri(s)).collect::<Result<_, _>>()?,
        None => vec![],
    };
    let report_uri = t.report_uri.as_deref().map(uri).transpose()?;
    let task = match t.task.as_deref().unwrap_or("validate") {
        "validate" => Task::Validate,
        "partial" => Task::Partial {
            partial_uri: t.partial_uri.as_deref().map(uri).transpose()?,
        },
        "merge" => {
            let results_prefix = t.results_prefix.as_deref().map(uri).transpose()?;
            let results = t.results.clone().unwrap_or_default();
            if results.is_empty() && results_prefix.is_none() && execution_name.is_none() {
                return Err(SchemaError::Common(CommonError::MissingField(
                    "results (or results_prefix, or execution_name)".into(),
                )));
            }
            Task::Merge {
                results,
                results_prefix,
            }
        }
        other => {
            return Err(invalid(format!(
                "unknown task {other:?}: use validate, partial or merge"
            )))
        }
    };
    if data.is_empty() && !matches!(task, Task::Merge { .. }) {
        return Err(SchemaError::Common(CommonError::MissingField(
            "data".into(),
        )));
    }
    if matches!(task, Task::Partial { .. }) && data.len() != 1 {
        return Err(invalid("task \"partial\" takes exactly one data URI"));
    }
    Ok(Request {
        task,
        data,
        contract,
        report_uri,
        execution_name,
        source: "task",
    })
}

/// The result of one invocation, with what the metrics need.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The JSON returned to the caller.
    pub output: Value,
    pub rows: u64,
    pub objects: usize,
    pub errors: u64,
    pub warnings: u64,
    pub passed: bool,
}

/// The validator service: clients built once, requests handled many times.
#[derive(Debug, Clone)]
pub struct Service {
    store: S3Store,
    config: ServiceConfig,
}

/// A short, safe file name for an object key: its last segment plus a hash of the
/// whole key (so `a/x.csv` and `b/x.csv` differ).
fn object_tag(u: &S3Uri) -> String {
    let h = super::values::hash_bytes(u.to_string().as_bytes());
    let name: String = u
        .file_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{name}-{:08x}", h as u32)
}

impl Service {
    pub fn new(store: S3Store, config: ServiceConfig) -> Self {
        Service { store, config }
    }

    fn report_bucket(&self, req: &Request) -> Result<String, SchemaError> {
        if let Some(b) = &self.config.report_bucket {
            return Ok(b.clone());
        }
        // A merge has no data: the bucket of its partial results, else the contract's.
        let from_results = || -> Option<String> {
            let Task::Merge {
                results,
                results_prefix,
            } = &req.task
            else {
                return None;
            };
            if let Some(p) = results_prefix {
                return Some(p.bucket.clone());
            }
            results.iter().find_map(|r| {
                let s = r
                    .as_str()
                    .or_else(|| r.get("partial_uri").and_then(Value::as_str))?;
                S3Uri::parse(s).ok().map(|u| u.bucket)
            })
        };
        Ok(req
            .data
            .first()
            .map(|u| u.bucket.clone())
            .or_else(|| req.report_uri.as_ref().map(|u| u.bucket.clone()))
            .or_else(from_results)
            .unwrap_or_else(|| req.contract.bucket.clone()))
    }

    /// Where the full report goes.
    pub fn report_uri(&self, req: &Request) -> Result<S3Uri, SchemaError> {
        if let Some(u) = &req.report_uri {
            return Ok(u.clone());
        }
        let bucket = self.report_bucket(req)?;
        Ok(match &req.execution_name {
            Some(e) => S3Uri::new(bucket, format!("pipeline/{e}/reports/schema.json")),
            None => {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
                let tag = req
                    .data
                    .first()
                    .map(object_tag)
                    .unwrap_or_else(|| "merge".into());
                let prefix = self.config.report_prefix.trim_end_matches('/');
                S3Uri::new(bucket, format!("{prefix}/{stamp}-{tag}.json"))
            }
        })
    }

    /// The directory of per-object partial results for a run.
    fn parts_prefix(&self, req: &Request) -> Result<S3Uri, SchemaError> {
        let report = self.report_uri(req)?;
        let dir = report
            .key
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        Ok(S3Uri::new(report.bucket, format!("{dir}schema-parts/")))
    }

    async fn load_contract(&self, u: &S3Uri) -> Result<Contract, SchemaError> {
        let bytes = self.store.get(u).await?;
        Contract::from_json(&bytes).map_err(|e| match e {
            SchemaError::InvalidContract(m) => SchemaError::InvalidContract(format!("{u}: {m}")),
            other => other,
        })
    }

    async fn put_json(&self, u: &S3Uri, v: &impl serde::Serialize) -> Result<(), SchemaError> {
        let body =
            serde_json::to_vec_pretty(v).map_err(|e| invalid(format!("encoding {u}: {e}")))?;
        self.store.put(u, body, "application/json").await?;
        Ok(())
    }

    /// Handle one input.
    pub async fn handle(&self, input: &Value, deadline: &Deadline) -> Result<Outcome, SchemaError> {
        let req = decode(input, &self.config)?;
        self.run(&req, deadline).await
    }

    /// Run a decoded request.
    pub async fn run(&self, req: &Request, deadline: &Deadline) -> Result<Outcome, SchemaError> {
        let contract = self.load_contract(&req.contract).await?;
        let reader = reader_for(Some(self.store.clone()), &contract);
        let contract_uri = req.contract.to_string();
        match &req.task {
            Task::Validate => {
                let objects = self.list_all(&reader, &req.data).await?;
                let partial = observe_objects(&reader, &objects, &contract, deadline).await?;
                let report = evaluate(
                    &contract,
                    &partial,
                    &data_name(&req.data),
                    Some(&contract_uri),
                );
                self.finish(req, &report).await
            }
            Task::Partial { partial_uri } => {
                // A Distributed Map over a raw S3 listing also hands us folder markers
                // and `_SUCCESS`-style files: not data, nothing to merge.
                let target = &req.data[0];
                if target.key.ends_with('/') || target.file_name().starts_with(['_', '.']) {
                    let output = json!({
                        "passed": true, "rows": 0, "objects": 0,
                        "violations": {"error": 0, "warning": 0}, "first_violations": [],
                        "partial_uri": null,
                        "skipped": format!("{target} is a folder marker or a hidden/marker file, not data"),
                    });
                    return Ok(Outcome {
                        output,
                        rows: 0,
                        objects: 0,
                        errors: 0,
                        warnings: 0,
                        passed: true,
                    });
                }
                let objects = self.list_all(&reader, &req.data).await?;
                let partial = observe_objects(&reader, &objects, &contract, deadline).await?;
                let target = match partial_uri {
                    Some(u) => u.clone(),
                    None => self
                        .parts_prefix(req)?
                        .join(&format!("{}.json", object_tag(&req.data[0]))),
                };
                self.put_json(&target, &partial).await?;
                // The object's own verdict: the row-count bound is for the whole dataset.
                let mut per_object = contract.clone();
                per_object.row_count = None;
                let report = evaluate(
                    &per_object,
                    &partial,
                    &data_name(&req.data),
                    Some(&contract_uri),
                );
                let verdict = report.verdict(None);
                let mut output =
                    serde_json::to_value(&verdict).map_err(|e| invalid(e.to_string()))?;
                output["partial_uri"] = json!(target.to_string());
                Ok(Outcome {
                    output,
                    rows: report.rows,
                    objects: report.objects.len(),
                    errors: report.violations.error,
                    warnings: report.violations.warning,
                    passed: report.passed,
                })
            }
            Task::Merge {
                results,
                results_prefix,
            } => {
                let mut parts: Vec<PartialResult> = Vec::new();
                for r in results {
                    parts.push(self.load_partial(r).await?);
                }
                let prefix = match (results_prefix, results.is_empty()) {
                    (Some(p), _) => Some(p.clone()),
                    (None, true) => Some(self.parts_prefix(req)?),
                    (None, false) => None,
                };
                if let Some(p) = prefix {
                    let mut listed = self.store.list(&p).await?;
                    listed.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
                    for o in listed.into_iter().filter(|o| o.uri.key.ends_with(".json")) {
                        if deadline.expired() {
                            return Err(SchemaError::Common(CommonError::DeadlineExceeded(
                                format!(
                                    "merged {} partial result(s) before the deadline",
                                    parts.len()
                                ),
                            )));
                        }
                        parts.push(self.read_partial(&o.uri).await?);
                    }
                }
                let merged = PartialResult::merge_in_object_order(parts, contract.max_examples())?
                    .ok_or_else(|| DataError::NoObjects("(no partial results to merge)".into()))?;
                let name = merged
                    .objects
                    .first()
                    .map(|o| {
                        format!(
                            "{} (+{} more)",
                            o.object,
                            merged.objects.len().saturating_sub(1)
                        )
                    })
                    .unwrap_or_default();
                let report = evaluate(&contract, &merged, &name, Some(&contract_uri));
                self.finish(req, &report).await
            }
        }
    }

    async fn list_all(
        &self,
        reader: &DataReader,
        data: &[S3Uri],
    ) -> Result<Vec<crate::dataset::ObjectRef>, SchemaError> {
        let mut out = Vec::new();
        for u in data {
            out.extend(reader.list(&Location::S3(u.clone())).await?);
        }
        Ok(out)
    }

    async fn read_partial(&self, u: &S3Uri) -> Result<PartialResult, SchemaError> {
        let bytes = self.store.get(u).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("{u} is not a partial result: {e}")))
    }

    async fn load_partial(&self, v: &Value) -> Result<PartialResult, SchemaError> {
        match v {
            Value::String(s) => self.read_partial(&uri(s)?).await,
            Value::Object(o) if o.contains_key("partial_uri") => match o.get("partial_uri") {
                Some(Value::String(s)) => self.read_partial(&uri(s)?).await,
                _ => Err(invalid("partial_uri must be a string")),
            },
            Value::Object(o) if o.contains_key("contract_fingerprint") => {
                serde_json::from_value(v.clone()).map_err(|e| invalid(format!("inline partial result: {e}")))
            }
            other => Err(invalid(format!("a merge result must be an s3:// URI, a partial output with partial_uri, or a partial result; got {}", crate::error::json_type_name(other)))),
        }
    }

    async fn finish(&self, req: &Request, report: &Report) -> Result<Outcome, SchemaError> {
        let target = self.report_uri(req)?;
        self.put_json(&target, report).await?;
        let verdict = report.verdict(Some(target.to_string()));
        let output = serde_json::to_value(&verdict).map_err(|e| invalid(e.to_string()))?;
        Ok(Outcome {
            output,
            rows: report.rows,
            objects: report.objects.len(),
            errors: report.violations.error,
            warnings: report.violations.warning,
            passed: report.passed,
        })
    }
}

/// The EMF metrics of one invocation: `RowsRead`, `ObjectsRead`, `Violations` (error
/// severity), `Warnings`, `ChecksFailed` (1 when the verdict is "failed") and `Errors`
/// (1 when the invocation failed), with the execution name as a property.
pub fn metrics(
    result: &Result<Outcome, SchemaError>,
    execution: Option<&str>,
) -> crate::telemetry::Metrics {
    let mut m = crate::telemetry::Metrics::new("schema-validator");
    if let Some(e) = execution {
        m.property("ExecutionName", e);
    }
    match result {
        Ok(o) => {
            m.count("RowsRead", o.rows)
                .count("ObjectsRead", o.objects as u64)
                .count("Violations", o.errors)
                .count("Warnings", o.warnings)
                .count("ChecksFailed", u64::from(!o.passed))
                .count("Errors", 0);
        }
        Err(e) => {
            use crate::ErrorName;
            m.property("ErrorName", e.error_name());
            m.count("Errors", 1);
        }
    }
    m
}

fn data_name(data: &[S3Uri]) -> String {
    data.iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;

    fn cfg() -> ServiceConfig {
        ServiceConfig {
            contract_uri: Some("s3://cfg-bucket/contract.json".into()),
            report_bucket: None,
            report_prefix: "reports/schema/".into(),
        }
    }

    fn sample(name: &str) -> Value {
        let path = crate::test_support::repo_path(&format!("events/schema-validator/{name}"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn decodes_each_sample_event() {
        let t = decode(&sample("task-input.json"), &cfg()).unwrap();
        assert_eq!(t.source, "task");
        assert_eq!(t.task, Task::Validate);
        assert!(t.execution_name.is_some());
        let s = decode(&sample("s3-event.json"), &cfg()).unwrap();
        assert_eq!(s.source, "s3");
        assert_eq!(s.contract.to_string(), "s3://cfg-bucket/contract.json");
        assert!(
            s.data[0].key.contains(' '),
            "URL-decoded key: {}",
            s.data[0].key
        );
        let e = decode(&sample("eventbridge-object-created.json"), &cfg()).unwrap();
        assert_eq!(e.source, "eventbridge");
        let m = decode(&sample("merge-input.json"), &cfg()).unwrap();
        assert!(matches!(m.task, Task::Merge { .. }));
        let p = decode(&sample("partial-input.json"), &cfg()).unwrap();
        assert!(matches!(p.task, Task::Partial { .. }));
    }

    #[test]
    fn malformed_inputs_get_input_error_names() {
        let c = cfg();
        let cases = [
            (json!([1, 2]), "InputError.InvalidEvent"),
            (json!("s3://x/y"), "InputError.InvalidEvent"),
            (
                json!({"contract": "s3://bkt/c.json"}),
                "InputError.MissingField",
            ),
            (
                json!({"data": 5, "contract": "s3://bkt/c.json"}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"data": "bucket/key", "contract": "s3://bkt/c.json"}),
                "InputError.InvalidUri",
            ),
            (
                json!({"data": "s3://bkt/k", "contract": "s3://bkt/c.json", "task": "explode"}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
                "InputError.InvalidEvent",
            ),
            // The one event decoder names the missing field, as for the trigger.
            (
                json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}),
                "InputError.MissingField",
            ),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-12-03T10:00:00Z", "detail": {}}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"task": "merge", "contract": "s3://bkt/c.json"}),
                "InputError.MissingField",
            ),
        ];
        for (input, name) in cases {
            let e = decode(&input, &c).unwrap_err();
            assert_eq!(e.error_name(), name, "{input}: {e}");
        }
        let no_env = ServiceConfig::default();
        let e = decode(&sample("s3-event.json"), &no_env).unwrap_err();
        assert_eq!(e.error_name(), "InputError.MissingField");
    }

    #[test]
    fn s3_notification_keys_are_url_decoded_and_bad_ones_refused() {
        // The sample notification (the shape S3 sends) with another key.
        let event = |key: &str| {
            let mut v = sample("s3-event.json");
            v["Records"][0]["s3"]["object"]["key"] = json!(key);
            v
        };
        let r = decode(&event("in/my+file%3D1.csv"), &cfg()).unwrap();
        assert_eq!(r.data[0].key, "in/my file=1.csv");
        let e = decode(&event("in/bad%zz.csv"), &cfg()).unwrap_err();
        assert_eq!(e.error_name(), "InputError.InvalidEvent");
    }

    #[test]
    fn report_locations_follow_the_execution_layout() {
        let svc = Service::new(
            S3Store::new(aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::Config::builder()
                    .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                    .build(),
            )),
            cfg(),
        );
        let mut req = decode(&json!({"data": "s3://data-bkt/x/part.csv", "contract": "s3://bkt/c.json", "execution_name": "run-7"}), &cfg()).unwrap();
        assert_eq!(
            svc.report_uri(&req).unwrap().to_string(),
            "s3://data-bkt/pipeline/run-7/reports/schema.json"
        );
        assert_eq!(
            svc.parts_prefix(&req).unwrap().to_string(),
            "s3://data-bkt/pipeline/run-7/reports/schema-parts/"
        );
        req.execution_name = None;
        let u = svc.report_uri(&req).unwrap();
        assert!(
            u.key.starts_with("reports/schema/")
                && u.key.ends_with(".json")
                && u.key.contains("part.csv"),
            "{u}"
        );
    }
}
