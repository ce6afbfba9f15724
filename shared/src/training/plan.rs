//! The recovery plan: from a classified failure, the failed job's CreateTrainingJob
//! parameters, the policy and the attempt history, the next step for the state
//! machine's Choice + Wait loop.
//!
//! Pure and deterministic: no clock, no randomness, sorted JSON maps. The same input
//! always gives the same decision, so a retried Lambda invocation does not fork the run.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::classify::{Classification, Evidence, FailureClass, FailureKind};
use super::naming::retry_job_name;
use super::policy::{AccumulationMode, LadderRung, Policy};
use super::TrainingError;

/// What the state machine does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Start the next job now.
    Retry,
    /// Wait `wait_seconds`, then start the next job.
    WaitThenRetry,
    /// Stop retrying; the state machine routes to compensation.
    Halt,
}

/// Why the run halts. These are result reasons (the `halt_reason` field), not errors:
/// the function returns normally and the ASL routes on `action == "halt"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltReason {
    AttemptsExhausted,
    LadderExhausted,
    DataError,
    Unrecoverable,
    WaitsExhausted,
    DivergenceUnresolved,
    MaxRuntimeExceeded,
    StoppedByUser,
}

impl HaltReason {
    /// The documented name.
    pub fn name(self) -> &'static str {
        match self {
            HaltReason::AttemptsExhausted => "TrainingRecovery.AttemptsExhausted",
            HaltReason::LadderExhausted => "TrainingRecovery.LadderExhausted",
            HaltReason::DataError => "TrainingRecovery.DataError",
            HaltReason::Unrecoverable => "TrainingRecovery.Unrecoverable",
            HaltReason::WaitsExhausted => "TrainingRecovery.WaitsExhausted",
            HaltReason::DivergenceUnresolved => "TrainingRecovery.DivergenceUnresolved",
            HaltReason::MaxRuntimeExceeded => "TrainingRecovery.MaxRuntimeExceeded",
            HaltReason::StoppedByUser => "TrainingRecovery.StoppedByUser",
        }
    }

    /// Every reason, for the docs test.
    pub const ALL: [HaltReason; 8] = [
        HaltReason::AttemptsExhausted,
        HaltReason::LadderExhausted,
        HaltReason::DataError,
        HaltReason::Unrecoverable,
        HaltReason::WaitsExhausted,
        HaltReason::DivergenceUnresolved,
        HaltReason::MaxRuntimeExceeded,
        HaltReason::StoppedByUser,
    ];
}

/// One decision, as carried from attempt to attempt in `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The retry number this decision planned (1 for the first retry).
    pub attempt: u32,
    /// The job that failed.
    #[serde(default)]
    pub failed_job: String,
    /// The job planned next (absent on halt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_job: Option<String>,
    pub class: FailureClass,
    pub kind: FailureKind,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Per-device batch of the failed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    /// Gradient accumulation of the failed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_accum: Option<u64>,
    /// Spot interruptions observed in the failed job.
    #[serde(default)]
    pub spot_interruptions: u32,
    #[serde(default)]
    pub wait_seconds: u64,
}

/// The function's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    pub class: FailureClass,
    pub kind: FailureKind,
    pub evidence: Evidence,
    pub wait_seconds: u64,
    /// The retry number this decision plans (history length + 1).
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    /// One sentence for people.
    pub message: String,
    /// What was changed and why (each change says so).
    pub notes: Vec<String>,
    /// Top-level CreateTrainingJob members to replace (empty on halt).
    pub patch: Map<String, Value>,
    /// The full next CreateTrainingJob parameters with the patch applied (null on halt).
    pub training_job: Option<Map<String, Value>>,
    /// The history with this decision appended.
    pub history: Vec<AttemptRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
}

/// Everything the planner looks at.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub classification: Classification,
    /// CreateTrainingJob parameters of the failed job.
    pub params: &'a Map<String, Value>,
    pub history: &'a [AttemptRecord],
    pub policy: &'a Policy,
    pub execution_name: Option<&'a str>,
    /// Spot interruptions seen in the failed job (from its status transitions).
    pub spot_interruptions: u32,
    /// Notes gathered before planning (log fallback and such).
    pub notes: Vec<String>,
}

/// The hyperparameters that matter, read from the failed job.
#[derive(Debug, Clone, Default)]
struct Knobs {
    batch: Option<(String, u64)>,
    accum: Option<(String, u64)>,
    lr: Option<(String, f64)>,
}

fn parse_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            t.parse::<u64>().ok().or_else(|| {
                let f = t.parse::<f64>().ok()?;
                (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64)
                    .then_some(f as u64)
            })
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn parse_f64(v: &Value) -> Option<f64> {
    let f = match v {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    (f.is_finite() && f > 0.0).then_some(f)
}

fn find_param<T>(
    hp: &Map<String, Value>,
    names: &[String],
    parse: fn(&Value) -> Option<T>,
) -> Result<Option<(String, T)>, TrainingError> {
    for n in names {
        if let Some(v) = hp.get(n) {
            return match parse(v) {
                Some(x) => Ok(Some((n.clone(), x))),
                None => Err(TrainingError::InvalidTrainingJob(format!(
                    "HyperParameters.{n} = {v} is not a usable number"
                ))),
            };
        }
    }
    Ok(None)
}

/// A float for a HyperParameters string: shortest round-trip form.
pub fn format_float(x: f64) -> String {
    let s = format!("{x}");
    if s.contains('e') || s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// HyperParameters with every value as a string (CreateTrainingJob requires strings).
fn stringify_hyperparameters(hp: &Map<String, Value>) -> Map<String, Value> {
    hp.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(s))
        })
        .collect()
}

struct Draft {
    action: Action,
    wait_seconds: u64,
    halt: Option<HaltReason>,
    message: String,
    notes: Vec<String>,
    patch: Map<String, Value>,
}

impl Draft {
    fn halt(reason: HaltReason, message: impl Into<String>) -> Self {
        Draft {
            action: Action::Halt,
            wait_seconds: 0,
            halt: Some(reason),
            message: message.into(),
            notes: Vec::new(),
            patch: Map::new(),
        }
    }
    fn retry(wait_seconds: u64, message: impl Into<String>) -> Self {
        Draft {
            action: if wait_seconds > 0 {
                Action::WaitThenRetry
            } else {
                Action::Retry
            },
            wait_seconds,
            halt: None,
            message: message.into(),
            notes: Vec::new(),
            patch: Map::new(),
        }
    }
}

/// What the plan needs to know about the failed job, read from its parameters.
struct FailedJob {
    name: String,
    hyperparameters: Map<String, Value>,
    knobs: Knobs,
    instance_type: Option<String>,
}

impl FailedJob {
    /// The job's name (required), hyperparameters (an object when present), the knobs the
    /// policy names, and its instance type.
    fn read(params: &Map<String, Value>, policy: &Policy) -> Result<Self, TrainingError> {
        let name = params
            .get("TrainingJobName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                TrainingError::InvalidTrainingJob("training_job.TrainingJobName is missing".into())
            })?
            .to_string();
        let hp = match params.get("HyperParameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(other) => {
                return Err(TrainingError::InvalidTrainingJob(format!(
                    "training_job.HyperParameters must be an object, got {}",
                    super::shapes::type_name(other)
                )))
            }
        };
        let knobs = Knobs {
            batch: find_param(&hp, &policy.batch_size_params, parse_u64)?.filter(|(_, b)| *b > 0),
            accum: find_param(&hp, &policy.grad_accum_params, parse_u64)?.filter(|(_, a)| *a > 0),
            lr: find_param(&hp, &policy.learning_rate_params, parse_f64)?,
        };
        let instance_type = params
            .get("ResourceConfig")
            .and_then(|r| r.get("InstanceType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(FailedJob {
            name,
            hyperparameters: hp,
            knobs,
            instance_type,
        })
    }
}

/// Decide the next step: read the failed job, draft the action its failure class calls
/// for, then build the next job's parameters and the attempt history.
pub fn plan(input: PlanInput<'_>) -> Result<Decision, TrainingError> {
    let job = FailedJob::read(input.params, input.policy)?;
    let attempt = u32::try_from(input.history.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let mut draft = draft(&input, &job)?;
    let mut notes = input.notes.clone();
    notes.append(&mut draft.notes);
    let mut patch = std::mem::take(&mut draft.patch);
    let next_name = (draft.action != Action::Halt)
        .then(|| retry_job_name(&job.name, attempt, input.execution_name.unwrap_or("")));
    let training_job = next_name
        .as_deref()
        .map(|name| next_job(&input, &job, name, &mut patch, &mut notes));
    let c = &input.classification;
    let mut history = input.history.to_vec();
    history.push(AttemptRecord {
        attempt,
        failed_job: job.name,
        next_job: next_name,
        class: c.class,
        kind: c.kind,
        action: draft.action,
        instance_type: job.instance_type,
        batch_size: job.knobs.batch.as_ref().map(|b| b.1),
        grad_accum: job.knobs.accum.as_ref().map(|a| a.1),
        spot_interruptions: input.spot_interruptions,
        wait_seconds: draft.wait_seconds,
    });
    Ok(Decision {
        action: draft.action,
        class: c.class,
        kind: c.kind,
        evidence: c.evidence.clone(),
        wait_seconds: draft.wait_seconds,
        attempt,
        halt_reason: draft.halt.map(|h| h.name().to_string()),
        message: draft.message,
        notes,
        patch,
        training_job,
        history,
        execution_name: input.execution_name.map(str::to_string),
    })
}

/// The action the failure calls for: halt on data, user stops, unknown failures and an
/// exhausted attempt budget; otherwise the plan of its kind.
fn draft(input: &PlanInput<'_>, job: &FailedJob) -> Result<Draft, TrainingError> {
    let policy = input.policy;
    let params = input.params;
    let c = &input.classification;
    let same_kind_before = input.history.iter().filter(|r| r.kind == c.kind).count() as u32;
    Ok(match (c.class, c.kind) {
        (FailureClass::Data, _) => Draft::halt(
            HaltReason::DataError,
            "the input data is missing or malformed; retrying cannot fix it",
        ),
        (_, FailureKind::StoppedByUser) => Draft::halt(
            HaltReason::StoppedByUser,
            "the job was stopped by a person or another system; not restarting it",
        ),
        (FailureClass::Unknown, _) => Draft::halt(
            HaltReason::Unrecoverable,
            "no recovery rule matched the failure; halting with the evidence",
        ),
        _ if input.history.len() >= policy.max_attempts as usize => Draft::halt(
            HaltReason::AttemptsExhausted,
            format!(
                "{} retries already made (policy.max_attempts = {})",
                input.history.len(),
                policy.max_attempts
            ),
        ),
        (_, FailureKind::SpotInterruption) => plan_spot(input, params),
        (
            _,
            FailureKind::Throttling | FailureKind::ServiceError | FailureKind::TransientNetwork,
        ) => plan_wait(
            c.kind,
            same_kind_before,
            policy,
            &policy.transient_backoff,
            |w| {
                format!(
                    "transient failure ({:?}): retry the same configuration after {w} s",
                    c.kind
                )
            },
        ),
        (_, FailureKind::QuotaExceeded | FailureKind::InsufficientCapacity) => plan_wait(
            c.kind,
            same_kind_before,
            policy,
            &policy.capacity_backoff,
            |w| format!("{:?}: queue the run and retry after {w} s", c.kind),
        ),
        (_, FailureKind::MaxRuntimeExceeded) => {
            if policy.resume_on_max_runtime && checkpoint_uri(params).is_some() {
                Draft::retry(
                    0,
                    "the job hit its time limit; resume from its checkpoint with a new job",
                )
            } else {
                Draft::halt(
                    HaltReason::MaxRuntimeExceeded,
                    "the job hit its time limit (TrainingJobStatus Stopped is not success) and has no checkpoint to resume from",
                )
            }
        }
        (_, k) if k.is_oom() => plan_oom(
            input,
            &job.hyperparameters,
            &job.knobs,
            job.instance_type.as_deref(),
        )?,
        (FailureClass::Logic, _) => plan_logic(input, &job.hyperparameters, &job.knobs),
        _ => Draft::halt(
            HaltReason::Unrecoverable,
            "no recovery rule for this failure",
        ),
    })
}

/// Wait and retry the same configuration, until `policy.max_waits` waits for the same
/// kind of failure have not helped.
fn plan_wait(
    kind: FailureKind,
    same_kind_before: u32,
    policy: &Policy,
    backoff: &super::policy::Backoff,
    message: impl Fn(u64) -> String,
) -> Draft {
    if same_kind_before >= policy.max_waits {
        return Draft::halt(
            HaltReason::WaitsExhausted,
            format!("{same_kind_before} earlier waits for {kind:?} did not help"),
        );
    }
    let w = backoff.wait(same_kind_before);
    Draft::retry(w, message(w))
}

/// The next job's parameters: the failed job's with the patch applied, a new name, the
/// checkpoint wired in, and hyperparameters as the strings CreateTrainingJob requires.
fn next_job(
    input: &PlanInput<'_>,
    job: &FailedJob,
    name: &str,
    patch: &mut Map<String, Value>,
    notes: &mut Vec<String>,
) -> Map<String, Value> {
    patch.insert("TrainingJobName".into(), Value::String(name.to_string()));
    checkpoint_patch(input.params, input.policy, patch, notes);
    // HyperParameters must be strings; fix any that are not, and say so.
    let hp = &job.hyperparameters;
    if !patch.contains_key("HyperParameters") && hp.values().any(|v| !v.is_string()) {
        patch.insert(
            "HyperParameters".into(),
            Value::Object(stringify_hyperparameters(hp)),
        );
        notes.push(
            "HyperParameters values converted to strings (CreateTrainingJob requires strings)"
                .into(),
        );
    }
    let mut next = input.params.clone();
    for (k, v) in patch.iter() {
        next.insert(k.clone(), v.clone());
    }
    next
}

fn checkpoint_uri(params: &Map<String, Value>) -> Option<&str> {
    params
        .get("CheckpointConfig")
        .and_then(|c| c.get("S3Uri"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Keep the checkpoint location so the next job resumes; add one from the policy when
/// the failed job had none.
fn checkpoint_patch(
    params: &Map<String, Value>,
    policy: &Policy,
    patch: &mut Map<String, Value>,
    notes: &mut Vec<String>,
) {
    if let Some(uri) = checkpoint_uri(params) {
        if let Some(c) = params.get("CheckpointConfig") {
            patch.insert("CheckpointConfig".into(), c.clone());
        }
        notes.push(format!(
            "resume from the last checkpoint under {uri} (CheckpointConfig kept)"
        ));
    } else if let Some(uri) = policy
        .checkpoint_s3_uri
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let mut c = Map::new();
        c.insert("S3Uri".into(), Value::String(uri.to_string()));
        patch.insert("CheckpointConfig".into(), Value::Object(c));
        notes.push(format!("the failed job had no CheckpointConfig: it restarts from scratch; the next job checkpoints to {uri}"));
    } else {
        notes.push(
            "the failed job had no CheckpointConfig: the next job starts from scratch".into(),
        );
    }
}

fn plan_spot(input: &PlanInput<'_>, params: &Map<String, Value>) -> Draft {
    let policy = input.policy;
    let earlier: u32 = input.history.iter().map(|r| r.spot_interruptions).sum();
    // A job that ended because of spot counts at least once even without transitions.
    let this_job = input.spot_interruptions.max(1);
    let total = earlier.saturating_add(this_job);
    let spot_on = params
        .get("EnableManagedSpotTraining")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if total >= policy.spot_interruption_limit && spot_on {
        let mut d = Draft::retry(
            0,
            format!(
                "{total} spot interruptions: fall back to on-demand and resume from the checkpoint"
            ),
        );
        d.patch
            .insert("EnableManagedSpotTraining".into(), Value::Bool(false));
        if let Some(Value::Object(sc)) = params.get("StoppingCondition") {
            let mut sc = sc.clone();
            // MaxWaitTimeInSeconds is only valid with managed spot training.
            if sc.remove("MaxWaitTimeInSeconds").is_some() {
                d.notes.push(
                    "StoppingCondition.MaxWaitTimeInSeconds removed (only valid with spot)".into(),
                );
            }
            d.patch
                .insert("StoppingCondition".into(), Value::Object(sc));
        }
        d.notes.push(format!(
            "spot interruptions so far: {total} (limit {}): EnableManagedSpotTraining set to false",
            policy.spot_interruption_limit
        ));
        d
    } else {
        let spot_before = input
            .history
            .iter()
            .filter(|r| r.kind == FailureKind::SpotInterruption)
            .count() as u32;
        let w = policy.transient_backoff.wait(spot_before);
        let mut d = Draft::retry(
            w,
            format!(
                "spot interruption {total} of {}: retry on spot after {w} s",
                policy.spot_interruption_limit
            ),
        );
        d.notes.push(format!(
            "spot interruptions so far: {total} (limit {})",
            policy.spot_interruption_limit
        ));
        d
    }
}

fn plan_logic(input: &PlanInput<'_>, hp: &Map<String, Value>, knobs: &Knobs) -> Draft {
    let policy = input.policy;
    let before = input
        .history
        .iter()
        .filter(|r| r.class == FailureClass::Logic)
        .count() as u32;
    if before >= policy.max_lr_reductions {
        return Draft::halt(
            HaltReason::DivergenceUnresolved,
            format!("the loss still fails after {before} learning-rate reductions (policy.max_lr_reductions)"),
        );
    }
    let Some((name, lr)) = &knobs.lr else {
        return Draft::halt(
            HaltReason::Unrecoverable,
            "NaN/diverging loss but no learning-rate hyperparameter to lower",
        );
    };
    let new_lr = lr * policy.lr_reduction_factor;
    let mut hp2 = stringify_hyperparameters(hp);
    hp2.insert(name.clone(), Value::String(format_float(new_lr)));
    let mut d = Draft::retry(
        0,
        format!(
            "non-finite or diverging loss: lower {name} from {} to {}",
            format_float(*lr),
            format_float(new_lr)
        ),
    );
    d.patch.insert("HyperParameters".into(), Value::Object(hp2));
    d.notes.push(format!(
        "{name} × {} (reduction {} of {}); if the last checkpoint was written after the loss went bad, point CheckpointConfig at an earlier one",
        policy.lr_reduction_factor,
        before + 1,
        policy.max_lr_reductions
    ));
    d
}

/// Per-device batch sizes and accumulation steps above this are refused as input errors
/// (they would make the divisor search slow and are never real).
pub const MAX_BATCH: u64 = 1 << 24;

/// The largest divisor of `global` in `[min, target]` that is a multiple of `multiple`.
fn largest_divisor_at_most(
    global: u64,
    target: u64,
    min: u64,
    multiple: Option<u64>,
) -> Option<u64> {
    let m = multiple.unwrap_or(1).max(1);
    let mut d = target - target % m;
    while d >= min.max(1) && d > 0 {
        if global.is_multiple_of(d) {
            return Some(d);
        }
        d = d.checked_sub(m)?;
    }
    None
}

fn plan_oom(
    input: &PlanInput<'_>,
    hp: &Map<String, Value>,
    knobs: &Knobs,
    instance_type: Option<&str>,
) -> Result<Draft, TrainingError> {
    let policy = input.policy;
    let accum_name = match policy.gradient_accumulation {
        AccumulationMode::Never => None,
        AccumulationMode::Auto => knobs.accum.as_ref().map(|a| a.0.clone()),
        AccumulationMode::Always => knobs
            .accum
            .as_ref()
            .map(|a| a.0.clone())
            .or_else(|| policy.grad_accum_params.first().cloned()),
    };
    let accum = knobs.accum.as_ref().map(|a| a.1).unwrap_or(1);
    let Some((batch_name, b)) = knobs.batch.clone() else {
        let mut d = climb(input, hp, knobs, instance_type)?;
        d.notes.insert(
            0,
            format!(
                "no batch-size hyperparameter ({}) to reduce",
                policy.batch_size_params.join(", ")
            ),
        );
        return Ok(d);
    };
    if b > MAX_BATCH || accum > MAX_BATCH {
        return Err(TrainingError::InvalidTrainingJob(format!(
            "{batch_name} = {b} with accumulation {accum} is not a plausible per-device batch (limit {MAX_BATCH})"
        )));
    }
    let target = (b as f64 / policy.batch_reduction_factor).floor() as u64;
    let target = match policy.round_batch_to_multiple_of {
        Some(m) if m > 1 => target - target % m,
        _ => target,
    };
    let mut hp2 = stringify_hyperparameters(hp);
    if let Some(accum_name) = accum_name {
        let global = b.saturating_mul(accum);
        if let Some(nb) = largest_divisor_at_most(
            global,
            target.min(b.saturating_sub(1)),
            policy.min_batch_size,
            policy.round_batch_to_multiple_of,
        ) {
            let na = global / nb;
            hp2.insert(batch_name.clone(), Value::String(nb.to_string()));
            hp2.insert(accum_name.clone(), Value::String(na.to_string()));
            let mut d = Draft::retry(
                0,
                format!("out of memory: {batch_name} {b} → {nb}, {accum_name} {accum} → {na}"),
            );
            d.notes.push(format!(
                "global batch per device kept: {b}×{accum} = {nb}×{na} = {global}"
            ));
            d.patch.insert("HyperParameters".into(), Value::Object(hp2));
            return Ok(d);
        }
        let mut d = climb(input, hp, knobs, instance_type)?;
        d.notes.insert(
            0,
            format!(
                "{batch_name} {b} cannot shrink: no batch ≥ {} dividing the global batch {global} at or below {target}",
                policy.min_batch_size
            ),
        );
        return Ok(d);
    }
    if target >= policy.min_batch_size && target >= 1 && target < b {
        hp2.insert(batch_name.clone(), Value::String(target.to_string()));
        let mut d = Draft::retry(0, format!("out of memory: {batch_name} {b} → {target}"));
        let ratio = target as f64 / b as f64;
        match &knobs.lr {
            Some((lr_name, lr)) if policy.lr_scaling != super::policy::LrScaling::None => {
                let new_lr = lr * policy.lr_scaling.factor(ratio);
                hp2.insert(lr_name.clone(), Value::String(format_float(new_lr)));
                d.notes.push(format!(
                    "gradient accumulation unavailable: global batch shrinks {b} → {target}; {lr_name} scaled {:?} {} → {}",
                    policy.lr_scaling,
                    format_float(*lr),
                    format_float(new_lr)
                ));
            }
            Some((lr_name, _)) => d.notes.push(format!(
                "gradient accumulation unavailable: global batch shrinks {b} → {target}; {lr_name} left as is (policy.lr_scaling = none)"
            )),
            None => d.notes.push(format!(
                "gradient accumulation unavailable: global batch shrinks {b} → {target}; no learning-rate hyperparameter to scale"
            )),
        }
        d.patch.insert("HyperParameters".into(), Value::Object(hp2));
        return Ok(d);
    }
    let mut d = climb(input, hp, knobs, instance_type)?;
    d.notes.insert(
        0,
        format!(
            "{batch_name} {b} would fall below min_batch_size {} (target {target})",
            policy.min_batch_size
        ),
    );
    Ok(d)
}

/// The next rung above `current`: same GPU count, strictly more memory per GPU.
fn next_rung<'a>(ladder: &'a [LadderRung], current: &str) -> Result<Option<&'a LadderRung>, ()> {
    let idx = ladder
        .iter()
        .position(|r| r.instance_type == current)
        .ok_or(())?;
    let cur = &ladder[idx];
    Ok(ladder[idx + 1..].iter().find(|r| {
        r.gpu_memory_gib > cur.gpu_memory_gib
            && match (r.gpus, cur.gpus) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }))
}

/// Move to the next instance type, restoring the original batch.
fn climb(
    input: &PlanInput<'_>,
    hp: &Map<String, Value>,
    knobs: &Knobs,
    instance_type: Option<&str>,
) -> Result<Draft, TrainingError> {
    let policy = input.policy;
    let Some(current) = instance_type else {
        return Ok(Draft::halt(
            HaltReason::LadderExhausted,
            "no ResourceConfig.InstanceType to move up from (instance groups are not resized)",
        ));
    };
    let next = match next_rung(&policy.instance_ladder, current) {
        Err(()) => {
            return Ok(Draft::halt(
                HaltReason::LadderExhausted,
                format!("{current} is not on the instance ladder (policy.instance_ladder)"),
            ))
        }
        Ok(None) => {
            return Ok(Draft::halt(
                HaltReason::LadderExhausted,
                format!("no instance above {current} on the ladder"),
            ))
        }
        Ok(Some(r)) => r,
    };
    let mut d = Draft::retry(
        0,
        format!(
            "out of memory at the smallest batch: move {current} → {}",
            next.instance_type
        ),
    );
    let mut rc = match input.params.get("ResourceConfig") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    rc.insert(
        "InstanceType".into(),
        Value::String(next.instance_type.clone()),
    );
    d.patch.insert("ResourceConfig".into(), Value::Object(rc));
    if policy.restore_batch_on_upgrade {
        if let Some((batch_name, b)) = &knobs.batch {
            let first = input.history.first();
            let orig_b = first.and_then(|r| r.batch_size).unwrap_or(*b);
            let mut hp2 = stringify_hyperparameters(hp);
            if orig_b != *b {
                hp2.insert(batch_name.clone(), Value::String(orig_b.to_string()));
                let mut note = format!(
                    "{batch_name} restored to the original {orig_b} on the bigger instance"
                );
                match &knobs.accum {
                    Some((accum_name, a)) => {
                        let orig_a = first.and_then(|r| r.grad_accum).unwrap_or(*a);
                        hp2.insert(accum_name.clone(), Value::String(orig_a.to_string()));
                        note.push_str(&format!(", {accum_name} {a} → {orig_a}"));
                    }
                    None => {
                        if let Some((lr_name, lr)) = &knobs.lr {
                            // Undo the batch-driven LR scaling, keep any divergence reductions.
                            let new_lr = lr * policy.lr_scaling.factor(orig_b as f64 / *b as f64);
                            hp2.insert(lr_name.clone(), Value::String(format_float(new_lr)));
                            note.push_str(&format!(
                                ", {lr_name} {} → {}",
                                format_float(*lr),
                                format_float(new_lr)
                            ));
                        }
                    }
                }
                d.notes.push(note);
                d.patch.insert("HyperParameters".into(), Value::Object(hp2));
            }
        }
    }
    Ok(d)
}
