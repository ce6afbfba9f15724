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
