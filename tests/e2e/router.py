#!/usr/bin/env python3
"""The local network of the end-to-end tests and the demo.

moto's Step Functions interpreter sends every service-integration call to
http://localhost:$MOTO_PORT. This router listens on that port and:

* routes Lambda Invoke calls (``POST /2015-03-31/functions/<name-or-arn>/invocations``) to
  ``cargo lambda watch``, which serves the project's real binaries. ARNs are stripped to
  the function name (cargo lambda answers 404 for an ARN) and an HTTP 500 error reply is
  turned into what AWS answers: 200 with ``X-Amz-Function-Error: Unhandled``;
* plays SageMaker for the calls the interpreter cannot make (function ``sagemaker-stub``:
  ``createTrainingJob.sync``, ``createProcessingJob.sync`` and the runtime's
  ``invokeEndpoint``; see ``SageMakerStub``);
* emulates ``UpdateEndpoint``, which moto 5.2.5 does not implement, as delete + create of
  the endpoint with the new configuration (so blue/green and its rollback can run); an
  update to a configuration that does not come up is rolled back the way SageMaker does
  it (InService on the previous configuration, with a FailureReason);
* forwards everything else to moto; a request signed by one of the functions (its access
  key id is the marker `trainguard-<function>` of its `[package.metadata.lambda.env]`) or
  by moto's interpreter (key `ak`, the state machine) is first signed again with the
  session credentials of that function's (the state machine's) role from template.yaml
  (see `Identities`), so moto, started with IAM enforced, judges it as AWS judges the role.

It also plays Lambda's asynchronous invocation (``X-Amz-Invocation-Type: Event``), which
cargo lambda watch does not implement: see ``Router._invoke_async``.

Fault injection for the scenarios (``POST /_e2e/faults``) only ever changes what
SageMaker reports, the way a real failure would look, or (``failing_calls``) makes one
service call fail the way the service itself fails it: it never changes the definition.

Usage: router.py --port P --moto-port M --lambda-port L
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ACCOUNT = "123456789012"
REGION = "us-east-1"
STUB = "sagemaker-stub"
# AWS fails a `.sync` task whose job failed with `States.TaskFailed`. moto's interpreter
# refuses any Lambda errorType starting with `States.` (it raises ValueError), so the stub
# uses this name; the shipped definition catches these tasks with States.ALL, so the path
# taken is the same, and the Cause is the DescribeTrainingJob response either way.
STUB_ERROR = "Stub.TaskFailed"
INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}

# PyTorch's CUDA OOM as the SageMaker training toolkit reports it in FailureReason
# (`<ErrorClass>:\nExitCode <n>\nErrorMessage "..."\nCommand "..."`).
OOM_REASON = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "torch.cuda.OutOfMemoryError: '
    "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 22.20 GiB total capacity; 19.87 GiB "
    "already allocated; 1.05 GiB free; 20.12 GiB reserved in total by PyTorch) If reserved memory is "
    ">> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation for "
    'Memory Management and PYTORCH_CUDA_ALLOC_CONF"\nCommand "/opt/conda/bin/python3.10 train.py '
    '--batch_size {batch}"'
)
# What DescribeTrainingJob says when SageMaker had no instances of the type to give.
CAPACITY_REASON = ("CapacityError: Unable to provision requested ML compute capacity. "
                   "Please retry using a different ML instance type.")
# A training script that stops on a non-finite loss, as the toolkit reports it.
NAN_REASON = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "RuntimeError: loss is nan '
    'at step 120"\nCommand "/opt/conda/bin/python3.10 train.py --learning_rate {lr}"'
)
RETRY_NAME_RE = re.compile(r"-r(\d+)-[0-9a-f]{8}$")


def log(*a):
    print("[router]", *a, file=sys.stderr, flush=True)


class Faults:
    """Failures the scenarios ask SageMaker to show."""

    def __init__(self):
        self.lock = threading.Lock()
        # endpoint name -> endpoint configs that come up InService; any other config of
        # that endpoint does not come up (see Router._update_endpoint for what SageMaker
        # then reports).
        self.endpoint_good_configs = {}
        # endpoint names whose model answers InvokeEndpoint with a ModelError (the
        # container is up but the model is broken: only a smoke test notices).
        self.broken_models = set()
        # endpoint names whose fleet never finishes provisioning: DescribeEndpoint keeps
        # saying Creating.
        self.stuck_endpoints = set()
        # Service calls that fail as the service would fail them (see `failing_call`):
        # each {"call": "<function name> | <X-Amz-Target> | SNS.Publish | S3.<METHOD>",
        #       "contains": "<text>" or ["<text>", ...] (all in the decoded URL + body), "match": {<payload key>:
        #       <value>} (Lambda only), "skip": <matching calls let through first>,
        #       "error": "<code>", "message": "..."}.
        self.failing_calls = []

    def update(self, body):
        with self.lock:
            for name, good in (body.get("endpoint_good_configs") or {}).items():
                self.endpoint_good_configs[name] = set(good)
            self.broken_models.update(body.get("broken_models") or [])
            self.stuck_endpoints.update(body.get("stuck_endpoints") or [])
            for f in body.get("failing_calls") or []:
                self.failing_calls.append(dict(f, seen=0))

    def failing_call(self, call, haystack, payload=None):
        """The fault for this call, if one matches (counting it against `skip`)."""
        with self.lock:
            for f in self.failing_calls:
                wanted = f.get("contains", [])
                wanted = [wanted] if isinstance(wanted, str) else wanted
                if f["call"] != call or any(w not in haystack for w in wanted):
                    continue
                if any(not isinstance(payload, dict) or payload.get(k) != v
                       for k, v in (f.get("match") or {}).items()):
                    continue
                f["seen"] += 1
                if f["seen"] <= int(f.get("skip", 0)):
                    return None
                return f
        return None

    def endpoint_stuck(self, endpoint):
        with self.lock:
            return endpoint in self.stuck_endpoints

    def endpoint_fails(self, endpoint, config):
        with self.lock:
            good = self.endpoint_good_configs.get(endpoint)
            return good is not None and config not in good

    def model_broken(self, endpoint):
        with self.lock:
            return endpoint in self.broken_models


CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*SignedHeaders=([^,\s]+)")


class Identities:
    """Who a request comes from, and the credentials it is signed with again.

    cargo lambda watch runs every function in one process tree with one environment, but
    each function's `[package.metadata.lambda.env]` wins over it, and there each function
    sets its own access key id, the marker `trainguard-<binary>` (no secret worth the
    name: the marker only says which function signed). moto's interpreter signs every
    service-integration call with the key `ak` (moto/stepfunctions/parser/asl/utils/
    boto_client.py): those are the state machine's calls. tests/e2e/stack.py registers,
    before it turns enforcement on, one STS session of the template's role per marker
    (`POST /_e2e/identities`): {"<key>": {"role", "access_key_id", "secret_access_key",
    "session_token", "policies": [<the role's template policy documents, resolved>]},
    "_admin": {...the harness's own user...}}.

    Why the router and not fixed keys registered inside moto: the functions then call AWS
    with real session credentials of their role, as Lambda gives them (STS AssumeRole on
    the template's role), signed by botocore exactly as moto checks signatures, and the one
    place that already sees every call of every function and of the interpreter is the
    only place that changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_key = {}
        self.admin = None

    def update(self, body):
        with self.lock:
            self.admin = body.pop("_admin", self.admin)
            self.by_key.update(body)

    def of(self, key):
        with self.lock:
            return self.by_key.get(key)

    def permits(self, ident, action, resource):
        """moto's own policy evaluator on the role's template policies (resources exact)."""
        from moto.iam.access_control import IAMPolicy, PermissionResult
        allowed = False
        for doc in ident.get("policies", []):
            r = IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)
            if r == PermissionResult.DENIED:
                return False
            allowed = allowed or r == PermissionResult.PERMITTED
        return allowed


def resign(method, path, headers, body, ident):
    """`headers` with the request signed again (SigV4) by `ident`'s session credentials:
    the same signed headers, date and payload hash the caller signed, computed the way moto
    verifies a signature (IAMRequestBase._calculate_signature), so it checks out."""
    lower = {k.lower(): v for k, v in headers.items()}
    m = CREDENTIAL_RE.search(lower.get("authorization", ""))
    region, service = m.group(3), m.group(4)
    signed = [h for h in m.group(5).lower().split(";") if h != "x-amz-security-token"] + ["x-amz-security-token"]
    out = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-security-token")}
    out["X-Amz-Security-Token"] = ident["session_token"]
    if service != "s3":
        # The payload hash, signed as a header: moto verifies a form-encoded (query
        # protocol: SNS, SQS) body from its re-encoded form fields, which need not be the
        # bytes sent; with the header it uses the hash given, as AWS accepts for any service.
        out["X-Amz-Content-SHA256"] = hashlib.sha256(body or b"").hexdigest()
        signed.append("x-amz-content-sha256")
    creds = Credentials(ident["access_key_id"], ident["secret_access_key"], ident["session_token"])
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
    req = AWSRequest(method=method, url=path, data=body, headers={k: v for k, v in out.items() if k.lower() in signed})
    req.context["timestamp"] = lower["x-amz-date"]
    canonical = signer.canonical_request(req)
    signature = signer.signature(signer.string_to_sign(req, canonical), req)
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={signer.scope(req)}, "
                            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(req))}, Signature={signature}")
    return out, f"{service}"


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items() if k != "ResponseMetadata"}
    if isinstance(o, list):
        return [jsonable(v) for v in o]
    if isinstance(o, datetime.datetime):
        return int(o.timestamp() * 1000)
    return o


def split_s3(uri):
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


class SageMakerStub:
    """Plays SageMaker's part for the tasks moto's interpreter cannot run.

    Jobs are created in moto (so they exist there, with their tags) and described
    from moto; the result is what a `.sync` task returns: the Describe* response.
    A failed job fails the task with the DescribeTrainingJob response as the Cause (moto's
    interpreter reports a Lambda's error payload as the Cause, so the payload is that
    response plus the `errorType` key it reads the error name from: `STUB_ERROR`, since
    the engine refuses `States.TaskFailed` from a Lambda).

    What a job does is read from `s3://<bucket>/_e2e/<execution-name>.json` (the test
    writes it before starting the execution), e.g.
    `{"training": {"oom_above_batch_size": 64, "accuracy": {"0.001": 0.93}},
      "evaluation": {"value": 0.95}}`; `evaluation.report` is the whole evaluation report
    to write (schemas/evaluation-report.schema.json), `evaluation.value` only the objective.

    Training failures, each in the shape SageMaker reports it (the DescribeTrainingJob
    response as the Cause):
    - `oom_above_batch_size`: a job whose batch size is above it dies of CUDA OOM;
    - `capacity_errors`: the first N attempts of every configuration (attempt = the
      `-r<n>-` of the retry names the batch-size adjuster gives) fail before they start:
      no ML capacity of the instance type (`CapacityError: Unable to provision ...`);
    - `spot_interrupted`: every managed-spot job loses its spot capacity and ends
      `Stopped` / `MaxWaitTimeExceeded` after an `Interrupted` transition; on-demand
      jobs run;
    - `nan_loss_above_learning_rate`: a job whose learning_rate is above it fails with
      a NaN loss.

    `accuracy` is the job's objective metric: a number, or a table by learning_rate
    (`"default"` for the rest). `overrides` gives configurations of one sweep behaviours
    of their own: `[{"when": {"sweep_member": "c"}, "set": {"oom_above_batch_size": 0}}]`
    applies `set` over the training behaviour of every job whose hyperparameters include
    all of `when` (the recovery keeps the other hyperparameters of a configuration).
    """

    def __init__(self, moto_port):
        self.moto_port = moto_port
        self.use({"access_key_id": "testing", "secret_access_key": "testing"}, None)

    def use(self, admin, pipeline):
        """The stub's identities: the jobs, model and endpoint calls of a `.sync` task are the
        state machine's (its role's session, `pipeline`), what the stub does as SageMaker
        itself (the job's artifacts, the behaviour files, the UpdateEndpoint emulation) is
        the harness's (`admin`)."""
        cfg = Config(retries={"max_attempts": 2})

        def client(service, ident):
            return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.moto_port}", region_name=REGION,
                                aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
                                aws_session_token=ident.get("session_token"), config=cfg)
        self.sm = client("sagemaker", admin)
        self.s3 = client("s3", admin)
        self.task_sm = client("sagemaker", pipeline or admin)

    def behaviour(self, s3_uri):
        bucket, key = split_s3(s3_uri)
        m = re.match(r"pipeline/([^/]+)/", key)
        if not m:
            return {}
        try:
            body = self.s3.get_object(Bucket=bucket, Key=f"_e2e/{m.group(1)}.json")["Body"].read()
            return json.loads(body)
        except Exception:  # noqa: BLE001 - no behaviour file: defaults
            return {}

    def handle(self, payload, faults):
        if "TrainingJobName" in payload:
            return self.training(payload)
        if "ProcessingJobName" in payload:
            return self.processing(payload)
        if "EndpointName" in payload and "Body" in payload:
            return self.invoke_endpoint(payload, faults)
        return False, {"errorType": "States.Runtime", "errorMessage": "sagemaker-stub: unknown request"}

    def training(self, p):
        log("training", json.dumps(p)[:2000])
        out_uri = p["OutputDataConfig"]["S3OutputPath"]
        beh = self.behaviour(out_uri).get("training", {})
        hp = p.get("HyperParameters") or {}
        for o in beh.get("overrides", []):
            if all(hp.get(k) == v for k, v in o["when"].items()):
                beh = dict(beh, **o["set"])
        name = p["TrainingJobName"]
        args = {k: v for k, v in p.items() if k in (
            "TrainingJobName", "AlgorithmSpecification", "RoleArn", "HyperParameters", "InputDataConfig",
            "OutputDataConfig", "ResourceConfig", "StoppingCondition", "EnableManagedSpotTraining",
            "CheckpointConfig", "Tags", "VpcConfig", "RetryStrategy", "Environment")}
        self.task_sm.create_training_job(**args)
        desc = jsonable(self.task_sm.describe_training_job(TrainingJobName=name))
        bucket, out_key = split_s3(out_uri)
        ck_uri = (p.get("CheckpointConfig") or {}).get("S3Uri")
        spot = bool(p.get("EnableManagedSpotTraining"))
        desc["EnableManagedSpotTraining"] = spot
        retry = RETRY_NAME_RE.search(name)
        attempt = int(retry.group(1)) if retry else 0
        if attempt < int(beh.get("capacity_errors", 0)):
            # No instance ever started: no checkpoint, no artifact.
            return False, self._failed(desc, "Failed", "Failed", CAPACITY_REASON, ["Starting", "Failed"])
        # Every attempt writes a checkpoint, as a real job does before it dies.
        if ck_uri:
            cb, ck = split_s3(ck_uri)
            self.s3.put_object(Bucket=cb, Key=f"{ck.rstrip('/')}/{name}-epoch-1.pt", Body=b"checkpoint")
        if spot and beh.get("spot_interrupted"):
            # The spot capacity was taken away and did not come back within
            # MaxWaitTimeInSeconds: SageMaker stops the job.
            return False, self._failed(desc, "Stopped", "MaxWaitTimeExceeded", "",
                                       ["Starting", "Downloading", "Training", "Interrupted", "MaxWaitTimeExceeded"])
        nan_above = beh.get("nan_loss_above_learning_rate")
        lr = hp.get("learning_rate")
        if nan_above is not None and lr is not None and float(lr) > float(nan_above):
            return False, self._failed(desc, "Failed", "Failed", NAN_REASON.format(lr=lr),
                                       ["Starting", "Downloading", "Training", "Failed"])
        batch_key = beh.get("batch_size_hyperparameter", "batch_size")
        batch = int(float(hp.get(batch_key, "0") or 0))
        oom_above = beh.get("oom_above_batch_size")
        if oom_above is not None and batch > int(oom_above):
            # A partial artifact is left behind too: compensation must remove it.
            self.s3.put_object(Bucket=bucket, Key=f"{out_key.rstrip('/')}/{name}/output/partial.bin", Body=b"partial")
            desc.update({
                "TrainingJobStatus": "Failed",
                "SecondaryStatus": "Failed",
                "FailureReason": OOM_REASON.format(batch=batch),
            })
            desc.pop("ModelArtifacts", None)
            desc.pop("FinalMetricDataList", None)
            desc["errorType"] = STUB_ERROR
            return False, desc
        model_key = f"{out_key.rstrip('/')}/{name}/output/model.tar.gz"
        self.s3.put_object(Bucket=bucket, Key=model_key, Body=b"model")
        metric = ((p.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [{"Name": "validation:accuracy"}])[0]["Name"]
        acc_table = beh.get("accuracy", {})
        value = acc_table.get(hp.get("learning_rate", ""), acc_table.get("default", 0.9)) if isinstance(acc_table, dict) else float(acc_table)
        now = int(time.time() * 1000)
        desc.update({
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/{model_key}"},
            "FinalMetricDataList": [{"MetricName": metric, "Value": value, "Timestamp": now}],
        })
        return True, desc

    @staticmethod
    def _failed(desc, status, secondary, reason, transitions):
        """A `.sync` training task's failure: the DescribeTrainingJob response."""
        now = int(time.time() * 1000)
        desc.update({
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "SecondaryStatusTransitions": [{"Status": t, "StartTime": now, "StatusMessage": ""} for t in transitions],
        })
        if reason:
            desc["FailureReason"] = reason
        desc.pop("ModelArtifacts", None)
        desc.pop("FinalMetricDataList", None)
        desc["errorType"] = STUB_ERROR
        return desc

    def processing(self, p):
        outputs = (p.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        out = outputs[0]["S3Output"]["S3Uri"] if outputs else None
        beh = self.behaviour(out or "").get("evaluation", {})
        args = {k: v for k, v in p.items() if k in (
            "ProcessingJobName", "AppSpecification", "RoleArn", "ProcessingInputs", "ProcessingOutputConfig",
            "StoppingCondition", "Tags", "NetworkConfig", "ExperimentConfig")}
        args.setdefault("ProcessingResources", p.get("ProcessingResources"))
        self.task_sm.create_processing_job(**{k: v for k, v in args.items() if v is not None})
        desc = jsonable(self.task_sm.describe_processing_job(ProcessingJobName=p["ProcessingJobName"]))
        name = outputs[0].get("OutputName") if outputs else None
        if name == "evaluation" and out:
            b, k = split_s3(out)
            env = p.get("Environment") or {}
            metric = env.get("OBJECTIVE_METRIC", "validation:accuracy")
            goal = env.get("OBJECTIVE_GOAL", "Maximize").lower()
            # The candidate's report (schemas/evaluation-report.schema.json): the
            # scenario's `evaluation.report` as given, else the objective at `value` with
            # latency and size well inside the limits and no slices.
            report = beh.get("report") or {
                "schema_version": 1,
                "overall": {metric: {"value": beh.get("value", 0.87), "goal": goal}},
                "latency_ms": {"p50": 4.0, "p95": 9.0, "p99": 15.0},
                "size": {"artifact_bytes": 5, "memory_bytes": 1 << 20},
            }
            report = dict(report, model={"training_job": env.get("TRAINING_JOB_NAME")})
            self.s3.put_object(Bucket=b, Key=f"{k.rstrip('/')}/evaluation.json", Body=json.dumps(report, allow_nan=False).encode())
        elif name == "features" and out:
            # Feature engineering as the identity: the input objects, copied.
            src = p["ProcessingInputs"][0]["S3Input"]["S3Uri"]
            sb, sk = split_s3(src)
            b, k = split_s3(out)
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=sb, Prefix=sk):
                for o in page.get("Contents", []):
                    base = o["Key"].rsplit("/", 1)[-1]
                    self.s3.copy_object(Bucket=b, Key=f"{k.rstrip('/')}/{base}", CopySource={"Bucket": sb, "Key": o["Key"]})
        desc["ProcessingJobStatus"] = "Completed"
        return True, desc

    def invoke_endpoint(self, p, faults):
        d = self.sm.describe_endpoint(EndpointName=p["EndpointName"])
        if d["EndpointStatus"] != "InService":
            return False, {"errorType": "SageMakerRuntime.ValidationErrorException",
                           "errorMessage": f"Endpoint {p['EndpointName']} is not in service ({d['EndpointStatus']})."}
        if faults.model_broken(p["EndpointName"]):
            # What the runtime answers when the container returns a 5xx (HTTP 424).
            return False, {"errorType": "SageMakerRuntime.ModelErrorException",
                           "errorMessage": "Received server error (500) from primary with message "
                                           '"model.predict: shapes (1,4) and (12,1) not aligned". '
                                           f"See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/{p['EndpointName']} in account {ACCOUNT} for more information."}
        return True, {"ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic", "Body": "0.5"}


class Router(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trainguard-e2e-router"

    def log_message(self, fmt, *args):  # quiet: the tests read stderr only on failure
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status, body, headers=None, head_length=None):
        self.send_response(status)
        if not any(k.lower() == "x-amzn-requestid" for k in (headers or {})):
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # A HEAD reply has no body but tells the size of the object (HeadObject).
        self.send_header("Content-Length", str(len(body)) if head_length is None else head_length)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._any("GET")

    def do_POST(self):
        self._any("POST")

    def do_PUT(self):
        self._any("PUT")

    def do_DELETE(self):
        self._any("DELETE")

    def do_HEAD(self):
        self._any("HEAD")

    def _any(self, method):
        body = self._body()
        try:
            path = urllib.parse.urlsplit(self.path).path
            if path == "/_e2e/faults" and method == "POST":
                self.server.faults.update(json.loads(body or b"{}"))
                return self._reply(200, b"{}", {"Content-Type": "application/json"})
            if path == "/_e2e/health":
                return self._reply(200, b"ok")
            if path == "/_e2e/identities" and method == "POST":
                ids = self.server.identities
                ids.update(json.loads(body or b"{}"))
                self.server.stub.use(ids.admin, ids.of("ak"))
                return self._reply(200, b"{}", {"Content-Type": "application/json"})
            if path == "/_e2e/async" and method == "POST":
                with self.server.faults.lock:
                    self.server.async_config.update(json.loads(body or b"{}"))
                return self._reply(200, b"{}", {"Content-Type": "application/json"})
            m = INVOKE_RE.match(path)
            if m and method == "POST":
                if self.headers.get("X-Amz-Invocation-Type") == "Event":
                    return self._invoke_async(urllib.parse.unquote(m.group(1)), body)
                return self._invoke(urllib.parse.unquote(m.group(1)), body)
            target = self.headers.get("X-Amz-Target", "")
            fault = self._failing_service_call(method, target, body)
            if fault is not None:
                return self._reply(*fault)
            headers = self._signed_headers(method, body)
            if target == "SageMaker.UpdateEndpoint":
                # moto authorizes the call before it finds UpdateEndpoint unimplemented: ask
                # it first, so the caller's role is judged, then play the update.
                status, h, out, _ = self._forward(method, body, headers)
                if status in (400, 403) and b"not authorized" in out:
                    return self._reply(*self._aws_denial(status, h, out, target))
                return self._update_endpoint(json.loads(body or b"{}"))
            status, h, out, length = self._forward(method, body, headers)
            if status == 403 and self.server.identities.of(self._caller()) is not None:
                why = re.search(rb"<Message>(.*?)</Message>", out, re.S)
                log("denied", self._caller(), method, target or urllib.parse.unquote(self.path)[:200],
                    (why.group(1) if why else out[-300:]).decode("utf-8", "replace"))
                status, out, h = self._aws_denial(status, h, out, target)
            if target == "SageMaker.DescribeEndpoint" and status == 200:
                out = self._describe_endpoint_faults(out)
            return self._reply(status, out, h, head_length=length if method == "HEAD" else None)
        except Exception as e:  # noqa: BLE001 - report, never hang the caller
            log("error", method, self.path, repr(e))
            msg = json.dumps({"__type": "InternalFailure", "message": f"router: {e}"}).encode()
            return self._reply(500, msg, {"Content-Type": "application/json"})

    def _caller(self):
        m = CREDENTIAL_RE.search(self.headers.get("Authorization", ""))
        return m.group(1) if m else "-"

    def _signed_headers(self, method, body):
        """The request's headers, signed again with the caller's role session when the caller
        is a function or the interpreter (see `Identities`); unchanged otherwise (the
        harness's own user, or a key moto will refuse)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "content-length"}
        ident = self.server.identities.of(self._caller())
        if ident is None:
            return headers
        signed, _ = resign(method, self.path, headers, body, ident)
        return signed

    @staticmethod
    def _aws_denial(status, headers, out, target):
        """moto answers a denied JSON-protocol call (SageMaker, Step Functions, Logs) with
        its query-protocol XML and 403; AWS answers 400 with an AccessDeniedException JSON
        body (`User: <arn> is not authorized to perform: <action> ...`), which is what the
        SDKs parse. The message is moto's, naming the caller and the action."""
        if not target:
            return status, out, headers
        m = re.search(rb"<Message>(.*?)</Message>", out, re.S)
        msg = (m.group(1) if m else out).decode("utf-8", "replace")
        body = json.dumps({"__type": "AccessDeniedException", "message": msg}).encode()
        return 400, body, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}

    def _forward(self, method, body, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=300)
        if headers is None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "content-length"}
        if body:
            headers["Content-Length"] = str(len(body))
        conn.request(method, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        out = resp.read()
        h = {k: v for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"}
        length = resp.getheader("Content-Length", "0")
        conn.close()
        return resp.status, h, out, length

    def _failing_service_call(self, method, target, body):
        """An injected failure of a non-Lambda call, in the service's own error shape:
        SageMaker's JSON, SNS's query-protocol XML, S3's REST XML."""
        text = body.decode("utf-8", "replace")
        haystack = urllib.parse.unquote_plus(self.path + "\n" + text)
        form = urllib.parse.parse_qs(text) if not target else {}
        if target:
            call = target
        elif form.get("Action") == ["Publish"]:
            call = "SNS.Publish"
        else:
            call = f"S3.{method}"
        f = self.server.faults.failing_call(call, haystack)
        if f is None:
            return None
        rid = str(uuid.uuid4())
        log("injected failure", call, f.get("contains", ""))
        if target:
            code = f.get("error", "ResourceLimitExceeded")
            msg = f.get("message", "The account-level service limit for this resource has been exceeded.")
            out = json.dumps({"__type": code, "message": msg}).encode()
            return 400, out, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": rid}
        if call == "SNS.Publish":
            code = f.get("error", "AuthorizationError")
            msg = f.get("message", "User is not authorized to perform: SNS:Publish on resource")
            out = (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
                   f"<Code>{code}</Code><Message>{msg}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>").encode()
            return 403, out, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}
        code = f.get("error", "AccessDenied")
        msg = f.get("message", "Access Denied")
        out = f"<Error><Code>{code}</Code><Message>{msg}</Message><RequestId>{rid}</RequestId></Error>".encode()
        return 403, out, {"Content-Type": "application/xml", "x-amz-request-id": rid}

    def _invoke(self, fn, body):
        name = fn.split(":")[6] if fn.startswith("arn:") else fn
        ident = self.server.identities.of(self._caller())
        if ident is not None and name != STUB:
            # (The stub stands in for `.sync` SageMaker integrations of the test copy, not a
            # function of the template: its SageMaker calls go to moto as the state
            # machine's role and are judged there.)
            # moto never sees these calls (they go to cargo lambda watch), so the router
            # judges lambda:InvokeFunction itself, with moto's evaluator, on the function's
            # ARN against the caller's template policies, resources exact.
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            if not self.server.identities.permits(ident, "lambda:InvokeFunction", arn):
                msg = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{ident['role']}/{ident['role']} is not authorized "
                       f"to perform: lambda:InvokeFunction on resource: {arn} because no identity-based policy "
                       "allows the lambda:InvokeFunction action")
                log("denied", ident["role"], "lambda:InvokeFunction", arn)
                return self._reply(403, json.dumps({"Type": "User", "message": msg}).encode(), {
                    "Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"})
        payload = json.loads(body or b"{}")
        haystack = urllib.parse.unquote_plus(body.decode("utf-8", "replace"))
        fault = self.server.faults.failing_call(name, haystack, payload)
        if fault is not None:
            # The function's process died (out of memory, a crash): what Lambda reports
            # then, as an Unhandled function error.
            log("injected failure", name, fault.get("contains", ""))
            out = {"errorType": fault.get("error", "Runtime.ExitError"),
                   "errorMessage": fault.get("message", f"RequestId: {uuid.uuid4()} Error: Runtime exited with error: signal: killed")}
            return self._reply(200, json.dumps(out).encode(), {
                "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST",
                "X-Amz-Function-Error": "Unhandled"})
        if name == STUB:
            ok, out = self.server.stub.handle(payload, self.server.faults)
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            if not ok:
                headers["X-Amz-Function-Error"] = "Unhandled"
            return self._reply(200, json.dumps(out).encode(), headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.lambda_port, timeout=900)
        conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=body,
                     headers={"Content-Type": "application/json", "Content-Length": str(len(body))})
        resp = conn.getresponse()
        out = resp.read()
        conn.close()
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if resp.status == 200:
            return self._reply(200, out, headers)
        if resp.status >= 500:
            # cargo lambda: handler error as HTTP 500 {"errorType","errorMessage"}; AWS: 200 + header.
            headers["X-Amz-Function-Error"] = "Unhandled"
            return self._reply(200, out, headers)
        return self._reply(resp.status, out, headers)

    def _invoke_async(self, fn, body):
        """Lambda's asynchronous invocation, as AWS documents it
        (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html and
        .../invocation-async-retain-records.html#invocation-dlq): the caller gets 202 at once;
        a function error is retried MaximumRetryAttempts times (default two: one minute
        before the second attempt, two before the third; shortened here to
        TRAINGUARD_E2E_ASYNC_DELAYS seconds, default "1,2", so a test does not wait three
        minutes); when every attempt failed the event, unchanged, goes to the function's
        dead-letter queue with the message attributes RequestID (String), ErrorCode (Number,
        the 3-digit HTTP status of the invoke) and ErrorMessage (String, at most 1 KB),
        sent with the function's own role (the reason the template grants it
        sqs:SendMessage). Throttling and the 6-hour/4-day queue limits are not played.
        What each function has (DLQ ARN/URL, retries) comes from template.yaml through
        tests/e2e/stack.py (`POST /_e2e/async`), never from here."""
        name = fn.split(":")[6] if fn.startswith("arn:") else fn
        with self.server.faults.lock:
            cfg = dict(self.server.async_config.get(name) or {})
        request_id = str(uuid.uuid4())

        def run():
            delays = [float(x) for x in (os.environ.get("TRAINGUARD_E2E_ASYNC_DELAYS", "1,2")).split(",")]
            attempts = 1 + int(cfg.get("max_retry_attempts", 2))
            last = None
            for attempt in range(attempts):
                if attempt:
                    time.sleep(delays[min(attempt - 1, len(delays) - 1)])
                status, out, err = self._call_function(name, body)
                log("async", name, request_id, f"attempt {attempt + 1}/{attempts}:", "error" if err else "ok", out[:300])
                if not err:
                    return
                last = (status, out)
            dlq = cfg.get("dead_letter_queue_url")
            if not dlq:
                log("async", name, request_id, "failed; no dead-letter queue: dropped, as Lambda drops it")
                return
            try:
                message = json.loads(last[1]).get("errorMessage", "")
            except Exception:  # noqa: BLE001 - not JSON: the raw reply
                message = last[1].decode("utf-8", "replace")
            ident = self.server.identities.of(cfg.get("role_key", "")) or self.server.identities.admin
            sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{self.server.moto_port}", region_name=REGION,
                               aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
                               aws_session_token=ident.get("session_token"))
            sqs.send_message(QueueUrl=dlq, MessageBody=body.decode("utf-8"), MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": str(last[0])},
                "ErrorMessage": {"DataType": "String", "StringValue": message.encode("utf-8")[:1024].decode("utf-8", "ignore")},
            })
            log("async", name, request_id, "sent to the dead-letter queue", dlq)

        threading.Thread(target=run, daemon=True).start()
        return self._reply(202, b"", {"x-amzn-RequestId": request_id})

    def _call_function(self, name, body):
        """One synchronous run of a function under cargo lambda watch: (status, body, error?)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.lambda_port, timeout=900)
        conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=body,
                     headers={"Content-Type": "application/json", "Content-Length": str(len(body))})
        resp = conn.getresponse()
        out = resp.read()
        conn.close()
        # cargo lambda: a handler error is HTTP 500; Lambda reports it as 200 + function error.
        return (200 if resp.status >= 500 else resp.status), out, resp.status != 200

    def _update_endpoint(self, req):
        sm = self.server.stub.sm
        name, config = req["EndpointName"], req["EndpointConfigName"]
        current = sm.describe_endpoint(EndpointName=name)  # 4xx when it does not exist, like AWS
        if current["EndpointStatus"] != "InService":
            msg = f"Cannot update in-progress endpoint \"{current['EndpointArn']}\"."
            body = json.dumps({"__type": "ValidationException", "message": msg}).encode()
            return self._reply(400, body, {"Content-Type": "application/x-amz-json-1.1"})
        if self.server.faults.endpoint_fails(name, config):
            # SageMaker brings the new fleet up beside the old one; when it does not pass
            # its health checks the update is rolled back: the endpoint stays InService on
            # the previous configuration and FailureReason says why.
            with self.server.faults.lock:
                self.server.failed_updates[name] = (
                    f"Failed to update endpoint to configuration {config}: the primary container for "
                    "production variant AllTraffic did not pass the ping health check.")
            body = json.dumps({"EndpointArn": current["EndpointArn"]}).encode()
            return self._reply(200, body, {"Content-Type": "application/x-amz-json-1.1"})
        sm.delete_endpoint(EndpointName=name)
        out = sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        body = json.dumps({"EndpointArn": out["EndpointArn"]}).encode()
        return self._reply(200, body, {"Content-Type": "application/x-amz-json-1.1"})

    def _describe_endpoint_faults(self, out):
        d = json.loads(out)
        name = d.get("EndpointName")
        if self.server.faults.endpoint_fails(name, d.get("EndpointConfigName")):
            # Created on a configuration that does not come up: Failed, for good.
            d["EndpointStatus"] = "Failed"
            d["FailureReason"] = "The primary container for production variant AllTraffic did not pass the ping health check."
        with self.server.faults.lock:
            reason = self.server.failed_updates.get(name)
        if reason and d.get("EndpointStatus") == "InService":
            d["FailureReason"] = reason
        if self.server.faults.endpoint_stuck(name) and d.get("EndpointStatus") == "InService":
            # Never leaves Creating (instances that never pass provisioning).
            d["EndpointStatus"] = "Creating"
        return json.dumps(d).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--moto-port", type=int, required=True)
    ap.add_argument("--lambda-port", type=int, required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Router)
    srv.daemon_threads = True
    srv.moto_port = a.moto_port
    srv.lambda_port = a.lambda_port
    srv.faults = Faults()
    srv.failed_updates = {}
    srv.stub = SageMakerStub(a.moto_port)
    srv.identities = Identities()
    srv.async_config = {}
    log(f"listening on {a.port}: moto {a.moto_port}, cargo lambda watch {a.lambda_port}")
    srv.serve_forever()


if __name__ == "__main__":
    main()
