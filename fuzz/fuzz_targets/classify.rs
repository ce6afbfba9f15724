//! The training-failure classifier on arbitrary text: what a failed job's
//! `FailureReason`, a Step Functions `Cause`, an API error or a CloudWatch Logs tail
//! may hold. Reads the text
//!
//! - as plain text from every evidence source (`classify_text`),
//! - as a caught `{"Error","Cause"}` (first line the error name, the rest the cause:
//!   `parse_cause` tells a DescribeTrainingJob JSON, an API error and plain text
//!   apart), classified with `classify_source` and `needs_log_fallback`,
//! - as a DescribeTrainingJob response whose `FailureReason` is the text,
//! - as the lines of log streams (`best_of_tails`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainguard::training::classify::{classify_source, classify_text, needs_log_fallback};
use trainguard::training::shapes::parse_cause;
use trainguard::training::{best_of_tails, CaughtError, EvidenceSource, StreamTail};
use trainguard_fuzz::BoundedAlloc;

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

fn classify_caught(error: &str, cause: String) {
    let caught = CaughtError {
        error: error.to_string(),
        cause,
    };
    let source = parse_cause(&caught);
    let c = classify_source(&source);
    let _ = needs_log_fallback(&source, &c);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for source in [
        EvidenceSource::JobStatus,
        EvidenceSource::FailureReason,
        EvidenceSource::ApiError,
        EvidenceSource::Cause,
        EvidenceSource::CloudWatchLogs,
    ] {
        let _ = classify_text(&text, source);
    }

    let (first, rest) = text.split_once('\n').unwrap_or(("", &text));
    classify_caught(first.trim(), rest.to_string());
    classify_caught("States.TaskFailed", text.to_string());

    let describe = serde_json::json!({
        "TrainingJobName": "fuzz-job",
        "TrainingJobStatus": "Failed",
        "SecondaryStatus": "Failed",
        "FailureReason": text,
    });
    classify_caught("States.TaskFailed", describe.to_string());

    let tails = [StreamTail {
        stream: "fuzz-job/algo-1-1700000000".into(),
        lines: text.lines().map(str::to_string).collect(),
    }];
    let _ = best_of_tails(&tails);
});
