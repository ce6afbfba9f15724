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
use super::metrics::metric_rows;
use super::model::{ApprovalRecord, Decision, Status};

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

fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        Some(x) => x.to_string(),
        None => "–".into(),
    }
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
                h2 { "Candidate against baseline" }
                (metrics_table(rec))
                h2 { "Data drift" }
                div #drift { (drift_summary(&rec.drift)) }
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

/// One row per metric: candidate, baseline, the difference, the threshold and the check.
fn metrics_table(rec: &ApprovalRecord) -> Markup {
    let rows = metric_rows(&rec.metrics);
    if rows.is_empty() {
        return html! { p.note { "No metrics were reported." } };
    }
    html! {
        table #metrics {
            thead { tr { th { "Metric" } th { "Candidate" } th { "Baseline" } th { "Δ" } th { "Threshold" } th { "Check" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { (r.name) }
                        td { (fmt_num(r.candidate)) }
                        td { (fmt_num(r.baseline)) }
                        td {
                            @match (r.candidate, r.baseline) {
                                (Some(c), Some(b)) => (format!("{:+.4}", c - b)),
                                _ => "–",
                            }
                        }
                        td {
                            @match (r.min, r.max) {
                                (Some(lo), Some(hi)) => { (fmt_num(Some(lo))) " – " (fmt_num(Some(hi))) },
                                (Some(lo), None) => { "≥ " (fmt_num(Some(lo))) },
                                (None, Some(hi)) => { "≤ " (fmt_num(Some(hi))) },
                                (None, None) => "–",
                            }
                        }
                        td {
                            @match r.passed {
                                Some(true) => span.pass { "pass" },
                                Some(false) => span.fail { "FAIL" },
                                None => "–",
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The drift verdict the pipeline passed in.
fn drift_summary(drift: &Value) -> Markup {
    match drift.get("drift_detected").and_then(Value::as_bool) {
        Some(true) => {
            let feats: Vec<String> = drift
                .get("drifted_features")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            f.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| f.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            html! { p.fail { "Drift detected in " (feats.len()) " feature(s): " (feats.join(", ")) } }
        }
        Some(false) => html! { p.pass { "No drift detected." } },
        None => html! { p.note { "No drift summary was reported." } },
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
}
