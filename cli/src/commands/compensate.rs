//! `trainguard compensate` (issue: saga-compensator).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CompensateArgs {
    /// The failed stage.
    #[arg(long)]
    pub stage: String,
}

pub async fn run(_a: CompensateArgs) -> ExitCode {
    super::unusable(
        "InputError.InvalidEvent",
        "compensate is not implemented yet",
    )
}
