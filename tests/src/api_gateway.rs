//! A local stand-in for API Gateway (HTTP API, payload v2) in front of routes with the
//! `AWS_IAM` authorizer, so the real `trainguard` binary can call the approval handler
//! the way it calls it in AWS.
//!
//! Each request is handled as API Gateway does:
//! 1. **Route**: `METHOD /path` must match one of the configured routes (`{name}` matches
//!    one path segment); otherwise 404 `{"message": "Not Found"}`.
//! 2. **Authenticate** ([`IamGateway::authenticate`]): the `Authorization` header must be
//!    SigV4 (`AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request,
//!    SignedHeaders=..., Signature=...`), scoped to this gateway's region and service,
//!    `x-amz-date` within 5 minutes, the access key known. The signature is then
//!    recomputed with `aws-sigv4` from the key's secret over exactly the headers the
//!    client listed, the method, path, query and body, and compared in constant time.
//!    Any failure is a 403 `{"message": ...}` with API Gateway's wording, and the function
//!    is never invoked.
//! 3. **Invoke**: the request becomes a payload-v2 event whose
//!    `requestContext.authorizer.iam` names the key's IAM principal (`accountId`,
//!    `userArn`, `userId`, `callerId`, `accessKey`) and whose `requestContext.apiId` is
//!    the configured API id; the function's proxy response (`statusCode`, `headers`,
//!    `body`, `isBase64Encoded`) becomes the HTTP reply, a function error a 500.
//!
//! Not modelled: IAM policy evaluation (every known key may invoke every route; the
//! approver list is the authorization under test) and temporary credentials (a request
//! with `x-amz-security-token` is refused as an invalid token).
//!
//! The keys come from moto's IAM ([`create_iam_user`]): the user and its access key
//! exist there, and the stand-in knows the secret because it was handed the
//! CreateAccessKey reply, as API Gateway's signature check knows it inside AWS.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::http_client;
use crate::lambda_router::{bind_loopback, serve, RawRequest, Response};
use crate::MotoServer;

/// The SigV4 service name API Gateway's invoke API expects.
pub const SERVICE: &str = "execute-api";

/// How far `x-amz-date` may be from the gateway's clock (AWS allows 5 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// An IAM access key and the principal it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `arn:aws:iam::<account>:user/<name>`.
    pub user_arn: String,
    /// The unique id (`AIDA...`).
    pub user_id: String,
    pub account_id: String,
}

/// The configured stand-in (see the module docs).
#[derive(Debug, Clone)]
pub struct IamGateway {
    pub api_id: String,
    pub region: String,
    /// The account that owns the API.
    pub account_id: String,
    /// `(METHOD, /path/{param})`.
    routes: Vec<(String, String)>,
    keys: HashMap<String, AccessKey>,
}

/// A running stand-in.
#[derive(Debug, Clone)]
pub struct RunningGateway {
    /// `http://127.0.0.1:<port>`: the API's base URL.
    pub url: String,
    /// Every event handed to the function, in order (refused requests never get here).
    pub forwarded: Arc<Mutex<Vec<Value>>>,
}

fn forbidden(message: &str) -> Response {
    let mut r = Response::json(403, &json!({ "message": message }));
    r.headers
        .push(("x-amzn-ErrorType".into(), "ForbiddenException".into()));
    r
}

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// `20261122T101500Z` → a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let t = NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok()?;
    Some(SystemTime::from(t.and_utc()))
}

/// The `k=v` parts of a SigV4 `Authorization` header.
fn parse_authorization(h: &str) -> Option<HashMap<String, String>> {
    let rest = h.trim().strip_prefix("AWS4-HMAC-SHA256 ")?;
    Some(
        rest.split(',')
            .filter_map(|p| p.trim().split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    )
}

/// The path parameters when `path` matches `template` (`/a/{id}/b`).
fn match_route(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (t, p) in t.iter().zip(&p) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_string(), p.to_string());
            }
            None if t == p => {}
            None => return None,
        }
    }
    Some(params)
}

/// Signs requests as an AWS client would (SigV4, default settings), for tests that build
/// requests by hand (moto's IAM, requests to the stand-in).
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl Signer<'_> {
    /// The headers to add (`x-amz-date`, `authorization`) to a request to the absolute
    /// `url` carrying `headers` (include `host`) and `body`, signed at `time`.
    pub fn headers(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Vec<(String, String)> {
        let identity: Identity = Credentials::new(
            self.access_key_id,
            self.secret_access_key,
            None,
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable request");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl IamGateway {
    /// A gateway for API `api_id` in `region`, owned by moto's default account.
    pub fn new(api_id: &str, region: &str) -> Self {
        IamGateway {
            api_id: api_id.into(),
            region: region.into(),
            account_id: "123456789012".into(),
            routes: Vec::new(),
            keys: HashMap::new(),
        }
    }

    /// Add a route with the `AWS_IAM` authorizer (`"POST"`, `"/iam/approvals/{id}/decision"`).
    pub fn route(mut self, method: &str, template: &str) -> Self {
        self.routes
            .push((method.to_ascii_uppercase(), template.to_string()));
        self
    }

    /// Make an access key known to the signature check.
    pub fn key(mut self, key: AccessKey) -> Self {
        self.keys.insert(key.access_key_id.clone(), key);
        self
    }

    /// The route (`routeKey`, path parameters) for a request, if any.
    fn find_route(&self, method: &str, path: &str) -> Option<(String, HashMap<String, String>)> {
        self.routes.iter().find_map(|(m, t)| {
            (m.eq_ignore_ascii_case(method))
                .then(|| match_route(t, path))
                .flatten()
                .map(|params| (format!("{m} {t}"), params))
        })
    }

    /// Verify the request's SigV4 signature at time `now`: the caller, or API Gateway's
    /// 403 reply.
    pub fn authenticate(&self, req: &RawRequest, now: SystemTime) -> Result<&AccessKey, Response> {
        let Some(auth) = req.header("authorization") else {
            return Err(forbidden("Forbidden"));
        };
        let Some(parts) = parse_authorization(auth) else {
            return Err(forbidden(
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256).",
            ));
        };
        let (Some(credential), Some(signed), Some(signature)) = (
            parts.get("Credential"),
            parts.get("SignedHeaders"),
            parts.get("Signature"),
        ) else {
            return Err(forbidden(
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
            ));
        };
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, "aws4_request"] = scope[..] else {
            return Err(forbidden(&format!(
                "Credential should be scoped to a valid region, service and 'aws4_request' ({credential})."
            )));
        };
        if region != self.region {
            return Err(forbidden(&format!(
                "Credential should be scoped to a valid region, not '{region}'."
            )));
        }
        if service != SERVICE {
            return Err(forbidden(&format!(
                "Credential should be scoped to correct service: '{SERVICE}'."
            )));
        }
        let Some(amz_date) = req.header("x-amz-date") else {
            return Err(forbidden(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ));
        };
        let Some(at) = parse_amz_date(amz_date) else {
            return Err(forbidden(&format!("Invalid X-Amz-Date: {amz_date}.")));
        };
        let skew = match now.duration_since(at) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > MAX_SKEW {
            return Err(forbidden(&format!(
                "Signature expired or not yet current: {amz_date} is more than 5 minutes from the server's time."
            )));
        }
        if !amz_date.starts_with(date) {
            return Err(forbidden(&format!(
                "Credential should be scoped to a valid date: '{date}' is not the date of X-Amz-Date."
            )));
        }
        let Some(key) = self.keys.get(key_id) else {
            return Err(forbidden(INVALID_TOKEN));
        };
        if req.header("x-amz-security-token").is_some() {
            return Err(forbidden(INVALID_TOKEN));
        }
        let signed: Vec<String> = signed.split(';').map(|h| h.to_ascii_lowercase()).collect();
        let Some(host) = req.header("host").filter(|h| !h.trim().is_empty()) else {
            return Err(forbidden("Missing Host header."));
        };
        if !signed.iter().any(|h| h == "host") {
            return Err(forbidden(SIGNATURE_MISMATCH));
        }
        // Exactly the headers the client signed, with the values received.
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .filter(|(k, _)| signed.contains(&k.to_ascii_lowercase()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = format!("http://{host}{}", req.path);
        let identity: Identity = Credentials::new(
            key.access_key_id.clone(),
            key.secret_access_key.clone(),
            None,
            None,
            "api-gateway-stand-in",
        )
        .into();
        let mut settings = SigningSettings::default();
        // Sign what the client listed, nothing more and nothing less.
        settings.excluded_headers = Some(Vec::new());
        let Ok(params) = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(at)
            .settings(settings)
            .build()
        else {
            return Err(forbidden(SIGNATURE_MISMATCH));
        };
        let params = params.into();
        let expected = SignableRequest::new(
            &req.method,
            url,
            headers.into_iter(),
            SignableBody::Bytes(&req.body),
        )
        .ok()
        .and_then(|s| sign(s, &params).ok())
        .map(|out| out.signature().to_string());
        match expected {
            Some(e) if trainguard::approval::constant_time_eq(&e, signature) => Ok(key),
            _ => Err(forbidden(SIGNATURE_MISMATCH)),
        }
    }

    /// The payload-v2 event API Gateway would send the function for an authenticated
    /// request.
    pub fn event(
        &self,
        req: &RawRequest,
        caller: &AccessKey,
        route_key: &str,
        params: &HashMap<String, String>,
        peer: SocketAddr,
    ) -> Value {
        let (path, query) = req.path.split_once('?').unwrap_or((req.path.as_str(), ""));
        let mut headers = serde_json::Map::new();
        for (k, v) in &req.headers {
            let k = k.to_ascii_lowercase();
            let joined = match headers.get(&k).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{v}"),
                None => v.clone(),
            };
            headers.insert(k, json!(joined));
        }
        let host = req.header("host").unwrap_or("127.0.0.1");
        let domain = host.split(':').next().unwrap_or(host);
        let now: DateTime<Utc> = Utc::now();
        let request_id = format!("{:016x}", rand::random::<u64>());
        let (body, is_base64) = match std::str::from_utf8(&req.body) {
            Ok(text) => (json!(text), false),
            Err(_) => (json!(aws_smithy_types::base64::encode(&req.body)), true),
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": domain,
                "domainPrefix": domain.split('.').next().unwrap_or(domain),
                "http": {
                    "method": req.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": peer.ip().to_string(),
                    "userAgent": req.header("user-agent").unwrap_or(""),
                },
                "requestId": request_id,
                "routeKey": route_key,
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
                "timeEpoch": now.timestamp_millis(),
                "authorizer": {"iam": {
                    "accessKey": caller.access_key_id,
                    "accountId": caller.account_id,
                    "callerId": caller.user_id,
                    "cognitoIdentity": null,
                    "principalOrgId": null,
                    "userArn": caller.user_arn,
                    "userId": caller.user_id,
                }},
            },
            "isBase64Encoded": is_base64,
        });
        if !params.is_empty() {
            event["pathParameters"] = json!(params);
        }
        if !req.body.is_empty() {
            event["body"] = body;
        }
        event
    }

    /// Answer one request (route, authenticate, invoke).
    async fn handle<F, Fut>(
        &self,
        req: RawRequest,
        peer: SocketAddr,
        function: &F,
        forwarded: &Mutex<Vec<Value>>,
    ) -> Response
    where
        F: Fn(Value) -> Fut,
        Fut: Future<Output = Result<Value, String>>,
    {
        let path = req.path.split('?').next().unwrap_or("");
        let Some((route_key, params)) = self.find_route(&req.method, path) else {
            return Response::json(404, &json!({"message": "Not Found"}));
        };
        let caller = match self.authenticate(&req, SystemTime::now()) {
            Ok(k) => k,
            Err(refusal) => return refusal,
        };
        let event = self.event(&req, caller, &route_key, &params, peer);
        forwarded.lock().unwrap().push(event.clone());
        let out = match function(event).await {
            Ok(out) => out,
            Err(_) => return Response::json(500, &json!({"message": "Internal Server Error"})),
        };
        let raw = out["body"].as_str().unwrap_or("");
        let body = if out["isBase64Encoded"].as_bool().unwrap_or(false) {
            aws_smithy_types::base64::decode(raw).unwrap_or_default()
        } else {
            raw.as_bytes().to_vec()
        };
        let headers = out["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Response {
            status: out["statusCode"].as_u64().unwrap_or(500) as u16,
            headers,
            body,
        }
    }

    /// Serve on a free loopback port in the background, invoking `function` (the Lambda
    /// handler: its event in, its proxy response or error out) for authenticated requests.
    pub async fn start<F, Fut>(self, function: F) -> RunningGateway
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let listener = bind_loopback().await;
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let forwarded = Arc::new(Mutex::new(Vec::new()));
        let gateway = Arc::new(self);
        let function = Arc::new(function);
        let seen = forwarded.clone();
        serve(listener, move |req, peer| {
            let (gateway, function, seen) = (gateway.clone(), function.clone(), seen.clone());
            async move { gateway.handle(req, peer, function.as_ref(), &seen).await }
        });
        RunningGateway { url, forwarded }
    }
}

/// The text of the first `<tag>...</tag>` in an XML reply.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

/// One IAM Query API call on moto, signed with moto's test credentials.
async fn iam_call(moto: &MotoServer, params: &[(&str, &str)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.append_pair("Version", "2010-05-08");
    let body = form.finish();
    let host = format!("127.0.0.1:{}", moto.port);
    let ctype = "application/x-www-form-urlencoded; charset=utf-8";
    let signer = Signer {
        access_key_id: "testing",
        secret_access_key: "testing",
        region: "us-east-1",
        service: "iam",
    };
    let signing = signer.headers(
        "POST",
        &format!("http://{host}/"),
        &[("host", &host), ("content-type", ctype)],
        body.as_bytes(),
        SystemTime::now(),
    );
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", ctype)];
    headers.extend(signing.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let reply = http_client::request(&moto.endpoint, "POST", "/", &headers, Some(&body)).await;
    assert_eq!(reply.status, 200, "moto IAM {params:?}: {}", reply.raw);
    reply.body
}

/// Create IAM user `name` in moto and an access key for it.
pub async fn create_iam_user(moto: &MotoServer, name: &str) -> AccessKey {
    let user = iam_call(moto, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let key = iam_call(moto, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    let user_arn = xml_text(&user, "Arn").expect("CreateUser: Arn");
    AccessKey {
        access_key_id: xml_text(&key, "AccessKeyId").expect("CreateAccessKey: AccessKeyId"),
        secret_access_key: xml_text(&key, "SecretAccessKey")
            .expect("CreateAccessKey: SecretAccessKey"),
        account_id: user_arn.split(':').nth(4).unwrap_or_default().to_string(),
        user_id: xml_text(&user, "UserId").expect("CreateUser: UserId"),
        user_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccessKey {
        AccessKey {
            access_key_id: "AKIATEST".into(),
            secret_access_key: "s3cr3t".into(),
            user_arn: "arn:aws:iam::123456789012:user/rev".into(),
            user_id: "AIDATEST".into(),
            account_id: "123456789012".into(),
        }
    }

    fn signer(secret: &str) -> Signer<'_> {
        Signer {
            access_key_id: "AKIATEST",
            secret_access_key: secret,
            region: "us-east-1",
            service: SERVICE,
        }
    }

    fn gateway() -> IamGateway {
        IamGateway::new("api", "us-east-1")
            .route("GET", "/iam/approvals")
            .route("POST", "/iam/approvals/{id}/decision")
            .key(key())
    }

    /// A request signed with `secret` at `time` (the body may be changed afterwards).
    fn signed(method: &str, path: &str, body: &str, secret: &str, time: SystemTime) -> RawRequest {
        let host = "127.0.0.1:1234";
        let mut headers = vec![
            ("host".to_string(), host.to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), "test/1".to_string()),
        ];
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let extra = signer(secret).headers(
            method,
            &format!("http://{host}{path}"),
            &h,
            body.as_bytes(),
            time,
        );
        headers.extend(extra);
        RawRequest {
            method: method.into(),
            path: path.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn message(r: Response) -> (u16, String) {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        (r.status, v["message"].as_str().unwrap().to_string())
    }

    #[test]
    fn a_correct_signature_names_the_caller() {
        let g = gateway();
        let now = SystemTime::now();
        let req = signed(
            "POST",
            "/iam/approvals/ab/decision",
            r#"{"decision":"approve"}"#,
            "s3cr3t",
            now,
        );
        assert_eq!(g.authenticate(&req, now).unwrap().user_arn, key().user_arn);
        // User-Agent is not signed (proxies change it): changing it is harmless.
        let mut ua = req.clone();
        ua.headers[2].1 = "other/2".into();
        assert!(g.authenticate(&ua, now).is_ok());
        // 4 minutes of clock skew is fine.
        assert!(g.authenticate(&req, now + Duration::from_secs(240)).is_ok());
        let (route, params) = g.find_route("POST", "/iam/approvals/ab/decision").unwrap();
        let ev = g.event(
            &req,
            &key(),
            &route,
            &params,
            "127.0.0.1:5".parse().unwrap(),
        );
        assert_eq!(ev["routeKey"], "POST /iam/approvals/{id}/decision");
        assert_eq!(ev["pathParameters"]["id"], "ab");
        assert_eq!(ev["requestContext"]["apiId"], "api");
        assert_eq!(
            ev["requestContext"]["authorizer"]["iam"]["userArn"],
            key().user_arn
        );
        assert_eq!(ev["requestContext"]["http"]["userAgent"], "test/1");
        assert_eq!(ev["body"], r#"{"decision":"approve"}"#);
        let typed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(ev).unwrap();
        assert_eq!(typed.request_context.http.method, http::Method::POST);
    }

    #[test]
    fn anything_else_is_refused_like_api_gateway() {
        let g = gateway();
        let now = SystemTime::now();
        let good = signed(
            "POST",
            "/iam/approvals/ab/decision",
            r#"{"decision":"reject"}"#,
            "s3cr3t",
            now,
        );
        let refuse = |r: &RawRequest, at: SystemTime| message(g.authenticate(r, at).unwrap_err());

        let wrong_secret = signed(
            "POST",
            "/iam/approvals/ab/decision",
            r#"{"decision":"reject"}"#,
            "guess",
            now,
        );
        assert_eq!(refuse(&wrong_secret, now), (403, SIGNATURE_MISMATCH.into()));

        let mut body = good.clone();
        body.body = br#"{"decision":"approve"}"#.to_vec();
        assert_eq!(
            refuse(&body, now).1,
            SIGNATURE_MISMATCH,
            "the body is signed"
        );

        let mut path = good.clone();
        path.path = "/iam/approvals/cd/decision".into();
        assert_eq!(
            refuse(&path, now).1,
            SIGNATURE_MISMATCH,
            "the path is signed"
        );

        let mut tampered = good.clone();
        for (k, v) in tampered.headers.iter_mut() {
            if k == "authorization" {
                let last = v.pop().unwrap();
                v.push(if last == '0' { '1' } else { '0' });
            }
        }
        assert_eq!(refuse(&tampered, now).1, SIGNATURE_MISMATCH);

        let mut none = good.clone();
        none.headers.retain(|(k, _)| k != "authorization");
        assert_eq!(refuse(&none, now), (403, "Forbidden".into()));

        let mut unknown = good.clone();
        for (k, v) in unknown.headers.iter_mut() {
            if k == "authorization" {
                *v = v.replace("AKIATEST", "AKIAOTHER");
            }
        }
        assert_eq!(refuse(&unknown, now).1, INVALID_TOKEN);

        assert!(refuse(&good, now + Duration::from_secs(600))
            .1
            .contains("expired"));

        let other_region = IamGateway {
            region: "eu-west-1".into(),
            ..gateway()
        };
        let (s, m) = message(other_region.authenticate(&good, now).unwrap_err());
        assert!(s == 403 && m.contains("region"), "{m}");

        assert!(g
            .find_route("DELETE", "/iam/approvals/ab/decision")
            .is_none());
        assert!(g.find_route("GET", "/approvals").is_none());
        assert!(g.find_route("GET", "/iam/approvals").is_some());
    }

    #[tokio::test]
    async fn served_requests_reach_the_function_only_when_signed() {
        let running = gateway()
            .start(|event| async move {
                Ok(json!({"statusCode": 200, "headers": {"content-type": "application/json"},
                          "body": json!({"caller": event["requestContext"]["authorizer"]["iam"]["userArn"]}).to_string()}))
            })
            .await;
        let host = running.url.trim_start_matches("http://").to_string();
        let h = [("host", host.as_str())];
        let signing = signer("s3cr3t").headers(
            "GET",
            &format!("{}/iam/approvals", running.url),
            &h,
            b"",
            SystemTime::now(),
        );
        let headers: Vec<(&str, &str)> = signing
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ok = http_client::request(&running.url, "GET", "/iam/approvals", &headers, None).await;
        assert_eq!(ok.status, 200, "{}", ok.raw);
        assert_eq!(
            serde_json::from_str::<Value>(&ok.body).unwrap()["caller"],
            key().user_arn
        );
        let unsigned = http_client::get(&running.url, "/iam/approvals").await;
        assert_eq!(unsigned.status, 403);
        let missing = http_client::get(&running.url, "/nope").await;
        assert_eq!(missing.status, 404);
        assert_eq!(running.forwarded.lock().unwrap().len(), 1);
    }
}
