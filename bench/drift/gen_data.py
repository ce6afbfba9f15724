"""Benchmark data: 20 numeric features, 1,000,000 reference and 1,000,000 current rows.

Features f00..f19 are normal, exponential and uniform mixtures; in the current data f00-f03
are shifted by 0.25 sd and f04 is rescaled, the rest are unchanged. Parquet (snappy) in
row groups of 131,072 rows (about 20 MB), as Spark-style feature pipelines write them.
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 1_000_000
FEATURES = 20


def make(rng, drifted):
    cols = {}
    for j in range(FEATURES):
        kind = j % 3
        if kind == 0:
            x = rng.normal(10.0 * j, 1.0 + j, ROWS)
        elif kind == 1:
            x = rng.exponential(1.0 + j / 5, ROWS)
        else:
            x = rng.uniform(-j, j + 1, ROWS)
        if drifted and j < 4:
            x = x + 0.25 * np.std(x)
        if drifted and j == 4:
            x = x * 1.3
        cols[f"f{j:02d}"] = x
    return pa.table(cols)


def main(out_dir):
    pq.write_table(make(np.random.default_rng(1), False), f"{out_dir}/reference.parquet", row_group_size=131_072)
    pq.write_table(make(np.random.default_rng(2), True), f"{out_dir}/current.parquet", row_group_size=131_072)


if __name__ == "__main__":
    main(sys.argv[1])
