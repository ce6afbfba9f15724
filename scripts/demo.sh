#!/usr/bin/env bash
# The whole trainguard pipeline, locally, on the real binaries: no AWS account, no Docker.
#
# Prepares the machine (scripts/setup.sh), builds the six functions, then runs
# tests/e2e/demo.py, which starts the local stack (moto with its Step Functions
# interpreter, the router that plays the SageMaker parts moto cannot, cargo lambda watch),
# uploads the sample data, starts the pipeline through the real pipeline-trigger, approves
# through the real approval-handler, and prints the path of states taken and where the
# reports are. Every process it started is stopped on exit (trap), however it exits.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainguard/target}"
mkdir -p "$CARGO_TARGET_DIR"

bash scripts/setup.sh >/dev/null
export PATH="$root/.venv/bin:$PATH"

echo "==> building the functions (debug; first build takes a while)"
cargo build --quiet --locked \
  -p schema-validator -p drift-detector -p batch-size-adjuster \
  -p saga-compensator -p approval-handler -p pipeline-trigger

demo_pid=""
cleanup() {
  # demo.py stops its stack when its stdin closes or on SIGTERM; make sure of it.
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

.venv/bin/python tests/e2e/demo.py &
demo_pid=$!
wait "$demo_pid"
