#!/usr/bin/env python3
"""A reference evaluation job for trainguard's evaluation gate (docs/evaluation.md).

Runs as the pipeline's `Evaluate` SageMaker Processing job (the defaults are the paths the
state machine mounts) or locally. It loads a scikit-learn model and a holdout set,
computes every row the gate compares, and writes `evaluation.json` in the format of
schemas/evaluation-report.schema.json:

- overall metrics: classification accuracy, f1, roc_auc (binary, with predict_proba) and
  log_loss; regression rmse, mae and r2; each with its goal. The pipeline's objective
  (`OBJECTIVE_METRIC`, e.g. `validation:accuracy`) names the metric after its last `:`
  part, and that metric is written under the objective's full name;
- segments: the same metrics per slice of `SLICE_COLUMNS` (a numeric column splits at its
  median into `<col><=<median>` and `<col>><median>`, a text column by value, at most 20);
- latency_ms: P50/P95/P99 of `LATENCY_SAMPLES` single-row predictions;
- size: the artifact's bytes, and the memory the loaded model holds (tracemalloc's peak
  while loading: numpy reports its buffers to it);
- feature_importance: the top 10 by the model's `feature_importances_` (trees), `|coef_|`
  (linear models) or permutation importance on the holdout set.

Inputs:
  --model  a directory holding model.tar.gz (with model.joblib inside) or model.joblib,
           or one of those files            (default /opt/ml/processing/model)
  --data   a directory of CSV files or one CSV, with the label column
           `TARGET_COLUMN` (default `label`) (default /opt/ml/processing/data)
  --out    where evaluation.json goes       (default /opt/ml/processing/evaluation)
  --predictions FILE   also write y_true,y_pred per holdout row (for tests)

Exit status 2 with a message on stderr when the inputs cannot be evaluated (no model, no
label column, the objective not among the metrics): a report the gate could not trust is
not written.
"""

import argparse
import glob
import io
import json
import math
import os
import sys
import tarfile
import tempfile
import time
import tracemalloc

import joblib
import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

TOP = 10
MAX_SLICES_PER_COLUMN = 20


def fail(msg):
    print(f"evaluate: {msg}", file=sys.stderr)
    sys.exit(2)


def load_model(path):
    """(model, artifact bytes, loaded bytes)."""
    if os.path.isdir(path):
        for name in ("model.tar.gz", "model.joblib"):
            if os.path.exists(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            fail(f"no model.tar.gz or model.joblib in {path}")
    artifact = os.path.getsize(path)
    if path.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith("model.joblib")), None)
            if member is None:
                fail(f"{path} holds no model.joblib")
            raw = tar.extractfile(member).read()
        source = io.BytesIO(raw)
    else:
        source = path
    tracemalloc.start()
    model = joblib.load(source)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return model, artifact, peak


def load_data(path, target):
    files = sorted(glob.glob(os.path.join(path, "**", "*.csv"), recursive=True)) if os.path.isdir(path) else [path]
    if not files:
        fail(f"no CSV files in {path}")
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    if target not in df.columns:
        fail(f"the label column {target!r} is not in the holdout set ({', '.join(df.columns[:10])}...)")
    return df.drop(columns=[target]), df[target].to_numpy()


def finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def classification_metrics(model, X, y, y_pred):
    out = {"accuracy": (skm.accuracy_score(y, y_pred), "maximize")}
    labels = np.unique(y)
    binary = len(getattr(model, "classes_", labels)) == 2
    out["f1"] = (skm.f1_score(y, y_pred, average="binary" if binary else "macro",
                              pos_label=model.classes_[1] if binary else 1), "maximize")
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        out["log_loss"] = (skm.log_loss(y, proba, labels=model.classes_), "minimize")
        if binary and len(labels) == 2:
            out["roc_auc"] = (skm.roc_auc_score(y, proba[:, 1]), "maximize")
    return out


def regression_metrics(y, y_pred):
    return {
        "rmse": (math.sqrt(skm.mean_squared_error(y, y_pred)), "minimize"),
        "mae": (skm.mean_absolute_error(y, y_pred), "minimize"),
        "r2": (skm.r2_score(y, y_pred), "maximize"),
    }


def compute(model, X, y, classifier):
    y_pred = model.predict(X)
    m = classification_metrics(model, X, y, y_pred) if classifier else regression_metrics(y, y_pred)
    return {k: (float(v), g) for k, (v, g) in m.items() if finite(float(v))}, y_pred


def slices(X, columns):
    """(name, boolean mask) per slice."""
    out = []
    for col in columns:
        if col not in X.columns:
            fail(f"SLICE_COLUMNS names {col!r}, which is not a column of the holdout set")
        s = X[col]
        if pd.api.types.is_numeric_dtype(s):
            med = float(s.median())
            label = f"{med:.6g}"
            out.append((f"{col}<={label}", (s <= med).to_numpy()))
            out.append((f"{col}>{label}", (s > med).to_numpy()))
        else:
            for v in list(s.astype(str).value_counts().index[:MAX_SLICES_PER_COLUMN]):
                out.append((f"{col}={v}", (s.astype(str) == v).to_numpy()))
    return out


def latency(model, X, n):
    rows = [X.iloc[[i % len(X)]] for i in range(n)]
    model.predict(rows[0])  # warm-up: the first call pays for imports and caches
    times = []
    for r in rows:
        t0 = time.perf_counter()
        model.predict(r)
        times.append((time.perf_counter() - t0) * 1000.0)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}


def importance(model, X, y, scoring):
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(est, "feature_importances_") and len(est.feature_importances_) == X.shape[1]:
        values = np.asarray(est.feature_importances_, dtype=float)
    elif hasattr(est, "coef_") and np.asarray(est.coef_).shape[-1] == X.shape[1]:
        values = np.abs(np.asarray(est.coef_, dtype=float)).reshape(-1, X.shape[1]).mean(axis=0)
    else:
        values = permutation_importance(model, X, y, scoring=scoring, n_repeats=5, random_state=0).importances_mean
    order = np.argsort(-values, kind="stable")[:TOP]
    # A feature the model never uses is not among its top features.
    return [{"feature": str(X.columns[i]), "importance": float(values[i])} for i in order
            if math.isfinite(values[i]) and values[i] > 0]


def report(model, artifact, memory, X, y, objective, goal, slice_columns, latency_samples):
    classifier = hasattr(model, "classes_")
    overall, y_pred = compute(model, X, y, classifier)
    base = objective.split(":")[-1]
    if objective not in overall:
        if base not in overall:
            fail(f"the objective {objective!r} ({base}) is not among the metrics computed: {', '.join(overall)}")
        overall[objective] = overall.pop(base)
    if overall[objective][1] != goal:
        fail(f"the objective {objective!r} is {overall[objective][1]}d here, the pipeline says {goal}")
    segments = {}
    for name, mask in slices(X, slice_columns):
        if mask.sum() == 0:
            continue
        m, _ = compute(model, X[mask], y[mask], classifier)
        if base in m and objective != base:
            m[objective] = m.pop(base)
        m = {k: v for k, (v, _) in m.items() if k in overall}
        if m:
            segments[name] = {"rows": int(mask.sum()), "metrics": m}
    out = {
        "schema_version": 1,
        "model": {"holdout_rows": int(len(y))},
        "overall": {k: {"value": v, "goal": g} for k, (v, g) in overall.items()},
        "segments": segments,
        "latency_ms": latency(model, X, latency_samples),
        "size": {"artifact_bytes": int(artifact), "memory_bytes": int(memory)},
        "feature_importance": importance(model, X, y, "accuracy" if classifier else "r2"),
    }
    return out, y_pred


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="/opt/ml/processing/model")
    ap.add_argument("--data", default="/opt/ml/processing/data")
    ap.add_argument("--out", default="/opt/ml/processing/evaluation")
    ap.add_argument("--predictions")
    a = ap.parse_args()
    objective = os.environ.get("OBJECTIVE_METRIC", "validation:accuracy")
    goal = os.environ.get("OBJECTIVE_GOAL", "Maximize").strip().lower()
    if goal not in ("maximize", "minimize"):
        fail(f"OBJECTIVE_GOAL={goal!r}: expected Maximize or Minimize")
    target = os.environ.get("TARGET_COLUMN", "label")
    slice_columns = [c.strip() for c in os.environ.get("SLICE_COLUMNS", "").split(",") if c.strip()]
    samples = int(os.environ.get("LATENCY_SAMPLES", "200"))
    model, artifact, memory = load_model(a.model)
    X, y = load_data(a.data, target)
    out, y_pred = report(model, artifact, memory, X, y, objective, goal, slice_columns, samples)
    if os.environ.get("TRAINING_JOB_NAME"):
        out["model"]["training_job"] = os.environ["TRAINING_JOB_NAME"]
    os.makedirs(a.out, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=a.out, delete=False, suffix=".tmp") as f:
        json.dump(out, f, indent=1, allow_nan=False)
    os.replace(f.name, os.path.join(a.out, "evaluation.json"))
    if a.predictions:
        pd.DataFrame({"y_true": y, "y_pred": y_pred}).to_csv(a.predictions, index=False)
    print(json.dumps({"overall": {k: v["value"] for k, v in out["overall"].items()},
                      "segments": len(out["segments"]), "latency_p99_ms": out["latency_ms"]["p99"]}))


if __name__ == "__main__":
    main()
