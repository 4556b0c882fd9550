"""Benchmark batch scoring (make predict) against the naive model.predict(pd.read_csv(path)).

A model is trained on 50k synthetic rows (14 numeric and 6 categorical columns) with the
project's own training function. For each size, a CSV of new rows is written (in chunks), then
scored twice, each in a fresh process so that its peak RSS is its own:

- ``make predict``'s path: the project's CLI, reading, validating and scoring in chunks and
  writing predictions (with class probabilities) to Parquet;
- the baseline: ``joblib.load(model).predict(pd.read_csv(path))``, which must hold the whole
  file in memory and neither validates nor writes anything.

With ``--dask-workers N`` the CLI also runs on a local Dask cluster of N worker processes.

Usage: python benchmarks/predict.py [--rows 1000000,10000000] [--dask-workers 0] [--train-rows N]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from common import ROOT, package_name, synthetic, synthetic_project

TRAIN_ROWS = 50_000
WRITE_CHUNK = 1_000_000
NAIVE = (
    "import sys, joblib, pandas as pd; "
    "model = joblib.load(sys.argv[1]); print(len(model.predict(pd.read_csv(sys.argv[2]))))"
)


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and its peak RSS in MB.

    The peak is the child's own VmHWM (Linux), read until it exits: exec starts it afresh,
    whereas ru_maxrss would count this (large) parent's memory, inherited at fork.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    status, peak_kb = Path(f"/proc/{process.pid}/status"), 0
    while process.poll() is None:
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed (status {process.returncode})")
    return seconds, peak_kb / 1024


def write_rows(path: Path, rows: int) -> None:
    """New rows from the training distribution, written a chunk at a time."""
    for start in range(0, rows, WRITE_CHUNK):
        count = min(WRITE_CHUNK, rows - start)
        frame = synthetic(count, seed=start + 1).drop(columns="target")
        mode: Literal["a", "w"] = "a" if start else "w"
        header = not start
        frame.to_csv(path, mode=mode, header=header, index=False, float_format="%.6g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--dask-workers", type=int, default=0)
    parser.add_argument("--train-rows", type=int, default=TRAIN_ROWS)
    args = parser.parse_args()
    package = package_name()
    train = __import__(f"{package}.pipeline.train", fromlist=["run_training"])
    config = __import__(f"{package}.config", fromlist=["load_params"])
    python = sys.executable

    with tempfile.TemporaryDirectory(prefix="bench-predict-", dir=ROOT) as tmp:
        root = Path(tmp)
        params = synthetic_project(root, args.train_rows)
        train.run_training(config.load_params(params), root)
        print(f"model: logistic_regression on {args.train_rows} rows (14 numeric, 6 categorical)\n")
        cli = [python, "-m", package, "predict", "--params", str(params)]
        print(
            f"{'rows':>10}  {'csv MB':>7}  {'how':<30}  {'seconds':>8}  {'rows/s':>10}  "
            f"{'peak RSS MB':>11}"
        )
        for rows in (int(r) for r in args.rows.split(",")):
            source = root / "data" / f"new_{rows}.csv"
            write_rows(source, rows)
            size = source.stat().st_size / 1e6
            runs = [
                (
                    "naive predict(read_csv)",
                    [python, "-c", NAIVE, str(root / "artifacts/model.joblib"), str(source)],
                ),
                (
                    "make predict (in-process)",
                    [*cli, "--input", f"data/{source.name}", "--output", "out.parquet"],
                ),
            ]
            if args.dask_workers:
                helper = str(Path(__file__).with_name("dask_predict.py"))
                command = [python, helper, str(args.dask_workers), *cli[1:]]
                command += ["--input", f"data/{source.name}", "--output", "out.parquet"]
                runs.append((f"make predict (dask, {args.dask_workers} workers)", command))
            for how, command in runs:
                seconds, peak = measure(command, root)
                print(
                    f"{rows:>10}  {size:>7.0f}  {how:<30}  {seconds:>8.1f}  "
                    f"{rows / seconds:>10,.0f}  {peak:>11.0f}"
                )
            source.unlink()


if __name__ == "__main__":
    main()
