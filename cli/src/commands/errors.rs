//! `trainguard errors`: the documented error names (the README's table is generated
//! from this; a test keeps them equal).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ErrorsArgs {
    /// Print the Markdown table the README carries.
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(a: ErrorsArgs) -> ExitCode {
    if a.markdown {
        print!("{}", trainguard::catalog::markdown_table());
    } else {
        for d in trainguard::catalog::all() {
            println!(
                "{:<40} {:<5} {}",
                d.name,
                if d.retryable { "retry" } else { "-" },
                d.meaning
            );
        }
    }
    ExitCode::SUCCESS
}
