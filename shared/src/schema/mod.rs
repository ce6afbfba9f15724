//! Data contracts and the schema validator.
//!
//! Validating is three steps, each usable on its own:
//! 1. **observe** every object of a dataset against the contract ([`observe_object`]),
//!    giving a mergeable [`PartialResult`] per object;
//! 2. **merge** the per-object results ([`PartialResult::merge`]): counts, null ratios,
//!    extremes and distinct sets combine exactly, and schemas must agree;
//! 3. **evaluate** the merged result against the contract ([`evaluate`]) into a
//!    [`Report`] (every finding) and a small [`Verdict`].
//!
//! One invocation can do all three over a prefix ([`validate`]); a Step Functions
//! Distributed Map can instead observe one object per invocation and merge at the end
//! (see [`service`]). A failed check is a result (`passed: false`), never an error; an
//! unreadable object is a [`DataError`](crate::dataset::DataError).
//!
//! Long runs watch the Lambda deadline between batches and stop with
//! `Transient.DeadlineExceeded`, saying how many objects and rows were done.

pub mod contract;
pub mod infer;
pub mod observe;
pub mod report;
pub mod service;
pub mod stats;
pub mod values;

use crate::aws::S3Store;
use crate::dataset::{DataError, DataReader, ObjectRef, ReadOptions};
use crate::error::{CommonError, ErrorDoc, ErrorName};
use crate::lambda::Deadline;

pub use contract::{Check, ColumnSpec, ColumnType, Contract, ExtraColumns, RowCount, Severity};
pub use infer::{infer_contract, InferOptions};
pub use observe::Observer;
pub use report::{evaluate, Report, SeverityCounts, Verdict, Violation};
pub use stats::PartialResult;

/// Errors of the validator: a bad contract, unreadable data, or a common failure.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The contract does not parse or is inconsistent.
    #[error("invalid data contract: {0}")]
    InvalidContract(String),
    /// The data cannot be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Input, storage, transient and deadline failures.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl ErrorName for SchemaError {
    fn error_name(&self) -> &'static str {
        match self {
            SchemaError::InvalidContract(_) => "InputError.InvalidContract",
            SchemaError::Data(d) => d.error_name(),
            SchemaError::Common(c) => c.error_name(),
        }
    }
}

/// Error names this module adds (it also raises the `DataError.*` names of
/// [`crate::dataset`] and the common `InputError.*`, `StorageError.*`, `Transient.*`).
pub const ERRORS: &[ErrorDoc] = &[ErrorDoc {
    name: "InputError.InvalidContract",
    retryable: false,
    meaning: "the data contract is not valid JSON, has an unsupported version, unknown fields or inconsistent bounds, or partial results of different contracts were merged",
}];

/// Progress of a validation run, for the deadline message.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub objects_done: usize,
    pub objects_total: usize,
    pub rows_done: u64,
}

impl Progress {
    fn deadline_error(&self, current: &str, rows_in_current: u64) -> SchemaError {
        SchemaError::Common(CommonError::DeadlineExceeded(format!(
            "validated {} of {} object(s) and {} row(s); stopped at row {} of {current}. \
             Raise the function timeout or validate one object per invocation (task \"partial\") and merge",
            self.objects_done,
            self.objects_total,
            self.rows_done + rows_in_current,
            rows_in_current
        )))
    }
}

/// A reader for validating under `contract`: its CSV dialect, and only the contract's
/// columns decoded (for Parquet, only their column chunks fetched).
pub fn reader_for(store: Option<S3Store>, contract: &Contract) -> DataReader {
    DataReader::new(
        store,
        ReadOptions {
            csv: contract.csv.clone(),
            columns: Some(contract.columns.iter().map(|c| c.name.clone()).collect()),
            strings_as_dictionary: true,
            ..ReadOptions::default()
        },
    )
}

/// Observe one object.
pub async fn observe_object(
    reader: &DataReader,
    object: &ObjectRef,
    contract: &Contract,
    deadline: &Deadline,
    progress: &Progress,
) -> Result<PartialResult, SchemaError> {
    let mut stream = reader.open_object(object).await?;
    let mut obs = Observer::new(contract, &stream);
    let name = stream.object.clone();
    // Decoding (decompression, Parquet pages, CSV parsing) runs in its own task, a couple
    // of batches ahead of the checks: on a runtime with two or more workers the two
    // halves use two cores; on one core it costs nothing. The bounded channel keeps
    // memory at two extra batches.
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let mut decoder = AbortOnDrop(tokio::spawn(async move {
        while let Some(batch) = stream.next_batch().await {
            let failed = batch.is_err();
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
    }));
    while let Some(batch) = rx.recv().await {
        obs.observe(&batch?);
        if deadline.expired() {
            return Err(progress.deadline_error(&name, obs.rows()));
        }
    }
    if let Err(e) = (&mut decoder.0).await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    Ok(obs.finish())
}

/// Stops the decoding task when the checks end early (an error, the deadline).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Observe every object and merge (schemas must agree).
pub async fn observe_objects(
    reader: &DataReader,
    objects: &[ObjectRef],
    contract: &Contract,
    deadline: &Deadline,
) -> Result<PartialResult, SchemaError> {
    let mut progress = Progress {
        objects_total: objects.len(),
        ..Default::default()
    };
    let mut merged: Option<PartialResult> = None;
    for obj in objects {
        if deadline.expired() {
            return Err(progress.deadline_error(&obj.name(), 0));
        }
        let part = observe_object(reader, obj, contract, deadline, &progress).await?;
        progress.objects_done += 1;
        progress.rows_done += part.rows;
        match &mut merged {
            None => merged = Some(part),
            Some(m) => m.merge(part, contract.max_examples())?,
        }
    }
    merged.ok_or_else(|| SchemaError::Data(DataError::NoObjects("(no objects given)".into())))
}

/// Validate a location (object, prefix or directory) end to end.
pub async fn validate(
    reader: &DataReader,
    location: &crate::storage::Location,
    contract: &Contract,
    contract_uri: Option<&str>,
    deadline: &Deadline,
) -> Result<Report, SchemaError> {
    let objects = reader.list(location).await?;
    let partial = observe_objects(reader, &objects, contract, deadline).await?;
    Ok(evaluate(
        contract,
        &partial,
        &location.to_string(),
        contract_uri,
    ))
}

#[cfg(test)]
mod shards_10k;
#[cfg(test)]
mod tests;
