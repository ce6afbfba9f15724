"""Generate the benchmark dataset: a CSV of about TARGET_GB and its Parquet twin (same
rows), realistic ML features with a few planted defects so every check has work.

    .venv/bin/python bench/schema/gen_data.py /work/bench-data 1.0

Writes <dir>/features.csv and <dir>/features.parquet (row groups of 256k rows).
Deterministic (seeded). Data never goes into the repository.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

out_dir = sys.argv[1] if len(sys.argv) > 1 else "/work/bench-data"
target_gb = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
stem = sys.argv[3] if len(sys.argv) > 3 else "features"
write_parquet = os.environ.get("NO_PARQUET") is None
os.makedirs(out_dir, exist_ok=True)
csv_path = os.path.join(out_dir, f"{stem}.csv")
pq_path = os.path.join(out_dir, f"{stem}.parquet")

rng = np.random.default_rng(42)
PLANS = np.array(["basic", "plus", "pro", "enterprise"])
DEVICES = np.array(["ios", "android", "web", "desktop", "tv"])
COUNTRIES = np.array([f"C{i:02d}" for i in range(30)])
SEGMENTS = np.array([f"seg-{i:03d}" for i in range(500)])
CHUNK = 262_144


def chunk(start, n):
    idx = np.arange(start, start + n)
    age = rng.integers(18, 90, n)
    age[rng.random(n) < 0.0005] = 150  # out of range
    clicks = rng.poisson(12, n).astype(str).astype(object)
    clicks[rng.random(n) < 0.0002] = "n/a?"  # not an integer
    income = np.round(rng.lognormal(10.5, 0.6, n), 2)
    session = np.round(rng.exponential(300.0, n), 1)
    session_mask = rng.random(n) < 0.02  # 2% null
    base = np.datetime64("2019-01-01")
    signup = base + rng.integers(0, 2000, n).astype("timedelta64[D]")
    last_seen = np.datetime64("2026-01-01T00:00:00") + rng.integers(0, 300 * 86400, n).astype("timedelta64[s]")
    return pa.table({
        "user_id": pa.array(np.char.add("u", idx.astype(str))),
        "age": pa.array(age),
        "income": pa.array(income),
        "score": pa.array(np.round(rng.normal(0.0, 1.0, n), 5)),
        "clicks": pa.array(clicks.astype(str)),
        "session_seconds": pa.array(session, mask=session_mask),
        "plan": pa.array(PLANS[rng.integers(0, 4, n)]),
        "device": pa.array(DEVICES[rng.integers(0, 5, n)]),
        "country": pa.array(COUNTRIES[rng.integers(0, 30, n)]),
        "segment": pa.array(SEGMENTS[rng.integers(0, 500, n)]),
        "signup_date": pa.array(signup),
        "last_seen": pa.array(last_seen),
        "is_premium": pa.array(rng.random(n) < 0.2),
        "ctr": pa.array(np.round(rng.beta(2, 30, n), 6)),
        "label": pa.array(rng.integers(0, 2, n)),
    })


first = chunk(0, CHUNK)
csv_writer = pacsv.CSVWriter(csv_path, first.schema)
pq_writer = None
if write_parquet:
    # clicks is an integer column in the Parquet twin (typed), except the planted bad
    # values, which a typed writer cannot hold: they become nulls there.
    pq_schema = first.schema.set(first.schema.get_field_index("clicks"), pa.field("clicks", pa.int64()))
    pq_writer = pq.ParquetWriter(pq_path, pq_schema, compression="snappy")
rows = 0
table = first
while True:
    csv_writer.write_table(table)
    if pq_writer is not None:
        clicks = pa.compute.cast(pa.array([int(c) if c.isdigit() else None for c in table["clicks"].to_pylist()], pa.int64()), pa.int64())
        pq_writer.write_table(table.set_column(table.schema.get_field_index("clicks"), "clicks", clicks), row_group_size=CHUNK)
    rows += table.num_rows
    if os.path.getsize(csv_path) >= target_gb * 1e9:
        break
    table = chunk(rows, CHUNK)
csv_writer.close()
if pq_writer is not None:
    pq_writer.close()
print(f"{rows} rows; {csv_path}: {os.path.getsize(csv_path) / 1e6:.0f} MB"
      + (f"; {pq_path}: {os.path.getsize(pq_path) / 1e6:.0f} MB" if write_parquet else ""))
