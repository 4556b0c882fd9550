"""Evaluation: metrics on train and test, and diagnostic plots (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: The file of each plot :func:`write_plots` can write (the comment workflow publishes no other).
PLOT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "roc_curve": "roc_curve.png",
    "predicted_vs_actual": "predicted_vs_actual.png",
    "residuals": "residuals.png",
    "feature_importance": "feature_importance.png",
}
#: Permutation importance is computed on at most this many test rows (it predicts many times).
IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 5


def _scores(model: Any, x: pd.DataFrame) -> NDArray[np.float64]:  # noqa: ANN401 - any classifier
    """Class scores: predict_proba if available, else decision_function."""
    scores: NDArray[np.float64] = (
        model.predict_proba(x) if hasattr(model, "predict_proba") else model.decision_function(x)
    )
    return scores


def classification_metrics(
    y_true: Any,  # noqa: ANN401 - array-like
    y_pred: Any,  # noqa: ANN401 - array-like
    scores: Any,  # noqa: ANN401 - array-like
    classes: list[Any],
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and ROC AUC.

    Binary: precision/recall/F1 of the second class (``classes[1]``) and ROC AUC of its score.
    Multiclass: macro averages and one-vs-rest macro ROC AUC. ROC AUC is NaN-free: if the truth
    holds a single class it is reported as 0.5 (no ranking information).
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    binary = len(classes) == 2
    average: Literal["binary", "macro"] = "binary" if binary else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        average=average,
        pos_label=classes[1] if binary else 1,
        labels=None if binary else classes,
        zero_division=0,
    )
    scores = np.asarray(scores)
    if len(np.unique(np.asarray(y_true))) < 2:
        roc_auc = 0.5
    elif binary:
        positive = scores[:, 1] if scores.ndim == 2 else scores
        roc_auc = float(roc_auc_score(np.asarray(y_true) == classes[1], positive))
    else:
        roc_auc = float(
            roc_auc_score(y_true, scores, multi_class="ovr", average="macro", labels=classes)
        )
    values = {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc,
    }
    return {name: float(value) for name, value in values.items()}


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:  # noqa: ANN401 - arrays
    """Root mean squared error, mean absolute error and R^2."""
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def compute_metrics(
    task: str,
    model: Any,  # noqa: ANN401 - a fitted Pipeline
    x: pd.DataFrame,
    y: pd.Series,
) -> dict[str, float]:
    """Metrics of a fitted model on one data set (see the contract in metrics.json)."""
    y_pred = model.predict(x)
    if task == "classification":
        return classification_metrics(y, y_pred, _scores(model, x), list(model.classes_))
    return regression_metrics(y, y_pred)


def _figure(width: float = 6.0, height: float = 5.0) -> Figure:
    """A figure drawn by the Agg canvas: no pyplot, no display, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata keeps the files byte-identical between identical runs.
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def plot_confusion_matrix(y_true: Any, y_pred: Any, classes: list[Any], path: Path) -> Path:  # noqa: ANN401 - arrays
    """Confusion matrix of the test set, counts in each cell."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    fig = _figure()
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    labels = [str(c) for c in classes]
    ax.set(
        xticks=range(len(classes)),
        yticks=range(len(classes)),
        xticklabels=labels,
        yticklabels=labels,
        xlabel="Predicted",
        ylabel="Actual",
        title="Confusion matrix (test)",
    )
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color)
    return _save(fig, path)


def plot_roc(y_true: Any, scores: Any, classes: list[Any], path: Path) -> Path:  # noqa: ANN401 - arrays
    """ROC curve (binary) or one-vs-rest ROC curves (multiclass) on the test set."""
    import numpy as np
    from sklearn.metrics import auc, roc_curve

    y_true, scores = np.asarray(y_true), np.asarray(scores)
    fig = _figure()
    ax = fig.add_subplot()
    shown = classes[1:] if len(classes) == 2 else classes
    for cls in shown:
        index = classes.index(cls)
        truth = y_true == cls
        if truth.all() or not truth.any():
            continue
        column = scores[:, index] if scores.ndim == 2 else scores
        fpr, tpr, _ = roc_curve(truth, column)
        ax.plot(fpr, tpr, label=f"{cls} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (test)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_predicted_vs_actual(y_true: Any, y_pred: Any, path: Path) -> Path:  # noqa: ANN401 - arrays
    """Scatter of predictions against the truth, with the identity line."""
    import numpy as np

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(y_true, y_pred, s=8, alpha=0.5)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="grey")
    ax.set(xlabel="Actual", ylabel="Predicted", title="Predicted vs actual (test)")
    return _save(fig, path)


def plot_residuals(y_true: Any, y_pred: Any, path: Path) -> Path:  # noqa: ANN401 - arrays
    """Residuals (actual - predicted) against predictions."""
    import numpy as np

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(y_pred, y_true - y_pred, s=8, alpha=0.5)
    ax.axhline(0, linestyle="--", color="grey")
    ax.set(xlabel="Predicted", ylabel="Residual (actual - predicted)", title="Residuals (test)")
    return _save(fig, path)


def permutation_importance_table(
    model: Any,  # noqa: ANN401 - a fitted Pipeline
    x: pd.DataFrame,
    y: pd.Series,
    seed: int,
) -> list[tuple[str, float, float]]:
    """Permutation importance of each input column: (name, mean, std), largest first."""
    from sklearn.inspection import permutation_importance
    from sklearn.utils import Bunch

    x = x.reset_index(drop=True)
    y = y.reset_index(drop=True)
    if len(x) > IMPORTANCE_ROWS:
        x = x.sample(IMPORTANCE_ROWS, random_state=seed)
        y = y.loc[x.index]
    result = permutation_importance(
        model, x, y, n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=1
    )
    # One scorer: sklearn returns one Bunch (its stubs also allow a dict of them, for several).
    assert isinstance(result, Bunch)
    rows = zip(x.columns, result.importances_mean, result.importances_std, strict=True)
    table = [(str(name), float(mean), float(std)) for name, mean, std in rows]
    return sorted(table, key=lambda row: (-row[1], row[0]))


def plot_importance(table: list[tuple[str, float, float]], path: Path, top: int = 20) -> Path:
    """Horizontal bar chart of the ``top`` most important columns."""
    shown = table[:top][::-1]
    fig = _figure(7.0, max(3.0, 0.3 * len(shown) + 1.5))
    ax = fig.add_subplot()
    ax.barh([row[0] for row in shown], [row[1] for row in shown], xerr=[row[2] for row in shown])
    ax.set(xlabel="Drop in score when shuffled", title="Permutation feature importance (test)")
    return _save(fig, path)


def write_plots(
    task: str,
    model: Any,  # noqa: ANN401 - a fitted Pipeline
    x_test: pd.DataFrame,
    y_test: pd.Series,
    directory: Path,
    seed: int,
    importance: list[tuple[str, float, float]] | None = None,
) -> list[Path]:
    """Write the task's diagnostic plots into ``directory``; return their paths.

    ``importance``: the :func:`permutation_importance_table` when the caller has it already.
    """
    files = PLOT_FILES
    y_pred = model.predict(x_test)
    if task == "classification":
        classes = list(model.classes_)
        scores = _scores(model, x_test)
        paths = [
            plot_confusion_matrix(y_test, y_pred, classes, directory / files["confusion_matrix"]),
            plot_roc(y_test, scores, classes, directory / files["roc_curve"]),
        ]
    else:
        paths = [
            plot_predicted_vs_actual(y_test, y_pred, directory / files["predicted_vs_actual"]),
            plot_residuals(y_test, y_pred, directory / files["residuals"]),
        ]
    table = importance or permutation_importance_table(model, x_test, y_test, seed)
    paths.append(plot_importance(table, directory / files["feature_importance"]))
    return paths
