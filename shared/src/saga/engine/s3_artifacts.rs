//! S3 artifact cleanup: delete everything a failed execution wrote under its own
//! prefix, or every version and delete marker of it in a versioned bucket.
//!
//! The only action that can touch many objects and run out of Lambda time, so it is the
//! one with paging (ListObjectsV2 / ListObjectVersions), DeleteObjects batches of at
//! most [`DELETE_BATCH`] keys with per-key retries, lease renewal between pages, a clean
//! stop at the deadline, and a guard that never deletes outside the execution's prefix
//! or inside its `saga/` journal folder. It waits for the training jobs (see
//! `training`) so no job uploads after the cleanup.

use super::{failed_from, op_retryable, Compensator, Decision, Outcome};
use crate::aws::{
    key_error_is_transient, AwsError, KeyError, ListPage, ObjectVersion, PageToken, S3Ops,
    SageMakerOps,
};
use crate::saga::input::Request;
use crate::saga::journal::{JournalError, JournalHandle};
use crate::saga::retry::Retry;

/// DeleteObjects takes at most this many keys.
pub const DELETE_BATCH: usize = 1000;

/// What one cleanup did: how many were deleted, which keys failed for good, and why it
/// stopped early if it did.
#[derive(Debug, Default)]
pub(super) struct DeleteResult {
    pub(super) deleted: u64,
    pub(super) failed: Vec<KeyError>,
    error: Option<AwsError>,
    refused: Option<String>,
    interrupted: bool,
    pub(super) abort: Option<JournalError>,
}

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// Perform `DeleteS3Prefix`: wait while a training job can still upload, else
    /// delete and turn what happened into the action's outcome.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn perform_delete_prefix(
        &self,
        req: &Request,
        prefix: &str,
        versions: bool,
        wait_for_jobs: &[String],
        retry: &Retry,
        handle: Option<&mut JournalHandle<'_, S>>,
    ) -> (Outcome, Option<DeleteResult>) {
        match self.jobs_still_running(wait_for_jobs, retry).await {
            Err(e) => return (failed_from(&e), None),
            Ok(Some(wait)) => return (Outcome::Waiting(wait), None),
            Ok(None) => {}
        }
        let d = self
            .delete_prefix(&req.bucket, prefix, &req.prefix, versions, retry, handle)
            .await;
        (delete_outcome(&d, versions, retry.max_attempts), Some(d))
    }

    /// Preview `DeleteS3Prefix`: wait while a training job runs, else count what is
    /// there, up to 100 pages.
    pub(super) async fn preview_delete_prefix(
        &self,
        req: &Request,
        prefix: &str,
        versions: bool,
        wait_for_jobs: &[String],
        retry: &Retry,
    ) -> Result<Decision, AwsError> {
        if let Some(wait) = self.jobs_still_running(wait_for_jobs, retry).await? {
            return Ok(Decision::Wait(wait));
        }
        // Count what is there, up to 100 pages.
        let mut token: Option<PageToken> = None;
        let mut n = 0usize;
        for _ in 0..100 {
            let page = self
                .list_page(&req.bucket, prefix, versions, token.as_ref(), retry)
                .await?;
            n += page.objects.len();
            token = page.next;
            if token.is_none() {
                break;
            }
        }
        let what = if versions {
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

    /// One page of the listing under `prefix`: ListObjectVersions when `versions`,
    /// else ListObjectsV2, retrying throttling.
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        versions: bool,
        token: Option<&PageToken>,
        retry: &Retry,
    ) -> Result<ListPage, AwsError> {
        if versions {
            retry
                .run(|| self.s3.list_object_versions(bucket, prefix, token))
                .await
        } else {
            retry
                .run(|| self.s3.list_objects(bucket, prefix, token))
                .await
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
            let page = self
                .list_page(bucket, prefix, versions, token.as_ref(), retry)
                .await;
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
                crate::saga::progress::report(|o| o.objects_deleted(deleted));
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
}

/// The outcome of a cleanup: refused, aborted, failed (keys or a call), interrupted
/// by the deadline, nothing there, or done.
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
