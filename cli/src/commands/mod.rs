//! One module per command group; each exports its clap `Args` and an async `run` that
//! takes the global [`Output`] flags.

use std::process::ExitCode;

use clap::Subcommand;

use crate::output::Output;

pub mod approvals;
pub mod classify;
pub mod compensate;
pub mod completions;
pub mod drift;
pub mod errors;
pub mod validate;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a CSV/Parquet file or prefix against a data contract.
    Validate(validate::ValidateArgs),
    /// Write a starting contract inferred from a sample file.
    InferContract(validate::InferArgs),
    /// Build a drift baseline from a dataset.
    Baseline(drift::BaselineArgs),
    /// Check a dataset for drift against a baseline.
    Drift(drift::DriftArgs),
    /// Classify a failed training job's error and print the recovery plan.
    ClassifyFailure(classify::ClassifyArgs),
    /// Run (or with --dry-run show) the compensation for a failed stage.
    Compensate(compensate::CompensateArgs),
    /// Work with pending approvals.
    Approvals(approvals::ApprovalsArgs),
    /// Approve a pending model.
    Approve(approvals::DecideArgs),
    /// Reject a pending model.
    Reject(approvals::DecideArgs),
    /// List the documented error names.
    Errors(errors::ErrorsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
}

pub async fn run(cmd: Command, out: Output) -> ExitCode {
    match cmd {
        Command::Validate(a) => validate::run_validate(a, out).await,
        Command::InferContract(a) => validate::run_infer(a, out).await,
        Command::Baseline(a) => drift::run_baseline(a, out).await,
        Command::Drift(a) => drift::run_drift(a, out).await,
        Command::ClassifyFailure(a) => classify::run(a, out).await,
        Command::Compensate(a) => compensate::run(a, out).await,
        Command::Approvals(a) => approvals::run_list(a, out).await,
        Command::Approve(a) => approvals::run_decide(a, true, out).await,
        Command::Reject(a) => approvals::run_decide(a, false, out).await,
        Command::Errors(a) => errors::run(a, out),
        Command::Completions(a) => completions::run(a, out),
    }
}
