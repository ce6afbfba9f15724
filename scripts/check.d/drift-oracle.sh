#!/usr/bin/env bash
# The scipy oracle fixtures in tests/fixtures/drift/ must be what
# scripts/oracle/gen_drift_fixtures.py writes with the pinned scipy: regenerate them into
# a temporary directory and compare (scripts/oracle/compare_fixtures.py: structure,
# integers and strings exactly, floats within 1e-12 relative, since scipy's last bits
# move from one CPU to another). A negative control shows the comparison still catches
# a change far smaller than a wrong formula makes. Also validate a baseline written by the CLI against
# schemas/baseline.schema.json when the binary has been built (scripts/test.sh builds it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -W ignore scripts/oracle/gen_drift_fixtures.py "$tmp/fixtures"
if ! "$py" scripts/oracle/compare_fixtures.py tests/fixtures/drift "$tmp/fixtures" >&2; then
  echo "drift oracle fixtures differ from a fresh run of scripts/oracle/gen_drift_fixtures.py" >&2
  exit 1
fi
# Negative control: one p-value moved by 1e-9 relative must be reported.
cp -r "$tmp/fixtures" "$tmp/perturbed"
"$py" - "$tmp/perturbed/ks_2samp.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
case = next(c for c in doc["cases"] if 0.01 < float(c["pvalue"]) < 0.99)
case["pvalue"] = repr(float(case["pvalue"]) * (1 + 1e-9))
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
if "$py" scripts/oracle/compare_fixtures.py tests/fixtures/drift "$tmp/perturbed" >/dev/null; then
  echo "compare_fixtures.py did not catch a p-value moved by 1e-9 relative" >&2
  exit 1
fi
echo "drift oracle fixtures: up to date (floats within 1e-12 relative; negative control caught)"

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
