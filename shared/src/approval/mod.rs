//! The human approval gate.
//!
//! The state machine pauses on a `lambda:invoke.waitForTaskToken` task whose input is an
//! [`ApprovalRequest`]. [`ApprovalService::create`] stores a pending [`ApprovalRecord`] in
//! S3 under an unguessable id, publishes an SNS notification with the page link and
//! returns at once. Reviewers then use the page (`GET /approvals/{id}`) and post their
//! decision (`POST /approvals/{id}/decision`) through API Gateway (see [`http`]), or use
//! the CLI with IAM credentials; both go through [`ApprovalService::decide`], which
//! resumes the execution with SendTaskSuccess / SendTaskFailure (`Approval.Rejected`).
//!
//! ## Security model (why it is built this way)
//! - **The task token is a bearer credential** for resuming the execution. It lives only
//!   in the S3 record ([`TaskToken`] redacts itself in `Debug`/`Display`), never in a URL,
//!   a log line, a notification, a page or an API reply. Links carry only the approval id.
//! - **Ids are 128 random bits** from the OS generator (hex), so holding a link is not
//!   guessable; the id is validated before it becomes part of an S3 key.
//! - **Identity comes only from the API Gateway request context** (JWT authorizer claims
//!   for people, IAM authorization for programs) or, in the CLI, from the caller's STS
//!   identity. Nothing the client sends in the body or headers names the reviewer.
//! - **GET never acts** (mail scanners prefetch links); only POST decides.
//! - **Refusals**: unauthenticated (401), not an approver (403), self-approval by the
//!   person who started the run (403), cross-site posts (403: `Origin`/`Sec-Fetch-Site`
//!   against the configured base URL, plus a per-approval CSRF token in the page),
//!   unknown id (404), already decided (409: the first decision wins through an S3
//!   `If-Match` conditional write on the record), expired or no longer open (410).
//! - **Append-only audit**: every request, decision and refused attempt is one new S3
//!   object written with `If-None-Match: *` (who, what, when, from where, execution and
//!   model package). Nothing overwrites an audit object.

mod identity;
#[cfg(test)]
mod memory_tests;
mod metrics;
mod model;
mod page;
mod service;
mod store;

pub mod http;

pub use identity::{Identity, IdentityKind};
pub use metrics::{metric_rows, MetricRow};
pub use model::{
    constant_time_eq, is_valid_id, new_approval_id, new_csrf_token, ApprovalRecord,
    ApprovalRequest, Decision, DecisionInfo, Status, TaskToken,
};
pub use page::render_page;
pub use page::PageContext;
#[cfg(feature = "aws")]
pub use service::caller_identity;
pub use service::{ApprovalService, Created, DecideRequest, Outcome, PendingSummary, Refusal, Via};
pub use store::{ApprovalStore, AuditEvent};

use crate::error::{ErrorDoc, ErrorName};

/// Error names this module can raise (see [`crate::catalog`]).
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc {
        name: "Approval.Rejected",
        retryable: false,
        meaning: "a reviewer rejected the model (sent with SendTaskFailure; Cause holds reviewer, comment, time)",
    },
    ErrorDoc {
        name: "Approval.InvalidRequest",
        retryable: false,
        meaning: "the approval request cannot be acted on (no approvers, expiry in the past, bad token length)",
    },
    ErrorDoc {
        name: "Approval.Misconfigured",
        retryable: false,
        meaning: "a required setting (bucket, base URL) is missing or invalid",
    },
];

/// Failures of the approval request path (the Lambda errors the state machine sees).
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The request cannot be acted on.
    #[error("invalid approval request: {0}")]
    InvalidRequest(String),
    /// Configuration is missing or wrong.
    #[error("approval-handler is misconfigured: {0}")]
    Misconfigured(String),
    /// A storage / AWS failure from the common families.
    #[error(transparent)]
    Common(#[from] crate::error::CommonError),
}

impl ErrorName for ApprovalError {
    fn error_name(&self) -> &'static str {
        match self {
            ApprovalError::InvalidRequest(_) => "Approval.InvalidRequest",
            ApprovalError::Misconfigured(_) => "Approval.Misconfigured",
            ApprovalError::Common(c) => c.error_name(),
        }
    }
}

/// The error name sent with SendTaskFailure on rejection; the ASL routes on it.
pub const REJECTED_ERROR: &str = "Approval.Rejected";

/// Settings, from the environment in Lambda and the CLI (see `docs/approval-handler.md`, Configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// Bucket holding the approval records and the audit trail
    /// (`TRAINGUARD_APPROVAL_BUCKET`). The HTTP routes only know the id, so the record
    /// must live at a fixed place: `s3://<bucket>/<record_prefix><id>.json`.
    pub bucket: Option<String>,
    /// Base URL of the HTTP API (`TRAINGUARD_APPROVAL_BASE_URL`), e.g.
    /// `https://abc.execute-api.eu-west-1.amazonaws.com`; links are `<base>/approvals/<id>`
    /// and cross-site checks compare the request's `Origin` with its origin.
    pub base_url: Option<String>,
    /// SNS topic for notifications (`TRAINGUARD_APPROVAL_TOPIC_ARN`); none: no notification.
    pub topic_arn: Option<String>,
    /// Key prefix of the records (`TRAINGUARD_APPROVAL_PREFIX`, default `approvals/`).
    pub record_prefix: String,
    /// Key prefix of the audit trail (`TRAINGUARD_AUDIT_PREFIX`, default `audit/approvals/`).
    pub audit_prefix: String,
    /// Expiry when the request gives none (`TRAINGUARD_APPROVAL_DEFAULT_EXPIRY_SECONDS`, 86400).
    pub default_expiry_seconds: u64,
    /// Lifetime of presigned report links (`TRAINGUARD_PRESIGN_SECONDS`, default 900).
    pub presign_seconds: u64,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            bucket: None,
            base_url: None,
            topic_arn: None,
            record_prefix: "approvals/".into(),
            audit_prefix: "audit/approvals/".into(),
            default_expiry_seconds: 86_400,
            presign_seconds: 900,
        }
    }
}

impl ApprovalConfig {
    /// Read the settings from the environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let d = ApprovalConfig::default();
        ApprovalConfig {
            bucket: var("TRAINGUARD_APPROVAL_BUCKET"),
            base_url: var("TRAINGUARD_APPROVAL_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string()),
            topic_arn: var("TRAINGUARD_APPROVAL_TOPIC_ARN"),
            record_prefix: var("TRAINGUARD_APPROVAL_PREFIX")
                .map(normalise_prefix)
                .unwrap_or(d.record_prefix),
            audit_prefix: var("TRAINGUARD_AUDIT_PREFIX")
                .map(normalise_prefix)
                .unwrap_or(d.audit_prefix),
            default_expiry_seconds: var("TRAINGUARD_APPROVAL_DEFAULT_EXPIRY_SECONDS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.default_expiry_seconds),
            presign_seconds: var("TRAINGUARD_PRESIGN_SECONDS")
                .and_then(|v| v.parse().ok())
                .filter(|s| *s > 0 && *s <= 604_800)
                .unwrap_or(d.presign_seconds),
        }
    }

    /// The bucket, or `Approval.Misconfigured`.
    pub fn require_bucket(&self) -> Result<&str, ApprovalError> {
        self.bucket.as_deref().ok_or_else(|| {
            ApprovalError::Misconfigured("TRAINGUARD_APPROVAL_BUCKET is not set".into())
        })
    }

    /// The base URL, or `Approval.Misconfigured`.
    pub fn require_base_url(&self) -> Result<&str, ApprovalError> {
        let base = self.base_url.as_deref().ok_or_else(|| {
            ApprovalError::Misconfigured("TRAINGUARD_APPROVAL_BASE_URL is not set".into())
        })?;
        url::Url::parse(base).map_err(|e| {
            ApprovalError::Misconfigured(format!("TRAINGUARD_APPROVAL_BASE_URL {base:?}: {e}"))
        })?;
        Ok(base)
    }

    /// The page link for an approval.
    pub fn page_url(&self, id: &str) -> Result<String, ApprovalError> {
        Ok(format!(
            "{}/approvals/{id}",
            self.require_base_url()?.trim_end_matches('/')
        ))
    }

    /// The origin (`scheme://host[:port]`) of the base URL, for the cross-site check.
    pub fn base_origin(&self) -> Option<String> {
        let u = url::Url::parse(self.base_url.as_deref()?).ok()?;
        Some(u.origin().ascii_serialization())
    }
}

/// One entry point for both event shapes the function receives: an API Gateway HTTP API
/// (v2) request, or the state machine's approval request (it carries `task_token`).
pub async fn handle_event<A: crate::aws::Aws>(
    service: &ApprovalService<A>,
    event: serde_json::Value,
) -> Result<serde_json::Value, ApprovalError> {
    if http::is_http_event(&event) {
        return Ok(http::handle(service, event).await.to_value());
    }
    if event.get("task_token").is_some() {
        let created = service.create(event).await?;
        return serde_json::to_value(created).map_err(|e| {
            ApprovalError::Common(crate::error::CommonError::InvalidInput(e.to_string()))
        });
    }
    Err(ApprovalError::Common(
        crate::error::CommonError::InvalidInput(
            "neither an HTTP API v2 request nor an approval request with `task_token`".into(),
        ),
    ))
}

fn normalise_prefix(p: String) -> String {
    let p = p.trim_start_matches('/').to_string();
    if p.is_empty() || p.ends_with('/') {
        p
    } else {
        format!("{p}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_documented() {
        for e in [
            ApprovalError::InvalidRequest(String::new()),
            ApprovalError::Misconfigured(String::new()),
        ] {
            assert!(
                ERRORS.iter().any(|d| d.name == e.error_name()),
                "{}",
                e.error_name()
            );
        }
        assert!(ERRORS.iter().any(|d| d.name == REJECTED_ERROR));
    }

    #[test]
    fn base_origin_and_page_url() {
        let c = ApprovalConfig {
            base_url: Some("https://abc.example.com/prod".into()),
            ..ApprovalConfig::default()
        };
        assert_eq!(c.base_origin().as_deref(), Some("https://abc.example.com"));
        assert_eq!(
            c.page_url("ab12").unwrap(),
            "https://abc.example.com/prod/approvals/ab12"
        );
        assert_eq!(
            ApprovalConfig::default()
                .page_url("x")
                .unwrap_err()
                .error_name(),
            "Approval.Misconfigured"
        );
        assert_eq!(normalise_prefix("/a/b".into()), "a/b/");
    }
}
