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
//! an out-of-memory condition. The same holds for NaN: `nan` and `inf` are parts of
//! `isnan`, `nanosleep`, `NCCL INFO`, `inflight`; the Logic rules match the frameworks'
//! own sentences (`returned nan values in its`, `Tensor had NaN values`, `invalid value
//! (nan) encountered in`), never an NCCL/CUDA error that merely mentions a NaN. The
//! fixture corpus in `tests/fixtures/training-failures/` pins each rule to real messages,
//! and the negatives that must stay unmatched.

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
    // XGBoost checks labels and features when the DMatrix is built, before the first
    // boosting round: the non-finite values are in the data, and a lower learning rate
    // (`eta`) cannot change that, so these are Data, not Logic. scikit-learn's
    // `Input contains NaN, infinity or a value too large for dtype(...)` stays Unknown: it
    // is raised for bad input and for a model's own NaN predictions alike.
    rule(
        "xgboost-non-finite-input",
        K::InvalidData,
        Some("xgboost"),
        &[
            "label contains nan, infinity or a value too large",
            "input data contains `inf` or a value too large",
        ],
        &[],
    ),
    // --- logic ------------------------------------------------------------------------------
    // The frameworks' own NaN/Inf detectors first (for the evidence's framework), then the
    // generic loss lines, then divergence: `Model diverged with loss = NaN` is a NaN.
    // What is left out on purpose, because it is routine or does not prove a diverging
    // loss: loss-scaler overflow lines (`[deepspeed] OVERFLOW! ... Skipping step`, fairseq
    // `overflow detected, setting loss scale`), a logged `'grad_norm': nan` (fp16 overflow
    // steps log a non-finite norm and are skipped), `NaN or Inf found in input tensor`
    // (tensorboard logging any scalar), NumPy's `invalid value encountered in ...`,
    // TensorFlow's lone `-Inf` (a deliberate mask under `enable_check_numerics`), and every
    // NCCL/CUDA error even with `isnan`/`nan` in its text (c10d's `TORCH_NCCL_NAN_CHECK`
    // device-side assert, `probability tensor contains either inf, nan ...`): a bad GPU or
    // a sampling bug is not fixed by a lower learning rate.
    rule(
        // `torch.autograd.detect_anomaly` / `set_detect_anomaly(True)`, also what
        // Lightning's `Trainer(detect_anomaly=True)` raises. Its `Error detected in
        // XBackward0` warning is printed for any backward error, so it is not a needle.
        "pytorch-anomaly-nan",
        K::NanLoss,
        Some("pytorch"),
        &["returned nan values in its"],
        &[],
    ),
    rule(
        // `clip_grad_norm_(..., error_if_nonfinite=True)`; Lightning Fabric's
        // `clip_gradients` sets it by default.
        "pytorch-clip-grad-non-finite",
        K::NanLoss,
        Some("pytorch"),
        &["`parameters` is non-finite"],
        &[],
    ),
    rule(
        "lightning-non-finite",
        K::NanLoss,
        Some("lightning"),
        &[
            // EarlyStopping(check_finite=True) on the monitored metric.
            "is not finite. previous best value was",
            // `Trainer(terminate_on_nan=True)`, removed in Lightning 1.7.
            "detected nan and/or inf values in `",
        ],
        &[],
    ),
    rule(
        "keras-terminate-on-nan",
        K::NanLoss,
        Some("keras"),
        &[
            "invalid loss, terminating training",
            // TerminateOnNaN(raise_error=True), Keras >= 3.13.
            "nan or inf loss encountered at batch",
        ],
        &[],
    ),
    rule(
        // CheckNumerics (tf.debugging.check_numerics, clip_by_global_norm's VerifyFinite,
        // enable_check_numerics): `<message> : Tensor had <status> values`. A lone `-Inf`
        // status is left out (masks built with float('-inf')).
        "tensorflow-check-numerics",
        K::NanLoss,
        Some("tensorflow"),
        &[
            "tensor had nan values",
            "tensor had inf values",
            "tensor had +inf values",
            "tensor had inf and nan values",
            "tensor had -inf and nan values",
            "tensor had +inf and nan values",
            "tensor had -inf and +inf values",
            "tensor had -inf, +inf, and nan values",
        ],
        &[],
    ),
    rule(
        // `jax_debug_nans` / `jax_debug_infs`. NumPy's `invalid value encountered in`
        // (no parenthesised type) is a different, usually harmless, warning.
        "jax-debug-nans",
        K::NanLoss,
        Some("jax"),
        &[
            "invalid value (nan) encountered in",
            "invalid value (inf) encountered in",
            "invalid nan value encountered in the",
        ],
        &[],
    ),
    rule(
        // Megatron-LM's checks (also in Accelerate's Megatron-LM integration).
        "megatron-nan-check",
        K::NanLoss,
        Some("megatron"),
        &[
            "found nan in local forward loss calculation",
            "found inf in local forward loss calculation",
            "found nan in local grad norm",
        ],
        &[],
    ),
    rule(
        // `TrainingArguments(debug="underflow_overflow")`.
        "transformers-underflow-overflow",
        K::NanLoss,
        Some("transformers"),
        &[
            "inf/nan detected, aborting",
            "detected inf/nan during batch_number",
        ],
        &[],
    ),
    rule(
        // The Trainer's log dict; with the default `logging_nan_inf_filter` a NaN shows
        // only when it persists.
        "transformers-trainer-loss-nan",
        K::NanLoss,
        Some("transformers"),
        &["'loss': nan", "'loss': inf"],
        &[],
    ),
    rule(
        "fairseq-non-finite-gradients",
        K::NanLoss,
        Some("fairseq"),
        &["gradients are nan/inf"],
        &[],
    ),
    rule(
        "detectron2-non-finite",
        K::NanLoss,
        Some("detectron2"),
        &[
            "loss became infinite or nan at iteration",
            "contain inf/nan. training has diverged",
        ],
        &[],
    ),
    rule(
        "nan-loss",
        K::NanLoss,
        None,
        &[
            "loss is nan",
            "loss = nan",
            "loss: nan",
            // a tqdm / Lightning progress-bar postfix
            "loss=nan",
            "nan loss",
            "nanlossduringtrainingerror",
            "loss is inf",
            "detected inf or nan",
            "non-finite loss",
            "` is nan",
            "loss became nan",
        ],
        &[],
    ),
    // A dynamic loss scaler that halved the scale down to its floor because the gradients
    // overflowed at every step: the loss grows out of fp16 range (fairseq says so).
    rule(
        "deepspeed-loss-scale-floor",
        K::DivergingLoss,
        Some("deepspeed"),
        &["current loss scale already at minimum"],
        &[],
    ),
    rule(
        "fairseq-loss-scale-floor",
        K::DivergingLoss,
        Some("fairseq"),
        &["minimum loss scale reached"],
        &[],
    ),
    rule(
        // EarlyStopping(divergence_threshold=...).
        "lightning-divergence-threshold",
        K::DivergingLoss,
        Some("lightning"),
        &["divergence threshold reached:"],
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
    use std::collections::HashSet;

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

    fn rule_of(text: &str) -> Option<(FailureKind, String)> {
        classify_text(text, EvidenceSource::Cause).map(|c| (c.kind, c.evidence.rule))
    }

    #[test]
    fn framework_nan_and_divergence_messages_have_their_own_rules() {
        use FailureKind::{DivergingLoss, InvalidData, NanLoss};
        let cases: &[(&str, FailureKind, &str)] = &[
            ("RuntimeError: Function 'MulBackward0' returned nan values in its 0th output.", NanLoss, "pytorch-anomaly-nan"),
            ("RuntimeError: Function 'PowBackward1' returned nan values in its 1st output.", NanLoss, "pytorch-anomaly-nan"),
            ("RuntimeError: The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped.", NanLoss, "pytorch-clip-grad-non-finite"),
            ("Monitored metric val_loss = nan is not finite. Previous best value was 0.045. Signaling Trainer to stop.", NanLoss, "lightning-non-finite"),
            ("ValueError: Detected nan and/or inf values in `layer.weight`. Check your forward pass for numerically unstable operations.", NanLoss, "lightning-non-finite"),
            ("Batch 6: Invalid loss, terminating training", NanLoss, "keras-terminate-on-nan"),
            ("RuntimeError: NaN or Inf loss encountered at batch 41. Loss value: nan. Terminating training immediately.", NanLoss, "keras-terminate-on-nan"),
            ("InvalidArgumentError: Found Inf or NaN global norm. : Tensor had NaN values", NanLoss, "tensorflow-check-numerics"),
            ("InvalidArgumentError: Found Inf or NaN global norm. : Tensor had Inf values", NanLoss, "tensorflow-check-numerics"),
            ("FloatingPointError: invalid value (nan) encountered in convert_element_type", NanLoss, "jax-debug-nans"),
            ("FloatingPointError: invalid value (inf) encountered in train_step", NanLoss, "jax-debug-nans"),
            ("AssertionError: Rank 0: found NaN in local forward loss calculation. Device: 0, node: algo-1", NanLoss, "megatron-nan-check"),
            ("AssertionError: Rank 11: found NaN in local grad norm in backward pass before data-parallel communication collective. Device: 3", NanLoss, "megatron-nan-check"),
            ("ValueError: DebugUnderflowOverflow: inf/nan detected, aborting as there is no point running further.", NanLoss, "transformers-underflow-overflow"),
            ("{'loss': nan, 'learning_rate': 0.00027248908296943227, 'epoch': 0.51}", NanLoss, "transformers-trainer-loss-nan"),
            ("FloatingPointError: gradients are Nan/Inf", NanLoss, "fairseq-non-finite-gradients"),
            ("FloatingPointError: Loss became infinite or NaN at iteration=166!", NanLoss, "detectron2-non-finite"),
            ("Epoch 0: 100%|###| 320/320 [00:21<00:00, 14.77it/s, loss=nan, v_num=0]", NanLoss, "nan-loss"),
            ("Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.", DivergingLoss, "deepspeed-loss-scale-floor"),
            ("FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding.", DivergingLoss, "fairseq-loss-scale-floor"),
            ("Divergence threshold reached: val_loss = 13.52 > 10.0. Signaling Trainer to stop.", DivergingLoss, "lightning-divergence-threshold"),
            ("XGBoostError: Check failed: valid: Label contains NaN, infinity or a value too large.", InvalidData, "xgboost-non-finite-input"),
            ("Check failed: valid: Input data contains `inf` or a value too large, while `missing` is not set to `inf`", InvalidData, "xgboost-non-finite-input"),
            // unchanged: the generic rule still decides these
            ("ERROR:tensorflow:Model diverged with loss = NaN.", NanLoss, "nan-loss"),
            ("The loss returned in `training_step` is nan or inf.", NanLoss, "nan-loss"),
        ];
        for (text, kind, rule) in cases {
            assert_eq!(rule_of(text), Some((*kind, rule.to_string())), "{text}");
        }
    }

    #[test]
    fn nccl_and_cuda_errors_are_never_nan_or_oom() {
        for text in [
            "n122-164-108:7400:7642 [1] include/alloc.h:125 NCCL WARN Cuda failure 700 'an illegal memory access was encountered'\nn122-164-108:7400:7642 [1] NCCL INFO include/alloc.h:246 -> 1",
            "Process group watchdog thread terminated with exception: CUDA error: an illegal memory access was encountered",
            "Process group watchdog thread terminated with exception: CUDA error: unspecified launch failure",
            "cudaErrorLaunchFailure: unspecified launch failure",
            "RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx( handle, opa, opb, m, n, k, &falpha, a, CUDA_R_16F, lda, b, CUDA_R_16F, ldb, &fbeta, c, CUDA_R_16F, ldc, CUDA_R_32F, CUBLAS_GEMM_DFALT_TENSOR_OP)`",
            "NanCheck.cu:217: checkForNaN: block: [0,0,0], thread: [0,0,0] Assertion `!isnan(tailPtr[threadIdx.x])` failed.\ntorch.AcceleratorError: CUDA error: device-side assert triggered",
            "RuntimeError: probability tensor contains either `inf`, `nan` or element < 0\nRuntimeError: CUDA error: device-side assert triggered",
            "ncclUnhandledCudaError: Call to CUDA function failed.\nLast error:\nCuda failure 999 'unknown error'",
        ] {
            let got = kind_of(text);
            assert_eq!(got, FailureKind::Unknown, "{text}");
        }
    }

    #[test]
    fn routine_overflow_lines_and_nan_counters_stay_unknown() {
        for text in [
            "[INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 4294967296, reducing to 2147483648",
            "| WARNING: overflow detected, setting loss scale to: 0.25",
            "AssertionError: No inf checks were recorded for this optimizer.",
            "UserWarning: Error detected in BmmBackward0. Traceback of forward call that caused the error:",
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 9.997509960159361e-07, 'epoch': 0.0}",
            "WARNING:tensorboardX.x2num:NaN or Inf found in input tensor.",
            "lm loss: 2.504220E+00 | loss scale: 1.0 | grad norm: 0.231 | number of skipped iterations:   0 | number of nan iterations:   0 |",
            "optimizer-unscale-and-check-inf: 50.71 | optimizer: 63.01",
            "RuntimeWarning: invalid value encountered in divide",
            "FloatingPointError: divide by zero encountered in divide",
            "FloatingPointError: Fatal error: gradients are inconsistent between workers",
            "[LightGBM] [Warning] No further splits with positive gain, best gain: -inf",
            "[2]     valid_0's l1: nan",
            "ValueError: Input contains NaN, infinity or a value too large for dtype('float32').",
            "!!! Detected Infinity or NaN in output 1 of graph op \"TensorArrayV3\" (# of outputs: 2) !!!\n : Tensor had -Inf values",
            "RuntimeError: attempted to add non-inflight parameter to registry",
        ] {
            assert_eq!(kind_of(text), FailureKind::Unknown, "{text}");
        }
    }

    #[test]
    fn a_nan_outranks_the_crash_fallout_but_not_an_oom() {
        // NaN on one rank, NCCL timeouts on the others: the NaN is the cause.
        let log = "RuntimeError: Function 'MulBackward0' returned nan values in its 0th output.\n\
                   [rank1]: Watchdog caught collective operation timeout: WorkNCCL(SeqNum=9, OpType=ALLREDUCE) ran for 600031 milliseconds before timing out.\n\
                   ncclInternalError: Internal check failed.";
        assert_eq!(
            rule_of(log),
            Some((FailureKind::NanLoss, "pytorch-anomaly-nan".into()))
        );
        // A connection reset after the NaN does not turn it into a transient failure.
        let log = "FloatingPointError: gradients are Nan/Inf\nConnection reset by peer";
        assert_eq!(kind_of(log), FailureKind::NanLoss);
        // The memory rules stay above everything: an OOM with NaN noise is an OOM.
        let log = "{'loss': nan, 'learning_rate': 2e-05, 'epoch': 0.27}\n\
                   torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.";
        assert_eq!(kind_of(log), FailureKind::GpuOutOfMemory);
        // Bad labels are data, whatever the loss does afterwards.
        let log = "Check failed: valid: Label contains NaN, infinity or a value too large.\n[0] train-rmse:nan";
        assert_eq!(kind_of(log), FailureKind::InvalidData);
    }

    #[test]
    fn needles_are_lower_case_and_logic_needles_are_not_lone_words() {
        for r in RULES {
            for n in r.any.iter().chain(r.all) {
                assert_eq!(
                    *n,
                    n.to_lowercase(),
                    "rule {}: needles are lower case",
                    r.id
                );
                if r.kind.class() == FailureClass::Logic {
                    let phrase = n.chars().any(|c| !c.is_ascii_alphanumeric());
                    assert!(
                        n.len() >= 8 && (phrase || n.len() >= 20),
                        "rule {}: {n:?} is a lone word",
                        r.id
                    );
                }
            }
        }
        let ids: HashSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
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
