"""Benchmark the drift check on batches of growing size.

A synthetic training set (50k rows, 14 numeric and 6 categorical columns, a binary target) is
written and a model trained on it with the project's own training function. Then, for each batch
size, a batch from the same generator with two numeric features shifted is written and checked
with the same function as ``make monitor``: reading and validating the CSV, sampling both sides
to ``monitor.sample_size`` rows (stratified), the deepchecks drift and integrity checks, and the
reports. The deepchecks import (several seconds) is timed once, before the first batch.

Usage: python benchmarks/monitor.py [--rows 10000,100000,1000000] [--sample-size 50000]
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path

from common import package_name, synthetic, synthetic_project

REFERENCE_ROWS = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--sample-size", type=int, default=50_000)
    args = parser.parse_args()
    package = package_name()
    config = importlib.import_module(f"{package}.config")
    suites = importlib.import_module(f"{package}.quality.suites")
    monitor = importlib.import_module(f"{package}.monitoring.monitor")
    train = importlib.import_module(f"{package}.pipeline.train")

    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        root = Path(tmp)
        params = synthetic_project(root, REFERENCE_ROWS, monitor={"sample_size": args.sample_size})
        loaded = config.load_params(params)
        started = time.perf_counter()
        train.run_training(loaded, root)
        seconds = time.perf_counter() - started
        print(f"reference: {REFERENCE_ROWS} rows, model trained in {seconds:.1f} s")
        started = time.perf_counter()
        suites.import_deepchecks()  # the import `make monitor` does, with the same warning filters
        print(f"deepchecks import: {time.perf_counter() - started:.1f} s (once per run)")
        print(f"sample size: {args.sample_size} rows per side\n")
        print(f"{'batch rows':>10}  {'csv MB':>7}  {'check s':>8}  {'verdict':<8}  failed checks")
        for rows in (int(r) for r in args.rows.split(",")):
            batch = root / f"data/batch_{rows}.csv"
            synthetic(rows, seed=rows, shift=1.0).to_csv(batch, index=False, float_format="%.6g")
            started = time.perf_counter()
            summary = monitor.monitor(loaded, root, root / "artifacts", str(batch))
            seconds = time.perf_counter() - started
            failed = [g.name for g in summary.gates if not g.passed]
            drifted = ", ".join(summary.drifted_features)
            print(
                f"{rows:>10}  {batch.stat().st_size / 1e6:>7.1f}  {seconds:>8.1f}  "
                f"{summary.verdict:<8}  {', '.join(failed)} (drifted: {drifted})"
            )


if __name__ == "__main__":
    main()
