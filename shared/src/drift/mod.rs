//! Drift checks: does the current data come from the same distribution as the baseline?
//!
//! For every feature of the baseline [`Profile`]:
//! * numeric: the two-sample Kolmogorov-Smirnov test ([`ks`], matching `scipy.stats.ks_2samp`)
//!   of the baseline's uniform sample against the current data. When the current profile was
//!   built against the baseline it carries counts of all current values relative to the
//!   baseline sample's points, and D is computed against **every** current value; otherwise
//!   sample against sample. Either way n is the number of values actually compared, never
//!   the dataset's row count, so the test keeps its significance level at any scale (see
//!   [`crate::profile::reservoir`] for why).
//! * categorical: Pearson's chi-square of current counts against baseline frequencies
//!   ([`stats::chisquare_counts`]), categories absent from one side handled explicitly.
//!
//! A feature counts as drifted when its (corrected, [`correction`]) p-value is below α
//! **and** its effect size reaches a threshold: at a million rows a shift of 0.01 standard
//! deviations is "significant" and nobody cares. Effect sizes: KS D, PSI or the Wasserstein
//! distance divided by the baseline's standard deviation, per feature. The dataset drifts
//! when the share of drifted features reaches `share_threshold` or a critical feature
//! drifts. Drift is a result (`drift_detected: true`), not an error.

pub mod check;
pub mod config;
pub mod correction;
pub mod html;
pub mod ks;
pub mod report;
pub mod stats;
pub mod task;

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod roundtrip;

pub use check::check;
pub use config::{DriftConfig, Effect, FeatureConfig};
pub use correction::Correction;
pub use report::{DriftReport, FeatureResult, Verdict};

use crate::error::{ErrorDoc, ErrorName};

/// Errors of the drift check itself (bad data and artifacts come from [`crate::profile`]
/// and [`crate::dataset`]).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The current dataset has no rows.
    #[error("the current dataset has no rows: {0}")]
    EmptyDataset(String),
    /// The baseline has no rows or no features.
    #[error("the baseline is empty: {0}")]
    EmptyBaseline(String),
    /// The drift configuration is out of range.
    #[error("invalid drift configuration: {0}")]
    InvalidConfig(String),
}

impl ErrorName for DriftError {
    fn error_name(&self) -> &'static str {
        match self {
            DriftError::EmptyDataset(_) => "DataError.EmptyDataset",
            DriftError::EmptyBaseline(_) => "DataError.EmptyBaseline",
            DriftError::InvalidConfig(_) => "InputError.InvalidDriftConfig",
        }
    }
}

/// Error names this module can raise (see [`crate::catalog`]).
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "DataError.EmptyDataset", retryable: false, meaning: "the current dataset has no rows, so there is nothing to compare" },
    ErrorDoc { name: "DataError.EmptyBaseline", retryable: false, meaning: "the baseline was built from no rows or has no features" },
    ErrorDoc { name: "InputError.InvalidDriftConfig", retryable: false, meaning: "the drift configuration is out of range (alpha, thresholds, share) or names an unknown effect size" },
];
