//! saga-compensator Lambda: decode the task input, run the compensation through the
//! trainguard library, encode the summary. All logic lives in `trainguard::saga`.
//!
//! Output `{done, skipped, failed, remaining, ...}`; when anything remains the
//! invocation fails with `Compensation.Incomplete` (retryable), whose message lists it.

use serde_json::Value;
use trainguard::aws::sdk::{SdkS3, SdkSageMaker};
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::lambda::{run, Function, HandlerError, Invocation};
use trainguard::saga::{compensate, Compensator, Options, Request};

struct SagaCompensator(Clients);

impl Function for SagaCompensator {
    const NAME: &'static str = "saga-compensator";

    fn init(clients: Clients) -> Self {
        SagaCompensator(clients)
    }

    async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, HandlerError> {
        let req = Request::from_json(&event, Options::from_env())?;
        let compensator = Compensator::new(
            SdkS3::new(S3Store::new(self.0.s3.clone())),
            SdkSageMaker::new(self.0.sagemaker.clone()),
        )
        .with_deadline(inv.deadline);
        Ok(compensate(&compensator, &req, true).await?)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<SagaCompensator>().await
}
