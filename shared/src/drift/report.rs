//! What a drift check returns: the full per-feature report and the small verdict the Step
//! Functions Choice state routes on.

use serde::Serialize;

use super::config::DriftConfig;

/// Why a feature was or was not tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Tested; see `drifted`.
    Tested,
    /// In the baseline but not among the current columns (counts as drifted by default).
    Missing,
    /// The current column has no values at all while the baseline had some (drifted).
    AllNull,
    /// The baseline had no values while the current data has some (drifted).
    BaselineEmpty,
    /// Neither side has a value: nothing to compare (not counted).
    Empty,
    /// Numeric in one, categorical in the other (drifted).
    TypeChanged,
    /// Excluded by configuration (not counted).
    Ignored,
}

/// An effect size and the threshold it was held to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectSize {
    /// `ks_d`, `psi`, `wasserstein` (normalised by the baseline's standard deviation).
    pub metric: String,
    /// Its value (null when undefined).
    pub value: Option<f64>,
    /// The gate: the feature drifts only when `value >= threshold` (and p < α).
    pub threshold: f64,
}

/// A short numeric or categorical summary of one side.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Summary {
    pub count: u64,
    pub nulls: u64,
    /// nulls / (count + nulls + infinite)
    pub null_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// One category's counts on both sides (categorical features).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryRow {
    pub category: String,
    pub baseline: u64,
    pub current: u64,
}

/// The full result for one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureResult {
    pub name: String,
    /// `numeric` or `categorical` (the baseline's type).
    pub kind: String,
    pub status: Status,
    /// `ks` or `chi-square`, when tested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvalue: Option<f64>,
    /// After the multiple-testing correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvalue_adjusted: Option<f64>,
    /// KS: `exact` or `asymp`; chi-square: `chi2(k-1)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// KS: `sample-vs-all` (baseline sample against every current value) or
    /// `sample-vs-sample`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<String>,
    /// Values actually compared on each side (the n of the test).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_baseline: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<EffectSize>,
    /// α applied to this feature.
    pub alpha: f64,
    /// p_adjusted < α.
    pub significant: bool,
    /// Counted as drifted.
    pub drifted: bool,
    pub critical: bool,
    /// Why it drifted (or was not tested), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub baseline: Summary,
    pub current: Summary,
    /// Categorical features: category counts on both sides (most frequent first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryRow>,
    /// Categories with current values and no baseline counterpart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_categories: Vec<String>,
}

/// The full report (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub version: u32,
    pub kind: String,
    pub created_at: String,
    pub verdict: Verdict,
    pub config: DriftConfig,
    pub baseline_sources: Vec<String>,
    pub current_sources: Vec<String>,
    pub features: Vec<FeatureResult>,
}

/// One drifted feature in the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedFeature {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvalue: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvalue_adjusted: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_size: Option<f64>,
    pub critical: bool,
    pub status: Status,
}

/// At most this many drifted features are listed in the verdict (the report has all).
pub const MAX_VERDICT_FEATURES: usize = 50;

/// The small verdict returned to Step Functions (well under 32 KB).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub drift_detected: bool,
    pub drifted_features: Vec<DriftedFeature>,
    /// True when more drifted features exist than are listed.
    pub drifted_features_truncated: bool,
    pub drifted_count: usize,
    /// Features that count towards the share (tested, missing, all-null, type-changed).
    pub features_checked: usize,
    pub share_drifted: f64,
    pub share_threshold: f64,
    pub critical_drifted: Vec<String>,
    pub missing_features: Vec<String>,
    /// Current columns the baseline does not know (not tested).
    pub new_features: Vec<String>,
    pub rows_baseline: u64,
    pub rows_current: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_report_uri: Option<String>,
}

impl DriftReport {
    /// Pretty JSON bytes of the full report.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}
