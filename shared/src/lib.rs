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
pub mod dataset;
pub mod drift;
pub mod error;
pub mod lambda;
pub mod profile;
pub mod saga;
pub mod schema;
pub mod storage;
pub mod telemetry;
pub mod training;
pub mod trigger;

pub use error::{ErrorDoc, ErrorName};
