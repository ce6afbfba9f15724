//! `trainguard errors`: the documented error names (the README's table is generated
//! from this; a test keeps them equal).

use std::process::ExitCode;

use serde_json::json;

use crate::output::{print_stdout, Output};

#[derive(clap::Args, Debug)]
pub struct ErrorsArgs {
    /// Print the Markdown table the README carries.
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(a: ErrorsArgs, out: Output) -> ExitCode {
    let mut all = trainguard::catalog::all();
    all.sort_by_key(|d| d.name);
    if out.json {
        // --json wins over --markdown: one machine-readable shape.
        let errors: Vec<_> = all
            .iter()
            .map(|d| json!({"name": d.name, "retryable": d.retryable, "meaning": d.meaning}))
            .collect();
        out.emit(&json!({ "errors": errors }));
    } else if a.markdown {
        print_stdout(&trainguard::catalog::markdown_table());
    } else {
        let mut text = String::new();
        for d in all {
            text.push_str(&format!(
                "{:<40} {:<5} {}\n",
                d.name,
                if d.retryable { "retry" } else { "-" },
                d.meaning
            ));
        }
        print_stdout(&text);
    }
    ExitCode::SUCCESS
}
