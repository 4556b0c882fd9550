"""What the report shows beyond the point metrics: their uncertainty and the data behind charts.

``artifacts/diagnostics.json`` (:class:`Diagnostics`), written by each training run:

- ``intervals``: a bootstrap interval of each test metric (the test rows resampled with
  replacement :data:`RESAMPLES` times, seeded): a change between two runs smaller than this
  spread is noise of a test set this size, and the report says so instead of "better"/"worse";
- ``per_class`` (classification): precision, recall, F1 and support of each class, and the
  confusion matrix;
- ``roc`` (binary classification): the true positive rate at fixed false positive rates;
- ``residuals`` (regression): a histogram of the test residuals;
- ``importance``: the permutation importance of the top features (the plot's numbers).

The PR report draws its charts (Mermaid, rendered by GitHub from the comment's text) from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import read_json
from ..layout import ArtifactLayout

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
#: Bootstrap resamples of the test set and the interval's coverage.
RESAMPLES = 200
CONFIDENCE = 0.95
#: False positive rates at which the ROC curve is sampled for the chart.
ROC_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
RESIDUAL_BINS = 10
TOP_FEATURES = 10


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval of one metric."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """True if ``value`` lies within the interval (ends included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall, F1 and support of one class on the test set."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Diagnostics:
    """The content of ``diagnostics.json``."""

    task: str
    test_rows: int
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE
    intervals: dict[str, Interval] = field(default_factory=dict)
    per_class: list[ClassMetrics] = field(default_factory=list)
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    roc_fpr: list[float] = field(default_factory=list)
    roc_tpr: list[float] = field(default_factory=list)
    residual_edges: list[float] = field(default_factory=list)
    residual_counts: list[int] = field(default_factory=list)
    importance: list[tuple[str, float]] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Diagnostics:
        """Read the JSON form (raises TypeError/ValueError/KeyError when malformed)."""
        values = dict(raw)
        values["intervals"] = {k: Interval(**v) for k, v in raw.get("intervals", {}).items()}
        values["per_class"] = [ClassMetrics(**c) for c in raw.get("per_class", [])]
        values["importance"] = [(str(n), float(v)) for n, v in raw.get("importance", [])]
        return cls(**values)


def load_diagnostics(artifacts: Path) -> Diagnostics | None:
    """The diagnostics of the run in ``artifacts``; None when the run has none (older runs)."""
    path = ArtifactLayout(artifacts).diagnostics
    if not path.is_file():
        return None
    try:
        found = Diagnostics.from_dict(read_json(path))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return found if found.schema_version == SCHEMA_VERSION else None


def bootstrap_intervals(
    metric_fn: Any,  # noqa: ANN401 - callable(indices) -> dict of metric values
    rows: int,
    seed: int,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of the metrics ``metric_fn`` computes on row indices."""
    import numpy as np

    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(resamples):
        for name, value in metric_fn(rng.integers(0, rows, rows)).items():
            samples.setdefault(name, []).append(value)
    tail = (1 - confidence) / 2 * 100
    out = {}
    for name, values in samples.items():
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size:
            low, high = np.percentile(finite, [tail, 100 - tail])
            out[name] = Interval(float(low), float(high))
    return out


def compute_diagnostics(
    task: str,
    model: Any,  # noqa: ANN401 - a fitted Pipeline
    x_test: pd.DataFrame,
    y_test: pd.Series,
    seed: int,
    importance: list[tuple[str, float, float]],
) -> Diagnostics:
    """Everything in ``diagnostics.json`` for a fitted model and its test set."""
    import numpy as np

    from ..pipeline.evaluate import _scores, classification_metrics, regression_metrics

    y_true = np.asarray(y_test)
    y_pred = np.asarray(model.predict(x_test))
    top = [(name, mean) for name, mean, _ in importance[:TOP_FEATURES]]
    if task != "classification":
        intervals = bootstrap_intervals(
            lambda idx: regression_metrics(y_true[idx], y_pred[idx]), len(y_true), seed
        )
        residuals = y_true.astype(float) - y_pred.astype(float)
        counts, edges = np.histogram(residuals, bins=RESIDUAL_BINS)
        return Diagnostics(
            task=task,
            test_rows=len(y_true),
            intervals=intervals,
            residual_edges=[float(e) for e in edges],
            residual_counts=[int(c) for c in counts],
            importance=top,
        )
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = list(model.classes_)
    scores = np.asarray(_scores(model, x_test))
    intervals = bootstrap_intervals(
        lambda idx: classification_metrics(y_true[idx], y_pred[idx], scores[idx], classes),
        len(y_true),
        seed,
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    per_class = [
        ClassMetrics(str(c), float(p), float(r), float(f), int(s))
        # With labels=, sklearn returns arrays; its stubs also allow a float (an average).
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)  # type: ignore[arg-type]
    ]
    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    fpr_grid, tpr = _roc_points(y_true, scores, classes)
    return Diagnostics(
        task=task,
        test_rows=len(y_true),
        intervals=intervals,
        per_class=per_class,
        confusion_labels=[str(c) for c in classes],
        confusion=[[int(v) for v in row] for row in matrix],
        roc_fpr=fpr_grid,
        roc_tpr=tpr,
        importance=top,
    )


def _roc_points(
    y_true: Any,  # noqa: ANN401 - array
    scores: Any,  # noqa: ANN401 - array
    classes: list[Any],
) -> tuple[list[float], list[float]]:
    """TPR at :data:`ROC_GRID` (binary only; empty for multiclass or a single-class test set)."""
    import numpy as np
    from sklearn.metrics import roc_curve

    truth = y_true == classes[-1]
    if len(classes) != 2 or truth.all() or not truth.any():
        return [], []
    column = scores[:, 1] if scores.ndim == 2 else scores
    fpr, tpr, _ = roc_curve(truth, column)
    grid = list(ROC_GRID)
    return grid, [round(float(np.interp(x, fpr, tpr)), 4) for x in grid]
