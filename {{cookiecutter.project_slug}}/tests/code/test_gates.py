"""Unit tests of the gate logic (no deepchecks run): thresholds, verdicts, sampling."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.config import GateThresholds, load_params, parse_params
from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.layout import CHECKS_HTML, CHECKS_JSON
from {{ cookiecutter.module_name }}.pipeline.train import run_training
from {{ cookiecutter.module_name }}.quality.check_record import record_fields, recorded_checks
from {{ cookiecutter.module_name }}.quality.checks import evaluate_gates
from {{ cookiecutter.module_name }}.quality.gate_readers import Context
from {{ cookiecutter.module_name }}.quality.gates import GATES, MONITOR_GATES, Gate, evaluate, judge, verdict_table
from {{ cookiecutter.module_name }}.quality.suites import SUITES, CheckInputs, sample
from {{ cookiecutter.module_name }}.records import Lineage

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


class DataDuplicates:
    """Stands for the deepchecks check of that name (gates find results by class name)."""


class TrainTestPerformance:
    """Stands for the deepchecks check of that name."""


@dataclass
class _Result:
    """A deepchecks CheckResult: the check that ran and its value."""

    check: object
    value: object


@dataclass
class _Suite:
    results: list[_Result]


def _performance(accuracy: float) -> pd.DataFrame:
    rows = [("Train", "accuracy", 1.0), ("Test", "accuracy", accuracy)]
    return pd.DataFrame(rows, columns=["Dataset", "Metric", "Value"])


def _ulp_past(value: float, direction: str) -> float:
    return math.nextafter(value, math.inf if direction == "max" else -math.inf)


@pytest.mark.parametrize("past", [False, True], ids=["at-threshold", "one-ulp-past"])
def test_make_check_passes_at_the_threshold_and_fails_one_ulp_past(past: bool) -> None:
    share, accuracy = 0.1, 0.9
    if past:
        share, accuracy = _ulp_past(share, "max"), _ulp_past(accuracy, "min")
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    inputs = CheckInputs("classification", "y", [], frame, frame, frame, model=None)
    results = [
        _Suite([_Result(DataDuplicates(), share)]),
        _Suite([_Result(TrainTestPerformance(), _performance(accuracy))]),
    ]
    thresholds = GateThresholds(max_duplicate_share=0.1, min_test_accuracy=0.9)
    judged, _ = evaluate_gates(results, inputs, thresholds, SUITES)
    verdicts = {gate.name: gate.passed for gate in judged}
    assert verdicts["max_duplicate_share"] is not past
    assert verdicts["min_test_accuracy"] is not past


@pytest.mark.parametrize("past", [False, True], ids=["at-threshold", "one-ulp-past"])
def test_make_monitor_passes_at_the_threshold_and_fails_one_ulp_past(
    past: bool, base_params: Callable[..., dict[str, Any]]
) -> None:
    """The monitor judges with the same rule as make check (no strict deepchecks condition)."""
    thresholds = parse_params(base_params()).monitor.thresholds
    ratio = thresholds.duplicate_ratio
    value = _ulp_past(ratio, "max") if past else ratio
    ctx = Context("classification", "y", ["x"], [])
    results = {"DataDuplicates": _Result(DataDuplicates(), value)}
    judged, _ = evaluate(MONITOR_GATES, results, thresholds.model_dump(), ctx)
    duplicates = next(gate for gate in judged if gate.name == "duplicate_ratio")
    assert duplicates.passed is not past
    assert duplicates.suite == MONITOR_GATES["duplicate_ratio"].suite


def test_every_gate_has_a_meaning_and_the_monitor_gates_are_its_thresholds(
    base_params: Callable[..., dict[str, Any]],
) -> None:
    monitor_thresholds = parse_params(base_params()).monitor.thresholds
    assert set(MONITOR_GATES) == set(type(monitor_thresholds).model_fields)
    assert not set(MONITOR_GATES) & set(GATES), "one name, one gate"
    assert all(spec.meaning for spec in [*GATES.values(), *MONITOR_GATES.values()])


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


def test_the_model_tests_read_the_gate_record_of_the_current_model_only(
    base_params: Callable[..., dict[str, Any]],
    make_project: Callable[..., Path],
    make_frame: Callable[..., pd.DataFrame],
) -> None:
    """`make check test-model` runs the model suite once: the tests read check's record."""
    params_file = make_project(base_params(), make_frame(rows=120))
    root, params = params_file.parent, load_params(params_file)
    run_training(params, root)
    artifacts = root / "artifacts"
    assert recorded_checks(params, root, artifacts) is None, "no record: run the suites"
    lineage = Lineage.read(artifacts / "lineage.json")
    (artifacts / CHECKS_HTML).write_text("<html>gates</html>")
    gate = Gate("min_test_accuracy", "model_evaluation", 0.5, 0.9, False, "below")
    record = {
        **record_fields(lineage, params),
        "html_sha256": sha256_file(artifacts / CHECKS_HTML),
        "gates": [gate.to_dict()],
        "skipped": [{"name": "max_brier_score", "reason": "off in params.yaml"}],
        "rows": {"test": 30},
    }
    (artifacts / CHECKS_JSON).write_text(json.dumps(record))
    recorded = recorded_checks(params, root, artifacts)
    assert recorded is not None
    assert recorded.gates == [gate]
    assert not recorded.passed, "a failed gate stays failed"
    assert recorded.skipped == {"max_brier_score": "off in params.yaml"}
    # Other thresholds, or a checks.html that is not the record's: the suites run again.
    gates = params.gates.model_copy(update={"min_test_accuracy": 0.95})
    assert recorded_checks(params.model_copy(update={"gates": gates}), root, artifacts) is None
    (artifacts / CHECKS_HTML).write_text("<html>another run</html>")
    assert recorded_checks(params, root, artifacts) is None
