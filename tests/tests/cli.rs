//! The `trainguard` CLI's conventions, through the built binary on local files (no AWS):
//! `--json` on every command (one JSON document on stdout, errors as
//! `{"error": {"name", ...}}` with a documented name), the exit codes (0 / 1 / 2), progress
//! only on a terminal or when forced, `--quiet`, and shell completions.
//!
//! The binary is `$CARGO_TARGET_DIR/debug/trainguard`: build the workspace binaries first
//! (`cargo build --workspace --locked`; scripts/test.sh does).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use trainguard_tests::{binary_path, output_dir, workspace_root};

fn exe() -> PathBuf {
    let exe = binary_path("trainguard");
    assert!(
        exe.exists(),
        "{} missing: build the workspace binaries first (scripts/test.sh does)",
        exe.display()
    );
    exe
}

/// Run the CLI (stdin closed, stdout and stderr captured, so neither is a terminal).
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    std::process::Command::new(exe())
        .args(args)
        .stdin(std::process::Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("run trainguard")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as exactly one JSON document.
fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// Assert `o` is an `--json` error: exit 2, the documented name on stdout and stderr.
fn assert_json_error(o: &Output, name: &str) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(o));
    let v = json(o);
    assert_eq!(v["error"]["name"], name, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    let doc = trainguard::catalog::lookup(name).expect("a catalogued name");
    assert_eq!(v["error"]["retryable"], doc.retryable);
    assert!(
        stderr(o).contains(&format!("error[{name}]")),
        "{}",
        stderr(o)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A fresh directory for one test.
fn dir(tag: &str) -> PathBuf {
    let d = output_dir("cli").join(format!("{tag}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `x,label` rows: x = start..start+n, label cycling a/b/c.
fn csv(start: i64, n: i64) -> String {
    let mut s = String::from("x,label\n");
    for i in start..start + n {
        s.push_str(&format!("{i},{}\n", ["a", "b", "c"][(i % 3) as usize]));
    }
    s
}

/// A contract: x an integer in 0..=max.
fn contract(d: &Path, max: i64) -> PathBuf {
    let c = d.join(format!("contract-{max}.json"));
    let body = serde_json::json!({
        "version": 1,
        "columns": [
            {"name": "x", "type": "integer", "min": 0, "max": max},
            {"name": "label", "type": "string", "allowed_values": ["a", "b", "c"]}
        ]
    });
    std::fs::write(&c, body.to_string()).unwrap();
    c
}

/// A directory of two CSV files, 20 and 10 rows.
fn two_file_dataset(d: &Path) -> PathBuf {
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("part-0.csv"), csv(0, 20)).unwrap();
    std::fs::write(data.join("part-1.csv"), csv(20, 10)).unwrap();
    data
}

const SUBCOMMANDS: &[&str] = &[
    "validate",
    "infer-contract",
    "baseline",
    "drift",
    "classify-failure",
    "compensate",
    "approvals",
    "approve",
    "reject",
    "errors",
    "completions",
];

#[test]
fn cli_every_command_takes_the_global_flags() {
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    for sub in SUBCOMMANDS {
        assert!(help.contains(sub), "{sub} missing from --help:\n{help}");
        let o = run(&[sub, "--json", "--quiet", "--no-progress", "--help"]);
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        for flag in ["--json", "--quiet", "--progress", "--no-progress"] {
            assert!(text.contains(flag), "{sub} --help lacks {flag}");
        }
    }
    let o = run(&["approvals", "list", "--json", "--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn cli_usage_errors_exit_2() {
    let o = run(&["validate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--contract"), "{}", stderr(&o));
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_errors_json_is_the_catalog() {
    let o = run(&["errors", "--json"]);
    assert!(o.status.success());
    let v = json(&o);
    let listed = v["errors"].as_array().unwrap();
    let catalog = trainguard::catalog::all();
    assert_eq!(listed.len(), catalog.len());
    let names: Vec<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    for e in listed {
        let doc = trainguard::catalog::lookup(e["name"].as_str().unwrap()).unwrap();
        assert_eq!(e["retryable"], doc.retryable);
        assert_eq!(e["meaning"], doc.meaning);
    }
    // Human text otherwise: one line per name, not JSON.
    let o = run(&["errors"]);
    assert!(serde_json::from_slice::<Value>(&o.stdout).is_err());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        catalog.len()
    );
}

#[test]
fn cli_validate_json_verdict_and_exit_codes() {
    let d = dir("validate");
    let data = two_file_dataset(&d);
    let o = run(&[
        "validate",
        path(&data),
        "--contract",
        path(&contract(&d, 100)),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["passed"], true);
    assert_eq!(v["rows"], 30);
    assert_eq!(v["objects"], 2);

    // x goes up to 29: a max of 9 fails the range check (a result, exit 1).
    let o = run(&[
        "--json",
        "validate",
        path(&data),
        "--contract",
        path(&contract(&d, 9)),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["passed"], false);
    assert!(v["violations"]["error"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["first_violations"][0]["column"], "x");

    // Human text otherwise.
    let o = run(&[
        "validate",
        path(&data),
        "--contract",
        path(&contract(&d, 100)),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("PASSED") && text.contains("30 row(s)"),
        "{text}"
    );
}

#[test]
fn cli_errors_are_json_with_documented_names() {
    let d = dir("errors");
    let c = contract(&d, 100);
    let missing = d.join("missing.csv");
    assert_json_error(
        &run(&["validate", path(&missing), "--contract", path(&c), "--json"]),
        "StorageError.NotFound",
    );
    let bad_contract = d.join("bad-contract.json");
    std::fs::write(&bad_contract, "{\"version\": 1, \"columns\": 3}").unwrap();
    std::fs::write(d.join("data.csv"), csv(0, 3)).unwrap();
    let data = d.join("data.csv");
    assert_json_error(
        &run(&[
            "validate",
            path(&data),
            "--contract",
            path(&bad_contract),
            "--json",
        ]),
        "InputError.InvalidContract",
    );
    let not_a_baseline = d.join("baseline.json");
    std::fs::write(&not_a_baseline, "[1, 2]").unwrap();
    assert_json_error(
        &run(&[
            "drift",
            path(&data),
            "--baseline",
            path(&not_a_baseline),
            "--json",
        ]),
        "DataError.InvalidBaseline",
    );
    assert_json_error(
        &run(&["classify-failure", path(&missing), "--json"]),
        "InputError.InvalidEvent",
    );
    assert_json_error(
        &run(&[
            "compensate",
            "--stage",
            "lunch",
            "--execution",
            "run-1",
            "--bucket",
            "b",
            "--json",
        ]),
        "InputError.InvalidStage",
    );
    // Without --json the error is only the stderr line; stdout stays empty.
    let o = run(&["validate", path(&missing), "--contract", path(&c)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).starts_with("error[StorageError.NotFound]: "));
}

#[test]
fn cli_infer_contract_json_and_round_trip() {
    let d = dir("infer");
    let data = two_file_dataset(&d);
    // Without -o the contract itself is the document.
    let o = run(&["infer-contract", path(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inferred = json(&o);
    assert_eq!(inferred["columns"].as_array().unwrap().len(), 2);

    let out = d.join("contract.json");
    let o = run(&["infer-contract", path(&data), "-o", path(&out), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["contract_uri"], path(&out));
    assert_eq!(v["columns"], 2);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // The inferred contract accepts the data it came from.
    let o = run(&["validate", path(&data), "--contract", path(&out), "--json"]);
    assert_eq!(json(&o)["passed"], true, "{}", stderr(&o));
}

#[test]
fn cli_baseline_and_drift_json() {
    let d = dir("drift");
    let (reference, same, shifted) = (d.join("ref.csv"), d.join("same.csv"), d.join("shifted.csv"));
    std::fs::write(&reference, csv(0, 600)).unwrap();
    std::fs::write(&same, csv(0, 600)).unwrap();
    std::fs::write(&shifted, csv(5_000, 600)).unwrap();
    let baseline = d.join("baseline.json");
    let o = run(&[
        "baseline",
        path(&reference),
        "-o",
        path(&baseline),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["baseline_uri"], path(&baseline));
    assert_eq!(v["rows"], 600);
    assert_eq!(v["features"], 2);
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        std::fs::metadata(&baseline).unwrap().len()
    );

    let o = run(&[
        "drift",
        path(&same),
        "--baseline",
        path(&baseline),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["drift_detected"], false);
    assert_eq!(v["rows_current"], 600);

    let o = run(&[
        "drift",
        path(&shifted),
        "--baseline",
        path(&baseline),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["drift_detected"], true);
    assert!(v["drifted_features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "x"));
}

#[test]
fn cli_classify_failure_json() {
    let event = workspace_root().join("events/batch-size-adjuster/job-failed-oom.json");
    let o = run(&["--json", "classify-failure", path(&event)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert!(v["kind"].is_string(), "{v}");
    assert!(v["action"].is_string(), "{v}");
}

#[test]
fn cli_quiet_drops_notes_but_not_results() {
    let d = dir("quiet");
    std::fs::write(d.join("data.csv"), csv(0, 50)).unwrap();
    let (data, baseline) = (d.join("data.csv"), d.join("baseline.json"));
    let o = run(&["baseline", path(&data), "-o", path(&baseline)]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("baseline written to"), "{}", stderr(&o));
    let o = run(&["baseline", path(&data), "-o", path(&baseline), "--quiet"]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    // Errors still print.
    let o = run(&[
        "-q",
        "baseline",
        path(&d.join("nope.csv")),
        "-o",
        path(&baseline),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("error[StorageError.NotFound]"));
}

#[test]
fn cli_progress_is_off_when_stderr_is_not_a_terminal() {
    let d = dir("progress");
    let data = two_file_dataset(&d);
    let c = contract(&d, 100);
    let o = run(&["validate", path(&data), "--contract", path(&c)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "no progress on a pipe: {}", stderr(&o));

    // --progress forces it (plain lines on a pipe, a last one at the end) and leaves the
    // JSON on stdout intact.
    let o = run(&[
        "validate",
        path(&data),
        "--contract",
        path(&c),
        "--json",
        "--progress",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["rows"], 30);
    let err = stderr(&o);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("validating: 30 rows, object 2/2 of "),
        "{err}"
    );
    assert!(
        !err.contains('\r'),
        "no in-place redraws on a pipe: {err:?}"
    );

    // --no-progress after --progress wins.
    let o = run(&[
        "validate",
        path(&data),
        "--contract",
        path(&c),
        "--progress",
        "--no-progress",
    ]);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));

    // Profiling reports too.
    let baseline = d.join("baseline.json");
    let o = run(&[
        "baseline",
        path(&data),
        "-o",
        path(&baseline),
        "--progress",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("profiling: 30 rows"), "{}", stderr(&o));
}

#[test]
fn cli_completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains("trainguard"), "{shell}");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
        assert!(script.contains("json"), "{shell} script lacks --json");
    }
    // The bash script is valid bash.
    let o = run(&["completions", "bash"]);
    let d = dir("completions");
    let file = d.join("trainguard.bash");
    std::fs::write(&file, &o.stdout).unwrap();
    if let Ok(check) = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
    {
        assert!(check.status.success(), "{}", stderr(&check));
    }
    // --json wraps the script.
    let v = json(&run(&["completions", "fish", "--json"]));
    assert_eq!(v["shell"], "fish");
    assert!(v["script"]
        .as_str()
        .unwrap()
        .contains("complete -c trainguard"));
}

// ------------------------------------------------ approvals through the signed approval API
//
// `approvals list` / `approve` / `reject` call the approval service's IAM routes only. A
// real execution waits on moto (approval_common's fixture); `trainguard_tests::api_gateway`
// plays API Gateway with its IAM authorizer in front of the real handler: it recomputes
// each request's SigV4 signature from the secret of an IAM user created in moto, and
// passes the verified principal to the handler as `requestContext.authorizer.iam`. The
// CLI runs with that user's keys and every AWS endpoint pointed at a closed port, so it
// works only if it never calls S3, STS or Step Functions itself.

mod approval_common;

use approval_common::{Fixture, CLI_REVIEWER_ARN};
use serde_json::json;
use trainguard_tests::api_gateway::{create_iam_user, AccessKey, IamGateway, RunningGateway};

/// Nothing listens here: an AWS SDK call from the CLI would fail.
const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

/// Run the CLI as a reviewer: only `key`'s credentials, a region and the API URL; every
/// AWS endpoint on a closed port; empty shared config files.
async fn reviewer_cli(args: &[&str], api_url: &str, key: &AccessKey) -> Output {
    let empty = output_dir("cli").join("empty-aws-config");
    std::fs::write(&empty, "").unwrap();
    tokio::process::Command::new(exe())
        .args(args)
        .stdin(std::process::Stdio::null())
        .env_clear()
        .env("TRAINGUARD_APPROVAL_API_URL", api_url)
        .env("AWS_ACCESS_KEY_ID", &key.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &key.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .output()
        .await
        .expect("run trainguard")
}

/// The stand-in for API Gateway, with the template's two IAM routes, in front of the
/// fixture's handler.
async fn iam_gateway(fx: &Fixture, keys: &[&AccessKey]) -> RunningGateway {
    let mut gateway = IamGateway::new(approval_common::API_ID, "us-east-1")
        .route("GET", "/iam/approvals")
        .route("POST", "/iam/approvals/{id}/decision");
    for k in keys {
        gateway = gateway.key((*k).clone());
    }
    let service = fx.service.clone();
    gateway
        .start(move |event| {
            let service = service.clone();
            async move {
                trainguard::approval::handle_event(&service, event)
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await
}

/// A waiting execution whose approval the CLI reviewer may decide.
async fn waiting_for_review(fx: &Fixture, name: &str) -> (String, String, String) {
    let pkg = fx.new_package().await;
    let mut input = fx.input(&pkg, 3600);
    input["approvers"]
        .as_array_mut()
        .unwrap()
        .push(json!(CLI_REVIEWER_ARN));
    let (exec, id, raw) = fx.start_and_wait(name, input).await;
    let token = raw["task_token"].as_str().unwrap().to_string();
    (exec, id, token)
}

async fn execution_status(fx: &Fixture, exec: &str) -> String {
    fx.clients
        .sfn
        .describe_execution()
        .execution_arn(exec)
        .send()
        .await
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_lists_and_approves_through_the_signed_api() {
    let fx = Fixture::start("https://approvals.example.com").await;
    let reviewer = create_iam_user(&fx.moto, "trainguard-reviewer").await;
    assert_eq!(reviewer.user_arn, CLI_REVIEWER_ARN);
    let outsider = create_iam_user(&fx.moto, "someone-else").await;
    let gw = iam_gateway(&fx, &[&reviewer, &outsider]).await;
    let (exec, id, token) = waiting_for_review(&fx, "run-cli-api-1").await;
    let mut printed = String::new();
    let mut keep = |o: &Output| {
        printed.push_str(&String::from_utf8_lossy(&o.stdout));
        printed.push_str(&stderr(o));
    };

    // The list, through GET /iam/approvals.
    let o = reviewer_cli(&["approvals", "list", "--json"], &gw.url, &reviewer).await;
    keep(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = json(&o);
    let mine = listed["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["approval_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {listed}"));
    assert_eq!(mine["may_decide"], true, "{mine}");
    let o = reviewer_cli(&["approvals", "list"], &gw.url, &reviewer).await;
    keep(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(&id)
            && l.contains("run-cli-api-1")
            && l.ends_with("you may decide")),
        "{text}"
    );
    // Someone else, correctly signed: not offered the decision.
    let o = reviewer_cli(&["approvals", "list"], &gw.url, &outsider).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with(&id) && l.ends_with("you may decide")),
        "{text}"
    );

    // A signature made with the wrong secret: API Gateway's 403, the function never runs.
    let forwarded = gw.forwarded.lock().unwrap().len();
    let wrong = AccessKey {
        secret_access_key: "not-the-secret".into(),
        ..reviewer.clone()
    };
    let o = reviewer_cli(
        &["approve", &id, "--comment", "x", "--json"],
        &gw.url,
        &wrong,
    )
    .await;
    keep(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["refused"]["code"], "access_denied", "{v}");
    assert_eq!(v["refused"]["http_status"], 403);
    assert!(
        v["refused"]["message"]
            .as_str()
            .unwrap()
            .contains("signature we calculated does not match"),
        "{v}"
    );
    assert!(
        stderr(&o).contains("refused[access_denied] (HTTP 403)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(gw.forwarded.lock().unwrap().len(), forwarded);

    // A correctly signed caller who is not an approver: the service refuses.
    let o = reviewer_cli(
        &["approve", &id, "--comment", "me too", "--json"],
        &gw.url,
        &outsider,
    )
    .await;
    keep(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["refused"]["code"], "not_an_approver", "{v}");
    assert_eq!(v["refused"]["http_status"], 403);
    assert_eq!(fx.record(&id).await["status"], "pending");
    assert_eq!(execution_status(&fx, &exec).await, "RUNNING");

    // The approver: the execution resumes, the reviewer is the verified IAM user.
    let o = reviewer_cli(
        &["approve", &id, "--comment", "signed and approved", "--json"],
        &gw.url,
        &reviewer,
    )
    .await;
    keep(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["approval_id"], id.as_str());
    assert_eq!(v["status"], "approved");
    assert_eq!(v["reviewer"], CLI_REVIEWER_ARN);
    assert!(v["decided_at"].is_string(), "{v}");
    assert_eq!(fx.wait_done(&exec).await.status.as_str(), "SUCCEEDED");
    let rec = fx.record(&id).await;
    assert_eq!(rec["decision"]["reviewer"], CLI_REVIEWER_ARN);
    assert_eq!(rec["decision"]["via"], "http");
    let last = gw.forwarded.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last["requestContext"]["authorizer"]["iam"]["userArn"],
        CLI_REVIEWER_ARN
    );
    assert!(last["requestContext"]["http"]["userAgent"]
        .as_str()
        .unwrap()
        .starts_with("trainguard-cli/"));
    let audit = fx.audit_events().await;
    assert!(
        audit
            .iter()
            .any(|e| e["event"] == "decided" && e["actor_kind"] == "iam"),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|e| e["event"] == "refused"
            && e["reason"]
                .as_str()
                .unwrap_or("")
                .starts_with("not_an_approver")),
        "{audit:?}"
    );

    // A second decision: refused, human output on stderr, exit 1.
    let o = reviewer_cli(&["reject", &id, "--comment", "late"], &gw.url, &reviewer).await;
    keep(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).starts_with("refused[already_decided] (HTTP 409): "),
        "{}",
        stderr(&o)
    );
    approval_common::assert_no_token(&token, "the CLI's output", &printed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_rejects_through_the_signed_api() {
    let fx = Fixture::start("https://approvals.example.com").await;
    let reviewer = create_iam_user(&fx.moto, "trainguard-reviewer").await;
    let gw = iam_gateway(&fx, &[&reviewer]).await;
    let (exec, id, _) = waiting_for_review(&fx, "run-cli-api-2").await;
    let o = reviewer_cli(
        &["reject", &id, "--comment", "f1 regression on holdout"],
        &gw.url,
        &reviewer,
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let prefix = format!("{id} rejected by {CLI_REVIEWER_ARN} at ");
    let at = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok(),
        "an RFC 3339 time: {at:?}"
    );
    let done = fx.wait_done(&exec).await;
    assert_eq!(done.status.as_str(), "FAILED");
    assert_eq!(done.error.as_deref(), Some("Approval.Rejected"));
    assert_eq!(
        fx.record(&id).await["decision"]["comment"],
        "f1 regression on holdout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_approvals_need_a_usable_api_url() {
    let key = AccessKey {
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: "secret".into(),
        user_arn: CLI_REVIEWER_ARN.into(),
        user_id: "AIDAEXAMPLE".into(),
        account_id: "123456789012".into(),
    };
    let id = "0123456789abcdef0123456789abcdef";
    // No URL, or one that is not https: unusable configuration, exit 2.
    for url in ["", "http://approvals.example.com"] {
        let o = reviewer_cli(&["approve", id, "--json"], url, &key).await;
        assert_json_error(&o, "Approval.Misconfigured");
        assert!(
            stderr(&o).contains("TRAINGUARD_APPROVAL_API_URL"),
            "{}",
            stderr(&o)
        );
    }
    // The bucket is no business of the CLI any more: clap rejects the flag.
    let o = reviewer_cli(
        &["approvals", "list", "--bucket", "b"],
        "https://a.example.com",
        &key,
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--bucket"), "{}", stderr(&o));
    // Not an approval id: refused before any request, as the service would.
    let o = reviewer_cli(&["approve", "../../x", "--json"], CLOSED_ENDPOINT, &key).await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["refused"]["code"], "unknown_approval");
    // Nobody answers: retryable.
    let o = reviewer_cli(&["approvals", "list", "--json"], CLOSED_ENDPOINT, &key).await;
    assert_json_error(&o, "Transient.Throttled");
}
