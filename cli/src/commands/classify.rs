//! `trainguard classify-failure` (issue: batch-size-adjuster): classify a caught
//! training failure and print the recovery plan.
//!
//! The file may hold a whole task input (`{"error", "training_job", "policy",
//! "history"}`), a caught `{"Error","Cause"}`, a bare DescribeTrainingJob response, or
//! plain text. Without the CreateTrainingJob parameters (a full task input, or a
//! describe response to rebuild them from) only the classification is printed.
//!
//! Exit codes: 0 a retry is planned (or classification only), 1 the plan halts,
//! 2 unusable input. With `--json`: the decision (what the Lambda returns), or
//! `{"class", "kind", "evidence", "notes"}` when only the classification can be made.

use std::process::ExitCode;

use serde_json::{json, Map, Value};
use trainguard::error::ErrorName;
use trainguard::training::shapes::{parse_cause, FailureSource};
use trainguard::training::{
    decide, diagnose, Action, Classification, Decision, InMemoryLogs, LogSource, NoLogs,
    RecoveryInput, TrainingError,
};

use crate::output::Output;

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// The caught error JSON ({"Error","Cause"}), a full task input, a
    /// DescribeTrainingJob response, or a plain-text file; `-` reads stdin.
    pub cause: String,
    /// A recovery policy JSON file (replaces the input's `policy`).
    #[arg(long)]
    pub policy: Option<String>,
    /// A log file to use as the job's log tail when the FailureReason says too little.
    #[arg(long, conflicts_with = "fetch_logs")]
    pub logs: Option<String>,
    /// Read the tail from CloudWatch Logs (/aws/sagemaker/TrainingJobs) with the standard
    /// AWS environment.
    #[arg(long)]
    pub fetch_logs: bool,
}

fn read_source(path: &str) -> std::io::Result<String> {
    if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
}

/// Turn whatever the file holds into a task input.
fn to_task_input(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) if o.contains_key("error") => Value::Object(o),
        Ok(Value::Object(o)) if o.contains_key("Error") || o.contains_key("Cause") => {
            json!({ "error": Value::Object(o) })
        }
        Ok(Value::Object(o)) if o.contains_key("TrainingJobStatus") => {
            json!({"error": {"Error": "States.TaskFailed", "Cause": Value::Object(o).to_string()}})
        }
        Ok(Value::String(s)) => json!({ "error": s }),
        _ => json!({ "error": text.trim() }),
    }
}

pub async fn run(a: ClassifyArgs, out: Output) -> ExitCode {
    let text = match read_source(&a.cause) {
        Ok(t) => t,
        Err(e) => {
            return out.fail(
                "InputError.InvalidEvent",
                &format!("cannot read {}: {e}", a.cause),
            )
        }
    };
    let mut input = to_task_input(&text);
    if let Some(p) = &a.policy {
        let policy = match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return out.fail("InputError.InvalidRecoveryPolicy", &format!("{p}: {e}")),
        };
        input["policy"] = policy;
    }
    let req = match RecoveryInput::from_value(&input) {
        Ok(r) => r,
        Err(e) => return out.fail(e.error_name(), &e.to_string()),
    };
    let job_name = match parse_cause(&req.caught) {
        FailureSource::Job(d) => Some(d.name),
        _ => req
            .training_job
            .as_ref()
            .and_then(|j| j.get("TrainingJobName"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if a.fetch_logs {
        let config = trainguard::aws::load_config().await;
        let logs = trainguard::aws::sdk::CloudWatchLogs::new(trainguard::aws::logs_client(&config));
        return run_with(out, &req, &logs).await;
    }
    if let Some(path) = &a.logs {
        let log_text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                return out.fail(
                    "InputError.InvalidEvent",
                    &format!("cannot read {path}: {e}"),
                )
            }
        };
        let stream = format!("{}/{}", job_name.as_deref().unwrap_or("job"), path);
        let logs = InMemoryLogs::default().with_stream(&stream, &log_text);
        return run_with(out, &req, &logs).await;
    }
    run_with(out, &req, &NoLogs).await
}

async fn run_with<L: LogSource>(out: Output, req: &RecoveryInput, logs: &L) -> ExitCode {
    let can_plan =
        req.training_job.is_some() || matches!(parse_cause(&req.caught), FailureSource::Job(_));
    if !can_plan {
        return match diagnose(&req.caught, &req.policy, logs).await {
            Ok((c, notes, _)) => {
                if out.json {
                    out.emit(
                        &json!({"class": c.class, "kind": c.kind, "evidence": c.evidence, "notes": notes}),
                    );
                } else {
                    print_classification(&c);
                    for n in &notes {
                        println!("note:      {n}");
                    }
                    println!("plan:      needs the CreateTrainingJob parameters (pass a full task input with training_job)");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(out, &e),
        };
    }
    match decide(req, logs).await {
        Ok(d) => {
            if out.json {
                out.emit(&d);
            } else {
                print_decision(&d, req.training_job.as_ref());
            }
            if d.action == Action::Halt {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(out, &e),
    }
}

fn fail(out: Output, e: &TrainingError) -> ExitCode {
    out.fail(e.error_name(), &e.to_string())
}

fn print_classification(c: &Classification) {
    println!("class:     {:?} ({:?})", c.class, c.kind);
    let fw = c
        .evidence
        .framework
        .as_deref()
        .map(|f| format!(", {f}"))
        .unwrap_or_default();
    let stream = c
        .evidence
        .log_stream
        .as_deref()
        .map(|s| format!(", stream {s}"))
        .unwrap_or_default();
    println!(
        "evidence:  {:?}, rule {}{fw}{stream}",
        c.evidence.source, c.evidence.rule
    );
    println!("           {}", c.evidence.excerpt);
}

fn print_decision(d: &Decision, before: Option<&Map<String, Value>>) {
    print_classification(&Classification {
        class: d.class,
        kind: d.kind,
        evidence: d.evidence.clone(),
    });
    let action = serde_json::to_value(d.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    println!(
        "action:    {action} (attempt {}{})",
        d.attempt,
        if d.wait_seconds > 0 {
            format!(", wait {} s", d.wait_seconds)
        } else {
            String::new()
        }
    );
    if let Some(h) = &d.halt_reason {
        println!("halt:      {h}");
    }
    println!("plan:      {}", d.message);
    let old_hp = before
        .and_then(|b| b.get("HyperParameters"))
        .and_then(Value::as_object);
    for (k, v) in &d.patch {
        match (k.as_str(), v) {
            ("HyperParameters", Value::Object(hp)) => {
                for (name, value) in hp {
                    let old = old_hp.and_then(|o| o.get(name));
                    if old.and_then(Value::as_str) != value.as_str() {
                        let old = old
                            .map(|o| o.to_string())
                            .unwrap_or_else(|| "(unset)".into());
                        println!("change:    HyperParameters.{name}: {old} -> {value}");
                    }
                }
            }
            _ => println!("change:    {k} = {v}"),
        }
    }
    for n in &d.notes {
        println!("note:      {n}");
    }
}
