"""Benchmark the training pipeline on synthetic data of growing size.

For each size, a child process generates a CSV with 20 mixed columns (14 numeric, 6
categorical, a binary target), then another child runs the same training function as
``python -m <package> train`` (validation, split, fit, metrics, plots, lineage) and reports its
wall time and peak resident memory (``resource.getrusage`` in the child).

Usage: python benchmarks/pipeline.py [--rows 10000,100000,1000000] [--model logistic_regression]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import CATEGORICAL, NUMERIC, package_name

GENERATE = """
import sys
import numpy as np
import pandas as pd

rows, numeric, categorical, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
columns = {f"num_{i}": rng.normal(i, 1 + i / 4, rows) for i in range(numeric)}
levels = [np.array([f"c{j}_{k}" for k in range(3 + 2 * j)]) for j in range(categorical)]
for j, values in enumerate(levels):
    columns[f"cat_{j}"] = values[rng.integers(0, len(values), rows)]
frame = pd.DataFrame(columns)
for name in ("num_0", "cat_0"):
    frame.loc[rng.random(rows) < 0.02, name] = None
signal = frame["num_1"] - 1 + (frame["cat_1"] == "c1_0") * 1.5 - frame["num_2"].mul(0.3)
frame["target"] = (signal + rng.normal(0, 1, rows) > 0).astype(int)
frame.to_csv(path, index=False, float_format="%.6g")
"""

TRAIN = """
import json, resource, sys, time
from pathlib import Path
from PACKAGE.config import load_params
from PACKAGE.pipeline.train import run_training

start = time.perf_counter()
root = Path(sys.argv[1])
result = run_training(load_params(root / "params.yaml"), root)
report = dict(
    seconds=time.perf_counter() - start,
    peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    test=result.metrics.test,
)
print(json.dumps(report))
"""


def run(rows: int, model: str, workdir: Path) -> dict[str, Any]:
    project = workdir / f"rows_{rows}"
    (project / "data").mkdir(parents=True)
    params = {
        "task": "classification",
        "seed": 42,
        "data": {
            "path": "data/synthetic.csv",
            "target": "target",
            "numeric_features": [f"num_{i}" for i in range(NUMERIC)],
            "categorical_features": [f"cat_{j}" for j in range(CATEGORICAL)],
            "test_size": 0.2,
        },
        "model": {"type": model, "params": {"max_iter": 1000} if model != "random_forest" else {}},
        "gates": {},
    }
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    csv = project / "data" / "synthetic.csv"
    subprocess.run(
        [sys.executable, "-c", GENERATE, str(rows), str(NUMERIC), str(CATEGORICAL), str(csv)],
        check=True,
    )
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", TRAIN.replace("PACKAGE", package_name()), str(project)],
        check=True,
        capture_output=True,
        text=True,
    )
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])  # JSON numbers
    report |= {
        "rows": rows,
        "csv_mb": csv.stat().st_size / 1e6,
        "process_seconds": time.perf_counter() - started,
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--model", default="logistic_regression", help="classification model type")
    args = parser.parse_args()
    sizes = [int(size) for size in args.rows.split(",") if size.strip()]
    print(
        f"training pipeline ({args.model}, {NUMERIC} numeric + {CATEGORICAL} categorical columns)"
    )
    columns = [("rows", 10), ("CSV MB", 8), ("train s", 9), ("process s", 10)]
    columns += [("peak RSS MB", 12), ("test AUC", 9)]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for rows in sizes:
            r = run(rows, args.model, Path(tmp))
            print(
                f"{r['rows']:>10,} {r['csv_mb']:>8.1f} {r['seconds']:>9.1f} "
                f"{r['process_seconds']:>10.1f} {r['peak_rss_mb']:>12.0f} "
                f"{r['test']['roc_auc']:>9.3f}",
                flush=True,
            )
    print("train s: the training function; process s: including imports; peak RSS of the child.")


if __name__ == "__main__":
    main()
