//! Running a compensation plan: decide, act, record; and the dry-run preview.
//!
//! Every action goes through the same three steps:
//! 1. **decide** from the resource's current state (Describe…): already in the target
//!    state ("already gone" is success), must wait (an endpoint still updating, a
//!    training job still stopping), must refuse (the resource is not this execution's),
//!    or act;
//! 2. **act** (Stop…, Update…, Delete…), retrying throttling; a "not found" or
//!    "conflict" reply sends it back to *decide*, since a concurrent change may have
//!    done the work already;
//! 3. **record** the completed action in the journal (a conditional write that also
//!    renews the run's lease), or record the failure.
//!
//! One failed action does not stop the others; dependencies are expressed through
//! state instead (the endpoint config is deleted only once no endpoint uses it, S3
//! artifacts only once every training job has stopped), so a later retry picks up
//! exactly what is left.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::input::{Request, Stage};
use super::journal::{self, Claim, Completed, JournalError, JournalHandle, RunRecord};
use super::plan::{plan, truncate_chars, Action, PlannedAction};
use super::retry::Retry;
use super::SagaError;
use crate::aws::{
    key_error_is_transient, AwsError, AwsErrorKind, KeyError, ObjectVersion, PageToken, S3Ops,
    SageMakerOps,
};
use crate::error::CommonError;
use crate::lambda::Deadline;
use crate::telemetry::{Metrics, Unit};

/// DeleteObjects takes at most this many keys.
pub const DELETE_BATCH: usize = 1000;

/// A completed or skipped action in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    pub action: String,
    pub stage: Stage,
    pub detail: String,
}

/// An action that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionFailure {
    pub action: String,
    pub stage: Stage,
    pub error: String,
    /// True when the action is waiting for AWS to finish something (not an error as such).
    pub waiting: bool,
    /// Whether running again may succeed without anyone changing anything.
    pub retryable: bool,
}

/// The outcome of one run: the task output (small JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub execution_name: String,
    pub stage: Stage,
    pub run_id: String,
    pub journal_uri: String,
    /// Actions this run carried out.
    pub done: Vec<ActionResult>,
    /// Actions that needed nothing: done by an earlier run (journal) or found already
    /// in the target state.
    pub skipped: Vec<ActionResult>,
    /// Actions that failed or are waiting.
    pub failed: Vec<ActionFailure>,
    /// Every action still to do (failed, waiting or not reached), in plan order.
    pub remaining: Vec<String>,
    pub objects_deleted: u64,
    pub retries: u64,
    /// Why the run stopped before the end of the plan, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// EMF documents (one per action, one summary); printed by the Lambda handler.
    #[serde(skip)]
    pub metrics: Vec<Metrics>,
}

impl Report {
    /// The report of a run that has not done anything yet.
    fn empty(req: &Request, run_id: &str) -> Report {
        Report {
            execution_name: req.execution_name.clone(),
            stage: req.stage,
            run_id: run_id.to_string(),
            journal_uri: req.journal_uri(),
            done: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            remaining: Vec::new(),
            objects_deleted: 0,
            retries: 0,
            stopped_early: None,
            metrics: Vec::new(),
        }
    }

    /// Another run holds the lease: what the journal says is done is skipped, the rest
    /// remains, and nothing is touched.
    fn lease_held_elsewhere(
        &mut self,
        actions: &[PlannedAction],
        journal: &journal::Journal,
        lease: &journal::Lease,
    ) {
        for pa in actions {
            match journal.completed.get(&pa.id) {
                Some(c) => self.skipped.push(skipped_from_journal(pa, c)),
                None => self.remaining.push(pa.id.clone()),
            }
        }
        self.stopped_early = Some(format!(
            "another run ({}) holds the saga journal lease until {}; it is compensating now",
            lease.owner, lease.expires_at
        ));
        tracing::warn!(holder = %lease.owner, expires_at = %lease.expires_at, "saga lease held by another run; doing nothing");
    }

    /// File one performed action under done, skipped or failed (and remaining), and log it.
    fn file(
        &mut self,
        pa: &PlannedAction,
        outcome: &Outcome,
        elapsed_ms: f64,
        deleted: u64,
        key_errors: u64,
    ) {
        let label = outcome.label();
        match outcome {
            Outcome::Done(d) => {
                tracing::info!(action = %pa.id, kind = pa.action.kind(), outcome = label, detail = %d, duration_ms = elapsed_ms, objects_deleted = deleted, "compensating action");
                self.done.push(ActionResult {
                    action: pa.id.clone(),
                    stage: pa.stage,
                    detail: d.clone(),
                });
            }
            Outcome::Already(d) => {
                tracing::info!(action = %pa.id, kind = pa.action.kind(), outcome = label, detail = %d, duration_ms = elapsed_ms, "compensating action");
                self.skipped.push(ActionResult {
                    action: pa.id.clone(),
                    stage: pa.stage,
                    detail: d.clone(),
                });
            }
            Outcome::Waiting(e) => {
                tracing::warn!(action = %pa.id, kind = pa.action.kind(), outcome = label, reason = %e, duration_ms = elapsed_ms, "compensating action");
                self.failed.push(ActionFailure {
                    action: pa.id.clone(),
                    stage: pa.stage,
                    error: e.clone(),
                    waiting: true,
                    retryable: true,
                });
                self.remaining.push(pa.id.clone());
            }
            Outcome::Failed { error, retryable } => {
                tracing::error!(action = %pa.id, kind = pa.action.kind(), outcome = label, error = %error, retryable, duration_ms = elapsed_ms, objects_deleted = deleted, key_errors, "compensating action");
                self.failed.push(ActionFailure {
                    action: pa.id.clone(),
                    stage: pa.stage,
                    error: truncate_chars(error, 1000),
                    waiting: false,
                    retryable: *retryable,
                });
                self.remaining.push(pa.id.clone());
            }
        }
    }

    /// True when nothing remains.
    pub fn is_complete(&self) -> bool {
        self.remaining.is_empty()
    }

    /// The message of `Compensation.Incomplete`: what remains and why.
    pub fn incomplete_message(&self) -> String {
        let total = self.done.len() + self.skipped.len() + self.remaining.len();
        let mut msg = format!(
            "{} of {} compensating actions remain for execution {} ({} stage failed); journal {}",
            self.remaining.len(),
            total,
            self.execution_name,
            self.stage,
            self.journal_uri
        );
        if let Some(why) = &self.stopped_early {
            msg.push_str(&format!("; stopped early: {why}"));
        }
        msg.push_str(". Remaining: ");
        let items: Vec<String> = self
            .remaining
            .iter()
            .map(|id| match self.failed.iter().find(|f| &f.action == id) {
                Some(f) if f.waiting => {
                    format!("{id} (waiting: {})", truncate_chars(&f.error, 300))
                }
                Some(f) => format!("{id} ({})", truncate_chars(&f.error, 300)),
                None => format!("{id} (not started)"),
            })
            .collect();
        msg.push_str(&items.join("; "));
        truncate_chars(&msg, 8000)
    }

    /// `Ok(self)` when complete, else `Compensation.Incomplete`.
    pub fn into_result(self) -> Result<Report, SagaError> {
        if self.is_complete() {
            Ok(self)
        } else {
            Err(SagaError::Incomplete(self.incomplete_message()))
        }
    }
}

/// One action of the dry-run preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewItem {
    pub action: String,
    pub stage: Stage,
    pub description: String,
    /// `done (journal)`, `would run`, `nothing to do`, `would wait`, `would refuse` or `unknown`.
    pub state: String,
    pub detail: String,
}

/// The dry-run output: the plan and what each action would do now. Nothing is changed.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub dry_run: bool,
    pub execution_name: String,
    pub stage: Stage,
    pub journal_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    pub plan: Vec<PreviewItem>,
    pub done: Vec<ActionResult>,
    pub skipped: Vec<ActionResult>,
    pub failed: Vec<ActionFailure>,
}

#[derive(Debug)]
enum Decision {
    Act(String),
    Already(String),
    Wait(String),
    Refuse(String),
}

#[derive(Debug)]
enum Outcome {
    Done(String),
    Already(String),
    Waiting(String),
    Failed { error: String, retryable: bool },
}

impl Outcome {
    /// The outcome as logs and metrics name it.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Done(_) => "done",
            Outcome::Already(_) => "skipped",
            Outcome::Waiting(_) => "waiting",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// Write one action's outcome to the journal: completed (done or already so) or its
/// failure (waiting or failed), so the next run knows what is left.
async fn record_outcome<S: S3Ops>(
    handle: &mut JournalHandle<'_, S>,
    pa: &PlannedAction,
    outcome: &Outcome,
    run_id: &str,
) -> Result<(), JournalError> {
    match outcome {
        Outcome::Done(d) | Outcome::Already(d) => {
            let rec = Completed {
                outcome: if matches!(outcome, Outcome::Done(_)) {
                    "done"
                } else {
                    "already"
                }
                .into(),
                detail: d.clone(),
                stage: pa.stage,
                at: Utc::now(),
                run_id: run_id.to_string(),
            };
            handle.record_completed(&pa.id, rec).await
        }
        Outcome::Waiting(e) => {
            handle
                .record_failure(&pa.id, &format!("waiting: {e}"))
                .await
        }
        Outcome::Failed { error, .. } => handle.record_failure(&pa.id, error).await,
    }
}

#[derive(Debug, Default)]
struct DeleteResult {
    deleted: u64,
    failed: Vec<KeyError>,
    error: Option<AwsError>,
    refused: Option<String>,
    interrupted: bool,
    abort: Option<JournalError>,
}

/// Runs compensation plans through an [`S3Ops`] and a [`SageMakerOps`].
pub struct Compensator<S, M> {
    s3: S,
    sagemaker: M,
    deadline: Deadline,
    base_delay: Duration,
    function: String,
}

fn failed_from(e: &AwsError) -> Outcome {
    Outcome::Failed {
        error: e.to_string(),
        retryable: op_retryable(e),
    }
}

/// Whether running again may help: not for access denied or a rejected request.
fn op_retryable(e: &AwsError) -> bool {
    !matches!(e.kind, AwsErrorKind::AccessDenied | AwsErrorKind::Invalid)
}

fn new_run_id() -> String {
    use rand::Rng;
    format!(
        "{}-{:08x}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        rand::thread_rng().gen::<u32>()
    )
}

fn journal_error(e: JournalError) -> SagaError {
    match e {
        JournalError::Corrupt(m) => {
            SagaError::JournalCorrupt(format!("the saga journal is not readable: {m}"))
        }
        JournalError::LeaseLost(m) => {
            SagaError::Incomplete(format!("lost the saga journal lease: {m}"))
        }
        JournalError::Storage(op) => match op.kind {
            AwsErrorKind::Throttled | AwsErrorKind::Conflict => SagaError::Incomplete(format!(
                "could not use the saga journal, nothing was done: {op}"
            )),
            AwsErrorKind::NotFound => {
                SagaError::Common(CommonError::NotFound(format!("saga journal: {op}")))
            }
            AwsErrorKind::AccessDenied => {
                SagaError::Common(CommonError::AccessDenied(format!("saga journal: {op}")))
            }
            _ => SagaError::Common(CommonError::Storage(format!("saga journal: {op}"))),
        },
    }
}

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    pub fn new(s3: S, sagemaker: M) -> Self {
        Compensator {
            s3,
            sagemaker,
            deadline: Deadline::none(),
            base_delay: Duration::from_millis(200),
            function: "saga-compensator".into(),
        }
    }

    /// Stop cleanly (reporting what remains) when this deadline passes.
    pub fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// The first retry's delay (doubled each retry); tests use a millisecond.
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    pub fn s3(&self) -> &S {
        &self.s3
    }

    pub fn sagemaker(&self) -> &M {
        &self.sagemaker
    }

    fn retry(&self, req: &Request) -> Retry {
        Retry::new(req.options.max_attempts, self.base_delay)
    }

    /// Run the compensation for `req` (see the module docs). An `Err` means nothing
    /// could be done at all (bad journal, storage refused); a report with `remaining`
    /// actions is still `Ok` here: [`Report::into_result`] turns it into
    /// `Compensation.Incomplete`.
    ///
    /// The steps: claim the journal lease (or report what another run holding it has
    /// done), run each planned action not yet recorded as done, then release the lease
    /// with the run's result.
    pub async fn execute(&self, req: &Request) -> Result<Report, SagaError> {
        let started = Instant::now();
        let run_id = new_run_id();
        let retry = self.retry(req);
        let actions = plan(req);
        let mut report = Report::empty(req, &run_id);
        let mut handle = match self.claim(req, &run_id, &retry).await? {
            Claim::Held(h) => h,
            Claim::Busy { journal, lease } => {
                report.lease_held_elsewhere(&actions, &journal, &lease);
                report.retries = retry.count();
                report
                    .metrics
                    .push(self.summary_metrics(req, &report, started));
                return Ok(report);
            }
        };
        tracing::info!(run_id = %run_id, stage = %req.stage, actions = actions.len(), journal = %req.journal_uri(), "compensation started");
        let aborted = self
            .run_actions(req, &actions, &retry, &mut handle, &mut report)
            .await;
        let result = self.finish(&mut handle, &mut report, aborted).await;
        report.retries = retry.count();
        report
            .metrics
            .push(self.summary_metrics(req, &report, started));
        tracing::info!(
            run_id = %run_id,
            done = report.done.len(),
            skipped = report.skipped.len(),
            failed = report.failed.len(),
            remaining = report.remaining.len(),
            objects_deleted = report.objects_deleted,
            "compensation {result}"
        );
        Ok(report)
    }

    /// Take the journal lease for this run, or learn who holds it.
    async fn claim<'a>(
        &'a self,
        req: &Request,
        run_id: &str,
        retry: &Retry,
    ) -> Result<Claim<'a, S>, SagaError> {
        let record = RunRecord {
            run_id: run_id.to_string(),
            stage: req.stage,
            started_at: Utc::now(),
            finished_at: None,
            caught_error: req.error.clone(),
            result: "running".into(),
            done: 0,
            skipped: 0,
            failed: 0,
        };
        journal::acquire(
            &self.s3,
            &req.bucket,
            &req.journal_key(),
            &req.execution_name,
            record,
            Duration::from_secs(req.options.lease_seconds),
            retry.clone(),
        )
        .await
        .map_err(journal_error)
    }

    /// Every planned action in order: skipped when the journal says it is done, else
    /// performed and recorded, until the deadline is close or the journal can no longer
    /// be written. Returns why the run had to stop acting (lease lost, S3 refusing), if
    /// it did: then it cannot release a lease it no longer holds.
    async fn run_actions(
        &self,
        req: &Request,
        actions: &[PlannedAction],
        retry: &Retry,
        handle: &mut JournalHandle<'_, S>,
        report: &mut Report,
    ) -> Option<String> {
        for (i, pa) in actions.iter().enumerate() {
            if let Some(c) = handle.completed(&pa.id) {
                let r = skipped_from_journal(pa, c);
                tracing::info!(action = %pa.id, kind = pa.action.kind(), outcome = "skipped", detail = %r.detail, "compensating action");
                report
                    .metrics
                    .push(self.action_metrics(req, pa, "skipped", 0.0, 0, 0, 0));
                report.skipped.push(r);
                continue;
            }
            if self.deadline.expired() {
                report.stopped_early = Some("the Lambda deadline is close".into());
                report
                    .remaining
                    .extend(actions[i..].iter().map(|p| p.id.clone()));
                return None;
            }
            if let Some(abort) = self.run_action(req, pa, retry, handle, report).await {
                report.stopped_early = Some(abort.clone());
                report
                    .remaining
                    .extend(actions[i + 1..].iter().map(|p| p.id.clone()));
                return Some(abort);
            }
        }
        None
    }

    /// Perform one action, record its outcome in the journal and in the report.
    /// Returns why the run must stop, if the journal could not be written.
    async fn run_action(
        &self,
        req: &Request,
        pa: &PlannedAction,
        retry: &Retry,
        handle: &mut JournalHandle<'_, S>,
        report: &mut Report,
    ) -> Option<String> {
        let t0 = Instant::now();
        let retries_before = retry.count();
        let (outcome, del) = self.perform(pa, req, retry, Some(&mut *handle)).await;
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let (deleted, key_errors) = del
            .as_ref()
            .map(|d| (d.deleted, d.failed.len() as u64))
            .unwrap_or((0, 0));
        report.objects_deleted += deleted;
        let mut aborted = del.and_then(|d| d.abort).map(|e| e.to_string());
        let journal_write = record_outcome(handle, pa, &outcome, &report.run_id).await;
        report.file(pa, &outcome, elapsed_ms, deleted, key_errors);
        let retries = retry.count() - retries_before;
        report.metrics.push(self.action_metrics(
            req,
            pa,
            outcome.label(),
            elapsed_ms,
            deleted,
            key_errors,
            retries,
        ));
        if let Err(e) = journal_write {
            // The action happened (or failed) but is not recorded; the next run
            // repeats it, harmlessly, since every action is idempotent.
            tracing::error!(action = %pa.id, error = %e, "could not record the action in the journal; stopping");
            aborted.get_or_insert(e.to_string());
        }
        aborted
    }

    /// Release the lease with the run's result ("complete" or "incomplete"), unless the
    /// run lost the journal; make sure a retry comes when the journal does not yet say
    /// what was done.
    async fn finish(
        &self,
        handle: &mut JournalHandle<'_, S>,
        report: &mut Report,
        aborted: Option<String>,
    ) -> &'static str {
        if aborted.is_some() && report.remaining.is_empty() {
            // All the work is done but the journal does not say so: let the state
            // machine retry, so the next run records it (repeating at most one action).
            report.remaining.push("journal.write".into());
        }
        let result = if report.remaining.is_empty() {
            "complete"
        } else {
            "incomplete"
        };
        if aborted.is_some() {
            return result;
        }
        if let Err(e) = handle
            .release(
                result,
                report.done.len(),
                report.skipped.len(),
                report.remaining.len(),
            )
            .await
        {
            tracing::error!(error = %e, "could not release the saga journal lease");
            if matches!(e, JournalError::LeaseLost(_)) && report.stopped_early.is_none() {
                report.stopped_early = Some(e.to_string());
                // Everything was done, but another run now holds the journal: let
                // the state machine retry so the outcome is read from the journal.
                if report.remaining.is_empty() {
                    report.remaining.push("journal.release".into());
                }
            }
        }
        result
    }

    /// The dry run: the plan, and what each action would do given the current state.
    /// Reads only (Describe…, List…, the journal); writes nothing.
    pub async fn preview(&self, req: &Request) -> Result<Preview, SagaError> {
        let retry = self.retry(req);
        let journal = match journal::read(&self.s3, &req.bucket, &req.journal_key(), &retry).await {
            Ok(j) => j.map(|(j, _)| j),
            Err(JournalError::Corrupt(m)) => return Err(SagaError::JournalCorrupt(m)),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the saga journal for the preview");
                None
            }
        };
        let lease = journal
            .as_ref()
            .and_then(|j| j.held_by_other("", Utc::now()))
            .map(|l| format!("held by run {} until {}", l.owner, l.expires_at));
        let mut items = Vec::new();
        for pa in plan(req) {
            let description = pa.action.describe(&req.bucket);
            let (state, detail) =
                if let Some(c) = journal.as_ref().and_then(|j| j.completed.get(&pa.id)) {
                    (
                        "done (journal)".to_string(),
                        format!(
                            "{} at {} by run {}: {}",
                            c.outcome, c.at, c.run_id, c.detail
                        ),
                    )
                } else {
                    match self.preview_one(&pa, req, &retry).await {
                        Ok(Decision::Act(d)) => ("would run".into(), d),
                        Ok(Decision::Already(d)) => ("nothing to do".into(), d),
                        Ok(Decision::Wait(d)) => ("would wait".into(), d),
                        Ok(Decision::Refuse(d)) => ("would refuse".into(), d),
                        Err(e) => ("unknown".into(), e.to_string()),
                    }
                };
            items.push(PreviewItem {
                action: pa.id.clone(),
                stage: pa.stage,
                description,
                state,
                detail,
            });
        }
        Ok(Preview {
            dry_run: true,
            execution_name: req.execution_name.clone(),
            stage: req.stage,
            journal_uri: req.journal_uri(),
            lease,
            plan: items,
            done: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
        })
    }

    async fn preview_one(
        &self,
        pa: &PlannedAction,
        req: &Request,
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        match &pa.action {
            Action::DeleteS3Prefix {
                prefix,
                versions,
                wait_for_jobs,
            } => {
                if let Some(wait) = self.jobs_still_running(wait_for_jobs, retry).await? {
                    return Ok(Decision::Wait(wait));
                }
                // Count what is there, up to 100 pages.
                let mut token: Option<PageToken> = None;
                let mut n = 0usize;
                for _ in 0..100 {
                    let page = if *versions {
                        retry
                            .run(|| {
                                self.s3
                                    .list_object_versions(&req.bucket, prefix, token.as_ref())
                            })
                            .await?
                    } else {
                        retry
                            .run(|| self.s3.list_objects(&req.bucket, prefix, token.as_ref()))
                            .await?
                    };
                    n += page.objects.len();
                    token = page.next;
                    if token.is_none() {
                        break;
                    }
                }
                let what = if *versions {
                    "object versions and delete markers"
                } else {
                    "objects"
                };
                Ok(match (n, token.is_some()) {
                    (0, _) => Decision::Already(format!("no {what} under the prefix")),
                    (n, false) => Decision::Act(format!("{n} {what} to delete")),
                    (n, true) => Decision::Act(format!("at least {n} {what} to delete")),
                })
            }
            other => self.decide(other, retry).await,
        }
    }

    /// Decide, act, and re-decide after a "not found"/"conflict" reply.
    async fn perform(
        &self,
        pa: &PlannedAction,
        req: &Request,
        retry: &Retry,
        handle: Option<&mut JournalHandle<'_, S>>,
    ) -> (Outcome, Option<DeleteResult>) {
        if let Action::DeleteS3Prefix {
            prefix,
            versions,
            wait_for_jobs,
        } = &pa.action
        {
            match self.jobs_still_running(wait_for_jobs, retry).await {
                Err(e) => return (failed_from(&e), None),
                Ok(Some(wait)) => return (Outcome::Waiting(wait), None),
                Ok(None) => {}
            }
            let d = self
                .delete_prefix(&req.bucket, prefix, &req.prefix, *versions, retry, handle)
                .await;
            return (delete_outcome(&d, *versions, retry.max_attempts), Some(d));
        }
        let outcome = match self.decide(&pa.action, retry).await {
            Err(e) => failed_from(&e),
            Ok(Decision::Already(d)) => Outcome::Already(d),
            Ok(Decision::Wait(w)) => Outcome::Waiting(w),
            Ok(Decision::Refuse(r)) => Outcome::Failed {
                error: format!("refused: {r}"),
                retryable: false,
            },
            Ok(Decision::Act(_)) => self.act_and_check(&pa.action, retry).await,
        };
        (outcome, None)
    }

    /// Act; after a "not found" or "conflict" reply decide again (a concurrent change
    /// may have done the work, or the resource may be busy), and retry the act itself
    /// after a conflict while the resource still needs it (ConflictException is
    /// SageMaker's reply to a concurrent modification).
    async fn act_and_check(&self, action: &Action, retry: &Retry) -> Outcome {
        let mut attempt = 1;
        loop {
            match self.act(action, retry).await {
                Ok(done) => {
                    return match action {
                        // The rollback counts as done only once the endpoint runs the previous config.
                        Action::RollbackEndpoint {
                            previous_config, ..
                        } => match self.decide(action, retry).await {
                            Ok(Decision::Already(_)) => {
                                Outcome::Done(format!("rolled back to {previous_config}"))
                            }
                            Ok(Decision::Wait(w))
                            | Ok(Decision::Act(w))
                            | Ok(Decision::Refuse(w)) => Outcome::Waiting(format!("{done}; {w}")),
                            Err(e) => Outcome::Waiting(format!("{done}; could not check it: {e}")),
                        },
                        _ => Outcome::Done(done),
                    };
                }
                Err(e) if matches!(e.kind, AwsErrorKind::NotFound | AwsErrorKind::Conflict) => {
                    match self.decide(action, retry).await {
                        Ok(Decision::Already(d)) => return Outcome::Already(d),
                        Ok(Decision::Wait(w)) => return Outcome::Waiting(w),
                        Ok(Decision::Refuse(r)) => {
                            return Outcome::Failed {
                                error: format!("refused: {r}"),
                                retryable: false,
                            }
                        }
                        Ok(Decision::Act(_))
                            if e.kind == AwsErrorKind::Conflict && attempt < retry.max_attempts =>
                        {
                            tracing::warn!(operation = %e.operation, attempt, "conflict; retrying");
                            retry.pause(attempt).await;
                            attempt += 1;
                        }
                        Ok(Decision::Act(_)) | Err(_) => return failed_from(&e),
                    }
                }
                Err(e) => return failed_from(&e),
            }
        }
    }

    /// Some(reason) while any of `jobs` can still write into S3.
    async fn jobs_still_running(
        &self,
        jobs: &[String],
        retry: &Retry,
    ) -> Result<Option<String>, AwsError> {
        for job in jobs {
            match retry
                .run(|| self.sagemaker.describe_training_job(job))
                .await
            {
                Ok(status) if status == "InProgress" || status == "Stopping" => {
                    return Ok(Some(format!(
                        "training job {job} is {status}; it may still upload into the prefix"
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind == AwsErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    async fn decide(&self, action: &Action, retry: &Retry) -> Result<Decision, AwsError> {
        let sm = &self.sagemaker;
        match action {
            Action::StopTrainingJob { job } => {
                match retry.run(|| sm.describe_training_job(job)).await {
                    Ok(s) if s == "InProgress" => Ok(Decision::Act(format!("training job is {s}"))),
                    Ok(s) if s == "Stopping" => Ok(Decision::Already("already stopping".into())),
                    Ok(s) => Ok(Decision::Already(format!("already {s}"))),
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        Ok(Decision::Already("not found: already gone".into()))
                    }
                    Err(e) => Err(e),
                }
            }
            Action::RejectModelPackage { package, .. } => {
                match retry.run(|| sm.describe_model_package(package)).await {
                    Ok(s) if s == "Rejected" => Ok(Decision::Already("already Rejected".into())),
                    Ok(s) => Ok(Decision::Act(format!("model package is {s}"))),
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        Ok(Decision::Already("not found: already gone".into()))
                    }
                    Err(e) => Err(e),
                }
            }
            Action::DeleteModelPackage { package } => {
                match retry.run(|| sm.describe_model_package(package)).await {
                    Ok(s) => Ok(Decision::Act(format!("model package exists ({s})"))),
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        Ok(Decision::Already("not found: already gone".into()))
                    }
                    Err(e) => Err(e),
                }
            }
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                new_config,
            } => {
                let st = match retry.run(|| sm.describe_endpoint(endpoint)).await {
                    Ok(st) => st,
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        return Ok(Decision::Already(
                            "endpoint not found: nothing to roll back".into(),
                        ))
                    }
                    Err(e) => return Err(e),
                };
                let current = st.config_name.clone().unwrap_or_default();
                Ok(match st.status.as_str() {
                    "InService" | "OutOfService" if current == *previous_config => {
                        Decision::Already(format!("endpoint already runs {previous_config}"))
                    }
                    "InService" | "OutOfService" => match new_config {
                        Some(n) if *n != current => Decision::Refuse(format!(
                            "endpoint {endpoint} now runs {current}, which is neither this execution's {n} nor the previous {previous_config}; not rolling back over another deployment"
                        )),
                        _ => Decision::Act(format!("endpoint runs {current} ({})", st.status)),
                    },
                    "Failed" | "UpdateRollbackFailed" => Decision::Refuse(format!(
                        "endpoint {endpoint} is {}; it cannot be updated and needs an operator",
                        st.status
                    )),
                    "Deleting" => Decision::Already("endpoint is being deleted: nothing to roll back".into()),
                    other => Decision::Wait(format!(
                        "endpoint {endpoint} is {other}{}",
                        st.pending_config_name.as_deref().map(|p| format!(" (deploying {p})")).unwrap_or_default()
                    )),
                })
            }
            Action::DeleteEndpoint {
                endpoint,
                new_config,
            } => {
                let st = match retry.run(|| sm.describe_endpoint(endpoint)).await {
                    Ok(st) => st,
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        return Ok(Decision::Already("not found: already deleted".into()))
                    }
                    Err(e) => return Err(e),
                };
                if st.status == "Deleting" {
                    return Ok(Decision::Already("already being deleted".into()));
                }
                let ours = st.config_name.as_deref() == Some(new_config.as_str())
                    || st.pending_config_name.as_deref() == Some(new_config.as_str());
                Ok(if ours {
                    Decision::Act(format!("endpoint is {} with {new_config}", st.status))
                } else {
                    Decision::Refuse(format!(
                        "endpoint {endpoint} runs {}, not this execution's {new_config}; refusing to delete an endpoint this execution did not create",
                        st.config_name.as_deref().unwrap_or("an unknown config")
                    ))
                })
            }
            Action::DeleteEndpointConfig { config } => {
                match retry.run(|| sm.describe_endpoint_config(config)).await {
                    Ok(()) => {}
                    Err(e) if e.kind == AwsErrorKind::NotFound => {
                        return Ok(Decision::Already("not found: already deleted".into()))
                    }
                    Err(e) => return Err(e),
                }
                let mut users = Vec::new();
                for name in retry.run(|| sm.list_endpoints()).await? {
                    match retry.run(|| sm.describe_endpoint(&name)).await {
                        Ok(st) => {
                            let uses = st.config_name.as_deref() == Some(config.as_str())
                                || st.pending_config_name.as_deref() == Some(config.as_str());
                            if uses && st.status != "Deleting" {
                                users.push(format!("{name} ({})", st.status));
                            }
                        }
                        Err(e) if e.kind == AwsErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(if users.is_empty() {
                    Decision::Act("no endpoint uses it".into())
                } else {
                    Decision::Wait(format!(
                        "endpoint config {config} is still used by {}",
                        users.join(", ")
                    ))
                })
            }
            Action::DeleteS3Prefix { .. } => Ok(Decision::Act("delete objects".into())),
        }
    }

    async fn act(&self, action: &Action, retry: &Retry) -> Result<String, AwsError> {
        let sm = &self.sagemaker;
        match action {
            Action::StopTrainingJob { job } => {
                retry.run(|| sm.stop_training_job(job)).await?;
                Ok("StopTrainingJob sent; the job is stopping".into())
            }
            Action::RejectModelPackage {
                package,
                description,
            } => {
                retry
                    .run(|| sm.set_model_package_status(package, "Rejected", description))
                    .await?;
                Ok("model package set to Rejected".into())
            }
            Action::DeleteModelPackage { package } => {
                retry.run(|| sm.delete_model_package(package)).await?;
                Ok("model package deleted".into())
            }
            Action::RollbackEndpoint {
                endpoint,
                previous_config,
                ..
            } => {
                retry
                    .run(|| sm.update_endpoint(endpoint, previous_config))
                    .await?;
                Ok(format!("UpdateEndpoint to {previous_config} started"))
            }
            Action::DeleteEndpoint { endpoint, .. } => {
                retry.run(|| sm.delete_endpoint(endpoint)).await?;
                Ok("DeleteEndpoint sent".into())
            }
            Action::DeleteEndpointConfig { config } => {
                retry.run(|| sm.delete_endpoint_config(config)).await?;
                Ok("endpoint config deleted".into())
            }
            Action::DeleteS3Prefix { .. } => Ok(String::new()),
        }
    }

    /// Delete everything under `prefix`, page by page (ListObjectsV2 or
    /// ListObjectVersions), in DeleteObjects batches of at most 1000, retrying
    /// transient per-key errors; renews the lease between pages and stops cleanly at
    /// the deadline. Keys outside the execution's prefix, or in its `saga/` journal
    /// folder, are never deleted: a listing that returns one stops the action.
    async fn delete_prefix(
        &self,
        bucket: &str,
        prefix: &str,
        execution_prefix: &str,
        versions: bool,
        retry: &Retry,
        mut handle: Option<&mut JournalHandle<'_, S>>,
    ) -> DeleteResult {
        let mut res = DeleteResult::default();
        let journal_dir = format!("{execution_prefix}saga/");
        if !prefix.starts_with(execution_prefix) || prefix.starts_with(&journal_dir) {
            res.refused = Some(format!(
                "prefix {prefix} is outside {execution_prefix} or inside the journal folder"
            ));
            return res;
        }
        let mut token: Option<PageToken> = None;
        let mut given_up: std::collections::HashSet<ObjectVersion> = Default::default();
        loop {
            let page = if versions {
                retry
                    .run(|| self.s3.list_object_versions(bucket, prefix, token.as_ref()))
                    .await
            } else {
                retry
                    .run(|| self.s3.list_objects(bucket, prefix, token.as_ref()))
                    .await
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    res.error = Some(e);
                    break;
                }
            };
            if let Some(o) = page
                .objects
                .iter()
                .find(|o| !o.key.starts_with(prefix) || o.key.starts_with(&journal_dir))
            {
                res.refused = Some(format!(
                    "the listing of {prefix} returned {:?}, which is outside it; nothing more is deleted",
                    o.key
                ));
                break;
            }
            // Versions that already failed for good are not asked for again: after a
            // restarted listing (below) they come back first.
            let todo: Vec<ObjectVersion> = page
                .objects
                .into_iter()
                .filter(|o| !given_up.contains(o))
                .collect();
            let mut deleted_here = 0u64;
            for batch in todo.chunks(DELETE_BATCH) {
                let (deleted, failed) = self.delete_batch(bucket, batch, retry).await;
                deleted_here += deleted;
                res.deleted += deleted;
                given_up.extend(failed.iter().map(|f| f.object.clone()));
                res.failed.extend(failed);
            }
            if let Some(h) = handle.as_deref_mut() {
                if let Err(e) = h.heartbeat().await {
                    res.abort = Some(e);
                    break;
                }
            }
            match page.next {
                Some(_) if self.deadline.expired() => {
                    res.interrupted = true;
                    break;
                }
                // A version marker names the last version of the page, which was just
                // deleted. S3 resumes lexicographically, but an implementation that
                // looks the marker up (moto does) finds nothing after it and ends the
                // listing early. Listing again from the start is correct for both: what
                // was deleted is gone, what failed is filtered out above, and every
                // pass deletes at least one version, so the loop ends.
                Some(_) if versions && deleted_here > 0 => token = None,
                Some(next) => token = Some(next),
                None => break,
            }
        }
        res
    }

    /// One DeleteObjects batch with per-key retries: `(deleted, failed for good)`.
    async fn delete_batch(
        &self,
        bucket: &str,
        batch: &[ObjectVersion],
        retry: &Retry,
    ) -> (u64, Vec<KeyError>) {
        let mut pending: Vec<ObjectVersion> = batch.to_vec();
        let mut deleted = 0u64;
        let mut failed = Vec::new();
        let mut attempt = 1;
        loop {
            let errors = match retry.run(|| self.s3.delete_objects(bucket, &pending)).await {
                Ok(errors) => errors,
                Err(e) => {
                    failed.extend(pending.into_iter().map(|object| KeyError {
                        object,
                        code: e.code.clone(),
                        message: e.message.clone(),
                    }));
                    return (deleted, failed);
                }
            };
            // Match each per-key error to the object we asked for (S3 may or may not
            // echo the version id).
            let mut transient = Vec::new();
            for err in errors {
                let Some(pos) = pending.iter().position(|o| {
                    o.key == err.object.key
                        && (o.version_id.is_none() || o.version_id == err.object.version_id)
                }) else {
                    continue;
                };
                let object = pending.swap_remove(pos);
                let e = KeyError {
                    object,
                    code: err.code,
                    message: err.message,
                };
                if key_error_is_transient(&e.code) {
                    transient.push(e);
                } else {
                    failed.push(e);
                }
            }
            deleted += pending.len() as u64;
            if transient.is_empty() {
                return (deleted, failed);
            }
            if attempt >= retry.max_attempts {
                failed.extend(transient);
                return (deleted, failed);
            }
            tracing::warn!(keys = transient.len(), code = %transient[0].code, attempt, "DeleteObjects per-key errors; retrying those keys");
            retry.pause(attempt).await;
            attempt += 1;
            pending = transient.into_iter().map(|e| e.object).collect();
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn action_metrics(
        &self,
        req: &Request,
        pa: &PlannedAction,
        outcome: &str,
        ms: f64,
        deleted: u64,
        key_errors: u64,
        retries: u64,
    ) -> Metrics {
        let mut m = Metrics::new(&self.function);
        m.property("ExecutionName", req.execution_name.as_str())
            .property("FailedStage", req.stage.as_str())
            .property("Action", pa.id.as_str())
            .property("ActionKind", pa.action.kind())
            .property("Outcome", outcome);
        let counter = match outcome {
            "done" => "ActionsDone",
            "skipped" => "ActionsSkipped",
            _ => "ActionsFailed",
        };
        m.count(counter, 1)
            .put("ActionDurationMs", ms, Unit::Milliseconds);
        if deleted > 0 {
            m.count("ObjectsDeleted", deleted);
        }
        if key_errors > 0 {
            m.count("KeyErrors", key_errors);
        }
        if retries > 0 {
            m.count("Retries", retries);
        }
        m
    }

    fn summary_metrics(&self, req: &Request, report: &Report, started: Instant) -> Metrics {
        let mut m = Metrics::new(&self.function);
        m.property("ExecutionName", req.execution_name.as_str())
            .property("FailedStage", req.stage.as_str())
            .property("RunId", report.run_id.as_str());
        m.count("CompensationRuns", 1)
            .count("CompensationIncomplete", u64::from(!report.is_complete()))
            .count("ActionsRemaining", report.remaining.len() as u64)
            .count("ObjectsDeletedTotal", report.objects_deleted)
            .put(
                "RunDurationMs",
                started.elapsed().as_secs_f64() * 1000.0,
                Unit::Milliseconds,
            );
        m
    }
}

fn skipped_from_journal(pa: &PlannedAction, c: &Completed) -> ActionResult {
    ActionResult {
        action: pa.id.clone(),
        stage: pa.stage,
        detail: format!(
            "journal: {} by run {} at {} ({})",
            c.outcome,
            c.run_id,
            c.at.to_rfc3339(),
            c.detail
        ),
    }
}

fn delete_outcome(d: &DeleteResult, versions: bool, attempts: u32) -> Outcome {
    let what = if versions {
        "object versions and delete markers"
    } else {
        "objects"
    };
    if let Some(r) = &d.refused {
        return Outcome::Failed {
            error: format!("refused: {r}; {} {what} deleted before that", d.deleted),
            retryable: false,
        };
    }
    if let Some(e) = &d.abort {
        return Outcome::Failed {
            error: format!("{e}; {} {what} deleted", d.deleted),
            retryable: true,
        };
    }
    if let Some(e) = &d.error {
        return Outcome::Failed {
            error: format!("{e}; {} {what} deleted before that", d.deleted),
            retryable: op_retryable(e),
        };
    }
    if !d.failed.is_empty() {
        let first: Vec<String> = d
            .failed
            .iter()
            .take(3)
            .map(|k| format!("{}: {} {}", k.object.key, k.code, k.message))
            .collect();
        let retryable = d.failed.iter().any(|k| key_error_is_transient(&k.code));
        return Outcome::Failed {
            error: format!(
                "{} {what} could not be deleted after {attempts} attempts (e.g. {}); {} deleted",
                d.failed.len(),
                first.join("; "),
                d.deleted
            ),
            retryable,
        };
    }
    if d.interrupted {
        return Outcome::Failed {
            error: format!(
                "stopped before the Lambda deadline after deleting {} {what}; the rest remains",
                d.deleted
            ),
            retryable: true,
        };
    }
    if d.deleted == 0 {
        Outcome::Already(format!("no {what} under the prefix"))
    } else {
        Outcome::Done(format!("deleted {} {what}", d.deleted))
    }
}
