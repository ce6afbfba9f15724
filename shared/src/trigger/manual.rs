//! A manual start through the API: `POST /iam/runs`, IAM-authorised by API Gateway.
//!
//! The one way to start a run by hand that still knows who did it: API Gateway checks
//! the caller's SigV4 signature and puts the principal in
//! `requestContext.authorizer.iam.userArn`; that ARN becomes the run's starter in its
//! start record ([`crate::origin`]), so the approval gate can refuse to let the same
//! person approve the model. The event must come from the configured API
//! (`TRAINGUARD_API_ID`): the authorizer context is only as good as the API that set it.
//!
//! Body (JSON): `{"name"?: "<execution name>", "data"?: {"prefix": "<under the data
//! prefix>"}, "parameters"?: {...}}`. The data bucket is always the configured one.
//! Replies: 202 `{"execution_arn", "execution_name", "started", "duplicate",
//! "started_by"}`; 400 / 401 / 403 / 405 `{"error", "message"}`; 503 when the start
//! failed (`{"error": <error name>, "message"}`).

use rand::RngCore;
use serde_json::{json, Value};

use super::config::TriggerConfig;
use super::plan::{with_parameters, Plan};
use super::start::{start_all, ExecutionStarter, StartRecorder};
use crate::error::ErrorName;
use crate::origin::{StartOrigin, StarterKind};

/// True when the event is an API Gateway HTTP API (v2) request.
pub fn is_http_event(v: &Value) -> bool {
    v.get("requestContext")
        .and_then(|c| c.get("http"))
        .is_some()
}

/// Why a manual start was refused; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    ForeignApi(String),
    Unauthenticated,
    BadRequest(String),
    NotHere(String),
}

impl Refused {
    fn status(&self) -> u16 {
        match self {
            Refused::ForeignApi(_) => 403,
            Refused::Unauthenticated => 401,
            Refused::BadRequest(_) => 400,
            Refused::NotHere(_) => 404,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refused::ForeignApi(_) => "foreign_api",
            Refused::Unauthenticated => "unauthenticated",
            Refused::BadRequest(_) => "bad_request",
            Refused::NotHere(_) => "not_found",
        }
    }

    fn message(&self) -> String {
        match self {
            Refused::ForeignApi(why) => {
                format!("this request did not come through the pipeline API ({why})")
            }
            Refused::Unauthenticated => {
                "a manual start needs an IAM-signed request (the /iam/runs route)".into()
            }
            Refused::BadRequest(why) => format!("bad request: {why}"),
            Refused::NotHere(why) => why.clone(),
        }
    }
}

fn reply(status: u16, body: Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

/// Step Functions' execution name rules: 1..80 of `[A-Za-z0-9_-]`.
fn valid_name(n: &str) -> bool {
    (1..=80).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn body_json(event: &Value) -> Result<Value, Refused> {
    let raw = event.get("body").and_then(Value::as_str).unwrap_or("");
    let bytes = if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        aws_smithy_types::base64::decode(raw.trim())
            .map_err(|e| Refused::BadRequest(format!("the body is not valid base64: {e}")))?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Refused::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(Refused::BadRequest(format!("the body is not JSON: {e}"))),
    }
}

/// The plan of one manual start (pure): the checks, the name, the input and the origin.
pub fn plan_manual(event: &Value, cfg: &TriggerConfig) -> Result<Plan, Refused> {
    let ctx = &event["requestContext"];
    let api = ctx["apiId"].as_str().unwrap_or("");
    match cfg.api_id.as_deref() {
        Some(want) if want == api => {}
        Some(want) => {
            return Err(Refused::ForeignApi(format!(
                "apiId {api:?} is not {want:?}"
            )))
        }
        None => {
            return Err(Refused::ForeignApi(
                "TRAINGUARD_API_ID is not set, so no API is trusted".into(),
            ))
        }
    }
    let method = ctx["http"]["method"].as_str().unwrap_or("");
    let path = event["rawPath"].as_str().unwrap_or("");
    if !(method.eq_ignore_ascii_case("POST") && path.trim_end_matches('/').ends_with("/runs")) {
        return Err(Refused::NotHere(format!("no route for {method} {path}")));
    }
    let iam = &ctx["authorizer"]["iam"];
    let user_arn = iam["userArn"]
        .as_str()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or(Refused::Unauthenticated)?;
    let body = body_json(event)?;
    let bucket = cfg
        .data_bucket
        .clone()
        .ok_or_else(|| Refused::BadRequest("the trigger has no TRAINGUARD_DATA_BUCKET".into()))?;
    let prefix = match body.pointer("/data/prefix") {
        None | Some(Value::Null) => cfg.data_prefix.clone(),
        Some(Value::String(p)) if p.starts_with(&cfg.data_prefix) && !p.contains("..") => p.clone(),
        Some(p) => {
            return Err(Refused::BadRequest(format!(
                "data.prefix {p} must be a string under {:?}",
                cfg.data_prefix
            )))
        }
    };
    let name = match body.get("name") {
        None | Some(Value::Null) => {
            let mut r = [0u8; 4];
            rand::rngs::OsRng.fill_bytes(&mut r);
            format!(
                "manual-{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                hex::encode(r)
            )
        }
        Some(Value::String(n)) if valid_name(n) => n.clone(),
        Some(n) => {
            return Err(Refused::BadRequest(format!(
                "name {n} must be 1..80 letters, digits, '-' or '_'"
            )))
        }
    };
    let request_id = ctx["requestId"].as_str().map(str::to_string);
    let mut input = json!({
        "trigger": {
            "type": "manual",
            "source": "http",
            "event_id": request_id,
            "started_by": user_arn,
        },
        "data": {"bucket": bucket, "prefix": prefix},
    });
    input = match body.get("parameters") {
        Some(p @ Value::Object(_)) => {
            input["parameters"] = p.clone();
            input
        }
        None | Some(Value::Null) => with_parameters(input, cfg),
        Some(_) => {
            return Err(Refused::BadRequest(
                "parameters must be a JSON object".into(),
            ))
        }
    };
    Ok(Plan::Start {
        name,
        input,
        origin: StartOrigin {
            started_by: Some(user_arn.to_string()),
            starter_kind: StarterKind::IamCaller,
            channel: "http".into(),
            event_id: request_id,
            source_ip: ctx["http"]["sourceIp"].as_str().map(str::to_string),
        },
    })
}

/// Handle one manual-start event: an HTTP API reply whatever happens.
pub async fn handle<S: ExecutionStarter, R: StartRecorder>(
    starter: &S,
    recorder: &R,
    event: &Value,
    cfg: &TriggerConfig,
) -> Value {
    let plan = match plan_manual(event, cfg) {
        Ok(p) => p,
        Err(r) => {
            tracing::warn!(refusal = r.code(), message = %r.message(), "manual start refused");
            return reply(
                r.status(),
                json!({"error": r.code(), "message": r.message()}),
            );
        }
    };
    let started_by = match &plan {
        Plan::Start { origin, .. } => origin.started_by.clone(),
        Plan::Ignore { .. } => None,
    };
    match start_all(starter, recorder, vec![plan], cfg).await {
        Ok(mut out) => {
            if let Some(o) = out.as_object_mut() {
                o.remove("executions");
                o.remove("ignored");
                o.insert("started_by".into(), json!(started_by));
            }
            reply(202, out)
        }
        Err(e) => reply(
            503,
            json!({"error": e.error_name(), "message": e.to_string()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TriggerConfig {
        TriggerConfig {
            state_machine_arn: Some("arn:aws:states:us-east-1:1:stateMachine:p".into()),
            data_bucket: Some("art".into()),
            artifacts_bucket: Some("art".into()),
            api_id: Some("api1".into()),
            ..TriggerConfig::default()
        }
    }

    fn event(api: &str, arn: Option<&str>, body: &str) -> Value {
        let mut ctx = json!({"apiId": api, "requestId": "rq-1",
                             "http": {"method": "POST", "path": "/iam/runs", "sourceIp": "203.0.113.4"}});
        if let Some(a) = arn {
            ctx["authorizer"] = json!({"iam": {"userArn": a, "userId": "AIDA1"}});
        }
        json!({"version": "2.0", "rawPath": "/iam/runs", "headers": {}, "requestContext": ctx, "body": body, "isBase64Encoded": false})
    }

    #[test]
    fn the_caller_becomes_the_starter() {
        let e = event(
            "api1",
            Some("arn:aws:iam::1:user/carol"),
            r#"{"name": "retrain-7", "data": {"prefix": "data/day/"}, "parameters": {"sweep": []}}"#,
        );
        let Plan::Start {
            name,
            input,
            origin,
        } = plan_manual(&e, &cfg()).unwrap()
        else {
            panic!("start")
        };
        assert_eq!(name, "retrain-7");
        assert_eq!(
            origin.started_by.as_deref(),
            Some("arn:aws:iam::1:user/carol")
        );
        assert_eq!(origin.starter_kind, StarterKind::IamCaller);
        assert_eq!(origin.source_ip.as_deref(), Some("203.0.113.4"));
        assert_eq!(
            input["data"],
            json!({"bucket": "art", "prefix": "data/day/"})
        );
        assert_eq!(input["parameters"], json!({"sweep": []}));
        // An empty body starts over the whole data prefix under a fresh name.
        let Plan::Start { name, input, .. } = plan_manual(
            &event("api1", Some("arn:aws:iam::1:user/carol"), ""),
            &cfg(),
        )
        .unwrap() else {
            panic!("start")
        };
        assert!(name.starts_with("manual-") && valid_name(&name), "{name}");
        assert_eq!(input["data"]["prefix"], "data/");
    }

    #[test]
    fn refusals() {
        let c = cfg();
        let carol = Some("arn:aws:iam::1:user/carol");
        let code = |e: Value, c: &TriggerConfig| plan_manual(&e, c).unwrap_err().code();
        assert_eq!(code(event("other", carol, ""), &c), "foreign_api");
        let no_api = TriggerConfig {
            api_id: None,
            ..cfg()
        };
        assert_eq!(code(event("api1", carol, ""), &no_api), "foreign_api");
        assert_eq!(code(event("api1", None, ""), &c), "unauthenticated");
        for body in [
            "[1]",
            "{",
            r#"{"name": "a b"}"#,
            r#"{"data": {"prefix": "other/"}}"#,
            r#"{"data": {"prefix": "data/../x"}}"#,
            r#"{"parameters": 3}"#,
        ] {
            assert_eq!(
                code(event("api1", carol, body), &c),
                "bad_request",
                "{body}"
            );
        }
        let mut get = event("api1", carol, "");
        get["requestContext"]["http"]["method"] = json!("GET");
        assert_eq!(code(get, &c), "not_found");
    }
}
