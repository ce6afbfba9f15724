//! # trainguard
//!
//! Domain logic for the trainguard Lambda functions and the `trainguard` CLI.
//! Handlers in `functions/<role>` only decode an event, call into this crate and
//! encode the result, so everything worth testing lives here, testable without AWS.
//!
//! One module per concern; each concern has its own error enum whose variants map
//! to stable, documented error names (see [`error`]).

pub mod approval;
pub mod aws;
pub mod catalog;
pub mod caught;
pub mod dataset;
pub mod drift;
pub mod error;
pub mod evaluation;
pub mod events;
pub mod lambda;
pub mod origin;
pub mod profile;
pub mod registry;
pub mod saga;
pub mod schema;
pub mod storage;
pub mod telemetry;
pub mod training;
pub mod trigger;

pub use error::{ErrorDoc, ErrorName};

#[cfg(test)]
mod sample_events;

/// Paths for the library's own unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// `rel` under the repository root (the parent of `shared/`), resolved when the test
    /// runs. Never `env!("CARGO_MANIFEST_DIR")`: with one `CARGO_TARGET_DIR` shared by
    /// several checkouts, a test binary built in one checkout is reused by the next as
    /// long as its sources look older, and a path baked in at compile time then points at
    /// the other (possibly deleted) checkout. `cargo test` sets the variable for the test
    /// process too.
    pub(crate) fn repo_path(rel: &str) -> PathBuf {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::current_dir().expect("current directory"));
        manifest.join("..").join(rel)
    }
}
