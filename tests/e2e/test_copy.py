#!/usr/bin/env python3
"""Make the TEST COPY of the shipped state machine for moto's interpreter.

The shipped definition (statemachine/pipeline.asl.json) is never edited to suit the
engine. This script reads it, applies the DefinitionSubstitutions given as a JSON object,
and adjusts only what moto 5.2.5's interpreter cannot run (each adjustment is listed in
docs/pipeline.md ("Engine limits worked around in the test copy only") and printed to stderr):

1. `arn:aws:states:::sagemaker:create{Training,Processing}Job.sync`: no `.sync` for
   SageMaker ("Unsupported sync callback procedure"). The task's Resource becomes the
   `sagemaker-stub` Lambda (played by tests/e2e/router.py), which returns the real
   Describe* result, or fails with the DescribeTrainingJob JSON as the Cause (error name
   `Stub.TaskFailed`: the engine refuses a Lambda error named `States.TaskFailed`; the
   definition catches these tasks with States.ALL, so the path is the same).
   Parameters, Retry, Catch, ResultSelector and ResultPath are untouched.
2. `arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint`: the interpreter passes the
   service name to boto3, which calls it `sagemaker-runtime`; the stub answers it.
3. Waits are shortened: `Wait` states wait 1 s (`SecondsPath` too), and Retry
   `IntervalSeconds` are capped at 1 (the engine refuses 0).
4. `ToleratedFailurePercentage` is written as a float (the engine refuses an integer).
5. Distributed Map children run as `STANDARD` (the engine's grammar only accepts
   `"ExecutionType": "STANDARD"`; the shipped definition runs the short per-object
   children as cheaper `EXPRESS` workflows).
6. Distributed Maps lose their `ResultWriter`: the engine evaluates its `Bucket.$` /
   `Prefix.$` paths against the Map's results instead of the state input, so the
   per-execution prefix cannot resolve. (The maps' outputs are discarded with
   `ResultPath: null` either way; the merge steps read the parts back by prefix.)

Usage: test_copy.py <definition.json> <substitutions.json>  > test-copy.json
"""

import json
import re
import sys

STUB_ARN = "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-stub"
STUBBED = {
    "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "arn:aws:states:::sagemaker:createProcessingJob.sync",
    "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint",
}

changes = []


def adjust_states(states, where=""):
    for name, s in states.items():
        here = f"{where}{name}"
        res = s.get("Resource")
        if res in STUBBED:
            s["Resource"] = STUB_ARN
            changes.append(f"{here}: {res} -> sagemaker-stub")
        if s.get("Type") == "Wait":
            for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"):
                s.pop(k, None)
            s["Seconds"] = 1
            changes.append(f"{here}: wait 1 s")
        for r in s.get("Retry", []):
            if r.get("IntervalSeconds", 1) > 1:
                r["IntervalSeconds"] = 1
                changes.append(f"{here}: retry interval 1 s")
        if isinstance(s.get("ToleratedFailurePercentage"), int):
            s["ToleratedFailurePercentage"] = float(s["ToleratedFailurePercentage"])
            changes.append(f"{here}: ToleratedFailurePercentage as float")
        if s.pop("ResultWriter", None) is not None:
            changes.append(f"{here}: ResultWriter dropped")
        pc = s.get("ItemProcessor", {}).get("ProcessorConfig", {})
        if pc.get("ExecutionType") == "EXPRESS":
            pc["ExecutionType"] = "STANDARD"
            changes.append(f"{here}: distributed children as STANDARD")
        for key in ("Iterator", "ItemProcessor"):
            if key in s:
                adjust_states(s[key]["States"], f"{here}/")
        for b in s.get("Branches", []):
            adjust_states(b["States"], f"{here}/")


def main():
    text = open(sys.argv[1]).read()
    subs = json.load(open(sys.argv[2]))

    def sub(m):
        key = m.group(1)
        if key not in subs:
            sys.exit(f"test_copy: no value for ${{{key}}}")
        return str(subs[key])

    text = re.sub(r"\$\{([A-Za-z0-9]+)\}", sub, text)
    asl = json.loads(text)
    adjust_states(asl["States"])
    for c in changes:
        print("test copy:", c, file=sys.stderr)
    json.dump(asl, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
