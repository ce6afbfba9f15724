//! Contract inference: read a sample and write a starting contract a person then
//! tightens.
//!
//! Rules (documented in docs/schema-validator.md, CLI):
//! - **type**: typed (Parquet) columns map from their Arrow type; text columns get the
//!   narrowest type every non-null value parses as, in the order integer, float,
//!   boolean, date, timestamp, else string. A column with no non-null value is string.
//! - **max_null_ratio**: observed ratio plus slack (`max(ratio * slack, 0.01)`), capped
//!   at 1, rounded up to 3 decimals.
//! - **min/max** (integer and float only): observed range widened by `slack` times the
//!   span on both sides (at least 1 when the span is 0); a range that was non-negative
//!   stays non-negative. Dates and timestamps get no range (time moves on).
//! - **allowed_values**: string columns with at most `max_allowed_values` distinct
//!   values, each seen on average at least twice (categoricals).
//! - **max_cardinality**: other string columns that repeat values (not IDs) and whose
//!   distinct count is known exactly: `ceil(distinct * (1 + slack)) + 1`.
//! - every observed column is required; `extra_columns: "warning"`; `row_count.min: 1`.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde_json::Value;

use super::contract::{ColumnSpec, ColumnType, Contract, ExtraColumns, RowCount, CONTRACT_VERSION};
use super::stats::{Cardinality, Distinct};
use super::values;
use super::SchemaError;
use crate::dataset::{f64_values, string_values, CsvOptions, DataReader, NullTokens};
use crate::lambda::Deadline;
use crate::storage::Location;

/// Inference knobs.
#[derive(Debug, Clone)]
pub struct InferOptions {
    /// Relative slack on ranges, null ratios and cardinalities (default 0.1).
    pub slack: f64,
    /// Most distinct values for a string column to get `allowed_values` (default 20).
    pub max_allowed_values: usize,
    /// Stop after this many rows (default: read everything).
    pub max_rows: Option<u64>,
    /// Null tokens used while reading the sample.
    pub null_tokens: NullTokens,
    /// CSV dialect of the sample.
    pub csv: CsvOptions,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            slack: 0.1,
            max_allowed_values: 20,
            max_rows: None,
            null_tokens: NullTokens::default(),
            csv: CsvOptions::default(),
        }
    }
}

#[derive(Debug)]
struct ColInfer {
    arrow: Option<DataType>,
    rows: u64,
    nulls: u64,
    nonnull: u64,
    int_ok: u64,
    float_ok: u64,
    bool_ok: u64,
    date_ok: u64,
    ts_ok: u64,
    num_min: f64,
    num_max: f64,
    all_whole: bool,
    values: BTreeMap<String, u64>,
    values_overflow: bool,
    distinct: Distinct,
}

impl ColInfer {
    fn new(arrow: Option<DataType>) -> Self {
        ColInfer {
            arrow,
            rows: 0,
            nulls: 0,
            nonnull: 0,
            int_ok: 0,
            float_ok: 0,
            bool_ok: 0,
            date_ok: 0,
            ts_ok: 0,
            num_min: f64::INFINITY,
            num_max: f64::NEG_INFINITY,
            all_whole: true,
            values: BTreeMap::new(),
            values_overflow: false,
            distinct: Distinct::new(super::contract::DEFAULT_CARDINALITY_LIMIT),
        }
    }

    fn number(&mut self, x: f64) {
        self.num_min = self.num_min.min(x);
        self.num_max = self.num_max.max(x);
        if x.fract() != 0.0 {
            self.all_whole = false;
        }
    }

    fn value(&mut self, s: &str, limit: usize) {
        self.distinct.insert(values::hash_bytes(s.as_bytes()));
        if !self.values_overflow {
            if let Some(n) = self.values.get_mut(s) {
                *n += 1;
            } else if self.values.len() < limit && s.len() <= 100 {
                self.values.insert(s.to_string(), 1);
            } else {
                self.values_overflow = true;
            }
        }
    }

    fn text(&mut self, s: &str, nulls: &NullTokens, limit: usize) {
        if nulls.is_null(s) {
            self.nulls += 1;
            return;
        }
        self.nonnull += 1;
        if let Some(i) = values::parse_int(s) {
            self.int_ok += 1;
            self.float_ok += 1;
            self.number(i as f64);
        } else if let Some(x) = values::parse_float(s) {
            self.float_ok += 1;
            if x.is_finite() {
                self.number(x);
            }
        }
        if values::parse_bool(s).is_some() {
            self.bool_ok += 1;
        }
        if values::parse_date(s).is_some() {
            self.date_ok += 1;
        }
        if values::parse_timestamp(s).is_some() {
            self.ts_ok += 1;
        }
        self.value(s, limit);
    }

    fn observe(&mut self, arr: &ArrayRef, nulls: &NullTokens, limit: usize) {
        self.rows += arr.len() as u64;
        match arr.data_type() {
            DataType::Utf8 => {
                let a = arr.as_string::<i32>();
                for i in 0..a.len() {
                    if a.is_null(i) {
                        self.nulls += 1;
                    } else {
                        self.text(a.value(i), nulls, limit);
                    }
                }
            }
            dt if dt.is_numeric() => {
                let texts = string_values(arr);
                for (v, t) in f64_values(arr, nulls).into_iter().zip(texts) {
                    match (v, t) {
                        (Some(x), Some(t)) => {
                            self.nonnull += 1;
                            self.number(x);
                            self.value(&t, limit);
                        }
                        _ => self.nulls += 1,
                    }
                }
            }
            _ => {
                for v in string_values(arr) {
                    match v {
                        Some(s) if !nulls.is_null(&s) => {
                            self.nonnull += 1;
                            self.value(&s, limit);
                        }
                        _ => self.nulls += 1,
                    }
                }
            }
        }
    }

    fn column_type(&self) -> ColumnType {
        if let Some(dt) = &self.arrow {
            match dt {
                d if d.is_integer() => return ColumnType::Integer,
                d if d.is_numeric() => return ColumnType::Float,
                DataType::Boolean => return ColumnType::Boolean,
                DataType::Date32 | DataType::Date64 => return ColumnType::Date,
                DataType::Timestamp(_, _) => return ColumnType::Timestamp,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {}
                _ => return ColumnType::String,
            }
        }
        let k = self.nonnull;
        if k == 0 {
            ColumnType::String
        } else if self.int_ok == k {
            ColumnType::Integer
        } else if self.float_ok == k {
            ColumnType::Float
        } else if self.bool_ok == k {
            ColumnType::Boolean
        } else if self.date_ok == k {
            ColumnType::Date
        } else if self.ts_ok == k {
            ColumnType::Timestamp
        } else {
            ColumnType::String
        }
    }

    fn spec(&self, name: &str, o: &InferOptions) -> ColumnSpec {
        let ty = self.column_type();
        let mut c = ColumnSpec::new(name, ty);
        let ratio = if self.rows == 0 {
            0.0
        } else {
            self.nulls as f64 / self.rows as f64
        };
        c.max_null_ratio =
            Some((((ratio + (ratio * o.slack).max(0.01)).min(1.0)) * 1000.0).ceil() / 1000.0);
        if matches!(ty, ColumnType::Integer | ColumnType::Float) && self.num_min <= self.num_max {
            let span = self.num_max - self.num_min;
            let pad = if span > 0.0 {
                span * o.slack
            } else {
                (self.num_max.abs() * o.slack).max(1.0)
            };
            let mut lo = self.num_min - pad;
            let hi = self.num_max + pad;
            if self.num_min >= 0.0 && lo < 0.0 {
                lo = 0.0;
            }
            let (lo, hi) = if ty == ColumnType::Integer {
                (
                    Value::from(lo.floor() as i64),
                    Value::from(hi.ceil() as i64),
                )
            } else {
                let r = |x: f64, up: bool| {
                    let s = if up {
                        (x * 1e4).ceil()
                    } else {
                        (x * 1e4).floor()
                    } / 1e4;
                    serde_json::Number::from_f64(s)
                        .map(Value::Number)
                        .unwrap_or(Value::Null)
                };
                (r(lo, false), r(hi, true))
            };
            c.min = Some(lo);
            c.max = Some(hi);
        }
        if ty == ColumnType::String && self.nonnull > 0 {
            let d = self.values.len() as u64;
            if !self.values_overflow && d <= o.max_allowed_values as u64 && self.nonnull >= 2 * d {
                c.allowed_values =
                    Some(self.values.keys().map(|k| Value::from(k.clone())).collect());
            } else if let Cardinality::Exact(n) = self.distinct.count() {
                if n < self.nonnull {
                    c.max_cardinality = Some((n as f64 * (1.0 + o.slack)).ceil() as u64 + 1);
                }
            }
        }
        c
    }
}

/// Read a sample location and infer a starting contract.
pub async fn infer_contract(
    reader: &DataReader,
    location: &Location,
    o: &InferOptions,
    deadline: &Deadline,
) -> Result<Contract, SchemaError> {
    let mut data = reader.open(location).await?;
    let schema = data.schema();
    let mut order: Vec<String> = Vec::new();
    let mut cols: BTreeMap<String, ColInfer> = BTreeMap::new();
    if let (Some(schema), Some(cur)) = (schema, data.current_object()) {
        for f in schema.fields() {
            let arrow = if cur.is_text() {
                None
            } else {
                Some(f.data_type().clone())
            };
            order.push(f.name().clone());
            cols.insert(f.name().clone(), ColInfer::new(arrow));
        }
    }
    let limit = o.max_allowed_values + 1;
    let mut rows = 0u64;
    while let Some(batch) = data.next_batch().await {
        let batch = batch?;
        for (i, f) in batch.schema().fields().iter().enumerate() {
            if let Some(c) = cols.get_mut(f.name()) {
                c.observe(batch.column(i), &o.null_tokens, limit);
            }
        }
        rows += batch.num_rows() as u64;
        if o.max_rows.is_some_and(|m| rows >= m) || deadline.expired() {
            break;
        }
    }
    let columns = order
        .iter()
        .filter_map(|n| cols.get(n).map(|c| c.spec(n, o)))
        .collect();
    let contract = Contract {
        json_schema: None,
        version: CONTRACT_VERSION,
        name: Some(format!("inferred from {location}")),
        description: Some(format!(
            "Inferred by trainguard infer-contract from {rows} rows (slack {}). Review before use.",
            o.slack
        )),
        columns,
        extra_columns: ExtraColumns::Warning,
        row_count: Some(RowCount {
            min: Some(1),
            max: None,
            severity: Default::default(),
        }),
        null_tokens: (o.null_tokens != NullTokens::default())
            .then(|| o.null_tokens.tokens().to_vec()),
        csv: o.csv.clone(),
        cardinality_limit: None,
        max_examples: None,
    };
    contract.check()?;
    Ok(contract)
}
