//! The approval records and the audit trail in S3.
//!
//! Layout (bucket = `TRAINGUARD_APPROVAL_BUCKET`):
//! - `<record_prefix><id>.json` (default `approvals/<id>.json`): THE record, found by id
//!   alone, which is all an HTTP route knows. One object, so the first-decision-wins rule
//!   is a single `If-Match` conditional write.
//! - `<record_prefix>pending/<id>`: an empty marker while the approval is open, so a
//!   listing reads the open approvals only, not every record ever written. Removed when
//!   the approval is decided, closed or found expired; a stale marker is dropped by the
//!   next listing.
//! - `pipeline/<execution>/approvals/<id>.json` in the pipeline's bucket: a lineage
//!   pointer (id, record URI, no secrets), so everything a run produced is findable from
//!   its execution name.
//! - `<audit_prefix>YYYY/MM/DD/<time>-<id>-<event>-<rand>.json` (default
//!   `audit/approvals/`): one object per event, written with `If-None-Match: *`, never
//!   overwritten (pair with S3 Object Lock or a deny-delete bucket policy in production).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;

use super::model::{is_valid_id, ApprovalRecord, Decision};
use crate::aws::{Aws, PageToken, PutOutcome, S3Ops};
use crate::error::CommonError;
use crate::storage::S3Uri;

/// One audit entry (no secrets: no task token, no CSRF token).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditEvent {
    /// `requested`, `decided`, `refused`, `closed`, `expired`, `reverted`.
    pub event: String,
    /// The approval id, when the request named a well-formed one.
    pub approval_id: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// Display name of the caller (email, subject, principal ARN), if authenticated.
    pub actor: Option<String>,
    /// The authenticated principal (subject or ARN).
    pub principal: Option<String>,
    /// `jwt`, `iam`, `sts`, or `states` for the state machine's request.
    pub actor_kind: Option<String>,
    pub decision: Option<Decision>,
    /// Why it was refused / closed; the HTTP status given.
    pub reason: Option<String>,
    pub http_status: Option<u16>,
    pub comment: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `http`, `cli` or `states`.
    pub via: Option<String>,
    pub execution_name: Option<String>,
    pub model_package_arn: Option<String>,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<ApprovalRecord>,
    /// Records that could not be read or parsed (skipped).
    pub unreadable: usize,
}

/// Records and audit entries of one approvals bucket, through the AWS layer's S3.
#[derive(Debug)]
pub struct ApprovalStore<A> {
    aws: Arc<A>,
    pub bucket: String,
    record_prefix: String,
    audit_prefix: String,
}

impl<A> Clone for ApprovalStore<A> {
    fn clone(&self) -> Self {
        ApprovalStore {
            aws: Arc::clone(&self.aws),
            bucket: self.bucket.clone(),
            record_prefix: self.record_prefix.clone(),
            audit_prefix: self.audit_prefix.clone(),
        }
    }
}

impl<A: Aws> ApprovalStore<A> {
    pub fn new(aws: Arc<A>, bucket: &str, record_prefix: &str, audit_prefix: &str) -> Self {
        ApprovalStore {
            aws,
            bucket: bucket.to_string(),
            record_prefix: record_prefix.to_string(),
            audit_prefix: audit_prefix.to_string(),
        }
    }

    /// Where the record of `id` lives.
    pub fn record_uri(&self, id: &str) -> S3Uri {
        S3Uri::new(&self.bucket, format!("{}{id}.json", self.record_prefix))
    }

    /// The record and its ETag; `None` when no such approval exists.
    pub async fn load(&self, id: &str) -> Result<Option<(ApprovalRecord, String)>, CommonError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let uri = self.record_uri(id);
        let Some(obj) = self.aws.s3().get_object(&uri.bucket, &uri.key).await? else {
            return Ok(None);
        };
        let (body, etag) = (obj.body, obj.etag);
        let rec: ApprovalRecord = serde_json::from_slice(&body)
            .map_err(|e| CommonError::Storage(format!("{uri} is not an approval record: {e}")))?;
        Ok(Some((rec, etag)))
    }

    fn encode(rec: &ApprovalRecord) -> Result<Vec<u8>, CommonError> {
        serde_json::to_vec_pretty(rec)
            .map_err(|e| CommonError::Storage(format!("encoding record: {e}")))
    }

    /// Store a new record; fails if the id already exists (it never should: 128 bits).
    pub async fn create(&self, rec: &ApprovalRecord) -> Result<(), CommonError> {
        let uri = self.record_uri(&rec.approval_id);
        match self
            .aws
            .s3()
            .put_object_conditional(&uri.bucket, &uri.key, Self::encode(rec)?, None)
            .await?
        {
            PutOutcome::Written { .. } => Ok(()),
            PutOutcome::PreconditionFailed => {
                Err(CommonError::Storage(format!("{uri} already exists")))
            }
        }
    }

    /// Replace the record only if it is still the version with `etag`.
    pub async fn replace(
        &self,
        rec: &ApprovalRecord,
        etag: &str,
    ) -> Result<PutOutcome, CommonError> {
        let uri = self.record_uri(&rec.approval_id);
        Ok(self
            .aws
            .s3()
            .put_object_conditional(&uri.bucket, &uri.key, Self::encode(rec)?, Some(etag))
            .await?)
    }

    fn pending_prefix(&self) -> String {
        format!("{}pending/", self.record_prefix)
    }

    /// Mark `id` open (see the module doc).
    pub async fn mark_pending(&self, id: &str) -> Result<(), CommonError> {
        let key = format!("{}{id}", self.pending_prefix());
        self.aws
            .s3()
            .put_object_conditional(&self.bucket, &key, b"{}".to_vec(), None)
            .await?;
        Ok(())
    }

    /// Drop the open marker of `id` (best effort: a stale one is dropped by a listing).
    pub async fn clear_pending(&self, id: &str) {
        let key = format!("{}{id}", self.pending_prefix());
        let gone = self
            .aws
            .s3()
            .delete_objects(
                &self.bucket,
                &[crate::aws::ObjectVersion {
                    key,
                    version_id: None,
                }],
            )
            .await;
        if !matches!(gone, Ok(ref errors) if errors.is_empty()) {
            tracing::warn!(approval_id = %id, "could not drop the open marker; the next listing will");
        }
    }

    /// The open approvals, newest first, at most `limit`: read through the open markers.
    /// A record that cannot be read or parsed is skipped and counted, not fatal: one bad
    /// object must not hide every other approval. Markers of approvals no longer
    /// pending are dropped.
    pub async fn list_open(&self, limit: usize) -> Result<Listing, CommonError> {
        let prefix = self.pending_prefix();
        let mut ids = Vec::new();
        let mut token: Option<PageToken> = None;
        loop {
            let page = self
                .aws
                .s3()
                .list_objects(&self.bucket, &prefix, token.as_ref())
                .await?;
            ids.extend(
                page.objects
                    .into_iter()
                    .filter_map(|o| o.key.strip_prefix(&prefix).map(str::to_string))
                    .filter(|id| is_valid_id(id)),
            );
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let mut out = Listing::default();
        for id in ids {
            match self.load(&id).await {
                Ok(Some((rec, _))) if rec.status == super::model::Status::Pending => {
                    out.records.push(rec)
                }
                Ok(_) => self.clear_pending(&id).await,
                Err(e) => {
                    tracing::warn!(approval_id = %id, error = %e, "skipping an unreadable approval record");
                    out.unreadable += 1;
                }
            }
        }
        out.records.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        out.records.truncate(limit);
        Ok(out)
    }

    /// Write the lineage pointer under the execution's prefix. Written once
    /// (`If-None-Match: *`); its content depends on the id alone, so finding it already
    /// there (a retried request) is success.
    pub async fn write_pointer(
        &self,
        bucket: &str,
        execution: &str,
        id: &str,
    ) -> Result<S3Uri, CommonError> {
        let uri = S3Uri::new(bucket, format!("pipeline/{execution}/approvals/{id}.json"));
        let body = serde_json::json!({
            "approval_id": id,
            "record_uri": self.record_uri(id).to_string(),
        });
        self.aws
            .s3()
            .put_object_conditional(&uri.bucket, &uri.key, body.to_string().into_bytes(), None)
            .await?;
        Ok(uri)
    }

    /// Append a refusal at most once per minute per `(approval, caller, reason)`: the key
    /// is derived from them, so repeats in the same minute find it written and add
    /// nothing. A flood of refused posts cannot grow the trail without bound, and the
    /// first of each kind is kept. `Ok(None)` for a repeat.
    pub async fn audit_refusal_once(
        &self,
        event: &AuditEvent,
        reason_code: &str,
    ) -> Result<Option<S3Uri>, CommonError> {
        use sha2::{Digest, Sha256};
        let (ev, body) = Self::stamped(event)?;
        let who = ev
            .principal
            .as_deref()
            .or(ev.source_ip.as_deref())
            .unwrap_or("anonymous");
        let who = hex::encode(&Sha256::digest(who.as_bytes())[..8]);
        let minute = format!("{}", ev.at.unwrap_or_else(Utc::now).format("%Y%m%dT%H%MZ"));
        let uri = self.audit_uri(&ev, &minute, &format!("{reason_code}-{who}"));
        Ok(self.put_new(&uri, body).await?.then_some(uri))
    }

    /// Append one audit entry (a new object, `If-None-Match: *`). Returns its URI.
    pub async fn audit(&self, event: &AuditEvent) -> Result<S3Uri, CommonError> {
        let (ev, body) = Self::stamped(event)?;
        let at = ev.at.unwrap_or_else(Utc::now);
        let moment = format!("{}", at.format("%Y%m%dT%H%M%S%.6fZ"));
        // A fresh random suffix each try: a collision (never expected) just tries again.
        for _ in 0..3 {
            let mut r = [0u8; 6];
            rand::rngs::OsRng.fill_bytes(&mut r);
            let uri = self.audit_uri(&ev, &moment, &hex::encode(r));
            if self.put_new(&uri, body.clone()).await? {
                return Ok(uri);
            }
        }
        Err(CommonError::Storage(
            "could not find a free audit key".into(),
        ))
    }

    /// The event with its time set, and its JSON.
    fn stamped(event: &AuditEvent) -> Result<(AuditEvent, Vec<u8>), CommonError> {
        let mut ev = event.clone();
        ev.at = Some(event.at.unwrap_or_else(Utc::now));
        let body = serde_json::to_vec_pretty(&ev)
            .map_err(|e| CommonError::Storage(format!("encoding audit event: {e}")))?;
        Ok((ev, body))
    }

    /// `<audit_prefix>YYYY/MM/DD/<time>-<id>-<event>-<suffix>.json`.
    fn audit_uri(&self, ev: &AuditEvent, time: &str, suffix: &str) -> S3Uri {
        let at = ev.at.unwrap_or_else(Utc::now);
        let id = ev
            .approval_id
            .as_deref()
            .filter(|i| is_valid_id(i))
            .unwrap_or("unknown");
        S3Uri::new(
            &self.bucket,
            format!(
                "{}{}/{time}-{id}-{}-{suffix}.json",
                self.audit_prefix,
                at.format("%Y/%m/%d"),
                ev.event
            ),
        )
    }

    /// Write `body` at `uri` only if nothing is there; false when something was.
    async fn put_new(&self, uri: &S3Uri, body: Vec<u8>) -> Result<bool, CommonError> {
        Ok(matches!(
            self.aws
                .s3()
                .put_object_conditional(&uri.bucket, &uri.key, body, None)
                .await?,
            PutOutcome::Written { .. }
        ))
    }
}
