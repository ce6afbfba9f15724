//! The request the state machine sends, and the record kept in S3.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApprovalError;

/// A Step Functions task token: a bearer credential for resuming the execution.
///
/// It is serialised only into the S3 record; `Debug` and `Display` print `<redacted>` so
/// it cannot reach a log line by accident, and no reply, page or notification type holds
/// one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> Self {
        TaskToken(token.into())
    }
    /// The secret itself, for SendTask* only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl std::fmt::Display for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The task input of the approval state (invoked with `.waitForTaskToken`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApprovalRequest {
    /// `$$.Task.Token`.
    pub task_token: TaskToken,
    #[serde(default)]
    pub execution_name: Option<String>,
    #[serde(default)]
    pub model_package_arn: Option<String>,
    /// Evaluation metrics (see [`super::metric_rows`] for the accepted shapes).
    #[serde(default)]
    pub metrics: Value,
    /// `s3://` URI of the full evaluation report.
    #[serde(default)]
    pub report_uri: Option<String>,
    /// The drift detector's check output (`drift_detected`, `drifted_features`, report URIs).
    #[serde(default)]
    pub drift: Value,
    /// Ignored: who started the run is read from its start record ([`crate::origin`]),
    /// never from what the execution input says. Kept so older definitions still parse.
    #[serde(default)]
    pub started_by: Option<String>,
    /// `$$.Execution.Input`: checked against the start record's digest, so a record
    /// can only vouch for the execution it was written for.
    #[serde(default)]
    pub execution_input: Option<Value>,
    /// Who may decide, narrowing the deploy-time list (`TRAINGUARD_APPROVERS`); empty:
    /// the whole deploy-time list. Entries outside it are refused.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// The task's `TimeoutSeconds`.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
    /// The task's `HeartbeatSeconds`: the task ends when it passes, since nobody sends
    /// heartbeats while a person reviews.
    #[serde(default)]
    pub heartbeat_seconds: Option<u64>,
    /// When the task was entered (`$$.State.EnteredTime`): the timeout counts from then.
    #[serde(default)]
    pub entered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Bucket of the pipeline's data; a lineage pointer is written under
    /// `pipeline/<execution>/approvals/` there.
    #[serde(default)]
    pub bucket: Option<String>,
}

/// Longest approval window accepted: Step Functions' own task limit is one year; a
/// review that takes longer than 30 days is a process problem, not a wait.
pub const MAX_EXPIRY_SECONDS: u64 = 30 * 86_400;

impl ApprovalRequest {
    /// Check the request and compute its expiry.
    pub fn validate(
        &self,
        now: DateTime<Utc>,
        default_expiry_seconds: u64,
    ) -> Result<DateTime<Utc>, ApprovalError> {
        let len = self.task_token.expose().len();
        if len == 0 || len > 2048 {
            return Err(ApprovalError::InvalidRequest(format!(
                "task_token must be 1..2048 characters (got {len}); pass $$.Task.Token"
            )));
        }
        // The window Step Functions really waits: the task's timeout, or its heartbeat
        // when that is shorter (nobody sends heartbeats for a person), counted from when
        // the task was entered. The page must never promise more time than that.
        let start = self.entered_at.filter(|t| *t <= now).unwrap_or(now);
        let window = match (self.expires_in_seconds, self.heartbeat_seconds) {
            (Some(t), Some(h)) => Some(t.min(h)),
            (t, h) => t.or(h),
        };
        if let Some(w) = window.filter(|w| *w > MAX_EXPIRY_SECONDS) {
            return Err(ApprovalError::InvalidRequest(format!(
                "an approval window of {w} s is more than 30 days ({MAX_EXPIRY_SECONDS} s): lower the approval timeout"
            )));
        }
        let expires_at = match (self.expires_at, window) {
            (Some(at), Some(w)) => at.min(start + Duration::seconds(w as i64)),
            (Some(at), None) => at,
            (None, Some(w)) => start + Duration::seconds(w as i64),
            (None, None) => {
                now + Duration::seconds(default_expiry_seconds.min(MAX_EXPIRY_SECONDS) as i64)
            }
        };
        if expires_at <= now {
            return Err(ApprovalError::InvalidRequest(format!(
                "expires_at {expires_at} is not in the future"
            )));
        }
        if expires_at > now + Duration::seconds(MAX_EXPIRY_SECONDS as i64) {
            return Err(ApprovalError::InvalidRequest(format!(
                "expires_at {expires_at} is more than 30 days away"
            )));
        }
        Ok(expires_at)
    }
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    /// The expiry passed before anyone decided.
    Expired,
    /// Step Functions no longer waits for it (timed out, execution stopped, bad token).
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Closed => "closed",
        }
    }
}

/// A reviewer's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// `approve`/`approved`/`reject`/`rejected`, any case.
    pub fn parse(s: &str) -> Option<Decision> {
        match s.trim().to_ascii_lowercase().as_str() {
            "approve" | "approved" => Some(Decision::Approve),
            "reject" | "rejected" => Some(Decision::Reject),
            _ => None,
        }
    }
    pub fn status(self) -> Status {
        match self {
            Decision::Approve => Status::Approved,
            Decision::Reject => Status::Rejected,
        }
    }
}

/// The decision as recorded (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionInfo {
    pub decision: Decision,
    /// The reviewer's display name (email, subject or principal ARN).
    pub reviewer: String,
    /// `jwt`, `iam` or `sts`.
    pub reviewer_kind: String,
    #[serde(default)]
    pub comment: String,
    pub decided_at: DateTime<Utc>,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// `http` or `cli`.
    pub via: String,
}

/// The pending approval as stored at `s3://<bucket>/<prefix><id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub approval_id: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub execution_name: Option<String>,
    #[serde(default)]
    pub model_package_arn: Option<String>,
    #[serde(default)]
    pub metrics: Value,
    #[serde(default)]
    pub report_uri: Option<String>,
    #[serde(default)]
    pub drift: Value,
    #[serde(default)]
    pub started_by: Option<String>,
    pub approvers: Vec<String>,
    /// Secret: only SendTask* reads it.
    pub task_token: TaskToken,
    /// Per-approval token embedded in the page and required on browser posts.
    pub csrf_token: String,
    #[serde(default)]
    pub decision: Option<DecisionInfo>,
    /// The run's bucket (the request's `bucket`): report links are presigned only for
    /// objects under `s3://<run_bucket>/pipeline/<execution>/`.
    #[serde(default)]
    pub run_bucket: Option<String>,
    /// Why the approval closed without a decision reaching Step Functions.
    #[serde(default)]
    pub closed_reason: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl ApprovalRecord {
    /// A new pending record from a validated request.
    pub fn new(
        req: &ApprovalRequest,
        id: String,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        ApprovalRecord {
            approval_id: id,
            status: Status::Pending,
            created_at: now,
            expires_at,
            execution_name: req.execution_name.clone(),
            model_package_arn: req.model_package_arn.clone(),
            metrics: req.metrics.clone(),
            report_uri: req.report_uri.clone(),
            drift: req.drift.clone(),
            started_by: None,
            approvers: req
                .approvers
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            task_token: req.task_token.clone(),
            csrf_token: new_csrf_token(),
            decision: None,
            run_bucket: req.bucket.clone(),
            closed_reason: None,
            updated_at: None,
        }
    }

    /// True when pending but past its expiry.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Pending && now >= self.expires_at
    }

    /// The record with every secret removed, for pages, listings and the CLI.
    pub fn public_view(&self) -> Value {
        serde_json::json!({
            "approval_id": self.approval_id,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "execution_name": self.execution_name,
            "model_package_arn": self.model_package_arn,
            "metrics": self.metrics,
            "report_uri": self.report_uri,
            "drift": self.drift,
            "started_by": self.started_by,
            "approvers": self.approvers,
            "decision": self.decision,
            "closed_reason": self.closed_reason,
        })
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new approval id: 128 bits from the OS random generator, as 32 lowercase hex digits.
pub fn new_approval_id() -> String {
    random_hex(16)
}

/// A new CSRF token: 256 random bits.
pub fn new_csrf_token() -> String {
    random_hex(32)
}

/// True for exactly 32 lowercase hex digits: anything else is refused before it can
/// become part of an S3 key.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Compare secrets in time independent of where they differ (subtle's `ct_eq`, which
/// keeps the optimiser from turning the comparison back into an early exit). Only the
/// length can show, and tokens have a fixed length.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;
    use serde_json::json;

    fn req(v: Value) -> ApprovalRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn token_never_prints() {
        let r = req(json!({"task_token": "SECRET+/=tok", "approvers": ["a@x.org"]}));
        let dbg = format!("{r:?} {}", r.task_token);
        assert!(!dbg.contains("SECRET"), "{dbg}");
        let rec = ApprovalRecord::new(&r, new_approval_id(), Utc::now(), Utc::now());
        assert!(!format!("{rec:?}").contains("SECRET"));
        assert!(!rec.public_view().to_string().contains("SECRET"));
        assert!(!rec.public_view().to_string().contains(&rec.csrf_token));
        // ... but the stored record keeps it.
        assert!(serde_json::to_string(&rec)
            .unwrap()
            .contains("SECRET+/=tok"));
    }

    #[test]
    fn ids_are_random_and_validated() {
        let a = new_approval_id();
        let b = new_approval_id();
        assert_ne!(a, b);
        assert!(is_valid_id(&a) && is_valid_id(&b));
        for bad in [
            "",
            "../../etc/passwd",
            "ABCDEF0123456789abcdef0123456789",
            &a[..31],
            &format!("{a}0"),
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert_eq!(new_csrf_token().len(), 64);
    }

    #[test]
    fn expiry_rules() {
        let now = Utc::now();
        let ok = req(json!({"task_token": "t", "approvers": ["a"], "expires_in_seconds": 60}));
        assert_eq!(
            ok.validate(now, 86_400).unwrap(),
            now + Duration::seconds(60)
        );
        let dflt = req(json!({"task_token": "t", "approvers": ["a"]}));
        assert_eq!(
            dflt.validate(now, 100).unwrap(),
            now + Duration::seconds(100)
        );
        let past = req(
            json!({"task_token": "t", "approvers": ["a"], "expires_at": "2001-01-01T00:00:00Z"}),
        );
        assert!(past.validate(now, 100).is_err());
        let none = req(json!({"task_token": "t", "approvers": [" "]}));
        assert!(
            none.validate(now, 100).is_ok(),
            "approvers come from the config"
        );
        // Over 30 days is an error, not a silent clamp.
        let month = req(json!({"task_token": "t", "expires_in_seconds": 31 * 86_400}));
        assert_eq!(
            month.validate(now, 100).unwrap_err().error_name(),
            "Approval.InvalidRequest"
        );
        // The heartbeat ends the task first: the page shows that moment.
        let hb = req(
            json!({"task_token": "t", "expires_in_seconds": 259_200, "heartbeat_seconds": 259_140}),
        );
        assert_eq!(
            hb.validate(now, 100).unwrap(),
            now + Duration::seconds(259_140)
        );
        // Counted from when the task was entered.
        let entered = now - Duration::seconds(30);
        let from =
            req(json!({"task_token": "t", "expires_in_seconds": 600, "entered_at": entered}));
        assert_eq!(
            from.validate(now, 100).unwrap(),
            entered + Duration::seconds(600)
        );
        let long = req(json!({"task_token": "x".repeat(2049), "approvers": ["a"]}));
        assert!(long.validate(now, 100).is_err());
        let empty = req(json!({"task_token": "", "approvers": ["a"]}));
        assert!(empty.validate(now, 100).is_err());
    }

    #[test]
    fn decision_parsing_and_ct_eq() {
        assert_eq!(Decision::parse(" Approve "), Some(Decision::Approve));
        assert_eq!(Decision::parse("rejected"), Some(Decision::Reject));
        assert_eq!(Decision::parse("maybe"), None);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
