"""The peer a data scientist would write: pandas + a scipy.stats.ks_2samp loop."""
import json
import sys

import pandas as pd
from scipy import stats

ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
drifted = []
for col in ref.columns:
    r = stats.ks_2samp(ref[col].dropna(), cur[col].dropna())
    if r.pvalue < 0.05:
        drifted.append(col)
print(json.dumps({"drifted": drifted, "share": len(drifted) / len(ref.columns)}))
