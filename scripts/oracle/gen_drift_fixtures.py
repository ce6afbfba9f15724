#!/usr/bin/env python3
"""Generate the scipy oracle fixtures for trainguard's drift statistics.

Usage: .venv/bin/python scripts/oracle/gen_drift_fixtures.py [OUT_DIR]
(default OUT_DIR: tests/fixtures/drift). Needs the pinned scipy/numpy of
requirements/test.txt; the Rust tests in shared/src/drift/oracle.rs compare against the
files written here, and scripts/check.d/drift-oracle.sh regenerates them into a temporary
directory and diffs, so a fixture can never silently drift from what this script says.

Samples are not stored value by value: each is described by a tiny integer generator,
    x_i = ((a * i + c) mod p) / s + o,   i = 0 .. n-1,
whose every step is exact integer arithmetic followed by one IEEE division and one
addition, so Python and Rust build bit-identical samples. Small p gives heavy ties.
"""

import json
import math
import os
import sys

import numpy as np
import scipy
from scipy import stats
from scipy.stats import _stats_py

EXPECTED_SCIPY = "1.17.1"


def gen(spec):
    a, c, p, n = spec["a"], spec["c"], spec["p"], spec["n"]
    s, o = float(spec["s"]), float(spec["o"])
    return np.array([float((a * i + c) % p) / s + o for i in range(n)], dtype=np.float64)


def num(x):
    """A float as its shortest round-trip text ("inf", "nan" included). Strings, because
    not every JSON parser rounds decimal numbers correctly (serde_json by default does not
    always), and these fixtures compare statistics bit for bit."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def spec(n, a, c=0, p=1_000_003, s=1_000_003.0, o=0.0):
    return {"n": n, "a": a, "c": c, "p": p, "s": num(s), "o": num(o)}


def ks_cases():
    cases = []
    # Hand-written tiny samples: ties within and across samples, n = 1, disjoint.
    inline = [
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        ([1.0], [2.0]),
        ([1.0], [1.0]),
        ([3.0], [1.0, 2.0, 4.0, 5.0, 6.0]),
        ([1.0, 1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 2.0, 3.0, 3.0, 3.0]),
        ([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.6]),
        ([1.0, 2.0, 2.0, 2.0, 5.0, 7.0, 7.0], [2.0, 2.0, 3.0, 7.0]),
        ([-1.5, 0.0, 0.25, 3.0, 3.0, 9.0, 10.0, 11.0], [0.0, 0.1, 0.2, 0.3, 0.4, 3.0, 3.0, 3.0, 12.0]),
        ([5.0, 4.0, 3.0, 2.0, 1.0, 0.0], [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]),
    ]
    for a, b in inline:
        cases.append({"a": {"values": [num(v) for v in a]}, "b": {"values": [num(v) for v in b]}})
    # Generated samples: (n1, n2, second sample's offset, tie modulus or None).
    sizes = [
        (5, 7, 0.1, None), (8, 8, 0.2, None), (10, 10, 0.05, 7), (20, 30, 0.15, None),
        (25, 25, 0.0, 5), (50, 50, 0.12, None), (100, 37, 0.2, None), (64, 48, 0.05, 13),
        (250, 300, 0.05, None), (400, 400, 0.07, 40), (500, 500, 0.03, None),
        (600, 450, 0.04, None), (1000, 999, 0.03, None), (1000, 1000, 0.05, 101),
        (3000, 4500, 0.02, None), (5000, 5000, 0.015, None), (9999, 10000, 0.01, None),
        (10000, 10000, 0.02, None), (10000, 10000, 0.004, 997), (10000, 10001, 0.01, None),
        (10001, 10001, 0.01, None), (10001, 9000, 0.015, None), (120, 15000, 0.08, None),
        (60, 20000, 0.1, None), (200, 20000, 0.05, None), (2048, 50000, 0.02, None),
        (2048, 200000, 0.015, 5003), (20000, 50000, 0.006, None),
    ]
    for k, (n1, n2, off, ties) in enumerate(sizes):
        p = ties if ties else 1_000_003
        s = float(p)
        a = spec(n1, 7919 + 2 * k, c=11 * k, p=p, s=s)
        b = spec(n2, 104729 + 6 * k, c=3 + k, p=p, s=s, o=off)
        cases.append({"a": a, "b": b})
    out = []
    for case in cases:
        x = np.array([float(v) for v in case["a"]["values"]]) if "values" in case["a"] else gen(case["a"])
        y = np.array([float(v) for v in case["b"]["values"]]) if "values" in case["b"] else gen(case["b"])
        n1, n2 = len(x), len(y)
        for alt in ["two-sided", "less", "greater"]:
            methods = ["auto"]
            if max(n1, n2) <= 2000:
                methods.append("asymp")
            if 10000 < max(n1, n2) <= 20000 and min(n1, n2) >= 9000:
                methods.append("exact")
            for method in methods:
                r = stats.ks_2samp(x, y, alternative=alt, method=method)
                out.append({
                    "a": case["a"], "b": case["b"], "alternative": alt, "method": method,
                    "statistic": num(r.statistic), "pvalue": num(r.pvalue),
                    "sign": int(r.statistic_sign),
                })
    return out


def exact_grid():
    """p-values of the exact paths for many lattice values h/lcm (no data needed)."""
    out = []
    pairs = [(3, 3), (7, 7), (30, 30), (200, 200), (3, 5), (8, 12), (17, 40), (100, 150),
             (333, 500), (401, 599), (1000, 1500), (511, 515), (4, 1000)]
    for n1, n2 in pairs:
        g = math.gcd(n1, n2)
        alts = ["two-sided", "greater"] if n1 + n2 <= 1200 or n1 == n2 else ["two-sided"]
        lcm = (n1 // g) * n2
        fracs = [0.001, 0.02, 0.05, 0.08, 0.12, 0.2, 0.35, 0.5, 0.8, 1.0]
        if n1 + n2 > 1200:
            fracs = fracs[:5]  # keeps the script (and the debug-build tests) fast
        for frac in fracs:
            h = max(1, round(frac * lcm))
            d = h / lcm
            for alt in alts:
                ok, dd, p = _stats_py._attempt_exact_2kssamp(n1, n2, g, d, alt)
                out.append({"n1": n1, "n2": n2, "d": num(d), "alternative": alt,
                            "success": bool(ok), "pvalue": num(p) if ok else None})
    return out


def kstwo_grid():
    out = []
    ns = [1, 2, 3, 5, 10, 37, 100, 140, 141, 500, 1000, 5000, 20000, 100000, 100001, 1000000]
    for n in ns:
        xs = set()
        for c in [0.6, 0.9]:
            xs.add(c / n)
        qs = [0.05, 0.2, 0.5, 0.7, 0.754, 0.76, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 3.9, 4.1,
              6.0, 10.0, 17.9, 18.1, 50.0, 300.0, 369.0, 371.0]
        fixed = [0.01, 0.03, 0.1, 0.3, 0.49, 0.5, 0.51, 0.7, 0.95]
        if n >= 100000:
            # scipy's own Smirnov sum takes seconds per point here: keep the regime edges.
            qs, fixed = ([0.05, 0.5, 1.0, 2.19, 2.21, 371.0], [0.5]) if n < 1000000 else ([0.5, 1.0, 2.19], [])
        for q in qs:
            xs.add(math.sqrt(q / n))
        for x in fixed:
            xs.add(x)
        xs.add(1 - 0.5 / n)
        for x in sorted(xs):
            if 0 < x < 1:
                out.append({"n": n, "x": num(x), "sf": num(stats.kstwo.sf(x, n))})
    return out


def smirnov_grid():
    out = []
    for n in [2, 3, 10, 50, 141, 1000, 20000, 200000]:
        for q in [0.3, 1.0, 2.2, 3.0, 8.0, 40.0]:
            x = math.sqrt(q / n)
            if 0 < x < 1:
                out.append({"n": n, "x": num(x), "sf": num(scipy.special.smirnov(n, x))})
        for x in [0.5, 0.6, 0.9]:
            out.append({"n": n, "x": num(x), "sf": num(scipy.special.smirnov(n, x))})
    return out


def counts_cases():
    """Baseline and current category counts, as the drift check builds them."""
    return [
        ([10, 20, 30], [12, 18, 30]),
        ([100, 200, 300, 400], [90, 210, 320, 380]),
        ([5000, 3000, 2000], [4000, 4000, 2000]),
        ([50, 0, 50], [40, 5, 55]),           # category new in the current data
        ([50, 10, 40], [60, 0, 40]),          # category gone from the current data
        ([1, 1], [1000, 1000]),
        ([7, 3, 0, 12, 1], [0, 4, 2, 30, 9]),
        ([123456, 654321, 111111, 99999], [123000, 655000, 110000, 100500]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ]


def chisquare_cases():
    out = []
    for base, cur in counts_cases():
        nb, nc = sum(base), sum(cur)
        keep = [i for i in range(len(base)) if base[i] > 0 or cur[i] > 0]
        obs = np.array([cur[i] for i in keep], dtype=float)
        exp = np.array([base[i] * (nc / nb) for i in keep], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = stats.chisquare(obs, exp)
        out.append({"baseline": base, "current": cur, "statistic": num(r.statistic),
                    "pvalue": num(r.pvalue)})
    return out


def psi_reference(base, cur, eps=0.0001):
    """Evidently's PSI: proportions, empty cells set to eps, Σ (b - c) ln(b / c)."""
    b = np.array(base, dtype=float) / sum(base)
    c = np.array(cur, dtype=float) / sum(cur)
    b[b == 0] = eps
    c[c == 0] = eps
    return float(np.sum((b - c) * np.log(b / c)))


def psi_cases():
    return [{"baseline": b, "current": c, "psi": num(psi_reference(b, c))} for b, c in counts_cases()]


def bh_cases():
    rng = np.random.default_rng(20261122)
    vectors = [
        [0.01, 0.02, 0.03, 0.5],
        [0.5, 0.6, 0.1, 0.001],
        [0.04, 0.04, 0.04, 0.2, 0.2],
        [1.0, 1.0, 0.0, 0.3],
        [0.2],
    ]
    for m in [3, 10, 20, 100]:
        v = rng.uniform(size=m) ** 3
        vectors.append([float(x) for x in v])
    vectors.append([float(x) for x in np.round(rng.uniform(size=30), 2)])
    return [{"pvalues": [num(x) for x in v], "bh": [num(x) for x in np.atleast_1d(stats.false_discovery_control(v))]}
            for v in vectors]


def wasserstein_cases():
    out = []
    inline = [([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]), ([0.0, 1.0], [0.0, 1.0]),
              ([1.0, 1.0, 2.0, 7.0], [1.5, 3.0]), ([-3.0, 0.5, 2.0, 2.0, 9.0], [0.0])]
    for a, b in inline:
        out.append({"a": {"values": [num(v) for v in a]}, "b": {"values": [num(v) for v in b]},
                    "distance": num(stats.wasserstein_distance(a, b))})
    for k, (n1, n2, off) in enumerate([(100, 150, 0.1), (1000, 700, 0.01), (3000, 3000, 0.0)]):
        a = spec(n1, 7919 + k)
        b = spec(n2, 104729 + k, o=off)
        out.append({"a": a, "b": b, "distance": num(stats.wasserstein_distance(gen(a), gen(b)))})
    return out


# Values whose shortest decimal form is long (17 significant digits, or an exponent):
# the kind a real table carries (3.4523399999999995 is 3.45234 computed in binary, wind
# speeds converted between units) and the kind a float parser that is not correctly
# rounded turns into a neighbouring double. serde_json's default parser reads 1.4816000000000003,
# 3.9600000000000004, 7.5600000000000005, 9.360000000000001 and 14.918876000000001 as their
# neighbours (3.9600000000000004 as 3.96, which is here too: two values that must stay
# apart); the others are long too and must survive as well.
LONG_DECIMALS = [
    3.4523399999999995, 24.166379999999997, 1.4816000000000003, 3.9600000000000004, 3.96,
    7.5600000000000005, 9.360000000000001, 14.918876000000001, 0.30000000000000004,
    2.2250738585072014e-308,
]


def ties_cases():
    """Samples drawn with heavy ties from LONG_DECIMALS. The values travel as digit
    strings (digit k = LONG_DECIMALS[k]) so the Rust test writes the very same text into
    CSV files and the very same doubles into Parquet, then runs them through the baseline
    and profile JSON round trips and compares D and p with scipy on the raw values."""
    rng = np.random.default_rng(20261203)
    k = len(LONG_DECIMALS)
    even = np.full(k, 1.0 / k)
    skewed = np.array([0.16, 0.14, 0.12, 0.11, 0.1, 0.09, 0.08, 0.07, 0.07, 0.06])
    out = []
    for name, n1, n2, w1, w2 in [
        ("two halves of one distribution", 3000, 3000, skewed, skewed),
        ("unequal sizes, same distribution", 3000, 2000, even, even),
        ("shifted weights", 3000, 3000, even, skewed),
        ("asymptotic regime (n > 10000)", 3000, 12000, skewed, skewed),
    ]:
        a = rng.choice(k, size=n1, p=w1)
        b = rng.choice(k, size=n2, p=w2)
        values = np.array(LONG_DECIMALS)
        r = stats.ks_2samp(values[a], values[b], alternative="two-sided", method="auto")
        out.append({
            "name": name,
            "decimals": [num(v) for v in LONG_DECIMALS],
            "baseline": "".join(str(i) for i in a),
            "current": "".join(str(i) for i in b),
            "alternative": "two-sided", "method": "auto",
            "statistic": num(r.statistic), "pvalue": num(r.pvalue),
        })
    return out


def main():
    if scipy.__version__ != EXPECTED_SCIPY:
        sys.exit(f"scipy {scipy.__version__} found; the fixtures are pinned to {EXPECTED_SCIPY}")
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "tests", "fixtures", "drift")
    os.makedirs(out_dir, exist_ok=True)
    files = {
        "ks_2samp.json": ks_cases(),
        "ks_exact_grid.json": exact_grid(),
        "kstwo_sf.json": kstwo_grid(),
        "smirnov.json": smirnov_grid(),
        "chisquare.json": chisquare_cases(),
        "psi.json": psi_cases(),
        "bh.json": bh_cases(),
        "wasserstein.json": wasserstein_cases(),
        "ks_ties_roundtrip.json": ties_cases(),
    }
    for name, cases in files.items():
        doc = {"generator": "scripts/oracle/gen_drift_fixtures.py", "scipy": scipy.__version__,
               "numpy": np.__version__, "cases": cases}
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
