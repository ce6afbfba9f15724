//! `trainguard`: the library's guards on local files and s3:// URIs, for people at a
//! terminal and for CI jobs. Exit codes: 0 passed / nothing to do, 1 a check failed
//! (violations, drift), 2 unusable input.

use std::process::ExitCode;

use clap::Parser;

mod commands;

#[derive(Parser, Debug)]
#[command(
    name = "trainguard",
    version,
    about = "Guards for a SageMaker training pipeline"
)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

#[tokio::main]
async fn main() -> ExitCode {
    trainguard::telemetry::init_cli_logging();
    let cli = Cli::parse();
    commands::run(cli.command).await
}
