//! `trainguard baseline` and `trainguard drift` (issue: drift-detector).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Dataset: file, or s3:// object or prefix.
    pub data: String,
}

#[derive(clap::Args, Debug)]
pub struct DriftArgs {
    /// Dataset: file, or s3:// object or prefix.
    pub data: String,
}

pub async fn run_baseline(_a: BaselineArgs) -> ExitCode {
    super::unusable("InputError.InvalidEvent", "baseline is not implemented yet")
}

pub async fn run_drift(_a: DriftArgs) -> ExitCode {
    super::unusable("InputError.InvalidEvent", "drift is not implemented yet")
}
