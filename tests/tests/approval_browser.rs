//! The approval page in a real headless browser (Debian's chromium driven by
//! playwright-core, `tests/browser/approve.mjs`).
//!
//! A real execution waits on moto (see `approval_common`). A tiny local HTTP server plays
//! API Gateway: it turns each browser request into an HTTP API v2 event, and plays the
//! JWT authorizer by mapping the `Authorization: Bearer` header to claims (an unknown or
//! missing token gets no authorizer context, which the handler refuses). The execution
//! carries the `metrics` and `drift` of the request the shipped state machine really
//! sends (`approval_common::SHIPPED_REQUEST`, captured by pipeline_e2e). The browser opens
//! the link, reads the objective, the metrics and the drift table, types a comment, clicks
//! Approve; the decision completes (SendTaskSuccess on moto resumes the execution) and the
//! page then shows the decision instead of the buttons. The screenshot is kept under
//! `output_dir("approval")`.

mod approval_common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use approval_common::*;
use serde_json::{json, Value};
use trainguard::approval::{handle_event, ApprovalService};
use trainguard::aws::sdk::SdkAws;
use trainguard_tests::http_client;
use trainguard_tests::lambda_router::{bind_loopback, serve, Response};
use trainguard_tests::{output_dir, workspace_root};

/// Tokens the stand-in authorizer accepts, and the claims each stands for.
fn claims_for(bearer: &str) -> Option<Value> {
    match bearer {
        "alice-token" => Some(
            json!({"sub": ALICE.0, "email": ALICE.1, "email_verified": "true", "iss": "https://idp.example.com"}),
        ),
        _ => None,
    }
}

/// Serve the handler over HTTP, as API Gateway (HTTP API, payload v2) would.
fn spawn_api_gateway(listener: tokio::net::TcpListener, service: Arc<ApprovalService<SdkAws>>) {
    serve(listener, move |req, peer| {
        let service = service.clone();
        async move {
            let (path, query) = req.path.split_once('?').unwrap_or((req.path.as_str(), ""));
            let mut headers = serde_json::Map::new();
            for (k, v) in &req.headers {
                headers.insert(k.to_ascii_lowercase(), json!(v));
            }
            let mut ctx = json!({
                "accountId": "123456789012", "apiId": API_ID, "domainName": "127.0.0.1",
                "requestId": "r", "routeKey": "$default", "stage": "$default", "timeEpoch": 0,
                "http": {"method": req.method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": peer.ip().to_string(), "userAgent": req.header("user-agent").unwrap_or("")}
            });
            let bearer = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or("");
            if let Some(claims) = claims_for(bearer) {
                ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
            }
            // API Gateway would forward the header; dropping it here shows the handler
            // takes the identity from the authorizer context alone.
            headers.remove("authorization");
            let event = json!({
                "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                "headers": headers, "requestContext": ctx,
                "body": String::from_utf8_lossy(&req.body), "isBase64Encoded": false
            });
            let out = match handle_event(&service, event).await {
                Ok(v) => v,
                Err(e) => {
                    json!({"statusCode": 500, "headers": {"content-type": "text/plain"}, "body": e.to_string()})
                }
            };
            Response {
                status: out["statusCode"].as_u64().unwrap_or(500) as u16,
                headers: out["headers"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                body: out["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_approves_in_a_real_browser() {
    let browser_dir = workspace_root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && browser_dir.join("node_modules/playwright-core").exists(),
        "chromium or playwright-core missing: run `bash scripts/setup.d/approval-browser.sh` (scripts/setup.sh does)"
    );

    let web = bind_loopback().await;
    let base = format!("http://127.0.0.1:{}", web.local_addr().unwrap().port());
    let fx = Fixture::start(&base).await;
    spawn_api_gateway(web, fx.service.clone());

    let pkg = fx.new_package().await;
    let shipped = shipped_request();
    let input = fx.input_from_fixture("run-browser-1", &pkg, 7200);
    // The reports the page links to (presigned, short-lived), where the request names them.
    for uri in [
        &input["report_uri"],
        &input["drift"]["report_uri"],
        &input["drift"]["html_report_uri"],
    ] {
        let key = uri
            .as_str()
            .and_then(|u| u.strip_prefix(&format!("s3://{}/", fx.bucket)));
        let key = key.unwrap_or_else(|| panic!("a report outside the bucket: {uri}"));
        trainguard_tests::put_object(&fx.clients, &fx.bucket, key, b"{}".to_vec()).await;
    }
    let (exec, id, raw) = fx.start_and_wait("run-browser-1", input).await;
    let url = format!("{base}/approvals/{id}");

    // Without a token the page is refused (the stand-in authorizer adds no identity).
    let anon_reply = http_client::get(&base, &format!("/approvals/{id}")).await;
    assert_eq!(anon_reply.status, 401, "{}", anon_reply.raw);

    let shot = output_dir("approval").join("approval-page-after-approve.png");
    let _ = std::fs::remove_file(&shot);
    let comment =
        "Objective clears the bar; the charges drift is expected after the pricing change.";
    let seen = drive_browser(&browser_dir, &chromium, &url, &shot, comment).await;

    // What the reviewer saw: the shipped request's objective, its gate, the route and
    // why, the metrics with baselines, and the drifted features as a table.
    assert_reviewer_sees(&seen, &shipped);
    assert!(seen["timeLeft"].as_str().unwrap().contains("left"));
    assert_eq!(seen["reportLinks"], 3);
    // After the click: the decision replaces the buttons.
    let decision = seen["decision"].as_str().unwrap();
    assert!(
        decision.contains("Approved")
            && decision.contains(ALICE.1)
            && decision.contains("pricing change"),
        "{decision}"
    );
    assert_eq!(seen["buttonsAfter"], 0);
    assert_eq!(seen["status"], "approved");
    assert_eq!(seen["finalUrl"], url.as_str());
    assert!(shot.exists(), "screenshot saved");

    // The decision really completed: the execution resumed with it. (The model registry
    // is the pipeline's to update after the gate; approval_handler covers that contract.)
    let done = fx.wait_done(&exec).await;
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["reviewer"], ALICE.1);
    assert_eq!(output["comment"], comment);

    // The token never reached the browser: no request URL carried it, nor the logs.
    let token = raw["task_token"].as_str().unwrap();
    assert_no_token(
        token,
        "a browser request URL",
        &seen["requests"].to_string(),
    );
    assert_no_token(token, "the log lines", &logs());
    for m in fx.sns_messages().await {
        assert_no_token(token, "an SNS notification", &m);
    }
}

/// `x` as the page prints numbers.
fn four(x: &Value) -> String {
    format!("{:.4}", x.as_f64().unwrap_or(f64::NAN))
}

/// The page shows what a reviewer of `shipped` must see (`seen` is approve.mjs's output).
fn assert_reviewer_sees(seen: &Value, shipped: &Value) {
    let m = &shipped["metrics"];
    let o = &seen["objective"];
    let text = |k: &str| o[k].as_str().unwrap_or("").to_string();
    let metric = m["metric"].as_str().expect("fixture: metrics.metric");
    assert_eq!(text("name"), metric, "objective name: {o}");
    assert_eq!(text("value"), four(&m["value"]), "objective value: {o}");
    match m["baseline"].get(metric) {
        Some(b) => assert!(text("baseline").starts_with(&four(b)), "baseline: {o}"),
        None => assert_eq!(text("baseline"), "No baseline was reported.", "{o}"),
    }
    let op = if m["goal"] == "Minimize" {
        "≤"
    } else {
        "≥"
    };
    let t = &m["thresholds"];
    for want in [
        format!("promote at {op} {}", four(&t["promote"])),
        format!("review at {op} {}", four(&t["review"])),
    ] {
        assert!(
            text("thresholds").contains(&want),
            "thresholds lack {want}: {o}"
        );
    }
    let route = match m["route"].as_str() {
        Some("auto") => "Promote automatically",
        Some("human") => "A person decides",
        Some("reject") => "Reject",
        other => panic!("fixture: unexpected route {other:?}"),
    };
    assert!(text("route").contains(route), "route: {o}");
    assert_eq!(text("reason"), m["reason"].as_str().unwrap(), "reason: {o}");
    if shipped["drift"]["drift_detected"] == true {
        assert!(text("reviewWhy").contains("drift was detected"), "{o}");
    }

    let table = seen["metrics"].as_str().unwrap();
    for want in [metric, "(objective)", &four(&m["value"])] {
        assert!(table.contains(want), "metrics table lacks {want}: {table}");
    }
    for (name, v) in m["metrics"].as_object().unwrap() {
        assert!(
            table.contains(name.as_str()) && table.contains(&four(v)),
            "{name}: {table}"
        );
    }

    let features: Vec<&str> = seen["driftFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let first = shipped["drift"]["drifted_features"][0]["name"]
        .as_str()
        .expect("fixture: a drifted feature");
    assert!(
        features.contains(&first),
        "drift table lacks {first}: {features:?}"
    );
    let drift = seen["drift"].as_str().unwrap();
    assert!(
        drift.contains("Drift detected") && !drift.contains('{'),
        "{drift}"
    );
}

/// Run tests/browser/approve.mjs against `url` as alice: what it saw (its JSON line).
async fn drive_browser(
    browser_dir: &Path,
    chromium: &str,
    url: &str,
    shot: &Path,
    comment: &str,
) -> Value {
    let out = tokio::task::spawn_blocking({
        let (dir, url, shot) = (
            browser_dir.to_path_buf(),
            url.to_string(),
            shot.to_path_buf(),
        );
        let (chromium, comment) = (chromium.to_string(), comment.to_string());
        move || {
            Command::new("node")
                .arg("approve.mjs")
                .current_dir(dir)
                .env("APPROVAL_URL", url)
                .env("BEARER", "alice-token")
                .env("COMMENT", comment)
                .env("SCREENSHOT", shot)
                .env("CHROMIUM", chromium)
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap()
}

/// The comparison with the model in production, as the shipped ASL sends it for a
/// candidate with mixed rows (`SHIPPED_COMPARISON`): the browser shows every row with
/// its values and whether it passed, the failed rows by name, and the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_sees_the_comparison_with_production_in_a_real_browser() {
    let browser_dir = workspace_root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && browser_dir.join("node_modules/playwright-core").exists(),
        "chromium or playwright-core missing: run `bash scripts/setup.d/approval-browser.sh` (scripts/setup.sh does)"
    );
    let web = bind_loopback().await;
    let base = format!("http://127.0.0.1:{}", web.local_addr().unwrap().port());
    let fx = Fixture::start(&base).await;
    spawn_api_gateway(web, fx.service.clone());
    let pkg = fx.new_package().await;
    let input = fx.input_from(SHIPPED_COMPARISON, "run-browser-cmp", &pkg, 7200);
    let sent = input["metrics"]["comparison"].clone();
    let (exec, id, _) = fx.start_and_wait("run-browser-cmp", input).await;
    let url = format!("{base}/approvals/{id}");
    let shot = output_dir("approval").join("approval-page-comparison.png");
    let seen = drive_browser(
        &browser_dir,
        &chromium,
        &url,
        &shot,
        "Slice regression accepted for now.",
    )
    .await;

    let rows = sent["rows"].as_array().expect("fixture: comparison rows");
    let shown = seen["comparisonRows"].as_array().unwrap();
    assert_eq!(shown.len(), rows.len(), "{shown:?}");
    for (r, cells) in rows.iter().zip(shown) {
        let cells: Vec<&str> = cells
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let what = format!("{r} shown as {cells:?}");
        assert!(
            cells[0].starts_with(r["dimension"].as_str().unwrap()),
            "{what}"
        );
        assert!(cells[1].starts_with(r["name"].as_str().unwrap()), "{what}");
        if let Some(slice) = r["slice"].as_str() {
            assert!(cells[1].contains(&format!("[{slice}]")), "{what}");
        }
        let result = match r["passed"].as_bool() {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "",
        };
        assert!(cells[6].starts_with(result), "{what}");
        if let Some(c) = r["candidate"].as_f64() {
            let as_page = if r["dimension"] == "size" {
                format!("{c:.0}")
            } else {
                format!("{c:.4}")
            };
            assert_eq!(cells[2], as_page, "{what}");
        }
        if let Some(ch) = r["change"].as_f64() {
            assert_eq!(cells[4], format!("{:+.1} %", ch * 100.0), "{what}");
        }
    }
    // Every dimension the gate compares is on the page.
    for dim in [
        "overall",
        "segment",
        "fairness",
        "importance",
        "latency",
        "size",
    ] {
        assert!(
            shown
                .iter()
                .any(|c| c[0].as_str().unwrap().starts_with(dim)),
            "no {dim} row: {shown:?}"
        );
    }
    let failed = seen["comparisonFailed"].as_str().unwrap();
    let n_failed = rows.iter().filter(|r| r["passed"] == false).count();
    assert!(n_failed > 0, "fixture: a mixed comparison has failed rows");
    for r in rows.iter().filter(|r| r["passed"] == false) {
        assert!(failed.contains(r["name"].as_str().unwrap()), "{failed}");
    }
    let summary = seen["comparisonSummary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "{} rows passed, {} failed",
            sent["passed"], sent["failed"]
        )),
        "{summary}"
    );
    assert!(
        summary.contains(sent["baseline_package"].as_str().unwrap()),
        "{summary}"
    );
    // The reviewer could still decide: the approval went through.
    assert_eq!(seen["status"], "approved");
    assert_eq!(fx.wait_done(&exec).await.status.as_str(), "SUCCEEDED");
}
