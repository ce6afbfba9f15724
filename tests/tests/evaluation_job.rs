//! The reference evaluation job (evaluation/evaluate.py) on real data and real models:
//! scikit-learn's bundled breast-cancer set, a depth-2 tree as the model in production
//! and a 200-tree random forest as the candidate (evaluation/example.py, seeded). The
//! job's reports must pass the JSON Schema (evaluation/validate.py, jsonschema), agree
//! with the predictions it wrote, parse in the Rust gate, and be routed by it as the rules
//! say for the numbers they hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use trainguard::evaluation::{Baseline, GatePolicy, Report};
use trainguard::trigger::read_evaluation::{gate, ReadEvaluationInput, Thresholds};
use trainguard_tests::{output_dir, workspace_root};

const OBJECTIVE: &str = "validation:accuracy";

fn python() -> PathBuf {
    let py = workspace_root().join(".venv-eval/bin/python");
    assert!(
        py.exists(),
        "{} missing: run `bash scripts/setup.d/evaluation.sh` (scripts/setup.sh does)",
        py.display()
    );
    py
}

fn run(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(python())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Train both models, evaluate both; (dir, production report, candidate report).
fn reports() -> (PathBuf, Value, Value) {
    let dir = output_dir("evaluation-job");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    run(&["evaluation/example.py", d], &[]);
    let env = [
        ("OBJECTIVE_METRIC", OBJECTIVE),
        ("OBJECTIVE_GOAL", "Maximize"),
        ("SLICE_COLUMNS", "mean radius,mean texture"),
        ("LATENCY_SAMPLES", "50"),
    ];
    for m in ["production", "candidate"] {
        run(
            &[
                "evaluation/evaluate.py",
                "--model",
                &format!("{d}/{m}"),
                "--data",
                &format!("{d}/holdout"),
                "--out",
                &format!("{d}/{m}/eval"),
                "--predictions",
                &format!("{d}/{m}/predictions.csv"),
            ],
            &env,
        );
    }
    let read = |m: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(m).join("eval/evaluation.json")).unwrap())
            .unwrap()
    };
    (dir.clone(), read("production"), read("candidate"))
}

/// Accuracy recomputed from the job's predictions file (y_true,y_pred per row).
fn accuracy_from(predictions: &Path) -> (f64, usize) {
    let text = std::fs::read_to_string(predictions).unwrap();
    let rows: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap())
        .collect();
    let right = rows.iter().filter(|(t, p)| t == p).count();
    (right as f64 / rows.len() as f64, rows.len())
}

fn input() -> ReadEvaluationInput {
    serde_json::from_value(json!({
        "report_uri": "s3://local/evaluation.json",
        "objective": {"metric": OBJECTIVE, "goal": "Maximize"},
    }))
    .unwrap()
}

const ABSOLUTE: Thresholds = Thresholds {
    promote: 0.9,
    review: 0.8,
};

fn compare(candidate: &Value, baseline: &Value) -> Value {
    let b = Baseline::Report {
        package: "arn:aws:sagemaker:us-east-1:1:model-package/g/1".into(),
        report: Box::new(Report::parse(baseline).unwrap()),
    };
    gate(
        candidate,
        &input(),
        Some(ABSOLUTE),
        &GatePolicy::default(),
        &b,
    )
    .unwrap()
}

/// What the rows say the route must be (docs/evaluation.md#routing, no hard limits set).
fn route_by_the_rules(out: &Value) -> &'static str {
    let rows = out["comparison"]["rows"].as_array().unwrap();
    let compared: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            ["overall", "segment", "fairness", "importance"]
                .contains(&r["dimension"].as_str().unwrap())
        })
        .collect();
    let failed = compared.iter().filter(|r| r["passed"] == false).count();
    let passed = compared.iter().filter(|r| r["passed"] == true).count();
    let new = compared.iter().filter(|r| r["status"] == "new").count();
    let value = out["value"].as_f64().unwrap();
    let floor = if value >= ABSOLUTE.promote {
        "auto"
    } else if value >= ABSOLUTE.review {
        "human"
    } else {
        "reject"
    };
    let objective_change = rows
        .iter()
        .find(|r| r["dimension"] == "overall" && r["name"] == OBJECTIVE)
        .and_then(|r| r["change"].as_f64())
        .unwrap();
    let by_rows = if objective_change < -0.10 || (failed > 0 && passed == 0) {
        "reject"
    } else if failed == 0 && new == 0 && objective_change >= 0.0 {
        "auto"
    } else {
        "human"
    };
    let rank = |r: &str| {
        ["reject", "human", "auto"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    if rank(floor) < rank(by_rows) {
        floor
    } else {
        by_rows
    }
}

#[test]
fn the_reference_job_writes_valid_reports_the_gate_routes() {
    let (dir, production, candidate) = reports();
    // 1. Valid against the JSON Schema.
    let d = dir.to_str().unwrap();
    run(
        &[
            "evaluation/validate.py",
            &format!("{d}/production/eval/evaluation.json"),
            &format!("{d}/candidate/eval/evaluation.json"),
        ],
        &[],
    );
    for (m, r) in [("production", &production), ("candidate", &candidate)] {
        // 2. The numbers are the predictions': accuracy recomputed here, the slices of
        //    each column partition the holdout set.
        let (acc, n) = accuracy_from(&dir.join(m).join("predictions.csv"));
        assert!(
            (r["overall"][OBJECTIVE]["value"].as_f64().unwrap() - acc).abs() < 1e-12,
            "{m}"
        );
        assert_eq!(r["model"]["holdout_rows"].as_u64(), Some(n as u64));
        for col in ["mean radius", "mean texture"] {
            let rows: u64 = r["segments"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with(col))
                .map(|(_, s)| s["rows"].as_u64().unwrap())
                .sum();
            assert_eq!(
                rows, n as u64,
                "{m}: the slices of {col} cover the holdout set"
            );
        }
        let l = &r["latency_ms"];
        assert!(l["p50"].as_f64() <= l["p95"].as_f64() && l["p95"].as_f64() <= l["p99"].as_f64());
        assert!(r["size"]["artifact_bytes"].as_u64().unwrap() > 0);
        assert!(r["size"]["memory_bytes"].as_u64().unwrap() > 0);
        let top = r["feature_importance"].as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 10);
        // 3. The Rust gate reads it.
        Report::parse(r).unwrap_or_else(|e| panic!("{m}: {e}"));
    }
    // The forest beats the stump on accuracy (seeded data: a fact of these two models).
    let value = |r: &Value, k: &str| r["overall"][k]["value"].as_f64().unwrap();
    assert!(value(&candidate, OBJECTIVE) > value(&production, OBJECTIVE));

    // 4. Routed as the rules say for these numbers, both ways round.
    for (c, b, what) in [
        (&candidate, &production, "forest against the stump"),
        (&production, &candidate, "stump against the forest"),
    ] {
        let out = compare(c, b);
        // Every overall row's status follows from the two reports' values.
        for (name, m) in c["overall"].as_object().unwrap() {
            let row = out["comparison"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["dimension"] == "overall" && r["name"] == name.as_str())
                .unwrap();
            let (cv, bv) = (m["value"].as_f64().unwrap(), value(b, name));
            let better = if m["goal"] == "maximize" {
                cv - bv
            } else {
                bv - cv
            } / bv.abs();
            let want = if better > 1e-12 {
                "improved"
            } else if -better <= 0.02 {
                "held"
            } else {
                "degraded"
            };
            assert_eq!(row["status"], want, "{what}: {name} {cv} against {bv}");
        }
        assert_eq!(
            out["route"],
            route_by_the_rules(&out),
            "{what}: {}",
            out["reason"]
        );
    }
    // The stump is more than 2 % worse on the objective: "below", not promoted.
    let out = compare(&production, &candidate);
    let drop = 1.0 - value(&production, OBJECTIVE) / value(&candidate, OBJECTIVE);
    let band = if drop > 0.10 { "far_below" } else { "below" };
    assert!(drop > 0.02, "{drop}");
    assert_eq!(out["comparison"]["band"], band);
    assert_ne!(out["route"], "auto");
    // Against itself: every compared row held, auto-promoted (0.94 clears 0.9).
    let out = compare(&candidate, &candidate);
    assert_eq!(out["comparison"]["failed"], 0);
    assert_eq!(out["comparison"]["band"], "within_tolerance");
    assert_eq!(out["route"], "auto", "{}", out["reason"]);
    // And the first model is decided by the absolute thresholds alone.
    let first = gate(
        &candidate,
        &input(),
        Some(ABSOLUTE),
        &GatePolicy::default(),
        &Baseline::None,
    )
    .unwrap();
    assert_eq!(first["comparison"]["band"], "first_model");
    assert_eq!(first["route"], "auto");
}
