"""Benchmark tuning throughput: trials per second with 1 and 2 workers on one shared storage.

A synthetic training set (20k rows, 14 numeric and 6 categorical columns) is written and the
same study is run twice on a fresh SQLite storage each time: once by one `tune` process, once by
two processes started together (WORKER 0 and 1, the same storage, one shared trial budget). The
figure is finished trials (complete or pruned) per second of wall time, process start included.

Usage: python benchmarks/tune.py [--trials 20] [--rows 20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import package_name, synthetic_project

C_RANGE = {"type": "float", "low": 0.001, "high": 100.0, "log": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    package = package_name()
    import optuna

    with tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp:
        root = Path(tmp)
        tune = {
            "trials": args.trials,
            "cv_folds": 3,
            "metric": "neg_log_loss",
            "space": {"logistic_regression": {"C": C_RANGE}},
        }
        params = synthetic_project(root, args.rows, tune=tune)
        print(f"study: logistic_regression C, {args.rows} rows, 3-fold CV, {args.trials} trials\n")
        print(f"{'workers':>7}  {'seconds':>8}  {'trials':>6}  {'trials/s':>8}")
        for workers in (1, 2):
            storage = f"sqlite:///{root / f'study_{workers}.db'}"
            command = [sys.executable, "-m", package, "tune", "--params", str(params)]
            command += ["--storage", storage]
            started = time.perf_counter()
            processes = [
                subprocess.Popen([*command, "--worker", str(n)], stdout=subprocess.DEVNULL)
                for n in range(workers)
            ]
            if any(p.wait() for p in processes):
                sys.exit("a tune process failed")
            seconds = time.perf_counter() - started
            [summary] = optuna.study.get_all_study_summaries(storage)
            rate = summary.n_trials / seconds
            print(f"{workers:>7}  {seconds:>8.1f}  {summary.n_trials:>6}  {rate:>8.2f}")


if __name__ == "__main__":
    main()
