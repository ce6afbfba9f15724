//! Sorting a training failure into the pipeline's classes, with the evidence.
//!
//! Structural signals come first (the job's status and secondary status, the API error
//! code), then an ordered list of text rules over the FailureReason, the API message or
//! a log tail. Order is priority: when a log shows a CUDA OOM on one rank followed by
//! NCCL timeouts on the others, the OOM is the cause, so the memory rules sit above
//! everything that tends to follow a crash.
//!
//! Rules match case-insensitive substrings, never a lone word that also occurs in
//! unrelated errors: `malloc` appears in NCCL's `ncclSystemError: System call (e.g.
//! socket, malloc) ...`, `invalid argument` in NCCL and CUDA launch errors; neither is
//! an out-of-memory condition. The fixture corpus in
//! `tests/fixtures/training-failures/` pins each rule to real messages, and the
//! negatives that must stay unmatched.

use serde::{Deserialize, Serialize};

use super::shapes::{FailureSource, JobDescription};

/// The four classes of the pipeline design, plus "no rule matched".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureClass {
    /// Spot interruption, throttling, internal errors, flaky networking: retry as is.
    Transient,
    /// Out of memory, quota, capacity, time limit: resize or wait.
    Resource,
    /// Missing or malformed input data: halt.
    Data,
    /// NaN or diverging loss: retry with a lower learning rate, a bounded number of times.
    Logic,
    /// Nothing recognised: halt with the evidence.
    Unknown,
}

/// What exactly went wrong, within a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    SpotInterruption,
    Throttling,
    ServiceError,
    TransientNetwork,
    GpuOutOfMemory,
    HostOutOfMemory,
    QuotaExceeded,
    InsufficientCapacity,
    MaxRuntimeExceeded,
    MissingInput,
    InvalidData,
    NanLoss,
    DivergingLoss,
    StoppedByUser,
    Unknown,
}

impl FailureKind {
    /// The class this kind belongs to.
    pub fn class(self) -> FailureClass {
        use FailureKind::*;
        match self {
            SpotInterruption | Throttling | ServiceError | TransientNetwork => {
                FailureClass::Transient
            }
            GpuOutOfMemory | HostOutOfMemory | QuotaExceeded | InsufficientCapacity
            | MaxRuntimeExceeded => FailureClass::Resource,
            MissingInput | InvalidData => FailureClass::Data,
            NanLoss | DivergingLoss => FailureClass::Logic,
            StoppedByUser | Unknown => FailureClass::Unknown,
        }
    }

    /// True for the out-of-memory kinds the batch resizing handles.
    pub fn is_oom(self) -> bool {
        matches!(
            self,
            FailureKind::GpuOutOfMemory | FailureKind::HostOutOfMemory
        )
    }
}

/// Where the deciding text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EvidenceSource {
    /// `TrainingJobStatus` / `SecondaryStatus` / `SecondaryStatusTransitions`.
    JobStatus,
    /// DescribeTrainingJob `FailureReason`.
    FailureReason,
    /// The Step Functions error name and the service error code of an API error.
    ApiError,
    /// The plain-text `Cause`.
    Cause,
    /// The tail of the job's CloudWatch Logs stream.
    CloudWatchLogs,
}

/// Why a failure was put in its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub source: EvidenceSource,
    /// The id of the rule that decided (see [`RULES`]).
    pub rule: String,
    /// The framework the message comes from, when the rule knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// The line that matched (at most [`EXCERPT_LEN`] characters).
    pub excerpt: String,
    /// The CloudWatch Logs stream, when the evidence came from the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
}

/// A failure's class, kind and evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub class: FailureClass,
    pub kind: FailureKind,
    pub evidence: Evidence,
}

/// The longest excerpt kept as evidence.
pub const EXCERPT_LEN: usize = 300;

/// DescribeTrainingJob returns at most 1024 characters of FailureReason; anything this
/// long was probably cut, and the decisive line may be missing.
pub const FAILURE_REASON_TRUNCATION_HINT: usize = 1000;

/// A text rule: every `all` needle and at least one `any` needle (if any are given)
/// must occur, case-insensitively.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub kind: FailureKind,
    pub framework: Option<&'static str>,
    pub any: &'static [&'static str],
    pub all: &'static [&'static str],
}

const fn rule(
    id: &'static str,
    kind: FailureKind,
    framework: Option<&'static str>,
    any: &'static [&'static str],
    all: &'static [&'static str],
) -> Rule {
    Rule {
        id,
        kind,
        framework,
        any,
        all,
    }
}

use FailureKind as K;

/// The text rules, in priority order. Needles are lower case.
pub const RULES: &[Rule] = &[
    // --- GPU memory -------------------------------------------------------------------
    // PyTorch: `RuntimeError: CUDA out of memory. Tried to allocate ...` (< 2.0) and
    // `torch.OutOfMemoryError` / `torch.cuda.OutOfMemoryError: CUDA out of memory` (>= 2.0).
    rule(
        "pytorch-cuda-oom",
        K::GpuOutOfMemory,
        Some("pytorch"),
        &[
            "cuda out of memory",
            "torch.outofmemoryerror",
            "torch.cuda.outofmemoryerror",
        ],
        &[],
    ),
    rule(
        "cuda-error-oom",
        K::GpuOutOfMemory,
        Some("cuda"),
        &[
            "cuda error: out of memory",
            "cuda_error_out_of_memory",
            "cudaerrormemoryallocation",
        ],
        &[],
    ),
    rule(
        "cublas-alloc-failed",
        K::GpuOutOfMemory,
        Some("cuda"),
        &["cublas_status_alloc_failed"],
        &[],
    ),
    rule(
        "cudnn-alloc-failed",
        K::GpuOutOfMemory,
        Some("cuda"),
        &["cudnn_status_alloc_failed"],
        &[],
    ),
    rule(
        "tensorflow-oom",
        K::GpuOutOfMemory,
        Some("tensorflow"),
        &[
            "oom when allocating tensor",
            "resourceexhaustederror",
            "resource exhausted: oom",
        ],
        &[],
    ),
    rule(
        "xla-resource-exhausted",
        K::GpuOutOfMemory,
        Some("jax"),
        &["out of memory", "failed to allocate", "ran out of memory"],
        &["resource_exhausted"],
    ),
    rule(
        "rapids-rmm-oom",
        K::GpuOutOfMemory,
        Some("rapids"),
        &[
            "rmm_error_out_of_memory",
            "rmm::bad_alloc",
            "rmm::out_of_memory",
            "out_of_memory: cuda error",
        ],
        &[],
    ),
    rule(
        "thrust-bad-alloc",
        K::GpuOutOfMemory,
        Some("xgboost"),
        &["thrust::", "cuda", "gpu"],
        &["bad_alloc"],
    ),
    rule(
        "gpu-out-of-memory",
        K::GpuOutOfMemory,
        None,
        &["cuda", "gpu", "device"],
        &["out of memory"],
    ),
    // --- host memory ------------------------------------------------------------------
    // sagemaker-training-toolkit adds this ExtraInfo when the entry point exits with 137.
    rule(
        "sagemaker-oom-sigkill",
        K::HostOutOfMemory,
        Some("sagemaker"),
        &["outofmemory: process killed by sigkill"],
        &[],
    ),
    rule(
        "exit-code-137",
        K::HostOutOfMemory,
        None,
        &[
            "exitcode 137",
            "exit code: 137",
            "exit code 137",
            "exit status 137",
            "exited with code 137",
            "exitcode  : -9",
        ],
        &[],
    ),
    rule(
        "pytorch-cpu-allocator",
        K::HostOutOfMemory,
        Some("pytorch"),
        &[
            "defaultcpuallocator: can't allocate memory",
            "defaultcpuallocator: not enough memory",
        ],
        &[],
    ),
    rule(
        "dataloader-worker-killed",
        K::HostOutOfMemory,
        Some("pytorch"),
        &["dataloader worker"],
        &["killed by signal: killed"],
    ),
    rule(
        "sigkill",
        K::HostOutOfMemory,
        None,
        &["sigkill", "signal 9"],
        &[],
    ),
    rule(
        "host-out-of-memory",
        K::HostOutOfMemory,
        None,
        &[
            "cannot allocate memory",
            "std::bad_alloc",
            "memoryerror",
            "out of memory",
            "oom-kill",
            "oom killer",
        ],
        &[],
    ),
    // --- quota and capacity -------------------------------------------------------------
    rule(
        "service-quota",
        K::QuotaExceeded,
        Some("sagemaker"),
        &["resourcelimitexceeded", "account-level service limit"],
        &[],
    ),
    rule(
        "insufficient-capacity",
        K::InsufficientCapacity,
        Some("sagemaker"),
        &[
            "capacityerror",
            "insufficientcapacity",
            "insufficient capacity",
            "unable to provision requested ml compute capacity",
            "is temporarily unavailable",
        ],
        &[],
    ),
    // --- data -----------------------------------------------------------------------------
    rule(
        "missing-input",
        K::MissingInput,
        Some("sagemaker"),
        &[
            "data download failed",
            "no s3 objects found under s3 url",
            "nosuchkey",
            "the specified key does not exist",
            "channeldoesnotexisterror",
            "is not a valid channel",
            "keyerror: 'sm_channel_",
        ],
        &[],
    ),
    rule(
        "invalid-data",
        K::InvalidData,
        None,
        &[
            "non-numeric value",
            "could not convert string to float",
            "csv format require",
            "failed to load libsvm data",
            "failed to load csv data",
            "blankspace and colon not found",
            "unicodedecodeerror",
            "arrowinvalid",
            "schema mismatch",
            "dataerror.",
            "corrupt record",
            "corrupted record",
            "file is corrupt",
            "corrupt jpeg data",
            "image file is truncated",
        ],
        &[],
    ),
    // --- logic ------------------------------------------------------------------------------
    rule(
        "nan-loss",
        K::NanLoss,
        None,
        &[
            "loss is nan",
            "loss = nan",
            "loss: nan",
            "nan loss",
            "nanlossduringtrainingerror",
            "loss is inf",
            "detected inf or nan",
            "non-finite loss",
            "invalid loss, terminating training",
            "` is nan",
            "loss became nan",
        ],
        &[],
    ),
    rule(
        "diverging-loss",
        K::DivergingLoss,
        None,
        &[
            "model diverged",
            "loss diverged",
            "training diverged",
            "loss is diverging",
        ],
        &[],
    ),
    // --- transient --------------------------------------------------------------------------
    rule(
        "throttling",
        K::Throttling,
        None,
        &[
            "throttlingexception",
            "rate exceeded",
            "slowdown",
            "please reduce your request rate",
            "too many requests",
            "requestlimitexceeded",
        ],
        &[],
    ),
    rule(
        "service-error",
        K::ServiceError,
        Some("sagemaker"),
        &[
            "internalservererror",
            "internal server error",
            "we encountered an internal error",
            "internalfailure",
            "serviceunavailable",
            "service unavailable",
        ],
        &[],
    ),
    rule(
        "transient-network",
        K::TransientNetwork,
        None,
        &[
            "connection reset by peer",
            "read timed out",
            "endpointconnectionerror",
            "could not connect to the endpoint url",
            "temporary failure in name resolution",
        ],
        &[],
    ),
    rule(
        "spot-interruption-text",
        K::SpotInterruption,
        Some("sagemaker"),
        &[
            "spot interruption",
            "spotinterruption",
            "spot instance interruption",
        ],
        &[],
    ),
];

/// Classify a free text (FailureReason, message, log tail) with [`RULES`].
/// `None` when no rule matches.
pub fn classify_text(text: &str, source: EvidenceSource) -> Option<Classification> {
    let lower = text.to_lowercase();
    for r in RULES {
        if !r.all.iter().all(|n| lower.contains(n)) {
            continue;
        }
        let hit = if r.any.is_empty() {
            r.all.first().copied()
        } else {
            r.any.iter().copied().find(|n| lower.contains(n))
        };
        let Some(needle) = hit else { continue };
        return Some(Classification {
            class: r.kind.class(),
            kind: r.kind,
            evidence: Evidence {
                source,
                rule: r.id.to_string(),
                framework: r.framework.map(str::to_string),
                excerpt: excerpt_around(text, &lower, needle),
                log_stream: None,
            },
        });
    }
    None
}

/// The matched line, cut to [`EXCERPT_LEN`] characters around the needle.
fn excerpt_around(text: &str, lower: &str, needle: &str) -> String {
    // Lower-casing can change byte offsets for non-ASCII text; fall back to the start.
    let pos = lower
        .find(needle)
        .filter(|p| lower.len() == text.len() && text.is_char_boundary(*p))
        .unwrap_or(0);
    let line_start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[pos..]
        .find('\n')
        .map(|i| pos + i)
        .unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let rel = pos - line_start;
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= EXCERPT_LEN {
        return line.trim().to_string();
    }
    let rel_chars = line[..rel].chars().count();
    let start = rel_chars
        .saturating_sub(EXCERPT_LEN / 3)
        .min(chars.len() - EXCERPT_LEN);
    chars[start..start + EXCERPT_LEN]
        .iter()
        .collect::<String>()
        .trim()
        .to_string()
}

fn evidence(
    source: EvidenceSource,
    rule: &str,
    framework: Option<&str>,
    excerpt: &str,
) -> Evidence {
    Evidence {
        source,
        rule: rule.to_string(),
        framework: framework.map(str::to_string),
        excerpt: excerpt.chars().take(EXCERPT_LEN).collect(),
        log_stream: None,
    }
}

/// An unknown classification carrying `excerpt` as its evidence.
pub fn unknown(source: EvidenceSource, excerpt: &str) -> Classification {
    Classification {
        class: FailureClass::Unknown,
        kind: FailureKind::Unknown,
        evidence: evidence(source, "no-rule-matched", None, excerpt),
    }
}

/// Classify a decoded failure without reading logs.
pub fn classify_source(src: &FailureSource) -> Classification {
    match src {
        FailureSource::Job(d) => classify_job(d),
        FailureSource::Api {
            error_name,
            error_code,
            message,
            status_code,
        } => classify_api(error_name, error_code, message, *status_code),
        FailureSource::Text(t) => classify_text(t, EvidenceSource::Cause)
            .unwrap_or_else(|| unknown(EvidenceSource::Cause, t)),
    }
}

fn classify_job(d: &JobDescription) -> Classification {
    let status_line = format!(
        "TrainingJobStatus={} SecondaryStatus={} spot={} interruptions={}",
        d.status,
        d.secondary_status,
        d.spot,
        d.spot_interruptions()
    );
    let by_status = |kind: FailureKind, rule: &str| Classification {
        class: kind.class(),
        kind,
        evidence: evidence(
            EvidenceSource::JobStatus,
            rule,
            Some("sagemaker"),
            &status_line,
        ),
    };
    if d.status.eq_ignore_ascii_case("Stopped") {
        return match d.secondary_status.as_str() {
            // A job that reaches MaxRuntimeInSeconds ends `Stopped`: not a success.
            "MaxRuntimeExceeded" => {
                by_status(FailureKind::MaxRuntimeExceeded, "max-runtime-exceeded")
            }
            // Spot capacity was taken away (or never granted) until MaxWaitTimeInSeconds.
            "MaxWaitTimeExceeded" if d.spot => {
                by_status(FailureKind::SpotInterruption, "spot-max-wait-exceeded")
            }
            "MaxWaitTimeExceeded" => {
                by_status(FailureKind::MaxRuntimeExceeded, "max-wait-exceeded")
            }
            _ if d.spot
                && d.spot_interruptions() > 0
                && d.secondary_status.eq_ignore_ascii_case("Interrupted") =>
            {
                by_status(FailureKind::SpotInterruption, "spot-interrupted")
            }
            _ => by_status(FailureKind::StoppedByUser, "stopped"),
        };
    }
    if d.failure_reason.trim().is_empty() {
        return unknown(EvidenceSource::FailureReason, &status_line);
    }
    classify_text(&d.failure_reason, EvidenceSource::FailureReason)
        .unwrap_or_else(|| unknown(EvidenceSource::FailureReason, &d.failure_reason))
}

fn classify_api(
    error_name: &str,
    code: &str,
    message: &str,
    status: Option<u16>,
) -> Classification {
    let line = format!("{error_name} ({code}): {message}");
    let by_code = |kind: FailureKind, rule: &str| Classification {
        class: kind.class(),
        kind,
        evidence: evidence(EvidenceSource::ApiError, rule, Some("sagemaker"), &line),
    };
    let code_trim = code.trim_end_matches("Exception");
    match code_trim {
        "ResourceLimitExceeded" | "LimitExceeded" | "ServiceQuotaExceeded" => {
            // The same code is used for capacity shortages; the message tells them apart.
            match classify_text(message, EvidenceSource::ApiError) {
                Some(c) if c.kind == FailureKind::InsufficientCapacity => c,
                _ => by_code(FailureKind::QuotaExceeded, "api-resource-limit-exceeded"),
            }
        }
        "Throttling" | "TooManyRequests" | "RequestLimitExceeded" | "Throttled" => {
            by_code(FailureKind::Throttling, "api-throttling")
        }
        "InternalFailure"
        | "InternalServerError"
        | "InternalError"
        | "ServiceUnavailable"
        | "InternalServer" => by_code(FailureKind::ServiceError, "api-internal-error"),
        _ if status.is_some_and(|s| s >= 500) => by_code(FailureKind::ServiceError, "api-5xx"),
        _ => {
            let mut c = classify_text(message, EvidenceSource::ApiError)
                .unwrap_or_else(|| unknown(EvidenceSource::ApiError, &line));
            if c.kind == FailureKind::Unknown {
                c.evidence.excerpt = line.chars().take(EXCERPT_LEN).collect();
            }
            c
        }
    }
}

/// True when the FailureReason alone should not be trusted and the job's logs should
/// be read: nothing matched, or the reason is about as long as DescribeTrainingJob
/// allows (cut) and what matched is not an out-of-memory condition.
pub fn needs_log_fallback(src: &FailureSource, c: &Classification) -> bool {
    let FailureSource::Job(d) = src else {
        return false;
    };
    if !d.status.eq_ignore_ascii_case("Failed") {
        return false;
    }
    c.kind == FailureKind::Unknown
        || (d.failure_reason.chars().count() >= FAILURE_REASON_TRUNCATION_HINT && !c.kind.is_oom())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::shapes::{parse_cause, CaughtError};
    use serde_json::json;

    fn kind_of(text: &str) -> FailureKind {
        classify_text(text, EvidenceSource::Cause)
            .map(|c| c.kind)
            .unwrap_or(FailureKind::Unknown)
    }

    #[test]
    fn memory_rules_win_over_what_follows_a_crash() {
        let log = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 MiB\n\
                   NCCL error in: ProcessGroupNCCL.cpp:1287, unhandled system error\n\
                   Watchdog caught collective operation timeout";
        let c = classify_text(log, EvidenceSource::CloudWatchLogs).unwrap();
        assert_eq!(c.kind, FailureKind::GpuOutOfMemory);
        assert_eq!(c.evidence.rule, "pytorch-cuda-oom");
        assert!(c
            .evidence
            .excerpt
            .starts_with("RuntimeError: CUDA out of memory"));
    }

    #[test]
    fn negatives_stay_unknown() {
        assert_eq!(kind_of("ncclSystemError: System call (e.g. socket, malloc) or external library call failed"), FailureKind::Unknown);
        assert_eq!(
            kind_of("RuntimeError: CUDA error: invalid argument"),
            FailureKind::Unknown
        );
        assert_eq!(
            kind_of("AlgorithmError: , exit code: 1"),
            FailureKind::Unknown
        );
        assert_eq!(
            kind_of("finance nan-handling module loaded"),
            FailureKind::Unknown
        );
    }

    #[test]
    fn excerpt_is_bounded_and_centered() {
        let long = format!(
            "{} CUDA out of memory {}",
            "x".repeat(1000),
            "y".repeat(1000)
        );
        let c = classify_text(&long, EvidenceSource::Cause).unwrap();
        assert!(c.evidence.excerpt.chars().count() <= EXCERPT_LEN);
        assert!(c.evidence.excerpt.contains("CUDA out of memory"));
        // Non-ASCII text before the needle does not break slicing.
        let c = classify_text("ÄÖÜ ß CUDA out of memory", EvidenceSource::Cause).unwrap();
        assert_eq!(c.kind, FailureKind::GpuOutOfMemory);
    }

    #[test]
    fn status_decides_stopped_jobs() {
        let mk = |status: &str, sec: &str, spot: bool| {
            let cause =
                json!({"TrainingJobName": "j", "TrainingJobStatus": status, "SecondaryStatus": sec,
                               "EnableManagedSpotTraining": spot})
                .to_string();
            classify_source(&parse_cause(&CaughtError {
                error: "States.TaskFailed".into(),
                cause,
            }))
        };
        assert_eq!(
            mk("Stopped", "MaxRuntimeExceeded", false).kind,
            FailureKind::MaxRuntimeExceeded
        );
        assert_eq!(
            mk("Stopped", "MaxRuntimeExceeded", false).class,
            FailureClass::Resource
        );
        assert_eq!(
            mk("Stopped", "MaxWaitTimeExceeded", true).kind,
            FailureKind::SpotInterruption
        );
        assert_eq!(
            mk("Stopped", "Stopped", false).kind,
            FailureKind::StoppedByUser
        );
        assert_eq!(mk("Failed", "Failed", false).kind, FailureKind::Unknown);
    }

    #[test]
    fn api_codes_decide_api_errors() {
        let c = |name: &str, cause: &str| {
            classify_source(&parse_cause(&CaughtError {
                error: name.into(),
                cause: cause.into(),
            }))
        };
        assert_eq!(
            c("SageMaker.ResourceLimitExceededException", "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances").kind,
            FailureKind::QuotaExceeded
        );
        assert_eq!(
            c("SageMaker.AmazonSageMakerException", "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; Request ID: x)").kind,
            FailureKind::Throttling
        );
        assert_eq!(
            c("SageMaker.AmazonSageMakerException", "oops (Service: AmazonSageMaker; Status Code: 503; Error Code: Weird; Request ID: x)").kind,
            FailureKind::ServiceError
        );
        let v = c("SageMaker.AmazonSageMakerException", "Invalid MaxWaitTimeInSeconds (Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: x)");
        assert_eq!(v.kind, FailureKind::Unknown);
        assert!(v.evidence.excerpt.contains("ValidationException"));
    }

    #[test]
    fn fallback_is_wanted_for_unknown_or_cut_reasons() {
        let job = |reason: &str| {
            let cause = json!({"TrainingJobName": "j", "TrainingJobStatus": "Failed", "FailureReason": reason}).to_string();
            parse_cause(&CaughtError {
                error: "States.TaskFailed".into(),
                cause,
            })
        };
        let s = job("AlgorithmError: , exit code: 1");
        assert!(needs_log_fallback(&s, &classify_source(&s)));
        let s = job("AlgorithmError: CUDA out of memory");
        assert!(!needs_log_fallback(&s, &classify_source(&s)));
        let cut = format!("AlgorithmError: loss is nan {}", "x".repeat(1100));
        let s = job(&cut);
        assert!(
            needs_log_fallback(&s, &classify_source(&s)),
            "a cut reason may hide the real error"
        );
        let cut_oom = format!("AlgorithmError: CUDA out of memory {}", "x".repeat(1100));
        let s = job(&cut_oom);
        assert!(!needs_log_fallback(&s, &classify_source(&s)));
    }
}
