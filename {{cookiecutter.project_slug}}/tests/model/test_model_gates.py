"""Model gates as tests: one test per gate of `make check`'s model evaluation suite."""

from __future__ import annotations

import pytest

from {{ cookiecutter.module_name }}.quality.check_record import ChecksResult

pytestmark = pytest.mark.model


def test_model_gate(model_gate: str, model_checks: ChecksResult) -> None:
    if model_gate in model_checks.skipped:  # does not apply (e.g. no categorical features) or off
        pytest.skip(model_checks.skipped[model_gate])
    gate = model_checks.gate(model_gate)
    assert gate is not None, f"{model_gate} has no result"
    assert gate.passed, (
        f"{gate.name}: measured {gate.value}, threshold {gate.threshold} "
        f"(gates.{gate.name} in params.yaml) {gate.detail}"
    )
