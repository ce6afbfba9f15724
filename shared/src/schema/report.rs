//! From observations to a verdict: violations, the full report (written to S3) and
//! the small verdict returned to Step Functions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contract::{Check, ColumnSpec, Contract, ExtraColumns, Severity};
use super::stats::{Cardinality, ColumnStats, Counted, Example, ObjectSummary, PartialResult};
use super::values;

/// Violations listed in the verdict (the report has them all).
pub const VERDICT_VIOLATIONS: usize = 5;
/// Examples per violation in the verdict.
pub const VERDICT_EXAMPLES: usize = 3;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The column, absent for dataset-level checks (`row_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub check: Check,
    pub severity: Severity,
    /// What was seen (e.g. `{"null_ratio": 0.31, "nulls": 310, "rows": 1000}`).
    pub observed: Value,
    /// What the contract asks (e.g. `{"max_null_ratio": 0.05}`).
    pub expected: Value,
    /// Offending values (1 for column/dataset-level findings).
    pub count: u64,
    /// The first offending values with their object and row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
    /// One line for people.
    pub message: String,
}

/// Counts of violations by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub error: u64,
    pub warning: u64,
}

/// Per-column summary in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    #[serde(rename = "type")]
    pub ty: String,
    pub present: bool,
    pub rows: u64,
    pub nulls: u64,
    pub null_ratio: f64,
    pub distinct: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    pub type_errors: u64,
    pub out_of_range: u64,
    pub not_allowed: u64,
}

/// The full report (written to S3, printed by `trainguard validate --report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Report format version (1).
    pub version: u32,
    pub passed: bool,
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_name: Option<String>,
    pub rows: u64,
    pub objects: Vec<ObjectSummary>,
    pub violations: SeverityCounts,
    pub findings: Vec<Violation>,
    pub columns: BTreeMap<String, ColumnSummary>,
    pub checked_at: String,
}

/// The small verdict a Lambda returns (far below Step Functions' payload limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub rows: u64,
    pub objects: usize,
    pub violations: SeverityCounts,
    pub first_violations: Vec<Violation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
}

impl Report {
    /// The verdict: counts and the first few violations (errors first), trimmed.
    pub fn verdict(&self, report_uri: Option<String>) -> Verdict {
        let mut first: Vec<Violation> = self.findings.clone();
        first.sort_by_key(|v| v.severity);
        first.truncate(VERDICT_VIOLATIONS);
        for v in &mut first {
            v.examples.truncate(VERDICT_EXAMPLES);
            for e in &mut v.examples {
                if e.value.len() > 40 {
                    let mut cut = 40;
                    while !e.value.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    e.value.truncate(cut);
                    e.value.push('…');
                }
            }
        }
        Verdict {
            passed: self.passed,
            rows: self.rows,
            objects: self.objects.len(),
            violations: self.violations,
            first_violations: first,
            report_uri,
        }
    }
}

struct Findings<'c> {
    out: Vec<Violation>,
    spec: Option<&'c ColumnSpec>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        check: Check,
        observed: Value,
        expected: Value,
        counted: Option<&Counted>,
        message: String,
    ) {
        let severity = self.spec.map(|s| s.severity_of(check)).unwrap_or_default();
        self.push_with(check, severity, observed, expected, counted, message);
    }

    fn push_with(
        &mut self,
        check: Check,
        severity: Severity,
        observed: Value,
        expected: Value,
        counted: Option<&Counted>,
        message: String,
    ) {
        self.out.push(Violation {
            column: self.spec.map(|s| s.name.clone()),
            check,
            severity,
            observed,
            expected,
            count: counted.map(|c| c.count).unwrap_or(1),
            examples: counted.map(|c| c.examples.clone()).unwrap_or_default(),
            message,
        });
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Evaluate the contract against what was observed: the dataset-level checks, then every
/// contract column's, then the counts that decide the verdict.
pub fn evaluate(
    contract: &Contract,
    partial: &PartialResult,
    data: &str,
    contract_uri: Option<&str>,
) -> Report {
    let mut f = Findings {
        out: Vec::new(),
        spec: None,
    };
    row_count_check(&mut f, contract, partial);
    extra_column_checks(&mut f, contract, partial);
    let mut columns = BTreeMap::new();
    for spec in &contract.columns {
        f.spec = Some(spec);
        let present = partial.schema.iter().any(|c| c.name == spec.name);
        let empty = ColumnStats::new(contract.cardinality_limit(spec));
        let st = partial.columns.get(&spec.name).unwrap_or(&empty);
        columns.insert(spec.name.clone(), summary(spec, st, present));
        if present {
            column_checks(&mut f, spec, st);
        } else if spec.required && !partial.objects.is_empty() {
            f.push(
                Check::Required,
                json!({"present": false}),
                json!({"required": true}),
                None,
                format!("required column {:?} is missing", spec.name),
            );
        }
    }
    let mut counts = SeverityCounts::default();
    for v in &f.out {
        match v.severity {
            Severity::Error => counts.error += 1,
            Severity::Warning => counts.warning += 1,
        }
    }
    Report {
        version: 1,
        passed: counts.error == 0,
        data: data.to_string(),
        contract: contract_uri.map(str::to_string),
        contract_name: contract.name.clone(),
        rows: partial.rows,
        objects: partial.objects.clone(),
        violations: counts,
        findings: f.out,
        columns,
        checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// "between a and b", "at least a", "at most b" (empty when unbounded).
fn bounds_text<T: std::fmt::Display>(min: Option<T>, max: Option<T>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("between {a} and {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => String::new(),
    }
}

/// The dataset's row count against the contract's bounds.
fn row_count_check(f: &mut Findings<'_>, contract: &Contract, partial: &PartialResult) {
    let Some(rc) = &contract.row_count else {
        return;
    };
    let low = rc.min.is_some_and(|m| partial.rows < m);
    let high = rc.max.is_some_and(|m| partial.rows > m);
    if low || high {
        f.push_with(
            Check::RowCount,
            rc.severity,
            json!({"rows": partial.rows}),
            json!({"min": rc.min, "max": rc.max}),
            None,
            format!(
                "{} rows; the contract wants {}",
                partial.rows,
                bounds_text(rc.min, rc.max)
            ),
        );
    }
}

/// Columns the data has and the contract does not, at the contract's severity.
fn extra_column_checks(f: &mut Findings<'_>, contract: &Contract, partial: &PartialResult) {
    let sev = match contract.extra_columns {
        ExtraColumns::Allow => return,
        ExtraColumns::Warning => Severity::Warning,
        ExtraColumns::Error => Severity::Error,
    };
    for c in &partial.schema {
        if contract.column(&c.name).is_none() {
            f.out.push(Violation {
                column: Some(c.name.clone()),
                check: Check::ExtraColumn,
                severity: sev,
                observed: json!({"present": true}),
                expected: json!({"extra_columns": contract.extra_columns}),
                count: 1,
                examples: vec![],
                message: format!("column {:?} is not in the contract", c.name),
            });
        }
    }
}

/// A present column's checks: type, null ratio, range, allowed values, cardinality.
fn column_checks(f: &mut Findings<'_>, spec: &ColumnSpec, st: &ColumnStats) {
    let ty = spec.ty.as_str();
    if st.type_errors.count > 0 {
        f.push(
            Check::Type,
            json!({"invalid_values": st.type_errors.count, "rows": st.rows}),
            json!({"type": ty}),
            Some(&st.type_errors),
            format!(
                "{} value(s) of {:?} are not {ty}",
                st.type_errors.count, spec.name
            ),
        );
    }
    if let Some(max) = spec.max_null_ratio {
        let ratio = st.null_ratio();
        if ratio > max {
            f.push(
                Check::NullRatio,
                json!({"null_ratio": round6(ratio), "nulls": st.nulls, "rows": st.rows}),
                json!({"max_null_ratio": max}),
                None,
                format!(
                    "{:?} is {:.2}% null ({} of {}); at most {:.2}% allowed",
                    spec.name,
                    ratio * 100.0,
                    st.nulls,
                    st.rows,
                    max * 100.0
                ),
            );
        }
    }
    if st.out_of_range.count > 0 {
        f.push(
            Check::Range,
            json!({"out_of_range": st.out_of_range.count,
                   "min": st.min.map(|x| values::display(spec.ty, x)), "max": st.max.map(|x| values::display(spec.ty, x))}),
            json!({"min": spec.min, "max": spec.max}),
            Some(&st.out_of_range),
            format!("{} value(s) of {:?} are outside [{}, {}]", st.out_of_range.count, spec.name, show_bound(&spec.min), show_bound(&spec.max)),
        );
    }
    if st.not_allowed.count > 0 {
        let n = spec.allowed_values.as_ref().map_or(0, |v| v.len());
        f.push(
            Check::AllowedValues,
            json!({"not_allowed": st.not_allowed.count}),
            json!({"allowed_values": spec.allowed_values}),
            Some(&st.not_allowed),
            format!(
                "{} value(s) of {:?} are not among the {n} allowed values",
                st.not_allowed.count, spec.name
            ),
        );
    }
    cardinality_check(f, spec, st);
}

/// Distinct values against the contract's cardinality bounds (a count past the tracking
/// limit is "more than" that limit).
fn cardinality_check(f: &mut Findings<'_>, spec: &ColumnSpec, st: &ColumnStats) {
    let card = st.distinct.count();
    let too_few = match (spec.min_cardinality, card) {
        (Some(m), Cardinality::Exact(n)) => n < m,
        _ => false,
    };
    let too_many = match (spec.max_cardinality, card) {
        (Some(m), Cardinality::Exact(n)) => n > m,
        (Some(m), Cardinality::MoreThan(b)) => b >= m,
        _ => false,
    };
    if too_few || too_many {
        f.push(
            Check::Cardinality,
            json!({"distinct": card.to_json()}),
            json!({"min_cardinality": spec.min_cardinality, "max_cardinality": spec.max_cardinality}),
            None,
            format!(
                "{:?} has {} distinct values; the contract wants {}",
                spec.name,
                match card {
                    Cardinality::Exact(n) => n.to_string(),
                    Cardinality::MoreThan(b) => format!("more than {b}"),
                },
                bounds_text(spec.min_cardinality, spec.max_cardinality)
            ),
        );
    }
}

fn show_bound(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "…".into(),
    }
}

fn summary(spec: &ColumnSpec, st: &ColumnStats, present: bool) -> ColumnSummary {
    ColumnSummary {
        ty: spec.ty.as_str().into(),
        present,
        rows: st.rows,
        nulls: st.nulls,
        null_ratio: round6(st.null_ratio()),
        distinct: st.distinct.count().to_json(),
        min: st.min.map(|x| values::display(spec.ty, x)),
        max: st.max.map(|x| values::display(spec.ty, x)),
        type_errors: st.type_errors.count,
        out_of_range: st.out_of_range.count,
        not_allowed: st.not_allowed.count,
    }
}
