//! Observing one object's batches against the contract: per value, null test, parse
//! to the contract type, range, allowed values, distinct tracking. Produces a
//! [`PartialResult`]; nothing here decides pass/fail (see `evaluate`).

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::RecordBatch;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};

use super::contract::{ColumnSpec, ColumnType, Contract};
use super::stats::{ColumnStats, ObjectSummary, PartialResult, SchemaColumn};
use super::values::{self, Key};
use crate::dataset::{BatchStream, Format, NullTokens};

const DAY_MICROS: i64 = 86_400_000_000;
const NUM_SALT: u64 = 0x5555_5555_5555_5555;

/// A typed value from a Parquet column.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Ts(i64),
}

impl Cell {
    fn show(self) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Date(d) => values::display(ColumnType::Date, d as f64)
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Cell::Ts(t) => values::display(ColumnType::Timestamp, t as f64)
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// The allowed values of a column. Looked up once per value, so it avoids SipHash:
/// numbers are a sorted list of canonical keys; strings are found by the same stable
/// hash the distinct counter already computes, then compared byte for byte.
#[derive(Debug, Default)]
struct Allowed {
    nums: Vec<u64>,
    strs: Vec<(u64, String)>,
}

impl Allowed {
    fn insert_num(&mut self, n: u64) {
        if let Err(at) = self.nums.binary_search(&n) {
            self.nums.insert(at, n);
        }
    }

    fn insert_str(&mut self, s: String) {
        let h = values::hash_bytes(s.as_bytes());
        let at = self.strs.partition_point(|(k, _)| *k < h);
        if !self.strs[at..]
            .iter()
            .take_while(|(k, _)| *k == h)
            .any(|(_, v)| *v == s)
        {
            self.strs.insert(at, (h, s));
        }
    }

    #[inline]
    fn has_num(&self, n: u64) -> bool {
        if self.nums.len() <= 16 {
            self.nums.contains(&n)
        } else {
            self.nums.binary_search(&n).is_ok()
        }
    }

    /// `h` is `values::hash_bytes(s)`.
    #[inline]
    fn has_str(&self, h: u64, s: &str) -> bool {
        let at = if self.strs.len() <= 16 {
            match self.strs.iter().position(|(k, _)| *k == h) {
                Some(i) => i,
                None => return false,
            }
        } else {
            self.strs.partition_point(|(k, _)| *k < h)
        };
        self.strs[at..]
            .iter()
            .take_while(|(k, _)| *k == h)
            .any(|(_, v)| v == s)
    }
}

/// One contract column being observed.
struct ColumnObserver {
    spec: ColumnSpec,
    lo: f64,
    hi: f64,
    allowed: Option<Allowed>,
    stats: ColumnStats,
}

impl ColumnObserver {
    fn new(contract: &Contract, spec: &ColumnSpec) -> Self {
        let lo = spec
            .min
            .as_ref()
            .and_then(|v| values::bound(spec.ty, v).ok())
            .unwrap_or(f64::NEG_INFINITY);
        let hi = spec
            .max
            .as_ref()
            .and_then(|v| values::bound(spec.ty, v).ok())
            .unwrap_or(f64::INFINITY);
        let allowed = spec.allowed_values.as_ref().map(|vals| {
            let mut a = Allowed::default();
            for v in vals {
                match values::allowed_key(spec.ty, v) {
                    Ok(Key::Num(n)) => a.insert_num(n),
                    Ok(Key::Str(s)) => a.insert_str(s),
                    Err(_) => {} // refused when the contract was checked
                }
            }
            a
        });
        ColumnObserver {
            spec: spec.clone(),
            lo,
            hi,
            allowed,
            stats: ColumnStats::new(contract.cardinality_limit(spec)),
        }
    }

    /// A valid value on the number line (`x`) with its canonical key.
    #[inline]
    fn accept_num(&mut self, ex: &Ex, row: u64, x: f64, canon: u64, show: impl FnOnce() -> String) {
        let ordered = self.spec.ty.is_ordered();
        if ordered {
            self.stats.observe_number(x);
            if x < self.lo || x > self.hi {
                self.stats.out_of_range.add(ex.max, ex.object, row, show);
                self.stats.distinct.insert(values::mix64(canon ^ NUM_SALT));
                return;
            }
        }
        if let Some(a) = &self.allowed {
            if !a.has_num(canon) {
                self.stats.not_allowed.add(ex.max, ex.object, row, show);
            }
        }
        if !self.stats.distinct.overflow {
            self.stats.distinct.insert(values::mix64(canon ^ NUM_SALT));
        }
    }

    #[inline]
    fn accept_str(&mut self, ex: &Ex, row: u64, s: &str) {
        // Past the distinct bound and with no allowed list, the hash is not needed.
        if self.allowed.is_none() && self.stats.distinct.overflow {
            return;
        }
        let h = values::hash_bytes(s.as_bytes());
        if let Some(a) = &self.allowed {
            if !a.has_str(h, s) {
                self.stats
                    .not_allowed
                    .add(ex.max, ex.object, row, || s.to_string());
            }
        }
        self.stats.distinct.insert(h);
    }

    #[inline]
    fn type_error(&mut self, ex: &Ex, row: u64, show: impl FnOnce() -> String) {
        self.stats.type_errors.add(ex.max, ex.object, row, show);
    }

    /// One non-null text value.
    #[inline]
    fn text(&mut self, ex: &Ex, row: u64, s: &str) {
        if ex.nulls.is_null(s) {
            self.stats.nulls += 1;
            return;
        }
        match self.spec.ty {
            ColumnType::String => self.accept_str(ex, row, s),
            ColumnType::Integer => match values::parse_int(s) {
                Some(i) => self.accept_num(ex, row, i as f64, values::int_key(i), || s.to_string()),
                // "3.0" is an integer written by a float-typed writer (pandas with NaN).
                None => match values::parse_float(s).and_then(values::whole) {
                    Some(i) => {
                        self.accept_num(ex, row, i as f64, values::int_key(i), || s.to_string())
                    }
                    None => self.type_error(ex, row, || s.to_string()),
                },
            },
            ColumnType::Float => match values::parse_float(s) {
                Some(x) if x.is_nan() => self.stats.nulls += 1,
                Some(x) => self.accept_num(ex, row, x, values::float_key(x), || s.to_string()),
                None => self.type_error(ex, row, || s.to_string()),
            },
            ColumnType::Boolean => match values::parse_bool(s) {
                Some(b) => self.accept_num(ex, row, b as u8 as f64, b as u64, || s.to_string()),
                None => self.type_error(ex, row, || s.to_string()),
            },
            ColumnType::Date => match values::parse_date(s) {
                Some(d) => self.accept_num(ex, row, d as f64, values::int_key(d as i64), || {
                    s.to_string()
                }),
                None => self.type_error(ex, row, || s.to_string()),
            },
            ColumnType::Timestamp => match values::parse_timestamp(s) {
                Some(t) => self.accept_num(ex, row, t as f64, values::int_key(t), || s.to_string()),
                None => self.type_error(ex, row, || s.to_string()),
            },
        }
    }

    /// One non-null typed value.
    #[inline]
    fn cell(&mut self, ex: &Ex, row: u64, c: Cell) {
        let show = move || c.show();
        match (self.spec.ty, c) {
            (_, Cell::Float(x)) if x.is_nan() => self.stats.nulls += 1,
            (ColumnType::String, _) => {
                let s = c.show();
                self.accept_str(ex, row, &s)
            }
            (ColumnType::Integer, Cell::Int(i)) => {
                self.accept_num(ex, row, i as f64, values::int_key(i), show)
            }
            (ColumnType::Integer, Cell::Float(x)) => match values::whole(x) {
                Some(i) => self.accept_num(ex, row, x, values::int_key(i), show),
                None => self.type_error(ex, row, show),
            },
            (ColumnType::Float, Cell::Int(i)) => {
                self.accept_num(ex, row, i as f64, values::float_key(i as f64), show)
            }
            (ColumnType::Float, Cell::Float(x)) => {
                self.accept_num(ex, row, x, values::float_key(x), show)
            }
            (ColumnType::Boolean, Cell::Bool(b)) => {
                self.accept_num(ex, row, b as u8 as f64, b as u64, show)
            }
            (ColumnType::Boolean, Cell::Int(i)) if i == 0 || i == 1 => {
                self.accept_num(ex, row, i as f64, i as u64, show)
            }
            (ColumnType::Date, Cell::Date(d)) => {
                self.accept_num(ex, row, d as f64, values::int_key(d as i64), show)
            }
            (ColumnType::Date, Cell::Ts(t)) if t % DAY_MICROS == 0 => {
                let d = t / DAY_MICROS;
                self.accept_num(ex, row, d as f64, values::int_key(d), show)
            }
            (ColumnType::Timestamp, Cell::Ts(t)) => {
                self.accept_num(ex, row, t as f64, values::int_key(t), show)
            }
            (ColumnType::Timestamp, Cell::Date(d)) => {
                let t = d as i64 * DAY_MICROS;
                self.accept_num(ex, row, t as f64, values::int_key(t), show)
            }
            _ => self.type_error(ex, row, show),
        }
    }

    /// Observe one column of a batch; `base` is the number of rows before this batch.
    fn observe(&mut self, ex: &Ex, base: u64, arr: &ArrayRef) {
        let n = arr.len();
        self.stats.rows += n as u64;
        let row = |i: usize| base + i as u64 + 1;
        macro_rules! each {
            ($a:expr, |$i:ident, $v:ident| $body:expr) => {{
                let a = $a;
                if a.null_count() == 0 {
                    for $i in 0..n {
                        let $v = a.value($i);
                        $body
                    }
                } else {
                    for $i in 0..n {
                        if a.is_null($i) {
                            self.stats.nulls += 1;
                            continue;
                        }
                        let $v = a.value($i);
                        $body
                    }
                }
            }};
        }
        match arr.data_type() {
            DataType::Utf8 => each!(arr.as_string::<i32>(), |i, s| self.text(ex, row(i), s)),
            DataType::LargeUtf8 => each!(arr.as_string::<i64>(), |i, s| self.text(ex, row(i), s)),
            DataType::Utf8View => each!(arr.as_string_view(), |i, s| self.text(ex, row(i), s)),
            DataType::Null => self.stats.nulls += n as u64,
            DataType::Boolean => each!(arr.as_boolean(), |i, b| self.cell(
                ex,
                row(i),
                Cell::Bool(b)
            )),
            dt if dt.is_integer() => match arrow_cast::cast(arr, &DataType::Int64) {
                Ok(c) => each!(c.as_primitive::<Int64Type>(), |i, v| self.cell(
                    ex,
                    row(i),
                    Cell::Int(v)
                )),
                Err(_) => self.observe_float(ex, base, arr),
            },
            dt if dt.is_numeric() => self.observe_float(ex, base, arr),
            DataType::Date32 | DataType::Date64 => match arrow_cast::cast(arr, &DataType::Date32) {
                Ok(c) => each!(c.as_primitive::<Date32Type>(), |i, d| self.cell(
                    ex,
                    row(i),
                    Cell::Date(d)
                )),
                Err(_) => self.unsupported(ex, base, arr),
            },
            DataType::Timestamp(_, tz) => {
                match arrow_cast::cast(arr, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))
                {
                    Ok(c) => each!(c.as_primitive::<TimestampMicrosecondType>(), |i, t| self
                        .cell(ex, row(i), Cell::Ts(t))),
                    Err(_) => self.unsupported(ex, base, arr),
                }
            }
            DataType::Dictionary(_, value)
                if self.spec.ty == ColumnType::String && value.as_ref() == &DataType::Utf8 =>
            {
                self.observe_dictionary(ex, base, arr)
            }
            _ => match arrow_cast::cast(arr, &DataType::Utf8) {
                // Dictionaries of strings and other text-like types read as text.
                Ok(c) if !arr.data_type().is_nested() => {
                    each!(c.as_string::<i32>(), |i, s| self.text(ex, row(i), s))
                }
                _ => self.unsupported(ex, base, arr),
            },
        }
    }

    /// A dictionary-encoded text column (Parquet, read with `strings_as_dictionary`):
    /// each dictionary value is judged once per batch (null token, allowed, hash), then
    /// each row only looks its key up. The same counts as reading the strings row by row.
    fn observe_dictionary(&mut self, ex: &Ex, base: u64, arr: &ArrayRef) {
        #[derive(Clone, Copy)]
        enum Entry {
            Null,
            Value { hash: u64, allowed: bool },
        }
        let Some(dict) = arr.as_any_dictionary_opt() else {
            return self.unsupported(ex, base, arr);
        };
        let Some(strs) = dict.values().as_string_opt::<i32>() else {
            return self.unsupported(ex, base, arr);
        };
        let entries: Vec<Entry> = (0..strs.len())
            .map(|j| {
                if strs.is_null(j) || ex.nulls.is_null(strs.value(j)) {
                    return Entry::Null;
                }
                let s = strs.value(j);
                let hash = values::hash_bytes(s.as_bytes());
                let allowed = self.allowed.as_ref().is_none_or(|a| a.has_str(hash, s));
                Entry::Value { hash, allowed }
            })
            .collect();
        let mut used = vec![false; entries.len()];
        let keys = dict.normalized_keys();
        let key_nulls = dict.keys().logical_nulls();
        for (i, &k) in keys.iter().enumerate() {
            if key_nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
                self.stats.nulls += 1;
                continue;
            }
            match entries.get(k) {
                Some(Entry::Value { allowed, .. }) => {
                    used[k] = true;
                    if !allowed {
                        let row = base + i as u64 + 1;
                        self.stats
                            .not_allowed
                            .add(ex.max, ex.object, row, || strs.value(k).to_string());
                    }
                }
                _ => self.stats.nulls += 1,
            }
        }
        for (entry, used) in entries.iter().zip(&used) {
            if let (Entry::Value { hash, .. }, true) = (entry, used) {
                self.stats.distinct.insert(*hash);
            }
        }
    }

    fn observe_float(&mut self, ex: &Ex, base: u64, arr: &ArrayRef) {
        match arrow_cast::cast(arr, &DataType::Float64) {
            Ok(c) => {
                let a = c.as_primitive::<Float64Type>();
                for i in 0..a.len() {
                    if a.is_null(i) {
                        self.stats.nulls += 1;
                    } else {
                        self.cell(ex, base + i as u64 + 1, Cell::Float(a.value(i)));
                    }
                }
            }
            Err(_) => self.unsupported(ex, base, arr),
        }
    }

    /// A type we cannot interpret (nested, binary): every non-null value is a type error.
    fn unsupported(&mut self, ex: &Ex, base: u64, arr: &ArrayRef) {
        let dt = arr.data_type().to_string();
        for i in 0..arr.len() {
            if arr.is_null(i) {
                self.stats.nulls += 1;
            } else {
                self.type_error(ex, base + i as u64 + 1, || format!("<{dt} value>"));
            }
        }
    }
}

/// Batches smaller than this are observed on one thread.
const PARALLEL_MIN_ROWS: usize = 4096;

/// The cores this process may use (1 when unknown), read once.
fn parallelism() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Context shared by every value of a batch.
struct Ex<'a> {
    object: &'a str,
    nulls: &'a NullTokens,
    max: usize,
}

/// Observes the batches of one object.
pub struct Observer {
    object: String,
    format: String,
    schema: Vec<SchemaColumn>,
    fingerprint: String,
    nulls: NullTokens,
    max_examples: usize,
    rows: u64,
    columns: Vec<ColumnObserver>,
}

/// `csv`, `csv+gzip`, `parquet`.
pub fn format_name(f: &Format) -> String {
    match f {
        Format::Parquet => "parquet".into(),
        Format::Csv {
            compression: crate::dataset::Compression::None,
            ..
        } => "csv".into(),
        Format::Csv { compression, .. } => format!("csv+{compression}"),
    }
}

impl Observer {
    /// An observer for `stream`'s object under `contract`.
    pub fn new(contract: &Contract, stream: &BatchStream) -> Self {
        let schema = stream
            .file_columns
            .iter()
            .map(|name| SchemaColumn {
                name: name.clone(),
                arrow_type: if stream.is_text() {
                    None
                } else {
                    // A text column read as a dictionary is still text in the file.
                    stream
                        .schema
                        .field_with_name(name)
                        .ok()
                        .map(|f| match f.data_type() {
                            DataType::Dictionary(_, v) => v.to_string(),
                            t => t.to_string(),
                        })
                },
            })
            .collect();
        let columns = contract
            .columns
            .iter()
            .filter(|c| stream.file_columns.contains(&c.name))
            .map(|c| ColumnObserver::new(contract, c))
            .collect();
        Observer {
            object: stream.object.clone(),
            format: format_name(&stream.format),
            schema,
            fingerprint: contract.fingerprint(),
            nulls: contract.null_tokens(),
            max_examples: contract.max_examples(),
            rows: 0,
            columns,
        }
    }

    /// Rows observed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Observe one batch.
    pub fn observe(&mut self, batch: &RecordBatch) {
        let ex = Ex {
            object: &self.object,
            nulls: &self.nulls,
            max: self.max_examples,
        };
        let base = self.rows;
        let work = |cols: &mut [ColumnObserver]| {
            for col in cols {
                if let Some(arr) = batch.column_by_name(&col.spec.name) {
                    col.observe(&ex, base, arr);
                }
            }
        };
        // Columns are independent: with a second core, half of them are observed on a
        // scoped thread. A thread per batch costs tens of microseconds against
        // milliseconds of work for a batch this size; below it, one thread is faster.
        if self.columns.len() > 1 && batch.num_rows() >= PARALLEL_MIN_ROWS && parallelism() > 1 {
            let mid = self.columns.len() / 2;
            let (a, b) = self.columns.split_at_mut(mid);
            std::thread::scope(|scope| {
                scope.spawn(|| work(a));
                work(b);
            });
        } else {
            work(&mut self.columns);
        }
        self.rows += batch.num_rows() as u64;
    }

    /// The mergeable result for this object.
    pub fn finish(self) -> PartialResult {
        let columns: BTreeMap<String, ColumnStats> = self
            .columns
            .into_iter()
            .map(|c| (c.spec.name, c.stats))
            .collect();
        PartialResult {
            version: 1,
            contract_fingerprint: self.fingerprint,
            rows: self.rows,
            objects: vec![ObjectSummary {
                object: self.object,
                format: self.format,
                rows: self.rows,
            }],
            schema: self.schema,
            columns,
        }
    }
}
