//! approval-handler against moto: a REAL execution waits on a
//! `lambda:invoke.waitForTaskToken` task (moto's interpreter invokes our handler through
//! the test's Lambda router, see `approval_common`), and decisions made through the HTTP
//! routes or the CLI resume it. Every refusal is checked for its status and its audit
//! entry, and the task token is checked absent from logs, URLs, notifications and pages.

mod approval_common;

use approval_common::*;
use serde_json::{json, Value};

const BASE: &str = "https://approvals.example.com";

fn form(decision: &str, comment: &str, csrf: Option<&str>) -> String {
    let mut s = url_encode(&[("decision", decision), ("comment", comment)]);
    if let Some(c) = csrf {
        s.push_str(&format!("&csrf_token={c}"));
    }
    s
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

const FORM_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/x-www-form-urlencoded"),
    ("origin", BASE),
    ("sec-fetch-site", "same-origin"),
    ("accept", "text/html"),
];

/// Check the token appears nowhere a person or a log could see it.
async fn assert_token_never_exposed(fx: &Fixture, token: &str, pages: &[String]) {
    assert_no_token(token, "the log lines", &logs());
    for reply in fx.invocations.lock().unwrap().iter() {
        assert_no_token(token, "the handler's reply (approval URL)", reply);
        let v: Value = serde_json::from_str(reply).unwrap();
        if let Some(url) = v["url"].as_str() {
            assert!(
                url.starts_with(BASE) || url.starts_with("http://127.0.0.1"),
                "{url}"
            );
        }
    }
    let msgs = fx.sns_messages().await;
    assert!(!msgs.is_empty(), "a notification was published");
    for m in &msgs {
        assert_no_token(token, "an SNS notification", m);
    }
    for p in pages {
        assert_no_token(token, "a page or API reply", p);
    }
    for ev in fx.audit_events().await {
        assert_no_token(token, "an audit entry", &ev.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_via_page_resumes_the_execution_and_leaves_the_registry_to_the_pipeline() {
    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, raw) = fx
        .start_and_wait("run-approve-1", fx.input(&pkg, 3600))
        .await;
    let token = raw["task_token"].as_str().unwrap().to_string();
    assert_eq!(raw["status"], "pending");
    assert_eq!(id.len(), 32, "128-bit hex id");

    // The notification links the page for this id, and only the id.
    let msgs = fx.sns_messages().await;
    assert!(
        msgs.iter()
            .any(|m| m.contains(&format!("{BASE}/approvals/{id}"))),
        "{msgs:?}"
    );
    let reply: Value = serde_json::from_str(&fx.invocations.lock().unwrap()[0]).unwrap();
    assert_eq!(reply["approval_id"], id.as_str());
    assert_eq!(reply["url"], format!("{BASE}/approvals/{id}"));

    // GET shows the metrics and the form, and decides nothing.
    let (status, headers, page) = fx
        .http(apigw_event(
            "GET",
            &format!("/approvals/{id}"),
            Who::Jwt(ALICE.0, ALICE.1),
            &[],
            None,
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(headers["content-security-policy"]
        .as_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(
        page.contains("0.9120") && page.contains("0.8970") && page.contains("+0.0150"),
        "metrics table"
    );
    assert!(page.contains("tenure_months") && page.contains("id=\"approve\""));
    assert!(
        page.contains("X-Amz-Signature") || page.contains("X-Amz-Credential"),
        "presigned report links"
    );
    assert_eq!(fx.record(&id).await["status"], "pending", "GET never acts");
    let csrf = csrf_from_page(&page).expect("CSRF token in the form");

    // POST the form: 303 back to the page.
    let (status, headers, body) = fx
        .http(apigw_event(
            "POST",
            &format!("/approvals/{id}/decision"),
            Who::Jwt(ALICE.0, ALICE.1),
            FORM_HEADERS,
            Some(&form(
                "approve",
                "AUC up 1.5 points, drift reviewed",
                Some(&csrf),
            )),
        ))
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], format!("{BASE}/approvals/{id}"));

    // The execution resumed with the decision as its output.
    let done = fx.wait_done(&exec).await;
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["reviewer"], ALICE.1);
    assert_eq!(output["comment"], "AUC up 1.5 points, drift reviewed");
    assert!(output["decided_at"].as_str().is_some());

    // The handler never writes the registry (the shipped pipeline's ApproveReviewed state
    // does, in the live execution); the record says who; the page shows the decision
    // instead of buttons.
    assert_eq!(fx.package_status(&pkg).await, "PendingManualApproval");
    assert!(output["registry_note"]
        .as_str()
        .unwrap()
        .contains("AUC up 1.5 points"));
    let rec = fx.record(&id).await;
    assert_eq!(rec["status"], "approved");
    assert_eq!(rec["decision"]["reviewer"], ALICE.1);
    assert_eq!(rec["decision"]["source_ip"], "198.51.100.7");
    let (_, _, after) = fx
        .http(apigw_event(
            "GET",
            &format!("/approvals/{id}"),
            Who::Jwt(ALICE.0, ALICE.1),
            &[],
            None,
        ))
        .await;
    assert!(
        after.contains("id=\"decision\"")
            && after.contains("Approved")
            && !after.contains("id=\"approve\"")
    );

    // A second decision loses (first wins) and is audited.
    let (status, _, body) = fx
        .http(apigw_event(
            "POST",
            &format!("/approvals/{id}/decision"),
            Who::Iam(CI_ROLE),
            &[("content-type", "application/json")],
            Some(r#"{"decision":"reject","comment":"too late"}"#),
        ))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already_decided"));
    assert_eq!(fx.record(&id).await["status"], "approved");

    let audit = fx.audit_events().await;
    let kinds: Vec<&str> = audit.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        kinds.contains(&"requested") && kinds.contains(&"decided") && kinds.contains(&"refused"),
        "{kinds:?}"
    );
    let decided = audit.iter().find(|e| e["event"] == "decided").unwrap();
    assert_eq!(decided["actor"], ALICE.1);
    assert_eq!(decided["execution_name"], "run-approve-1");
    assert_eq!(decided["model_package_arn"], pkg.as_str());
    assert_eq!(decided["user_agent"], "approval-test/1.0");

    assert_token_never_exposed(&fx, &token, &[page, after, body]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_fails_the_execution_with_approval_rejected() {
    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, raw) = fx
        .start_and_wait("run-reject-1", fx.input(&pkg, 3600))
        .await;
    // A program with IAM authorization (a session of the listed role): no CSRF needed.
    let (status, _, body) = fx
        .http(apigw_event(
            "POST",
            &format!("/approvals/{id}/decision"),
            Who::Iam(CI_ROLE),
            &[("content-type", "application/json")],
            Some(r#"{"decision":"reject","comment":"f1 regression on the holdout"}"#),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["reviewer"], CI_ROLE);

    let done = fx.wait_done(&exec).await;
    assert_eq!(done.status.as_str(), "FAILED");
    assert_eq!(done.error(), Some("Approval.Rejected"));
    // The saga sets Rejected when the pipeline compensates; the handler does not.
    assert_eq!(fx.package_status(&pkg).await, "PendingManualApproval");
    assert_eq!(fx.record(&id).await["status"], "rejected");
    let token = raw["task_token"].as_str().unwrap().to_string();
    assert_token_never_exposed(&fx, &token, &[body]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_refused_with_its_status_and_audited() {
    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, raw) = fx
        .start_and_wait("run-refusals-1", fx.input(&pkg, 3600))
        .await;
    let path = format!("/approvals/{id}/decision");
    let (_, _, page) = fx
        .http(apigw_event(
            "GET",
            &format!("/approvals/{id}"),
            Who::Jwt(ALICE.0, ALICE.1),
            &[],
            None,
        ))
        .await;
    let csrf = csrf_from_page(&page).unwrap();
    let good = form("approve", "ok", Some(&csrf));

    let unknown = "0123456789abcdef0123456789abcdef";
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "unauthenticated",
            apigw_event("POST", &path, Who::Nobody, FORM_HEADERS, Some(&good)),
            401,
            "unauthenticated",
        ),
        (
            "not listed",
            apigw_event(
                "POST",
                &path,
                Who::Jwt(CAROL.0, CAROL.1),
                FORM_HEADERS,
                Some(&good),
            ),
            403,
            "not_an_approver",
        ),
        (
            "the starter (listed through a group)",
            {
                let mut e = apigw_event(
                    "POST",
                    &path,
                    Who::Jwt(BOB.0, BOB.1),
                    FORM_HEADERS,
                    Some(&good),
                );
                e["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] =
                    "[ml-leads]".into();
                e
            },
            403,
            "self_approval",
        ),
        (
            "cross-site form post",
            apigw_event(
                "POST",
                &path,
                Who::Jwt(ALICE.0, ALICE.1),
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
                Some(&good),
            ),
            403,
            "cross_site",
        ),
        (
            "no CSRF token",
            apigw_event(
                "POST",
                &path,
                Who::Jwt(ALICE.0, ALICE.1),
                FORM_HEADERS,
                Some(&form("approve", "ok", None)),
            ),
            403,
            "bad_csrf_token",
        ),
        (
            "wrong CSRF token",
            apigw_event(
                "POST",
                &path,
                Who::Jwt(ALICE.0, ALICE.1),
                FORM_HEADERS,
                Some(&form("approve", "ok", Some("00"))),
            ),
            403,
            "bad_csrf_token",
        ),
        (
            "unknown id",
            apigw_event(
                "POST",
                &format!("/approvals/{unknown}/decision"),
                Who::Jwt(ALICE.0, ALICE.1),
                FORM_HEADERS,
                Some(&good),
            ),
            404,
            "unknown_approval",
        ),
        (
            "malformed id",
            apigw_event(
                "POST",
                "/approvals/..%2F..%2Fsecret/decision",
                Who::Jwt(ALICE.0, ALICE.1),
                FORM_HEADERS,
                Some(&good),
            ),
            404,
            "unknown_approval",
        ),
        (
            "no decision",
            apigw_event(
                "POST",
                &path,
                Who::Jwt(ALICE.0, ALICE.1),
                FORM_HEADERS,
                Some(&form("maybe", "", Some(&csrf))),
            ),
            400,
            "bad_request",
        ),
    ];
    let mut bodies = vec![page];
    for (what, ev, want, code) in &cases {
        let (status, headers, body) = fx.http(ev.clone()).await;
        assert_eq!(status, *want, "{what}: {body}");
        assert!(
            headers["content-type"]
                .as_str()
                .unwrap()
                .starts_with("text/html"),
            "{what}: form posts get a page"
        );
        bodies.push(body);
        let audit = fx.audit_events().await;
        assert!(
            audit
                .iter()
                .any(|e| e["event"] == "refused"
                    && e["reason"].as_str().unwrap_or("").starts_with(code)),
            "{what}: no refused audit entry with {code}"
        );
    }
    // Nothing was decided by any of them: the execution still waits.
    assert_eq!(fx.record(&id).await["status"], "pending");
    let d = fx
        .clients
        .sfn
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status.as_str(), "RUNNING");

    // The refused attempts carry who, from where, and what they concerned.
    let audit = fx.audit_events().await;
    let starter = audit
        .iter()
        .find(|e| {
            e["reason"]
                .as_str()
                .unwrap_or("")
                .starts_with("self_approval")
        })
        .unwrap();
    assert_eq!(starter["actor"], BOB.1);
    assert_eq!(starter["source_ip"], "198.51.100.7");
    assert_eq!(starter["execution_name"], "run-refusals-1");
    assert_eq!(starter["model_package_arn"], pkg.as_str());
    assert_eq!(starter["http_status"], 403);

    // GET without authentication is refused too (and never acts).
    let (status, _, _) = fx
        .http(apigw_event(
            "GET",
            &format!("/approvals/{id}"),
            Who::Nobody,
            &[],
            None,
        ))
        .await;
    assert_eq!(status, 401);
    let (status, _, body) = fx
        .http(apigw_event(
            "GET",
            "/approvals",
            Who::Jwt(ALICE.0, ALICE.1),
            &[],
            None,
        ))
        .await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed["pending"][0]["approval_id"], id.as_str());
    assert_eq!(listed["pending"][0]["may_decide"], true);
    bodies.push(body);

    // Finally a member of the listed group approves (JWT group claim) ... via JSON.
    let ev = {
        let mut e = apigw_event(
            "POST",
            &path,
            Who::Jwt("sub-dan", "dan@example.org"),
            &[("content-type", "application/json"), ("origin", BASE)],
            None,
        );
        e["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[ml-leads]".into();
        e["body"] =
            format!(r#"{{"decision":"approve","comment":"group review","csrf_token":"{csrf}"}}"#)
                .into();
        e
    };
    let (status, _, body) = fx.http(ev).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fx.wait_done(&exec).await.status.as_str(), "SUCCEEDED");
    let token = raw["task_token"].as_str().unwrap().to_string();
    assert_token_never_exposed(&fx, &token, &bodies).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_no_longer_open_approvals_are_refused_and_recorded() {
    let fx = Fixture::start(BASE).await;

    // Expired: a 1-second approval window.
    let pkg = fx.new_package().await;
    let (_exec, id, _) = fx.start_and_wait("run-expired-1", fx.input(&pkg, 1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, _, body) = fx
        .http(apigw_event(
            "POST",
            &format!("/approvals/{id}/decision"),
            Who::Iam(CI_ROLE),
            &[("content-type", "application/json")],
            Some(r#"{"decision":"approve"}"#),
        ))
        .await;
    assert_eq!(status, 410, "{body} {}", fx.record(&id).await);
    assert!(body.contains("expired"));
    assert_eq!(fx.record(&id).await["status"], "expired");
    assert_eq!(fx.package_status(&pkg).await, "PendingManualApproval");

    // No longer open: Step Functions does not know the token (moto answers InvalidToken;
    // TaskTimedOut and TaskDoesNotExist take the same path), so SendTaskSuccess fails; the
    // reply and the record say so, and the registry is left as it was.
    let pkg2 = fx.new_package().await;
    let started_with = fx.input(&pkg2, 3600);
    fx.attest_start("run-gone-1", &started_with).await;
    let mut req = started_with.clone();
    req["task_token"] = "AAAAKgAAAAIAAAAAAAAAAbogus-token-never-issued-by-states".into();
    req["execution_name"] = "run-gone-1".into();
    req["execution_input"] = started_with;
    let created = trainguard::approval::handle_event(&fx.service, req)
        .await
        .unwrap();
    let id2 = created["approval_id"].as_str().unwrap().to_string();
    let (status, _, body) = fx
        .http(apigw_event(
            "POST",
            &format!("/approvals/{id2}/decision"),
            Who::Iam(CI_ROLE),
            &[("content-type", "application/json")],
            Some(r#"{"decision":"approve"}"#),
        ))
        .await;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("no longer open"), "{body}");
    assert_no_token(
        "AAAAKgAAAAIAAAAAAAAAAbogus-token-never-issued-by-states",
        "the reply",
        &body,
    );
    let rec = fx.record(&id2).await;
    assert_eq!(rec["status"], "closed");
    assert!(
        rec["closed_reason"]
            .as_str()
            .unwrap()
            .contains("no longer waits"),
        "{rec}"
    );
    assert_eq!(fx.package_status(&pkg2).await, "PendingManualApproval");
    let audit = fx.audit_events().await;
    assert!(audit.iter().any(|e| e["approval_id"] == id.as_str()
        && e["reason"].as_str().unwrap_or("").starts_with("expired")));
    assert!(audit.iter().any(|e| e["approval_id"] == id2.as_str()
        && e["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("no_longer_open")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_documented_error_names() {
    let fx = Fixture::start(BASE).await;
    let svc = &fx.service;
    let err = trainguard::approval::handle_event(
        svc,
        // An execution input naming an approver the deployment does not allow.
        serde_json::json!({"task_token": "t0k3n-abcdefghijklmnop", "approvers": ["mallory@example.org"]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        trainguard::ErrorName::error_name(&err),
        "Approval.InvalidRequest"
    );
    let err = trainguard::approval::handle_event(
        svc,
        serde_json::json!({"task_token": "t0k3n-abcdefghijklmnop", "approvers": "x@y"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        trainguard::ErrorName::error_name(&err),
        "InputError.InvalidEvent"
    );
    assert!(!err.to_string().contains("t0k3n"), "{err}");
    let err = trainguard::approval::handle_event(svc, serde_json::json!({"hello": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        trainguard::ErrorName::error_name(&err),
        "InputError.InvalidEvent"
    );
}

// ---------------------------------------------------------------- who the gate believes

const JSON_POST: &[(&str, &str)] = &[("content-type", "application/json"), ("origin", BASE)];

/// Alice's page's CSRF token (what a browser would post).
async fn page_csrf(fx: &Fixture, id: &str) -> String {
    let (status, _, page) = fx
        .http(apigw_event(
            "GET",
            &format!("/approvals/{id}"),
            Who::Jwt(ALICE.0, ALICE.1),
            &[],
            None,
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    csrf_from_page(&page).expect("CSRF token in Alice's page")
}

fn approve_body(csrf: &str) -> String {
    format!(r#"{{"decision":"approve","comment":"lgtm","csrf_token":"{csrf}"}}"#)
}

/// Post `ev`; assert the status, the JSON error code and a `refused` audit entry with it.
async fn assert_refused(fx: &Fixture, what: &str, ev: Value, want: u16, code: &str) {
    let (status, _, body) = fx.http(ev).await;
    assert_eq!(status, want, "{what}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["error"], code, "{what}: {body}");
    let audit = fx.audit_events().await;
    assert!(
        audit.iter().any(
            |e| e["event"] == "refused" && e["reason"].as_str().unwrap_or("").starts_with(code)
        ),
        "{what}: no refused audit entry with {code}"
    );
}

/// Nothing was decided: the record is pending and the execution still waits.
async fn assert_still_waiting(fx: &Fixture, exec: &str, id: &str) {
    assert_eq!(fx.record(id).await["status"], "pending");
    let d = fx
        .clients
        .sfn
        .describe_execution()
        .execution_arn(exec)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status.as_str(), "RUNNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_another_api_are_refused_and_decide_nothing() {
    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, _) = fx
        .start_and_wait("run-foreign-1", fx.input(&pkg, 3600))
        .await;
    let body = approve_body(&page_csrf(&fx, &id).await);
    let path = format!("/approvals/{id}/decision");
    for (what, api_id) in [("another API", json!("forged")), ("no apiId", Value::Null)] {
        for who in [Who::Jwt(ALICE.0, ALICE.1), Who::Iam(CI_ROLE)] {
            let mut ev = apigw_event("POST", &path, who, JSON_POST, Some(&body));
            ev["requestContext"]["apiId"] = api_id.clone();
            assert_refused(&fx, &format!("{what} {who:?}"), ev, 403, "foreign_api").await;
        }
    }
    // Pages and the list too (the page as HTML, per Accept).
    let mut get = apigw_event(
        "GET",
        &format!("/approvals/{id}"),
        Who::Jwt(ALICE.0, ALICE.1),
        &[("accept", "text/html")],
        None,
    );
    get["requestContext"]["apiId"] = "forged".into();
    let (status, headers, page) = fx.http(get).await;
    assert_eq!(status, 403, "{page}");
    assert!(headers["content-type"]
        .as_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(!page.contains("csrf_token"), "no form for a forged event");
    let mut list = apigw_event("GET", "/approvals", Who::Jwt(ALICE.0, ALICE.1), &[], None);
    list["requestContext"]["apiId"] = "forged".into();
    let (status, _, body) = fx.http(list).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains(&id), "{body}");

    // The forged identity is not recorded as the actor.
    let audit = fx.audit_events().await;
    let foreign: Vec<&Value> = audit
        .iter()
        .filter(|e| {
            e["reason"]
                .as_str()
                .unwrap_or("")
                .starts_with("foreign_api")
        })
        .collect();
    // (Repeats within a minute from the same source are kept once.)
    assert!(!foreign.is_empty());
    for e in foreign {
        assert!(e["actor"].is_null(), "{e}");
        assert_eq!(e["approval_id"], id.as_str());
        assert_eq!(e["http_status"], 403);
    }
    assert_still_waiting(&fx, &exec, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_posts_and_claimed_identities_fail_closed() {
    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, _) = fx
        .start_and_wait("run-fail-closed-1", fx.input(&pkg, 3600))
        .await;
    let body = approve_body(&page_csrf(&fx, &id).await);
    let path = format!("/approvals/{id}/decision");
    let alice = Who::Jwt(ALICE.0, ALICE.1);
    let post = |who: Who<'_>, headers: &[(&str, &str)]| {
        apigw_event("POST", &path, who, headers, Some(&body))
    };

    // Cross-site: no Origin, only Sec-Fetch-Site, an Origin that is not visible ASCII.
    let no_origin = &[("content-type", "application/json")][..];
    let site_only = &[
        ("content-type", "application/json"),
        ("sec-fetch-site", "same-origin"),
    ][..];
    let non_ascii = &[
        ("content-type", "application/json"),
        ("origin", "https://approvals.example.com\u{e9}"),
    ][..];
    for (what, headers) in [
        ("JWT post without Origin", no_origin),
        ("JWT post with only Sec-Fetch-Site", site_only),
        ("non-ASCII Origin", non_ascii),
    ] {
        assert_refused(&fx, what, post(alice, headers), 403, "cross_site").await;
    }

    // Claims a caller can choose, or the IdP did not verify, name nobody.
    let role = "arn:aws:iam::123456789012:role/ReleaseBot";
    let claimed = [
        (
            "preferred_username = a listed group",
            json!({"sub": "sub-mallory", "preferred_username": "group:ml-leads"}),
        ),
        (
            "preferred_username = a listed role",
            json!({"sub": "sub-mallory", "preferred_username": role}),
        ),
        (
            "username claims = a listed email",
            json!({"sub": "sub-mallory", "preferred_username": ALICE.1, "username": ALICE.1, "cognito:username": ALICE.1}),
        ),
        (
            "email not verified",
            json!({"sub": "sub-mallory", "email": ALICE.1}),
        ),
        (
            "email_verified false",
            json!({"sub": "sub-mallory", "email": ALICE.1, "email_verified": "false"}),
        ),
        (
            "a group whose name ends in the listed one",
            json!({"sub": "sub-mallory", "cognito:groups": "[x ml-leads]"}),
        ),
    ];
    for (what, claims) in &claimed {
        let ev = post(Who::JwtClaims(claims), JSON_POST);
        assert_refused(&fx, what, ev, 403, "not_an_approver").await;
    }

    // Pages: a non-approver gets exactly the unknown-id page; the listed starter sees it.
    let get =
        |who: Who<'_>, id: &str| apigw_event("GET", &format!("/approvals/{id}"), who, &[], None);
    let (status, _, unknown) = fx
        .http(get(alice, "0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(status, 404);
    let carol = Who::Jwt(CAROL.0, CAROL.1);
    for (what, who) in [("carol", carol), ("mallory", Who::JwtClaims(&claimed[0].1))] {
        let (status, _, page) = fx.http(get(who, &id)).await;
        assert_eq!((status, &page), (404, &unknown), "{what}");
    }
    let bob_in_group = json!({"sub": BOB.0, "email": BOB.1, "email_verified": "true", "cognito:groups": "[ml-leads]"});
    let (status, _, page) = fx.http(get(Who::JwtClaims(&bob_in_group), &id)).await;
    assert_eq!(status, 200, "the starter who is an approver sees the page");
    assert!(
        page.contains("id=\"cannot-decide\"") && !page.contains("id=\"approve\""),
        "{page}"
    );

    assert_still_waiting(&fx, &exec, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uploaders_unique_id_and_sso_session_are_the_starter() {
    let fx = Fixture::start(BASE).await;

    // S3 named the uploader `AWS:<userId>`: that IAM caller is the starter, a colleague
    // in the same role is not.
    let pkg = fx.new_package().await;
    let mut input = fx.input(&pkg, 3600);
    input["started_by"] = "AWS:AROAEXAMPLE:ci".into();
    let (exec, id, _) = fx.start_and_wait("run-starter-id-1", input).await;
    let path = format!("/approvals/{id}/decision");
    let body = r#"{"decision":"approve","comment":"my own run"}"#;
    let json_only = &[("content-type", "application/json")][..];
    let me = Who::IamWithId(CI_ROLE, "AROAEXAMPLE:ci");
    let ev = apigw_event("POST", &path, me, json_only, Some(body));
    assert_refused(&fx, "the uploader", ev, 403, "self_approval").await;
    assert_still_waiting(&fx, &exec, &id).await;
    let colleague = Who::IamWithId(
        "arn:aws:sts::123456789012:assumed-role/ReleaseBot/release",
        "AROAEXAMPLE:release",
    );
    let (status, _, reply) = fx
        .http(apigw_event("POST", &path, colleague, json_only, Some(body)))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(fx.wait_done(&exec).await.status.as_str(), "SUCCEEDED");

    // An SSO session named after Alice's verified email started it: Alice may not approve.
    let pkg = fx.new_package().await;
    let mut input = fx.input(&pkg, 3600);
    input["started_by"] = "AWS:AROASSOEXAMPLE:Alice@Example.org".into();
    let (exec, id, raw) = fx.start_and_wait("run-starter-sso-1", input).await;
    // Her page offers no form (she is the starter): the token as a forger would have it.
    let body = approve_body(raw["csrf_token"].as_str().unwrap());
    let ev = apigw_event(
        "POST",
        &format!("/approvals/{id}/decision"),
        Who::Jwt(ALICE.0, ALICE.1),
        JSON_POST,
        Some(&body),
    );
    assert_refused(&fx, "alice's SSO session", ev, 403, "self_approval").await;
    assert_still_waiting(&fx, &exec, &id).await;
}

/// The approval's S3 ops with the record's conditional writes held at a race's barrier
/// ([`trainguard_tests::rendezvous`]); every other service as the fixture's.
struct RacingAws {
    inner: trainguard::aws::sdk::SdkAws,
    s3: trainguard_tests::rendezvous::Rendezvous<trainguard::aws::sdk::SdkS3>,
}

impl trainguard::aws::Aws for RacingAws {
    type S3 = trainguard_tests::rendezvous::Rendezvous<trainguard::aws::sdk::SdkS3>;
    type Sfn = <trainguard::aws::sdk::SdkAws as trainguard::aws::Aws>::Sfn;
    type SageMaker = <trainguard::aws::sdk::SdkAws as trainguard::aws::Aws>::SageMaker;
    type Sns = <trainguard::aws::sdk::SdkAws as trainguard::aws::Aws>::Sns;
    fn s3(&self) -> &Self::S3 {
        &self.s3
    }
    fn sfn(&self) -> &Self::Sfn {
        self.inner.sfn()
    }
    fn sagemaker(&self) -> &Self::SageMaker {
        self.inner.sagemaker()
    }
    fn sns(&self) -> &Self::Sns {
        self.inner.sns()
    }
}

/// Two decisions on one approval at once (issue 16), on moto's real conditional writes:
/// both read the pending record (the same ETag) before either writes its claim, so the
/// two `If-Match` PUTs race at S3. Exactly one wins and resumes the execution with its
/// decision; the other is refused with 409 `already_decided`; the audit has one
/// `decided` entry, by the winner, and one refusal, of the loser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_decisions_at_once_exactly_one_wins() {
    use trainguard::approval::{handle_event, ApprovalService};
    use trainguard::aws::Aws as _;
    use trainguard_tests::rendezvous::{Race, Rendezvous};

    let fx = Fixture::start(BASE).await;
    let pkg = fx.new_package().await;
    let (exec, id, _) = fx.start_and_wait("run-race-1", fx.input(&pkg, 3600)).await;
    let race = Race::new(&format!("approvals/{id}.json"), 2);
    let sdk = trainguard::aws::sdk::SdkAws::new(&fx.clients);
    let racing = RacingAws {
        s3: Rendezvous::new(sdk.s3().clone(), race.clone()),
        inner: sdk,
    };
    let service =
        ApprovalService::new(std::sync::Arc::new(racing), fx.service.config.clone()).unwrap();
    let path = format!("/approvals/{id}/decision");
    let json_headers: &[(&str, &str)] = &[("content-type", "application/json")];
    let approve = apigw_event(
        "POST",
        &path,
        Who::Iam(CI_ROLE),
        json_headers,
        Some(r#"{"decision":"approve","comment":"ship it"}"#),
    );
    let reject = apigw_event(
        "POST",
        &path,
        Who::Iam(MOTO_CLI_ARN),
        json_headers,
        Some(r#"{"decision":"reject","comment":"hold it"}"#),
    );
    let (a, r) = tokio::join!(
        handle_event(&service, approve),
        handle_event(&service, reject)
    );
    assert_eq!(race.met(), 2, "both claims met at S3: the race happened");
    let status = |v: &Value| v["statusCode"].as_u64().unwrap();
    let (a, r) = (a.unwrap(), r.unwrap());
    let (winner, loser, decision, reviewer, refused) = match (status(&a), status(&r)) {
        (200, 409) => (&a, &r, "approved", CI_ROLE, MOTO_CLI_ARN),
        (409, 200) => (&r, &a, "rejected", MOTO_CLI_ARN, CI_ROLE),
        other => panic!("exactly one decision must win: {other:?}\n{a}\n{r}"),
    };
    let won: Value = serde_json::from_str(winner["body"].as_str().unwrap()).unwrap();
    assert_eq!(won["status"], decision, "{won}");
    let lost = loser["body"].as_str().unwrap();
    assert!(lost.contains("already_decided"), "{lost}");

    // The record and the execution carry the winner's decision, and only it.
    let rec = fx.record(&id).await;
    assert_eq!(rec["status"], decision);
    assert_eq!(rec["decision"]["reviewer"], reviewer);
    let done = fx.wait_done(&exec).await;
    if decision == "approved" {
        assert_eq!(done.status.as_str(), "SUCCEEDED");
        let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
        assert_eq!(out["reviewer"], reviewer);
    } else {
        assert_eq!(done.status.as_str(), "FAILED");
        assert_eq!(done.error(), Some("Approval.Rejected"));
    }
    let audit: Vec<Value> = fx
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e["execution_name"] == "run-race-1")
        .collect();
    let of = |kind: &str| -> Vec<&Value> { audit.iter().filter(|e| e["event"] == kind).collect() };
    let decided = of("decided");
    assert_eq!(decided.len(), 1, "one audit of the decision: {audit:?}");
    assert_eq!(decided[0]["actor"], reviewer);
    let refusals = of("refused");
    assert_eq!(refusals.len(), 1, "{audit:?}");
    assert_eq!(refusals[0]["actor"], refused);
    assert!(
        refusals[0]["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("already_decided"),
        "{:?}",
        refusals[0]
    );
    assert_eq!(refusals[0]["http_status"], 409);
}
