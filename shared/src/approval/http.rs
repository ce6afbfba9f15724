//! The HTTP routes, as API Gateway HTTP API (payload v2) events.
//!
//! - `GET  /approvals`                → JSON list of pending approvals (authenticated)
//! - `GET  /approvals/{id}`           → the HTML page (authenticated; never acts)
//! - `POST /approvals/{id}/decision`  → decide (form or JSON body)
//!
//! The caller's identity is read only from `requestContext.authorizer` (`jwt.claims` or
//! `iam.userArn`); API Gateway puts it there after its authorizer checked the caller.
//! JWT callers (browsers) must also pass the cross-site checks (`Origin` /
//! `Sec-Fetch-Site` against `TRAINGUARD_APPROVAL_BASE_URL`) and the per-approval CSRF
//! token from the page; SigV4-signed IAM callers cannot be forged by another site and
//! skip both.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext};
use chrono::Utc;
use serde_json::{json, Value};

use super::identity::{Identity, IdentityKind};
use super::model::{is_valid_id, Decision};
use super::page::{render_page, PageContext};
use super::service::{ApprovalService, DecideRequest, Refusal, Via};
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
    let arn = auth.iam.as_ref()?.user_arn.as_deref()?;
    Identity::from_principal_arn(arn, IdentityKind::Iam)
}

/// Refuse a browser post coming from another site.
///
/// `Origin` (sent by browsers on every POST) must be the base URL's origin, and
/// `Sec-Fetch-Site`, when sent, must be `same-origin`. A request with neither header is a
/// non-browser client; it still needs the CSRF token.
pub fn cross_site_check(
    headers: &http::HeaderMap,
    base_origin: Option<&str>,
) -> Result<(), String> {
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(origin) = get("origin") {
        match base_origin {
            Some(b) if origin.eq_ignore_ascii_case(b) => {}
            Some(b) => return Err(format!("Origin {origin} is not {b}")),
            None => return Err("no base URL is configured to compare the Origin with".into()),
        }
    }
    if let Some(site) = get("sec-fetch-site") {
        if !site.eq_ignore_ascii_case("same-origin") {
            return Err(format!("Sec-Fetch-Site is {site}"));
        }
    }
    Ok(())
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
    let identity = identity_from_context(&req.request_context);
    let source_ip = req.request_context.http.source_ip.clone();
    let user_agent = req.request_context.http.user_agent.clone();
    let wants_html = req
        .headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .map(|a| a.contains("text/html"))
        .unwrap_or(false);

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
                    let d = DecideRequest {
                        approval_id: id,
                        identity,
                        decision: None,
                        comment: String::new(),
                        csrf_token: None,
                        source_ip,
                        user_agent,
                        via: Via::Http,
                    };
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
        return message_page(
            404,
            "Unknown approval",
            &Refusal::UnknownId.message(),
            base_origin,
        );
    }
    let rec = match service.load(id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return message_page(
                404,
                "Unknown approval",
                &Refusal::UnknownId.message(),
                base_origin,
            )
        }
        Err(e) => {
            return message_page(
                503,
                "Unavailable",
                &format!("The approval could not be read: {e}"),
                base_origin,
            )
        }
    };
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

    #[test]
    fn cross_site_rules() {
        let base = Some("https://app.example.com");
        assert!(
            cross_site_check(&headers(&[]), base).is_ok(),
            "non-browser client"
        );
        assert!(cross_site_check(
            &headers(&[
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", "same-origin")
            ]),
            base
        )
        .is_ok());
        assert!(cross_site_check(&headers(&[("origin", "https://evil.example")]), base).is_err());
        assert!(cross_site_check(&headers(&[("origin", "null")]), base).is_err());
        assert!(cross_site_check(&headers(&[("sec-fetch-site", "cross-site")]), base).is_err());
        assert!(cross_site_check(&headers(&[("sec-fetch-site", "same-site")]), base).is_err());
        assert!(
            cross_site_check(&headers(&[("origin", "https://app.example.com")]), None).is_err()
        );
    }

    fn event(v: Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn identity_from_jwt_and_iam_contexts() {
        let jwt = event(json!({
            "rawPath": "/approvals/x", "headers": {},
            "requestContext": {"http": {"method": "GET"}, "authorizer": {"jwt": {"claims": {"sub": "s1", "email": "a@b.c"}, "scopes": null}}}
        }));
        let id = identity_from_context(&jwt.request_context).unwrap();
        assert_eq!((id.kind, id.display.as_str()), (IdentityKind::Jwt, "a@b.c"));
        let iam = event(json!({
            "rawPath": "/approvals/x", "headers": {},
            "requestContext": {"http": {"method": "GET"}, "authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/u"}}}
        }));
        assert_eq!(
            identity_from_context(&iam.request_context).unwrap().kind,
            IdentityKind::Iam
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
}
