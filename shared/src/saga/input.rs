//! The task input: decoding, defaults and the checks that make it safe to act on.
//!
//! Everything here is refused before any AWS call is made: a compensator that deletes
//! things must never act on a half-understood request. The one rule that matters most:
//! the S3 prefix must be the execution's own `pipeline/<execution-name>/` or lie under
//! it, so no input can make the saga delete another execution's (or anyone's) objects.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SagaError;
pub use crate::caught::CaughtError;
use crate::error::CommonError;

/// Pipeline stages, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Data,
    Training,
    Evaluation,
    Deployment,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Data,
        Stage::Training,
        Stage::Evaluation,
        Stage::Deployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Data => "data",
            Stage::Training => "training",
            Stage::Evaluation => "evaluation",
            Stage::Deployment => "deployment",
        }
    }

    /// Parse a stage name (case-insensitive; `data-preparation` and `deploy` accepted).
    pub fn parse(s: &str) -> Result<Stage, SagaError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "data" | "data-preparation" | "data_preparation" | "preprocessing" => Ok(Stage::Data),
            "training" | "train" => Ok(Stage::Training),
            "evaluation" | "evaluate" => Ok(Stage::Evaluation),
            "deployment" | "deploy" => Ok(Stage::Deployment),
            _ => Err(SagaError::InvalidStage(format!(
                "{s:?} is not a stage (expected data, training, evaluation or deployment)"
            ))),
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the pipeline's stages produced, as far as the saga needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub training_jobs: Vec<String>,
    pub model_package_arn: Option<String>,
    pub endpoint_name: Option<String>,
    pub previous_endpoint_config: Option<String>,
    pub new_endpoint_config: Option<String>,
    pub endpoint_created: bool,
    /// The SageMaker Model the deployment created (`tg-<run_id>`, state `CreateModel`):
    /// recorded before it is created, so it may never have existed.
    pub model_name: Option<String>,
}

/// Knobs, from the input's `options` object over environment defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Options {
    /// Delete every version and delete marker (ListObjectVersions), not just add
    /// delete markers. Env `TRAINGUARD_SAGA_VERSIONED_BUCKET`, default false.
    pub versioned_bucket: bool,
    /// Delete the model package instead of setting it to `Rejected`.
    /// Env `TRAINGUARD_SAGA_DELETE_MODEL_PACKAGE`, default false (keep the audit trail).
    pub delete_model_package: bool,
    /// Overrides the default `ApprovalDescription`.
    pub approval_description: Option<String>,
    /// Show the plan and the current state; change nothing (the journal included).
    pub dry_run: bool,
    /// How long a run's claim on the journal lasts without renewal.
    /// Env `TRAINGUARD_SAGA_LEASE_SECONDS`, default 120.
    pub lease_seconds: u64,
    /// Attempts per AWS call on throttling, and per key in DeleteObjects.
    /// Env `TRAINGUARD_SAGA_MAX_ATTEMPTS`, default 4.
    pub max_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            versioned_bucket: false,
            delete_model_package: false,
            approval_description: None,
            dry_run: false,
            lease_seconds: 120,
            max_attempts: 4,
        }
    }
}

impl Options {
    /// Defaults, overridden by the `TRAINGUARD_SAGA_*` environment variables.
    pub fn from_env() -> Options {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Defaults overridden by `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Options {
        let mut o = Options::default();
        let flag =
            |v: String| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes");
        if let Some(v) = lookup("TRAINGUARD_SAGA_VERSIONED_BUCKET") {
            o.versioned_bucket = flag(v);
        }
        if let Some(v) = lookup("TRAINGUARD_SAGA_DELETE_MODEL_PACKAGE") {
            o.delete_model_package = flag(v);
        }
        if let Some(v) = lookup("TRAINGUARD_SAGA_LEASE_SECONDS").and_then(|v| v.trim().parse().ok())
        {
            o.lease_seconds = v;
        }
        if let Some(v) = lookup("TRAINGUARD_SAGA_MAX_ATTEMPTS").and_then(|v| v.trim().parse().ok())
        {
            o.max_attempts = v;
        }
        o
    }
}

/// A validated compensation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub stage: Stage,
    pub execution_name: String,
    pub bucket: String,
    /// The execution's prefix, always ending in `/`, always under `pipeline/<execution_name>/`.
    pub prefix: String,
    pub resources: Resources,
    pub error: Option<CaughtError>,
    pub options: Options,
}

impl Request {
    /// The journal's key: `<prefix>saga/journal.json`.
    pub fn journal_key(&self) -> String {
        format!("{}saga/journal.json", self.prefix)
    }

    /// The journal's URI.
    pub fn journal_uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.journal_key())
    }

    /// Decode and validate a task input; `defaults` supplies options the input leaves out.
    pub fn from_json(input: &Value, defaults: Options) -> Result<Request, SagaError> {
        let raw: RawInput = serde_json::from_value(input.clone()).map_err(|e| {
            SagaError::Common(CommonError::InvalidInput(format!(
                "saga-compensator input: {e}"
            )))
        })?;
        let stage = Stage::parse(&required(raw.stage, "stage")?)?;
        let execution_name = required(
            raw.execution_name
                .or_else(|| crate::lambda::execution_name(input)),
            "execution_name",
        )?;
        validate_execution_name(&execution_name)?;
        let bucket = required(raw.bucket, "bucket")?;
        let bucket = bucket
            .strip_prefix("s3://")
            .unwrap_or(&bucket)
            .trim_end_matches('/')
            .to_string();
        crate::storage::S3Uri::parse(&format!("s3://{bucket}/")).map_err(SagaError::Common)?;
        let prefix = execution_prefix(
            &execution_name,
            raw.prefix.as_deref().filter(|p| !p.is_empty()),
        )?;

        let r = raw.resources.unwrap_or_default();
        let mut training_jobs = Vec::new();
        for j in r.training_jobs.into_iter().chain(r.training_job) {
            let j = j.trim().to_string();
            if j.is_empty() {
                continue;
            }
            check_sagemaker_name("resources.training_jobs", &j)?;
            if !training_jobs.contains(&j) {
                training_jobs.push(j);
            }
        }
        let resources = Resources {
            training_jobs,
            model_package_arn: nonempty(r.model_package_arn),
            endpoint_name: nonempty(r.endpoint_name),
            previous_endpoint_config: nonempty(r.previous_endpoint_config),
            new_endpoint_config: nonempty(r.new_endpoint_config),
            endpoint_created: r.endpoint_created.unwrap_or(false),
            model_name: nonempty(r.model_name),
        };
        validate_resources(&resources)?;

        let mut options = defaults;
        if let Some(o) = raw.options {
            if let Some(v) = o.versioned_bucket {
                options.versioned_bucket = v;
            }
            if let Some(v) = o.delete_model_package {
                options.delete_model_package = v;
            }
            if let Some(v) = nonempty(o.approval_description) {
                options.approval_description = Some(v);
            }
            if let Some(v) = o.dry_run {
                options.dry_run = v;
            }
            if let Some(v) = o.lease_seconds {
                options.lease_seconds = v;
            }
            if let Some(v) = o.max_attempts {
                options.max_attempts = v;
            }
        }
        if options.lease_seconds == 0 || options.lease_seconds > 86_400 {
            return Err(SagaError::InvalidOption(format!(
                "options.lease_seconds must be 1..=86400, got {}",
                options.lease_seconds
            )));
        }
        if options.max_attempts == 0 || options.max_attempts > 20 {
            return Err(SagaError::InvalidOption(format!(
                "options.max_attempts must be 1..=20, got {}",
                options.max_attempts
            )));
        }
        let error = raw
            .error
            .filter(|e| !e.error.is_empty() || !e.cause.is_empty());
        Ok(Request {
            stage,
            execution_name,
            bucket,
            prefix,
            resources,
            error,
            options,
        })
    }
}

#[derive(Deserialize, Default)]
struct RawInput {
    stage: Option<String>,
    execution_name: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    resources: Option<RawResources>,
    error: Option<CaughtError>,
    options: Option<RawOptions>,
}

#[derive(Deserialize, Default)]
struct RawResources {
    #[serde(default, deserialize_with = "null_as_empty")]
    training_jobs: Vec<String>,
    /// A single job name, accepted for convenience.
    training_job: Option<String>,
    model_package_arn: Option<String>,
    endpoint_name: Option<String>,
    previous_endpoint_config: Option<String>,
    new_endpoint_config: Option<String>,
    endpoint_created: Option<bool>,
    model_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawOptions {
    versioned_bucket: Option<bool>,
    delete_model_package: Option<bool>,
    approval_description: Option<String>,
    dry_run: Option<bool>,
    lease_seconds: Option<u64>,
    max_attempts: Option<u32>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn required(v: Option<String>, field: &str) -> Result<String, SagaError> {
    nonempty(v).ok_or_else(|| SagaError::Common(CommonError::MissingField(field.to_string())))
}

/// Step Functions execution names: 1–80 characters, no whitespace, brackets,
/// wildcards, control characters or any of `" # % \ ^ | ~ \` $ & , ; : /`. The name
/// becomes a path segment, so `/`, `.` and `..` matter most here.
pub fn validate_execution_name(name: &str) -> Result<(), SagaError> {
    let bad = |why: &str| Err(SagaError::InvalidExecutionName(format!("{name:?}: {why}")));
    if name.is_empty() || name.chars().count() > 80 {
        return bad("must be 1 to 80 characters");
    }
    if name == "." || name == ".." {
        return bad("is not a usable path segment");
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return bad(&format!(
            "contains {c:?}, which Step Functions does not allow in names"
        ));
    }
    Ok(())
}

/// The execution's prefix: `pipeline/<name>/` by default; a given prefix must be that
/// prefix or lie under it (a trailing `/` is added, so `pipeline/run-1` can never
/// match `pipeline/run-10/`).
pub fn execution_prefix(execution_name: &str, given: Option<&str>) -> Result<String, SagaError> {
    let root = format!("pipeline/{execution_name}/");
    let Some(given) = given else { return Ok(root) };
    let mut p = given.trim().trim_start_matches('/').to_string();
    if let Some(rest) = p.strip_prefix("s3://") {
        // An s3:// URI is accepted; its bucket part is dropped here and checked by the caller.
        p = rest
            .split_once('/')
            .map(|(_, k)| k.to_string())
            .unwrap_or_default();
    }
    if !p.ends_with('/') {
        p.push('/');
    }
    let segments_ok = p
        .trim_end_matches('/')
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..");
    if !p.starts_with(&root) || !segments_ok {
        return Err(SagaError::PrefixOutsideExecution(format!(
            "prefix {given:?} is not the execution's own prefix {root:?} or under it; refusing to touch it"
        )));
    }
    Ok(p)
}

/// SageMaker resource names: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`.
pub fn check_sagemaker_name(field: &str, name: &str) -> Result<(), SagaError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(SagaError::InvalidResource(format!(
            "{field}: {name:?} is not a valid SageMaker name"
        )))
    }
}

fn check_model_package(arn: &str) -> Result<(), SagaError> {
    if arn.starts_with("arn:") {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[2] == "sagemaker"
            && parts[5].starts_with("model-package/")
            && parts[5].len() > "model-package/".len()
            && arn.len() <= 2048
            && !arn.chars().any(char::is_whitespace);
        if ok {
            Ok(())
        } else {
            Err(SagaError::InvalidResource(format!(
                "resources.model_package_arn: {arn:?} is not a SageMaker model-package ARN"
            )))
        }
    } else {
        check_sagemaker_name("resources.model_package_arn", arn)
    }
}

fn validate_resources(r: &Resources) -> Result<(), SagaError> {
    if let Some(a) = &r.model_package_arn {
        check_model_package(a)?;
    }
    for (field, v) in [
        ("resources.endpoint_name", &r.endpoint_name),
        (
            "resources.previous_endpoint_config",
            &r.previous_endpoint_config,
        ),
        ("resources.new_endpoint_config", &r.new_endpoint_config),
        ("resources.model_name", &r.model_name),
    ] {
        if let Some(v) = v {
            check_sagemaker_name(field, v)?;
        }
    }
    if let (Some(p), Some(n)) = (&r.previous_endpoint_config, &r.new_endpoint_config) {
        if p == n {
            return Err(SagaError::InvalidResource(format!(
                "previous_endpoint_config and new_endpoint_config are both {p:?}: rolling back to the config being deleted is impossible"
            )));
        }
    }
    if r.endpoint_name.is_some() {
        if r.endpoint_created {
            // Deleting an endpoint is only safe when we can check it runs this execution's config.
            if r.new_endpoint_config.is_none() {
                return Err(SagaError::Common(CommonError::MissingField(
                    "resources.new_endpoint_config (required with endpoint_created: true, to check the endpoint is this execution's)".into(),
                )));
            }
        } else if r.previous_endpoint_config.is_none() {
            return Err(SagaError::Common(CommonError::MissingField(
                "resources.previous_endpoint_config (required to roll back an endpoint this execution did not create; set endpoint_created: true if it did)".into(),
            )));
        }
    } else if r.endpoint_created {
        return Err(SagaError::Common(CommonError::MissingField(
            "resources.endpoint_name (endpoint_created is true)".into(),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;
    use serde_json::json;

    fn req(v: Value) -> Result<Request, SagaError> {
        Request::from_json(&v, Options::default())
    }

    #[test]
    fn minimal_input_gets_default_prefix() {
        let r =
            req(json!({"stage": "training", "execution_name": "run-1", "bucket": "bkt"})).unwrap();
        assert_eq!(r.stage, Stage::Training);
        assert_eq!(r.prefix, "pipeline/run-1/");
        assert_eq!(r.journal_key(), "pipeline/run-1/saga/journal.json");
        assert!(r.resources.training_jobs.is_empty());
        assert_eq!(r.options, Options::default());
    }

    #[test]
    fn execution_name_from_sfn_context_and_unknown_fields_ignored() {
        let r = req(json!({"stage": "Deploy", "execution": {"Name": "e-2"}, "bucket": "s3://bkt/", "x": 1,
            "resources": {"training_jobs": null, "endpoint_name": "ep", "endpoint_created": true, "new_endpoint_config": "cfg-new", "model_package_arn": ""}}))
        .unwrap();
        assert_eq!(r.execution_name, "e-2");
        assert_eq!(r.bucket, "bkt");
        assert_eq!(r.stage, Stage::Deployment);
        assert_eq!(r.resources.model_package_arn, None);
    }

    #[test]
    fn prefix_must_stay_inside_the_execution() {
        assert_eq!(
            execution_prefix("run-1", Some("pipeline/run-1")).unwrap(),
            "pipeline/run-1/"
        );
        assert_eq!(
            execution_prefix("run-1", Some("pipeline/run-1/attempt-2/")).unwrap(),
            "pipeline/run-1/attempt-2/"
        );
        assert_eq!(
            execution_prefix("run-1", Some("s3://bkt/pipeline/run-1/")).unwrap(),
            "pipeline/run-1/"
        );
        for bad in [
            "pipeline/",
            "pipeline/run-10/",
            "pipeline/run-1/../run-2/",
            "other/run-1/",
            "pipeline/run-1//x/",
            "pipeline/run-1/./",
        ] {
            let e = execution_prefix("run-1", Some(bad)).unwrap_err();
            assert_eq!(e.error_name(), "InputError.PrefixOutsideExecution", "{bad}");
        }
        // "pipeline/run-1" without a slash would otherwise also match "pipeline/run-10/".
        assert_eq!(
            execution_prefix("run-1", Some("pipeline/run-1")).unwrap(),
            "pipeline/run-1/"
        );
    }

    #[test]
    fn bad_inputs_have_input_error_names() {
        let cases = [
            (
                json!({"execution_name": "e", "bucket": "bkt"}),
                "InputError.MissingField",
            ),
            (
                json!({"stage": "cooking", "execution_name": "e", "bucket": "bkt"}),
                "InputError.InvalidStage",
            ),
            (
                json!({"stage": "data", "execution_name": "a/b", "bucket": "bkt"}),
                "InputError.InvalidExecutionName",
            ),
            (
                json!({"stage": "data", "execution_name": "..", "bucket": "bkt"}),
                "InputError.InvalidExecutionName",
            ),
            (
                json!({"stage": "data", "execution_name": "e", "bucket": "B!"}),
                "InputError.InvalidUri",
            ),
            (
                json!({"stage": "data", "execution_name": "e", "bucket": "bkt", "prefix": "pipeline/"}),
                "InputError.PrefixOutsideExecution",
            ),
            (
                json!({"stage": 3, "execution_name": "e", "bucket": "bkt"}),
                "InputError.InvalidEvent",
            ),
            (
                json!({"stage": "training", "execution_name": "e", "bucket": "bkt", "resources": {"training_jobs": ["bad name"]}}),
                "InputError.InvalidSagaResource",
            ),
            (
                json!({"stage": "deployment", "execution_name": "e", "bucket": "bkt", "resources": {"endpoint_name": "ep"}}),
                "InputError.MissingField",
            ),
            (
                json!({"stage": "deployment", "execution_name": "e", "bucket": "bkt", "resources": {"endpoint_name": "ep", "endpoint_created": true}}),
                "InputError.MissingField",
            ),
            (
                json!({"stage": "deployment", "execution_name": "e", "bucket": "bkt", "resources": {"endpoint_name": "ep", "previous_endpoint_config": "a", "new_endpoint_config": "a"}}),
                "InputError.InvalidSagaResource",
            ),
            (
                json!({"stage": "evaluation", "execution_name": "e", "bucket": "bkt", "resources": {"model_package_arn": "arn:aws:s3:::x"}}),
                "InputError.InvalidSagaResource",
            ),
            (
                json!({"stage": "data", "execution_name": "e", "bucket": "bkt", "options": {"max_attempts": 0}}),
                "InputError.InvalidSagaOption",
            ),
        ];
        for (input, name) in cases {
            let e = req(input.clone()).unwrap_err();
            assert_eq!(e.error_name(), name, "{input}: {e}");
        }
    }

    #[test]
    fn options_merge_env_then_input() {
        let env = Options::from_lookup(|k| match k {
            "TRAINGUARD_SAGA_VERSIONED_BUCKET" => Some("true".into()),
            "TRAINGUARD_SAGA_LEASE_SECONDS" => Some("30".into()),
            _ => None,
        });
        assert!(env.versioned_bucket);
        assert_eq!(env.lease_seconds, 30);
        let r = Request::from_json(
            &json!({"stage": "evaluation", "execution_name": "e", "bucket": "bkt",
                "resources": {"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"},
                "options": {"versioned_bucket": false, "delete_model_package": true},
                "error": {"Error": "States.TaskFailed", "Cause": "boom"}}),
            env,
        )
        .unwrap();
        assert!(!r.options.versioned_bucket);
        assert!(r.options.delete_model_package);
        assert_eq!(r.options.lease_seconds, 30);
        assert_eq!(r.error.unwrap().error, "States.TaskFailed");
    }
}
