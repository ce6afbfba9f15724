//! batch-size-adjuster Lambda: decode the caught training failure, ask the trainguard
//! library for the recovery decision, return it and emit EMF metrics.
//!
//! Input and output contract: `docs/batch-size-adjuster.md`. The CloudWatch Logs client
//! is built once per container; it is only used when a FailureReason is cut or
//! uninformative.

use serde_json::Value;
use trainguard::aws::sdk::CloudWatchLogs;
use trainguard::aws::Clients;
use trainguard::error::CommonError;
use trainguard::lambda::{run, Function, HandlerError, Invocation};
use trainguard::training::metrics::metrics;
use trainguard::training::recover;

struct BatchSizeAdjuster(CloudWatchLogs);

impl Function for BatchSizeAdjuster {
    const NAME: &'static str = "batch-size-adjuster";

    fn init(clients: Clients) -> Self {
        BatchSizeAdjuster(CloudWatchLogs::new(clients.logs))
    }

    async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, HandlerError> {
        let decision = recover(&event, &self.0).await?;
        metrics(&decision, inv.execution_name.as_deref()).emit();
        tracing::info!(
            action = ?decision.action,
            class = ?decision.class,
            kind = ?decision.kind,
            attempt = decision.attempt,
            halt_reason = decision.halt_reason.as_deref().unwrap_or(""),
            "decision"
        );
        serde_json::to_value(&decision).map_err(|e| {
            CommonError::InvalidInput(format!("cannot encode the decision: {e}")).into()
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<BatchSizeAdjuster>().await
}
