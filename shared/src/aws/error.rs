//! The one classification of AWS failures.
//!
//! Every AWS reply that fails, from the SDK ([`super::sdk`]) or from the in-memory
//! doubles ([`super::memory`], which answer the way the API reference says AWS does),
//! becomes an [`AwsError`]: the service's code, message and HTTP status kept verbatim,
//! and one [`AwsErrorKind`] chosen by the one pure function [`classify`]. Callers that
//! speak the common error families convert with `CommonError::from`, so "throttled",
//! "not found" and "access denied" mean the same in every concern.
//!
//! The throttling and transient code lists include every code the SDK's own retry
//! classifier treats as retryable (`aws_runtime::retries::classifiers`); a test checks
//! that they stay a superset.

use crate::error::CommonError;

/// What kind of failure an AWS reply was, as far as compensation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsErrorKind {
    /// The resource does not exist: for compensation, "already gone".
    NotFound,
    /// The resource is in a state that does not allow the call right now (an endpoint
    /// being updated, a training job already finished, a concurrent modification).
    Conflict,
    /// Throttling, a timeout or a 5xx: the same call may succeed later.
    Throttled,
    /// Access denied: retrying will not help until permissions change.
    AccessDenied,
    /// The request itself was rejected (bad parameter).
    Invalid,
    /// Anything else.
    Other,
}

/// A failed AWS call: the service's error code and message, kept verbatim for the
/// journal and the report, and their classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: String,
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub kind: AwsErrorKind,
}

impl AwsError {
    /// An error reply, classified by [`classify`].
    pub fn new(operation: &str, code: &str, message: &str, status: Option<u16>) -> Self {
        AwsError {
            operation: operation.to_string(),
            code: code.to_string(),
            message: message.to_string(),
            status,
            kind: classify(code, message, status),
        }
    }

    /// A transport failure (timeout, connection refused): always transient.
    pub fn transport(operation: &str, message: &str) -> Self {
        AwsError {
            operation: operation.to_string(),
            code: "TransportError".into(),
            message: message.to_string(),
            status: None,
            kind: AwsErrorKind::Throttled,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == AwsErrorKind::Throttled
    }
}

/// Classify an AWS error reply.
///
/// SageMaker reports most "not found" and "wrong state" conditions as a generic
/// `ValidationException` whose message carries the meaning (`Could not find endpoint
/// "…"`, `Requested resource not found`, `Cannot update in-progress endpoint`, `… is in
/// status Completed`), so the message is read as well as the code.
pub fn classify(code: &str, message: &str, status: Option<u16>) -> AwsErrorKind {
    let msg = message.to_ascii_lowercase();
    match code {
        "ResourceNotFound"
        | "ResourceNotFoundException"
        | "NoSuchKey"
        | "NoSuchBucket"
        | "NotFound"
        | "NoSuchVersion" => return AwsErrorKind::NotFound,
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "RequestThrottledException"
        | "RequestThrottled"
        | "SlowDown"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "TransactionInProgressException"
        | "BandwidthLimitExceeded"
        | "LimitExceededException"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "OperationAborted" => return AwsErrorKind::Throttled,
        "ConflictException" | "ConditionalRequestConflict" | "ResourceInUse" => {
            return AwsErrorKind::Conflict
        }
        "AccessDenied" | "AccessDeniedException" | "Forbidden" => {
            return AwsErrorKind::AccessDenied
        }
        _ => {}
    }
    if code == "ValidationException" || code == "ValidationError" {
        if msg.contains("could not find")
            || msg.contains("not found")
            || msg.contains("does not exist")
        {
            return AwsErrorKind::NotFound;
        }
        if msg.contains("in-progress")
            || msg.contains("in progress")
            || msg.contains("in status")
            || msg.contains("cannot update")
            || msg.contains("cannot delete")
            || msg.contains("is being")
        {
            return AwsErrorKind::Conflict;
        }
        return AwsErrorKind::Invalid;
    }
    match status {
        Some(404) => AwsErrorKind::NotFound,
        Some(403) => AwsErrorKind::AccessDenied,
        Some(409) => AwsErrorKind::Conflict,
        Some(429) => AwsErrorKind::Throttled,
        Some(s) if s >= 500 => AwsErrorKind::Throttled,
        Some(400) => AwsErrorKind::Invalid,
        _ => AwsErrorKind::Other,
    }
}

/// Whether a per-key error code in a DeleteObjects reply is worth retrying.
pub fn key_error_is_transient(code: &str) -> bool {
    classify(code, "", None) == AwsErrorKind::Throttled
}

impl From<AwsError> for CommonError {
    /// The common family of a failed call; the message keeps operation, code and text.
    fn from(e: AwsError) -> CommonError {
        let detail = e.to_string();
        match e.kind {
            AwsErrorKind::NotFound => CommonError::NotFound(detail),
            AwsErrorKind::AccessDenied => CommonError::AccessDenied(detail),
            AwsErrorKind::Throttled => CommonError::Transient(detail),
            AwsErrorKind::Conflict | AwsErrorKind::Invalid | AwsErrorKind::Other => {
                CommonError::Storage(detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_replies_are_classified_by_message() {
        // Replies as SageMaker sends them (API reference and observed messages).
        let cases = [
            (
                "ValidationException",
                "Could not find endpoint \"arn:aws:sagemaker:us-east-1:1:endpoint/e\".",
                AwsErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Requested resource not found.",
                AwsErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Model package arn:x not found",
                AwsErrorKind::NotFound,
            ),
            (
                "ResourceNotFound",
                "Training job t does not exist",
                AwsErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Cannot update in-progress endpoint \"arn:e\".",
                AwsErrorKind::Conflict,
            ),
            (
                "ValidationException",
                "The request was rejected because the training job is in status Completed.",
                AwsErrorKind::Conflict,
            ),
            (
                "ConflictException",
                "There was a conflict when you attempted to modify a SageMaker entity",
                AwsErrorKind::Conflict,
            ),
            (
                "ThrottlingException",
                "Rate exceeded",
                AwsErrorKind::Throttled,
            ),
            (
                "ValidationException",
                "1 validation error detected: Value 'x' failed to satisfy",
                AwsErrorKind::Invalid,
            ),
            ("AccessDeniedException", "no", AwsErrorKind::AccessDenied),
        ];
        for (code, msg, kind) in cases {
            assert_eq!(classify(code, msg, Some(400)), kind, "{code}: {msg}");
        }
    }

    #[test]
    fn s3_codes_and_statuses() {
        assert_eq!(classify("SlowDown", "", Some(503)), AwsErrorKind::Throttled);
        assert_eq!(
            classify("InternalError", "", Some(500)),
            AwsErrorKind::Throttled
        );
        assert_eq!(
            classify("NoSuchBucket", "", Some(404)),
            AwsErrorKind::NotFound
        );
        assert_eq!(classify("", "", Some(503)), AwsErrorKind::Throttled);
        assert_eq!(classify("", "", Some(404)), AwsErrorKind::NotFound);
        assert_eq!(classify("Weird", "", None), AwsErrorKind::Other);
        assert!(key_error_is_transient("SlowDown"));
        assert!(key_error_is_transient("InternalError"));
        assert!(!key_error_is_transient("AccessDenied"));
    }

    #[test]
    fn every_code_the_sdk_retries_is_transient_here() {
        // The SDK's standard retry classifier (aws-runtime) retries these codes; the
        // saga's own retries and the common `Transient` family must agree with it.
        use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
        for code in THROTTLING_ERRORS.iter().chain(TRANSIENT_ERRORS) {
            assert_eq!(
                classify(code, "", Some(400)),
                AwsErrorKind::Throttled,
                "{code}"
            );
            let e = AwsError::new("Op", code, "", Some(400));
            assert!(
                matches!(CommonError::from(e), CommonError::Transient(_)),
                "{code}"
            );
        }
    }
}
