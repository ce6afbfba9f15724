//! batch-size-adjuster Lambda: decode the caught training failure, ask the trainguard
//! library for the recovery decision, return it and emit EMF metrics.
//!
//! Input and output contract: `docs/batch-size-adjuster.md`. The CloudWatch Logs client
//! is built once per container; it is only used when a FailureReason is cut or
//! uninformative.

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::error::CommonError;
use trainguard::lambda::{execution_name, serve, HandlerError};
use trainguard::telemetry::{Metrics, Unit};
use trainguard::training::{recover, Action, CloudWatchLogs, Decision, EvidenceSource};

const FUNCTION: &str = "batch-size-adjuster";

/// The EMF document for one decision: counts by action, the wait, and whether the logs
/// decided. The class, kind and halt reason ride along as properties (not dimensions,
/// to keep metric cardinality bounded).
fn metrics(d: &Decision, execution: Option<String>) -> Metrics {
    let mut m = Metrics::new(FUNCTION);
    m.count("Decisions", 1)
        .count("Retries", u64::from(d.action == Action::Retry))
        .count(
            "WaitThenRetries",
            u64::from(d.action == Action::WaitThenRetry),
        )
        .count("Halts", u64::from(d.action == Action::Halt))
        .count(
            "DecidedFromLogs",
            u64::from(d.evidence.source == EvidenceSource::CloudWatchLogs),
        )
        .put("WaitSeconds", d.wait_seconds as f64, Unit::Seconds)
        .put("Attempt", f64::from(d.attempt), Unit::Count);
    m.property("Class", format!("{:?}", d.class))
        .property("Kind", format!("{:?}", d.kind));
    if let Some(h) = &d.halt_reason {
        m.property("HaltReason", h.clone());
    }
    if let Some(e) = execution {
        m.property("ExecutionName", e);
    }
    m
}

async fn handle(input: Value, logs: &CloudWatchLogs) -> Result<Value, HandlerError> {
    let decision = recover(&input, logs).await?;
    metrics(&decision, execution_name(&input)).emit();
    tracing::info!(
        action = ?decision.action,
        class = ?decision.class,
        kind = ?decision.kind,
        attempt = decision.attempt,
        halt_reason = decision.halt_reason.as_deref().unwrap_or(""),
        "decision"
    );
    serde_json::to_value(&decision)
        .map_err(|e| CommonError::InvalidInput(format!("cannot encode the decision: {e}")).into())
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = trainguard::aws::load_config().await;
    let logs = CloudWatchLogs::new(trainguard::aws::logs_client(&config));
    serve(FUNCTION, move |input: Value, _ctx: Context| {
        let logs = logs.clone();
        async move { handle(input, &logs).await }
    })
    .await
}
