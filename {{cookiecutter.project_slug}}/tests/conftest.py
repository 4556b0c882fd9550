"""Fixtures shared by every test folder (code, data, model, service).

Keep this file generic: folder-specific fixtures belong in that folder's conftest.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Property tests draw new examples on every local run: that is how they find new bugs. Where a
# run must be reproducible they are derandomized: hypothesis loads its own "ci" profile when CI
# is set, and HYPOTHESIS_PROFILE=ci asks for it anywhere else (the template's demo does).
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

DEFAULT_MODELS = {
    "classification": {"type": "logistic_regression", "params": {"C": 1.0, "max_iter": 1000}},
    "regression": {"type": "ridge", "params": {"alpha": 1.0}},
}


@pytest.fixture(autouse=True)
def _no_experiment_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training in tests logs to no tracker; tests/code/test_tracking.py turns it back on."""
    monkeypatch.setenv("EXPERIMENT_TRACKING", "none")


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The generated project's root directory (holds params.yaml and artifacts/)."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def project_params_file(project_root: Path) -> Path:
    """The project's own params.yaml."""
    return project_root / "params.yaml"


def params_dict(task: str = "classification", **sections: Any) -> dict[str, Any]:
    """A minimal valid params mapping for ``task``; keyword arguments update its sections."""
    params: dict[str, Any] = {
        "task": task,
        "seed": 42,
        "data": {"path": "data/data.csv", "target": "target", "test_size": 0.25},
        "model": copy.deepcopy(DEFAULT_MODELS.get(task, DEFAULT_MODELS["classification"])),
        "gates": {},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    return params


@pytest.fixture(scope="session")
def base_params() -> Callable[..., dict[str, Any]]:
    """Factory: ``base_params(task, **sections)`` gives a valid params mapping to modify."""
    return params_dict


def synthetic_frame(
    task: str = "classification", rows: int = 80, seed: int = 0, target: str = "target"
) -> Any:  # a pandas DataFrame
    """A small mixed frame: 3 numeric and 2 categorical columns, a learnable target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows).round(1),
            "income": rng.lognormal(10, 0.5, rows).round(2),
            "visits": rng.integers(0, 20, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows),
            "plan": rng.choice(["free", "pro"], rows),
        }
    )
    signal = (frame["age"] - 40) / 10 + (frame["plan"] == "pro") * 1.5 + rng.normal(0, 0.5, rows)
    if task == "classification":
        frame[target] = np.where(signal > signal.median(), "yes", "no")
    else:
        frame[target] = (signal * 10 + 100).round(3)
    return frame


def hostile_values(canary: Path) -> dict[str, str]:
    """Outside values (tags, inputs, make variables) that try to run ``touch CANARY``.

    Wherever one goes (make, a shell, the CLI, git), it must stay data: the canary file is never
    created and the value is refused with one error line. The template's tests feed the same
    corpus through the Makefile targets and the workflows' run: steps.
    """
    touch = f"touch {canary}"
    return {
        "backticks": f"x`{touch}`@v1",  # a valid git tag name
        "command substitution": f"x$({touch})",
        "double quotes": f'prod" ; {touch} ; echo "',
        "single quotes": f"prod' ; {touch} ; echo '",
        "semicolon": f"prod;{touch}",
        "newline": f"prod\n{touch}",
        "make function": f"$(shell {touch})",
        "pipe": f"prod|{touch}",
        "option": f"--output={canary}",
    }


@pytest.fixture(scope="session")
def hostile() -> Callable[[Path], dict[str, str]]:
    """Factory: ``hostile(canary)`` gives the corpus of :func:`hostile_values`."""
    return hostile_values


@pytest.fixture(scope="session")
def make_frame() -> Callable[..., Any]:
    """Factory: ``make_frame(task, rows, seed, target)`` gives a small mixed DataFrame."""
    return synthetic_frame


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a project (params.yaml and optionally its CSV) in a temporary folder.

    ``make_project(params, frame=None, csv_text=None)`` returns the params file path; the CSV
    goes to ``params["data"]["path"]`` relative to it.
    """

    def make(
        params: dict[str, Any],
        frame: Any = None,  # a pandas DataFrame
        csv_text: str | bytes | None = None,
        root: Path | None = None,
    ) -> Path:
        folder = root or tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        params_file = folder / "params.yaml"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        data_path = folder / params["data"]["path"]
        data_path.parent.mkdir(parents=True, exist_ok=True)
        if frame is not None:
            frame.to_csv(data_path, index=False)
        elif isinstance(csv_text, bytes):
            data_path.write_bytes(csv_text)
        elif csv_text is not None:
            data_path.write_text(csv_text, encoding="utf-8")
        return params_file

    return make
