"""What the benchmark scripts share: the project root, its package name, synthetic data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
NUMERIC, CATEGORICAL = 14, 6


def package_name() -> str:
    """The project's import name: the one package under src/ (no template variable needed)."""
    packages = [p.name for p in (ROOT / "src").iterdir() if (p / "__init__.py").is_file()]
    if len(packages) != 1:
        sys.exit(f"expected one package under {ROOT / 'src'}, found {packages}")
    return packages[0]


def synthetic(
    rows: int, seed: int = 0, *, shift: float = 0.0, missing: float = 0.0
) -> pd.DataFrame:
    """Mixed columns and a learnable binary target.

    ``shift`` moves num_1 and num_3 by that many standard deviations (drift); ``missing`` is
    the share of missing values in num_0 and cat_0.
    """
    rng = np.random.default_rng(seed)
    columns = {f"num_{i}": rng.normal(i, 1 + i / 4, rows) for i in range(NUMERIC)}
    for i in (1, 3):
        columns[f"num_{i}"] += shift * (1 + i / 4)
    for j in range(CATEGORICAL):
        levels = np.array([f"c{j}_{k}" for k in range(3 + 2 * j)])
        columns[f"cat_{j}"] = levels[rng.integers(0, len(levels), rows)].astype(object)
    frame = pd.DataFrame(columns)
    if missing:
        for name in ("num_0", "cat_0"):
            frame.loc[rng.random(rows) < missing, name] = None
    signal = frame["num_1"] - 1 + (frame["cat_1"] == "c1_0") * 1.5 - frame["num_2"].mul(0.3)
    frame["target"] = (signal + rng.normal(0, 1, rows) > 0).astype(int)
    return frame


def synthetic_project(root: Path, rows: int, **sections: object) -> Path:
    """Write a classification project on ``rows`` synthetic rows into ``root``: its params path.

    ``sections`` add params.yaml sections (``monitor=...``, ``tune=...``).
    """
    (root / "data").mkdir()
    params = {
        "task": "classification",
        "seed": 42,
        "data": {"path": "data/train.csv", "target": "target", "test_size": 0.2},
        "model": {"type": "logistic_regression", "params": {"max_iter": 1000}},
        **sections,
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    synthetic(rows, seed=0).to_csv(root / "data/train.csv", index=False)
    return root / "params.yaml"
