#!/usr/bin/env bash
# `sam build` of every function of template.yaml, ready for `sam deploy`.
#
#   ./scripts/sam-build.sh [extra sam build arguments]
#
# The functions use `BuildMethod: makefile`: SAM calls the root Makefile once per
# function, and the first call compiles all six in one cargo-lambda release build for
# arm64 (scripts/lambda-build.sh: zig from the pinned .venv as the linker, trainguard's
# test pins off); the other five only copy their bootstrap. `sam build` alone does the
# same once cargo-lambda and zig are on PATH; this script prepares them first.
# Not part of the test command: a cold build takes tens of minutes on two cores
# (README, "Deploy with SAM").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
rustup target add aarch64-unknown-linux-gnu >/dev/null
# cargo-lambda and the zig it drives come from the pinned .venv.
export PATH="$root/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
exec .venv-sam/bin/sam build --template template.yaml "$@"
