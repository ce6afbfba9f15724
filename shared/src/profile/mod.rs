//! Dataset profiles: the per-feature summaries a drift baseline is made of.
//!
//! A profile is built from Arrow record batches in one pass with memory bounded by the
//! options (not by the data), and profiles **merge**: the profile of each shard (a file, a
//! row-group range) merged together gives the profile of the whole. That is what lets a
//! Step Functions Distributed Map fan the profiling of thousands of files out and a reducer
//! merge them.
//!
//! Per numeric feature: counts (rows with a value, nulls incl. NaN, ±inf), min, max, mean
//! and variance (Chan et al.'s pairwise update), sample quantiles and a uniform random
//! sample of at most `sample_size` values ([`reservoir`]), which is what the KS test and the
//! Wasserstein distance use. Per categorical feature: the category counts, at most
//! `max_categories` of them, the rest in an `other` bucket.
//!
//! A *current* profile built against a baseline ([`builder::ProfileBuilder::against`]) also
//! counts, for each numeric feature, how many current values fall on and between the
//! baseline sample's values. Those counts are all a KS test of the baseline sample against
//! the **entire** current dataset needs, and they add up across shards.
//!
//! Exact under merge: `rows`, `count`, `nulls`, `infinite`, `min`, `max`, category counts
//! while the distinct categories fit in `max_categories`, the against-baseline counts.
//! Equal up to floating-point rounding: `mean`, `std`. Random (but uniform): the sample.
//!
//! ## Size bound
//! A profile holds at most `sample_size` numbers per numeric feature (default 2,048; JSON
//! numbers take at most 24 bytes), `max_categories` names per categorical feature (default
//! 100, names cut at 256 bytes) and, for a current profile against a baseline,
//! `2 · sample_size + 1` counts per numeric feature. With the defaults a baseline of 100
//! numeric features is at most ~5 MB (typically 3-4 MB) whatever the number of rows; of
//! 100 categorical features at most ~2.7 MB. `validate` refuses options beyond
//! [`MAX_SAMPLE_SIZE`] / [`MAX_CATEGORIES`].

pub mod builder;
pub mod reservoir;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorDoc, ErrorName};

pub use builder::ProfileBuilder;

/// The profile (and baseline) JSON format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The `kind` field of every profile document.
pub const KIND: &str = "trainguard.profile";
/// Default sample size per numeric feature.
pub const DEFAULT_SAMPLE_SIZE: usize = 2048;
/// Default number of categories kept per categorical feature.
pub const DEFAULT_MAX_CATEGORIES: usize = 100;
/// Largest accepted sample size (bounds the document size).
pub const MAX_SAMPLE_SIZE: usize = 100_000;
/// Largest accepted category limit.
pub const MAX_CATEGORIES: usize = 10_000;
/// Category names are cut to this many bytes (on a char boundary).
pub const MAX_CATEGORY_BYTES: usize = 256;
/// At most this many source names are listed (the total is always counted).
pub const MAX_SOURCES_LISTED: usize = 20;
/// The bucket name used for categories past the limit, in reports.
pub const OTHER: &str = "__other__";

/// Errors raised while building, reading or merging profiles.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A baseline document is not valid JSON or not a valid profile.
    #[error("the baseline {0}")]
    InvalidBaseline(String),
    /// A profile document (not the baseline) is not valid.
    #[error("the profile {0}")]
    InvalidProfile(String),
    /// Profiles with different options or conflicting feature types were merged.
    #[error("profiles cannot be merged: {0}")]
    Incompatible(String),
    /// A column's type changed between batches or files (numbers in one, text in another).
    #[error("column {0:?} changed type: {1}")]
    TypeConflict(String, String),
    /// Options out of range.
    #[error("invalid profile options: {0}")]
    InvalidOptions(String),
}

impl ErrorName for ProfileError {
    fn error_name(&self) -> &'static str {
        match self {
            ProfileError::InvalidBaseline(_) => "DataError.InvalidBaseline",
            ProfileError::InvalidProfile(_) => "DataError.InvalidProfile",
            ProfileError::Incompatible(_) => "DataError.IncompatibleProfiles",
            ProfileError::TypeConflict(..) => "DataError.TypeConflict",
            ProfileError::InvalidOptions(_) => "InputError.InvalidConfig",
        }
    }
}

/// Error names this module can raise (see [`crate::catalog`]).
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "DataError.InvalidBaseline", retryable: false, meaning: "the baseline is not valid JSON, not a trainguard profile, or of an unsupported version" },
    ErrorDoc { name: "DataError.InvalidProfile", retryable: false, meaning: "a shard profile given to merge/check is not a valid trainguard profile" },
    ErrorDoc { name: "DataError.IncompatibleProfiles", retryable: false, meaning: "profiles built with different options or with a feature typed differently cannot be merged" },
    ErrorDoc { name: "DataError.TypeConflict", retryable: false, meaning: "a column holds numbers in one batch or file and text in another" },
    ErrorDoc { name: "InputError.InvalidConfig", retryable: false, meaning: "profile or drift options out of range (sample size, category limit, alpha, thresholds)" },
];

/// How profiles are built. Profiles merge only when their options agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileOptions {
    /// Sample size per numeric feature.
    pub sample_size: usize,
    /// Categories kept per categorical feature.
    pub max_categories: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            sample_size: DEFAULT_SAMPLE_SIZE,
            max_categories: DEFAULT_MAX_CATEGORIES,
        }
    }
}

impl ProfileOptions {
    /// Refuse options that would break the size bound or make tests meaningless.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.sample_size == 0 || self.sample_size > MAX_SAMPLE_SIZE {
            return Err(ProfileError::InvalidOptions(format!(
                "sample_size must be in 1..={MAX_SAMPLE_SIZE}, got {}",
                self.sample_size
            )));
        }
        if self.max_categories == 0 || self.max_categories > MAX_CATEGORIES {
            return Err(ProfileError::InvalidOptions(format!(
                "max_categories must be in 1..={MAX_CATEGORIES}, got {}",
                self.max_categories
            )));
        }
        Ok(())
    }
}

/// A dataset profile; a baseline is a profile written to S3 or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// Always [`KIND`].
    pub kind: String,
    /// When it was built or last merged (RFC 3339), informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Rows read.
    pub rows: u64,
    /// Up to [`MAX_SOURCES_LISTED`] source names (files, URIs).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Total number of sources merged in.
    #[serde(default)]
    pub sources_total: u64,
    /// Build options.
    pub options: ProfileOptions,
    /// Seed of this profile's randomness (reservoirs, merges): deterministic output for
    /// the same input.
    pub seed: u64,
    /// Features, in column order of the first source.
    pub features: Vec<Feature>,
}

/// One feature's profile. (serde cannot deny unknown fields next to `flatten`; the
/// top-level document does.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Column name.
    pub name: String,
    /// The summary.
    #[serde(flatten)]
    pub stats: FeatureStats,
}

/// Numeric or categorical summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeatureStats {
    Numeric(NumericProfile),
    Categorical(CategoricalProfile),
}

impl FeatureStats {
    /// `numeric` or `categorical`.
    pub fn type_name(&self) -> &'static str {
        match self {
            FeatureStats::Numeric(_) => "numeric",
            FeatureStats::Categorical(_) => "categorical",
        }
    }
}

/// Summary of a numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Finite values seen.
    pub count: u64,
    /// Nulls and NaNs.
    pub nulls: u64,
    /// +inf / -inf values (kept out of every statistic, counted here).
    #[serde(default)]
    pub infinite: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Population standard deviation (numpy's `std`, ddof = 0).
    pub std: Option<f64>,
    /// Sum of squared deviations from the mean (what merges exactly-ish).
    pub m2: f64,
    /// Sample quantiles p1, p5, p25, p50, p75, p95, p99 (linear interpolation).
    #[serde(default)]
    pub quantiles: BTreeMap<String, f64>,
    /// Uniform random sample of the finite values, sorted, at most `sample_size` long.
    pub sample: Vec<f64>,
    /// Counts of this (current) data on and between the baseline sample's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<Against>,
}

/// Counts of current values relative to a baseline sample's distinct values `u_0 < … <
/// u_{k-1}`: `equal[i]` values equal to `u_i`, `between[i]` values strictly between
/// `u_{i-1}` and `u_i` (`between[0]` below `u_0`, `between[k]` above `u_{k-1}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Against {
    /// Fingerprint of the baseline sample these counts refer to.
    pub baseline_sample: String,
    pub equal: Vec<u64>,
    pub between: Vec<u64>,
}

/// Summary of a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Non-null values seen.
    pub count: u64,
    /// Nulls.
    pub nulls: u64,
    /// Count per category (at most `max_categories`).
    pub categories: BTreeMap<String, u64>,
    /// Values of categories past the limit.
    #[serde(default)]
    pub other: u64,
}

/// Distinct values of a sorted sample, and how many times each occurs.
pub fn distinct_sorted(sample: &[f64]) -> (Vec<f64>, Vec<u64>) {
    let mut vals: Vec<f64> = Vec::new();
    let mut mult: Vec<u64> = Vec::new();
    for &v in sample {
        if vals.last() == Some(&v) {
            if let Some(m) = mult.last_mut() {
                *m += 1;
            }
        } else {
            vals.push(v);
            mult.push(1);
        }
    }
    (vals, mult)
}

/// A short fingerprint of a feature's sample, so against-baseline counts are never applied
/// to a different baseline.
pub fn sample_fingerprint(name: &str, sample: &[f64]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    for v in sample {
        h.update(v.to_bits().to_le_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

/// Linear-interpolation quantile of a sorted sample (numpy's default method).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    Some(a + (b - a) * frac)
}

/// The quantiles a profile reports.
pub fn sample_quantiles(sorted: &[f64]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, q) in [
        ("p01", 0.01),
        ("p05", 0.05),
        ("p25", 0.25),
        ("p50", 0.5),
        ("p75", 0.75),
        ("p95", 0.95),
        ("p99", 0.99),
    ] {
        if let Some(v) = quantile_sorted(sorted, q) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

fn mix(a: u64, b: u64) -> u64 {
    // SplitMix64 finaliser over a combination: a deterministic seed for a merge.
    let mut z = a ^ b.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a string (FNV-1a), for seeds.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Seed for one feature's reservoir in a profile with seed `seed`.
pub fn feature_seed(seed: u64, name: &str) -> u64 {
    mix(seed, hash_str(name))
}

impl NumericProfile {
    /// An empty summary with `nulls` missing values.
    pub fn empty(nulls: u64) -> Self {
        NumericProfile {
            count: 0,
            nulls,
            infinite: 0,
            min: None,
            max: None,
            mean: None,
            std: None,
            m2: 0.0,
            quantiles: BTreeMap::new(),
            sample: Vec::new(),
            against: None,
        }
    }

    fn merge(&self, other: &NumericProfile, capacity: usize, seed: u64) -> NumericProfile {
        let count = self.count + other.count;
        let (mean, m2) = match (self.mean, other.mean) {
            (Some(ma), Some(mb)) => {
                let (na, nb) = (self.count as f64, other.count as f64);
                let delta = mb - ma;
                let n = na + nb;
                (
                    Some(ma + delta * nb / n),
                    self.m2 + other.m2 + delta * delta * na * nb / n,
                )
            }
            (Some(m), None) => (Some(m), self.m2),
            (None, Some(m)) => (Some(m), other.m2),
            (None, None) => (None, 0.0),
        };
        let sample = reservoir::merge(
            &self.sample,
            self.count,
            &other.sample,
            other.count,
            capacity,
            seed,
        );
        let against = match (&self.against, &other.against) {
            (Some(a), Some(b))
                if a.baseline_sample == b.baseline_sample
                    && a.equal.len() == b.equal.len()
                    && a.between.len() == b.between.len() =>
            {
                Some(Against {
                    baseline_sample: a.baseline_sample.clone(),
                    equal: a.equal.iter().zip(&b.equal).map(|(x, y)| x + y).collect(),
                    between: a
                        .between
                        .iter()
                        .zip(&b.between)
                        .map(|(x, y)| x + y)
                        .collect(),
                })
            }
            // A shard with no values contributes nothing either way.
            (Some(a), None) if other.count == 0 => Some(a.clone()),
            (None, Some(b)) if self.count == 0 => Some(b.clone()),
            _ => None,
        };
        let std = if count > 0 {
            Some((m2 / count as f64).max(0.0).sqrt())
        } else {
            None
        };
        NumericProfile {
            count,
            nulls: self.nulls + other.nulls,
            infinite: self.infinite + other.infinite,
            min: opt_fold(self.min, other.min, f64::min),
            max: opt_fold(self.max, other.max, f64::max),
            mean,
            std,
            m2,
            quantiles: sample_quantiles(&sample),
            sample,
            against,
        }
    }
}

fn opt_fold(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(f(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl CategoricalProfile {
    /// An empty summary with `nulls` missing values.
    pub fn empty(nulls: u64) -> Self {
        CategoricalProfile {
            count: 0,
            nulls,
            categories: BTreeMap::new(),
            other: 0,
        }
    }

    /// Keep the `max` most frequent categories (ties: by name), the rest into `other`.
    pub fn trim(&mut self, max: usize) {
        if self.categories.len() <= max {
            return;
        }
        let mut all: Vec<(String, u64)> =
            std::mem::take(&mut self.categories).into_iter().collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (i, (k, c)) in all.into_iter().enumerate() {
            if i < max {
                self.categories.insert(k, c);
            } else {
                self.other += c;
            }
        }
    }

    fn merge(&self, other: &CategoricalProfile, max: usize) -> CategoricalProfile {
        let mut out = self.clone();
        out.count += other.count;
        out.nulls += other.nulls;
        out.other += other.other;
        for (k, c) in &other.categories {
            *out.categories.entry(k.clone()).or_insert(0) += c;
        }
        out.trim(max);
        out
    }
}

impl Profile {
    /// An empty profile.
    pub fn empty(options: ProfileOptions, seed: u64) -> Self {
        Profile {
            version: FORMAT_VERSION,
            kind: KIND.to_string(),
            created_at: None,
            rows: 0,
            sources: Vec::new(),
            sources_total: 0,
            options,
            seed,
            features: Vec::new(),
        }
    }

    /// The feature called `name`.
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Parse and validate a baseline document.
    pub fn from_baseline_json(bytes: &[u8]) -> Result<Profile, ProfileError> {
        Self::parse(bytes).map_err(ProfileError::InvalidBaseline)
    }

    /// Parse and validate a (shard or current) profile document.
    pub fn from_profile_json(bytes: &[u8]) -> Result<Profile, ProfileError> {
        Self::parse(bytes).map_err(ProfileError::InvalidProfile)
    }

    fn parse(bytes: &[u8]) -> Result<Profile, String> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("is not valid JSON: {e}"))?;
        match v.get("version").and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "has format version {n}; this trainguard reads version {FORMAT_VERSION}"
                ))
            }
            None => return Err("has no \"version\" field: not a trainguard profile".into()),
        }
        if v.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
            return Err(format!(
                "is not a trainguard profile (\"kind\" must be {KIND:?})"
            ));
        }
        let p: Profile = serde_json::from_value(v)
            .map_err(|e| format!("does not match the profile format: {e}"))?;
        p.check_invariants()?;
        Ok(p)
    }

    /// Invariants a hand-edited or truncated document could break; checked on read so the
    /// statistics never see impossible input.
    fn check_invariants(&self) -> Result<(), String> {
        self.options.validate().map_err(|e| e.to_string())?;
        let mut names = std::collections::HashSet::new();
        for f in &self.features {
            if !names.insert(f.name.as_str()) {
                return Err(format!("lists feature {:?} twice", f.name));
            }
            match &f.stats {
                FeatureStats::Numeric(n) => {
                    if n.sample.len() > self.options.sample_size || n.sample.len() as u64 > n.count
                    {
                        return Err(format!("feature {:?}: sample larger than allowed", f.name));
                    }
                    if n.sample.iter().any(|v| !v.is_finite())
                        || n.sample.windows(2).any(|w| w[0] > w[1])
                    {
                        return Err(format!(
                            "feature {:?}: sample must be finite and sorted",
                            f.name
                        ));
                    }
                    if n.count > 0 && (n.sample.is_empty() || n.mean.is_none()) {
                        return Err(format!(
                            "feature {:?}: has values but no sample or mean",
                            f.name
                        ));
                    }
                    if let Some(a) = &n.against {
                        if a.between.len() != a.equal.len() + 1 {
                            return Err(format!(
                                "feature {:?}: malformed against-baseline counts",
                                f.name
                            ));
                        }
                    }
                }
                FeatureStats::Categorical(c) => {
                    if c.categories.len() > self.options.max_categories {
                        return Err(format!(
                            "feature {:?}: more categories than max_categories",
                            f.name
                        ));
                    }
                    let sum: u64 = c.categories.values().sum::<u64>() + c.other;
                    if sum != c.count {
                        return Err(format!(
                            "feature {:?}: category counts do not add up to count",
                            f.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Pretty JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data cannot fail; fall back to an empty object defensively.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Merge two profiles of disjoint data. A feature present in only one of them counts as
    /// all-null in the other's rows.
    pub fn merge(&self, other: &Profile) -> Result<Profile, ProfileError> {
        if self.options != other.options {
            return Err(ProfileError::Incompatible(format!(
                "options differ ({:?} vs {:?})",
                self.options, other.options
            )));
        }
        let seed = mix(self.seed, other.seed);
        let mut features = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let merged = match other.feature(&f.name) {
                Some(g) => merge_feature(f, g, self.options, seed)?,
                None => with_extra_nulls(f, other.rows),
            };
            features.push(merged);
        }
        for g in &other.features {
            if self.feature(&g.name).is_none() {
                features.push(with_extra_nulls(g, self.rows));
            }
        }
        let mut sources = self.sources.clone();
        for s in &other.sources {
            if sources.len() < MAX_SOURCES_LISTED {
                sources.push(s.clone());
            }
        }
        Ok(Profile {
            version: FORMAT_VERSION,
            kind: KIND.to_string(),
            created_at: Some(chrono::Utc::now().to_rfc3339()),
            rows: self.rows + other.rows,
            sources,
            sources_total: self.sources_total + other.sources_total,
            options: self.options,
            seed,
            features,
        })
    }

    /// Merge many profiles (left to right). None for an empty list.
    pub fn merge_all(profiles: &[Profile]) -> Result<Option<Profile>, ProfileError> {
        let mut it = profiles.iter();
        let Some(first) = it.next() else {
            return Ok(None);
        };
        let mut acc = first.clone();
        for p in it {
            acc = acc.merge(p)?;
        }
        Ok(Some(acc))
    }
}

fn with_extra_nulls(f: &Feature, rows: u64) -> Feature {
    let mut f = f.clone();
    match &mut f.stats {
        FeatureStats::Numeric(n) => n.nulls += rows,
        FeatureStats::Categorical(c) => c.nulls += rows,
    }
    f
}

fn merge_feature(
    a: &Feature,
    b: &Feature,
    opts: ProfileOptions,
    seed: u64,
) -> Result<Feature, ProfileError> {
    let stats = match (&a.stats, &b.stats) {
        (FeatureStats::Numeric(x), FeatureStats::Numeric(y)) => {
            FeatureStats::Numeric(x.merge(y, opts.sample_size, feature_seed(seed, &a.name)))
        }
        (FeatureStats::Categorical(x), FeatureStats::Categorical(y)) => {
            FeatureStats::Categorical(x.merge(y, opts.max_categories))
        }
        // A column that is entirely null in one shard has no type evidence there: the
        // builder records it as numeric with no values; let the typed side win.
        (FeatureStats::Numeric(x), FeatureStats::Categorical(y))
            if x.count == 0 && x.infinite == 0 =>
        {
            let mut y = y.clone();
            y.nulls += x.nulls;
            FeatureStats::Categorical(y)
        }
        (FeatureStats::Categorical(x), FeatureStats::Numeric(y))
            if y.count == 0 && y.infinite == 0 =>
        {
            let mut x = x.clone();
            x.nulls += y.nulls;
            FeatureStats::Categorical(x)
        }
        (x, y) => {
            return Err(ProfileError::Incompatible(format!(
                "feature {:?} is {} in one profile and {} in the other",
                a.name,
                x.type_name(),
                y.type_name()
            )))
        }
    };
    Ok(Feature {
        name: a.name.clone(),
        stats,
    })
}

#[cfg(test)]
mod shards_10k;
#[cfg(test)]
mod tests;
