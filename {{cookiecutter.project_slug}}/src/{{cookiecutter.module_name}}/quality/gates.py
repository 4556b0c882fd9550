"""Quality gates, declared once: what each gate measures, how, and the verdict against a threshold.

A gate is a :class:`GateSpec`: the deepchecks check it reads, a reader that takes its value out
of the check's ``CheckResult.value``, its direction, its meaning, its suite, the task it fits and
when it is skipped. :data:`GATES` are the gates of ``make check`` (thresholds under ``gates:`` in
params.yaml, :class:`..config.GateThresholds`), :data:`MONITOR_GATES` those of ``make monitor``
(``monitor.thresholds``); :func:`evaluate` judges either against deepchecks' results, so that
:mod:`.checks` and :mod:`..monitoring.monitor` only run the checks. The readers are in
:mod:`.gate_readers`. This module is light (no imports of the package beyond it, deepchecks only
inside one reader): :mod:`..config` checks against :data:`GATES` that a threshold fits the task.

``max`` gates pass when the value is at most the threshold, ``min`` gates when it is at least
the threshold (one rule, :func:`judge`). Setting a threshold to ``null`` turns its gate off; a
gate that does not apply (a classification gate in a regression project, new categories without
categorical features) is skipped, not failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .gate_readers import (
    Context,
    Reader,
    read_brier_score,
    read_conflicting_labels,
    read_drift_score,
    read_drifted_features,
    read_duplicate_ratio,
    read_feature_label_pps,
    read_feature_missing_share,
    read_gain_over_simple_model,
    read_largest_feature_drift,
    read_missing_share,
    read_new_category_ratio,
    read_new_category_share,
    read_new_label_share,
    read_samples_mix,
    read_share,
    read_systematic_error_ratio,
    read_test_score,
    read_train_test_gap,
    skip_unlabelled,
    skip_without_categorical,
)

Suite = Literal[
    "data_integrity",
    "train_test_validation",
    "model_evaluation",
    "monitor-drift",
    "monitor-integrity",
]


Direction = Literal["max", "min"]


Task = Literal["classification", "regression"]


#: The monitor's suites: drift (a failure suggests retraining) and the batch's own health.
DRIFT_SUITE: Suite = "monitor-drift"


INTEGRITY_SUITE: Suite = "monitor-integrity"


#: Returns why the gate does not apply here, or None.
SkipRule = Callable[[Context], str | None]


@dataclass(frozen=True)
class GateSpec:
    """One gate: its deepchecks check, reader, direction, meaning, suite, task and skip rule."""

    check: str
    read: Reader = field(repr=False)
    direction: Direction
    meaning: str
    suite: Suite
    task: Task | None = None
    skip: SkipRule | None = field(default=None, repr=False)

    @property
    def check_class(self) -> str:
        """The deepchecks class name of the check (``Feature Drift`` -> ``FeatureDrift``)."""
        return self.check.replace(" ", "")


#: The gates of ``make check``, in report order. The name is the key under ``gates:`` in
#: params.yaml.
GATES: dict[str, GateSpec] = {
    "max_missing_share": GateSpec(
        "Percent Of Nulls",
        read_missing_share,
        "max",
        "largest share of missing values in any column",
        "data_integrity",
    ),
    "max_duplicate_share": GateSpec(
        "Data Duplicates",
        read_share,
        "max",
        "share of rows that duplicate another row",
        "data_integrity",
    ),
    "max_conflicting_labels_share": GateSpec(
        "Conflicting Labels",
        read_conflicting_labels,
        "max",
        "share of rows whose identical features carry different labels",
        "data_integrity",
        "classification",
    ),
    "max_feature_label_pps": GateSpec(
        "Feature Label Correlation",
        read_feature_label_pps,
        "max",
        "largest predictive power score of a single feature for the target (leakage)",
        "data_integrity",
    ),
    "max_train_test_duplicates_share": GateSpec(
        "Train Test Samples Mix",
        read_samples_mix,
        "max",
        "share of test rows that also appear in the training set",
        "train_test_validation",
    ),
    "max_new_category_share": GateSpec(
        "New Category Train Test",
        read_new_category_share,
        "max",
        "largest share of test rows with a category unseen in training (categorical columns)",
        "train_test_validation",
        skip=skip_without_categorical,
    ),
    "max_new_label_share": GateSpec(
        "New Label Train Test",
        read_new_label_share,
        "max",
        "share of test rows whose label never occurs in training",
        "train_test_validation",
        "classification",
    ),
    "max_feature_drift": GateSpec(
        "Feature Drift",
        read_largest_feature_drift,
        "max",
        "largest train-test drift score of a feature (Kolmogorov-Smirnov or Cramer's V)",
        "train_test_validation",
    ),
    "max_label_drift": GateSpec(
        "Label Drift",
        read_drift_score,
        "max",
        "train-test drift score of the target",
        "train_test_validation",
    ),
    "min_test_accuracy": GateSpec(
        "Train Test Performance",
        read_test_score("accuracy"),
        "min",
        "test accuracy",
        "model_evaluation",
        "classification",
    ),
    "min_test_roc_auc": GateSpec(
        "Train Test Performance",
        read_test_score("roc_auc"),
        "min",
        "test ROC AUC (one-vs-rest for more than two classes)",
        "model_evaluation",
        "classification",
    ),
    "min_test_r2": GateSpec(
        "Train Test Performance",
        read_test_score("r2"),
        "min",
        "test R squared",
        "model_evaluation",
        "regression",
    ),
    "max_test_rmse": GateSpec(
        "Train Test Performance",
        read_test_score("rmse"),
        "max",
        "test root mean squared error",
        "model_evaluation",
        "regression",
    ),
    "max_train_test_gap": GateSpec(
        "Train Test Performance",
        read_train_test_gap,
        "max",
        "train score minus test score of the main metric (ROC AUC or R squared): overfitting",
        "model_evaluation",
    ),
    "min_gain_over_simple_model": GateSpec(
        "Simple Model Comparison",
        read_gain_over_simple_model,
        "min",
        "share of the simple model's distance to a perfect score that the model closes",
        "model_evaluation",
    ),
    "max_prediction_drift": GateSpec(
        "Prediction Drift",
        read_drift_score,
        "max",
        "train-test drift score of the model's predictions",
        "model_evaluation",
    ),
    "max_brier_score": GateSpec(
        "Calibration Score",
        read_brier_score,
        "max",
        "largest Brier score of a class on the test set (calibration)",
        "model_evaluation",
        "classification",
    ),
    "max_systematic_error_ratio": GateSpec(
        "Regression Error Distribution",
        read_systematic_error_ratio,
        "max",
        "absolute mean prediction error divided by the RMSE on the test set (bias)",
        "model_evaluation",
        "regression",
    ),
}


#: The gates of ``make monitor`` (training data vs. a batch), in report order. The name is the
#: key under ``monitor.thresholds`` in params.yaml.
MONITOR_GATES: dict[str, GateSpec] = {
    "feature_drift": GateSpec(
        "Feature Drift",
        read_drifted_features,
        "max",
        "largest drift score of a feature between the training data and the batch",
        DRIFT_SUITE,
    ),
    "label_drift": GateSpec(
        "Label Drift",
        read_drift_score,
        "max",
        "drift score of the target between the training data and the batch",
        DRIFT_SUITE,
        skip=skip_unlabelled,
    ),
    "prediction_drift": GateSpec(
        "Prediction Drift",
        read_drift_score,
        "max",
        "drift score of the model's predictions between the training data and the batch",
        DRIFT_SUITE,
    ),
    "new_category_ratio": GateSpec(
        "New Category Train Test",
        read_new_category_ratio,
        "max",
        "largest share of batch rows with a category unseen in training",
        DRIFT_SUITE,
    ),
    "null_ratio": GateSpec(
        "Percent Of Nulls",
        read_feature_missing_share,
        "max",
        "largest share of missing values in a feature column of the batch",
        INTEGRITY_SUITE,
    ),
    "duplicate_ratio": GateSpec(
        "Data Duplicates",
        read_duplicate_ratio,
        "max",
        "share of the batch's rows that duplicate another row",
        INTEGRITY_SUITE,
    ),
}


#: Monitor gates by suite: a failed drift gate suggests retraining, an integrity one a bad batch.
DRIFT_GATES = tuple(name for name, gate in MONITOR_GATES.items() if gate.suite == DRIFT_SUITE)


INTEGRITY_GATES = tuple(
    name for name, gate in MONITOR_GATES.items() if gate.suite == INTEGRITY_SUITE
)


def spec(name: str) -> GateSpec:
    """The declaration of gate ``name``, of :data:`GATES` or :data:`MONITOR_GATES`."""
    return GATES[name] if name in GATES else MONITOR_GATES[name]


def direction(name: str) -> Direction:
    """``max`` (value <= threshold passes) or ``min`` (value >= threshold passes)."""
    return spec(name).direction


@dataclass(frozen=True)
class Gate:
    """The verdict of one gate, as written to checks.json and monitor.json."""

    name: str
    suite: str
    value: float | None
    threshold: float
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the gate."""
        return asdict(self)


def judge(name: str, value: float | None, threshold: float, detail: str = "") -> Gate:
    """Compare ``value`` with the gate's threshold in its direction; a missing or NaN value fails.

    At the threshold a gate passes: ``max`` gates pass at ``value <= threshold``, ``min`` gates
    at ``value >= threshold``.
    """
    declared = spec(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Gate(name, declared.suite, None, threshold, False, detail or "no value measured")
    value = float(value)
    passed = value <= threshold if declared.direction == "max" else value >= threshold
    return Gate(name, declared.suite, round(value, 6), threshold, passed, detail)


def results_by_check(results: Iterable[Any]) -> dict[str, Any]:
    """Map check class name -> its CheckResult (or CheckFailure), the first of each check."""
    found: dict[str, Any] = {}
    for result in results:
        found.setdefault(type(result.check).__name__, result)
    return found


def evaluate(
    specs: Mapping[str, GateSpec],
    results: Mapping[str, Any],
    thresholds: Mapping[str, float | None],
    ctx: Context,
    suites: Iterable[str] | None = None,
) -> tuple[list[Gate], dict[str, str]]:
    """Judge the gates of ``specs`` on deepchecks results; return (gates, skipped gate -> reason).

    Args:
        specs: :data:`GATES` or :data:`MONITOR_GATES`.
        results: CheckResults by check class name (see :func:`results_by_check`).
        thresholds: threshold by gate name; None turns a gate off.
        ctx: the task and columns the readers and skip rules need.
        suites: the suites that ran (default: all); gates of other suites are not listed.

    A gate of the other task or of a suite that did not run is left out; one whose check is
    missing or raised fails (never a silent pass).
    """
    ran = None if suites is None else set(suites)
    gates: list[Gate] = []
    skipped: dict[str, str] = {}
    for name, gate in specs.items():
        if gate.task not in (None, ctx.task) or (ran is not None and gate.suite not in ran):
            continue
        threshold = thresholds[name]
        if threshold is None:
            skipped[name] = "off (null in params.yaml)"
            continue
        reason = gate.skip(ctx) if gate.skip else None
        if reason:
            skipped[name] = reason
            continue
        result = results.get(gate.check_class)
        if result is None:
            gates.append(judge(name, None, threshold, f"{gate.check} did not run"))
            continue
        if not hasattr(result, "value"):  # a CheckFailure: the check raised
            error = " ".join(str(getattr(result, "exception", result)).split())
            gates.append(judge(name, None, threshold, f"{gate.check} failed: {error}"))
            continue
        value, detail = gate.read(result.value, ctx, threshold)
        if value is None:  # nothing to measure, by deepchecks' own rule (a reader says why)
            gates.append(Gate(name, gate.suite, None, threshold, True, detail))
        else:
            gates.append(judge(name, value, threshold, detail))
    return gates, skipped


def verdict_table(gates: list[Gate], skipped: dict[str, str] | None = None) -> str:
    """Return a plain-text table of the gates and a one-line verdict."""
    rows = [("gate", "suite", "value", "threshold", "result")]
    for gate in gates:
        sign = "<=" if direction(gate.name) == "max" else ">="
        value = "n/a" if gate.value is None else f"{gate.value:.4g}"
        rows.append(
            (
                gate.name,
                gate.suite,
                value,
                f"{sign} {gate.threshold:g}",
                "pass" if gate.passed else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for name, reason in (skipped or {}).items():
        lines.append(f"skipped: {name} ({reason})")
    failed = [gate.name for gate in gates if not gate.passed]
    if failed:
        lines.append(f"FAILED: {len(failed)} of {len(gates)} gates: {', '.join(failed)}")
    else:
        lines.append(f"PASSED: all {len(gates)} gates")
    return "\n".join(line.rstrip() for line in lines)
