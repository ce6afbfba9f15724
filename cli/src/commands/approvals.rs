//! `trainguard approvals list`, `trainguard approve|reject` (issue: approval-handler).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ApprovalsArgs {
    /// `list`
    pub action: String,
}

#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The approval id.
    pub id: String,
    /// Why.
    #[arg(long)]
    pub comment: Option<String>,
}

pub async fn run_list(_a: ApprovalsArgs) -> ExitCode {
    super::unusable(
        "InputError.InvalidEvent",
        "approvals is not implemented yet",
    )
}

pub async fn run_decide(_a: DecideArgs, _approve: bool) -> ExitCode {
    super::unusable(
        "InputError.InvalidEvent",
        "approve/reject is not implemented yet",
    )
}
