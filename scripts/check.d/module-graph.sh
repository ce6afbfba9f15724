#!/usr/bin/env bash
# The library's modules import each other without circles (scripts/module_graph.py: one
# node per file, an edge per `crate::`/`super::` path it names, containment excluded).
# A negative control first: a two-file circle must be reported.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'pub mod a;\npub mod b;\n' >"$tmp/lib.rs"
printf 'use crate::b::B;\npub struct A;\n' >"$tmp/a.rs"
printf 'pub struct B;\nfn f(_: crate::a::A) {}\n' >"$tmp/b.rs"
if python3 scripts/module_graph.py "$tmp" >/dev/null; then
  echo "module_graph.py missed a circle between two modules" >&2
  exit 1
fi
python3 scripts/module_graph.py shared/src
