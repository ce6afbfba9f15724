//! In-memory S3 and SageMaker that follow the AWS API reference closely enough for the
//! saga's purposes, including the error replies (codes and messages as AWS sends them).
//!
//! Why: moto 5.2.5 answers HTTP 500 for `StopTrainingJob`, `UpdateEndpoint` and
//! `DeleteModelPackage`, so those paths, and the property tests, run here. The models
//! keep what matters for compensation: training jobs stop asynchronously
//! (InProgress → Stopping → Stopped), UpdateEndpoint deploys asynchronously (Updating,
//! with a pending config) and is refused on an endpoint that is not InService, a
//! versioned bucket keeps versions and delete markers, DeleteObjects reports per key,
//! conditional PUTs honour `If-Match`/`If-None-Match`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::error::AwsError;
use super::ops::{
    Aws, EndpointState, KeyError, ListPage, ObjectVersion, PackageRegistration, PageToken,
    PutOutcome, S3Ops, SageMakerOps, SfnOps, SnsOps, StoredObject,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock (only possible in a test) must not hide the state.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------- S3

#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    version_id: String,
    etag: String,
    body: Vec<u8>,
    delete_marker: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Bucket {
    versioned: bool,
    /// Versions of each key, oldest first.
    objects: BTreeMap<String, Vec<Version>>,
}

#[derive(Debug, Default)]
struct S3State {
    buckets: BTreeMap<String, Bucket>,
    counter: u64,
    calls: Vec<String>,
}

/// An in-memory S3.
#[derive(Debug)]
pub struct InMemoryS3 {
    state: Mutex<S3State>,
    page_size: usize,
}

impl Default for InMemoryS3 {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryS3 {
    /// Listing pages of 1000 keys, like S3.
    pub fn new() -> Self {
        Self::with_page_size(1000)
    }

    /// Smaller pages make pagination visible in small tests.
    pub fn with_page_size(page_size: usize) -> Self {
        InMemoryS3 {
            state: Mutex::new(S3State::default()),
            page_size: page_size.max(1),
        }
    }

    pub fn create_bucket(&self, name: &str, versioned: bool) {
        lock(&self.state).buckets.insert(
            name.to_string(),
            Bucket {
                versioned,
                objects: BTreeMap::new(),
            },
        );
    }

    /// PutObject without conditions.
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let mut s = lock(&self.state);
        let _ = put_version(&mut s, bucket, key, body, false);
    }

    /// Keys whose current version is an object (not a delete marker).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let s = lock(&self.state);
        s.buckets
            .get(bucket)
            .map(|b| {
                b.objects
                    .iter()
                    .filter(|(k, v)| {
                        k.starts_with(prefix) && v.last().map(|v| !v.delete_marker).unwrap_or(false)
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Versions and delete markers stored under `prefix`.
    pub fn version_count(&self, bucket: &str, prefix: &str) -> usize {
        let s = lock(&self.state);
        s.buckets
            .get(bucket)
            .map(|b| {
                b.objects
                    .iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The current body of a key.
    pub fn body(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let s = lock(&self.state);
        let v = s.buckets.get(bucket)?.objects.get(key)?.last()?;
        (!v.delete_marker).then(|| v.body.clone())
    }

    /// Every call made, as `Operation` or `Operation key`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// A comparable picture of every bucket's contents (bodies and versions included).
    pub fn snapshot(&self) -> String {
        format!("{:?}", lock(&self.state).buckets)
    }

    /// Like [`Self::snapshot`], leaving out keys that contain `skip` (e.g. the journal).
    pub fn snapshot_without(&self, skip: &str) -> String {
        let s = lock(&self.state);
        let view: BTreeMap<&String, Vec<(&String, usize, bool)>> = s
            .buckets
            .iter()
            .map(|(n, b)| {
                let objs = b
                    .objects
                    .iter()
                    .filter(|(k, _)| !k.contains(skip))
                    .map(|(k, v)| {
                        (
                            k,
                            v.len(),
                            v.last().map(|v| v.delete_marker).unwrap_or(false),
                        )
                    })
                    .collect();
                (n, objs)
            })
            .collect();
        format!("{view:?}")
    }
}

fn no_such_bucket(op: &str, bucket: &str) -> AwsError {
    AwsError::new(
        op,
        "NoSuchBucket",
        &format!("The specified bucket does not exist: {bucket}"),
        Some(404),
    )
}

fn put_version(
    s: &mut S3State,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    delete_marker: bool,
) -> Result<String, AwsError> {
    s.counter += 1;
    let n = s.counter;
    let b = s
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket("PutObject", bucket))?;
    let etag = format!("\"{n:032x}\"");
    let version_id = if b.versioned {
        format!("v{n:08}")
    } else {
        "null".to_string()
    };
    let versions = b.objects.entry(key.to_string()).or_default();
    if !b.versioned {
        versions.clear();
    }
    versions.push(Version {
        version_id,
        etag: etag.clone(),
        body,
        delete_marker,
    });
    Ok(etag)
}

impl S3Ops for InMemoryS3 {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("ListObjectsV2 {prefix}"));
        let b = s
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("ListObjectsV2", bucket))?;
        let after = match token {
            Some(PageToken::Continuation(t)) => Some(t.clone()),
            Some(other) => {
                return Err(AwsError::new(
                    "ListObjectsV2",
                    "InvalidArgument",
                    &format!("bad token {other:?}"),
                    Some(400),
                ))
            }
            None => None,
        };
        let mut keys = b
            .objects
            .iter()
            .filter(|(k, v)| {
                k.starts_with(prefix)
                    && after
                        .as_ref()
                        .map(|a| k.as_str() > a.as_str())
                        .unwrap_or(true)
                    && v.last().map(|v| !v.delete_marker).unwrap_or(false)
            })
            .map(|(k, _)| k.clone());
        let objects: Vec<ObjectVersion> = keys
            .by_ref()
            .take(self.page_size)
            .map(|key| ObjectVersion {
                key,
                version_id: None,
            })
            .collect();
        let more = keys.next().is_some();
        let next = match (more, objects.last()) {
            (true, Some(last)) => Some(PageToken::Continuation(last.key.clone())),
            _ => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn list_object_versions(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("ListObjectVersions {prefix}"));
        let b = s
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("ListObjectVersions", bucket))?;
        // S3 order: by key, newest version first.
        let all: Vec<ObjectVersion> = b
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .flat_map(|(k, vs)| {
                vs.iter().rev().map(move |v| ObjectVersion {
                    key: k.clone(),
                    version_id: Some(v.version_id.clone()),
                })
            })
            .collect();
        let start = match token {
            None => 0,
            Some(PageToken::Versions {
                key_marker,
                version_id_marker,
            }) => match version_id_marker {
                // After the marked version of the marked key. If that version is gone by
                // now (deleted page by page), continue where it would have been: version
                // ids grow with time and each key lists newest first, so the older
                // versions of that key come next.
                Some(vm) => all
                    .iter()
                    .position(|o| {
                        o.key.as_str() > key_marker.as_str()
                            || (&o.key == key_marker
                                && o.version_id
                                    .as_deref()
                                    .map(|v| v < vm.as_str())
                                    .unwrap_or(false))
                    })
                    .unwrap_or(all.len()),
                None => all
                    .iter()
                    .position(|o| o.key.as_str() > key_marker.as_str())
                    .unwrap_or(all.len()),
            },
            Some(other) => {
                return Err(AwsError::new(
                    "ListObjectVersions",
                    "InvalidArgument",
                    &format!("bad token {other:?}"),
                    Some(400),
                ))
            }
        };
        let page: Vec<ObjectVersion> = all
            .iter()
            .skip(start)
            .take(self.page_size)
            .cloned()
            .collect();
        let more = start + page.len() < all.len();
        let next = match (more, page.last()) {
            (true, Some(last)) => Some(PageToken::Versions {
                key_marker: last.key.clone(),
                version_id_marker: last.version_id.clone(),
            }),
            _ => None,
        };
        Ok(ListPage {
            objects: page,
            next,
        })
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectVersion],
    ) -> Result<Vec<KeyError>, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DeleteObjects {}", objects.len()));
        if objects.is_empty() || objects.len() > 1000 {
            return Err(AwsError::new(
                "DeleteObjects",
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                Some(400),
            ));
        }
        if !s.buckets.contains_key(bucket) {
            return Err(no_such_bucket("DeleteObjects", bucket));
        }
        for o in objects {
            let versioned = s.buckets.get(bucket).map(|b| b.versioned).unwrap_or(false);
            match &o.version_id {
                Some(vid) => {
                    // Deleting a specific version removes it for good; an absent one is success.
                    if let Some(b) = s.buckets.get_mut(bucket) {
                        if let Some(vs) = b.objects.get_mut(&o.key) {
                            vs.retain(|v| &v.version_id != vid);
                            if vs.is_empty() {
                                b.objects.remove(&o.key);
                            }
                        }
                    }
                }
                None if versioned => {
                    let exists = s
                        .buckets
                        .get(bucket)
                        .and_then(|b| b.objects.get(&o.key))
                        .map(|v| !v.is_empty())
                        .unwrap_or(false);
                    if exists {
                        put_version(&mut s, bucket, &o.key, Vec::new(), true)?;
                    }
                }
                None => {
                    if let Some(b) = s.buckets.get_mut(bucket) {
                        b.objects.remove(&o.key);
                    }
                }
            }
        }
        Ok(Vec::new())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("GetObject {key}"));
        let b = s
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("GetObject", bucket))?;
        Ok(b.objects
            .get(key)
            .and_then(|v| v.last())
            .filter(|v| !v.delete_marker)
            .map(|v| StoredObject {
                body: v.body.clone(),
                etag: v.etag.clone(),
            }))
    }

    async fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<PutOutcome, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("PutObject {key}"));
        let b = s
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket("PutObject", bucket))?;
        let current = b
            .objects
            .get(key)
            .and_then(|v| v.last())
            .filter(|v| !v.delete_marker)
            .map(|v| v.etag.clone());
        match (if_match, current) {
            (None, Some(_)) => return Ok(PutOutcome::PreconditionFailed),
            (Some(_), None) => {
                return Err(AwsError::new(
                    "PutObject",
                    "NoSuchKey",
                    "The specified key does not exist.",
                    Some(404),
                ))
            }
            (Some(want), Some(have)) if want != have => return Ok(PutOutcome::PreconditionFailed),
            _ => {}
        }
        let etag = put_version(&mut s, bucket, key, body, false)?;
        Ok(PutOutcome::Written { etag })
    }

    /// Presigning is local in the SDK (no call); the double checks the bucket exists
    /// and returns a recognisable link, `https://<bucket>.s3.memory/<key>?X-Amz-Expires=<s>`.
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> Result<String, AwsError> {
        let s = lock(&self.state);
        if !s.buckets.contains_key(bucket) {
            return Err(no_such_bucket("GetObject", bucket));
        }
        if expires.as_secs() == 0 || expires.as_secs() > 604_800 {
            return Err(AwsError::new(
                "GetObject",
                "InvalidPresignConfig",
                "presigned URLs expire between 1 second and 7 days",
                None,
            ));
        }
        Ok(format!(
            "https://{bucket}.s3.memory/{key}?X-Amz-Expires={}",
            expires.as_secs()
        ))
    }
}

// --------------------------------------------------------------------------- SageMaker

#[derive(Debug, Clone, PartialEq, Eq)]
struct Job {
    status: String,
    /// Describes left before an asynchronous transition (Stopping → Stopped) completes.
    countdown: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    status: String,
    description: Option<String>,
    group: Option<String>,
    metadata: BTreeMap<String, String>,
    statistics_uri: Option<String>,
    /// Creation order (ListModelPackages sorts by CreationTime).
    created: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    status: String,
    config: String,
    pending: Option<String>,
    countdown: u32,
}

#[derive(Debug, Default)]
struct SmState {
    jobs: BTreeMap<String, Job>,
    packages: BTreeMap<String, Package>,
    endpoints: BTreeMap<String, Endpoint>,
    configs: BTreeSet<String>,
    models: BTreeSet<String>,
    calls: Vec<String>,
}

/// An in-memory SageMaker (training jobs, model packages, endpoints, endpoint configs,
/// models).
#[derive(Debug)]
pub struct InMemorySageMaker {
    state: Mutex<SmState>,
    /// DescribeX calls an asynchronous transition takes (0 = completes at once).
    transition_describes: u32,
}

impl Default for InMemorySageMaker {
    fn default() -> Self {
        Self::new()
    }
}

const ARN_PREFIX: &str = "arn:aws:sagemaker:us-east-1:123456789012";

impl InMemorySageMaker {
    /// Transitions (stopping a job, updating an endpoint) complete at once.
    pub fn new() -> Self {
        Self::with_transition_describes(0)
    }

    /// Transitions complete after `n` Describe calls of the resource.
    pub fn with_transition_describes(n: u32) -> Self {
        InMemorySageMaker {
            state: Mutex::new(SmState::default()),
            transition_describes: n,
        }
    }

    pub fn add_training_job(&self, name: &str, status: &str) {
        lock(&self.state).jobs.insert(
            name.into(),
            Job {
                status: status.into(),
                countdown: 0,
            },
        );
    }

    pub fn add_model_package(&self, arn: &str, status: &str) {
        lock(&self.state).packages.insert(
            arn.into(),
            Package {
                status: status.into(),
                description: None,
                group: None,
                metadata: BTreeMap::new(),
                statistics_uri: None,
                created: 0,
            },
        );
    }

    /// A versioned package of `group` as CreateModelPackage registers it, created after
    /// every earlier one: its metadata and `ModelMetrics.ModelQuality.Statistics.S3Uri`.
    pub fn register_model_package(
        &self,
        arn: &str,
        group: &str,
        status: &str,
        metadata: &[(&str, &str)],
        statistics_uri: Option<&str>,
    ) {
        let mut s = lock(&self.state);
        let created = s.packages.values().map(|p| p.created).max().unwrap_or(0) + 1;
        s.packages.insert(
            arn.into(),
            Package {
                status: status.into(),
                description: None,
                group: Some(group.into()),
                metadata: metadata
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                statistics_uri: statistics_uri.map(str::to_string),
                created,
            },
        );
    }

    pub fn add_endpoint_config(&self, name: &str) {
        lock(&self.state).configs.insert(name.into());
    }

    /// A SageMaker Model (what `CreateModel` makes; an endpoint config names it).
    pub fn add_model(&self, name: &str) {
        lock(&self.state).models.insert(name.into());
    }

    pub fn has_model(&self, name: &str) -> bool {
        lock(&self.state).models.contains(name)
    }

    /// An endpoint running `config` (which is added as an endpoint config too).
    pub fn add_endpoint(&self, name: &str, config: &str, status: &str) {
        let mut s = lock(&self.state);
        s.configs.insert(config.into());
        s.endpoints.insert(
            name.into(),
            Endpoint {
                status: status.into(),
                config: config.into(),
                pending: None,
                countdown: 0,
            },
        );
    }

    /// An endpoint in the middle of an update from `config` to `pending`.
    pub fn add_updating_endpoint(&self, name: &str, config: &str, pending: &str, describes: u32) {
        let mut s = lock(&self.state);
        s.configs.insert(config.into());
        s.configs.insert(pending.into());
        s.endpoints.insert(
            name.into(),
            Endpoint {
                status: "Updating".into(),
                config: config.into(),
                pending: Some(pending.into()),
                countdown: describes,
            },
        );
    }

    pub fn training_job_status(&self, name: &str) -> Option<String> {
        lock(&self.state).jobs.get(name).map(|j| j.status.clone())
    }

    /// `(ModelApprovalStatus, ApprovalDescription)`.
    pub fn model_package(&self, arn: &str) -> Option<(String, Option<String>)> {
        lock(&self.state)
            .packages
            .get(arn)
            .map(|p| (p.status.clone(), p.description.clone()))
    }

    pub fn endpoint(&self, name: &str) -> Option<EndpointState> {
        lock(&self.state)
            .endpoints
            .get(name)
            .map(|e| EndpointState {
                status: e.status.clone(),
                config_name: Some(e.config.clone()),
                pending_config_name: e.pending.clone(),
            })
    }

    pub fn has_endpoint_config(&self, name: &str) -> bool {
        lock(&self.state).configs.contains(name)
    }

    /// Finish every asynchronous transition now.
    pub fn settle(&self) {
        let mut s = lock(&self.state);
        for j in s.jobs.values_mut() {
            if j.status == "Stopping" {
                j.status = "Stopped".into();
            }
        }
        for e in s.endpoints.values_mut() {
            finish_update(e);
        }
    }

    /// Every call made, as `Operation name`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// Calls of one operation.
    pub fn call_count(&self, op: &str) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.split(' ').next() == Some(op))
            .count()
    }

    /// A comparable picture of every resource (calls left out).
    pub fn snapshot(&self) -> String {
        let s = lock(&self.state);
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            s.jobs, s.packages, s.endpoints, s.configs, s.models
        )
    }
}

fn finish_update(e: &mut Endpoint) {
    if let Some(p) = e.pending.take() {
        e.config = p;
    }
    if e.status == "Updating" || e.status == "Creating" {
        e.status = "InService".into();
    }
    e.countdown = 0;
}

fn endpoint_not_found(op: &str, name: &str) -> AwsError {
    AwsError::new(
        op,
        "ValidationException",
        &format!("Could not find endpoint \"{ARN_PREFIX}:endpoint/{name}\"."),
        Some(400),
    )
}

fn config_not_found(op: &str, name: &str) -> AwsError {
    AwsError::new(
        op,
        "ValidationException",
        &format!("Could not find endpoint configuration \"{ARN_PREFIX}:endpoint-config/{name}\"."),
        Some(400),
    )
}

fn model_not_found(op: &str, name: &str) -> AwsError {
    AwsError::new(
        op,
        "ValidationException",
        &format!("Could not find model \"{ARN_PREFIX}:model/{name}\"."),
        Some(400),
    )
}

fn package_not_found(op: &str, name: &str) -> AwsError {
    AwsError::new(
        op,
        "ValidationException",
        &format!("ModelPackage {name} does not exist."),
        Some(400),
    )
}

impl SageMakerOps for InMemorySageMaker {
    async fn describe_training_job(&self, name: &str) -> Result<String, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeTrainingJob {name}"));
        let job = s.jobs.get_mut(name).ok_or_else(|| {
            AwsError::new(
                "DescribeTrainingJob",
                "ValidationException",
                "Requested resource not found.",
                Some(400),
            )
        })?;
        if job.status == "Stopping" {
            if job.countdown == 0 {
                job.status = "Stopped".into();
            } else {
                job.countdown -= 1;
            }
        }
        Ok(job.status.clone())
    }

    async fn stop_training_job(&self, name: &str) -> Result<(), AwsError> {
        let describes = self.transition_describes;
        let mut s = lock(&self.state);
        s.calls.push(format!("StopTrainingJob {name}"));
        let job = s.jobs.get_mut(name).ok_or_else(|| {
            AwsError::new(
                "StopTrainingJob",
                "ResourceNotFound",
                &format!("Training job {name} does not exist."),
                Some(400),
            )
        })?;
        if job.status != "InProgress" {
            return Err(AwsError::new(
                "StopTrainingJob",
                "ValidationException",
                &format!(
                    "The request was rejected because the training job is in status {}.",
                    job.status
                ),
                Some(400),
            ));
        }
        if describes == 0 {
            job.status = "Stopped".into();
        } else {
            job.status = "Stopping".into();
            job.countdown = describes;
        }
        Ok(())
    }

    async fn describe_model_package(&self, name: &str) -> Result<String, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeModelPackage {name}"));
        s.packages
            .get(name)
            .map(|p| p.status.clone())
            .ok_or_else(|| package_not_found("DescribeModelPackage", name))
    }

    async fn set_model_package_status(
        &self,
        arn: &str,
        status: &str,
        description: &str,
    ) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("UpdateModelPackage {arn}"));
        if description.chars().count() > 1024 {
            return Err(AwsError::new(
                "UpdateModelPackage",
                "ValidationException",
                "1 validation error detected: Value at 'approvalDescription' failed to satisfy constraint: Member must have length less than or equal to 1024",
                Some(400),
            ));
        }
        let p = s
            .packages
            .get_mut(arn)
            .ok_or_else(|| package_not_found("UpdateModelPackage", arn))?;
        if !matches!(status, "Approved" | "Rejected" | "PendingManualApproval") {
            return Err(AwsError::new(
                "UpdateModelPackage",
                "ValidationException",
                &format!("1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]"),
                Some(400),
            ));
        }
        p.status = status.into();
        p.description = Some(description.into());
        Ok(())
    }

    async fn delete_model_package(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DeleteModelPackage {name}"));
        s.packages
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| package_not_found("DeleteModelPackage", name))
    }

    async fn list_approved_model_packages(
        &self,
        group: &str,
        max: i32,
    ) -> Result<Vec<String>, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("ListModelPackages {group}"));
        if !(1..=100).contains(&max) {
            return Err(AwsError::new(
                "ListModelPackages",
                "ValidationException",
                &format!("1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100"),
                Some(400),
            ));
        }
        let mut found: Vec<(&u64, &String)> = s
            .packages
            .iter()
            .filter(|(_, p)| p.group.as_deref() == Some(group) && p.status == "Approved")
            .map(|(arn, p)| (&p.created, arn))
            .collect();
        found.sort_by(|a, b| b.0.cmp(a.0));
        Ok(found
            .into_iter()
            .take(max as usize)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn describe_model_package_registration(
        &self,
        arn: &str,
    ) -> Result<PackageRegistration, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeModelPackage {arn}"));
        let p = s
            .packages
            .get(arn)
            .ok_or_else(|| package_not_found("DescribeModelPackage", arn))?;
        Ok(PackageRegistration {
            arn: arn.into(),
            status: p.status.clone(),
            metadata: p.metadata.clone(),
            statistics_uri: p.statistics_uri.clone(),
        })
    }

    async fn describe_endpoint(&self, name: &str) -> Result<EndpointState, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeEndpoint {name}"));
        let e = s
            .endpoints
            .get_mut(name)
            .ok_or_else(|| endpoint_not_found("DescribeEndpoint", name))?;
        if e.pending.is_some() {
            if e.countdown == 0 {
                finish_update(e);
            } else {
                e.countdown -= 1;
            }
        }
        Ok(EndpointState {
            status: e.status.clone(),
            config_name: Some(e.config.clone()),
            pending_config_name: e.pending.clone(),
        })
    }

    async fn update_endpoint(&self, name: &str, config: &str) -> Result<(), AwsError> {
        let describes = self.transition_describes;
        let mut s = lock(&self.state);
        s.calls.push(format!("UpdateEndpoint {name}"));
        if !s.configs.contains(config) {
            return Err(config_not_found("UpdateEndpoint", config));
        }
        let e = s
            .endpoints
            .get_mut(name)
            .ok_or_else(|| endpoint_not_found("UpdateEndpoint", name))?;
        match e.status.as_str() {
            "InService" | "OutOfService" => {}
            "Failed" => {
                return Err(AwsError::new(
                    "UpdateEndpoint",
                    "ValidationException",
                    &format!(
                        "Cannot update endpoint \"{ARN_PREFIX}:endpoint/{name}\" in status Failed."
                    ),
                    Some(400),
                ))
            }
            _ => {
                return Err(AwsError::new(
                    "UpdateEndpoint",
                    "ValidationException",
                    &format!(
                        "Cannot update in-progress endpoint \"{ARN_PREFIX}:endpoint/{name}\"."
                    ),
                    Some(400),
                ))
            }
        }
        e.status = "Updating".into();
        e.pending = Some(config.into());
        e.countdown = describes;
        if describes == 0 {
            finish_update(e);
        }
        Ok(())
    }

    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DeleteEndpoint {name}"));
        s.endpoints
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| endpoint_not_found("DeleteEndpoint", name))
    }

    async fn list_endpoints(&self) -> Result<Vec<String>, AwsError> {
        let mut s = lock(&self.state);
        s.calls.push("ListEndpoints".into());
        Ok(s.endpoints.keys().cloned().collect())
    }

    async fn describe_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeEndpointConfig {name}"));
        if s.configs.contains(name) {
            Ok(())
        } else {
            Err(config_not_found("DescribeEndpointConfig", name))
        }
    }

    async fn delete_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DeleteEndpointConfig {name}"));
        if s.configs.remove(name) {
            Ok(())
        } else {
            Err(config_not_found("DeleteEndpointConfig", name))
        }
    }

    async fn describe_model(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DescribeModel {name}"));
        if s.models.contains(name) {
            Ok(())
        } else {
            Err(model_not_found("DescribeModel", name))
        }
    }

    /// SageMaker deletes a model even while an endpoint config names it (the saga is
    /// the one that waits for the config to go first).
    async fn delete_model(&self, name: &str) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(format!("DeleteModel {name}"));
        if s.models.remove(name) {
            Ok(())
        } else {
            Err(model_not_found("DeleteModel", name))
        }
    }
}

// ------------------------------------------------------------------ Step Functions

/// What happened to a task token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    Succeeded { output: String },
    Failed { error: String, cause: String },
}

#[derive(Debug, Default)]
struct SfnState {
    /// Tokens a state is waiting on, and the result once sent.
    tokens: BTreeMap<String, Option<TaskResult>>,
    calls: Vec<String>,
}

/// An in-memory Step Functions task-token service: a token is answered once; an unknown
/// or already-answered token is `TaskDoesNotExist`, output that is not JSON or over
/// 256 KiB is `InvalidOutput`, as the API reference says.
#[derive(Debug, Default)]
pub struct InMemorySfn {
    state: Mutex<SfnState>,
}

impl InMemorySfn {
    /// A state now waits on `token` (what a `.waitForTaskToken` task does).
    pub fn wait_on(&self, token: &str) {
        lock(&self.state).tokens.insert(token.to_string(), None);
    }

    /// What was sent for `token`, if anything.
    pub fn result(&self, token: &str) -> Option<TaskResult> {
        lock(&self.state).tokens.get(token).cloned().flatten()
    }

    /// The calls made, in order (`SendTaskSuccess`, `SendTaskFailure`).
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    fn answer(&self, operation: &str, token: &str, result: TaskResult) -> Result<(), AwsError> {
        let mut s = lock(&self.state);
        s.calls.push(operation.to_string());
        match s.tokens.get_mut(token) {
            Some(slot @ None) => {
                *slot = Some(result);
                Ok(())
            }
            _ => Err(AwsError::new(
                operation,
                "TaskDoesNotExist",
                "Task Token does not exist anymore",
                Some(400),
            )),
        }
    }
}

impl SfnOps for InMemorySfn {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), AwsError> {
        if output.len() > 262_144 || serde_json::from_str::<serde_json::Value>(output).is_err() {
            lock(&self.state).calls.push("SendTaskSuccess".into());
            return Err(AwsError::new(
                "SendTaskSuccess",
                "InvalidOutput",
                "The provided JSON output data is invalid or exceeds 256 KiB",
                Some(400),
            ));
        }
        self.answer(
            "SendTaskSuccess",
            token,
            TaskResult::Succeeded {
                output: output.to_string(),
            },
        )
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), AwsError> {
        self.answer(
            "SendTaskFailure",
            token,
            TaskResult::Failed {
                error: error.to_string(),
                cause: cause.to_string(),
            },
        )
    }
}

// -------------------------------------------------------------------------------- SNS

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub topic_arn: String,
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Default)]
struct SnsState {
    topics: BTreeSet<String>,
    published: Vec<Published>,
}

/// An in-memory SNS: publishing to a topic that was not created is `NotFound`; a
/// subject over 100 characters or an empty message is `InvalidParameter`.
#[derive(Debug, Default)]
pub struct InMemorySns {
    state: Mutex<SnsState>,
}

impl InMemorySns {
    pub fn create_topic(&self, arn: &str) {
        lock(&self.state).topics.insert(arn.to_string());
    }

    /// Every message published so far.
    pub fn published(&self) -> Vec<Published> {
        lock(&self.state).published.clone()
    }
}

impl SnsOps for InMemorySns {
    async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> Result<String, AwsError> {
        let mut s = lock(&self.state);
        if !s.topics.contains(topic_arn) {
            return Err(AwsError::new(
                "Publish",
                "NotFound",
                "Topic does not exist",
                Some(404),
            ));
        }
        if subject.chars().count() > 100 || message.is_empty() {
            return Err(AwsError::new(
                "Publish",
                "InvalidParameter",
                "Invalid parameter: Subject or Message",
                Some(400),
            ));
        }
        s.published.push(Published {
            topic_arn: topic_arn.to_string(),
            subject: subject.to_string(),
            message: message.to_string(),
        });
        Ok(format!("msg-{}", s.published.len()))
    }
}

/// Every service in memory, for unit tests of logic that takes an [`Aws`].
#[derive(Debug, Default)]
pub struct MemoryAws {
    pub s3: InMemoryS3,
    pub sfn: InMemorySfn,
    pub sagemaker: InMemorySageMaker,
    pub sns: InMemorySns,
}

impl Aws for MemoryAws {
    type S3 = InMemoryS3;
    type Sfn = InMemorySfn;
    type SageMaker = InMemorySageMaker;
    type Sns = InMemorySns;
    fn s3(&self) -> &InMemoryS3 {
        &self.s3
    }
    fn sfn(&self) -> &InMemorySfn {
        &self.sfn
    }
    fn sagemaker(&self) -> &InMemorySageMaker {
        &self.sagemaker
    }
    fn sns(&self) -> &InMemorySns {
        &self.sns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listing_paginates_and_versioned_delete_leaves_markers() {
        let s3 = InMemoryS3::with_page_size(2);
        s3.create_bucket("b", true);
        for k in ["p/a", "p/b", "p/c", "q/a"] {
            s3.put("b", k, b"x".to_vec());
        }
        s3.put("b", "p/a", b"y".to_vec());
        let p1 = s3.list_objects("b", "p/", None).await.unwrap();
        assert_eq!(p1.objects.len(), 2);
        let p2 = s3.list_objects("b", "p/", p1.next.as_ref()).await.unwrap();
        assert_eq!(
            p2.objects
                .iter()
                .map(|o| o.key.as_str())
                .collect::<Vec<_>>(),
            ["p/c"]
        );
        assert!(p2.next.is_none());
        // Plain deletes only add delete markers.
        let errs = s3.delete_objects("b", &p1.objects).await.unwrap();
        assert!(errs.is_empty());
        assert_eq!(s3.keys("b", "p/"), ["p/c"]);
        assert_eq!(s3.version_count("b", "p/"), 6);
        let v = s3.list_object_versions("b", "p/", None).await.unwrap();
        assert_eq!(v.objects.len(), 2);
        assert!(v.next.is_some());
    }

    #[tokio::test]
    async fn sagemaker_replies_follow_the_api_reference() {
        let sm = InMemorySageMaker::with_transition_describes(1);
        sm.add_training_job("t", "InProgress");
        sm.stop_training_job("t").await.unwrap();
        assert_eq!(sm.describe_training_job("t").await.unwrap(), "Stopping");
        assert_eq!(sm.describe_training_job("t").await.unwrap(), "Stopped");
        let e = sm.stop_training_job("t").await.unwrap_err();
        assert_eq!(e.kind, crate::aws::AwsErrorKind::Conflict, "{e}");
        let e = sm.describe_endpoint("nope").await.unwrap_err();
        assert_eq!(e.kind, crate::aws::AwsErrorKind::NotFound, "{e}");
        sm.add_endpoint("ep", "old", "InService");
        sm.add_endpoint_config("new");
        sm.update_endpoint("ep", "new").await.unwrap();
        let e = sm.update_endpoint("ep", "old").await.unwrap_err();
        assert_eq!(e.kind, crate::aws::AwsErrorKind::Conflict, "{e}");
        let st = sm.describe_endpoint("ep").await.unwrap();
        assert_eq!(
            (st.status.as_str(), st.pending_config_name.as_deref()),
            ("Updating", Some("new"))
        );
        let st = sm.describe_endpoint("ep").await.unwrap();
        assert_eq!(
            (st.status.as_str(), st.config_name.as_deref()),
            ("InService", Some("new"))
        );
        let e = sm.delete_model_package("arn:x").await.unwrap_err();
        assert_eq!(e.kind, crate::aws::AwsErrorKind::NotFound, "{e}");
    }
}
