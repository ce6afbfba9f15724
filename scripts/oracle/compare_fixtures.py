#!/usr/bin/env python3
"""Compare two directories of scipy oracle fixtures, numbers with a tolerance.

Usage: compare_fixtures.py COMMITTED_DIR FRESH_DIR [--rel 1e-12]

scipy's results move by a few ulps from one CPU to another (BLAS kernels, libm paths
chosen at run time), so a byte comparison of regenerated fixtures fails on a machine
other than the one that wrote them. This compares structure exactly and numbers as
numbers: integers, booleans, strings that are not numbers, keys and list lengths must
be identical; floats (stored as shortest-repr strings, "nan" and "inf" included) must
agree within `rel` relative difference (1e-12 by default: four orders of magnitude above
the ulp noise, six below the 1e-6 or worse that a wrong formula shows). The Rust oracle
tests keep comparing against the committed files as strictly as before.

Prints every entry that differs (file, JSON path, both values, the difference) and exits
1 when any does.
"""

import argparse
import json
import math
import os
import sys


def as_float(v):
    """The float a fixture value encodes (a JSON float, or a float string), else None."""
    if isinstance(v, float):
        return v
    if not isinstance(v, str):
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    # Only what num() in gen_drift_fixtures.py writes: repr() output and nan/inf.
    if v in ("nan", "inf", "-inf") or repr(x) == v:
        return x
    return None


def floats_agree(a, b, rel):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def compare(a, b, path, rel, out):
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            out.append(f"{path}: keys differ: {sorted(a)} vs {sorted(b)}")
            return
        for k in a:
            compare(a[k], b[k], f"{path}.{k}", rel, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries vs {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{path}[{i}]", rel, out)
    else:
        fa, fb = as_float(a), as_float(b)
        if fa is not None and fb is not None:
            if not floats_agree(fa, fb, rel):
                diff = abs(fa - fb)
                scale = max(abs(fa), abs(fb))
                out.append(f"{path}: {a} vs {b} (abs {diff:.3g}, rel {diff / scale if scale else math.inf:.3g})")
        elif type(a) is not type(b) or a != b:
            # Integers, booleans, null and non-number strings: exactly equal.
            out.append(f"{path}: {a!r} vs {b!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("committed")
    ap.add_argument("fresh")
    ap.add_argument("--rel", type=float, default=1e-12)
    args = ap.parse_args()
    names_a = sorted(f for f in os.listdir(args.committed) if f.endswith(".json"))
    names_b = sorted(f for f in os.listdir(args.fresh) if f.endswith(".json"))
    out = []
    if names_a != names_b:
        out.append(f"files differ: {names_a} vs {names_b}")
    for name in sorted(set(names_a) & set(names_b)):
        with open(os.path.join(args.committed, name)) as f:
            a = json.load(f)
        with open(os.path.join(args.fresh, name)) as f:
            b = json.load(f)
        compare(a, b, name, args.rel, out)
    if out:
        print(f"{len(out)} fixture entries differ from a fresh run (committed vs fresh, rel tolerance {args.rel:g}):")
        for line in out[:60]:
            print("  " + line)
        if len(out) > 60:
            print(f"  ... and {len(out) - 60} more")
        sys.exit(1)


if __name__ == "__main__":
    main()
