//! What a Step Functions `Catch` hands on: `{"Error", "Cause"}` at its `ResultPath`.
//!
//! One type for every concern that receives it (the batch-size adjuster classifies it,
//! the saga compensator records it), with one decoder: serde goes through
//! [`CaughtError::decode`], so both accept the same shapes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{json_type_name, CommonError};

/// `{"Error", "Cause"}` as caught by the state machine; empty when not given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaughtError {
    pub error: String,
    pub cause: String,
}

impl CaughtError {
    /// Decode a caught error that must say something (the batch-size adjuster classifies
    /// it). Shapes as in [`CaughtError::decode`]; both parts empty is `MissingField`.
    pub fn from_value(v: &Value) -> Result<Self, CommonError> {
        let c = Self::decode(v)?;
        if c.error.is_empty() && c.cause.is_empty() {
            return Err(CommonError::MissingField("error.Cause".into()));
        }
        Ok(c)
    }

    /// Decode the caught error. Accepts `{"Error","Cause"}` (what `Catch` writes),
    /// lower-case `{"error","cause"}`, a bare string (plain text), a Lambda-style
    /// `{"errorType","errorMessage"}`, and a `Cause` given as an object (serialised).
    pub fn decode(v: &Value) -> Result<Self, CommonError> {
        match v {
            Value::String(s) => Ok(CaughtError {
                error: String::new(),
                cause: s.clone(),
            }),
            Value::Object(o) => {
                let error = first_str(o, &["Error", "error", "errorType"]).unwrap_or_default();
                let cause = match first(o, &["Cause", "cause", "errorMessage"]) {
                    Some(Value::String(s)) => s.clone(),
                    // Some callers pass the describe response as an object, not a string.
                    Some(other @ Value::Object(_)) => other.to_string(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => {
                        return Err(CommonError::InvalidInput(format!(
                            "error.Cause must be a string, got {}",
                            json_type_name(other)
                        )))
                    }
                };
                Ok(CaughtError { error, cause })
            }
            other => Err(CommonError::InvalidInput(format!(
                "error must be an object {{\"Error\",\"Cause\"}} or a string, got {}",
                json_type_name(other)
            ))),
        }
    }
}

impl Serialize for CaughtError {
    /// As `Catch` writes it; an empty part is left out.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = Map::new();
        if !self.error.is_empty() {
            m.insert("Error".into(), Value::String(self.error.clone()));
        }
        if !self.cause.is_empty() {
            m.insert("Cause".into(), Value::String(self.cause.clone()));
        }
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CaughtError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        CaughtError::decode(&v).map_err(serde::de::Error::custom)
    }
}

fn first<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| o.get(*k))
}

/// The first of `keys` that holds a string.
pub(crate) fn first_str(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_decoder_for_every_shape() {
        let catch = json!({"Error": "States.TaskFailed", "Cause": "boom"});
        let lower = json!({"error": "States.TaskFailed", "cause": "boom"});
        let lambda = json!({"errorType": "States.TaskFailed", "errorMessage": "boom"});
        for v in [&catch, &lower, &lambda] {
            let c: CaughtError = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(c, CaughtError::from_value(v).unwrap());
            assert_eq!(
                (c.error.as_str(), c.cause.as_str()),
                ("States.TaskFailed", "boom")
            );
        }
        // A Cause given as an object is kept, serialised.
        let obj = CaughtError::decode(&json!({"Cause": {"a": 1}})).unwrap();
        assert_eq!(obj.cause, r#"{"a":1}"#);
        // Text alone is a cause.
        assert_eq!(CaughtError::decode(&json!("oom")).unwrap().cause, "oom");
        // The record may be empty; the classifier's input may not.
        assert_eq!(
            CaughtError::decode(&json!({})).unwrap(),
            CaughtError::default()
        );
        assert!(matches!(
            CaughtError::from_value(&json!({})),
            Err(CommonError::MissingField(_))
        ));
        assert!(CaughtError::decode(&json!(7)).is_err());
        assert!(CaughtError::decode(&json!({"Cause": 7})).is_err());
        // Written back the way Catch writes it, empty parts left out.
        assert_eq!(
            serde_json::to_value(CaughtError {
                error: "E".into(),
                cause: String::new()
            })
            .unwrap(),
            json!({"Error": "E"})
        );
    }
}
