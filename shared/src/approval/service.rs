//! The approval operations: create (the state machine's request), decide (page, API or
//! CLI), list; each audited.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::identity::Identity;
use super::metrics::metric_rows;
use super::model::{
    constant_time_eq, is_valid_id, new_approval_id, ApprovalRecord, ApprovalRequest, Decision,
    DecisionInfo, Status,
};
use super::store::{ApprovalStore, AuditEvent};
use super::{ApprovalConfig, ApprovalError, REJECTED_ERROR};
use std::sync::Arc;

use crate::aws::{Aws, PutOutcome, S3Ops, SfnOps, SnsOps};
use crate::error::CommonError;
use crate::origin::{input_digest, start_record_uri, StartRecord};
use crate::storage::S3Uri;

/// Most approvals one listing returns.
pub const MAX_LISTED: usize = 200;

/// Longest comment kept (SendTaskFailure's Cause allows 32 KB; a review note needs less,
/// and the registry's ApprovalDescription takes 1024 characters).
pub const MAX_COMMENT_CHARS: usize = 2000;

/// What the request path returns to the state machine (ignored by `.waitForTaskToken`,
/// useful in the execution history).
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub approval_id: String,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Which channel a decision came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Http,
    Cli,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Http => "http",
            Via::Cli => "cli",
        }
    }
}

/// A decision attempt.
#[derive(Debug, Clone)]
pub struct DecideRequest {
    pub approval_id: String,
    /// The authenticated caller; `None` is refused (401).
    pub identity: Option<Identity>,
    pub decision: Option<Decision>,
    pub comment: String,
    /// The CSRF token the browser sent; `None` when the channel needs none (IAM, CLI).
    pub csrf_token: Option<Option<String>>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub via: Via,
}

impl DecideRequest {
    /// A request refused before its decision was read (another API, a body that does
    /// not parse): who and from where, for the audit, and nothing else.
    pub fn undecided(
        approval_id: String,
        identity: Option<Identity>,
        source_ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        DecideRequest {
            approval_id,
            identity,
            decision: None,
            comment: String::new(),
            csrf_token: None,
            source_ip,
            user_agent,
            via: Via::Http,
        }
    }
}

/// Why a decision (or a page) was refused; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    NotApprover,
    SelfApproval,
    CrossSite(String),
    /// An HTTP event that did not come from the configured API (`TRAINGUARD_APPROVAL_API_ID`):
    /// its authorizer context cannot be trusted.
    ForeignApi(String),
    BadCsrf,
    UnknownId,
    AlreadyDecided(Status),
    Conflict,
    Expired,
    NoLongerOpen(String),
    BadRequest(String),
    /// Not a refusal of the caller: a dependency failed; nothing was decided.
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthenticated => 401,
            Refusal::NotApprover
            | Refusal::SelfApproval
            | Refusal::CrossSite(_)
            | Refusal::ForeignApi(_)
            | Refusal::BadCsrf => 403,
            Refusal::UnknownId => 404,
            Refusal::AlreadyDecided(_) | Refusal::Conflict => 409,
            Refusal::Expired | Refusal::NoLongerOpen(_) => 410,
            Refusal::BadRequest(_) => 400,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::NotApprover => "not_an_approver",
            Refusal::SelfApproval => "self_approval",
            Refusal::CrossSite(_) => "cross_site",
            Refusal::ForeignApi(_) => "foreign_api",
            Refusal::BadCsrf => "bad_csrf_token",
            Refusal::UnknownId => "unknown_approval",
            Refusal::AlreadyDecided(_) => "already_decided",
            Refusal::Conflict => "conflict",
            Refusal::Expired => "expired",
            Refusal::NoLongerOpen(_) => "no_longer_open",
            Refusal::BadRequest(_) => "bad_request",
            Refusal::Unavailable(_) => "unavailable",
        }
    }

    /// A message for the person.
    pub fn message(&self) -> String {
        match self {
            Refusal::Unauthenticated => {
                "You are not signed in: decisions need an authenticated reviewer.".into()
            }
            Refusal::NotApprover => "You are not on the list of approvers for this model.".into(),
            Refusal::SelfApproval => {
                "You started this pipeline run, so you cannot approve its model.".into()
            }
            Refusal::CrossSite(why) => format!("Cross-site request refused ({why})."),
            Refusal::ForeignApi(why) => {
                format!("This request did not come through the approval API ({why}).")
            }
            Refusal::BadCsrf => {
                "The form's security token is missing or wrong: reload the page and try again."
                    .into()
            }
            Refusal::UnknownId => "There is no such approval.".into(),
            Refusal::AlreadyDecided(s) => format!(
                "This approval was already decided ({}); the first decision stands.",
                s.as_str()
            ),
            Refusal::Conflict => {
                "The approval changed while you were deciding: reload the page.".into()
            }
            Refusal::Expired => "This approval has expired.".into(),
            Refusal::NoLongerOpen(why) => format!("This approval is no longer open ({why})."),
            Refusal::BadRequest(why) => format!("Bad request: {why}."),
            Refusal::Unavailable(why) => format!("Nothing was decided: {why}. Try again later."),
        }
    }
}

/// The result of a decision that went through.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub approval_id: String,
    pub status: Status,
    pub reviewer: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
    pub execution_name: Option<String>,
    pub model_package_arn: Option<String>,
}

/// A pending approval in a listing (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct PendingSummary {
    pub approval_id: String,
    pub url: Option<String>,
    pub execution_name: Option<String>,
    pub model_package_arn: Option<String>,
    pub started_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether the caller may decide it (when the caller is known).
    pub may_decide: Option<bool>,
}

/// `s` as one line of at most `max` characters: control characters (CR, LF, tabs...)
/// become spaces.
fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// Remove every occurrence of the secret from a message (AWS error texts may echo it).
fn redact(msg: &str, secret: &str) -> String {
    if secret.is_empty() {
        msg.to_string()
    } else {
        msg.replace(secret, "<redacted>")
    }
}

/// The approval operations over AWS, through the AWS layer ([`Aws`]): the SDK in the
/// Lambda and the CLI (`crate::aws::sdk::SdkAws`), the in-memory doubles in unit tests.
#[derive(Debug)]
pub struct ApprovalService<A> {
    pub config: ApprovalConfig,
    pub store: ApprovalStore<A>,
    aws: Arc<A>,
}

impl<A: Aws> ApprovalService<A> {
    /// Needs `config.bucket`.
    pub fn new(aws: Arc<A>, config: ApprovalConfig) -> Result<Self, ApprovalError> {
        let bucket = config.require_bucket()?.to_string();
        Ok(ApprovalService {
            store: ApprovalStore::new(
                Arc::clone(&aws),
                &bucket,
                &config.record_prefix,
                &config.audit_prefix,
            ),
            config,
            aws,
        })
    }

    /// The state machine's request: store the record, notify, return at once.
    pub async fn create(&self, input: Value) -> Result<Created, ApprovalError> {
        let raw_token = input
            .get("task_token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let req: ApprovalRequest = serde_json::from_value(input).map_err(|e| {
            CommonError::InvalidInput(format!(
                "approval request: {}",
                redact(&e.to_string(), &raw_token)
            ))
        })?;
        let now = Utc::now();
        let expires_at = req.validate(now, self.config.default_expiry_seconds)?;
        let approvers = self.config.approvers_for(&req.approvers)?;
        let started_by = self.attested_starter(&req).await?;
        let id = new_approval_id();
        let url = self.config.page_url(&id)?;
        let mut rec = ApprovalRecord::new(&req, id.clone(), now, expires_at);
        rec.approvers = approvers;
        rec.started_by = started_by;
        self.store.create(&rec).await?;
        if let Err(e) = self.store.mark_pending(&id).await {
            tracing::warn!(approval_id = %id, error = %e, "could not mark the approval open: listings will miss it (the link still works)");
        }

        if let Some(exec) = req
            .execution_name
            .as_deref()
            .filter(|e| !e.is_empty() && !e.contains('/'))
        {
            let bucket = req
                .bucket
                .clone()
                .unwrap_or_else(|| self.store.bucket.clone());
            if let Err(e) = self.store.write_pointer(&bucket, exec, &id).await {
                tracing::warn!(approval_id = %id, error = %e, "could not write the lineage pointer");
            }
        }
        self.audit(AuditEvent {
            event: "requested".into(),
            approval_id: Some(id.clone()),
            actor: rec.started_by.clone(),
            actor_kind: Some("states".into()),
            via: Some("states".into()),
            execution_name: rec.execution_name.clone(),
            model_package_arn: rec.model_package_arn.clone(),
            ..AuditEvent::default()
        })
        .await;

        if let Err(e) = self.notify(&rec, &url).await {
            // Nobody will hear of this approval: close it so it cannot be used, and let the
            // state machine retry (a retry creates a fresh approval).
            let mut closed = rec.clone();
            closed.status = Status::Closed;
            closed.closed_reason = Some("the notification could not be published".into());
            closed.updated_at = Some(Utc::now());
            if let Ok(Some((_, etag))) = self.store.load(&id).await {
                let _ = self.store.replace(&closed, &etag).await;
            }
            self.store.clear_pending(&id).await;
            return Err(e.into());
        }
        tracing::info!(approval_id = %id, url = %url, expires_at = %expires_at, "approval requested");
        Ok(Created {
            approval_id: id,
            url,
            expires_at,
        })
    }

    /// Who started the run, from its start record ([`crate::origin`]), never from the
    /// request: the record must exist, name this execution, and carry the digest of this
    /// execution's input (`$$.Execution.Input`). Otherwise the run is unattributed and
    /// refused (`Approval.UnattributedRun`) unless `TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS`.
    async fn attested_starter(
        &self,
        req: &ApprovalRequest,
    ) -> Result<Option<String>, ApprovalError> {
        match self.read_start_record(req).await {
            Ok(by) => Ok(Some(by)),
            Err(ApprovalError::UnattributedRun(why)) if self.config.allow_unattributed => {
                tracing::warn!(execution = ?req.execution_name, reason = %why, "unattributed run allowed by TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS: the self-approval rule cannot apply");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn read_start_record(&self, req: &ApprovalRequest) -> Result<String, ApprovalError> {
        let unattributed = |why: String| ApprovalError::UnattributedRun(why);
        let exec = req
            .execution_name
            .as_deref()
            .filter(|e| !e.is_empty() && !e.contains('/'))
            .ok_or_else(|| unattributed("the request names no execution".into()))?;
        let uri = start_record_uri(&self.store.bucket, exec);
        let obj = self
            .aws
            .s3()
            .get_object(&uri.bucket, &uri.key)
            .await
            .map_err(CommonError::from)?
            .ok_or_else(|| {
                unattributed(format!(
                    "{uri} does not exist: runs must be started through pipeline-trigger (an S3 upload, the schedule or POST /iam/runs)"
                ))
            })?;
        let record: StartRecord = serde_json::from_slice(&obj.body)
            .map_err(|e| unattributed(format!("{uri} is not a start record: {e}")))?;
        if record.execution_name != exec {
            return Err(unattributed(format!(
                "{uri} belongs to execution {:?}",
                record.execution_name
            )));
        }
        let input = req
            .execution_input
            .as_ref()
            .ok_or_else(|| unattributed("the request has no execution_input ($$.Execution.Input) to check the start record against".into()))?;
        if input_digest(input) != record.input_sha256 {
            return Err(unattributed(format!(
                "{uri} was written for another input than this execution's"
            )));
        }
        record
            .started_by
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| unattributed(format!("{uri} names no starter")))
    }

    /// Publish the notification: the page link and a short summary, never a token.
    async fn notify(&self, rec: &ApprovalRecord, url: &str) -> Result<(), CommonError> {
        let Some(topic) = self.config.topic_arn.as_deref() else {
            tracing::warn!(approval_id = %rec.approval_id, "no TRAINGUARD_APPROVAL_TOPIC_ARN: nobody was notified");
            return Ok(());
        };
        // Every value from the request is one line: control characters (newlines above
        // all) are replaced, so a metric or execution name cannot add lines of its own
        // to the mail ("Approve here: <other link>").
        let exec = one_line(rec.execution_name.as_deref().unwrap_or("(unnamed run)"), 80);
        let subject: String = format!("Model approval needed: {exec}")
            .chars()
            .take(100)
            .collect();
        let mut lines = vec![
            format!("A model is waiting for your approval before it goes live (run {exec})."),
            String::new(),
            format!("Review and decide: {url}"),
            format!("Expires: {}", rec.expires_at.to_rfc3339()),
        ];
        if let Some(p) = &rec.model_package_arn {
            lines.push(format!("Model package: {}", one_line(p, 256)));
        }
        if let Some(s) = &rec.started_by {
            lines.push(format!(
                "Started by: {} (may not approve it)",
                one_line(s, 256)
            ));
        }
        let rows = metric_rows(&rec.metrics);
        if !rows.is_empty() {
            lines.push(String::new());
            lines.push("Metrics (candidate / baseline):".into());
            for r in rows.iter().take(20) {
                let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
                let verdict = match r.passed {
                    Some(true) => " ok",
                    Some(false) => " BELOW THRESHOLD",
                    None => "",
                };
                lines.push(format!(
                    "  {}: {} / {}{verdict}",
                    one_line(&r.name, 80),
                    f(r.candidate),
                    f(r.baseline)
                ));
            }
        }
        if let Some(d) = rec.drift.get("drift_detected").and_then(Value::as_bool) {
            lines.push(format!("Drift detected: {}", if d { "yes" } else { "no" }));
        }
        self.aws
            .sns()
            .publish(topic, &subject, &lines.join("\n"))
            .await?;
        Ok(())
    }

    /// Write an audit entry; a failure is logged (the decision itself already happened).
    pub async fn audit(&self, ev: AuditEvent) {
        if let Err(e) = self.store.audit(&ev).await {
            tracing::error!(event = %ev.event, approval_id = ?ev.approval_id, error = %e, "AUDIT WRITE FAILED");
        }
    }

    fn audit_base(&self, req: &DecideRequest, rec: Option<&ApprovalRecord>) -> AuditEvent {
        AuditEvent {
            approval_id: is_valid_id(&req.approval_id).then(|| req.approval_id.clone()),
            actor: req.identity.as_ref().map(|i| i.display.clone()),
            principal: req.identity.as_ref().map(|i| i.principal.clone()),
            actor_kind: req.identity.as_ref().map(|i| i.kind.as_str().to_string()),
            decision: req.decision,
            comment: (!req.comment.is_empty())
                .then(|| req.comment.chars().take(MAX_COMMENT_CHARS).collect()),
            source_ip: req.source_ip.clone(),
            user_agent: req.user_agent.clone(),
            via: Some(req.via.as_str().into()),
            execution_name: rec.and_then(|r| r.execution_name.clone()),
            model_package_arn: rec.and_then(|r| r.model_package_arn.clone()),
            ..AuditEvent::default()
        }
    }

    /// Audit a refusal found before [`Self::decide`] ran (e.g. a cross-site post) and
    /// hand it back.
    pub async fn refuse(&self, req: &DecideRequest, refusal: Refusal) -> Refusal {
        let rec = match self.store.load(&req.approval_id).await {
            Ok(Some((r, _))) => Some(r),
            _ => None,
        };
        self.audit_refusal(req, rec.as_ref(), &refusal).await;
        refusal
    }

    async fn audit_refusal(
        &self,
        req: &DecideRequest,
        rec: Option<&ApprovalRecord>,
        refusal: &Refusal,
    ) {
        let mut ev = self.audit_base(req, rec);
        ev.reason = Some(format!("{}: {}", refusal.code(), refusal.message()));
        ev.http_status = Some(refusal.status());
        if matches!(refusal, Refusal::Unavailable(_)) {
            ev.event = "failed".into();
            self.audit(ev).await;
        } else {
            ev.event = "refused".into();
            if let Err(e) = self.store.audit_refusal_once(&ev, refusal.code()).await {
                tracing::error!(approval_id = ?ev.approval_id, error = %e, "AUDIT WRITE FAILED");
            }
        }
        tracing::warn!(
            approval_id = %req.approval_id.chars().take(64).collect::<String>(),
            refusal = refusal.code(),
            actor = ?req.identity.as_ref().map(|i| &i.display),
            "approval decision refused"
        );
    }

    /// Take a decision: every check, the first-wins conditional write, the registry and
    /// Step Functions; audited whatever happens.
    pub async fn decide(&self, req: DecideRequest) -> Result<Outcome, Refusal> {
        let mut rec_seen: Option<ApprovalRecord> = None;
        let result = self.decide_inner(&req, &mut rec_seen).await;
        match &result {
            Ok(out) => {
                let mut ev = self.audit_base(&req, rec_seen.as_ref());
                ev.event = "decided".into();
                ev.reason = Some(format!("{} by {}", out.status.as_str(), out.reviewer));
                ev.http_status = Some(200);
                ev.at = Some(out.decided_at);
                self.audit(ev).await;
                tracing::info!(
                    approval_id = %out.approval_id,
                    status = out.status.as_str(),
                    reviewer = %out.reviewer,
                    "approval decided"
                );
            }
            Err(r) => self.audit_refusal(&req, rec_seen.as_ref(), r).await,
        }
        result
    }

    /// The decision's steps: who may decide what (`gate`), claim it with a conditional
    /// write, resume the execution; when Step Functions cannot be told, the claim is
    /// undone (or the approval closed when nothing waits for it any more).
    async fn decide_inner(
        &self,
        req: &DecideRequest,
        seen: &mut Option<ApprovalRecord>,
    ) -> Result<Outcome, Refusal> {
        let identity = req.identity.as_ref().ok_or(Refusal::Unauthenticated)?;
        let (rec, etag) = self
            .store
            .load(&req.approval_id)
            .await
            .map_err(|e| Refusal::Unavailable(format!("could not read the approval: {e}")))?
            .ok_or(Refusal::UnknownId)?;
        *seen = Some(rec.clone());
        let now = Utc::now();
        let decision = self.gate(req, identity, &rec, &etag, now).await?;

        // 1. Claim the decision: the first conditional write wins.
        let info = DecisionInfo {
            decision,
            reviewer: identity.display.clone(),
            reviewer_kind: identity.kind.as_str().into(),
            comment: req.comment.clone(),
            decided_at: now,
            source_ip: req.source_ip.clone(),
            user_agent: req.user_agent.clone(),
            via: req.via.as_str().into(),
        };
        let mut claimed = rec.clone();
        claimed.status = decision.status();
        claimed.decision = Some(info);
        claimed.updated_at = Some(now);
        let claimed_etag = self.write_claim(&claimed, &etag).await?;

        // 2. Resume the execution. The registry is not touched here: the pipeline sets the
        //    package Approved after this returns (state ApproveReviewed) and the saga sets
        //    it Rejected, so only a live execution changes it and a stale approval cannot
        //    flip a package another path already decided.
        if let Err((code, msg)) = self
            .resume_execution(&rec, decision, identity, &req.comment, now)
            .await
        {
            return Err(self
                .undo_unsent(&rec, &claimed, &claimed_etag, code.as_deref(), &msg)
                .await);
        }
        self.store.clear_pending(&rec.approval_id).await;
        Ok(Outcome {
            approval_id: rec.approval_id.clone(),
            status: decision.status(),
            reviewer: identity.display.clone(),
            comment: req.comment.clone(),
            decided_at: now,
            execution_name: rec.execution_name.clone(),
            model_package_arn: rec.model_package_arn.clone(),
        })
    }

    /// Whether this request may decide this approval, and what it decides: the CSRF
    /// token (form posts), an approver who did not start the run, a pending approval
    /// that has not expired (an expired one is marked so), a decision and a comment of
    /// bounded length.
    async fn gate(
        &self,
        req: &DecideRequest,
        identity: &Identity,
        rec: &ApprovalRecord,
        etag: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, Refusal> {
        if let Some(sent) = &req.csrf_token {
            match sent {
                Some(t) if constant_time_eq(t, &rec.csrf_token) => {}
                _ => return Err(Refusal::BadCsrf),
            }
        }
        if !identity.may_approve(&rec.approvers) {
            return Err(Refusal::NotApprover);
        }
        if identity.is_starter(rec.started_by.as_deref()) {
            return Err(Refusal::SelfApproval);
        }
        match rec.status {
            Status::Pending => {}
            s @ (Status::Approved | Status::Rejected) => return Err(Refusal::AlreadyDecided(s)),
            Status::Expired => return Err(Refusal::Expired),
            Status::Closed => {
                return Err(Refusal::NoLongerOpen(
                    rec.closed_reason.clone().unwrap_or_else(|| "closed".into()),
                ))
            }
        }
        if rec.is_expired(now) {
            let mut exp = rec.clone();
            exp.status = Status::Expired;
            exp.updated_at = Some(now);
            let _ = self.store.replace(&exp, etag).await;
            self.store.clear_pending(&rec.approval_id).await;
            return Err(Refusal::Expired);
        }
        let decision = req.decision.ok_or_else(|| {
            Refusal::BadRequest("`decision` must be `approve` or `reject`".into())
        })?;
        if req.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(Refusal::BadRequest(format!(
                "the comment is longer than {MAX_COMMENT_CHARS} characters"
            )));
        }
        Ok(decision)
    }

    /// SendTaskSuccess (approve) or SendTaskFailure with `Approval.Rejected` (reject).
    /// On failure: the service's error code and a message with the token redacted.
    async fn resume_execution(
        &self,
        rec: &ApprovalRecord,
        decision: Decision,
        identity: &Identity,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<(), (Option<String>, String)> {
        let token = rec.task_token.expose();
        // What the pipeline writes to the registry (ApprovalDescription takes 1024
        // characters; the ASL cannot cut a string, so it is cut here).
        let registry_note: String = format!(
            "{} by {} via trainguard approval {}: {}",
            decision.status().as_str(),
            identity.display,
            rec.approval_id,
            comment
        )
        .chars()
        .filter(|c| !c.is_control())
        .take(1000)
        .collect();
        let payload = json!({
            "decision": decision.status().as_str(),
            "reviewer": identity.display,
            "comment": comment,
            "decided_at": now.to_rfc3339(),
            "approval_id": rec.approval_id,
            "registry_note": registry_note,
        })
        .to_string();
        let sent = match decision {
            Decision::Approve => self.aws.sfn().send_task_success(token, &payload).await,
            Decision::Reject => {
                self.aws
                    .sfn()
                    .send_task_failure(token, REJECTED_ERROR, &payload)
                    .await
            }
        };
        sent.map_err(|e| {
            let code = (!e.code.is_empty()).then(|| e.code.clone());
            (code, redact(&CommonError::from(e).to_string(), token))
        })
    }

    /// The execution could not be told: either close the approval (Step Functions no
    /// longer waits for it) or revert the claim so the reviewer can try again.
    async fn undo_unsent(
        &self,
        rec: &ApprovalRecord,
        claimed: &ApprovalRecord,
        claimed_etag: &str,
        code: Option<&str>,
        msg: &str,
    ) -> Refusal {
        match code {
            Some(c @ ("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist")) => {
                let mut closed = rec.clone();
                closed.status = Status::Closed;
                closed.closed_reason = Some(format!(
                    "Step Functions no longer waits for this approval ({c})"
                ));
                closed.updated_at = Some(Utc::now());
                let _ = self.store.replace(&closed, claimed_etag).await;
                self.store.clear_pending(&rec.approval_id).await;
                Refusal::NoLongerOpen(format!("Step Functions answered {c}"))
            }
            _ => {
                self.revert(claimed, claimed_etag, rec).await;
                Refusal::Unavailable(format!("Step Functions could not be told ({msg})"))
            }
        }
    }

    /// The conditional write of the claimed record; returns its new ETag.
    async fn write_claim(&self, claimed: &ApprovalRecord, etag: &str) -> Result<String, Refusal> {
        match self.store.replace(claimed, etag).await {
            Ok(PutOutcome::Written { etag }) if !etag.is_empty() => Ok(etag),
            Ok(PutOutcome::Written { .. }) => match self.store.load(&claimed.approval_id).await {
                Ok(Some((_, t))) => Ok(t),
                _ => Err(Refusal::Unavailable(
                    "could not read back the decision".into(),
                )),
            },
            Ok(PutOutcome::PreconditionFailed) => {
                match self.store.load(&claimed.approval_id).await {
                    Ok(Some((now, _)))
                        if matches!(now.status, Status::Approved | Status::Rejected) =>
                    {
                        Err(Refusal::AlreadyDecided(now.status))
                    }
                    Ok(Some((now, _))) if now.status == Status::Closed => Err(
                        Refusal::NoLongerOpen(now.closed_reason.unwrap_or_else(|| "closed".into())),
                    ),
                    _ => Err(Refusal::Conflict),
                }
            }
            Err(e) => Err(Refusal::Unavailable(format!(
                "could not record the decision ({e})"
            ))),
        }
    }

    /// Put the record back to what it was (the decision did not go through).
    async fn revert(
        &self,
        claimed: &ApprovalRecord,
        claimed_etag: &str,
        original: &ApprovalRecord,
    ) {
        let mut back = original.clone();
        back.updated_at = Some(Utc::now());
        if !matches!(
            self.store.replace(&back, claimed_etag).await,
            Ok(PutOutcome::Written { .. })
        ) {
            tracing::error!(approval_id = %claimed.approval_id, "could not revert the approval record");
        }
    }

    /// The record of `id` (no checks): for the page.
    pub async fn load(&self, id: &str) -> Result<Option<ApprovalRecord>, CommonError> {
        Ok(self.store.load(id).await?.map(|(r, _)| r))
    }

    /// The pending, unexpired approvals the viewer may decide, newest first (at most
    /// [`MAX_LISTED`]). Approvals of other reviewers are not shown at all: their
    /// existence, execution and package are theirs to see.
    /// No viewer: nothing (an anonymous caller sees no approval).
    pub async fn list_pending(
        &self,
        viewer: Option<&Identity>,
    ) -> Result<Vec<PendingSummary>, CommonError> {
        let Some(viewer) = viewer else {
            return Ok(Vec::new());
        };
        let now = Utc::now();
        let listing = self.store.list_open(MAX_LISTED).await?;
        if listing.unreadable > 0 {
            tracing::warn!(
                unreadable = listing.unreadable,
                "approval records skipped in a listing"
            );
        }
        Ok(listing
            .records
            .into_iter()
            .filter(|r| !r.is_expired(now) && viewer.may_approve(&r.approvers))
            .map(|r| PendingSummary {
                url: self.config.page_url(&r.approval_id).ok(),
                may_decide: Some(!viewer.is_starter(r.started_by.as_deref())),
                approval_id: r.approval_id,
                execution_name: r.execution_name,
                model_package_arn: r.model_package_arn,
                started_by: r.started_by,
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
            .collect())
    }

    /// A short-lived GET link for an `s3://` object (None for prefixes or bad URIs).
    pub async fn presign(&self, uri: &str) -> Option<String> {
        let u = S3Uri::parse(uri).ok()?;
        if u.is_prefix() {
            return None;
        }
        let expires = StdDuration::from_secs(self.config.presign_seconds);
        match self.aws.s3().presign_get(&u.bucket, &u.key, expires).await {
            Ok(link) => Some(link),
            Err(e) => {
                tracing::warn!(uri = %u, error = %e, "could not presign a report link");
                None
            }
        }
    }

    /// True when `uri` is an object of this run: under `pipeline/<execution>/` in the
    /// run's bucket. Only those are presigned, so a request naming any other object
    /// (another run's, the approval records) cannot turn the page into a download link.
    pub fn is_run_object(&self, rec: &ApprovalRecord, uri: &str) -> bool {
        let (Ok(u), Some(exec)) = (S3Uri::parse(uri), rec.execution_name.as_deref()) else {
            return false;
        };
        let bucket = rec.run_bucket.as_deref().unwrap_or(&self.store.bucket);
        let prefix = format!("pipeline/{exec}/");
        !exec.is_empty()
            && !exec.contains('/')
            && u.bucket == bucket
            && u.key.starts_with(&prefix)
            && !u.key.contains("/../")
            && !u.key[prefix.len()..].starts_with("approvals/")
    }

    /// Presigned links for the record's reports: (label, URL); only this run's objects.
    pub async fn report_links(&self, rec: &ApprovalRecord) -> Vec<(String, String)> {
        let mut wanted: Vec<(String, String)> = Vec::new();
        if let Some(u) = &rec.report_uri {
            wanted.push(("Evaluation report".into(), u.clone()));
        }
        for (key, label) in [
            ("html_report_uri", "Drift report (HTML)"),
            ("report_uri", "Drift report (JSON)"),
        ] {
            if let Some(u) = rec.drift.get(key).and_then(Value::as_str) {
                wanted.push((label.into(), u.to_string()));
            }
        }
        let mut out = Vec::new();
        for (label, uri) in wanted {
            if !self.is_run_object(rec, &uri) {
                tracing::warn!(approval_id = %rec.approval_id, uri = %uri, "not presigning a report outside the run's prefix");
                continue;
            }
            if let Some(link) = self.presign(&uri).await {
                out.push((label, link));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_statuses_are_distinct_and_clear() {
        let all = [
            Refusal::Unauthenticated,
            Refusal::NotApprover,
            Refusal::SelfApproval,
            Refusal::CrossSite("origin".into()),
            Refusal::ForeignApi("apiId x".into()),
            Refusal::BadCsrf,
            Refusal::UnknownId,
            Refusal::AlreadyDecided(Status::Approved),
            Refusal::Conflict,
            Refusal::Expired,
            Refusal::NoLongerOpen("TaskTimedOut".into()),
            Refusal::BadRequest("x".into()),
            Refusal::Unavailable("y".into()),
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(Refusal::code).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Refusal::Unauthenticated.status(), 401);
        assert_eq!(Refusal::SelfApproval.status(), 403);
        assert_eq!(Refusal::UnknownId.status(), 404);
        assert_eq!(Refusal::AlreadyDecided(Status::Rejected).status(), 409);
        assert_eq!(Refusal::NoLongerOpen(String::new()).status(), 410);
        assert!(Refusal::NoLongerOpen("x".into())
            .message()
            .contains("no longer open"));
    }

    #[test]
    fn one_line_cannot_add_lines() {
        let s = one_line("auc\nReview and decide: https://evil.example\r\n", 200);
        assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
        assert!(s.starts_with("auc Review"));
        assert_eq!(one_line("abcdef", 3), "abc");
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("bad token AAA+/= here", "AAA+/="),
            "bad token <redacted> here"
        );
        assert_eq!(redact("x", ""), "x");
    }
}
