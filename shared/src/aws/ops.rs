//! The AWS calls trainguard makes, as small traits per service capability.
//!
//! Why traits: logic that talks to AWS (the saga, the approval gate) is unit-tested
//! against the in-memory doubles ([`super::memory`], following the AWS API reference)
//! and fault injection ([`super::fault`]) without a server, and against moto through the
//! real implementations ([`super::sdk`]). moto lacks `StopTrainingJob`, `UpdateEndpoint`
//! and `DeleteModelPackage`; those paths are tested against the doubles only.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::error::AwsError;

/// One object (or one version of it) to delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectVersion {
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
    pub objects: Vec<ObjectVersion>,
    /// `None` on the last page.
    pub next: Option<PageToken>,
}

/// One per-key failure in a DeleteObjects reply (the call itself succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub object: ObjectVersion,
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
    ) -> impl Future<Output = Result<ListPage, AwsError>> + Send;

    /// One page of ListObjectVersions under `prefix`: every version and delete marker,
    /// each with its version id.
    fn list_object_versions(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> impl Future<Output = Result<ListPage, AwsError>> + Send;

    /// DeleteObjects (quiet mode) on at most 1000 objects; returns the per-key errors.
    fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectVersion],
    ) -> impl Future<Output = Result<Vec<KeyError>, AwsError>> + Send;

    /// GetObject with its ETag; `None` when the key does not exist.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredObject>, AwsError>> + Send;

    /// PutObject (`application/json`) with `If-Match: <etag>` (`Some`) or
    /// `If-None-Match: *` (`None`).
    fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, AwsError>> + Send;

    /// A presigned GetObject URL valid for `expires`.
    fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
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

/// What the evaluation gate reads of a registered model package (DescribeModelPackage).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageRegistration {
    pub arn: String,
    /// `ModelApprovalStatus`.
    pub status: String,
    /// `CustomerMetadataProperties` (e.g. `trainguard:endpoint`).
    pub metadata: std::collections::BTreeMap<String, String>,
    /// `ModelMetrics.ModelQuality.Statistics.S3Uri`: the package's evaluation report.
    pub statistics_uri: Option<String>,
}

/// The SageMaker calls the compensator and the evaluation gate make.
pub trait SageMakerOps: Send + Sync {
    /// DescribeTrainingJob → `TrainingJobStatus` (InProgress, Completed, Failed, Stopping, Stopped).
    fn describe_training_job(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
    /// StopTrainingJob.
    fn stop_training_job(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DescribeModelPackage → `ModelApprovalStatus` (Approved, Rejected, PendingManualApproval).
    fn describe_model_package(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
    /// UpdateModelPackage with `ModelApprovalStatus=<status>` (Approved, Rejected,
    /// PendingManualApproval) and an `ApprovalDescription` (at most 1024 characters).
    fn set_model_package_status(
        &self,
        arn: &str,
        status: &str,
        description: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DeleteModelPackage.
    fn delete_model_package(&self, name: &str)
        -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DescribeEndpoint.
    fn describe_endpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<EndpointState, AwsError>> + Send;
    /// UpdateEndpoint to `config`.
    fn update_endpoint(
        &self,
        name: &str,
        config: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DeleteEndpoint.
    fn delete_endpoint(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Every endpoint name (ListEndpoints, all pages).
    fn list_endpoints(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// DescribeEndpointConfig (existence check).
    fn describe_endpoint_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DeleteEndpointConfig.
    fn delete_endpoint_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DescribeModel (existence check of the SageMaker Model `CreateModel` made).
    fn describe_model(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DeleteModel.
    fn delete_model(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// ARNs of the newest Approved packages of `group`, newest first: one page of
    /// ListModelPackages (`ModelApprovalStatus=Approved`, `SortBy=CreationTime`,
    /// `SortOrder=Descending`, `MaxResults=max`, at most 100).
    fn list_approved_model_packages(
        &self,
        group: &str,
        max: i32,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// DescribeModelPackage, the parts the evaluation gate reads.
    fn describe_model_package_registration(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<PackageRegistration, AwsError>> + Send;
}

/// The Step Functions calls trainguard makes.
pub trait SfnOps: Send + Sync {
    /// SendTaskSuccess: resume the execution waiting on `token` with `output` (JSON).
    fn send_task_success(
        &self,
        token: &str,
        output: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// SendTaskFailure: fail the waiting state with `error` and `cause`.
    fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The SNS calls trainguard makes.
pub trait SnsOps: Send + Sync {
    /// Publish `message` with `subject` (at most 100 characters) to `topic_arn`;
    /// returns the message id.
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
}

/// Everything a concern may call on AWS, as one type parameter: the SDK clients in a
/// Lambda ([`super::sdk::SdkAws`]), the in-memory doubles in unit tests
/// (`memory::MemoryAws`).
pub trait Aws: Send + Sync + 'static {
    type S3: S3Ops;
    type Sfn: SfnOps;
    type SageMaker: SageMakerOps;
    type Sns: SnsOps;
    fn s3(&self) -> &Self::S3;
    fn sfn(&self) -> &Self::Sfn;
    fn sagemaker(&self) -> &Self::SageMaker;
    fn sns(&self) -> &Self::Sns;
}

// ------------------------------------------------------------- shared and borrowed ops
// A borrowed or shared implementation is an implementation (the saga lends its ops to
// a journal and to retries).

macro_rules! forward_s3 {
    ($ty:ty) => {
        impl<T: S3Ops + ?Sized> S3Ops for $ty {
            fn list_objects(
                &self,
                bucket: &str,
                prefix: &str,
                token: Option<&PageToken>,
            ) -> impl std::future::Future<Output = Result<ListPage, AwsError>> + Send {
                (**self).list_objects(bucket, prefix, token)
            }
            fn list_object_versions(
                &self,
                bucket: &str,
                prefix: &str,
                token: Option<&PageToken>,
            ) -> impl std::future::Future<Output = Result<ListPage, AwsError>> + Send {
                (**self).list_object_versions(bucket, prefix, token)
            }
            fn delete_objects(
                &self,
                bucket: &str,
                objects: &[ObjectVersion],
            ) -> impl std::future::Future<Output = Result<Vec<KeyError>, AwsError>> + Send {
                (**self).delete_objects(bucket, objects)
            }
            fn get_object(
                &self,
                bucket: &str,
                key: &str,
            ) -> impl std::future::Future<Output = Result<Option<StoredObject>, AwsError>> + Send
            {
                (**self).get_object(bucket, key)
            }
            fn put_object_conditional(
                &self,
                bucket: &str,
                key: &str,
                body: Vec<u8>,
                if_match: Option<&str>,
            ) -> impl std::future::Future<Output = Result<PutOutcome, AwsError>> + Send {
                (**self).put_object_conditional(bucket, key, body, if_match)
            }
            fn presign_get(
                &self,
                bucket: &str,
                key: &str,
                expires: Duration,
            ) -> impl std::future::Future<Output = Result<String, AwsError>> + Send {
                (**self).presign_get(bucket, key, expires)
            }
        }
    };
}

macro_rules! forward_sm {
    ($ty:ty) => {
        impl<T: SageMakerOps + ?Sized> SageMakerOps for $ty {
            fn describe_training_job(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<String, AwsError>> + Send {
                (**self).describe_training_job(n)
            }
            fn stop_training_job(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).stop_training_job(n)
            }
            fn describe_model_package(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<String, AwsError>> + Send {
                (**self).describe_model_package(n)
            }
            fn set_model_package_status(
                &self,
                a: &str,
                s: &str,
                d: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).set_model_package_status(a, s, d)
            }
            fn delete_model_package(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).delete_model_package(n)
            }
            fn describe_endpoint(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<EndpointState, AwsError>> + Send {
                (**self).describe_endpoint(n)
            }
            fn update_endpoint(
                &self,
                n: &str,
                c: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).update_endpoint(n, c)
            }
            fn delete_endpoint(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).delete_endpoint(n)
            }
            fn list_endpoints(
                &self,
            ) -> impl std::future::Future<Output = Result<Vec<String>, AwsError>> + Send {
                (**self).list_endpoints()
            }
            fn describe_endpoint_config(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).describe_endpoint_config(n)
            }
            fn delete_endpoint_config(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).delete_endpoint_config(n)
            }
            fn describe_model(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).describe_model(n)
            }
            fn delete_model(
                &self,
                n: &str,
            ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
                (**self).delete_model(n)
            }
            fn list_approved_model_packages(
                &self,
                g: &str,
                m: i32,
            ) -> impl std::future::Future<Output = Result<Vec<String>, AwsError>> + Send {
                (**self).list_approved_model_packages(g, m)
            }
            fn describe_model_package_registration(
                &self,
                a: &str,
            ) -> impl std::future::Future<Output = Result<PackageRegistration, AwsError>> + Send
            {
                (**self).describe_model_package_registration(a)
            }
        }
    };
}

forward_s3!(&T);
forward_s3!(Arc<T>);
forward_sm!(&T);
forward_sm!(Arc<T>);
