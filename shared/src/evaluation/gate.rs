//! Candidate against baseline, row by row, and the route that follows.
//!
//! Rows (each `passed` true, false, or not compared):
//! - **overall**: every overall metric of either report. Relative change in the goal's
//!   direction; a drop above `max_metric_drop` fails. Only in the baseline: failed
//!   (`missing`, the candidate stopped reporting it). Only in the candidate: `new`.
//! - **segment**: every (slice, metric) of either report, `max_segment_drop`; a slice
//!   the baseline has and the candidate lacks fails (`missing`); a slice the baseline
//!   does not know is `new`.
//! - **fairness**: per metric reported by at least two slices in both reports, the gap
//!   (best slice minus worst) may widen by at most `max_fairness_gap_increase`.
//! - **importance**: Jaccard overlap of the two top-10 feature sets, at least
//!   `min_importance_overlap`.
//! - **latency** (P99 against the SLA) and **size** (artifact and memory against the
//!   instance): hard limits, checked with or without a baseline; P50/P95 are shown
//!   beside the baseline's, not judged. A limit that is set but not measured is
//!   `unmeasured`.
//!
//! Route, first rule that applies (docs/evaluation.md#routing):
//! 1. a hard limit broken → reject (investigate);
//! 2. no baseline (the first model for this endpoint) → the absolute thresholds decide
//!    (what the gate did before it compared), capped at human when a limit is unmeasured;
//! 3. the baseline's report cannot be used → the absolute thresholds, at most human;
//! 4. the objective far below the baseline (drop > `far_below_drop`) → reject;
//! 5. every compared row failed → reject;
//! 6. no row failed, nothing new or unmeasured, and the objective at least the
//!    baseline's → auto; otherwise → human.
//!
//! Then the absolute thresholds still apply as a floor (below review → reject, below
//! promote → at most human) and flagged drift caps auto at human. Every reject is
//! published as an investigation (the state machine's NotifyInvestigation).

use std::collections::BTreeSet;

use serde::Serialize;

use super::policy::GatePolicy;
use super::report::{Goal, Report};
use super::EvaluationError;

/// The longest reason written (characters).
pub const MAX_REASON: usize = 600;

/// Where the gate sends the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Do not register; publish an investigation and compensate.
    Reject,
    /// Register and wait for a person.
    Human,
    /// Register and approve without review.
    Auto,
}

/// Where the objective stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// No baseline: the first model for this endpoint.
    FirstModel,
    /// A baseline package whose report could not be read or checked.
    BaselineUnusable,
    /// Better than the baseline.
    Improved,
    /// Equal, or worse by at most `max_metric_drop`.
    WithinTolerance,
    /// Worse by more than `max_metric_drop`, at most `far_below_drop`: the band a retried
    /// sweep could recover (not built: such a model goes to a person or is rejected by the
    /// other rows).
    Below,
    /// Worse by more than `far_below_drop`: reject and investigate.
    FarBelow,
}

/// What a row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Overall,
    Segment,
    Fairness,
    Latency,
    Size,
    Importance,
    Baseline,
}

/// A row's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Improved,
    /// Equal or worse within the tolerance.
    Held,
    Degraded,
    /// The baseline has it, the candidate does not.
    Missing,
    /// The candidate has it, the baseline does not: not compared.
    New,
    WithinLimit,
    OverLimit,
    /// A limit is set but the candidate did not measure it.
    Unmeasured,
    /// Shown, not judged.
    Info,
}

impl Status {
    fn passed(self) -> Option<bool> {
        match self {
            Status::Improved | Status::Held | Status::WithinLimit => Some(true),
            Status::Degraded | Status::Missing | Status::OverLimit => Some(false),
            Status::New | Status::Unmeasured | Status::Info => None,
        }
    }
}

/// One row of the comparison, as the approval page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub dimension: Dimension,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    /// Relative change in the goal's direction (+0.01: 1 % better); overall and segment
    /// rows only.
    pub change: Option<f64>,
    /// The tolerance (drop, gap increase), bound (overlap) or hard limit the row is held to.
    pub limit: Option<f64>,
    pub status: Status,
    pub passed: Option<bool>,
    /// A hard limit: failing it rejects whatever else improved.
    pub hard: bool,
}

/// The model in production, as the registry gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// No Approved package for this endpoint.
    None,
    /// A package was found, but its report could not be used.
    Unusable { package: String, why: String },
    Report {
        package: String,
        report: Box<Report>,
    },
}

/// The gate's decision with every row behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub route: Route,
    pub band: Band,
    pub reason: String,
    pub baseline_package: Option<String>,
    pub rows: Vec<Row>,
    pub passed: usize,
    pub failed: usize,
    pub not_compared: usize,
}

/// Relative change of `c` against `b`, positive when better for `goal`; the absolute
/// difference when the baseline is 0 (no scale to be relative to).
pub fn relative_change(goal: Goal, c: f64, b: f64) -> f64 {
    let diff = match goal {
        Goal::Maximize => c - b,
        Goal::Minimize => b - c,
    };
    if b.abs() < 1e-12 {
        diff
    } else {
        diff / b.abs()
    }
}

fn compared(
    dimension: Dimension,
    name: &str,
    slice: Option<&str>,
    goal: Goal,
    c: Option<f64>,
    b: Option<f64>,
    tol: f64,
) -> Row {
    let (change, status) = match (c, b) {
        (Some(c), Some(b)) => {
            let ch = relative_change(goal, c, b);
            let st = if ch > 1e-12 {
                Status::Improved
            } else if -ch <= tol + 1e-12 {
                Status::Held
            } else {
                Status::Degraded
            };
            (Some(ch), st)
        }
        (None, Some(_)) => (None, Status::Missing),
        _ => (None, Status::New),
    };
    Row {
        dimension,
        name: name.to_string(),
        slice: slice.map(str::to_string),
        candidate: c,
        baseline: b,
        change,
        limit: Some(tol),
        status,
        passed: status.passed(),
        hard: false,
    }
}

fn limit_row(
    dimension: Dimension,
    name: &str,
    c: Option<f64>,
    b: Option<f64>,
    limit: Option<f64>,
) -> Option<Row> {
    let status = match (c, limit) {
        (_, None) if c.is_some() || b.is_some() => Status::Info,
        (_, None) => return None,
        (Some(c), Some(l)) if c <= l => Status::WithinLimit,
        (Some(_), Some(_)) => Status::OverLimit,
        (None, Some(_)) => Status::Unmeasured,
    };
    Some(Row {
        dimension,
        name: name.to_string(),
        slice: None,
        candidate: c,
        baseline: b,
        change: None,
        limit,
        status,
        passed: status.passed(),
        hard: limit.is_some(),
    })
}

/// The hard-limit rows (checked with or without a baseline).
fn limit_rows(c: &Report, b: Option<&Report>, p: &GatePolicy) -> Vec<Row> {
    let lat = |r: Option<&Report>, f: fn(&super::report::Latency) -> f64| {
        r.and_then(|r| r.latency_ms.as_ref()).map(f)
    };
    let size = |r: Option<&Report>, f: fn(&super::report::Size) -> Option<u64>| {
        r.and_then(|r| r.size.as_ref())
            .and_then(f)
            .map(|x| x as f64)
    };
    let info = |name: &str, f: fn(&super::report::Latency) -> f64| {
        let (cv, bv) = (lat(Some(c), f), lat(b, f));
        (cv.is_some() || bv.is_some()).then(|| Row {
            dimension: Dimension::Latency,
            name: name.to_string(),
            slice: None,
            candidate: cv,
            baseline: bv,
            change: None,
            limit: None,
            status: Status::Info,
            passed: None,
            hard: false,
        })
    };
    [
        info("p50_ms", |l| l.p50),
        info("p95_ms", |l| l.p95),
        limit_row(
            Dimension::Latency,
            "p99_ms",
            lat(Some(c), |l| l.p99),
            lat(b, |l| l.p99),
            p.latency_p99_ms,
        ),
        limit_row(
            Dimension::Size,
            "artifact_bytes",
            size(Some(c), |s| s.artifact_bytes),
            size(b, |s| s.artifact_bytes),
            p.max_artifact_bytes,
        ),
        limit_row(
            Dimension::Size,
            "memory_bytes",
            size(Some(c), |s| s.memory_bytes),
            size(b, |s| s.memory_bytes),
            p.max_memory_bytes,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Best slice minus worst slice of `metric`; `None` with fewer than two slices.
fn gap(r: &Report, metric: &str) -> Option<f64> {
    let xs: Vec<f64> = r
        .segments
        .values()
        .filter_map(|s| s.metrics.get(metric).copied())
        .collect();
    if xs.len() < 2 {
        return None;
    }
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
    Some(hi - lo)
}

/// The rows that compare with the baseline.
fn comparison_rows(c: &Report, b: &Report, p: &GatePolicy) -> Vec<Row> {
    let goal_of = |m: &str| {
        c.overall
            .get(m)
            .or_else(|| b.overall.get(m))
            .map(|m| m.goal)
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let names: BTreeSet<&str> = c
        .overall
        .keys()
        .chain(b.overall.keys())
        .map(String::as_str)
        .collect();
    for n in &names {
        rows.push(compared(
            Dimension::Overall,
            n,
            None,
            goal_of(n),
            c.overall.get(*n).map(|m| m.value),
            b.overall.get(*n).map(|m| m.value),
            p.max_metric_drop,
        ));
    }
    let slices: BTreeSet<&str> = c
        .segments
        .keys()
        .chain(b.segments.keys())
        .map(String::as_str)
        .collect();
    for s in &slices {
        let (cs, bs) = (c.segments.get(*s), b.segments.get(*s));
        let metrics: BTreeSet<&str> = cs
            .iter()
            .chain(bs.iter())
            .flat_map(|seg| seg.metrics.keys().map(String::as_str))
            .collect();
        for m in metrics {
            let cv = cs.and_then(|x| x.metrics.get(m).copied());
            let bv = bs.and_then(|x| x.metrics.get(m).copied());
            rows.push(compared(
                Dimension::Segment,
                m,
                Some(s),
                goal_of(m),
                cv,
                bv,
                p.max_segment_drop,
            ));
        }
    }
    for n in &names {
        if let (Some(gc), Some(gb)) = (gap(c, n), gap(b, n)) {
            let status = if gc < gb - 1e-12 {
                Status::Improved
            } else if gc <= gb + p.max_fairness_gap_increase + 1e-12 {
                Status::Held
            } else {
                Status::Degraded
            };
            rows.push(Row {
                dimension: Dimension::Fairness,
                name: format!("{n} gap"),
                slice: None,
                candidate: Some(gc),
                baseline: Some(gb),
                change: None,
                limit: Some(p.max_fairness_gap_increase),
                status,
                passed: status.passed(),
                hard: false,
            });
        }
    }
    let (tc, tb) = (c.top_features(), b.top_features());
    if !tc.is_empty() || !tb.is_empty() {
        let (status, overlap) = if tb.is_empty() {
            (Status::New, None)
        } else if tc.is_empty() {
            (Status::Missing, None)
        } else {
            let j = tc.intersection(&tb).count() as f64 / tc.union(&tb).count() as f64;
            (
                if j + 1e-12 >= p.min_importance_overlap {
                    Status::Held
                } else {
                    Status::Degraded
                },
                Some(j),
            )
        };
        rows.push(Row {
            dimension: Dimension::Importance,
            name: "top-10 overlap".into(),
            slice: None,
            candidate: overlap,
            baseline: (!tb.is_empty()).then_some(1.0),
            change: None,
            limit: Some(p.min_importance_overlap),
            status,
            passed: status.passed(),
            hard: false,
        });
    }
    rows
}

fn label(r: &Row) -> String {
    match &r.slice {
        Some(s) => format!("{} [{s}]", r.name),
        None => r.name.clone(),
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1} %", x * 100.0)
}

/// A short list of rows for the reason (at most four, then "and N more").
fn list(rows: &[&Row]) -> String {
    let mut parts: Vec<String> = rows
        .iter()
        .take(4)
        .map(|r| match (r.change, r.status) {
            (Some(ch), _) => format!("{} {}", label(r), pct(ch)),
            (None, Status::OverLimit) => format!(
                "{} {} > {}",
                label(r),
                r.candidate.unwrap_or(f64::NAN),
                r.limit.unwrap_or(f64::NAN)
            ),
            (None, st) => format!(
                "{} {}",
                label(r),
                serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        })
        .collect();
    if rows.len() > 4 {
        parts.push(format!("and {} more", rows.len() - 4));
    }
    parts.join(", ")
}

/// Compare the candidate with the baseline and route it (pure).
///
/// `floor` is the absolute thresholds' route and reason for the objective (what the gate
/// decided before it compared); `review_required` is flagged drift.
pub fn decide(
    candidate: &Report,
    objective: &str,
    goal: Goal,
    baseline: &Baseline,
    policy: &GatePolicy,
    floor: (Route, String),
    review_required: bool,
) -> Result<Verdict, EvaluationError> {
    let obj = candidate.overall.get(objective).ok_or_else(|| {
        EvaluationError::InvalidReport(format!(
            "the objective {objective:?} is not among the overall metrics"
        ))
    })?;
    if obj.goal != goal {
        return Err(EvaluationError::InvalidReport(format!(
            "overall.{objective} has goal {:?}, the pipeline's objective {:?}",
            obj.goal, goal
        )));
    }
    let base_report = match baseline {
        Baseline::Report { report, .. } => Some(report.as_ref()),
        _ => None,
    };
    let mut rows = limit_rows(candidate, base_report, policy);
    let package = match baseline {
        Baseline::None => None,
        Baseline::Unusable { package, .. } | Baseline::Report { package, .. } => {
            Some(package.clone())
        }
    };
    if let Baseline::Unusable { why, .. } = baseline {
        rows.push(Row {
            dimension: Dimension::Baseline,
            name: format!("baseline report unusable: {why}"),
            slice: None,
            candidate: None,
            baseline: None,
            change: None,
            limit: None,
            status: Status::Missing,
            passed: Some(false),
            hard: false,
        });
    }
    if let Some(b) = base_report {
        let mut cmp = comparison_rows(candidate, b, policy);
        rows.append(&mut cmp);
    }
    let hard_failed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.hard && r.passed == Some(false))
        .collect();
    let unmeasured: Vec<&Row> = rows
        .iter()
        .filter(|r| r.status == Status::Unmeasured)
        .collect();
    // The rows that compare with the baseline (limits and P50/P95 are not among them).
    let soft: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.dimension,
                Dimension::Overall
                    | Dimension::Segment
                    | Dimension::Fairness
                    | Dimension::Importance
            )
        })
        .collect();
    let failed: Vec<&Row> = soft
        .iter()
        .copied()
        .filter(|r| r.passed == Some(false))
        .collect();
    let passed = soft.iter().filter(|r| r.passed == Some(true)).count();
    let new: Vec<&Row> = soft
        .iter()
        .copied()
        .filter(|r| r.status == Status::New)
        .collect();

    let objective_change = base_report
        .and_then(|b| b.overall.get(objective))
        .map(|b| relative_change(goal, obj.value, b.value));
    let band = match (baseline, objective_change) {
        (Baseline::None, _) => Band::FirstModel,
        (Baseline::Unusable { .. }, _) => Band::BaselineUnusable,
        // The baseline's report lacks the objective: nothing to place it against.
        (Baseline::Report { .. }, None) => Band::BaselineUnusable,
        (_, Some(ch)) if -ch > policy.far_below_drop + 1e-12 => Band::FarBelow,
        (_, Some(ch)) if -ch > policy.max_metric_drop + 1e-12 => Band::Below,
        (_, Some(ch)) if ch > 1e-12 => Band::Improved,
        _ => Band::WithinTolerance,
    };

    let (mut route, mut reason) = if !hard_failed.is_empty() {
        (
            Route::Reject,
            format!("hard limit broken: {}", list(&hard_failed)),
        )
    } else {
        match band {
            Band::FirstModel | Band::BaselineUnusable => {
                let (r, why) = floor.clone();
                let what = if band == Band::FirstModel {
                    "no Approved model for this endpoint yet (first model): the absolute thresholds decide"
                } else {
                    "the production model's report cannot be used: the absolute thresholds decide, and a person reviews"
                };
                let r = if band == Band::BaselineUnusable { r.min(Route::Human) } else { r };
                (r, format!("{what}; {why}"))
            }
            Band::FarBelow => (
                Route::Reject,
                format!(
                    "{objective} {} against production, beyond the far-below band ({}): investigate",
                    pct(objective_change.unwrap_or(0.0)),
                    pct(-policy.far_below_drop)
                ),
            ),
            _ if !failed.is_empty() && passed == 0 => (
                Route::Reject,
                format!("every compared row degraded ({}): investigate", list(&failed)),
            ),
            _ if failed.is_empty() && new.is_empty() && objective_change.is_some_and(|c| c >= -1e-12) => (
                Route::Auto,
                format!(
                    "{passed} rows compared with production, none failed; {objective} {}",
                    pct(objective_change.unwrap_or(0.0))
                ),
            ),
            _ => {
                let mut why = Vec::new();
                if !failed.is_empty() {
                    why.push(format!("{} of {} compared rows failed ({})", failed.len(), failed.len() + passed, list(&failed)));
                }
                if !new.is_empty() {
                    why.push(format!("not in production's report, not compared: {}", list(&new)));
                }
                if objective_change.is_some_and(|c| c < -1e-12) {
                    why.push(format!("{objective} {} against production", pct(objective_change.unwrap_or(0.0))));
                }
                (Route::Human, format!("mixed: {}; a person decides", why.join("; ")))
            }
        }
    };
    if route == Route::Auto && !unmeasured.is_empty() {
        route = Route::Human;
        reason = format!(
            "{reason}; limits set but not measured: {}",
            list(&unmeasured)
        );
    }
    // The absolute thresholds stay a floor with a baseline too.
    if base_report.is_some() && floor.0 < route {
        route = floor.0;
        reason = format!("{reason}; but {}", floor.1);
    }
    if review_required && route == Route::Auto {
        route = Route::Human;
        reason = format!("{reason}; drift was flagged: a person reviews it");
    }
    let not_compared = soft.iter().filter(|r| r.passed.is_none()).count();
    // The reason becomes the registry's ApprovalDescription (at most 1024 characters,
    // with the state machine's prefix): the rows carry the whole story.
    if reason.chars().count() > MAX_REASON {
        reason = reason.chars().take(MAX_REASON - 1).collect::<String>() + "…";
    }
    Ok(Verdict {
        route,
        band,
        reason,
        baseline_package: package,
        passed,
        failed: failed.len() + hard_failed.len(),
        not_compared,
        rows,
    })
}
