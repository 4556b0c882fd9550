"""Data gates as tests: one test per gate of `make check`'s data suites."""

from __future__ import annotations

import pytest

from {{ cookiecutter.module_name }}.quality.check_record import ChecksResult

pytestmark = pytest.mark.data


def test_data_gate(data_gate: str, data_checks: ChecksResult) -> None:
    if data_gate in data_checks.skipped:  # does not apply (e.g. no categorical features) or off
        pytest.skip(data_checks.skipped[data_gate])
    gate = data_checks.gate(data_gate)
    assert gate is not None, f"{data_gate} has no result"
    assert gate.passed, (
        f"{gate.name}: measured {gate.value}, threshold {gate.threshold} "
        f"(gates.{gate.name} in params.yaml) {gate.detail}"
    )
