//! drift-detector Lambda: decode the task input, run the task through the trainguard
//! library (`trainguard::drift::task`), encode the result, emit EMF metrics.
//!
//! Task kinds: `profile` (one shard → profile JSON), `merge` (profiles → one profile),
//! `baseline` (dataset or profiles → baseline JSON), `check` (dataset or current profile vs
//! baseline → verdict + JSON/HTML reports). See docs/drift-detector.md.

use std::time::Instant;

use serde_json::Value;
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::drift::task::{self, Io, TaskInput};
use trainguard::error::CommonError;
use trainguard::lambda::{run, Function, HandlerError, Invocation};

struct DriftDetector(Io);

impl Function for DriftDetector {
    const NAME: &'static str = "drift-detector";

    fn init(clients: Clients) -> Self {
        DriftDetector(Io {
            store: Some(S3Store::new(clients.s3)),
        })
    }

    async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, HandlerError> {
        let started = Instant::now();
        let mut input: TaskInput = serde_json::from_value(event)
            .map_err(|e| CommonError::InvalidInput(format!("drift-detector input: {e}")))?;
        if input.execution_name.is_none() {
            input.execution_name = inv.execution_name.clone();
        }
        let result = task::run(&self.0, &input, inv.deadline).await;
        task::metrics(&input, started.elapsed(), &result).emit();
        result.map(|(v, _)| v)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<DriftDetector>().await
}
