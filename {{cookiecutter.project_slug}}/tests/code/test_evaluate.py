from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }}.pipeline.evaluate import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    regression_metrics,
)

pytestmark = pytest.mark.code


def test_perfect_binary_classifier() -> None:
    y = np.array([0, 1, 1, 0])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    metrics = classification_metrics(y, y, scores, [0, 1])
    assert metrics == dict.fromkeys(CLASSIFICATION_METRICS, 1.0)


def test_multiclass_uses_macro_averages() -> None:
    y = np.array(["a", "b", "c", "a", "b", "c"])
    pred = np.array(["a", "b", "b", "a", "b", "c"])
    scores = np.eye(3)[[0, 1, 1, 0, 1, 2]]
    metrics = classification_metrics(y, pred, scores, ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert metrics["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert 0.5 < metrics["roc_auc"] <= 1


def test_regression_metrics_by_hand() -> None:
    metrics = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert metrics["r2"] == pytest.approx(1 - 4 / 2)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.floats(0, 1)), min_size=2, max_size=40
    ),
    n_classes=st.sampled_from([2, 3]),
)
def test_classification_metrics_stay_in_range(
    data: list[tuple[int, int, float]], n_classes: int
) -> None:
    y = np.array([t % n_classes for t, _, _ in data])
    pred = np.array([p % n_classes for _, p, _ in data])
    raw = np.array([[s, 1 - s, (s * 7) % 1][:n_classes] for _, _, s in data]) + 1e-3
    scores = raw / raw.sum(axis=1, keepdims=True)
    if n_classes == 3 and len(set(y)) < 3:
        return  # ovr ROC AUC needs every class present in the truth
    metrics = classification_metrics(y, pred, scores, list(range(n_classes)))
    assert set(metrics) == set(CLASSIFICATION_METRICS)
    assert all(0.0 <= value <= 1.0 for value in metrics.values())


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=40)
)
def test_regression_metrics_stay_in_range(pairs: list[tuple[float, float]]) -> None:
    y, pred = zip(*pairs, strict=True)
    metrics = regression_metrics(list(y), list(pred))
    assert set(metrics) == set(REGRESSION_METRICS)
    assert metrics["rmse"] + 1e-9 >= metrics["mae"] >= 0  # tolerance: squares can underflow
    assert metrics["r2"] <= 1.0
