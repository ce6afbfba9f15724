#!/usr/bin/env bash
# The scipy oracle fixtures in tests/fixtures/drift/ must be exactly what
# scripts/oracle/gen_drift_fixtures.py writes with the pinned scipy: regenerate them into
# a temporary directory and diff. Also validate a baseline written by the CLI against
# schemas/baseline.schema.json when the binary has been built (scripts/test.sh builds it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -W ignore scripts/oracle/gen_drift_fixtures.py "$tmp/fixtures"
if ! diff -r tests/fixtures/drift "$tmp/fixtures" >"$tmp/diff"; then
  echo "drift oracle fixtures differ from a fresh run of scripts/oracle/gen_drift_fixtures.py:" >&2
  head -40 "$tmp/diff" >&2
  exit 1
fi
echo "drift oracle fixtures: up to date"

bin="${CARGO_TARGET_DIR:-$root/target}/debug/trainguard"
if [ -x "$bin" ]; then
  printf 'x,y,c\n1.5,10,a\n2.5,,b\n3.5,30,a\nNA,40,c\n' >"$tmp/data.csv"
  "$bin" baseline "$tmp/data.csv" -o "$tmp/baseline.json" 2>/dev/null
  "$py" - "$tmp/baseline.json" <<'PY'
import json, sys
import jsonschema
schema = json.load(open("schemas/baseline.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.validate(json.load(open(sys.argv[1])), schema)
print("baseline written by the CLI matches schemas/baseline.schema.json")
PY
else
  echo "(trainguard binary not built: schema validation of a CLI baseline skipped)"
fi
