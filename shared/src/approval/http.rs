//! The HTTP routes, as API Gateway HTTP API (payload v2) events.
//!
//! - `GET  /approvals`                → JSON list of pending approvals (authenticated)
//! - `GET  /approvals/{id}`           → the HTML page (authenticated; never acts)
//! - `POST /approvals/{id}/decision`  → decide (form or JSON body)
//!
//! The caller's identity is read only from `requestContext.authorizer` (`jwt.claims` or
//! `iam.userArn` + `iam.userId`); API Gateway puts it there after its authorizer checked
//! the caller. That is only worth something when the event came from *our* API, so an
//! event whose `requestContext.apiId` is not `TRAINGUARD_APPROVAL_API_ID` (or with that
//! unset) is refused before the identity is read. JWT callers (browsers) must also pass
//! the cross-site checks (`Origin` / `Sec-Fetch-Site` against
//! `TRAINGUARD_APPROVAL_BASE_URL`, see [`cross_site_check`]) and the per-approval CSRF
//! token from the page; SigV4-signed IAM callers cannot be forged by another site and
//! skip both. The page of an approval is shown only to its approvers; anyone else gets
//! the unknown-id page, so ids of other teams' approvals cannot be confirmed.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext};
use chrono::Utc;
use serde_json::{json, Value};

use super::identity::{Identity, IdentityKind};
use super::model::{is_valid_id, Decision};
use super::page::{render_page, PageContext};
use super::service::{ApprovalService, DecideRequest, Refusal, Via};
use super::ApprovalConfig;
use crate::aws::Aws;

/// True when the event is an API Gateway HTTP API (v2) request.
pub fn is_http_event(v: &Value) -> bool {
    v.get("requestContext")
        .and_then(|c| c.get("http"))
        .is_some()
}

/// A payload-v2 proxy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl HttpResponse {
    fn new(status: u16, content_type: &str, body: String) -> Self {
        let mut headers = BTreeMap::new();
        headers.insert("content-type".into(), content_type.into());
        headers.insert("cache-control".into(), "no-store".into());
        headers.insert("x-content-type-options".into(), "nosniff".into());
        // `same-origin`, not `no-referrer`: with no-referrer Chrome sends `Origin: null` on
        // the form post, which the cross-site check must refuse. Cross-origin links (the
        // presigned S3 URLs) still get no Referer.
        headers.insert("referrer-policy".into(), "same-origin".into());
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    fn json(status: u16, v: Value) -> Self {
        Self::new(status, "application/json", v.to_string())
    }

    fn html(status: u16, body: String, base_origin: Option<&str>) -> Self {
        let mut r = Self::new(status, "text/html; charset=utf-8", body);
        let form_action = match base_origin {
            Some(o) => format!("'self' {o}"),
            None => "'self'".into(),
        };
        r.headers.insert(
            "content-security-policy".into(),
            format!(
                "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
        );
        r.headers.insert("x-frame-options".into(), "DENY".into());
        r
    }

    fn redirect(location: &str) -> Self {
        let mut r = Self::new(303, "text/plain; charset=utf-8", String::new());
        r.headers.insert("location".into(), location.into());
        r
    }

    /// The JSON the Lambda returns to API Gateway.
    pub fn to_value(&self) -> Value {
        json!({
            "statusCode": self.status,
            "headers": self.headers,
            "body": self.body,
            "isBase64Encoded": false,
        })
    }
}

/// The authenticated caller from the request context, if any.
pub fn identity_from_context(ctx: &ApiGatewayV2httpRequestContext) -> Option<Identity> {
    let auth = ctx.authorizer.as_ref()?;
    if let Some(jwt) = &auth.jwt {
        if let Some(id) = Identity::from_jwt_claims(&jwt.claims) {
            return Some(id);
        }
    }
    let iam = auth.iam.as_ref()?;
    Identity::from_iam(
        iam.user_arn.as_deref()?,
        iam.user_id.as_deref(),
        IdentityKind::Iam,
    )
}

/// Why the event is not from the configured API, if it is not. The authorizer context is
/// only as trustworthy as the API that filled it in: anyone allowed to invoke the function
/// directly, or another API wired to it, could write any claims there. Unset: refuse all.
fn foreign_api(config: &ApprovalConfig, ctx: &ApiGatewayV2httpRequestContext) -> Option<String> {
    let Some(want) = config.api_id.as_deref().filter(|a| !a.trim().is_empty()) else {
        return Some("TRAINGUARD_APPROVAL_API_ID is not set".into());
    };
    match ctx.apiid.as_deref() {
        Some(got) if got == want => None,
        Some(got) => Some(format!("apiId {got:?} is not the configured API")),
        None => Some("the event has no apiId".into()),
    }
}

/// Refuse a browser post unless it provably comes from the page's own origin.
///
/// Fail closed: `Origin` (browsers send it on every POST) must be present and equal the
/// base URL's origin (ASCII case-insensitive), and `Sec-Fetch-Site`, when sent, must be
/// `same-origin`. A header value that is not visible ASCII is a refusal, not an absent
/// header, and without a base origin nothing passes. Only for JWT (browser) callers: a
/// non-browser client should use IAM (SigV4) authorization, which cannot be forged.
pub fn cross_site_check(
    headers: &http::HeaderMap,
    base_origin: Option<&str>,
) -> Result<(), String> {
    let base = base_origin.ok_or("no base URL is configured to compare the Origin with")?;
    let origin = header(headers, "origin")?.ok_or("no Origin header")?;
    if !origin.eq_ignore_ascii_case(base) {
        return Err(format!("Origin {origin} is not {base}"));
    }
    if let Some(site) = header(headers, "sec-fetch-site")? {
        if !site.eq_ignore_ascii_case("same-origin") {
            return Err(format!("Sec-Fetch-Site is {site}"));
        }
    }
    Ok(())
}

/// A header's trimmed value: `Ok(None)` when absent, an error when it is not visible ASCII
/// (an unreadable value must not pass as a missing one).
fn header<'h>(headers: &'h http::HeaderMap, name: &str) -> Result<Option<&'h str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| format!("the {name} header is not visible ASCII")),
    }
}

/// The decision form, from a url-encoded or JSON body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecisionForm {
    pub decision: Option<String>,
    pub comment: String,
    pub csrf_token: Option<String>,
}

/// Decode the body (base64 when API Gateway says so).
pub fn parse_decision_body(req: &ApiGatewayV2httpRequest) -> Result<(DecisionForm, bool), String> {
    let raw = req.body.clone().unwrap_or_default();
    let bytes = if req.is_base64_encoded {
        aws_smithy_types::base64::decode(raw.trim())
            .map_err(|e| format!("the body is not valid base64: {e}"))?
    } else {
        raw.into_bytes()
    };
    let ctype = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let mut f = DecisionForm::default();
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            match k.as_ref() {
                "decision" => f.decision = Some(v.into_owned()),
                "comment" => f.comment = v.into_owned(),
                "csrf_token" => f.csrf_token = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok((f, true))
    } else if ctype.starts_with("application/json") || ctype.is_empty() {
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok((
            DecisionForm {
                decision: s("decision"),
                comment: s("comment").unwrap_or_default(),
                csrf_token: s("csrf_token"),
            },
            false,
        ))
    } else {
        Err(format!("unsupported content type {ctype:?}"))
    }
}

enum Route {
    List,
    Page(String),
    Decision(String),
    Other,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(pos) = segs.iter().position(|s| *s == "approvals") else {
        return Route::Other;
    };
    match &segs[pos + 1..] {
        [] => Route::List,
        [id] => Route::Page(id.to_string()),
        [id, "decision"] => Route::Decision(id.to_string()),
        _ => Route::Other,
    }
}

fn message_page(
    status: u16,
    title: &str,
    message: &str,
    base_origin: Option<&str>,
) -> HttpResponse {
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } }
            body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto" {
                h1 { (title) }
                p #message { (message) }
            }
        }
    };
    HttpResponse::html(status, page.into_string(), base_origin)
}

/// The page for an unknown id, and for an approval the viewer may not see.
fn unknown_page(base_origin: Option<&str>) -> HttpResponse {
    message_page(
        404,
        "Unknown approval",
        &Refusal::UnknownId.message(),
        base_origin,
    )
}

fn refusal_response(r: &Refusal, html: bool, base_origin: Option<&str>) -> HttpResponse {
    if html {
        message_page(r.status(), "Not done", &r.message(), base_origin)
    } else {
        HttpResponse::json(
            r.status(),
            json!({"error": r.code(), "message": r.message()}),
        )
    }
}

/// Handle one HTTP API event.
pub async fn handle<A: Aws>(service: &ApprovalService<A>, event: Value) -> HttpResponse {
    let base_origin = service.config.base_origin();
    let base_origin = base_origin.as_deref();
    let req: ApiGatewayV2httpRequest = match serde_json::from_value(event) {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::json(
                400,
                json!({"error": "bad_request", "message": format!("not an HTTP API v2 event: {e}")}),
            )
        }
    };
    let method = req
        .request_context
        .http
        .method
        .as_str()
        .to_ascii_uppercase();
    let path = req
        .raw_path
        .clone()
        .or_else(|| req.request_context.http.path.clone())
        .unwrap_or_default();
    let source_ip = req.request_context.http.source_ip.clone();
    let user_agent = req.request_context.http.user_agent.clone();
    let wants_html = req
        .headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .map(|a| a.contains("text/html"))
        .unwrap_or(false);
    // Before the identity is read: from another API it means nothing.
    if let Some(why) = foreign_api(&service.config, &req.request_context) {
        let mut refusal = Refusal::ForeignApi(why);
        if let ("POST", Route::Decision(id)) = (method.as_str(), route(&path)) {
            let d = DecideRequest::undecided(id, None, source_ip, user_agent);
            refusal = service.refuse(&d, refusal).await;
        }
        return refusal_response(&refusal, wants_html, base_origin);
    }
    let identity = identity_from_context(&req.request_context);

    match (method.as_str(), route(&path)) {
        ("GET", Route::List) => {
            if identity.is_none() {
                return refusal_response(&Refusal::Unauthenticated, false, base_origin);
            }
            match service.list_pending(identity.as_ref()).await {
                Ok(list) => HttpResponse::json(200, json!({"pending": list})),
                Err(e) => HttpResponse::json(
                    503,
                    json!({"error": "unavailable", "message": e.to_string()}),
                ),
            }
        }
        ("GET", Route::Page(id)) => page(service, &id, identity.as_ref(), base_origin).await,
        ("POST", Route::Decision(id)) => {
            let (form, is_form) = match parse_decision_body(&req) {
                Ok(f) => f,
                Err(why) => {
                    let d = DecideRequest::undecided(id, identity, source_ip, user_agent);
                    let r = service.refuse(&d, Refusal::BadRequest(why)).await;
                    return refusal_response(&r, wants_html, base_origin);
                }
            };
            let html = is_form || wants_html;
            let is_jwt = identity
                .as_ref()
                .map(|i| i.kind == IdentityKind::Jwt)
                .unwrap_or(false);
            let decide = DecideRequest {
                approval_id: id.clone(),
                decision: form.decision.as_deref().and_then(Decision::parse),
                comment: form.comment.trim().to_string(),
                // Browsers (JWT) need the page's CSRF token; SigV4 callers cannot be forged.
                csrf_token: is_jwt.then(|| form.csrf_token.clone()),
                identity,
                source_ip,
                user_agent,
                via: Via::Http,
            };
            if decide.identity.is_none() {
                let r = service.refuse(&decide, Refusal::Unauthenticated).await;
                return refusal_response(&r, html, base_origin);
            }
            if is_jwt {
                if let Err(why) = cross_site_check(&req.headers, base_origin) {
                    let r = service.refuse(&decide, Refusal::CrossSite(why)).await;
                    return refusal_response(&r, html, base_origin);
                }
            }
            match service.decide(decide).await {
                Ok(out) if is_form => match service.config.page_url(&out.approval_id) {
                    Ok(url) => HttpResponse::redirect(&url),
                    Err(_) => HttpResponse::redirect(&format!("../{}", out.approval_id)),
                },
                Ok(out) => HttpResponse::json(
                    200,
                    json!({"approval_id": out.approval_id, "status": out.status, "reviewer": out.reviewer, "decided_at": out.decided_at}),
                ),
                Err(r) => refusal_response(&r, html, base_origin),
            }
        }
        (_, Route::Other) => HttpResponse::json(
            404,
            json!({"error": "not_found", "message": format!("no route for {method} {path}")}),
        ),
        (m, _) => {
            let mut r = HttpResponse::json(
                405,
                json!({"error": "method_not_allowed", "message": format!("{m} is not allowed here")}),
            );
            r.headers.insert(
                "allow".into(),
                if path.ends_with("/decision") {
                    "POST"
                } else {
                    "GET"
                }
                .into(),
            );
            r
        }
    }
}

async fn page<A: Aws>(
    service: &ApprovalService<A>,
    id: &str,
    identity: Option<&Identity>,
    base_origin: Option<&str>,
) -> HttpResponse {
    let Some(viewer) = identity else {
        return message_page(
            401,
            "Sign in required",
            &Refusal::Unauthenticated.message(),
            base_origin,
        );
    };
    if !is_valid_id(id) {
        return unknown_page(base_origin);
    }
    let rec = match service.load(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return unknown_page(base_origin),
        Err(e) => {
            return message_page(
                503,
                "Unavailable",
                &format!("The approval could not be read: {e}"),
                base_origin,
            )
        }
    };
    // Not an approver of this one: the same answer as an unknown id (existence is not
    // revealed). The starter may still look; the decision is refused later.
    if !viewer.may_approve(&rec.approvers) {
        return unknown_page(base_origin);
    }
    let links = service.report_links(&rec).await;
    let form_action = match service.config.page_url(id) {
        Ok(u) => format!("{u}/decision"),
        Err(_) => format!("{id}/decision"),
    };
    let ctx = PageContext {
        viewer: Some(viewer),
        links: &links,
        now: Utc::now(),
        form_action,
        link_minutes: service.config.presign_seconds / 60,
    };
    HttpResponse::html(200, render_page(&rec, &ctx), base_origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    const BASE: &str = "https://app.example.com";

    #[test]
    fn cross_site_passes_only_the_pages_own_origin() {
        for ok in [
            &[("origin", BASE)][..],
            &[("origin", "HTTPS://App.Example.com")],
            &[("origin", BASE), ("sec-fetch-site", "same-origin")],
            &[("origin", BASE), ("sec-fetch-site", "Same-Origin")],
        ] {
            assert!(cross_site_check(&headers(ok), Some(BASE)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn cross_site_fails_closed() {
        for bad in [
            &[][..],
            &[("sec-fetch-site", "same-origin")],
            &[("origin", "https://evil.example")],
            &[("origin", "https://app.example.com.evil.example")],
            &[("origin", "null")],
            &[("origin", "")],
            &[("origin", BASE), ("sec-fetch-site", "cross-site")],
            &[("origin", BASE), ("sec-fetch-site", "same-site")],
            &[("origin", BASE), ("sec-fetch-site", "none")],
        ] {
            assert!(
                cross_site_check(&headers(bad), Some(BASE)).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            cross_site_check(&headers(&[("origin", BASE)]), None).is_err(),
            "no base origin"
        );
    }

    #[test]
    fn unreadable_header_values_are_refused_not_ignored() {
        let with_raw = |name: &'static str, first: &[(&'static str, &'static str)]| {
            let mut h = headers(first);
            let raw = "https://app.example.com\u{e9}".as_bytes();
            h.insert(name, http::HeaderValue::from_bytes(raw).unwrap());
            h
        };
        let why = cross_site_check(&with_raw("origin", &[]), Some(BASE)).unwrap_err();
        assert!(why.contains("not visible ASCII"), "{why}");
        let site = with_raw("sec-fetch-site", &[("origin", BASE)]);
        assert!(cross_site_check(&site, Some(BASE)).is_err());
    }

    fn ctx(api_id: Value) -> ApiGatewayV2httpRequestContext {
        serde_json::from_value(json!({"http": {"method": "GET"}, "apiId": api_id})).unwrap()
    }

    #[test]
    fn only_the_configured_api_is_trusted() {
        let config = |api: Option<&str>| ApprovalConfig {
            api_id: api.map(str::to_string),
            ..ApprovalConfig::default()
        };
        assert_eq!(
            foreign_api(&config(Some("abc123")), &ctx(json!("abc123"))),
            None
        );
        for (api, got) in [
            (Some("abc123"), json!("other")),
            (Some("abc123"), json!("ABC123")),
            (Some("abc123"), Value::Null),
            (None, json!("abc123")),
            (Some(" "), json!(" ")),
        ] {
            assert!(
                foreign_api(&config(api), &ctx(got.clone())).is_some(),
                "{api:?} {got}"
            );
        }
    }

    fn event(v: Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn identity_from_jwt_and_iam_contexts() {
        let jwt = event(json!({
            "rawPath": "/approvals/x", "headers": {},
            "requestContext": {"http": {"method": "GET"}, "authorizer": {"jwt": {"claims": {"sub": "s1", "email": "a@b.c", "email_verified": "true"}, "scopes": null}}}
        }));
        let id = identity_from_context(&jwt.request_context).unwrap();
        assert_eq!((id.kind, id.display.as_str()), (IdentityKind::Jwt, "a@b.c"));
        let iam = event(json!({
            "rawPath": "/approvals/x", "headers": {},
            "requestContext": {"http": {"method": "GET"}, "authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/u", "userId": "AIDAEXAMPLE"}}}
        }));
        let id = identity_from_context(&iam.request_context).unwrap();
        assert_eq!(id.kind, IdentityKind::Iam);
        assert!(
            id.is_starter(Some("AWS:AIDAEXAMPLE")),
            "userId is the S3 uploader key"
        );
        let none = event(
            json!({"rawPath": "/", "headers": {}, "requestContext": {"http": {"method": "GET"}}}),
        );
        assert!(identity_from_context(&none.request_context).is_none());
    }

    #[test]
    fn bodies_form_json_and_base64() {
        let form = event(json!({
            "headers": {"content-type": "application/x-www-form-urlencoded"},
            "body": "decision=approve&comment=looks+good%21&csrf_token=abc",
            "requestContext": {"http": {"method": "POST"}}
        }));
        let (f, is_form) = parse_decision_body(&form).unwrap();
        assert!(is_form);
        assert_eq!(
            f,
            DecisionForm {
                decision: Some("approve".into()),
                comment: "looks good!".into(),
                csrf_token: Some("abc".into())
            }
        );
        let b64 = event(json!({
            "headers": {"content-type": "application/x-www-form-urlencoded"},
            "body": aws_smithy_types::base64::encode("decision=reject&comment=no"), "isBase64Encoded": true,
            "requestContext": {"http": {"method": "POST"}}
        }));
        assert_eq!(
            parse_decision_body(&b64).unwrap().0.decision.as_deref(),
            Some("reject")
        );
        let j = event(json!({
            "headers": {"content-type": "application/json"}, "body": "{\"decision\":\"approve\"}",
            "requestContext": {"http": {"method": "POST"}}
        }));
        assert!(!parse_decision_body(&j).unwrap().1);
        let bad = event(
            json!({"headers": {"content-type": "text/plain"}, "body": "x", "requestContext": {"http": {"method": "POST"}}}),
        );
        assert!(parse_decision_body(&bad).is_err());
    }

    #[test]
    fn sample_events_decode() {
        let get: Value = serde_json::from_str(include_str!(
            "../../../events/approval-handler/get-page.json"
        ))
        .unwrap();
        let post: Value = serde_json::from_str(include_str!(
            "../../../events/approval-handler/post-decision.json"
        ))
        .unwrap();
        let iam: Value = serde_json::from_str(include_str!(
            "../../../events/approval-handler/post-decision-iam.json"
        ))
        .unwrap();
        let req: Value = serde_json::from_str(include_str!(
            "../../../events/approval-handler/request.json"
        ))
        .unwrap();
        for e in [&get, &post, &iam] {
            assert!(is_http_event(e));
            let r: ApiGatewayV2httpRequest = serde_json::from_value(e.clone()).unwrap();
            assert!(identity_from_context(&r.request_context).is_some());
        }
        let r: ApiGatewayV2httpRequest = serde_json::from_value(post).unwrap();
        let (f, is_form) = parse_decision_body(&r).unwrap();
        assert!(is_form && f.decision.as_deref() == Some("approve") && f.csrf_token.is_some());
        assert!(!is_http_event(&req));
        let parsed: crate::approval::ApprovalRequest = serde_json::from_value(req).unwrap();
        assert!(parsed.validate(Utc::now(), 60).is_ok());
    }

    #[test]
    fn routes() {
        assert!(matches!(route("/approvals"), Route::List));
        assert!(matches!(route("/prod/approvals/abc"), Route::Page(ref i) if i == "abc"));
        assert!(matches!(route("/approvals/abc/decision"), Route::Decision(ref i) if i == "abc"));
        assert!(matches!(route("/approvals/abc/other"), Route::Other));
        assert!(matches!(route("/"), Route::Other));
    }

    mod on_memory_doubles {
        use std::sync::Arc;

        use super::*;
        use crate::aws::memory::MemoryAws;

        const BUCKET: &str = "approvals";
        const ALICE: &str = "alice@example.org";

        /// A service on the in-memory doubles with one pending approval, stored directly
        /// (how it was created is not what these tests are about).
        async fn service_with_one_approval() -> (Arc<MemoryAws>, ApprovalService<MemoryAws>, String)
        {
            let aws = Arc::new(MemoryAws::default());
            aws.s3.create_bucket(BUCKET, false);
            let config = ApprovalConfig {
                bucket: Some(BUCKET.into()),
                base_url: Some("https://approvals.example.com".into()),
                approvers: vec![ALICE.into()],
                api_id: Some("api".into()),
                ..ApprovalConfig::default()
            };
            let service = ApprovalService::new(Arc::clone(&aws), config).unwrap();
            let req: crate::approval::ApprovalRequest =
                serde_json::from_value(json!({"task_token": "AAAAKgAAAAIAAAAAAAAAAQ-task-token"}))
                    .unwrap();
            let now = Utc::now();
            let id = crate::approval::new_approval_id();
            let mut rec = crate::approval::ApprovalRecord::new(
                &req,
                id.clone(),
                now,
                now + chrono::Duration::hours(1),
            );
            rec.approvers = vec![ALICE.into(), "group:ml-leads".into()];
            service.store.create(&rec).await.unwrap();
            (aws, service, id)
        }

        fn get(api_id: &str, path: &str, claims: Value) -> Value {
            json!({
                "rawPath": path, "headers": {"accept": "text/html"},
                "requestContext": {"apiId": api_id, "http": {"method": "GET"},
                    "authorizer": {"jwt": {"claims": claims, "scopes": null}}}
            })
        }

        fn alice() -> Value {
            json!({"sub": "s-alice", "email": ALICE, "email_verified": "true"})
        }

        #[tokio::test]
        async fn events_from_another_api_are_refused_before_the_identity_is_read() {
            let (aws, service, id) = service_with_one_approval().await;
            let page = format!("/approvals/{id}");
            assert_eq!(
                handle(&service, get("api", &page, alice())).await.status,
                200
            );
            let r = handle(&service, get("other", &page, alice())).await;
            assert_eq!(r.status, 403);
            assert!(
                r.headers["content-type"].starts_with("text/html"),
                "per Accept"
            );
            let mut post = get("other", &format!("{page}/decision"), alice());
            post["requestContext"]["http"]["method"] = "POST".into();
            post["headers"] = json!({"content-type": "application/json", "origin": "https://approvals.example.com"});
            post["body"] = r#"{"decision":"approve"}"#.into();
            let r = handle(&service, post).await;
            assert_eq!(r.status, 403);
            assert!(r.body.contains("foreign_api"), "{}", r.body);
            let audit: Vec<Value> = aws
                .s3
                .keys(BUCKET, "audit/")
                .iter()
                .map(|k| serde_json::from_slice(&aws.s3.body(BUCKET, k).unwrap()).unwrap())
                .collect();
            let refused = audit.iter().find(|e| e["event"] == "refused").unwrap();
            assert!(refused["reason"]
                .as_str()
                .unwrap()
                .starts_with("foreign_api"));
            assert!(
                refused["actor"].is_null(),
                "an untrusted identity is not recorded"
            );
            assert_eq!(
                service.load(&id).await.unwrap().unwrap().status.as_str(),
                "pending"
            );
        }

        #[tokio::test]
        async fn the_page_is_only_for_the_approvals_approvers() {
            let (_aws, service, id) = service_with_one_approval().await;
            let page = format!("/approvals/{id}");
            let unknown = handle(
                &service,
                get(
                    "api",
                    "/approvals/0123456789abcdef0123456789abcdef",
                    alice(),
                ),
            )
            .await;
            assert_eq!(unknown.status, 404);
            for outsider in [
                json!({"sub": "s-carol", "email": "carol@example.org", "email_verified": "true"}),
                json!({"sub": "s-alice2", "email": ALICE}),
                json!({"sub": "s-mallory", "preferred_username": "group:ml-leads"}),
                json!({"sub": "s-eve", "cognito:groups": "[x ml-leads]"}),
            ] {
                let r = handle(&service, get("api", &page, outsider.clone())).await;
                assert_eq!((r.status, &r.body), (404, &unknown.body), "{outsider}");
            }
            let member = json!({"sub": "s-dan", "cognito:groups": "[ml-leads]"});
            assert_eq!(
                handle(&service, get("api", &page, member)).await.status,
                200
            );
        }
    }
}
