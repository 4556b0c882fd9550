"""How each gate's value is read from deepchecks' result of its check (one reader per gate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..records import FeatureDriftScore


@dataclass(frozen=True)
class Context:
    """What a reader or a skip rule may need besides the check's value.

    ``features`` are the model's input columns, ``categorical`` the categorical ones;
    ``labelled`` is False for a monitored batch without the target column.
    """

    task: str
    target: str
    features: list[str]
    categorical: list[str]
    labelled: bool = True

    @property
    def main_metric(self) -> str:
        """The task's main metric (see :func:`main_metric`)."""
        return main_metric(self.task)


def main_metric(task: str) -> str:
    """The metric the gap and simple-model gates compare: ROC AUC or R squared."""
    return "roc_auc" if task == "classification" else "r2"


#: A deepchecks ``CheckResult.value``: a number, dict or DataFrame by check (deepchecks does not
#: type it).
CheckValue = Any


#: A measurement: the value (None: nothing to measure, the gate passes) and a detail line.
Reading = tuple[float | None, str]


#: Reads a gate's measurement from its check's value, given the context and its threshold.
Reader = Callable[[CheckValue, Context, float], Reading]


def largest(values: Mapping[Any, Any]) -> tuple[float, str]:
    """Return the largest value and which key holds it (0.0 for nothing to measure)."""
    clean = {k: float(v) for k, v in values.items() if v is not None and v == v}
    if not clean:
        return 0.0, ""
    key = max(clean, key=lambda k: clean[k])
    return clean[key], str(key)


def feature_drift_scores(value: Mapping[Any, Any]) -> dict[str, FeatureDriftScore]:
    """Per-feature drift scores of a FeatureDrift result (features without a score left out)."""
    return {
        str(name): FeatureDriftScore(float(info["Drift score"]), str(info["Method"]))
        for name, info in value.items()
        if info["Drift score"] is not None
    }


def drifted_features(scores: Mapping[str, FeatureDriftScore], threshold: float) -> list[str]:
    """The features whose drift score is above ``threshold``, most drifted first."""
    above = [name for name, score in scores.items() if score.drift_score > threshold]
    return sorted(above, key=lambda name: -scores[name].drift_score)


def read_missing_share(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    share, column = largest(value.iloc[:, 0].to_dict())
    return share, f"column {column!r}" if share else "no missing values"


def read_feature_missing_share(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    share, column = largest(
        {k: v for k, v in value.iloc[:, 0].to_dict().items() if k in ctx.features}
    )
    return share, f"worst column: {column}" if share else "no missing values"


def read_share(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    return float(value), ""


def read_duplicate_ratio(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    return float(value), "share of duplicated rows"


def read_conflicting_labels(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    return float(value["percent_of_conflicting_samples"]), ""


def read_feature_label_pps(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    pps, column = largest(value)
    return pps, f"feature {column!r}"


def read_samples_mix(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    return float(value["ratio"]), ""


def read_new_category_share(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    share, column = largest(value["Ratio of New Categories"].to_dict() if len(value) else {})
    return share, f"column {column!r}" if share else "no new categories"


def read_new_category_ratio(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    ratio, column = largest(value["Ratio of New Categories"].to_dict() if len(value) else {})
    if not ratio:
        return ratio, f"{len(ctx.categorical)} categorical features"
    return ratio, f"{column}: {', '.join(map(str, value.loc[column, 'New categories']))}"


def read_new_label_share(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    new = value["n_new_labels_samples"]
    return new / value["n_samples"], f"new labels: {value['new_labels']}" if new else ""


def read_largest_feature_drift(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    scores = feature_drift_scores(value)
    score, column = largest({name: s.drift_score for name, s in scores.items()})
    return score, f"feature {column!r}"


def read_drifted_features(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    scores = feature_drift_scores(value)
    score, _ = largest({name: s.drift_score for name, s in scores.items()})
    drifted = drifted_features(scores, threshold)
    if not drifted:
        return score, f"max over {len(scores)} features"
    return score, "drifted: " + ", ".join(f"{n} ({scores[n].drift_score:.2f})" for n in drifted)


def read_drift_score(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    return float(value["Drift score"]), str(value["Method"])


def _scores(value: CheckValue) -> dict[tuple[str, str], float]:
    """TrainTestPerformance's value by (dataset, metric)."""
    return {(row["Dataset"], row["Metric"]): float(row["Value"]) for _, row in value.iterrows()}


def read_test_score(metric: str) -> Reader:
    def read(value: CheckValue, ctx: Context, threshold: float) -> Reading:
        measured = _scores(value)[("Test", metric)]
        return (-measured if metric == "rmse" else measured), ""  # deepchecks negates errors

    return read


def read_train_test_gap(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    scores, main = _scores(value), ctx.main_metric
    train, test = scores[("Train", main)], scores[("Test", main)]
    return train - test, f"{main}: train {train:.4f}, test {test:.4f}"


def read_gain_over_simple_model(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    from deepchecks.utils.metrics import get_gain

    main = ctx.main_metric
    model, simple = value["scores"][main]["Origin"], value["scores"][main]["Simple"]
    perfect = value["scorers_perfect"][main]
    said = f"{main}: model {model:.4f}, simple model {simple:.4f}"
    if model == perfect:  # deepchecks' condition computes no gain for a perfect model
        return None, f"{said}; perfect score, no gain to measure"
    return float(get_gain(simple, model, perfect, max_gain=1.0)), said


def read_brier_score(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    brier, label = largest(value)
    return brier, f"class {label}"


def read_systematic_error_ratio(value: CheckValue, ctx: Context, threshold: float) -> Reading:
    mean_error, rmse = value["Mean Prediction Error"], value["RMSE"]
    ratio = abs(mean_error) / rmse if rmse else 0.0
    return ratio, f"mean error {mean_error:.4g}, RMSE {rmse:.4g}"


def skip_without_categorical(ctx: Context) -> str | None:
    return None if ctx.categorical else "no categorical features"


def skip_unlabelled(ctx: Context) -> str | None:
    return None if ctx.labelled else f"the batch has no {ctx.target!r} column"
