//! schema-validator Lambda: decode the event, call the trainguard library, encode the
//! result. Everything it does is `trainguard::schema::service::Service::handle`; this
//! file only wires the runtime, the clients (built once per container), the deadline
//! and the EMF metrics.

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::aws::Clients;
use trainguard::lambda::{deadline_margin, execution_name, serve, Deadline, HandlerError};
use trainguard::schema::service::{metrics, Service, ServiceConfig};
use trainguard::storage::S3Store;

async fn handle(service: &Service, input: Value, ctx: Context) -> Result<Value, HandlerError> {
    let deadline = Deadline::from_context(&ctx, deadline_margin());
    let result = service.handle(&input, &deadline).await;
    metrics(&result, execution_name(&input).as_deref()).emit();
    result.map(|o| o.output).map_err(HandlerError::from)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let clients = Clients::from_env().await;
    let service = Service::new(S3Store::new(clients.s3.clone()), ServiceConfig::from_env());
    let service = &service;
    serve("schema-validator", move |input, ctx| {
        handle(service, input, ctx)
    })
    .await
}
