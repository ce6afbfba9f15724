//! Validator tests on local files: every check, merging, inference, deadline.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;

use super::*;
use crate::storage::Location;
use crate::ErrorName;

fn temp_dir(tag: &str) -> PathBuf {
    let n: u64 = rand::random();
    let d = std::env::temp_dir().join(format!("tg-schema-{tag}-{n:016x}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo(path: &str) -> PathBuf {
    crate::test_support::repo_path(path)
}

fn contract(json: &str) -> Contract {
    Contract::from_json(json.as_bytes()).unwrap()
}

async fn run(c: &Contract, path: &std::path::Path) -> Result<Report, SchemaError> {
    let reader = reader_for(None, c);
    validate(
        &reader,
        &Location::Local(path.to_path_buf()),
        c,
        None,
        &Deadline::none(),
    )
    .await
}

fn finding<'r>(r: &'r Report, column: &str, check: Check) -> &'r Violation {
    r.findings
        .iter()
        .find(|v| v.column.as_deref() == Some(column) && v.check == check)
        .unwrap_or_else(|| panic!("no {check:?} finding for {column}: {:#?}", r.findings))
}

#[tokio::test]
async fn sample_data_passes_the_sample_contract() {
    let c =
        Contract::from_json(&std::fs::read(repo("events/schema-validator/contract.json")).unwrap())
            .unwrap();
    let r = run(&c, &repo("events/data/sample.csv")).await.unwrap();
    assert!(r.passed, "{:#?}", r.findings);
    assert_eq!(r.rows, 400);
    assert_eq!(r.violations.error, 0);
    assert_eq!(r.columns["plan"].distinct, serde_json::json!(3));
    assert_eq!(r.columns["churned"].distinct, serde_json::json!(2));
}

#[tokio::test]
async fn every_csv_violation_is_found_with_column_and_count() {
    let dir = temp_dir("viol");
    let path = dir.join("data.csv");
    let mut csv = String::from("id,age,score,plan,city,joined,flag,extra\n");
    for i in 0..100 {
        let age = match i {
            3 => "abc".to_string(), // type error (row 4)
            7 => "-5".to_string(),  // out of range (row 8)
            _ => (20 + i % 50).to_string(),
        };
        let score = if i % 4 == 0 {
            "NA".to_string()
        } else {
            format!("{}.5", i)
        }; // 25% null
        let plan = if i == 10 {
            "platinum"
        } else {
            ["basic", "pro"][i % 2]
        };
        let joined = if i == 20 {
            "2024-13-01".to_string()
        } else {
            format!("2024-01-{:02}", 1 + i % 28)
        };
        csv.push_str(&format!(
            "u{i},{age},{score},{plan},city{i},{joined},{},x\n",
            if i % 2 == 0 { "yes" } else { "no" }
        ));
    }
    std::fs::write(&path, csv).unwrap();
    let c = contract(
        r#"{"version":1,"columns":[
            {"name":"id","type":"string","max_null_ratio":0},
            {"name":"age","type":"integer","min":0,"max":120},
            {"name":"score","type":"float","max_null_ratio":0.1,"severity":{"null_ratio":"warning"}},
            {"name":"plan","type":"string","allowed_values":["basic","pro"]},
            {"name":"city","type":"string","max_cardinality":20},
            {"name":"joined","type":"date","min":"2024-01-01"},
            {"name":"flag","type":"boolean"},
            {"name":"label","type":"integer"},
            {"name":"opt","type":"integer","required":false}
        ],"row_count":{"min":1000},"extra_columns":"error"}"#,
    );
    let r = run(&c, &path).await.unwrap();
    assert!(!r.passed);
    assert_eq!(r.rows, 100);

    let t = finding(&r, "age", Check::Type);
    assert_eq!((t.count, t.severity), (1, Severity::Error));
    assert_eq!(
        (t.examples[0].row, t.examples[0].value.as_str()),
        (4, "abc")
    );
    let rg = finding(&r, "age", Check::Range);
    assert_eq!(rg.count, 1);
    assert_eq!(rg.examples[0].row, 8);
    assert_eq!(rg.observed["min"], serde_json::json!(-5));

    let n = finding(&r, "score", Check::NullRatio);
    assert_eq!(n.severity, Severity::Warning);
    assert_eq!(n.observed["nulls"], serde_json::json!(25));
    assert_eq!(n.observed["null_ratio"], serde_json::json!(0.25));

    let a = finding(&r, "plan", Check::AllowedValues);
    assert_eq!(
        (a.count, a.examples[0].row, a.examples[0].value.as_str()),
        (1, 11, "platinum")
    );

    let card = finding(&r, "city", Check::Cardinality);
    assert_eq!(card.observed["distinct"], serde_json::json!(100));

    let d = finding(&r, "joined", Check::Type);
    assert_eq!((d.count, d.examples[0].value.as_str()), (1, "2024-13-01"));

    assert!(
        !r.findings
            .iter()
            .any(|v| v.column.as_deref() == Some("flag")),
        "yes/no are booleans"
    );
    assert_eq!(
        finding(&r, "label", Check::Required).severity,
        Severity::Error
    );
    assert!(
        !r.findings
            .iter()
            .any(|v| v.column.as_deref() == Some("opt")),
        "optional column may be absent"
    );
    assert_eq!(
        finding(&r, "extra", Check::ExtraColumn).severity,
        Severity::Error
    );
    let rc = r
        .findings
        .iter()
        .find(|v| v.check == Check::RowCount)
        .unwrap();
    assert_eq!(rc.observed["rows"], serde_json::json!(100));

    // Verdict: small, errors first.
    let v = r.verdict(Some("s3://b/r.json".into()));
    assert_eq!(v.first_violations.len(), report::VERDICT_VIOLATIONS);
    assert!(v
        .first_violations
        .iter()
        .all(|f| f.severity == Severity::Error));
    assert_eq!(v.violations.warning, 1);
    assert!(serde_json::to_vec(&v).unwrap().len() < 32 * 1024);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_categorical_with_50000_values_is_caught_with_bounded_tracking() {
    let dir = temp_dir("card");
    let path = dir.join("cats.csv");
    let mut csv = String::from("category\n");
    for i in 0..60_000 {
        csv.push_str(&format!("cat-{}\n", i % 50_000));
    }
    std::fs::write(&path, csv).unwrap();
    let c = contract(
        r#"{"version":1,"columns":[{"name":"category","type":"string","max_cardinality":100}],"cardinality_limit":1000}"#,
    );
    let r = run(&c, &path).await.unwrap();
    let v = finding(&r, "category", Check::Cardinality);
    assert_eq!(
        v.observed["distinct"],
        serde_json::json!(">1000"),
        "tracking stops at the bound"
    );
    // Exact below the bound.
    let c = contract(
        r#"{"version":1,"columns":[{"name":"category","type":"string","max_cardinality":60000}]}"#,
    );
    let r = run(&c, &path).await.unwrap();
    assert_eq!(r.columns["category"].distinct, serde_json::json!(50_000));
    assert!(r.passed);
    let _ = std::fs::remove_dir_all(dir);
}

fn typed_parquet(path: &std::path::Path, whole_floats: bool) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int32, true),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("d", DataType::Date32, true),
        Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("s", DataType::Utf8, true),
    ]));
    let rows = 50;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter(
            (0..rows).map(|i| (i != 5).then_some(i)),
        )),
        Arc::new(Float64Array::from_iter((0..rows).map(|i| {
            Some(if whole_floats {
                i as f64
            } else {
                i as f64 + 0.5
            })
        }))),
        Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 3 == 0)))),
        Arc::new(Date32Array::from_iter((0..rows).map(|i| Some(19_000 + i)))),
        Arc::new(
            TimestampMillisecondArray::from_iter(
                (0..rows).map(|i| Some(1_700_000_000_000 + i as i64 * 1000)),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter((0..rows).map(|i| {
            Some(if i == 9 {
                "NULL".to_string()
            } else {
                format!("v{}", i % 4)
            })
        }))),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[tokio::test]
async fn parquet_types_are_checked_natively() {
    let dir = temp_dir("pq");
    let path = dir.join("typed.parquet");
    typed_parquet(&path, true);
    let c = contract(
        r#"{"version":1,"columns":[
            {"name":"n","type":"integer","min":0,"max":100,"max_null_ratio":0.05},
            {"name":"f","type":"integer"},
            {"name":"b","type":"boolean"},
            {"name":"d","type":"date","min":"2022-01-01","max":"2022-12-31"},
            {"name":"t","type":"timestamp","min":"2023-11-14T00:00:00Z"},
            {"name":"s","type":"string","allowed_values":["v0","v1","v2","v3"],"max_null_ratio":0.05}
        ]}"#,
    );
    let r = run(&c, &path).await.unwrap();
    assert!(r.passed, "{:#?}", r.findings);
    assert_eq!(r.columns["n"].nulls, 1);
    assert_eq!(
        r.columns["s"].nulls, 1,
        "null tokens apply to Parquet strings too"
    );
    assert_eq!(r.columns["d"].min, Some(serde_json::json!("2022-01-08")));
    assert_eq!(
        r.columns["t"].max,
        Some(serde_json::json!("2023-11-14T22:14:09Z"))
    );
    assert_eq!(r.objects[0].format, "parquet");

    // Float values with a fraction are not integers.
    typed_parquet(&path, false);
    let r = run(&c, &path).await.unwrap();
    let t = finding(&r, "f", Check::Type);
    assert_eq!(t.count, 50);
    assert_eq!(t.examples[0].value, "0.5");

    // A boolean column is not a date.
    let c2 = contract(r#"{"version":1,"columns":[{"name":"b","type":"date"}]}"#);
    let r = run(&c2, &path).await.unwrap();
    assert_eq!(finding(&r, "b", Check::Type).count, 50);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn merged_partials_equal_one_pass() {
    let dir = temp_dir("merge");
    let header = "k,v\n";
    let mut all = String::new();
    for part in 0..3 {
        let mut s = header.to_string();
        for i in 0..40 {
            let v = if (i + part) % 6 == 0 {
                "NA".to_string()
            } else {
                ((i * 7 + part * 3) % 25).to_string()
            };
            s.push_str(&format!("{},{v}\n", (i + part * 10) % 30));
            all.push_str(&format!("{},{v}\n", (i + part * 10) % 30));
        }
        std::fs::write(dir.join(format!("part-{part}.csv")), s).unwrap();
    }
    let c = contract(
        r#"{"version":1,"columns":[{"name":"k","type":"string","max_cardinality":20},{"name":"v","type":"integer","max":20,"max_null_ratio":0.1}]}"#,
    );
    let reader = reader_for(None, &c);
    let objects = reader.list(&Location::Local(dir.clone())).await.unwrap();
    assert_eq!(objects.len(), 3);
    let mut merged: Option<PartialResult> = None;
    for o in objects.iter().rev() {
        let p = observe_object(&reader, o, &c, &Deadline::none(), &Progress::default())
            .await
            .unwrap();
        // Through JSON, as a Distributed Map would carry it.
        let p: PartialResult = serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap();
        match &mut merged {
            None => merged = Some(p),
            Some(m) => m.merge(p, c.max_examples()).unwrap(),
        }
    }
    let by_parts = evaluate(&c, &merged.unwrap(), "x", None);
    let one = dir.join("one");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::write(one.join("all.csv"), format!("{header}{all}")).unwrap();
    let single = run(&c, &one.join("all.csv")).await.unwrap();
    assert_eq!(by_parts.rows, single.rows);
    assert_eq!(by_parts.columns, single.columns);
    let strip = |r: &Report| {
        r.findings
            .iter()
            .map(|f| (f.column.clone(), f.check, f.count, f.observed.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&by_parts), strip(&single));
    assert!(!by_parts.passed);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn mismatched_partitions_and_contracts_do_not_merge() {
    let dir = temp_dir("mm");
    std::fs::write(dir.join("a.csv"), "x,y\n1,2\n").unwrap();
    std::fs::write(dir.join("b.csv"), "x,z\n1,2\n").unwrap();
    let c = contract(r#"{"version":1,"columns":[{"name":"x","type":"integer"}]}"#);
    let e = run(&c, &dir).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.SchemaMismatch", "{e}");

    let reader = reader_for(None, &c);
    let objs = reader
        .list(&Location::Local(dir.join("a.csv")))
        .await
        .unwrap();
    let mut p1 = observe_object(
        &reader,
        &objs[0],
        &c,
        &Deadline::none(),
        &Progress::default(),
    )
    .await
    .unwrap();
    let c2 = contract(r#"{"version":1,"columns":[{"name":"x","type":"float"}]}"#);
    let p2 = observe_object(
        &reader_for(None, &c2),
        &objs[0],
        &c2,
        &Deadline::none(),
        &Progress::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        p1.merge(p2, 5).unwrap_err().error_name(),
        "InputError.InvalidContract"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn stops_cleanly_at_the_deadline_saying_how_far_it_got() {
    let c =
        Contract::from_json(&std::fs::read(repo("events/schema-validator/contract.json")).unwrap())
            .unwrap();
    let reader = reader_for(None, &c);
    let loc = Location::Local(repo("events/data/sample.csv"));
    let e = validate(
        &reader,
        &loc,
        &c,
        None,
        &Deadline::after(std::time::Duration::ZERO),
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_name(), "Transient.DeadlineExceeded");
    assert!(e.to_string().contains("0 of 1 object"), "{e}");
}

#[tokio::test]
async fn header_only_csv_is_zero_rows_not_an_error() {
    let dir = temp_dir("hdr");
    let path = dir.join("h.csv");
    std::fs::write(&path, "id,age\n").unwrap();
    let c = contract(
        r#"{"version":1,"columns":[{"name":"id","type":"string"},{"name":"age","type":"integer"}],"row_count":{"min":1}}"#,
    );
    let r = run(&c, &path).await.unwrap();
    assert_eq!(r.rows, 0);
    assert!(!r.passed, "the row-count bound decides");
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].check, Check::RowCount);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn inferred_contract_fits_its_sample_and_catches_drift() {
    let reader = DataReader::new(None, crate::dataset::ReadOptions::default());
    let loc = Location::Local(repo("events/data/sample.csv"));
    let c = infer_contract(&reader, &loc, &InferOptions::default(), &Deadline::none())
        .await
        .unwrap();
    let ty = |n: &str| c.column(n).unwrap().ty;
    assert_eq!(ty("age"), ColumnType::Integer);
    assert_eq!(ty("monthly_charges"), ColumnType::Float);
    assert_eq!(ty("is_active"), ColumnType::Boolean);
    assert_eq!(ty("signup_date"), ColumnType::Date);
    assert_eq!(ty("last_login"), ColumnType::Timestamp);
    assert_eq!(ty("plan"), ColumnType::String);
    assert_eq!(
        ty("support_calls"),
        ColumnType::Integer,
        "NA is a null token, not text"
    );
    let plan = c.column("plan").unwrap();
    assert_eq!(plan.allowed_values.as_ref().unwrap().len(), 3);
    assert!(c.column("customer_id").unwrap().allowed_values.is_none());
    assert!(
        c.column("customer_id").unwrap().max_cardinality.is_none(),
        "IDs are unique: no bound"
    );
    let age = c.column("age").unwrap();
    assert!(age.min.as_ref().unwrap().as_i64().unwrap() >= 0);
    // Round trip through JSON and validate the sample: it must pass.
    let c = Contract::from_json(&serde_json::to_vec(&c).unwrap()).unwrap();
    let r = validate(&reader_for(None, &c), &loc, &c, None, &Deadline::none())
        .await
        .unwrap();
    assert!(r.passed, "{:#?}", r.findings);
}

/// The fast paths (text columns read as dictionaries, columns observed on two threads
/// for large batches) give the same report as reading plain strings on one thread.
#[tokio::test]
async fn dictionary_and_parallel_paths_match_the_plain_read() {
    let dir = temp_dir("dict");
    let path = dir.join("dict.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("plan", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, true),
        Field::new("n", DataType::Int32, true),
    ]));
    let rows = 30_000;
    let plans = ["basic", "plus", "pro", "enterprise", "NA"];
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter((0..rows).map(|i| {
                (i % 97 != 0).then(|| plans[(i * 7 + i / 13) % plans.len()].to_string())
            }))) as ArrayRef,
            // Unique values: the writer falls back to plain pages for this one.
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| Some(format!("user-{i:06}"))),
            )),
            Arc::new(Int32Array::from_iter(
                (0..rows).map(|i| Some(i as i32 % 150)),
            )),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .set_dictionary_page_size_limit(4096)
        .build();
    let f = std::fs::File::create(&path).unwrap();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let c = contract(
        r#"{"version":1,"columns":[
            {"name":"plan","type":"string","allowed_values":["basic","plus","pro"],"max_cardinality":10},
            {"name":"user","type":"string"},
            {"name":"n","type":"integer","min":0,"max":100}
        ]}"#,
    );
    let report = |dictionary: bool| {
        let c = c.clone();
        let path = path.clone();
        async move {
            let reader = DataReader::new(
                None,
                ReadOptions {
                    columns: Some(vec!["plan".into(), "user".into(), "n".into()]),
                    strings_as_dictionary: dictionary,
                    ..ReadOptions::default()
                },
            );
            let mut r = validate(&reader, &Location::Local(path), &c, None, &Deadline::none())
                .await
                .unwrap();
            r.checked_at = String::new();
            r
        }
    };
    // The low-cardinality column really comes as a dictionary, the unique one does not.
    let reader = DataReader::new(
        None,
        ReadOptions {
            strings_as_dictionary: true,
            ..ReadOptions::default()
        },
    );
    let objects = reader.list(&Location::Local(path.clone())).await.unwrap();
    let stream = reader.open_object(&objects[0]).await.unwrap();
    assert!(matches!(
        stream.schema.field_with_name("plan").unwrap().data_type(),
        DataType::Dictionary(_, _)
    ));
    assert_eq!(
        stream.schema.field_with_name("user").unwrap().data_type(),
        &DataType::Utf8
    );
    let fast = report(true).await;
    let plain = report(false).await;
    assert_eq!(fast, plain);
    // And the counts are the right ones.
    let not_allowed = (0..rows)
        .filter(|i| i % 97 != 0 && plans[(i * 7 + i / 13) % plans.len()] == "enterprise")
        .count() as u64;
    let nulls = (0..rows)
        .filter(|i| i % 97 == 0 || plans[(i * 7 + i / 13) % plans.len()] == "NA")
        .count() as u64;
    assert_eq!(
        finding(&fast, "plan", Check::AllowedValues).count,
        not_allowed
    );
    assert_eq!(fast.columns["plan"].nulls, nulls);
    assert_eq!(fast.columns["plan"].distinct, serde_json::json!(4));
    assert_eq!(fast.columns["user"].distinct, serde_json::json!(">10000"));
    let range = finding(&fast, "n", Check::Range);
    assert_eq!(
        range.count,
        (0..rows).filter(|i| i % 150 > 100).count() as u64
    );
    assert_eq!(
        range.examples[0].row, 102,
        "row numbers survive the fast paths"
    );
    let _ = std::fs::remove_dir_all(dir);
}
