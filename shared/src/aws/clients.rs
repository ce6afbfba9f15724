//! The one place AWS clients are built.
//!
//! Clients come from the standard environment (region, credentials, profile) through
//! `aws-config`. The standard `AWS_ENDPOINT_URL` and per-service
//! `AWS_ENDPOINT_URL_<SERVICE>` variables point them at a local server (moto in tests
//! and in the demo); S3 then switches to path-style addressing, since a local server
//! has no per-bucket DNS names.
//!
//! Build the [`Clients`] once per Lambda container, outside the handler, and share them.

use aws_config::{BehaviorVersion, SdkConfig};

/// Load the shared SDK configuration from the standard environment.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// True when an endpoint override for S3 is set in the environment, i.e. we talk to a
/// local emulator rather than AWS.
pub fn s3_endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).map(|s| !s.is_empty()).unwrap_or(false))
}

/// An S3 client; path-style when the endpoint is overridden (in the environment or in
/// `config`), or when `TRAINGUARD_S3_PATH_STYLE=true`.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let force = s3_endpoint_overridden()
        || config.endpoint_url().is_some()
        || std::env::var("TRAINGUARD_S3_PATH_STYLE")
            .map(|v| v == "true" || v == "1")
            .unwrap_or(false);
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A Step Functions client.
pub fn sfn_client(config: &SdkConfig) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(config)
}

/// A SageMaker client.
pub fn sagemaker_client(config: &SdkConfig) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(config)
}

/// An SNS client.
pub fn sns_client(config: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(config)
}

/// A CloudWatch Logs client.
pub fn logs_client(config: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(config)
}

/// All clients, built once per container. Cheap to clone (the SDK clients are `Arc`s).
#[derive(Clone, Debug)]
pub struct Clients {
    pub config: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub sns: aws_sdk_sns::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    /// Build every client from one loaded configuration.
    pub fn from_config(config: SdkConfig) -> Self {
        Clients {
            s3: s3_client(&config),
            sfn: sfn_client(&config),
            sagemaker: sagemaker_client(&config),
            sns: sns_client(&config),
            logs: logs_client(&config),
            config,
        }
    }

    /// Load the environment and build every client.
    pub async fn from_env() -> Self {
        Self::from_config(load_config().await)
    }
}
