#!/usr/bin/env bash
# One-time (idempotent) set-up of everything the demo and the tests need:
# the Python virtualenv with pinned tools (moto, scipy, cargo-lambda, linters),
# npm tools and, where the tests need a browser, Debian's chromium.
# Safe to re-run: each step is skipped when already satisfied.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.requirements-test.sha
want="$(sha256sum requirements/test.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install --quiet --upgrade pip==25.3
  .venv/bin/pip install --quiet -r requirements/test.txt
  echo "$want" > "$stamp"
fi

# Extra set-up steps contributed by each part of the project (npm tools, browser, ...).
for extra in scripts/setup.d/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra"
done
echo "setup: ok"
