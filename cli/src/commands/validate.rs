//! `trainguard validate` and `trainguard infer-contract` (issue: schema-validator).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// File or s3:// URI (object or prefix).
    pub data: String,
}

#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// Sample file or s3:// URI.
    pub data: String,
}

pub async fn run_validate(_a: ValidateArgs) -> ExitCode {
    super::unusable("InputError.InvalidEvent", "validate is not implemented yet")
}

pub async fn run_infer(_a: InferArgs) -> ExitCode {
    super::unusable(
        "InputError.InvalidEvent",
        "infer-contract is not implemented yet",
    )
}
