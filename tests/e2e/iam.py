#!/usr/bin/env python3
"""The template's IAM roles, in a local moto, for the tests that run with IAM enforced.

The roles and their policies are read from template.yaml itself, never written again here:
aws-sam-translator (in .venv-sam, which scripts/setup.d/pipeline-tools.sh installs with
aws-sam-cli; .venv has no SAM translator) turns the SAM template into plain CloudFormation,
with every policy SAM adds written out (the functions' `Policies`, the DLQ's
sqs:SendMessage, AWSLambdaBasicExecutionRole). `Resolver` then resolves the intrinsics
(Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join, AWS::NoValue) to the names of the local stack.

What moto can check (moto 5.2.5, moto/core/responses.py and iam/access_control.py): the
action of every request; the resource only for S3 (bucket and object ARNs), SQS, IAM and
STS. For SageMaker, Step Functions, SNS and CloudWatch Logs it checks the action against
resource `*`, so a statement naming one ARN would read as a denial there. `for_moto`
therefore keeps S3/SQS statements exactly as the template writes them and widens the
other services' statements to `*`: their actions are enforced, their resource patterns are
checked by tests/static/iam_actions.py against the ARNs the code and the ASL touch.
Conditions moto cannot evaluate are dropped from the widened statements (iam:PassRole's
iam:PassedToService: moto does not check PassRole at all).

Role names in the local stack: `trainguard-<binary>` for the functions (the binary names of
template.yaml's BuildProperties), `trainguard-pipeline` (the state machine),
`trainguard-training`, `trainguard-hosting`.

Command line (the Rust moto harness, tests/src/iam.rs, calls it):
  iam.py --endpoint URL admin
      creates the admin IAM user of the test harness; prints {"access_key_id", "secret_access_key"}
  iam.py --endpoint URL role ROLE [--name K=V ...] [--without ACTION ...]
      creates ROLE (e.g. saga-compensator) with its template policies, minus the actions
      given (a test that removes a needed action), and prints the credentials of a session of
      it (sts:AssumeRole, as Lambda gets them). Both need moto's auth off (see `auth`).
  iam.py --endpoint URL auth on|off
      moto's /moto-api/reset-auth: on = every later request authenticated (count 0).
  iam.py --endpoint URL --key K --secret S revoke ROLE ACTION
      removes ACTION from the inline policies of the live role trainguard-ROLE, as the
      harness user (K, S) with auth on: moto judges every later request of the role's
      sessions against the new policy (the tests that remove one needed action).
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
STACK_NAME = "trainguard"
# Services whose request resource moto evaluates (everything else is checked against `*`).
RESOURCE_CHECKED = ("s3", "sqs")

_TRANSLATE = r"""
import json, sys
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

class NoManagedPolicies:
    # The template names no managed policy by name; SAM writes AWSLambdaBasicExecutionRole
    # as an ARN without asking the loader.
    def load(self):
        return {}

t = yaml_parse(open(sys.argv[1]).read())
for r in t["Resources"].values():
    p = r.get("Properties", {})
    # Local paths: the translator wants S3 URIs; the code location has no IAM in it.
    if "CodeUri" in p:
        p["CodeUri"] = "s3://local/code.zip"
    if "DefinitionUri" in p:
        p["DefinitionUri"] = "s3://local/pipeline.asl.json"
json.dump(transform(t, {}, NoManagedPolicies()), sys.stdout)
"""


def translate(template=None):
    """template.yaml as plain CloudFormation (the SAM transform applied)."""
    template = template or os.path.join(ROOT, "template.yaml")
    py = os.path.join(ROOT, ".venv-sam", "bin", "python")
    if not os.path.exists(py):
        raise RuntimeError(f"{py} missing: run scripts/setup.sh (scripts/setup.d/pipeline-tools.sh)")
    out = subprocess.run([py, "-c", _TRANSLATE, template], capture_output=True, text=True,
                         env=dict(os.environ, AWS_DEFAULT_REGION=REGION))
    if out.returncode != 0:
        raise RuntimeError(f"SAM translation of {template} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def binary_of(cfn, logical):
    """The binary name of a function resource (its SAM BuildProperties), e.g. saga-compensator."""
    meta = cfn["Resources"][logical].get("Metadata") or {}
    return (meta.get("BuildProperties") or {}).get("Binary")


def role_names(cfn):
    """logical id of every AWS::IAM::Role -> its local name."""
    names = {}
    fn_roles = {}
    for lid, r in cfn["Resources"].items():
        if r["Type"] == "AWS::Lambda::Function":
            role = r["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
            b = binary_of(cfn, lid)
            if role and b:
                fn_roles[role] = f"trainguard-{b}"
    for lid, r in cfn["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        if lid in fn_roles:
            names[lid] = fn_roles[lid]
        else:
            # PipelineRole -> trainguard-pipeline, TrainingRole -> trainguard-training, ...
            names[lid] = "trainguard-" + re.sub(r"Role$", "", lid).lower()
    return names


class Resolver:
    """Resolves CloudFormation intrinsics to the local stack's names.

    `params` overrides parameter defaults; `refs` maps a logical id to what Ref gives,
    `atts` maps (logical id, attribute) to what Fn::GetAtt gives. Resources neither names
    get the usual CloudFormation shapes from their type where one is known (functions,
    roles), else resolving them raises, so nothing is guessed silently."""

    def __init__(self, cfn, params=None, refs=None, atts=None):
        self.cfn = cfn
        self.params = {k: v.get("Default") for k, v in cfn.get("Parameters", {}).items()}
        self.params.update(params or {})
        self.params.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION,
                            "AWS::StackName": STACK_NAME, "AWS::URLSuffix": "amazonaws.com"})
        self.refs = dict(refs or {})
        self.atts = dict(atts or {})
        self.roles = role_names(cfn)
        for lid, r in cfn["Resources"].items():
            if r["Type"] == "AWS::Lambda::Function" and binary_of(cfn, lid):
                b = binary_of(cfn, lid)
                self.refs.setdefault(lid, b)
                self.atts.setdefault((lid, "Arn"), f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{b}")
        for lid, name in self.roles.items():
            self.refs.setdefault(lid, name)
            self.atts.setdefault((lid, "Arn"), f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}")

    def condition(self, name):
        return bool(self.value(self.cfn["Conditions"][name]))

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"no local value for Ref {name}")

    def att(self, lid, attr):
        if (lid, attr) in self.atts:
            return self.atts[(lid, attr)]
        raise KeyError(f"no local value for Fn::GetAtt {lid}.{attr}")

    def sub(self, text, extra=None):
        def one(m):
            name = m.group(1)
            if extra and name in extra:
                return str(self.value(extra[name]))
            if "." in name:
                lid, attr = name.split(".", 1)
                return str(self.att(lid, attr))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    NO_VALUE = object()

    def value(self, v):
        if isinstance(v, list):
            out = [self.value(x) for x in v]
            return [x for x in out if x is not Resolver.NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return Resolver.NO_VALUE if a == "AWS::NoValue" else self.ref(a)
            if k == "Fn::GetAtt":
                lid, attr = a if isinstance(a, list) else a.split(".", 1)
                return self.att(lid, attr)
            if k == "Fn::Sub":
                return self.sub(a) if isinstance(a, str) else self.sub(a[0], a[1])
            if k == "Fn::If":
                return self.value(a[1] if self.condition(a[0]) else a[2])
            if k == "Fn::Join":
                return a[0].join(str(x) for x in self.value(a[1]))
            if k == "Fn::Equals":
                x, y = self.value(a)
                return str(x) == str(y)
            if k == "Fn::Not":
                return not self.value(a[0])
            if k == "Fn::And":
                return all(self.value(x) for x in a)
            if k == "Fn::Or":
                return any(self.value(x) for x in a)
            if k == "Condition":
                return self.condition(a)
        out = {k: self.value(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x is not Resolver.NO_VALUE}


def stack_names(bucket, topic_arn, dlq_arn, group):
    """Ref / Fn::GetAtt values of the local stack's resources the roles name, as `Resolver`
    takes them (refs, atts)."""
    refs = {"ArtifactsBucket": bucket, "AlertTopic": topic_arn, "ModelPackageGroup": group,
            "TriggerFailuresQueue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{dlq_arn.rsplit(':', 1)[1]}"}
    atts = {("ArtifactsBucket", "Arn"): f"arn:{PARTITION}:s3:::{bucket}", ("TriggerFailuresQueue", "Arn"): dlq_arn,
            ("AlertTopic", "TopicArn"): topic_arn}
    return refs, atts


def roles(cfn, resolver):
    """Every role of the template, resolved: name -> {logical, trust, policies, managed}."""
    out = {}
    for lid, name in resolver.roles.items():
        p = cfn["Resources"][lid]["Properties"]
        out[name] = {
            "logical": lid,
            "trust": resolver.value(p["AssumeRolePolicyDocument"]),
            "policies": {pol["PolicyName"]: resolver.value(pol["PolicyDocument"]) for pol in p.get("Policies", [])},
            "managed": resolver.value(p.get("ManagedPolicyArns", [])),
        }
    return out


def _as_list(x):
    return x if isinstance(x, list) else [x]


def for_moto(doc):
    """A policy document as moto can enforce it: S3/SQS statements exactly as written, the
    other services' statements widened to Resource `*` (see the module's docstring)."""
    stmts = []
    for s in _as_list(doc.get("Statement", [])):
        actions = _as_list(s.get("Action", []))
        kept = [a for a in actions if a.split(":")[0] in RESOURCE_CHECKED]
        widened = [a for a in actions if a.split(":")[0] not in RESOURCE_CHECKED]
        if kept:
            stmts.append(dict(s, Action=kept))
            # moto authorizes DeleteObjects (POST ?delete) as s3:DeleteObject on the BUCKET's
            # ARN (moto/s3/responses.py _bucket_response_post), where AWS checks
            # s3:DeleteObject on each key. So an object-scoped DeleteObject grant also gets
            # the bucket ARN here; the keys' prefixes are then not enforced for DeleteObjects
            # locally (single DeleteObject calls still are), iam_actions.py checks them.
            deletes = [a for a in kept if a == "s3:DeleteObject"]
            buckets = sorted({r.split("/", 1)[0] for r in _as_list(s.get("Resource", [])) if "/" in r})
            if deletes and buckets and s.get("Effect") == "Allow":
                stmts.append({"Effect": "Allow", "Action": deletes, "Resource": buckets})
        if widened:
            w = {k: v for k, v in s.items() if k not in ("Resource", "Condition", "Sid")}
            w.update(Action=widened, Resource="*")
            stmts.append(w)
    return {"Version": doc.get("Version", "2012-10-17"), "Statement": stmts}


def without(doc, drop):
    """The document minus the named actions (for the tests that remove one needed action)."""
    doc = copy.deepcopy(doc)
    stmts = []
    for s in _as_list(doc.get("Statement", [])):
        actions = [a for a in _as_list(s.get("Action", [])) if a not in drop]
        if actions:
            stmts.append(dict(s, Action=actions))
    doc["Statement"] = stmts
    return doc


def create_role(iam, name, role, drop=()):
    """Create one template role in moto (inline policies as moto enforces them)."""
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role["trust"]), MaxSessionDuration=43200)
    for pname, doc in role["policies"].items():
        iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(without(for_moto(doc), drop)))
    for arn in role["managed"]:
        # AWSLambdaBasicExecutionRole: CloudWatch Logs for the function's own log group,
        # which the Lambda runtime writes (not the code). moto knows the AWS managed policies.
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        except Exception as e:  # noqa: BLE001 - a managed policy moto does not ship
            print(f"iam.py: {name}: managed policy {arn} not attached: {e}", file=sys.stderr)


def assume(sts, name, session):
    """A session of the role, as Lambda / Step Functions get one (AssumeRole by the service).
    moto checks the trust policy against the caller, so this runs while auth is off: the
    service principal (lambda.amazonaws.com) is not a principal of the account."""
    c = sts.assume_role(RoleArn=f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}", RoleSessionName=session,
                        DurationSeconds=43200)["Credentials"]
    return {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
            "session_token": c["SessionToken"], "role": name}


def create_admin(iam):
    """The test harness's own identity (seeding buckets, reading results): an IAM user with
    AdministratorAccess-like inline policy. No function call may use it."""
    iam.create_user(UserName="trainguard-test-harness")
    iam.put_user_policy(UserName="trainguard-test-harness", PolicyName="admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    k = iam.create_access_key(UserName="trainguard-test-harness")["AccessKey"]
    return {"access_key_id": k["AccessKeyId"], "secret_access_key": k["SecretAccessKey"]}


def set_auth(endpoint, on):
    """moto's /moto-api/reset-auth: 0 = authenticate every request from now on."""
    # text/plain: urllib's default form type would have the server parse the body away.
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=(b"0" if on else b"inf"), method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()


def revoke(iam, name, action):
    """Remove `action` from every inline policy of the role; True when one granted it."""
    found = False
    for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        reduced = without(doc, {action})
        if reduced != doc:
            found = True
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(reduced))
    return found


def _clients(endpoint, key="testing", secret="testing"):
    import boto3
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret)
    return boto3.client("iam", **kw), boto3.client("sts", **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--key", default="testing")
    ap.add_argument("--secret", default="testing")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rv = sub.add_parser("revoke")
    rv.add_argument("role")
    rv.add_argument("action")
    sub.add_parser("admin")
    r = sub.add_parser("role")
    r.add_argument("role", help="a function binary name, or pipeline / training / hosting")
    r.add_argument("--name", action="append", default=[], help="K=V: a parameter, Ref or Logical.Attr value")
    r.add_argument("--without", action="append", default=[], help="an action to leave out")
    r.add_argument("--bucket", default="trainguard-demo", help="the artifacts bucket")
    a_ = sub.add_parser("auth")
    a_.add_argument("state", choices=["on", "off"])
    a = ap.parse_args()
    if a.cmd == "auth":
        set_auth(a.endpoint, a.state == "on")
        return
    iam, sts = _clients(a.endpoint, a.key, a.secret)
    if a.cmd == "revoke":
        if not revoke(iam, f"trainguard-{a.role}", a.action):
            sys.exit(f"iam.py: trainguard-{a.role} grants no {a.action}")
        return
    if a.cmd == "admin":
        print(json.dumps(create_admin(iam)))
        return
    cfn = translate()
    params = {}
    refs, atts = stack_names(a.bucket, f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:trainguard-alerts",
                             f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:trainguard-trigger-failures",
                             "trainguard-models")
    for kv in a.name:
        k, v = kv.split("=", 1)
        if "." in k:
            lid, attr = k.split(".", 1)
            atts[(lid, attr)] = v
        elif k in cfn.get("Parameters", {}):
            params[k] = v
        else:
            refs[k] = v
    res = Resolver(cfn, params, refs, atts)
    all_roles = roles(cfn, res)
    name = f"trainguard-{a.role}"
    if name not in all_roles:
        sys.exit(f"iam.py: no role {name} in the template (have: {', '.join(sorted(all_roles))})")
    create_role(iam, name, all_roles[name], set(a.without))
    print(json.dumps(assume(sts, name, a.role)))


if __name__ == "__main__":
    main()
