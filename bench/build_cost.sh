#!/usr/bin/env bash
# What the dependency cuts of issue 17 save, measured the same way on any machine.
#
#   bash bench/build_cost.sh          crate counts of the main and fuzz builds (seconds)
#   bash bench/build_cost.sh --time   also: cold-compile, in a scratch crate, exactly the
#                                     crates the cuts removed (statrs' defaults, the arrow
#                                     umbrella) with `cargo build --timings`, and sum their
#                                     unit times (about 2 minutes on 2 cores)
#
# Results are recorded in BENCHMARKS.md ("Build cost").
set -euo pipefail
cd "$(dirname "$0")/.."

count() { cargo tree "$@" --offline -e normal,build --prefix none 2>/dev/null | sed 's/ (\*)//; s/ (proc-macro)//' | sort -u | grep -c .; }
echo "main workspace build graph: $(count --workspace) crates"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r fuzz "$tmp/fuzz" && rm -rf "$tmp/fuzz/corpus"
sed -i "s|path = \"../shared\"|path = \"$PWD/shared\"|" "$tmp/fuzz/Cargo.toml"
cp Cargo.lock "$tmp/fuzz/Cargo.lock"
echo "fuzz build graph (trainguard without feature aws): $(count --manifest-path "$tmp/fuzz/Cargo.toml") crates"
sed -i 's|, default-features = false }|}|' "$tmp/fuzz/Cargo.toml"
echo "fuzz build graph if it kept feature aws:           $(count --manifest-path "$tmp/fuzz/Cargo.toml") crates"

[ "${1:-}" = "--time" ] || exit 0
mkdir -p "$tmp/removed/src"
cat > "$tmp/removed/Cargo.toml" <<'TOML'
[package]
name = "removed-crates"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
statrs = "=0.19.1"
arrow = { version = "=60.1.0", default-features = false, features = ["csv"] }
[workspace]
TOML
echo 'fn main() {}' > "$tmp/removed/src/main.rs"
cp Cargo.lock "$tmp/removed/Cargo.lock"
(cd "$tmp/removed" && env -u CARGO_TARGET_DIR cargo build --offline --timings --quiet)
python3 - "$tmp"/removed/target/cargo-timings/cargo-timing-*.html <<'PY'
import json, re, sys
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", open(sys.argv[1]).read(), re.S).group(1))
removed = {"nalgebra", "simba", "wide", "safe_arch", "matrixmultiply", "bytemuck", "rawpointer",
           "arrow", "arrow-arith", "arrow-row", "arrow-string"}
cut = sum(u["duration"] for u in units if u["name"] in removed)
print(f"debug compile time of the removed crates: {cut:.1f} s of unit time "
      f"(of {sum(u['duration'] for u in units):.1f} s for that whole scratch build)")
PY
