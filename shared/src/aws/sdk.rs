//! The real implementations of the [`super::ops`] traits over the AWS SDK.
//!
//! One SDK call per method; errors keep the service's code, message and HTTP status
//! and are classified by [`super::error::classify`] ([`from_sdk`]). The conditional
//! write goes through [`S3Store::put_conditional`], the project's one implementation of
//! `If-None-Match`/`If-Match`.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use std::future::Future;
use std::time::Duration;

use super::clients::Clients;
use super::error::{AwsError, AwsErrorKind};
use super::ops::{
    Aws, EndpointState, KeyError, ListPage, ObjectVersion, PackageRegistration, PageToken,
    PutOutcome, S3Ops, SageMakerOps, SfnOps, SnsOps, StoredObject,
};
use super::s3_store::S3Store;
pub use super::sdk_error::{classify_sdk_error, from_sdk};
use crate::error::CommonError;
use crate::storage::S3Uri;
use crate::training::logs::{stream_prefix, LogSource, StreamTail, TRAINING_LOG_GROUP};
use crate::trigger::start::{execution_arn, started_before, ExecutionStarter, StartOutcome};

/// S3 through the SDK.
#[derive(Debug, Clone)]
pub struct SdkS3 {
    store: S3Store,
}

impl SdkS3 {
    pub fn new(store: S3Store) -> Self {
        SdkS3 { store }
    }
}

impl S3Ops for SdkS3 {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        let mut req = self
            .store
            .client()
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1000);
        if let Some(PageToken::Continuation(t)) = token {
            req = req.continuation_token(t);
        }
        let out = req
            .send()
            .await
            .map_err(|e| from_sdk("ListObjectsV2", &e))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectVersion {
                key: k.to_string(),
                version_id: None,
            })
            .collect();
        let next = match (out.is_truncated(), out.next_continuation_token()) {
            (Some(true), Some(t)) => Some(PageToken::Continuation(t.to_string())),
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
        let mut req = self
            .store
            .client()
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1000);
        if let Some(PageToken::Versions {
            key_marker,
            version_id_marker,
        }) = token
        {
            req = req
                .key_marker(key_marker)
                .set_version_id_marker(version_id_marker.clone());
        }
        let out = req
            .send()
            .await
            .map_err(|e| from_sdk("ListObjectVersions", &e))?;
        let mut objects: Vec<ObjectVersion> = out
            .versions()
            .iter()
            .filter_map(|v| {
                v.key().map(|k| ObjectVersion {
                    key: k.to_string(),
                    version_id: v.version_id().map(str::to_string),
                })
            })
            .collect();
        objects.extend(out.delete_markers().iter().filter_map(|m| {
            m.key().map(|k| ObjectVersion {
                key: k.to_string(),
                version_id: m.version_id().map(str::to_string),
            })
        }));
        let next = match (out.is_truncated(), out.next_key_marker()) {
            (Some(true), Some(k)) => Some(PageToken::Versions {
                key_marker: k.to_string(),
                version_id_marker: out.next_version_id_marker().map(str::to_string),
            }),
            _ => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectVersion],
    ) -> Result<Vec<KeyError>, AwsError> {
        let invalid = |e: &dyn std::fmt::Display| AwsError {
            operation: "DeleteObjects".into(),
            code: "BuildError".into(),
            message: e.to_string(),
            status: None,
            kind: AwsErrorKind::Invalid,
        };
        let ids = objects
            .iter()
            .map(|o| {
                ObjectIdentifier::builder()
                    .key(&o.key)
                    .set_version_id(o.version_id.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&e))?;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| invalid(&e))?;
        let out = self
            .store
            .client()
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteObjects", &e))?;
        Ok(out
            .errors()
            .iter()
            .map(|e| KeyError {
                object: ObjectVersion {
                    key: e.key().unwrap_or_default().to_string(),
                    version_id: e.version_id().map(str::to_string),
                },
                code: e.code().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, AwsError> {
        let out = match self
            .store
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let err = from_sdk("GetObject", &e);
                // A missing key is "no journal yet"; a missing bucket is a real error.
                if err.kind == AwsErrorKind::NotFound && err.code != "NoSuchBucket" {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out.body.collect().await.map_err(|e| {
            AwsError::transport("GetObject", &format!("reading s3://{bucket}/{key}: {e}"))
        })?;
        Ok(Some(StoredObject {
            body: body.into_bytes().to_vec(),
            etag,
        }))
    }

    async fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<PutOutcome, AwsError> {
        let uri = S3Uri::new(bucket, key);
        self.store
            .put_conditional(&uri, body, "application/json", if_match)
            .await
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> Result<String, AwsError> {
        self.store
            .presign_get(&S3Uri::new(bucket, key), expires)
            .await
    }
}

/// SageMaker through the SDK.
#[derive(Debug, Clone)]
pub struct SdkSageMaker {
    client: aws_sdk_sagemaker::Client,
}

impl SdkSageMaker {
    pub fn new(client: aws_sdk_sagemaker::Client) -> Self {
        SdkSageMaker { client }
    }
}

impl SageMakerOps for SdkSageMaker {
    async fn describe_training_job(&self, name: &str) -> Result<String, AwsError> {
        let out = self
            .client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeTrainingJob", &e))?;
        Ok(out
            .training_job_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unknown".into()))
    }

    async fn stop_training_job(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("StopTrainingJob", &e))?;
        Ok(())
    }

    async fn describe_model_package(&self, name: &str) -> Result<String, AwsError> {
        let out = self
            .client
            .describe_model_package()
            .model_package_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeModelPackage", &e))?;
        Ok(out
            .model_approval_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unknown".into()))
    }

    async fn set_model_package_status(
        &self,
        arn: &str,
        status: &str,
        description: &str,
    ) -> Result<(), AwsError> {
        self.client
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::from(status))
            .approval_description(description)
            .send()
            .await
            .map_err(|e| from_sdk("UpdateModelPackage", &e))?;
        Ok(())
    }

    async fn delete_model_package(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_model_package()
            .model_package_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteModelPackage", &e))?;
        Ok(())
    }

    async fn describe_endpoint(&self, name: &str) -> Result<EndpointState, AwsError> {
        let out = self
            .client
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeEndpoint", &e))?;
        Ok(EndpointState {
            status: out
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Unknown".into()),
            config_name: out.endpoint_config_name().map(str::to_string),
            pending_config_name: out
                .pending_deployment_summary()
                .and_then(|p| p.endpoint_config_name())
                .map(str::to_string),
        })
    }

    async fn update_endpoint(&self, name: &str, config: &str) -> Result<(), AwsError> {
        self.client
            .update_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(|e| from_sdk("UpdateEndpoint", &e))?;
        Ok(())
    }

    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteEndpoint", &e))?;
        Ok(())
    }

    async fn list_endpoints(&self) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_endpoints().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("ListEndpoints", &e))?;
            names.extend(
                page.endpoints()
                    .iter()
                    .filter_map(|e| e.endpoint_name())
                    .map(str::to_string),
            );
        }
        Ok(names)
    }

    async fn describe_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .describe_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeEndpointConfig", &e))?;
        Ok(())
    }

    async fn delete_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteEndpointConfig", &e))?;
        Ok(())
    }

    async fn describe_model(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .describe_model()
            .model_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeModel", &e))?;
        Ok(())
    }

    async fn list_approved_model_packages(
        &self,
        group: &str,
        max: i32,
    ) -> Result<Vec<String>, AwsError> {
        use aws_sdk_sagemaker::types::{
            ModelApprovalStatus, ModelPackageSortBy, ModelPackageType, SortOrder,
        };
        let out = self
            .client
            .list_model_packages()
            .model_package_group_name(group)
            .model_package_type(ModelPackageType::Versioned)
            .model_approval_status(ModelApprovalStatus::Approved)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(max.clamp(1, 100))
            .send()
            .await
            .map_err(|e| from_sdk("ListModelPackages", &e))?;
        Ok(out
            .model_package_summary_list()
            .iter()
            .filter_map(|p| p.model_package_arn().map(str::to_string))
            .collect())
    }

    async fn describe_model_package_registration(
        &self,
        arn: &str,
    ) -> Result<PackageRegistration, AwsError> {
        let out = self
            .client
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeModelPackage", &e))?;
        Ok(PackageRegistration {
            arn: out.model_package_arn().unwrap_or(arn).to_string(),
            status: out
                .model_approval_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Unknown".into()),
            metadata: out
                .customer_metadata_properties()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            statistics_uri: out
                .model_metrics()
                .and_then(|m| m.model_quality())
                .and_then(|q| q.statistics())
                .and_then(|s| s.s3_uri())
                .map(str::to_string),
        })
    }

    /// A missing model comes back as `ValidationException: Could not find model …`,
    /// which [`super::error::classify`] maps to `NotFound`: the saga then reads the
    /// model again and counts it as already gone.
    async fn delete_model(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_model()
            .model_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteModel", &e))?;
        Ok(())
    }
}

/// The real SageMaker implementation against recorded-shape replies (aws-smithy-mocks):
/// moto 5.2.5 answers HTTP 500 for StopTrainingJob, UpdateEndpoint and
/// DeleteModelPackage, so these are the tests of those three SDK calls and of the
/// error mapping of their AWS replies (`__type` + `message`, as the awsJson1.1
/// protocol sends them).
/// Step Functions through the SDK.
#[derive(Debug, Clone)]
pub struct SdkSfn {
    client: aws_sdk_sfn::Client,
}

impl SdkSfn {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        SdkSfn { client }
    }
}

impl SfnOps for SdkSfn {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), AwsError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map_err(|e| from_sdk("SendTaskSuccess", &e))?;
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), AwsError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| from_sdk("SendTaskFailure", &e))?;
        Ok(())
    }
}

/// SNS through the SDK.
#[derive(Debug, Clone)]
pub struct SdkSns {
    client: aws_sdk_sns::Client,
}

impl SdkSns {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SdkSns { client }
    }
}

impl SnsOps for SdkSns {
    async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| from_sdk("Publish", &e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

/// Every service through the SDK: what a Lambda runs on.
#[derive(Debug, Clone)]
pub struct SdkAws {
    s3: SdkS3,
    sfn: SdkSfn,
    sagemaker: SdkSageMaker,
    sns: SdkSns,
}

impl SdkAws {
    pub fn new(clients: &Clients) -> Self {
        SdkAws {
            s3: SdkS3::new(S3Store::new(clients.s3.clone())),
            sfn: SdkSfn::new(clients.sfn.clone()),
            sagemaker: SdkSageMaker::new(clients.sagemaker.clone()),
            sns: SdkSns::new(clients.sns.clone()),
        }
    }
}

impl Aws for SdkAws {
    type S3 = SdkS3;
    type Sfn = SdkSfn;
    type SageMaker = SdkSageMaker;
    type Sns = SdkSns;
    fn s3(&self) -> &SdkS3 {
        &self.s3
    }
    fn sfn(&self) -> &SdkSfn {
        &self.sfn
    }
    fn sagemaker(&self) -> &SdkSageMaker {
        &self.sagemaker
    }
    fn sns(&self) -> &SdkSns {
        &self.sns
    }
}

/// The training logs of a job, read from CloudWatch Logs (the `LogSource` of a Lambda).
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
}

impl CloudWatchLogs {
    /// A reader of [`TRAINING_LOG_GROUP`].
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        CloudWatchLogs {
            client,
            group: TRAINING_LOG_GROUP.to_string(),
        }
    }

    /// A reader of another group (tests, custom setups).
    pub fn with_group(client: aws_sdk_cloudwatchlogs::Client, group: &str) -> Self {
        CloudWatchLogs {
            client,
            group: group.to_string(),
        }
    }

    async fn stream_names(
        &self,
        job_name: &str,
        max_streams: usize,
    ) -> Result<Vec<String>, CommonError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_log_streams()
                .log_group_name(&self.group)
                .log_stream_name_prefix(stream_prefix(job_name))
                .set_next_token(token.clone())
                .limit(50)
                .send()
                .await
                .map_err(|e| {
                    classify_sdk_error(&e, &format!("DescribeLogStreams {}", self.group))
                })?;
            names.extend(
                out.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name().map(str::to_string)),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() || names.len() >= max_streams || out.log_streams().is_empty() {
                break;
            }
        }
        names.sort();
        names.truncate(max_streams);
        Ok(names)
    }
}

impl LogSource for CloudWatchLogs {
    // Written out (not `async fn`) so the `+ Send` promise of the trait is visible here.
    #[allow(clippy::manual_async_fn)]
    fn job_tails(
        &self,
        job_name: &str,
        max_lines: usize,
        max_streams: usize,
    ) -> impl Future<Output = Result<Vec<StreamTail>, CommonError>> + Send {
        async move {
            let mut tails = Vec::new();
            // GetLogEvents takes at most 10,000 events per call; a tail needs far fewer.
            let limit = max_lines.clamp(1, 10_000) as i32;
            for stream in self.stream_names(job_name, max_streams).await? {
                let out = self
                    .client
                    .get_log_events()
                    .log_group_name(&self.group)
                    .log_stream_name(&stream)
                    .start_from_head(false)
                    .limit(limit)
                    .send()
                    .await
                    .map_err(|e| classify_sdk_error(&e, &format!("GetLogEvents {stream}")))?;
                let mut lines: Vec<String> = out
                    .events()
                    .iter()
                    .filter_map(|e| e.message())
                    .flat_map(|m| m.lines().map(str::to_string).collect::<Vec<_>>())
                    .collect();
                let cut = lines.len().saturating_sub(max_lines);
                lines.drain(..cut);
                tails.push(StreamTail { stream, lines });
            }
            Ok(tails)
        }
    }
}

/// Starts executions through Step Functions (the trigger's `ExecutionStarter`).
#[derive(Debug, Clone)]
pub struct SfnStarter(pub aws_sdk_sfn::Client);

impl ExecutionStarter for SfnStarter {
    async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, CommonError> {
        // A duplicate delivery usually finds its execution already there. Asking first
        // tells it apart even when its input is identical, which StartExecution would
        // answer without an error. Any failure here (not found, or no permission) just
        // goes on to StartExecution, which decides.
        let arn = execution_arn(state_machine_arn, name);
        if self
            .0
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .is_ok()
        {
            return Ok(StartOutcome::AlreadyExists);
        }
        let asked = std::time::SystemTime::now();
        match self
            .0
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(out) if started_before(out.start_date().to_millis().ok(), asked) => {
                Ok(StartOutcome::AlreadyExists)
            }
            Ok(out) => Ok(StartOutcome::Started {
                execution_arn: out.execution_arn().to_string(),
            }),
            Err(e) => {
                if e.as_service_error()
                    .map(|s| s.is_execution_already_exists())
                    .unwrap_or(false)
                {
                    Ok(StartOutcome::AlreadyExists)
                } else {
                    Err(classify_sdk_error(&e, &format!("StartExecution {name}")))
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrows_for_generic_args)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::config::retry::RetryConfig;
    use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
    use aws_sdk_sagemaker::operation::stop_training_job::StopTrainingJobOutput;
    use aws_sdk_sagemaker::types::TrainingJobStatus;
    use aws_sdk_sagemaker::Client;
    use aws_smithy_mocks::{
        create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn client(rules: &[&Rule]) -> Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for r in rules {
            interceptor = interceptor.with_rule(r);
        }
        let conf = aws_sdk_sagemaker::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(conf)
    }

    fn reply(
        status: u16,
        code: &'static str,
        message: &'static str,
    ) -> impl Fn() -> HttpResponse + Send + Sync {
        move || {
            HttpResponse::new(
                StatusCode::try_from(status)
                    .unwrap_or_else(|_| StatusCode::try_from(500).expect("500")),
                SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
            )
        }
    }

    #[tokio::test]
    async fn stop_update_and_delete_replies_are_mapped() {
        let stop_done = mock!(Client::stop_training_job).then_http_response(reply(
            400,
            "ValidationException",
            "The request was rejected because the training job is in status Completed.",
        ));
        let update_busy = mock!(Client::update_endpoint).then_http_response(reply(
            400,
            "ValidationException",
            "Cannot update in-progress endpoint \\\"arn:aws:sagemaker:us-east-1:1:endpoint/e\\\".",
        ));
        let delete_missing = mock!(Client::delete_model_package).then_http_response(reply(
            400,
            "ValidationException",
            "ModelPackage arn:aws:sagemaker:us-east-1:1:model-package/g/1 does not exist.",
        ));
        let model_missing = mock!(Client::delete_model).then_http_response(reply(
            400,
            "ValidationException",
            "Could not find model \\\"arn:aws:sagemaker:us-east-1:1:model/tg-1\\\".",
        ));
        let throttled = mock!(Client::delete_endpoint).then_http_response(reply(
            400,
            "ThrottlingException",
            "Rate exceeded",
        ));
        let sm = SdkSageMaker::new(client(&[
            &stop_done,
            &update_busy,
            &delete_missing,
            &model_missing,
            &throttled,
        ]));

        let e = sm.stop_training_job("t").await.unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.kind, e.status),
            ("ValidationException", AwsErrorKind::Conflict, Some(400)),
            "{e}"
        );
        let e = sm.update_endpoint("e", "c").await.unwrap_err();
        assert_eq!(e.kind, AwsErrorKind::Conflict, "{e}");
        assert!(
            e.message.contains("Cannot update in-progress endpoint"),
            "{e}"
        );
        let e = sm
            .delete_model_package("arn:aws:sagemaker:us-east-1:1:model-package/g/1")
            .await
            .unwrap_err();
        assert_eq!(e.kind, AwsErrorKind::NotFound, "{e}");
        // DeleteModel of a model already gone: NotFound, which the saga counts as done.
        let e = sm.delete_model("tg-1").await.unwrap_err();
        assert_eq!(e.kind, AwsErrorKind::NotFound, "{e}");
        let e = sm.delete_endpoint("e").await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert_eq!(stop_done.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_running_job_is_stopped_through_the_sdk() {
        // DescribeTrainingJob says InProgress, StopTrainingJob succeeds: the saga's
        // training compensation sends exactly one stop.
        let describe = mock!(Client::describe_training_job).then_output(|| {
            DescribeTrainingJobOutput::builder()
                .training_job_status(TrainingJobStatus::InProgress)
                .build()
        });
        let stop = mock!(Client::stop_training_job)
            .match_requests(|r| r.training_job_name() == Some("job-1"))
            .then_output(|| StopTrainingJobOutput::builder().build());
        let sm = SdkSageMaker::new(client(&[&describe, &stop]));
        let s3 = crate::aws::memory::InMemoryS3::new();
        s3.create_bucket("bkt", false);
        let req = crate::saga::Request::from_json(
            &serde_json::json!({"stage": "training", "execution_name": "e", "bucket": "bkt",
                "resources": {"training_jobs": ["job-1"]}}),
            crate::saga::Options::default(),
        )
        .unwrap();
        let report = crate::saga::Compensator::new(&s3, &sm)
            .with_base_delay(std::time::Duration::from_millis(1))
            .execute(&req)
            .await
            .unwrap();
        assert_eq!(stop.num_calls(), 1);
        assert_eq!(report.done.len(), 1, "{report:?}");
        assert_eq!(report.done[0].action, "training-job.stop:job-1");
        // The job still reports InProgress (the mock never changes), so the artifacts wait.
        assert_eq!(report.remaining.len(), 2);
    }
}
