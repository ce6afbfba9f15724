//! The saga journal: `<prefix>saga/journal.json`, one JSON object per execution.
//!
//! ## What it records
//! Every completed action (id → outcome, detail, when, which run), the last failure of
//! each action that has not completed yet, and a short history of runs. A later run
//! skips every action the journal says is complete without calling AWS again, so a
//! retry after a partial run redoes nothing that was already cleaned.
//!
//! ## How two concurrent runs are kept apart: a lease, renewed by compare-and-swap
//! A run may act only while it holds the journal's lease (`lease.owner` = its run id,
//! `lease.expires_at` in the future). Every write of the journal is a conditional PUT:
//! `If-None-Match: *` for the first write, `If-Match: <ETag it last read or wrote>`
//! after that. So:
//! - to take the lease, a run reads the journal and writes it back with itself as the
//!   owner; of two runs racing, S3 lets exactly one write succeed (the other gets
//!   `412 PreconditionFailed`, re-reads, and finds the lease held);
//! - a run that finds an unexpired lease held by another run does nothing and reports
//!   every action as remaining (`Compensation.Incomplete`, retryable);
//! - the holder records each completed action with a conditional write, which also
//!   renews the lease; long S3 deletions renew it between batches ([`JournalHandle::heartbeat`]);
//! - a run that crashed leaves its lease behind; once it expires, the next run takes
//!   over. If the crashed run was only slow and comes back, its next conditional write
//!   fails (the ETag changed), it learns it lost the lease, and stops at once.
//!
//! Actions are idempotent ("already gone" is success), so the only cost of a takeover
//! is repeating the one action that was in flight when the previous holder died.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::input::{CaughtError, Stage};
use super::retry::Retry;
use crate::aws::{AwsError, AwsErrorKind, PutOutcome, S3Ops};

/// Runs kept in the journal's history (oldest dropped first).
pub const MAX_RUNS_KEPT: usize = 50;

/// The journal document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub execution_name: String,
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Completed actions by id.
    #[serde(default)]
    pub completed: BTreeMap<String, Completed>,
    /// The last failure of each action not completed yet.
    #[serde(default)]
    pub failures: BTreeMap<String, Failure>,
    /// Recent runs, oldest first.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

/// Who may act, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

/// A completed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completed {
    /// `done` (this saga changed something) or `already` (it was already so).
    pub outcome: String,
    pub detail: String,
    pub stage: Stage,
    pub at: DateTime<Utc>,
    pub run_id: String,
}

/// The last failure of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
    /// Failed runs so far for this action.
    pub attempts: u32,
    pub at: DateTime<Utc>,
    pub run_id: String,
}

/// One run of the compensator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub stage: Stage,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught_error: Option<CaughtError>,
    /// `running`, `complete` or `incomplete`.
    pub result: String,
    #[serde(default)]
    pub done: usize,
    #[serde(default)]
    pub skipped: usize,
    #[serde(default)]
    pub failed: usize,
}

impl Journal {
    pub fn new(execution_name: &str) -> Self {
        Journal {
            version: 1,
            execution_name: execution_name.to_string(),
            lease: None,
            completed: BTreeMap::new(),
            failures: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    /// Parse a stored journal; a body that is not a journal is [`JournalError::Corrupt`].
    pub fn parse(body: &[u8]) -> Result<Journal, JournalError> {
        serde_json::from_slice(body).map_err(|e| JournalError::Corrupt(e.to_string()))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail; fall back to an empty
        // object rather than panic if it ever did.
        serde_json::to_vec_pretty(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// The lease, if another run holds it unexpired at `now`.
    pub fn held_by_other(&self, run_id: &str, now: DateTime<Utc>) -> Option<&Lease> {
        self.lease
            .as_ref()
            .filter(|l| l.owner != run_id && l.expires_at > now)
    }
}

/// Why a journal operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JournalError {
    /// The stored journal is not valid JSON of the expected shape.
    #[error("the saga journal is not readable: {0}")]
    Corrupt(String),
    /// Another run took the lease (our conditional write was refused).
    #[error("another run took over the saga journal: {0}")]
    LeaseLost(String),
    /// S3 failed.
    #[error("journal storage: {0}")]
    Storage(AwsError),
}

/// The result of trying to take the lease.
pub enum Claim<'a, S: S3Ops> {
    /// We hold it and may act.
    Held(JournalHandle<'a, S>),
    /// Another run holds it; nothing may be done now.
    Busy { journal: Journal, lease: Lease },
}

/// The journal of a run that holds the lease.
pub struct JournalHandle<'a, S: S3Ops> {
    s3: &'a S,
    bucket: String,
    key: String,
    run_id: String,
    ttl: Duration,
    retry: Retry,
    journal: Journal,
    etag: String,
    last_write: Instant,
}

/// Read the journal (`None` when there is none yet), retrying throttling.
pub async fn read<S: S3Ops>(
    s3: &S,
    bucket: &str,
    key: &str,
    retry: &Retry,
) -> Result<Option<(Journal, String)>, JournalError> {
    match retry
        .run(|| s3.get_object(bucket, key))
        .await
        .map_err(JournalError::Storage)?
    {
        None => Ok(None),
        Some(o) => Ok(Some((Journal::parse(&o.body)?, o.etag))),
    }
}

fn expiry(ttl: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(120))
}

/// Take the lease for `run_id` (see the module docs), recording the start of the run.
pub async fn acquire<'a, S: S3Ops>(
    s3: &'a S,
    bucket: &str,
    key: &str,
    execution_name: &str,
    run: RunRecord,
    ttl: Duration,
    retry: Retry,
) -> Result<Claim<'a, S>, JournalError> {
    // Each lost race means another run wrote in between; a handful is plenty.
    for _ in 0..5 {
        let (mut journal, etag) = match read(s3, bucket, key, &retry).await? {
            Some((j, e)) => (j, Some(e)),
            None => (Journal::new(execution_name), None),
        };
        if let Some(lease) = journal.held_by_other(&run.run_id, Utc::now()).cloned() {
            return Ok(Claim::Busy { journal, lease });
        }
        if let Some(old) = &journal.lease {
            if old.owner != run.run_id {
                tracing::warn!(previous_owner = %old.owner, expired_at = %old.expires_at, "taking over an expired saga lease");
                for r in journal
                    .runs
                    .iter_mut()
                    .filter(|r| r.run_id == old.owner && r.result == "running")
                {
                    r.result = "abandoned".into();
                }
            }
        }
        journal.lease = Some(Lease {
            owner: run.run_id.clone(),
            expires_at: expiry(ttl),
        });
        journal.runs.push(run.clone());
        if journal.runs.len() > MAX_RUNS_KEPT {
            let excess = journal.runs.len() - MAX_RUNS_KEPT;
            journal.runs.drain(..excess);
        }
        let body = journal.to_bytes();
        let put = retry
            .run(|| s3.put_object_conditional(bucket, key, body.clone(), etag.as_deref()))
            .await;
        match put {
            Ok(PutOutcome::Written { etag }) => {
                return Ok(Claim::Held(JournalHandle {
                    s3,
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    run_id: run.run_id.clone(),
                    ttl,
                    retry,
                    journal,
                    etag,
                    last_write: Instant::now(),
                }))
            }
            Ok(PutOutcome::PreconditionFailed) => continue,
            // If-Match on a journal deleted in between: read again.
            Err(e) if e.kind == AwsErrorKind::NotFound => continue,
            Err(e) => return Err(JournalError::Storage(e)),
        }
    }
    let (journal, _) = read(s3, bucket, key, &retry)
        .await?
        .unwrap_or((Journal::new(execution_name), String::new()));
    let lease = journal.lease.clone().unwrap_or(Lease {
        owner: "unknown (lost five write races)".into(),
        expires_at: Utc::now(),
    });
    Ok(Claim::Busy { journal, lease })
}

impl<S: S3Ops> JournalHandle<'_, S> {
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The record of a completed action, if any.
    pub fn completed(&self, id: &str) -> Option<&Completed> {
        self.journal.completed.get(id)
    }

    /// Apply `change` and write the journal with `If-Match`, renewing the lease.
    async fn write(&mut self, change: impl FnOnce(&mut Journal)) -> Result<(), JournalError> {
        let mut next = self.journal.clone();
        change(&mut next);
        let release = next.lease.is_none();
        if !release {
            next.lease = Some(Lease {
                owner: self.run_id.clone(),
                expires_at: expiry(self.ttl),
            });
        }
        let body = next.to_bytes();
        let put = self
            .retry
            .run(|| {
                self.s3.put_object_conditional(
                    &self.bucket,
                    &self.key,
                    body.clone(),
                    Some(&self.etag),
                )
            })
            .await;
        match put {
            Ok(PutOutcome::Written { etag }) => {
                self.journal = next;
                self.etag = etag;
                self.last_write = Instant::now();
                Ok(())
            }
            Ok(PutOutcome::PreconditionFailed) => {
                // A write whose reply was lost and then retried also lands here: if the
                // stored journal is exactly ours, it was written after all.
                if let Ok(Some((stored, etag))) =
                    read(self.s3, &self.bucket, &self.key, &self.retry).await
                {
                    if stored == next {
                        self.journal = next;
                        self.etag = etag;
                        self.last_write = Instant::now();
                        return Ok(());
                    }
                    let owner = stored
                        .lease
                        .map(|l| l.owner)
                        .unwrap_or_else(|| "nobody".into());
                    return Err(JournalError::LeaseLost(format!(
                        "the journal changed under run {}; lease now held by {owner}",
                        self.run_id
                    )));
                }
                Err(JournalError::LeaseLost(format!(
                    "the journal changed under run {}",
                    self.run_id
                )))
            }
            Err(e) if e.kind == AwsErrorKind::NotFound => Err(JournalError::LeaseLost(format!(
                "the journal was deleted under run {}",
                self.run_id
            ))),
            Err(e) => Err(JournalError::Storage(e)),
        }
    }

    /// Record a completed action.
    pub async fn record_completed(
        &mut self,
        id: &str,
        record: Completed,
    ) -> Result<(), JournalError> {
        self.write(|j| {
            j.failures.remove(id);
            j.completed.insert(id.to_string(), record);
        })
        .await
    }

    /// Record a failed attempt at an action.
    pub async fn record_failure(&mut self, id: &str, error: &str) -> Result<(), JournalError> {
        let run_id = self.run_id.clone();
        let error = super::plan::truncate_chars(error, 1000);
        self.write(|j| {
            let attempts = j.failures.get(id).map(|f| f.attempts).unwrap_or(0) + 1;
            j.failures.insert(
                id.to_string(),
                Failure {
                    error,
                    attempts,
                    at: Utc::now(),
                    run_id,
                },
            );
        })
        .await
    }

    /// Renew the lease if a third of its lifetime has passed since the last write.
    pub async fn heartbeat(&mut self) -> Result<(), JournalError> {
        if self.last_write.elapsed() >= self.ttl / 3 {
            self.write(|_| {}).await
        } else {
            Ok(())
        }
    }

    /// Finish the run: record its result and give the lease up.
    pub async fn release(
        &mut self,
        result: &str,
        done: usize,
        skipped: usize,
        failed: usize,
    ) -> Result<(), JournalError> {
        let run_id = self.run_id.clone();
        let result = result.to_string();
        self.write(|j| {
            if let Some(r) = j.runs.iter_mut().rev().find(|r| r.run_id == run_id) {
                r.finished_at = Some(Utc::now());
                r.result = result;
                r.done = done;
                r.skipped = skipped;
                r.failed = failed;
            }
            j.lease = None;
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::memory::InMemoryS3;

    fn run(id: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            stage: Stage::Training,
            started_at: Utc::now(),
            finished_at: None,
            caught_error: None,
            result: "running".into(),
            done: 0,
            skipped: 0,
            failed: 0,
        }
    }

    fn retry() -> Retry {
        Retry::new(3, Duration::from_millis(1))
    }

    const KEY: &str = "pipeline/e/saga/journal.json";

    #[tokio::test]
    async fn only_one_of_two_runs_holds_the_lease() {
        let s3 = InMemoryS3::new();
        s3.create_bucket("b", false);
        let ttl = Duration::from_secs(60);
        let Claim::Held(mut a) = acquire(&s3, "b", KEY, "e", run("a"), ttl, retry())
            .await
            .unwrap()
        else {
            panic!("first run must get the lease")
        };
        match acquire(&s3, "b", KEY, "e", run("b"), ttl, retry())
            .await
            .unwrap()
        {
            Claim::Busy { lease, .. } => assert_eq!(lease.owner, "a"),
            Claim::Held(_) => panic!("second run must not get the lease"),
        }
        let rec = Completed {
            outcome: "done".into(),
            detail: "x".into(),
            stage: Stage::Training,
            at: Utc::now(),
            run_id: "a".into(),
        };
        a.record_completed("s3.delete:p/", rec).await.unwrap();
        a.release("complete", 1, 0, 0).await.unwrap();
        // Released: the next run gets it and sees what was done.
        let Claim::Held(b) = acquire(&s3, "b", KEY, "e", run("b"), ttl, retry())
            .await
            .unwrap()
        else {
            panic!("lease was released")
        };
        assert!(b.completed("s3.delete:p/").is_some());
        assert_eq!(b.journal().runs.len(), 2);
        assert_eq!(b.journal().runs[0].result, "complete");
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over_and_the_old_holder_stops() {
        let s3 = InMemoryS3::new();
        s3.create_bucket("b", false);
        let Claim::Held(mut a) = acquire(
            &s3,
            "b",
            KEY,
            "e",
            run("a"),
            Duration::from_millis(20),
            retry(),
        )
        .await
        .unwrap() else {
            panic!()
        };
        tokio::time::sleep(Duration::from_millis(40)).await;
        let Claim::Held(b) = acquire(
            &s3,
            "b",
            KEY,
            "e",
            run("b"),
            Duration::from_secs(60),
            retry(),
        )
        .await
        .unwrap() else {
            panic!("expired lease must be taken over")
        };
        assert_eq!(b.journal().runs[0].result, "abandoned");
        // The slow first run comes back: its conditional write is refused.
        let err = a.record_failure("x", "boom").await.unwrap_err();
        assert!(matches!(err, JournalError::LeaseLost(_)), "{err}");
    }

    #[tokio::test]
    async fn corrupt_journal_is_reported() {
        let s3 = InMemoryS3::new();
        s3.create_bucket("b", false);
        s3.put("b", KEY, b"not json".to_vec());
        let err = acquire(
            &s3,
            "b",
            KEY,
            "e",
            run("a"),
            Duration::from_secs(5),
            retry(),
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, JournalError::Corrupt(_)));
    }
}
