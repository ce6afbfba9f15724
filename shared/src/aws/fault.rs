//! Fault injection: a wrapper around any [`S3Ops`]/[`SageMakerOps`] that fails chosen
//! calls the way AWS does (throttling, per-key DeleteObjects errors, permanent
//! refusals) or never answers (a crash, when the caller drops the future).
//!
//! Used by the tests, against the in-memory model and against moto alike; it lives in
//! the library so the workspace-level tests can use it too.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::error::AwsError;
use super::ops::{
    EndpointState, KeyError, ListPage, ObjectVersion, PackageRegistration, PageToken, PutOutcome,
    S3Ops, SageMakerOps, StoredObject,
};

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The call fails with this error reply.
    Error {
        code: String,
        message: String,
        status: Option<u16>,
    },
    /// DeleteObjects succeeds but reports these per-key errors for the matching keys
    /// (which are left in place).
    KeyError { code: String, message: String },
    /// The call never completes (simulates a crash or a Lambda timeout).
    Hang,
}

impl Fault {
    /// SageMaker's throttling reply.
    pub fn throttling() -> Fault {
        Fault::Error {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
            status: Some(400),
        }
    }

    /// S3's throttling reply.
    pub fn slow_down() -> Fault {
        Fault::Error {
            code: "SlowDown".into(),
            message: "Please reduce your request rate.".into(),
            status: Some(503),
        }
    }

    /// A permanent refusal.
    pub fn access_denied() -> Fault {
        Fault::Error {
            code: "AccessDenied".into(),
            message: "Access Denied".into(),
            status: Some(403),
        }
    }

    /// SageMaker's ConflictException.
    pub fn conflict() -> Fault {
        Fault::Error {
            code: "ConflictException".into(),
            message: "There was a conflict when you attempted to modify a SageMaker entity".into(),
            status: Some(400),
        }
    }

    /// A transient per-key DeleteObjects error.
    pub fn key_internal_error() -> Fault {
        Fault::KeyError {
            code: "InternalError".into(),
            message: "We encountered an internal error. Please try again.".into(),
        }
    }

    /// A permanent per-key DeleteObjects error.
    pub fn key_access_denied() -> Fault {
        Fault::KeyError {
            code: "AccessDenied".into(),
            message: "Access Denied".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    operation: String,
    /// Applies only when the call's resource (name, key or prefix) contains this.
    matching: Option<String>,
    fault: Fault,
    /// `None`: forever.
    remaining: Option<u32>,
    /// Matching calls to let through before the fault starts.
    skip: u32,
}

/// Wraps `T`, failing the calls that match the injected rules.
#[derive(Debug)]
pub struct Faulty<T> {
    inner: T,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<BTreeMap<String, u64>>,
    injected: Mutex<u64>,
}

impl<T> Faulty<T> {
    pub fn new(inner: T) -> Self {
        Faulty {
            inner,
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(BTreeMap::new()),
            injected: Mutex::new(0),
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Fail `operation` (e.g. `DeleteObjects`, `StopTrainingJob`) on resources containing
    /// `matching` (any resource if `None`), `times` times (forever if `None`).
    pub fn inject(
        &self,
        operation: &str,
        matching: Option<&str>,
        fault: Fault,
        times: Option<u32>,
    ) -> &Self {
        self.inject_after(operation, matching, fault, times, 0)
    }

    /// Like [`Self::inject`], after letting `skip` matching calls through.
    pub fn inject_after(
        &self,
        operation: &str,
        matching: Option<&str>,
        fault: Fault,
        times: Option<u32>,
        skip: u32,
    ) -> &Self {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.push(Rule {
            operation: operation.into(),
            matching: matching.map(str::to_string),
            fault,
            remaining: times,
            skip,
        });
        self
    }

    /// Remove every rule (the fault "heals").
    pub fn heal(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Calls of `operation` that reached this wrapper.
    pub fn calls(&self, operation: &str) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        *self.injected.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault for this call, if a rule applies (consuming one use of it).
    fn check(&self, operation: &str, resource: &str) -> Option<Fault> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation.to_string())
            .or_default() += 1;
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        for r in rules.iter_mut() {
            let hit = r.operation == operation
                && r.matching
                    .as_deref()
                    .map(|m| resource.contains(m))
                    .unwrap_or(true)
                && r.remaining != Some(0);
            // Per-key faults are applied inside delete_objects, key by key.
            if hit && !matches!(r.fault, Fault::KeyError { .. }) {
                if r.skip > 0 {
                    r.skip -= 1;
                    continue;
                }
                if let Some(n) = r.remaining.as_mut() {
                    *n -= 1;
                }
                *self.injected.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                return Some(r.fault.clone());
            }
        }
        None
    }

    /// Per-key faults for one DeleteObjects call: which objects fail, with which reply.
    fn key_faults(&self, objects: &[ObjectVersion]) -> Vec<KeyError> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for o in objects {
            for r in rules.iter_mut() {
                let Fault::KeyError { code, message } = &r.fault else {
                    continue;
                };
                let hit = r.operation == "DeleteObjects"
                    && r.matching
                        .as_deref()
                        .map(|m| o.key.contains(m))
                        .unwrap_or(true)
                    && r.remaining != Some(0);
                if hit {
                    if let Some(n) = r.remaining.as_mut() {
                        *n -= 1;
                    }
                    *self.injected.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    out.push(KeyError {
                        object: o.clone(),
                        code: code.clone(),
                        message: message.clone(),
                    });
                    break;
                }
            }
        }
        out
    }
}

async fn apply(operation: &str, fault: Option<Fault>) -> Result<(), AwsError> {
    match fault {
        None | Some(Fault::KeyError { .. }) => Ok(()),
        Some(Fault::Error {
            code,
            message,
            status,
        }) => Err(AwsError::new(operation, &code, &message, status)),
        Some(Fault::Hang) => futures::future::pending().await,
    }
}

impl<T: S3Ops> S3Ops for Faulty<T> {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        apply("ListObjectsV2", self.check("ListObjectsV2", prefix)).await?;
        self.inner.list_objects(bucket, prefix, token).await
    }

    async fn list_object_versions(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        apply(
            "ListObjectVersions",
            self.check("ListObjectVersions", prefix),
        )
        .await?;
        self.inner.list_object_versions(bucket, prefix, token).await
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectVersion],
    ) -> Result<Vec<KeyError>, AwsError> {
        let first = objects.first().map(|o| o.key.as_str()).unwrap_or("");
        apply("DeleteObjects", self.check("DeleteObjects", first)).await?;
        let failing = self.key_faults(objects);
        let pass: Vec<ObjectVersion> = objects
            .iter()
            .filter(|o| !failing.iter().any(|f| &f.object == *o))
            .cloned()
            .collect();
        let mut errors = if pass.is_empty() {
            Vec::new()
        } else {
            self.inner.delete_objects(bucket, &pass).await?
        };
        errors.extend(failing);
        Ok(errors)
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, AwsError> {
        apply("GetObject", self.check("GetObject", key)).await?;
        self.inner.get_object(bucket, key).await
    }

    async fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<PutOutcome, AwsError> {
        apply("PutObject", self.check("PutObject", key)).await?;
        self.inner
            .put_object_conditional(bucket, key, body, if_match)
            .await
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> Result<String, AwsError> {
        apply("PresignGetObject", self.check("PresignGetObject", key)).await?;
        self.inner.presign_get(bucket, key, expires).await
    }
}

impl<T: SageMakerOps> SageMakerOps for Faulty<T> {
    async fn describe_training_job(&self, name: &str) -> Result<String, AwsError> {
        apply(
            "DescribeTrainingJob",
            self.check("DescribeTrainingJob", name),
        )
        .await?;
        self.inner.describe_training_job(name).await
    }
    async fn stop_training_job(&self, name: &str) -> Result<(), AwsError> {
        apply("StopTrainingJob", self.check("StopTrainingJob", name)).await?;
        self.inner.stop_training_job(name).await
    }
    async fn describe_model_package(&self, name: &str) -> Result<String, AwsError> {
        apply(
            "DescribeModelPackage",
            self.check("DescribeModelPackage", name),
        )
        .await?;
        self.inner.describe_model_package(name).await
    }
    async fn set_model_package_status(
        &self,
        arn: &str,
        status: &str,
        description: &str,
    ) -> Result<(), AwsError> {
        apply("UpdateModelPackage", self.check("UpdateModelPackage", arn)).await?;
        self.inner
            .set_model_package_status(arn, status, description)
            .await
    }
    async fn delete_model_package(&self, name: &str) -> Result<(), AwsError> {
        apply("DeleteModelPackage", self.check("DeleteModelPackage", name)).await?;
        self.inner.delete_model_package(name).await
    }
    async fn list_approved_model_packages(
        &self,
        group: &str,
        max: i32,
    ) -> Result<Vec<String>, AwsError> {
        apply("ListModelPackages", self.check("ListModelPackages", group)).await?;
        self.inner.list_approved_model_packages(group, max).await
    }
    async fn describe_model_package_registration(
        &self,
        arn: &str,
    ) -> Result<PackageRegistration, AwsError> {
        apply(
            "DescribeModelPackage",
            self.check("DescribeModelPackage", arn),
        )
        .await?;
        self.inner.describe_model_package_registration(arn).await
    }
    async fn describe_endpoint(&self, name: &str) -> Result<EndpointState, AwsError> {
        apply("DescribeEndpoint", self.check("DescribeEndpoint", name)).await?;
        self.inner.describe_endpoint(name).await
    }
    async fn update_endpoint(&self, name: &str, config: &str) -> Result<(), AwsError> {
        apply("UpdateEndpoint", self.check("UpdateEndpoint", name)).await?;
        self.inner.update_endpoint(name, config).await
    }
    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        apply("DeleteEndpoint", self.check("DeleteEndpoint", name)).await?;
        self.inner.delete_endpoint(name).await
    }
    async fn list_endpoints(&self) -> Result<Vec<String>, AwsError> {
        apply("ListEndpoints", self.check("ListEndpoints", "")).await?;
        self.inner.list_endpoints().await
    }
    async fn describe_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        apply(
            "DescribeEndpointConfig",
            self.check("DescribeEndpointConfig", name),
        )
        .await?;
        self.inner.describe_endpoint_config(name).await
    }
    async fn delete_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        apply(
            "DeleteEndpointConfig",
            self.check("DeleteEndpointConfig", name),
        )
        .await?;
        self.inner.delete_endpoint_config(name).await
    }
    async fn describe_model(&self, name: &str) -> Result<(), AwsError> {
        apply("DescribeModel", self.check("DescribeModel", name)).await?;
        self.inner.describe_model(name).await
    }
    async fn delete_model(&self, name: &str) -> Result<(), AwsError> {
        apply("DeleteModel", self.check("DeleteModel", name)).await?;
        self.inner.delete_model(name).await
    }
}
