//! schema-validator against moto S3 with real CSV and Parquet files, through the exact
//! library entry point the Lambda handler calls (`Service::handle`).
//!
//! Binary fixtures come from tests/fixtures/schema/make_fixtures.py (pyarrow).

use serde_json::{json, Value};
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::lambda::Deadline;
use trainguard::schema::service::{metrics, Service, ServiceConfig};
use trainguard::ErrorName;
use trainguard_tests::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join("tests/fixtures/schema").join(name)).unwrap()
}

fn repo_file(path: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join(path)).unwrap()
}

struct Env {
    _moto: MotoServer,
    clients: Clients,
    bucket: String,
    service: Service,
}

impl Env {
    async fn new(tag: &str) -> Env {
        let moto = MotoServer::start();
        let clients = moto.clients().await;
        let bucket = unique_bucket(tag);
        create_bucket(&clients, &bucket).await;
        put_object(
            &clients,
            &bucket,
            "contracts/churn.json",
            repo_file("events/schema-validator/contract.json"),
        )
        .await;
        let config = ServiceConfig {
            contract_uri: Some(format!("s3://{bucket}/contracts/churn.json")),
            report_bucket: None,
            report_prefix: "reports/schema/".into(),
        };
        let service = Service::new(S3Store::new(clients.s3.clone()), config);
        Env {
            _moto: moto,
            clients,
            bucket,
            service,
        }
    }

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        put_object(&self.clients, &self.bucket, key, body).await;
    }

    fn task(&self, data: &str) -> Value {
        json!({"data": format!("s3://{}/{data}", self.bucket), "contract": format!("s3://{}/contracts/churn.json", self.bucket)})
    }

    async fn ok(&self, input: Value) -> Value {
        match self.service.handle(&input, &Deadline::none()).await {
            Ok(o) => o.output,
            Err(e) => panic!("{input}: {} {e}", e.error_name()),
        }
    }

    async fn err(&self, input: Value) -> (String, String) {
        match self.service.handle(&input, &Deadline::none()).await {
            Ok(o) => panic!("{input}: expected an error, got {}", o.output),
            Err(e) => (e.error_name().to_string(), e.to_string()),
        }
    }

    async fn json_at(&self, uri: &str) -> Value {
        let key = uri.strip_prefix(&format!("s3://{}/", self.bucket)).unwrap();
        let body = get_object(&self.clients, &self.bucket, key)
            .await
            .unwrap_or_else(|| panic!("{uri} missing"));
        serde_json::from_slice(&body).unwrap()
    }
}

#[tokio::test]
async fn clean_csv_gzip_and_parquet_pass_and_write_reports() {
    let env = Env::new("sv-clean").await;
    env.put("in/sample.csv", repo_file("events/data/sample.csv"))
        .await;
    env.put("in/sample.csv.gz", fixture("features.csv.gz"))
        .await;
    env.put("in/features.parquet", fixture("features.parquet"))
        .await;
    // A Parquet file without the extension: detected by content.
    env.put("in/features-noext", fixture("features.parquet"))
        .await;

    for (key, rows) in [
        ("in/sample.csv", 400),
        ("in/sample.csv.gz", 400),
        ("in/features.parquet", 300),
        ("in/features-noext", 300),
    ] {
        let mut input = env.task(key);
        input["execution_name"] = json!(format!("exec-{}", key.replace(['/', '.'], "-")));
        let out = env.ok(input.clone()).await;
        assert_eq!(out["passed"], json!(true), "{key}: {out}");
        assert_eq!(out["rows"], json!(rows), "{key}");
        assert_eq!(
            out["violations"],
            json!({"error": 0, "warning": 0}),
            "{key}"
        );
        let report_uri = out["report_uri"].as_str().unwrap();
        assert!(
            report_uri.ends_with(&format!(
                "pipeline/{}/reports/schema.json",
                input["execution_name"].as_str().unwrap()
            )),
            "{report_uri}"
        );
        let report = env.json_at(report_uri).await;
        assert_eq!(report["rows"], json!(rows));
        assert_eq!(report["columns"]["plan"]["distinct"], json!(3), "{key}");
    }
    let out = env.ok(env.task("in/features.parquet")).await;
    let report = env.json_at(out["report_uri"].as_str().unwrap()).await;
    assert_eq!(report["objects"][0]["format"], json!("parquet"));
    assert_eq!(report["columns"]["total_charges"]["nulls"], json!(6));
    assert_eq!(report["columns"]["signup_date"]["min"], json!("2019-01-01"));
}

#[tokio::test]
async fn each_violation_is_found_with_its_column_and_count() {
    let env = Env::new("sv-viol").await;
    let sample = String::from_utf8(repo_file("events/data/sample.csv")).unwrap();
    let mut lines: Vec<String> = sample.lines().map(str::to_string).collect();
    // Header: customer_id,age,tenure_months,monthly_charges,total_charges,plan,contract_type,
    //         country,signup_date,last_login,is_active,support_calls,churned
    let set = |line: &mut String, col: usize, v: &str| {
        let mut f: Vec<&str> = line.split(',').collect();
        f[col] = v;
        *line = f.join(",");
    };
    set(&mut lines[5], 1, "forty"); // age not an integer: data row 5
    set(&mut lines[6], 1, "140"); // age out of range: row 6
    set(&mut lines[7], 5, "enterprise"); // plan not allowed: row 7
    for (i, line) in lines.iter_mut().enumerate().skip(1).take(60) {
        set(line, 3, if i % 2 == 0 { "NA" } else { "" }); // monthly_charges 15% null
    }
    for (i, line) in lines.iter_mut().enumerate().skip(1) {
        set(line, 7, &format!("X{i}")); // country: 400 distinct > 250
    }
    set(&mut lines[9], 11, "500"); // support_calls out of range, but severity warning
    env.put("bad/features.csv", lines.join("\n") + "\n").await;

    let out = env.ok(env.task("bad/features.csv")).await;
    assert_eq!(out["passed"], json!(false), "{out}");
    assert_eq!(out["rows"], json!(400));
    assert_eq!(out["violations"], json!({"error": 5, "warning": 1}));
    assert!(out["first_violations"].as_array().unwrap().len() <= 5);
    let report = env.json_at(out["report_uri"].as_str().unwrap()).await;
    let find = |col: &str, check: &str| -> Value {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["column"] == json!(col) && f["check"] == json!(check))
            .cloned()
            .unwrap_or_else(|| panic!("no {check} for {col}: {}", report["findings"]))
    };
    let t = find("age", "type");
    assert_eq!(
        (
            t["count"].clone(),
            t["examples"][0]["row"].clone(),
            t["examples"][0]["value"].clone()
        ),
        (json!(1), json!(5), json!("forty"))
    );
    let r = find("age", "range");
    assert_eq!(
        (
            r["count"].clone(),
            r["examples"][0]["row"].clone(),
            r["observed"]["max"].clone()
        ),
        (json!(1), json!(6), json!(140))
    );
    let a = find("plan", "allowed_values");
    assert_eq!(
        (a["count"].clone(), a["examples"][0]["value"].clone()),
        (json!(1), json!("enterprise"))
    );
    let n = find("monthly_charges", "null_ratio");
    assert_eq!(
        (
            n["observed"]["nulls"].clone(),
            n["observed"]["null_ratio"].clone()
        ),
        (json!(60), json!(0.15))
    );
    let c = find("country", "cardinality");
    assert_eq!(c["observed"]["distinct"], json!(400));
    let w = find("support_calls", "range");
    assert_eq!(w["severity"], json!("warning"));

    // Missing required column, extra column, row count.
    env.put("bad/narrow.csv", "customer_id,age,colour\nC1,30,red\n")
        .await;
    let out = env.ok(env.task("bad/narrow.csv")).await;
    let report = env.json_at(out["report_uri"].as_str().unwrap()).await;
    let checks: Vec<(Value, Value)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["column"].clone(), f["check"].clone()))
        .collect();
    assert!(
        checks.contains(&(json!("plan"), json!("required"))),
        "{checks:?}"
    );
    assert!(
        !checks.contains(&(json!("last_login"), json!("required"))),
        "optional column"
    );
    assert!(
        checks.contains(&(json!("colour"), json!("extra_column"))),
        "{checks:?}"
    );
    assert!(
        checks.contains(&(Value::Null, json!("row_count"))),
        "{checks:?}"
    );
}

#[tokio::test]
async fn prefixes_are_partitioned_datasets_and_fan_out_merges_agree() {
    let env = Env::new("sv-prefix").await;
    env.put("ds/part-0.parquet", fixture("part-0.parquet"))
        .await;
    env.put("ds/part-1.parquet", fixture("part-1.parquet"))
        .await;
    env.put("ds/_SUCCESS", "").await;
    let whole = env.ok(env.task("ds/")).await;
    assert_eq!(whole["passed"], json!(true), "{whole}");
    assert_eq!(
        (whole["rows"].clone(), whole["objects"].clone()),
        (json!(300), json!(2))
    );
    let whole_report = env.json_at(whole["report_uri"].as_str().unwrap()).await;

    // Distributed Map style: one partial per object, then a merge.
    let mut outputs = Vec::new();
    for part in ["ds/part-0.parquet", "ds/part-1.parquet"] {
        let mut input = env.task(part);
        input["task"] = json!("partial");
        input["execution_name"] = json!("fan-1");
        let out = env.ok(input).await;
        assert_eq!(out["rows"], json!(150));
        assert!(
            out["partial_uri"]
                .as_str()
                .unwrap()
                .contains("pipeline/fan-1/reports/schema-parts/"),
            "{out}"
        );
        outputs.push(out);
    }
    let merged = env
        .ok(json!({"task": "merge", "results": outputs, "contract": format!("s3://{}/contracts/churn.json", env.bucket), "execution_name": "fan-1"}))
        .await;
    let merged_report = env.json_at(merged["report_uri"].as_str().unwrap()).await;
    assert_eq!(merged["rows"], json!(300));
    assert_eq!(merged["passed"], whole["passed"]);
    assert_eq!(
        merged_report["columns"], whole_report["columns"],
        "null ratios, cardinalities, extremes combine exactly"
    );
    // The raw S3 listing a Distributed Map iterates also holds markers: skipped.
    let mut marker = env.task("ds/_SUCCESS");
    marker["task"] = json!("partial");
    marker["execution_name"] = json!("fan-1");
    let out = env.ok(marker).await;
    assert_eq!(
        (out["passed"].clone(), out["partial_uri"].clone()),
        (json!(true), Value::Null),
        "{out}"
    );
    assert!(out["skipped"].is_string());
    // Merge from the default parts prefix of the execution (no results listed).
    let by_prefix = env.ok(json!({"task": "merge", "contract": format!("s3://{}/contracts/churn.json", env.bucket), "execution_name": "fan-1"})).await;
    assert_eq!(by_prefix["rows"], json!(300));

    // A partition with another schema spoils the prefix.
    env.put("ds/part-2.parquet", fixture("part-other.parquet"))
        .await;
    let (name, msg) = env.err(env.task("ds/")).await;
    assert_eq!(name, "DataError.SchemaMismatch", "{msg}");
    assert!(msg.contains("age"), "{msg}");
}

#[tokio::test]
async fn unusable_data_gets_documented_error_names() {
    let env = Env::new("sv-bad").await;
    env.put("x/bad_magic.parquet", fixture("bad_magic.parquet"))
        .await;
    env.put("x/truncated.parquet", fixture("truncated.parquet"))
        .await;
    let mut latin1 = b"customer_id,age\nC1,30\nJos".to_vec();
    latin1.push(0xe9); // é in Latin-1
    latin1.extend_from_slice(b",41\n");
    env.put("x/latin1.csv", latin1).await;
    env.put("x/empty.csv", "").await;
    env.put("x/dupes.csv", "customer_id,age,age\nC1,1,2\n")
        .await;
    env.put("x/ragged.csv", "customer_id,age\nC1,30\nC2\n")
        .await;
    env.put("x/archive.zip", b"PK\x03\x04rest-of-zip".to_vec())
        .await;
    env.put(
        "x/gzip-cut.csv.gz",
        fixture("features.csv.gz")[..2000].to_vec(),
    )
    .await;
    env.put("bad-contract.json", r#"{"version": 2, "columns": []}"#)
        .await;

    let cases = [
        (
            "x/bad_magic.parquet",
            "DataError.CorruptParquet",
            "bad magic",
        ),
        ("x/truncated.parquet", "DataError.TruncatedFile", "footer"),
        ("x/latin1.csv", "DataError.InvalidEncoding", "offset 25"),
        ("x/empty.csv", "DataError.EmptyFile", "empty"),
        ("x/dupes.csv", "DataError.DuplicateColumn", "\"age\""),
        ("x/ragged.csv", "DataError.MalformedCsv", "row 2"),
        ("x/archive.zip", "DataError.UnsupportedFormat", "zip"),
        ("x/gzip-cut.csv.gz", "DataError.TruncatedFile", "gzip"),
        ("x/missing.csv", "StorageError.NotFound", "missing"),
        ("nothing-here/", "DataError.NoObjects", "nothing-here"),
    ];
    for (key, name, needle) in cases {
        let (got, msg) = env.err(env.task(key)).await;
        assert_eq!(got, name, "{key}: {msg}");
        assert!(
            msg.contains(needle),
            "{key}: {msg:?} should mention {needle:?}"
        );
    }

    // Header-only: a valid zero-row dataset; the contract's row_count fails it.
    env.put("x/header-only.csv", "customer_id,age,tenure_months\n")
        .await;
    let out = env.ok(env.task("x/header-only.csv")).await;
    assert_eq!(
        (out["passed"].clone(), out["rows"].clone()),
        (json!(false), json!(0))
    );

    let mut input = env.task("x/header-only.csv");
    input["contract"] = json!(format!("s3://{}/bad-contract.json", env.bucket));
    assert_eq!(env.err(input).await.0, "InputError.InvalidContract");
}

#[tokio::test]
async fn events_malformed_inputs_deadline_and_metrics() {
    let env = Env::new("sv-events").await;
    env.put("incoming/new data.csv", repo_file("events/data/sample.csv"))
        .await;

    let mut s3: Value =
        serde_json::from_slice(&repo_file("events/schema-validator/s3-event.json")).unwrap();
    s3["Records"][0]["s3"]["bucket"]["name"] = json!(env.bucket);
    s3["Records"][0]["s3"]["object"]["key"] = json!("incoming/new+data.csv");
    let out = env.ok(s3).await;
    assert_eq!(
        (out["passed"].clone(), out["rows"].clone()),
        (json!(true), json!(400))
    );
    assert!(
        out["report_uri"]
            .as_str()
            .unwrap()
            .contains("/reports/schema/"),
        "{out}"
    );

    let mut eb: Value = serde_json::from_slice(&repo_file(
        "events/schema-validator/eventbridge-object-created.json",
    ))
    .unwrap();
    eb["detail"]["bucket"]["name"] = json!(env.bucket);
    eb["detail"]["object"]["key"] = json!("incoming/new data.csv");
    let result = env.service.handle(&eb, &Deadline::none()).await;
    let m = metrics(&result, Some("exec-9")).to_emf(0);
    assert_eq!(m["RowsRead"], json!(400.0));
    assert_eq!(m["Violations"], json!(0.0));
    assert_eq!(m["ExecutionName"], json!("exec-9"));
    assert_eq!(result.unwrap().output["passed"], json!(true));

    for (input, name) in [
        (json!("hello"), "InputError.InvalidEvent"),
        (
            json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
            "InputError.InvalidEvent",
        ),
        // The one event decoder (crate::events) names the missing field, as the
        // pipeline trigger does for the same event.
        (
            json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {}}}),
            "InputError.MissingField",
        ),
        (json!({"data": "s3://UPPER/x"}), "InputError.InvalidUri"),
        (
            json!({"contract": format!("s3://{}/contracts/churn.json", env.bucket)}),
            "InputError.MissingField",
        ),
    ] {
        assert_eq!(env.err(input.clone()).await.0, name, "{input}");
    }

    // Deadline already passed: stop cleanly and say how far it got.
    let result = env
        .service
        .handle(
            &env.task("incoming/new data.csv"),
            &Deadline::after(std::time::Duration::ZERO),
        )
        .await;
    let e = result.as_ref().unwrap_err();
    assert_eq!(e.error_name(), "Transient.DeadlineExceeded");
    assert!(e.to_string().contains("of 1 object"), "{e}");
    assert_eq!(metrics(&result, None).to_emf(0)["Errors"], json!(1.0));
}
