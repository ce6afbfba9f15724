//! Placeholder: filled in by its issue.

/// Error names this module can raise (see [`crate::error::catalog`]).
pub const ERRORS: &[crate::error::ErrorDoc] = &[];
