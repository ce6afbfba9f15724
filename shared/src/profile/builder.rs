//! Building a [`Profile`] from Arrow record batches, one pass, bounded memory.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::Array;
use arrow_array::RecordBatch;
use arrow_cast::cast;
use arrow_schema::DataType;

use super::reservoir::ReservoirBuilder;
use super::{
    distinct_sorted, feature_seed, hash_str, sample_fingerprint, sample_quantiles, Against,
    CategoricalProfile, Feature, FeatureStats, NumericProfile, Profile, ProfileError,
    ProfileOptions, FORMAT_VERSION, KIND, MAX_CATEGORY_BYTES,
};

/// Distinct categories tracked while building, as a multiple of `max_categories`, before
/// new ones go straight to `other`: the final top-`max_categories` are exact as long as a
/// column has fewer distinct values than this, and memory stays bounded for ID-like columns.
const TRACKED_FACTOR: usize = 10;

/// Text values that mean "missing" (the dataset reader's default null tokens: what pandas
/// users expect). CSV columns arrive as text, so this decides nulls there.
pub const NULL_TOKENS: &[&str] = &["", "NA", "N/A", "NaN", "null", "NULL", "None"];

fn is_null_token(s: &str) -> bool {
    s.len() <= 4 && NULL_TOKENS.contains(&s)
}

/// How a column is summarised.
fn column_kind(dt: &DataType) -> Option<Kind> {
    use DataType::*;
    match dt {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float16 | Float32
        | Float64 | Decimal128(..) | Decimal256(..) | Null => Some(Kind::Numeric),
        Boolean => Some(Kind::Categorical),
        // Text (every CSV column): numbers if every non-null value parses, else categories.
        Utf8 | LargeUtf8 | Utf8View => Some(Kind::Text),
        Dictionary(_, v) if matches!(v.as_ref(), Utf8 | LargeUtf8 | Utf8View) => {
            Some(Kind::Categorical)
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Numeric,
    Categorical,
    Text,
}

/// Decide a text column's kind from one batch: None when it holds no value at all yet.
fn text_kind(arr: &arrow_array::StringArray) -> Option<Kind> {
    let mut any = false;
    for s in arr.iter().flatten() {
        if is_null_token(s) {
            continue;
        }
        any = true;
        if s.trim().parse::<f64>().is_err() {
            return Some(Kind::Categorical);
        }
    }
    any.then_some(Kind::Numeric)
}

struct AgainstBuilder {
    fingerprint: String,
    values: Vec<f64>,
    equal: Vec<u64>,
    between: Vec<u64>,
}

struct NumCol {
    count: u64,
    nulls: u64,
    infinite: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
    reservoir: ReservoirBuilder,
    scratch: Vec<f64>,
    against: Option<AgainstBuilder>,
    /// True once a typed (non-Null) batch was seen.
    typed: bool,
}

struct CatCol {
    count: u64,
    nulls: u64,
    counts: HashMap<String, u64>,
    other: u64,
}

enum Col {
    Num(Box<NumCol>),
    Cat(CatCol),
}

/// Streams record batches into a [`Profile`].
pub struct ProfileBuilder {
    options: ProfileOptions,
    seed: u64,
    source: String,
    rows: u64,
    cols: Vec<(String, Col)>,
    index: HashMap<String, usize>,
    baseline: Option<HashMap<String, (String, Vec<f64>)>>,
    /// Feature types known from the baseline (decide text columns the same way).
    type_hints: HashMap<String, Kind>,
    skipped: Vec<(String, String)>,
}

impl ProfileBuilder {
    /// A builder for data from `source` (a file or URI; it seeds the sampling, so profiles
    /// of different shards draw independent samples and the same input gives the same
    /// profile).
    pub fn new(options: ProfileOptions, source: &str) -> Result<Self, ProfileError> {
        options.validate()?;
        Ok(ProfileBuilder {
            options,
            seed: hash_str(source),
            source: source.to_string(),
            rows: 0,
            cols: Vec::new(),
            index: HashMap::new(),
            baseline: None,
            type_hints: HashMap::new(),
            skipped: Vec::new(),
        })
    }

    /// Also count, per numeric feature, the values on and between `baseline`'s sample
    /// values, so a KS test can compare the baseline sample with all of this data.
    pub fn against(mut self, baseline: &Profile) -> Self {
        let mut map = HashMap::new();
        for f in &baseline.features {
            let kind = if matches!(f.stats, FeatureStats::Numeric(_)) {
                Kind::Numeric
            } else {
                Kind::Categorical
            };
            self.type_hints.insert(f.name.clone(), kind);
            if let FeatureStats::Numeric(n) = &f.stats {
                if !n.sample.is_empty() {
                    let (vals, _) = distinct_sorted(&n.sample);
                    map.insert(
                        f.name.clone(),
                        (sample_fingerprint(&f.name, &n.sample), vals),
                    );
                }
            }
        }
        self.baseline = Some(map);
        self
    }

    /// Columns skipped because their type is neither numeric nor categorical (name, type).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn new_col(&self, name: &str, kind: Kind) -> Col {
        match kind {
            Kind::Numeric | Kind::Text => {
                let against = self
                    .baseline
                    .as_ref()
                    .and_then(|m| m.get(name))
                    .map(|(fp, vals)| AgainstBuilder {
                        fingerprint: fp.clone(),
                        equal: vec![0; vals.len()],
                        between: vec![0; vals.len() + 1],
                        values: vals.clone(),
                    });
                Col::Num(Box::new(NumCol {
                    count: 0,
                    nulls: self.rows,
                    infinite: 0,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                    mean: 0.0,
                    m2: 0.0,
                    reservoir: ReservoirBuilder::new(
                        self.options.sample_size,
                        feature_seed(self.seed, name),
                    ),
                    scratch: Vec::new(),
                    against,
                    typed: false,
                }))
            }
            Kind::Categorical => Col::Cat(CatCol {
                count: 0,
                nulls: self.rows,
                counts: HashMap::new(),
                other: 0,
            }),
        }
    }

    /// Add one record batch.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), ProfileError> {
        let schema = batch.schema();
        let n = batch.num_rows() as u64;
        let mut present = vec![false; self.cols.len()];
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            let Some(declared) = column_kind(field.data_type()) else {
                if !self.skipped.iter().any(|(s, _)| s == name) {
                    self.skipped
                        .push((name.clone(), field.data_type().to_string()));
                }
                continue;
            };
            let array = batch.column(i);
            // Text columns are normalised to Utf8 once; their kind comes from what is
            // already known (earlier batches, the baseline), else from the values.
            let text = if declared == Kind::Text {
                Some(
                    cast(array, &DataType::Utf8)
                        .map_err(|e| ProfileError::TypeConflict(name.clone(), e.to_string()))?,
                )
            } else {
                None
            };
            let known = self.index.get(name).map(|&idx| match &self.cols[idx].1 {
                Col::Num(c) if c.typed || c.count > 0 || c.infinite > 0 => Some(Kind::Numeric),
                Col::Num(_) => None,
                Col::Cat(_) => Some(Kind::Categorical),
            });
            let hinted = self.type_hints.get(name).copied();
            // Some(kind) to summarise as; None: a column with no values and no type yet.
            let kind = match declared {
                Kind::Text => {
                    let arr = text.as_ref().map(|a| a.as_string::<i32>());
                    known
                        .flatten()
                        .or(hinted)
                        .or_else(|| arr.and_then(text_kind))
                }
                Kind::Numeric if matches!(field.data_type(), DataType::Null) => None,
                k => Some(k),
            };
            let idx = match self.index.get(name) {
                Some(&idx) => idx,
                None => {
                    let col = self.new_col(name, kind.unwrap_or(Kind::Numeric));
                    self.cols.push((name.clone(), col));
                    present.push(false);
                    self.index.insert(name.clone(), self.cols.len() - 1);
                    self.cols.len() - 1
                }
            };
            present[idx] = true;
            let max_tracked = self.options.max_categories * TRACKED_FACTOR;
            // A column first seen without values (Null type, all-null text) may turn out
            // categorical later.
            if let (Col::Num(c), Some(Kind::Categorical)) = (&self.cols[idx].1, kind) {
                if !c.typed && c.count == 0 && c.infinite == 0 {
                    let nulls = c.nulls;
                    self.cols[idx].1 = Col::Cat(CatCol {
                        count: 0,
                        nulls,
                        counts: HashMap::new(),
                        other: 0,
                    });
                }
            }
            let col = &mut self.cols[idx].1;
            match (col, kind) {
                (Col::Num(c), None) => c.nulls += n,
                (Col::Cat(c), None) => c.nulls += n,
                (Col::Num(c), Some(Kind::Numeric)) => {
                    c.typed = true;
                    match &text {
                        Some(t) => push_numeric_text(c, t.as_string::<i32>(), name)?,
                        None => push_numeric(c, array.as_ref(), name)?,
                    }
                }
                (Col::Cat(c), Some(Kind::Categorical)) => {
                    let casted = match text {
                        Some(t) => t,
                        None => cast(array, &DataType::Utf8).map_err(|e| {
                            ProfileError::TypeConflict(
                                name.clone(),
                                format!("cannot read as text: {e}"),
                            )
                        })?,
                    };
                    push_categorical(
                        c,
                        casted.as_string::<i32>(),
                        max_tracked,
                        declared == Kind::Text,
                    )
                }
                (Col::Cat(_), Some(_)) => {
                    return Err(ProfileError::TypeConflict(
                        name.clone(),
                        format!("text earlier, {} now", field.data_type()),
                    ))
                }
                (Col::Num(_), Some(_)) => {
                    return Err(ProfileError::TypeConflict(
                        name.clone(),
                        format!("numbers earlier, {} now", field.data_type()),
                    ))
                }
            }
        }
        for (idx, seen) in present.iter().enumerate() {
            if !seen {
                match &mut self.cols[idx].1 {
                    Col::Num(c) => c.nulls += n,
                    Col::Cat(c) => c.nulls += n,
                }
            }
        }
        self.rows += n;
        Ok(())
    }

    /// The profile of everything pushed.
    pub fn finish(self) -> Profile {
        let max_categories = self.options.max_categories;
        let features = self
            .cols
            .into_iter()
            .map(|(name, col)| {
                let stats = match col {
                    Col::Num(c) => FeatureStats::Numeric(finish_numeric(*c)),
                    Col::Cat(c) => {
                        let mut p = CategoricalProfile {
                            count: c.count,
                            nulls: c.nulls,
                            categories: c.counts.into_iter().collect(),
                            other: c.other,
                        };
                        p.trim(max_categories);
                        FeatureStats::Categorical(p)
                    }
                };
                Feature { name, stats }
            })
            .collect();
        Profile {
            version: FORMAT_VERSION,
            kind: KIND.to_string(),
            created_at: Some(chrono::Utc::now().to_rfc3339()),
            rows: self.rows,
            sources: vec![self.source],
            sources_total: 1,
            options: self.options,
            seed: self.seed,
            features,
        }
    }
}

fn finish_numeric(c: NumCol) -> NumericProfile {
    let (sample, _) = c.reservoir.finish();
    let has = c.count > 0;
    NumericProfile {
        count: c.count,
        nulls: c.nulls,
        infinite: c.infinite,
        min: has.then_some(c.min),
        max: has.then_some(c.max),
        mean: has.then_some(c.mean),
        std: has.then(|| (c.m2 / c.count as f64).max(0.0).sqrt()),
        m2: c.m2,
        quantiles: sample_quantiles(&sample),
        sample,
        against: c.against.map(|a| Against {
            baseline_sample: a.fingerprint,
            equal: a.equal,
            between: a.between,
        }),
    }
}

/// A numeric column that arrived as text (CSV): null tokens are nulls, anything else
/// must parse as a number.
fn push_numeric_text(
    c: &mut NumCol,
    arr: &arrow_array::StringArray,
    name: &str,
) -> Result<(), ProfileError> {
    c.scratch.clear();
    let (mut nulls, mut inf) = (0u64, 0u64);
    for v in arr.iter() {
        match v {
            None => nulls += 1,
            Some(s) if is_null_token(s) => nulls += 1,
            Some(s) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => c.scratch.push(x),
                Ok(x) if x.is_nan() => nulls += 1,
                Ok(_) => inf += 1,
                Err(_) => {
                    return Err(ProfileError::TypeConflict(
                        name.to_string(),
                        format!(
                            "numbers earlier, text {:?} now",
                            cut(s).chars().take(40).collect::<String>()
                        ),
                    ))
                }
            },
        }
    }
    c.nulls += nulls;
    c.infinite += inf;
    accumulate(c);
    Ok(())
}

fn push_numeric(c: &mut NumCol, array: &dyn Array, name: &str) -> Result<(), ProfileError> {
    let casted;
    let arr = if array.data_type() == &DataType::Float64 {
        array.as_primitive::<Float64Type>()
    } else {
        casted = cast(array, &DataType::Float64).map_err(|e| {
            ProfileError::TypeConflict(name.to_string(), format!("cannot read as numbers: {e}"))
        })?;
        casted.as_primitive::<Float64Type>()
    };
    c.scratch.clear();
    let mut missing = 0u64;
    let mut inf = 0u64;
    let mut nan = 0u64;
    let mut classify = |v: f64, scratch: &mut Vec<f64>| {
        if v.is_finite() {
            scratch.push(v);
        } else if v.is_nan() {
            nan += 1;
        } else {
            inf += 1;
        }
    };
    if arr.null_count() == 0 {
        for &v in arr.values().iter() {
            classify(v, &mut c.scratch);
        }
    } else {
        for v in arr.iter() {
            match v {
                Some(v) => classify(v, &mut c.scratch),
                None => missing += 1,
            }
        }
    }
    let nulls = missing + nan;
    c.nulls += nulls;
    c.infinite += inf;
    accumulate(c);
    Ok(())
}

/// Fold the finite values in `c.scratch` into the column's statistics.
fn accumulate(c: &mut NumCol) {
    let xs = &c.scratch;
    if xs.is_empty() {
        return;
    }
    // Two-pass moments of the batch, then Chan's pairwise combination with the running
    // totals: stable, and the same update merge() uses.
    let nb = xs.len() as f64;
    let (mut lo, mut hi, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for &v in xs {
        lo = lo.min(v);
        hi = hi.max(v);
        sum += v;
    }
    let mb = sum / nb;
    let m2b: f64 = xs.iter().map(|&v| (v - mb) * (v - mb)).sum();
    if c.count == 0 {
        c.mean = mb;
        c.m2 = m2b;
    } else {
        let na = c.count as f64;
        let delta = mb - c.mean;
        let n = na + nb;
        c.mean += delta * nb / n;
        c.m2 += m2b + delta * delta * na * nb / n;
    }
    c.min = c.min.min(lo);
    c.max = c.max.max(hi);
    c.count += xs.len() as u64;
    c.reservoir.extend(xs);
    if let Some(a) = &mut c.against {
        let vals = &a.values;
        for &v in xs {
            let i = vals.partition_point(|&u| u < v);
            if i < vals.len() && vals[i] == v {
                a.equal[i] += 1;
            } else {
                a.between[i] += 1;
            }
        }
    }
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_CATEGORY_BYTES {
        return s;
    }
    let mut end = MAX_CATEGORY_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn push_categorical(
    c: &mut CatCol,
    arr: &arrow_array::StringArray,
    max_tracked: usize,
    tokens: bool,
) {
    for v in arr.iter() {
        match v {
            None => c.nulls += 1,
            Some(s) if tokens && is_null_token(s) => c.nulls += 1,
            Some(s) => {
                c.count += 1;
                let key = cut(s);
                if let Some(slot) = c.counts.get_mut(key) {
                    *slot += 1;
                } else if c.counts.len() < max_tracked {
                    c.counts.insert(key.to_string(), 1);
                } else {
                    c.other += 1;
                }
            }
        }
    }
}
