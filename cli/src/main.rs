//! `trainguard`: the library's guards on local files and s3:// URIs, for people at a
//! terminal and for CI jobs. Every command takes the global flags of [`output::Output`]
//! (`--json`, `--quiet`, `--progress` / `--no-progress`). Exit codes: 0 passed / nothing
//! to do, 1 a check failed (violations, drift, a halted plan, a refused decision),
//! 2 unusable input or a usage error. docs/cli.md has the details.

use std::process::ExitCode;

use clap::Parser;

mod approval_api;
mod commands;
mod output;
mod progress;

#[derive(Parser, Debug)]
#[command(
    name = "trainguard",
    version,
    about = "Guards for a SageMaker training pipeline"
)]
pub struct Cli {
    #[command(flatten)]
    output: output::Output,
    #[command(subcommand)]
    command: commands::Command,
}

#[tokio::main]
async fn main() -> ExitCode {
    trainguard::telemetry::init_cli_logging();
    let cli = Cli::parse();
    commands::run(cli.command, cli.output).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        for args in [
            ["trainguard", "--json", "errors"],
            ["trainguard", "errors", "--json"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.output.json);
        }
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().output;
        let o = parse(&["trainguard", "errors", "--progress", "--no-progress"]);
        assert!(!o.progress && o.no_progress, "the last one wins");
        let o = parse(&["trainguard", "--no-progress", "--progress", "errors"]);
        assert!(o.progress && !o.no_progress, "the last one wins");
        // Given on both sides of the subcommand, both stay set: --no-progress wins.
        let o = parse(&["trainguard", "--progress", "errors", "--no-progress"]);
        assert_eq!(o.progress_style(true), None);
    }
}
