"""Fixtures of the model tests: the trained model, its inputs, deepchecks' model suite.

The model is artifacts/model.joblib (`make test-model` trains it first); the data and the
behavioural declarations come from params.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from {{ cookiecutter.module_name }}.config import Params, load_params
from {{ cookiecutter.module_name }}.quality.check_record import ChecksResult, recorded_checks
from {{ cookiecutter.module_name }}.quality.checks import project_inputs, run_checks
from {{ cookiecutter.module_name }}.quality.gates import GATES
from {{ cookiecutter.module_name }}.quality.suites import CheckInputs

PARAMS_FILE = Path(__file__).resolve().parents[2] / "params.yaml"
MODEL_SUITES = ("model_evaluation",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize gate names and behavioural declarations from params.yaml."""
    names = set(metafunc.fixturenames)
    if not names & {"model_gate", "invariant_feature", "directional", "example"}:
        return
    project_params = load_params(PARAMS_FILE)
    behaviour = project_params.behaviour
    if "model_gate" in names:
        gates = [
            n
            for n, s in GATES.items()
            if s.suite in MODEL_SUITES and s.task in (None, project_params.task)
        ]
        metafunc.parametrize("model_gate", gates)
    if "invariant_feature" in names:
        metafunc.parametrize("invariant_feature", behaviour.invariant_features)
    if "directional" in names:
        ids = [f"{d.feature}-{d.direction}" for d in behaviour.directional]
        metafunc.parametrize("directional", behaviour.directional, ids=ids)
    if "example" in names:
        ids = [e.name for e in behaviour.examples]
        metafunc.parametrize("example", behaviour.examples, ids=ids)


@pytest.fixture(scope="session")
def project_params() -> Params:
    """The project's validated params.yaml."""
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="session")
def model_inputs(project_params: Params) -> CheckInputs:
    """The configured data split as in training, and the trained model."""
    root = PARAMS_FILE.parent
    return project_inputs(project_params, root, root / "artifacts")


@pytest.fixture(scope="session")
def model_checks(project_params: Params, model_inputs: CheckInputs) -> ChecksResult:
    """The model evaluation suite, run once for every model test.

    When `make check` already judged this very model (checks.json carries the fingerprints of
    its model, data, params and thresholds; the PR workflow runs it first), its gates are read
    from there instead of running the same suite a second time.
    """
    root = PARAMS_FILE.parent
    recorded = recorded_checks(project_params, root, root / "artifacts")
    if recorded is not None:
        return recorded
    return run_checks(
        model_inputs,
        project_params.gates,
        project_params.checks,
        project_params.seed,
        suites=MODEL_SUITES,
    )


@pytest.fixture(scope="session")
def score(
    project_params: Params, model_inputs: CheckInputs
) -> Callable[[Any], NDArray[np.float64]]:
    """Function: frame -> what behavioural tests compare, one number per row.

    Classification: the probability of ``behaviour.positive_class`` (default: the last class
    in sorted order). Regression: the prediction.
    """
    model = model_inputs.model
    if project_params.task == "regression":
        return lambda frame: np.asarray(model.predict(frame[model_inputs.features]), dtype=float)
    classes = list(model.classes_)
    positive = project_params.behaviour.positive_class
    positive = classes[-1] if positive is None else positive
    assert positive in classes, f"behaviour.positive_class {positive!r} is not one of {classes}"
    column = classes.index(positive)
    return lambda frame: model.predict_proba(frame[model_inputs.features])[:, column]
