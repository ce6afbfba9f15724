//! The dry run: the plan, and what each action would do given the current state, for
//! the CLI's `--dry-run` and for operators deciding whether to run it.
//!
//! Reads only (Describe…, List…, the journal) and writes nothing, so it shares the
//! deciding step with the real run (`step`) but never the acting one; kept apart so
//! that nothing here can reach a call that changes AWS.

use chrono::Utc;
use serde::Serialize;

use super::report::{ActionFailure, ActionResult};
use super::{Compensator, Decision};
use crate::aws::{AwsError, S3Ops, SageMakerOps};
use crate::saga::input::{Request, Stage};
use crate::saga::journal::{self, JournalError};
use crate::saga::plan::{plan, Action, PlannedAction};
use crate::saga::retry::Retry;
use crate::saga::SagaError;

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

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
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

    /// What one action not yet in the journal would do now.
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
                self.preview_delete_prefix(req, prefix, *versions, wait_for_jobs, retry)
                    .await
            }
            other => self.decide(other, retry).await,
        }
    }
}
