//! The human approval gate.
//!
//! The state machine pauses on a `lambda:invoke.waitForTaskToken` task whose input is an
//! [`ApprovalRequest`]. [`ApprovalService::create`] stores a pending [`ApprovalRecord`] in
//! S3 under an unguessable id, publishes an SNS notification with the page link and
//! returns at once. Reviewers then use the page (`GET /approvals/{id}`) and post their
//! decision (`POST /approvals/{id}/decision`) through API Gateway (see [`http`]); the CLI
//! posts to the IAM-signed routes. Every decision goes through [`ApprovalService::decide`], which
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
        name: "Approval.UnattributedRun",
        retryable: false,
        meaning: "the run has no start record matching its input (it was not started through pipeline-trigger), so nobody can be kept from approving their own run; refused unless TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS=true",
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
    /// Who started the run is not attested (see [`crate::origin`]).
    #[error("unattributed run: {0}")]
    UnattributedRun(String),
    /// A storage / AWS failure from the common families.
    #[error(transparent)]
    Common(#[from] crate::error::CommonError),
}

impl ErrorName for ApprovalError {
    fn error_name(&self) -> &'static str {
        match self {
            ApprovalError::InvalidRequest(_) => "Approval.InvalidRequest",
            ApprovalError::Misconfigured(_) => "Approval.Misconfigured",
            ApprovalError::UnattributedRun(_) => "Approval.UnattributedRun",
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
    /// Who may ever approve (`TRAINGUARD_APPROVERS`, comma separated): deploy-time policy,
    /// set by the template from its `Reviewers` parameter. An approval request may name a
    /// subset of it (tighten), never anyone outside it (see [`ApprovalConfig::approvers_for`]).
    pub approvers: Vec<String>,
    /// The HTTP API whose events this function answers (`TRAINGUARD_APPROVAL_API_ID`, the
    /// template sets it to the API's id). An HTTP event from any other `apiId` is refused:
    /// the identity in `requestContext.authorizer` is only as good as the API that put it
    /// there. Unset: every HTTP event is refused (fail closed).
    pub api_id: Option<String>,
    /// Accept runs without an attested starter (`TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS=true`,
    /// default false): their approvals then cannot apply the no-self-approval rule.
    pub allow_unattributed: bool,
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
            approvers: Vec::new(),
            api_id: None,
            allow_unattributed: false,
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
            approvers: var("TRAINGUARD_APPROVERS")
                .map(|v| split_list(&v))
                .unwrap_or_default(),
            api_id: var("TRAINGUARD_APPROVAL_API_ID")
                .map(|v| v.trim().to_string())
                .or_else(|| {
                    var("TRAINGUARD_APPROVAL_BASE_URL")
                        .as_deref()
                        .and_then(execute_api_id)
                }),
            allow_unattributed: var("TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS")
                .map(|v| v.trim().eq_ignore_ascii_case("true"))
                .unwrap_or(false),
        }
    }

    /// The approvers of one request: the deploy-time list, narrowed to the entries the
    /// request names when it names any. A request naming someone outside the deploy-time
    /// list is refused, not silently narrowed, so a mistaken or hostile execution input is
    /// visible.
    pub fn approvers_for(&self, requested: &[String]) -> Result<Vec<String>, ApprovalError> {
        if self.approvers.is_empty() {
            return Err(ApprovalError::Misconfigured(
                "TRAINGUARD_APPROVERS is empty: nobody could approve".into(),
            ));
        }
        let requested: Vec<&str> = requested
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
            .collect();
        if requested.is_empty() {
            return Ok(self.approvers.clone());
        }
        // Each requested entry becomes the deploy-time entry it names (its spelling is the
        // one the deployment vouched for).
        requested
            .into_iter()
            .map(|a| {
                self.approvers
                    .iter()
                    .find(|d| d.eq_ignore_ascii_case(a))
                    .cloned()
                    .ok_or_else(|| {
                        ApprovalError::InvalidRequest(format!(
                            "approver {a:?} is not in the deploy-time list (TRAINGUARD_APPROVERS): an execution may narrow the approvers, never add to them"
                        ))
                    })
            })
            .collect()
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
        let url = url::Url::parse(base).map_err(|e| {
            ApprovalError::Misconfigured(format!("TRAINGUARD_APPROVAL_BASE_URL {base:?}: {e}"))
        })?;
        // https only: the page carries a CSRF token and the link is a reviewer's way in.
        // Plain http is allowed for loopback hosts (the local stack and the browser test).
        let loopback = matches!(
            url.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || url.host_str() == Some("localhost");
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(ApprovalError::Misconfigured(format!(
                "TRAINGUARD_APPROVAL_BASE_URL {base:?} must be an https URL (http only for loopback hosts)"
            )));
        }
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
    /// `None` unless the base URL passes [`Self::require_base_url`] (an opaque origin
    /// would serialise as `null`, which a sandboxed page also sends).
    pub fn base_origin(&self) -> Option<String> {
        let base = self.require_base_url().ok()?;
        let u = url::Url::parse(base).ok()?;
        let origin = u.origin();
        origin.is_tuple().then(|| origin.ascii_serialization())
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

/// The API id of an `https://<id>.execute-api.<region>.amazonaws.com[...]` URL (API
/// Gateway's own invoke URL); `None` for a custom domain, which needs
/// `TRAINGUARD_APPROVAL_API_ID`.
fn execute_api_id(base: &str) -> Option<String> {
    let url = url::Url::parse(base).ok()?;
    let host = url.host_str()?;
    let (id, rest) = host.split_once('.')?;
    (rest.starts_with("execute-api.")
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| id.to_string())
}

/// A comma-separated list, entries trimmed, empty ones dropped.
fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
            ApprovalError::UnattributedRun(String::new()),
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

    #[test]
    fn base_url_must_be_https_except_on_loopback() {
        let with = |u: &str| ApprovalConfig {
            base_url: Some(u.into()),
            ..ApprovalConfig::default()
        };
        for ok in [
            "https://approvals.example.com",
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:9000",
        ] {
            assert!(with(ok).require_base_url().is_ok(), "{ok}");
            assert!(with(ok).base_origin().is_some(), "{ok}");
        }
        for bad in [
            "http://approvals.example.com",
            "ftp://approvals.example.com",
            "data:text/html,x",
            "file:///tmp/x",
        ] {
            let c = with(bad);
            assert_eq!(
                c.require_base_url().unwrap_err().error_name(),
                "Approval.Misconfigured",
                "{bad}"
            );
            assert_eq!(c.base_origin(), None, "{bad}: no origin to compare with");
        }
    }

    #[test]
    fn the_api_id_of_an_invoke_url() {
        assert_eq!(
            execute_api_id("https://a1b2c3.execute-api.eu-west-1.amazonaws.com/prod").as_deref(),
            Some("a1b2c3")
        );
        assert_eq!(execute_api_id("https://approvals.example.com"), None);
        assert_eq!(execute_api_id("not a url"), None);
    }

    #[test]
    fn approvers_come_from_deploy_time_and_only_narrow() {
        let c = ApprovalConfig {
            approvers: split_list(" alice@example.org, group:ml-leads ,,"),
            ..ApprovalConfig::default()
        };
        assert_eq!(c.approvers, ["alice@example.org", "group:ml-leads"]);
        assert_eq!(c.approvers_for(&[]).unwrap(), c.approvers);
        assert_eq!(c.approvers_for(&[" ".into()]).unwrap(), c.approvers);
        assert_eq!(
            c.approvers_for(&["Alice@Example.org".into()]).unwrap(),
            ["alice@example.org"],
            "the deploy-time spelling"
        );
        let e = c
            .approvers_for(&["alice@example.org".into(), "mallory@example.org".into()])
            .unwrap_err();
        assert_eq!(e.error_name(), "Approval.InvalidRequest");
        assert!(e.to_string().contains("mallory"), "{e}");
        assert_eq!(
            ApprovalConfig::default()
                .approvers_for(&["a@b.c".into()])
                .unwrap_err()
                .error_name(),
            "Approval.Misconfigured"
        );
    }
}
