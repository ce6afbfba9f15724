//! drift-detector Lambda: decode the event, call the trainguard library, encode the result.

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::error::CommonError;
use trainguard::lambda::{serve, HandlerError};

async fn handle(_input: Value, _ctx: Context) -> Result<Value, HandlerError> {
    Err(CommonError::InvalidInput("drift-detector is not wired yet".into()).into())
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve("drift-detector", handle).await
}
