#!/usr/bin/env python3
"""Train two real models on scikit-learn's bundled breast-cancer data (no download) and lay
them out as the evaluation job reads them, for trying evaluate.py locally and for its test
(tests/tests/evaluation_job.rs):

  <out>/holdout/holdout.csv            the held-out 25 % (stratified, seed 0), label column `label`
  <out>/production/model.tar.gz        a depth-2 decision tree: the "model in production"
  <out>/candidate/model.tar.gz         a random forest (200 trees): the candidate

Each model.tar.gz holds model.joblib, as a SageMaker training job's artifact would.

Usage: example.py <out>
"""

import io
import os
import sys
import tarfile

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier


def write_model(model, path):
    os.makedirs(path, exist_ok=True)
    buf = io.BytesIO()
    joblib.dump(model, buf)
    data = buf.getvalue()
    with tarfile.open(os.path.join(path, "model.tar.gz"), "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def main(out):
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    os.makedirs(os.path.join(out, "holdout"), exist_ok=True)
    X_test.assign(label=y_test).to_csv(os.path.join(out, "holdout", "holdout.csv"), index=False)
    write_model(DecisionTreeClassifier(max_depth=2, random_state=0).fit(X_train, y_train), os.path.join(out, "production"))
    write_model(RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(X_train, y_train), os.path.join(out, "candidate"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
