#!/usr/bin/env bash
# Schema-validator benchmark: trainguard CLI (profile bench-local) vs the pandas/pyarrow
# peer (peer.py), same machine, same files, one run each, wall time and peak RSS from
# /usr/bin/time -v. Data lives outside the repository (default /work/bench-data).
#
#   bash bench/schema/run.sh [data-dir] [size-GB]     (default /work/bench-data 1.0)
#
# Writes bench/out/schema/results.tsv and prints a Markdown table for RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
data="${1:-/work/bench-data}"
size="${2:-1.0}"
# Its own venv (pinned requirements/bench-schema.txt): the test venv does not carry pandas.
venv="${SCHEMA_BENCH_VENV:-$root/.venv-bench-schema}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r requirements/bench-schema.txt
py="$venv/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
out="$root/bench/out/schema"
mkdir -p "$out" "$data"

[ -s "$data/features.csv" ] && [ -s "$data/features.parquet" ] || "$py" bench/schema/gen_data.py "$data" "$size"
cargo build --locked --profile bench-local -p trainguard-cli
tg="$CARGO_TARGET_DIR/bench-local/trainguard"

measure() { # name, command...
  local name="$1"; shift
  /usr/bin/time -v "$@" >"$out/$name.out" 2>"$out/$name.time" || true # exit 1 = checks failed (planted defects)
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$out/$name.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$out/$name.time" | awk '{print $NF}')
  printf '%s\t%s\t%s\n' "$name" "$wall" "$rss" | tee -a "$out/results.tsv"
}

: >"$out/results.tsv"
for fmt in csv parquet; do
  f="$data/features.$fmt"
  measure "trainguard-$fmt" "$tg" validate "$f" --contract bench/schema/contract.json --json
  measure "peer-$fmt" "$py" bench/schema/peer.py "$f" bench/schema/contract.json
done
"$py" bench/schema/summarize.py "$out" "$data"
