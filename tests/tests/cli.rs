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
