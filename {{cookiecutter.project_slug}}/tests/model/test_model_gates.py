"""Model gates as tests: one test per gate of `make check`'s model evaluation suite."""

from __future__ import annotations

import pytest

from {{ cookiecutter.module_name }}.checks import ChecksResult

pytestmark = pytest.mark.model


def test_model_gate(model_gate: str, model_checks: ChecksResult) -> None:
    gate = model_checks.gate(model_gate)
    if gate is None:
        pytest.skip(model_checks.skipped.get(model_gate, "did not run"))
    assert gate.passed, (
        f"{gate.name}: measured {gate.value}, threshold {gate.threshold} "
        f"(gates.{gate.name} in params.yaml) {gate.detail}"
    )
