//! The approval page: plain server-rendered HTML, no script.
//!
//! Without JavaScript there is nothing to inject into and the strict Content-Security-Policy
//! (see [`super::http`]) can forbid every script. The form posts to
//! `<base>/approvals/<id>/decision` with the per-approval CSRF token; the reply redirects
//! back here, where the decision then replaces the buttons.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use super::identity::Identity;
use super::metrics::{
    comparison, evaluation, metric_rows, Band, ComparisonRow, Evaluation, MetricRow,
};
use super::model::{ApprovalRecord, Decision, Status};
use crate::trigger::select_best::{finite, Goal};

/// What the page needs besides the record.
#[derive(Debug, Clone)]
pub struct PageContext<'a> {
    pub viewer: Option<&'a Identity>,
    /// (label, presigned URL) of the reports.
    pub links: &'a [(String, String)],
    pub now: DateTime<Utc>,
    /// Where the form posts (`<base>/approvals/<id>/decision`).
    pub form_action: String,
    /// How long the report links stay valid.
    pub link_minutes: u64,
}

/// Four decimals; "–" for a missing or non-finite value.
fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "–".into(),
    }
}

/// A p-value: four decimals, or scientific notation when that would print 0.0000.
fn fmt_p(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() && x != 0.0 && x.abs() < 1e-4 => format!("{x:.2e}"),
        _ => fmt_num(v),
    }
}

/// "≥ 0.9000" for a goal to maximise, "≤ 0.9000" to minimise.
fn at_least(goal: Goal, v: Option<f64>) -> String {
    let op = match goal {
        Goal::Maximize => "≥",
        Goal::Minimize => "≤",
    };
    format!("{op} {}", fmt_num(v))
}

/// "2 h 05 min left" / "expired".
pub fn time_left(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (expires_at - now).num_seconds();
    if secs <= 0 {
        return "expired".into();
    }
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if d > 0 {
        format!("{d} d {h} h left")
    } else if h > 0 {
        format!("{h} h {m:02} min left")
    } else if m > 0 {
        format!("{m} min left")
    } else {
        format!("{secs} s left")
    }
}

/// Why the viewer cannot decide, or `None` if they can.
fn cannot_decide(
    rec: &ApprovalRecord,
    viewer: Option<&Identity>,
    now: DateTime<Utc>,
) -> Option<String> {
    if rec.status != Status::Pending {
        return Some(String::new());
    }
    if rec.is_expired(now) {
        return Some("This approval has expired.".into());
    }
    match viewer {
        None => Some("Sign in to decide.".into()),
        Some(v) if !v.may_approve(&rec.approvers) => Some(format!(
            "You ({}) are not on the list of approvers.",
            v.display
        )),
        Some(v) if v.is_starter(rec.started_by.as_deref()) => {
            Some("You started this run, so someone else has to approve it.".into())
        }
        Some(_) => None,
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}\
th,td{border:1px solid #d0d7de;padding:.4rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}\
thead{background:#f6f8fa}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}\
.review{color:#9a6700;font-weight:600}tr.objective{background:#fff8c5}\
#drift-features td:nth-child(-n+3),#drift-features th:nth-child(-n+3){text-align:left}\
.status{display:inline-block;padding:.2rem .6rem;border-radius:1rem;background:#ddf4ff}\
.approved{background:#dafbe1}.rejected{background:#ffebe9}.closed,.expired{background:#eaeef2}\
dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1rem}dt{font-weight:600}\
textarea{width:100%;min-height:5rem;font:inherit}button{font:inherit;padding:.5rem 1.2rem;margin-right:.5rem;cursor:pointer}\
#approve{background:#1f883d;color:#fff;border:0;border-radius:.4rem}#reject{background:#cf222e;color:#fff;border:0;border-radius:.4rem}\
#decision{border:2px solid #1f883d;border-radius:.5rem;padding:1rem}#decision.rejected-box{border-color:#cf222e}\
.note{color:#57606a}";

/// Render the page for a record. Every value goes through maud, which escapes it for
/// element content and (double-quoted) attribute values; only the constant style sheet
/// is written unescaped.
pub fn render_page(rec: &ApprovalRecord, ctx: &PageContext<'_>) -> String {
    let exec = rec.execution_name.as_deref().unwrap_or("(unnamed run)");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="referrer" content="same-origin";
                title { "Approve model: " (exec) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (heading(rec, exec, ctx.now))
                (facts(rec, exec))
                (objective(rec))
                h2 { "Candidate against baseline" }
                (metrics_table(rec))
                (comparison_section(rec))
                h2 { "Data drift" }
                div #drift { (drift_summary(&rec.drift)) (drift_table(&rec.drift)) }
                (reports(ctx))
                h2 { "Decision" }
                (decision(rec))
                (form_or_reason(rec, ctx))
            }
        }
    }
    .into_string()
}

/// The title line: status, and the time left while pending.
fn heading(rec: &ApprovalRecord, exec: &str, now: DateTime<Utc>) -> Markup {
    let shown = if rec.is_expired(now) {
        Status::Expired
    } else {
        rec.status
    };
    html! {
        h1 { "Model approval: " (exec) }
        p {
            span #status class={ "status " (shown.as_str()) } { (shown.as_str()) }
            " "
            @if shown == Status::Pending {
                span #time-left { (time_left(rec.expires_at, now)) }
                " (until " (rec.expires_at.format("%Y-%m-%d %H:%M UTC")) ")"
            }
        }
    }
}

/// What is being approved, by whom it was started, who may decide.
fn facts(rec: &ApprovalRecord, exec: &str) -> Markup {
    let rows = [
        ("Execution", exec.to_string()),
        (
            "Model package",
            rec.model_package_arn.as_deref().unwrap_or("–").to_string(),
        ),
        (
            "Started by",
            rec.started_by.as_deref().unwrap_or("–").to_string(),
        ),
        ("Approvers", rec.approvers.join(", ")),
        (
            "Requested",
            rec.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ];
    html! {
        dl { @for (k, v) in &rows { dt { (k) } dd { (v) } } }
    }
}

/// True when the drift detector flagged the run (which makes a person decide).
fn drift_detected(drift: &Value) -> bool {
    drift.get("drift_detected").and_then(Value::as_bool) == Some(true)
}

/// What the route means, in plain words (why is the route's `reason`).
fn route_words(route: &str) -> String {
    match Band::of_route(route) {
        Some(Band::Promote) => "Promote automatically, without review.".into(),
        Some(Band::Review) => "A person decides.".into(),
        Some(Band::Below) => "Reject the model.".into(),
        None => format!("{route} (a route this page does not know)"),
    }
}

/// Where the objective stands, as a sentence ending.
fn band_words(b: Band) -> &'static str {
    match b {
        Band::Promote => "clears the promote threshold",
        Band::Review => "is in the review band",
        Band::Below => "is short of the review threshold",
    }
}

/// The objective, its gate and the route the pipeline took, when the request carries the
/// shipped shape (older shapes have no objective: nothing is shown).
fn objective(rec: &ApprovalRecord) -> Markup {
    let Some(ev) = evaluation(&rec.metrics) else {
        return html! {};
    };
    let goal = ev.goal.unwrap_or_default();
    html! {
        h2 { "Objective" }
        section #objective {
            dl {
                dt { "Objective" }
                dd {
                    span #objective-name { (ev.metric) }
                    @match ev.goal {
                        Some(Goal::Maximize) => " (higher is better)",
                        Some(Goal::Minimize) => " (lower is better)",
                        None => "",
                    }
                }
                dt { "Candidate" }
                dd #objective-value { (fmt_num(ev.value)) }
                dt { "Baseline" }
                dd #objective-baseline {
                    @if ev.baseline.is_some() {
                        (fmt_num(ev.baseline))
                        @if let (Some(v), Some(b)) = (ev.value, ev.baseline) {
                            " (Δ " (format!("{:+.4}", v - b)) ")"
                        }
                    } @else {
                        "No baseline was reported."
                    }
                }
                dt { "Thresholds" }
                dd #thresholds {
                    @if ev.promote.is_none() && ev.review.is_none() {
                        "No thresholds were reported."
                    } @else {
                        "promote at " (at_least(goal, ev.promote)) ", review at " (at_least(goal, ev.review))
                        @if let Some(b) = ev.band { ": the candidate " (band_words(b)) "." }
                    }
                }
                dt { "Route" }
                dd #route {
                    @match ev.route.as_deref() {
                        Some(r) => (route_words(r)),
                        None => "–",
                    }
                }
                dt { "Reason" }
                dd #route-reason { (ev.reason.as_deref().unwrap_or("–")) }
            }
            (objective_notes(&ev, drift_detected(&rec.drift)))
        }
    }
}

/// Why a person decides although the numbers would promote, and a route more lenient
/// than the numbers shown (the reviewer must know before deciding).
fn objective_notes(ev: &Evaluation, drift: bool) -> Markup {
    html! {
        @if drift {
            p #review-why .note {
                @if ev.band == Some(Band::Promote) {
                    "The objective clears the promote threshold, but data drift was detected: "
                } @else {
                    "Data drift was detected: "
                }
                "a person must decide whatever the metrics say."
            }
        }
        @if let (Some(true), Some(b)) = (ev.route_more_lenient(), ev.band) {
            p #route-mismatch .fail {
                "The route is more lenient than these thresholds allow: the candidate "
                (band_words(b)) "."
            }
        }
    }
}

/// The threshold cell: the objective's promote and review thresholds, otherwise the
/// metric's own limits.
fn threshold_cell(r: &MetricRow, goal: Goal) -> Markup {
    if r.objective {
        return html! {
            "promote " (at_least(goal, r.promote)) " · review " (at_least(goal, r.min.or(r.max)))
        };
    }
    html! {
        @match (r.min, r.max) {
            (Some(lo), Some(hi)) => { (fmt_num(Some(lo))) " – " (fmt_num(Some(hi))) },
            (Some(lo), None) => { "≥ " (fmt_num(Some(lo))) },
            (None, Some(hi)) => { "≤ " (fmt_num(Some(hi))) },
            (None, None) => "–",
        }
    }
}

/// The check cell: the objective's band, otherwise pass/fail against the threshold.
fn check_cell(r: &MetricRow) -> Markup {
    html! {
        @match (r.band, r.passed) {
            (Some(Band::Promote), _) => span.pass { "promote" },
            (Some(Band::Review), _) => span.review { "review" },
            (Some(Band::Below), _) => span.fail { "below review" },
            (None, Some(true)) => span.pass { "pass" },
            (None, Some(false)) => span.fail { "FAIL" },
            (None, None) => "–",
        }
    }
}

/// One row per metric: candidate, baseline, the difference, the threshold and the check;
/// the objective first and marked.
fn metrics_table(rec: &ApprovalRecord) -> Markup {
    let rows = metric_rows(&rec.metrics);
    if rows.is_empty() {
        return html! { p.note { "No metrics were reported." } };
    }
    let goal = evaluation(&rec.metrics)
        .and_then(|e| e.goal)
        .unwrap_or_default();
    html! {
        table #metrics {
            thead { tr { th { "Metric" } th { "Candidate" } th { "Baseline" } th { "Δ" } th { "Threshold" } th { "Check" } } }
            tbody {
                @for r in &rows {
                    tr class=[r.objective.then_some("objective")] {
                        td { (r.name) @if r.objective { " " span.note { "(objective)" } } }
                        td { (fmt_num(r.candidate)) }
                        td { (fmt_num(r.baseline)) }
                        td {
                            @match r.delta() {
                                Some(d) => (format!("{d:+.4}")),
                                None => "–",
                            }
                        }
                        td { (threshold_cell(r, goal)) }
                        td { (check_cell(r)) }
                    }
                }
            }
        }
    }
}

/// What the objective's band against production means, in a reviewer's words.
fn comparison_band_words(band: &str) -> &'static str {
    match band {
        "first_model" => "The first model for this endpoint: there is no production model to compare with, the absolute thresholds decided",
        "baseline_unusable" => "The production model's report could not be used: the absolute thresholds decided",
        "improved" => "Better than production on the objective",
        "within_tolerance" => "As good as production on the objective, within the tolerance",
        "below" => "Below production on the objective, beyond the tolerance",
        "far_below" => "Far below production on the objective",
        _ => "As sent",
    }
}

fn comparison_status_words(status: &str) -> &str {
    match status {
        "improved" => "better",
        "held" => "held",
        "degraded" => "worse",
        "missing" => "missing",
        "new" => "new, not compared",
        "within_limit" => "within limit",
        "over_limit" => "over limit",
        "unmeasured" => "not measured",
        "info" => "shown only",
        other => other,
    }
}

/// A size in bytes as an integer, everything else with four decimals.
fn fmt_value(r: &ComparisonRow, v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() && r.dimension == "size" => format!("{x:.0}"),
        _ => fmt_num(v),
    }
}

/// What the row is held to.
fn comparison_limit(r: &ComparisonRow) -> String {
    let Some(l) = r.limit.filter(|l| l.is_finite()) else {
        return "–".into();
    };
    match r.dimension.as_str() {
        "overall" | "segment" => format!("drop ≤ {:.1} %", l * 100.0),
        "fairness" => format!("gap widens ≤ {l:.4}"),
        "importance" => format!("overlap ≥ {l:.2}"),
        _ => format!("≤ {}", fmt_value(r, Some(l))),
    }
}

/// The comparison with the model in production, row by row: what passed, what failed,
/// what was not compared (docs/evaluation.md).
fn comparison_section(rec: &ApprovalRecord) -> Markup {
    let Some(c) = comparison(&rec.metrics) else {
        return html! {};
    };
    let failed: Vec<&ComparisonRow> = c.rows.iter().filter(|r| r.passed == Some(false)).collect();
    html! {
        h2 { "Against the model in production" }
        div #comparison {
            p #comparison-summary {
                @if let Some(b) = &c.band { (comparison_band_words(b)) ". " }
                @if let (Some(p), Some(f)) = (c.passed, c.failed) {
                    (p) " rows passed, " (f) " failed"
                    @if let Some(n) = c.rows_omitted { " (" (n) " passing rows not shown)" }
                    ". "
                }
                @if let Some(pkg) = &c.baseline_package { "Production: " code { (pkg) } }
            }
            @if !failed.is_empty() {
                p #comparison-failed.fail {
                    "Failed: "
                    @for (i, r) in failed.iter().enumerate() {
                        @if i > 0 { ", " }
                        (r.name) @if let Some(s) = &r.slice { " [" (s) "]" }
                    }
                }
            }
            @if c.rows.is_empty() {
                p.note { "No rows were compared." }
            } @else {
                table #comparison-rows {
                    thead { tr { th { "Dimension" } th { "Row" } th { "Candidate" } th { "Production" } th { "Change" } th { "Limit" } th { "Result" } } }
                    tbody {
                        @for r in &c.rows {
                            tr class=(format!("dim-{}", r.dimension)) {
                                td { (r.dimension) @if r.hard { " " span.note { "(hard limit)" } } }
                                td { (r.name) @if let Some(s) = &r.slice { " " span.note { "[" (s) "]" } } }
                                td { (fmt_value(r, r.candidate)) }
                                td { (fmt_value(r, r.baseline)) }
                                td {
                                    @match r.change.filter(|c| c.is_finite()) {
                                        Some(ch) => (format!("{:+.1} %", ch * 100.0)),
                                        None => "–",
                                    }
                                }
                                td { (comparison_limit(r)) }
                                td {
                                    @match r.passed {
                                        Some(true) => { span.pass { "pass" } " " span.note { (comparison_status_words(&r.status)) } },
                                        Some(false) => { span.fail { "FAIL" } " " span.note { (comparison_status_words(&r.status)) } },
                                        None => span.note { (comparison_status_words(&r.status)) },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One drifted feature as the drift detector's verdict lists it (`DriftedFeature`), or
/// just a name (older requests list names).
#[derive(Debug, Clone, PartialEq, Default)]
struct DriftRow {
    name: String,
    status: Option<String>,
    test: Option<String>,
    statistic: Option<f64>,
    pvalue: Option<f64>,
    pvalue_adjusted: Option<f64>,
    effect_metric: Option<String>,
    effect_size: Option<f64>,
    critical: bool,
}

fn drift_rows(drift: &Value) -> Vec<DriftRow> {
    let Some(list) = drift.get("drifted_features").and_then(Value::as_array) else {
        return Vec::new();
    };
    let s = |f: &Value, k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |f: &Value, k: &str| f.get(k).and_then(finite);
    list.iter()
        .map(|f| match f {
            Value::Object(_) => DriftRow {
                name: s(f, "name")
                    .or_else(|| s(f, "feature"))
                    .unwrap_or_else(|| "–".into()),
                status: s(f, "status"),
                test: s(f, "test"),
                statistic: n(f, "statistic"),
                pvalue: n(f, "pvalue"),
                pvalue_adjusted: n(f, "pvalue_adjusted"),
                effect_metric: s(f, "effect_metric"),
                effect_size: n(f, "effect_size"),
                critical: f.get("critical").and_then(Value::as_bool) == Some(true),
            },
            Value::String(name) => DriftRow {
                name: name.clone(),
                ..DriftRow::default()
            },
            other => DriftRow {
                name: other.to_string(),
                ..DriftRow::default()
            },
        })
        .collect()
}

/// The drift detector's words for why a feature counts (`drift::report::Status`).
fn status_words(s: &str) -> &str {
    match s {
        "tested" => "tested",
        "missing" => "missing from the new data",
        "all_null" => "all values null",
        "baseline_empty" => "no baseline values",
        "empty" => "no values",
        "type_changed" => "type changed",
        "ignored" => "ignored",
        other => other,
    }
}

fn test_words(t: &str) -> &str {
    match t {
        "ks" => "Kolmogorov–Smirnov",
        "chi-square" => "χ² (chi-square)",
        other => other,
    }
}

/// The drift verdict the pipeline passed in.
fn drift_summary(drift: &Value) -> Markup {
    let rows = drift_rows(drift);
    let critical: Vec<&str> = rows
        .iter()
        .filter(|r| r.critical)
        .map(|r| r.name.as_str())
        .collect();
    let truncated = drift
        .get("drifted_features_truncated")
        .and_then(Value::as_bool)
        == Some(true);
    match drift.get("drift_detected").and_then(Value::as_bool) {
        Some(true) => html! {
            p.fail {
                "Drift detected in " (rows.len()) @if truncated { "+" } " feature(s)"
                @if !critical.is_empty() { ", critical: " (critical.join(", ")) }
                "."
                @if truncated { " The list is cut short; the drift report has them all." }
            }
        },
        Some(false) => html! { p.pass { "No drift detected." } },
        None => html! { p.note { "No drift summary was reported." } },
    }
}

/// The drifted features, one row each.
fn drift_table(drift: &Value) -> Markup {
    let rows = drift_rows(drift);
    html! {
        @if !rows.is_empty() {
            table #drift-features {
                thead { tr {
                    th { "Feature" } th { "Status" } th { "Test" } th { "Statistic" }
                    th { "p-value" } th { "Adjusted p" } th { "Effect size" } th { "Critical" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td.feature { (r.name) }
                            td { (r.status.as_deref().map(status_words).unwrap_or("–")) }
                            td { (r.test.as_deref().map(test_words).unwrap_or("–")) }
                            td { (fmt_num(r.statistic)) }
                            td { (fmt_p(r.pvalue)) }
                            td { (fmt_p(r.pvalue_adjusted)) }
                            td {
                                @match (&r.effect_metric, r.effect_size) {
                                    (Some(m), v) => { (m) " " (fmt_num(v)) },
                                    (None, Some(v)) => (fmt_num(Some(v))),
                                    (None, None) => "–",
                                }
                            }
                            td { @if r.critical { span.fail { "critical" } } @else { "–" } }
                        }
                    }
                }
            }
        }
    }
}

/// Presigned links to the reports, when there are any.
fn reports(ctx: &PageContext<'_>) -> Markup {
    html! {
        @if !ctx.links.is_empty() {
            h2 { "Reports" }
            p.note { "Links valid for " (ctx.link_minutes) " minutes." }
            ul #reports {
                @for (label, url) in ctx.links {
                    li { a href=(url) rel="noreferrer noopener" target="_blank" { (label) } }
                }
            }
        }
    }
}

/// The decision once made, or why the approval is closed.
fn decision(rec: &ApprovalRecord) -> Markup {
    if let Some(d) = &rec.decision {
        let (word, class) = match d.decision {
            Decision::Approve => ("Approved", "approved-box"),
            Decision::Reject => ("Rejected", "rejected-box"),
        };
        return html! {
            section #decision class=(class) {
                p { strong { (word) } " by " (d.reviewer) " at " (d.decided_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                @if !d.comment.is_empty() {
                    blockquote #decision-comment { (d.comment) }
                }
            }
        };
    }
    html! {
        @if rec.status == Status::Closed {
            section #decision {
                p { "This approval is no longer open: " (rec.closed_reason.as_deref().unwrap_or("closed")) "." }
            }
        }
    }
}

/// The form for a viewer who may decide, otherwise the reason they may not.
fn form_or_reason(rec: &ApprovalRecord, ctx: &PageContext<'_>) -> Markup {
    match cannot_decide(rec, ctx.viewer, ctx.now) {
        None => html! {
            form #decide method="post" action=(ctx.form_action) {
                input type="hidden" name="csrf_token" value=(rec.csrf_token);
                p {
                    label for="comment" { "Comment (recorded with your decision)" }
                    textarea #comment name="comment" maxlength="2000" {}
                }
                p {
                    button #approve type="submit" name="decision" value="approve" { "Approve" }
                    button #reject type="submit" name="decision" value="reject" { "Reject" }
                }
                p.note { "Signed in as " (ctx.viewer.map(|v| v.display.as_str()).unwrap_or("")) "." }
            }
        },
        Some(why) if !why.is_empty() => html! { p #cannot-decide .note { (why) } },
        Some(_) => html! {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::model::{ApprovalRequest, DecisionInfo};
    use chrono::Duration;
    use serde_json::json;

    fn record() -> ApprovalRecord {
        let req: ApprovalRequest = serde_json::from_value(json!({
            "task_token": "TOKEN-SECRET",
            "execution_name": "run-<1>",
            "approvers": ["alice@example.org"],
            "started_by": "bob@example.org",
            "metrics": {"auc": {"candidate": 0.91, "baseline": 0.9, "threshold": 0.85}},
            "drift": {"drift_detected": true, "drifted_features": ["age", "<script>"]},
        }))
        .unwrap();
        let now = Utc::now();
        ApprovalRecord::new(&req, "0".repeat(32), now, now + Duration::hours(2))
    }

    fn ctx(viewer: Option<&Identity>) -> PageContext<'_> {
        PageContext {
            viewer,
            links: &[],
            now: Utc::now(),
            form_action: "https://x/approvals/0/decision".into(),
            link_minutes: 15,
        }
    }

    #[test]
    fn approver_sees_form_with_csrf_and_no_token() {
        let rec = record();
        let claims = [
            ("sub".to_string(), "a1".to_string()),
            ("email".to_string(), "alice@example.org".to_string()),
            ("email_verified".to_string(), "true".to_string()),
        ]
        .into_iter()
        .collect();
        let v = Identity::from_jwt_claims(&claims).unwrap();
        let page = render_page(&rec, &ctx(Some(&v)));
        assert!(page.contains("id=\"approve\"") && page.contains(&rec.csrf_token));
        assert!(!page.contains("TOKEN-SECRET"));
        assert!(page.contains("run-&lt;1&gt;") && !page.contains("<script>"));
        assert!(page.contains("0.9100") && page.contains("+0.0100") && page.contains("pass"));
        assert!(page.contains("id=\"time-left\"") && page.contains(" min left"));
    }

    #[test]
    fn others_see_why_not_and_decision_replaces_form() {
        let mut rec = record();
        let bob = Identity::from_jwt_claims(
            &[
                ("sub".to_string(), "b".to_string()),
                ("email".to_string(), "bob@example.org".to_string()),
                ("email_verified".to_string(), "true".to_string()),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        let page = render_page(&rec, &ctx(Some(&bob)));
        assert!(!page.contains("id=\"approve\"") && page.contains("not on the list"));
        assert!(
            !page.contains(&rec.csrf_token),
            "no CSRF token for those who cannot post"
        );
        assert!(render_page(&rec, &ctx(None)).contains("Sign in"));
        rec.status = Status::Approved;
        rec.decision = Some(DecisionInfo {
            decision: Decision::Approve,
            reviewer: "alice@example.org".into(),
            reviewer_kind: "jwt".into(),
            comment: "ship <it>".into(),
            decided_at: Utc::now(),
            source_ip: None,
            user_agent: None,
            via: "http".into(),
        });
        let page = render_page(&rec, &ctx(Some(&bob)));
        assert!(
            page.contains("id=\"decision\"")
                && page.contains("ship &lt;it&gt;")
                && !page.contains("<form")
        );
    }

    /// The drift part as the shipped ASL passes it: the drift detector's `Verdict`,
    /// through DriftCheck's ResultSelector.
    fn shipped_drift() -> Value {
        use crate::drift::report::{DriftedFeature, Status as FeatureStatus, Verdict};
        let feature = |name: &str, critical: bool| DriftedFeature {
            name: name.into(),
            test: Some("ks".into()),
            statistic: Some(0.61),
            pvalue: Some(1.2e-9),
            pvalue_adjusted: Some(2.4e-9),
            effect_metric: Some("ks_d".into()),
            effect_size: Some(0.61),
            critical,
            status: FeatureStatus::Tested,
        };
        let v = serde_json::to_value(Verdict {
            drift_detected: true,
            drifted_features: vec![
                feature("monthly_charges", true),
                feature("<b>tenure</b>", false),
                DriftedFeature {
                    name: "region".into(),
                    test: None,
                    statistic: None,
                    pvalue: None,
                    pvalue_adjusted: None,
                    effect_metric: None,
                    effect_size: None,
                    critical: false,
                    status: FeatureStatus::Missing,
                },
            ],
            drifted_features_truncated: false,
            drifted_count: 3,
            features_checked: 13,
            share_drifted: 3.0 / 13.0,
            share_threshold: 0.5,
            critical_drifted: vec!["monthly_charges".into()],
            missing_features: vec!["region".into()],
            new_features: vec![],
            rows_baseline: 100,
            rows_current: 100,
            report_uri: Some("s3://b/pipeline/run/reports/drift/drift.json".into()),
            html_report_uri: Some("s3://b/pipeline/run/reports/drift/drift.html".into()),
        })
        .unwrap();
        json!({"drift_detected": v["drift_detected"], "drifted_features": v["drifted_features"],
               "report_uri": v["report_uri"], "html_report_uri": v["html_report_uri"]})
    }

    fn shipped_record(metrics: Value, drift: Value) -> ApprovalRecord {
        let mut rec = record();
        rec.metrics = metrics;
        rec.drift = drift;
        rec
    }

    fn shipped_metrics() -> Value {
        json!({"metric": "validation:accuracy", "goal": "Maximize", "value": 0.87,
               "metrics": {"validation:accuracy": 0.87, "f1": 0.85},
               "baseline": {"validation:accuracy": 0.86, "f1": 0.86},
               "thresholds": {"promote": 0.9, "review": 0.8},
               "route": "human", "reason": "objective 0.87 is in the review band [0.8, 0.9)",
               "report_uri": "s3://b/pipeline/run/evaluation/evaluation.json"})
    }

    /// The text of the element with `id` (its first tag's content up to the closing tag
    /// of the same name; enough for these flat elements).
    fn element<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}"));
        let open = page[..start].rfind('<').unwrap();
        let tag: String = page[open + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let end = page[start..].find(&format!("</{tag}>")).unwrap() + start;
        &page[start..end]
    }

    #[test]
    fn shipped_request_shows_objective_gate_route_and_drift_table() {
        let rec = shipped_record(shipped_metrics(), shipped_drift());
        let page = render_page(&rec, &ctx(None));
        assert!(element(&page, "objective-name").contains("validation:accuracy"));
        assert!(page.contains("(higher is better)"));
        assert!(element(&page, "objective-value").contains("0.8700"));
        let base = element(&page, "objective-baseline");
        assert!(
            base.contains("0.8600") && base.contains("+0.0100"),
            "{base}"
        );
        assert_eq!(
            element(&page, "thresholds"),
            "id=\"thresholds\">promote at ≥ 0.9000, review at ≥ 0.8000: the candidate is in the review band."
        );
        assert!(element(&page, "route").contains("A person decides"));
        assert!(element(&page, "route-reason").contains("review band [0.8, 0.9)"));
        assert!(!page.contains("id=\"route-mismatch\""));

        // The table: the objective first, with its band; f1 against its baseline.
        let table = element(&page, "metrics");
        let (obj, f1) = (
            table.find("validation:accuracy").unwrap(),
            table.find(">f1<").unwrap(),
        );
        assert!(obj < f1, "objective first");
        assert!(table.contains("promote ≥ 0.9000 · review ≥ 0.8000"));
        assert!(table.contains("class=\"review\">review<"));
        assert!(table.contains("0.8500") && table.contains("-0.0100"));
        assert!(!table.contains(">metrics<") && !table.contains(">value<"));

        // Drift: a real table of the verdict's entries, escaped, no raw JSON.
        let drift = element(&page, "drift");
        assert!(drift.contains("Drift detected in 3 feature(s), critical: monthly_charges."));
        let table = element(&page, "drift-features");
        assert!(table.contains(">monthly_charges<") && table.contains("Kolmogorov–Smirnov"));
        assert!(table.contains("0.6100") && table.contains("1.20e-9") && table.contains("2.40e-9"));
        assert!(table.contains("ks_d 0.6100") && table.contains(">critical<"));
        assert!(table.contains("&lt;b&gt;tenure&lt;/b&gt;") && !page.contains("<b>tenure"));
        assert!(table.contains("missing from the new data"));
        assert!(
            !page.contains("{\"") && !page.contains("pvalue"),
            "no raw JSON"
        );
        assert!(
            element(&page, "review-why").contains("Data drift was detected: a person must decide")
        );
    }

    #[test]
    fn drift_explains_a_review_the_numbers_would_skip_and_a_lenient_route_is_flagged() {
        // What read-evaluation sends under drift: a person reviews what would promote.
        let mut m = shipped_metrics();
        m["value"] = json!(0.95);
        m["reason"] = json!("objective 0.95 meets the promote threshold 0.9, but drift was flagged: a person reviews it");
        let page = render_page(&shipped_record(m.clone(), shipped_drift()), &ctx(None));
        let why = element(&page, "review-why");
        assert!(why.contains("clears the promote threshold, but data drift was detected"));
        assert!(element(&page, "route").contains("A person decides"));
        assert!(
            !page.contains("id=\"route-mismatch\""),
            "stricter is not flagged"
        );
        assert!(element(&page, "metrics").contains("class=\"pass\">promote<"));

        // No drift: no note. A route more lenient than the numbers: said so.
        m["value"] = json!(0.85);
        m["route"] = json!("auto");
        let no_drift = json!({"drift_detected": false, "drifted_features": []});
        let page = render_page(&shipped_record(m, no_drift), &ctx(None));
        assert!(!page.contains("id=\"review-why\"") && !page.contains("id=\"drift-features\""));
        assert!(element(&page, "route-mismatch").contains("more lenient"));
        assert!(element(&page, "thresholds").contains("the candidate is in the review band"));
        assert!(page.contains("No drift detected."));
    }

    #[test]
    fn minimised_objectives_read_the_other_way() {
        let m = json!({"metric": "validation:rmse", "goal": "Minimize", "value": 0.31,
                       "metrics": {"validation:rmse": 0.31}, "baseline": {},
                       "thresholds": {"promote": 0.2, "review": 0.3},
                       "route": "reject", "reason": "objective 0.31 is above the review threshold 0.3"});
        let page = render_page(&shipped_record(m, Value::Null), &ctx(None));
        assert!(page.contains("(lower is better)"));
        assert!(element(&page, "thresholds").contains("promote at ≤ 0.2000, review at ≤ 0.3000"));
        assert!(element(&page, "objective-baseline").contains("No baseline was reported."));
        assert!(element(&page, "route").contains("Reject"));
        assert!(element(&page, "metrics").contains("class=\"fail\">below review<"));
        assert!(page.contains("No drift summary was reported."));
    }

    #[test]
    fn odd_values_render_as_a_dash() {
        let m = json!({"metric": "<acc>", "goal": "sideways", "value": "NaN",
                       "metrics": {"<acc>": null, "f1": "x"}, "baseline": "none",
                       "thresholds": [], "route": "sideways", "reason": 5});
        let drift = json!({"drift_detected": true,
                           "drifted_features": ["age", 7, {"feature": "x", "pvalue": "NaN", "statistic": "1e400"}, {}],
                           "drifted_features_truncated": true});
        let page = render_page(&shipped_record(m, drift), &ctx(None));
        assert!(element(&page, "objective-name").contains("&lt;acc&gt;"));
        assert!(element(&page, "objective-value").contains('–'));
        assert!(element(&page, "thresholds").contains("No thresholds were reported."));
        assert!(element(&page, "route").contains("sideways (a route this page does not know)"));
        assert!(element(&page, "route-reason").contains('–'));
        let table = element(&page, "drift-features");
        assert!(table.contains(">age<") && table.contains(">7<") && table.contains(">x<"));
        assert!(!table.contains("NaN") && !table.contains("inf"));
        assert!(element(&page, "drift").contains("4+ feature(s)"));
        // Not an array, not an object: still a page.
        let page = render_page(
            &shipped_record(
                json!("text"),
                json!({"drift_detected": true, "drifted_features": "age"}),
            ),
            &ctx(None),
        );
        assert!(page.contains("No metrics were reported.") && page.contains("Drift detected in 0"));
    }

    #[test]
    fn time_left_formats() {
        let now = Utc::now();
        assert_eq!(time_left(now, now), "expired");
        assert_eq!(time_left(now + Duration::seconds(30), now), "30 s left");
        assert_eq!(
            time_left(now + Duration::seconds(3 * 3600 + 5 * 60), now),
            "3 h 05 min left"
        );
        assert_eq!(
            time_left(now + Duration::days(2) + Duration::hours(1), now),
            "2 d 1 h left"
        );
    }

    #[test]
    fn the_comparison_shows_every_row_with_what_passed_and_failed() {
        let mut m = shipped_metrics();
        m["comparison"] = json!({"band": "improved", "baseline_package": "arn:aws:sagemaker:us-east-1:1:model-package/g/1",
            "passed": 2, "failed": 2, "rows_omitted": 0, "rows": [
            {"dimension": "overall", "name": "f1", "candidate": 0.9, "baseline": 0.88, "change": 0.0227, "limit": 0.02, "status": "improved", "passed": true, "hard": false},
            {"dimension": "segment", "name": "acc", "slice": "<b>sex=f</b>", "candidate": 0.8, "baseline": 0.9, "change": -0.111, "limit": 0.05, "status": "degraded", "passed": false, "hard": false},
            {"dimension": "importance", "name": "top-10 overlap", "candidate": 0.82, "baseline": 1.0, "limit": 0.5, "status": "held", "passed": true, "hard": false},
            {"dimension": "latency", "name": "p99_ms", "candidate": 150.0, "baseline": 40.0, "limit": 100.0, "status": "over_limit", "passed": false, "hard": true},
            {"dimension": "size", "name": "memory_bytes", "candidate": 50000000.0, "baseline": 40000000.0, "status": "info", "passed": null, "hard": false}
        ]});
        let page = render_page(&shipped_record(m, shipped_drift()), &ctx(None));
        let table = element(&page, "comparison-rows");
        assert_eq!(table.matches("<tr class=\"dim-").count(), 5, "{table}");
        assert!(
            table.contains("+2.3 %") && table.contains("-11.1 %"),
            "{table}"
        );
        assert!(
            table.contains("drop ≤ 5.0 %")
                && table.contains("overlap ≥ 0.50")
                && table.contains("≤ 100.0000")
        );
        assert!(table.contains("50000000") && table.contains("(hard limit)"));
        assert_eq!(table.matches("class=\"fail\">FAIL<").count(), 2);
        assert_eq!(table.matches("class=\"pass\">pass<").count(), 2);
        // Escaped, never markup.
        assert!(table.contains("&lt;b&gt;sex=f&lt;/b&gt;") && !table.contains("<b>"));
        let failed = element(&page, "comparison-failed");
        assert!(
            failed.contains("acc [&lt;b&gt;sex=f&lt;/b&gt;]") && failed.contains("p99_ms"),
            "{failed}"
        );
        let summary = element(&page, "comparison-summary");
        assert!(
            summary.contains("Better than production")
                && summary.contains("2 rows passed, 2 failed"),
            "{summary}"
        );
        // An older request without a comparison shows no section.
        let page = render_page(
            &shipped_record(shipped_metrics(), shipped_drift()),
            &ctx(None),
        );
        assert!(!page.contains("Against the model in production"));
    }
}
