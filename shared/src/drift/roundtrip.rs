//! Ties through every text round trip, checked against scipy (issue 11).
//!
//! Real tables repeat values whose shortest decimal form is long (3.4523399999999995 is
//! 3.45234 computed in binary), thousands of times. A KS test sees those repeats as ties,
//! and ties only survive if every value that goes through text comes back as the same
//! double: the CSV parse, the baseline JSON written and read back, the shard profiles
//! written, read and merged. serde_json's default float parser is not correctly rounded
//! (about one shortest-repr double in eight comes back as its neighbour), which split each
//! tie into "equal" and "between" counts and inflated D tenfold; the workspace now enables
//! its `float_roundtrip` feature.
//!
//! The cases in `tests/fixtures/drift/ks_ties_roundtrip.json` (written by
//! `scripts/oracle/gen_drift_fixtures.py`) draw 2,000-12,000 values from ten long decimals.
//! Each is run the way the pipeline runs it, through the drift-detector's task kinds on
//! real files: `baseline` from a CSV or Parquet file, then `check` on the current file
//! (single pass), and `profile` per shard + `merge` + `check` on the merged profile (the
//! Distributed Map path). The sample holds every baseline value, so the sample-vs-all KS
//! is the full two-sample KS and must equal `scipy.stats.ks_2samp` on the raw values: D
//! exactly, p within the oracle tolerance of `oracle.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::Float64Array;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use serde_json::{json, Value};

use super::task::{self, Io, TaskInput};
use crate::lambda::Deadline;
use crate::profile::{FeatureStats, Profile};

#[derive(Clone, Copy, Debug)]
enum Format {
    Csv,
    Parquet,
}

struct Case {
    name: String,
    /// The decimals exactly as the fixture writes them (Python's shortest repr).
    texts: Vec<String>,
    baseline: Vec<usize>,
    current: Vec<usize>,
    statistic: f64,
    pvalue: f64,
}

fn cases() -> Vec<Case> {
    let path = crate::test_support::repo_path("tests/fixtures/drift/ks_ties_roundtrip.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        doc["scipy"], "1.17.1",
        "fixtures must come from the pinned scipy"
    );
    let digits = |v: &Value| -> Vec<usize> {
        v.as_str()
            .unwrap()
            .bytes()
            .map(|b| usize::from(b - b'0'))
            .collect()
    };
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["alternative"], "two-sided");
            assert_eq!(c["method"], "auto");
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                texts: c["decimals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
                baseline: digits(&c["baseline"]),
                current: digits(&c["current"]),
                statistic: num(&c["statistic"]),
                pvalue: num(&c["pvalue"]),
            }
        })
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let n: u64 = rand::random();
    let d = std::env::temp_dir().join(format!("tg-ties-{tag}-{n:016x}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Write one column `x` holding `texts[i]` for each index: the decimal text itself in a
/// CSV, the double it parses to (Rust's parser is correctly rounded) in Parquet.
fn write_data(path: &Path, format: Format, texts: &[String], idx: &[usize]) {
    match format {
        Format::Csv => {
            let mut s = String::from("x\n");
            for &i in idx {
                s.push_str(&texts[i]);
                s.push('\n');
            }
            std::fs::write(path, s).unwrap();
        }
        Format::Parquet => {
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
            let values: Vec<f64> = idx.iter().map(|&i| texts[i].parse().unwrap()).collect();
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))])
                    .unwrap();
            let file = std::fs::File::create(path).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
    }
}

async fn run(input: Value) -> Value {
    let input: TaskInput = serde_json::from_value(input).unwrap();
    let io = Io { store: None };
    match task::run(&io, &input, Deadline::none()).await {
        Ok((v, _)) => v,
        Err(e) => panic!("{}: {}", e.name, e.message),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Run a `check` task with its reports under `prefix`; the KS row of feature `x`.
async fn check_ks(mut input: Value, prefix: &Path) -> Value {
    input["task"] = json!("check");
    input["report_prefix"] = json!(s(prefix));
    run(input).await;
    let report: Value =
        serde_json::from_slice(&std::fs::read(prefix.join("drift.json")).unwrap()).unwrap();
    report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "x")
        .cloned()
        .unwrap()
}

/// The row compared the whole baseline sample with every current value and gives
/// scipy's D and p.
fn agrees(row: &Value, case: &Case) -> Result<(), String> {
    let (n1, n2) = (case.baseline.len(), case.current.len());
    let (d, p) = (
        row["statistic"].as_f64().unwrap(),
        row["pvalue"].as_f64().unwrap(),
    );
    let p_ok = (p - case.pvalue).abs() <= 1e-12 + 1e-9 * case.pvalue.abs();
    if row["compared"] != "sample-vs-all"
        || row["n_baseline"] != json!(n1)
        || row["n_current"] != json!(n2)
        || d != case.statistic
        || !p_ok
    {
        return Err(format!(
            "ours D={d} p={p} ({} n1={} n2={}), scipy D={} p={}",
            row["compared"], row["n_baseline"], row["n_current"], case.statistic, case.pvalue
        ));
    }
    Ok(())
}

async fn check_case(case: &Case, format: Format) -> Vec<String> {
    let ext = match format {
        Format::Csv => "csv",
        Format::Parquet => "parquet",
    };
    let dir = temp_dir(ext);
    let base_data = dir.join(format!("baseline.{ext}"));
    let cur_data = dir.join(format!("current.{ext}"));
    write_data(&base_data, format, &case.texts, &case.baseline);
    write_data(&cur_data, format, &case.texts, &case.current);
    let baseline = dir.join("baseline.json");
    run(json!({
        "task": "baseline", "data": s(&base_data), "baseline": s(&baseline),
        "options": {"sample_size": 16384}
    }))
    .await;

    let mut failures = Vec::new();
    // Every sample value read back from the baseline file is one of the ten doubles.
    let exact: Vec<u64> = case
        .texts
        .iter()
        .map(|t| t.parse::<f64>().unwrap().to_bits())
        .collect();
    let doc = Profile::from_baseline_json(&std::fs::read(&baseline).unwrap()).unwrap();
    let Some(FeatureStats::Numeric(n)) = doc.feature("x").map(|f| &f.stats) else {
        panic!("x is numeric")
    };
    assert_eq!(
        n.sample.len(),
        case.baseline.len(),
        "the sample keeps every value"
    );
    let strays = n
        .sample
        .iter()
        .filter(|v| !exact.contains(&v.to_bits()))
        .count();
    if strays > 0 {
        failures.push(format!(
            "{} {ext}: {strays} sample values came back from the baseline JSON as other doubles",
            case.name
        ));
    }

    // Single pass: check the current file against the baseline file.
    let row = check_ks(
        json!({"data": s(&cur_data), "baseline": s(&baseline)}),
        &dir.join("reports-single"),
    )
    .await;
    if let Err(e) = agrees(&row, case) {
        failures.push(format!("{} {ext} single pass: {e}", case.name));
    }

    // Sharded: three shard files profiled against the baseline, written, merged, checked.
    let profiles = dir.join("profiles");
    let third = case.current.len().div_ceil(3);
    for (k, part) in case.current.chunks(third).enumerate() {
        let shard = dir.join(format!("part-{k}.{ext}"));
        write_data(&shard, format, &case.texts, part);
        run(json!({
            "task": "profile", "data": s(&shard), "baseline": s(&baseline),
            "output": s(&profiles.join(format!("part-{k}.json")))
        }))
        .await;
    }
    let merged = dir.join("current-profile.json");
    let out = run(json!({"task": "merge", "profiles": s(&profiles), "output": s(&merged)})).await;
    assert_eq!(out["sources_total"], 3);
    let row = check_ks(
        json!({"profile": s(&merged), "baseline": s(&baseline)}),
        &dir.join("reports-merged"),
    )
    .await;
    if let Err(e) = agrees(&row, case) {
        failures.push(format!("{} {ext} merged shards: {e}", case.name));
    }
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

#[tokio::test]
async fn repeated_long_decimals_match_scipy_through_csv_parquet_baseline_and_merge() {
    let cases = cases();
    assert!(cases.len() >= 4);
    let mut failures = Vec::new();
    for case in &cases {
        for format in [Format::Csv, Format::Parquet] {
            failures.extend(check_case(case, format).await);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The JSON round trip itself, on far more values than the fixture: a profile written and
/// read back keeps every double bit for bit (with serde_json's default parser about one
/// in eight of these comes back as a neighbouring double).
#[test]
fn profile_json_round_trips_every_double() {
    use crate::profile::{ProfileBuilder, ProfileOptions};
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut values = Vec::with_capacity(50_000);
    while values.len() < 50_000 {
        // xorshift64: random signs and mantissas, binary exponents -330..=330 (about
        // 1e±100, so the moments stay finite), and a third of them small decimals.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let exponent = 1023 - 330 + (x >> 53) % 661;
        let v = f64::from_bits((x & (1 << 63)) | (exponent << 52) | (x & ((1 << 52) - 1)));
        values.push(if x.is_multiple_of(3) {
            (v % 100.0).abs()
        } else {
            v
        });
    }
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(values.clone()))]).unwrap();
    let opts = ProfileOptions {
        sample_size: 50_000,
        max_categories: 10,
    };
    let mut b = ProfileBuilder::new(opts, "mem").unwrap();
    b.push(&batch).unwrap();
    let p = b.finish();
    let back = Profile::from_baseline_json(&p.to_json()).unwrap();
    assert_eq!(
        back, p,
        "the profile must come back from its JSON unchanged"
    );
    let Some(FeatureStats::Numeric(n)) = back.feature("x").map(|f| &f.stats) else {
        panic!()
    };
    let mut want = values;
    want.sort_by(f64::total_cmp);
    let same = n
        .sample
        .iter()
        .zip(&want)
        .filter(|(a, b)| a.to_bits() == b.to_bits())
        .count();
    assert_eq!(same, want.len(), "doubles changed in the JSON round trip");
}
