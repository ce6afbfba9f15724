//! The run loop: [`Compensator::execute`] claims the journal lease, performs each
//! planned action not yet recorded as done, records every outcome, and releases the
//! lease with the run's result.
//!
//! This is where idempotence across runs lives (the journal and its lease); what each
//! action does is the `step` module's and the per-resource modules' business, so the
//! loop reads as the sequence of a run and nothing else.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::report::{skipped_from_journal, Report};
use super::{Compensator, Outcome};
use crate::aws::{AwsErrorKind, S3Ops, SageMakerOps};
use crate::error::CommonError;
use crate::saga::input::Request;
use crate::saga::journal::{self, Claim, Completed, JournalError, JournalHandle, RunRecord};
use crate::saga::plan::{plan, PlannedAction};
use crate::saga::retry::Retry;
use crate::saga::SagaError;

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Run the compensation for `req` (see the `engine` module docs). An `Err` means nothing
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
        crate::saga::progress::report(|o| o.planned(actions.len()));
        for (i, pa) in actions.iter().enumerate() {
            crate::saga::progress::report(|o| o.action(i, pa.action.kind()));
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
