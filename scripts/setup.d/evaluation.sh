#!/usr/bin/env bash
# The reference evaluation job's Python (evaluation/, tested by
# tests/tests/evaluation_job.rs): its own virtualenv .venv-eval from
# requirements/evaluation.txt (every dependency pinned, --no-deps so nothing unpinned slips
# in). Idempotent: skipped while the requirements file is unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
sha="$(sha256sum requirements/evaluation.txt | cut -d' ' -f1)"
stamp=.venv-eval/.requirements.sha
if [ ! -x .venv-eval/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sha" ]; then
  [ -x .venv-eval/bin/python ] || "$py" -m venv .venv-eval
  .venv-eval/bin/pip install --quiet --upgrade pip==25.3
  .venv-eval/bin/pip install --quiet --no-deps -r requirements/evaluation.txt
  .venv-eval/bin/pip check
  echo "$sha" > "$stamp"
fi
echo "evaluation: $(.venv-eval/bin/python -c 'import sklearn, pandas; print("scikit-learn", sklearn.__version__, "pandas", pandas.__version__)')"
