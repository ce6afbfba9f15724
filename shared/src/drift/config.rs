//! The drift check's configuration: significance, correction, effect-size gates and
//! per-feature settings. Its own module so the report (which echoes the configuration it
//! was made with) and the check (which applies it) both depend on it, not on each other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::correction::Correction;
use super::ks::{Alternative, Method};
use super::DriftError;

/// The effect size a feature is gated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The KS statistic D (numeric).
    KsD,
    /// Population stability index (categorical: per category; numeric: baseline deciles).
    Psi,
    /// Wasserstein-1 distance divided by the baseline's standard deviation (numeric).
    Wasserstein,
    /// No gate: the p-value alone decides.
    None,
}

impl Effect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Effect::KsD => "ks_d",
            Effect::Psi => "psi",
            Effect::Wasserstein => "wasserstein",
            Effect::None => "none",
        }
    }
}

/// Per-feature overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore: bool,
}

/// Drift configuration; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// Significance level (after correction). Default 0.05.
    pub alpha: f64,
    /// Multiple-testing correction. Default Benjamini-Hochberg.
    pub correction: Correction,
    /// The dataset drifts when drifted / checked >= this. Default 0.5 (Evidently's).
    pub share_threshold: f64,
    /// KS alternative. Default two-sided.
    pub alternative: Alternative,
    /// KS method. Default auto (scipy's switch at 10,000).
    pub method: Method,
    /// Effect size for numeric features. Default `wasserstein`.
    pub numeric_effect: Effect,
    /// Default 0.1 (a tenth of a baseline standard deviation for `wasserstein`).
    pub numeric_threshold: f64,
    /// Effect size for categorical features. Default `psi`.
    pub categorical_effect: Effect,
    /// Default 0.1 (the usual "some change" PSI level).
    pub categorical_threshold: f64,
    /// Features whose drift alone makes the dataset drift.
    pub critical: Vec<String>,
    /// Whether a baseline feature missing from the current data counts as drifted.
    pub missing_is_drift: bool,
    /// Per-feature overrides.
    pub features: BTreeMap<String, FeatureConfig>,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            alpha: 0.05,
            correction: Correction::BenjaminiHochberg,
            share_threshold: 0.5,
            alternative: Alternative::TwoSided,
            method: Method::Auto,
            numeric_effect: Effect::Wasserstein,
            numeric_threshold: 0.1,
            categorical_effect: Effect::Psi,
            categorical_threshold: 0.1,
            critical: Vec::new(),
            missing_is_drift: true,
            features: BTreeMap::new(),
        }
    }
}

impl DriftConfig {
    /// Range checks.
    pub fn validate(&self) -> Result<(), DriftError> {
        let bad = |m: String| Err(DriftError::InvalidConfig(m));
        let alpha_ok = |a: f64| a > 0.0 && a < 1.0;
        if !alpha_ok(self.alpha) {
            return bad(format!("alpha must be in (0, 1), got {}", self.alpha));
        }
        if !(self.share_threshold > 0.0 && self.share_threshold <= 1.0) {
            return bad(format!(
                "share_threshold must be in (0, 1], got {}",
                self.share_threshold
            ));
        }
        for (name, t) in [
            ("numeric_threshold", self.numeric_threshold),
            ("categorical_threshold", self.categorical_threshold),
        ] {
            if !(t.is_finite() && t >= 0.0) {
                return bad(format!("{name} must be a non-negative number, got {t}"));
            }
        }
        if matches!(self.categorical_effect, Effect::KsD | Effect::Wasserstein) {
            return bad("categorical_effect must be psi or none".into());
        }
        for (name, f) in &self.features {
            if let Some(a) = f.alpha {
                if !alpha_ok(a) {
                    return bad(format!("features.{name}.alpha must be in (0, 1), got {a}"));
                }
            }
            if let Some(t) = f.threshold {
                if !(t.is_finite() && t >= 0.0) {
                    return bad(format!(
                        "features.{name}.threshold must be a non-negative number, got {t}"
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn is_critical(&self, name: &str) -> bool {
        self.features
            .get(name)
            .and_then(|f| f.critical)
            .unwrap_or_else(|| self.critical.iter().any(|c| c == name))
    }
}
