#!/usr/bin/env python3
"""Static test of the approval gate's policy in template.yaml (issue 12).

moto does not evaluate bucket policies or resource-based Lambda policies, so what the
deployment relies on for the gate is checked here, on the template itself (loaded with
cfn-lint's decoder, which understands the short-form intrinsics):

* the start records (pipeline/*/start.json) can be written only by pipeline-trigger's
  role; the approval records (task tokens) read only by approval-handler's role; the
  audit trail written only with If-None-Match and never deleted;
* approval-handler has no SageMaker permission (the pipeline sets the registry), can
  write its lineage pointer, and takes its approvers and API id from deploy-time
  parameters; pipeline-trigger takes the evaluation thresholds from them;
* no role in the template but the state machine's may invoke approval-handler;
* the HTTP API is throttled and access-logged.

Exit status 1 with one line per failed rule.
"""

import sys

from cfnlint.decode import decode


def as_list(v):
    return v if isinstance(v, list) else [v]


def unwrap(statements):
    """The statements of a policy document, with those under a condition (`Fn::If: [cond,
    statement, AWS::NoValue]`) taken as granted: a rule must hold whichever way it goes."""
    out = []
    for s in statements:
        if isinstance(s, dict) and "Fn::If" in s:
            out.extend(b for b in s["Fn::If"][1:] if isinstance(b, dict) and "Action" in b)
        else:
            out.append(s)
    return out


def main(path):
    tpl, matches = decode(path)
    if matches:
        print("\n".join(str(m) for m in matches))
        return 1
    res = tpl["Resources"]
    failures = []

    def need(ok, what):
        if not ok:
            failures.append(what)

    # ---------------------------------------------------------------- bucket policy
    stmts = {s.get("Sid"): s for s in res["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]}

    def deny(sid, actions, resource_suffix):
        s = stmts.get(sid)
        need(s is not None, f"bucket policy: no statement {sid}")
        if s is None:
            return None
        need(s["Effect"] == "Deny" and s["Principal"] == "*", f"{sid}: must Deny Principal *")
        got = set(as_list(s["Action"]))
        need(set(actions) <= got, f"{sid}: must deny {sorted(set(actions) - got)}")
        need(str(s["Resource"]).find(resource_suffix) >= 0, f"{sid}: resource must be .../{resource_suffix}")
        return s

    def except_role(s, role, sid):
        if s is None:
            return
        cond = s.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn")
        need(cond == {"Fn::GetAtt": [role, "Arn"]}, f"{sid}: the only exception must be {role}")

    except_role(deny("StartRecordsOnlyByTheTrigger", ["s3:PutObject", "s3:DeleteObject"], "pipeline/*/start.json"),
                "PipelineTriggerFunctionRole", "StartRecordsOnlyByTheTrigger")
    except_role(deny("ApprovalRecordsOnlyByTheHandler", ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], "approvals/*"),
                "ApprovalHandlerFunctionRole", "ApprovalRecordsOnlyByTheHandler")
    s = deny("AuditIsNeverOverwritten", ["s3:PutObject"], "audit/approvals/*")
    if s is not None:
        need(s.get("Condition", {}).get("Null", {}).get("s3:if-none-match") == "true",
             "AuditIsNeverOverwritten: must deny a PutObject without If-None-Match")
    deny("AuditIsNeverDeleted", ["s3:DeleteObject", "s3:DeleteObjectVersion"], "audit/*")

    # ---------------------------------------------------------------- the functions
    def statements(fn):
        out = []
        for p in res[fn]["Properties"].get("Policies", []):
            if isinstance(p, dict) and "Statement" in p:
                out.extend(unwrap(p["Statement"]))
        return out

    def env(fn):
        return res[fn]["Properties"].get("Environment", {}).get("Variables", {})

    handler = statements("ApprovalHandlerFunction")
    actions = [a for s in handler for a in as_list(s["Action"])]
    need(not any(a.startswith("sagemaker:") for a in actions),
         "approval-handler must not touch the registry (the pipeline's ApproveReviewed and the saga do)")
    need(any("s3:PutObject" in as_list(s["Action"]) and "pipeline/*/approvals/*" in str(s["Resource"]) for s in handler),
         "approval-handler needs s3:PutObject on pipeline/*/approvals/* (the lineage pointer)")
    need(any("s3:DeleteObject" in as_list(s["Action"]) and "approvals/pending/*" in str(s["Resource"]) for s in handler),
         "approval-handler needs s3:DeleteObject on approvals/pending/* (open markers)")
    e = env("ApprovalHandlerFunction")
    need(e.get("TRAINGUARD_APPROVERS") == {"Ref": "Reviewers"}, "TRAINGUARD_APPROVERS must be the Reviewers parameter")
    need(e.get("TRAINGUARD_APPROVAL_API_ID") == {"Ref": "PipelineApiId"}, "TRAINGUARD_APPROVAL_API_ID must be the PipelineApiId parameter")
    need("TRAINGUARD_ALLOW_UNATTRIBUTED_RUNS" not in e, "the template must not allow unattributed runs")

    t = env("PipelineTriggerFunction")
    need(t.get("TRAINGUARD_PROMOTE_THRESHOLD") == {"Ref": "PromoteThreshold"}, "the trigger's promote threshold must be the parameter")
    need(t.get("TRAINGUARD_REVIEW_THRESHOLD") == {"Ref": "ReviewThreshold"}, "the trigger's review threshold must be the parameter")
    need(t.get("TRAINGUARD_API_ID") == {"Ref": "PipelineApiId"}, "the trigger's API id must be the PipelineApiId parameter")
    need(any("s3:PutObject" in as_list(s["Action"]) and "pipeline/*/start.json" in str(s["Resource"])
             for s in statements("PipelineTriggerFunction")),
         "pipeline-trigger needs s3:PutObject on pipeline/*/start.json")

    # Who may invoke approval-handler: the state machine's role only (API Gateway gets a
    # resource-based permission from the HttpApi events, bound to this API).
    for name, r in res.items():
        docs = []
        if r["Type"] == "AWS::IAM::Role":
            docs = [p["PolicyDocument"] for p in r["Properties"].get("Policies", [])]
        elif r["Type"] == "AWS::Serverless::Function":
            docs = [p for p in r["Properties"].get("Policies", []) if isinstance(p, dict) and "Statement" in p]
        for d in docs:
            for s in unwrap(d["Statement"]):
                acts = as_list(s["Action"])
                if any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in acts) and "ApprovalHandlerFunction" in str(s["Resource"]):
                    need(name == "PipelineRole", f"{name} may invoke approval-handler: only the state machine may")

    # ---------------------------------------------------------------- the API
    api = res["ApprovalApi"]["Properties"]
    rs = api.get("DefaultRouteSettings", {})
    need(rs.get("ThrottlingBurstLimit") and rs.get("ThrottlingRateLimit"), "the HTTP API must be throttled")
    need("DestinationArn" in api.get("AccessLogSettings", {}), "the HTTP API must write access logs")
    for fn, route in [("ApprovalHandlerFunction", "/iam/approvals/{id}/decision"),
                      ("ApprovalHandlerFunction", "/iam/approvals"),
                      ("PipelineTriggerFunction", "/iam/runs")]:
        evs = res[fn]["Properties"].get("Events", {}).values()
        need(any(ev["Properties"].get("Path") == route and ev["Properties"].get("Auth", {}).get("Authorizer") == "AWS_IAM"
                 for ev in evs),
             f"{route} must be an AWS_IAM route of {fn}")

    for f in failures:
        print(f"approval policy: {f}")
    if not failures:
        print("approval policy: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
