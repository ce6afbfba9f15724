//! The shapes a Step Functions `Catch` hands to this function, decoded.
//!
//! A `Catch` on a `arn:aws:states:::sagemaker:createTrainingJob.sync` task puts
//! `{"Error": ..., "Cause": ...}` at its `ResultPath`. Three shapes occur (sources in
//! `docs/batch-size-adjuster.md`):
//!
//! 1. **The job ran and failed (or stopped).** `Error` is `States.TaskFailed` and `Cause`
//!    is the DescribeTrainingJob response serialised as a JSON string: `TrainingJobName`,
//!    `TrainingJobStatus` (`Failed` / `Stopped`), `SecondaryStatus`, `FailureReason`
//!    (at most 1024 characters), `SecondaryStatusTransitions`, `HyperParameters`,
//!    `ResourceConfig`, `EnableManagedSpotTraining`, `StoppingCondition`,
//!    `CheckpointConfig`, ... (the same convention Step Functions uses for every `.sync`
//!    job integration; LocalStack emulates it the same way for Batch and Glue).
//! 2. **The CreateTrainingJob call itself failed.** `Error` is `SageMaker.<Exception>`
//!    (for example `SageMaker.ResourceLimitExceededException`, or the catch-all
//!    `SageMaker.AmazonSageMakerException` that covers unmodelled codes such as
//!    `ThrottlingException` and `ValidationException`) and `Cause` is the service's
//!    message followed by `(Service: AmazonSageMaker; Status Code: 400; Error Code:
//!    ResourceLimitExceeded; Request ID: ...)`.
//! 3. **Plain text**: anything else (a hand-written `Fail` state, a test stub, a log
//!    excerpt pasted into the CLI).

use serde_json::{Map, Value};

use crate::caught::first_str;
pub use crate::caught::CaughtError;
pub(crate) use crate::error::json_type_name as type_name;

/// What the `Cause` turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureSource {
    /// The DescribeTrainingJob response of the failed job.
    Job(JobDescription),
    /// An API error at creation: the Step Functions error name, the service error code
    /// (from `Error Code: X` in the cause, else from the name) and the message.
    Api {
        error_name: String,
        error_code: String,
        message: String,
        status_code: Option<u16>,
    },
    /// Anything else.
    Text(String),
}

/// The fields of a DescribeTrainingJob response the classifier and planner read.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDescription {
    pub name: String,
    pub status: String,
    pub secondary_status: String,
    pub failure_reason: String,
    /// `Status` of every `SecondaryStatusTransitions` entry, in order.
    pub transitions: Vec<String>,
    pub spot: bool,
    /// The whole response, for rebuilding CreateTrainingJob parameters.
    pub raw: Map<String, Value>,
}

impl JobDescription {
    /// How many times the spot capacity was taken away during this job.
    pub fn spot_interruptions(&self) -> u32 {
        self.transitions
            .iter()
            .filter(|s| s.eq_ignore_ascii_case("Interrupted"))
            .count() as u32
    }
}

/// Decode the `Cause` (and error name) into a [`FailureSource`].
pub fn parse_cause(caught: &CaughtError) -> FailureSource {
    let trimmed = caught.cause.trim();
    if trimmed.starts_with('{') {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(trimmed) {
            if o.contains_key("TrainingJobStatus") || o.contains_key("TrainingJobName") {
                return FailureSource::Job(describe_from_map(o));
            }
            // A Lambda stub's `{"errorType","errorMessage"}`: classify its text.
            if let Some(msg) = first_str(&o, &["errorMessage", "message", "Message"]) {
                return classify_api_or_text(&caught.error, &msg);
            }
        }
    }
    classify_api_or_text(&caught.error, &caught.cause)
}

fn classify_api_or_text(error_name: &str, cause: &str) -> FailureSource {
    let code_in_cause = field_after(cause, "Error Code:");
    let status = field_after(cause, "Status Code:").and_then(|s| s.parse::<u16>().ok());
    let service_error = error_name
        .strip_prefix("SageMaker.")
        .filter(|rest| !rest.is_empty() && !error_name.starts_with("States."));
    match (service_error, code_in_cause) {
        (Some(rest), code) => {
            let code = code.unwrap_or_else(|| rest.to_string());
            FailureSource::Api {
                error_name: error_name.to_string(),
                error_code: code,
                message: strip_service_details(cause),
                status_code: status,
            }
        }
        (None, Some(code))
            if cause.contains("Service: AmazonSageMaker")
                || cause.contains("Service: SageMaker") =>
        {
            FailureSource::Api {
                error_name: error_name.to_string(),
                error_code: code,
                message: strip_service_details(cause),
                status_code: status,
            }
        }
        _ => FailureSource::Text(cause.to_string()),
    }
}

/// The value after `label` up to the next `;` or `)` (e.g. `Error Code: Throttling`).
fn field_after(text: &str, label: &str) -> Option<String> {
    let start = text.find(label)? + label.len();
    let rest = &text[start..];
    let end = rest.find([';', ')']).unwrap_or(rest.len());
    let v = rest[..end].trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// The message without the trailing `(Service: ...; Request ID: ...)` block.
fn strip_service_details(cause: &str) -> String {
    match cause.rfind("(Service:") {
        Some(i) => cause[..i].trim().to_string(),
        None => cause.trim().to_string(),
    }
}

fn describe_from_map(o: Map<String, Value>) -> JobDescription {
    let s = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let transitions = o
        .get("SecondaryStatusTransitions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("Status").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    JobDescription {
        name: s("TrainingJobName"),
        status: s("TrainingJobStatus"),
        secondary_status: s("SecondaryStatus"),
        failure_reason: s("FailureReason"),
        transitions,
        spot: o
            .get("EnableManagedSpotTraining")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        raw: o,
    }
}

/// The CreateTrainingJob request members, used to rebuild the request from a
/// DescribeTrainingJob response when the state machine did not pass `training_job`.
pub const CREATE_TRAINING_JOB_KEYS: &[&str] = &[
    "TrainingJobName",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "Tags",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
    "SessionChainingConfig",
];

/// CreateTrainingJob parameters rebuilt from a DescribeTrainingJob response.
pub fn create_params_from_describe(d: &JobDescription) -> Map<String, Value> {
    CREATE_TRAINING_JOB_KEYS
        .iter()
        .filter_map(|k| d.raw.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_failure_cause_is_decoded() {
        let describe = json!({
            "TrainingJobName": "j1",
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "FailureReason": "AlgorithmError: boom",
            "EnableManagedSpotTraining": true,
            "SecondaryStatusTransitions": [
                {"Status": "Starting"}, {"Status": "Training"}, {"Status": "Interrupted"},
                {"Status": "Training"}, {"Status": "Interrupted"}, {"Status": "Failed"}
            ],
            "RoleArn": "arn:aws:iam::1:role/r",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/j1"
        });
        let caught = CaughtError {
            error: "States.TaskFailed".into(),
            cause: describe.to_string(),
        };
        let FailureSource::Job(d) = parse_cause(&caught) else {
            panic!("not a job")
        };
        assert_eq!(d.name, "j1");
        assert_eq!(d.status, "Failed");
        assert_eq!(d.failure_reason, "AlgorithmError: boom");
        assert!(d.spot);
        assert_eq!(d.spot_interruptions(), 2);
        let params = create_params_from_describe(&d);
        assert!(params.contains_key("RoleArn"));
        assert!(
            !params.contains_key("TrainingJobArn"),
            "describe-only members are dropped"
        );
    }

    #[test]
    fn api_error_code_comes_from_the_cause() {
        let caught = CaughtError {
            error: "SageMaker.AmazonSageMakerException".into(),
            cause: "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; Request ID: abc; Proxy: null)".into(),
        };
        match parse_cause(&caught) {
            FailureSource::Api {
                error_code,
                message,
                status_code,
                ..
            } => {
                assert_eq!(error_code, "ThrottlingException");
                assert_eq!(message, "Rate exceeded");
                assert_eq!(status_code, Some(400));
            }
            other => panic!("{other:?}"),
        }
        let bare = CaughtError {
            error: "SageMaker.ResourceLimitExceededException".into(),
            cause: "The account-level service limit is 0 Instances".into(),
        };
        match parse_cause(&bare) {
            FailureSource::Api { error_code, .. } => {
                assert_eq!(error_code, "ResourceLimitExceededException")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_text_and_odd_shapes() {
        assert_eq!(
            parse_cause(&CaughtError {
                error: String::new(),
                cause: "it broke".into()
            }),
            FailureSource::Text("it broke".into())
        );
        let lambda = CaughtError {
            error: "States.TaskFailed".into(),
            cause: json!({"errorType": "X", "errorMessage": "CUDA out of memory"}).to_string(),
        };
        assert_eq!(
            parse_cause(&lambda),
            FailureSource::Text("CUDA out of memory".into())
        );
        assert!(CaughtError::from_value(&json!(3)).is_err());
        assert!(CaughtError::from_value(&json!({})).is_err());
        assert!(CaughtError::from_value(&json!({"Error": "E", "Cause": 5})).is_err());
        let s = CaughtError::from_value(&json!("plain")).unwrap();
        assert_eq!(s.cause, "plain");
        let o = CaughtError::from_value(&json!({"Error": "E", "Cause": {"TrainingJobName": "x"}}))
            .unwrap();
        assert!(matches!(parse_cause(&o), FailureSource::Job(_)));
    }
}
