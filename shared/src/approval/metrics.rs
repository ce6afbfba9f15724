//! What reviewers read about the candidate: the objective against the pipeline's gate, and
//! one row per metric against the baseline.
//!
//! The shipped state machine sends the `read-evaluation` task's output as the request's
//! `metrics` (see [`evaluation`] and docs/approval-handler.md):
//! `{"metric", "goal", "value", "metrics": {..}, "baseline": {..},
//!   "thresholds": {"promote", "review"}, "route", "reason", "report_uri"}`.
//!
//! Hand-written requests and other pipelines may use an older shape, still accepted:
//! - columns: `{"candidate": {"auc": 0.91}, "baseline": {"auc": 0.90}, "thresholds": {"auc": 0.85}}`
//! - rows: `{"auc": {"candidate": 0.91, "baseline": 0.90, "threshold": 0.85}}`
//!   (`value` for `candidate`, optional `higher_is_better`)
//! - flat: `{"auc": 0.91}` (candidate only).
//!
//! There a threshold is a number (a minimum, or a maximum for losses/errors) or
//! `{"min","max"}`. Numbers are read as the trigger reads them (a JSON number or a numeric
//! string, finite only): anything else is "no value", shown as "–", never an error.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::trigger::select_best::{finite, Goal};

/// Where the objective stands against the pipeline's two thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Clears the promote threshold: good enough to promote without a person.
    Promote,
    /// Clears the review threshold only: a person decides.
    Review,
    /// Short of the review threshold: the pipeline rejects it.
    Below,
}

impl Band {
    /// The band a route stands for (`auto`, `human`, `reject`); `None` for other words.
    pub fn of_route(route: &str) -> Option<Band> {
        match route.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Band::Promote),
            "human" => Some(Band::Review),
            "reject" => Some(Band::Below),
            _ => None,
        }
    }

    /// How far a model in this band may go without more checks.
    fn rank(self) -> u8 {
        match self {
            Band::Below => 0,
            Band::Review => 1,
            Band::Promote => 2,
        }
    }
}

/// The pipeline's objective as `read-evaluation` checked it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The objective metric's name.
    pub metric: String,
    /// `None` when the report did not say; the bands then assume `Maximize`, as the state
    /// machine's gate does.
    pub goal: Option<Goal>,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    pub promote: Option<f64>,
    pub review: Option<f64>,
    /// Recomputed here from value, thresholds and goal, so the page can show when the
    /// route it was sent does not follow from the numbers it shows.
    pub band: Option<Band>,
    /// As sent: `auto`, `human`, `reject` (or a word this version does not know).
    pub route: Option<String>,
    /// Why `read-evaluation` chose the route, in its words.
    pub reason: Option<String>,
}

impl Evaluation {
    /// `Some(true)` when the route lets the model further than the numbers shown allow
    /// (auto from the review band, human from below it): the reviewer must know. A
    /// stricter route is not flagged: a person reviewing a model that would promote is
    /// what drift asks for. `None` when the route or the band is unknown.
    pub fn route_more_lenient(&self) -> Option<bool> {
        let routed = Band::of_route(self.route.as_deref()?)?;
        Some(routed.rank() > self.band?.rank())
    }
}

/// True when `value` is at least as good as `threshold` for `goal`.
fn clears(goal: Goal, value: f64, threshold: f64) -> bool {
    match goal {
        Goal::Maximize => value >= threshold,
        Goal::Minimize => value <= threshold,
    }
}

/// The band of a value; `None` without a value or without both thresholds (one threshold
/// alone cannot place a value in three bands).
pub fn band(
    goal: Goal,
    value: Option<f64>,
    promote: Option<f64>,
    review: Option<f64>,
) -> Option<Band> {
    let (v, p, r) = (value?, promote?, review?);
    Some(if clears(goal, v, p) {
        Band::Promote
    } else if clears(goal, v, r) {
        Band::Review
    } else {
        Band::Below
    })
}

fn goal_of(v: Option<&Value>) -> Option<Goal> {
    match v?.as_str()?.trim().to_ascii_lowercase().as_str() {
        "maximize" | "maximise" | "max" => Some(Goal::Maximize),
        "minimize" | "minimise" | "min" => Some(Goal::Minimize),
        _ => None,
    }
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(finite)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The objective of the shipped shape: `Some` when `metrics` names one (`metric` is a
/// string, with a `metrics` map or a `value` beside it), whatever else is missing.
pub fn evaluation(metrics: &Value) -> Option<Evaluation> {
    let obj = metrics.as_object()?;
    let metric = obj.get("metric")?.as_str()?.to_string();
    if !obj.get("metrics").is_some_and(Value::is_object) && !obj.contains_key("value") {
        return None;
    }
    let goal = goal_of(obj.get("goal"));
    let value = num(obj.get("value")).or_else(|| num(obj.get("metrics")?.get(&metric)));
    let baseline = num(obj.get("baseline").and_then(|b| b.get(&metric)));
    let thresholds = obj.get("thresholds");
    let promote = num(thresholds.and_then(|t| t.get("promote")));
    let review = num(thresholds.and_then(|t| t.get("review")));
    Some(Evaluation {
        band: band(goal.unwrap_or_default(), value, promote, review),
        metric,
        goal,
        value,
        baseline,
        promote,
        review,
        route: text(obj.get("route")),
        reason: text(obj.get("reason")),
    })
}

/// One metric for the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub name: String,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    /// The threshold(s) the value must hold; for the objective, the review threshold in
    /// the goal's direction (below it the pipeline rejects).
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Within the threshold(s); `None` when there is no threshold or no value.
    pub passed: Option<bool>,
    /// This row is the pipeline's objective (shipped shape only).
    pub objective: bool,
    /// The objective's promote threshold, in the goal's direction like `min`/`max`.
    pub promote: Option<f64>,
    /// Where the objective stands (objective row only).
    pub band: Option<Band>,
}

impl MetricRow {
    /// Candidate minus baseline, when both are known.
    pub fn delta(&self) -> Option<f64> {
        Some(self.candidate? - self.baseline?).filter(|d| d.is_finite())
    }
}

/// Names whose smaller values are better, so a bare-number threshold is a maximum.
fn lower_is_better(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["loss", "error", "rmse", "mae", "mse", "latency", "logloss"]
        .iter()
        .any(|k| n.contains(k))
}

fn threshold(
    name: &str,
    t: Option<&Value>,
    higher_is_better: Option<bool>,
) -> (Option<f64>, Option<f64>) {
    match t {
        Some(Value::Object(o)) => (num(o.get("min")), num(o.get("max"))),
        Some(v) => {
            let v = finite(v);
            if higher_is_better.unwrap_or(!lower_is_better(name)) {
                (v, None)
            } else {
                (None, v)
            }
        }
        None => (None, None),
    }
}

fn row(
    name: &str,
    candidate: Option<f64>,
    baseline: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> MetricRow {
    let passed = match (candidate, min, max) {
        (Some(_), None, None) | (None, _, _) => None,
        (Some(c), lo, hi) => Some(lo.is_none_or(|l| c >= l) && hi.is_none_or(|h| c <= h)),
    };
    MetricRow {
        name: name.to_string(),
        candidate,
        baseline,
        min,
        max,
        passed,
        objective: false,
        promote: None,
        band: None,
    }
}

/// The rows of the shipped shape: the objective first, then every other metric (of the
/// candidate or the baseline) by name.
fn evaluation_rows(obj: &Map<String, Value>, ev: &Evaluation) -> Vec<MetricRow> {
    let empty = Map::new();
    let cand = obj
        .get("metrics")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let base = obj
        .get("baseline")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let goal = ev.goal.unwrap_or_default();
    let (min, max) = match goal {
        Goal::Maximize => (ev.review, None),
        Goal::Minimize => (None, ev.review),
    };
    let mut first = row(&ev.metric, ev.value, ev.baseline, min, max);
    first.objective = true;
    first.promote = ev.promote;
    first.band = ev.band;
    let mut others: Vec<&String> = cand
        .keys()
        .chain(base.keys())
        .filter(|n| **n != ev.metric)
        .collect();
    others.sort();
    others.dedup();
    std::iter::once(first)
        .chain(
            others
                .into_iter()
                .map(|n| row(n, num(cand.get(n)), num(base.get(n)), None, None)),
        )
        .collect()
}

/// The table rows: the shipped shape's objective first, otherwise sorted by metric name;
/// unknown shapes give no rows.
pub fn metric_rows(metrics: &Value) -> Vec<MetricRow> {
    let Some(obj) = metrics.as_object() else {
        return Vec::new();
    };
    if let Some(ev) = evaluation(metrics) {
        return evaluation_rows(obj, &ev);
    }
    if let Some(Value::Object(cand)) = obj.get("candidate") {
        let empty = Map::new();
        let base = obj
            .get("baseline")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let thr = obj
            .get("thresholds")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut names: Vec<&String> = cand.keys().chain(base.keys()).chain(thr.keys()).collect();
        names.sort();
        names.dedup();
        return names
            .into_iter()
            .map(|n| {
                let (min, max) = threshold(n, thr.get(n), None);
                row(n, num(cand.get(n)), num(base.get(n)), min, max)
            })
            .collect();
    }
    let mut rows: Vec<MetricRow> = obj
        .iter()
        .filter_map(|(n, v)| match v {
            Value::Number(_) => Some(row(n, finite(v), None, None, None)),
            Value::Object(o) => {
                let cand = num(o.get("candidate").or_else(|| o.get("value")));
                let base = num(o.get("baseline"));
                let hib = o.get("higher_is_better").and_then(Value::as_bool);
                let (min, max) =
                    threshold(n, o.get("threshold").or_else(|| o.get("thresholds")), hib);
                Some(row(n, cand, base, min, max))
            }
            _ => None,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// One row of read-evaluation's comparison with the model in production
/// (`metrics.comparison.rows`, docs/evaluation.md#output), read leniently: a field of the
/// wrong type is "no value", never an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComparisonRow {
    /// `overall`, `segment`, `fairness`, `latency`, `size`, `importance`, `baseline`.
    pub dimension: String,
    pub name: String,
    pub slice: Option<String>,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    /// Relative change in the goal's direction (+ is better).
    pub change: Option<f64>,
    pub limit: Option<f64>,
    /// `improved`, `held`, `degraded`, `missing`, `new`, `within_limit`, `over_limit`,
    /// `unmeasured`, `info`.
    pub status: String,
    pub passed: Option<bool>,
    pub hard: bool,
}

/// The comparison as a whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// `first_model`, `baseline_unusable`, `improved`, `within_tolerance`, `below`,
    /// `far_below`.
    pub band: Option<String>,
    pub baseline_package: Option<String>,
    pub passed: Option<u64>,
    pub failed: Option<u64>,
    pub rows_omitted: Option<u64>,
    pub rows: Vec<ComparisonRow>,
}

/// The comparison of the shipped shape; `None` when the request carries none (an older
/// pipeline, a hand-written request).
pub fn comparison(metrics: &Value) -> Option<Comparison> {
    let c = metrics.get("comparison")?.as_object()?;
    let count = |k: &str| c.get(k).and_then(Value::as_u64);
    let rows = c
        .get("rows")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(Value::as_object)
                .map(|r| ComparisonRow {
                    dimension: text(r.get("dimension")).unwrap_or_default(),
                    name: text(r.get("name")).unwrap_or_default(),
                    slice: text(r.get("slice")),
                    candidate: num(r.get("candidate")),
                    baseline: num(r.get("baseline")),
                    change: num(r.get("change")),
                    limit: num(r.get("limit")),
                    status: text(r.get("status")).unwrap_or_default(),
                    passed: r.get("passed").and_then(Value::as_bool),
                    hard: r.get("hard").and_then(Value::as_bool).unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Comparison {
        band: text(c.get("band")),
        baseline_package: text(c.get("baseline_package")),
        passed: count("passed"),
        failed: count("failed"),
        rows_omitted: count("rows_omitted").filter(|n| *n > 0),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shipped shape, as `read-evaluation` returns it.
    fn shipped() -> Value {
        json!({"metric": "validation:accuracy", "goal": "Maximize", "value": 0.87,
               "metrics": {"validation:accuracy": 0.87, "f1": 0.85},
               "baseline": {"validation:accuracy": 0.86, "f1": 0.86},
               "thresholds": {"promote": 0.9, "review": 0.8},
               "route": "human", "reason": "objective 0.87 is in the review band [0.8, 0.9)",
               "report_uri": "s3://bucket/pipeline/run/evaluation/evaluation.json"})
    }

    #[test]
    fn shipped_shape_objective_first_with_baseline_delta_and_band() {
        let rows = metric_rows(&shipped());
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["validation:accuracy", "f1"]);
        let obj = &rows[0];
        assert!(obj.objective && !rows[1].objective);
        assert_eq!((obj.candidate, obj.baseline), (Some(0.87), Some(0.86)));
        assert!((obj.delta().unwrap() - 0.01).abs() < 1e-12);
        assert_eq!(
            (obj.min, obj.max, obj.promote),
            (Some(0.8), None, Some(0.9))
        );
        assert_eq!(obj.band, Some(Band::Review));
        assert_eq!(obj.passed, Some(true), "above review: not rejected");
        assert_eq!(
            (rows[1].candidate, rows[1].baseline),
            (Some(0.85), Some(0.86))
        );
        assert_eq!(rows[1].passed, None, "no thresholds but the objective's");

        let ev = evaluation(&shipped()).unwrap();
        assert_eq!(ev.goal, Some(Goal::Maximize));
        assert_eq!(ev.route.as_deref(), Some("human"));
        assert_eq!(ev.route_more_lenient(), Some(false));
        assert!(ev.reason.unwrap().contains("review band"));
    }

    #[test]
    fn bands_follow_the_goal() {
        let (p, r) = (Some(0.9), Some(0.8));
        assert_eq!(band(Goal::Maximize, Some(0.9), p, r), Some(Band::Promote));
        assert_eq!(band(Goal::Maximize, Some(0.85), p, r), Some(Band::Review));
        assert_eq!(band(Goal::Maximize, Some(0.79), p, r), Some(Band::Below));
        // A loss: promote at or under 0.2, review up to 0.3.
        let (p, r) = (Some(0.2), Some(0.3));
        assert_eq!(band(Goal::Minimize, Some(0.1), p, r), Some(Band::Promote));
        assert_eq!(band(Goal::Minimize, Some(0.25), p, r), Some(Band::Review));
        assert_eq!(band(Goal::Minimize, Some(0.31), p, r), Some(Band::Below));
        assert_eq!(band(Goal::Minimize, None, p, r), None);
        assert_eq!(band(Goal::Minimize, Some(0.1), None, r), None);

        let mut m = shipped();
        m["goal"] = json!("Minimize");
        m["thresholds"] = json!({"promote": 0.2, "review": 0.3});
        m["value"] = json!(0.25);
        m["route"] = json!("auto");
        let rows = metric_rows(&m);
        assert_eq!((rows[0].min, rows[0].max), (None, Some(0.3)));
        assert_eq!(rows[0].band, Some(Band::Review));
        let mut ev = evaluation(&m).unwrap();
        assert_eq!(
            ev.route_more_lenient(),
            Some(true),
            "auto from the review band"
        );
        // Stricter than the numbers: a person reviews what would promote (drift).
        ev.band = Some(Band::Promote);
        ev.route = Some("human".into());
        assert_eq!(ev.route_more_lenient(), Some(false));
        ev.route = Some("sideways".into());
        assert_eq!(ev.route_more_lenient(), None);
    }

    #[test]
    fn odd_input_gives_no_value_not_a_panic() {
        // Today's read-evaluation output (no goal, baseline, thresholds or route).
        let ev = evaluation(
            &json!({"metric": "acc", "value": 0.9, "metrics": {"acc": 0.9},
                                    "report_uri": "s3://b/e.json"}),
        )
        .unwrap();
        assert_eq!(
            (ev.goal, ev.band, ev.route_more_lenient()),
            (None, None, None)
        );
        // Strings, NaN-ish, nulls and wrong types in every slot.
        let m = json!({"metric": "acc", "goal": 3, "value": "NaN",
                       "metrics": {"acc": "x", "f1": "0.5", "n": null},
                       "baseline": [1], "thresholds": {"promote": "inf", "review": {}},
                       "route": 7, "reason": ""});
        let ev = evaluation(&m).unwrap();
        assert_eq!(
            (ev.value, ev.baseline, ev.promote, ev.review),
            (None, None, None, None)
        );
        assert_eq!((ev.route, ev.reason), (None, None));
        let rows = metric_rows(&m);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].candidate, rows[0].delta(), rows[0].passed),
            (None, None, None)
        );
        assert_eq!(rows[1].candidate, Some(0.5), "a numeric string is a number");
        assert_eq!(rows[2].candidate, None);
        // `metric` alone, without `metrics` or `value`, is not the shipped shape.
        assert!(evaluation(&json!({"metric": "acc"})).is_none());
    }

    #[test]
    fn column_shape() {
        let rows = metric_rows(&json!({
            "candidate": {"auc": 0.91, "logloss": 0.30},
            "baseline": {"auc": 0.90, "logloss": 0.28},
            "thresholds": {"auc": 0.85, "logloss": 0.29}
        }));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            row("auc", Some(0.91), Some(0.90), Some(0.85), None)
        );
        assert_eq!(rows[0].passed, Some(true));
        assert_eq!(rows[1].max, Some(0.29), "loss threshold is a maximum");
        assert_eq!(rows[1].passed, Some(false));
    }

    #[test]
    fn row_and_flat_shapes() {
        let rows = metric_rows(&json!({
            "f1": {"value": 0.7, "baseline": 0.72, "threshold": {"min": 0.75}},
            "latency_ms": {"candidate": 12.0, "threshold": 20, "higher_is_better": false},
            "n": 1000,
            "note": "ignored"
        }));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["f1", "latency_ms", "n"]);
        assert_eq!(rows[0].passed, Some(false));
        assert_eq!(rows[1].passed, Some(true));
        assert_eq!(rows[2].passed, None);
        assert!(rows.iter().all(|r| !r.objective && r.band.is_none()));
        assert!(metric_rows(&json!(null)).is_empty());
        assert!(metric_rows(&json!([1, 2])).is_empty());
    }

    #[test]
    fn the_comparison_is_read_leniently() {
        let m = json!({"metric": "acc", "metrics": {"acc": 0.9}, "comparison": {
        "band": "below", "baseline_package": "arn:p/1", "passed": 3, "failed": 1, "rows_omitted": 0,
        "rows": [
            {"dimension": "segment", "name": "acc", "slice": "sex=f", "candidate": 0.8, "baseline": 0.9,
             "change": -0.111, "limit": 0.05, "status": "degraded", "passed": false, "hard": false},
            {"dimension": "latency", "name": "p99_ms", "candidate": "fast", "status": 7, "passed": null, "hard": true},
            "junk"
        ]}});
        let c = comparison(&m).unwrap();
        assert_eq!(
            (c.band.as_deref(), c.passed, c.failed, c.rows_omitted),
            (Some("below"), Some(3), Some(1), None)
        );
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].slice.as_deref(), Some("sex=f"));
        assert_eq!(
            (c.rows[0].passed, c.rows[0].change),
            (Some(false), Some(-0.111))
        );
        assert_eq!(
            (
                c.rows[1].candidate,
                c.rows[1].status.as_str(),
                c.rows[1].hard
            ),
            (None, "", true)
        );
        assert!(comparison(&json!({"metric": "acc", "value": 1})).is_none());
    }
}
