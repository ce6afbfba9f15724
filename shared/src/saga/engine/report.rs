//! The outcome of one run, as the task returns it: what was done, skipped, failed and
//! remains, and the `Compensation.Incomplete` message built from it.
//!
//! Kept apart from the run loop so the report's shape (the Step Functions task output,
//! which operators and the state machine read) is in one place, and the loop only
//! files outcomes into it.

use serde::Serialize;

use super::Outcome;
use crate::saga::input::{Request, Stage};
use crate::saga::journal::{self, Completed};
use crate::saga::plan::{truncate_chars, PlannedAction};
use crate::saga::SagaError;
use crate::telemetry::Metrics;

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
    pub(super) fn empty(req: &Request, run_id: &str) -> Report {
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
    pub(super) fn lease_held_elsewhere(
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
    pub(super) fn file(
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

/// An action the journal already records as completed, as the report lists it.
pub(super) fn skipped_from_journal(pa: &PlannedAction, c: &Completed) -> ActionResult {
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
