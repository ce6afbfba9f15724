//! SDK errors into the AWS layer's one classification ([`super::error::classify`]).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error::{AwsError, AwsErrorKind};
use crate::error::CommonError;

/// Turn an SDK error (of any service) into an [`AwsError`]: timeouts and dispatch
/// failures are transient, a reply keeps its code, message and status.
pub fn from_sdk<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            AwsError::transport(operation, &DisplayErrorContext(err).to_string())
        }
        SdkError::ConstructionFailure(_) => AwsError {
            operation: operation.to_string(),
            code: "ConstructionFailure".into(),
            message: DisplayErrorContext(err).to_string(),
            status: None,
            kind: AwsErrorKind::Invalid,
        },
        _ => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(err).to_string());
            AwsError::new(operation, err.code().unwrap_or(""), &message, status)
        }
    }
}

/// An SDK error as one of the common error families, with `what` (the operation and
/// resource) and the SDK's whole error chain in the message.
pub fn classify_sdk_error<E>(err: &SdkError<E, HttpResponse>, what: &str) -> CommonError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut e = from_sdk(what, err);
    e.message = DisplayErrorContext(err).to_string();
    CommonError::from(e)
}
