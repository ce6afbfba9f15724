//! The real implementations of [`S3Ops`] and [`SageMakerOps`] over the AWS SDK.
//!
//! One SDK call per method; errors keep the service's code, message and HTTP status
//! and are classified by [`super::ops::classify`]. The journal's conditional write goes
//! through [`crate::storage::S3Store::put_conditional`], the project's one
//! implementation of `If-None-Match`/`If-Match`.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::ops::{
    EndpointState, KeyError, ListPage, ObjectRef, OpError, OpErrorKind, PageToken, PutOutcome,
    S3Ops, SageMakerOps, StoredObject,
};
use crate::error::CommonError;
use crate::storage::{ConditionalPut, S3Store, S3Uri};

/// Turn an SDK error into an [`OpError`].
pub fn op_error<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> OpError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            OpError::transport(operation, &DisplayErrorContext(err).to_string())
        }
        SdkError::ConstructionFailure(_) => OpError {
            operation: operation.to_string(),
            code: "ConstructionFailure".into(),
            message: DisplayErrorContext(err).to_string(),
            status: None,
            kind: OpErrorKind::Invalid,
        },
        _ => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(err).to_string());
            OpError::new(operation, err.code().unwrap_or(""), &message, status)
        }
    }
}

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
    ) -> Result<ListPage, OpError> {
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
            .map_err(|e| op_error("ListObjectsV2", &e))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectRef {
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
    ) -> Result<ListPage, OpError> {
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
            .map_err(|e| op_error("ListObjectVersions", &e))?;
        let mut objects: Vec<ObjectRef> = out
            .versions()
            .iter()
            .filter_map(|v| {
                v.key().map(|k| ObjectRef {
                    key: k.to_string(),
                    version_id: v.version_id().map(str::to_string),
                })
            })
            .collect();
        objects.extend(out.delete_markers().iter().filter_map(|m| {
            m.key().map(|k| ObjectRef {
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
        objects: &[ObjectRef],
    ) -> Result<Vec<KeyError>, OpError> {
        let invalid = |e: &dyn std::fmt::Display| OpError {
            operation: "DeleteObjects".into(),
            code: "BuildError".into(),
            message: e.to_string(),
            status: None,
            kind: OpErrorKind::Invalid,
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
            .map_err(|e| op_error("DeleteObjects", &e))?;
        Ok(out
            .errors()
            .iter()
            .map(|e| KeyError {
                object: ObjectRef {
                    key: e.key().unwrap_or_default().to_string(),
                    version_id: e.version_id().map(str::to_string),
                },
                code: e.code().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, OpError> {
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
                let err = op_error("GetObject", &e);
                // A missing key is "no journal yet"; a missing bucket is a real error.
                if err.kind == OpErrorKind::NotFound && err.code != "NoSuchBucket" {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out.body.collect().await.map_err(|e| {
            OpError::transport("GetObject", &format!("reading s3://{bucket}/{key}: {e}"))
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
    ) -> Result<PutOutcome, OpError> {
        let uri = S3Uri::new(bucket, key);
        match self
            .store
            .put_conditional(&uri, body, "application/json", if_match)
            .await
        {
            Ok(ConditionalPut::Written(etag)) => Ok(PutOutcome::Written {
                etag: etag.unwrap_or_default(),
            }),
            Ok(ConditionalPut::PreconditionFailed) => Ok(PutOutcome::PreconditionFailed),
            Err(e) => {
                let (code, kind) = match &e {
                    CommonError::NotFound(_) => ("NoSuchKey", OpErrorKind::NotFound),
                    CommonError::AccessDenied(_) => ("AccessDenied", OpErrorKind::AccessDenied),
                    CommonError::Transient(_) | CommonError::DeadlineExceeded(_) => {
                        ("Transient", OpErrorKind::Throttled)
                    }
                    _ => ("StorageError", OpErrorKind::Other),
                };
                Err(OpError {
                    operation: "PutObject".into(),
                    code: code.into(),
                    message: e.to_string(),
                    status: None,
                    kind,
                })
            }
        }
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
    async fn describe_training_job(&self, name: &str) -> Result<String, OpError> {
        let out = self
            .client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| op_error("DescribeTrainingJob", &e))?;
        Ok(out
            .training_job_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unknown".into()))
    }

    async fn stop_training_job(&self, name: &str) -> Result<(), OpError> {
        self.client
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| op_error("StopTrainingJob", &e))?;
        Ok(())
    }

    async fn describe_model_package(&self, name: &str) -> Result<String, OpError> {
        let out = self
            .client
            .describe_model_package()
            .model_package_name(name)
            .send()
            .await
            .map_err(|e| op_error("DescribeModelPackage", &e))?;
        Ok(out
            .model_approval_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unknown".into()))
    }

    async fn reject_model_package(&self, arn: &str, description: &str) -> Result<(), OpError> {
        self.client
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Rejected)
            .approval_description(description)
            .send()
            .await
            .map_err(|e| op_error("UpdateModelPackage", &e))?;
        Ok(())
    }

    async fn delete_model_package(&self, name: &str) -> Result<(), OpError> {
        self.client
            .delete_model_package()
            .model_package_name(name)
            .send()
            .await
            .map_err(|e| op_error("DeleteModelPackage", &e))?;
        Ok(())
    }

    async fn describe_endpoint(&self, name: &str) -> Result<EndpointState, OpError> {
        let out = self
            .client
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| op_error("DescribeEndpoint", &e))?;
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

    async fn update_endpoint(&self, name: &str, config: &str) -> Result<(), OpError> {
        self.client
            .update_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(|e| op_error("UpdateEndpoint", &e))?;
        Ok(())
    }

    async fn delete_endpoint(&self, name: &str) -> Result<(), OpError> {
        self.client
            .delete_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| op_error("DeleteEndpoint", &e))?;
        Ok(())
    }

    async fn list_endpoints(&self) -> Result<Vec<String>, OpError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_endpoints().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| op_error("ListEndpoints", &e))?;
            names.extend(
                page.endpoints()
                    .iter()
                    .filter_map(|e| e.endpoint_name())
                    .map(str::to_string),
            );
        }
        Ok(names)
    }

    async fn describe_endpoint_config(&self, name: &str) -> Result<(), OpError> {
        self.client
            .describe_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| op_error("DescribeEndpointConfig", &e))?;
        Ok(())
    }

    async fn delete_endpoint_config(&self, name: &str) -> Result<(), OpError> {
        self.client
            .delete_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| op_error("DeleteEndpointConfig", &e))?;
        Ok(())
    }
}

/// The real SageMaker implementation against recorded-shape replies (aws-smithy-mocks):
/// moto 5.2.5 answers HTTP 500 for StopTrainingJob, UpdateEndpoint and
/// DeleteModelPackage, so these are the tests of those three SDK calls and of the
/// error mapping of their AWS replies (`__type` + `message`, as the awsJson1.1
/// protocol sends them).
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
        let throttled = mock!(Client::delete_endpoint).then_http_response(reply(
            400,
            "ThrottlingException",
            "Rate exceeded",
        ));
        let sm = SdkSageMaker::new(client(&[
            &stop_done,
            &update_busy,
            &delete_missing,
            &throttled,
        ]));

        let e = sm.stop_training_job("t").await.unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.kind, e.status),
            ("ValidationException", OpErrorKind::Conflict, Some(400)),
            "{e}"
        );
        let e = sm.update_endpoint("e", "c").await.unwrap_err();
        assert_eq!(e.kind, OpErrorKind::Conflict, "{e}");
        assert!(
            e.message.contains("Cannot update in-progress endpoint"),
            "{e}"
        );
        let e = sm
            .delete_model_package("arn:aws:sagemaker:us-east-1:1:model-package/g/1")
            .await
            .unwrap_err();
        assert_eq!(e.kind, OpErrorKind::NotFound, "{e}");
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
        let s3 = super::super::memory::InMemoryS3::new();
        s3.create_bucket("bkt", false);
        let req = super::super::Request::from_json(
            &serde_json::json!({"stage": "training", "execution_name": "e", "bucket": "bkt",
                "resources": {"training_jobs": ["job-1"]}}),
            super::super::Options::default(),
        )
        .unwrap();
        let report = super::super::Compensator::new(&s3, &sm)
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
