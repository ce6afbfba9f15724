#!/usr/bin/env python3
"""Static test: every AWS call is granted to the role that makes it, and no role grants an
action nothing calls (issue 13).

moto does not enforce IAM in the end-to-end run, so a missing permission would first show
up in a real deployment. This test reads the code and the state machine instead:

* **The functions.** The AWS SDK is called only in `shared/src/aws/` (`sdk.rs`,
  `s3_store.rs`) and in the few other SDK call sites it finds by itself. Every call site
  (`.send()`, `.into_paginator()`, `.presigned(..)`) is found in the source and its
  operation read from the builder chain (`client.list_objects_v2()...send()`); an
  operation missing from `SDK_OPERATIONS` below fails the test, so a new SDK call cannot
  slip past it. Which calls a function can make follows from its `main.rs`: the SDK
  types it builds (`S3Store`, `SdkAws`, `SfnStarter`, ... and the types their fields
  hold), and, for trait implementations (`impl S3Ops for SdkS3`), the trait methods that
  the library modules it uses (`trainguard::saga`, and what those reach through
  `crate::`) actually call.
* **The state machine.** Every `Resource` of every Task, ItemReader and ResultWriter,
  with what `.sync`, `Tags`, `RoleArn`s and Distributed Maps need on top
  (`asl_actions`), must be granted to `PipelineRole`; the Lambda tasks' functions by
  name, the roles passed by name.
* **What the functions are asked to write.** The objects the ASL tells a function to put
  (`report_uri`, `manifest_uri`, ... in `WRITTEN_PAYLOAD_FIELDS`) must be covered by that
  function's `s3:PutObject` resources.
* **KMS.** Grants on the optional customer-managed key must be conditional on
  `HasKmsKey`, and every role that reads or writes objects (or hands SageMaker an
  encrypted endpoint) must have them (`KMS_NEEDS`).
* **The SageMaker roles.** Jobs run as `TrainingRole`, the model as `HostingRole`; the
  hosting role reads model artifacts only and writes nothing.

A missing action fails with the action and the role named; so does an action a role grants
that nothing calls. Exit status 1 with one line per failure.
"""

import copy
import fnmatch
import functools
import json
import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ------------------------------------------------------------------------------ tables
# SDK operation (the Rust SDK's builder method) -> (IAM actions it needs, IAM actions it
# may need). Maintained by hand from the Service Authorization Reference; the test fails on
# any SDK call site whose operation is not here.
SDK_OPERATIONS = {
    # S3
    "list_objects_v2": (["s3:ListBucket"], []),
    "list_object_versions": (["s3:ListBucketVersions"], []),
    "get_object": (["s3:GetObject"], []),  # presigned too: the URL carries the signer's rights
    "head_object": (["s3:GetObject"], []),
    "put_object": (["s3:PutObject"], []),
    # DeleteObjects is authorized per key: DeleteObject, and DeleteObjectVersion for keys
    # given with a version id (the saga's versioned cleanup).
    "delete_objects": (["s3:DeleteObject"], ["s3:DeleteObjectVersion"]),
    # SageMaker
    "describe_training_job": (["sagemaker:DescribeTrainingJob"], []),
    "stop_training_job": (["sagemaker:StopTrainingJob"], []),
    "describe_model_package": (["sagemaker:DescribeModelPackage"], []),
    "list_model_packages": (["sagemaker:ListModelPackages"], []),
    "update_model_package": (["sagemaker:UpdateModelPackage"], []),
    "delete_model_package": (["sagemaker:DeleteModelPackage"], []),
    "describe_endpoint": (["sagemaker:DescribeEndpoint"], []),
    "update_endpoint": (["sagemaker:UpdateEndpoint"], []),
    "delete_endpoint": (["sagemaker:DeleteEndpoint"], []),
    "list_endpoints": (["sagemaker:ListEndpoints"], []),
    "describe_endpoint_config": (["sagemaker:DescribeEndpointConfig"], []),
    "delete_endpoint_config": (["sagemaker:DeleteEndpointConfig"], []),
    "describe_model": (["sagemaker:DescribeModel"], []),
    "delete_model": (["sagemaker:DeleteModel"], []),
    # Step Functions
    "send_task_success": (["states:SendTaskSuccess"], []),
    "send_task_failure": (["states:SendTaskFailure"], []),
    "start_execution": (["states:StartExecution"], []),
    "describe_execution": (["states:DescribeExecution"], []),
    # SNS
    "publish": (["sns:Publish"], []),
    # CloudWatch Logs
    "describe_log_streams": (["logs:DescribeLogStreams"], []),
    "get_log_events": (["logs:GetLogEvents"], []),
    # STS: GetCallerIdentity needs no permission (the CLI's identity check).
    "get_caller_identity": ([], []),
}

# Zero-argument calls in a builder chain that are not the operation.
NOT_OPERATIONS = {"client", "clone", "as_ref", "into_paginator", "send", "await", "build", "unwrap"}

# ASL service integrations (arn:aws:states:::<service>:<api>[.sync|.waitForTaskToken]) ->
# IAM actions. aws-sdk:<service>:<apiAction> integrations follow the IAM service prefix
# below and the action named in PascalCase, except for the exceptions listed.
OPTIMIZED = {
    "lambda:invoke": ["lambda:InvokeFunction"],
    "sns:publish": ["sns:Publish"],
    "sagemaker:createTrainingJob": ["sagemaker:CreateTrainingJob"],
    "sagemaker:createProcessingJob": ["sagemaker:CreateProcessingJob"],
    "sagemaker:createModel": ["sagemaker:CreateModel"],
    "sagemaker:createEndpointConfig": ["sagemaker:CreateEndpointConfig"],
    "sagemaker:createEndpoint": ["sagemaker:CreateEndpoint"],
    "sagemaker:updateEndpoint": ["sagemaker:UpdateEndpoint"],
    # ItemReader / ResultWriter
    "s3:listObjectsV2": ["s3:ListBucket"],
    "s3:putObject": ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
}
# What `.sync` adds: polling the job, stopping it when the execution stops, and the
# EventBridge rule Step Functions manages for job-state events.
SYNC = {
    "sagemaker:createTrainingJob": (["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                                     "events:PutTargets", "events:PutRule", "events:DescribeRule"],
                                    "StepFunctionsGetEventsForSageMakerTrainingJobsRule"),
    "sagemaker:createProcessingJob": (["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                                       "events:PutTargets", "events:PutRule", "events:DescribeRule"],
                                      "StepFunctionsGetEventsForSageMakerProcessingJobsRule"),
}
SDK_SERVICE_PREFIX = {"s3": "s3", "sagemaker": "sagemaker", "sagemakerruntime": "sagemaker"}
SDK_EXCEPTIONS = {"s3:listObjectsV2": "s3:ListBucket"}
# A Distributed Map starts and watches child executions of the state machine itself.
DISTRIBUTED = ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"]
# The state machine's Logging configuration delivers to CloudWatch Logs.
LOGGING = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
           "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
           "logs:DescribeLogGroups"]

# What the state machine asks each function to write (payload fields holding an s3:// URI or
# prefix the function puts objects at). Their keys, read from the ASL's States.Format, must
# be covered by the function's s3:PutObject resources.
WRITTEN_PAYLOAD_FIELDS = {
    "SchemaValidatorFunction": ["report_uri", "partial_uri"],
    "DriftDetectorFunction": ["report_prefix", "output"],
    "PipelineTriggerFunction": ["manifest_uri"],
}

# With KmsKeyArn set (SSE-KMS bucket, encrypted queue and SageMaker volumes), an action on
# the left needs the KMS actions on the right, granted under the HasKmsKey condition.
KMS_NEEDS = {
    "s3:GetObject": ["kms:Decrypt"],
    "s3:PutObject": ["kms:GenerateDataKey"],
    "sagemaker:UpdateEndpoint": ["kms:CreateGrant"],
    "sagemaker:CreateEndpoint": ["kms:CreateGrant"],
    "sqs:SendMessage": ["kms:GenerateDataKey"],  # the DeadLetterQueue (SAM grants the send)
}
KMS_MAY = {"kms:DescribeKey", "kms:Decrypt"}  # alongside the above (grants, SQS reads back)


# ------------------------------------------------------------------------------ Rust source
def strip_rust(text):
    """`text` with comments, string and char literals blanked (same length and lines)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif re.match(r'b?r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            blank(i + 1, j - 1)
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not text[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 2)
                blank(i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i + 1, i + 2)
                i += 3
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)


def block_end(text, open_brace):
    """Index just past the `}` matching the `{` at `open_brace`."""
    depth = 0
    for k in range(open_brace, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    raise ValueError("unbalanced braces")


def drop_test_code(text):
    """Blank every `#[cfg(test)]` item (the unit tests' mocks are not what a Lambda calls)."""
    out = text
    for m in reversed(list(re.finditer(r"#\[cfg\((?:test|any\(test[^\]]*)\)\]", text))):
        brace = text.find("{", m.end())
        semi = text.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        end = block_end(text, brace)
        out = out[:m.start()] + re.sub(r"[^\n]", " ", out[m.start():end]) + out[end:]
    return out


def rust_files(*dirs):
    for d in dirs:
        for base, _, names in os.walk(os.path.join(ROOT, d)):
            for name in sorted(names):
                if name.endswith(".rs"):
                    yield os.path.join(base, name)


@functools.lru_cache(maxsize=None)
def load_rust(path):
    return drop_test_code(strip_rust(open(path, encoding="utf-8").read()))


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


class Unit:
    """One fn of the SDK layer: where it is, the SDK operations it calls directly, and
    the methods it calls (for delegation: `self.store.put_conditional(..)`)."""

    def __init__(self, path, owner, trait, name, body, ops):
        self.path, self.owner, self.trait, self.name = path, owner, trait, name
        self.ops = ops  # [(operation, line)]
        self.calls = set(re.findall(r"\.(\w+)\s*\(", body))


def chain_operation(segment):
    """The SDK operation of one builder chain: its first zero-argument call that is not
    the client accessor, e.g. `self.store.client().get_object().bucket(b)...`."""
    for m in re.finditer(r"\.(\w+)\s*\(\s*\)", segment):
        if m.group(1) not in NOT_OPERATIONS:
            return m.group(1)
    return None


def statement_before(text, pos, floor):
    """The text of the statement that ends at `pos` (back to `;`, `{` or `}` at depth 0)."""
    depth = 0
    k = pos - 1
    while k > floor:
        ch = text[k]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            depth -= 1
        elif depth == 0 and ch in ";{}":
            break
        k -= 1
    return text[k + 1:pos]


@functools.lru_cache(maxsize=None)
def sdk_units():
    """Every fn that calls the SDK or could delegate to one that does, by (owner, name).
    Also returns the call sites whose operation the table does not know."""
    units, unknown = [], []
    for path in rust_files("shared/src", "functions"):
        text = load_rust(path)
        sites = list(re.finditer(r"\.(send|into_paginator)\s*\(\s*\)|\.presigned\s*\(", text))
        if not sites:
            continue
        rel = os.path.relpath(path, ROOT)
        # impl blocks, then the fns in each (and free fns)
        impls = []
        for m in re.finditer(r"\bimpl\b(?:\s*<[^{;]*?>)?\s+([^{;]+?)\{", text):
            header = " ".join(m.group(1).split())
            trait, owner = (header.split(" for ", 1) + [None])[:2] if " for " in header else (None, header)
            owner = re.findall(r"\w+", owner.split("<")[0])[-1]
            if trait:
                trait = re.findall(r"\w+", trait.split("<")[0])[-1]
            start = m.end() - 1
            impls.append((start, block_end(text, start), owner, trait))
        fns = []
        for m in re.finditer(r"\bfn\s+(\w+)", text):
            brace = text.find("{", m.end())
            semi = text.find(";", m.end())
            if brace < 0 or (0 <= semi < brace and "where" not in text[m.end():semi]):
                continue
            end = block_end(text, brace)
            owner, trait = None, None
            for a, b, o, t in impls:
                if a < m.start() < b:
                    owner, trait = o, t
            fns.append((brace, end, m.group(1), owner, trait))
        seen_sites = set()
        for brace, end, name, owner, trait in fns:
            body = text[brace:end]
            ops = []
            for s in sites:
                if not (brace < s.start() < end) or s.start() in seen_sites:
                    continue
                # the innermost fn only
                if any(brace < b2 < s.start() < e2 for b2, e2, *_ in fns if (b2, e2) != (brace, end)):
                    continue
                seen_sites.add(s.start())
                stmt = statement_before(text, s.start(), brace)
                op = chain_operation(stmt + ".")
                if op is None:
                    var = re.search(r"(\w+)\s*\.?\s*$", stmt)
                    if var:
                        d = re.search(r"\blet\s+(?:mut\s+)?" + re.escape(var.group(1)) + r"\s*=\s*([^;]+);", body)
                        op = chain_operation(d.group(1)) if d else None
                line = line_of(text, s.start())
                if op is None or op not in SDK_OPERATIONS:
                    unknown.append(f"{rel}:{line}: SDK call {op or '(unreadable chain)'} is not in SDK_OPERATIONS "
                                   "(tests/static/iam_actions.py): add its IAM actions")
                elif (op, line) not in ops:  # `.into_paginator().send()` is one call
                    ops.append((op, line))
            units.append(Unit(rel, owner, trait, name, body, ops))
    return units, unknown


@functools.lru_cache(maxsize=None)
def struct_fields(type_names):
    """type -> the types of its fields, for the SDK types (SdkAws holds SdkS3, ...)."""
    out = {t: set() for t in type_names}
    for path in rust_files("shared/src"):
        text = load_rust(path)
        for t in type_names:
            for m in re.finditer(r"\bstruct\s+" + t + r"\b\s*(\{|\()", text):
                end = block_end(text, m.end() - 1) if m.group(1) == "{" else text.find(";", m.end())
                out[t] |= {u for u in type_names if re.search(r"\b" + u + r"\b", text[m.end():end])}
    return out


@functools.lru_cache(maxsize=None)
def module_files():
    """Top-level module of shared/src -> its files (a directory or one file)."""
    mods = {}
    src = os.path.join(ROOT, "shared", "src")
    for name in os.listdir(src):
        p = os.path.join(src, name)
        if os.path.isdir(p):
            mods[name] = list(rust_files(os.path.join("shared", "src", name)))
        elif name.endswith(".rs") and name != "lib.rs":
            mods[name[:-3]] = [p]
    return mods


# Modules that only name things for others (the error-name registry lists every module's
# names): a function that uses them does not run the modules they name. Checked below: such
# a module calls no trait method of the SDK layer.
NAME_ONLY_MODULES = {"catalog"}


def reachable_modules(main_text, mods):
    """The library modules a function's main.rs uses, closed over `crate::<module>`."""
    todo = set(re.findall(r"\btrainguard::(\w+)", main_text)) & set(mods)
    done = set()
    while todo:
        m = todo.pop()
        done.add(m)
        if m in NAME_ONLY_MODULES:
            continue
        for f in mods[m]:
            for n in re.findall(r"\bcrate::(\w+)", load_rust(f)):
                if n in mods and n not in done:
                    todo.add(n)
    return done


@functools.lru_cache(maxsize=None)
def function_operations(binary):
    """The SDK operations a Lambda can call: (operation, where) pairs."""
    units, _ = sdk_units()
    mods = module_files()
    main = load_rust(os.path.join(ROOT, "functions", binary, "src", "main.rs"))
    owners = {u.owner for u in units if u.owner}
    fields = struct_fields(frozenset(owners))
    named = {t for t in owners if re.search(r"\b" + t + r"\b", main)}
    held = set(named)
    todo = list(named)
    while todo:
        for f in fields.get(todo.pop(), ()):
            if f not in held:
                held.add(f)
                todo.append(f)
    # Trait methods the function's library code calls (the SDK layer itself excluded).
    lib_calls = set()
    for m in reachable_modules(main, mods) - {"aws"}:
        for f in mods[m]:
            lib_calls |= set(re.findall(r"\.(\w+)\s*\(", load_rust(f)))
    lib_calls |= set(re.findall(r"\.(\w+)\s*\(", main))
    free_calls = set(re.findall(r"\b(\w+)\s*\(", main))
    for m in reachable_modules(main, mods) - {"aws"}:
        for f in mods[m]:
            free_calls |= set(re.findall(r"\b(\w+)\s*\(", load_rust(f)))

    by_owner = {}
    for u in units:
        by_owner.setdefault(u.owner, []).append(u)
    roots = []
    for u in units:
        if u.owner in held and u.trait is not None and u.name in lib_calls:
            roots.append(u)  # a trait method the library calls
        elif u.owner in named and u.trait is None:
            roots.append(u)  # an inherent method of a type the function holds itself
        elif u.owner is None and u.name in free_calls:
            roots.append(u)  # a free fn it calls (caller_identity)
    reached, todo = set(), list(roots)
    while todo:
        u = todo.pop()
        if id(u) in reached:
            continue
        reached.add(id(u))
        for o in held:
            for v in by_owner.get(o, []):
                if v.trait is None and v.name in u.calls:
                    todo.append(v)
    out = []
    for u in units:
        if id(u) in reached:
            for op, line in u.ops:
                out.append((op, f"{u.path}:{line} ({u.owner or ''}{'::' if u.owner else ''}{u.name})"))
    return out


# ------------------------------------------------------------------------------ template
def as_list(v):
    return v if isinstance(v, list) else [v]


def statements(docs):
    """(statement, under_condition) for every statement of the policy documents."""
    out = []
    for d in docs:
        for s in d.get("Statement", []):
            if isinstance(s, dict) and "Fn::If" in s:
                cond, yes, no = s["Fn::If"]
                for b in (yes, no):
                    if isinstance(b, dict) and "Action" in b:
                        out.append((b, cond))
            else:
                out.append((s, None))
    return out


def role_statements(res, logical):
    r = res[logical]
    if r["Type"] == "AWS::IAM::Role":
        docs = [p["PolicyDocument"] for p in r["Properties"].get("Policies", [])]
    else:
        docs = [p for p in r["Properties"].get("Policies", []) if isinstance(p, dict) and "Statement" in p]
    return [(s, c) for s, c in statements(docs) if s.get("Effect") == "Allow"]


def grants(stmts, action):
    return [s for s, _ in stmts if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(s["Action"]))]


def refs(value):
    """Every logical id a template value references (Ref, GetAtt, Sub)."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                s = v[0] if isinstance(v, list) else v
                out |= {x.split(".")[0] for x in re.findall(r"\$\{([^}!]+)\}", s)}
                if isinstance(v, list):
                    out |= refs(v[1])
            else:
                out |= refs(v)
    elif isinstance(value, list):
        for v in value:
            out |= refs(v)
    return out


def resource_text(stmts_matching):
    return json.dumps([s.get("Resource") for s in stmts_matching])


# ------------------------------------------------------------------------------ the ASL
def walk_states(states, where=""):
    for name, st in states.items():
        yield f"{where}{name}", st
        for key in ("ItemProcessor", "Iterator"):
            if key in st:
                yield from walk_states(st[key]["States"], f"{where}{name}/")
        for b in st.get("Branches", []):
            yield from walk_states(b["States"], f"{where}{name}/")


def integration_actions(resource):
    """IAM actions of one `arn:aws:states:::...` resource, and the .sync extras."""
    m = re.fullmatch(r"arn:aws:states:::(.+?)(\.sync|\.waitForTaskToken)?", resource)
    if not m:
        return None, [], None
    api, suffix = m.group(1), m.group(2)
    if api.startswith("aws-sdk:"):
        _, service, op = api.split(":")
        key = f"{service}:{op}"
        prefix = SDK_SERVICE_PREFIX.get(service)
        if prefix is None:
            return None, [], None
        actions = [SDK_EXCEPTIONS.get(key, f"{prefix}:{op[0].upper()}{op[1:]}")]
    else:
        actions = OPTIMIZED.get(api)
        if actions is None:
            return None, [], None
    extra, rule = [], None
    if suffix == ".sync":
        extra, rule = SYNC.get(api, ([], None))
    return api, list(actions) + list(extra), rule


def asl_needs(asl, subs):
    """(action, why, resource-check) triples the state machine's role needs, and the
    integrations this table does not know."""
    needs, unknown = [], []
    for where, st in walk_states(asl["States"]):
        params = st.get("Parameters", {})
        for kind, res in (("Task", st.get("Resource")),
                          ("ItemReader", st.get("ItemReader", {}).get("Resource")),
                          ("ResultWriter", st.get("ResultWriter", {}).get("Resource"))):
            if not res:
                continue
            api, actions, rule = integration_actions(res)
            if api is None:
                unknown.append(f"{where}: {kind} resource {res} has no IAM mapping in tests/static/iam_actions.py")
                continue
            for a in actions:
                scope = None
                if a == "lambda:InvokeFunction":
                    fn = params.get("FunctionName", "")
                    scope = ("function", fn.strip("${}").removesuffix("Arn") + "Function")
                elif a.startswith("events:") and rule:
                    scope = ("text", rule)
                needs.append((a, f"{where} ({res})", scope))
            if kind == "Task" and (params.get("Tags") or params.get("Tags.$")) and "sagemaker:" in api:
                needs.append(("sagemaker:AddTags", f"{where}: Tags", None))
            for key in ("RoleArn", "ExecutionRoleArn"):
                role = params.get(key)
                if role is None and "job" in params and isinstance(params["job"], dict):
                    role = params["job"].get(key)
                if role:
                    needs.append(("iam:PassRole", f"{where}: {key}", ("role", subs.get(role.strip("${}")))))
        job = params.get("job") if isinstance(params.get("job"), dict) else None
        if st.get("Type") == "Pass" and job and job.get("RoleArn"):
            needs.append(("iam:PassRole", f"{where}: job RoleArn", ("role", subs.get(job["RoleArn"].strip("${}")))))
        if st.get("Type") == "Map" and st.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            for a in DISTRIBUTED:
                needs.append((a, f"{where} (Distributed Map children)", None))
    return needs, unknown


# ------------------------------------------------------------------------------ checks
def written_keys(asl):
    """(function, key pattern, where) for every object the ASL asks a function to write
    under the run's prefix: `States.Format('s3://{}/{}reports/x-{}.json', $.run.bucket,
    $.run.prefix, ...)` is `pipeline/*/reports/x-*.json`."""
    out = []
    # A Map's children read their fields from its ItemSelector.
    selectors = {}
    for where, st in walk_states(asl["States"]):
        if "ItemSelector" in st:
            selectors[where + "/"] = st["ItemSelector"]
    for where, st in walk_states(asl["States"]):
        if not str(st.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke"):
            continue
        p = st.get("Parameters", {})
        fn = p.get("FunctionName", "").strip("${}").removesuffix("Arn") + "Function"
        payload = p.get("Payload", {})
        selector = next((sel for prefix, sel in selectors.items() if where.startswith(prefix)), {})
        for field in WRITTEN_PAYLOAD_FIELDS.get(fn, []):
            v = payload.get(f"{field}.$", "")
            if re.fullmatch(r"\$\.\w+", v):
                v = selector.get(v[2:] + ".$", v)
            m = re.fullmatch(r"States\.Format\('s3://\{\}/\{\}([^']*)', \$\.run\.bucket, \$\.run\.prefix.*\)", v)
            if m:
                key = "pipeline/*/" + m.group(1).replace("{}", "*")
                out.append((fn, key + ("*" if key.endswith("/") else ""), f"{where}.{field}"))
            elif v:
                out.append((fn, None, f"{where}.{field} = {v}"))
    return out


def check(tpl, say=lambda line: None):
    """Every rule on one decoded template; the failures, one line each."""
    res = tpl["Resources"]
    failures = []
    fail = failures.append

    units, unknown = sdk_units()
    failures.extend(unknown)
    if not any(u.ops for u in units):
        fail("found no SDK call sites at all: the scan is broken")
    mods = module_files()
    trait_methods = {u.name for u in units if u.trait}
    for m in NAME_ONLY_MODULES:
        for f in mods.get(m, []):
            called = trait_methods & set(re.findall(r"\.(\w+)\s*\(", load_rust(f)))
            if called:
                fail(f"{os.path.relpath(f, ROOT)} calls {sorted(called)}: it is no longer a name-only "
                     "module (NAME_ONLY_MODULES in tests/static/iam_actions.py)")

    def check_role(role, required, optional, why):
        stmts = role_statements(res, role)
        granted_plain = {}
        for s, cond in stmts:
            for a in as_list(s["Action"]):
                if a.startswith("kms:"):
                    if cond != "HasKmsKey":
                        fail(f"{role}: {a} is granted without the HasKmsKey condition")
                    continue
                granted_plain.setdefault(a, s)
        for a in sorted(required):
            if not grants([(s, c) for s, c in stmts if not str(s["Action"]).startswith("kms:")], a):
                fail(f"{role}: missing {a} (needed by {why[a][0]}{' and more' if len(why[a]) > 1 else ''})")
        used = {a.lower() for a in required | optional}
        for a, s in granted_plain.items():
            if not any(fnmatch.fnmatchcase(u, a.lower()) for u in used):
                fail(f"{role}: grants {a}, which nothing it runs calls (Sid {s.get('Sid', '-')})")
        # KMS: needed with the key whenever objects are read or written, grants made...
        kms = {a for s, c in stmts if c == "HasKmsKey" for a in as_list(s["Action"]) if a.startswith("kms:")}
        kms_needed = {k for a in required | optional for k in KMS_NEEDS.get(a, [])}
        for k in sorted(kms_needed - kms):
            fail(f"{role}: missing {k} under HasKmsKey (with KmsKeyArn set its "
                 f"{', '.join(a for a in sorted(required) if k in KMS_NEEDS.get(a, []))} needs it)")
        for k in sorted(kms - kms_needed - (KMS_MAY if kms_needed else set())):
            fail(f"{role}: grants {k}, which nothing it does with the key needs")
        return stmts

    # ------------------------------------------------------------ the functions
    found_functions = 0
    for logical, r in res.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        found_functions += 1
        binary = r["Metadata"]["BuildProperties"]["Binary"]
        ops = function_operations(binary)
        required, optional, why = set(), set(), {}
        for op, where in ops:
            req, opt = SDK_OPERATIONS[op]
            for a in req:
                required.add(a)
                why.setdefault(a, []).append(f"{op} at {where}")
            optional |= set(opt)
        # A DeadLetterQueue: SAM grants sqs:SendMessage itself (not in Policies); with a
        # key, the send needs kms:GenerateDataKey from Policies (KMS_NEEDS).
        dlq = {"sqs:SendMessage"} if "DeadLetterQueue" in r["Properties"] else set()
        check_role(logical, required, optional | dlq, why)
        required |= dlq
        say(f"iam: {binary}: {', '.join(sorted(required)) or 'no AWS calls'}")
    if found_functions != 6:
        fail(f"expected 6 functions in the template, found {found_functions}")

    # ------------------------------------------------------------ the state machine
    sm = next(r for r in res.values() if r["Type"] == "AWS::Serverless::StateMachine")
    role_id = refs(sm["Properties"]["Role"]).pop()
    subs = {k: refs(v) for k, v in sm["Properties"]["DefinitionSubstitutions"].items()}
    subs = {k: next(iter(v)) if len(v) == 1 else None for k, v in subs.items()}
    asl = json.load(open(os.path.join(ROOT, sm["Properties"]["DefinitionUri"])))
    needs, unknown = asl_needs(asl, subs)
    failures.extend(unknown)
    required, why = set(), {}
    for a, where, _ in needs:
        required.add(a)
        why.setdefault(a, []).append(where)
    if sm["Properties"].get("Logging"):
        required |= set(LOGGING)
        for a in LOGGING:
            why.setdefault(a, ["Logging"])
    stmts = check_role(role_id, required, set(), why)
    # Resource-level: which functions, which roles, which EventBridge rules.
    passed_roles = set()
    for a, where, scope in needs:
        if scope is None:
            continue
        kind, target = scope
        matching = grants(stmts, a)
        if kind == "function":
            if not any(target in refs(s.get("Resource")) for s in matching):
                fail(f"{role_id}: lambda:InvokeFunction does not cover {target} ({where})")
        elif kind == "role":
            passed_roles.add(target)
            if target is None or not any(target in refs(s.get("Resource")) for s in matching):
                fail(f"{role_id}: iam:PassRole does not cover {target} ({where})")
        elif kind == "text":
            if target not in resource_text(matching):
                fail(f"{role_id}: {a} does not cover the rule {target} ({where})")
    for s in grants(stmts, "iam:PassRole"):
        extra = refs(s.get("Resource")) - passed_roles
        if extra:
            fail(f"{role_id}: iam:PassRole on {sorted(extra)}, which the state machine never passes")
        if s.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService") != "sagemaker.amazonaws.com":
            fail(f"{role_id}: iam:PassRole must be limited to iam:PassedToService sagemaker.amazonaws.com")
    say(f"iam: state machine ({role_id}): {len(required)} actions for {len(needs)} integration needs")

    # ------------------------------------------------------------ what functions write
    for fn, key, where in written_keys(asl):
        if key is None:
            fail(f"{where}: cannot read the key it writes (tests/static/iam_actions.py written_keys)")
            continue
        sample = key.replace("*", "x-1")
        patterns = []
        for st in grants(role_statements(res, fn), "s3:PutObject"):
            for r in as_list(st["Resource"]):
                sub = r.get("Fn::Sub") if isinstance(r, dict) else None
                if isinstance(sub, str) and sub.startswith("${ArtifactsBucket.Arn}/"):
                    patterns.append(sub[len("${ArtifactsBucket.Arn}/"):])
        if not any(fnmatch.fnmatchcase(sample, p) for p in patterns):
            fail(f"{fn}: missing s3:PutObject on {key} ({where}; it may write {patterns})")

    # ------------------------------------------------------------ the SageMaker roles
    def role_of(state_names, key):
        for where, st in walk_states(asl["States"]):
            if where.split("/")[-1] in state_names:
                p = st.get("Parameters", {})
                v = p.get(key) or (p.get("job") or {}).get(key)
                if v:
                    yield where, subs.get(v.strip("${}"))
    for where, role in role_of({"FeatureEngineering", "Evaluate", "Train", "TrainInVpc",
                                "PrepareSpotTrainingJob", "PrepareOnDemandTrainingJob"}, "RoleArn"):
        if role != "TrainingRole":
            fail(f"{where}: jobs must run as TrainingRole, not {role}")
    for where, role in role_of({"CreateModel"}, "ExecutionRoleArn"):
        if role != "HostingRole":
            fail(f"{where}: the model must run as HostingRole, not {role}")
    for name in ("TrainingRole", "HostingRole"):
        if name not in res:
            fail(f"no {name}: training and hosting run as separate roles")
            return failures
    hosting = role_statements(res, "HostingRole")
    for s, _ in hosting:
        for a in as_list(s["Action"]):
            if a.startswith("s3:") and a != "s3:GetObject":
                fail(f"HostingRole: grants {a}; the deployed model only reads its artifacts")
    for s in grants(hosting, "s3:GetObject"):
        if "/model/*" not in json.dumps(s["Resource"]):
            fail(f"HostingRole: s3:GetObject beyond pipeline/*/model/*: {s['Resource']}")
    training = role_statements(res, "TrainingRole")
    for s in grants(training, "s3:PutObject"):
        for r in as_list(s["Resource"]):
            text = json.dumps(r)
            if not re.search(r"pipeline/\*/(features|model|checkpoints|evaluation)/\*", text):
                fail(f"TrainingRole: s3:PutObject on {text}: only the runs' job outputs")
    for name in ("TrainingRole", "HostingRole"):
        principal = res[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        if principal != {"Service": "sagemaker.amazonaws.com"}:
            fail(f"{name}: only SageMaker may assume it")

    return failures


def find_statement(tpl, logical, action):
    r = tpl["Resources"][logical]
    docs = ([p["PolicyDocument"] for p in r["Properties"]["Policies"]] if r["Type"] == "AWS::IAM::Role"
            else [p for p in r["Properties"]["Policies"] if isinstance(p, dict)])
    for d in docs:
        for st in d["Statement"]:
            if isinstance(st, dict) and action in as_list(st.get("Action", [])):
                return st
    raise KeyError(f"{logical}: no statement with {action}")


def self_test(tpl):
    """The rules catch what they are for: each mutation of the real template must fail
    with the line expected (the role and the action named)."""
    def without(logical, action):
        t = copy.deepcopy(tpl)
        st = find_statement(t, logical, action)
        st["Action"] = [a for a in as_list(st["Action"]) if a != action] or ["sagemaker:ListEndpoints"]
        if st["Action"] == ["sagemaker:ListEndpoints"] and action == "sagemaker:ListEndpoints":
            st["Action"] = ["sagemaker:DescribeEndpoint"]
        return t

    def adding(logical, like, action):
        t = copy.deepcopy(tpl)
        st = find_statement(t, logical, like)
        st["Action"] = as_list(st["Action"]) + [action]
        return t

    def kms_unconditional(logical):
        t = copy.deepcopy(tpl)
        r = t["Resources"][logical]
        stmts = r["Properties"]["Policies"][0]["Statement"]
        for i, st in enumerate(stmts):
            if isinstance(st, dict) and "Fn::If" in st:
                stmts[i] = st["Fn::If"][1]
                return t
        raise KeyError(logical)

    def pass_role_to(role):
        t = copy.deepcopy(tpl)
        t["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]["HostingRoleArn"] = {
            "Fn::GetAtt": [role, "Arn"]}
        return t

    def put_only_start_records():
        t = copy.deepcopy(tpl)
        st = find_statement(t, "PipelineTriggerFunction", "s3:PutObject")
        for s_ in t["Resources"]["PipelineTriggerFunction"]["Properties"]["Policies"][0]["Statement"]:
            if isinstance(s_, dict) and "s3:PutObject" in as_list(s_.get("Action", [])) and s_ is not st:
                s_["Action"] = ["s3:GetObject"]
        st["Resource"] = {"Fn::Sub": "${ArtifactsBucket.Arn}/pipeline/*/start.json"}
        return t

    cases = [
        (put_only_start_records(),
         "PipelineTriggerFunction: missing s3:PutObject on pipeline/*/reports/data-manifest.json"),
        (without("SagaCompensatorFunction", "sagemaker:ListEndpoints"),
         "SagaCompensatorFunction: missing sagemaker:ListEndpoints (needed by list_endpoints at shared/src/aws/sdk.rs"),
        (without("PipelineTriggerFunction", "states:StartExecution"),
         "PipelineTriggerFunction: missing states:StartExecution"),
        (without("PipelineRole", "sagemaker:StopTrainingJob"),
         "PipelineRole: missing sagemaker:StopTrainingJob (needed by TrainingSweep/Train"),
        (without("PipelineRole", "events:PutRule"), "PipelineRole: missing events:PutRule"),
        (without("PipelineRole", "states:StopExecution"), "PipelineRole: missing states:StopExecution"),
        (adding("ApprovalHandlerFunction", "sns:Publish", "sagemaker:UpdateModelPackage"),
         "ApprovalHandlerFunction: grants sagemaker:UpdateModelPackage, which nothing it runs calls"),
        (adding("PipelineRole", "sns:Publish", "sns:Subscribe"), "PipelineRole: grants sns:Subscribe, which nothing"),
        (kms_unconditional("SchemaValidatorFunction"),
         "SchemaValidatorFunction: kms:Decrypt is granted without the HasKmsKey condition"),
        (pass_role_to("TrainingRole"), "CreateModel: the model must run as HostingRole, not TrainingRole"),
    ]
    broken = []
    for t, expected in cases:
        got = check(t)
        if not any(expected in line for line in got):
            broken.append(f"self-test: expected a failure like {expected!r}, got {got}")
    # The scan of the source: a chain reads to its operation, an unknown one is named.
    if chain_operation("self.store.client().list_objects_v2().bucket(b).prefix(p).") != "list_objects_v2":
        broken.append("self-test: chain_operation misreads a builder chain")
    if strip_rust('let s = "a.send()"; // x.send()\n') .count("send") != 0:
        broken.append("self-test: strip_rust leaves strings or comments")
    return broken


def main(template_path):
    tpl, matches = decode(template_path)
    if matches:
        print("\n".join(str(m) for m in matches))
        return 1
    failures = check(tpl, say=print)
    if not failures:
        # The mutations start from a template that passes.
        failures = self_test(tpl)
    for f in failures:
        print(f"iam: FAIL {f}")
    if not failures:
        print("iam: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "template.yaml")))
