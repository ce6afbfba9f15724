#!/usr/bin/env python3
"""The demo: the whole trainguard pipeline, locally, on the real binaries.

Called by scripts/demo.sh (which prepares the machine and builds the binaries first).
1. starts the local stack (tests/e2e/stack.py: moto + its ASL interpreter, the router
   with the SageMaker stub, cargo lambda watch);
2. uploads the sample data and its data contract, and builds the drift baseline with the
   real drift-detector;
3. starts the pipeline the way production does: an EventBridge "Object Created" event for
   the uploaded object, handled by the real pipeline-trigger;
4. waits; when the run pauses at the approval gate, approves as a reviewer through the
   real approval-handler (an IAM-authorized POST, as the CLI does);
5. prints the path of states taken, the endpoint, and where the reports are.
Every process it started is stopped when it ends, however it ends.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REVIEWER_ARN = "arn:aws:iam::123456789012:user/bob"


def say(msg):
    print(f"==> {msg}", flush=True)


def invoke(lam, name, payload):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = json.loads(r["Payload"].read() or b"null")
    if r.get("FunctionError"):
        raise RuntimeError(f"{name} failed: {body}")
    return body


def state_path(sfn, arn):
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def main():
    out = os.path.join(ROOT, "target", "demo", "stack.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    for old in ("reports", "evaluation", "approvals"):
        shutil.rmtree(os.path.join(ROOT, "target", "demo", old), ignore_errors=True)
    for stale in (out, out + ".error"):
        if os.path.exists(stale):
            os.remove(stale)
    say("starting the local stack (moto + Step Functions interpreter, router, cargo lambda watch)")
    stack = subprocess.Popen([sys.executable, os.path.join(HERE, "stack.py"), "--out", out,
                              "--log-dir", os.path.join(ROOT, "target", "demo", "logs")], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while not os.path.exists(out):
            if stack.poll() is not None or os.path.exists(out + ".error"):
                raise SystemExit("the stack did not start; see target/demo/logs/")
            if time.time() - t0 > 600:
                raise SystemExit("the stack did not start within 10 minutes")
            time.sleep(0.3)
        info = json.load(open(out))
        # The stack's harness user (moto enforces IAM; the functions use their own roles).
        kw = dict(region_name="us-east-1", aws_access_key_id=info["admin"]["access_key_id"],
                  aws_secret_access_key=info["admin"]["secret_access_key"])
        s3 = boto3.client("s3", endpoint_url=info["moto_endpoint"], **kw)
        sfn = boto3.client("stepfunctions", endpoint_url=info["moto_endpoint"], **kw)
        sm = boto3.client("sagemaker", endpoint_url=info["moto_endpoint"], **kw)
        lam = boto3.client("lambda", endpoint_url=info["router_endpoint"], **kw)
        bucket = info["bucket"]

        say("uploading the sample data and its contract")
        sample = open(os.path.join(ROOT, "events", "data", "sample.csv"), "rb").read()
        put = s3.put_object(Bucket=bucket, Key="data/demo/sample.csv", Body=sample)
        s3.put_object(Bucket=bucket, Key="config/contract.json",
                      Body=open(os.path.join(ROOT, "events", "schema-validator", "contract.json"), "rb").read())
        s3.put_object(Bucket=bucket, Key="config/reference/sample.csv", Body=sample)
        say("building the drift baseline with the real drift-detector")
        # Within its role (IAM is enforced): it reads config/* and writes pipeline/* only;
        # publishing the baseline to config/ is the operator's step.
        b = invoke(lam, "drift-detector", {"task": "baseline", "data": f"s3://{bucket}/config/reference/sample.csv",
                                           "baseline": f"s3://{bucket}/pipeline/_baseline/baseline.json"})
        s3.copy_object(Bucket=bucket, Key="config/baseline.json",
                       CopySource={"Bucket": bucket, "Key": "pipeline/_baseline/baseline.json"})
        print(f"    baseline: {b.get('baseline_uri')} ({b.get('rows')} rows, {b.get('features')} features)")

        say("new data: EventBridge 'Object Created' -> the real pipeline-trigger")
        event = json.load(open(os.path.join(ROOT, "events", "pipeline-trigger", "eventbridge-object-created.json")))
        event["detail"]["bucket"]["name"] = bucket
        event["detail"]["object"].update({"key": "data/demo/sample.csv", "size": len(sample), "etag": put["ETag"].strip('"')})
        event["detail"]["object"].pop("version-id", None)
        started = invoke(lam, "pipeline-trigger", event)
        arn = started["execution_arn"]
        print(f"    started: {started['execution_name'] if 'execution_name' in started else arn} (duplicate={started['duplicate']})")
        again = invoke(lam, "pipeline-trigger", event)
        print(f"    the same event again: started={again['started']} duplicate={again['duplicate']} (one execution)")

        approved = False
        t0 = time.time()
        while True:
            d = sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                break
            if time.time() - t0 > 600:
                raise SystemExit("the execution did not finish within 10 minutes")
            if not approved:
                # The records (approvals/<id>.json), not the open markers (approvals/pending/<id>).
                keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="approvals/").get("Contents", [])
                        if o["Key"].endswith(".json") and "/pending/" not in o["Key"]]
                for key in keys:
                    record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                    if record.get("execution_name") == arn.rsplit(":", 1)[-1] or len(keys) == 1:
                        approval_id = key.rsplit("/", 1)[-1].removesuffix(".json")
                        say(f"paused at the approval gate: reviewer {REVIEWER_ARN} approves approval {approval_id}")
                        resp = invoke(lam, "approval-handler", decision_event(approval_id, "approve", "metrics look right"))
                        print(f"    approval-handler: HTTP {resp.get('statusCode')} {str(resp.get('body'))[:200]}")
                        approved = True
                        break
            time.sleep(1)

        path = state_path(sfn, arn)
        say(f"execution {d['status']}")
        print("    path: " + " > ".join(path))
        if d["status"] != "SUCCEEDED":
            print(f"    error: {d.get('error')}: {str(d.get('cause'))[:500]}")
        eps = sm.list_endpoints()["Endpoints"]
        for e in eps:
            cfg = sm.describe_endpoint(EndpointName=e["EndpointName"])["EndpointConfigName"]
            print(f"    endpoint: {e['EndpointName']} {e['EndpointStatus']} on {cfg}")
        name = arn.rsplit(":", 1)[-1]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"pipeline/{name}/").get("Contents", [])]
        # moto keeps everything in memory and stops with the stack: copy the reports out.
        local = os.path.join(ROOT, "target", "demo")
        say(f"reports and artifacts under s3://{bucket}/pipeline/{name}/, copied under {os.path.relpath(local, ROOT)}/:")
        for k in keys:
            rel = k[len(f"pipeline/{name}/"):]
            if rel.startswith(("reports/", "evaluation/", "approvals/")):
                dest = os.path.join(local, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
                print(f"    s3://{bucket}/{k}  ->  {os.path.relpath(dest, ROOT)}")
            else:
                print(f"    s3://{bucket}/{k}")
        print(f"    open {os.path.relpath(os.path.join(local, 'reports', 'drift', 'drift.html'), ROOT)} in a browser for the drift report")
        print(f"    logs of every process: {os.path.relpath(info['log_dir'], ROOT)}")
        return 0 if d["status"] == "SUCCEEDED" else 1
    finally:
        say("stopping the local stack")
        if stack.stdin:
            stack.stdin.close()
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.terminate()
            stack.wait()


def decision_event(approval_id, decision, comment):
    """An API Gateway HTTP API (v2) request as the IAM-authorized route delivers it."""
    path = f"/iam/approvals/{approval_id}/decision"
    return {
        "version": "2.0",
        "routeKey": "POST /iam/approvals/{id}/decision",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"iam": {"accessKey": "AKIDEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
                                   "principalOrgId": None, "userArn": REVIEWER_ARN, "userId": "AIDAEXAMPLE"}},
            "domainName": "approvals.local.test",
            "domainPrefix": "approvals",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "trainguard-demo"},
            "requestId": "demo",
            "routeKey": "POST /iam/approvals/{id}/decision",
            "stage": "$default",
            "time": "22/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "pathParameters": {"id": approval_id},
        "body": json.dumps({"decision": decision, "comment": comment}),
        "isBase64Encoded": False,
    }


if __name__ == "__main__":
    # SIGTERM (scripts/demo.sh's trap) unwinds through main's `finally`, which stops the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
