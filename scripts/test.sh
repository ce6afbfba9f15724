#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, every Rust test (unit, moto
# integration, end to end), the static checks of the ASL and SAM template, and a short
# run of every fuzz target (FUZZ_SECONDS each, default 45; FUZZ_SECONDS=0 skips it).
# Exits non-zero when anything fails. This is what .ci/run calls.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainguard/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

bash scripts/setup.sh
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build every target (the end-to-end tests run the binaries)"
# --all-targets keeps cargo's feature unification identical to `cargo test --workspace`
# (dev-dependencies such as aws-smithy-mocks switch on SDK features): building only
# --bins would compile the AWS SDK a second time with other features.
cargo build --workspace --all-targets --locked
echo "== static checks"
for check in scripts/check.d/*.sh; do
  [ -e "$check" ] || continue
  echo "-- $check"
  bash "$check"
done
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast -- --test-threads="${TEST_THREADS:-2}"
echo "== fuzz (scripts/fuzz.sh, ${FUZZ_SECONDS:-45} s per target)"
if [ "${FUZZ_SECONDS:-45}" != 0 ]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-45}" bash scripts/fuzz.sh
fi
