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
//! [`catalog`] gathers them all. A test checks the catalog against the README's
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

/// Every documented error name, across all modules.
pub fn catalog() -> Vec<ErrorDoc> {
    let parts: [&[ErrorDoc]; 9] = [
        ERRORS,
        crate::dataset::ERRORS,
        crate::schema::ERRORS,
        crate::profile::ERRORS,
        crate::drift::ERRORS,
        crate::training::ERRORS,
        crate::saga::ERRORS,
        crate::approval::ERRORS,
        crate::trigger::ERRORS,
    ];
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// The catalog as the Markdown table the README carries (between the
/// `<!-- errors:begin -->` / `<!-- errors:end -->` markers; a test keeps them equal).
pub fn markdown_table() -> String {
    let mut out = String::from("| error name | retry | meaning |\n|---|---|---|\n");
    let mut all = catalog();
    all.sort_by_key(|d| d.name);
    for d in all {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            d.name,
            if d.retryable { "yes" } else { "no" },
            d.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// Look up a name in the catalog.
pub fn lookup(name: &str) -> Option<ErrorDoc> {
    catalog().into_iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_dotted_and_not_rust_types() {
        let all = catalog();
        let mut seen = std::collections::HashSet::new();
        for d in &all {
            assert!(seen.insert(d.name), "duplicate error name {}", d.name);
            let (family, rest) = d.name.split_once('.').expect("dotted name");
            assert!(!family.is_empty() && !rest.is_empty(), "{}", d.name);
            assert!(
                !d.name.contains("::") && !d.name.contains('<'),
                "{}",
                d.name
            );
            assert!(!d.meaning.is_empty());
        }
    }

    #[test]
    fn only_transient_family_and_explicit_cases_are_retryable() {
        for d in catalog() {
            if d.name.starts_with("Transient.") {
                assert!(d.retryable, "{} must be retryable", d.name);
            }
            if d.name.starts_with("InputError.") || d.name.starts_with("DataError.") {
                assert!(!d.retryable, "{} must not be retryable", d.name);
            }
        }
    }

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
                lookup(e.error_name()).is_some(),
                "{} undocumented",
                e.error_name()
            );
        }
    }
}
