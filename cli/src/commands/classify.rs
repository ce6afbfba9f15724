//! `trainguard classify-failure` (issue: batch-size-adjuster).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// The caught error JSON ({"Error","Cause"}) or plain text file.
    pub cause: String,
}

pub async fn run(_a: ClassifyArgs) -> ExitCode {
    super::unusable(
        "InputError.InvalidEvent",
        "classify-failure is not implemented yet",
    )
}
