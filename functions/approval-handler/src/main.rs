//! approval-handler Lambda: one binary for both event shapes, told apart by shape:
//! the state machine's `.waitForTaskToken` request (has `task_token`) and the API
//! Gateway HTTP API v2 routes (`GET /approvals[/{id}]`, `POST /approvals/{id}/decision`).
//! All logic lives in `trainguard::approval`.

// The decision future (S3, SageMaker, Step Functions and S3 again, all awaited inside the
// runtime's service) is deep enough to exceed rustc's default layout query depth.
#![recursion_limit = "256"]

use serde_json::Value;
use std::sync::Arc;
use trainguard::approval::{handle_event, ApprovalConfig, ApprovalError, ApprovalService};

use trainguard::aws::sdk::SdkAws;
use trainguard::aws::Clients;
use trainguard::lambda::{run, Function, HandlerError, Invocation};

/// A configuration that does not parse is kept, so every event is answered with
/// `Approval.Misconfigured` instead of the function failing to start.
struct ApprovalHandler(Result<ApprovalService<SdkAws>, ApprovalError>);

impl Function for ApprovalHandler {
    const NAME: &'static str = "approval-handler";

    fn init(clients: Clients) -> Self {
        ApprovalHandler(ApprovalService::new(
            Arc::new(SdkAws::new(&clients)),
            ApprovalConfig::from_env(),
        ))
    }

    async fn handle(&self, event: Value, _inv: &Invocation) -> Result<Value, HandlerError> {
        let service = self.0.as_ref().map_err(|e| HandlerError {
            name: "Approval.Misconfigured",
            message: e.to_string(),
        })?;
        handle_event(service, event)
            .await
            .map_err(HandlerError::from)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<ApprovalHandler>().await
}
