#!/usr/bin/env bash
# `sam build` of every function of template.yaml: cargo-lambda (pinned in .venv) builds
# each binary for arm64 with zig (ziglang from PyPI, also in .venv) as the linker, in the
# Lambda release profile. Output in .aws-sam/build/, ready for `sam deploy`.
#
#   ./scripts/sam-build.sh [extra sam build arguments]
#
# Not part of the test command: a cold arm64 release build of six binaries takes about
# half an hour on two cores. SAM's Rust support is a beta feature, hence --beta-features.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
rustup target add aarch64-unknown-linux-gnu >/dev/null
# cargo-lambda and the zig it drives come from the pinned .venv.
export PATH="$root/.venv/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainguard/target}"
export SAM_CLI_TELEMETRY=0
exec .venv-sam/bin/sam build --beta-features --template template.yaml "$@"
