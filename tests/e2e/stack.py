#!/usr/bin/env python3
"""The local stack the end-to-end tests and the demo run the pipeline on.

Starts, on free loopback ports (with --demo: the router on the port of AWS_ENDPOINT_URL in
tests/e2e/demo.env and cargo lambda watch on cargo-lambda's default 9000):
  1. moto server (S3, SageMaker, Step Functions, SNS), its Step Functions interpreter on,
     with MOTO_PORT pointing the interpreter's service calls at the router;
  2. the router (tests/e2e/router.py): Lambda invokes to cargo lambda watch, the
     SageMaker stub, everything else to moto;
  3. `cargo lambda watch`, serving the project's real binaries (pre-built);
then creates the pipeline's resources in moto (artifacts bucket, alert topic, model
package group, the state machine from the TEST COPY of statemachine/pipeline.asl.json)
and writes what it made as JSON to --out. Bucket, topic and state machine names, and the
functions' environment, come from tests/e2e/demo.env, which every function's
`[package.metadata.lambda.env]` repeats.

cargo lambda watch gives a function its package metadata env over the environment it was
started with, so the functions always see demo.env's AWS_ENDPOINT_URL. On free ports (the
e2e tests) the stack therefore also sets AWS_ENDPOINT_URL_<SERVICE> for every service the
functions call: the AWS SDK prefers those to AWS_ENDPOINT_URL.

--demo also creates the bucket and objects the sample events in events/ name
(trainguard-demo-data), so `cargo lambda invoke <function> --data-file events/...` works
against it; --no-watch leaves cargo lambda watch to you (run it at the workspace root).

It stays up until its stdin closes (the parent process ended, however it ended) or it
gets SIGTERM/SIGINT, then stops every process it started, by PID / process group.

IAM is enforced as on AWS, from template.yaml's own roles (tests/e2e/iam.py translates the
SAM template and resolves its intrinsics to this stack's names). moto starts with auth off;
the stack creates the harness's admin user (its keys go to --out as `admin`: the tests' own
set-up and reads), the template's roles with their policies, and one STS session of each
role a caller here plays; then it turns moto's auth on (/moto-api/reset-auth 0), so every
later request must be signed by a known identity and is judged against its policies.
Who is who: each function's `[package.metadata.lambda.env]` sets its access key id to the
marker `trainguard-<binary>`, and moto's interpreter signs with `ak`; the router signs each
such request again with the session of that function's role (or the state machine's), see
router.py `Identities` for why the router and not keys registered in moto. What moto can
check: every action; resources only for S3 and SQS (SageMaker, Step Functions, SNS and Logs
are checked against `*`, so iam.py widens those statements and tests/static/iam_actions.py
checks their resource patterns); the router judges lambda:InvokeFunction itself, on the
exact function ARN. TRAINGUARD_E2E_IAM=0 starts the stack without enforcement (debugging).

The state machine gets the template's default substitutions (no KMS key, no VPC);
TRAINGUARD_E2E_JOB_SECURITY=1 substitutes a KMS key and a VPC instead, so the same scenarios
run the other branch of the definition's encryption and network options.

Usage: stack.py [--out stack.json] [--demo [--no-watch]] [--log-dir DIR]
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam as template_iam  # noqa: E402 - tests/e2e/iam.py, beside this file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable
REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS = ["schema-validator", "drift-detector", "batch-size-adjuster", "saga-compensator", "approval-handler", "pipeline-trigger"]


def free_ports(n):
    """n distinct free loopback ports: every socket stays bound until all are chosen, so
    the kernel cannot hand the same port out twice."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port, proc, what, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


DEMO_ENV_FILE = os.path.join(ROOT, "tests", "e2e", "demo.env")
# The services the functions call (AWS_ENDPOINT_URL_<SERVICE> names of the AWS SDKs).
SERVICES = ["S3", "SFN", "SAGEMAKER", "SNS", "CLOUDWATCH_LOGS", "STS"]
LAMBDA_DEFAULT_PORT = 9000  # cargo lambda watch / invoke default


def demo_env():
    """tests/e2e/demo.env as a dict (KEY=VALUE lines, # comments)."""
    env = {}
    with open(DEMO_ENV_FILE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
    return env


def seed_sample_events(s3):
    """The bucket and objects the sample events in events/ refer to."""
    bucket = "trainguard-demo-data"
    s3.create_bucket(Bucket=bucket)
    sample = open(os.path.join(ROOT, "events", "data", "sample.csv"), "rb").read()
    for key in ["incoming/features/sample.csv", "incoming/features/sample 2026-11-22.csv",
                "features/2026-11-22/sample.csv", "features/reference/sample.csv"]:
        s3.put_object(Bucket=bucket, Key=key, Body=sample)
    contract = open(os.path.join(ROOT, "events", "schema-validator", "contract.json"), "rb").read()
    s3.put_object(Bucket=bucket, Key="contracts/churn-features.json", Body=contract)
    # The start record pipeline-trigger writes before it starts a run, for the sample
    # approval request, so `cargo lambda invoke approval-handler --data-file
    # events/approval-handler/request.json` opens an approval (the handler reads the
    # starter from this record, checked against the request's execution_input; the
    # digest is shared/src/origin.rs's canonical form: sorted keys, no spaces).
    req = json.load(open(os.path.join(ROOT, "events", "approval-handler", "request.json")))
    canonical = json.dumps(req["execution_input"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    record = {"execution_name": req["execution_name"],
              "started_by": req["execution_input"]["trigger"]["started_by"],
              "starter_kind": "iam-caller", "channel": "http", "event_id": "sample", "source_ip": None,
              "input_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
              "recorded_at": "2026-11-22T01:30:00Z"}
    s3.put_object(Bucket=req["bucket"], Key=f"pipeline/{req['execution_name']}/start.json",
                  Body=json.dumps(record).encode())


def fn_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class Stack:
    def __init__(self, log_dir):
        self.procs = []
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self.lock = threading.Lock()
        self.stopped = False

    def spawn(self, name, cmd, env, **kw):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "w")
        # Own process group: cargo lambda watch starts one process per function.
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def stop(self):
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()


def substitutions(bucket, topic_arn, group):
    s = {f"{''.join(w.capitalize() for w in f.split('-'))}Arn": fn_arn(f) for f in FUNCTIONS}
    s.update({
        "AlertTopicArn": topic_arn,
        "ArtifactsBucket": bucket,
        "TrainingRoleArn": f"arn:aws:iam::{ACCOUNT}:role/trainguard-training",
        "HostingRoleArn": f"arn:aws:iam::{ACCOUNT}:role/trainguard-hosting",
        "ProjectName": "trainguard",
        "PipelineName": "trainguard-pipeline",
        "TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainguard-train:latest",
        "ProcessingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainguard-process:latest",
        "InferenceImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainguard-serve:latest",
        "InstanceLadder": "ml.g4dn.xlarge:1:16,ml.g5.xlarge:1:24,ml.g6e.xlarge:1:48",
        "PromoteThreshold": "0.90",
        "ReviewThreshold": "0.80",
        "Reviewers": "alice@example.com,arn:aws:iam::123456789012:user/bob",
        "ApprovalTimeoutSeconds": "3600",
        "ApprovalHeartbeatSeconds": "3599",
        "ModelPackageGroupName": group,
        "EndpointName": "trainguard",
        "CodeCommit": "local-e2e",
        "DistributedThreshold": "5",
        # The template's defaults: no customer-managed KMS key, no VPC for the jobs.
        "KmsKeyArn": "",
        "TrainingVolumeKmsKeyArn": "",
        "VpcSubnetIds": "",
        "VpcSecurityGroupIds": "",
    })
    if os.environ.get("TRAINGUARD_E2E_JOB_SECURITY") == "1":
        # The other branch of the ASL's EncryptionOptions/NetworkOptions: a key (volumes
        # included) and a VPC, as a deployment with KmsKeyArn, EncryptTrainingVolumes=true,
        # VpcSubnetIds and VpcSecurityGroupIds set would substitute them.
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        s.update({"KmsKeyArn": key, "TrainingVolumeKmsKeyArn": key,
                  "VpcSubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b", "VpcSecurityGroupIds": "sg-0123abcd"})
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "stack.json"))
    ap.add_argument("--demo", action="store_true", help="fixed ports from demo.env, sample-event data")
    ap.add_argument("--no-watch", action="store_true", help="do not start cargo lambda watch (run your own)")
    ap.add_argument("--log-dir", default=os.path.join(ROOT, "target", "e2e-logs"))
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)

    stack = Stack(a.log_dir)

    def on_signal(signum, frame):
        stack.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        denv = demo_env()
        bucket = denv["TRAINGUARD_DATA_BUCKET"]
        moto_port, router_port, lambda_port = free_ports(3)
        if a.demo:
            router_port = int(urllib.parse.urlsplit(denv["AWS_ENDPOINT_URL"]).port)
            lambda_port = LAMBDA_DEFAULT_PORT
        venv = os.path.dirname(PY)
        # The AWS managed policies (AWSLambdaBasicExecutionRole, which SAM attaches to every
        # function role), so the roles are the template's whole.
        moto_env = dict(os.environ, MOTO_PORT=str(router_port), MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        moto = stack.spawn("moto", [os.path.join(venv, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], moto_env)
        router = stack.spawn("router", [PY, os.path.join(ROOT, "tests", "e2e", "router.py"), "--port", str(router_port),
                                        "--moto-port", str(moto_port), "--lambda-port", str(lambda_port)], dict(os.environ))
        wait_port(moto_port, moto, "moto")
        wait_port(router_port, router, "router")
        moto_url = f"http://127.0.0.1:{moto_port}"
        router_url = f"http://127.0.0.1:{router_port}"
        req = urllib.request.Request(f"{moto_url}/moto-api/config", data=b'{"stepfunctions":{"execute_state_machine":true}}',
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()

        enforce = os.environ.get("TRAINGUARD_E2E_IAM", "1") != "0"
        base = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        admin = template_iam.create_admin(boto3.client("iam", **base))
        kw = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id=admin["access_key_id"],
                  aws_secret_access_key=admin["secret_access_key"])
        s3 = boto3.client("s3", **kw)
        sns = boto3.client("sns", **kw)
        sm = boto3.client("sagemaker", **kw)
        sfn = boto3.client("stepfunctions", **kw)
        s3.create_bucket(Bucket=bucket)
        topic = sns.create_topic(Name="trainguard-alerts")["TopicArn"]
        # A queue on the topic, so the tests can read the alerts that were published.
        sqs = boto3.client("sqs", **kw)
        queue_url = sqs.create_queue(QueueName="trainguard-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        group = "trainguard-models"
        sm.create_model_package_group(ModelPackageGroupName=group)
        # pipeline-trigger's dead-letter queue (template.yaml TriggerFailuresQueue).
        dlq_url = sqs.create_queue(QueueName="trainguard-trigger-failures")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subs = substitutions(bucket, topic, group)
        subs_path = os.path.join(a.log_dir, "substitutions.json")
        with open(subs_path, "w") as f:
            json.dump(subs, f, indent=1)
        copy = subprocess.run([PY, os.path.join(ROOT, "tests", "e2e", "test_copy.py"),
                               os.path.join(ROOT, "statemachine", "pipeline.asl.json"), subs_path],
                              capture_output=True, text=True, check=True)
        with open(os.path.join(a.log_dir, "pipeline.test-copy.asl.json"), "w") as f:
            f.write(copy.stdout)
        with open(os.path.join(a.log_dir, "test-copy-changes.txt"), "w") as f:
            f.write(copy.stderr)
        sm_arn = sfn.create_state_machine(name="trainguard-pipeline", definition=copy.stdout,
                                          roleArn=f"arn:aws:iam::{ACCOUNT}:role/trainguard-pipeline")["stateMachineArn"]

        # What demo.env (and so every function's package metadata) names must be what was made.
        made = {"TRAINGUARD_STATE_MACHINE_ARN": sm_arn, "TRAINGUARD_APPROVAL_TOPIC_ARN": topic,
                "TRAINGUARD_APPROVAL_BUCKET": bucket, "TRAINGUARD_DATA_BUCKET": bucket}
        for k, v in made.items():
            if denv.get(k) != v:
                raise RuntimeError(f"tests/e2e/demo.env: {k}={denv.get(k)!r}, but the stack made {v!r}")
        if a.demo:
            seed_sample_events(s3)

        # The template's roles, and who plays which (see the module's docstring).
        cfn = template_iam.translate()
        refs, atts = template_iam.stack_names(bucket, topic, dlq_arn, group)
        resolver = template_iam.Resolver(cfn, {"DataPrefix": denv["TRAINGUARD_DATA_PREFIX"],
                                               "ModelPackageGroupName": group}, refs, atts)
        roles = template_iam.roles(cfn, resolver)
        iam_client = boto3.client("iam", **kw)
        sts = boto3.client("sts", **kw)
        identities = {"_admin": admin}
        for name, role in roles.items():
            template_iam.create_role(iam_client, name, role)
        players = {f"trainguard-{f}": f"trainguard-{f}" for f in FUNCTIONS}
        players["ak"] = "trainguard-pipeline"
        for key, name in players.items():
            ident = template_iam.assume(sts, name, name)
            ident["policies"] = list(roles[name]["policies"].values())
            identities[key] = ident
        with open(os.path.join(a.log_dir, "iam-roles.json"), "w") as f:
            json.dump({n: {k: v for k, v in r.items()} for n, r in roles.items()}, f, indent=1)
        req = urllib.request.Request(f"{router_url}/_e2e/identities", data=json.dumps(identities).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        # Asynchronous invocation as the template configures it (router.py `_invoke_async`):
        # each function's DeadLetterConfig and its EventInvokeConfig's retries.
        async_cfg = {}
        for lid, r in cfn["Resources"].items():
            if r["Type"] != "AWS::Lambda::Function" or not template_iam.binary_of(cfn, lid):
                continue
            fn = template_iam.binary_of(cfn, lid)
            cfg = {"role_key": f"trainguard-{fn}", "max_retry_attempts": 2}
            target = resolver.value((r["Properties"].get("DeadLetterConfig") or {}).get("TargetArn"))
            if target:
                cfg["dead_letter_queue_arn"] = target
                cfg["dead_letter_queue_url"] = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[1])["QueueUrl"]
            for e in cfn["Resources"].values():
                if e["Type"] == "AWS::Lambda::EventInvokeConfig" and e["Properties"].get("FunctionName") == {"Ref": lid}:
                    cfg["max_retry_attempts"] = int(e["Properties"].get("MaximumRetryAttempts", 2))
            async_cfg[fn] = cfg
        req = urllib.request.Request(f"{router_url}/_e2e/async", data=json.dumps(async_cfg).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        if enforce:
            template_iam.set_auth(moto_url, True)

        # The functions talk to AWS through the router (it forwards to moto, and plays
        # UpdateEndpoint, which moto lacks): demo.env's endpoint with --demo, else the
        # per-service variables, which win over the AWS_ENDPOINT_URL of the package metadata.
        fenv = dict(os.environ)
        fenv.update(denv)
        fenv["AWS_ENDPOINT_URL"] = router_url
        for service in SERVICES:
            fenv[f"AWS_ENDPOINT_URL_{service}"] = router_url
        fenv["RUST_LOG"] = os.environ.get("RUST_LOG", "info")
        if not a.no_watch:
            cargo_lambda = os.path.join(venv, "cargo-lambda")
            watch = stack.spawn("cargo-lambda-watch", [cargo_lambda, "lambda", "watch", "--ignore-changes", "--quiet",
                                                       "--invoke-address", "127.0.0.1", "--invoke-port", str(lambda_port),
                                                       "--concurrency", "2", "--timeout", "900"],
                                fenv, cwd=ROOT)
            wait_port(lambda_port, watch, "cargo lambda watch", timeout=300)

        info = {
            "moto_endpoint": moto_url, "router_endpoint": router_url, "lambda_endpoint": f"http://127.0.0.1:{lambda_port}",
            "bucket": bucket, "topic_arn": topic, "queue_url": queue_url, "model_package_group": group,
            "state_machine_arn": sm_arn, "log_dir": a.log_dir, "pid": os.getpid(),
            "admin": admin, "iam_enforced": enforce, "trigger_dlq_url": dlq_url, "trigger_dlq_arn": dlq_arn,
            "async": async_cfg,
        }
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f, indent=1)
        os.replace(tmp, a.out)
        print(json.dumps(info), flush=True)

        # Until the parent goes away (stdin EOF) or a signal arrives.
        while True:
            if not sys.stdin.buffer.read(1):
                break
    except Exception as e:  # noqa: BLE001
        print(f"stack: {e}", file=sys.stderr, flush=True)
        with open(a.out + ".error", "w") as f:
            f.write(str(e))
        raise
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
