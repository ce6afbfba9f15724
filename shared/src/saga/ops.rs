//! The small traits the compensator acts through: [`S3Ops`] and [`SageMakerOps`].
//!
//! Why traits: moto implements most of what the saga needs, but not `StopTrainingJob`,
//! `UpdateEndpoint` or `DeleteModelPackage`; those paths are tested against the
//! in-memory model ([`super::memory`]) that follows the AWS API reference, and fault
//! injection ([`super::fault`]) wraps any implementation. The real implementations
//! ([`super::sdk`]) are thin: one SDK call each, with the error reply kept as
//! `(code, message, HTTP status)` and classified by the one pure function [`classify`],
//! so the in-memory model (which produces the same replies) exercises it too.

use std::future::Future;

/// What kind of failure an AWS reply was, as far as compensation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpErrorKind {
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
pub struct OpError {
    pub operation: String,
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub kind: OpErrorKind,
}

impl OpError {
    /// An error reply, classified by [`classify`].
    pub fn new(operation: &str, code: &str, message: &str, status: Option<u16>) -> Self {
        OpError {
            operation: operation.to_string(),
            code: code.to_string(),
            message: message.to_string(),
            status,
            kind: classify(code, message, status),
        }
    }

    /// A transport failure (timeout, connection refused): always transient.
    pub fn transport(operation: &str, message: &str) -> Self {
        OpError {
            operation: operation.to_string(),
            code: "TransportError".into(),
            message: message.to_string(),
            status: None,
            kind: OpErrorKind::Throttled,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == OpErrorKind::Throttled
    }
}

/// Classify an AWS error reply.
///
/// SageMaker reports most "not found" and "wrong state" conditions as a generic
/// `ValidationException` whose message carries the meaning (`Could not find endpoint
/// "…"`, `Requested resource not found`, `Cannot update in-progress endpoint`, `… is in
/// status Completed`), so the message is read as well as the code.
pub fn classify(code: &str, message: &str, status: Option<u16>) -> OpErrorKind {
    let msg = message.to_ascii_lowercase();
    match code {
        "ResourceNotFound"
        | "ResourceNotFoundException"
        | "NoSuchKey"
        | "NoSuchBucket"
        | "NotFound"
        | "NoSuchVersion" => return OpErrorKind::NotFound,
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "SlowDown"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "OperationAborted" => return OpErrorKind::Throttled,
        "ConflictException" | "ConditionalRequestConflict" | "ResourceInUse" => {
            return OpErrorKind::Conflict
        }
        "AccessDenied" | "AccessDeniedException" | "Forbidden" => return OpErrorKind::AccessDenied,
        _ => {}
    }
    if code == "ValidationException" || code == "ValidationError" {
        if msg.contains("could not find")
            || msg.contains("not found")
            || msg.contains("does not exist")
        {
            return OpErrorKind::NotFound;
        }
        if msg.contains("in-progress")
            || msg.contains("in progress")
            || msg.contains("in status")
            || msg.contains("cannot update")
            || msg.contains("cannot delete")
            || msg.contains("is being")
        {
            return OpErrorKind::Conflict;
        }
        return OpErrorKind::Invalid;
    }
    match status {
        Some(404) => OpErrorKind::NotFound,
        Some(403) => OpErrorKind::AccessDenied,
        Some(409) => OpErrorKind::Conflict,
        Some(429) => OpErrorKind::Throttled,
        Some(s) if s >= 500 => OpErrorKind::Throttled,
        Some(400) => OpErrorKind::Invalid,
        _ => OpErrorKind::Other,
    }
}

/// Whether a per-key error code in a DeleteObjects reply is worth retrying.
pub fn key_error_is_transient(code: &str) -> bool {
    classify(code, "", None) == OpErrorKind::Throttled
}

/// One object (or one version of it) to delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub key: String,
    /// `Some` when deleting a specific version (versioned-bucket cleanup).
    pub version_id: Option<String>,
}

/// Where the next page of a listing starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageToken {
    /// ListObjectsV2's `NextContinuationToken`.
    Continuation(String),
    /// ListObjectVersions' `NextKeyMarker` / `NextVersionIdMarker`.
    Versions {
        key_marker: String,
        version_id_marker: Option<String>,
    },
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectRef>,
    /// `None` on the last page.
    pub next: Option<PageToken>,
}

/// One per-key failure in a DeleteObjects reply (the call itself succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub object: ObjectRef,
    pub code: String,
    pub message: String,
}

/// An object read back with its ETag (for compare-and-swap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub etag: String,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written {
        etag: String,
    },
    /// Another writer got there first (`412 PreconditionFailed` / `409 ConditionalRequestConflict`).
    PreconditionFailed,
}

/// The S3 calls the compensator makes.
pub trait S3Ops: Send + Sync {
    /// One page of ListObjectsV2 under `prefix` (at most 1000 keys).
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> impl Future<Output = Result<ListPage, OpError>> + Send;

    /// One page of ListObjectVersions under `prefix`: every version and delete marker,
    /// each with its version id.
    fn list_object_versions(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> impl Future<Output = Result<ListPage, OpError>> + Send;

    /// DeleteObjects (quiet mode) on at most 1000 objects; returns the per-key errors.
    fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectRef],
    ) -> impl Future<Output = Result<Vec<KeyError>, OpError>> + Send;

    /// GetObject with its ETag; `None` when the key does not exist.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredObject>, OpError>> + Send;

    /// PutObject with `If-Match: <etag>` (`Some`) or `If-None-Match: *` (`None`).
    fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, OpError>> + Send;
}

/// What DescribeEndpoint says about an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    /// `EndpointStatus`: Creating, Updating, SystemUpdating, RollingBack, InService,
    /// OutOfService, Deleting, Failed, UpdateRollbackFailed.
    pub status: String,
    /// The configuration the endpoint runs now.
    pub config_name: Option<String>,
    /// The configuration an in-progress deployment is moving to
    /// (`PendingDeploymentSummary.EndpointConfigName`).
    pub pending_config_name: Option<String>,
}

/// The SageMaker calls the compensator makes.
pub trait SageMakerOps: Send + Sync {
    /// DescribeTrainingJob → `TrainingJobStatus` (InProgress, Completed, Failed, Stopping, Stopped).
    fn describe_training_job(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<String, OpError>> + Send;
    /// StopTrainingJob.
    fn stop_training_job(&self, name: &str) -> impl Future<Output = Result<(), OpError>> + Send;
    /// DescribeModelPackage → `ModelApprovalStatus` (Approved, Rejected, PendingManualApproval).
    fn describe_model_package(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<String, OpError>> + Send;
    /// UpdateModelPackage with `ModelApprovalStatus=Rejected` and an `ApprovalDescription`.
    fn reject_model_package(
        &self,
        arn: &str,
        description: &str,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
    /// DeleteModelPackage.
    fn delete_model_package(&self, name: &str) -> impl Future<Output = Result<(), OpError>> + Send;
    /// DescribeEndpoint.
    fn describe_endpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<EndpointState, OpError>> + Send;
    /// UpdateEndpoint to `config`.
    fn update_endpoint(
        &self,
        name: &str,
        config: &str,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
    /// DeleteEndpoint.
    fn delete_endpoint(&self, name: &str) -> impl Future<Output = Result<(), OpError>> + Send;
    /// Every endpoint name (ListEndpoints, all pages).
    fn list_endpoints(&self) -> impl Future<Output = Result<Vec<String>, OpError>> + Send;
    /// DescribeEndpointConfig (existence check).
    fn describe_endpoint_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
    /// DeleteEndpointConfig.
    fn delete_endpoint_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
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
                OpErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Requested resource not found.",
                OpErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Model package arn:x not found",
                OpErrorKind::NotFound,
            ),
            (
                "ResourceNotFound",
                "Training job t does not exist",
                OpErrorKind::NotFound,
            ),
            (
                "ValidationException",
                "Cannot update in-progress endpoint \"arn:e\".",
                OpErrorKind::Conflict,
            ),
            (
                "ValidationException",
                "The request was rejected because the training job is in status Completed.",
                OpErrorKind::Conflict,
            ),
            (
                "ConflictException",
                "There was a conflict when you attempted to modify a SageMaker entity",
                OpErrorKind::Conflict,
            ),
            (
                "ThrottlingException",
                "Rate exceeded",
                OpErrorKind::Throttled,
            ),
            (
                "ValidationException",
                "1 validation error detected: Value 'x' failed to satisfy",
                OpErrorKind::Invalid,
            ),
            ("AccessDeniedException", "no", OpErrorKind::AccessDenied),
        ];
        for (code, msg, kind) in cases {
            assert_eq!(classify(code, msg, Some(400)), kind, "{code}: {msg}");
        }
    }

    #[test]
    fn s3_codes_and_statuses() {
        assert_eq!(classify("SlowDown", "", Some(503)), OpErrorKind::Throttled);
        assert_eq!(
            classify("InternalError", "", Some(500)),
            OpErrorKind::Throttled
        );
        assert_eq!(
            classify("NoSuchBucket", "", Some(404)),
            OpErrorKind::NotFound
        );
        assert_eq!(classify("", "", Some(503)), OpErrorKind::Throttled);
        assert_eq!(classify("", "", Some(404)), OpErrorKind::NotFound);
        assert_eq!(classify("Weird", "", None), OpErrorKind::Other);
        assert!(key_error_is_transient("SlowDown"));
        assert!(key_error_is_transient("InternalError"));
        assert!(!key_error_is_transient("AccessDenied"));
    }
}
