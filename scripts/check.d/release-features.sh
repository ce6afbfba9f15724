#!/usr/bin/env bash
# Two halves of one promise (issue 18), checked on cargo's resolved features, no build:
#
# 1. One compiled SDK for every debug build. `cargo build -p <function>` (what
#    `cargo lambda watch` runs per invoke), `cargo build -p trainguard-cli` and
#    `cargo test -p trainguard` must resolve every dependency with exactly the features
#    `cargo test --workspace` gives it; otherwise cargo compiles the AWS SDK a second
#    time (10+ minutes on 2 cores). trainguard's `test-pins` feature (on by default, see
#    shared/Cargo.toml) is what keeps them equal.
# 2. No smithy test-util in the Lambda artifacts. The release graph of
#    scripts/sam-build.sh (all six functions, `--no-default-features`, arm64) has no
#    aws-smithy-http-client `test-util` and none of the crates it alone pulls in.
#    aws-config 1.13 itself turns on aws-credential-types/test-util, and with it
#    aws-smithy-runtime-api/test-util and aws-smithy-types/test-util, for every user:
#    those two stay, and are named here so that a new source of test-util fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
functions=(schema-validator drift-detector batch-size-adjuster saga-compensator approval-handler pipeline-trigger)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One line per package: "name vX.Y.Z features".
tree() { cargo tree --locked --prefix none -f '{p} {f}' "$@" | sed 's/ (\*)$//; s/ (proc-macro)//' | sort -u; }

tree --workspace -e normal,build,dev >"$tmp/workspace"
for pkg in "${functions[@]}" trainguard-cli; do
  tree -p "$pkg" -e normal,build >"$tmp/$pkg"
done
tree -p trainguard -e normal,build,dev >"$tmp/trainguard"

python3 - "$tmp" "${functions[@]}" trainguard-cli trainguard <<'PY'
import sys, pathlib
tmp = pathlib.Path(sys.argv[1])
def read(name):
    out = {}
    for line in (tmp / name).read_text().splitlines():
        parts = line.split(" ", 2)
        # Workspace members print their path; their own features differ by design.
        if len(parts) < 2 or "(/" in line:
            continue
        out[f"{parts[0]} {parts[1]}"] = parts[2] if len(parts) > 2 else ""
    return out
ws = read("workspace")
bad = []
for name in sys.argv[2:]:
    for pkg, feats in read(name).items():
        if ws.get(pkg) != feats:
            bad.append(f"{name}: {pkg} has [{feats}], cargo test --workspace has [{ws.get(pkg)}]")
if bad:
    print("a debug build resolves other features than `cargo test --workspace` "
          "(it would compile these crates, and everything above them, twice):", file=sys.stderr)
    print("\n".join(bad[:40]), file=sys.stderr)
    sys.exit(1)
PY

release=()
for f in "${functions[@]}"; do release+=(-p "$f"); done
tree "${release[@]}" --no-default-features --target aarch64-unknown-linux-gnu -e normal,build >"$tmp/release"
python3 - "$tmp/release" <<'PY'
import sys
# test-util features aws-config 1.13 turns on itself (see above).
upstream = {"aws-credential-types", "aws-smithy-runtime-api", "aws-smithy-types"}
only_for_tests = {"aws-smithy-protocol-test", "cbor-diag", "assert-json-diff", "pretty_assertions", "roxmltree"}
bad, seen = [], set()
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split(" ", 2)
    name, feats = parts[0], parts[2] if len(parts) > 2 else ""
    seen.add(name)
    if name in only_for_tests:
        bad.append(f"{name} is in the release graph")
    if "test-util" in feats.split(",") and name not in upstream:
        bad.append(f"{name} has test-util in the release graph")
if "aws-smithy-http-client" not in seen:
    bad.append("aws-smithy-http-client is missing from the release graph: is this the right graph?")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
echo "release-features: debug builds share cargo test's features; the release graph has no smithy test-util of ours"
