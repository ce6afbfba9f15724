#!/usr/bin/env bash
# Fuzz every parser (the cargo-fuzz targets in fuzz/, see docs/fuzzing.md).
#
# Installs the pinned cargo-fuzz into a cache outside the clone when missing, builds all
# targets (nightly, coverage instrumentation, no sanitizer: see docs/fuzzing.md), then
# runs them one after the other for FUZZ_SECONDS each on a COPY of the seed corpus in a
# temp dir (libFuzzer writes into its corpus directory; the clone stays clean). Prints
# executions per target; exits non-zero when any target crashed, timed out or ran out
# of memory, printing the input (base64) and the command that reproduces it.
#
#   FUZZ_SECONDS   seconds per target (default 45)
#   FUZZ_TARGETS   space-separated subset (default: every target)
#   FUZZ_RUNS      stop a target after this many executions (default: no limit)
#   FUZZ_WORK      keep corpora and artifacts here (default: a temp dir, removed when
#                  nothing crashed)
#   FUZZ_TARGET_DIR, TRAINGUARD_TOOLS   build and tool caches (defaults below)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CARGO_FUZZ_VERSION=0.13.2
tools="${TRAINGUARD_TOOLS:-$HOME/.cache/trainguard/tools}"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/trainguard/fuzz-target}"
seconds="${FUZZ_SECONDS:-45}"
triple="$(rustc -vV | sed -n 's/^host: //p')"

# Toolchain: nightly, as cargo-fuzz documents. Without a sanitizer the build uses no
# unstable flag, so a machine without nightly falls back to stable (with a warning).
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=nightly
  else
    echo "warning: no nightly toolchain; building the fuzz targets with stable" >&2
    toolchain=stable
  fi
fi

if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
  # Built in cargo's own temp dir, not in a CARGO_TARGET_DIR set by the caller.
  env -u CARGO_TARGET_DIR cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$tools"
fi
export PATH="$tools/bin:$PATH"

# fuzz/Cargo.lock is made from the root lock before every build (copied, then resolved:
# cargo drops what the fuzz workspace does not use and adds the two pinned fuzz-only
# crates), so every crate the two share has the root lock's version. It is ignored by git.
cp Cargo.lock fuzz/Cargo.lock
cargo "+$toolchain" metadata --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
locked() { awk '/^name = /{n=$3} /^version = /{print n, $3}' "$1" | sort -u; }
drift="$(comm -13 <(locked Cargo.lock) <(locked fuzz/Cargo.lock) | grep -v -E '^"(libfuzzer-sys|arbitrary|trainguard-fuzz)" ' || true)"
if [ -n "$drift" ]; then
  echo "fuzz/Cargo.lock resolved versions the root Cargo.lock does not have:" >&2
  echo "$drift" >&2
  exit 1
fi

build_flags=(--sanitizer none --debug-assertions --codegen-units 16 --target-dir "$target_dir")
echo "== cargo fuzz build ($toolchain)"
start=$(date +%s)
cargo "+$toolchain" fuzz build "${build_flags[@]}"
echo "fuzz build: $(( $(date +%s) - start )) s"
bin_dir="$target_dir/$triple/release"

all_targets="$(cargo "+$toolchain" fuzz list)"
targets="${FUZZ_TARGETS:-$all_targets}"

# Longest input per target: a little above the largest seed; longer inputs only slow
# each execution down without reaching new code.
max_len() {
  case "$1" in
    parquet_read) echo 16384 ;;
    csv_read | events) echo 8192 ;;
    compressed_read | classify) echo 4096 ;;
    *) echo 2048 ;;
  esac
}

if [ -n "${FUZZ_WORK:-}" ]; then
  work="$FUZZ_WORK"
  keep=1
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/trainguard-fuzz.XXXXXX")"
  keep=0
fi
mkdir -p "$work"
# The data targets write each input to a scratch file (one per process): tmpfs if any.
scratch="$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/trainguard-fuzz-scratch.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export TRAINGUARD_FUZZ_SCRATCH="$scratch"

failed=()
summary=()
for t in $targets; do
  corpus="$work/corpus/$t"
  artifacts="$work/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -R "fuzz/corpus/$t/." "$corpus/"
  fi
  log="$work/$t.log"
  runs=()
  if [ -n "${FUZZ_RUNS:-}" ]; then runs=(-runs="$FUZZ_RUNS"); fi
  echo "== fuzz $t (${seconds}s, max_len $(max_len "$t"))"
  set +e
  "$bin_dir/$t" "$corpus" \
    -max_total_time="$seconds" "${runs[@]}" \
    -max_len="$(max_len "$t")" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
  line="$(printf '%-16s %12s execs %8s exec/s %6s MB peak RSS  corpus %s' "$t" "${execs:-?}" "${rate:-?}" "${rss:-?}" "$(find "$corpus" -type f | wc -l)")"
  if [ "$rc" -ne 0 ]; then
    line="$line  FAILED (exit $rc)"
    failed+=("$t")
    tail -n 60 "$log"
    for a in "$artifacts"/*; do
      [ -f "$a" ] || continue
      echo "-- $t artifact $a ($(wc -c <"$a") bytes), base64:"
      head -c 16384 "$a" | base64 -w 76
      echo "-- reproduce: $bin_dir/$t $a"
      echo "   (after: cargo +$toolchain fuzz build ${build_flags[*]})"
    done
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (corpora, logs and artifacts kept in $work)"
  exit 1
fi
if [ "$keep" -eq 0 ]; then
  rm -rf "$work"
fi
echo "fuzz: ${#summary[@]} targets, no crash"
