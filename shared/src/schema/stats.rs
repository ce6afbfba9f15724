//! Mergeable per-object results.
//!
//! Validating a dataset is "observe each object, merge, evaluate". Everything observed
//! is kept in forms that combine exactly: counts add, minima/maxima combine, distinct
//! values are kept as sets of 64-bit hashes that union (exact below the tracking bound;
//! once a set passes the bound it is dropped and the column is known to have more
//! distinct values than the bound). So one invocation per object (a Distributed Map)
//! followed by a merge gives the same verdict as one invocation over the prefix.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::SchemaError;
use crate::dataset::DataError;

/// A hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | *b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// Distinct non-null values, tracked exactly up to `limit`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distinct {
    pub limit: u64,
    pub overflow: bool,
    hashes: HashSet64,
}

/// How many distinct values: exact, or more than the tracking bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    Exact(u64),
    MoreThan(u64),
}

impl Cardinality {
    /// For messages and JSON: `12` or `">10000"`.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Cardinality::Exact(n) => n.into(),
            Cardinality::MoreThan(n) => format!(">{n}").into(),
        }
    }
}

impl Distinct {
    pub fn new(limit: u64) -> Self {
        Distinct {
            limit,
            overflow: false,
            hashes: HashSet64::default(),
        }
    }

    #[inline]
    pub fn insert(&mut self, h: u64) {
        if self.overflow {
            return;
        }
        self.hashes.insert(h);
        if self.hashes.len() as u64 > self.limit {
            self.set_overflow();
        }
    }

    fn set_overflow(&mut self) {
        self.overflow = true;
        self.hashes = HashSet64::default();
    }

    pub fn count(&self) -> Cardinality {
        if self.overflow {
            Cardinality::MoreThan(self.limit)
        } else {
            Cardinality::Exact(self.hashes.len() as u64)
        }
    }

    /// Union. Exact while the union stays within the (larger) bound.
    pub fn merge(&mut self, other: &Distinct) {
        self.limit = self.limit.max(other.limit);
        if self.overflow || other.overflow {
            self.set_overflow();
            return;
        }
        self.hashes.extend(other.hashes.iter().copied());
        if self.hashes.len() as u64 > self.limit {
            self.set_overflow();
        }
    }
}

/// Serialized compactly: hashes as one hex string (16 characters each), sorted, so
/// the JSON is deterministic and survives JSON number precision limits.
#[derive(Serialize, Deserialize)]
struct DistinctJson {
    limit: u64,
    overflow: bool,
    #[serde(default)]
    hashes: String,
}

impl Serialize for Distinct {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v: Vec<u64> = self.hashes.iter().copied().collect();
        v.sort_unstable();
        let mut hashes = String::with_capacity(v.len() * 16);
        for h in v {
            hashes.push_str(&format!("{h:016x}"));
        }
        DistinctJson {
            limit: self.limit,
            overflow: self.overflow,
            hashes,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Distinct {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = DistinctJson::deserialize(d)?;
        if j.hashes.len() % 16 != 0 || !j.hashes.is_ascii() {
            return Err(serde::de::Error::custom(
                "distinct hashes must be 16 hex digits each",
            ));
        }
        let mut hashes = HashSet64::default();
        for i in (0..j.hashes.len()).step_by(16) {
            let h =
                u64::from_str_radix(&j.hashes[i..i + 16], 16).map_err(serde::de::Error::custom)?;
            hashes.insert(h);
        }
        Ok(Distinct {
            limit: j.limit,
            overflow: j.overflow,
            hashes,
        })
    }
}

/// One offending value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The object it came from.
    pub object: String,
    /// 1-based data row within the object (the header is not a row).
    pub row: u64,
    /// The value as text (cut to 100 characters).
    pub value: String,
}

/// A count of offending values with the first few examples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

impl Counted {
    #[inline]
    pub fn add(
        &mut self,
        max_examples: usize,
        object: &str,
        row: u64,
        value: impl FnOnce() -> String,
    ) {
        self.count += 1;
        if self.examples.len() < max_examples {
            let mut v = value();
            if v.len() > 100 {
                let mut cut = 100;
                while !v.is_char_boundary(cut) {
                    cut -= 1;
                }
                v.truncate(cut);
                v.push('…');
            }
            self.examples.push(Example {
                object: object.to_string(),
                row,
                value: v,
            });
        }
    }

    pub fn merge(&mut self, other: &Counted, max_examples: usize) {
        self.count += other.count;
        for e in &other.examples {
            if self.examples.len() >= max_examples {
                break;
            }
            self.examples.push(e.clone());
        }
    }
}

/// What was observed in one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Rows seen (of the objects that have this column).
    pub rows: u64,
    /// Null values (Arrow nulls, null tokens, NaN).
    pub nulls: u64,
    /// Values that do not parse as the contract type.
    pub type_errors: Counted,
    /// Values outside `[min, max]`.
    pub out_of_range: Counted,
    /// Values outside `allowed_values`.
    pub not_allowed: Counted,
    /// Smallest and largest valid value on the type's number line (ordered types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Distinct non-null values.
    pub distinct: Distinct,
}

impl ColumnStats {
    pub fn new(cardinality_limit: u64) -> Self {
        ColumnStats {
            rows: 0,
            nulls: 0,
            type_errors: Counted::default(),
            out_of_range: Counted::default(),
            not_allowed: Counted::default(),
            min: None,
            max: None,
            distinct: Distinct::new(cardinality_limit),
        }
    }

    #[inline]
    pub fn observe_number(&mut self, x: f64) {
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
    }

    pub fn merge(&mut self, o: &ColumnStats, max_examples: usize) {
        self.rows += o.rows;
        self.nulls += o.nulls;
        self.type_errors.merge(&o.type_errors, max_examples);
        self.out_of_range.merge(&o.out_of_range, max_examples);
        self.not_allowed.merge(&o.not_allowed, max_examples);
        if let Some(m) = o.min {
            self.observe_number(m);
        }
        if let Some(m) = o.max {
            self.observe_number(m);
        }
        self.distinct.merge(&o.distinct);
    }

    /// nulls / rows (0 for no rows).
    pub fn null_ratio(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.nulls as f64 / self.rows as f64
        }
    }
}

/// One object that contributed to a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub object: String,
    /// `csv` or `parquet` (with compression for CSV, e.g. `csv+gzip`).
    pub format: String,
    pub rows: u64,
}

/// A file column as seen in the data: its name and, for typed formats, its Arrow type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaColumn {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrow_type: Option<String>,
}

/// Everything observed in one or more objects, mergeable (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialResult {
    /// Format of this document (1).
    pub version: u32,
    /// [`super::Contract::fingerprint`] of the contract the observation used.
    pub contract_fingerprint: String,
    pub rows: u64,
    pub objects: Vec<ObjectSummary>,
    /// The first object's columns; every merged object must agree.
    pub schema: Vec<SchemaColumn>,
    /// Stats of the contract's columns present in the data.
    pub columns: BTreeMap<String, ColumnStats>,
}

impl PartialResult {
    /// Merge `other` into `self`: schemas must agree, contracts must match.
    pub fn merge(&mut self, other: PartialResult, max_examples: usize) -> Result<(), SchemaError> {
        if other.contract_fingerprint != self.contract_fingerprint {
            return Err(SchemaError::InvalidContract(format!(
                "cannot merge results made under different contracts ({} vs {}; objects {} and {})",
                self.contract_fingerprint,
                other.contract_fingerprint,
                self.first_object(),
                other.first_object()
            )));
        }
        if self.objects.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.objects.is_empty() {
            return Ok(());
        }
        check_schema(
            &self.first_object(),
            &self.schema,
            &other.first_object(),
            &other.schema,
        )?;
        self.rows += other.rows;
        self.objects.extend(other.objects);
        for (name, stats) in other.columns {
            match self.columns.get_mut(&name) {
                Some(mine) => mine.merge(&stats, max_examples),
                None => {
                    self.columns.insert(name, stats);
                }
            }
        }
        Ok(())
    }

    /// Merge every part, in the order of the objects they cover (by object URI), which is
    /// the order one pass over the same prefix reads them in: counts, bounds and distinct
    /// sets do not depend on the order, but the examples are the first `max_examples` in
    /// merge order. The parts' own order is not the objects': a Distributed Map child
    /// writes `part-<item index>.json`, unpadded, so past ten objects the listing has
    /// `part-10` before `part-2`, and the merged examples were not the single pass's.
    /// `None` for no parts.
    pub fn merge_in_object_order(
        mut parts: Vec<PartialResult>,
        max_examples: usize,
    ) -> Result<Option<PartialResult>, SchemaError> {
        parts.sort_by_cached_key(PartialResult::first_object);
        let mut iter = parts.into_iter();
        let Some(mut merged) = iter.next() else {
            return Ok(None);
        };
        for p in iter {
            merged.merge(p, max_examples)?;
        }
        Ok(Some(merged))
    }

    fn first_object(&self) -> String {
        self.objects
            .first()
            .map(|o| o.object.clone())
            .unwrap_or_default()
    }
}

/// Column names must match as sets; Arrow types must match where both are typed.
pub fn check_schema(
    first: &str,
    a: &[SchemaColumn],
    other: &str,
    b: &[SchemaColumn],
) -> Result<(), DataError> {
    let sig = |s: &[SchemaColumn]| -> Vec<(String, Option<arrow_schema::DataType>)> {
        s.iter().map(|c| (c.name.clone(), None)).collect()
    };
    crate::dataset::check_agreement(first, &sig(a), other, &sig(b))?;
    for ca in a {
        if let Some(cb) = b.iter().find(|c| c.name == ca.name) {
            if let (Some(ta), Some(tb)) = (&ca.arrow_type, &cb.arrow_type) {
                if ta != tb {
                    return Err(DataError::SchemaMismatch {
                        first: first.to_string(),
                        other: other.to_string(),
                        detail: format!(
                            "column {:?} is {ta} in {first} but {tb} in {other}",
                            ca.name
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn distinct_of(values: &[u64], limit: u64) -> Distinct {
        let mut d = Distinct::new(limit);
        for v in values {
            d.insert(super::super::values::mix64(*v));
        }
        d
    }

    proptest! {
        /// Merging per-part sets gives the same answer as one pass over all values,
        /// exact below the bound and "more than" above it.
        #[test]
        fn distinct_merge_equals_single_pass(
            parts in proptest::collection::vec(proptest::collection::vec(0u64..200, 0..60), 1..6),
            limit in 1u64..150,
        ) {
            let all: Vec<u64> = parts.iter().flatten().copied().collect();
            let single = distinct_of(&all, limit);
            let mut merged = Distinct::new(limit);
            for p in &parts {
                merged.merge(&distinct_of(p, limit));
            }
            prop_assert_eq!(merged.count(), single.count());
            let truth = all.iter().collect::<std::collections::HashSet<_>>().len() as u64;
            if truth <= limit {
                prop_assert_eq!(single.count(), Cardinality::Exact(truth));
            } else {
                prop_assert_eq!(single.count(), Cardinality::MoreThan(limit));
            }
        }

        /// Null ratios, row counts and extremes combine exactly.
        #[test]
        fn column_stats_merge_is_exact(
            parts in proptest::collection::vec(proptest::collection::vec(proptest::option::of(-1000i64..1000), 0..40), 1..5),
        ) {
            let observe = |vals: &[Option<i64>]| {
                let mut s = ColumnStats::new(10_000);
                for v in vals {
                    s.rows += 1;
                    match v {
                        None => s.nulls += 1,
                        Some(x) => { s.observe_number(*x as f64); s.distinct.insert(super::super::values::mix64(*x as u64)); }
                    }
                }
                s
            };
            let all: Vec<Option<i64>> = parts.iter().flatten().copied().collect();
            let single = observe(&all);
            let mut merged = ColumnStats::new(10_000);
            for p in &parts {
                merged.merge(&observe(p), 5);
            }
            prop_assert_eq!(merged.rows, single.rows);
            prop_assert_eq!(merged.nulls, single.nulls);
            prop_assert_eq!(merged.min, single.min);
            prop_assert_eq!(merged.max, single.max);
            prop_assert_eq!(merged.distinct.count(), single.distinct.count());
            prop_assert!((merged.null_ratio() - single.null_ratio()).abs() < 1e-12);
        }
    }

    #[test]
    fn distinct_json_round_trip() {
        let d = distinct_of(&[1, 2, 3, 1], 10);
        let j = serde_json::to_string(&d).unwrap();
        let back: Distinct = serde_json::from_str(&j).unwrap();
        assert_eq!(back.count(), Cardinality::Exact(3));
        assert_eq!(back, d);
        assert!(
            serde_json::from_str::<Distinct>(r#"{"limit":1,"overflow":false,"hashes":"abc"}"#)
                .is_err()
        );
    }

    #[test]
    fn examples_are_capped_and_cut() {
        let mut c = Counted::default();
        for i in 0..10 {
            c.add(3, "o", i, || "é".repeat(80));
        }
        assert_eq!(c.count, 10);
        assert_eq!(c.examples.len(), 3);
        assert!(c.examples[0].value.len() <= 104);
    }
}
