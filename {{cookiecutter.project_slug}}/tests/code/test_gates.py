"""Unit tests of the gate logic (no deepchecks run): thresholds, verdicts, sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.checks import SUITES, CheckInputs, evaluate_gates, sample
from {{ cookiecutter.module_name }}.config import parse_params
from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.gates import GATES, GateThresholds, judge, verdict_table

pytestmark = pytest.mark.code


@pytest.mark.parametrize(
    ("name", "value", "threshold", "passed"),
    [
        ("max_missing_share", 0.05, 0.05, True),
        ("max_missing_share", 0.06, 0.05, False),
        ("min_test_roc_auc", 0.99, 0.99, True),
        ("min_test_roc_auc", 0.98, 0.99, False),
        ("min_test_r2", float("nan"), 0.4, False),
        ("max_feature_drift", None, 0.25, False),
    ],
)
def test_judge_compares_with_the_direction_of_the_gate_name(
    name: str, value: float | None, threshold: float, passed: bool
) -> None:
    gate = judge(name, value, threshold)
    assert gate.passed is passed
    assert gate.suite == GATES[name].suite


def test_every_gate_is_a_threshold_field_and_a_max_or_min() -> None:
    assert set(GATES) == set(GateThresholds.model_fields)
    assert all(name.startswith(("max_", "min_")) for name in GATES)


def test_a_check_that_did_not_run_fails_its_gate_rather_than_passing() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    inputs = CheckInputs("classification", "y", [], frame, frame, frame, model=None)
    gates, skipped = evaluate_gates([], inputs, GateThresholds(), SUITES)
    # The only skips are declared ones: no categorical features, or a threshold set to null.
    assert skipped["max_new_category_share"] == "no categorical features"
    assert set(skipped.values()) == {"no categorical features", "off (null in params.yaml)"}
    assert gates
    assert all(not gate.passed and gate.detail.endswith("did not run") for gate in gates)


def test_verdict_table_names_failed_and_skipped_gates() -> None:
    gates = [judge("max_missing_share", 0.0, 0.05), judge("min_test_accuracy", 0.5, 0.9)]
    table = verdict_table(gates, {"max_new_category_share": "no categorical features"})
    assert "FAILED: 1 of 2 gates: min_test_accuracy" in table
    assert "skipped: max_new_category_share (no categorical features)" in table
    assert verdict_table(gates[:1]).endswith("PASSED: all 1 gates")


def test_params_accept_thresholds_and_null_turns_a_gate_off(
    base_params: Callable[..., dict[str, Any]],
) -> None:
    params = parse_params(base_params(gates={"min_test_accuracy": 0.9, "max_feature_drift": None}))
    assert params.gates.min_test_accuracy == 0.9
    assert params.gates.max_feature_drift is None
    assert params.checks.sample_size == 10_000


@pytest.mark.parametrize(
    ("task", "section", "message"),
    [
        ("classification", {"gates": {"min_f1": 0.5}}, "gates.min_f1: unknown key"),
        (
            "classification",
            {"gates": {"min_test_r2": 0.5}},
            "gates.min_test_r2: applies to regression only",
        ),
        (
            "regression",
            {"gates": {"max_brier_score": 0.1}},
            "gates.max_brier_score: applies to classification only",
        ),
        ("classification", {"gates": {"max_missing_share": 2}}, "must be <= 1"),
        ("classification", {"checks": {"sample_size": 10}}, "checks.sample_size: must be >= 100"),
        (
            "regression",
            {"behaviour": {"examples": [{"name": "x", "features": {"a": 1}}]}},
            "behaviour.examples.0.expected: set expected",
        ),
    ],
)
def test_invalid_gate_settings_name_the_key(
    base_params: Callable[..., dict[str, Any]], task: str, section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_params(base_params(task, **section))


def test_sample_caps_rows_and_keeps_class_shares() -> None:
    frame = pd.DataFrame({"x": range(1000), "y": [0] * 900 + [1] * 100})
    sampled = sample(frame, 100, seed=0, stratify_by="y")
    assert len(sampled) == 100
    assert sampled["y"].value_counts().to_dict() == {0: 90, 1: 10}
    assert sample(frame, 5000, seed=0) is frame
    assert sample(frame, 100, seed=0).equals(sample(frame, 100, seed=0))
