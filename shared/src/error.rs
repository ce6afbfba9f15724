//! The shared error convention.
//!
//! Every error that can leave a handler carries a stable, dotted error name. Step
//! Functions matches on it (`ErrorEquals`), so it is part of the public contract and
//! must never be the Rust type name. Names come in families:
//!
//! | family | meaning | ASL |
//! |---|---|---|
//! | `InputError.*` | the event or task input cannot be acted on | Catch, do not retry |
//! | `DataError.*` | the data itself is unreadable, truncated or corrupt | Catch, do not retry |
//! | `StorageError.*` | S3 said no (not found, access denied) | Catch |
//! | `Transient.*` | throttling, timeouts, 5xx: the same call may succeed later | Retry with backoff |
//! | `TrainingRecovery.*`, `Compensation.*`, `Approval.*`, ... | per-function families | see `docs/<function>.md` |
//!
//! Each concern has its own error enum implementing [`ErrorName`]; each module
//! lists the names it can raise in a `pub const ERRORS: &[ErrorDoc]`, and
//! [`crate::catalog`] gathers them all (in a module of its own: this one is imported by
//! every module and so imports none of them). A test checks the catalog against the README's
//! table and the state machine's `ErrorEquals` lists.

/// A documented error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorDoc {
    /// The stable name, e.g. `DataError.CorruptParquet`.
    pub name: &'static str,
    /// Whether the state machine should retry it (only the transient family and a
    /// few explicit cases such as `Compensation.Incomplete`).
    pub retryable: bool,
    /// One line saying when it is raised.
    pub meaning: &'static str,
}

/// Implemented by every error enum that can leave a handler.
pub trait ErrorName: std::fmt::Display {
    /// The stable, documented name (the Lambda `errorType`).
    fn error_name(&self) -> &'static str;
}

/// Errors common to every function: input decoding, storage, transient faults.
#[derive(Debug, thiserror::Error)]
pub enum CommonError {
    /// The event did not decode into any accepted input shape.
    #[error("the input is not a recognised event or task input: {0}")]
    InvalidInput(String),
    /// A required field was missing or empty.
    #[error("missing required field `{0}`")]
    MissingField(String),
    /// An `s3://` URI did not parse.
    #[error("not a valid s3:// URI: {0}")]
    InvalidUri(String),
    /// The object or bucket does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Access was denied.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Any other storage failure that is not transient.
    #[error("storage failure: {0}")]
    Storage(String),
    /// Throttling, a timeout or a 5xx: retry later.
    #[error("transient failure (retry later): {0}")]
    Transient(String),
    /// The Lambda deadline is close; the function stopped cleanly.
    #[error("stopped before the Lambda deadline: {0}")]
    DeadlineExceeded(String),
}

impl ErrorName for CommonError {
    fn error_name(&self) -> &'static str {
        match self {
            CommonError::InvalidInput(_) => "InputError.InvalidEvent",
            CommonError::MissingField(_) => "InputError.MissingField",
            CommonError::InvalidUri(_) => "InputError.InvalidUri",
            CommonError::NotFound(_) => "StorageError.NotFound",
            CommonError::AccessDenied(_) => "StorageError.AccessDenied",
            CommonError::Storage(_) => "StorageError.Failed",
            CommonError::Transient(_) => "Transient.Throttled",
            CommonError::DeadlineExceeded(_) => "Transient.DeadlineExceeded",
        }
    }
}

/// Names raised by [`CommonError`].
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "InputError.InvalidEvent", retryable: false, meaning: "the event is not a recognised task input or event shape (malformed JSON, wrong types)" },
    ErrorDoc { name: "InputError.MissingField", retryable: false, meaning: "a required field is missing or empty" },
    ErrorDoc { name: "InputError.InvalidUri", retryable: false, meaning: "an s3:// URI does not parse" },
    ErrorDoc { name: "StorageError.NotFound", retryable: false, meaning: "the bucket or object does not exist" },
    ErrorDoc { name: "StorageError.AccessDenied", retryable: false, meaning: "S3 refused access" },
    ErrorDoc { name: "StorageError.Failed", retryable: false, meaning: "any other non-transient storage failure" },
    ErrorDoc { name: "Transient.Throttled", retryable: true, meaning: "throttling, a timeout or a 5xx reply: the same call may succeed later" },
    ErrorDoc { name: "Transient.DeadlineExceeded", retryable: true, meaning: "the function stopped cleanly before the Lambda deadline; the message says how far it got" },
];

/// "a string", "an object", ...: for messages about a JSON value of the wrong type.
pub(crate) fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_variant_is_documented() {
        let samples = [
            CommonError::InvalidInput(String::new()),
            CommonError::MissingField(String::new()),
            CommonError::InvalidUri(String::new()),
            CommonError::NotFound(String::new()),
            CommonError::AccessDenied(String::new()),
            CommonError::Storage(String::new()),
            CommonError::Transient(String::new()),
            CommonError::DeadlineExceeded(String::new()),
        ];
        for e in samples {
            assert!(
                ERRORS.iter().any(|d| d.name == e.error_name()),
                "{} undocumented",
                e.error_name()
            );
        }
    }
}
