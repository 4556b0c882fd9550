"""Data gates as tests: one test per gate of `make check`'s data suites."""

from __future__ import annotations

import pytest

from {{ cookiecutter.module_name }}.checks import ChecksResult

pytestmark = pytest.mark.data


def test_data_gate(data_gate: str, data_checks: ChecksResult) -> None:
    gate = data_checks.gate(data_gate)
    if gate is None:
        pytest.skip(data_checks.skipped.get(data_gate, "did not run"))
    assert gate.passed, (
        f"{gate.name}: measured {gate.value}, threshold {gate.threshold} "
        f"(gates.{gate.name} in params.yaml) {gate.detail}"
    )
