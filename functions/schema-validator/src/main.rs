//! schema-validator Lambda: decode the event, call the trainguard library, encode the
//! result. Everything it does is `trainguard::schema::service::Service::handle`; this
//! file only wires the service (built once per container) and the EMF metrics.

use serde_json::Value;
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::lambda::{run, Function, HandlerError, Invocation};
use trainguard::schema::service::{metrics, Service, ServiceConfig};

struct SchemaValidator(Service);

impl Function for SchemaValidator {
    const NAME: &'static str = "schema-validator";

    fn init(clients: Clients) -> Self {
        SchemaValidator(Service::new(
            S3Store::new(clients.s3),
            ServiceConfig::from_env(),
        ))
    }

    async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, HandlerError> {
        let result = self.0.handle(&event, &inv.deadline).await;
        metrics(&result, inv.execution_name.as_deref()).emit();
        result.map(|o| o.output).map_err(HandlerError::from)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<SchemaValidator>().await
}
