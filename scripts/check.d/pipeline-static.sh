#!/usr/bin/env bash
# Static checks of the pipeline: the SAM template (cfn-lint, the approval policy, its IAM
# against the code and the ASL, checkov, sam validate --lint) and the state machine behind
# DefinitionUri, which neither of those reads (asl-validator, statelint). statelint flags `${...}` substitutions as bad URIs and integer
# BackoffRate/IntervalSeconds as non-floats, hence --ignore=URI,FLOAT. checkov scans the
# template for security misconfigurations: every check passes or is skipped in the template
# (Metadata: checkov: skip, each with its reason), so any failed check fails CI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export SAM_CLI_TELEMETRY=0
[ -x tests/static/node_modules/.bin/asl-validator ] && [ -x .venv-sam/bin/sam ] && [ -x .venv-checkov/bin/checkov ] \
  || bash scripts/setup.d/pipeline-tools.sh

echo "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "approval policy (tests/static/approval_policy.py)"
.venv/bin/python tests/static/approval_policy.py template.yaml
echo "IAM actions (tests/static/iam_actions.py)"
# Every SDK call the functions' code can make and every ASL integration is granted to the
# role that makes it, and no role grants an action nothing calls.
.venv/bin/python tests/static/iam_actions.py template.yaml
echo "sam validate --lint"
# Offline: a region is all it needs; no credentials are read.
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" .venv-sam/bin/sam validate --lint --template-file template.yaml
echo "checkov template.yaml"
# Offline (--skip-download: no Prisma Cloud guidelines or severities); the open-source
# checks carry no severity, so every failed check counts, whatever its severity would be.
.venv-checkov/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact
for asl in statemachine/*.asl.json; do
  echo "asl-validator $asl"
  tests/static/node_modules/.bin/asl-validator --json-path "$asl"
  echo "statelint $asl"
  .venv/bin/statelint --ignore=URI,FLOAT "$asl"
done
echo "pipeline-static: ok"
