"""Fixtures of the data tests: deepchecks' data suites on the configured data, once a session.

The data tests need no trained model, so CI can run them right after `make data`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.quality.check_record import ChecksResult
from {{ cookiecutter.module_name }}.quality.checks import project_inputs, run_checks
from {{ cookiecutter.module_name }}.quality.gates import GATES

PARAMS_FILE = Path(__file__).resolve().parents[2] / "params.yaml"
DATA_SUITES = ("data_integrity", "train_test_validation")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``data_gate`` with the name of every data gate of the project's task."""
    if "data_gate" in metafunc.fixturenames:
        task = load_params(PARAMS_FILE).task
        names = [n for n, s in GATES.items() if s.suite in DATA_SUITES and s.task in (None, task)]
        metafunc.parametrize("data_gate", names)


@pytest.fixture(scope="session")
def data_checks() -> ChecksResult:
    """The data integrity and train-test validation suites, run once for every data test."""
    params = load_params(PARAMS_FILE)
    root = PARAMS_FILE.parent
    inputs = project_inputs(params, root, root / "artifacts", with_model=False)
    return run_checks(inputs, params.gates, params.checks, params.seed, suites=DATA_SUITES)
