"""Quality gates: what each gate measures, and the verdict of a value against its threshold.

The thresholds themselves are params (``gates:`` in params.yaml, :class:`.config.GateThresholds`);
this module is light (no imports of the package): :mod:`.config` checks against :data:`GATES`
that a threshold fits the task, :mod:`.checks` turns deepchecks' measurements into :class:`Gate`
results here.

A gate compares one value measured by deepchecks with one threshold: ``max_*`` gates pass when
the value is at most the threshold, ``min_*`` gates when it is at least the threshold. Setting a
threshold to ``null`` turns its gate off; a gate that does not apply (a classification gate in
a regression project, new categories without categorical features) is skipped, not failed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Suite = Literal["data_integrity", "train_test_validation", "model_evaluation"]
Direction = Literal["max", "min"]


@dataclass(frozen=True)
class GateSpec:
    """What a gate measures: the suite and deepchecks check behind it, and the task it fits."""

    suite: Suite
    check: str
    task: Literal["classification", "regression"] | None
    meaning: str


def direction(name: str) -> Direction:
    """``min`` for gates named ``min_*`` (value >= threshold passes), else ``max``.

    Gates outside :data:`GATES` (the monitor's ``feature_drift``, ``null_ratio``...) are
    upper limits.
    """
    return "min" if name.startswith("min_") else "max"


#: Every gate, in report order. The name is the key under ``gates:`` in params.yaml.
GATES: dict[str, GateSpec] = {
    "max_missing_share": GateSpec(
        "data_integrity",
        "Percent Of Nulls",
        None,
        "largest share of missing values in any column",
    ),
    "max_duplicate_share": GateSpec(
        "data_integrity", "Data Duplicates", None, "share of rows that duplicate another row"
    ),
    "max_conflicting_labels_share": GateSpec(
        "data_integrity",
        "Conflicting Labels",
        "classification",
        "share of rows whose identical features carry different labels",
    ),
    "max_feature_label_pps": GateSpec(
        "data_integrity",
        "Feature Label Correlation",
        None,
        "largest predictive power score of a single feature for the target (leakage)",
    ),
    "max_train_test_duplicates_share": GateSpec(
        "train_test_validation",
        "Train Test Samples Mix",
        None,
        "share of test rows that also appear in the training set",
    ),
    "max_new_category_share": GateSpec(
        "train_test_validation",
        "New Category Train Test",
        None,
        "largest share of test rows with a category unseen in training (categorical columns)",
    ),
    "max_new_label_share": GateSpec(
        "train_test_validation",
        "New Label Train Test",
        "classification",
        "share of test rows whose label never occurs in training",
    ),
    "max_feature_drift": GateSpec(
        "train_test_validation",
        "Feature Drift",
        None,
        "largest train-test drift score of a feature (Kolmogorov-Smirnov or Cramer's V)",
    ),
    "max_label_drift": GateSpec(
        "train_test_validation", "Label Drift", None, "train-test drift score of the target"
    ),
    "min_test_accuracy": GateSpec(
        "model_evaluation", "Train Test Performance", "classification", "test accuracy"
    ),
    "min_test_roc_auc": GateSpec(
        "model_evaluation",
        "Train Test Performance",
        "classification",
        "test ROC AUC (one-vs-rest for more than two classes)",
    ),
    "min_test_r2": GateSpec(
        "model_evaluation", "Train Test Performance", "regression", "test R squared"
    ),
    "max_test_rmse": GateSpec(
        "model_evaluation", "Train Test Performance", "regression", "test root mean squared error"
    ),
    "max_train_test_gap": GateSpec(
        "model_evaluation",
        "Train Test Performance",
        None,
        "train score minus test score of the main metric (ROC AUC or R squared): overfitting",
    ),
    "min_gain_over_simple_model": GateSpec(
        "model_evaluation",
        "Simple Model Comparison",
        None,
        "share of the simple model's distance to a perfect score that the model closes",
    ),
    "max_prediction_drift": GateSpec(
        "model_evaluation",
        "Prediction Drift",
        None,
        "train-test drift score of the model's predictions",
    ),
    "max_brier_score": GateSpec(
        "model_evaluation",
        "Calibration Score",
        "classification",
        "largest Brier score of a class on the test set (calibration)",
    ),
    "max_systematic_error_ratio": GateSpec(
        "model_evaluation",
        "Regression Error Distribution",
        "regression",
        "absolute mean prediction error divided by the RMSE on the test set (bias)",
    ),
}


@dataclass(frozen=True)
class Gate:
    """The verdict of one gate, as written to checks.json."""

    name: str
    suite: str
    value: float | None
    threshold: float
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the gate."""
        return asdict(self)


def judge(
    name: str, value: float | None, threshold: float, detail: str = "", suite: str | None = None
) -> Gate:
    """Compare ``value`` with the gate's threshold; a missing or NaN value fails.

    ``suite`` defaults to the suite of the gate in :data:`GATES`; gates defined elsewhere (the
    monitor's) pass their own.
    """
    suite = suite or GATES[name].suite
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Gate(name, suite, None, threshold, False, detail or "no value measured")
    value = float(value)
    passed = value <= threshold if direction(name) == "max" else value >= threshold
    return Gate(name, suite, round(value, 6), threshold, passed, detail)


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
