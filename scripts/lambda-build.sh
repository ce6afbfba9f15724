#!/usr/bin/env bash
# The Lambda release build, once for all six functions (issue 13): one
# `cargo lambda build` of every function binary, so the SDK, arrow and parquet are
# compiled once and not once per function as SAM's rust-cargolambda builder does
# (48 min cold on 2 cores). `--no-default-features` turns trainguard's `test-pins` off:
# no smithy test-util in the artifacts (issue 18, scripts/check.d/release-features.sh).
#
#   scripts/lambda-build.sh [--arch arm64|x86_64]         build, bootstraps in $LAMBDA_DIR/<fn>/
#   scripts/lambda-build.sh --install <fn> <dir>          build (a no-op when fresh), copy <fn>'s
#                                                         bootstrap into <dir> (the Makefile, for SAM)
#
# Release artifacts go to their own target directory (TRAINGUARD_RELEASE_TARGET_DIR,
# default ~/.cache/trainguard/release-target), so a release build never evicts or locks
# the debug artifacts the tests share. cargo-lambda and zig come from the pinned .venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
functions=(schema-validator drift-detector batch-size-adjuster saga-compensator approval-handler pipeline-trigger)

arch=arm64
install_fn="" install_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --install) install_fn="$2"; install_dir="$3"; shift 3 ;;
    *) echo "lambda-build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu flag=--arm64 ;;
  x86_64) triple=x86_64-unknown-linux-gnu flag=--x86-64 ;;
  *) echo "lambda-build.sh: --arch arm64 or x86_64, not $arch" >&2; exit 2 ;;
esac

export PATH="$root/.venv/bin:$PATH"
export CARGO_TARGET_DIR="${TRAINGUARD_RELEASE_TARGET_DIR:-$HOME/.cache/trainguard/release-target}"
lambda_dir="$CARGO_TARGET_DIR/lambda/$arch"
if ! rustup target list --installed | grep -qx "$triple"; then
  rustup target add "$triple" >&2
fi
packages=()
for f in "${functions[@]}"; do packages+=(-p "$f"); done
# stdout stays clean for callers; cargo's progress goes to stderr.
cargo lambda build --locked --release "$flag" --no-default-features "${packages[@]}" \
  --lambda-dir "$lambda_dir" >&2

if [ -n "$install_fn" ]; then
  if [ ! -f "$lambda_dir/$install_fn/bootstrap" ]; then
    echo "lambda-build.sh: no bootstrap for '$install_fn' (one of: ${functions[*]})" >&2
    exit 1
  fi
  mkdir -p "$install_dir"
  cp "$lambda_dir/$install_fn/bootstrap" "$install_dir/bootstrap"
else
  echo "$lambda_dir"
fi
