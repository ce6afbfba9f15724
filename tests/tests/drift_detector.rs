//! drift-detector against a real moto S3: baselines written and read back, checks of
//! drifted and undrifted data, the Distributed Map path (profile shards against the
//! baseline, merge, check the merged profile), and the bad-input cases, each with its
//! documented result or error name.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use trainguard::aws::S3Store;
use trainguard::drift::task::{self, Io, TaskInput};
use trainguard::lambda::{Deadline, HandlerError};
use trainguard_tests::{get_object, moto_with_bucket, put_object, MotoServer};

/// CSV with numeric `age`, `income`, `score`, categorical `segment`, a constant `version`
/// and an optionally all-null `note_len`; `shift` moves `income` by that many sds.
fn csv(seed: u64, rows: usize, shift: f64, null_note: bool, drop_score: bool) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = String::from(if drop_score {
        "age,income,segment,version,note_len\n"
    } else {
        "age,income,score,segment,version,note_len\n"
    });
    for _ in 0..rows {
        let age = rng.gen_range(18..80);
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let income = 50_000.0 + 12_000.0 * (z + shift);
        let score: f64 = rng.gen();
        let seg = ["a", "b", "c"][rng.gen_range(0..3)];
        let note = if null_note {
            String::new()
        } else {
            rng.gen_range(0..200).to_string()
        };
        if drop_score {
            out.push_str(&format!("{age},{income:.2},{seg},3,{note}\n"));
        } else {
            out.push_str(&format!("{age},{income:.2},{score:.5},{seg},3,{note}\n"));
        }
    }
    out
}

struct Env {
    _moto: MotoServer,
    io: Io,
    bucket: String,
    clients: trainguard::aws::Clients,
}

async fn env() -> Env {
    let (moto, clients, bucket) = moto_with_bucket("drift").await;
    let io = Io {
        store: Some(S3Store::new(clients.s3.clone())),
    };
    Env {
        _moto: moto,
        io,
        bucket,
        clients,
    }
}

async fn run(e: &Env, input: Value) -> Result<Value, HandlerError> {
    let input: TaskInput = serde_json::from_value(input).expect("task input");
    task::run(&e.io, &input, Deadline::none())
        .await
        .map(|(v, _)| v)
}

async fn read_json(e: &Env, key: &str) -> Value {
    let bytes = get_object(&e.clients, &e.bucket, key)
        .await
        .unwrap_or_else(|| panic!("{key} missing"));
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_then_checks_on_s3() {
    let e = env().await;
    let b = &e.bucket;
    put_object(
        &e.clients,
        b,
        "ref/part-0.csv",
        csv(1, 3000, 0.0, false, false),
    )
    .await;
    put_object(
        &e.clients,
        b,
        "ref/part-1.csv",
        csv(2, 3000, 0.0, false, false),
    )
    .await;
    put_object(
        &e.clients,
        b,
        "stable/data.csv",
        csv(3, 4000, 0.0, false, false),
    )
    .await;
    put_object(
        &e.clients,
        b,
        "drifted/data.csv",
        csv(4, 4000, 1.0, false, false),
    )
    .await;

    let out = run(&e, json!({"task": "baseline", "data": format!("s3://{b}/ref/"), "baseline": format!("s3://{b}/baselines/base.json")}))
        .await
        .unwrap();
    assert_eq!(out["rows"], 6000);
    assert_eq!(out["features"], 6);
    let base = read_json(&e, "baselines/base.json").await;
    assert_eq!(base["version"], 1);
    let kinds: Vec<(String, String)> = base["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(kinds.contains(&("income".into(), "numeric".into())));
    assert!(kinds.contains(&("segment".into(), "categorical".into())));

    // Undrifted data: no drift, reports written where the verdict says.
    let v = run(&e, json!({"task": "check", "data": format!("s3://{b}/stable/data.csv"), "baseline": format!("s3://{b}/baselines/base.json"), "execution_name": "exec-stable"}))
        .await
        .unwrap();
    assert_eq!(v["drift_detected"], false, "{v}");
    assert_eq!(
        v["report_uri"],
        format!("s3://{b}/pipeline/exec-stable/reports/drift.json")
    );
    let report = read_json(&e, "pipeline/exec-stable/reports/drift.json").await;
    assert_eq!(report["features"].as_array().unwrap().len(), 6);
    let html = get_object(&e.clients, b, "pipeline/exec-stable/reports/drift.html")
        .await
        .unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<svg") && !html.contains("http://") && !html.contains("<script"));

    // Drifted income, marked critical: drift.
    let v = run(&e, json!({"task": "check", "data": format!("s3://{b}/drifted/data.csv"), "baseline": format!("s3://{b}/baselines/base.json"),
        "report_prefix": format!("s3://{b}/reports/drifted/"), "config": {"critical": ["income"]}}))
        .await
        .unwrap();
    assert_eq!(v["drift_detected"], true, "{v}");
    let names: Vec<&str> = v["drifted_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["income"]);
    assert_eq!(v["critical_drifted"], json!(["income"]));
    assert!(serde_json::to_vec(&v).unwrap().len() < 32 * 1024);

    // Distributed Map path: profile each shard against the baseline, merge, check the
    // merged profile. Same statistic as checking the whole dataset at once.
    put_object(
        &e.clients,
        b,
        "drifted-parts/p0.csv",
        csv(4, 2000, 1.0, false, false),
    )
    .await;
    put_object(
        &e.clients,
        b,
        "drifted-parts/p1.csv",
        csv(5, 2000, 1.0, false, false),
    )
    .await;
    for p in ["p0", "p1"] {
        run(&e, json!({"task": "profile", "data": format!("s3://{b}/drifted-parts/{p}.csv"), "baseline": format!("s3://{b}/baselines/base.json"),
            "output": format!("s3://{b}/profiles/{p}.json")}))
            .await
            .unwrap();
    }
    let m = run(&e, json!({"task": "merge", "profiles": format!("s3://{b}/profiles/"), "output": format!("s3://{b}/merged/current.json")})).await.unwrap();
    assert_eq!(m["rows"], 4000);
    let v2 = run(&e, json!({"task": "check", "profile": format!("s3://{b}/merged/current.json"), "baseline": format!("s3://{b}/baselines/base.json"),
        "report_prefix": format!("s3://{b}/reports/dmap/"), "config": {"critical": ["income"]}}))
        .await
        .unwrap();
    assert_eq!(v2["drift_detected"], true, "{v2}");
    assert_eq!(v2["critical_drifted"], json!(["income"]));
    let rep = read_json(&e, "reports/dmap/drift.json").await;
    let income = rep["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "income")
        .unwrap()
        .clone();
    assert_eq!(income["compared"], "sample-vs-all");
    assert_eq!(income["n_current"], 4000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_give_documented_results_or_names() {
    let e = env().await;
    let b = &e.bucket;
    put_object(
        &e.clients,
        b,
        "ref/data.csv",
        csv(1, 2000, 0.0, false, false),
    )
    .await;
    run(&e, json!({"task": "baseline", "data": format!("s3://{b}/ref/data.csv"), "baseline": format!("s3://{b}/base.json")})).await.unwrap();

    // Corrupt baseline JSON.
    put_object(
        &e.clients,
        b,
        "corrupt.json",
        b"{\"version\": 1, \"kind\": \"trainguard.profile\", \"rows\": ".to_vec(),
    )
    .await;
    put_object(&e.clients, b, "cur.csv", csv(9, 1000, 0.0, false, false)).await;
    let err = run(&e, json!({"task": "check", "data": format!("s3://{b}/cur.csv"), "baseline": format!("s3://{b}/corrupt.json"), "report_prefix": format!("s3://{b}/r/")}))
        .await
        .unwrap_err();
    assert_eq!(err.name, "DataError.InvalidBaseline", "{err}");
    // A baseline from a future format version.
    put_object(
        &e.clients,
        b,
        "v9.json",
        br#"{"version": 9, "kind": "trainguard.profile"}"#.to_vec(),
    )
    .await;
    let err = run(&e, json!({"task": "check", "data": format!("s3://{b}/cur.csv"), "baseline": format!("s3://{b}/v9.json"), "report_prefix": format!("s3://{b}/r/")}))
        .await
        .unwrap_err();
    assert_eq!(err.name, "DataError.InvalidBaseline");
    assert!(err.message.contains("version 9"), "{err}");
    // Missing baseline object.
    let err = run(&e, json!({"task": "check", "data": format!("s3://{b}/cur.csv"), "baseline": format!("s3://{b}/nope.json"), "report_prefix": format!("s3://{b}/r/")}))
        .await
        .unwrap_err();
    assert_eq!(err.name, "StorageError.NotFound");

    // Feature missing from the data (score), all-null feature (note_len), constant
    // feature (version): results, not errors.
    put_object(&e.clients, b, "odd.csv", csv(10, 1500, 0.0, true, true)).await;
    let v = run(&e, json!({"task": "check", "data": format!("s3://{b}/odd.csv"), "baseline": format!("s3://{b}/base.json"), "report_prefix": format!("s3://{b}/odd/")}))
        .await
        .unwrap();
    assert_eq!(v["missing_features"], json!(["score"]));
    let rep = read_json(&e, "odd/drift.json").await;
    let status = |name: &str| {
        rep["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("score"), "missing");
    assert_eq!(status("note_len"), "all_null");
    assert_eq!(status("version"), "tested");
    let version = rep["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "version")
        .unwrap()
        .clone();
    assert_eq!(version["statistic"], 0.0);
    assert_eq!(version["drifted"], false);
    // 2 of 6 drifted (missing + all-null) is below the 0.5 share.
    assert_eq!(v["drifted_count"], 2);
    assert_eq!(v["drift_detected"], false);

    // Input errors.
    let err = run(
        &e,
        json!({"task": "check", "data": format!("s3://{b}/cur.csv")}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "InputError.MissingField");
    let err = run(&e, json!({"task": "explode"})).await.unwrap_err();
    assert_eq!(err.name, "InputError.InvalidEvent");
    let err = run(
        &e,
        json!({"task": "check", "data": "http://x", "baseline": format!("s3://{b}/base.json")}),
    )
    .await;
    assert!(err.is_err());
    let err = run(&e, json!({"task": "check", "data": format!("s3://{b}/cur.csv"), "baseline": format!("s3://{b}/base.json"),
        "report_prefix": format!("s3://{b}/r/"), "config": {"alpha": 7}}))
        .await
        .unwrap_err();
    assert_eq!(err.name, "InputError.InvalidDriftConfig");
    // Merging profiles built with different options.
    run(&e, json!({"task": "profile", "data": format!("s3://{b}/cur.csv"), "output": format!("s3://{b}/mix/a.json"), "options": {"sample_size": 100}})).await.unwrap();
    run(&e, json!({"task": "profile", "data": format!("s3://{b}/cur.csv"), "output": format!("s3://{b}/mix/b.json")})).await.unwrap();
    let err = run(&e, json!({"task": "merge", "profiles": format!("s3://{b}/mix/"), "output": format!("s3://{b}/mixed.json")})).await.unwrap_err();
    assert_eq!(err.name, "DataError.IncompatibleProfiles");
}

/// The reported reproduction of issue 11, through the `trainguard` CLI: `baseline` then
/// `drift --report` on CSV files of repeated long decimals (3.4523399999999995, …) must
/// give scipy's D and p (fixture written by scripts/oracle/gen_drift_fixtures.py; the
/// library test `drift::roundtrip` covers Parquet and merged shards too).
#[test]
fn cli_drift_on_repeated_long_decimals_matches_scipy() {
    let exe = trainguard_tests::binary_path("trainguard");
    assert!(
        exe.exists(),
        "{} missing: build the workspace binaries first (scripts/test.sh does)",
        exe.display()
    );
    let path =
        trainguard_tests::workspace_root().join("tests/fixtures/drift/ks_ties_roundtrip.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let dir = trainguard_tests::output_dir("drift-cli-ties");
    for case in doc["cases"].as_array().unwrap() {
        let texts: Vec<&str> = case["decimals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let csv_of = |digits: &str| {
            let mut s = String::from("wind_speed\n");
            for b in digits.bytes() {
                s.push_str(texts[usize::from(b - b'0')]);
                s.push('\n');
            }
            s
        };
        let (base, cur) = (dir.join("baseline.csv"), dir.join("current.csv"));
        std::fs::write(&base, csv_of(case["baseline"].as_str().unwrap())).unwrap();
        std::fs::write(&cur, csv_of(case["current"].as_str().unwrap())).unwrap();
        let (baseline, report) = (dir.join("baseline.json"), dir.join("report.json"));
        let run = |args: &[&std::ffi::OsStr]| {
            std::process::Command::new(&exe)
                .args(args)
                .output()
                .expect("run trainguard")
        };
        let out = run(&[
            "baseline".as_ref(),
            base.as_os_str(),
            "-o".as_ref(),
            baseline.as_os_str(),
            "--sample-size".as_ref(),
            "16384".as_ref(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&[
            "drift".as_ref(),
            cur.as_os_str(),
            "--baseline".as_ref(),
            baseline.as_os_str(),
            "--report".as_ref(),
            report.as_os_str(),
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let row = &r["features"][0];
        let want_d: f64 = case["statistic"].as_str().unwrap().parse().unwrap();
        let want_p: f64 = case["pvalue"].as_str().unwrap().parse().unwrap();
        let (d, p) = (
            row["statistic"].as_f64().unwrap(),
            row["pvalue"].as_f64().unwrap(),
        );
        assert_eq!(row["compared"], "sample-vs-all", "{}", case["name"]);
        assert_eq!(d, want_d, "{}: D", case["name"]);
        assert!(
            (p - want_p).abs() <= 1e-12 + 1e-9 * want_p,
            "{}: p {p}, scipy {want_p}",
            case["name"]
        );
    }
}
