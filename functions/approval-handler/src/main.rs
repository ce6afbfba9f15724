//! approval-handler Lambda: one binary for both event shapes, told apart by shape:
//! the state machine's `.waitForTaskToken` request (has `task_token`) and the API
//! Gateway HTTP API v2 routes (`GET /approvals[/{id}]`, `POST /approvals/{id}/decision`).
//! All logic lives in `trainguard::approval`.

// The decision future (S3, SageMaker, Step Functions and S3 again, all awaited inside the
// runtime's service) is deep enough to exceed rustc's default layout query depth.
#![recursion_limit = "256"]

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::approval::{handle_event, ApprovalConfig, ApprovalService};
use trainguard::aws::Clients;
use trainguard::lambda::{serve, HandlerError};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Built once per container, outside the handler.
    let clients = Clients::from_env().await;
    let service = ApprovalService::new(&clients, ApprovalConfig::from_env());
    let service = &service;
    serve(
        "approval-handler",
        move |event: Value, _ctx: Context| async move {
            let service = service.as_ref().map_err(|e| HandlerError {
                name: "Approval.Misconfigured",
                message: e.to_string(),
            })?;
            handle_event(service, event)
                .await
                .map_err(HandlerError::from)
        },
    )
    .await
}
