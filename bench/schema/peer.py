"""The Python peer: the same contract checks with pandas + pyarrow, as a Python Lambda
handler would do them. Streams (CSV in pandas chunks, Parquet batch by batch) so it
can finish on files larger than memory.

    python bench/schema/peer.py <file.csv|file.parquet> bench/schema/contract.json

Prints a JSON verdict: passed, rows, and per finding (column, check, count).
"""
import json
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

NULLS = ["", "NA", "N/A", "NaN", "null", "NULL", "None"]
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}
CHUNK = 262_144


def to_bound(ty, v):
    if ty == "date":
        return pd.Timestamp(v)
    if ty == "timestamp":
        return pd.Timestamp(v).tz_convert("UTC") if pd.Timestamp(v).tzinfo else pd.Timestamp(v, tz="UTC")
    return v


class Column:
    def __init__(self, spec):
        self.spec = spec
        self.ty = spec["type"]
        self.rows = self.nulls = self.type_errors = self.out_of_range = self.not_allowed = 0
        self.distinct = set() if ("min_cardinality" in spec or "max_cardinality" in spec) else None
        self.lo = to_bound(self.ty, spec["min"]) if "min" in spec else None
        self.hi = to_bound(self.ty, spec["max"]) if "max" in spec else None
        self.allowed = None
        if "allowed_values" in spec:
            vals = spec["allowed_values"]
            self.allowed = set(vals) if self.ty == "string" else set(pd.to_numeric(pd.Series(vals)).tolist())

    def parse(self, s):
        """(valid values, mask of non-null values that failed to parse)."""
        if self.ty == "string":
            return s.astype(str), pd.Series(False, index=s.index)
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            if self.ty in ("integer", "float"):
                v = pd.to_numeric(s.str.strip(), errors="coerce")
                bad = v.isna()
                if self.ty == "integer":
                    bad |= (v % 1 != 0) & v.notna()
                return v[~bad], bad
            if self.ty == "boolean":
                low = s.str.strip().str.lower()
                ok = low.isin(TRUE | FALSE)
                return low[ok].isin(TRUE), ~ok
            if self.ty == "date":
                v = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
                return v[v.notna()], v.isna()
            if self.ty == "timestamp":
                v = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True)
                return v[v.notna()], v.isna()
        # typed (Parquet) columns
        if self.ty == "integer" and pd.api.types.is_float_dtype(s):
            bad = s % 1 != 0
            return s[~bad], bad
        if self.ty == "timestamp" and getattr(s.dt, "tz", None) is None:
            s = s.dt.tz_localize("UTC")
        if self.ty == "date":
            s = pd.to_datetime(s)
        return s, pd.Series(False, index=s.index)

    def observe(self, s):
        self.rows += len(s)
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = s.where(~s.isin(NULLS))
        if pd.api.types.is_float_dtype(s):
            s = s.where(~np.isnan(s))
        null = s.isna()
        self.nulls += int(null.sum())
        s = s[~null]
        valid, bad = self.parse(s)
        self.type_errors += int(bad.sum())
        if self.lo is not None or self.hi is not None:
            out = pd.Series(False, index=valid.index)
            if self.lo is not None:
                out |= valid < self.lo
            if self.hi is not None:
                out |= valid > self.hi
            self.out_of_range += int(out.sum())
            valid = valid[~out]
        if self.allowed is not None:
            self.not_allowed += int((~valid.isin(self.allowed)).sum())
        if self.distinct is not None:
            self.distinct.update(valid.unique().tolist())


def main(path, contract_path):
    contract = json.load(open(contract_path))
    cols = {c["name"]: Column(c) for c in contract["columns"]}
    names = list(cols)
    rows = 0
    with open(path, "rb") as f:
        is_parquet = f.read(4) == b"PAR1"
    if is_parquet:
        pf = pq.ParquetFile(path)
        present = [n for n in names if n in pf.schema_arrow.names]
        file_cols = pf.schema_arrow.names
        for batch in pf.iter_batches(batch_size=CHUNK, columns=present):
            df = batch.to_pandas()
            rows += len(df)
            for n in present:
                cols[n].observe(df[n])
    else:
        file_cols = list(pd.read_csv(path, nrows=0).columns)
        present = [n for n in names if n in file_cols]
        reader = pd.read_csv(path, usecols=present, dtype=str, keep_default_na=False,
                             na_values=NULLS, chunksize=CHUNK, engine="c")
        for df in reader:
            rows += len(df)
            for n in present:
                cols[n].observe(df[n])
    findings = []

    def add(col, check, count, spec=None):
        sev = (spec or {}).get("severity", {}).get(check, "error")
        findings.append({"column": col, "check": check, "count": count, "severity": sev})

    for n, c in cols.items():
        spec = c.spec
        if n not in file_cols:
            if spec.get("required", True):
                add(n, "required", 1, spec)
            continue
        if c.type_errors:
            add(n, "type", c.type_errors, spec)
        if "max_null_ratio" in spec and c.rows and c.nulls / c.rows > spec["max_null_ratio"]:
            add(n, "null_ratio", 1, spec)
        if c.out_of_range:
            add(n, "range", c.out_of_range, spec)
        if c.not_allowed:
            add(n, "allowed_values", c.not_allowed, spec)
        if c.distinct is not None:
            d = len(c.distinct)
            if d < spec.get("min_cardinality", 0) or d > spec.get("max_cardinality", float("inf")):
                add(n, "cardinality", 1, spec)
    for n in file_cols:
        if n not in cols and contract.get("extra_columns", "warning") != "allow":
            add(n, "extra_column", 1, {"severity": {"extra_column": contract.get("extra_columns", "warning")}})
    rc = contract.get("row_count") or {}
    if rows < rc.get("min", 0) or rows > rc.get("max", float("inf")):
        add(None, "row_count", 1, {"severity": {"row_count": rc.get("severity", "error")}})
    passed = not any(f["severity"] == "error" for f in findings)
    print(json.dumps({"passed": passed, "rows": rows, "findings": findings}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
