"""Benchmark the quality checks (deepchecks suites + gates) on synthetic data of growing size.

For each size, generates a frame with 20 mixed columns (14 numeric, 6 categorical, a binary
target; as benchmarks/pipeline.py does), splits it 80/20, fits the default model on a sample
(the model's fit is not what is measured), then times ``checks.run_checks``: all three suites
and the gates, on samples of at most ``--sample-size`` rows per dataset (params.yaml
``checks.sample_size``). For sizes up to ``--unsampled-max`` it also times the same checks on
every row, which shows what sampling saves.

Usage: python benchmarks/checks.py [--rows 10000,100000,1000000] [--sample-size 10000]
"""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

from common import CATEGORICAL, NUMERIC, package_name, synthetic


def inputs_for(package: str, rows: int) -> object:
    suites = importlib.import_module(f"{package}.quality.suites")
    features = importlib.import_module(f"{package}.pipeline.features")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    frame = synthetic(rows, missing=0.02)
    train, test = train_test_split(frame, test_size=0.2, random_state=42, stratify=frame.target)
    numeric = [f"num_{i}" for i in range(NUMERIC)]
    categorical = [f"cat_{j}" for j in range(CATEGORICAL)]
    model = Pipeline(
        [
            ("preprocess", features.build_preprocessor(numeric, categorical)),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    fit_on = train.sample(n=min(len(train), 20_000), random_state=0)
    model.fit(fit_on[numeric + categorical], fit_on["target"])
    return suites.CheckInputs(
        task="classification",
        target="target",
        categorical=categorical,
        whole=frame,
        train=train,
        test=test,
        model=model,
    )


# Any: the package is imported by its name at run time, so its ChecksResult is untyped here.
def timed(package: str, inputs: object, sample_size: int) -> tuple[float, Any]:
    checks = importlib.import_module(f"{package}.quality.checks")
    config = importlib.import_module(f"{package}.config")
    thresholds = config.GateThresholds(min_test_roc_auc=0.5, max_train_test_gap=0.1)
    settings = config.CheckSettings(sample_size=sample_size)
    started = time.perf_counter()
    result = checks.run_checks(inputs, thresholds, settings, seed=42)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--sample-size", type=int, default=10_000, help="checks.sample_size")
    parser.add_argument(
        "--unsampled-max",
        type=int,
        default=100_000,
        help="also time the checks on every row for sizes up to this (0: never)",
    )
    args = parser.parse_args()
    package = package_name()
    sizes = [int(size) for size in args.rows.split(",") if size.strip()]
    started = time.perf_counter()
    importlib.import_module(f"{package}.quality.suites").import_deepchecks()
    print(f"import deepchecks: {time.perf_counter() - started:.1f} s (once per process)")
    started = time.perf_counter()
    timed(package, inputs_for(package, 2_000), args.sample_size)
    print(f"warm-up on 2,000 rows: {time.perf_counter() - started:.1f} s (first-call imports)")
    print(
        f"checks: 3 suites + gates, {NUMERIC} numeric + {CATEGORICAL} categorical columns, "
        f"sample_size {args.sample_size}"
    )
    columns = [("rows", 10), ("sampled s", 10), ("unsampled s", 12), ("gates", 6), ("failed", 7)]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for rows in sizes:
        inputs = inputs_for(package, rows)
        seconds, result = timed(package, inputs, args.sample_size)
        unsampled = "-"
        if rows <= args.unsampled_max and rows > args.sample_size:
            unsampled = f"{timed(package, inputs, rows)[0]:.1f}"
        elif rows <= args.sample_size:
            unsampled = "(same)"
        print(
            f"{rows:>10,} {seconds:>10.1f} {unsampled:>12} {len(result.gates):>6} "
            f"{len(result.failed):>7}",
            flush=True,
        )
    print("sampled s: run_checks with sampling; unsampled s: the same on every row.")


if __name__ == "__main__":
    main()
