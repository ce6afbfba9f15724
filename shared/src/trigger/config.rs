//! The function's settings: which state machine to start, over which data, on which
//! objects (environment variables in Lambda).

use serde_json::Value;

use super::TriggerError;

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
    /// `TRAINGUARD_ARTIFACTS_BUCKET` (default: the data bucket): where each run's
    /// `pipeline/<execution>/start.json` is written (see [`crate::origin`]).
    pub artifacts_bucket: Option<String>,
    /// `TRAINGUARD_API_ID`: the HTTP API whose manual-start route may invoke this
    /// function; an HTTP event from any other API is refused (unset: all are).
    pub api_id: Option<String>,
    /// The evaluation gate's deploy-time thresholds (`TRAINGUARD_PROMOTE_THRESHOLD`,
    /// `TRAINGUARD_REVIEW_THRESHOLD`, from the template's parameters): an execution may
    /// ask for stricter ones, never looser (see [`super::read_evaluation`]).
    pub thresholds: Option<super::read_evaluation::Thresholds>,
    /// The evaluation gate's comparison limits (`TRAINGUARD_EVAL_*`, see
    /// [`crate::evaluation::policy`]); an execution may only tighten them.
    pub gate_policy: crate::evaluation::GatePolicy,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            state_machine_arn: None,
            data_bucket: None,
            data_prefix: "data/".into(),
            mode: TriggerMode::Object,
            parameters: None,
            artifacts_bucket: None,
            api_id: None,
            thresholds: None,
            gate_policy: crate::evaluation::GatePolicy::default(),
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
        let threshold = |k: &str| -> Result<Option<f64>, TriggerError> {
            match var(k) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Some(x)),
                    _ => Err(TriggerError::Misconfigured(format!(
                        "{k}={v:?} is not a finite number"
                    ))),
                },
            }
        };
        let thresholds = match (
            threshold("TRAINGUARD_PROMOTE_THRESHOLD")?,
            threshold("TRAINGUARD_REVIEW_THRESHOLD")?,
        ) {
            (Some(promote), Some(review)) => {
                Some(super::read_evaluation::Thresholds { promote, review })
            }
            (None, None) => None,
            _ => return Err(TriggerError::Misconfigured(
                "set both TRAINGUARD_PROMOTE_THRESHOLD and TRAINGUARD_REVIEW_THRESHOLD, or neither"
                    .into(),
            )),
        };
        let gate_policy = crate::evaluation::GatePolicy::from_vars(var)?;
        let data_bucket = var("TRAINGUARD_DATA_BUCKET");
        Ok(TriggerConfig {
            state_machine_arn: var("TRAINGUARD_STATE_MACHINE_ARN"),
            artifacts_bucket: var("TRAINGUARD_ARTIFACTS_BUCKET").or_else(|| data_bucket.clone()),
            api_id: var("TRAINGUARD_API_ID"),
            thresholds,
            gate_policy,
            data_bucket,
            data_prefix: var("TRAINGUARD_DATA_PREFIX").unwrap_or_else(|| "data/".into()),
            mode,
            parameters,
        })
    }

    /// The bucket of the start records, or `Trigger.Misconfigured`.
    pub fn require_artifacts_bucket(&self) -> Result<&str, TriggerError> {
        self.artifacts_bucket.as_deref().ok_or_else(|| {
            TriggerError::Misconfigured(
                "TRAINGUARD_ARTIFACTS_BUCKET (or TRAINGUARD_DATA_BUCKET) is not set: the start record needs a bucket".into(),
            )
        })
    }
}
