//! The CLI's client for the approval service's IAM routes on the HTTP API (API Gateway,
//! `AWS_IAM` authorizer; see template.yaml `DecisionIam` / `ListApprovalsIam`):
//!
//! - `GET  <api>/iam/approvals` → `{"pending": [...]}`
//! - `POST <api>/iam/approvals/{id}/decision` with `{"decision", "comment"}` →
//!   `{"approval_id", "status", "reviewer", "decided_at"}`
//!
//! Why through the API and not with the SDK: the approval records hold the Step Functions
//! task token, a bearer credential for resuming the execution. A reviewer allowed to read
//! them (or to call `states:SendTaskSuccess`) could resume the pipeline directly and skip
//! the approver list, the self-approval rule, the registry update and the audit trail.
//! Here the reviewer needs only `execute-api:Invoke` on these two routes; the function
//! holds the S3 and Step Functions permissions, and the reviewer's identity is what API
//! Gateway verified from the signature (the handler reads it from
//! `requestContext.authorizer.iam` only).
//!
//! Requests are signed with SigV4 (service `execute-api`) using the credentials of the
//! default provider chain (environment, profile, SSO, container/instance roles). The
//! signing region is the one in an `execute-api` host name
//! (`<id>.execute-api.<region>.amazonaws.com`: API Gateway accepts no other), else the AWS
//! config's region (custom domain names).
//!
//! Replies sort into three outcomes ([`classify`]): 2xx is the JSON document; a 4xx with
//! the service's `{"error": <code>, "message"}`, or API Gateway's own 401/403
//! `{"message"}` (a bad or missing signature, unknown credentials, no `execute-api:Invoke`:
//! code `access_denied`), is [`Refused`]; 429 and 5xx are `Transient.Throttled`; a 404
//! without a code (no such route: the URL is wrong) and anything unreadable are
//! `Approval.Misconfigured`.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::{error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{tls, Connector};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::Serialize;
use serde_json::{json, Value};
use trainguard::ErrorName;
use url::Url;

/// The SigV4 service name of API Gateway's invoke API.
pub const SIGNING_SERVICE: &str = "execute-api";

/// How long one call may take, end to end. API Gateway gives up on the function after
/// 30 s; a little more covers connecting and TLS.
const CALL_TIMEOUT: Duration = Duration::from_secs(45);

/// Replies are a few KB; anything much larger is not the approval API.
const MAX_REPLY_BYTES: usize = 4 << 20;

/// A failure to reach or use the API, under a documented error name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The API URL, region or credentials are missing or unusable, or the URL does not
    /// lead to the approval API (`Approval.Misconfigured`).
    Misconfigured(String),
    /// No reply in time, a connection failure, throttling or a 5xx: the same call may
    /// succeed later (`Transient.Throttled`).
    Transient(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Misconfigured(m) | ApiError::Transient(m) => f.write_str(m),
        }
    }
}

impl ErrorName for ApiError {
    fn error_name(&self) -> &'static str {
        match self {
            ApiError::Misconfigured(_) => "Approval.Misconfigured",
            ApiError::Transient(_) => "Transient.Throttled",
        }
    }
}

/// A refusal, from the approval service (its code) or from API Gateway (`access_denied`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub code: String,
    pub http_status: u16,
    pub message: String,
}

/// Why a call gave no document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Refused(Refused),
    Error(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Error(e)
    }
}

/// Check the API's base URL: https (plain http only for loopback hosts, i.e. local
/// tests), a host, no credentials, query or fragment. A trailing `/` is dropped.
pub fn parse_base_url(raw: &str) -> Result<Url, ApiError> {
    let bad = |why: &str| {
        ApiError::Misconfigured(format!(
            "the approval API URL {raw:?} {why} (--api-url / TRAINGUARD_APPROVAL_API_URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com)"
        ))
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(bad("is empty"));
    }
    let url = Url::parse(raw).map_err(|e| bad(&format!("does not parse: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must be an https URL (http only for loopback hosts)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url)
}

/// The region of an API Gateway host name (`<id>.execute-api.<region>.amazonaws.com`,
/// also `.amazonaws.com.cn` and VPC endpoint names), `None` for other hosts.
pub fn region_from_host(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| l.eq_ignore_ascii_case("execute-api"))?;
    let region = labels.get(at + 1)?;
    let rest = &labels[at + 2..];
    let amazon = rest.iter().any(|l| l.eq_ignore_ascii_case("amazonaws"));
    (at >= 1 && amazon && !region.is_empty()).then(|| region.to_ascii_lowercase())
}

/// `base` with `segments` appended to its path (a stage path in `base` is kept).
pub fn route_url(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// The `Host` header for `url`: host, and the port unless it is the scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Build a request to `url` with the headers the API needs and sign it: SigV4 for
/// [`SIGNING_SERVICE`] in `region` at `time`, which adds `x-amz-date`, `authorization`
/// and, for temporary credentials, `x-amz-security-token`. Pure: no I/O.
pub fn signed_request(
    method: &str,
    url: &Url,
    body: Option<Vec<u8>>,
    user_agent: &str,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let cannot = |e: &dyn std::fmt::Display| {
        ApiError::Misconfigured(format!("cannot sign the request to {url}: {e}"))
    };
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url.as_str())
        .header("host", host_header(url))
        .header("accept", "application/json")
        .header("user-agent", user_agent);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let body = body.unwrap_or_default();
    builder = builder.header("content-length", body.len());
    let mut req = builder.body(body).map_err(|e| cannot(&e))?;

    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| cannot(&e))?
        .into();
    let instructions = {
        let headers = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let uri = req.uri().to_string();
        let signable = SignableRequest::new(
            req.method().as_str(),
            uri,
            headers,
            SignableBody::Bytes(req.body()),
        )
        .map_err(|e| cannot(&e))?;
        sign(signable, &params)
            .map_err(|e| cannot(&e))?
            .into_parts()
            .0
    };
    instructions.apply_to_request_http1x(&mut req);
    Ok(req)
}

/// A short, printable excerpt of a reply body for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Sort one reply (see the module docs). `call` names the request in messages.
pub fn classify(call: &str, status: u16, body: &[u8]) -> Result<Value, Failure> {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        doc.as_ref()
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if (200..300).contains(&status) {
        return match doc {
            Some(d) if d.is_object() => Ok(d),
            _ => Err(ApiError::Misconfigured(format!(
                "{call}: HTTP {status} but the reply is not a JSON object ({:?}): is the API URL the approval API?",
                excerpt(body)
            ))
            .into()),
        };
    }
    let message = field("message").unwrap_or_else(|| excerpt(body));
    let code = field("error");
    if status == 429 || status >= 500 {
        let what = code.map(|c| format!(" ({c})")).unwrap_or_default();
        return Err(ApiError::Transient(format!(
            "{call}: HTTP {status}{what}: {message} (nothing is known to be decided: `trainguard approvals list` shows whether it is still pending)"
        ))
        .into());
    }
    let refused = |code: &str| {
        Err(Failure::Refused(Refused {
            code: code.to_string(),
            http_status: status,
            message: message.clone(),
        }))
    };
    match (code.as_deref(), status) {
        (Some(c), _) if !c.is_empty() => refused(c),
        // API Gateway's own refusals carry only a message.
        (_, 401 | 403) => refused("access_denied"),
        (_, 404) => Err(ApiError::Misconfigured(format!(
            "{call}: HTTP 404 ({message}): no such route; the API URL must be the HTTP API's base URL (without /iam/approvals)"
        ))
        .into()),
        _ => refused(&format!("http_{status}")),
    }
}

/// Map a transport failure to its error name.
fn connector_error(call: &str, e: &ConnectorError) -> ApiError {
    let msg = format!("{call}: {}", DisplayErrorContext(e));
    if e.is_user() {
        ApiError::Misconfigured(msg)
    } else {
        ApiError::Transient(msg)
    }
}

/// Map a credentials failure to its error name.
fn credentials_error(e: &CredentialsError) -> ApiError {
    let msg = format!(
        "no usable AWS credentials to sign the request with: {}",
        DisplayErrorContext(e)
    );
    match e {
        CredentialsError::ProviderTimedOut(_) => ApiError::Transient(msg),
        _ => ApiError::Misconfigured(msg),
    }
}

/// The approval API, with the caller's credentials and an HTTPS client.
pub struct ApprovalApi {
    base: Url,
    region: String,
    credentials: SharedCredentialsProvider,
    connector: Connector,
    user_agent: String,
}

impl ApprovalApi {
    /// From the API URL and the standard AWS environment (region, credentials chain).
    pub async fn from_env(api_url: Option<&str>) -> Result<Self, ApiError> {
        let base = parse_base_url(api_url.unwrap_or_default())?;
        let config = trainguard::aws::load_config().await;
        let region = base
            .host_str()
            .and_then(region_from_host)
            .or_else(|| config.region().map(|r| r.as_ref().to_string()))
            .ok_or_else(|| {
                ApiError::Misconfigured(
                    "no AWS region to sign for: set AWS_REGION (or the profile's region)".into(),
                )
            })?;
        let credentials = config.credentials_provider().ok_or_else(|| {
            ApiError::Misconfigured("no AWS credentials provider is configured".into())
        })?;
        // The SDK's own HTTPS client (rustls), and the proxy variables (HTTPS_PROXY,
        // NO_PROXY) a reviewer on a corporate network expects a command line tool to obey.
        let connector = Connector::builder()
            .proxy_config(ProxyConfig::from_env())
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build();
        Ok(ApprovalApi {
            base,
            region,
            credentials,
            connector,
            user_agent: format!("trainguard-cli/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// `GET /iam/approvals`: `{"pending": [...]}`.
    pub async fn list(&self) -> Result<Value, Failure> {
        let url = route_url(&self.base, &["iam", "approvals"]);
        self.call("GET", &url, None).await
    }

    /// `POST /iam/approvals/{id}/decision`. `id` must already be a valid approval id
    /// (it becomes a path segment).
    pub async fn decide(&self, id: &str, approve: bool, comment: &str) -> Result<Value, Failure> {
        let url = route_url(&self.base, &["iam", "approvals", id, "decision"]);
        let body = json!({
            "decision": if approve { "approve" } else { "reject" },
            "comment": comment,
        });
        self.call("POST", &url, Some(body.to_string().into_bytes()))
            .await
    }

    async fn call(&self, method: &str, url: &Url, body: Option<Vec<u8>>) -> Result<Value, Failure> {
        let what = format!("{method} {url}");
        match tokio::time::timeout(CALL_TIMEOUT, self.send(&what, method, url, body)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::Transient(format!(
                "{what}: no reply within {} s (`trainguard approvals list` shows whether it is still pending)",
                CALL_TIMEOUT.as_secs()
            ))
            .into()),
        }
    }

    async fn send(
        &self,
        what: &str,
        method: &str,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<Value, Failure> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| credentials_error(&e))?;
        let req = signed_request(
            method,
            url,
            body,
            &self.user_agent,
            &credentials,
            &self.region,
            SystemTime::now(),
        )?;
        let req = HttpRequest::try_from(req.map(SdkBody::from))
            .map_err(|e| ApiError::Misconfigured(format!("{what}: {e}")))?;
        let reply = self
            .connector
            .call(req)
            .await
            .map_err(|e| connector_error(what, &e))?;
        let status = reply.status().as_u16();
        let mut stream = ByteStream::new(reply.into_body());
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::Transient(format!(
                    "{what}: the reply broke off: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(ApiError::Misconfigured(format!(
                    "{what}: the reply is over {} MB: is the API URL the approval API?",
                    MAX_REPLY_BYTES >> 20
                ))
                .into());
            }
            bytes.extend_from_slice(&chunk);
        }
        classify(what, status, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_https_except_on_loopback() {
        for ok in [
            "https://abc123.execute-api.eu-west-1.amazonaws.com",
            "https://abc123.execute-api.eu-west-1.amazonaws.com/",
            "https://approvals.example.com/prod",
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:9000",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "  ",
            "abc123.execute-api.eu-west-1.amazonaws.com",
            "http://abc123.execute-api.eu-west-1.amazonaws.com",
            "http://10.0.0.1:8080",
            "ftp://approvals.example.com",
            "https://user:pw@approvals.example.com",
            "https://approvals.example.com/?stage=prod",
            "file:///tmp/x",
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert_eq!(e.error_name(), "Approval.Misconfigured", "{bad}");
            assert!(e.to_string().contains("TRAINGUARD_APPROVAL_API_URL"), "{e}");
        }
    }

    #[test]
    fn region_comes_from_execute_api_host_names() {
        let r = |h: &str| region_from_host(h);
        assert_eq!(
            r("abc123.execute-api.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            r("abc123.execute-api.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(
            r("abc123-vpce-0a1b.execute-api.us-east-2.vpce.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(r("approvals.example.com"), None);
        assert_eq!(r("execute-api.eu-west-1.amazonaws.com"), None);
        assert_eq!(r("abc.execute-api.example.com"), None);
        assert_eq!(r("127.0.0.1"), None);
    }

    #[test]
    fn routes_keep_a_stage_path() {
        let base = parse_base_url("https://a.example.com/prod/").unwrap();
        assert_eq!(
            route_url(&base, &["iam", "approvals"]).as_str(),
            "https://a.example.com/prod/iam/approvals"
        );
        let root = parse_base_url("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            route_url(&root, &["iam", "approvals", "ab12", "decision"]).as_str(),
            "http://127.0.0.1:9000/iam/approvals/ab12/decision"
        );
    }

    #[test]
    fn requests_are_signed_for_execute_api() {
        let url = parse_base_url("http://127.0.0.1:9000").unwrap();
        let url = route_url(&url, &["iam", "approvals"]);
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let req = signed_request("GET", &url, None, "ua/1", &creds, "eu-west-1", at).unwrap();
        let h = |k: &str| {
            req.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(h("host"), "127.0.0.1:9000");
        assert_eq!(h("x-amz-date"), "20261118T110640Z");
        let auth = h("authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261118/eu-west-1/execute-api/aws4_request, SignedHeaders="
            ),
            "{auth}"
        );
        assert!(
            auth.contains("host;") && !auth.contains("user-agent"),
            "{auth}"
        );
        assert_eq!(
            h("x-amz-security-token"),
            "",
            "long-term keys carry no token"
        );
        // The same input signs the same way; a different body does not.
        let again = signed_request("GET", &url, None, "ua/1", &creds, "eu-west-1", at).unwrap();
        assert_eq!(
            again.headers().get("authorization"),
            req.headers().get("authorization")
        );
        let post = signed_request(
            "POST",
            &url,
            Some(b"{}".to_vec()),
            "ua/1",
            &creds,
            "eu-west-1",
            at,
        )
        .unwrap();
        assert_ne!(
            post.headers().get("authorization"),
            req.headers().get("authorization")
        );
        assert_eq!(post.headers()["content-type"], "application/json");
        assert_eq!(post.headers()["content-length"], "2");
        // Temporary credentials add (and sign) their session token.
        let temp = Credentials::new("ASIA", "secret", Some("tok".into()), None, "test");
        let req = signed_request("GET", &url, None, "ua/1", &temp, "eu-west-1", at).unwrap();
        assert_eq!(req.headers()["x-amz-security-token"], "tok");
        assert!(req.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("x-amz-security-token"));
    }

    #[test]
    fn replies_sort_into_documents_refusals_and_errors() {
        let c = |status, body: &str| classify("GET x", status, body.as_bytes());
        assert_eq!(
            c(200, r#"{"pending": []}"#).unwrap(),
            json!({"pending": []})
        );
        let refused = |r: Result<Value, Failure>| match r {
            Err(Failure::Refused(r)) => r,
            other => panic!("not a refusal: {other:?}"),
        };
        let error = |r: Result<Value, Failure>| match r {
            Err(Failure::Error(e)) => e,
            other => panic!("not an error: {other:?}"),
        };
        assert_eq!(
            refused(c(
                403,
                r#"{"error": "not_an_approver", "message": "You are not"}"#
            )),
            Refused {
                code: "not_an_approver".into(),
                http_status: 403,
                message: "You are not".into()
            }
        );
        assert_eq!(
            refused(c(409, r#"{"error": "already_decided", "message": "m"}"#)).code,
            "already_decided"
        );
        // API Gateway's own refusal: a message, no code.
        let gw = refused(c(
            403,
            r#"{"message": "The request signature we calculated does not match"}"#,
        ));
        assert_eq!((gw.code.as_str(), gw.http_status), ("access_denied", 403));
        assert!(gw.message.contains("signature"));
        assert_eq!(refused(c(401, "")).code, "access_denied");
        assert_eq!(refused(c(400, "oops")).code, "http_400");
        assert_eq!(refused(c(400, "oops")).message, "oops");
        // Retryable: throttling, 5xx (also the service's own `unavailable`).
        for (s, b) in [
            (429, r#"{"message": "Too Many Requests"}"#),
            (
                503,
                r#"{"error": "unavailable", "message": "Nothing was decided"}"#,
            ),
            (504, r#"{"message": "Endpoint request timed out"}"#),
            (500, "<html>"),
        ] {
            assert_eq!(error(c(s, b)).error_name(), "Transient.Throttled", "{s}");
        }
        // The wrong URL: no route, or not JSON.
        assert_eq!(
            error(c(404, r#"{"message": "Not Found"}"#)).error_name(),
            "Approval.Misconfigured"
        );
        assert_eq!(
            error(c(200, "<html>hello</html>")).error_name(),
            "Approval.Misconfigured"
        );
        assert_eq!(error(c(200, "[1]")).error_name(), "Approval.Misconfigured");
        let long = "x".repeat(1000);
        assert!(refused(c(400, &long)).message.chars().count() <= 301);
    }
}
