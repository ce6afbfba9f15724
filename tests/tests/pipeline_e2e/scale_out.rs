//! Scale-out (issue 16): more than a thousand data objects through the real Distributed
//! Map validation and profiling paths and their merges, on moto's interpreter with the
//! real binaries, and the merged verdicts equal to one pass over the same objects.
//!
//! 1,100 objects, so that every listing on the way needs a second page: the maps'
//! `ItemReader` (S3 lists at most 1,000 keys a page; AWS's ItemReader reads every page,
//! moto 5.2.5's reads the first only: tests/e2e/moto_children pages it as AWS does), and
//! the merges reading the 1,100 parts back by prefix.
//!
//! The data is 1,650 rows, fewer than a profile's sample (2,048 values per numeric
//! feature), and its text columns have at most 100 distinct values (a profile's
//! categories): every value is kept, so the merged drift check must equal the single pass
//! exactly, p-values included. Past either bound a merge is approximate by design: the
//! sampled regime is checked statistically by the 10,000-shard unit test
//! (shared/src/profile/shards_10k.rs), and the categories past the 100 kept are where the
//! merged check and the single pass part (docs/pipeline.md, "End to end, locally").
//!
//! Besides its assertions it prints what docs/cost-model.md rests on: the run's wall
//! time, each map's time, and the state transitions of the parent and of the children.

use super::*;

/// More than one listing page (1,000 keys).
const OBJECTS: usize = 1_100;
/// At most a profile's sample size (2,048), so profiles keep every value.
const ROWS: usize = 1_650;

/// The scenario's rows: the sample's, cycled to [`ROWS`], with the six-object
/// scenario's warnings (support_calls out of range every 7th row) and drift
/// (monthly_charges shifted).
fn rows(stack: &Stack) -> (String, Vec<String>) {
    let shifted = stack.sample_with("monthly_charges", |v, _| {
        format!("{:.2}", v.parse::<f64>().unwrap_or(0.0) * 3.0 + 100.0)
    });
    let text = String::from_utf8(shifted).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let sample: Vec<&str> = lines.collect();
    let cycled: String = std::iter::once(header.clone())
        .chain((0..ROWS).map(|i| sample[i % sample.len()].to_string()))
        .map(|l| format!("{l}\n"))
        .collect();
    let data = rewrite_column(cycled.as_bytes(), "support_calls", |v, i| {
        if i % 7 == 0 {
            "150".into()
        } else {
            v.to_string()
        }
    });
    // The sample's ids, signup dates and login times are nearly all distinct (400, 367,
    // 399 of 400): coarsened to at most 100 values each (90 ids, the month, the day).
    let data = rewrite_column(&data, "customer_id", |_, i| {
        format!("C{:06}", 100_000 + i % 90)
    });
    let data = rewrite_column(&data, "signup_date", |v, _| match v.get(..7) {
        Some(month) => format!("{month}-01"),
        None => v.to_string(),
    });
    let data = rewrite_column(&data, "last_login", |v, _| match v.get(..10) {
        Some(day) => format!("{day}T00:00:00Z"),
        None => v.to_string(),
    });
    let text = String::from_utf8(data).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// Seconds between a state's (first) entry and its exit in `history`.
fn map_seconds(history: &[HistoryEvent], state: &str) -> f64 {
    let mut entered = None;
    for e in history {
        if let Some(d) = e.state_entered_event_details() {
            if d.name() == state {
                entered = Some(e.timestamp().as_secs_f64());
            }
        }
        if let Some(d) = e.state_exited_event_details() {
            if d.name() == state {
                return e.timestamp().as_secs_f64() - entered.expect("exit before entry");
            }
        }
    }
    panic!("{state} not entered and exited")
}

pub(super) async fn scale_out(stack: Arc<Stack>) {
    let name = "e2e-scale-out";
    let (header, rows) = rows(&stack);
    assert_eq!(rows.len(), ROWS);
    let prefix = data_prefix(name);
    // Object p holds rows p, p + OBJECTS, ...: every row in exactly one object.
    let t_upload = Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    for chunk in (0..OBJECTS)
        .collect::<Vec<_>>()
        .chunks(OBJECTS.div_ceil(16))
    {
        let (s3, bucket) = (stack.s3.clone(), stack.bucket().to_string());
        let objects: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|&p| {
                let body: String = rows
                    .iter()
                    .skip(p)
                    .step_by(OBJECTS)
                    .map(|r| format!("{r}\n"))
                    .collect();
                (
                    format!("{prefix}part-{p:04}.csv"),
                    format!("{header}\n{body}").into_bytes(),
                )
            })
            .collect();
        uploads.spawn(async move {
            for (key, body) in objects {
                s3.put_object()
                    .bucket(&bucket)
                    .key(key)
                    .body(body.into())
                    .send()
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(r) = uploads.join_next().await {
        r.expect("upload task");
    }
    assert_eq!(stack.keys(&prefix).await.len(), OBJECTS);
    let upload_s = t_upload.elapsed().as_secs_f64();

    let t_run = Instant::now();
    let arn = stack
        .start_with_objects(
            name,
            vec![],
            json!({"endpoint": endpoint_params("scn-scale-out")}),
            json!({"evaluation": {"value": 0.95}}),
        )
        .await;
    // The single passes over the same objects run while the execution does (they need
    // only the data): each reads the 1,100 objects one after the other.
    let bucket = stack.bucket();
    let data = format!("s3://{bucket}/{prefix}");
    let validate = json!({"data": data, "contract": format!("s3://{bucket}/config/contract.json"),
                          "report_uri": format!("s3://{bucket}/pipeline/{name}/single-pass/schema.json")});
    let check = json!({"task": "check", "data": data, "baseline": format!("s3://{bucket}/config/baseline.json"),
                       "config": {}, "report_prefix": format!("s3://{bucket}/pipeline/{name}/single-pass/drift/")});
    let run = async {
        let done = stack.wait_done(&arn).await;
        (done, t_run.elapsed().as_secs_f64())
    };
    let single_passes = async {
        let t = Instant::now();
        let out = tokio::join!(
            stack.invoke("schema-validator", &validate),
            stack.invoke("drift-detector", &check)
        );
        (out, t.elapsed().as_secs_f64())
    };
    let (((status, error, cause), run_s), (((ok, single), (drift_ok, drift_single)), single_s)) =
        tokio::join!(run, single_passes);
    let history = stack.history(&arn).await;
    let path: Vec<String> = history
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details()
                .map(|d| d.name().to_string())
        })
        .collect();
    assert_eq!(
        status,
        ExecutionStatus::Succeeded,
        "{error:?} {cause:?} {path:?}"
    );
    assert_subsequence(
        &path,
        &[
            "CountDataObjects",
            "ChooseValidationPath",
            "ValidateSchemaDistributed",
            "MergeValidation",
            "DataQualityGate",
            "FingerprintData",
            "ChooseDriftPath",
            "ProfileFeaturesDistributed",
            "MergeProfiles",
            "DriftCheckMerged",
            "DriftGate",
            "TrainingSweep",
            "Deployed",
        ],
        name,
    );
    // One child per object on each map, past the first listing page, each having
    // entered its one state and succeeded.
    let mut child_transitions = 0;
    for (map, state) in [
        ("ValidateSchemaDistributed", "ValidateObject"),
        ("ProfileFeaturesDistributed", "ProfileObject"),
    ] {
        let children = stack.children_of(&arn, map).await;
        assert_eq!(
            children.iter().map(|c| c.index).collect::<Vec<_>>(),
            (0..OBJECTS as u64).collect::<Vec<_>>(),
            "{map}: one child per object"
        );
        for c in &children {
            assert_eq!(
                (c.status.as_str(), c.path()),
                ("SUCCEEDED", vec![state.to_string()]),
                "{map}[{}]",
                c.index
            );
        }
        child_transitions += children.iter().map(|c| c.path().len()).sum::<usize>();
    }
    let parts = stack
        .keys(&format!("pipeline/{name}/reports/schema-parts/"))
        .await;
    assert_eq!(parts.len(), OBJECTS, "one partial result per object");
    let profiles = stack
        .keys(&format!("pipeline/{name}/reports/drift-parts/"))
        .await;
    assert_eq!(profiles.len(), OBJECTS, "one profile per object");

    // The merged verdicts equal one pass over the same objects.
    let merged = task_payload(&history, "MergeValidation");
    assert!(ok, "{single}");
    assert_eq!(merged["rows"], ROWS, "{merged}");
    assert_eq!(merged["objects"], OBJECTS, "{merged}");
    assert_eq!(merged["violations"]["warning"], 1, "{merged}");
    assert_eq!(
        without(merged, &["report_uri"]),
        without(single, &["report_uri"]),
        "merged validation of {OBJECTS} objects != single pass"
    );
    let (ok, single) = (drift_ok, drift_single);
    let merged = task_payload(&history, "DriftCheckMerged");
    assert!(ok, "{single}");
    assert!(
        merged["drifted_features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "monthly_charges"),
        "{merged}"
    );
    let uris = ["report_uri", "html_report_uri"];
    assert_eq!(
        without(merged, &uris),
        without(single, &uris),
        "merged drift check of {OBJECTS} objects != single pass"
    );
    // What docs/cost-model.md rests on (measured, not asserted: no timed assertions).
    eprintln!(
        "e2e scale-out: {OBJECTS} objects, {ROWS} rows; upload {upload_s:.1} s; run {run_s:.1} s \
         (ValidateSchemaDistributed {:.1} s, MergeValidation {:.1} s, ProfileFeaturesDistributed {:.1} s, \
         MergeProfiles {:.1} s); both single passes {single_s:.1} s; \
         state transitions: {} in the parent, {child_transitions} in {} map children",
        map_seconds(&history, "ValidateSchemaDistributed"),
        map_seconds(&history, "MergeValidation"),
        map_seconds(&history, "ProfileFeaturesDistributed"),
        map_seconds(&history, "MergeProfiles"),
        path.len(),
        2 * OBJECTS,
    );
}
