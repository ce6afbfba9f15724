//! saga-compensator Lambda: decode the task input, run the compensation through the
//! trainguard library, encode the summary. All logic lives in `trainguard::saga`.
//!
//! Output `{done, skipped, failed, remaining, ...}`; when anything remains the
//! invocation fails with `Compensation.Incomplete` (retryable), whose message lists it.

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::aws::Clients;
use trainguard::lambda::{deadline_margin, serve, Deadline, HandlerError};
use trainguard::saga::sdk::{SdkS3, SdkSageMaker};
use trainguard::saga::{compensate, Compensator, Options, Request};
use trainguard::storage::S3Store;

async fn handle(input: Value, ctx: Context, clients: Clients) -> Result<Value, HandlerError> {
    let req = Request::from_json(&input, Options::from_env())?;
    let compensator = Compensator::new(
        SdkS3::new(S3Store::new(clients.s3)),
        SdkSageMaker::new(clients.sagemaker),
    )
    .with_deadline(Deadline::from_context(&ctx, deadline_margin()));
    Ok(compensate(&compensator, &req, true).await?)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Built once per container, outside the handler.
    let clients = Clients::from_env().await;
    serve("saga-compensator", move |input, ctx| {
        handle(input, ctx, clients.clone())
    })
    .await
}
