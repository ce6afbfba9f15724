//! Reading tabular data (CSV, gzip/zstd-compressed CSV, Parquet) from local files and
//! S3 as Arrow record batches, with bounded memory. Placeholder: filled in by the
//! schema-validator issue; the drift detector reads through it too.

/// Error names this module can raise (see [`crate::error::catalog`]).
pub const ERRORS: &[crate::error::ErrorDoc] = &[];
