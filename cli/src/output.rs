//! How every command speaks: the global output flags, one JSON document on stdout with
//! `--json` (errors included), human text otherwise, notes and progress on stderr.
//!
//! Exit codes (the same for every command): 0 passed / nothing to do, 1 a check failed
//! or a decision was refused (each command's docs say what that means for it), 2 unusable
//! input (a documented error name) or a usage error (clap's message).

use std::io::IsTerminal;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

/// Exit code for unusable input (a documented error name is printed).
pub const EXIT_UNUSABLE: u8 = 2;

/// The global flags: accepted before or after the subcommand.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Output {
    /// Print one JSON document on stdout (errors too, as {"error": {"name", ...}}).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress and no notes on stderr (results and errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show progress on stderr even when it is not a terminal or with --json/--quiet.
    #[arg(long, global = true, overrides_with = "no_progress")]
    pub progress: bool,
    /// Never show progress.
    #[arg(long, global = true, overrides_with = "progress")]
    pub no_progress: bool,
}

/// How progress is shown, when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// Redrawn in place (`\r`) at most 10 times a second; erased at the end.
    Terminal,
    /// Forced with `--progress` onto a pipe or file: a plain line at most once a second
    /// and a last line at the end.
    Lines,
}

impl Output {
    /// Whether and how to show progress, given whether stderr is a terminal.
    ///
    /// `--progress` / `--no-progress` decide when given (the last one wins; given on
    /// both sides of the subcommand, `--no-progress`); otherwise progress shows only on a
    /// terminal (`TERM` not `dumb`) without `--json` or `--quiet`.
    pub fn progress_style(&self, stderr_is_terminal: bool) -> Option<ProgressStyle> {
        let style = if stderr_is_terminal {
            ProgressStyle::Terminal
        } else {
            ProgressStyle::Lines
        };
        if self.no_progress {
            None
        } else if self.progress {
            Some(style)
        } else if self.json || self.quiet || !stderr_is_terminal {
            None
        } else {
            Some(style)
        }
    }

    /// [`Self::progress_style`] for this process's stderr.
    pub fn progress_here(&self) -> Option<ProgressStyle> {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        self.progress_style(std::io::stderr().is_terminal() && !dumb)
    }

    /// A note for the person (stderr), unless `--quiet`.
    pub fn note(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// The command's one JSON document, on stdout.
    pub fn emit(&self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => print_stdout(&format!("{s}\n")),
            Err(e) => eprintln!("could not encode the output as JSON: {e}"),
        }
    }

    /// Report unusable input under its documented error name and return exit code 2.
    ///
    /// The line `error[Name]: message` always goes to stderr; with `--json` stdout also
    /// gets `{"error": {"name", "message", "retryable"}}` (`retryable` from the catalog).
    pub fn fail(&self, name: &str, message: &str) -> ExitCode {
        eprintln!("error[{name}]: {message}");
        if self.json {
            self.emit(&error_document(name, message));
        }
        ExitCode::from(EXIT_UNUSABLE)
    }
}

/// Write `text` to stdout; a reader that went away (`trainguard errors | head`) is not an
/// error worth a panic, so a broken pipe is ignored.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("could not write to stdout: {e}");
        }
    }
}

/// The JSON document of an error.
pub fn error_document(name: &str, message: &str) -> serde_json::Value {
    let retryable = trainguard::catalog::lookup(name).map(|d| d.retryable);
    json!({"error": {"name": name, "message": message, "retryable": retryable}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(json: bool, quiet: bool, progress: bool, no_progress: bool) -> Output {
        Output {
            json,
            quiet,
            progress,
            no_progress,
        }
    }

    #[test]
    fn progress_only_on_a_terminal_without_json_or_quiet() {
        let plain = out(false, false, false, false);
        assert_eq!(plain.progress_style(true), Some(ProgressStyle::Terminal));
        assert_eq!(plain.progress_style(false), None, "not a terminal");
        assert_eq!(out(true, false, false, false).progress_style(true), None);
        assert_eq!(out(false, true, false, false).progress_style(true), None);
        assert_eq!(out(false, false, false, true).progress_style(true), None);
    }

    #[test]
    fn progress_flag_forces_it_in_the_style_of_the_stream() {
        let forced = out(true, true, true, false);
        assert_eq!(forced.progress_style(true), Some(ProgressStyle::Terminal));
        assert_eq!(forced.progress_style(false), Some(ProgressStyle::Lines));
    }

    #[test]
    fn error_documents_carry_the_catalog_retry_flag() {
        let v = error_document("Transient.Throttled", "slow down");
        assert_eq!(v["error"]["name"], "Transient.Throttled");
        assert_eq!(v["error"]["message"], "slow down");
        assert_eq!(v["error"]["retryable"], true);
        let v = error_document("DataError.MalformedCsv", "row 3");
        assert_eq!(v["error"]["retryable"], false);
        assert!(error_document("Not.Catalogued", "x")["error"]["retryable"].is_null());
    }
}
