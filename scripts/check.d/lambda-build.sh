#!/usr/bin/env bash
# The one-pass Lambda build (issue 13) names its functions in three places that must agree
# with the template: template.yaml (each function's BuildMethod makefile and
# BuildProperties.Binary), the Makefile SAM calls (build-<LogicalId> -> binary) and
# scripts/lambda-build.sh (the packages it builds), which must also be every crate under
# functions/. A function missing from one would deploy a stale or missing bootstrap.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python3 - <<'PY'
import pathlib, re, sys
template = pathlib.Path("template.yaml").read_text().splitlines()
tpl = {}
for i, line in enumerate(template):
    if line.strip() == "Type: AWS::Serverless::Function":
        logical = template[i - 1].strip().rstrip(":")
        block = []
        for x in template[i:]:
            if x.strip() and len(x) - len(x.lstrip()) <= len(template[i - 1]) - len(template[i - 1].lstrip()):
                break
            block.append(x.strip())
        if "BuildMethod: makefile" not in block:
            sys.exit(f"template.yaml: {logical} does not use BuildMethod: makefile")
        binary = next((x.split(":", 1)[1].strip() for x in block if x.startswith("Binary:")), None)
        tpl[logical] = binary
make = dict(re.findall(r"^BIN_(\w+) := (\S+)$", pathlib.Path("Makefile").read_text(), re.M))
script = pathlib.Path("scripts/lambda-build.sh").read_text()
built = set(re.search(r"^functions=\(([^)]*)\)", script, re.M).group(1).split())
crates = {p.parent.name for p in pathlib.Path("functions").glob("*/Cargo.toml")}
problems = []
if make != tpl:
    problems.append(f"Makefile BIN_ table {make} != template.yaml functions {tpl}")
if built != set(tpl.values()):
    problems.append(f"scripts/lambda-build.sh builds {sorted(built)}, the template deploys {sorted(tpl.values())}")
if built != crates:
    problems.append(f"scripts/lambda-build.sh builds {sorted(built)}, functions/ has {sorted(crates)}")
if problems:
    sys.exit("\n".join(problems))
print(f"lambda-build: {len(tpl)} functions agree (template, Makefile, scripts/lambda-build.sh, functions/)")
PY
