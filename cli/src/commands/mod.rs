//! One module per command group; each exports its clap `Args` and an async `run`.

use std::process::ExitCode;

use clap::Subcommand;

pub mod approvals;
pub mod classify;
pub mod compensate;
pub mod drift;
pub mod errors;
pub mod validate;

/// Exit code for unusable input (a documented error name is printed on stderr).
pub const EXIT_UNUSABLE: u8 = 2;

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
}

pub async fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Validate(a) => validate::run_validate(a).await,
        Command::InferContract(a) => validate::run_infer(a).await,
        Command::Baseline(a) => drift::run_baseline(a).await,
        Command::Drift(a) => drift::run_drift(a).await,
        Command::ClassifyFailure(a) => classify::run(a).await,
        Command::Compensate(a) => compensate::run(a).await,
        Command::Approvals(a) => approvals::run_list(a).await,
        Command::Approve(a) => approvals::run_decide(a, true).await,
        Command::Reject(a) => approvals::run_decide(a, false).await,
        Command::Errors(a) => errors::run(a),
    }
}

/// Print an error with its documented name and return the "unusable input" exit code.
pub fn unusable(name: &str, message: &str) -> ExitCode {
    eprintln!("error[{name}]: {message}");
    ExitCode::from(EXIT_UNUSABLE)
}
