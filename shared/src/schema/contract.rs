//! The data contract: what a dataset must look like. JSON, versioned (`"version": 1`),
//! with a JSON Schema for editors in `schemas/contract.schema.json`.
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "churn-features",
//!   "columns": [
//!     {"name": "customer_id", "type": "string", "max_null_ratio": 0},
//!     {"name": "age", "type": "integer", "min": 18, "max": 110, "max_null_ratio": 0.02},
//!     {"name": "plan", "type": "string", "allowed_values": ["basic", "plus", "pro"],
//!      "severity": {"allowed_values": "warning"}},
//!     {"name": "country", "type": "string", "max_cardinality": 250},
//!     {"name": "signup_date", "type": "date", "min": "2015-01-01"},
//!     {"name": "referrer", "type": "string", "required": false}
//!   ],
//!   "extra_columns": "warning",
//!   "row_count": {"min": 1000},
//!   "null_tokens": ["", "NA", "N/A", "NaN", "null", "NULL", "None"]
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SchemaError;
use crate::dataset::{CsvOptions, NullTokens};

/// The only contract version this build reads.
pub const CONTRACT_VERSION: u32 = 1;
/// Default bound on distinct values tracked per column.
pub const DEFAULT_CARDINALITY_LIMIT: u64 = 10_000;
/// Hard cap on the tracking bound (memory: about 16 bytes per tracked value).
pub const MAX_CARDINALITY_LIMIT: u64 = 1_000_000;
/// Default number of example values kept per violation.
pub const DEFAULT_MAX_EXAMPLES: usize = 5;

pub use super::values::ColumnType;

/// How bad a failed check is: an `error` fails the verdict, a `warning` is reported only.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

/// The checks, as named in violations and in per-column `severity` maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A required column is missing.
    Required,
    /// Values that do not parse as the column's type.
    Type,
    /// Share of nulls above `max_null_ratio`.
    NullRatio,
    /// Values outside `[min, max]`.
    Range,
    /// Values outside `allowed_values`.
    AllowedValues,
    /// Distinct values outside `[min_cardinality, max_cardinality]`.
    Cardinality,
    /// A column not in the contract (policy `extra_columns`).
    ExtraColumn,
    /// Total rows outside `row_count`.
    RowCount,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Required => "required",
            Check::Type => "type",
            Check::NullRatio => "null_ratio",
            Check::Range => "range",
            Check::AllowedValues => "allowed_values",
            Check::Cardinality => "cardinality",
            Check::ExtraColumn => "extra_column",
            Check::RowCount => "row_count",
        }
    }
}

/// What to do with columns the contract does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExtraColumns {
    /// Ignore them.
    Allow,
    /// Report them as warnings (default).
    #[default]
    Warning,
    /// Fail the verdict.
    Error,
}

/// Bounds on the total number of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    #[serde(default)]
    pub severity: Severity,
}

/// One column of the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Exact (case-sensitive) column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// A missing required column is a violation; a missing optional one is not (and
    /// none of its checks run). Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// Largest acceptable share of nulls (0..=1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_null_ratio: Option<f64>,
    /// Smallest acceptable value: a number for integer/float columns, an ISO date or
    /// timestamp string for date/timestamp columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// Largest acceptable value (same forms as `min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// The only acceptable values (compared after parsing to the column type, so `1`
    /// and `"1"` match an integer column's `01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<Vec<Value>>,
    /// Fewest distinct non-null values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cardinality: Option<u64>,
    /// Most distinct non-null values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cardinality: Option<u64>,
    /// Severity per check (default `error` for every check).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<Check, Severity>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

impl ColumnSpec {
    /// A column with only a name and a type.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        ColumnSpec {
            name: name.into(),
            ty,
            required: true,
            max_null_ratio: None,
            min: None,
            max: None,
            allowed_values: None,
            min_cardinality: None,
            max_cardinality: None,
            severity: BTreeMap::new(),
            description: None,
        }
    }

    /// The severity of `check` for this column.
    pub fn severity_of(&self, check: Check) -> Severity {
        self.severity.get(&check).copied().unwrap_or_default()
    }
}

/// The data contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Optional pointer to `schemas/contract.schema.json`, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    /// Format version; must be 1.
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The columns, in any order.
    pub columns: Vec<ColumnSpec>,
    /// Policy for columns not listed (default `warning`).
    #[serde(default)]
    pub extra_columns: ExtraColumns,
    /// Bounds on the total number of rows of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<RowCount>,
    /// Text values meaning "missing" (default: empty, NA, N/A, NaN, null, NULL, None).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_tokens: Option<Vec<String>>,
    /// CSV dialect (default: delimiter sniffed, `"` quotes).
    #[serde(default, skip_serializing_if = "is_default_csv")]
    pub csv: CsvOptions,
    /// Distinct values tracked per column before counting stops (default 10,000; raised
    /// automatically to `max_cardinality + 1` / `min_cardinality` where those are set;
    /// capped at 1,000,000). Keeps memory bounded on high-cardinality columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardinality_limit: Option<u64>,
    /// Example values kept per violation (default 5, at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_examples: Option<usize>,
}

fn is_default_csv(c: &CsvOptions) -> bool {
    *c == CsvOptions::default()
}

impl Contract {
    /// Parse and check a contract document.
    pub fn from_json(bytes: &[u8]) -> Result<Contract, SchemaError> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| SchemaError::InvalidContract(format!("not JSON: {e}")))?;
        match v.get("version") {
            Some(Value::Number(n)) if n.as_u64() == Some(CONTRACT_VERSION as u64) => {}
            Some(other) => {
                return Err(SchemaError::InvalidContract(format!(
                "unsupported contract version {other}; this build reads version {CONTRACT_VERSION}"
            )))
            }
            None => {
                return Err(SchemaError::InvalidContract(
                    "missing \"version\" (use 1)".into(),
                ))
            }
        }
        let c: Contract =
            serde_json::from_value(v).map_err(|e| SchemaError::InvalidContract(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    /// Semantic checks serde cannot express.
    pub fn check(&self) -> Result<(), SchemaError> {
        let bad = |m: String| Err(SchemaError::InvalidContract(m));
        if self.version != CONTRACT_VERSION {
            return bad(format!("unsupported contract version {}", self.version));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return bad(format!("column {:?} is listed twice", c.name));
            }
            if let Some(r) = c.max_null_ratio {
                if !(0.0..=1.0).contains(&r) {
                    return bad(format!(
                        "column {:?}: max_null_ratio {r} is not within 0..=1",
                        c.name
                    ));
                }
            }
            if (c.min.is_some() || c.max.is_some()) && !c.ty.is_ordered() {
                return bad(format!(
                    "column {:?}: min/max need an integer, float, date or timestamp column",
                    c.name
                ));
            }
            let lo = c
                .min
                .as_ref()
                .map(|v| super::values::bound(c.ty, v))
                .transpose()
                .map_err(|e| {
                    SchemaError::InvalidContract(format!("column {:?}: min: {e}", c.name))
                })?;
            let hi = c
                .max
                .as_ref()
                .map(|v| super::values::bound(c.ty, v))
                .transpose()
                .map_err(|e| {
                    SchemaError::InvalidContract(format!("column {:?}: max: {e}", c.name))
                })?;
            if let (Some(lo), Some(hi)) = (lo, hi) {
                if lo > hi {
                    return bad(format!("column {:?}: min is above max", c.name));
                }
            }
            if let (Some(lo), Some(hi)) = (c.min_cardinality, c.max_cardinality) {
                if lo > hi {
                    return bad(format!(
                        "column {:?}: min_cardinality {lo} is above max_cardinality {hi}",
                        c.name
                    ));
                }
            }
            if let Some(vals) = &c.allowed_values {
                for v in vals {
                    super::values::allowed_key(c.ty, v).map_err(|e| {
                        SchemaError::InvalidContract(format!(
                            "column {:?}: allowed value {v}: {e}",
                            c.name
                        ))
                    })?;
                }
            }
            for check in c.severity.keys() {
                if matches!(check, Check::ExtraColumn | Check::RowCount) {
                    return bad(format!(
                        "column {:?}: severity for {:?} is set at contract level",
                        c.name,
                        check.as_str()
                    ));
                }
            }
        }
        if let Some(rc) = &self.row_count {
            if let (Some(lo), Some(hi)) = (rc.min, rc.max) {
                if lo > hi {
                    return bad(format!("row_count: min {lo} is above max {hi}"));
                }
            }
        }
        if let Some(n) = self.max_examples {
            if n > 50 {
                return bad(format!("max_examples {n} is above 50"));
            }
        }
        Ok(())
    }

    /// The null tokens in force.
    pub fn null_tokens(&self) -> NullTokens {
        match &self.null_tokens {
            Some(t) => NullTokens::new(t.iter().cloned()),
            None => NullTokens::default(),
        }
    }

    /// The column spec named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Examples kept per violation.
    pub fn max_examples(&self) -> usize {
        self.max_examples.unwrap_or(DEFAULT_MAX_EXAMPLES).min(50)
    }

    /// The distinct-value tracking bound for a column.
    pub fn cardinality_limit(&self, c: &ColumnSpec) -> u64 {
        let base = self.cardinality_limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT);
        let need = c
            .max_cardinality
            .map(|m| m.saturating_add(1))
            .unwrap_or(0)
            .max(c.min_cardinality.unwrap_or(0));
        base.max(need).min(MAX_CARDINALITY_LIMIT)
    }

    /// A stable fingerprint, so partial results made under another contract are not
    /// merged by mistake.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&sha2::Sha256::digest(&canonical)[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;

    fn err(json: &str) -> String {
        let e = Contract::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(e.error_name(), "InputError.InvalidContract");
        e.to_string()
    }

    #[test]
    fn parses_the_documented_example() {
        let c = Contract::from_json(include_bytes!(
            "../../../events/schema-validator/contract.json"
        ))
        .unwrap();
        assert_eq!(c.version, 1);
        assert!(!c.columns.is_empty());
    }

    #[test]
    fn severity_defaults_and_overrides() {
        let c = Contract::from_json(
            br#"{"version":1,"columns":[{"name":"a","type":"integer","max_null_ratio":0.1,"severity":{"null_ratio":"warning"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            c.columns[0].severity_of(Check::NullRatio),
            Severity::Warning
        );
        assert_eq!(c.columns[0].severity_of(Check::Type), Severity::Error);
        assert!(c.columns[0].required);
        assert_eq!(c.extra_columns, ExtraColumns::Warning);
    }

    #[test]
    fn refuses_bad_contracts_with_reasons() {
        assert!(err(r#"{"columns":[]}"#).contains("version"));
        assert!(err(r#"{"version":2,"columns":[]}"#).contains("unsupported"));
        assert!(err(r#"{"version":1,"columns":[{"name":"a","type":"int"}]}"#).contains("int"));
        assert!(
            err(r#"{"version":1,"columns":[{"name":"a","type":"integer","colour":1}]}"#)
                .contains("colour")
        );
        assert!(err(
            r#"{"version":1,"columns":[{"name":"a","type":"string"},{"name":"a","type":"string"}]}"#
        )
        .contains("twice"));
        assert!(
            err(r#"{"version":1,"columns":[{"name":"a","type":"string","min":1}]}"#)
                .contains("min/max")
        );
        assert!(
            err(r#"{"version":1,"columns":[{"name":"a","type":"integer","min":5,"max":1}]}"#)
                .contains("above")
        );
        assert!(
            err(r#"{"version":1,"columns":[{"name":"a","type":"date","min":"yesterday"}]}"#)
                .contains("min")
        );
        assert!(err(
            r#"{"version":1,"columns":[{"name":"a","type":"float","max_null_ratio":1.5}]}"#
        )
        .contains("0..=1"));
        assert!(err(
            r#"{"version":1,"columns":[{"name":"a","type":"integer","allowed_values":["x"]}]}"#
        )
        .contains("allowed"));
        assert!(
            err(r#"{"version":1,"columns":[],"row_count":{"min":9,"max":1}}"#)
                .contains("row_count")
        );
        assert!(err("not json").contains("JSON"));
    }

    #[test]
    fn cardinality_limit_grows_to_fit_the_bounds() {
        let mut c =
            Contract::from_json(br#"{"version":1,"columns":[{"name":"a","type":"string"}]}"#)
                .unwrap();
        assert_eq!(
            c.cardinality_limit(&c.columns[0]),
            DEFAULT_CARDINALITY_LIMIT
        );
        c.columns[0].max_cardinality = Some(50_000);
        assert_eq!(c.cardinality_limit(&c.columns[0]), 50_001);
        c.columns[0].max_cardinality = Some(u64::MAX);
        assert_eq!(c.cardinality_limit(&c.columns[0]), MAX_CARDINALITY_LIMIT);
    }

    #[test]
    fn round_trips_through_json() {
        let c = Contract::from_json(include_bytes!(
            "../../../events/schema-validator/contract.json"
        ))
        .unwrap();
        let again = Contract::from_json(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(c, again);
        assert_eq!(c.fingerprint(), again.fingerprint());
    }
}
