//! drift-detector Lambda: decode the task input, run the task through the trainguard
//! library (`trainguard::drift::task`), encode the result, emit EMF metrics.
//!
//! Task kinds: `profile` (one shard → profile JSON), `merge` (profiles → one profile),
//! `baseline` (dataset or profiles → baseline JSON), `check` (dataset or current profile vs
//! baseline → verdict + JSON/HTML reports). See docs/drift-detector.md.

use std::time::Instant;

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::aws::{load_config, s3_client};
use trainguard::drift::task::{self, Io, TaskInput};
use trainguard::error::CommonError;
use trainguard::lambda::{deadline_margin, execution_name, serve, Deadline, HandlerError};
use trainguard::storage::S3Store;
use trainguard::telemetry::{Metrics, Unit};

async fn handle(io: &Io, input: Value, ctx: Context) -> Result<Value, HandlerError> {
    let started = Instant::now();
    let exec = execution_name(&input);
    let mut parsed: TaskInput = serde_json::from_value(input)
        .map_err(|e| CommonError::InvalidInput(format!("drift-detector input: {e}")))?;
    if parsed.execution_name.is_none() {
        parsed.execution_name = exec.clone();
    }
    let deadline = Deadline::from_context(&ctx, deadline_margin());
    let result = task::run(io, &parsed, deadline).await;
    let mut m = Metrics::new("drift-detector");
    if let Some(e) = &exec {
        m.property("ExecutionName", e.as_str());
    }
    m.property(
        "Task",
        parsed.task.clone().unwrap_or_else(|| "check".into()),
    );
    m.put(
        "DurationMs",
        started.elapsed().as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    );
    match &result {
        Ok((_, o)) => {
            m.count("RowsProfiled", o.rows)
                .count("FeaturesChecked", o.features as u64);
            if let Some(d) = o.drift_detected {
                m.count("FeaturesDrifted", o.drifted as u64)
                    .count("DriftDetected", u64::from(d));
            }
        }
        Err(_) => {
            m.count("Errors", 1);
        }
    }
    m.emit();
    result.map(|(v, _)| v)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Clients are built once per container, outside the handler.
    let config = load_config().await;
    let io = Io {
        store: Some(S3Store::new(s3_client(&config))),
    };
    let io = &io;
    serve("drift-detector", move |input, ctx| handle(io, input, ctx)).await
}
