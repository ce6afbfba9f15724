"""Evidently's data drift preset on the same data (evidently 0.7)."""
import json
import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
result = snapshot.dict()
# The first metric of the preset is the dataset-level drifted-columns count.
print(json.dumps(result["metrics"][0], default=str)[:400])
