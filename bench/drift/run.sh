#!/usr/bin/env bash
# Drift benchmark, one run on the same data: 20 numeric features, 1M current rows against a
# baseline of 1M rows. trainguard (CLI, --profile bench-local) vs Evidently's data drift
# preset vs a pandas + scipy.stats.ks_2samp loop. Wall time and peak RSS from
# /usr/bin/time -v. Usage: bash bench/drift/run.sh   (results: bench/out/drift/results.txt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
venv="${BENCH_VENV:-/work/bench-venv}"
out="$root/bench/out/drift"
data="$root/bench/data/drift"
mkdir -p "$out" "$data"

# A separate venv keeps Evidently's dependency tree away from the test venv.
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r requirements/bench.txt

if [ ! -f "$data/current.parquet" ]; then
  "$venv/bin/python" bench/drift/gen_data.py "$data"
fi

cargo build -q -p trainguard-cli --profile bench-local
tg="$CARGO_TARGET_DIR/bench-local/trainguard"

measure() { # name, command...
  local name="$1"; shift
  /usr/bin/time -v -o "$out/$name.time" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || true
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$out/$name.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$out/$name.time" | awk '{print $NF}')
  printf '%-28s wall %-10s peak RSS %8.1f MB\n' "$name" "$wall" "$(echo "$rss / 1024" | bc -l)" | tee -a "$out/results.txt"
}

: >"$out/results.txt"
echo "machine: $(nproc) cores, $(uname -m); $(date -u +%FT%TZ)" | tee -a "$out/results.txt"
measure trainguard-baseline "$tg" baseline "$data/reference.parquet" -o "$out/baseline.json"
measure trainguard-drift "$tg" drift "$data/current.parquet" --baseline "$out/baseline.json" --json --report "$out/report.json" --html "$out/report.html"
measure scipy-ks-loop "$venv/bin/python" bench/drift/scipy_loop.py "$data/reference.parquet" "$data/current.parquet"
measure evidently-data-drift "$venv/bin/python" bench/drift/evidently_preset.py "$data/reference.parquet" "$data/current.parquet"
for n in trainguard-drift scipy-ks-loop evidently-data-drift; do
  echo "--- $n stdout (head)"; head -c 600 "$out/$n.stdout"; echo
done
