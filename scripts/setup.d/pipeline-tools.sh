#!/usr/bin/env bash
# Tools for the pipeline's static checks (scripts/check.d/pipeline-static.sh), idempotent:
# - asl-validator, pinned in tests/static/package.json + package-lock.json (npm ci);
# - aws-sam-cli in its OWN virtualenv (.venv-sam): its pins clash with moto/boto3 in .venv;
# - checkov in its own virtualenv (.venv-checkov), from requirements/checkov.txt (every
#   dependency pinned; its boto3 pin clashes with moto's too).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

SAM_VERSION=1.170.0

lock_sha="$(sha256sum tests/static/package-lock.json | cut -d' ' -f1)"
stamp=tests/static/node_modules/.trainguard-lock.sha
if [ ! -x tests/static/node_modules/.bin/asl-validator ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sha" ]; then
  (cd tests/static && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sha" > "$stamp"
fi

py="${PYTHON:-python3}"
if [ ! -x .venv-sam/bin/sam ] || ! .venv-sam/bin/sam --version 2>/dev/null | grep -q "$SAM_VERSION"; then
  [ -x .venv-sam/bin/python ] || "$py" -m venv .venv-sam
  .venv-sam/bin/pip install --quiet --upgrade pip==25.3
  .venv-sam/bin/pip install --quiet "aws-sam-cli==$SAM_VERSION"
fi
ckv_sha="$(sha256sum requirements/checkov.txt | cut -d' ' -f1)"
ckv_stamp=.venv-checkov/.requirements.sha
if [ ! -x .venv-checkov/bin/checkov ] || [ "$(cat "$ckv_stamp" 2>/dev/null)" != "$ckv_sha" ]; then
  [ -x .venv-checkov/bin/python ] || "$py" -m venv .venv-checkov
  .venv-checkov/bin/pip install --quiet --upgrade pip==25.3
  .venv-checkov/bin/pip install --quiet -r requirements/checkov.txt
  echo "$ckv_sha" > "$ckv_stamp"
fi
echo "pipeline-tools: asl-validator $(tests/static/node_modules/.bin/asl-validator --version), $(.venv-sam/bin/sam --version), checkov $(.venv-checkov/bin/checkov --version)"
