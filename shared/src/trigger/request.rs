//! Telling the function's request kinds apart: a state machine step (`task` field) or an
//! event that starts executions.

use serde_json::Value;

use super::{fingerprint, read_evaluation, select_best};
use crate::error::CommonError;
use crate::events::{self, TriggerEvent};

/// Which kind of request the function received.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An S3 / EventBridge / schedule event: start executions.
    Trigger(TriggerEvent),
    /// `{"task": "select-best", ...}` from the state machine.
    SelectBest(select_best::SelectBestInput),
    /// `{"task": "fingerprint", ...}` from the state machine.
    Fingerprint(fingerprint::FingerprintInput),
    /// `{"task": "read-evaluation", ...}` from the state machine.
    ReadEvaluation(read_evaluation::ReadEvaluationInput),
    /// An API Gateway HTTP API request: a manual start (see [`super::manual`]).
    Manual(Value),
}

/// Tell the request kinds apart by shape: a `task` field is a state machine step;
/// anything else must be an event.
pub fn classify(input: &Value) -> Result<Request, CommonError> {
    if super::manual::is_http_event(input) {
        return Ok(Request::Manual(input.clone()));
    }
    match input.get("task").and_then(Value::as_str) {
        Some("select-best") => Ok(Request::SelectBest(parse(input)?)),
        Some("fingerprint") => Ok(Request::Fingerprint(parse(input)?)),
        Some("read-evaluation") => Ok(Request::ReadEvaluation(parse(input)?)),
        Some(other) => Err(CommonError::InvalidInput(format!(
            "unknown task {other:?} (expected select-best, fingerprint or read-evaluation)"
        ))),
        None => Ok(Request::Trigger(events::decode(input)?)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, CommonError> {
    serde_json::from_value(input.clone()).map_err(|e| {
        let msg = e.to_string();
        match msg.strip_prefix("missing field `") {
            Some(rest) => {
                CommonError::MissingField(rest.split('`').next().unwrap_or(rest).to_string())
            }
            None => CommonError::InvalidInput(msg),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;
    use serde_json::json;

    #[test]
    fn classifies_by_shape() {
        assert!(matches!(
            classify(
                &json!({"task": "select-best", "candidates": [], "objective": {"metric": "m"}})
            )
            .unwrap(),
            Request::SelectBest(_)
        ));
        assert!(matches!(
            classify(&json!({"task": "fingerprint", "data": "s3://bkt/x"})).unwrap(),
            Request::Fingerprint(_)
        ));
        let e = classify(&json!({"task": "nope"})).unwrap_err();
        assert_eq!(e.error_name(), "InputError.InvalidEvent");
        let e = classify(&json!({"task": "fingerprint"})).unwrap_err();
        assert_eq!(e.error_name(), "InputError.MissingField");
        assert!(e.to_string().contains("data"), "{e}");
    }
}
